/* The ModelCache reconciler: setup and the top-level reconcile, a list of
 * named steps (the files of this directory, see internal.h). */
#include "controllers/modelcache/modelcache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cache/informer.h"
#include "compose/compose.h"
#include "controller/memo.h"
#include "controllers/modelcache/internal.h"
#include "status/plan.h"
#include "kube/resource.h"
#include "labels/labels.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/quantity.h"

void rec_want_requeue(struct rec *x, uint64_t ms)
{
	if (x->requeue_ms == 0 || ms < x->requeue_ms)
		x->requeue_ms = ms;
}

void rec_set_error(struct rec *x, const char *what, const char *cluster, const struct kube_error *err)
{
	const char *why = err && err->message ? err->message : "error";
	x->error = true;
	x->nerrors++;
	snprintf(x->errbuf, sizeof(x->errbuf), "%s on %s: %s", what, cluster, why);
	LOG_WARN("write failed", "what=%s cluster=%s err=%s", what, cluster, why);
}

/* The cache from the informer, its child names and the previous status;
 * false when it is gone. */
static bool rec_begin(struct mcr *r, const char *key, struct rec *x)
{
	memset(x, 0, sizeof(*x));
	x->r = r;
	x->key = key;
	if (informer_get(r->mcs, key, &x->mc) != 0)
		return false;
	x->ns = jpath_str_or(x->mc, "metadata.namespace", "default");
	x->name = jpath_str_or(x->mc, "metadata.name", "");
	x->uid = jpath_str_or(x->mc, "metadata.uid", "");
	x->spec_rc = api_modelcache_from_json(x->mc, &x->spec, &x->spec_msg);
	name_cache_pvc(x->pvc_name, x->ns, x->name);
	name_cache_job(x->job_name, x->ns, x->name);
	name_cache_auth(x->auth_name, x->ns, x->name);
	x->memo = ctrl_memo_get(r->memo, key, x->uid);
	json_object *observed = jpath_child(x->mc, "status");
	if (x->memo && status_equal(x->memo, observed)) {
		/* the informer has caught up with our write: the memo is not
		 * needed any more (a cache's status is kept once, in the store) */
		ctrl_memo_put(r->memo, key, NULL, NULL);
		json_object_put(x->memo);
		x->memo = NULL;
	}
	x->prev = x->memo ? x->memo : observed;
	x->now_ms = mclock_wall_ns(r->clock) / 1000000;
	x->now_s = x->now_ms / 1000;
	return true;
}

static void rec_end(struct rec *x)
{
	free(x->size_msg);
	free(x->spec_msg);
	free_secret(x->token);
	free(x->auth_message);
	free(x->matched);
	est_free(x->est);
	json_object_put(x->secret);
	json_object_put(x->estimate);
	json_object_put(x->clusters);
	json_object_put(x->ics);
	json_object_put(x->memo);
	json_object_put(x->mc);
}

/* Step "validate": an invalid object gets Valid=False and nothing is
 * composed; false then (*rc says whether the status write worked). */
static bool step_validate(struct rec *x, int *rc)
{
	char *msg = NULL;
	if (x->spec_rc == 0) {
		struct labels_selector *sel = NULL;
		char *err = NULL;
		if (labels_selector_from_json(x->spec.cluster_selector, &sel, &err) != 0)
			msg = xasprintf("spec.clusterSelector.%s", err ? err : "invalid");
		free(err);
		labels_selector_free(sel);
		if (!msg)
			return true;
	} else {
		msg = xstrdup(x->spec_msg ? x->spec_msg : "invalid ModelCache");
	}
	/* once per generation: a resync of the same invalid object (its status
	 * already says so) is not news */
	json_object *pv = jpath_find_type(jpath_get(x->mc, "status.conditions"), "Valid");
	bool reported = pv && mc_streq(jpath_str(pv, "status"), "False") && mc_streq(jpath_str(pv, "message"), msg) &&
			jpath_int_or(pv, "observedGeneration", -1) == jpath_int_or(x->mc, "metadata.generation", 0);
	if (reported)
		LOG_DEBUG("invalid ModelCache (reported)", "why=%s", msg);
	else
		LOG_WARN("invalid ModelCache", "why=%s", msg);
	struct status_in si = {.mc = x->mc, .now_s = x->now_s, .invalid_message = msg};
	*rc = publish_status(x, &si);
	free(msg);
	return false;
}

