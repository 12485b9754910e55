/* Label selectors: JSON and query-string parsing, matching, rendering. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "labels/labels.h"
#include "util/buf.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);

	assert_non_null(o);
	return o;
}

/* Parse a JSON selector that must be valid. */
static struct labels_selector *jsel(const char *s)
{
	json_object *o = J(s);
	struct labels_selector *sel = NULL;
	char *err = NULL;
	int rc = labels_selector_from_json(o, &sel, &err);

	if (rc != 0)
		fail_msg("selector %s: %s", s, err ? err : "(no message)");
	json_object_put(o);
	return sel;
}

static struct labels_selector *ssel(const char *s)
{
	struct labels_selector *sel = NULL;
	char *err = NULL;
	int rc = labels_selector_parse(s, &sel, &err);

	if (rc != 0)
		fail_msg("selector \"%s\": %s", s ? s : "(null)", err ? err : "(no message)");
	assert_null(err);
	return sel;
}

static bool match(const struct labels_selector *s, const char *labels)
{
	json_object *o = labels ? J(labels) : NULL;
	bool m = labels_selector_matches(s, o);

	json_object_put(o);
	return m;
}

/* A JSON selector that must fail; the message must contain `want`. */
static void jsel_bad(const char *s, const char *want)
{
	json_object *o = J(s);
	struct labels_selector *sel = (struct labels_selector *)1;
	char *err = NULL;

	assert_int_equal(labels_selector_from_json(o, &sel, &err), -EINVAL);
	assert_null(sel);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("error for %s = \"%s\", want it to contain \"%s\"", s, err, want);
	free(err);
	json_object_put(o);
}

static void ssel_bad(const char *s, const char *want)
{
	struct labels_selector *sel = (struct labels_selector *)1;
	char *err = NULL;

	assert_int_equal(labels_selector_parse(s, &sel, &err), -EINVAL);
	assert_null(sel);
	assert_non_null(err);
	if (!strstr(err, want))
		fail_msg("error for \"%s\" = \"%s\", want it to contain \"%s\"", s, err, want);
	free(err);
}

static void expect_render(const struct labels_selector *s, const char *want)
{
	char *out = NULL;

	assert_int_equal(labels_selector_render(s, &out), 0);
	assert_string_equal(out, want);
	free(out);
}

static void test_empty_matches_all(void **state)
{
	struct labels_selector *s = jsel("{}");

	assert_true(labels_selector_empty(s));
	assert_true(match(s, "{}"));
	assert_true(match(s, "{\"a\":\"b\"}"));
	assert_true(match(s, NULL));
	expect_render(s, "");
	labels_selector_free(s);

	/* null / omitted selector: all (our CRDs' meaning of omitted). */
	assert_int_equal(labels_selector_from_json(NULL, &s, NULL), 0);
	assert_true(labels_selector_empty(s));
	assert_true(match(s, "{\"x\":\"y\"}"));
	labels_selector_free(s);

	s = jsel("{\"matchLabels\":{},\"matchExpressions\":[]}");
	assert_true(labels_selector_empty(s));
	assert_true(match(s, "{\"a\":\"b\"}"));
	labels_selector_free(s);

	s = ssel("");
	assert_true(labels_selector_empty(s));
	assert_true(match(s, "{\"a\":\"b\"}"));
	labels_selector_free(s);
	s = ssel("   ");
	assert_true(labels_selector_empty(s));
	labels_selector_free(s);
	s = ssel(NULL);
	assert_true(labels_selector_empty(s));
	labels_selector_free(s);
}

static void test_match_labels(void **state)
{
	struct labels_selector *s = jsel("{\"matchLabels\":{\"region\":\"west\",\"tier\":\"gpu\"}}");

	assert_int_equal(labels_selector_count(s), 2);
	assert_true(match(s, "{\"region\":\"west\",\"tier\":\"gpu\",\"x\":\"y\"}"));
	assert_false(match(s, "{\"region\":\"west\"}"));
	assert_false(match(s, "{\"region\":\"east\",\"tier\":\"gpu\"}"));
	assert_false(match(s, "{}"));
	assert_false(match(s, NULL));
	/* a non-string label value counts as absent */
	assert_false(match(s, "{\"region\":\"west\",\"tier\":5}"));
	expect_render(s, "region=west,tier=gpu");
	labels_selector_free(s);
}

