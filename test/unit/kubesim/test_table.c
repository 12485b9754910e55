/* kubesim server-side printing (table.c), YAML bodies (yaml2json.c) and
 * kubectl's protobuf envelope (pb.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pb.h"
#include "simjson.h"
#include "table.h"
#include "util/timeutil.h"
#include "yaml2json.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void test_jsonpath_subset(void **state)
{
	(void)state;
	json_object *o = J("{\"spec\":{\"repo\":\"a/b\",\"list\":[{\"x\":1},{\"x\":2}]},"
			   "\"status\":{\"conditions\":[{\"type\":\"Valid\",\"reason\":\"Ok\"},"
			   "{\"type\":\"Ready\",\"reason\":\"Staged\",\"status\":\"True\"}]}}");
	assert_string_equal(json_object_get_string(table_jsonpath(o, ".spec.repo")), "a/b");
	assert_int_equal(json_object_get_int(table_jsonpath(o, ".spec.list[1].x")), 2);
	assert_int_equal(json_object_get_int(table_jsonpath(o, ".spec.list[-1].x")), 2);
	assert_string_equal(json_object_get_string(table_jsonpath(o, ".status.conditions[?(@.type==\"Ready\")].reason")),
			    "Staged");
	assert_string_equal(json_object_get_string(table_jsonpath(o, "{.status.conditions[?(@.type=='Valid')].reason}")),
			    "Ok");
	assert_null(table_jsonpath(o, ".status.conditions[?(@.type==\"Nope\")].reason"));
	assert_null(table_jsonpath(o, ".spec.missing.deeper"));
	assert_null(table_jsonpath(o, ".spec.list[7].x"));
	/* [*]: the first element that has the rest of the path, like the
	 * apiserver's table convertor (the GPUs column of `kubectl get ic`) */
	assert_int_equal(json_object_get_int(table_jsonpath(o, ".spec.list[*].x")), 1);
	assert_string_equal(json_object_get_string(table_jsonpath(o, ".status.conditions[*].status")), "True");
	assert_null(table_jsonpath(o, ".spec.list[*].y"));
	assert_null(table_jsonpath(o, ".spec.repo[*].x"));
	json_object_put(o);
}

static void test_age(void **state)
{
	(void)state;
	char b[32];
	struct {
		int64_t s;
		const char *want;
	} c[] = {{5, "5s"}, {119, "119s"}, {125, "2m5s"}, {900, "15m"}, {4 * 3600 + 120, "4h2m"},
		 {30 * 3600, "30h"}, {3 * 86400 + 7200, "3d2h"}, {40 * 86400, "40d"}};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		table_age(c[i].s, b);
		assert_string_equal(b, c[i].want);
	}
}

static void test_crd_table(void **state)
{
	(void)state;
	json_object *desc = J("{\"resource\":\"modelcaches\",\"crd\":true,\"columns\":["
			      "{\"name\":\"Source\",\"type\":\"string\",\"jsonPath\":\".spec.repo\"},"
			      "{\"name\":\"Status\",\"type\":\"string\",\"jsonPath\":\".status.conditions[?(@.type==\\\"Ready\\\")].reason\"},"
			      "{\"name\":\"Age\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"},"
			      "{\"name\":\"Rev\",\"type\":\"string\",\"priority\":1,\"jsonPath\":\".spec.rev\"}]}");
	char ts[32];
	rfc3339_format(1000000, ts);
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "[{\"metadata\":{\"name\":\"q\",\"namespace\":\"n\",\"creationTimestamp\":\"%s\"},\"spec\":{\"repo\":\"a/b\"},"
		 "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"reason\":\"Staged\"}]}}]",
		 ts);
	json_object *items = J(buf);
	json_object *t = table_build(desc, items, 1, TABLE_INCLUDE_METADATA, 1000000 + 65);
	assert_string_equal(sj_str(t, "kind", NULL), "Table");
	assert_string_equal(sj_str(t, "apiVersion", NULL), "meta.k8s.io/v1");
	json_object *defs = sj_get(t, "columnDefinitions");
	assert_int_equal(json_object_array_length(defs), 5);
	assert_string_equal(sj_str(json_object_array_get_idx(defs, 0), "name", NULL), "Name");
	assert_string_equal(sj_str(json_object_array_get_idx(defs, 1), "name", NULL), "Source");
	assert_int_equal(json_object_get_int(sj_get(json_object_array_get_idx(defs, 4), "priority")), 1);
	json_object *row = json_object_array_get_idx(sj_get(t, "rows"), 0);
	json_object *cells = sj_get(row, "cells");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 0)), "q");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 1)), "a/b");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 2)), "Staged");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 3)), "65s");
	assert_null(json_object_array_get_idx(cells, 4)); /* missing => null cell */
	assert_string_equal(sj_str(row, "object", "kind", NULL), "PartialObjectMetadata");
	assert_string_equal(sj_str(row, "object", "metadata", "namespace", NULL), "n");
	json_object_put(t);
	/* watch events after the first: no column definitions */
	t = table_build(desc, items, 0, TABLE_INCLUDE_NONE, 1000000);
	assert_int_equal(json_object_array_length(sj_get(t, "columnDefinitions")), 0);
	assert_null(sj_get(json_object_array_get_idx(sj_get(t, "rows"), 0), "object"));
	json_object_put(t);
	json_object_put(items);
	json_object_put(desc);
}