/* Step "publish source error": nothing is composed; re-checked when the
 * failed estimate expires (or at once on a spec or Secret change). */
static int step_publish_source_error(struct rec *x, struct ctrl_result *res)
{
	struct status_in si = {.mc = x->mc, .now_s = x->now_s, .size = x->size_state, .size_message = x->size_msg,
			       .source_reason = x->source_reason, .source_message = x->est->msg};
	int rc = publish_status(x, &si);
	if (rc == 0) {
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = ESTIMATE_FAILURE_TTL_MS;
	}
	return rc;
}

/* Step "publish estimating": the size is not known yet, nothing is
 * decided; a cache that has a status keeps it (the estimator enqueues the
 * cache when it is done). */
static int step_publish_estimating(struct rec *x)
{
	json_object *cl = jpath_child(x->prev, "clusters");
	if (cl && json_object_is_type(cl, json_type_array) && json_object_array_length(cl) > 0)
		return 0;
	struct status_in si = {.mc = x->mc, .now_s = x->now_s, .size = x->size_state, .size_message = x->size_msg,
			       .auth_message = x->auth_message};
	return publish_status(x, &si);
}

static int cmp_ic(const void *a, const void *b)
{
	const char *x = jpath_str_or(*(json_object *const *)a, "metadata.name", "");
	const char *y = jpath_str_or(*(json_object *const *)b, "metadata.name", "");
	return strcmp(x, y);
}

/* Step "match clusters": the Connected InferenceClusters the selector
 * matches, by name. */
static void step_match_clusters(struct rec *x)
{
	struct labels_selector *sel = NULL;
	labels_selector_from_json(x->spec.cluster_selector, &sel, NULL);
	x->ics = informer_list(x->r->ics);
	size_t n = json_object_array_length(x->ics);
	x->matched = xcalloc(n + 1, sizeof(*x->matched));
	for (size_t i = 0; i < n; i++) {
		json_object *ic = json_object_array_get_idx(x->ics, i);
		/* a terminating InferenceCluster takes the caches' objects with it */
		if (!jpath_get(ic, "metadata.deletionTimestamp") && jpath_condition_true(ic, "Connected") &&
		    (!sel || labels_selector_matches(sel, jpath_get(ic, "metadata.labels"))))
			x->matched[x->nmatched++] = ic;
	}
	qsort(x->matched, x->nmatched, sizeof(*x->matched), cmp_ic);
	labels_selector_free(sel);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(jpath_str_or(*(json_object *const *)a, "name", ""), jpath_str_or(*(json_object *const *)b, "name", ""));
}

/* Step "per cluster": the local cluster first (a remote one that does not
 * answer delays nothing there), the entries by name. */
static void step_per_cluster(struct rec *x)
{
	x->clusters = json_object_new_array();
	for (int local = 1; local >= 0; local--)
		for (size_t i = 0; i < x->nmatched; i++) {
			if (compose_cluster_is_local(x->matched[i]) != (local == 1))
				continue;
			json_object *entry = NULL;
			step_cluster(x, x->matched[i], &entry);
			if (entry)
				json_object_array_add(x->clusters, entry);
		}
	json_object_array_sort(x->clusters, cmp_entry);
}

/* Step "publish": the status of what was found, and the result (an error
 * of a write retries with backoff; a wait requeues). */
static int step_publish(struct rec *x, struct ctrl_result *res)
{
	char volume_size[QUANTITY_STR_MAX];
	if (quantity_format_bytes(x->volume_bytes > 0 ? x->volume_bytes : x->size_bytes, volume_size,
				  sizeof(volume_size)) != 0)
		volume_size[0] = '\0';
	struct status_in si = {.mc = x->mc, .now_s = x->now_s, .clusters = x->clusters, .size = x->size_state,
			       .size_message = x->size_msg, .estimate = x->estimate,
			       .resolved_revision = x->est && x->est->rc == 0 ? x->est->commit : NULL,
			       .volume_size = volume_size[0] ? volume_size : NULL, .auth_message = x->auth_message};
	int rc = publish_status(x, &si);
	if (rc == 0 && x->error) {
		rc = -EIO;
		snprintf(res->message, sizeof(res->message), "%s", x->errbuf);
	} else if (rc == 0 && x->requeue_ms) {
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = x->requeue_ms;
	}
	return rc;
}

