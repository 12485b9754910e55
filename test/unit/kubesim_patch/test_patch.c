/* kubesim patch flavours: RFC 7386, RFC 6902, strategic merge, server-side
 * apply with managedFields ownership, removal and conflicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "patch.h"

static json_object *parse(const char *s)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	if (json_tokener_get_error(tok) != json_tokener_success)
		fail_msg("bad test JSON: %s", s);
	json_tokener_free(tok);
	return o;
}

/* compare to expected JSON (order-insensitive for object keys, via json_object_equal) */
static void assert_json(json_object *got, const char *want)
{
	json_object *w = parse(want);
	if (!json_object_equal(got, w))
		fail_msg("got  %s\nwant %s", got ? json_object_to_json_string(got) : "null", want);
	json_object_put(w);
}

static json_object *at(json_object *o, const char *path)
{
	char *dup = strdup(path), *save = NULL;
	for (char *tok = strtok_r(dup, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		json_object *next = NULL;
		if (json_object_is_type(o, json_type_array)) {
			o = json_object_array_get_idx(o, (size_t)atoi(tok));
			continue;
		}
		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, tok, &next))
			o = NULL;
		else
			o = next;
	}
	free(dup);
	return o;
}

/* ---- RFC 7386 ---- */

static void test_merge_rfc7386_examples(void **state)
{
	(void)state;
	static const char *cases[][3] = {
		{"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
		{"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
		{"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
		{"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
		{"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
		{"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
		{"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
		{"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
		{"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
		{"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
		{"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
		{"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
		{"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *t = parse(cases[i][0]), *p = parse(cases[i][1]);
		assert_int_equal(patch_merge(&t, p), 0);
		assert_json(t, cases[i][2]);
		json_object_put(t);
		json_object_put(p);
	}
	/* a null patch replaces the document with null */
	json_object *t = parse("{\"a\":\"foo\"}");
	assert_int_equal(patch_merge(&t, NULL), 0);
	assert_null(t);
}

static void test_merge_does_not_alias_patch(void **state)
{
	(void)state;
	json_object *t = parse("{}"), *p = parse("{\"a\":{\"b\":[1]}}");
	assert_int_equal(patch_merge(&t, p), 0);
	json_object_array_add(at(p, "a.b"), json_object_new_int(2));
	assert_json(t, "{\"a\":{\"b\":[1]}}");
	json_object_put(t);
	json_object_put(p);
}

/* ---- RFC 6902 ---- */

static void json_patch_ok(const char *doc, const char *ops, const char *want)
{
	json_object *t = parse(doc), *o = parse(ops);
	char *err = NULL;
	if (patch_json(&t, o, &err) != 0)
		fail_msg("patch %s failed: %s", ops, err);
	assert_null(err);
	assert_json(t, want);
	json_object_put(t);
	json_object_put(o);
}

static void json_patch_fails(const char *doc, const char *ops, const char *want_err)
{
	json_object *t = parse(doc), *o = parse(ops), *before = parse(doc);
	char *err = NULL;
	assert_int_equal(patch_json(&t, o, &err), -1);
	assert_non_null(err);
	assert_string_equal(err, want_err);
	/* all or nothing: the target is untouched */
	assert_true(json_object_equal(t, before));
	free(err);
	json_object_put(t);
	json_object_put(o);
	json_object_put(before);
}

static void test_json_patch_rfc6902(void **state)
{
	(void)state;
	json_patch_ok("{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
		      "{\"baz\":\"qux\",\"foo\":\"bar\"}");
	json_patch_ok("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
		      "{\"foo\":[\"bar\",\"qux\",\"baz\"]}");
	json_patch_ok("{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/0\",\"value\":\"qux\"}]",
		      "{\"foo\":[\"qux\",\"bar\",\"baz\"]}");
	json_patch_ok("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\"]}]",
		      "{\"foo\":[\"bar\",[\"abc\"]]}");
	json_patch_ok("{\"foo\":[\"bar\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":1}]",
		      "{\"foo\":[\"bar\",1]}");
	json_patch_ok("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]", "{\"foo\":\"bar\"}");
	json_patch_ok("{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
		      "{\"foo\":[\"bar\",\"baz\"]}");
	json_patch_ok("{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
		      "{\"baz\":\"boo\",\"foo\":\"bar\"}");
	json_patch_ok("{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
		      "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
		      "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}");
	json_patch_ok("{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
		      "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
		      "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}");
	json_patch_ok("{\"a\":{\"b\":[1,2]}}", "[{\"op\":\"copy\",\"from\":\"/a/b\",\"path\":\"/c\"},"
		      "{\"op\":\"add\",\"path\":\"/c/-\",\"value\":3}]",
		      "{\"a\":{\"b\":[1,2]},\"c\":[1,2,3]}");
	json_patch_ok("{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
		      "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
		      "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}");
	/* escapes: ~1 is '/', ~0 is '~' */
	json_patch_ok("{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10},"
		      "{\"op\":\"replace\",\"path\":\"/~1\",\"value\":8}]", "{\"/\":8,\"~1\":10}");
	json_patch_ok("{\"metadata\":{\"labels\":{}}}",
		      "[{\"op\":\"add\",\"path\":\"/metadata/labels/app.kubernetes.io~1name\",\"value\":\"x\"}]",
		      "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"x\"}}}");
	/* the root */
	json_patch_ok("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"b\":2}}]", "{\"b\":2}");
	json_patch_ok("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/n\",\"value\":null}]", "{\"a\":1,\"n\":null}");
}

static void test_json_patch_errors_are_atomic(void **state)
{
	(void)state;
	/* the first op applies, the second fails: nothing is kept */
	json_patch_fails("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},"
			 "{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", "testing value /a failed: test failed");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/x/y\",\"value\":2}]",
			 "add operation does not apply: doc is missing path: \"/x/y\": missing value");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]",
			 "remove operation does not apply: doc is missing path: \"/b\": missing value");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":1}]",
			 "replace operation does not apply: doc is missing key: /b: missing value");
	json_patch_fails("{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/2\",\"value\":1}]",
			 "add operation does not apply: doc is missing path: \"/a/2\": missing value");
	json_patch_fails("{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/01\"}]",
			 "remove operation does not apply: doc is missing path: \"/a/01\": missing value");
	json_patch_fails("{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/-\"}]",
			 "remove operation does not apply: doc is missing path: \"/a/-\": missing value");
	json_patch_fails("{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/c\"}]",
			 "move operation does not apply: \"/a/c\" is a child of \"/a\"");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/z\",\"path\":\"/c\"}]",
			 "copy operation does not apply: doc is missing from path: \"/z\": missing value");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"frobnicate\",\"path\":\"/a\"}]", "Unexpected kind: frobnicate");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]",
			 "add operation does not apply: doc is missing path: \"a\": missing value");
	json_patch_fails("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/b\",\"value\":null}]",
			 "testing value /b failed: test failed");
	/* not an array at all */
	json_object *t = parse("{}"), *o = parse("{\"op\":\"add\"}");
	char *err = NULL;
	assert_int_equal(patch_json(&t, o, &err), -1);
	assert_non_null(err);
	free(err);
	json_object_put(t);
	json_object_put(o);
}

/* ---- strategic merge ---- */

static const char *DEPLOY =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
	"\"finalizers\":[\"a/x\"],\"labels\":{\"app\":\"d\",\"tier\":\"web\"}},"
	"\"spec\":{\"replicas\":1,\"template\":{\"spec\":{"
	"\"containers\":[{\"name\":\"main\",\"image\":\"img:1\",\"args\":[\"--a\",\"--b\"],"
	"   \"env\":[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],"
	"   \"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/mnt/a\"}],"
	"   \"ports\":[{\"containerPort\":80}]},"
	"  {\"name\":\"side\",\"image\":\"side:1\"}],"
	"\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}}},"
	"\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"False\"},{\"type\":\"Progressing\",\"status\":\"True\"}]}}";

static json_object *smp(const char *doc, const char *patch, const char *kind)
{
	json_object *t = parse(doc), *p = parse(patch);
	char *err = NULL;
	if (patch_strategic(&t, p, kind, &err) != 0)
		fail_msg("strategic patch failed: %s", err);
	json_object_put(p);
	return t;
}

static void test_strategic_keyed_lists(void **state)
{
	(void)state;
	json_object *t = smp(DEPLOY,
		"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"main\",\"image\":\"img:2\","
		"\"env\":[{\"name\":\"B\",\"value\":\"3\"},{\"name\":\"C\",\"value\":\"4\"}],"
		"\"volumeMounts\":[{\"name\":\"w\",\"mountPath\":\"/mnt/b\"}],\"args\":[\"--c\"],"
		"\"ports\":[{\"containerPort\":81}]},"
		"{\"name\":\"new\",\"image\":\"n:1\"}],"
		"\"volumes\":[{\"name\":\"w\",\"emptyDir\":{}}]}}}}", "Deployment");
	json_object *c = at(t, "spec.template.spec.containers");
	assert_int_equal(json_object_array_length(c), 3);
	assert_string_equal(json_object_get_string(at(c, "0.image")), "img:2");
	assert_string_equal(json_object_get_string(at(c, "1.name")), "side");
	assert_string_equal(json_object_get_string(at(c, "2.name")), "new");
	/* env merged by name: A kept, B updated, C appended */
	assert_json(at(c, "0.env"), "[{\"name\":\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"3\"},"
				    "{\"name\":\"C\",\"value\":\"4\"}]");
	/* volumeMounts by mountPath, ports by containerPort */
	assert_int_equal(json_object_array_length(at(c, "0.volumeMounts")), 2);
	assert_int_equal(json_object_array_length(at(c, "0.ports")), 2);
	/* args has no merge key: replaced */
	assert_json(at(c, "0.args"), "[\"--c\"]");
	assert_int_equal(json_object_array_length(at(t, "spec.template.spec.volumes")), 2);
	json_object_put(t);
}

static void test_strategic_directives(void **state)
{
	(void)state;
	/* delete a list element, delete a field with null, replace a list */
	json_object *t = smp(DEPLOY,
		"{\"metadata\":{\"labels\":{\"tier\":null}},\"spec\":{\"template\":{\"spec\":{"
		"\"containers\":[{\"name\":\"side\",\"$patch\":\"delete\"},"
		"                {\"name\":\"main\",\"env\":[{\"$patch\":\"replace\"},{\"name\":\"Z\",\"value\":\"9\"}]}]}}}}",
		"Deployment");
	assert_json(at(t, "metadata.labels"), "{\"app\":\"d\"}");
	assert_int_equal(json_object_array_length(at(t, "spec.template.spec.containers")), 1);
	assert_json(at(t, "spec.template.spec.containers.0.env"), "[{\"name\":\"Z\",\"value\":\"9\"}]");
	assert_string_equal(json_object_get_string(at(t, "spec.template.spec.containers.0.image")), "img:1");
	json_object_put(t);

	/* $patch: replace on a map, $patch: delete on a map */
	t = smp(DEPLOY, "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"only\":\"me\"}},"
			"\"spec\":{\"template\":{\"$patch\":\"delete\"}}}", "Deployment");
	assert_json(at(t, "metadata.labels"), "{\"only\":\"me\"}");
	assert_null(at(t, "spec.template"));
	assert_int_equal(json_object_get_int(at(t, "spec.replicas")), 1);
	json_object_put(t);

	/* $retainKeys: keys not listed are cleared (strategy switch emptyDir -> hostPath) */
	t = smp(DEPLOY, "{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{\"name\":\"v\","
			"\"$retainKeys\":[\"hostPath\",\"name\"],\"hostPath\":{\"path\":\"/x\"}}]}}}}", "Deployment");
	assert_json(at(t, "spec.template.spec.volumes"), "[{\"name\":\"v\",\"hostPath\":{\"path\":\"/x\"}}]");
	json_object_put(t);

	/* finalizers are a set; $deleteFromPrimitiveList removes from one */
	t = smp(DEPLOY, "{\"metadata\":{\"finalizers\":[\"a/x\",\"b/y\"]}}", "Deployment");
	assert_json(at(t, "metadata.finalizers"), "[\"a/x\",\"b/y\"]");
	json_object_put(t);
	t = smp(DEPLOY, "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"a/x\"],"
			"\"$setElementOrder/finalizers\":[]}}", "Deployment");
	assert_json(at(t, "metadata.finalizers"), "[]");
	json_object_put(t);

	/* conditions merge by type (status patches) */
	t = smp(DEPLOY, "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}]}}", "Deployment");
	assert_json(at(t, "status.conditions"), "[{\"type\":\"Available\",\"status\":\"True\"},"
						"{\"type\":\"Progressing\",\"status\":\"True\"}]");
	json_object_put(t);

	/* Service ports merge by port */
	t = smp("{\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":80,\"name\":\"http\"}]}}",
		"{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080},{\"port\":443}]}}", "Service");
	assert_json(at(t, "spec.ports"), "[{\"port\":80,\"name\":\"http\",\"targetPort\":8080},{\"port\":443}]");
	json_object_put(t);

	/* ownerReferences merge by uid */
	t = smp("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"}]}}",
		"{\"metadata\":{\"ownerReferences\":[{\"uid\":\"2\",\"name\":\"b\"},{\"uid\":\"1\",\"name\":\"a2\"}]}}", NULL);
	assert_json(at(t, "metadata.ownerReferences"), "[{\"uid\":\"1\",\"name\":\"a2\"},{\"uid\":\"2\",\"name\":\"b\"}]");
	json_object_put(t);
}

