/* The ModelDeployment reconcile, as named steps (see modeldeployment.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "compose/serve.h"
#include "controllers/modeldeployment/mdr.h"
#include "estimate/estimate.h"
#include "kube/resource.h"
#include "labels/labels.h"
#include "status/status.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define ESTIMATE_RETRY_MS (5 * 60 * 1000)

/* lastUsedTime written per cache (at most once an hour, even while the
 * cache informer has not shown our last write yet); also, per deployment,
 * since when a candidate cluster has not listed (at_s in monotonic ms) */
struct md__used {
	char *key;
	int64_t at_s;
	struct md__used *next;
};

static void used_list_free(struct md__used **head)
{
	while (*head) {
		struct md__used *u = *head;
		*head = u->next;
		free(u->key);
		free(u);
	}
}

void md__used_free(struct mdr *r)
{
	used_list_free(&r->used);
	used_list_free(&r->unlisted);
}

/* One reconcile's state. */
struct rx {
	struct mdr *r;
	const char *key, *ns, *name, *uid;
	json_object *md, *mc, *memo;
	json_object *prev;             /* memo or observed status (borrowed) */
	int64_t now_s;
	/* conditions */
	const char *cache_status, *cache_reason, *ready_status, *ready_reason, *sched_status, *sched_reason;
	char *cache_msg, *ready_msg, *sched_msg;
	const char *wl_reason;         /* a workload that cannot progress (borrowed from obs) */
	char *wl_msg;
	bool hold;                     /* keep what is placed, place nothing new, compose nothing */
	struct placement_model model;
	struct md_sizing sz;
	json_object *estimate, *placements;
	struct placement_result pr;
	bool placed;                   /* pr is set */
	/* candidates and what was observed there */
	json_object *ics;
	json_object **cand;
	size_t ncand;
	struct md__obs *obs;
	bool locked;
	char *unsynced;                /* candidates not listed yet, "a, b" */
	int64_t ready;
	uint64_t requeue_ms;
	bool error;
	char errbuf[256];
};

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static void want_requeue(struct rx *x, uint64_t ms)
{
	if (x->requeue_ms == 0 || ms < x->requeue_ms)
		x->requeue_ms = ms;
}

static void set_cond(const char **st, const char **reason, char **msg, const char *s, const char *r, char *m)
{
	*st = s;
	*reason = r;
	free(*msg);
	*msg = m;
}

/* ------------------------------------------------------------ writes */

static int patch_md(struct rx *x, json_object *body, const char *sub)
{
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE, .subresource = sub};
	struct kube_error err = {0};
	int rc = kube_patch_obj(mgr_client(x->r->m), &KUBE_RES_MODELDEPLOYMENTS, x->ns, x->name, body, &po, NULL, &err);
	if (rc)
		LOG_WARN("write failed", "what=%s err=%s", sub ? sub : "metadata", err.message ? err.message : "");
	kube_error_clear(&err);
	return rc;
}

static bool has_finalizer(json_object *md)
{
	json_object *f = jpath_get(md, "metadata.finalizers");
	for (size_t i = 0; f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++)
		if (streq(json_object_get_string(json_object_array_get_idx(f, i)), API_FINALIZER))
			return true;
	return false;
}

static int set_finalizer(struct rx *x, bool add)
{
	json_object *list = json_object_new_array(), *f = jpath_get(x->md, "metadata.finalizers");
	for (size_t i = 0; f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(f, i));
		if (!streq(s, API_FINALIZER))
			json_object_array_add(list, json_object_new_string(s));
	}
	if (add)
		json_object_array_add(list, json_object_new_string(API_FINALIZER));
	json_object *body = json_object_new_object(), *meta = json_object_new_object();
	json_object_object_add(meta, "finalizers", list);
	json_object_object_add(meta, "resourceVersion", json_object_new_string(jpath_str_or(x->md, "metadata.resourceVersion", "")));
	json_object_object_add(body, "metadata", meta);
	int rc = patch_md(x, body, NULL);
	json_object_put(body);
	return rc;
}