static void test_expressions_all_operators(void **state)
{
	struct labels_selector *s = jsel(
		"{\"matchExpressions\":["
		"{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]},"
		"{\"key\":\"env\",\"operator\":\"NotIn\",\"values\":[\"dev\"]},"
		"{\"key\":\"gpu\",\"operator\":\"Exists\"},"
		"{\"key\":\"cordoned\",\"operator\":\"DoesNotExist\",\"values\":[]}]}");

	assert_int_equal(labels_selector_count(s), 4);
	assert_true(match(s, "{\"zone\":\"a\",\"gpu\":\"\"}"));
	assert_true(match(s, "{\"zone\":\"b\",\"gpu\":\"h100\",\"env\":\"prod\"}"));
	assert_false(match(s, "{\"zone\":\"c\",\"gpu\":\"h100\"}"));            /* In fails */
	assert_false(match(s, "{\"gpu\":\"h100\"}"));                           /* In needs key */
	assert_false(match(s, "{\"zone\":\"a\",\"gpu\":\"h100\",\"env\":\"dev\"}")); /* NotIn */
	assert_false(match(s, "{\"zone\":\"a\"}"));                             /* Exists */
	assert_false(match(s, "{\"zone\":\"a\",\"gpu\":\"x\",\"cordoned\":\"\"}")); /* DoesNotExist */
	expect_render(s, "!cordoned,env notin (dev),gpu,zone in (a,b)");
	labels_selector_free(s);

	/* matchLabels and matchExpressions together (AND) */
	s = jsel("{\"matchLabels\":{\"region\":\"west\"},"
		 "\"matchExpressions\":[{\"key\":\"region\",\"operator\":\"NotIn\",\"values\":[\"east\"]}]}");
	assert_true(match(s, "{\"region\":\"west\"}"));
	assert_false(match(s, "{\"region\":\"east\"}"));
	labels_selector_free(s);
}

static void test_prefixed_keys(void **state)
{
	struct labels_selector *s = jsel(
		"{\"matchLabels\":{\"example.com/x\":\"1\"},"
		"\"matchExpressions\":[{\"key\":\"nvidia.com/gpu.product\",\"operator\":\"In\","
		"\"values\":[\"NVIDIA-H100-80GB-HBM3\"]}]}");

	assert_true(match(s, "{\"example.com/x\":\"1\",\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\"}"));
	assert_false(match(s, "{\"x\":\"1\",\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\"}"));
	expect_render(s, "example.com/x=1,nvidia.com/gpu.product in (NVIDIA-H100-80GB-HBM3)");
	labels_selector_free(s);

	s = ssel("example.com/x=1,!app.kubernetes.io/part-of");
	assert_true(match(s, "{\"example.com/x\":\"1\"}"));
	assert_false(match(s, "{\"example.com/x\":\"1\",\"app.kubernetes.io/part-of\":\"a\"}"));
	labels_selector_free(s);
}

static void test_json_errors(void **state)
{
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}",
		 "matchExpressions[0].values: Required value: must be specified when operator is \"In\"");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
		 "{\"key\":\"a\",\"operator\":\"NotIn\"}]}",
		 "matchExpressions[1].values: Required value: must be specified when operator is \"NotIn\"");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}]}",
		 "matchExpressions[0].values: Forbidden: may not be specified when operator is \"Exists\"");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"DoesNotExist\",\"values\":[\"x\"]}]}",
		 "matchExpressions[0].values: Forbidden");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
		 "matchExpressions[0].operator: Unsupported value: \"Gt\"");
	jsel_bad("{\"matchExpressions\":[{\"operator\":\"Exists\"}]}",
		 "matchExpressions[0].key: Required value");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\"}]}",
		 "matchExpressions[0].operator: Required value");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"bad key\",\"operator\":\"Exists\"}]}",
		 "matchExpressions[0].key: Invalid value: \"bad key\"");
	jsel_bad("{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"ok\",\"-bad\"]}]}",
		 "matchExpressions[0].values[1]: Invalid value: \"-bad\"");
	jsel_bad("{\"matchLabels\":{\"Example.com/x\":\"1\"}}",
		 "matchLabels: Invalid value: \"Example.com/x\": prefix part");
	jsel_bad("{\"matchLabels\":{\"/x\":\"1\"}}", "prefix part must be non-empty");
	jsel_bad("{\"matchLabels\":{\"a/\":\"1\"}}", "name part must be non-empty");
	jsel_bad("{\"matchLabels\":{\"a/b/c\":\"1\"}}", "separated by one '/'");
	jsel_bad("{\"matchLabels\":{\"a\":\"x y\"}}", "matchLabels[a]: Invalid value: \"x y\"");
	jsel_bad("{\"matchLabels\":{\"a\":1}}", "matchLabels[a]: Invalid value: must be a string");
	jsel_bad("{\"matchLabels\":[]}", "matchLabels: Invalid value");
	jsel_bad("{\"matchExpressions\":{}}", "matchExpressions: Invalid value");
	jsel_bad("[]", "must be an object");
	/* 64-char name part */
	jsel_bad("{\"matchLabels\":{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":\"1\"}}",
		 "no more than 63 characters");
}