static void test_strategic_errors(void **state)
{
	(void)state;
	static const char *bad[] = {
		"{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}",
		"{\"metadata\":{\"$patch\":\"explode\"}}",
		"{\"spec\":{\"template\":{\"spec\":{\"volumes\":[{\"name\":\"v\",\"$retainKeys\":\"name\"}]}}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *t = parse(DEPLOY), *p = parse(bad[i]), *before = parse(DEPLOY);
		char *err = NULL;
		assert_int_equal(patch_strategic(&t, p, "Deployment", &err), -1);
		assert_non_null(err);
		assert_true(json_object_equal(t, before));
		free(err);
		json_object_put(t);
		json_object_put(p);
		json_object_put(before);
	}
	json_object *t = parse(DEPLOY), *p = parse("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}");
	char *err = NULL;
	assert_int_equal(patch_strategic(&t, p, "Deployment", &err), -1);
	assert_string_equal(err, "map: {\"image\":\"x\"} does not contain declared merge key: name");
	free(err);
	json_object_put(t);
	json_object_put(p);
}

/* ---- server-side apply ---- */

#define NOW "2026-11-23T16:00:00Z"

static json_object *entry_for(json_object *obj, const char *manager, const char *op)
{
	json_object *mf = at(obj, "metadata.managedFields");
	size_t n = mf ? json_object_array_length(mf) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(mf, i);
		if (!strcmp(json_object_get_string(at(e, "manager")), manager) &&
		    !strcmp(json_object_get_string(at(e, "operation")), op))
			return e;
	}
	return NULL;
}