/* Write the owned status keys when they differ from the last known status. */
static int publish(struct rx *x, json_object *st)
{
	if (x->prev && md_status_equal(x->prev, st))
		return 0;
	json_object *body = json_object_new_object(), *s = json_object_new_object();
	for (size_t i = 0; md_status_keys[i]; i++) {
		json_object *v = jpath_child(st, md_status_keys[i]);
		json_object_object_add(s, md_status_keys[i], v ? json_object_get(v) : NULL);
	}
	json_object_object_add(body, "status", s);
	int rc = patch_md(x, body, "status");
	json_object_put(body);
	if (rc == 0) {
		md__memo_put(x->r, x->key, x->uid, st);
		const char *ps = jpath_str(api_condition_find(x->prev, "Scheduled"), "reason");
		if (streq(x->sched_status, "False") && !streq(ps, x->sched_reason)) {
			/* the first line of the message: the cluster lines follow in the condition */
			char first[512];
			snprintf(first, sizeof first, "%s", x->sched_msg ? x->sched_msg : "");
			char *nl = strchr(first, '\n');
			if (nl)
				*nl = '\0';
			events_emit(mgr_events(x->r->m), x->md, EVENT_WARNING, x->sched_reason, "Schedule", first);
		}
	}
	return rc;
}

/* ------------------------------------------------------------ steps */

/* Finalizer: the workloads go on every cluster, then the object. */
static int step_delete(struct rx *x, struct ctrl_result *res)
{
	if (!has_finalizer(x->md))
		return 0;
	size_t n = 0;
	char **names = registry_names(mgr_clusters(x->r->m), &n);
	struct buf blocked;
	buf_init(&blocked, 1u << 16);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		int c = md__cleanup_cluster(x->r, names[i], x->md);
		if (c == 1)
			buf_printf(&blocked, "%s%s", blocked.len ? ", " : "", names[i]);
		else if (c < 0)
			rc = -EIO;
	}
	store_keys_free(names, n);
	if (blocked.len) {
		LOG_WARN("deletion waits for unreachable clusters", "clusters=%s", buf_str(&blocked));
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = MD_REQUEUE_BLOCKED_MS;
	} else if (rc == 0 && set_finalizer(x, false) == 0) {
		LOG_INFO("finalizer removed", "deployment=%s/%s", x->ns, x->name);
		events_forget(mgr_events(x->r->m), x->uid);
		md__memo_put(x->r, x->key, x->uid, NULL);
	} else {
		rc = -EIO;
	}
	buf_cleanup(&blocked);
	return rc;
}

/* The referenced cache (or none: spec.model is served by the engine itself). */
static void step_resolve_cache(struct rx *x)
{
	const char *ref = jpath_str(x->md, "spec.modelCacheRef.name");
	if (!ref) {
		set_cond(&x->cache_status, &x->cache_reason, &x->cache_msg, "True", "NoCache",
			 xstrdup("no ModelCache referenced: the engine loads spec.model itself"));
		return;
	}
	char *k = xasprintf("%s/%s", x->ns, ref);
	if (informer_get(x->r->mcs, k, &x->mc) != 0)
		x->mc = NULL;
	free(k);
	if (!x->mc) {
		set_cond(&x->cache_status, &x->cache_reason, &x->cache_msg, "False", "NotFound",
			 xasprintf("ModelCache %s/%s not found: placed replicas are kept, no new ones are placed", x->ns, ref));
		x->hold = true;
		return;
	}
	set_cond(&x->cache_status, &x->cache_reason, &x->cache_msg, "True", "Resolved",
		 xasprintf("ModelCache %s/%s (%s)", x->ns, ref, jpath_str_or(x->mc, "spec.huggingFace.repo", "?")));
}

/* The cache's Hub token in clear (for the estimator; never logged), or NULL. */
static char *cache_token(struct rx *x)
{
	const char *sname = jpath_str(x->mc, "spec.huggingFace.authSecret.name");
	if (!sname)
		return NULL;
	const char *skey = jpath_str_or(x->mc, "spec.huggingFace.authSecret.key", API_DEFAULT_AUTH_KEY);
	char *k = xasprintf("%s/%s", x->ns, sname);
	json_object *sec = NULL;
	if (informer_get(x->r->secrets, k, &sec) != 0)
		sec = NULL;
	free(k);
	const char *b64 = jpath_child_str(jpath_child(sec, "data"), skey);
	char *raw = NULL, *tok = NULL;
	size_t len = 0;
	if (b64 && base64_decode(b64, SIZE_MAX, &raw, &len) == 0 && len > 0)
		tok = xstrndup(raw, len);
	if (raw) {
		memset(raw, 0, len);
		free(raw);
	}
	json_object_put(sec);
	return tok;
}

/* Weights (the cache's status.estimate, else the estimator), KV cache for
 * context x sequences, engine overhead; the topology from spec and args. */
