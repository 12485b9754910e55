#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "util/jpath.h"

static const char *DOC = "{\"metadata\":{\"name\":\"qwen\",\"generation\":3,"
			 "\"annotations\":{\"modelcache.dev/retry\":\"1\",\"n\":2},\"labels\":{\"a.b/c\":\"x\"}},"
			 "\"spec\":{\"size\":\"\",\"list\":[1]},"
			 "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},"
			 "{\"type\":\"Valid\",\"status\":\"False\"}]},\"a.b\":\"dotted\"}";

static void paths(void **state)
{
	(void)state;
	json_object *o = json_tokener_parse(DOC);
	assert_non_null(o);
	assert_string_equal(jpath_str(o, "metadata.name"), "qwen");
	assert_ptr_equal(jpath_get(o, ""), o);                     /* empty path: root */
	assert_ptr_equal(jpath_get(o, "metadata."), jpath_get(o, "metadata"));
	assert_null(jpath_get(o, "metadata..name"));              /* empty segment */
	assert_null(jpath_get(o, ".metadata"));
	assert_null(jpath_get(o, "spec.list.x"));                 /* through an array */
	assert_null(jpath_get(NULL, "spec"));
	assert_null(jpath_str(o, "metadata.generation"));         /* not a string */
	assert_int_equal(jpath_int_or(o, "metadata.generation", -1), 3);
	assert_int_equal(jpath_int_or(o, "metadata.name", -1), -1);
	assert_string_equal(jpath_str_or(o, "spec.size", "def"), "def"); /* empty -> def */
	assert_string_equal(jpath_str_or(o, "spec.none", "def"), "def");
	/* keys with dots: only by exact key */
	assert_null(jpath_get(o, "a.b"));
	assert_string_equal(jpath_child_str(o, "a.b"), "dotted");
	assert_null(jpath_child_str(o, "metadata"));
	assert_null(jpath_child(jpath_get(o, "spec.list"), "x"));
	assert_string_equal(jpath_annotation(o, "modelcache.dev/retry"), "1");
	assert_null(jpath_annotation(o, "n"));
	assert_string_equal(jpath_label(o, "a.b/c"), "x");
	json_object *conds = jpath_get(o, "status.conditions");
	assert_string_equal(jpath_str(jpath_find_type(conds, "Valid"), "status"), "False");
	assert_null(jpath_find_type(conds, "Gone"));
	assert_null(jpath_find_name(conds, "Ready"));
	assert_true(jpath_condition_true(o, "Ready"));
	assert_false(jpath_condition_true(o, "Valid"));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