static int reconcile(void *ctx, const char *key, struct ctrl_result *res)
{
	struct mcr *r = ctx;
	struct rec x;
	int rc = 0;
	if (!rec_begin(r, key, &x)) {
		ctrl_memo_put(r->memo, key, NULL, NULL);
		goto out;
	}
	if (jpath_get(x.mc, "metadata.deletionTimestamp")) {
		rc = step_delete(&x, res);
		goto out;
	}
	if (!step_validate(&x, &rc))
		goto out;
	if (!has_finalizer(x.mc) && patch_finalizers(r, x.mc, true) != 0) {
		rc = -EIO;
		goto out;
	}
	step_resolve_auth(&x);
	step_resolve_size(&x);
	if (x.estimating) {
		rc = step_publish_estimating(&x);
		goto out;
	}
	if (x.source_reason) {
		rc = step_publish_source_error(&x, res);
		goto out;
	}
	step_match_clusters(&x);
	step_per_cluster(&x);
	step_cleanup_unmatched(&x);
	rc = step_publish(&x, res);
out:
	rec_end(&x);
	return rc;
}

/* A cluster's PVC or Job -> the key of its cache, from the cache labels. */
static struct ctrl_label_keys cache_labels = {API_LABEL_CACHE_NAMESPACE, API_LABEL_CACHE};

/* A manager cleanup: everything the controller and its handlers used is
 * stopped by now. */
static void mcr_free(void *ctx)
{
	struct mcr *r = ctx;
	if (!estimators_free(r))
		return;
	publish_state_free(r);
	free(r->image);
	free(r->hf_endpoint);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int modelcache_controller_setup(struct manager *m, const struct operator_options *o)
{
	struct mcr *r = xcalloc(1, sizeof(*r));
	r->m = m;
	r->clock = o->clock ? o->clock : mclock_system();
	pthread_mutex_init(&r->mu, NULL);
	r->memo = ctrl_memo_new();
	r->cap = mc_capacity_new();
	r->image = xstrdup(o->hydrator_image && *o->hydrator_image ? o->hydrator_image : "modelcache-operator:" MC_VERSION);
	r->hf_endpoint = xstrdup(o->hf_endpoint && *o->hf_endpoint ? o->hf_endpoint : NULL);
	r->retry_base_ms = o->hydration_retry_base_seconds > 0 ? (int64_t)o->hydration_retry_base_seconds * 1000
							       : PLAN_RETRY_BASE_MS_DEFAULT;
	r->default_size = (int64_t)100 << 30;
	if (o->default_cache_size && quantity_parse_bytes(o->default_cache_size, &r->default_size) != 0) {
		LOG_ERROR("invalid --default-cache-size", "value=%s", o->default_cache_size);
		return -EINVAL;
	}
	struct ctrl_opts co = {.name = "modelcache", .workers = o->workers, .reconcile = reconcile, .ctx = r,
			       .clock = o->clock};
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
	if (kube_resource_served(mgr_client(m), &KUBE_RES_MODELDEPLOYMENTS, &err) == 0)
		r->mds = mgr_informer(m, &KUBE_RES_MODELDEPLOYMENTS, NULL, NULL);
	else
		LOG_WARN("ModelDeployments are not served: deletion does not wait for them", "reason=%s",
			 err.message ? err.message : "");
	kube_error_clear(&err);
	if (mc_watches_setup(r) != 0)
		return -EINVAL;
	if (estimators_start(r) != 0 || mgr_add_stopper(m, estimators_stop, r) != 0 ||
	    mgr_add_cleanup(m, mcr_free, r) != 0)
		return -ENOMEM;
	rc = mgr_watch_clusters(m, &KUBE_RES_PVCS, API_SELECTOR_MANAGED, ctrl_map_by_label_keys, &cache_labels, r->c);
	if (rc == 0)
		rc = mgr_watch_clusters(m, &KUBE_RES_JOBS, API_SELECTOR_MANAGED, ctrl_map_by_label_keys, &cache_labels, r->c);
	LOG_INFO("modelcache controller ready", "hydrator_image=%s default_cache_size_bytes=%" PRId64 " retry_base_ms=%" PRId64,
		 r->image, r->default_size, r->retry_base_ms);
	return rc;
}