static void step_estimate(struct rx *x)
{
	if (x->hold)
		return;
	const char *repo = x->mc ? jpath_str(x->mc, "spec.huggingFace.repo") : jpath_str(x->md, "spec.model.huggingFace.repo");
	const char *rev = x->mc ? jpath_str_or(x->mc, "spec.huggingFace.revision", API_DEFAULT_REVISION)
				: jpath_str_or(x->md, "spec.model.huggingFace.revision", API_DEFAULT_REVISION);
	char *tok = x->mc ? cache_token(x) : NULL;
	struct md__facts f;
	memset(&f, 0, sizeof f);
	int rc = md__estimator_get(x->r->est, repo, rev, jpath_get(x->mc, "spec.huggingFace.include"),
				   jpath_get(x->mc, "spec.huggingFace.exclude"), tok, x->key, &f);
	free_secret(tok);
	int64_t weights = jpath_int_or(x->mc, "status.estimate.weightBytes", 0);
	if (rc == 0 && f.rc == 0 && weights <= 0)
		weights = f.weight_bytes;
	if (rc == -EAGAIN) {
		set_cond(&x->sched_status, &x->sched_reason, &x->sched_msg, "Unknown", "Estimating",
			 xasprintf("estimating %s from the Hub", repo ? repo : "?"));
		x->hold = true;
		return;
	}
	if (weights <= 0) {
		set_cond(&x->sched_status, &x->sched_reason, &x->sched_msg, "False", "EstimateFailed",
			 xasprintf("the memory of %s is unknown: %s", repo ? repo : "?", rc == 0 && f.msg[0] ? f.msg : "no estimate"));
		want_requeue(x, ESTIMATE_RETRY_MS);
		x->hold = true;
		return;
	}
	const struct model_arch *arch = rc == 0 && f.rc == 0 && f.arch.known ? &f.arch : NULL;
	char *msg = NULL;
	if (md_sizing_from_spec(x->md, arch, &x->sz, &msg) != 0) {
		set_cond(&x->sched_status, &x->sched_reason, &x->sched_msg, "False", "InvalidTopology", msg);
		x->hold = true;
		return;
	}
	int64_t kv = 0;
	struct kv_dtype dt;
	if (arch && kv_dtype_parse(x->sz.kv_dtype[0] ? x->sz.kv_dtype : NULL, arch, &dt) == 0)
		kv = kv_cache_bytes(arch, &dt, x->sz.context, x->sz.sequences, 0);
	x->model = (struct placement_model){
		.weight_bytes = weights,
		.kv_cache_bytes = kv,
		.overhead_per_gpu = estimate_overhead_bytes(x->sz.llamacpp ? ENGINE_LLAMACPP : ENGINE_VLLM, arch),
		.heads = arch ? arch->heads : 0,
		.kv_heads = arch ? arch->kv_heads : 0,
		.utilization = x->sz.utilization,
		.tensor = x->sz.tensor,
		.pipeline = x->sz.pipeline,
		.nodes = x->sz.nodes,
	};
	if (!arch)
		LOG_INFO("model architecture unknown: KV cache not priced", "repo=%s err=%s", repo ? repo : "?",
			 f.msg[0] ? f.msg : "");
}

static int cmp_ic(const void *a, const void *b)
{
	return strcmp(jpath_str_or(*(json_object *const *)a, "metadata.name", ""),
		      jpath_str_or(*(json_object *const *)b, "metadata.name", ""));
}

static json_object *cache_entry(struct rx *x, const char *cluster)
{
	return jpath_find_name(jpath_get(x->mc, "status.clusters"), cluster);
}

/* Connected clusters matching both selectors where the cache is not Skipped. */
static void step_candidates(struct rx *x)
{
	struct labels_selector *sel = NULL, *csel = NULL;
	labels_selector_from_json(jpath_get(x->md, "spec.clusterSelector"), &sel, NULL);
	if (x->mc)
		labels_selector_from_json(jpath_get(x->mc, "spec.clusterSelector"), &csel, NULL);
	x->ics = informer_list(x->r->ics);
	size_t n = json_object_array_length(x->ics);
	x->cand = xcalloc(n + 1, sizeof(*x->cand));
	for (size_t i = 0; i < n && x->ncand < PLACEMENT_MAX_CLUSTERS; i++) {
		json_object *ic = json_object_array_get_idx(x->ics, i);
		json_object *labels = jpath_get(ic, "metadata.labels");
		if (!jpath_condition_true(ic, "Connected") || (sel && !labels_selector_matches(sel, labels)) ||
		    (csel && !labels_selector_matches(csel, labels)))
			continue;
		if (x->mc) {
			json_object *e = cache_entry(x, jpath_str_or(ic, "metadata.name", ""));
			if (!e || status_entry_phase(e) == STATUS_SKIPPED)
				continue;
		}
		x->cand[x->ncand++] = ic;
	}
	qsort(x->cand, x->ncand, sizeof(*x->cand), cmp_ic);
	labels_selector_free(sel);
	labels_selector_free(csel);
}

