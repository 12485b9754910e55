/* kubesim CRD schema enforcement: pruning, defaulting, validation and the
 * apiserver-shaped causes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "schema.h"

/* A cut-down ModelCache-like schema exercising every keyword we enforce. */
static const char *SCHEMA =
	"{\"type\":\"object\",\"properties\":{"
	" \"apiVersion\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\"},"
	" \"metadata\":{\"type\":\"object\"},"
	" \"spec\":{\"type\":\"object\",\"required\":[\"source\"],\"properties\":{"
	"  \"source\":{\"type\":\"string\",\"enum\":[\"HuggingFace\"]},"
	"  \"huggingFace\":{\"type\":\"object\",\"required\":[\"repo\"],\"properties\":{"
	"    \"repo\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":20,"
	"              \"pattern\":\"^([\\\\w.-]+/)?[\\\\w.-]+$\"},"
	"    \"revision\":{\"type\":\"string\",\"default\":\"main\"},"
	"    \"include\":{\"type\":\"array\",\"maxItems\":3,\"items\":{\"type\":\"string\"},"
	"                 \"x-kubernetes-list-type\":\"set\"},"
	"    \"authSecret\":{\"type\":\"object\",\"properties\":{"
	"       \"name\":{\"type\":\"string\"},\"key\":{\"type\":\"string\",\"default\":\"HF_TOKEN\"}}}}},"
	"  \"size\":{\"x-kubernetes-int-or-string\":true,\"pattern\":\"^\\\\d+(Gi|Mi)?$\"},"
	"  \"deletionPolicy\":{\"type\":\"string\",\"enum\":[\"Delete\",\"Retain\"],\"default\":\"Delete\"},"
	"  \"replicas\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
	"  \"ratio\":{\"type\":\"number\",\"minimum\":0,\"exclusiveMinimum\":true,"
	"            \"maximum\":1,\"exclusiveMaximum\":true},"
	"  \"note\":{\"type\":\"string\",\"nullable\":true},"
	"  \"labels\":{\"type\":\"object\",\"maxProperties\":2,"
	"            \"additionalProperties\":{\"type\":\"string\",\"minLength\":2}},"
	"  \"precheck\":{\"type\":\"object\",\"default\":{},\"properties\":{"
	"     \"vram\":{\"type\":\"string\",\"enum\":[\"Enabled\",\"Disabled\"],\"default\":\"Enabled\"},"
	"     \"safetyFactor\":{\"type\":\"string\",\"default\":\"1.0\"}}},"
	"  \"options\":{\"type\":\"object\",\"properties\":{"
	"     \"debug\":{\"type\":\"boolean\",\"default\":false}}},"
	"  \"extra\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,"
	"            \"properties\":{\"known\":{\"type\":\"integer\",\"default\":7}}},"
	"  \"template\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
	"            \"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
	"               \"x\":{\"type\":\"string\"}}}}},"
	"  \"gpus\":{\"type\":\"array\",\"minItems\":1,\"x-kubernetes-list-type\":\"map\","
	"           \"x-kubernetes-list-map-keys\":[\"product\"],\"items\":{"
	"     \"type\":\"object\",\"required\":[\"product\"],\"properties\":{"
	"       \"product\":{\"type\":\"string\"},"
	"       \"perNode\":{\"type\":\"integer\",\"minimum\":1,\"default\":1}}}},"
	"  \"connection\":{\"type\":\"object\",\"properties\":{"
	"       \"local\":{\"type\":\"object\"},\"secret\":{\"type\":\"string\"}},"
	"     \"oneOf\":[{\"required\":[\"local\"]},{\"required\":[\"secret\"]}]}"
	" }},"
	" \"status\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}"
	"}}";

struct fx {
	json_object *schema;
	json_object *causes;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	f->schema = json_tokener_parse(SCHEMA);
	assert_non_null(f->schema);
	f->causes = json_object_new_array();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	json_object_put(f->schema);
	json_object_put(f->causes);
	free(f);
	return 0;
}

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