static void test_string_forms(void **state)
{
	struct labels_selector *s = ssel("a=b,c!=d,e in (x,y),!f,g");

	assert_int_equal(labels_selector_count(s), 5);
	assert_true(match(s, "{\"a\":\"b\",\"e\":\"y\",\"g\":\"1\"}"));
	assert_true(match(s, "{\"a\":\"b\",\"c\":\"z\",\"e\":\"x\",\"g\":\"\"}"));
	assert_false(match(s, "{\"a\":\"b\",\"c\":\"d\",\"e\":\"x\",\"g\":\"\"}"));
	assert_false(match(s, "{\"a\":\"b\",\"e\":\"x\",\"g\":\"\",\"f\":\"1\"}"));
	assert_false(match(s, "{\"a\":\"b\",\"e\":\"q\",\"g\":\"\"}"));
	assert_false(match(s, "{\"a\":\"b\",\"e\":\"x\"}"));
	expect_render(s, "a=b,c!=d,e in (x,y),!f,g");
	labels_selector_free(s);

	/* "==" equals "=", whitespace is free, notin with an absent key holds */
	s = ssel("  a == b ,  e notin ( x , y ) ");
	assert_true(match(s, "{\"a\":\"b\"}"));
	assert_true(match(s, "{\"a\":\"b\",\"e\":\"z\"}"));
	assert_false(match(s, "{\"a\":\"b\",\"e\":\"y\"}"));
	expect_render(s, "a=b,e notin (x,y)");
	labels_selector_free(s);

	/* empty value: a= means the label is "" */
	s = ssel("a=");
	assert_true(match(s, "{\"a\":\"\"}"));
	assert_false(match(s, "{\"a\":\"x\"}"));
	assert_false(match(s, "{}"));
	labels_selector_free(s);

	/* empty values in a set (as apimachinery parses them) render so that
	 * they parse back: {""} -> "(,)", {"", x} -> "(,x)" */
	s = ssel("e in (,)");
	assert_true(match(s, "{\"e\":\"\"}"));
	assert_false(match(s, "{\"e\":\"x\"}"));
	expect_render(s, "e in (,)");
	labels_selector_free(s);
	s = ssel("e notin (x,)");
	expect_render(s, "e notin (,x)");
	assert_false(match(s, "{\"e\":\"\"}"));
	labels_selector_free(s);

	/* duplicates in a set collapse; values sorted */
	s = ssel("e in (y,x,y)");
	expect_render(s, "e in (x,y)");
	labels_selector_free(s);

	/* kv matching */
	s = ssel("a=b,!c");
	assert_true(labels_selector_matches_kv(s, (const char *const[]){ "a", "b", NULL }));
	assert_false(labels_selector_matches_kv(s, (const char *const[]){ "a", "b", "c", "", NULL }));
	assert_false(labels_selector_matches_kv(s, (const char *const[]){ NULL }));
	labels_selector_free(s);
}

static void test_roundtrip(void **state)
{
	const char *inputs[] = {
		"a=b", "a!=b", "a in (x)", "a notin (x,y)", "a", "!a",
		"example.com/k in (v1,v2),z=,!y,x!=q", "e in (,)", "e in (x,,y)", "a!=", "a==,b",
	};

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct labels_selector *s = ssel(inputs[i]), *s2;
		char *r1 = NULL, *r2 = NULL;

		assert_int_equal(labels_selector_render(s, &r1), 0);
		s2 = ssel(r1);
		assert_int_equal(labels_selector_render(s2, &r2), 0);
		assert_string_equal(r1, r2);
		assert_int_equal(labels_selector_count(s), labels_selector_count(s2));
		free(r1);
		free(r2);
		labels_selector_free(s);
		labels_selector_free(s2);
	}
}

