#include "controllers/modelcache/modelcache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "compose/precheck.h"
#include "controller/apply.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "kube/selector.h"
#include "metrics/metrics.h"
#include "status/status.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/digest.h"
#include "util/jcanon.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/names.h"
#include "util/quantity.h"
#ifdef MC_HAVE_ESTIMATE
#include "estimate/estimate.h"
#include "hub/hub.h"
#endif

#define SEL_MANAGED "app.kubernetes.io/managed-by=modelcache-operator"
#define ESTIMATE_FAILURE_TTL_MS (5 * 60 * 1000)
#define REQUEUE_NOT_SYNCED_MS 500
#define REQUEUE_BLOCKED_MS 5000

/* One cached estimate, keyed by what determines it. */
struct est_entry {
	char *key;
	int rc;                 /* 0 ok, else an estimate_err */
	char *msg;              /* failure reason */
	int64_t download_bytes, weight_bytes;
	int64_t files;
	char format[32], method[32], strategy[48];
	bool used_fallback;
	char *commit;
	uint64_t at_ms;
	struct est_entry *next;
};

/* The status last written per ModelCache (the informer may lag behind it). */
struct memo {
	char *key;
	char *uid;
	json_object *status;
	struct memo *next;
};

/* Metric increments already made: (uid, cluster, reason). */
struct counted {
	char *id;
	struct counted *next;
};

struct mcr {
	struct manager *m;
	struct ctrl *c;
	struct informer *mcs, *ics, *secrets, *mds;   /* mds NULL when ModelDeployments are not served */
	char *image, *hf_endpoint;
	int64_t default_size;
	pthread_mutex_t mu;
	struct est_entry *ests;
	struct memo *memos;
	struct counted *counted;
	struct informer_handler ic_h, sec_h, md_h;
};

/* ------------------------------------------------------------ small helpers */

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static json_object *memo_get(struct mcr *r, const char *key, const char *uid)
{
	json_object *out = NULL;
	pthread_mutex_lock(&r->mu);
	for (struct memo *m = r->memos; m; m = m->next)
		if (strcmp(m->key, key) == 0 && streq(m->uid, uid))
			json_object_deep_copy(m->status, &out, NULL);
	pthread_mutex_unlock(&r->mu);
	return out;
}

static void memo_put(struct mcr *r, const char *key, const char *uid, json_object *status)
{
	json_object *copy = NULL;
	if (status)
		json_object_deep_copy(status, &copy, NULL);
	pthread_mutex_lock(&r->mu);
	struct memo **pp = &r->memos;
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	if (*pp) {
		struct memo *m = *pp;
		if (!copy) {
			*pp = m->next;
			free(m->key);
			free(m->uid);
			json_object_put(m->status);
			free(m);
		} else {
			free(m->uid);
			m->uid = xstrdup(uid);
			json_object_put(m->status);
			m->status = copy;
		}
	} else if (copy) {
		struct memo *m = xcalloc(1, sizeof(*m));
		m->key = xstrdup(key);
		m->uid = xstrdup(uid);
		m->status = copy;
		m->next = r->memos;
		r->memos = m;
	}
	pthread_mutex_unlock(&r->mu);
}