/* the value at a dotted path ("spec.huggingFace.revision"); NULL if absent */
static json_object *at(json_object *o, const char *path)
{
	char *dup = strdup(path), *save = NULL;
	for (char *tok = strtok_r(dup, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		json_object *next = NULL;
		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, tok, &next))
			o = NULL;
		else
			o = next;
	}
	free(dup);
	return o;
}

static const char *str_at(json_object *o, const char *path)
{
	json_object *v = at(o, path);
	return v ? json_object_get_string(v) : NULL;
}

/* find the cause for a field; asserts there is exactly one */
static json_object *cause_for(json_object *causes, const char *field)
{
	json_object *found = NULL;
	size_t n = json_object_array_length(causes);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(causes, i);
		if (!strcmp(str_at(c, "field"), field)) {
			assert_null(found);
			found = c;
		}
	}
	if (!found)
		fail_msg("no cause for %s in %s", field, json_object_to_json_string(causes));
	return found;
}

static void expect_cause(json_object *causes, const char *field, const char *reason, const char *message)
{
	json_object *c = cause_for(causes, field);
	assert_string_equal(str_at(c, "reason"), reason);
	assert_string_equal(str_at(c, "message"), message);
}

#define HEAD "\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\",\"metadata\":{\"name\":\"q\",\"labels\":{\"a\":\"b\"}}"

static void test_valid_object_gets_defaults(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	assert_int_equal(json_object_array_length(f->causes), 0);
	assert_string_equal(str_at(o, "spec.huggingFace.revision"), "main");
	assert_string_equal(str_at(o, "spec.deletionPolicy"), "Delete");
	/* precheck has default {} itself, so its own properties are defaulted too */
	assert_string_equal(str_at(o, "spec.precheck.vram"), "Enabled");
	assert_string_equal(str_at(o, "spec.precheck.safetyFactor"), "1.0");
	/* options has no default: its property default only applies when it exists */
	assert_null(at(o, "spec.options"));
	/* authSecret absent -> its key default is not applied */
	assert_null(at(o, "spec.huggingFace.authSecret"));
	/* metadata, apiVersion and kind are untouched even though metadata's schema has no properties */
	assert_string_equal(str_at(o, "metadata.labels.a"), "b");
	assert_string_equal(str_at(o, "metadata.name"), "q");
	assert_string_equal(str_at(o, "kind"), "ModelCache");
	json_object_put(o);
}

static void test_defaults_do_not_override(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"deletionPolicy\":\"Retain\","
			       "\"options\":{},\"precheck\":{\"vram\":\"Disabled\"},"
			       "\"huggingFace\":{\"repo\":\"x\",\"revision\":\"v2\",\"authSecret\":{\"name\":\"s\"}}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	assert_string_equal(str_at(o, "spec.deletionPolicy"), "Retain");
	assert_string_equal(str_at(o, "spec.huggingFace.revision"), "v2");
	assert_string_equal(str_at(o, "spec.precheck.vram"), "Disabled");
	assert_string_equal(str_at(o, "spec.precheck.safetyFactor"), "1.0");
	assert_string_equal(str_at(o, "spec.huggingFace.authSecret.key"), "HF_TOKEN");
	assert_true(json_object_is_type(at(o, "spec.options.debug"), json_type_boolean));
	assert_false(json_object_get_boolean(at(o, "spec.options.debug")));
	json_object_put(o);
}

static void test_unknown_fields_pruned(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"bogusTop\":1,\"spec\":{\"source\":\"HuggingFace\",\"foo\":\"bar\","
			       "\"huggingFace\":{\"repo\":\"x\",\"typo\":true},"
			       "\"extra\":{\"anything\":{\"goes\":[1,2]}},"
			       "\"template\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
			       "  \"spec\":{\"x\":\"y\",\"z\":1},\"other\":2}},"
			       "\"status\":{\"free\":{\"form\":true}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	assert_null(at(o, "bogusTop"));
	assert_null(at(o, "spec.foo"));
	assert_null(at(o, "spec.huggingFace.typo"));
	assert_non_null(at(o, "spec.huggingFace.repo"));
	/* preserve-unknown-fields keeps unknown keys and still defaults known ones */
	assert_non_null(at(o, "spec.extra.anything.goes"));
	assert_int_equal(json_object_get_int(at(o, "spec.extra.known")), 7);
	/* embedded resource: apiVersion/kind/metadata kept, the rest pruned by its schema */
	assert_string_equal(str_at(o, "spec.template.kind"), "Pod");
	assert_string_equal(str_at(o, "spec.template.metadata.name"), "p");
	assert_string_equal(str_at(o, "spec.template.spec.x"), "y");
	assert_null(at(o, "spec.template.spec.z"));
	assert_null(at(o, "spec.template.other"));
	assert_non_null(at(o, "status.free.form"));
	json_object_put(o);
}

