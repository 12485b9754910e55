/* Steps "delete" (the finalizer: wait for ModelDeployments that still use
 * the cache, remove its objects from every cluster, keep the finalizer while
 * a cluster cannot be reached) and "clean up unmatched" (objects removed
 * where the cache no longer matches or is Skipped, the PVC only with
 * deletionPolicy Delete, nothing where a ModelDeployment still serves). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "controller/events.h"
#include "controller/memo.h"
#include "cache/store.h"
#include "controllers/modelcache/internal.h"
#include "kube/resource.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

/* Remove the cache's objects from a cluster (no longer matched, skipped, or
 * the ModelCache is being deleted). Returns 0 when the cluster holds none of
 * them any more, 1 when it cannot be reached (blocked), <0 on a write error. */
int cleanup_cluster(struct rec *x, const char *cname, bool keep_pvc)
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


int step_delete(struct rec *x, struct ctrl_result *res)
{
	struct mcr *r = x->r;
	if (!has_finalizer(x->mc))
		return 0;
	char *users = md_users(r, x->ns, x->name);
	if (users) {
		char *msg = xasprintf("in use by ModelDeployment %s: the cache is torn down once no "
				      "ModelDeployment references it", users);
		LOG_INFO("deletion waits for ModelDeployments", "users=%s", users);
		publish_condition(x, "InUse", "True", "ModelDeploymentsExist", msg);
		events_emit(mgr_events(r->m), x->mc, EVENT_NORMAL, "InUse", "Delete", msg);
		free(msg);
		free(users);
		res->kind = CTRL_REQUEUE_AFTER;   /* ModelDeployment events requeue it sooner */
		res->requeue_after_ms = 30000;
		return 0;
	}
	bool retain = x->spec.deletion_policy == API_DELETION_RETAIN;
	size_t n = 0;
	char **names = registry_names(mgr_clusters(r->m), &n);
	struct buf blocked;
	buf_init(&blocked, 4096);
	bool failed = false;
	for (size_t i = 0; i < n; i++) {
		int c = cleanup_cluster(x, names[i], retain);
		if (c == 1)
			buf_printf(&blocked, "%s%s", blocked.len ? ", " : "", names[i]);
		else if (c < 0)
			failed = true;
	}
	store_keys_free(names, n);
	int rc = 0;
	if (blocked.len) {
		char *msg = xasprintf("waiting for cluster %s (unreachable) to delete the cache's objects; "
				      "the finalizer %s stays until then", buf_str(&blocked), API_FINALIZER);
		LOG_WARN("deletion blocked", "clusters=%s", buf_str(&blocked));
		publish_condition(x, "CleanupBlocked", "True", "ClusterUnreachable", msg);
		free(msg);
		res->kind = CTRL_REQUEUE_AFTER;
		res->requeue_after_ms = REQUEUE_BLOCKED_MS;
	} else if (failed) {
		rc = -EIO;
		snprintf(res->message, sizeof(res->message), "cleanup failed; retrying");
	} else if (patch_finalizers(r, x->mc, false) == 0) {
		LOG_INFO("finalizer removed", "policy=%s", retain ? "Retain" : "Delete");
		events_forget(mgr_events(r->m), x->uid);
		ctrl_memo_put(r->memo, x->key, x->uid, NULL);
	} else {
		rc = -EIO;
	}
	buf_cleanup(&blocked);
	return rc;
}

static bool connected(json_object *ics, const char *name)
{
	for (size_t j = 0; ics && j < json_object_array_length(ics); j++) {
		json_object *ic = json_object_array_get_idx(ics, j);
		if (mc_streq(jpath_str(ic, "metadata.name"), name))
			return jpath_condition_true(ic, "Connected");
	}
	return false;
}

void step_cleanup_unmatched(struct rec *x)
{
	size_t n = 0;
	char **names = registry_names(mgr_clusters(x->r->m), &n);
	bool retain = x->spec.deletion_policy == API_DELETION_RETAIN;
	for (size_t i = 0; i < n; i++) {
		json_object *e = jpath_find_name(x->clusters, names[i]);
		if (e && status_entry_phase(e) != STATUS_SKIPPED)
			continue;
		if (!connected(x->ics, names[i]))
			continue;   /* retried when it is back (InferenceCluster events requeue us) */
		if (md_serves_on(x->r, x->ns, x->name, names[i]))
			continue;   /* a ModelDeployment still serves from it there */
		if (cleanup_cluster(x, names[i], retain) < 0)
			x->error = true;
	}
	store_keys_free(names, n);
}
