#include "cache/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/mem.h"

#define MAX_INDEXES 16

struct index {
	char *name;
	store_index_fn fn;
	struct hmap vals;   /* value -> struct hmap * (key set; values unused) */
};

/* A stored object: its compact JSON text, not a json-c tree. A tree costs
 * ten to twenty times its text (a hash table per JSON object); readers get
 * their own copy anyway, so parsing the text on read costs about what a
 * deep copy did, and an informer of thousands of objects stays small. */
struct sobj {
	char *json;
	size_t len;
	char *rv;           /* metadata.resourceVersion, for relists */
};

struct store {
	pthread_rwlock_t lk;
	struct hmap objs;   /* key -> struct sobj * */
	struct index idx[MAX_INDEXES];
	int nidx;
};

static const char *meta_str(json_object *obj, const char *field)
{
	json_object *md, *v;
	if (!json_object_object_get_ex(obj, "metadata", &md) ||
	    !json_object_object_get_ex(md, field, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

char *store_key_of(json_object *obj)
{
	const char *name = meta_str(obj, "name");
	const char *ns = meta_str(obj, "namespace");
	if (!name || !*name)
		return NULL;
	if (ns && *ns)
		return xasprintf("%s/%s", ns, name);
	return xstrdup(name);
}

static void idx_namespace(json_object *obj, store_index_emit emit, void *ectx)
{
	const char *ns = meta_str(obj, "namespace");
	emit(ectx, ns ? ns : "");
}

void store_index_labels(json_object *obj, store_index_emit emit, void *ectx)
{
	json_object *md, *labels;
	if (!json_object_object_get_ex(obj, "metadata", &md) ||
	    !json_object_object_get_ex(md, "labels", &labels) ||
	    !json_object_is_type(labels, json_type_object))
		return;
	json_object_object_foreach(labels, k, v)
	{
		char *s = xasprintf("%s=%s", k, json_object_get_string(v));
		emit(ectx, s);
		free(s);
	}
}

void store_index_owners(json_object *obj, store_index_emit emit, void *ectx)
{
	json_object *md, *refs;
	if (!json_object_object_get_ex(obj, "metadata", &md) ||
	    !json_object_object_get_ex(md, "ownerReferences", &refs) ||
	    !json_object_is_type(refs, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		json_object *uid;
		if (json_object_object_get_ex(json_object_array_get_idx(refs, i), "uid", &uid))
			emit(ectx, json_object_get_string(uid));
	}
}

static void free_obj(void *p)
{
	struct sobj *o = p;
	if (!o)
		return;
	free(o->json);
	free(o->rv);
	free(o);
}

/* The stored form of obj (not modified beyond json-c's string cache). */
static struct sobj *sobj_of(json_object *obj)
{
	struct sobj *o = xcalloc(1, sizeof(*o));
	size_t len = 0;
	const char *j = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
							  &len);
	o->json = xmalloc(len + 1);
	memcpy(o->json, j, len);
	o->json[len] = '\0';
	o->len = len;
	const char *rv = meta_str(obj, "resourceVersion");
	o->rv = rv ? xstrdup(rv) : NULL;
	return o;
}

/* A tree of a stored object, the caller's. */
static json_object *parse(const struct sobj *o)
{
	struct json_tokener *t = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!t)
		abort();   /* only fails on allocation */
	json_object *v = json_tokener_parse_ex(t, o->json, (int)o->len);
	json_tokener_free(t);
	if (!v)
		abort();   /* we wrote it: a failure is an allocation failure */
	return v;
}

static void free_set(void *p)
{
	struct hmap *s = p;
	hmap_cleanup(s, NULL);
	free(s);
}

int store_new(struct store **out)
{
	struct store *s = xcalloc(1, sizeof(*s));
	pthread_rwlock_init(&s->lk, NULL);
	hmap_init(&s->objs);
	store_add_index(s, STORE_INDEX_NAMESPACE, idx_namespace);
	*out = s;
	return 0;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	hmap_cleanup(&s->objs, free_obj);
	for (int i = 0; i < s->nidx; i++) {
		hmap_cleanup(&s->idx[i].vals, free_set);
		free(s->idx[i].name);
	}
	pthread_rwlock_destroy(&s->lk);
	free(s);
}

int store_add_index(struct store *s, const char *name, store_index_fn fn)
{
	int rc = 0;
	pthread_rwlock_wrlock(&s->lk);
	if (s->nidx == MAX_INDEXES || s->objs.n > 0) {
		rc = -EINVAL;
		goto out;
	}
	for (int i = 0; i < s->nidx; i++)
		if (strcmp(s->idx[i].name, name) == 0) {
			rc = -EEXIST;
			goto out;
		}
	s->idx[s->nidx].name = xstrdup(name);
	s->idx[s->nidx].fn = fn;
	hmap_init(&s->idx[s->nidx].vals);
	s->nidx++;
out:
	pthread_rwlock_unlock(&s->lk);
	return rc;
}

struct emit_ctx {
	struct index *ix;
	const char *key;
	bool add;
};

static void emit_cb(void *p, const char *value)
{
	struct emit_ctx *e = p;
	struct hmap *set = hmap_get(&e->ix->vals, value);
	if (e->add) {
		if (!set) {
			set = xmalloc(sizeof(*set));
			hmap_init(set);
			hmap_put(&e->ix->vals, value, set);
		}
		hmap_put(set, e->key, (void *)1);
	} else if (set) {
		hmap_del(set, e->key);
		if (set->n == 0)
			free_set(hmap_del(&e->ix->vals, value));
	}
}

/* Locked (write). Trees, borrowed. */
static void index_update(struct store *s, const char *key, json_object *old_obj, json_object *new_obj)
{
	for (int i = 0; i < s->nidx; i++) {
		struct emit_ctx e = {&s->idx[i], key, false};
		if (old_obj)
			s->idx[i].fn(old_obj, emit_cb, &e);
		e.add = true;
		if (new_obj)
			s->idx[i].fn(new_obj, emit_cb, &e);
	}
}

int store_upsert_take(struct store *s, json_object *obj, store_delta_cb cb, void *ctx)
{
	char *key = store_key_of(obj);
	if (!key) {
		json_object_put(obj);
		return -EINVAL;
	}
	struct sobj *n = sobj_of(obj);
	pthread_rwlock_wrlock(&s->lk);
	struct sobj *old = hmap_put(&s->objs, key, n);
	json_object *old_tree = old ? parse(old) : NULL;
	index_update(s, key, old_tree, obj);
	pthread_rwlock_unlock(&s->lk);
	if (cb)
		cb(ctx, old ? STORE_UPDATED : STORE_ADDED, old_tree, obj);
	json_object_put(old_tree);
	json_object_put(obj);
	free_obj(old);
	free(key);
	return 0;
}

int store_delete_take(struct store *s, json_object *obj, store_delta_cb cb, void *ctx)
{
	char *key = store_key_of(obj);
	json_object_put(obj);
	if (!key)
		return -EINVAL;
	pthread_rwlock_wrlock(&s->lk);
	struct sobj *old = hmap_del(&s->objs, key);
	json_object *old_tree = old ? parse(old) : NULL;
	if (old_tree)
		index_update(s, key, old_tree, NULL);
	pthread_rwlock_unlock(&s->lk);
	if (old_tree && cb)
		cb(ctx, STORE_DELETED, old_tree, NULL);
	json_object_put(old_tree);
	free_obj(old);
	free(key);
	return 0;
}

struct delta {
	enum store_delta_type t;
	json_object *old_obj, *new_obj;   /* owned trees */
};

static void push_delta(struct delta **d, size_t *nd, size_t *capd, enum store_delta_type t, json_object *o,
		       json_object *n)
{
	if (*nd == *capd) {
		*capd = *capd ? *capd * 2 : 16;
		*d = xrealloc(*d, *capd * sizeof(**d));
	}
	(*d)[*nd] = (struct delta){t, o, n};
	(*nd)++;
}

static bool same_rv(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

int store_replace(struct store *s, json_object *items, store_delta_cb cb, void *ctx)
{
	size_t n = items ? json_object_array_length(items) : 0;
	struct hmap fresh;   /* key -> the list item (borrowed tree) */
	hmap_init(&fresh);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(items, i);
		char *key = store_key_of(o);
		if (!key)
			continue;
		hmap_put(&fresh, key, o);
		free(key);
	}
	struct delta *d = NULL;
	size_t nd = 0, capd = 0;
	struct hmap next;    /* the new content: key -> struct sobj * */
	hmap_init(&next);
	pthread_rwlock_wrlock(&s->lk);
	/* additions and updates; objects unchanged keep their stored form */
	size_t b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&fresh, e, &b));) {
		json_object *item = e->val;
		struct sobj *old = hmap_del(&s->objs, e->key);
		if (old && same_rv(old->rv, meta_str(item, "resourceVersion"))) {
			hmap_put(&next, e->key, old);
			continue;
		}
		json_object *old_tree = old ? parse(old) : NULL;
		free_obj(old);
		hmap_put(&next, e->key, sobj_of(item));
		push_delta(&d, &nd, &capd, old_tree ? STORE_UPDATED : STORE_ADDED, old_tree, json_object_get(item));
	}
	/* what is left is gone */
	b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&s->objs, e, &b));)
		push_delta(&d, &nd, &capd, STORE_DELETED, parse(e->val), NULL);
	hmap_cleanup(&s->objs, free_obj);
	s->objs = next;
	/* rebuild indexes */
	for (int i = 0; i < s->nidx; i++) {
		hmap_cleanup(&s->idx[i].vals, free_set);
		hmap_init(&s->idx[i].vals);
	}
	b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&s->objs, e, &b));) {
		json_object *item = hmap_get(&fresh, e->key);
		index_update(s, e->key, NULL, item);
	}
	pthread_rwlock_unlock(&s->lk);
	hmap_cleanup(&fresh, NULL);
	for (size_t i = 0; i < nd; i++) {
		if (cb)
			cb(ctx, d[i].t, d[i].old_obj, d[i].new_obj);
		json_object_put(d[i].old_obj);
		json_object_put(d[i].new_obj);
	}
	free(d);
	return (int)nd;
}