static void test_required_and_enum(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"deletionPolicy\":\"Foo\",\"huggingFace\":{}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.source", "FieldValueRequired", "Required value");
	expect_cause(f->causes, "spec.huggingFace.repo", "FieldValueRequired", "Required value");
	expect_cause(f->causes, "spec.deletionPolicy", "FieldValueNotSupported",
		     "Unsupported value: \"Foo\": supported values: \"Delete\", \"Retain\"");
	assert_int_equal(json_object_array_length(f->causes), 3);

	char *msg = schema_invalid_message("ModelCache.modelcache.dev", "q", f->causes);
	assert_string_equal(msg, "ModelCache.modelcache.dev \"q\" is invalid: [spec.source: Required value, "
				 "spec.deletionPolicy: Unsupported value: \"Foo\": supported values: \"Delete\", "
				 "\"Retain\", spec.huggingFace.repo: Required value]");
	free(msg);
	json_object_put(o);
}

static void test_single_cause_message(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	char *msg = schema_invalid_message("ModelCache.modelcache.dev", "q", f->causes);
	assert_string_equal(msg, "ModelCache.modelcache.dev \"q\" is invalid: spec.source: Required value");
	free(msg);
	json_object_put(o);
}

static void test_type_errors(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"replicas\":\"three\","
			       "\"ratio\":true,\"huggingFace\":[1],\"size\":false,\"options\":{\"debug\":\"yes\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.replicas", "FieldValueTypeInvalid",
		     "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"");
	expect_cause(f->causes, "spec.ratio", "FieldValueTypeInvalid",
		     "Invalid value: \"boolean\": spec.ratio in body must be of type number: \"boolean\"");
	expect_cause(f->causes, "spec.huggingFace", "FieldValueTypeInvalid",
		     "Invalid value: \"array\": spec.huggingFace in body must be of type object: \"array\"");
	expect_cause(f->causes, "spec.size", "FieldValueTypeInvalid",
		     "Invalid value: \"boolean\": spec.size in body must be of type integer,string: \"boolean\"");
	expect_cause(f->causes, "spec.options.debug", "FieldValueTypeInvalid",
		     "Invalid value: \"string\": spec.options.debug in body must be of type boolean: \"string\"");
	assert_int_equal(json_object_array_length(f->causes), 5);
	json_object_put(o);
}

static void test_integer_accepts_integral_double(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"replicas\":3.0,\"ratio\":1e-1}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	json_object_put(o);
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"replicas\":2.5}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	assert_string_equal(str_at(cause_for(f->causes, "spec.replicas"), "reason"), "FieldValueTypeInvalid");
	json_object_put(o);
}

static void test_numeric_bounds(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"replicas\":0,\"ratio\":1}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.replicas", "FieldValueInvalid",
		     "Invalid value: 0: spec.replicas in body should be greater than or equal to 1");
	expect_cause(f->causes, "spec.ratio", "FieldValueInvalid",
		     "Invalid value: 1: spec.ratio in body should be less than 1");
	json_object_put(o);

	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"replicas\":11,\"ratio\":0}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.replicas", "FieldValueInvalid",
		     "Invalid value: 11: spec.replicas in body should be less than or equal to 10");
	expect_cause(f->causes, "spec.ratio", "FieldValueInvalid",
		     "Invalid value: 0: spec.ratio in body should be greater than 0");
	json_object_put(o);

	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"replicas\":10,\"ratio\":0.5}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	json_object_put(o);
}

