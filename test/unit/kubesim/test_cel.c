/* kubesim's CEL subset (test/kubesim/cel.h): expressions as a table, every
 * rule the project's CRDs carry compiles, rules evaluated through the
 * schema as the apiserver reports them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel.h"
#include "schema.h"
#include "simjson.h"
#include "yaml2json.h"

static json_object *J(const char *s)
{
	json_object *o = sj_parse(s, strlen(s));
	assert_non_null(o);
	return o;
}

/* expr, self (JSON), old (JSON or NULL), want: 1 true, 0 false, -1 error */
static const struct { const char *expr, *self, *old; int want; } cases[] = {
	{"(has(self.local) ? 1 : 0) + (has(self.kubeconfigSecretRef) ? 1 : 0) == 1", "{\"local\":{}}", NULL, 1},
	{"(has(self.local) ? 1 : 0) + (has(self.kubeconfigSecretRef) ? 1 : 0) == 1",
	 "{\"local\":{},\"kubeconfigSecretRef\":{\"name\":\"a\"}}", NULL, 0},
	{"(has(self.local) ? 1 : 0) + (has(self.kubeconfigSecretRef) ? 1 : 0) == 1", "{}", NULL, 0},
	{"!has(self.reserve) || has(self.capacity)", "{\"reserve\":\"1Gi\"}", NULL, 0},
	{"!has(self.reserve) || has(self.capacity)", "{\"reserve\":\"1Gi\",\"capacity\":\"2Gi\"}", NULL, 1},
	{"self.source != 'HuggingFace' || has(self.huggingFace)", "{\"source\":\"HuggingFace\"}", NULL, 0},
	{"!self.contains('--') && !self.contains('..')", "\"Qwen/Qwen3-0.6B\"", NULL, 1},
	{"!self.contains('--') && !self.contains('..')", "\"a--b\"", NULL, 0},
	{"self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
	 "{\"operator\":\"In\",\"values\":[]}", NULL, 0},
	{"self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
	 "{\"operator\":\"Exists\"}", NULL, 1},
	{"double(self) > 0.0 && double(self) <= 100.0", "\"1.5\"", NULL, 1},
	{"double(self) > 0.0 && double(self) <= 100.0", "\"0\"", NULL, 0},
	{"double(self) > 0.0", "\"abc\"", NULL, -1},
	{"self.x", "{}", NULL, -1},                         /* no such key */
	{"self.x || true", "{}", NULL, 1},                  /* commutative || absorbs the error */
	{"self.x && false", "{}", NULL, 0},
	{"self.startsWith('ab') && self.endsWith('yz') && self.matches('^ab[0-9]+yz$')", "\"ab12yz\"", NULL, 1},
	{"self.matches('[0-9]')", "\"abc\"", NULL, 0},
	{"self.size() == 3 && size(self) == 3", "\"héé\"", NULL, 1},
	{"self.all(x, x > 0)", "[1, 2, 3]", NULL, 1},
	{"self.all(x, x > 1)", "[1, 2, 3]", NULL, 0},
	{"self.exists(x, x == 2)", "[1, 2, 3]", NULL, 1},
	{"self.exists_one(x, x > 1)", "[1, 2, 3]", NULL, 0},
	{"self.exists_one(k, k == 'a')", "{\"a\":1,\"b\":2}", NULL, 1},
	{"self.map(x, x * 2) == [2, 4]", "[1, 2]", NULL, 1},
	{"self.filter(x, x % 2 == 0).size() == 1", "[1, 2, 3]", NULL, 1},
	{"'a' in self && !('z' in self)", "{\"a\":1}", NULL, 1},
	{"self.a + self.b == 'xy' && [1] + [2] == [1, 2]", "{\"a\":\"x\",\"b\":\"y\"}", NULL, 1},
	{"self.n / 0 == 1", "{\"n\":4}", NULL, -1},
	{"9223372036854775807 + self.n > 0", "{\"n\":1}", NULL, -1}, /* overflow is an error */
	{"self.n * 2 - 1 == 7 && -self.n == -4 && self.n % 3 == 1 && 7 / 2 == 3", "{\"n\":4}", NULL, 1},
	{"self.d * 2.0 == 3.0 && self.d < 2 && int(self.d) == 1", "{\"d\":1.5}", NULL, 1},
	{"self.m['k'] == 'v' && self.l[1] == 2 && self.l.size() == 2", "{\"m\":{\"k\":\"v\"},\"l\":[1,2]}", NULL, 1},
	{"self.l[5] == 1", "{\"l\":[1]}", NULL, -1},
	{"self == oldSelf", "\"a\"", "\"a\"", 1},
	{"self >= oldSelf", "3", "4", 0},
	{"string(self.n) + 'x' == '4x' && self.s.lowerAscii() == 'ab' && self.s.upperAscii() == 'AB'",
	 "{\"n\":4,\"s\":\"aB\"}", NULL, 1},
	{"{'a': 1}.a == 1 && {'a': 1}['a'] == 1", "{}", NULL, 1},
	{"self.x == null", "{\"x\":null}", NULL, 1},
	{"self", "3", NULL, -1}, /* not a bool */
};