/* GPUs the other deployments' placements hold on a cluster's nodes (their
 * last written status: ours is fresher than the informer). */
static size_t reservations(struct rx *x, const char *cluster, struct md_reservation **out, json_object *keep)
{
	json_object *all = informer_list(x->r->mds);
	size_t n = 0, cap = 8;
	struct md_reservation *res = xcalloc(cap, sizeof(*res));
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *md = json_object_array_get_idx(all, i);
		if (streq(jpath_str(md, "metadata.uid"), x->uid))
			continue;
		char *k = xasprintf("%s/%s", jpath_str_or(md, "metadata.namespace", ""), jpath_str_or(md, "metadata.name", ""));
		json_object *st = md__memo_get(x->r, k, jpath_str(md, "metadata.uid"));
		free(k);
		if (!st)
			st = json_object_get(jpath_child(md, "status"));
		json_object *pl = jpath_child(st, "placements");
		for (size_t j = 0; pl && json_object_is_type(pl, json_type_array) && j < json_object_array_length(pl); j++) {
			json_object *p = json_object_array_get_idx(pl, j);
			if (!streq(jpath_str(p, "cluster"), cluster))
				continue;
			json_object *names = jpath_child(p, "nodeNames");
			for (size_t k2 = 0; names && json_object_is_type(names, json_type_array) &&
					    k2 < json_object_array_length(names); k2++) {
				if (n == cap) {
					cap *= 2;
					res = xrealloc(res, cap * sizeof(*res));
				}
				res[n].node = json_object_get_string(json_object_array_get_idx(names, k2));
				res[n].gpus = (int)jpath_int_or(p, "gpusPerNode", 0);
				n++;
			}
		}
		json_object_array_add(keep, st ? st : json_object_new_null());
	}
	json_object_array_add(keep, all);
	*out = res;
	return n;
}

/* Observe every candidate; false (requeue) while one is not listed yet
 * (x->unsynced names them). */
static bool step_observe(struct rx *x)
{
	x->obs = xcalloc(x->ncand + 1, sizeof(*x->obs));
	bool all = true;
	struct buf names;
	buf_init(&names, 1u << 16);
	for (size_t i = 0; i < x->ncand; i++) {
		json_object *keep = json_object_new_array();
		struct md_reservation *res = NULL;
		size_t nres = reservations(x, jpath_str_or(x->cand[i], "metadata.name", ""), &res, keep);
		md__observe(x->r, x->md, x->cand[i], res, nres, &x->obs[i]);
		free(res);
		json_object_put(keep);
		if (!x->obs[i].synced) {
			all = false;
			buf_printf(&names, "%s%s", names.len ? ", " : "", jpath_str_or(x->cand[i], "metadata.name", "?"));
		}
	}
	if (!all)
		want_requeue(x, MD_REQUEUE_NOT_SYNCED_MS);
	x->unsynced = buf_take(&names, NULL);
	return all;
}

/* A cluster that does not list its Nodes, Pods or workloads (permissions,
 * a cluster being rebuilt) holds every decision; once that lasted
 * MD_NOT_LISTED_REPORT_S the previous status is published with
 * Scheduled=Unknown/ClusterNotListed naming it (placements and workloads stay). */
static int step_report_unlisted(struct rx *x)
{
	uint64_t now = mclock_mono_ms(x->r->clock), since = 0;
	pthread_mutex_lock(&x->r->mu);
	struct md__used *u = x->r->unlisted;
	while (u && strcmp(u->key, x->key) != 0)
		u = u->next;
	if (!u) {
		u = xcalloc(1, sizeof(*u));
		u->key = xstrdup(x->key);
		u->at_s = (int64_t)now;
		u->next = x->r->unlisted;
		x->r->unlisted = u;
	}
	since = (uint64_t)u->at_s;
	pthread_mutex_unlock(&x->r->mu);
	if (now - since < MD_NOT_LISTED_REPORT_S * 1000)
		return 0;
	json_object *st = NULL, *pc = jpath_child(x->prev, "conditions"), *nc = json_object_new_array();
	if (x->prev)
		json_object_deep_copy(x->prev, &st, NULL);
	else
		st = json_object_new_object();
	for (size_t i = 0; pc && json_object_is_type(pc, json_type_array) && i < json_object_array_length(pc); i++) {
		json_object *c = json_object_array_get_idx(pc, i);
		if (!streq(jpath_str(c, "type"), "Scheduled"))
			json_object_array_add(nc, json_object_get(c));
	}
	char *msg = xasprintf("cluster %s has not listed its Nodes, Pods and workloads for %d s (permissions of its "
			      "kubeconfig? see the InferenceCluster): placement is held", x->unsynced, MD_NOT_LISTED_REPORT_S);
	status_set_condition(nc, pc, "Scheduled", "Unknown", "ClusterNotListed", msg,
			     jpath_int_or(x->md, "metadata.generation", 0), x->now_s);
	json_object_object_add(st, "conditions", nc);
	if (!x->sched_reason || !streq(x->sched_reason, "ClusterNotListed"))
		LOG_WARN("placement held", "clusters=%s", x->unsynced);
	x->sched_status = "Unknown";
	x->sched_reason = "ClusterNotListed";
	free(x->sched_msg);
	x->sched_msg = msg;
	int rc = publish(x, st);
	json_object_put(st);
	return rc;
}

