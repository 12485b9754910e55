/* kubesim CRD schema enforcement: pruning, defaulting, validation and the
 * apiserver-shaped causes, as a table of (object, verdict, every cause in
 * order, the 422 message, what the object holds afterwards). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* The value at a path ("spec.huggingFace.revision", "spec.gpus[1].junk").
 * Returns whether the key exists; *out is the value (NULL for a JSON null). */
static bool lookup(json_object *o, const char *path, json_object **out)
{
	char *dup = strdup(path), *save = NULL;
	bool found = true;

	for (char *tok = strtok_r(dup, ".", &save); tok && found; tok = strtok_r(NULL, ".", &save)) {
		char *br = strchr(tok, '[');
		json_object *next = NULL;

		if (br)
			*br = 0;
		if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, tok, &next))
			found = false;
		o = next;
		for (; found && br; br = strchr(br + 1, '[')) {
			size_t i = strtoul(br + 1, NULL, 10);

			if (!json_object_is_type(o, json_type_array) || i >= json_object_array_length(o))
				found = false;
			else
				o = json_object_array_get_idx(o, i);
		}
	}
	free(dup);
	*out = found ? o : NULL;
	return found;
}

#define HEAD "\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\",\"metadata\":{\"name\":\"q\",\"labels\":{\"a\":\"b\"}}"
#define HF "\"source\":\"HuggingFace\""
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct cause {
	const char *field, *reason, *message;
};

/* What the object holds after schema_apply: want is the value's JSON text
 * ("\"main\"", "7", "null"), or NULL when the key must be absent. */
struct check {
	const char *path, *want;
};

struct row {
	const char *what;
	const char *body;           /* the object after HEAD: "\"spec\":{...}" */
	int verdict;                /* schema_apply's return: 0 valid, -1 invalid */
	struct cause causes[8];     /* every cause, in order */
	const char *message;        /* schema_invalid_message, when given */
	struct check checks[16];
};

