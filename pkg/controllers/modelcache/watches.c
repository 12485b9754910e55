/* What reaches a ModelCache's key besides its own events: InferenceClusters
 * (any change can match or unmatch every cache), Secrets (the caches whose
 * authSecret it is, found through the store index "authSecret") and
 * ModelDeployments (the cache they reference, index "modelCacheRef"). The
 * remote PVCs and Jobs map back by their cache labels (ctrl_map_by_labels in
 * modelcache.c). Handlers run on the watch thread: they look keys up in an
 * index and enqueue, never copy objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/informer.h"
#include "cache/store.h"
#include "capacity/admit.h"
#include "controllers/modelcache/internal.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/mem.h"

#define IDX_AUTH_SECRET "authSecret"
#define IDX_CACHE_REF "modelCacheRef"

bool mc_streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool same_version(json_object *o, json_object *n)
{
	/* a resync (same resourceVersion) changes nothing */
	return o && n && mc_streq(jpath_str(o, "metadata.resourceVersion"), jpath_str(n, "metadata.resourceVersion"));
}

/* "ns/name" of what an object names in its own namespace, for an index. */
static void emit_ns_ref(json_object *obj, const char *path, store_index_emit emit, void *ectx)
{
	const char *ns = jpath_str(obj, "metadata.namespace"), *ref = jpath_str(obj, path);
	if (!ns || !ref)
		return;
	char v[512];
	if ((size_t)snprintf(v, sizeof(v), "%s/%s", ns, ref) < sizeof(v))
		emit(ectx, v);
}

static void index_auth_secret(json_object *mc, store_index_emit emit, void *ectx)
{
	emit_ns_ref(mc, "spec.huggingFace.authSecret.name", emit, ectx);
}

static void index_cache_ref(json_object *md, store_index_emit emit, void *ectx)
{
	emit_ns_ref(md, "spec.modelCacheRef.name", emit, ectx);
}

static void enqueue_index(struct ctrl *c, struct informer *inf, const char *index, json_object *obj)
{
	const char *ns = jpath_str(obj, "metadata.namespace"), *name = jpath_str(obj, "metadata.name");
	if (!ns || !name)
		return;
	char *v = xasprintf("%s/%s", ns, name);
	char **keys = NULL;
	size_t n = 0;
	if (store_index_keys(informer_store(inf), index, v, &keys, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			ctrl_enqueue(c, keys[i]);
		store_keys_free(keys, n);
	}
	free(v);
}

static void enqueue_all(struct mcr *r)
{
	size_t n = 0;
	char **keys = store_keys(informer_store(r->mcs), &n);
	for (size_t i = 0; i < n; i++)
		ctrl_enqueue(r->c, keys[i]);
	store_keys_free(keys, n);
}

static void ic_add(void *ctx, json_object *obj)
{
	(void)obj;
	enqueue_all(ctx);
}
static void ic_update(void *ctx, json_object *o, json_object *n)
{
	if (!same_version(o, n))
		enqueue_all(ctx);
}

static void sec_add(void *ctx, json_object *obj)
{
	struct mcr *r = ctx;
	enqueue_index(r->c, r->mcs, IDX_AUTH_SECRET, obj);
}
static void sec_update(void *ctx, json_object *o, json_object *n)
{
	if (!same_version(o, n))
		sec_add(ctx, n);
}

/* A ModelDeployment changed: its cache is reconciled (deletion may be
 * waiting for it; un-matching keeps what it serves from). */
static void md_add(void *ctx, json_object *obj)
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
	if (same_version(o, n))
		return;
	/* a changed reference releases the old cache too */
	if (!mc_streq(jpath_str(o, "spec.modelCacheRef.name"), jpath_str(n, "spec.modelCacheRef.name")))
		md_add(ctx, o);
	md_add(ctx, n);
}

/* The live ModelDeployments referencing ns/name. */
static json_object *md_referencing(struct mcr *r, const char *ns, const char *name)
{
	json_object *list = NULL;
	if (!r->mds)
		return NULL;
	char *v = xasprintf("%s/%s", ns, name);
	if (store_by_index(informer_store(r->mds), IDX_CACHE_REF, v, &list) != 0)
		list = NULL;
	free(v);
	return list;
}

char *md_users(struct mcr *r, const char *ns, const char *name)
{
	json_object *list = md_referencing(r, ns, name);
	if (!list)
		return NULL;
	struct buf b;
	buf_init(&b, 1u << 16);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *md = json_object_array_get_idx(list, i);
		if (!jpath_get(md, "metadata.deletionTimestamp"))
			buf_printf(&b, "%s%s/%s", b.len ? ", " : "", ns, jpath_str_or(md, "metadata.name", "?"));
	}
	json_object_put(list);
	if (!b.len) {
		buf_cleanup(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

bool md_serves_on(struct mcr *r, const char *ns, const char *name, const char *cluster)
{
	json_object *list = md_referencing(r, ns, name);
	bool yes = false;
	for (size_t i = 0; list && i < json_object_array_length(list) && !yes; i++) {
		json_object *pl = jpath_get(json_object_array_get_idx(list, i), "status.placements");
		for (size_t j = 0; pl && json_object_is_type(pl, json_type_array) && j < json_object_array_length(pl); j++)
			if (mc_streq(jpath_str(json_object_array_get_idx(pl, j), "cluster"), cluster))
				yes = true;
	}
	json_object_put(list);
	return yes;
}

bool md_placed_on(struct mcr *r, const char *ns, const char *name, const char *cluster, int64_t *demanded_s)
{
	json_object *list = md_referencing(r, ns, name);
	bool yes = capacity_md_placed(list, ns, name, cluster, demanded_s);
	json_object_put(list);
	return yes;
}

int mc_watches_setup(struct mcr *r)
{
	/* indexes go in before the informers start (setup runs before the manager) */
	int rc = store_add_index(informer_store(r->mcs), IDX_AUTH_SECRET, index_auth_secret);
	if (rc != 0 && rc != -EEXIST)
		return -1;
	rc = r->mds ? store_add_index(informer_store(r->mds), IDX_CACHE_REF, index_cache_ref) : 0;
	if (rc != 0 && rc != -EEXIST)
		return -1;
	struct informer_handler self;
	ctrl_handler_for_self(r->c, &self);
	informer_add_handler(r->mcs, &self);
	r->ic_h = (struct informer_handler){.on_add = ic_add, .on_update = ic_update, .on_delete = ic_add, .ctx = r};
	informer_add_handler(r->ics, &r->ic_h);
	r->sec_h = (struct informer_handler){.on_add = sec_add, .on_update = sec_update, .on_delete = sec_add, .ctx = r};
	informer_add_handler(r->secrets, &r->sec_h);
	if (r->mds) {
		r->md_h = (struct informer_handler){.on_add = md_add, .on_update = md_update, .on_delete = md_add, .ctx = r};
		informer_add_handler(r->mds, &r->md_h);
	}
	return 0;
}