static int apply(json_object **live, const char *applied, const char *manager, int force, char **err)
{
	json_object *a = parse(applied);
	int rc = patch_apply(live, a, manager, force, NOW, err);
	json_object_put(a);
	return rc;
}

static const char *APPLY_A =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\","
	"\"labels\":{\"app\":\"d\",\"extra\":\"1\"}},"
	"\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i:1\"},"
	"{\"name\":\"gone\",\"image\":\"g:1\"}]}}}}";

static void test_apply_create_records_fields(void **state)
{
	(void)state;
	json_object *live = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, APPLY_A, "op", 0, &err), 0);
	assert_null(err);
	assert_string_equal(json_object_get_string(at(live, "metadata.name")), "d");
	assert_int_equal(json_object_get_int(at(live, "spec.replicas")), 2);
	json_object *e = entry_for(live, "op", "Apply");
	assert_non_null(e);
	assert_string_equal(json_object_get_string(at(e, "apiVersion")), "apps/v1");
	assert_string_equal(json_object_get_string(at(e, "time")), NOW);
	assert_string_equal(json_object_get_string(at(e, "fieldsType")), "FieldsV1");
	assert_json(at(e, "fieldsV1"),
		    "{\"f:metadata\":{\"f:labels\":{\"f:app\":{},\"f:extra\":{}}},"
		    "\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{"
		    "\"k:{\\\"name\\\":\\\"c\\\"}\":{\".\":{},\"f:name\":{},\"f:image\":{}},"
		    "\"k:{\\\"name\\\":\\\"gone\\\"}\":{\".\":{},\"f:name\":{},\"f:image\":{}}}}}}}");
	assert_int_equal(json_object_array_length(at(live, "metadata.managedFields")), 1);
	json_object_put(live);
}

