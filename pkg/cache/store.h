/* Thread-safe object store: key ("ns/name", or "name" when cluster-scoped)
 * -> json_object, with indexes.
 *
 * Built-in index: STORE_INDEX_NAMESPACE (value: the namespace). Others are
 * added before the first object goes in, only where a reader uses them (an
 * index costs ~100 bytes per value per object): store_index_labels under
 * STORE_INDEX_LABEL (values: "key=value" for every label),
 * store_index_owners under STORE_INDEX_OWNER (the uid of every
 * ownerReference), or a custom function.
 *
 * Ownership: objects put in are taken (store_*_take); objects read out are
 * DEEP COPIES owned by the caller (json-c refcounts are not atomic and
 * serialising an object mutates it, so stored objects are never shared with
 * readers). Only the informer writes a store; any thread reads. */
#ifndef MC_CACHE_STORE_H
#define MC_CACHE_STORE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define STORE_INDEX_NAMESPACE "namespace"
#define STORE_INDEX_LABEL "label"
#define STORE_INDEX_OWNER "owner"

struct store;

/* Index function: call emit(ectx, value) for every index value of obj
 * (borrowed; do not keep or serialise it). */
typedef void (*store_index_emit)(void *ectx, const char *value);
typedef void (*store_index_fn)(json_object *obj, store_index_emit emit, void *ectx);

/* Delta produced by a write: what changed (for informer handlers). */
enum store_delta_type { STORE_ADDED, STORE_UPDATED, STORE_DELETED };
/* old/new are borrowed for the call (old NULL on ADDED, new NULL on DELETED). */
typedef void (*store_delta_cb)(void *ctx, enum store_delta_type t, json_object *old_obj,
			       json_object *new_obj);

int store_new(struct store **out);
void store_index_labels(json_object *obj, store_index_emit emit, void *ectx);
void store_index_owners(json_object *obj, store_index_emit emit, void *ectx);
void store_free(struct store *s);
int store_add_index(struct store *s, const char *name, store_index_fn fn);

/* The key of an object: "ns/name" or "name"; malloc'd; NULL when no name. */
char *store_key_of(json_object *obj);

/* Upsert (ADDED or MODIFIED event); takes obj. An object whose
 * resourceVersion equals the stored one is still replaced and reported as
 * UPDATED. cb may be NULL. */
int store_upsert_take(struct store *s, json_object *obj, store_delta_cb cb, void *ctx);
/* Delete by the object's key; takes obj (may be a tombstone). No-op
 * (and no callback) when absent. */
int store_delete_take(struct store *s, json_object *obj, store_delta_cb cb, void *ctx);
/* Replace the whole content with items (a json array, borrowed; its elements
 * are copied by reference with json_object_get) and report the difference:
 * ADDED for new keys, UPDATED for keys whose resourceVersion changed,
 * DELETED for keys that are gone. Returns the number of deltas. */
int store_replace(struct store *s, json_object *items, store_delta_cb cb, void *ctx);
/* Call cb(UPDATED, obj, obj) for every object (informer resync). */
void store_resync(struct store *s, store_delta_cb cb, void *ctx);

/* Reads: deep copies, the caller's. */
int store_get(struct store *s, const char *key, json_object **out);   /* -ENOENT */
bool store_has(struct store *s, const char *key);
/* Every object (a new json array). */
json_object *store_list(struct store *s);
/* fn(ctx, obj) for every object, one tree at a time (obj is borrowed for the
 * call and freed after it): a pass over a large store costs one object's
 * tree, not the whole list's. Objects added during the pass may be missed.
 * fn may read the store. */
void store_each(struct store *s, void (*fn)(void *ctx, json_object *obj), void *ctx);
/* Objects whose index `name` holds `value` (a new json array); -EINVAL for an unknown index. */
int store_by_index(struct store *s, const char *name, const char *value, json_object **out);
/* Keys only (malloc'd array of malloc'd strings, sorted; free with store_keys_free). */
int store_index_keys(struct store *s, const char *name, const char *value, char ***keys, size_t *n);
char **store_keys(struct store *s, size_t *n);
void store_keys_free(char **keys, size_t n);
size_t store_len(struct store *s);

#endif