static const struct row rows[] = {
	/* ---- defaulting ---- */
	{.what = "defaults fill a minimal object", .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\"}}", .verdict = 0,
	 .checks = {{"spec.huggingFace.revision", "\"main\""},
	  {"spec.deletionPolicy", "\"Delete\""},
	  /* precheck has default {} itself, so its own properties are defaulted too */
	  {"spec.precheck", "{\"vram\":\"Enabled\",\"safetyFactor\":\"1.0\"}"},
	  /* options has no default: its property default only applies when it exists */
	  {"spec.options", NULL},
	  /* authSecret absent -> its key default is not applied */
	  {"spec.huggingFace.authSecret", NULL},
	  /* metadata, apiVersion and kind are untouched though metadata's schema has no properties */
	  {"metadata", "{\"name\":\"q\",\"labels\":{\"a\":\"b\"}}"},
	  {"kind", "\"ModelCache\""},
	  {"apiVersion", "\"modelcache.dev/v1alpha1\""}}},
	{.what = "defaults never override",
	 .body = "\"spec\":{" HF ",\"deletionPolicy\":\"Retain\",\"options\":{},\"precheck\":{\"vram\":\"Disabled\"},"
	 "\"huggingFace\":{\"repo\":\"x\",\"revision\":\"v2\",\"authSecret\":{\"name\":\"s\"}}}", .verdict = 0,
	 .checks = {{"spec.deletionPolicy", "\"Retain\""},
	  {"spec.huggingFace.revision", "\"v2\""},
	  {"spec.precheck", "{\"vram\":\"Disabled\",\"safetyFactor\":\"1.0\"}"},
	  {"spec.huggingFace.authSecret", "{\"name\":\"s\",\"key\":\"HF_TOKEN\"}"},
	  {"spec.options.debug", "false"}}},
	{.what = "nullable keeps a null; other nulls are pruned, then defaulted",
	 .body = "\"spec\":{" HF ",\"note\":null,\"deletionPolicy\":null,\"replicas\":null}", .verdict = 0,
	 .checks = {{"spec.note", "null"}, {"spec.deletionPolicy", "\"Delete\""}, {"spec.replicas", NULL}}},

	/* ---- pruning ---- */
	{.what = "unknown fields pruned, preserved and embedded ones kept",
	 .body = "\"bogusTop\":1,\"spec\":{" HF ",\"foo\":\"bar\",\"huggingFace\":{\"repo\":\"x\",\"typo\":true},"
	 "\"extra\":{\"anything\":{\"goes\":[1,2]}},"
	 "\"template\":{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},"
	 "\"spec\":{\"x\":\"y\",\"z\":1},\"other\":2}},\"status\":{\"free\":{\"form\":true}}", .verdict = 0,
	 .checks = {{"bogusTop", NULL},
	  {"spec.foo", NULL},
	  {"spec.huggingFace", "{\"repo\":\"x\",\"revision\":\"main\"}"},
	  /* preserve-unknown-fields keeps unknown keys and still defaults known ones */
	  {"spec.extra", "{\"anything\":{\"goes\":[1,2]},\"known\":7}"},
	  /* embedded resource: apiVersion/kind/metadata kept, the rest pruned by its schema */
	  {"spec.template", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"x\":\"y\"}}"},
	  {"status", "{\"free\":{\"form\":true}}"}}},

	/* ---- required, enum and the 422 message ---- */
	{.what = "required and enum", .body = "\"spec\":{\"deletionPolicy\":\"Foo\",\"huggingFace\":{}}", .verdict = -1,
	 .causes = {{"spec.source", "FieldValueRequired", "Required value"},
	  {"spec.deletionPolicy", "FieldValueNotSupported",
	   "Unsupported value: \"Foo\": supported values: \"Delete\", \"Retain\""},
	  {"spec.huggingFace.repo", "FieldValueRequired", "Required value"}},
	 .message = "ModelCache.modelcache.dev \"q\" is invalid: [spec.source: Required value, "
	 "spec.deletionPolicy: Unsupported value: \"Foo\": supported values: \"Delete\", "
	 "\"Retain\", spec.huggingFace.repo: Required value]"},
	{.what = "one cause: the message has no brackets", .body = "\"spec\":{}", .verdict = -1,
	 .causes = {{"spec.source", "FieldValueRequired", "Required value"}},
	 .message = "ModelCache.modelcache.dev \"q\" is invalid: spec.source: Required value"},
	{.what = "a required field given as null is missing", .body = "\"spec\":{\"source\":null}", .verdict = -1,
	 .causes = {{"spec.source", "FieldValueRequired", "Required value"}}},
	{.what = "embedded resource requires apiVersion and kind", .body = "\"spec\":{" HF ",\"template\":{\"spec\":{}}}", .verdict = -1,
	 .causes = {{"spec.template.apiVersion", "FieldValueRequired", "Required value"},
	  {"spec.template.kind", "FieldValueRequired", "Required value"}}},

	/* ---- types ---- */
	{.what = "type errors",
	 .body = "\"spec\":{" HF ",\"replicas\":\"three\",\"ratio\":true,\"huggingFace\":[1],\"size\":false,"
	 "\"options\":{\"debug\":\"yes\"}}", .verdict = -1,
	 .causes = {{"spec.replicas", "FieldValueTypeInvalid",
	   "Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""},
	  {"spec.ratio", "FieldValueTypeInvalid",
	   "Invalid value: \"boolean\": spec.ratio in body must be of type number: \"boolean\""},
	  {"spec.huggingFace", "FieldValueTypeInvalid",
	   "Invalid value: \"array\": spec.huggingFace in body must be of type object: \"array\""},
	  {"spec.size", "FieldValueTypeInvalid",
	   "Invalid value: \"boolean\": spec.size in body must be of type integer,string: \"boolean\""},
	  {"spec.options.debug", "FieldValueTypeInvalid",
	   "Invalid value: \"string\": spec.options.debug in body must be of type boolean: \"string\""}}},
	{.what = "integer accepts an integral double", .body = "\"spec\":{" HF ",\"replicas\":3.0,\"ratio\":1e-1}", .verdict = 0},
	{.what = "integer refuses a fraction", .body = "\"spec\":{" HF ",\"replicas\":2.5}", .verdict = -1,
	 .causes = {{"spec.replicas", "FieldValueTypeInvalid",
	   "Invalid value: \"number\": spec.replicas in body must be of type integer: \"number\""}}},
	{.what = "a null array item is a type error",
	 .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":\"r\",\"include\":[null]}}", .verdict = -1,
	 .causes = {{"spec.huggingFace.include[0]", "FieldValueTypeInvalid",
	   "Invalid value: \"null\": spec.huggingFace.include[0] in body must be of type string: \"null\""}}},

	/* ---- numeric bounds ---- */
	{.what = "below minimum, at exclusive maximum", .body = "\"spec\":{" HF ",\"replicas\":0,\"ratio\":1}", .verdict = -1,
	 .causes = {{"spec.replicas", "FieldValueInvalid",
	   "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"},
	  {"spec.ratio", "FieldValueInvalid", "Invalid value: 1: spec.ratio in body should be less than 1"}}},
	{.what = "above maximum, at exclusive minimum", .body = "\"spec\":{" HF ",\"replicas\":11,\"ratio\":0}", .verdict = -1,
	 .causes = {{"spec.replicas", "FieldValueInvalid",
	   "Invalid value: 11: spec.replicas in body should be less than or equal to 10"},
	  {"spec.ratio", "FieldValueInvalid", "Invalid value: 0: spec.ratio in body should be greater than 0"}}},
	{.what = "inside the bounds", .body = "\"spec\":{" HF ",\"replicas\":10,\"ratio\":0.5}", .verdict = 0},

	/* ---- strings and patterns ---- */
	{.what = "pattern: org/name", .body = "\"spec\":{" HF ",\"size\":\"20Gi\",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\"}}", .verdict = 0},
	{.what = "pattern: no org", .body = "\"spec\":{" HF ",\"size\":\"20Gi\",\"huggingFace\":{\"repo\":\"gpt2\"}}", .verdict = 0},
	{.what = "pattern: \\w in a bracket expression", .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":\"a_b.c-d/e\"}}", .verdict = 0},
	{.what = "pattern mismatches", .body = "\"spec\":{" HF ",\"size\":\"20 GB\",\"huggingFace\":{\"repo\":\"bad repo\"}}", .verdict = -1,
	 .causes = {{"spec.size", "FieldValueInvalid", "Invalid value: \"20 GB\": spec.size in body should match '^\\d+(Gi|Mi)?$'"},
	  {"spec.huggingFace.repo", "FieldValueInvalid",
	   "Invalid value: \"bad repo\": spec.huggingFace.repo in body should match '^([\\w.-]+/)?[\\w.-]+$'"}}},
	{.what = "int-or-string: the pattern applies to strings only", .body = "\"spec\":{" HF ",\"size\":123}", .verdict = 0},
	/* lengths count characters, not bytes: 20 x "é" is 40 bytes but fits; \w is ASCII-only */
	{.what = "maxLength in characters, \\w ASCII-only",
	 .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":"
	 "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	 "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}}", .verdict = -1,
	 .causes = {{"spec.huggingFace.repo", "FieldValueInvalid",
	   "Invalid value: \"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
	   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\": "
	   "spec.huggingFace.repo in body should match '^([\\w.-]+/)?[\\w.-]+$'"}}},
	{.what = "empty string: minLength and pattern, two causes on one field",
	 .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":\"\"}}", .verdict = -1,
	 .causes = {{"spec.huggingFace.repo", "FieldValueInvalid",
	   "Invalid value: \"\": spec.huggingFace.repo in body should be at least 1 chars long"},
	  {"spec.huggingFace.repo", "FieldValueInvalid",
	   "Invalid value: \"\": spec.huggingFace.repo in body should match '^([\\w.-]+/)?[\\w.-]+$'"}}},
	{.what = "maxLength", .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":\"abcdefghijklmnopqrstu\"}}", .verdict = -1,
	 .causes = {{"spec.huggingFace.repo", "FieldValueTooLong", "Too long: may not be more than 20 bytes"}}},
	{.what = "minLength of a map value", .body = "\"spec\":{" HF ",\"labels\":{\"a\":\"x\"}}", .verdict = -1,
	 .causes = {{"spec.labels.a", "FieldValueInvalid", "Invalid value: \"x\": spec.labels.a in body should be at least 2 chars long"}}},

	/* ---- arrays and maps ---- */
	{.what = "maxItems, set and map list uniqueness, maxProperties, items defaulted and pruned",
	 .body = "\"spec\":{" HF ",\"huggingFace\":{\"repo\":\"r\",\"include\":[\"a\",\"b\",\"a\",\"c\"]},"
	 "\"labels\":{\"aa\":\"xx\",\"bb\":\"yy\",\"cc\":\"zz\"},"
	 "\"gpus\":[{\"product\":\"H100\"},{\"perNode\":0,\"junk\":1},{\"product\":\"H100\",\"perNode\":2}]}", .verdict = -1,
	 .causes = {{"spec.huggingFace.include", "FieldValueTooMany", "Too many: 4: must have at most 3 items"},
	  {"spec.huggingFace.include[2]", "FieldValueDuplicate", "Duplicate value: \"a\""},
	  {"spec.labels", "FieldValueTooMany", "Too many: 3: must have at most 2 items"},
	  {"spec.gpus[2]", "FieldValueDuplicate", "Duplicate value: {\"product\":\"H100\"}"},
	  {"spec.gpus[1].product", "FieldValueRequired", "Required value"},
	  {"spec.gpus[1].perNode", "FieldValueInvalid",
	   "Invalid value: 0: spec.gpus[1].perNode in body should be greater than or equal to 1"}},
	 .checks = {{"spec.gpus[0]", "{\"product\":\"H100\",\"perNode\":1}"}, {"spec.gpus[1].junk", NULL}}},
	{.what = "minItems", .body = "\"spec\":{" HF ",\"gpus\":[]}", .verdict = -1,
	 .causes = {{"spec.gpus", "FieldValueInvalid", "Invalid value: []: spec.gpus in body should have at least 1 items"}}},

	/* ---- oneOf ---- */
	{.what = "oneOf: exactly one", .body = "\"spec\":{" HF ",\"connection\":{\"local\":{}}}", .verdict = 0},
	{.what = "oneOf: none", .body = "\"spec\":{" HF ",\"connection\":{}}", .verdict = -1,
	 .causes = {{"spec.connection", "FieldValueInvalid",
	   "Invalid value: {}: spec.connection in body must validate one and only one schema (oneOf)"}}},
	{.what = "oneOf: two", .body = "\"spec\":{" HF ",\"connection\":{\"local\":{},\"secret\":\"s\"}}", .verdict = -1,
	 .causes = {{"spec.connection", "FieldValueInvalid",
	   "Invalid value: {\"local\":{},\"secret\":\"s\"}: spec.connection in body must validate one and only one "
	   "schema (oneOf)"}}},
};