/* Listed again: forget when the trouble started. */
static void unlisted_clear(struct rx *x)
{
	pthread_mutex_lock(&x->r->mu);
	for (struct md__used **pp = &x->r->unlisted; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, x->key) == 0) {
			struct md__used *u = *pp;
			*pp = u->next;
			free(u->key);
			free(u);
			break;
		}
	pthread_mutex_unlock(&x->r->mu);
}

/* Where every replica goes (pkg/placement). */
static void step_place(struct rx *x)
{
	struct placement_cluster *pc = xcalloc(x->ncand + 1, sizeof(*pc));
	for (size_t i = 0; i < x->ncand; i++)
		pc[i] = (struct placement_cluster){.name = jpath_str_or(x->cand[i], "metadata.name", ""),
						   .nodes = x->obs[i].inv.nodes, .nnodes = x->obs[i].inv.n,
						   .lws = x->obs[i].lws};
	size_t nprev = 0;
	struct placement_slot *prev = md_slots_from_status(jpath_child(x->prev, "placements"), &nprev);
	int replicas = (int)jpath_int_or(x->md, "spec.replicas", 1);
	int rc = placement_decide(&x->model, pc, x->ncand, prev, nprev, replicas, &x->pr);
	if (rc != 0) {
		/* placements stay; nothing is composed from a decision that was not made */
		set_cond(&x->sched_status, &x->sched_reason, &x->sched_msg, "False", "TooManyNodes",
			 xasprintf("the candidate clusters offer more node shapes than placement tries (%d; "
				   "at most %d nodes per cluster): narrow spec.clusterSelector", PLACEMENT_MAX_SHAPES,
				   PLACEMENT_MAX_NODES));
	} else {
		x->placed = true;
		x->placements = md_placements_json(&x->pr);
		bool ok = x->pr.reason == PLACEMENT_PLACED;
		set_cond(&x->sched_status, &x->sched_reason, &x->sched_msg, ok ? "True" : "False",
			 placement_reason_str(x->pr.reason), xstrdup(x->pr.message));
		if (x->pr.reason == PLACEMENT_LWS_MISSING)
			want_requeue(x, MD_LWS_RECHECK_MS);   /* a LeaderWorkerSet CRD installed later */
		if (!ok)
			LOG_INFO("not scheduled", "reason=%s placed=%zu replicas=%d", x->sched_reason, x->pr.nslots, replicas);
	}
	md_slots_free(prev, nprev);
	free(pc);
	x->estimate = json_object_new_object();
	json_object_object_add(x->estimate, "weightBytes", json_object_new_int64(x->model.weight_bytes));
	json_object_object_add(x->estimate, "kvCacheBytes", json_object_new_int64(x->model.kv_cache_bytes));
	json_object_object_add(x->estimate, "overheadBytes", json_object_new_int64(x->model.overhead_per_gpu));
	json_object_object_add(x->estimate, "totalBytes",
			       json_object_new_int64(x->model.weight_bytes + x->model.kv_cache_bytes + x->model.overhead_per_gpu));
	json_object_object_add(x->estimate, "contextLength", json_object_new_int64(x->sz.context));
}

/* Nothing is created on a cluster until the cache is Ready there. An
 * Evicted cache is named here; bringing it back is the cache side's
 * capacity admission (docs/concepts.md "Capacity"). */
static bool cache_ready_on(struct rx *x, const char *cluster)
{
	return !x->mc || status_entry_phase(cache_entry(x, cluster)) == STATUS_READY;
}

