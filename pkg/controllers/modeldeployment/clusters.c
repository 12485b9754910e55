/* Observation of, and writes to, one cluster for a ModelDeployment: its GPU
 * nodes and the pods holding GPUs, whether it serves LeaderWorkerSets
 * (discovery, re-checked every minute so that a CRD installed later is used
 * without any other change), the workloads already there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/serve.h"
#include "controller/apply.h"
#include "controllers/modeldeployment/mdr.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

struct md__lws_seen {
	char *cluster;
	const void *client;      /* a rebuilt cluster is asked again */
	bool served;
	uint64_t at_ms;
	struct md__lws_seen *next;
};

struct md__attached {
	struct informer *inf;
	struct informer_handler h;
	struct md__attached *next;
};

void md__watch_lws(struct mdr *r, struct informer *inf)
{
	if (!inf)
		return;
	pthread_mutex_lock(&r->mu);
	for (struct md__attached *a = r->attached; a; a = a->next)
		if (a->inf == inf) {
			pthread_mutex_unlock(&r->mu);
			return;
		}
	struct md__attached *a = xcalloc(1, sizeof(*a));
	a->inf = inf;
	ctrl_handler_for_map(r->c, md__map_owner, r, &a->h);
	a->next = r->attached;
	r->attached = a;
	pthread_mutex_unlock(&r->mu);
	informer_add_handler(inf, &a->h);
}

/* Does the cluster serve leaderworkerset.x-k8s.io/v1? Asked at most once a
 * minute per cluster client; a transport error keeps the last answer. */
static bool lws_served(struct mdr *r, struct cluster *cl)
{
	const char *name = cluster_name(cl);
	struct kube_client *kc = cluster_client(cl);
	uint64_t now = mclock_mono_ms(r->clock);
	pthread_mutex_lock(&r->mu);
	struct md__lws_seen *s = r->lws;
	while (s && strcmp(s->cluster, name) != 0)
		s = s->next;
	if (s && s->client == kc && now - s->at_ms < MD_LWS_RECHECK_MS) {
		bool v = s->served;
		pthread_mutex_unlock(&r->mu);
		return v;
	}
	bool prev = s && s->client == kc ? s->served : false;
	pthread_mutex_unlock(&r->mu);

	struct kube_error err = {0};
	int rc = kube_resource_served(kc, &KUBE_RES_LEADERWORKERSETS, &err);
	bool served = rc == 0 ? true : err.reason == KUBE_ERR_NOT_FOUND || rc == -KUBE_ERR_NOT_FOUND ? false : prev;
	kube_error_clear(&err);

	pthread_mutex_lock(&r->mu);
	for (s = r->lws; s && strcmp(s->cluster, name) != 0; s = s->next)
		;
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->cluster = xstrdup(name);
		s->next = r->lws;
		r->lws = s;
	}
	if (s->served != served || s->client != kc)
		LOG_INFO("leaderworkersets", "cluster=%s served=%s", name, served ? "true" : "false");
	s->client = kc;
	s->served = served;
	s->at_ms = now;
	pthread_mutex_unlock(&r->mu);
	return served;
}

static json_object *observe_obj(struct informer *inf, const char *ns, const char *name)
{
	json_object *o = NULL;
	if (!inf)
		return NULL;
	char *key = xasprintf("%s/%s", ns, name);
	if (informer_get(inf, key, &o) != 0)
		o = NULL;
	free(key);
	return o;
}

void md__observe(struct mdr *r, json_object *md, json_object *ic, const struct md_reservation *res, size_t nres,
		 struct md__obs *o)
{
	memset(o, 0, sizeof(*o));
	o->ns = compose_serve_namespace(md, ic);
	o->cl = registry_acquire(mgr_clusters(r->m), jpath_str_or(ic, "metadata.name", ""));
	if (!o->cl)
		return;
	struct informer *nodes = cluster_informer(o->cl, &KUBE_RES_NODES, NULL, NULL);
	struct informer *pods = cluster_informer(o->cl, &KUBE_RES_PODS, NULL, NULL);
	struct informer *deps = cluster_informer(o->cl, &KUBE_RES_DEPLOYMENTS, NULL, MD_SEL_MANAGED);
	struct informer *lwss = NULL;
	o->lws = lws_served(r, o->cl);
	if (o->lws) {
		lwss = cluster_informer(o->cl, &KUBE_RES_LEADERWORKERSETS, NULL, MD_SEL_MANAGED);
		md__watch_lws(r, lwss);
	}
	o->synced = nodes && pods && deps && informer_has_synced(nodes) && informer_has_synced(pods) &&
		    informer_has_synced(deps) && (!o->lws || (lwss && informer_has_synced(lwss)));
	if (!o->synced)
		return;
	json_object *nl = informer_list(nodes), *pl = informer_list(pods);
	if (md_inventory_build(ic, nl, pl, res, nres, &o->inv) != 0)
		LOG_WARN("too many nodes: GPU inventory truncated", "cluster=%s", cluster_name(o->cl));
	json_object_put(nl);
	json_object_put(pl);
	char name[CHILD_NAME_MAX + 1];
	compose_serve_name(name, jpath_str(md, "metadata.namespace"), jpath_str(md, "metadata.name"));
	o->deploy = observe_obj(deps, o->ns, name);
	o->lwsobj = observe_obj(lwss, o->ns, name);
}

