#include "controllers/inferencecluster/finalize.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "kube/resource.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

/* Keep a cache's volume? Its ModelCache says Retain. */
static bool keep_volume(struct informer *mcs, json_object *pvc)
{
	const char *ns = jpath_label(pvc, API_LABEL_CACHE_NAMESPACE), *name = jpath_label(pvc, API_LABEL_CACHE);
	if (!ns || !name || !mcs)
		return false;
	char *key = xasprintf("%s/%s", ns, name);
	json_object *mc = NULL;
	bool keep = false;
	if (informer_get(mcs, key, &mc) == 0) {
		const char *p = jpath_str(mc, "spec.deletionPolicy");
		keep = p && strcmp(p, "Retain") == 0;
		json_object_put(mc);
	}
	free(key);
	return keep;
}

/* Deletes every object of inf that belongs to a cache; false on a failure
 * (msg filled, *blocked when the cluster did not answer). */
static bool delete_cache_objects(struct cluster *cl, struct informer *inf, const struct kube_resource *res,
				 struct informer *mcs, bool *blocked, size_t *deleted, char *msg, size_t n)
{
	json_object *list = informer_list(inf);
	bool ok = true;
	for (size_t i = 0; ok && list && i < json_object_array_length(list); i++) {
		json_object *o = json_object_array_get_idx(list, i);
		if (!jpath_label(o, API_LABEL_CACHE) || jpath_get(o, "metadata.deletionTimestamp"))
			continue;   /* not a cache's (e.g. a ModelDeployment's workload), or going already */
		if (res == &KUBE_RES_PVCS && keep_volume(mcs, o))
			continue;
		const char *ns = jpath_str(o, "metadata.namespace"), *name = jpath_str_or(o, "metadata.name", "");
		struct kube_delete_opts d = {.propagation_policy = "Background"};
		struct kube_error err = {0};
		int rc = kube_delete(cluster_client(cl), res, ns, name, &d, &err);
		if (rc != 0 && rc != -KUBE_ERR_NOT_FOUND) {
			ok = false;
			*blocked = err.reason == KUBE_ERR_TIMEOUT || err.reason == KUBE_ERR_UNAVAILABLE;
			snprintf(msg, n, "deleting %s %s/%s on %s: %s", res->kind, ns ? ns : "", name, cluster_name(cl),
				 err.message ? err.message : "error");
			if (*blocked)
				cluster_report_unanswered(cl, err.message);
		} else {
			(*deleted)++;
			LOG_INFO("deleted with its InferenceCluster", "cluster=%s kind=%s name=%s/%s", cluster_name(cl),
				 res->kind, ns ? ns : "", name);
		}
		kube_error_clear(&err);
	}
	json_object_put(list);
	return ok;
}

enum ic_cleanup ic_cleanup_cluster(struct manager *m, struct informer *mcs, const char *name, char *msg, size_t n)
{
	struct cluster *cl = registry_acquire(mgr_clusters(m), name);
	if (!cl)
		return IC_CLEANUP_DONE;   /* never connected: nothing was composed there */
	enum ic_cleanup out = IC_CLEANUP_DONE;
	cluster_set_draining(cl);
	if (!cluster_answering(cl)) {
		/* found not answering before: ask again (one request, no retries
		 * of a timeout) before trying the deletions */
		struct kube_error err = {0};
		char *v = NULL;
		if (kube_server_version(cluster_client(cl), &v, &err) == 0)
			cluster_set_connected(cl, true);
		free(v);
		kube_error_clear(&err);
	}
	if (!cluster_answering(cl) && !cluster_ever_connected(cl)) {
		/* never reached (wrong credentials, a typo'd server): nothing was
		 * composed there by this process; a finalizer that can never be
		 * satisfied would only trap the deletion */
		LOG_WARN("inferencecluster deleted without cleanup: the cluster was never reached", "cluster=%s", name);
		goto done;
	}
	if (!cluster_answering(cl)) {
		snprintf(msg, n, "waiting for cluster %s (unreachable) to delete the caches' objects there; the "
			 "finalizer %s stays until then", name, API_FINALIZER);
		out = IC_CLEANUP_BLOCKED;
		goto done;
	}
	static const struct kube_resource *const kinds[] = {&KUBE_RES_JOBS, &KUBE_RES_SECRETS, &KUBE_RES_PVCS};
	struct informer *infs[3];
	for (size_t i = 0; i < 3; i++) {
		infs[i] = cluster_informer(cl, kinds[i], NULL, API_SELECTOR_MANAGED);
		if (!infs[i] || !informer_has_synced(infs[i])) {
			out = IC_CLEANUP_WAIT;
			goto done;
		}
	}
	bool blocked = false;
	size_t deleted = 0;
	for (size_t i = 0; i < 3; i++)
		if (!delete_cache_objects(cl, infs[i], kinds[i], mcs, &blocked, &deleted, msg, n)) {
			out = blocked ? IC_CLEANUP_BLOCKED : IC_CLEANUP_ERROR;
			break;
		}
	/* done once a pass finds nothing left: a reconcile that was composing
	 * there when the draining began is caught by the next pass */
	if (out == IC_CLEANUP_DONE && deleted > 0)
		out = IC_CLEANUP_WAIT;
done:
	cluster_release(cl);
	return out;
}