static void step_gate(struct rx *x)
{
	if (!x->mc) {
		set_cond(&x->ready_status, &x->ready_reason, &x->ready_msg, "True", "NoCache", xstrdup("no ModelCache referenced"));
		return;
	}
	/* the clusters with a placement; before any, the candidates */
	json_object *pl = x->placements ? x->placements : jpath_child(x->prev, "placements");
	size_t npl = pl && json_object_is_type(pl, json_type_array) ? json_object_array_length(pl) : 0;
	struct buf waiting, evicted, ready;
	buf_init(&waiting, 1u << 16);
	buf_init(&evicted, 1u << 16);
	buf_init(&ready, 1u << 16);
	for (size_t i = 0; i < (npl ? npl : x->ncand); i++) {
		const char *c = npl ? jpath_str_or(json_object_array_get_idx(pl, i), "cluster", "")
				    : jpath_str_or(x->cand[i], "metadata.name", "");
		struct buf *b = cache_ready_on(x, c) ? &ready
				: status_entry_phase(cache_entry(x, c)) == STATUS_EVICTED ? &evicted : &waiting;
		char *needle = xasprintf("%s,", c);
		char *have = xasprintf("%s,", buf_str(b));
		if (!strstr(have, needle) || b->len == 0)
			buf_printf(b, "%s%s", b->len ? ", " : "", c);
		free(needle);
		free(have);
	}
	const char *cache = jpath_str_or(x->mc, "metadata.name", "?");
	if (evicted.len)
		set_cond(&x->ready_status, &x->ready_reason, &x->ready_msg, "False", "Evicted",
			 xasprintf("ModelCache %s was evicted on %s; it is demanded back", cache, buf_str(&evicted)));
	else if (waiting.len)
		set_cond(&x->ready_status, &x->ready_reason, &x->ready_msg, "False", "Hydrating",
			 xasprintf("ModelCache %s is not Ready on %s: nothing is created there until it is", cache,
				   buf_str(&waiting)));
	else if (ready.len)
		set_cond(&x->ready_status, &x->ready_reason, &x->ready_msg, "True", "Ready",
			 xasprintf("ModelCache %s is Ready on %s", cache, buf_str(&ready)));
	else
		set_cond(&x->ready_status, &x->ready_reason, &x->ready_msg, "Unknown", "NoClusters",
			 xasprintf("ModelCache %s is on no candidate cluster", cache));
	buf_cleanup(&waiting);
	buf_cleanup(&evicted);
	buf_cleanup(&ready);
}

/* Replicas of one kind on a cluster and the shape they share. */
struct group {
	int replicas, nodes, gpn, tensor, pipeline;
	const char *product;
};

static void groups_on(struct rx *x, size_t ci, struct group *single, struct group *multi)
{
	memset(single, 0, sizeof(*single));
	memset(multi, 0, sizeof(*multi));
	const char *cname = jpath_str_or(x->cand[ci], "metadata.name", "");
	for (size_t i = 0; i < x->pr.nslots; i++) {
		const struct placement_slot *s = &x->pr.slots[i];
		if (!streq(s->cluster, cname))
			continue;
		struct group *g = s->nodes > 1 ? multi : single;
		g->replicas++;
		g->nodes = s->nodes;
		g->gpn = s->gpus_per_node;
		g->tensor = s->tensor;
		g->pipeline = s->pipeline;
		for (size_t k = 0; k < x->obs[ci].inv.n; k++)
			if (streq(x->obs[ci].inv.nodes[k].name, s->node_names[0]))
				g->product = x->obs[ci].inv.nodes[k].product;
	}
}

/* GPU product names from Node labels select nodes; declared ones may not be labels. */
static const char *selector_product(json_object *ic, const char *product)
{
	return jpath_get(ic, "spec.gpus") ? NULL : product;
}

/* One Deployment and/or one LeaderWorkerSet per candidate cluster, only
 * where the cache is Ready; removed where nothing is placed any more. */
static void step_compose(struct rx *x)
{
	char name[CHILD_NAME_MAX + 1];
	compose_serve_name(name, x->ns, x->name);
	for (size_t i = 0; i < x->ncand; i++) {
		struct md__obs *o = &x->obs[i];
		const char *cname = jpath_str_or(x->cand[i], "metadata.name", "");
		if (!cache_ready_on(x, cname))
			continue;
		struct group single, multi;
		groups_on(x, i, &single, &multi);
		json_object *d = NULL, *l = NULL;
		struct compose_serve_input in = {.md = x->md, .mc = x->mc, .ic = x->cand[i]};
		if (single.replicas) {
			in.replicas = single.replicas;
			in.nodes = 1;
			in.gpus_per_node = single.gpn;
			in.tensor = single.tensor;
			in.pipeline = single.pipeline;
			in.gpu_product = selector_product(x->cand[i], single.product);
			compose_serve_deployment(&in, &d);
		}
		if (multi.replicas && o->lws) {
			in.replicas = multi.replicas;
			in.nodes = multi.nodes;
			in.gpus_per_node = multi.gpn;
			in.tensor = multi.tensor;
			in.pipeline = multi.pipeline;
			in.gpu_product = selector_product(x->cand[i], multi.product);
			compose_serve_lws(&in, &l);
		}
		if ((d || o->deploy) && md__apply(x->r, o, &KUBE_RES_DEPLOYMENTS, d, o->deploy, name, x->errbuf, sizeof x->errbuf))
			x->error = true;
		if (o->lws && (l || o->lwsobj) &&
		    md__apply(x->r, o, &KUBE_RES_LEADERWORKERSETS, l, o->lwsobj, name, x->errbuf, sizeof x->errbuf))
			x->error = true;
		json_object_put(d);
		json_object_put(l);
	}
	/* clusters that are no longer candidates */
	size_t n = 0;
	char **names = registry_names(mgr_clusters(x->r->m), &n);
	for (size_t i = 0; i < n; i++) {
		bool cand = false;
		for (size_t c = 0; c < x->ncand && !cand; c++)
			cand = streq(jpath_str(x->cand[c], "metadata.name"), names[i]);
		if (!cand && md__cleanup_cluster(x->r, names[i], x->md) < 0)
			x->error = true;
	}
	store_keys_free(names, n);
}

