/* Step "admit" (docs/concepts.md, "Capacity and LRU eviction"): before a
 * cache volume is composed on a cluster with a budget (spec.cache.capacity
 * or maxCaches), decide whether it fits, evicting least-recently-used caches
 * there first (the decision itself is capacity_admit, a pure function
 * tested as a table in test/unit/capacity).
 *
 *   evicted     a cache evicted from this cluster stays Evicted (nothing
 *               composed) until a ModelDeployment placed there asks for it
 *               again (bring-back)
 *   serialize   take the cluster's admission lock
 *   gather      the cache volumes there from a live LIST, and per volume its
 *               ModelCache: Ready there, pinned, in use, LRU time
 *   decide      capacity_admit
 *   evict       the victims' Job, token copy and PVC deleted there; the
 *               victim's reconcile records phase Evicted (event Evicted)
 *
 * How admissions for one cluster are serialized: every admission on a
 * cluster runs under that cluster's mutex (cluster_lock below), held from
 * the LIST of the volumes there until the admitted cache's own PVC has been
 * written (the caller releases it with admit_release after its apply). The
 * volumes are read with a live LIST, not from the informer, which may not
 * have seen a PVC the previous admission created a moment ago. So the next
 * decision always sees the space the previous one took, and two caches
 * applied at the same moment never both take the same free space. One
 * process decides: only the elected leader runs reconcilers. A cache whose
 * volume is already composed there needs no admission (only the growth of
 * its volume is checked), so the steady state takes no lock and makes no
 * request. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cache/informer.h"
#include "capacity/admit.h"
#include "compose/compose.h"
#include "controllers/modelcache/internal.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "metrics/metrics.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/quantity.h"
#include "util/timeutil.h"

#define REQUEUE_CAPACITY_MS 30000   /* also woken by InferenceCluster status changes */

struct cap_lock {
	char *cluster;
	pthread_mutex_t mu;
	struct cap_lock *next;
};

/* An eviction the victim's own reconcile has not recorded in its status yet. */
struct evicted {
	char *id;        /* uid|cluster */
	char *message;
	struct evicted *next;
};

struct mc_capacity {
	pthread_mutex_t mu;            /* guards the two lists (never held while a cluster lock is taken) */
	struct cap_lock *locks;        /* one per cluster, kept until shutdown */
	struct evicted *evicted;
};