static void test_eval_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cel_prog *p = NULL;
		char *err = NULL;
		if (cel_compile(cases[i].expr, &p, &err) < 0)
			fail_msg("case %zu (%s) does not compile: %s", i, cases[i].expr, err);
		json_object *self = J(cases[i].self), *old = cases[i].old ? J(cases[i].old) : NULL;
		int got = cel_eval_bool(p, self, old, &err);
		if (got != cases[i].want)
			fail_msg("case %zu (%s) on %s: got %d, want %d (%s)", i, cases[i].expr, cases[i].self, got,
				 cases[i].want, err ? err : "");
		assert_int_equal(cel_uses_old_self(p), cases[i].old != NULL);
		free(err);
		json_object_put(self);
		json_object_put(old);
		cel_free(p);
	}
}

static void test_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"quantity(self).isGreaterThan(quantity('1'))", /* not in the subset */
		"self.url().getHost() == 'x'",
		"self.x.all(a, b, a > b)", /* two-variable comprehension */
		"self ==",
		"(self",
		"self.x ? 1",
		"1u == self",
		"r'raw' == self",
		"has(self)",
		"'unterminated",
		"self @ 1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cel_prog *p = NULL;
		char *err = NULL;
		if (cel_compile(bad[i], &p, &err) == 0)
			fail_msg("'%s' compiled", bad[i]);
		assert_non_null(err);
		free(err);
	}
	struct cel_prog *p = NULL;
	char *err = NULL;
	assert_int_equal(cel_compile("quantity(self) > 1", &p, &err), -1);
	assert_string_equal(err, "unsupported CEL: function quantity()");
	free(err);
}

/* every rule in crds/ and in the chart's copies compiles */
static int check_dir(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0 || strncmp(de->d_name, "modelcache.dev_", 15) != 0)
			continue;
		char path[1024];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		static char buf[1 << 20];
		size_t len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		json_object *crd = NULL;
		assert_int_equal(yaml_to_json(buf, len, &crd), 0);
		json_object *versions = sj_get(sj_get(crd, "spec"), "versions");
		for (size_t i = 0; i < json_object_array_length(versions); i++) {
			json_object *sch = sj_get(sj_get(json_object_array_get_idx(versions, i), "schema"), "openAPIV3Schema");
			char *ep = NULL, *e = NULL;
			if (schema_cel_check(sch, "openAPIV3Schema", &ep, &e) < 0)
				fail_msg("%s: %s: %s", path, ep, e);
			n++;
		}
		json_object_put(crd);
	}
	closedir(d);
	return n;
}

static void test_project_crds_compile(void **state)
{
	(void)state;
	const char *src = getenv("MC_SOURCE_DIR");
	assert_non_null(src);
	char d1[512], d2[512];
	snprintf(d1, sizeof(d1), "%s/crds", src);
	snprintf(d2, sizeof(d2), "%s/charts/modelcache-operator/crds", src);
	assert_int_equal(check_dir(d1), 3);
	assert_int_equal(check_dir(d2), 3);
}