/* true the first time (uid, cluster, reason) is seen. */
static bool count_once(struct mcr *r, const char *uid, const char *cluster, const char *reason)
{
	char *id = xasprintf("%s|%s|%s", uid ? uid : "", cluster, reason);
	bool first = true;
	pthread_mutex_lock(&r->mu);
	for (struct counted *c = r->counted; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			first = false;
	if (first) {
		struct counted *c = xcalloc(1, sizeof(*c));
		c->id = id;
		id = NULL;
		c->next = r->counted;
		r->counted = c;
	}
	pthread_mutex_unlock(&r->mu);
	free(id);
	return first;
}

static void metric_skipped(const char *cluster)
{
	static const char *const keys[] = {"cluster", "reason"};
	const char *vals[] = {cluster, "vram_insufficient"};
	metrics_counter_inc(metrics_counter_get("modelcache_hydrations_skipped_total",
						"Hydrations skipped by the VRAM precheck.", 2, keys, vals));
}

static void metric_bypass(const char *reason)
{
	static const char *const keys[] = {"reason"};
	const char *vals[] = {reason};
	metrics_counter_inc(metrics_counter_get("modelcache_precheck_bypass_total",
						"VRAM prechecks bypassed, by reason.", 1, keys, vals));
}

/* ------------------------------------------------------------ watches */

static void enqueue_all(struct mcr *r)
{
	size_t n = 0;
	char **keys = store_keys(informer_store(r->mcs), &n);
	for (size_t i = 0; i < n; i++)
		ctrl_enqueue(r->c, keys[i]);
	store_keys_free(keys, n);
}

static void ic_changed(struct mcr *r, json_object *old_obj, json_object *new_obj)
{
	/* a resync (old == new, same resourceVersion) changes nothing */
	if (old_obj && new_obj &&
	    streq(jpath_str(old_obj, "metadata.resourceVersion"), jpath_str(new_obj, "metadata.resourceVersion")))
		return;
	enqueue_all(r);
}

static void ic_add(void *ctx, json_object *obj)
{
	ic_changed(ctx, NULL, obj);
}
static void ic_update(void *ctx, json_object *o, json_object *n)
{
	ic_changed(ctx, o, n);
}
static void ic_delete(void *ctx, json_object *obj)
{
	ic_changed(ctx, NULL, obj);
}

static void secret_changed(struct mcr *r, json_object *obj)
{
	const char *ns = jpath_str(obj, "metadata.namespace");
	char **keys = NULL;
	size_t n = 0;
	if (!ns || store_index_keys(informer_store(r->mcs), STORE_INDEX_NAMESPACE, ns, &keys, &n) != 0)
		return;
	const char *name = jpath_str(obj, "metadata.name");
	for (size_t i = 0; i < n; i++) {
		json_object *mc = NULL;
		if (informer_get(r->mcs, keys[i], &mc) == 0) {
			if (streq(jpath_str(mc, "spec.huggingFace.authSecret.name"), name))
				ctrl_enqueue(r->c, keys[i]);
			json_object_put(mc);
		}
	}
	store_keys_free(keys, n);
}

static void sec_add(void *ctx, json_object *obj)
{
	secret_changed(ctx, obj);
}
static void sec_update(void *ctx, json_object *o, json_object *n)
{
	if (streq(jpath_str(o, "metadata.resourceVersion"), jpath_str(n, "metadata.resourceVersion")))
		return;
	secret_changed(ctx, n);
}
static void sec_delete(void *ctx, json_object *obj)
{
	secret_changed(ctx, obj);
}

/* A ModelDeployment changed: its cache (spec.modelCacheRef) is reconciled
 * (deletion may be waiting for it; un-matching keeps what it serves from). */
static void md_changed(void *ctx, json_object *obj)
{
	struct mcr *r = ctx;
	const char *ns = jpath_str(obj, "metadata.namespace"), *ref = jpath_str(obj, "spec.modelCacheRef.name");
	if (!ns || !ref)
		return;
	char *key = xasprintf("%s/%s", ns, ref);
	ctrl_enqueue(r->c, key);
	free(key);
}
static void md_update(void *ctx, json_object *o, json_object *n)
{
	if (streq(jpath_str(o, "metadata.resourceVersion"), jpath_str(n, "metadata.resourceVersion")))
		return;
	md_changed(ctx, n);
}

/* Live ModelDeployments referencing ns/name ("ns/a, ns/b"), or NULL. */
static char *md_users(struct mcr *r, const char *ns, const char *name)
{
	if (!r->mds)
		return NULL;
	json_object *list = NULL;
	if (store_by_index(informer_store(r->mds), STORE_INDEX_NAMESPACE, ns, &list) != 0)
		return NULL;
	struct buf b;
	buf_init(&b, 1u << 16);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *md = json_object_array_get_idx(list, i);
		if (!streq(jpath_str(md, "spec.modelCacheRef.name"), name) || jpath_get(md, "metadata.deletionTimestamp"))
			continue;
		buf_printf(&b, "%s%s/%s", b.len ? ", " : "", ns, jpath_str_or(md, "metadata.name", "?"));
	}
	json_object_put(list);
	if (!b.len) {
		buf_cleanup(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

/* Does a ModelDeployment referencing ns/name have a placement on cluster? */
static bool md_serves_on(struct mcr *r, const char *ns, const char *name, const char *cluster)
{
	if (!r->mds)
		return false;
	json_object *list = NULL;
	bool yes = false;
	if (store_by_index(informer_store(r->mds), STORE_INDEX_NAMESPACE, ns, &list) != 0)
		return false;
	for (size_t i = 0; i < json_object_array_length(list) && !yes; i++) {
		json_object *md = json_object_array_get_idx(list, i);
		if (!streq(jpath_str(md, "spec.modelCacheRef.name"), name))
			continue;
		json_object *pl = jpath_get(md, "status.placements");
		for (size_t j = 0; pl && json_object_is_type(pl, json_type_array) && j < json_object_array_length(pl); j++)
			if (streq(jpath_str(json_object_array_get_idx(pl, j), "cluster"), cluster))
				yes = true;
	}
	json_object_put(list);
	return yes;
}

/* ------------------------------------------------------------ validation */

static int validate(json_object *mc, char **msg)
{
	*msg = NULL;
	if (api_validate_modelcache(mc, msg) != 0) {
		if (!*msg)
			*msg = xstrdup("invalid ModelCache");
		return -EINVAL;
	}
	struct kube_selector *sel = NULL;
	char *err = NULL;
	if (kube_selector_from_json(jpath_get(mc, "spec.clusterSelector"), &sel, &err) != 0) {
		*msg = xasprintf("spec.clusterSelector.%s", err ? err : "invalid");
		free(err);
		return -EINVAL;
	}
	kube_selector_free(sel);
	return 0;
}

/* ------------------------------------------------------------ estimate */

static void est_key(json_object *mc, const char *token, struct buf *k)
{
	buf_printf(k, "%s@%s", jpath_str_or(mc, "spec.huggingFace.repo", ""),
		   jpath_str_or(mc, "spec.huggingFace.revision", "main"));
	buf_puts(k, "|inc=");
	jcanon_json(jpath_get(mc, "spec.huggingFace.include"), k);
	buf_puts(k, "|exc=");
	jcanon_json(jpath_get(mc, "spec.huggingFace.exclude"), k);
	if (token) {
		char h[SHA256_HEX_LEN + 1];
		sha256_hex_str(token, h);
		buf_printf(k, "|tok=%.16s", h);   /* a gated repo answers once the token is there */
	}
}

/* A copy of the cached entry for this spec (estimating when needed).
 * Returns NULL when no estimator is built. */
static struct est_entry *estimate_for(struct mcr *r, json_object *mc, const char *token)
{
	struct buf k;
	buf_init(&k, 1u << 20);
	est_key(mc, token, &k);
	struct est_entry *hit = NULL;
	uint64_t now = mono_ms();
	pthread_mutex_lock(&r->mu);
	for (struct est_entry *e = r->ests; e; e = e->next) {
		if (strcmp(e->key, buf_str(&k)) == 0 && (e->rc == 0 || now - e->at_ms < ESTIMATE_FAILURE_TTL_MS)) {
			hit = xcalloc(1, sizeof(*hit));
			*hit = *e;
			hit->key = xstrdup(e->key);
			hit->msg = xstrdup(e->msg);
			hit->commit = xstrdup(e->commit);
			hit->next = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (hit) {
		buf_cleanup(&k);
		return hit;
	}
#ifdef MC_HAVE_ESTIMATE
	struct est_entry *e = xcalloc(1, sizeof(*e));
	e->key = buf_take(&k, NULL);
	e->at_ms = now;
	const char *inc[64], *exc[64];
	size_t ninc = 0, nexc = 0;
	compose_hf_filters(mc, inc, &ninc, exc, &nexc, 64);
	struct hub_client *hub = NULL;
	struct estimate_result res;
	estimate_result_init(&res);
	char *msg = NULL;
	int rc = hub_client_new(r->hf_endpoint, token, NULL, &hub);
	if (rc == 0) {
		rc = estimate_repo(hub, jpath_str_or(mc, "spec.huggingFace.repo", ""),
				   jpath_str_or(mc, "spec.huggingFace.revision", "main"), inc, ninc, exc, nexc, &res, &msg);
		hub_client_free(hub);
	} else {
		msg = xstrdup("cannot create the Hub client");
	}
	e->rc = rc;
	if (rc == 0) {
		e->download_bytes = res.download_bytes;
		e->weight_bytes = res.weight_bytes;
		e->files = (int64_t)res.nfiles;
		snprintf(e->format, sizeof(e->format), "%s", res.format ? res.format : "unknown");
		snprintf(e->method, sizeof(e->method), "%s", res.method ? res.method : "unknown");
		snprintf(e->strategy, sizeof(e->strategy), "%s", res.strategy ? res.strategy : "");
		e->used_fallback = res.used_fallback;
		e->commit = xstrdup(res.commit);
		LOG_INFO("estimated", "repo=%s download_bytes=%" PRId64 " weight_bytes=%" PRId64 " strategy=%s",
			 jpath_str_or(mc, "spec.huggingFace.repo", ""), e->download_bytes, e->weight_bytes, e->strategy);
	} else {
		e->msg = msg ? msg : xstrdup("estimate failed");
		msg = NULL;
		LOG_WARN("estimate failed", "repo=%s err=%s", jpath_str_or(mc, "spec.huggingFace.repo", ""), e->msg);
	}
	free(msg);
	estimate_result_cleanup(&res);
	/* keep one entry per key */
	struct est_entry *copy = xcalloc(1, sizeof(*copy));
	*copy = *e;
	copy->key = xstrdup(e->key);
	copy->msg = xstrdup(e->msg);
	copy->commit = xstrdup(e->commit);
	copy->next = NULL;
	pthread_mutex_lock(&r->mu);
	struct est_entry **pp = &r->ests;
	while (*pp) {
		if (strcmp((*pp)->key, e->key) == 0) {
			struct est_entry *old = *pp;
			*pp = old->next;
			free(old->key);
			free(old->msg);
			free(old->commit);
			free(old);
		} else {
			pp = &(*pp)->next;
		}
	}
	e->next = r->ests;
	r->ests = e;
	pthread_mutex_unlock(&r->mu);
	return copy;
#else
	(void)r;
	buf_cleanup(&k);
	return NULL;
#endif
}

static void est_free(struct est_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->msg);
	free(e->commit);
	free(e);
}

/* ------------------------------------------------------------ per cluster */

struct rec {
	struct mcr *r;
	json_object *mc;
	const char *ns, *name, *uid, *key;
	char pvc_name[CHILD_NAME_MAX + 1], job_name[CHILD_NAME_MAX + 1], auth_name[CHILD_NAME_MAX + 1];
	int64_t size_bytes, weight_bytes;
	const char *token_b64;   /* the source Secret's value (base64) or NULL */
	char *auth_message;      /* authSecret configured but missing */
	bool auth;               /* authSecret configured */
	json_object *prev;       /* previous status (memo or observed), borrowed */
	uint64_t requeue_ms;     /* 0 = none */
	bool error;
	unsigned nerrors;
	char errbuf[256];
};

static void want_requeue(struct rec *x, uint64_t ms)
{
	if (x->requeue_ms == 0 || ms < x->requeue_ms)
		x->requeue_ms = ms;
}

static void set_error(struct rec *x, const char *what, const char *cluster, const struct kube_error *err)
{
	x->error = true;
	x->nerrors++;
	snprintf(x->errbuf, sizeof(x->errbuf), "%s on %s: %s", what, cluster,
		 err && err->message ? err->message : "error");
	LOG_WARN("write failed", "what=%s cluster=%s err=%s", what, cluster,
		 err && err->message ? err->message : "error");
}

/* Cluster informers for the composed kinds; false when one is not synced yet. */
struct cinf {
	struct informer *pvcs, *jobs, *secs, *nss;
};

static bool cluster_informers(struct cluster *cl, bool remote, struct cinf *ci)
{
	ci->pvcs = cluster_informer(cl, &KUBE_RES_PVCS, NULL, SEL_MANAGED);
	ci->jobs = cluster_informer(cl, &KUBE_RES_JOBS, NULL, SEL_MANAGED);
	ci->secs = cluster_informer(cl, &KUBE_RES_SECRETS, NULL, SEL_MANAGED);
	ci->nss = remote ? cluster_informer(cl, &KUBE_RES_NAMESPACES, NULL, SEL_MANAGED) : NULL;
	return ci->pvcs && ci->jobs && ci->secs && informer_has_synced(ci->pvcs) && informer_has_synced(ci->jobs) &&
	       informer_has_synced(ci->secs) && (!ci->nss || informer_has_synced(ci->nss));
}

static json_object *observe(struct informer *inf, const char *ns, const char *name)
{
	json_object *o = NULL;
	if (!inf)
		return NULL;
	char *key = ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
	if (informer_get(inf, key, &o) != 0)
		o = NULL;
	free(key);
	return o;
}

static bool job_failed(json_object *job)
{
	json_object *c = jpath_find_type(jpath_get(job, "status.conditions"), "Failed");
	return streq(jpath_str(c, "status"), "True");
}

/* The hydrator's termination message, read from the Job's newest Pod. */
static char *termination_message(struct kube_client *kc, const char *ns, const char *job)
{
	static const char *const sels[] = {"batch.kubernetes.io/job-name", "job-name"};
	char *msg = NULL;
	for (size_t s = 0; s < 2 && !msg; s++) {
		char *sel = xasprintf("%s=%s", sels[s], job);
		struct kube_list_opts lo = {.label_selector = sel};
		json_object *list = NULL;
		if (kube_list(kc, &KUBE_RES_PODS, ns, &lo, &list, NULL) == 0) {
			json_object *items = jpath_child(list, "items");
			const char *best_ts = NULL;
			for (size_t i = 0; items && i < json_object_array_length(items); i++) {
				json_object *p = json_object_array_get_idx(items, i);
				json_object *cs = json_object_array_get_idx(jpath_get(p, "status.containerStatuses"), 0);
				const char *m = jpath_str(cs, "state.terminated.message");
				const char *ts = jpath_str(p, "metadata.creationTimestamp");
				if (m && *m && (!best_ts || (ts && strcmp(ts, best_ts) >= 0))) {
					free(msg);
					msg = xstrdup(m);
					best_ts = ts;
				}
			}
		}
		json_object_put(list);
		free(sel);
	}
	if (msg) {
		/* one line, capped */
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		if (strlen(msg) > 512)
			msg[512] = '\0';
		size_t n = strlen(msg);
		while (n > 0 && msg[n - 1] == ' ')
			msg[--n] = '\0';
	}
	return msg;
}

static int delete_obj(struct kube_client *kc, const struct kube_resource *res, const char *ns, const char *name,
		      struct kube_error *err)
{
	struct kube_delete_opts o = {.propagation_policy = "Background"};
	int rc = kube_delete(kc, res, ns, name, &o, err);
	if (rc == -KUBE_ERR_NOT_FOUND) {
		kube_error_clear(err);
		return 0;
	}
	return rc;
}

static unsigned job_attempt(json_object *job)
{
	const char *a = jpath_annotation(job, COMPOSE_ANN_ATTEMPT);
	unsigned long v = a ? strtoul(a, NULL, 10) : 0;
	return v > 0 && v < 1000000 ? (unsigned)v : 1;
}

/* Reconcile one matched cluster; *entry = its status.clusters[] entry. */
static void reconcile_cluster(struct rec *x, json_object *ic, json_object **entry)
{
	struct mcr *r = x->r;
	const char *cname = jpath_str_or(ic, "metadata.name", "?");
	json_object *prev_entry = jpath_find_name(jpath_child(x->prev, "clusters"), cname);
	struct status_cluster_in in = {.name = cname, .pvc_name = x->pvc_name, .job_name = x->job_name,
				       .prev = prev_entry, .auth_missing = x->auth_message != NULL,
				       .auth_message = x->auth_message};
	int64_t now_s = wall_ms() / 1000;
	json_object *pvc = NULL, *job = NULL, *sec = NULL, *nsobj = NULL;
	json_object *d_ns = NULL, *d_pvc = NULL, *d_sec = NULL, *d_job = NULL, *applied_job = NULL, *unlatched = NULL;
	char *term = NULL;
	struct kube_error err = {0};
	struct cluster *cl = NULL;
	unsigned errors_before = x->nerrors;

	/* 4.5: the precheck decides before anything is composed */
	struct precheck_result pr;
	compose_precheck(x->mc, ic, x->weight_bytes, &pr);
	if (pr.verdict == PRECHECK_SKIP) {
		in.skipped = true;
		in.estimated_bytes = pr.needed_bytes;
		in.available_bytes = pr.available_bytes;
		in.skip_message = pr.message;
		status_cluster(&in, now_s, entry, NULL);
		return;
	}
	if (pr.verdict == PRECHECK_BYPASS && count_once(r, x->uid, cname, pr.bypass_reason)) {
		metric_bypass(pr.bypass_reason);
		LOG_INFO("vram precheck bypassed", "cluster=%s reason=%s", cname, pr.bypass_reason);
	}

	cl = registry_acquire(mgr_clusters(r->m), cname);
	if (!cl) {
		/* the InferenceCluster controller has not built its client yet */
		want_requeue(x, REQUEUE_BLOCKED_MS);
		status_cluster(&in, now_s, entry, NULL);
		return;
	}
	bool remote = !compose_cluster_is_local(ic);
	const char *tns = compose_target_namespace(x->mc, ic);
	struct cinf ci;
	if (!cluster_informers(cl, remote, &ci)) {
		want_requeue(x, REQUEUE_NOT_SYNCED_MS);
		/* keep what we knew */
		if (prev_entry)
			json_object_deep_copy(prev_entry, entry, NULL);
		else
			status_cluster(&in, now_s, entry, NULL);
		cluster_release(cl);
		return;
	}
	struct kube_client *kc = cluster_client(cl);
	pvc = observe(ci.pvcs, tns, x->pvc_name);
	job = observe(ci.jobs, tns, x->job_name);
	sec = observe(ci.secs, tns, x->auth_name);
	nsobj = remote ? observe(ci.nss, NULL, tns) : NULL;

	/* a lost volume (phase Lost, or gone under a Ready cluster): drop it and
	 * its Job, so both are composed again and the new volume is hydrated */
	bool was_ready = prev_entry && status_entry_phase(prev_entry) == STATUS_READY;
	if ((pvc && streq(jpath_str(pvc, "status.phase"), "Lost")) || (!pvc && was_ready)) {
		LOG_WARN("cache volume lost", "cluster=%s pvc=%s/%s", cname, tns, x->pvc_name);
		if (pvc && delete_obj(kc, &KUBE_RES_PVCS, tns, x->pvc_name, &err) != 0)
			set_error(x, "delete lost PVC", cname, &err);
		kube_error_clear(&err);
		if (job && delete_obj(kc, &KUBE_RES_JOBS, tns, x->job_name, &err) != 0)
			set_error(x, "delete Job", cname, &err);
		kube_error_clear(&err);
		json_object_put(pvc);
		json_object_put(job);
		pvc = job = NULL;
	}
	/* the source changed since the volume was hydrated: the Ready latch no
	 * longer holds, the volume is hydrated again */
	char art[17];
	compose_artifact_id(x->mc, art);
	const char *have_art = jpath_annotation(pvc, COMPOSE_ANN_ARTIFACT);
	if (have_art && strcmp(have_art, art) != 0 && prev_entry && status_entry_phase(prev_entry) == STATUS_READY) {
		LOG_INFO("source changed: hydrating again", "cluster=%s artifact=%s was=%s", cname, art, have_art);
		json_object_deep_copy(prev_entry, &unlatched, NULL);
		json_object_object_add(unlatched, "phase", json_object_new_string(status_phase_str(STATUS_HYDRATING)));
		json_object_object_del(unlatched, "lastTransitionTime");
		in.prev = unlatched;
	}
	in.pvc = pvc;
	in.job = job;
	/* a Job composed for another source (or before a retry request) does not count */
	if (job && !job_failed(job)) {
		struct compose_input cur = {.mc = x->mc, .ic = ic, .size_bytes = 1, .hydrator_image = r->image,
					    .hf_endpoint = r->hf_endpoint, .with_auth = x->auth, .attempt = job_attempt(job),
					    .retry = jpath_annotation(x->mc, COMPOSE_ANN_RETRY)};
		json_object *want = NULL;
		if (compose_job(&cur, &want) == 0) {
			char h[65];
			ctrl_desired_hash(want, h);
			if (!streq(jpath_annotation(job, COMPOSE_ANN_HASH), h))
				in.job = NULL;
		}
		json_object_put(want);
	}
	if (job && job_failed(job)) {
		/* reuse the message already in status for this attempt, else read it from the Pod */
		if (prev_entry && status_entry_phase(prev_entry) == STATUS_FAILED &&
		    jpath_int_or(prev_entry, "attempts", 0) == (int64_t)job_attempt(job) && jpath_str(prev_entry, "message"))
			term = xstrdup(jpath_str(prev_entry, "message"));
		else
			term = termination_message(kc, tns, x->job_name);
		in.failure_message = term;
	}
	enum status_phase phase;
	status_cluster(&in, now_s, entry, &phase);

	struct compose_input ci_in = {.mc = x->mc, .ic = ic, .size_bytes = x->size_bytes,
				      .hydrator_image = r->image, .hf_endpoint = r->hf_endpoint,
				      .with_auth = x->auth, .retry = jpath_annotation(x->mc, COMPOSE_ANN_RETRY)};
	/* 1. namespace (remote) */
	if (remote && compose_namespace(&ci_in, &d_ns) == 0 && d_ns &&
	    ctrl_apply_if_changed(kc, &KUBE_RES_NAMESPACES, NULL, d_ns, nsobj, NULL, NULL, &err) != 0)
		set_error(x, "apply Namespace", cname, &err);
	kube_error_clear(&err);

	/* 2. PVC: never shrunk */
	int64_t observed_size = 0;
	const char *req = jpath_str(pvc, "spec.resources.requests.storage");
	if (req)
		quantity_parse_bytes(req, &observed_size);
	if (observed_size > ci_in.size_bytes)
		ci_in.size_bytes = observed_size;
	bool applied = false;
	if (compose_pvc(&ci_in, &d_pvc) == 0 &&
	    ctrl_apply_if_changed(kc, &KUBE_RES_PVCS, tns, d_pvc, pvc, &applied, NULL, &err) != 0)
		set_error(x, "apply PVC", cname, &err);
	else if (applied)
		LOG_INFO("applied", "cluster=%s kind=PersistentVolumeClaim name=%s/%s", cname, tns, x->pvc_name);
	kube_error_clear(&err);

	/* 3. token copy: only until the cluster is Ready */
	if (x->auth && phase == STATUS_READY) {
		if (sec) {
			if (delete_obj(kc, &KUBE_RES_SECRETS, tns, x->auth_name, &err) != 0)
				set_error(x, "delete Secret copy", cname, &err);
			else
				LOG_INFO("deleted token copy", "cluster=%s name=%s/%s", cname, tns, x->auth_name);
			kube_error_clear(&err);
		}
	} else if (x->auth && x->token_b64 && compose_auth_secret(&ci_in, x->token_b64, &d_sec) == 0) {
		if (ctrl_apply_if_changed(kc, &KUBE_RES_SECRETS, tns, d_sec, sec, NULL, NULL, &err) != 0)
			set_error(x, "apply Secret copy", cname, &err);
		kube_error_clear(&err);
	}

	/* 4. hydration Job, while not Ready and the token (if any) is there,
	 * and only once this cluster's volume and token copy were written */
	if (phase != STATUS_READY && !x->auth_message && x->nerrors == errors_before) {
		unsigned attempt = 0;
		bool create = false, replace = false;
		if (!job && jpath_int_or(prev_entry, "attempts", 0) > 0) {
			/* The informer may lag behind our own create: ask the API.
			 * Not before the first attempt (no Job was ever created for
			 * this cluster; the status is not stale, ctrl_cache_stale
			 * sees to that): on a cold start that GET is a 404 per cache
			 * and cluster. Should a create's status write have failed,
			 * the repeated create is the same apply (same attempt). */
			json_object *live = NULL;
			if (kube_get(kc, &KUBE_RES_JOBS, tns, x->job_name, &live, &err) == 0) {
				json_object_put(job);
				job = live;
			} else if (err.reason != KUBE_ERR_NOT_FOUND) {
				set_error(x, "get Job", cname, &err);
			}
			kube_error_clear(&err);
		}
		if (x->nerrors != errors_before) {
			/* nothing */
		} else if (!job) {
			create = true;
			attempt = (unsigned)jpath_int_or(prev_entry, "attempts", 0) + 1;
		} else if (job_failed(job)) {
			const char *want = jpath_annotation(x->mc, COMPOSE_ANN_RETRY);
			const char *had = jpath_annotation(job, COMPOSE_ANN_RETRY);
			int64_t wait_s = 0;
			bool asked = !streq(want ? want : "", had ? had : "");
			if (asked || status_retry_due(*entry, now_s, &wait_s)) {
				replace = true;
				attempt = job_attempt(job) + 1;
				LOG_INFO("retrying hydration", "cluster=%s attempt=%u reason=%s", cname, attempt,
					 asked ? "retry annotation" : "backoff elapsed");
			} else {
				want_requeue(x, (uint64_t)wait_s * 1000);
			}
		} else {
			attempt = job_attempt(job);
			ci_in.attempt = attempt;
			if (compose_job(&ci_in, &d_job) == 0) {
				char h[65];
				ctrl_desired_hash(d_job, h);
				const char *have = jpath_annotation(job, COMPOSE_ANN_HASH);
				if (!streq(have, h)) {
					/* Jobs are immutable: the spec or the retry request changed */
					replace = true;
					attempt++;
				}
			}
			json_object_put(d_job);
			d_job = NULL;
		}
		if (replace) {
			if (delete_obj(kc, &KUBE_RES_JOBS, tns, x->job_name, &err) != 0) {
				set_error(x, "delete Job", cname, &err);
				replace = false;
			} else {
				create = true;
			}
			kube_error_clear(&err);
		}
		if (create) {
			ci_in.attempt = attempt;
			if (compose_job(&ci_in, &d_job) == 0) {
				if (ctrl_apply_if_changed(kc, &KUBE_RES_JOBS, tns, d_job, NULL, NULL, &applied_job, &err) != 0) {
					set_error(x, "apply Job", cname, &err);
				} else {
					LOG_INFO("applied", "cluster=%s kind=Job name=%s/%s attempt=%u", cname, tns,
						 x->job_name, attempt);
					/* the entry reflects the new Job */
					json_object_put(*entry);
					in.job = applied_job;
					in.failure_message = NULL;
					status_cluster(&in, now_s, entry, NULL);
				}
				kube_error_clear(&err);
			}
		}
	}
	free(term);
	json_object_put(unlatched);
	json_object_put(pvc);
	json_object_put(job);
	json_object_put(sec);
	json_object_put(nsobj);
	json_object_put(d_ns);
	json_object_put(d_pvc);
	json_object_put(d_sec);
	json_object_put(d_job);
	json_object_put(applied_job);
	cluster_release(cl);
}

/* Remove the cache's objects from a cluster (no longer matched, skipped, or
 * the ModelCache is being deleted). Returns 0 when the cluster holds none of
 * them any more, 1 when it cannot be reached (blocked), <0 on a write error. */
static int cleanup_cluster(struct rec *x, const char *cname, bool keep_pvc)
{
	struct cluster *cl = registry_acquire(mgr_clusters(x->r->m), cname);
	if (!cl)
		return 0;
	int rc = 0;
	struct cinf ci;
	bool remote = !cluster_is_local(cl);
	const char *tns = cluster_target_namespace(cl);
	if (!tns)
		tns = x->ns;
	bool synced = cluster_informers(cl, remote, &ci);
	json_object *pvc = synced ? observe(ci.pvcs, tns, x->pvc_name) : NULL;
	json_object *job = synced ? observe(ci.jobs, tns, x->job_name) : NULL;
	json_object *sec = synced ? observe(ci.secs, tns, x->auth_name) : NULL;
	bool present = !synced || job || sec || (pvc && !keep_pvc);
	if (!present)
		goto out;
	if (!cluster_connected(cl)) {
		rc = 1;
		goto out;
	}
	struct kube_client *kc = cluster_client(cl);
	struct kube_error err = {0};
	if ((!synced || job) && delete_obj(kc, &KUBE_RES_JOBS, tns, x->job_name, &err) != 0)
		rc = err.reason == KUBE_ERR_UNAVAILABLE || err.reason == KUBE_ERR_TIMEOUT ? 1 : -1;
	kube_error_clear(&err);
	if (rc == 0 && (!synced || sec) && delete_obj(kc, &KUBE_RES_SECRETS, tns, x->auth_name, &err) != 0)
		rc = err.reason == KUBE_ERR_UNAVAILABLE || err.reason == KUBE_ERR_TIMEOUT ? 1 : -1;
	kube_error_clear(&err);
	if (rc == 0 && !keep_pvc && (!synced || pvc) && delete_obj(kc, &KUBE_RES_PVCS, tns, x->pvc_name, &err) != 0)
		rc = err.reason == KUBE_ERR_UNAVAILABLE || err.reason == KUBE_ERR_TIMEOUT ? 1 : -1;
	kube_error_clear(&err);
	if (rc == 0)
		LOG_INFO("cleaned up", "cluster=%s cache=%s/%s pvc_kept=%s", cname, x->ns, x->name, keep_pvc ? "true" : "false");
out:
	json_object_put(pvc);
	json_object_put(job);
	json_object_put(sec);
	cluster_release(cl);
	return rc;
}

/* ------------------------------------------------------------ status, events */

static bool has_finalizer(json_object *mc)
{
	json_object *f = jpath_get(mc, "metadata.finalizers");
	for (size_t i = 0; f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++)
		if (streq(json_object_get_string(json_object_array_get_idx(f, i)), COMPOSE_FINALIZER))
			return true;
	return false;
}

static int patch_finalizers(struct mcr *r, json_object *mc, bool add)
{
	json_object *list = json_object_new_array();
	json_object *f = jpath_get(mc, "metadata.finalizers");
	for (size_t i = 0; f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(f, i));
		if (!streq(s, COMPOSE_FINALIZER))
			json_object_array_add(list, json_object_new_string(s));
	}
	if (add)
		json_object_array_add(list, json_object_new_string(COMPOSE_FINALIZER));
	json_object *body = json_object_new_object(), *meta = json_object_new_object();
	json_object_object_add(meta, "finalizers", list);
	json_object_object_add(meta, "resourceVersion",
			       json_object_new_string(jpath_str_or(mc, "metadata.resourceVersion", "")));
	json_object_object_add(body, "metadata", meta);
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE};
	struct kube_error err = {0};
	int rc = kube_patch_obj(mgr_client(r->m), &KUBE_RES_MODELCACHES, jpath_str(mc, "metadata.namespace"),
				jpath_str(mc, "metadata.name"), body, &po, NULL, &err);
	if (rc)
		LOG_WARN("finalizer patch failed", "add=%d err=%s", add, err.message ? err.message : "");
	kube_error_clear(&err);
	json_object_put(body);
	return rc;
}

/* Merge-patch the owned status keys (absent ones set to null). */
static int write_status(struct mcr *r, json_object *mc, json_object *st)
{
	json_object *body = json_object_new_object(), *s = json_object_new_object();
	for (size_t i = 0; status_owned_keys[i]; i++) {
		json_object *v = jpath_child(st, status_owned_keys[i]);
		json_object_object_add(s, status_owned_keys[i], v ? json_object_get(v) : NULL);
	}
	json_object_object_add(body, "status", s);
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE, .subresource = "status"};
	struct kube_error err = {0};
	int rc = kube_patch_obj(mgr_client(r->m), &KUBE_RES_MODELCACHES, jpath_str(mc, "metadata.namespace"),
				jpath_str(mc, "metadata.name"), body, &po, NULL, &err);
	if (rc)
		LOG_WARN("status write failed", "err=%s", err.message ? err.message : "");
	kube_error_clear(&err);
	json_object_put(body);
	return rc;
}

/* Is any cluster of a status in this phase? */
static bool any_cluster_in(json_object *st, enum status_phase p)
{
	json_object *cl = jpath_child(st, "clusters");
	for (size_t i = 0; cl && i < json_object_array_length(cl); i++)
		if (status_entry_phase(json_object_array_get_idx(cl, i)) == p)
			return true;
	return false;
}

static void emit_events(struct mcr *r, json_object *mc, json_object *prev, json_object *next)
{
	/* Once the cache has left the state an event reported, the recorder
	 * forgets it, so that entering the state again (Staged after a
	 * re-hydration, a second failure with the same message) is reported;
	 * while the state holds, a recomputed transition (a status write that
	 * failed) stays deduplicated. */
	const char *ready = jpath_str(api_condition_find(next, "ArtifactReady"), "reason");
	struct events *rec = mgr_events(r->m);
	if (!streq(ready, "Staged"))
		events_forget_reason(rec, mc, "Staged");
	if (!streq(ready, "AuthSecretMissing"))
		events_forget_reason(rec, mc, "AuthSecretMissing");
	if (!any_cluster_in(next, STATUS_FAILED))
		events_forget_reason(rec, mc, "HydrationFailed");
	if (!any_cluster_in(next, STATUS_SKIPPED))
		events_forget_reason(rec, mc, "InsufficientVRAM");
	json_object *ev = NULL;
	if (status_events(prev, next, jpath_str_or(mc, "spec.huggingFace.repo", ""), &ev) != 0)
		return;
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		const char *reason = jpath_str(e, "reason");
		events_emit(mgr_events(r->m), mc, jpath_str(e, "type"), reason, "Reconcile", jpath_str(e, "message"));
	}
	json_object_put(ev);
	/* the skipped counter follows the transitions into Skipped */
	json_object *ncl = jpath_child(next, "clusters"), *pcl = jpath_child(prev, "clusters");
	for (size_t i = 0; ncl && i < json_object_array_length(ncl); i++) {
		json_object *e = json_object_array_get_idx(ncl, i);
		if (status_entry_phase(e) != STATUS_SKIPPED)
			continue;
		json_object *pe = jpath_find_name(pcl, jpath_str(e, "name"));
		if ((!pe || status_entry_phase(pe) != STATUS_SKIPPED) &&
		    count_once(r, jpath_str(mc, "metadata.uid"), jpath_str_or(e, "name", "?"), "vram_insufficient"))
			metric_skipped(jpath_str_or(e, "name", "?"));
	}
}

