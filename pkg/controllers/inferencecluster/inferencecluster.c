/* InferenceCluster reconciler. Key: the InferenceCluster's name. */
#include "controllers/inferencecluster/inferencecluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "controller/apply.h"
#include "compose/compose.h"
#include "controllers/inferencecluster/finalize.h"
#include "status/inferencecluster.h"
#include "util/jpath.h"
#include "metrics/metrics.h"
#include "util/base64.h"
#include "util/clock.h"
#include "util/digest.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/quantity.h"

#define KUBECONFIG_MAX (1u << 20)

struct icc {
	struct manager *m;
	struct ctrl *c;
	struct informer *ics;
	struct informer *secrets;
	struct informer *mcs;   /* ModelCaches: their deletion policies when a cluster goes */
	uint64_t recheck_ms;
	pthread_mutex_t memo_mu;
	struct hmap memos;   /* cluster name -> struct conn_memo */
};

/* ---- GPU pools ---- */
static const char *label_of(json_object *obj, const char *k)
{
	json_object *md, *l, *v;
	if (json_object_object_get_ex(obj, "metadata", &md) && json_object_object_get_ex(md, "labels", &l) &&
	    json_object_object_get_ex(l, k, &v))
		return json_object_get_string(v);
	return NULL;
}

static int64_t parse_int(const char *s, int64_t def)
{
	if (!s || !*s)
		return def;
	char *end;
	long long v = strtoll(s, &end, 10);
	return (*end || v < 0) ? def : (int64_t)v;
}

struct pool {
	char product[128];
	int64_t mem, per_node, nodes;
	bool unified;
};

static int pool_cmp(const void *a, const void *b)
{
	const struct pool *x = a, *y = b;
	int c = strcmp(x->product, y->product);
	if (c)
		return c;
	if (x->mem != y->mem)
		return x->mem < y->mem ? -1 : 1;
	if (x->per_node != y->per_node)
		return x->per_node < y->per_node ? -1 : 1;
	return 0;
}

static json_object *pools_json(struct pool *p, size_t n, const char *source)
{
	qsort(p, n, sizeof(*p), pool_cmp);
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "product", json_object_new_string(p[i].product));
		json_object_object_add(o, "memoryBytes", json_object_new_int64(p[i].mem));
		json_object_object_add(o, "perNode", json_object_new_int64(p[i].per_node));
		json_object_object_add(o, "nodes", json_object_new_int64(p[i].nodes));
		json_object_object_add(o, "unifiedMemory", json_object_new_boolean(p[i].unified));
		json_object_object_add(o, "source", json_object_new_string(source));
		json_object_array_add(arr, o);
	}
	return arr;
}

json_object *ic_pools_from_nodes(json_object *nodes)
{
	size_t n = nodes ? json_object_array_length(nodes) : 0, np = 0;
	struct pool *p = xcalloc(n + 1, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		json_object *node = json_object_array_get_idx(nodes, i);
		const char *product = label_of(node, "nvidia.com/gpu.product");
		int64_t mem_mib = parse_int(label_of(node, "nvidia.com/gpu.memory"), 0);
		int64_t count = parse_int(label_of(node, "nvidia.com/gpu.count"), -1);
		if (count < 0) {
			json_object *st, *alloc, *g;
			count = 0;
			if (json_object_object_get_ex(node, "status", &st) &&
			    json_object_object_get_ex(st, "allocatable", &alloc) &&
			    json_object_object_get_ex(alloc, "nvidia.com/gpu", &g)) {
				struct quantity q;
				if (quantity_parse(json_object_get_string(g), &q) == 0)
					count = quantity_value(&q);
			}
		}
		if (count <= 0)
			continue;   /* not a GPU node */
		struct pool key = {.mem = mem_mib * 1024 * 1024, .per_node = count, .nodes = 1};
		snprintf(key.product, sizeof key.product, "%s", product && *product ? product : "unknown");
		size_t j;
		for (j = 0; j < np; j++)
			if (pool_cmp(&p[j], &key) == 0)
				break;
		if (j < np)
			p[j].nodes++;
		else
			p[np++] = key;
	}
	json_object *arr = pools_json(p, np, "NodeLabels");
	free(p);
	return arr;
}

