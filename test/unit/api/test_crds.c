/* crds/ and examples/: every CRD is structural and self-consistent, its
 * defaults and limits are the ones pkg/api applies, and every example object
 * of our kinds passes pkg/api validation. Files are read from
 * $MC_SOURCE_DIR (set by ctest). */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <yaml.h>

#include "api/api.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- YAML -> json-c (documents API; enough for manifests) ---- */

static json_object *scalar(yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;
	char *end;
	long long ll;
	double d;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_object_new_string(v);
	if (!strcmp(v, "true"))
		return json_object_new_boolean(1);
	if (!strcmp(v, "false"))
		return json_object_new_boolean(0);
	if (!strcmp(v, "null") || !strcmp(v, "~") || !*v)
		return NULL;
	errno = 0;
	ll = strtoll(v, &end, 10);
	if (!*end && !errno)
		return json_object_new_int64(ll);
	d = strtod(v, &end);
	if (!*end && strspn(v, "0123456789.eE+-") == strlen(v))
		return json_object_new_double(d);
	return json_object_new_string(v);
}

static json_object *convert(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_object *o;

	assert_true(depth < 64);
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar(n);
	case YAML_SEQUENCE_NODE:
		o = json_object_new_array();
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++)
			json_object_array_add(o, convert(doc, yaml_document_get_node(doc, *i), depth + 1));
		return o;
	case YAML_MAPPING_NODE:
		o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			assert_int_equal(k->type, YAML_SCALAR_NODE);
			json_object_object_add(o, (const char *)k->data.scalar.value,
					       convert(doc, yaml_document_get_node(doc, p->value), depth + 1));
		}
		return o;
	default:
		return NULL;
	}
}

/* All documents of a file as a JSON array (empty documents skipped). */
static json_object *load_yaml(const char *path)
{
	FILE *f = fopen(path, "rb");
	yaml_parser_t parser;
	json_object *docs = json_object_new_array();

	if (!f)
		fail_msg("cannot open %s", path);
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_file(&parser, f);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;

		if (!yaml_parser_load(&parser, &doc))
			fail_msg("%s: YAML error: %s at line %zu", path, parser.problem,
				 parser.problem_mark.line + 1);
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;
		}
		json_object *o = convert(&doc, root, 0);
		if (o)
			json_object_array_add(docs, o);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return docs;
}

static char *src_path(const char *rel)
{
	const char *dir = getenv("MC_SOURCE_DIR");

	if (!dir)
		dir = MC_SOURCE_DIR_FALLBACK;
	return xasprintf("%s/%s", dir, rel);
}

/* ---- structural schema checks ---- */

struct errs {
	struct buf b;
	int n;
};

static void err(struct errs *e, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(struct errs *e, const char *path, const char *fmt, ...)
{
	va_list ap;

	e->n++;
	buf_printf(&e->b, "  %s: ", path);
	va_start(ap, fmt);
	buf_vprintf(&e->b, fmt, ap);
	va_end(ap);
	buf_putc(&e->b, '\n');
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v))
		return v;
	return NULL;
}