static void test_apply_noop_changes_nothing(void **state)
{
	(void)state;
	json_object *live = NULL, *before = NULL, *a = parse(APPLY_A);
	char *err = NULL;
	assert_int_equal(apply(&live, APPLY_A, "op", 1, &err), 0);
	assert_int_equal(json_object_deep_copy(live, &before, NULL), 0);
	/* the same manifest again, later: not even managedFields[].time moves */
	assert_int_equal(patch_apply(&live, a, "op", 1, "2030-01-01T00:00:00Z", &err), 0);
	assert_true(json_object_equal(live, before));
	/* a real change does move it */
	json_object_object_add(at(a, "spec"), "replicas", json_object_new_int(9));
	assert_int_equal(patch_apply(&live, a, "op", 1, "2030-01-01T00:00:00Z", &err), 0);
	assert_int_equal(json_object_get_int(at(live, "spec.replicas")), 9);
	assert_string_equal(json_object_get_string(at(entry_for(live, "op", "Apply"), "time")), "2030-01-01T00:00:00Z");
	json_object_put(a);
	json_object_put(before);
	json_object_put(live);
}

static void test_apply_removes_dropped_fields(void **state)
{
	(void)state;
	json_object *live = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, APPLY_A, "op", 0, &err), 0);
	/* someone else adds a label and a container env through an update */
	json_object *old = json_object_get(live), *upd = NULL;
	assert_int_equal(json_object_deep_copy(live, &upd, NULL), 0);
	json_object_object_add(at(upd, "metadata.labels"), "theirs", json_object_new_string("x"));
	assert_int_equal(patch_track_update(old, upd, "kubectl-label", NULL, NOW), 0);
	json_object_put(old);
	json_object_put(live);
	live = upd;
	assert_json(at(entry_for(live, "kubectl-label", "Update"), "fieldsV1"),
		    "{\"f:metadata\":{\"f:labels\":{\"f:theirs\":{}}}}");

	/* re-apply without the "extra" label and without the "gone" container */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
				      "\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\",\"labels\":{\"app\":\"d\"}},"
				      "\"spec\":{\"replicas\":2,\"template\":{\"spec\":{\"containers\":["
				      "{\"name\":\"c\",\"image\":\"i:2\"}]}}}}", "op", 0, &err), 0);
	assert_json(at(live, "metadata.labels"), "{\"app\":\"d\",\"theirs\":\"x\"}");
	assert_json(at(live, "spec.template.spec.containers"), "[{\"name\":\"c\",\"image\":\"i:2\"}]");
	assert_non_null(entry_for(live, "kubectl-label", "Update"));
	json_object_put(live);
}

