#include "manager/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager/factory.h"
#include "metrics/metrics.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_WATCHES 16

struct watch_spec {
	const struct kube_resource *res;
	const char *label;
	ctrl_map_fn map;     /* NULL: self watch (enqueue the cluster name) */
	void *mctx;
	struct ctrl *c;
};

struct self_ctx {
	struct ctrl *c;
	char *name;
};

struct cluster {
	struct registry *reg;
	int refs;                 /* under reg->mu */
	char *name;
	bool local;
	char *target_ns;
	char *config_hash;
	struct kube_client *client;
	pthread_mutex_t mu;       /* handlers, connected */
	struct informer_factory *infs;   /* this cluster's informers */
	struct informer_handler handlers[MAX_WATCHES * 2];   /* allocated handler contexts */
	bool handler_is_map[MAX_WATCHES * 2];
	int nhandlers;
	bool connected;
	bool draining;            /* its InferenceCluster is being deleted */
	bool ever_connected;      /* in this process */
	char hook_name[128];
};

struct registry {
	pthread_mutex_t mu;
	struct hmap clusters;   /* name -> struct cluster * (one reference) */
	struct kube_watch_mux *mux;
	struct kube_client_opts copts;
	uint64_t resync_ms;
	registry_failure_fn on_failure;
	void *failure_ctx;
	struct watch_spec watches[MAX_WATCHES];
	int nwatches;
};