static const char *gets(json_object *o, const char *k)
{
	json_object *v = get(o, k);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static const char *or_default(const char *s, const char *def)
{
	return s ? s : def;
}

static int getb(json_object *o, const char *k)
{
	json_object *v = get(o, k);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static int default_matches(json_object *node, json_object *def, const char *type)
{
	if (!strcmp(type, "string"))
		return json_object_is_type(def, json_type_string);
	if (!strcmp(type, "integer"))
		return json_object_is_type(def, json_type_int);
	if (!strcmp(type, "number"))
		return json_object_is_type(def, json_type_int) || json_object_is_type(def, json_type_double);
	if (!strcmp(type, "boolean"))
		return json_object_is_type(def, json_type_boolean);
	if (!strcmp(type, "object"))
		return json_object_is_type(def, json_type_object);
	if (!strcmp(type, "array"))
		return json_object_is_type(def, json_type_array);
	return 0;
}

static void check_node(struct errs *e, json_object *node, const char *path, int depth);

static void check_value_validations(struct errs *e, json_object *node, const char *path)
{
	static const char *const combos[] = { "anyOf", "allOf", "oneOf" };
	static const char *const forbidden[] = { "type", "default", "description", "nullable",
		"additionalProperties", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
		"x-kubernetes-embedded-resource" };

	for (size_t c = 0; c < 3; c++) {
		json_object *arr = get(node, combos[c]);

		if (!arr)
			continue;
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *sub = json_object_array_get_idx(arr, i);

			for (size_t f = 0; f < sizeof(forbidden) / sizeof(forbidden[0]); f++) {
				/* int-or-string's [{type: integer}, {type: string}] is the allowed exception */
				if (!strcmp(forbidden[f], "type") && getb(node, "x-kubernetes-int-or-string"))
					continue;
				if (get(sub, forbidden[f]))
					err(e, path, "%s[%zu] must not set %s", combos[c], i, forbidden[f]);
			}
		}
	}
}

static void check_node(struct errs *e, json_object *node, const char *path, int depth)
{
	const char *type = gets(node, "type");
	json_object *props = get(node, "properties"), *addl = get(node, "additionalProperties");
	json_object *items = get(node, "items"), *def = get(node, "default"), *en = get(node, "enum");
	json_object *rules = get(node, "x-kubernetes-validations");
	const char *pattern = gets(node, "pattern");
	char sub[512];

	if (depth > 32) {
		err(e, path, "schema too deep");
		return;
	}
	if (!json_object_is_type(node, json_type_object)) {
		err(e, path, "schema node is not an object");
		return;
	}
	check_value_validations(e, node, path);
	if (getb(node, "x-kubernetes-int-or-string")) {
		json_object *any = get(node, "anyOf");

		if (type)
			err(e, path, "int-or-string must not set type");
		if (any && (json_object_array_length(any) != 2 ||
			    strcmp(or_default(gets(json_object_array_get_idx(any, 0), "type"), ""), "integer") ||
			    strcmp(or_default(gets(json_object_array_get_idx(any, 1), "type"), ""), "string")))
			err(e, path, "int-or-string anyOf must be [{type: integer}, {type: string}]");
		type = NULL;
	} else if (!type) {
		if (!getb(node, "x-kubernetes-preserve-unknown-fields"))
			err(e, path, "missing type (not structural)");
	} else if (strcmp(type, "object") && strcmp(type, "array") && strcmp(type, "string") &&
		   strcmp(type, "integer") && strcmp(type, "number") && strcmp(type, "boolean")) {
		err(e, path, "unknown type %s", type);
	}
	if (props && addl)
		err(e, path, "properties and additionalProperties are mutually exclusive");
	if (type && strcmp(type, "object") && (props || addl))
		err(e, path, "properties on a non-object");
	if (type && !strcmp(type, "array") && !items)
		err(e, path, "array without items");
	if (props) {
		json_object_object_foreach(props, k, v) {
			snprintf(sub, sizeof(sub), "%s.%s", path, k);
			/* every field is documented (kubectl explain, docs/api.md);
			 * the root's metadata may carry nothing but name/generateName
			 * (the apiserver publishes ObjectMeta's description there) */
			if ((!gets(v, "description") || !gets(v, "description")[0]) &&
			    !(depth == 0 && !strcmp(k, "metadata")))
				err(e, sub, "no description (kubectl explain would print nothing)");
			check_node(e, v, sub, depth + 1);
		}
	}
	if (addl && json_object_is_type(addl, json_type_object)) {
		snprintf(sub, sizeof(sub), "%s[*]", path);
		check_node(e, addl, sub, depth + 1);
	}
	if (items) {
		snprintf(sub, sizeof(sub), "%s[]", path);
		check_node(e, items, sub, depth + 1);
	}
	/* required names exist */
	if (get(node, "required")) {
		json_object *req = get(node, "required");

		for (size_t i = 0; i < json_object_array_length(req); i++) {
			const char *r = json_object_get_string(json_object_array_get_idx(req, i));

			if (!get(props, r))
				err(e, path, "required field %s is not a property", r);
		}
	}
	/* list-type map keys must be required in the items */
	if (gets(node, "x-kubernetes-list-type") && !strcmp(gets(node, "x-kubernetes-list-type"), "map")) {
		json_object *keys = get(node, "x-kubernetes-list-map-keys");
		json_object *req = get(items, "required");

		for (size_t i = 0; keys && i < json_object_array_length(keys); i++) {
			const char *k = json_object_get_string(json_object_array_get_idx(keys, i));
			int found = 0;

			for (size_t j = 0; req && j < json_object_array_length(req); j++)
				found |= !strcmp(json_object_get_string(json_object_array_get_idx(req, j)), k);
			if (!found)
				err(e, path, "list map key %s must be required in the items", k);
		}
		if (!keys)
			err(e, path, "list-type map without list-map-keys");
	}
	/* patterns compile; defaults have the node's type, are in the enum and match the pattern */
	if (pattern) {
		regex_t re;

		if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
			err(e, path, "pattern does not compile: %s", pattern);
		else {
			if (def && json_object_is_type(def, json_type_string) &&
			    regexec(&re, json_object_get_string(def), 0, NULL, 0) != 0)
				err(e, path, "default %s does not match the pattern", json_object_get_string(def));
			regfree(&re);
		}
	}
	if (def && type && !default_matches(node, def, type))
		err(e, path, "default has the wrong type for %s", type);
	if (def && en) {
		int found = 0;

		for (size_t i = 0; i < json_object_array_length(en); i++)
			found |= json_object_equal(json_object_array_get_idx(en, i), def);
		if (!found)
			err(e, path, "default is not in the enum");
	}
	/* CEL rules: rule + message; fieldPath names a property; known reasons */
	for (size_t i = 0; rules && i < json_object_array_length(rules); i++) {
		json_object *r = json_object_array_get_idx(rules, i);
		const char *fp = gets(r, "fieldPath"), *reason = gets(r, "reason");

		if (!gets(r, "rule") || !*gets(r, "rule"))
			err(e, path, "x-kubernetes-validations[%zu] without a rule", i);
		if (!gets(r, "message"))
			err(e, path, "x-kubernetes-validations[%zu] without a message", i);
		if (fp && (fp[0] != '.' || !get(props, fp + 1)))
			err(e, path, "x-kubernetes-validations[%zu].fieldPath %s is not a property", i, fp);
		if (reason && strcmp(reason, "FieldValueInvalid") && strcmp(reason, "FieldValueForbidden") &&
		    strcmp(reason, "FieldValueRequired") && strcmp(reason, "FieldValueDuplicate"))
			err(e, path, "x-kubernetes-validations[%zu].reason %s unknown", i, reason);
	}
}

/* The schema node at a simple JSON path (".spec.a.b"); filters/[*] are cut. */
static json_object *schema_at(json_object *schema, const char *jsonpath, const char **type)
{
	char p[256], *save = NULL;
	json_object *n = schema;

	snprintf(p, sizeof(p), "%s", jsonpath);
	p[strcspn(p, "[")] = 0;
	for (char *tok = strtok_r(p, ".", &save); tok && n; tok = strtok_r(NULL, ".", &save))
		n = get(get(n, "properties"), tok);
	if (n && !strchr(jsonpath, '[') && type)
		*type = gets(n, "type");
	return n;
}

static void check_crd(json_object *crd, const char *file)
{
	struct errs e;
	json_object *spec = get(crd, "spec"), *names = get(spec, "names"), *versions = get(spec, "versions");
	char want[256];
	int storage = 0;

	buf_init(&e.b, 1 << 20);
	e.n = 0;
	if (strcmp(or_default(gets(crd, "apiVersion"), ""), "apiextensions.k8s.io/v1"))
		err(&e, file, "apiVersion must be apiextensions.k8s.io/v1");
	if (strcmp(or_default(gets(crd, "kind"), ""), "CustomResourceDefinition"))
		err(&e, file, "kind must be CustomResourceDefinition");
	snprintf(want, sizeof(want), "%s.%s", or_default(gets(names, "plural"), "?"), or_default(gets(spec, "group"), "?"));
	if (strcmp(or_default(gets(get(crd, "metadata"), "name"), ""), want))
		err(&e, file, "metadata.name must be %s", want);
	if (strcmp(or_default(gets(spec, "group"), ""), API_GROUP))
		err(&e, file, "group must be %s", API_GROUP);
	if (!gets(names, "kind") || !gets(names, "singular") || !gets(names, "listKind") ||
	    !get(names, "shortNames"))
		err(&e, file, "names incomplete");
	if (!get(names, "categories") ||
	    strcmp(json_object_get_string(json_object_array_get_idx(get(names, "categories"), 0)), "modelcache-all"))
		err(&e, file, "category modelcache-all missing");
	for (size_t i = 0; versions && i < json_object_array_length(versions); i++) {
		json_object *v = json_object_array_get_idx(versions, i);
		json_object *schema = get(get(v, "schema"), "openAPIV3Schema");
		json_object *cols = get(v, "additionalPrinterColumns");
		json_object *scale = get(get(v, "subresources"), "scale");

		storage += getb(v, "storage");
		if (strcmp(or_default(gets(v, "name"), ""), API_VERSION))
			err(&e, file, "version must be %s", API_VERSION);
		if (!get(get(v, "subresources"), "status"))
			err(&e, file, "status subresource missing");
		if (!schema) {
			err(&e, file, "no openAPIV3Schema");
			continue;
		}
		if (strcmp(or_default(gets(schema, "type"), ""), "object"))
			err(&e, "openAPIV3Schema", "root type must be object");
		/* metadata: type object, and restrictions on name/generateName only */
		{
			json_object *md = get(get(schema, "properties"), "metadata");

			json_object *mp = get(md, "properties");

			if (md) {
				json_object_object_foreach(md, k, val) {
					(void)val;
					if (strcmp(k, "type") && strcmp(k, "properties"))
						err(&e, "openAPIV3Schema.metadata", "must not set %s", k);
				}
			}
			if (mp) {
				json_object_object_foreach(mp, pk, pv) {
					(void)pv;
					if (strcmp(pk, "name") && strcmp(pk, "generateName"))
						err(&e, "openAPIV3Schema.metadata",
						    "only name and generateName may be restricted, not %s", pk);
				}
			}
		}
		check_node(&e, schema, "openAPIV3Schema", 0);
		for (size_t c = 0; cols && c < json_object_array_length(cols); c++) {
			json_object *col = json_object_array_get_idx(cols, c);
			const char *jp = gets(col, "jsonPath"), *ct = gets(col, "type"), *st = NULL;

			if (!jp || jp[0] != '.')
				err(&e, "additionalPrinterColumns", "jsonPath must start with '.'");
			else if (strncmp(jp, ".metadata.", 10) && !schema_at(schema, jp, &st))
				err(&e, "additionalPrinterColumns", "%s is not in the schema", jp);
			else if (st && ct && strcmp(st, ct) && !(strcmp(ct, "string") == 0))
				err(&e, "additionalPrinterColumns", "%s has type %s but the column says %s", jp, st, ct);
			if (!ct || (strcmp(ct, "string") && strcmp(ct, "integer") && strcmp(ct, "number") &&
				    strcmp(ct, "boolean") && strcmp(ct, "date")))
				err(&e, "additionalPrinterColumns", "bad type for %s", jp ? jp : "?");
		}
		if (scale) {
			const char *t = NULL;

			if (!schema_at(schema, or_default(gets(scale, "specReplicasPath"), ""), &t) || !t || strcmp(t, "integer"))
				err(&e, "scale", "specReplicasPath must name an integer field");
			t = NULL;
			if (!schema_at(schema, or_default(gets(scale, "statusReplicasPath"), ""), &t) || !t || strcmp(t, "integer"))
				err(&e, "scale", "statusReplicasPath must name an integer field");
		}
	}
	if (storage != 1)
		err(&e, file, "exactly one storage version required");
	if (e.n)
		fail_msg("%s is not valid/structural:\n%s", file, buf_str(&e.b));
	buf_cleanup(&e.b);
}

static json_object *load_crd(const char *name)
{
	char *rel = xasprintf("crds/%s", name);
	char *path = src_path(rel);
	json_object *docs = load_yaml(path), *crd;

	assert_int_equal(json_object_array_length(docs), 1);
	crd = json_object_get(json_object_array_get_idx(docs, 0));
	json_object_put(docs);
	free(path);
	free(rel);
	return crd;
}

static const char *const crd_files[] = {
	"modelcache.dev_inferenceclusters.yaml",
	"modelcache.dev_modelcaches.yaml",
	"modelcache.dev_modeldeployments.yaml",
};

static void test_crds_structural(void **state)
{
	for (size_t i = 0; i < 3; i++) {
		json_object *crd = load_crd(crd_files[i]);

		check_crd(crd, crd_files[i]);
		json_object_put(crd);
	}
}

/* The checker itself catches what it should. */
static void test_checker_catches(void **state)
{
	const char *bad[] = {
		"{\"type\":\"object\",\"properties\":{\"a\":{\"description\":\"no type\"}}}",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\"}}}",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"default\":1}}}",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"enum\":[\"x\"],\"default\":\"y\"}}}",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"integer\"}]}}}",
		"{\"type\":\"object\",\"required\":[\"b\"],\"properties\":{\"a\":{\"type\":\"string\"}}}",
		"{\"type\":\"object\",\"x-kubernetes-validations\":[{\"rule\":\"true\",\"message\":\"m\",\"fieldPath\":\".zz\"}]}",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\",\"pattern\":\"^[a-z]+$\",\"default\":\"A\"}}}",
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_object *o = json_tokener_parse(bad[i]);
		struct errs e;

		buf_init(&e.b, 1 << 16);
		e.n = 0;
		check_node(&e, o, "x", 0);
		if (e.n == 0)
			fail_msg("checker accepted %s", bad[i]);
		buf_cleanup(&e.b);
		json_object_put(o);
	}
}

/* CRD defaults and limits == what pkg/api applies. */
static void test_defaults_match_api(void **state)
{
	json_object *ic = load_crd(crd_files[0]), *mc = load_crd(crd_files[1]), *md = load_crd(crd_files[2]);
	json_object *ics = api_path(json_object_array_get_idx(api_path(ic, "spec.versions"), 0),
				    "schema.openAPIV3Schema.properties.spec.properties");
	json_object *mcs = api_path(json_object_array_get_idx(api_path(mc, "spec.versions"), 0),
				    "schema.openAPIV3Schema.properties.spec.properties");
	json_object *mds = api_path(json_object_array_get_idx(api_path(md, "spec.versions"), 0),
				    "schema.openAPIV3Schema.properties.spec.properties");
	char b[32];

#define DEF_STR(root, path, want) \
	assert_string_equal(api_path_str(root, path ".default", "(none)"), want)
#define INT_AT(root, path) json_object_get_int64(api_path(root, path))

	DEF_STR(ics, "connection.properties.kubeconfigSecretRef.properties.key", API_DEFAULT_KUBECONFIG_KEY);
	DEF_STR(ics, "namespace", API_DEFAULT_REMOTE_NAMESPACE);
	DEF_STR(ics, "cache.properties.storageClassName", API_DEFAULT_STORAGE_CLASS);
	assert_int_equal(INT_AT(ics, "gpus.maxItems"), API_MAX_GPU_POOLS);
	DEF_STR(mcs, "huggingFace.properties.revision", API_DEFAULT_REVISION);
	DEF_STR(mcs, "huggingFace.properties.authSecret.properties.key", API_DEFAULT_AUTH_KEY);
	DEF_STR(mcs, "deletionPolicy", "Delete");
	DEF_STR(mcs, "huggingFace.properties.layout", "Flat");
	DEF_STR(mcs, "huggingFace.properties.files", "Auto");
	DEF_STR(mcs, "precheck.properties.vram", "Enabled");
	snprintf(b, sizeof(b), "%.1f", API_DEFAULT_SAFETY_FACTOR);
	DEF_STR(mcs, "precheck.properties.safetyFactor", b);
	assert_int_equal(INT_AT(mcs, "huggingFace.properties.repo.maxLength"), API_MAX_REPO_LEN);
	assert_int_equal(INT_AT(mcs, "huggingFace.properties.revision.maxLength"), API_MAX_REVISION_LEN);
	assert_int_equal(INT_AT(mcs, "huggingFace.properties.include.maxItems"), API_MAX_PATTERNS);
	assert_int_equal(INT_AT(mcs, "huggingFace.properties.include.items.maxLength"), API_MAX_PATTERN_LEN);
	assert_int_equal(INT_AT(mcs, "huggingFace.properties.exclude.maxItems"), API_MAX_PATTERNS);
	assert_int_equal(INT_AT(mds, "replicas.default"), 1);
	assert_int_equal(INT_AT(mds, "engine.properties.port.default"), API_DEFAULT_PORT);
	assert_int_equal(INT_AT(mds, "maxSequences.default"), 1);
	assert_int_equal(INT_AT(mds, "engine.properties.args.maxItems"), API_MAX_ARGS);
	snprintf(b, sizeof(b), "%.1f", API_DEFAULT_GPU_MEM_UTIL);
	DEF_STR(mds, "gpuMemoryUtilization", b);
	/* the same repo rule: the CRD's CEL rule (its matches() regex and the
	 * "--"/".." exclusions) accepts what api_repo_ok accepts */
	{
		regex_t re;
		const char *repos[] = { "Qwen/Qwen3-0.6B", "gpt2", "a/b/c", "-a", "a/", "x_y.z/w-1", "a//b",
					"a--b", "a..b/c" };
		json_object *rules = api_path(mcs, "huggingFace.properties.repo.x-kubernetes-validations");
		const char *rule = api_path_str(json_object_array_get_idx(rules, 0), "rule", "");
		const char *a = strstr(rule, "matches('"), *z = a ? strstr(a + 9, "')") : NULL;
		assert_non_null(a);
		assert_non_null(z);
		assert_non_null(strstr(rule, "!self.contains('--')"));
		assert_non_null(strstr(rule, "!self.contains('..')"));
		char *pat = strndup(a + 9, (size_t)(z - a - 9));
		assert_int_equal(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
		for (size_t i = 0; i < sizeof(repos) / sizeof(repos[0]); i++) {
			bool crd_ok = regexec(&re, repos[i], 0, NULL, 0) == 0 && !strstr(repos[i], "--") &&
				      !strstr(repos[i], "..");
			if (crd_ok != api_repo_ok(repos[i]))
				fail_msg("repo \"%s\": CRD rule %d, api_repo_ok %d", repos[i], crd_ok, api_repo_ok(repos[i]));
		}
		regfree(&re);
		free(pat);
	}
	json_object_put(ic);
	json_object_put(mc);
	json_object_put(md);
}

/* Every example object of our kinds passes pkg/api validation. */
static void test_examples_valid(void **state)
{
	char *dir = src_path("examples");
	DIR *d = opendir(dir);
	struct dirent *de;
	int seen[3] = { 0 };

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char *path;
		json_object *docs;

		if (n < 6 || strcmp(de->d_name + n - 5, ".yaml"))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		docs = load_yaml(path);
		for (size_t i = 0; i < json_object_array_length(docs); i++) {
			json_object *o = json_object_array_get_idx(docs, i);
			const char *kind = api_path_str(o, "kind", "");
			char *msg = NULL;
			int rc = 0, k = -1;

			if (strcmp(api_path_str(o, "apiVersion", ""), API_GROUP_VERSION))
				continue;
			if (!strcmp(kind, API_KIND_INFERENCECLUSTER))
				k = 0, rc = api_validate_inferencecluster(o, &msg);
			else if (!strcmp(kind, API_KIND_MODELCACHE))
				k = 1, rc = api_validate_modelcache(o, &msg);
			else if (!strcmp(kind, API_KIND_MODELDEPLOYMENT))
				k = 2, rc = api_validate_modeldeployment(o, &msg);
			else
				fail_msg("%s: unknown kind %s", de->d_name, kind);
			if (rc != 0)
				fail_msg("%s: %s %s is invalid: %s", de->d_name, kind,
					 api_path_str(o, "metadata.name", "?"), msg);
			seen[k]++;
		}
		json_object_put(docs);
		free(path);
	}
	closedir(d);
	free(dir);
	assert_true(seen[0] >= 2);   /* local + remote */
	assert_true(seen[1] >= 3);   /* small, gated, GGUF */
	assert_true(seen[2] >= 1);
}

/* ---- Helm chart: static checks (rendering: test/chart/chart.sh, with Helm's engine) ---- */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char tmp[8192];
	size_t n;

	if (!f)
		fail_msg("cannot open %s", path);
	buf_init(&b, 16u << 20);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		assert_int_equal(buf_append(&b, tmp, n), 0);
	fclose(f);
	return buf_take(&b, len);
}

