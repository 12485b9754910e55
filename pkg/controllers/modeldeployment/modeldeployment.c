/* ModelDeployment controller: state, watches and setup (see modeldeployment.h;
 * the reconcile steps are in reconcile.c). */
#include "controllers/modeldeployment/modeldeployment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/serve.h"
#include "controller/memo.h"
#include "controllers/modeldeployment/mdr.h"
#include "kube/resource.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

json_object *md__memo_get(struct mdr *r, const char *key, const char *uid)
{
	return ctrl_memo_get(r->memos, key, uid);
}

void md__memo_put(struct mdr *r, const char *key, const char *uid, json_object *status)
{
	ctrl_memo_put(r->memos, key, uid, status);
}

void md__enqueue_all(struct mdr *r)
{
	size_t n = 0;
	char **keys = store_keys(informer_store(r->mds), &n);
	for (size_t i = 0; i < n; i++)
		ctrl_enqueue(r->c, keys[i]);
	store_keys_free(keys, n);
}

/* Workloads -> their ModelDeployment (labels of docs/concepts.md "Names"). */
int md__map_owner(void *mctx, json_object *obj, char *out, size_t n)
{
	(void)mctx;
	const char *ns = jpath_label(obj, COMPOSE_LABEL_DEPLOYMENT_NS), *name = jpath_label(obj, COMPOSE_LABEL_DEPLOYMENT);
	if (!ns || !name)
		return -1;
	int w = snprintf(out, n, "%s/%s", ns, name);
	return w > 0 && (size_t)w < n ? 0 : -1;
}

/* Nodes: every deployment may place differently now. */
static int map_nodes(void *mctx, json_object *obj, char *out, size_t n)
{
	(void)obj;
	(void)out;
	(void)n;
	md__enqueue_all(mctx);
	return -1;
}

/* Pods: only those that hold GPUs change the free-GPU picture. */
static int map_gpu_pods(void *mctx, json_object *obj, char *out, size_t n)
{
	(void)out;
	(void)n;
	if (md_pod_gpus(obj) > 0)
		md__enqueue_all(mctx);
	return -1;
}

/* A ModelCache changed: the deployments in its namespace that reference it. */
static void mc_changed(void *ctx, json_object *obj)
{
	struct mdr *r = ctx;
	const char *ns = jpath_str(obj, "metadata.namespace"), *name = jpath_str(obj, "metadata.name");
	json_object *list = NULL;
	if (!ns || !name || store_by_index(informer_store(r->mds), STORE_INDEX_NAMESPACE, ns, &list) != 0)
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *md = json_object_array_get_idx(list, i);
		const char *ref = jpath_str(md, "spec.modelCacheRef.name");
		if (ref && strcmp(ref, name) == 0) {
			char *key = xasprintf("%s/%s", ns, jpath_str_or(md, "metadata.name", ""));
			ctrl_enqueue(r->c, key);
			free(key);
		}
	}
	json_object_put(list);
}
static void mc_update(void *ctx, json_object *o, json_object *n)
{
	const char *a = jpath_str(o, "metadata.resourceVersion"), *b = jpath_str(n, "metadata.resourceVersion");
	if (a && b && strcmp(a, b) == 0)
		return;
	mc_changed(ctx, n);
}

static void ic_any(void *ctx, json_object *obj)
{
	(void)obj;
	md__enqueue_all(ctx);
}
static void ic_update(void *ctx, json_object *o, json_object *n)
{
	const char *a = jpath_str(o, "metadata.resourceVersion"), *b = jpath_str(n, "metadata.resourceVersion");
	if (a && b && strcmp(a, b) == 0)
		return;
	md__enqueue_all(ctx);
}

static void cleanup(void *ctx)
{
	struct mdr *r = ctx;
	md__estimator_free(r->est);
	md__used_free(r);
	ctrl_memo_free(r->memos);
	md__clusters_free(r);
	free(r->hf_endpoint);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->place_mu);
	free(r);
}

int modeldeployment_controller_setup(struct manager *m, const struct operator_options *o)
{
	struct kube_error err = {0};
	if (kube_resource_served(mgr_client(m), &KUBE_RES_MODELDEPLOYMENTS, &err) != 0) {
		LOG_WARN("ModelDeployments are not served: the modeldeployment controller is off", "reason=%s",
			 err.message ? err.message : "");
		kube_error_clear(&err);
		return 0;
	}
	struct mdr *r = xcalloc(1, sizeof(*r));
	r->m = m;
	r->clock = mclock_system();
	r->memos = ctrl_memo_new();
	r->hf_endpoint = xstrdup(o->hf_endpoint && *o->hf_endpoint ? o->hf_endpoint : NULL);
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->place_mu, NULL);
	struct ctrl_opts co = {.name = "modeldeployment", .workers = o->workers, .reconcile = md__reconcile, .ctx = r,
			       .clock = r->clock};
	int rc = ctrl_new(&co, &r->c);
	if (rc) {
		ctrl_memo_free(r->memos);
		free(r->hf_endpoint);
		free(r);
		return rc;
	}
	rc = mgr_add_controller(m, r->c);
	if (rc == 0)
		rc = md__estimator_new(r, &r->est);
	if (rc == 0)
		rc = mgr_add_cleanup(m, cleanup, r);
	if (rc == 0)
		rc = mgr_add_stopper(m, md__estimator_halt, r->est);
	if (rc)
		return rc;
	r->mds = mgr_informer(m, &KUBE_RES_MODELDEPLOYMENTS, NULL, NULL);
	r->mcs = mgr_informer(m, &KUBE_RES_MODELCACHES, NULL, NULL);
	r->ics = mgr_informer(m, &KUBE_RES_INFERENCECLUSTERS, NULL, NULL);
	r->secrets = mgr_informer(m, &KUBE_RES_SECRETS, NULL, NULL);
	if (!r->mds || !r->mcs || !r->ics || !r->secrets)
		return -ENOMEM;
	ctrl_handler_for_self(r->c, &r->self_h);
	informer_add_handler(r->mds, &r->self_h);
	r->mc_h = (struct informer_handler){.on_add = mc_changed, .on_update = mc_update, .on_delete = mc_changed, .ctx = r};
	informer_add_handler(r->mcs, &r->mc_h);
	r->ic_h = (struct informer_handler){.on_add = ic_any, .on_update = ic_update, .on_delete = ic_any, .ctx = r};
	informer_add_handler(r->ics, &r->ic_h);
	rc = mgr_watch_clusters(m, &KUBE_RES_DEPLOYMENTS, MD_SEL_MANAGED, md__map_owner, r, r->c);
	if (rc == 0)
		rc = mgr_watch_clusters(m, &KUBE_RES_NODES, NULL, map_nodes, r, r->c);
	if (rc == 0)
		rc = mgr_watch_clusters(m, &KUBE_RES_PODS, NULL, map_gpu_pods, r, r->c);
	LOG_INFO("modeldeployment controller ready", "hf_endpoint=%s", r->hf_endpoint ? r->hf_endpoint : "(default)");
	return rc;
}