/* Ready replicas, from what the workloads report. */
static void step_available(struct rx *x)
{
	x->ready = 0;
	for (size_t i = 0; x->obs && i < x->ncand; i++) {
		json_object *w[2] = {x->obs[i].deploy, x->obs[i].lwsobj};
		for (int k = 0; k < 2; k++) {
			if (!w[k])
				continue;
			int64_t want = jpath_int_or(w[k], "spec.replicas", 1), got = jpath_int_or(w[k], "status.readyReplicas", 0);
			x->ready += got < want ? got : want;
		}
		/* the first cluster whose Deployment cannot progress says why */
		const char *why = NULL, *reason = x->wl_reason ? NULL : md_workload_failure(x->obs[i].deploy, &why);
		if (reason) {
			x->wl_reason = reason;
			x->wl_msg = xasprintf("cluster %s: %s", jpath_str_or(x->cand[i], "metadata.name", "?"), why);
		}
	}
}

/* The cache's lastUsedTime, at most once an hour. */
static void step_last_used(struct rx *x)
{
	if (!x->mc || x->ready <= 0 || !md_last_used_due(x->mc, x->now_s))
		return;
	char *key = xasprintf("%s/%s", x->ns, jpath_str_or(x->mc, "metadata.name", ""));
	bool due = true;
	pthread_mutex_lock(&x->r->mu);
	struct md__used *u = x->r->used;
	while (u && strcmp(u->key, key) != 0)
		u = u->next;
	if (u && x->now_s - u->at_s < 3600)
		due = false;
	pthread_mutex_unlock(&x->r->mu);
	if (due) {
		char ts[RFC3339_LEN + 1];
		rfc3339_format(x->now_s, ts);
		json_object *body = json_object_new_object(), *st = json_object_new_object();
		json_object_object_add(st, "lastUsedTime", json_object_new_string(ts));
		json_object_object_add(body, "status", st);
		struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE, .subresource = "status"};
		struct kube_error err = {0};
		int rc = kube_patch_obj(mgr_client(x->r->m), &KUBE_RES_MODELCACHES, x->ns, jpath_str(x->mc, "metadata.name"),
					body, &po, NULL, &err);
		json_object_put(body);
		if (rc == 0) {
			pthread_mutex_lock(&x->r->mu);
			for (u = x->r->used; u && strcmp(u->key, key) != 0; u = u->next)
				;
			if (!u) {
				u = xcalloc(1, sizeof(*u));
				u->key = xstrdup(key);
				u->next = x->r->used;
				x->r->used = u;
			}
			u->at_s = x->now_s;
			pthread_mutex_unlock(&x->r->mu);
		} else {
			LOG_WARN("lastUsedTime not written", "cache=%s err=%s", key, err.message ? err.message : "");
		}
		kube_error_clear(&err);
	}
	free(key);
}

static int step_status(struct rx *x)
{
	json_object *st = NULL;
	struct md_status_in si = {
		.md = x->md, .now_s = x->now_s,
		.cache_status = x->cache_status, .cache_reason = x->cache_reason, .cache_message = x->cache_msg,
		.ready_status = x->ready_status, .ready_reason = x->ready_reason, .ready_message = x->ready_msg,
		.sched_status = x->sched_status, .sched_reason = x->sched_reason, .sched_message = x->sched_msg,
		.estimate = x->estimate ? x->estimate : jpath_child(x->prev, "estimate"),
		.placements = x->placements ? x->placements : jpath_child(x->prev, "placements"),
		.desired = jpath_int_or(x->md, "spec.replicas", 1), .ready = x->ready,
		.workload_reason = x->wl_reason, .workload_message = x->wl_msg,
	};
	/* the previous status carries the conditions' transition times */
	json_object *view = NULL;
	if (x->memo) {
		json_object_deep_copy(x->md, &view, NULL);
		json_object_object_add(view, "status", json_object_get(x->memo));
		si.md = view;
	}
	int rc = md_status_compute(&si, &st);
	if (rc == 0 && publish(x, st) != 0)
		rc = -EIO;
	json_object_put(st);
	json_object_put(view);
	return rc;
}