static void test_strings_and_patterns(void **state)
{
	struct fx *f = *state;
	/* \w in a bracket expression, the optional org/ prefix */
	const char *good[] = {"Qwen/Qwen3-0.6B", "gpt2", "a_b.c-d/e"};
	for (size_t i = 0; i < 3; i++) {
		char *s = NULL;
		assert_true(asprintf(&s, "{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"size\":\"20Gi\","
					 "\"huggingFace\":{\"repo\":\"%s\"}}}", good[i]) > 0);
		json_object *o = parse(s);
		assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
		json_object_put(o);
		free(s);
	}
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"size\":\"20 GB\","
			       "\"huggingFace\":{\"repo\":\"bad repo\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.huggingFace.repo", "FieldValueInvalid",
		     "Invalid value: \"bad repo\": spec.huggingFace.repo in body should match "
		     "'^([\\w.-]+/)?[\\w.-]+$'");
	expect_cause(f->causes, "spec.size", "FieldValueInvalid",
		     "Invalid value: \"20 GB\": spec.size in body should match '^\\d+(Gi|Mi)?$'");
	json_object_put(o);

	/* int-or-string accepts an integer (the pattern applies to strings only) */
	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"size\":123}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	json_object_put(o);

	/* lengths count characters, not bytes: 20 x "é" is 40 bytes but fits */
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":"
		  "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	/* ... but \w is ASCII-only, so only the pattern fails */
	assert_int_equal(json_object_array_length(f->causes), 1);
	assert_string_equal(str_at(json_object_array_get_idx(f->causes, 0), "reason"), "FieldValueInvalid");
	json_object_put(o);

	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	/* empty repo fails minLength and the pattern: two causes on the same field */
	assert_int_equal(json_object_array_length(f->causes), 2);
	assert_string_equal(str_at(json_object_array_get_idx(f->causes, 0), "message"),
			    "Invalid value: \"\": spec.huggingFace.repo in body should be at least 1 chars long");
	assert_string_equal(str_at(json_object_array_get_idx(f->causes, 1), "field"), "spec.huggingFace.repo");
	json_object_put(o);

	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":"
		  "\"abcdefghijklmnopqrstu\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.huggingFace.repo", "FieldValueTooLong",
		     "Too long: may not be more than 20 bytes");
	json_object_put(o);
}

static void test_min_length_message(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"labels\":{\"a\":\"x\"}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.labels.a", "FieldValueInvalid",
		     "Invalid value: \"x\": spec.labels.a in body should be at least 2 chars long");
	json_object_put(o);
}

static void test_arrays_and_maps(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\","
			       "\"huggingFace\":{\"repo\":\"r\",\"include\":[\"a\",\"b\",\"a\",\"c\"]},"
			       "\"labels\":{\"aa\":\"xx\",\"bb\":\"yy\",\"cc\":\"zz\"},"
			       "\"gpus\":[{\"product\":\"H100\"},{\"perNode\":0,\"junk\":1},{\"product\":\"H100\",\"perNode\":2}]}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.huggingFace.include", "FieldValueTooMany",
		     "Too many: 4: must have at most 3 items");
	expect_cause(f->causes, "spec.huggingFace.include[2]", "FieldValueDuplicate", "Duplicate value: \"a\"");
	expect_cause(f->causes, "spec.labels", "FieldValueTooMany", "Too many: 3: must have at most 2 items");
	expect_cause(f->causes, "spec.gpus[1].product", "FieldValueRequired", "Required value");
	expect_cause(f->causes, "spec.gpus[1].perNode", "FieldValueInvalid",
		     "Invalid value: 0: spec.gpus[1].perNode in body should be greater than or equal to 1");
	expect_cause(f->causes, "spec.gpus[2]", "FieldValueDuplicate", "Duplicate value: {\"product\":\"H100\"}");
	/* items were defaulted and pruned too */
	json_object *g0 = json_object_array_get_idx(at(o, "spec.gpus"), 0);
	assert_int_equal(json_object_get_int(at(g0, "perNode")), 1);
	assert_null(at(json_object_array_get_idx(at(o, "spec.gpus"), 1), "junk"));
	json_object_put(o);

	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"gpus\":[]}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.gpus", "FieldValueInvalid",
		     "Invalid value: []: spec.gpus in body should have at least 1 items");
	json_object_put(o);
}