static const char *REPLICAS_5 =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"namespace\":\"ns\"},"
	"\"spec\":{\"replicas\":5}}";

static void test_apply_conflict_and_force(void **state)
{
	(void)state;
	json_object *live = NULL, *snapshot = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, APPLY_A, "op", 0, &err), 0);

	/* a second applier changing op's field conflicts */
	assert_int_equal(json_object_deep_copy(live, &snapshot, NULL), 0);
	assert_int_equal(apply(&live, REPLICAS_5, "hpa", 0, &err), -2);
	/* an Apply manager is named without its version (the apiserver's printManager) */
	assert_string_equal(err, "Apply failed with 1 conflict: conflict with \"op\": .spec.replicas");
	free(err);
	err = NULL;
	assert_true(json_object_equal(live, snapshot));

	/* force: the value and the ownership move */
	assert_int_equal(apply(&live, REPLICAS_5, "hpa", 1, &err), 0);
	assert_int_equal(json_object_get_int(at(live, "spec.replicas")), 5);
	assert_json(at(entry_for(live, "hpa", "Apply"), "fieldsV1"), "{\"f:spec\":{\"f:replicas\":{}}}");
	assert_null(at(entry_for(live, "op", "Apply"), "fieldsV1.f:spec.f:replicas"));
	assert_non_null(at(entry_for(live, "op", "Apply"), "fieldsV1.f:spec.f:template"));

	/* op re-applies its old manifest: now op conflicts with hpa */
	assert_int_equal(apply(&live, APPLY_A, "op", 0, &err), -2);
	assert_string_equal(err, "Apply failed with 1 conflict: conflict with \"hpa\": .spec.replicas");
	free(err);
	err = NULL;

	/* op drops replicas from its manifest: no conflict, and hpa's value stays */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
				      "{\"name\":\"d\",\"namespace\":\"ns\"},\"spec\":{\"template\":{\"spec\":"
				      "{\"containers\":[{\"name\":\"c\",\"image\":\"i:1\"}]}}}}", "op", 0, &err), 0);
	assert_int_equal(json_object_get_int(at(live, "spec.replicas")), 5);
	/* labels op no longer applies are gone */
	assert_null(at(live, "metadata.labels.app"));
	json_object_put(snapshot);
	json_object_put(live);
}