/* Through the schema: the causes the apiserver reports. */
static void test_schema_rules(void **state)
{
	(void)state;
	json_object *sch = J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
			     "\"connection\":{\"type\":\"object\",\"x-kubernetes-validations\":[{\"rule\":"
			     "\"(has(self.local) ? 1 : 0) + (has(self.remote) ? 1 : 0) == 1\",\"message\":\"exactly one\"}],"
			     "\"properties\":{\"local\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true},"
			     "\"remote\":{\"type\":\"string\"}}},"
			     "\"source\":{\"type\":\"string\"},\"hf\":{\"type\":\"object\",\"properties\":{\"repo\":{\"type\":\"string\"}}}},"
			     "\"x-kubernetes-validations\":[{\"rule\":\"self.source != 'HF' || has(self.hf)\","
			     "\"message\":\"hf is required\",\"fieldPath\":\".hf\",\"reason\":\"FieldValueRequired\"},"
			     "{\"rule\":\"self.source.size() < 5\",\"messageExpression\":\"'source ' + self.source + ' too long'\"}]}}}");
	json_object *causes = json_object_new_array();
	json_object *ok = J("{\"spec\":{\"connection\":{\"local\":{}},\"source\":\"HF\",\"hf\":{\"repo\":\"a\"}}}");
	assert_int_equal(schema_apply(sch, ok, causes), 0);
	json_object *bad = J("{\"spec\":{\"connection\":{\"local\":{},\"remote\":\"x\"},\"source\":\"HF\"}}");
	assert_int_equal(schema_apply(sch, bad, causes), -1);
	assert_int_equal(json_object_array_length(causes), 2);
	char *m = schema_invalid_message("Thing.example.com", "t", causes);
	assert_string_equal(m, "Thing.example.com \"t\" is invalid: [spec.connection: Invalid value: \"object\": exactly one, "
			       "spec.hf: Required value: hf is required]");
	free(m);
	json_object_put(causes);
	causes = json_object_new_array();
	json_object *longsrc = J("{\"spec\":{\"source\":\"HFHFHF\"}}");
	assert_int_equal(schema_apply(sch, longsrc, causes), -1);
	assert_string_equal(sj_str(json_object_array_get_idx(causes, 0), "message", NULL),
			    "Invalid value: \"object\": source HFHFHF too long");
	json_object_put(causes);
	/* the old InferenceCluster schema: local had no properties */
	json_object *old = J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
			     "\"connection\":{\"type\":\"object\",\"x-kubernetes-validations\":[{\"rule\":"
			     "\"has(self.local)\",\"message\":\"exactly one of local or kubeconfigSecretRef must be set\"}],"
			     "\"properties\":{\"local\":{\"type\":\"object\"}}}}}}}");
	causes = json_object_new_array();
	json_object *o = J("{\"spec\":{\"connection\":{\"local\":{}}}}");
	assert_int_equal(schema_apply(old, o, causes), -1);
	assert_string_equal(sj_str(json_object_array_get_idx(causes, 0), "message", NULL),
			    "Invalid value: \"object\": invalid object type, expected either Properties or "
			    "AdditionalProperties with Allows=true and non-empty Schema evaluating rule: exactly one of "
			    "local or kubeconfigSecretRef must be set");
	assert_string_equal(sj_str(json_object_array_get_idx(causes, 0), "field", NULL), "spec.connection");
	json_object_put(causes);
	/* transition rules only on update */
	json_object *tr = J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
			    "\"size\":{\"type\":\"integer\",\"x-kubernetes-validations\":[{\"rule\":\"self >= oldSelf\","
			    "\"message\":\"may not shrink\"}]}}}}}");
	causes = json_object_new_array();
	json_object *n1 = J("{\"spec\":{\"size\":1}}"), *n2 = J("{\"spec\":{\"size\":2}}");
	assert_int_equal(schema_apply(tr, n1, causes), 0);
	assert_int_equal(schema_apply_update(tr, n2, n1, causes), 0);
	assert_int_equal(schema_apply_update(tr, n1, n2, causes), -1);
	assert_string_equal(sj_str(json_object_array_get_idx(causes, 0), "message", NULL),
			    "Invalid value: \"integer\": may not shrink");
	json_object_put(causes);
	json_object_put(n1);
	json_object_put(n2);
	json_object_put(tr);
	json_object_put(o);
	json_object_put(old);
	json_object_put(longsrc);
	json_object_put(bad);
	json_object_put(ok);
	json_object_put(sch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval_table),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_project_crds_compile),
		cmocka_unit_test(test_schema_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
