#include "util/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

void hmap_init(struct hmap *m)
{
	m->nb = 64;
	m->n = 0;
	m->b = xcalloc(m->nb, sizeof(*m->b));
}

void hmap_cleanup(struct hmap *m, void (*free_val)(void *))
{
	if (!m->b)
		return;
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_ent *e = m->b[i];
		while (e) {
			struct hmap_ent *nx = e->next;
			if (free_val)
				free_val(e->val);
			free(e->key);
			free(e);
			e = nx;
		}
	}
	free(m->b);
	m->b = NULL;
	m->n = 0;
}

static struct hmap_ent *find(const struct hmap *m, const char *k)
{
	for (struct hmap_ent *e = m->b[hash_str(k) % m->nb]; e; e = e->next)
		if (strcmp(e->key, k) == 0)
			return e;
	return NULL;
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_ent *e = find(m, key);
	return e ? e->val : NULL;
}

static void grow(struct hmap *m)
{
	size_t nb = m->nb * 2;
	struct hmap_ent **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < m->nb; i++) {
		struct hmap_ent *e = m->b[i];
		while (e) {
			struct hmap_ent *nx = e->next;
			size_t j = hash_str(e->key) % nb;
			e->next = b[j];
			b[j] = e;
			e = nx;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

void *hmap_put(struct hmap *m, const char *key, void *val)
{
	struct hmap_ent *e = find(m, key);
	if (e) {
		void *old = e->val;
		e->val = val;
		return old;
	}
	if (m->n + 1 > m->nb * 2)
		grow(m);
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->val = val;
	size_t i = hash_str(key) % m->nb;
	e->next = m->b[i];
	m->b[i] = e;
	m->n++;
	return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
	struct hmap_ent **pp = &m->b[hash_str(key) % m->nb];
	for (; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->key, key) == 0) {
			struct hmap_ent *e = *pp;
			void *v = e->val;
			*pp = e->next;
			free(e->key);
			free(e);
			m->n--;
			return v;
		}
	}
	return NULL;
}

struct hmap_ent *hmap_next(const struct hmap *m, struct hmap_ent *it, size_t *bucket)
{
	if (it && it->next)
		return it->next;
	size_t i = it ? *bucket + 1 : *bucket;
	for (; i < m->nb; i++) {
		if (m->b[i]) {
			*bucket = i;
			return m->b[i];
		}
	}
	*bucket = m->nb;
	return NULL;
}