static void test_apply_shared_ownership(void **state)
{
	(void)state;
	json_object *live = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, APPLY_A, "a", 0, &err), 0);
	/* the same value: no conflict, both own it */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
				      "{\"name\":\"d\",\"namespace\":\"ns\"},\"spec\":{\"replicas\":2}}", "b", 0, &err), 0);
	assert_non_null(at(entry_for(live, "a", "Apply"), "fieldsV1.f:spec.f:replicas"));
	assert_non_null(at(entry_for(live, "b", "Apply"), "fieldsV1.f:spec.f:replicas"));
	/* a stops applying replicas: b still owns it, the value stays */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
				      "{\"name\":\"d\",\"namespace\":\"ns\"},\"spec\":{\"paused\":false}}", "a", 0, &err), 0);
	assert_int_equal(json_object_get_int(at(live, "spec.replicas")), 2);
	assert_null(at(live, "spec.template"));
	/* b stops too: now it goes */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
				      "{\"name\":\"d\",\"namespace\":\"ns\"}}", "b", 0, &err), 0);
	assert_null(at(live, "spec.replicas"));
	/* b owns nothing any more: its entry is dropped */
	assert_null(entry_for(live, "b", "Apply"));
	json_object_put(live);
}

static void test_apply_conflicts_with_update_manager(void **state)
{
	(void)state;
	json_object *live = NULL, *old, *upd = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, APPLY_A, "op", 0, &err), 0);
	/* kubectl edit changes an image and the replicas (an Update) */
	old = live;
	assert_int_equal(json_object_deep_copy(live, &upd, NULL), 0);
	json_object_object_add(at(upd, "spec"), "replicas", json_object_new_int(7));
	json_object_object_add(at(upd, "spec.template.spec.containers.0"), "image", json_object_new_string("i:9"));
	assert_int_equal(patch_track_update(old, upd, "kubectl-edit", NULL, NOW), 0);
	json_object_put(old);
	live = upd;
	assert_json(at(entry_for(live, "kubectl-edit", "Update"), "fieldsV1"),
		    "{\"f:spec\":{\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{"
		    "\"k:{\\\"name\\\":\\\"c\\\"}\":{\"f:image\":{}}}}}}}");
	/* ... and op lost them */
	assert_null(at(entry_for(live, "op", "Apply"), "fieldsV1.f:spec.f:replicas"));

	assert_int_equal(apply(&live, APPLY_A, "op", 0, &err), -2);
	assert_string_equal(err, "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1\n"
				 "- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image");
	free(err);
	err = NULL;
	/* a third manager conflicting with two managers at once */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
				      "{\"name\":\"d\",\"namespace\":\"ns\",\"labels\":{\"app\":\"x\"}},"
				      "\"spec\":{\"replicas\":1}}", "third", 0, &err), -2);
	/* managers in sorted order, an Apply manager without its version */
	assert_string_equal(err, "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1\n"
				 "- .spec.replicas\nconflicts with \"op\"\n- .metadata.labels.app");
	free(err);
	json_object_put(live);
}

