#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache/store.h"

static json_object *obj(const char *ns, const char *name, const char *rv, const char *labels_json,
			const char *owner_uid)
{
	char buf[1024];
	char owner[256] = "";
	if (owner_uid)
		snprintf(owner, sizeof owner, ",\"ownerReferences\":[{\"uid\":\"%s\",\"kind\":\"X\",\"name\":\"o\"}]",
			 owner_uid);
	snprintf(buf, sizeof buf,
		 "{\"metadata\":{\"name\":\"%s\"%s%s%s,\"resourceVersion\":\"%s\",\"labels\":%s%s}}", name,
		 ns ? ",\"namespace\":\"" : "", ns ? ns : "", ns ? "\"" : "", rv,
		 labels_json ? labels_json : "{}", owner);
	json_object *o = json_tokener_parse(buf);
	assert_non_null(o);
	return o;
}

struct rec {
	char log[4096];
};

static void record(void *ctx, enum store_delta_type t, json_object *o, json_object *n)
{
	struct rec *r = ctx;
	json_object *x = n ? n : o;
	char *key = store_key_of(x);
	const char *tag = t == STORE_ADDED ? "A" : t == STORE_UPDATED ? "U" : "D";
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof r->log - l, "%s:%s ", tag, key);
	free(key);
}

static void test_key_of(void **st)
{
	(void)st;
	json_object *a = obj("ns1", "a", "1", NULL, NULL), *b = obj(NULL, "node-1", "1", NULL, NULL);
	char *ka = store_key_of(a), *kb = store_key_of(b);
	assert_string_equal(ka, "ns1/a");
	assert_string_equal(kb, "node-1");
	free(ka);
	free(kb);
	json_object *noname = json_tokener_parse("{\"metadata\":{}}");
	assert_null(store_key_of(noname));
	json_object_put(noname);
	json_object_put(a);
	json_object_put(b);
}

static void test_upsert_get_delete(void **st)
{
	(void)st;
	struct store *s;
	struct rec r = {{0}};
	assert_int_equal(store_new(&s), 0);
	store_upsert_take(s, obj("ns1", "a", "1", NULL, NULL), record, &r);
	store_upsert_take(s, obj("ns1", "a", "2", NULL, NULL), record, &r);
	store_upsert_take(s, obj("ns2", "b", "3", NULL, NULL), record, &r);
	assert_string_equal(r.log, "A:ns1/a U:ns1/a A:ns2/b ");
	assert_int_equal(store_len(s), 2);
	json_object *got = NULL;
	assert_int_equal(store_get(s, "ns1/a", &got), 0);
	/* a deep copy: changing it does not change the store */
	json_object *md;
	json_object_object_get_ex(got, "metadata", &md);
	assert_string_equal(json_object_get_string(json_object_object_get(md, "resourceVersion")), "2");
	json_object_object_add(md, "resourceVersion", json_object_new_string("999"));
	json_object_put(got);
	assert_int_equal(store_get(s, "ns1/a", &got), 0);
	json_object_object_get_ex(got, "metadata", &md);
	assert_string_equal(json_object_get_string(json_object_object_get(md, "resourceVersion")), "2");
	json_object_put(got);
	assert_int_equal(store_get(s, "ns1/zz", &got), -ENOENT);
	assert_null(got);
	r.log[0] = 0;
	store_delete_take(s, obj("ns1", "a", "4", NULL, NULL), record, &r);
	store_delete_take(s, obj("ns1", "a", "4", NULL, NULL), record, &r);   /* absent: no delta */
	assert_string_equal(r.log, "D:ns1/a ");
	assert_false(store_has(s, "ns1/a"));
	assert_true(store_has(s, "ns2/b"));
	store_free(s);
}

static size_t index_count(struct store *s, const char *ix, const char *val, const char *first)
{
	char **keys;
	size_t n;
	assert_int_equal(store_index_keys(s, ix, val, &keys, &n), 0);
	if (first && n)
		assert_string_equal(keys[0], first);
	store_keys_free(keys, n);
	return n;
}