/* Write status when it differs from what we last wrote / observed; emit the
 * transition events after a successful write. */
static int publish(struct mcr *r, struct rec *x, json_object *st)
{
	if (status_equal(x->prev, st))
		return 0;
	int rc = write_status(r, x->mc, st);
	if (rc == 0) {
		emit_events(r, x->mc, x->prev, st);
		memo_put(r, x->key, x->uid, st);
	}
	return rc;
}

/* The previous status with condition `type` set (the other conditions and
 * fields kept): used while a deletion waits. */
static int publish_condition(struct mcr *r, struct rec *x, const char *type, const char *status, const char *reason,
			     const char *message)
{
	json_object *st = NULL;
	if (x->prev)
		json_object_deep_copy(x->prev, &st, NULL);
	else
		st = json_object_new_object();
	json_object *pc = jpath_child(x->prev, "conditions");
	json_object *nc = json_object_new_array();
	for (size_t i = 0; pc && json_object_is_type(pc, json_type_array) && i < json_object_array_length(pc); i++) {
		json_object *c = json_object_array_get_idx(pc, i);
		if (!streq(jpath_str(c, "type"), type))
			json_object_array_add(nc, json_object_get(c));
	}
	status_set_condition(nc, pc, type, status, reason, message, jpath_int_or(x->mc, "metadata.generation", 0),
			     wall_ms() / 1000);
	json_object_object_add(st, "conditions", nc);
	int rc = publish(r, x, st);
	json_object_put(st);
	return rc;
}