/* Every action is closed, block keywords are balanced, and every .Values
 * path exists in values.yaml. 0, or -1 with the reason in why. */
static int template_errors(const char *text, json_object *values, char *why, size_t wn)
{
	const char *p = text, *last = text;
	int depth = 0;

	while ((p = strstr(p, "{{"))) {
		const char *end = strstr(p + 2, "}}"), *a, *nxt;
		char act[512], word[32] = "";

		nxt = strstr(p + 2, "{{");
		if (!end || (nxt && nxt < end)) {
			snprintf(why, wn, "unclosed {{");
			return -1;
		}
		if (memmem(last, (size_t)(p - last), "}}", 2)) {
			snprintf(why, wn, "stray }}");
			return -1;
		}
		a = p + 2;
		if (*a == '-')
			a++;
		while (*a == ' ')
			a++;
		snprintf(act, sizeof(act), "%.*s", (int)(end - a), a);
		sscanf(act, "%31[a-z]", word);
		if (!strncmp(act, "/*", 2)) {
			/* comment */
		} else if (!strcmp(word, "if") || !strcmp(word, "range") || !strcmp(word, "with") ||
			   !strcmp(word, "define") || !strcmp(word, "block")) {
			depth++;
		} else if (!strcmp(word, "end")) {
			if (--depth < 0) {
				snprintf(why, wn, "{{ end }} without a block");
				return -1;
			}
		}
		/* .Values.a.b references */
		for (const char *v = strstr(act, ".Values."); v; v = strstr(v + 1, ".Values.")) {
			char path[256];
			size_t n = strspn(v + 8, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");

			snprintf(path, sizeof(path), "%.*s", (int)n, v + 8);
			while (n > 0 && path[n - 1] == '.')
				path[--n] = 0;
			if (!api_path(values, path)) {
				snprintf(why, wn, ".Values.%.200s is not in values.yaml", path);
				return -1;
			}
		}
		p = last = end + 2;
	}
	if (strstr(last, "}}")) {
		snprintf(why, wn, "stray }}");
		return -1;
	}
	if (depth != 0) {
		snprintf(why, wn, "%d unclosed block(s)", depth);
		return -1;
	}
	return 0;
}

static void check_template(const char *file, const char *text, json_object *values)
{
	char why[256];

	if (template_errors(text, values, why, sizeof(why)) < 0)
		fail_msg("%s: %s", file, why);
}

/* The text between the first "rules:" line and the next "---". */
static char *first_rules(const char *text)
{
	const char *a = strstr(text, "\nrules:\n"), *b;

	assert_non_null(a);
	b = strstr(a, "\n---");
	assert_non_null(b);
	return xstrndup(a, (size_t)(b - a));
}

static void test_chart(void **state)
{
	char *dir = src_path("charts/modelcache-operator");
	char *path, *text, *text2, *r1, *r2;
	json_object *chart, *values;
	DIR *d;
	struct dirent *de;
	int ntemplates = 0;

	path = xasprintf("%s/Chart.yaml", dir);
	chart = load_yaml(path);
	free(path);
	assert_string_equal(api_path_str(json_object_array_get_idx(chart, 0), "apiVersion", ""), "v2");
	assert_string_equal(api_path_str(json_object_array_get_idx(chart, 0), "name", ""), "modelcache-operator");
	assert_non_null(api_path_str(json_object_array_get_idx(chart, 0), "version", NULL));
	assert_string_equal(api_path_str(json_object_array_get_idx(chart, 0), "appVersion", ""), MC_VERSION);
	json_object_put(chart);

	path = xasprintf("%s/values.yaml", dir);
	values = load_yaml(path);
	free(path);
	assert_int_equal(json_object_array_length(values), 1);

	/* chart CRDs are byte-identical to crds/ */
	for (size_t i = 0; i < 3; i++) {
		char *rel = xasprintf("crds/%s", crd_files[i]);
		char *a = src_path(rel);
		size_t la, lb;

		path = xasprintf("%s/crds/%s", dir, crd_files[i]);
		text = read_all(a, &la);
		text2 = read_all(path, &lb);
		if (la != lb || memcmp(text, text2, la))
			fail_msg("%s differs from crds/%s: copy it again", path, crd_files[i]);
		free(text);
		free(text2);
		free(path);
		free(a);
		free(rel);
	}

	path = xasprintf("%s/templates", dir);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d))) {
		char *f;

		if (de->d_name[0] == '.')
			continue;
		f = xasprintf("%s/%s", path, de->d_name);
		text = read_all(f, NULL);
		check_template(de->d_name, text, json_object_array_get_idx(values, 0));
		free(text);
		free(f);
		ntemplates++;
	}
	closedir(d);
	free(path);
	assert_true(ntemplates >= 7);

	/* the operator's ClusterRole rules are the same in manifests/ and the chart */
	text = read_all(path = xasprintf("%s/templates/rbac.yaml", dir), NULL);
	free(path);
	path = src_path("manifests/rbac.yaml");
	text2 = read_all(path, NULL);
	free(path);
	r1 = first_rules(text);
	r2 = first_rules(text2);
	assert_string_equal(r1, r2);
	free(r1);
	free(r2);
	free(text);
	free(text2);
	json_object_put(values);
	free(dir);
}

static void test_template_checker(void **state)
{
	json_object *v = json_tokener_parse("{\"a\":{\"b\":1}}");
	char why[256];

	assert_int_equal(template_errors("{{- if .Values.a.b }}x{{ end }}{{/* c */}}", v, why, sizeof(why)), 0);
	assert_int_equal(template_errors("{{ if .Values.a.b }}x", v, why, sizeof(why)), -1);
	assert_string_equal(why, "1 unclosed block(s)");
	assert_int_equal(template_errors("{{ .Values.a.c }}", v, why, sizeof(why)), -1);
	assert_string_equal(why, ".Values.a.c is not in values.yaml");
	assert_int_equal(template_errors("{{ .Values.a.b ", v, why, sizeof(why)), -1);
	assert_int_equal(template_errors("x }} y", v, why, sizeof(why)), -1);
	assert_int_equal(template_errors("{{ end }}", v, why, sizeof(why)), -1);
	json_object_put(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crds_structural),
		cmocka_unit_test(test_checker_catches),
		cmocka_unit_test(test_defaults_match_api),
		cmocka_unit_test(test_examples_valid),
		cmocka_unit_test(test_chart),
		cmocka_unit_test(test_template_checker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