void md__obs_cleanup(struct md__obs *o)
{
	md_inventory_cleanup(&o->inv);
	json_object_put(o->deploy);
	json_object_put(o->lwsobj);
	if (o->cl)
		cluster_release(o->cl);
	memset(o, 0, sizeof(*o));
}

static int delete_obj(struct kube_client *kc, const struct kube_resource *res, const char *ns, const char *name,
		      struct kube_error *err)
{
	struct kube_delete_opts d = {.propagation_policy = "Background"};
	int rc = kube_delete(kc, res, ns, name, &d, err);
	if (rc == -KUBE_ERR_NOT_FOUND || err->reason == KUBE_ERR_NOT_FOUND) {
		kube_error_clear(err);
		return 0;
	}
	return rc;
}

int md__apply(struct mdr *r, struct md__obs *o, const struct kube_resource *res, json_object *desired,
	      json_object *observed, const char *name, char *errbuf, size_t errn)
{
	(void)r;
	struct kube_error err = {0};
	struct kube_client *kc = cluster_client(o->cl);
	int rc = 0;
	bool applied = false;
	if (desired) {
		rc = ctrl_apply_if_changed(kc, res, o->ns, desired, observed, &applied, NULL, &err);
		if (rc == 0 && applied)
			LOG_INFO("applied", "cluster=%s kind=%s name=%s/%s replicas=%lld", cluster_name(o->cl), res->kind,
				 o->ns, name, (long long)jpath_int_or(desired, "spec.replicas", 0));
	} else if (observed) {
		rc = delete_obj(kc, res, o->ns, name, &err);
		if (rc == 0)
			LOG_INFO("deleted", "cluster=%s kind=%s name=%s/%s", cluster_name(o->cl), res->kind, o->ns, name);
	}
	if (rc)
		snprintf(errbuf, errn, "%s %s on %s: %s", desired ? "apply" : "delete", res->kind, cluster_name(o->cl),
			 err.message ? err.message : "error");
	kube_error_clear(&err);
	return rc;
}

int md__cleanup_cluster(struct mdr *r, const char *cname, json_object *md)
{
	struct cluster *cl = registry_acquire(mgr_clusters(r->m), cname);
	if (!cl)
		return 0;
	int rc = 0;
	const char *ns = cluster_target_namespace(cl);
	if (!ns)
		ns = jpath_str_or(md, "metadata.namespace", "default");
	char name[CHILD_NAME_MAX + 1];
	compose_serve_name(name, jpath_str(md, "metadata.namespace"), jpath_str(md, "metadata.name"));
	struct informer *deps = cluster_informer(cl, &KUBE_RES_DEPLOYMENTS, NULL, MD_SEL_MANAGED);
	bool lws = lws_served(r, cl);
	struct informer *lwss = lws ? cluster_informer(cl, &KUBE_RES_LEADERWORKERSETS, NULL, MD_SEL_MANAGED) : NULL;
	bool synced = deps && informer_has_synced(deps) && (!lws || (lwss && informer_has_synced(lwss)));
	json_object *d = synced ? observe_obj(deps, ns, name) : NULL, *l = synced ? observe_obj(lwss, ns, name) : NULL;
	if (synced && !d && !l)
		goto out;
	if (!cluster_connected(cl)) {
		rc = 1;
		goto out;
	}
	struct kube_error err = {0};
	struct kube_client *kc = cluster_client(cl);
	if ((!synced || d) && delete_obj(kc, &KUBE_RES_DEPLOYMENTS, ns, name, &err) != 0)
		rc = err.reason == KUBE_ERR_UNAVAILABLE || err.reason == KUBE_ERR_TIMEOUT ? 1 : -1;
	kube_error_clear(&err);
	if (rc == 0 && lws && (!synced || l) && delete_obj(kc, &KUBE_RES_LEADERWORKERSETS, ns, name, &err) != 0)
		rc = err.reason == KUBE_ERR_UNAVAILABLE || err.reason == KUBE_ERR_TIMEOUT ? 1 : -1;
	kube_error_clear(&err);
	if (rc == 0)
		LOG_INFO("workloads removed", "cluster=%s name=%s/%s", cname, ns, name);
out:
	json_object_put(d);
	json_object_put(l);
	cluster_release(cl);
	return rc;
}

void md__clusters_free(struct mdr *r)
{
	while (r->lws) {
		struct md__lws_seen *s = r->lws;
		r->lws = s->next;
		free(s->cluster);
		free(s);
	}
	while (r->attached) {
		struct md__attached *a = r->attached;
		r->attached = a->next;
		ctrl_handler_map_free(&a->h);
		free(a);
	}
}