static void test_apply_invalid(void **state)
{
	(void)state;
	json_object *live = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, "{\"metadata\":{\"name\":\"x\"}}", "m", 0, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	assert_null(live);
	assert_int_equal(apply(&live, REPLICAS_5, "", 0, &err), -1);
	assert_non_null(err);
	free(err);
	err = NULL;
	json_object *a = parse("[1]");
	assert_int_equal(patch_apply(&live, a, "m", 0, NOW, &err), -1);
	free(err);
	json_object_put(a);
}

static void test_apply_finalizers_set_and_server_fields(void **state)
{
	(void)state;
	json_object *live = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
				  "\"uid\":\"u-1\",\"resourceVersion\":\"10\",\"finalizers\":[\"keep/me\"]},"
				  "\"data\":{\"a\":\"1\"}}");
	char *err = NULL;
	assert_int_equal(apply(&live, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
				      "\"uid\":\"forged\",\"resourceVersion\":\"1\",\"managedFields\":[{\"manager\":\"x\"}],"
				      "\"finalizers\":[\"mine/f\"]},\"data\":{\"b\":\"2\"}}", "m", 0, &err), 0);
	assert_string_equal(json_object_get_string(at(live, "metadata.uid")), "u-1");
	assert_string_equal(json_object_get_string(at(live, "metadata.resourceVersion")), "10");
	assert_json(at(live, "metadata.finalizers"), "[\"keep/me\",\"mine/f\"]");
	assert_json(at(live, "data"), "{\"a\":\"1\",\"b\":\"2\"}");
	assert_json(at(entry_for(live, "m", "Apply"), "fieldsV1"),
		    "{\"f:metadata\":{\"f:finalizers\":{\"v:\\\"mine/f\\\"\":{}}},\"f:data\":{\"f:b\":{}}}");
	assert_int_equal(json_object_array_length(at(live, "metadata.managedFields")), 1);
	/* dropping the finalizer from the manifest removes it; keep/me is nobody's and stays */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
				      "\"data\":{\"b\":\"2\"}}", "m", 0, &err), 0);
	assert_json(at(live, "metadata.finalizers"), "[\"keep/me\"]");
	json_object_put(live);
}