json_object *ic_pools_from_spec(json_object *gpus)
{
	size_t n = gpus ? json_object_array_length(gpus) : 0;
	struct pool *p = xcalloc(n + 1, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(gpus, i), *v;
		if (!json_object_object_get_ex(g, "product", &v)) {
			free(p);
			return NULL;
		}
		snprintf(p[i].product, sizeof p[i].product, "%s", json_object_get_string(v));
		if (!json_object_object_get_ex(g, "memory", &v) ||
		    quantity_parse_bytes(json_object_get_string(v), &p[i].mem) != 0) {
			free(p);
			return NULL;
		}
		p[i].per_node = json_object_object_get_ex(g, "perNode", &v) ? json_object_get_int64(v) : 1;
		p[i].nodes = json_object_object_get_ex(g, "nodes", &v) ? json_object_get_int64(v) : 1;
		p[i].unified = json_object_object_get_ex(g, "unifiedMemory", &v) && json_object_get_boolean(v);
	}
	json_object *arr = pools_json(p, n, "Spec");
	free(p);
	return arr;
}

/* ---- connection ---- */
struct conn {
	const char *status;    /* True / False */
	const char *reason;
	char message[1024];
	bool sc_missing;       /* spec.cache.storageClassName does not exist there */
};

/* The last successful connection check of a cluster. Reconciles triggered
 * by the cluster's own objects (a PVC composed, a Node relabelled) or by our
 * status writes reuse it instead of a GET /version and a GET of the
 * namespace each; it is dropped when the re-check period has passed, the
 * InferenceCluster's spec changed, a Secret changed (the client may have been
 * rebuilt) or one of the cluster's watches failed. Failed checks are never
 * remembered. */
struct conn_memo {
	uint64_t at_ms;
	int64_t generation;
	struct conn c;
	char *version;
};

static void memo_free(void *p)
{
	struct conn_memo *mm = p;
	if (mm)
		free(mm->version);
	free(mm);
}

/* Copies a fresh-enough memo into c / *version; false when there is none. */
static bool memo_get(struct icc *x, const char *name, int64_t generation, struct conn *c, char **version)
{
	bool hit = false;
	pthread_mutex_lock(&x->memo_mu);
	struct conn_memo *mm = hmap_get(&x->memos, name);
	if (mm && (mm->generation == generation || mm->generation < 0) && mono_ms() - mm->at_ms < x->recheck_ms) {
		*c = mm->c;
		*version = xstrdup(mm->version);
		hit = true;
	}
	pthread_mutex_unlock(&x->memo_mu);
	return hit;
}

static void memo_put(struct icc *x, const char *name, int64_t generation, const struct conn *c, const char *version)
{
	struct conn_memo *mm = xcalloc(1, sizeof(*mm));
	mm->at_ms = mono_ms();
	mm->generation = generation;
	mm->c = *c;
	mm->version = xstrdup(version);
	pthread_mutex_lock(&x->memo_mu);
	memo_free(hmap_put(&x->memos, name, mm));
	pthread_mutex_unlock(&x->memo_mu);
}

/* name NULL: every cluster. */
static void memo_forget(struct icc *x, const char *name)
{
	pthread_mutex_lock(&x->memo_mu);
	if (name) {
		memo_free(hmap_del(&x->memos, name));
	} else {
		hmap_cleanup(&x->memos, memo_free);
		hmap_init(&x->memos);
	}
	pthread_mutex_unlock(&x->memo_mu);
}