/* ------------------------------------------------------------ reconcile */

static void rx_cleanup(struct rx *x)
{
	if (x->locked)
		pthread_mutex_unlock(&x->r->place_mu);
	for (size_t i = 0; x->obs && i < x->ncand; i++)
		md__obs_cleanup(&x->obs[i]);
	free(x->obs);
	free(x->cand);
	free(x->unsynced);
	if (x->placed)
		placement_result_cleanup(&x->pr);
	json_object_put(x->ics);
	json_object_put(x->estimate);
	json_object_put(x->placements);
	free(x->cache_msg);
	free(x->ready_msg);
	free(x->sched_msg);
	free(x->wl_msg);
	json_object_put(x->mc);
	json_object_put(x->memo);
	json_object_put(x->md);
}

int md__reconcile(void *ctx, const char *key, struct ctrl_result *res)
{
	struct rx x;
	memset(&x, 0, sizeof(x));
	x.r = ctx;
	x.key = key;
	int rc = 0;
	if (informer_get(x.r->mds, key, &x.md) != 0) {
		md__memo_put(x.r, key, "", NULL);
		return 0;
	}
	x.ns = jpath_str_or(x.md, "metadata.namespace", "default");
	x.name = jpath_str_or(x.md, "metadata.name", "");
	x.uid = jpath_str_or(x.md, "metadata.uid", "");
	x.now_s = mclock_wall_ns(x.r->clock) / 1000000000;
	x.memo = md__memo_get(x.r, key, x.uid);
	x.prev = x.memo ? x.memo : jpath_child(x.md, "status");

	/* 1. deletion: workloads first, then the finalizer */
	if (jpath_get(x.md, "metadata.deletionTimestamp")) {
		rc = step_delete(&x, res);
		goto out;
	}
	/* 2. validation: an invalid object is reported, nothing is touched */
	char *invalid = NULL;
	if (api_validate_modeldeployment(x.md, &invalid) != 0) {
		LOG_WARN("invalid ModelDeployment", "why=%s", invalid ? invalid : "");
		json_object *st = NULL;
		struct md_status_in si = {.md = x.md, .now_s = x.now_s, .invalid = invalid ? invalid : "invalid"};
		if (md_status_compute(&si, &st) == 0 && publish(&x, st) != 0)
			rc = -EIO;
		json_object_put(st);
		free(invalid);
		goto out;
	}
	if (!has_finalizer(x.md) && set_finalizer(&x, true) != 0) {
		rc = -EIO;
		goto out;
	}
	/* 3. the cache, 4. memory and topology */
	step_resolve_cache(&x);
	step_estimate(&x);
	/* 5. candidates, observed; 6. placement (one decision at a time) */
	step_candidates(&x);
	pthread_mutex_lock(&x.r->place_mu);
	x.locked = true;
	if (!step_observe(&x)) {
		if (step_report_unlisted(&x) != 0)
			rc = -EIO;
		goto out;   /* requeued shortly: a cluster is still listing */
	}
	unlisted_clear(&x);
	if (!x.hold)
		step_place(&x);
	else if (!x.sched_status)
		set_cond(&x.sched_status, &x.sched_reason, &x.sched_msg, "Unknown", "ModelCacheNotFound",
			 xasprintf("placement is held: %s", x.cache_msg ? x.cache_msg : "the ModelCache is missing"));
	/* 7. gate on the cache, 8. compose */
	step_gate(&x);
	if (x.placed)
		step_compose(&x);
	/* 9. readiness, the cache's lastUsedTime, status */
	step_available(&x);
	step_last_used(&x);
	if (step_status(&x) != 0)
		rc = -EIO;
	if (rc == 0 && x.error) {
		rc = -EIO;
		snprintf(res->message, sizeof(res->message), "%s", x.errbuf);
	} else if (rc == 0 && x.requeue_ms) {
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = x.requeue_ms;
	}
out:
	if (rc == 0 && x.requeue_ms && res->kind == CTRL_DONE) {
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = x.requeue_ms;
	}
	rx_cleanup(&x);
	return rc;
}