int registry_new(const struct registry_opts *o, struct registry **out)
{
	struct registry *r = xcalloc(1, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	hmap_init(&r->clusters);
	r->mux = o->mux;
	if (o->client_opts)
		r->copts = *o->client_opts;
	r->resync_ms = o->resync_ms;
	r->on_failure = o->on_failure;
	r->failure_ctx = o->failure_ctx;
	*out = r;
	return 0;
}

void registry_set_failure_hook(struct registry *r, registry_failure_fn fn, void *ctx)
{
	pthread_mutex_lock(&r->mu);
	r->on_failure = fn;
	r->failure_ctx = ctx;
	pthread_mutex_unlock(&r->mu);
}

static void cluster_destroy(struct cluster *c)
{
	/* informers first: their watches use the client */
	informer_factory_free(c->infs);
	for (int i = 0; i < c->nhandlers; i++) {
		if (c->handler_is_map[i]) {
			ctrl_handler_map_free(&c->handlers[i]);
		} else {
			struct self_ctx *s = c->handlers[i].ctx;
			free(s->name);
			free(s);
		}
	}
	kube_client_free(c->client);
	LOG_INFO("cluster stopped", "cluster=%s", c->name);
	pthread_mutex_destroy(&c->mu);
	free(c->name);
	free(c->target_ns);
	free(c->config_hash);
	free(c);
}

static void release_locked(struct cluster *c, bool *destroy)
{
	*destroy = --c->refs == 0;
}

void cluster_release(struct cluster *c)
{
	if (!c)
		return;
	struct registry *r = c->reg;
	bool d;
	pthread_mutex_lock(&r->mu);
	release_locked(c, &d);
	pthread_mutex_unlock(&r->mu);
	if (d)
		cluster_destroy(c);
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	char **names;
	size_t n;
	names = registry_names(r, &n);
	for (size_t i = 0; i < n; i++)
		registry_remove(r, names[i]);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	hmap_cleanup(&r->clusters, NULL);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void request_hook(void *ctx, const char *verb, const char *resource, int code)
{
	struct cluster *c = ctx;
	(void)resource;
	char codes[16];
	snprintf(codes, sizeof codes, "%d", code);
	static const char *k[] = {"cluster", "verb", "code"};
	const char *v[] = {c->hook_name, verb, codes};
	metrics_counter_inc(metrics_counter_get("modelcache_api_requests_total",
		"Kubernetes API requests per cluster, verb and HTTP code (0 = no response).", 3, k, v));
}

/* ---- handlers ---- */
/* A cluster's own objects (Nodes, composed PVCs) change in bursts: a
 * ModelCache applied to 100 caches composes 100 PVCs at once. The cluster
 * is re-reconciled at most once per SELF_COALESCE_MS (a delayed add keeps
 * the earliest time), so a burst makes one status write, not one each. */
#define SELF_COALESCE_MS 1000

static void self_enqueue(void *ctx)
{
	struct self_ctx *s = ctx;
	ctrl_enqueue_after(s->c, s->name, SELF_COALESCE_MS);
}
static void self_add(void *ctx, json_object *o) { (void)o; self_enqueue(ctx); }
static void self_upd(void *ctx, json_object *o, json_object *n)
{
	/* resyncs (o == n) are covered by the controller's own periodic re-check */
	if (o != n)
		self_enqueue(ctx);
}
static void self_del(void *ctx, json_object *o) { (void)o; self_enqueue(ctx); }

static void failure_hook(void *ctx, const char *reason, int rc)
{
	struct cluster *c = ctx;
	static const char *k[] = {"cluster", "reason"};
	const char *v[] = {c->name, reason};
	metrics_counter_inc(metrics_counter_get("modelcache_watch_restarts_total",
		"Watch restarts per cluster and reason.", 2, k, v));
	(void)rc;
	if (c->reg->on_failure)
		c->reg->on_failure(c->reg->failure_ctx, c->name, reason);
}

struct informer *cluster_informer(struct cluster *c, const struct kube_resource *res, const char *ns,
				  const char *label_selector)
{
	return informer_factory_get(c->infs, res, ns, label_selector);
}

static void apply_watch(struct cluster *c, const struct watch_spec *w)
{
	struct informer *inf = cluster_informer(c, w->res, NULL, w->label);
	if (!inf)
		return;
	struct informer_handler h;
	bool is_map = w->map != NULL;
	if (is_map) {
		ctrl_handler_for_map(w->c, w->map, w->mctx, &h);
	} else {
		struct self_ctx *s = xcalloc(1, sizeof(*s));
		s->c = w->c;
		s->name = xstrdup(c->name);
		memset(&h, 0, sizeof h);
		h.on_add = self_add;
		h.on_update = self_upd;
		h.on_delete = self_del;
		h.ctx = s;
	}
	pthread_mutex_lock(&c->mu);
	if (c->nhandlers < MAX_WATCHES * 2) {
		c->handlers[c->nhandlers] = h;
		c->handler_is_map[c->nhandlers] = is_map;
		c->nhandlers++;
	}
	pthread_mutex_unlock(&c->mu);
	informer_add_handler(inf, &h);
}

int registry_ensure(struct registry *r, const char *name, struct kube_config *cfg, const char *config_hash,
		    bool local, const char *remote_namespace, bool *rebuilt, char **errmsg)
{
	if (rebuilt)
		*rebuilt = false;
	pthread_mutex_lock(&r->mu);
	struct cluster *cur = hmap_get(&r->clusters, name);
	if (cur && cur->local == local && !strcmp(cur->config_hash, config_hash ? config_hash : "") &&
	    !strcmp(cur->target_ns ? cur->target_ns : "", local ? "" : (remote_namespace ? remote_namespace : ""))) {
		pthread_mutex_unlock(&r->mu);
		kube_config_free(cfg);
		return 0;
	}
	pthread_mutex_unlock(&r->mu);

	struct cluster *c = xcalloc(1, sizeof(*c));
	c->reg = r;
	c->refs = 1;
	c->name = xstrdup(name);
	c->local = local;
	c->target_ns = local ? NULL : xstrdup(remote_namespace ? remote_namespace : "modelcache");
	c->config_hash = xstrdup(config_hash ? config_hash : "");
	snprintf(c->hook_name, sizeof c->hook_name, "%s", name);
	pthread_mutex_init(&c->mu, NULL);
	struct kube_client_opts co = r->copts;
	co.hook = request_hook;
	co.hook_ctx = c;
	struct kube_error err = {0};
	int rc = kube_client_new(cfg, &co, &c->client, &err);
	kube_config_free(cfg);
	if (rc) {
		if (errmsg)
			*errmsg = xstrdup(err.message ? err.message : kube_reason_str(-rc));
		kube_error_clear(&err);
		pthread_mutex_destroy(&c->mu);
		free(c->name);
		free(c->target_ns);
		free(c->config_hash);
		free(c);
		return rc;
	}
	struct informer_factory_opts fo = {
		.client = c->client,
		.mux = r->mux,
		.name = c->name,
		.resync_ms = r->resync_ms,
		.on_failure = failure_hook,
		.failure_ctx = c,
		.started = true,
	};
	informer_factory_new(&fo, &c->infs);
	LOG_INFO("cluster started", "cluster=%s server=%s local=%s", name, kube_client_server(c->client),
		 local ? "true" : "false");
	/* the watches every cluster gets */
	pthread_mutex_lock(&r->mu);
	int nw = r->nwatches;
	struct watch_spec ws[MAX_WATCHES];
	memcpy(ws, r->watches, sizeof(ws[0]) * (size_t)nw);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < nw; i++)
		apply_watch(c, &ws[i]);
	pthread_mutex_lock(&r->mu);
	struct cluster *old = hmap_put(&r->clusters, name, c);
	bool d = false;
	if (old)
		release_locked(old, &d);
	pthread_mutex_unlock(&r->mu);
	if (d)
		cluster_destroy(old);
	if (rebuilt)
		*rebuilt = true;
	return 0;
}

void registry_remove(struct registry *r, const char *name)
{
	pthread_mutex_lock(&r->mu);
	struct cluster *c = hmap_del(&r->clusters, name);
	bool d = false;
	if (c)
		release_locked(c, &d);
	pthread_mutex_unlock(&r->mu);
	if (d)
		cluster_destroy(c);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **registry_names(struct registry *r, size_t *n)
{
	pthread_mutex_lock(&r->mu);
	size_t cnt = r->clusters.n, i = 0, b = 0;
	char **k = xcalloc(cnt + 1, sizeof(char *));
	for (struct hmap_ent *e = NULL; (e = hmap_next(&r->clusters, e, &b)) && i < cnt;)
		k[i++] = xstrdup(e->key);
	pthread_mutex_unlock(&r->mu);
	qsort(k, i, sizeof(char *), cmp_str);
	*n = i;
	return k;
}

struct cluster *registry_acquire(struct registry *r, const char *name)
{
	pthread_mutex_lock(&r->mu);
	struct cluster *c = hmap_get(&r->clusters, name);
	if (c)
		c->refs++;
	pthread_mutex_unlock(&r->mu);
	return c;
}

const char *cluster_name(const struct cluster *c)
{
	return c->name;
}

struct kube_client *cluster_client(struct cluster *c)
{
	return c->client;
}

bool cluster_is_local(const struct cluster *c)
{
	return c->local;
}

const char *cluster_target_namespace(const struct cluster *c)
{
	return c->target_ns;
}

void cluster_set_connected(struct cluster *c, bool connected)
{
	pthread_mutex_lock(&c->mu);
	c->connected = connected;
	c->ever_connected |= connected;
	pthread_mutex_unlock(&c->mu);
}

void cluster_report_unanswered(struct cluster *c, const char *what)
{
	cluster_set_connected(c, false);
	if (c->reg->on_failure) {
		char reason[512];
		snprintf(reason, sizeof(reason), "%s%s", REGISTRY_UNANSWERED, what ? what : "");
		c->reg->on_failure(c->reg->failure_ctx, c->name, reason);
	}
}

void cluster_set_draining(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	c->draining = true;
	pthread_mutex_unlock(&c->mu);
}

bool cluster_ever_connected(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	bool v = c->ever_connected;
	pthread_mutex_unlock(&c->mu);
	return v;
}

bool cluster_answering(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	bool v = c->connected;
	pthread_mutex_unlock(&c->mu);
	return v;
}

bool cluster_connected(struct cluster *c)
{
	pthread_mutex_lock(&c->mu);
	bool v = c->connected && !c->draining;
	pthread_mutex_unlock(&c->mu);
	return v;
}

static int add_watch(struct registry *r, const struct watch_spec *w)
{
	pthread_mutex_lock(&r->mu);
	if (r->nwatches == MAX_WATCHES) {
		pthread_mutex_unlock(&r->mu);
		return -ENOSPC;
	}
	r->watches[r->nwatches++] = *w;
	pthread_mutex_unlock(&r->mu);
	size_t n;
	char **names = registry_names(r, &n);
	for (size_t i = 0; i < n; i++) {
		struct cluster *c = registry_acquire(r, names[i]);
		if (c) {
			apply_watch(c, w);
			cluster_release(c);
		}
		free(names[i]);
	}
	free(names);
	return 0;
}

int registry_add_watch(struct registry *r, const struct kube_resource *res, const char *label_selector,
		       ctrl_map_fn map, void *mctx, struct ctrl *c)
{
	if (!map)
		return -EINVAL;
	struct watch_spec w = {res, label_selector, map, mctx, c};
	return add_watch(r, &w);
}

int registry_add_cluster_self_watch(struct registry *r, const struct kube_resource *res,
				    const char *label_selector, struct ctrl *c)
{
	struct watch_spec w = {res, label_selector, NULL, NULL, c};
	return add_watch(r, &w);
}