/* Build the registry entry for ic; fills c on failure (KubeconfigInvalid). */
static int ensure_cluster(struct icc *x, const struct api_inferencecluster *ic, struct conn *c)
{
	struct registry *reg = mgr_clusters(x->m);
	char *errmsg = NULL;
	int rc;
	if (ic->connection == API_CONN_LOCAL) {
		struct kube_config *cfg = kube_config_ref((struct kube_config *)mgr_config(x->m));
		rc = registry_ensure(reg, ic->meta.name, cfg, "local", true, NULL, NULL, &errmsg);
	} else {
		char skey[512];
		snprintf(skey, sizeof skey, "%s/%s", ic->kubeconfig_namespace, ic->kubeconfig_name);
		json_object *secret = NULL, *data, *val;
		if (informer_get(x->secrets, skey, &secret) != 0) {
			snprintf(c->message, sizeof c->message, "Secret %s not found", skey);
			goto invalid;
		}
		if (!json_object_object_get_ex(secret, "data", &data) ||
		    !json_object_object_get_ex(data, ic->kubeconfig_key, &val)) {
			snprintf(c->message, sizeof c->message, "Secret %s has no key \"%s\"", skey, ic->kubeconfig_key);
			json_object_put(secret);
			goto invalid;
		}
		size_t len = 0;
		char *bytes = NULL;
		base64_decode(json_object_get_string(val), KUBECONFIG_MAX * 2, &bytes, &len);
		char hash[SHA256_HEX_LEN + 1];
		sha256_hex_str(json_object_get_string(val), hash);
		json_object_put(secret);
		if (!bytes) {
			snprintf(c->message, sizeof c->message, "Secret %s key \"%s\": not valid base64", skey,
				 ic->kubeconfig_key);
			goto invalid;
		}
		struct kube_config *cfg = NULL;
		rc = kube_config_from_bytes(bytes, len, NULL, false, &cfg, &errmsg);
		free_secret(bytes);
		if (rc) {
			snprintf(c->message, sizeof c->message, "Secret %s key \"%s\": %s", skey, ic->kubeconfig_key,
				 errmsg ? errmsg : "invalid kubeconfig");
			free(errmsg);
			goto invalid;
		}
		rc = registry_ensure(reg, ic->meta.name, cfg, hash, false, ic->namespace, NULL, &errmsg);
	}
	if (rc) {
		snprintf(c->message, sizeof c->message, "cannot build a client: %s", errmsg ? errmsg : "error");
		free(errmsg);
		goto invalid;
	}
	return 0;
invalid:
	c->status = "False";
	c->reason = "KubeconfigInvalid";
	registry_remove(reg, ic->meta.name);
	return -1;
}

static void check_connection(struct cluster *cl, struct conn *c, char **version)
{
	struct kube_error err = {0};
	char *v = NULL;
	int rc = kube_server_version(cluster_client(cl), &v, &err);
	if (rc == 0) {
		c->status = "True";
		c->reason = "Connected";
		snprintf(c->message, sizeof c->message, "Connected to %s (%s)", kube_client_server(cluster_client(cl)), v);
		*version = v;
	} else {
		c->status = "False";
		c->reason = (rc == -KUBE_ERR_UNAUTHORIZED || rc == -KUBE_ERR_FORBIDDEN) ? "Unauthorized" : "Unreachable";
		snprintf(c->message, sizeof c->message, "GET %s/version: %s", kube_client_server(cluster_client(cl)),
			 err.message ? err.message : kube_reason_str(-rc));
	}
	kube_error_clear(&err);
}

static int ensure_namespace(struct cluster *cl, char *msg, size_t n)
{
	const char *ns = cluster_target_namespace(cl);
	if (!ns)
		return 0;
	struct kube_error err = {0};
	int rc = kube_get(cluster_client(cl), &KUBE_RES_NAMESPACES, NULL, ns, NULL, &err);
	if (rc == -KUBE_ERR_NOT_FOUND) {
		kube_error_clear(&err);
		json_object *o = NULL;
		compose_namespace_named(ns, &o);
		rc = kube_create(cluster_client(cl), &KUBE_RES_NAMESPACES, NULL, o, NULL, &err);
		json_object_put(o);
		if (rc == -KUBE_ERR_ALREADY_EXISTS)
			rc = 0;
		if (rc == 0)
			LOG_INFO("namespace created", "cluster=%s namespace=%s", cluster_name(cl), ns);
	}
	if (rc)
		snprintf(msg, n, "namespace %s: %s", ns, err.message ? err.message : kube_reason_str(-rc));
	kube_error_clear(&err);
	return rc;
}