static void test_indexes(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_new(&s), 0);
	assert_int_equal(store_add_index(s, STORE_INDEX_LABEL, store_index_labels), 0);
	assert_int_equal(store_add_index(s, STORE_INDEX_OWNER, store_index_owners), 0);
	store_upsert_take(s, obj("ns1", "a", "1", "{\"app\":\"x\",\"tier\":\"db\"}", "u1"), NULL, NULL);
	store_upsert_take(s, obj("ns1", "b", "1", "{\"app\":\"y\"}", "u1"), NULL, NULL);
	store_upsert_take(s, obj("ns2", "c", "1", "{\"app\":\"x\"}", "u2"), NULL, NULL);
	assert_int_equal(index_count(s, STORE_INDEX_NAMESPACE, "ns1", "ns1/a"), 2);
	assert_int_equal(index_count(s, STORE_INDEX_NAMESPACE, "ns2", "ns2/c"), 1);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "app=x", "ns1/a"), 2);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "tier=db", "ns1/a"), 1);
	assert_int_equal(index_count(s, STORE_INDEX_OWNER, "u1", "ns1/a"), 2);
	/* an update moves the object between index values */
	store_upsert_take(s, obj("ns1", "a", "2", "{\"app\":\"y\"}", "u2"), NULL, NULL);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "app=x", "ns2/c"), 1);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "app=y", "ns1/a"), 2);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "tier=db", NULL), 0);
	assert_int_equal(index_count(s, STORE_INDEX_OWNER, "u2", "ns1/a"), 2);
	/* a delete removes it */
	store_delete_take(s, obj("ns1", "a", "3", NULL, NULL), NULL, NULL);
	assert_int_equal(index_count(s, STORE_INDEX_OWNER, "u2", "ns2/c"), 1);
	json_object *arr;
	assert_int_equal(store_by_index(s, STORE_INDEX_LABEL, "app=y", &arr), 0);
	assert_int_equal(json_object_array_length(arr), 1);
	json_object_put(arr);
	assert_int_equal(store_by_index(s, "nope", "x", &arr), -EINVAL);
	store_free(s);
}

static void idx_tier(json_object *o, store_index_emit emit, void *ectx)
{
	json_object *md, *l, *v;
	if (json_object_object_get_ex(o, "metadata", &md) && json_object_object_get_ex(md, "labels", &l) &&
	    json_object_object_get_ex(l, "tier", &v)) {
		emit(ectx, json_object_get_string(v));
		emit(ectx, "has-tier");
	}
}

static void test_custom_index(void **st)
{
	(void)st;
	struct store *s;
	assert_int_equal(store_new(&s), 0);
	assert_int_equal(store_add_index(s, "tier", idx_tier), 0);
	assert_int_equal(store_add_index(s, "tier", idx_tier), -EEXIST);
	store_upsert_take(s, obj("ns1", "a", "1", "{\"tier\":\"db\"}", NULL), NULL, NULL);
	store_upsert_take(s, obj("ns1", "b", "1", "{\"tier\":\"web\"}", NULL), NULL, NULL);
	store_upsert_take(s, obj("ns1", "c", "1", "{}", NULL), NULL, NULL);
	assert_int_equal(index_count(s, "tier", "db", "ns1/a"), 1);
	assert_int_equal(index_count(s, "tier", "has-tier", "ns1/a"), 2);
	/* indexes can not be added once objects are in */
	assert_int_equal(store_add_index(s, "late", idx_tier), -EINVAL);
	store_free(s);
}

static void test_replace_diff(void **st)
{
	(void)st;
	struct store *s;
	struct rec r = {{0}};
	assert_int_equal(store_new(&s), 0);
	assert_int_equal(store_add_index(s, STORE_INDEX_LABEL, store_index_labels), 0);
	store_upsert_take(s, obj("ns", "same", "1", NULL, NULL), NULL, NULL);
	store_upsert_take(s, obj("ns", "changed", "1", "{\"v\":\"old\"}", NULL), NULL, NULL);
	store_upsert_take(s, obj("ns", "gone", "1", NULL, NULL), NULL, NULL);
	json_object *items = json_object_new_array();
	json_object_array_add(items, obj("ns", "same", "1", NULL, NULL));
	json_object_array_add(items, obj("ns", "changed", "5", "{\"v\":\"new\"}", NULL));
	json_object_array_add(items, obj("ns", "new", "6", NULL, NULL));
	int n = store_replace(s, items, record, &r);
	json_object_put(items);
	assert_int_equal(n, 3);
	/* every change reported, the unchanged object not */
	assert_non_null(strstr(r.log, "U:ns/changed "));
	assert_non_null(strstr(r.log, "A:ns/new "));
	assert_non_null(strstr(r.log, "D:ns/gone "));
	assert_null(strstr(r.log, "ns/same"));
	assert_int_equal(store_len(s), 3);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "v=new", "ns/changed"), 1);
	assert_int_equal(index_count(s, STORE_INDEX_LABEL, "v=old", NULL), 0);
	size_t nk;
	char **keys = store_keys(s, &nk);
	assert_int_equal(nk, 3);
	assert_string_equal(keys[0], "ns/changed");
	assert_string_equal(keys[1], "ns/new");
	assert_string_equal(keys[2], "ns/same");
	store_keys_free(keys, nk);
	/* resync reports every object as an update with old == new */
	r.log[0] = 0;
	store_resync(s, record, &r);
	assert_non_null(strstr(r.log, "U:ns/same "));
	assert_non_null(strstr(r.log, "U:ns/new "));
	json_object *all = store_list(s);
	assert_int_equal(json_object_array_length(all), 3);
	json_object_put(all);
	store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_of),
		cmocka_unit_test(test_upsert_get_delete),
		cmocka_unit_test(test_indexes),
		cmocka_unit_test(test_custom_index),
		cmocka_unit_test(test_replace_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