/* ------------------------------------------------------------ reconcile */

static int cmp_ic(const void *a, const void *b)
{
	const char *x = jpath_str_or(*(json_object *const *)a, "metadata.name", "");
	const char *y = jpath_str_or(*(json_object *const *)b, "metadata.name", "");
	return strcmp(x, y);
}

static int reconcile(void *ctx, const char *key, struct ctrl_result *res)
{
	struct mcr *r = ctx;
	json_object *mc = NULL, *ics = NULL, *observed_prev = NULL, *memo = NULL, *st = NULL, *clusters = NULL,
		    *estimate = NULL, *secret = NULL;
	struct est_entry *est = NULL;
	struct kube_selector *sel = NULL;
	char *invalid = NULL, *size_msg = NULL, *cleanup_msg = NULL, *token = NULL;
	json_object **matched = NULL;
	size_t nmatched = 0;
	int rc = 0;
	struct rec x;
	memset(&x, 0, sizeof(x));
	x.r = r;
	x.key = key;

	if (informer_get(r->mcs, key, &mc) != 0) {
		memo_put(r, key, "", NULL);
		return 0;
	}
	x.mc = mc;
	x.ns = jpath_str_or(mc, "metadata.namespace", "default");
	x.name = jpath_str_or(mc, "metadata.name", "");
	x.uid = jpath_str_or(mc, "metadata.uid", "");
	name_cache_pvc(x.pvc_name, x.ns, x.name);
	name_cache_job(x.job_name, x.ns, x.name);
	name_cache_auth(x.auth_name, x.ns, x.name);
	memo = memo_get(r, key, x.uid);
	observed_prev = jpath_child(mc, "status");
	x.prev = memo ? memo : observed_prev;
	bool deleting = jpath_get(mc, "metadata.deletionTimestamp") != NULL;
	int64_t now_s = wall_ms() / 1000;

	/* ---- 4.7 deletion ---- */
	if (deleting) {
		if (!has_finalizer(mc))
			goto out;
		char *users = md_users(r, x.ns, x.name);
		if (users) {
			char *msg = xasprintf("in use by ModelDeployment %s: the cache is torn down once no "
					      "ModelDeployment references it", users);
			LOG_INFO("deletion waits for ModelDeployments", "users=%s", users);
			publish_condition(r, &x, "InUse", "True", "ModelDeploymentsExist", msg);
			events_emit(mgr_events(r->m), mc, EVENT_NORMAL, "InUse", "Delete", msg);
			free(msg);
			free(users);
			res->kind = CTRL_REQUEUE_AFTER;   /* ModelDeployment events requeue it sooner */
			res->requeue_after_ms = 30000;
			goto out;
		}
		bool retain = streq(jpath_str(mc, "spec.deletionPolicy"), "Retain");
		size_t n = 0;
		char **names = registry_names(mgr_clusters(r->m), &n);
		struct buf blocked;
		buf_init(&blocked, 4096);
		bool failed = false;
		for (size_t i = 0; i < n; i++) {
			int c = cleanup_cluster(&x, names[i], retain);
			if (c == 1)
				buf_printf(&blocked, "%s%s", blocked.len ? ", " : "", names[i]);
			else if (c < 0)
				failed = true;
		}
		store_keys_free(names, n);
		if (blocked.len) {
			cleanup_msg = xasprintf("waiting for cluster %s (unreachable) to delete the cache's objects; "
						"the finalizer %s stays until then",
						buf_str(&blocked), COMPOSE_FINALIZER);
			LOG_WARN("deletion blocked", "clusters=%s", buf_str(&blocked));
			publish_condition(r, &x, "CleanupBlocked", "True", "ClusterUnreachable", cleanup_msg);
			res->kind = CTRL_REQUEUE_AFTER;
			res->requeue_after_ms = REQUEUE_BLOCKED_MS;
		} else if (failed) {
			rc = -EIO;
			snprintf(res->message, sizeof(res->message), "cleanup failed; retrying");
		} else if (patch_finalizers(r, mc, false) == 0) {
			LOG_INFO("finalizer removed", "policy=%s", retain ? "Retain" : "Delete");
			events_forget(mgr_events(r->m), x.uid);
			memo_put(r, key, x.uid, NULL);
		} else {
			rc = -EIO;
		}
		buf_cleanup(&blocked);
		goto out;
	}

	/* ---- validation: an invalid object gets Valid=False and nothing is composed ---- */
	if (validate(mc, &invalid) != 0) {
		/* once per generation: a resync of the same invalid object (its
		 * status already says so) is not news */
		json_object *pv = jpath_find_type(jpath_get(mc, "status.conditions"), "Valid");
		bool reported = pv && streq(jpath_str(pv, "status"), "False") && streq(jpath_str(pv, "message"), invalid) &&
				jpath_int_or(pv, "observedGeneration", -1) == jpath_int_or(mc, "metadata.generation", 0);
		if (reported)
			LOG_DEBUG("invalid ModelCache (reported)", "why=%s", invalid);
		else
			LOG_WARN("invalid ModelCache", "why=%s", invalid);
		struct status_in si = {.mc = mc, .now_s = now_s, .invalid_message = invalid};
		if (status_compute(&si, &st) == 0 && publish(r, &x, st) != 0)
			rc = -EIO;
		goto out;
	}

	if (!has_finalizer(mc) && patch_finalizers(r, mc, true) != 0) {
		rc = -EIO;
		goto out;
	}

	/* ---- authSecret ---- */
	const char *auth_name = jpath_str(mc, "spec.huggingFace.authSecret.name");
	if (auth_name) {
		x.auth = true;
		const char *auth_key = jpath_str_or(mc, "spec.huggingFace.authSecret.key", COMPOSE_TOKEN_KEY);
		char *skey = xasprintf("%s/%s", x.ns, auth_name);
		if (informer_get(r->secrets, skey, &secret) != 0)
			secret = NULL;
		free(skey);
		json_object *v = jpath_child(jpath_child(secret, "data"), auth_key);
		const char *b64 = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		if (b64 && *b64) {
			x.token_b64 = b64;
			/* the token in clear for the estimator's Hub requests (never logged) */
			char *raw = NULL;
			size_t len = 0;
			if (base64_decode(b64, SIZE_MAX, &raw, &len) == 0) {
				token = xstrndup(raw, len);
				memset(raw, 0, len);
				free(raw);
			}
			if (!token || !*token) {
				x.token_b64 = NULL;
				free_secret(token);
				token = NULL;
			}
		}
		if (!x.token_b64)
			x.auth_message = xasprintf("authSecret %s/%s is missing or has no key \"%s\"", x.ns, auth_name,
						   auth_key);
	}

	/* ---- size (4.2) and the estimate ---- */
	enum status_size size_state = STATUS_SIZE_SPEC;
	int64_t spec_size = 0;
	compose_spec_size(mc, &spec_size);
	bool need_weights = !streq(jpath_str(mc, "spec.precheck.vram"), "Disabled");
	if (spec_size <= 0 || need_weights)
		est = estimate_for(r, mc, token);
	if (est && est->rc == 0) {
		x.weight_bytes = est->weight_bytes;
		estimate = json_object_new_object();
		json_object_object_add(estimate, "downloadBytes", json_object_new_int64(est->download_bytes));
		json_object_object_add(estimate, "weightBytes", json_object_new_int64(est->weight_bytes));
		json_object_object_add(estimate, "files", json_object_new_int64(est->files));
		json_object_object_add(estimate, "format", json_object_new_string(est->format));
		json_object_object_add(estimate, "method", json_object_new_string(est->method));
		json_object_object_add(estimate, "strategy", json_object_new_string(est->strategy));
		json_object_object_add(estimate, "usedFallback", json_object_new_boolean(est->used_fallback));
	}
	if (spec_size > 0) {
		x.size_bytes = spec_size;
		size_state = STATUS_SIZE_SPEC;
		size_msg = xasprintf("size %s from spec.size", jpath_str_or(mc, "spec.size", ""));
	} else if (est && est->rc == 0) {
		compose_size_from_download(est->download_bytes, &x.size_bytes);
		char q[QUANTITY_STR_MAX];
		quantity_format_bytes(x.size_bytes, q, sizeof(q));
		size_state = STATUS_SIZE_ESTIMATED;
		size_msg = xasprintf("%" PRId64 " bytes to download (%s, %s); volume %s", est->download_bytes, est->format,
				     est->strategy, q);
	} else {
		x.size_bytes = r->default_size;
		char q[QUANTITY_STR_MAX];
		quantity_format_bytes(x.size_bytes, q, sizeof(q));
		size_state = STATUS_SIZE_FAILED;
		size_msg = xasprintf("%s; using the default cache size %s",
				     est && est->msg ? est->msg : "no estimator available", q);
	}
	/* A definitive source error (the repo or revision does not exist, the
	 * token may not read it, the patterns select nothing) composes
	 * nothing: a volume and a Job would only fail. Transient Hub errors
	 * keep composing at the default size. A missing authSecret is its
	 * own, more precise reason (AuthSecretMissing). The source is
	 * re-checked when the failed estimate expires, and at once when the
	 * spec or the token changes (both are in the estimate's key). */
	const char *source_reason = NULL;
	if (est && est->rc == ESTIMATE_ERR_AUTH && !x.auth_message)
		source_reason = "Unauthorized";
	else if (est && est->rc == ESTIMATE_ERR_NOT_FOUND)
		source_reason = est->msg && strstr(est->msg, "no file matches") ? "NoFilesSelected" : "SourceNotFound";
	if (source_reason)
		events_emit(mgr_events(r->m), mc, EVENT_WARNING, source_reason, "Estimate", est->msg);
	else if (size_state == STATUS_SIZE_FAILED)
		events_emit(mgr_events(r->m), mc, EVENT_WARNING, "EstimateFailed", "Estimate", size_msg);
	if (source_reason) {
		struct status_in si = {.mc = mc, .now_s = now_s, .size = size_state, .size_message = size_msg,
				       .source_reason = source_reason, .source_message = est->msg};
		if (status_compute(&si, &st) == 0 && publish(r, &x, st) != 0)
			rc = -EIO;
		if (rc == 0) {
			res->kind = CTRL_REQUEUE_AFTER;
			res->requeue_after_ms = ESTIMATE_FAILURE_TTL_MS;
		}
		goto out;
	}

	/* ---- 4.1 matching ---- */
	kube_selector_from_json(jpath_get(mc, "spec.clusterSelector"), &sel, NULL);
	ics = informer_list(r->ics);
	size_t nics = json_object_array_length(ics);
	matched = xcalloc(nics + 1, sizeof(*matched));
	for (size_t i = 0; i < nics; i++) {
		json_object *ic = json_object_array_get_idx(ics, i);
		if (!jpath_condition_true(ic, "Connected"))
			continue;
		if (sel && !kube_selector_matches(sel, jpath_get(ic, "metadata.labels")))
			continue;
		matched[nmatched++] = ic;
	}
	qsort(matched, nmatched, sizeof(*matched), cmp_ic);

	/* ---- 4.2 compose per matched cluster ---- */
	clusters = json_object_new_array();
	for (size_t i = 0; i < nmatched; i++) {
		json_object *entry = NULL;
		reconcile_cluster(&x, matched[i], &entry);
		if (entry)
			json_object_array_add(clusters, entry);
	}

	/* ---- 4.2.5 clean up where it no longer matches (or is Skipped) ---- */
	{
		size_t n = 0;
		char **names = registry_names(mgr_clusters(r->m), &n);
		/* 4.2.5: removed where it no longer matches, the PVC only with deletionPolicy Delete */
		bool retain = streq(jpath_str(mc, "spec.deletionPolicy"), "Retain");
		for (size_t i = 0; i < n; i++) {
			json_object *e = jpath_find_name(clusters, names[i]);
			if (e && status_entry_phase(e) != STATUS_SKIPPED)
				continue;
			bool connected_ic = false;
			for (size_t j = 0; j < nics; j++) {
				json_object *ic = json_object_array_get_idx(ics, j);
				if (streq(jpath_str(ic, "metadata.name"), names[i]))
					connected_ic = jpath_condition_true(ic, "Connected");
			}
			if (!connected_ic)
				continue;   /* retried when it is back (InferenceCluster events requeue us) */
			if (md_serves_on(r, x.ns, x.name, names[i]))
				continue;   /* 4.2.5: a ModelDeployment still serves from it there */
			if (cleanup_cluster(&x, names[i], retain) < 0)
				x.error = true;
		}
		store_keys_free(names, n);
	}

	/* ---- status ---- */
	char volume_size[QUANTITY_STR_MAX];
	if (quantity_format_bytes(x.size_bytes, volume_size, sizeof(volume_size)) != 0)
		volume_size[0] = '\0';
	struct status_in si = {.mc = mc, .now_s = now_s, .clusters = clusters, .size = size_state,
			       .size_message = size_msg, .estimate = estimate,
			       .resolved_revision = est && est->rc == 0 ? est->commit : NULL,
			       .volume_size = volume_size[0] ? volume_size : NULL,
			       .auth_message = x.auth_message};
	if (status_compute(&si, &st) == 0 && publish(r, &x, st) != 0)
		rc = -EIO;

	if (rc == 0 && x.error) {
		rc = -EIO;
		snprintf(res->message, sizeof(res->message), "%s", x.errbuf);
	} else if (rc == 0 && x.requeue_ms) {
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = x.requeue_ms;
	}
out:
	free(invalid);
	free(size_msg);
	free(cleanup_msg);
	free_secret(token);
	free(x.auth_message);
	free(matched);
	est_free(est);
	kube_selector_free(sel);
	json_object_put(secret);
	json_object_put(estimate);
	json_object_put(clusters);
	json_object_put(st);
	json_object_put(ics);
	json_object_put(memo);
	json_object_put(mc);
	return rc;
}