/* modelcache_cluster_cache_bytes{cluster,kind="capacity|used|reserve"}
 * (docs/operations.md): capacity and reserve only on a cluster with a budget. */
static void cache_gauge(const char *cluster, const char *kind, int64_t v)
{
	static const char *const keys[] = {"cluster", "kind"};
	const char *vals[] = {cluster, kind};
	metrics_gauge_set(metrics_gauge_get("modelcache_cluster_cache_bytes",
					    "Cache storage of a cluster in bytes: the capacity budget, the part "
					    "kept free (reserve) and the requested size of the cache volumes there.",
					    2, keys, vals),
			  (double)v);
}

/* status.cache (status_ic_cache) from the cache volumes the informer holds
 * (pvcs NULL: none known yet), and the gauges once they are known. */
static void usage_add(void *ctx, json_object *pvc)
{
	status_ic_usage_add(ctx, pvc);
}

static json_object *cache_summary(const struct api_inferencecluster *ic, struct informer *pvcs)
{
	struct status_ic_usage u = {0};
	if (pvcs)
		store_each(informer_store(pvcs), usage_add, &u);
	json_object *o = status_ic_cache(ic, pvcs ? &u : NULL);
	int64_t used = u.used_bytes;
	if (pvcs)
		cache_gauge(ic->meta.name, "used", used);
	if (pvcs && ic->capacity_bytes >= 0) {
		cache_gauge(ic->meta.name, "capacity", ic->capacity_bytes);
		cache_gauge(ic->meta.name, "reserve", ic->reserve_bytes);
	}
	return o;
}

static void set_cond(json_object *status, const char *type, const char *st, const char *reason, const char *msg,
		     int64_t gen)
{
	struct api_condition c = {type, st, reason, msg, gen};
	api_condition_set(status, &c, mclock_wall_ns(mclock_system()) / 1000000000);
}

static const char *connected_str(json_object *status)
{
	const char *s = api_condition_status(status, "Connected");
	return s ? s : "Unknown";
}

/* The finalizer: added to a live InferenceCluster (its status comes with the
 * next reconcile, triggered by that write); on deletion the caches' objects
 * are removed from the cluster first (finalize.h). */
static int finalizer_step(struct icc *x, const char *key, json_object *ic_obj, struct ctrl_result *res)
{
	struct kube_client *kc = mgr_client(x->m);
	struct kube_error err = {0};
	int rc = 0;
	if (!api_path(ic_obj, "metadata.deletionTimestamp")) {
		rc = ctrl_patch_finalizer(kc, &KUBE_RES_INFERENCECLUSTERS, ic_obj, API_FINALIZER, true, &err);
		if (rc)
			snprintf(res->message, sizeof res->message, "adding the finalizer: %s",
				 err.message ? err.message : kube_reason_str(-rc));
		kube_error_clear(&err);
		return rc;
	}
	if (!ctrl_has_finalizer(ic_obj, API_FINALIZER))
		return 0;
	char msg[1024] = "";
	switch (ic_cleanup_cluster(x->m, x->mcs, key, msg, sizeof msg)) {
	case IC_CLEANUP_DONE:
		rc = ctrl_patch_finalizer(kc, &KUBE_RES_INFERENCECLUSTERS, ic_obj, API_FINALIZER, false, &err);
		if (rc == 0) {
			LOG_INFO("inferencecluster deleted: the caches' objects there are removed", "cluster=%s", key);
			registry_remove(mgr_clusters(x->m), key);
			memo_forget(x, key);
		} else {
			snprintf(res->message, sizeof res->message, "removing the finalizer: %s",
				 err.message ? err.message : kube_reason_str(-rc));
		}
		break;
	case IC_CLEANUP_WAIT:
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = 500;
		break;
	case IC_CLEANUP_BLOCKED: {
		LOG_WARN("inferencecluster deletion blocked", "cluster=%s why=%s", key, msg);
		json_object *status = NULL, *old = api_path(ic_obj, "status");
		if (old)
			json_object_deep_copy(old, &status, NULL);
		else
			status = json_object_new_object();
		set_cond(status, "CleanupBlocked", "True", "ClusterUnreachable", msg,
			 jpath_int_or(ic_obj, "metadata.generation", 0));
		ctrl_update_status_if_changed(kc, &KUBE_RES_INFERENCECLUSTERS, ic_obj, status, NULL, &err);
		json_object_put(status);
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = 5000;
		break;
	}
	case IC_CLEANUP_ERROR:
		rc = -EIO;
		snprintf(res->message, sizeof res->message, "%s", msg);
		break;
	}
	kube_error_clear(&err);
	return rc;
}

