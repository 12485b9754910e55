/* Internal to pkg/cache: a string-keyed hash map of void * values.
 * Keys are copied; values are the caller's (freed through the callback
 * given to hmap__cleanup). Not thread-safe. */
#ifndef MC_CACHE_HMAP_H
#define MC_CACHE_HMAP_H

#include <stdbool.h>
#include <stddef.h>

struct hmap__ent {
	char *key;
	void *val;
	struct hmap__ent *next;
};

struct hmap {
	struct hmap__ent **b;
	size_t nb, n;
};

void hmap__init(struct hmap *m);
void hmap__cleanup(struct hmap *m, void (*free_val)(void *));
void *hmap__get(const struct hmap *m, const char *key);
/* Sets key -> val; returns the previous value (or NULL). */
void *hmap__put(struct hmap *m, const char *key, void *val);
/* Removes key; returns its value (or NULL). */
void *hmap__del(struct hmap *m, const char *key);
/* Iterate: for (it = NULL; (it = hmap__next(m, it, &i));) ... ; i starts at 0. */
struct hmap__ent *hmap__next(const struct hmap *m, struct hmap__ent *it, size_t *bucket);

#endif