static void test_builtin_table(void **state)
{
	(void)state;
	json_object *desc = J("{\"resource\":\"persistentvolumeclaims\",\"crd\":false}");
	json_object *items = J("[{\"metadata\":{\"name\":\"p\"},\"spec\":{\"volumeName\":\"pv-1\",\"storageClassName\":\"rwx\"},"
			       "\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"1Gi\"}}}]");
	json_object *t = table_build(desc, items, 1, TABLE_INCLUDE_METADATA, 0);
	json_object *defs = sj_get(t, "columnDefinitions");
	const char *want[] = {"Name", "Status", "Volume", "Capacity", "StorageClass", "Age"};
	assert_int_equal(json_object_array_length(defs), 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(sj_str(json_object_array_get_idx(defs, i), "name", NULL), want[i]);
	json_object *cells = sj_get(json_object_array_get_idx(sj_get(t, "rows"), 0), "cells");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 1)), "Bound");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 3)), "1Gi");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cells, 5)), "<unknown>");
	json_object_put(t);
	json_object_put(items);
	json_object_put(desc);
}

static void test_yaml_to_json(void **state)
{
	(void)state;
	const char *y = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: {a: \"1\", b: 2}\n"
			"data:\n  t: 'true'\nlist: [1, 2.5, true, null, ~, x]\n";
	json_object *o = NULL;
	assert_int_equal(yaml_to_json(y, strlen(y), &o), 0);
	assert_string_equal(sj_str(o, "metadata", "name", NULL), "x");
	assert_string_equal(sj_str(o, "metadata", "labels", "a", NULL), "1");
	assert_true(json_object_is_type(sj_get(sj_get(sj_get(o, "metadata"), "labels"), "b"), json_type_int));
	assert_string_equal(sj_str(o, "data", "t", NULL), "true");
	json_object *l = sj_get(o, "list");
	assert_int_equal(json_object_array_length(l), 6);
	assert_true(json_object_is_type(json_object_array_get_idx(l, 1), json_type_double));
	assert_true(json_object_is_type(json_object_array_get_idx(l, 2), json_type_boolean));
	assert_null(json_object_array_get_idx(l, 3));
	assert_string_equal(json_object_get_string(json_object_array_get_idx(l, 5)), "x");
	json_object_put(o);
	const char *bad = "a: [1, 2\n";
	assert_int_equal(yaml_to_json(bad, strlen(bad), &o), -22);
}

/* apply-patch+yaml bodies are decoded with go-yaml v2's escapes: json-c's
 * "\/" is refused with the apiserver's words, the escapes go-yaml knows
 * decode, and a refusal on a later line names it as go-yaml does. */
static void test_yaml_k8s_escapes(void **state)
{
	(void)state;
	json_object *o = NULL;
	char *err = NULL;
	const char *slash = "{\"metadata\":{\"labels\":{\"app.kubernetes.io\\/managed-by\":\"x\"}}}";
	assert_int_equal(yaml_to_json_k8s(slash, strlen(slash), &o, &err), -22);
	assert_string_equal(err, "yaml: found unknown escape character");
	free(err);
	/* plain libyaml accepts it (that is what let it through before) */
	assert_int_equal(yaml_to_json(slash, strlen(slash), &o), 0);
	json_object_put(o);
	o = NULL;
	const char *later = "a: 1\nb:\n  c: \"x\\/y\"\n";
	assert_int_equal(yaml_to_json_k8s(later, strlen(later), &o, &err), -22);
	assert_string_equal(err, "yaml: line 3: found unknown escape character");
	free(err);
	const char *ok = "{\"k\":\"a\\\"b\\\\c\\td\\u00e9\\x41\\N\\ \", 'single\\/': \"\"}";
	assert_int_equal(yaml_to_json_k8s(ok, strlen(ok), &o, &err), 0);
	assert_null(err);
	assert_string_equal(sj_str(o, "k", NULL), "a\"b\\c\td\xc3\xa9" "A\xc2\x85 ");
	assert_string_equal(sj_str(o, "single\\/", NULL), "");
	json_object_put(o);
	o = NULL;
	const char *unclosed = "a: [1, 2\n";
	assert_int_equal(yaml_to_json_k8s(unclosed, strlen(unclosed), &o, &err), -22);
	assert_non_null(strstr(err, "yaml: "));
	free(err);
}

/* protobuf helpers for building test input */
static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t n = 0;
	do {
		p[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

static size_t put_bytes(unsigned char *p, int field, const void *d, size_t len)
{
	size_t n = put_varint(p, (uint64_t)field << 3 | 2);
	n += put_varint(p + n, len);
	memcpy(p + n, d, len);
	return n + len;
}

static void test_protobuf_configmap(void **state)
{
	(void)state;
	unsigned char meta[256], entry[64], cm[512], tm[64], env[1024];
	size_t m = put_bytes(meta, 1, "foo", 3);
	m += put_bytes(meta + m, 3, "ns1", 3);
	size_t e = put_bytes(entry, 1, "app", 3);
	e += put_bytes(entry + e, 2, "x", 1);
	m += put_bytes(meta + m, 11, entry, e); /* labels */
	size_t c = put_bytes(cm, 1, meta, m);
	e = put_bytes(entry, 1, "k", 1);
	e += put_bytes(entry + e, 2, "v", 1);
	c += put_bytes(cm + c, 2, entry, e); /* data */
	size_t t = put_bytes(tm, 1, "v1", 2);
	t += put_bytes(tm + t, 2, "ConfigMap", 9);
	memcpy(env, "k8s\0", 4);
	size_t n = 4 + put_bytes(env + 4, 1, tm, t);
	n += put_bytes(env + n, 2, cm, c);
	json_object *o = NULL;
	assert_int_equal(pb_decode_object(env, n, &o), 0);
	assert_string_equal(sj_str(o, "kind", NULL), "ConfigMap");
	assert_string_equal(sj_str(o, "metadata", "name", NULL), "foo");
	assert_string_equal(sj_str(o, "metadata", "namespace", NULL), "ns1");
	assert_string_equal(sj_str(o, "metadata", "labels", "app", NULL), "x");
	assert_string_equal(sj_str(o, "data", "k", NULL), "v");
	json_object_put(o);
	/* truncated input is an error, never a read past the end */
	for (size_t cut = 5; cut < n; cut += 3) {
		json_object *x = NULL;
		int rc = pb_decode_object(env, cut, &x);
		if (rc == 0)
			json_object_put(x);
	}
	/* unsupported kind */
	t = put_bytes(tm, 1, "apps/v1", 7);
	t += put_bytes(tm + t, 2, "Deployment", 10);
	n = 4 + put_bytes(env + 4, 1, tm, t);
	n += put_bytes(env + n, 2, cm, c);
	assert_int_equal(pb_decode_object(env, n, &o), -95 /* ENOTSUP */);
}

static void test_sj_parse(void **state)
{
	(void)state;
	char deep[1024] = "";
	for (int i = 0; i < 100; i++)
		strcat(deep, "{\"a\":");
	strcat(deep, "1");
	for (int i = 0; i < 100; i++)
		strcat(deep, "}");
	json_object *o = sj_parse(deep, strlen(deep));
	assert_non_null(o); /* json_tokener_parse stops at depth 32 */
	json_object_put(o);
	o = sj_parse("{\"a\":1}  \n", 10);
	assert_non_null(o);
	json_object_put(o);
	assert_null(sj_parse("{\"a\":1} x", 10));
	assert_null(sj_parse("{\"a\":", 5));
	o = sj_parse("42", 2);
	assert_non_null(o);
	assert_int_equal(json_object_get_int(o), 42);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonpath_subset),
		cmocka_unit_test(test_age),
		cmocka_unit_test(test_crd_table),
		cmocka_unit_test(test_builtin_table),
		cmocka_unit_test(test_yaml_to_json),
		cmocka_unit_test(test_yaml_k8s_escapes),
		cmocka_unit_test(test_protobuf_configmap),
		cmocka_unit_test(test_sj_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