struct mc_capacity *mc_capacity_new(void)
{
	struct mc_capacity *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

void mc_capacity_free(struct mc_capacity *c)
{
	if (!c)
		return;
	for (struct cap_lock *l = c->locks, *n; l; l = n) {
		n = l->next;
		pthread_mutex_destroy(&l->mu);
		free(l->cluster);
		free(l);
	}
	for (struct evicted *e = c->evicted, *n; e; e = n) {
		n = e->next;
		free(e->id);
		free(e->message);
		free(e);
	}
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static pthread_mutex_t *cluster_lock(struct mc_capacity *c, const char *cluster)
{
	pthread_mutex_lock(&c->mu);
	struct cap_lock *l = c->locks;
	while (l && strcmp(l->cluster, cluster) != 0)
		l = l->next;
	if (!l) {
		l = xcalloc(1, sizeof(*l));
		l->cluster = xstrdup(cluster);
		pthread_mutex_init(&l->mu, NULL);
		l->next = c->locks;
		c->locks = l;
	}
	pthread_mutex_unlock(&c->mu);
	return &l->mu;
}

/* The eviction message for (uid, cluster), a copy, or NULL. */
static char *evicted_get(struct mc_capacity *c, const char *uid, const char *cluster)
{
	char *id = xasprintf("%s|%s", uid, cluster), *msg = NULL;
	pthread_mutex_lock(&c->mu);
	for (struct evicted *e = c->evicted; e && !msg; e = e->next)
		if (strcmp(e->id, id) == 0)
			msg = xstrdup(e->message);
	pthread_mutex_unlock(&c->mu);
	free(id);
	return msg;
}

/* message NULL: forget the eviction. */
static void evicted_set(struct mc_capacity *c, const char *uid, const char *cluster, const char *message)
{
	char *id = xasprintf("%s|%s", uid, cluster);
	pthread_mutex_lock(&c->mu);
	struct evicted **pp = &c->evicted;
	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	if (*pp && !message) {
		struct evicted *e = *pp;
		*pp = e->next;
		free(e->id);
		free(e->message);
		free(e);
	} else if (*pp) {
		free((*pp)->message);
		(*pp)->message = xstrdup(message);
	} else if (message) {
		struct evicted *e = xcalloc(1, sizeof(*e));
		e->id = id;
		id = NULL;
		e->message = xstrdup(message);
		e->next = c->evicted;
		c->evicted = e;
	}
	pthread_mutex_unlock(&c->mu);
	free(id);
}

void admit_release(struct admit_hold *h)
{
	if (h->mu)
		pthread_mutex_unlock(h->mu);
	h->mu = NULL;
}

void admit_hold_cleanup(struct admit_hold *h)
{
	admit_release(h);
	free(h->message);
	h->message = NULL;
}

static void metric_evicted(const char *cluster)
{
	static const char *const keys[] = {"cluster"};
	const char *vals[] = {cluster};
	metrics_counter_inc(metrics_counter_get("modelcache_evictions_total",
						"Caches evicted from a cluster to make room for another (LRU).", 1, keys,
						vals));
}

static int64_t ts_of(json_object *obj, const char *path)
{
	int64_t ns = 0;
	const char *s = jpath_str(obj, path);
	return s && rfc3339_parse(s, &ns) == 0 ? ns / 1000000000 : 0;
}

static int64_t request_of(json_object *pvc)
{
	int64_t b = 0;
	const char *q = jpath_str(pvc, "spec.resources.requests.storage");
	return q && quantity_parse_bytes(q, &b) == 0 ? b : 0;
}

/* One volume on the cluster and the ModelCache it belongs to. */
struct vol {
	char *key;           /* ns/name from the cache labels, or NULL */
	json_object *mc;     /* its ModelCache (owned) or NULL */
};

/* Delete the victim's objects there; the eviction is remembered first, so
 * that the victim's reconcile, seeing its volume gone, records Evicted
 * instead of composing it again. */
static int evict_one(struct rec *x, const struct admit_in *a, const char *cname, json_object *vmc, const char *vkey,
		     const char *why, int64_t bytes)
{
	struct mcr *r = x->r;
	const char *vns = jpath_str_or(vmc, "metadata.namespace", ""), *vname = jpath_str_or(vmc, "metadata.name", "");
	const char *vuid = jpath_str_or(vmc, "metadata.uid", "");
	char pvc[CHILD_NAME_MAX + 1], job[CHILD_NAME_MAX + 1], auth[CHILD_NAME_MAX + 1];
	name_cache_pvc(pvc, vns, vname);
	name_cache_job(job, vns, vname);
	name_cache_auth(auth, vns, vname);
	const char *tns = compose_target_namespace(vmc, a->ic);
	char size[QUANTITY_STR_MAX] = "";
	quantity_format_bytes(bytes, size, sizeof size);
	char *msg = capacity_evicted_message(cname, bytes, why);   /* render prints the same */
	evicted_set(r->cap, vuid, cname, msg);
	struct kube_error err = {0};
	int rc = delete_obj(a->kc, &KUBE_RES_JOBS, tns, job, &err);
	if (rc == 0)
		rc = delete_obj(a->kc, &KUBE_RES_SECRETS, tns, auth, &err);
	if (rc == 0)
		rc = delete_obj(a->kc, &KUBE_RES_PVCS, tns, pvc, &err);
	if (rc != 0) {
		rec_set_error(x, "evict", cname, &err);
		evicted_set(r->cap, vuid, cname, NULL);
	} else {
		metric_evicted(cname);
		LOG_INFO("evicted", "cluster=%s cache=%s size=%s for=%s", cname, vkey, size, x->key);
		ctrl_enqueue(r->c, vkey);
	}
	kube_error_clear(&err);
	free(msg);
	return rc;
}

/* Gather, decide, evict; with the cluster's lock held. */
static bool admit_locked(struct rec *x, const struct admit_in *a, const struct capacity_budget *b,
			 int64_t demanded_s, struct admit_hold *h)
{
	struct mcr *r = x->r;
	const char *cname = b->cluster;
	json_object *list = NULL;
	struct vol *vols = NULL;
	struct capacity_cache *cs = NULL;
	struct capacity_decision d;
	memset(&d, 0, sizeof d);
	size_t n = 0;
	bool proceed = false;
	struct kube_error err = {0};
	struct kube_list_opts lo = {.label_selector = API_SELECTOR_MANAGED};
	if (kube_list(a->kc, &KUBE_RES_PVCS, a->local ? NULL : a->tns, &lo, &list, &err) != 0) {
		rec_set_error(x, "list PVCs for admission", cname, &err);
		kube_error_clear(&err);
		goto out;
	}
	json_object *items = jpath_child(list, "items");
	size_t total = items && json_object_is_type(items, json_type_array) ? json_object_array_length(items) : 0;
	vols = xcalloc(total + 1, sizeof(*vols));
	cs = xcalloc(total + 1, sizeof(*cs));
	for (size_t i = 0; i < total; i++) {
		json_object *p = json_object_array_get_idx(items, i);
		if (jpath_get(p, "metadata.deletionTimestamp"))
			continue;   /* going away: its space is being freed */
		const char *cn = jpath_label(p, API_LABEL_CACHE), *cns = jpath_label(p, API_LABEL_CACHE_NAMESPACE);
		struct vol *v = &vols[n];
		struct capacity_cache *c = &cs[n++];
		c->size_bytes = request_of(p);
		if (!cn || !cns)
			continue;   /* counted, owned by no ModelCache */
		v->key = xasprintf("%s/%s", cns, cn);
		if (informer_get(r->mcs, v->key, &v->mc) != 0 || !v->mc)
			continue;
		capacity_cache_of(v->mc, v->key, cname, md_placed_on(r, cns, cn, cname, NULL), c->size_bytes, c);
	}
	struct capacity_request q = {.key = x->key, .size_bytes = x->size_bytes, .demanded_s = demanded_s};
	if (capacity_admit(b, cs, n, &q, &d) != 0)
		goto out;
	if (d.verdict == CAPACITY_INSUFFICIENT) {
		if (a->pvc) {
			/* a composed cache whose volume cannot grow keeps its volume */
			LOG_WARN("cache volume not grown: over capacity", "cluster=%s why=%s", cname, d.message);
			*a->size_bytes = request_of(a->pvc);
			proceed = true;
			goto out;
		}
		json_object *pe = a->prev_entry;
		bool reported = pe && mc_streq(jpath_str(pe, "reason"), "InsufficientCapacity") &&
				mc_streq(jpath_str(pe, "message"), d.message);
		if (!reported)
			LOG_INFO("not admitted: insufficient capacity", "cluster=%s why=%s", cname, d.message);
		h->message = xstrdup(d.message);
		a->st->capacity_message = h->message;
		rec_want_requeue(x, REQUEUE_CAPACITY_MS);
		goto out;
	}
	proceed = true;
	for (size_t i = 0; i < d.nevict && proceed; i++) {
		size_t k = d.evict[i];
		if (evict_one(x, a, cname, vols[k].mc, vols[k].key, d.message, cs[k].size_bytes) != 0)
			proceed = false;
	}
	if (d.nevict && proceed)
		LOG_INFO("admitted after evictions", "cluster=%s evicted=%zu why=%s", cname, d.nevict, d.message);
out:
	for (size_t i = 0; vols && i < n; i++) {
		free(vols[i].key);
		json_object_put(vols[i].mc);
	}
	free(vols);
	free(cs);
	capacity_decision_cleanup(&d);
	json_object_put(list);
	return proceed;
}

bool step_admit(struct rec *x, const struct admit_in *in, struct admit_hold *h)
{
	struct mcr *r = x->r;
	struct admit_in live = *in;
	const struct admit_in *a = &live;
	if (live.pvc && jpath_get(live.pvc, "metadata.deletionTimestamp"))
		live.pvc = NULL;   /* a volume being deleted is no volume */
	const char *cname = jpath_str_or(a->ic, "metadata.name", "?");
	struct api_inferencecluster ic;
	char *vmsg = NULL;
	if (api_inferencecluster_from_json(a->ic, &ic, &vmsg) != 0) {
		free(vmsg);
		return true;   /* an invalid InferenceCluster is not Connected, hence not matched */
	}
	struct capacity_budget b = {.cluster = cname, .capacity_bytes = ic.capacity_bytes,
				    .reserve_bytes = ic.reserve_bytes, .max_caches = ic.max_caches};
	int64_t md_demand = 0;
	bool demanded = md_placed_on(r, x->ns, x->name, cname, &md_demand);

	/* evicted: stays so until a ModelDeployment placed there asks for it */
	char *ev = evicted_get(r->cap, x->uid, cname);
	json_object *pe = a->prev_entry;
	bool recorded = pe && status_entry_phase(pe) == STATUS_EVICTED;
	bool evicted = ev || (recorded && !a->pvc);
	if (evicted && !demanded) {
		if (ev && recorded && !a->pvc)
			evicted_set(r->cap, x->uid, cname, NULL);   /* the status holds it now */
		h->message = ev ? ev : xstrdup(jpath_str(pe, "message"));
		a->st->evicted = true;
		a->st->evicted_message = h->message;
		return false;
	}
	/* asked for again after it was evicted: demanded since the eviction */
	int64_t demanded_s = capacity_demand_time(ts_of(x->mc, "metadata.creationTimestamp"), md_demand, evicted, pe,
						  x->now_s);
	if (evicted) {
		LOG_INFO("bringing back an evicted cache", "cluster=%s cache=%s", cname, x->key);
		evicted_set(r->cap, x->uid, cname, NULL);
		free(ev);
	}
	if (!capacity_limited(&b))
		return true;
	if (a->pvc && request_of(a->pvc) >= x->size_bytes)
		return true;   /* composed there already: admitted */
	h->mu = cluster_lock(r->cap, cname);
	pthread_mutex_lock(h->mu);
	return admit_locked(x, a, &b, demanded_s, h);
}