static const char *str_or(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "(none)";
}

static void test_table(void **state)
{
	struct fx *f = *state;

	for (size_t i = 0; i < NELEM(rows); i++) {
		const struct row *r = &rows[i];
		char *in = NULL;
		json_object *o, *causes = json_object_new_array();
		size_t want_n = 0;

		assert_true(asprintf(&in, "{" HEAD ",%s}", r->body) > 0);
		o = parse(in);
		if (schema_apply(f->schema, o, causes) != r->verdict)
			fail_msg("row \"%s\": verdict %d wanted, causes %s", r->what, r->verdict,
				 json_object_to_json_string(causes));
		while (want_n < NELEM(r->causes) && r->causes[want_n].field)
			want_n++;
		if (json_object_array_length(causes) != want_n)
			fail_msg("row \"%s\": %zu causes wanted, got %s", r->what, want_n,
				 json_object_to_json_string(causes));
		for (size_t k = 0; k < want_n; k++) {
			json_object *c = json_object_array_get_idx(causes, k);
			const struct cause *w = &r->causes[k];

			if (strcmp(str_or(c, "field"), w->field) || strcmp(str_or(c, "reason"), w->reason) ||
			    strcmp(str_or(c, "message"), w->message))
				fail_msg("row \"%s\" cause %zu: got %s, want %s %s \"%s\"", r->what, k,
					 json_object_to_json_string(c), w->field, w->reason, w->message);
		}
		if (r->message) {
			char *msg = schema_invalid_message("ModelCache.modelcache.dev", "q", causes);

			if (strcmp(msg, r->message))
				fail_msg("row \"%s\": message\n  got  %s\n  want %s", r->what, msg, r->message);
			free(msg);
		}
		for (size_t k = 0; k < NELEM(r->checks) && r->checks[k].path; k++) {
			const struct check *c = &r->checks[k];
			json_object *v = NULL;
			bool found = lookup(o, c->path, &v);
			const char *got = found ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;

			if (!c->want != !found || (got && c->want && strcmp(got, c->want)))
				fail_msg("row \"%s\": %s is %s, want %s", r->what, c->path, got ? got : "absent",
					 c->want ? c->want : "absent");
		}
		json_object_put(causes);
		json_object_put(o);
		free(in);
	}
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
		cmocka_unit_test_setup_teardown(test_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