static void test_apply_status_subresource_apart(void **state)
{
	(void)state;
	json_object *live = NULL;
	char *err = NULL;
	assert_int_equal(apply(&live, "{\"apiVersion\":\"m.dev/v1\",\"kind\":\"MC\",\"metadata\":{\"name\":\"q\","
				      "\"labels\":{\"a\":\"b\"}},\"spec\":{\"x\":1}}", "op", 1, &err), 0);
	/* the same manager applies status (what a controller does through /status) */
	assert_int_equal(apply(&live, "{\"apiVersion\":\"m.dev/v1\",\"kind\":\"MC\",\"metadata\":{\"name\":\"q\"},"
				      "\"status\":{\"phase\":\"Ready\"}}", "op", 1, &err), 0);
	/* ... which neither removes its spec fields nor is removed by the next main apply */
	assert_int_equal(json_object_get_int(at(live, "spec.x")), 1);
	assert_string_equal(json_object_get_string(at(live, "metadata.labels.a")), "b");
	assert_int_equal(apply(&live, "{\"apiVersion\":\"m.dev/v1\",\"kind\":\"MC\",\"metadata\":{\"name\":\"q\","
				      "\"labels\":{\"a\":\"b\"}},\"spec\":{\"x\":2}}", "op", 1, &err), 0);
	assert_string_equal(json_object_get_string(at(live, "status.phase")), "Ready");
	json_object *mf = at(live, "metadata.managedFields");
	assert_int_equal(json_object_array_length(mf), 2);
	json_object *main_e = json_object_array_get_idx(mf, 0), *st_e = json_object_array_get_idx(mf, 1);
	assert_null(at(main_e, "subresource"));
	assert_json(at(main_e, "fieldsV1"), "{\"f:metadata\":{\"f:labels\":{\"f:a\":{}}},\"f:spec\":{\"f:x\":{}}}");
	assert_string_equal(json_object_get_string(at(st_e, "subresource")), "status");
	assert_json(at(st_e, "fieldsV1"), "{\"f:status\":{\"f:phase\":{}}}");
	json_object_put(live);
}

static void test_track_update_create_and_status(void **state)
{
	(void)state;
	json_object *obj = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
				 "\"data\":{\"a\":\"1\"}}");
	assert_int_equal(patch_track_update(NULL, obj, "kubectl-create", NULL, NOW), 0);
	assert_json(at(entry_for(obj, "kubectl-create", "Update"), "fieldsV1"), "{\"f:data\":{\"f:a\":{}}}");
	json_object *next = NULL;
	assert_int_equal(json_object_deep_copy(obj, &next, NULL), 0);
	json_object_object_add(next, "status", parse("{\"phase\":\"Bound\"}"));
	json_object_object_del(at(next, "data"), "a");
	assert_int_equal(patch_track_update(obj, next, "kubesim", "status", NOW), 0);
	json_object *e = entry_for(next, "kubesim", "Update");
	assert_non_null(e);
	assert_string_equal(json_object_get_string(at(e, "subresource")), "status");
	assert_json(at(e, "fieldsV1"), "{\"f:status\":{\"f:phase\":{}}}");
	/* data.a vanished: kubectl-create owns nothing and its entry is dropped */
	assert_null(entry_for(next, "kubectl-create", "Update"));
	json_object_put(obj);
	json_object_put(next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_rfc7386_examples),
		cmocka_unit_test(test_merge_does_not_alias_patch),
		cmocka_unit_test(test_json_patch_rfc6902),
		cmocka_unit_test(test_json_patch_errors_are_atomic),
		cmocka_unit_test(test_strategic_keyed_lists),
		cmocka_unit_test(test_strategic_directives),
		cmocka_unit_test(test_strategic_errors),
		cmocka_unit_test(test_apply_create_records_fields),
		cmocka_unit_test(test_apply_noop_changes_nothing),
		cmocka_unit_test(test_apply_removes_dropped_fields),
		cmocka_unit_test(test_apply_conflict_and_force),
		cmocka_unit_test(test_apply_shared_ownership),
		cmocka_unit_test(test_apply_conflicts_with_update_manager),
		cmocka_unit_test(test_apply_invalid),
		cmocka_unit_test(test_apply_finalizers_set_and_server_fields),
		cmocka_unit_test(test_apply_status_subresource_apart),
		cmocka_unit_test(test_track_update_create_and_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