static void test_nulls(void **state)
{
	struct fx *f = *state;
	/* nullable keeps the null; non-nullable nulls are pruned, then defaulted */
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"note\":null,"
			       "\"deletionPolicy\":null,\"replicas\":null}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	json_object *note = NULL;
	assert_true(json_object_object_get_ex(at(o, "spec"), "note", &note));
	assert_null(note);
	assert_string_equal(str_at(o, "spec.deletionPolicy"), "Delete");
	assert_false(json_object_object_get_ex(at(o, "spec"), "replicas", NULL));
	json_object_put(o);

	/* a required field given as null is missing */
	o = parse("{" HEAD ",\"spec\":{\"source\":null}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.source", "FieldValueRequired", "Required value");
	json_object_put(o);

	/* a null array item is a type error */
	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"r\",\"include\":[null]}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.huggingFace.include[0]", "FieldValueTypeInvalid",
		     "Invalid value: \"null\": spec.huggingFace.include[0] in body must be of type string: \"null\"");
	json_object_put(o);
}

static void test_one_of(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"connection\":{\"local\":{}}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	json_object_put(o);
	const char *bad[] = {"{}", "{\"local\":{},\"secret\":\"s\"}"};
	for (size_t i = 0; i < 2; i++) {
		char *s = NULL;
		json_object_put(f->causes);
		f->causes = json_object_new_array();
		assert_true(asprintf(&s, "{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"connection\":%s}}", bad[i]) > 0);
		o = parse(s);
		assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
		json_object *c = cause_for(f->causes, "spec.connection");
		assert_string_equal(str_at(c, "reason"), "FieldValueInvalid");
		assert_non_null(strstr(str_at(c, "message"), "must validate one and only one schema (oneOf)"));
		json_object_put(o);
		free(s);
	}
}

static void test_embedded_requires_kind(void **state)
{
	struct fx *f = *state;
	json_object *o = parse("{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"template\":{\"spec\":{}}}}");
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	expect_cause(f->causes, "spec.template.apiVersion", "FieldValueRequired", "Required value");
	expect_cause(f->causes, "spec.template.kind", "FieldValueRequired", "Required value");
	json_object_put(o);
}

static void test_hostile_input(void **state)
{
	struct fx *f = *state;
	/* deeply nested preserved content is kept but never recursed without bound */
	char *s = malloc(20000);
	size_t n = 0;
	n += (size_t)sprintf(s + n, "{" HEAD ",\"spec\":{\"source\":\"HuggingFace\",\"extra\":");
	for (int i = 0; i < 500; i++)
		n += (size_t)sprintf(s + n, "{\"a\":");
	n += (size_t)sprintf(s + n, "1");
	for (int i = 0; i < 500; i++)
		s[n++] = '}';
	sprintf(s + n, "}}");
	json_tokener *tok = json_tokener_new_ex(1000);
	json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
	json_tokener_free(tok);
	assert_non_null(o);
	assert_int_equal(schema_apply(f->schema, o, f->causes), 0);
	json_object_put(o);
	free(s);

	/* a non-object body */
	o = json_object_new_array();
	assert_int_equal(schema_apply(f->schema, o, f->causes), -1);
	json_object_put(o);
	/* a pattern we cannot translate fails open instead of rejecting everything */
	json_object *sch = parse("{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"pattern\":\"[\\\\W]\"}}}");
	json_object_put(f->causes);
	f->causes = json_object_new_array();
	o = parse("{\"s\":\"abc\"}");
	assert_int_equal(schema_apply(sch, o, f->causes), 0);
	json_object_put(o);
	json_object_put(sch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_valid_object_gets_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults_do_not_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_fields_pruned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_required_and_enum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_cause_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_type_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_integer_accepts_integral_double, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numeric_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strings_and_patterns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_length_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arrays_and_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nulls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_of, setup, teardown),
		cmocka_unit_test_setup_teardown(test_embedded_requires_kind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
