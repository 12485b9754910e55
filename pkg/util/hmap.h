/* A string-keyed hash map of void * values (chained, FNV-1a, doubles when
 * the load passes 2). Keys are copied; values are the caller's (freed through
 * the callback given to hmap_cleanup). A value of NULL reads as absent, so
 * sets store a non-NULL marker and counters store n >= 1 (HMAP_UINT).
 * A plain value type: n (entries) may be read directly. Not thread-safe. */
#ifndef MC_UTIL_HMAP_H
#define MC_UTIL_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_ent {
	char *key;
	void *val;
	struct hmap_ent *next;
};

struct hmap {
	struct hmap_ent **b;
	size_t nb, n;
};

/* Small unsigned values stored as pointers (0 reads as absent). */
#define HMAP_UINT(p) ((uintptr_t)(p))
#define HMAP_PTR(u) ((void *)(uintptr_t)(u))

void hmap_init(struct hmap *m);
/* Frees every key and (when free_val is not NULL) every value. */
void hmap_cleanup(struct hmap *m, void (*free_val)(void *));
/* Borrowed value, or NULL when key is absent. */
void *hmap_get(const struct hmap *m, const char *key);
/* Sets key -> val; returns the previous value (or NULL). */
void *hmap_put(struct hmap *m, const char *key, void *val);
/* Removes key; returns its value (or NULL). */
void *hmap_del(struct hmap *m, const char *key);
/* Iterate: size_t i = 0; for (it = NULL; (it = hmap_next(m, it, &i));) ...
 * Do not put or delete while iterating. */
struct hmap_ent *hmap_next(const struct hmap *m, struct hmap_ent *it, size_t *bucket);

#endif