/* ------------------------------------------------------------ setup */

/* The reconciler's state lives as long as the process: informer handlers and
 * the controller keep pointers to it until the manager has stopped them. */
static struct mcr *the_reconciler;

int modelcache_controller_setup(struct manager *m, const struct operator_options *o)
{
	struct mcr *r = xcalloc(1, sizeof(*r));
	the_reconciler = r;
	r->m = m;
	pthread_mutex_init(&r->mu, NULL);
	r->image = xstrdup(o->hydrator_image && *o->hydrator_image ? o->hydrator_image : "modelcache-operator:" MC_VERSION);
	r->hf_endpoint = xstrdup(o->hf_endpoint && *o->hf_endpoint ? o->hf_endpoint : NULL);
	r->default_size = (int64_t)100 << 30;
#ifdef MC_HAVE_DEFAULT_CACHE_SIZE
	if (o->default_cache_size && quantity_parse_bytes(o->default_cache_size, &r->default_size) != 0) {
		LOG_ERROR("invalid --default-cache-size", "value=%s", o->default_cache_size);
		return -EINVAL;
	}
#endif
	struct ctrl_opts co = {.name = "modelcache", .workers = o->workers, .reconcile = reconcile, .ctx = r};
	int rc = ctrl_new(&co, &r->c);
	if (rc)
		return rc;
	rc = mgr_add_controller(m, r->c);
	if (rc)
		return rc;
	r->mcs = mgr_informer(m, &KUBE_RES_MODELCACHES, NULL, NULL);
	r->ics = mgr_informer(m, &KUBE_RES_INFERENCECLUSTERS, NULL, NULL);
	r->secrets = mgr_informer(m, &KUBE_RES_SECRETS, NULL, NULL);
	if (!r->mcs || !r->ics || !r->secrets)
		return -ENOMEM;
	struct kube_error err = {0};
	if (kube_resource_served(mgr_client(m), &KUBE_RES_MODELDEPLOYMENTS, &err) == 0) {
		r->mds = mgr_informer(m, &KUBE_RES_MODELDEPLOYMENTS, NULL, NULL);
		r->md_h = (struct informer_handler){.on_add = md_changed, .on_update = md_update,
						    .on_delete = md_changed, .ctx = r};
		if (r->mds)
			informer_add_handler(r->mds, &r->md_h);
	} else {
		LOG_WARN("ModelDeployments are not served: deletion does not wait for them", "reason=%s",
			 err.message ? err.message : "");
	}
	kube_error_clear(&err);
	struct informer_handler self;
	ctrl_handler_for_self(r->c, &self);
	informer_add_handler(r->mcs, &self);
	r->ic_h = (struct informer_handler){.on_add = ic_add, .on_update = ic_update, .on_delete = ic_delete, .ctx = r};
	informer_add_handler(r->ics, &r->ic_h);
	r->sec_h = (struct informer_handler){.on_add = sec_add, .on_update = sec_update, .on_delete = sec_delete, .ctx = r};
	informer_add_handler(r->secrets, &r->sec_h);
	rc = mgr_watch_clusters(m, &KUBE_RES_PVCS, SEL_MANAGED, ctrl_map_by_cache_labels, NULL, r->c);
	if (rc == 0)
		rc = mgr_watch_clusters(m, &KUBE_RES_JOBS, SEL_MANAGED, ctrl_map_by_cache_labels, NULL, r->c);
	LOG_INFO("modelcache controller ready", "hydrator_image=%s default_cache_size_bytes=%" PRId64, r->image,
		 r->default_size);
	return rc;
}
