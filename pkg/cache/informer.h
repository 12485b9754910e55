/* Informer: a reflector feeding a store, plus event handlers
 * (client-go's SharedIndexInformer). One informer per (cluster, resource,
 * namespace, label selector) is shared by every controller through the
 * manager (mgr_informer) or the cluster registry (cluster_informer).
 *
 * Handlers run on the watch thread (or the reflector's control thread during
 * a relist/resync), one at a time per informer: they must be quick (read a
 * label, enqueue a key), must not block, must not keep or serialise the
 * borrowed objects. A handler added after the informer synced first receives
 * ADD for every object already in the store. A periodic resync calls
 * on_update(obj, obj) for every object (old == new). */
#ifndef MC_CACHE_INFORMER_H
#define MC_CACHE_INFORMER_H

#include <json-c/json.h>
#include <stdbool.h>

#include "cache/store.h"
#include "watch/reflector.h"

struct informer;

struct informer_handler {
	void (*on_add)(void *ctx, json_object *obj);
	void (*on_update)(void *ctx, json_object *old_obj, json_object *new_obj);
	void (*on_delete)(void *ctx, json_object *obj);
	/* The list or watch failed (see reflector_sink.failure); may be NULL. */
	void (*on_failure)(void *ctx, const char *reason, int rc);
	void *ctx;
};

/* owns_transport: t->release(t->tctx) is called when the informer is freed. */
int informer_new(const struct reflector_transport *t, bool owns_transport,
		 const struct reflector_opts *o, struct informer **out);
/* Before start (custom indexes). */
struct store *informer_store(struct informer *inf);
void informer_add_handler(struct informer *inf, const struct informer_handler *h);
int informer_start(struct informer *inf);
void informer_stop(struct informer *inf);
void informer_free(struct informer *inf);   /* stops first */
bool informer_has_synced(struct informer *inf);
/* Wait (polling every 20 ms) until synced; -ETIMEDOUT. */
int informer_wait_synced(struct informer *inf, uint64_t timeout_ms);
struct reflector *informer_reflector(struct informer *inf);

/* Convenience reads (deep copies, caller's). */
static inline int informer_get(struct informer *inf, const char *key, json_object **out)
{
	return store_get(informer_store(inf), key, out);
}
static inline json_object *informer_list(struct informer *inf)
{
	return store_list(informer_store(inf));
}

#endif