/* Step: the cluster's client and its connection (a fresh check, or the
 * memo of the last one). True when the memo answered. */
static bool connect_step(struct icc *x, const char *key, const struct api_inferencecluster *ic, int64_t gen,
			 struct conn *c, struct cluster **cl, char **version)
{
	bool remembered = false;
	if (ensure_cluster(x, ic, c) == 0) {
		*cl = registry_acquire(mgr_clusters(x->m), key);
		if (*cl && !(remembered = memo_get(x, key, gen, c, version)))
			check_connection(*cl, c, version);
	} else {
		memo_forget(x, key);
	}
	if (*cl)
		cluster_set_connected(*cl, c->status && strcmp(c->status, "True") == 0);
	return remembered;
}

/* Step: one event per Connected transition (none in steady state); the
 * previous transition is forgotten so that a flap back is reported again. */
static void report_transition(struct icc *x, json_object *ic_obj, json_object *old_status, const struct conn *c)
{
	const char *was = api_condition_status(old_status, "Connected");
	const char *was_reason = api_path_str(api_condition_find(old_status, "Connected"), "reason", "");
	if (!c->status || (was && strcmp(was, c->status) == 0 && strcmp(was_reason, c->reason) == 0))
		return;
	bool connected = strcmp(c->status, "True") == 0;
	events_forget(mgr_events(x->m), api_path_str(ic_obj, "metadata.uid", NULL));
	events_emit(mgr_events(x->m), ic_obj, connected ? EVENT_NORMAL : EVENT_WARNING, c->reason, "Connect",
		    c->message);
}

/* Step (connected): the target namespace and the storage class (checked
 * with the connection and remembered with it), the GPU pools (from the spec,
 * else the Nodes) and the cache volumes there. */
static void observe_step(struct icc *x, struct cluster *cl, const struct api_inferencecluster *ic,
			 json_object *ic_obj, json_object *status, bool remembered, int64_t gen, struct conn *c,
			 const char *version, struct status_ic_in *in, char *nsmsg, size_t nsn,
			 struct ctrl_result *res)
{
	if (!remembered) {
		if (ensure_namespace(cl, nsmsg, nsn) != 0) {
			in->namespace_error = nsmsg;
		} else {
			struct kube_error scerr = {0};
			c->sc_missing = kube_get(cluster_client(cl), &KUBE_RES_STORAGECLASSES, NULL, ic->storage_class,
						 NULL, &scerr) == -KUBE_ERR_NOT_FOUND;
			kube_error_clear(&scerr);
			memo_put(x, ic->meta.name, gen, c, version);
		}
	}
	if (ic->ngpus > 0) {
		in->gpu_pools = ic_pools_from_spec(api_path(ic_obj, "spec.gpus"));
	} else {
		struct informer *nodes = cluster_informer(cl, &KUBE_RES_NODES, NULL, NULL);
		if (nodes && informer_has_synced(nodes)) {
			json_object *all = informer_list(nodes);
			in->gpu_pools = ic_pools_from_nodes(all);
			json_object_put(all);
		}
		in->pools_pending = !in->gpu_pools;
		if (!in->gpu_pools)
			res->kind = CTRL_REQUEUE_AFTER, res->requeue_after_ms = 500;
	}
	struct informer *pvcs = cluster_informer(cl, &KUBE_RES_PVCS, NULL, API_SELECTOR_MANAGED);
	if (pvcs && informer_has_synced(pvcs))
		in->cache = cache_summary(ic, pvcs);
	else if (!json_object_object_get_ex(status, "cache", NULL))
		in->cache = cache_summary(ic, NULL);
}