static void test_string_errors(void **state)
{
	ssel_bad("e in x", "\"e in x\": expected \"(\" after \"in\"");
	ssel_bad("e in ()", "a set of values must not be empty");
	ssel_bad("e notin ()", "must not be empty");
	ssel_bad("e in (a,b", "missing \")\"");
	ssel_bad("e in (a b)", "expected \",\" or \")\"");
	ssel_bad("a=b,", "trailing \",\"");
	ssel_bad(",a=b", "expected a label key");
	ssel_bad("a=b=c", "\"a=b=c\"");
	ssel_bad("a>1", "\"<\" and \">\" are not supported");
	ssel_bad("a foo (x)", "expected one of");
	ssel_bad("!a=b", "unexpected text after \"!key\"");
	ssel_bad("a!b", "expected \"!=\"");
	ssel_bad("x=1,Bad_Prefix.com/k=v", "key \"Bad_Prefix.com/k\"");
	ssel_bad("a=-v", "value \"-v\"");
	ssel_bad("a in (ok,not ok)", "expected \",\" or \")\"");
	ssel_bad("a (", "unexpected parenthesis");
	/* the error names the failing requirement, not the whole selector */
	ssel_bad("good=1,bad in x,also=2", "\"bad in x\"");
}

/* The limits agree: the longest text render produces parses back (it was
 * refused past 16 KiB while render went to 64 KiB), and a JSON selector too
 * long for the text form is -E2BIG from render, never an unparsable text. */
static void test_render_limit_parses_back(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1u << 22);
	/* 200 requirements of 5 values of 60 chars: ~63 KB of text */
	assert_int_equal(buf_puts(&b, "{\"matchExpressions\":["), 0);
	for (int r = 0; r < 200; r++) {
		assert_int_equal(buf_printf(&b, "%s{\"key\":\"k%03d\",\"operator\":\"In\",\"values\":[", r ? "," : "", r), 0);
		for (int v = 0; v < 5; v++)
			assert_int_equal(buf_printf(&b, "%s\"v%d%058d\"", v ? "," : "", v, r), 0);
		assert_int_equal(buf_puts(&b, "]}"), 0);
	}
	assert_int_equal(buf_puts(&b, "]}"), 0);
	struct labels_selector *big = jsel(buf_str(&b));
	char *text = NULL;
	assert_int_equal(labels_selector_render(big, &text), 0);
	assert_true(strlen(text) > 60000 && strlen(text) <= LABELS_SELECTOR_MAX_TEXT);
	struct labels_selector *back = NULL;
	char *err = NULL;
	if (labels_selector_parse(text, &back, &err) != 0)
		fail_msg("a rendered selector of %zu bytes does not parse back: %s", strlen(text), err ? err : "");
	char *again = NULL;
	assert_int_equal(labels_selector_render(back, &again), 0);
	assert_string_equal(again, text);
	free(again);
	free(text);
	labels_selector_free(back);
	labels_selector_free(big);
	/* twice as many requirements: too long for the text form */
	buf_cleanup(&b);
	buf_init(&b, 1u << 22);
	assert_int_equal(buf_puts(&b, "{\"matchExpressions\":["), 0);
	for (int r = 0; r < 250; r++) {
		assert_int_equal(buf_printf(&b, "%s{\"key\":\"k%03d\",\"operator\":\"In\",\"values\":[", r ? "," : "", r), 0);
		for (int v = 0; v < 8; v++)
			assert_int_equal(buf_printf(&b, "%s\"v%d%058d\"", v ? "," : "", v, r), 0);
		assert_int_equal(buf_puts(&b, "]}"), 0);
	}
	assert_int_equal(buf_puts(&b, "]}"), 0);
	big = jsel(buf_str(&b));
	text = NULL;
	assert_int_equal(labels_selector_render(big, &text), -E2BIG);
	assert_null(text);
	labels_selector_free(big);
	buf_cleanup(&b);
}

static void test_label_checks(void **state)
{
	char *why = NULL;

	assert_int_equal(labels_key_check("a", NULL), 0);
	assert_int_equal(labels_key_check("app.kubernetes.io/name", NULL), 0);
	assert_int_equal(labels_key_check("A_b.C-9", NULL), 0);
	assert_int_equal(labels_key_check("", &why), -EINVAL);
	free(why);
	why = NULL;
	assert_int_equal(labels_key_check("_a", NULL), -EINVAL);
	assert_int_equal(labels_value_check("", NULL), 0);
	assert_int_equal(labels_value_check("v1.2_3-x", NULL), 0);
	assert_int_equal(labels_value_check("v1.", NULL), -EINVAL);
	assert_int_equal(labels_value_check(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL), 0);
	assert_int_equal(labels_value_check(
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &why), -EINVAL);
	assert_non_null(strstr(why, "63"));
	free(why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_matches_all),
		cmocka_unit_test(test_match_labels),
		cmocka_unit_test(test_expressions_all_operators),
		cmocka_unit_test(test_prefixed_keys),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_string_forms),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_string_errors),
		cmocka_unit_test(test_label_checks),
		cmocka_unit_test(test_render_limit_parses_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
