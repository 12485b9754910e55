#include "cache/store.h"

#include <errno.h>
#include <pthread.h>
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

struct store {
	pthread_rwlock_t lk;
	struct hmap objs;   /* key -> json_object * */
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

static void idx_label(json_object *obj, store_index_emit emit, void *ectx)
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

static void idx_owner(json_object *obj, store_index_emit emit, void *ectx)
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
	json_object_put(p);
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
	store_add_index(s, STORE_INDEX_LABEL, idx_label);
	store_add_index(s, STORE_INDEX_OWNER, idx_owner);
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

/* Locked (write). */
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
	pthread_rwlock_wrlock(&s->lk);
	json_object *old = hmap_put(&s->objs, key, obj);
	index_update(s, key, old, obj);
	pthread_rwlock_unlock(&s->lk);
	if (cb)
		cb(ctx, old ? STORE_UPDATED : STORE_ADDED, old, obj);
	json_object_put(old);
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
	json_object *old = hmap_del(&s->objs, key);
	if (old)
		index_update(s, key, old, NULL);
	pthread_rwlock_unlock(&s->lk);
	if (old && cb)
		cb(ctx, STORE_DELETED, old, NULL);
	json_object_put(old);
	free(key);
	return 0;
}

struct delta {
	enum store_delta_type t;
	json_object *old_obj, *new_obj;
};

int store_replace(struct store *s, json_object *items, store_delta_cb cb, void *ctx)
{
	size_t n = items ? json_object_array_length(items) : 0;
	struct hmap fresh;
	hmap_init(&fresh);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(items, i);
		char *key = store_key_of(o);
		if (!key)
			continue;
		json_object *prev = hmap_put(&fresh, key, json_object_get(o));
		json_object_put(prev);
		free(key);
	}
	struct delta *d = NULL;
	size_t nd = 0, capd = 0;
	pthread_rwlock_wrlock(&s->lk);
	/* additions and updates */
	size_t b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&fresh, e, &b));) {
		json_object *old = hmap_get(&s->objs, e->key);
		const char *orv = old ? meta_str(old, "resourceVersion") : NULL;
		const char *nrv = meta_str(e->val, "resourceVersion");
		bool changed = !old || !orv || !nrv || strcmp(orv, nrv) != 0;
		if (old && !changed)
			continue;
		if (nd == capd) {
			capd = capd ? capd * 2 : 16;
			d = xrealloc(d, capd * sizeof(*d));
		}
		d[nd].t = old ? STORE_UPDATED : STORE_ADDED;
		d[nd].old_obj = old;   /* reference moves to the delta below */
		d[nd].new_obj = e->val;
		nd++;
	}
	/* deletions */
	b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&s->objs, e, &b));) {
		if (hmap_get(&fresh, e->key))
			continue;
		if (nd == capd) {
			capd = capd ? capd * 2 : 16;
			d = xrealloc(d, capd * sizeof(*d));
		}
		d[nd].t = STORE_DELETED;
		d[nd].old_obj = e->val;
		d[nd].new_obj = NULL;
		nd++;
	}
	/* swap in the fresh content: objects unchanged keep the old instance so
	 * that readers see no churn */
	b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&fresh, e, &b));) {
		json_object *old = hmap_get(&s->objs, e->key);
		const char *orv = old ? meta_str(old, "resourceVersion") : NULL;
		const char *nrv = meta_str(e->val, "resourceVersion");
		if (old && orv && nrv && strcmp(orv, nrv) == 0) {
			json_object_put(e->val);
			e->val = json_object_get(old);
		}
	}
	/* rebuild indexes */
	for (int i = 0; i < s->nidx; i++) {
		hmap_cleanup(&s->idx[i].vals, free_set);
		hmap_init(&s->idx[i].vals);
	}
	struct hmap oldmap = s->objs;
	s->objs = fresh;
	b = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&s->objs, e, &b));)
		index_update(s, e->key, NULL, e->val);
	pthread_rwlock_unlock(&s->lk);
	/* keep the old objects referenced by deltas alive until the callbacks ran */
	for (size_t i = 0; i < nd; i++)
		if (d[i].old_obj)
			json_object_get(d[i].old_obj);
	hmap_cleanup(&oldmap, free_obj);
	for (size_t i = 0; i < nd; i++) {
		if (cb)
			cb(ctx, d[i].t, d[i].old_obj, d[i].new_obj);
		json_object_put(d[i].old_obj);
	}
	free(d);
	return (int)nd;
}

void store_resync(struct store *s, store_delta_cb cb, void *ctx)
{
	/* Take references under the lock, call back outside it. Only the
	 * writer thread calls this, so the references are safe. */
	pthread_rwlock_rdlock(&s->lk);
	size_t n = s->objs.n, i = 0, b = 0;
	json_object **v = xcalloc(n ? n : 1, sizeof(*v));
	for (struct hmap_ent *e = NULL; (e = hmap_next(&s->objs, e, &b)) && i < n;)
		v[i++] = e->val;
	pthread_rwlock_unlock(&s->lk);
	for (size_t j = 0; j < i; j++)
		cb(ctx, STORE_UPDATED, v[j], v[j]);
	free(v);
}

static json_object *copy(json_object *o)
{
	json_object *dst = NULL;
	if (json_object_deep_copy(o, &dst, NULL) != 0)
		abort();   /* only fails on allocation */
	return dst;
}

int store_get(struct store *s, const char *key, json_object **out)
{
	pthread_rwlock_rdlock(&s->lk);
	json_object *o = hmap_get(&s->objs, key);
	*out = o ? copy(o) : NULL;
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

/* Copies of the objects under keys (in that order; gone ones skipped); frees keys. */
static json_object *copies_of(struct store *s, char **keys, size_t n)
{
	json_object *arr = json_object_new_array();
	pthread_rwlock_rdlock(&s->lk);
	for (size_t i = 0; i < n; i++) {
		json_object *o = hmap_get(&s->objs, keys[i]);
		if (o)
			json_object_array_add(arr, copy(o));
	}
	pthread_rwlock_unlock(&s->lk);
	store_keys_free(keys, n);
	return arr;
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