static int reconcile(void *ctx, const char *key, struct ctrl_result *res)
{
	struct icc *x = ctx;
	json_object *ic_obj = NULL, *status = NULL;
	struct cluster *cl = NULL;
	char *version = NULL;
	int rc = 0;
	if (informer_get(x->ics, key, &ic_obj) != 0) {
		registry_remove(mgr_clusters(x->m), key);
		LOG_INFO("inferencecluster gone, cluster stopped", "cluster=%s", key);
		return 0;
	}
	const char *cached_rv = api_path_str(ic_obj, "metadata.resourceVersion", NULL);
	if (ctrl_cache_stale(x->c, key, cached_rv)) {
		/* our last status write has not reached the cache yet */
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = 200;
		json_object_put(ic_obj);
		return 0;
	}
	if (api_path(ic_obj, "metadata.deletionTimestamp") || !ctrl_has_finalizer(ic_obj, API_FINALIZER)) {
		rc = finalizer_step(x, key, ic_obj, res);
		json_object_put(ic_obj);
		return rc;
	}
	json_object *old_status = NULL;
	json_object_object_get_ex(ic_obj, "status", &old_status);
	if (old_status)
		json_object_deep_copy(old_status, &status, NULL);
	else
		status = json_object_new_object();
	int64_t gen = jpath_int_or(ic_obj, "metadata.generation", 0);
	struct api_inferencecluster ic;
	struct status_ic_in in = {.cluster = key};
	struct conn c = {0};
	char *vmsg = NULL, nsmsg[512] = "";
	if (api_inferencecluster_from_json(ic_obj, &ic, &vmsg) != 0) {
		in.invalid = vmsg ? vmsg : "invalid spec";
		registry_remove(mgr_clusters(x->m), key);
		res->kind = CTRL_TERMINAL;
		snprintf(res->message, sizeof res->message, "invalid InferenceCluster");
	} else {
		bool remembered = connect_step(x, key, &ic, gen, &c, &cl, &version);
		report_transition(x, ic_obj, old_status, &c);
		in.conn_status = c.status;
		in.conn_reason = c.reason;
		in.conn_message = c.message;
		in.version = version;
		in.storage_class = ic.storage_class;
		if (c.status && strcmp(c.status, "True") == 0)
			observe_step(x, cl, &ic, ic_obj, status, remembered, gen, &c, version, &in, nsmsg,
				     sizeof nsmsg, res);
		in.storage_class_missing = c.sc_missing;
	}
	status_ic_compute(status, &in, gen, mclock_wall_ns(mclock_system()) / 1000000000);
	free(vmsg);
	if (res->kind == CTRL_DONE) {
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = x->recheck_ms;
	}

	struct kube_error err = {0};
	bool updated = false;
	rc = ctrl_update_status_if_changed(mgr_client(x->m), &KUBE_RES_INFERENCECLUSTERS, ic_obj, status, &updated, &err);
	if (rc) {
		res->kind = CTRL_ERROR;
		snprintf(res->message, sizeof res->message, "status update: %s",
			 err.message ? err.message : kube_reason_str(-rc));
		kube_error_clear(&err);
	} else if (updated) {
		ctrl_note_write(x->c, key, api_path_str(ic_obj, "metadata.resourceVersion", NULL));
		LOG_INFO("status updated", "cluster=%s connected=%s", key, connected_str(status));
	}
	cluster_release(cl);
	free(version);
	json_object_put(status);
	json_object_put(ic_obj);
	return rc;
}