void store_resync(struct store *s, store_delta_cb cb, void *ctx)
{
	/* One tree at a time (a list of them all would be the whole store as
	 * trees), called back outside the lock. */
	size_t n = 0;
	char **keys = store_keys(s, &n);
	for (size_t j = 0; j < n; j++) {
		json_object *o = NULL;
		if (store_get(s, keys[j], &o) == 0)
			cb(ctx, STORE_UPDATED, o, o);
		json_object_put(o);
	}
	store_keys_free(keys, n);
}

int store_get(struct store *s, const char *key, json_object **out)
{
	pthread_rwlock_rdlock(&s->lk);
	struct sobj *o = hmap_get(&s->objs, key);
	*out = o ? parse(o) : NULL;
	pthread_rwlock_unlock(&s->lk);
	return o ? 0 : -ENOENT;
}

bool store_has(struct store *s, const char *key)
{
	pthread_rwlock_rdlock(&s->lk);
	bool r = hmap_get(&s->objs, key) != NULL;
	pthread_rwlock_unlock(&s->lk);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Trees of the objects under keys (in that order; gone ones skipped); frees keys. */
static json_object *copies_of(struct store *s, char **keys, size_t n)
{
	json_object *arr = json_object_new_array_ext((int)(n ? n : 1));
	pthread_rwlock_rdlock(&s->lk);
	for (size_t i = 0; i < n; i++) {
		struct sobj *o = hmap_get(&s->objs, keys[i]);
		if (o)
			json_object_array_add(arr, parse(o));
	}
	pthread_rwlock_unlock(&s->lk);
	store_keys_free(keys, n);
	return arr;
}

void store_each(struct store *s, void (*fn)(void *ctx, json_object *obj), void *ctx)
{
	size_t n;
	char **keys = store_keys(s, &n);
	for (size_t i = 0; i < n; i++) {
		json_object *o = NULL;
		if (store_get(s, keys[i], &o) == 0) {
			fn(ctx, o);
			json_object_put(o);
		}
	}
	store_keys_free(keys, n);
}

json_object *store_list(struct store *s)
{
	size_t n;
	char **keys = store_keys(s, &n);
	json_object *arr = copies_of(s, keys, n);
	return arr;
}

static struct index *find_index(struct store *s, const char *name)
{
	for (int i = 0; i < s->nidx; i++)
		if (strcmp(s->idx[i].name, name) == 0)
			return &s->idx[i];
	return NULL;
}

int store_index_keys(struct store *s, const char *name, const char *value, char ***keys, size_t *n)
{
	pthread_rwlock_rdlock(&s->lk);
	struct index *ix = find_index(s, name);
	if (!ix) {
		pthread_rwlock_unlock(&s->lk);
		return -EINVAL;
	}
	struct hmap *set = hmap_get(&ix->vals, value);
	size_t cnt = set ? set->n : 0, i = 0, b = 0;
	char **k = xcalloc(cnt + 1, sizeof(char *));
	if (set)
		for (struct hmap_ent *e = NULL; (e = hmap_next(set, e, &b)) && i < cnt;)
			k[i++] = xstrdup(e->key);
	pthread_rwlock_unlock(&s->lk);
	qsort(k, i, sizeof(char *), cmp_str);
	*keys = k;
	*n = i;
	return 0;
}

int store_by_index(struct store *s, const char *name, const char *value, json_object **out)
{
	char **keys;
	size_t n;
	int rc = store_index_keys(s, name, value, &keys, &n);
	if (rc)
		return rc;
	json_object *arr = copies_of(s, keys, n);
	*out = arr;
	return 0;
}

char **store_keys(struct store *s, size_t *n)
{
	pthread_rwlock_rdlock(&s->lk);
	size_t cnt = s->objs.n, i = 0, b = 0;
	char **k = xcalloc(cnt + 1, sizeof(char *));
	for (struct hmap_ent *e = NULL; (e = hmap_next(&s->objs, e, &b)) && i < cnt;)
		k[i++] = xstrdup(e->key);
	pthread_rwlock_unlock(&s->lk);
	qsort(k, i, sizeof(char *), cmp_str);
	*n = i;
	return k;
}

void store_keys_free(char **keys, size_t n)
{
	if (!keys)
		return;
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

size_t store_len(struct store *s)
{
	pthread_rwlock_rdlock(&s->lk);
	size_t n = s->objs.n;
	pthread_rwlock_unlock(&s->lk);
	return n;
}