/* ---- setup ---- */
static void enqueue_all(struct icc *x)
{
	memo_forget(x, NULL);
	size_t n;
	char **keys = store_keys(informer_store(x->ics), &n);
	for (size_t i = 0; i < n; i++)
		ctrl_enqueue(x->c, keys[i]);
	store_keys_free(keys, n);
}

/* A Secret changed: re-check every InferenceCluster (a handful). */
static void secret_add(void *ctx, json_object *o) { (void)o; enqueue_all(ctx); }
static void secret_upd(void *ctx, json_object *o, json_object *n)
{
	if (o != n)   /* not a resync */
		enqueue_all(ctx);
}
static void secret_del(void *ctx, json_object *o) { (void)o; enqueue_all(ctx); }

static void on_cluster_failure(void *ctx, const char *cluster, const char *reason)
{
	struct icc *x = ctx;
	size_t np = strlen(REGISTRY_UNANSWERED);
	if (strncmp(reason, REGISTRY_UNANSWERED, np) == 0) {
		/* a reconciler's request found no answer: Unreachable now, without
		 * a check that would wait out the same timeout; checked again
		 * after the recheck period (generation -1: whatever the spec) */
		struct conn c = {.status = "False", .reason = "Unreachable"};
		snprintf(c.message, sizeof c.message, "the cluster did not answer: %s", reason + np);
		LOG_WARN("cluster unreachable", "cluster=%s reason=%s", cluster, reason + np);
		memo_put(x, cluster, -1, &c, NULL);
	} else {
		LOG_DEBUG("watch failure, re-checking the cluster", "cluster=%s reason=%s", cluster, reason);
		memo_forget(x, cluster);
	}
	ctrl_enqueue(x->c, cluster);
}

static void icc_cleanup(void *ctx)
{
	struct icc *x = ctx;
	memo_forget(x, NULL);
	hmap_cleanup(&x->memos, NULL);
}

int inferencecluster_controller_setup(struct manager *m, const struct operator_options *o)
{
	static struct icc x;   /* lives as long as the process */
	x.m = m;
	pthread_mutex_init(&x.memo_mu, NULL);
	hmap_init(&x.memos);
	x.recheck_ms = (uint64_t)(o->ic_recheck_seconds > 0 ? o->ic_recheck_seconds : 30) * 1000;
	struct ctrl_opts co = {.name = "inferencecluster", .workers = o->workers, .reconcile = reconcile, .ctx = &x};
	int rc = ctrl_new(&co, &x.c);
	if (rc)
		return rc;
	mgr_add_controller(m, x.c);
	mgr_add_cleanup(m, icc_cleanup, &x);
	x.ics = mgr_informer(m, &KUBE_RES_INFERENCECLUSTERS, NULL, NULL);
	x.secrets = mgr_informer(m, &KUBE_RES_SECRETS, NULL, NULL);
	x.mcs = mgr_informer(m, &KUBE_RES_MODELCACHES, NULL, NULL);
	if (!x.ics || !x.secrets || !x.mcs)
		return -ENOMEM;
	struct informer_handler h;
	ctrl_handler_for_self(x.c, &h);
	informer_add_handler(x.ics, &h);
	struct informer_handler sh = {.on_add = secret_add, .on_update = secret_upd, .on_delete = secret_del, .ctx = &x};
	informer_add_handler(x.secrets, &sh);
	struct registry *reg = mgr_clusters(m);
	registry_set_failure_hook(reg, on_cluster_failure, &x);
	registry_add_cluster_self_watch(reg, &KUBE_RES_NODES, NULL, x.c);
	registry_add_cluster_self_watch(reg, &KUBE_RES_PVCS, API_SELECTOR_MANAGED, x.c);
	return 0;
}
