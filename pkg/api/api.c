/* Typed views, validation and condition helpers for our kinds (see api.h).
 *
 * The rules here mirror the CRDs in crds/ (types, enums, patterns, min/max,
 * x-kubernetes-validations) one for one; the messages are the ones the
 * apiserver gives for the same failure, so a user sees the same text from
 * `kubectl apply` and from condition Valid=False. Rules the CRDs cannot
 * express are marked "operator-only". */
#include "api/api.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels/labels.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/names.h"
#include "util/quantity.h"
#include "util/timeutil.h"

#define PATH_MAX_LEN 256
#define MSG_MAX (16u << 10)
#define VALUE_SHOW_MAX 128

/* ---- error collection ---- */

struct vctx {
	struct buf errs;
	int n;
};

static void verr(struct vctx *v, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void verr(struct vctx *v, const char *path, const char *fmt, ...)
{
	va_list ap;

	v->n++;
	if (v->n > 1)
		buf_puts(&v->errs, "; ");
	buf_printf(&v->errs, "%s: ", path);
	va_start(ap, fmt);
	buf_vprintf(&v->errs, fmt, ap);
	va_end(ap);
}

/* A value as the apiserver quotes it: strings quoted, others as JSON;
 * capped. Writes into out[VALUE_SHOW_MAX + 8]. */
static const char *show(json_object *o, char *out, size_t n)
{
	const char *s;
	size_t len;

	if (!o)
		return "null";
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if (len > VALUE_SHOW_MAX)
		snprintf(out, n, "%.*s...", VALUE_SHOW_MAX, s);
	else
		snprintf(out, n, "%s", s);
	return out;
}

#define SHOW(o) show((o), (char[VALUE_SHOW_MAX + 8]){ 0 }, VALUE_SHOW_MAX + 8)

static void join(char out[PATH_MAX_LEN], const char *parent, const char *key)
{
	int n = snprintf(out, PATH_MAX_LEN, "%s%s%s", parent, *parent ? "." : "", key);

	if (n < 0 || n >= PATH_MAX_LEN)
		snprintf(out, PATH_MAX_LEN, "%s", key);
}

static void index_path(char out[PATH_MAX_LEN], const char *parent, size_t i)
{
	int n = snprintf(out, PATH_MAX_LEN, "%s[%zu]", parent, i);

	if (n < 0 || n >= PATH_MAX_LEN)
		snprintf(out, PATH_MAX_LEN, "[%zu]", i);
}

static const char *type_name(json_type t)
{
	switch (t) {
	case json_type_string: return "string";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_int: return "integer";
	case json_type_boolean: return "boolean";
	case json_type_double: return "number";
	default: return "null";
	}
}

/* The child `key` of parent if present (JSON null counts as absent) with type
 * t; an error when of another type, or when absent and required (with the
 * optional detail). */
static json_object *field(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			  json_type t, bool required, const char *detail)
{
	json_object *o = NULL;
	char path[PATH_MAX_LEN];

	join(path, ppath, key);
	if (!parent || !json_object_object_get_ex(parent, key, &o) || !o) {
		if (required) {
			if (detail)
				verr(v, path, "Required value: %s", detail);
			else
				verr(v, path, "Required value");
		}
		return NULL;
	}
	if (!json_object_is_type(o, t)) {
		verr(v, path, "Invalid value: %s: must be of type %s", SHOW(o), type_name(t));
		return NULL;
	}
	return o;
}

static const char *str_field(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			     bool required, size_t maxlen)
{
	json_object *o = field(v, parent, ppath, key, json_type_string, required, NULL);
	char path[PATH_MAX_LEN];
	const char *s;

	if (!o)
		return NULL;
	s = json_object_get_string(o);
	join(path, ppath, key);
	if (required && !*s) {
		verr(v, path, "Required value");
		return NULL;
	}
	if (maxlen && strlen(s) > maxlen) {
		verr(v, path, "Too long: may not be more than %zu bytes", maxlen);
		return NULL;
	}
	return s;
}

/* Integer field within [min, max]; def when absent. *ok cleared on error. */
static int64_t int_field(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			 int64_t def, int64_t min, int64_t max)
{
	json_object *o = field(v, parent, ppath, key, json_type_int, false, NULL);
	char path[PATH_MAX_LEN];
	int64_t x;

	if (!o)
		return def;
	x = json_object_get_int64(o);
	join(path, ppath, key);
	if (x < min) {
		verr(v, path, "Invalid value: %lld: should be greater than or equal to %lld",
		     (long long)x, (long long)min);
		return def;
	}
	if (x > max) {
		verr(v, path, "Invalid value: %lld: should be less than or equal to %lld",
		     (long long)x, (long long)max);
		return def;
	}
	return x;
}

static int enum_check(struct vctx *v, const char *path, const char *s, const char *const *allowed)
{
	struct buf b;

	for (size_t i = 0; allowed[i]; i++)
		if (strcmp(s, allowed[i]) == 0)
			return (int)i;
	buf_init(&b, 1024);
	for (size_t i = 0; allowed[i]; i++)
		buf_printf(&b, "%s\"%s\"", i ? ", " : "", allowed[i]);
	verr(v, path, "Unsupported value: \"%s\": supported values: %s", s, buf_str(&b));
	buf_cleanup(&b);
	return -1;
}

/* int-or-string quantity in bytes. -1 when absent or invalid. */
static int64_t quantity_field(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			      bool required, bool allow_zero)
{
	json_object *o = NULL;
	char path[PATH_MAX_LEN];
	int64_t bytes = -1;

	join(path, ppath, key);
	if (!parent || !json_object_object_get_ex(parent, key, &o) || !o) {
		if (required)
			verr(v, path, "Required value");
		return -1;
	}
	if (json_object_is_type(o, json_type_int)) {
		bytes = json_object_get_int64(o);
		if (bytes < 0) {
			verr(v, path, "Invalid value: %s: must not be negative", SHOW(o));
			return -1;
		}
	} else if (json_object_is_type(o, json_type_string)) {
		const char *s = json_object_get_string(o);
		struct quantity q;

		if (quantity_parse(s, &q) < 0) {
			verr(v, path, "Invalid value: %s: not a quantity", SHOW(o));
			return -1;
		}
		if (q.unscaled < 0) {
			verr(v, path, "Invalid value: %s: must not be negative", SHOW(o));
			return -1;
		}
		bytes = quantity_value(&q);
	} else {
		verr(v, path, "Invalid value: %s: must be a quantity (string such as \"20Gi\" or integer)",
		     SHOW(o));
		return -1;
	}
	if (bytes == 0 && !allow_zero) {
		verr(v, path, "Invalid value: %s: must be greater than zero", SHOW(o));
		return -1;
	}
	return bytes;
}

/* Decimal string "1.0" in (lo, hi] (lo exclusive, hi inclusive). def when absent. */
static double decimal_field(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			    double def, double lo, double hi)
{
	json_object *o = field(v, parent, ppath, key, json_type_string, false, NULL);
	char path[PATH_MAX_LEN];
	const char *s, *p;
	double d;

	if (!o)
		return def;
	s = json_object_get_string(o);
	join(path, ppath, key);
	/* pattern ^[0-9]+(\.[0-9]+)?$ */
	p = s;
	if (!isdigit((unsigned char)*p))
		goto bad;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p || strlen(s) > 16)
		goto bad;
	d = strtod(s, NULL);
	if (!(d > lo) || d > hi) {
		char los[32], his[32];

		snprintf(los, sizeof(los), "%g", lo);
		snprintf(his, sizeof(his), "%g", hi);
		verr(v, path, "Invalid value: %s: must be greater than %s and at most %s",
		     SHOW(o), los, his);
		return def;
	}
	return d;
bad:
	verr(v, path, "Invalid value: %s: must be a decimal number such as \"%g\"", SHOW(o), def);
	return def;
}

/* ---- shared syntax checks ---- */

static bool repo_part_ok(const char *s, size_t n)
{
	if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

bool api_repo_ok(const char *repo)
{
	const char *slash;

	if (!repo || !*repo || strlen(repo) > API_MAX_REPO_LEN)
		return false;
	if (strstr(repo, "--") || strstr(repo, ".."))
		return false;
	slash = strchr(repo, '/');
	if (!slash)
		return repo_part_ok(repo, strlen(repo));
	return repo_part_ok(repo, (size_t)(slash - repo)) && repo_part_ok(slash + 1, strlen(slash + 1));
}

/* pattern ^[A-Za-z0-9][A-Za-z0-9._/-]*$ plus CEL !self.contains('..') */
static bool revision_ok(const char *s)
{
	if (!isalnum((unsigned char)s[0]) || strstr(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '/' && *p != '-')
			return false;
	return true;
}

/* Secret data key: ^[-._a-zA-Z0-9]+$ */
static bool secret_key_ok(const char *s)
{
	if (!*s)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return true;
}

static void check_subdomain(struct vctx *v, const char *path, json_object *o, const char *s)
{
	if (s && !dns1123_subdomain_ok(s))
		verr(v, path, "Invalid value: %s: a lowercase RFC 1123 subdomain must consist of lower "
		     "case alphanumeric characters, '-' or '.', and must start and end with an "
		     "alphanumeric character", SHOW(o));
}

static void check_label(struct vctx *v, const char *path, json_object *o, const char *s)
{
	if (s && !dns1123_label_ok(s))
		verr(v, path, "Invalid value: %s: a lowercase RFC 1123 label must consist of lower "
		     "case alphanumeric characters or '-', start and end with an alphanumeric "
		     "character, and be at most 63 characters", SHOW(o));
}

static void check_selector(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			   json_object **out)
{
	json_object *o = field(v, parent, ppath, key, json_type_object, false, NULL);
	struct labels_selector *sel = NULL;
	char path[PATH_MAX_LEN];
	char *err = NULL;

	*out = o;
	if (!o)
		return;
	join(path, ppath, key);
	if (labels_selector_from_json(o, &sel, &err) < 0) {
		/* selector messages start with the field inside the selector
		 * ("matchExpressions[1].values: Required value: ...") or with
		 * the reason ("Invalid value: ..."): make the path absolute */
		const char *sep = err ? strstr(err, ": ") : NULL;

		if (err && strncmp(err, "match", 5) == 0 && sep) {
			char full[PATH_MAX_LEN];

			int n = snprintf(full, sizeof(full), "%s.%.*s", path, (int)(sep - err), err);

			if (n < 0 || (size_t)n >= sizeof(full))
				verr(v, path, "%s", err);
			else
				verr(v, full, "%s", sep + 2);
		} else {
			verr(v, path, "%s", err ? err : "Invalid value");
		}
		*out = NULL;
	}
	labels_selector_free(sel);
	free(err);
}

/* A list of strings (maxItems, each 1..maxlen). Fills out[] when given. */
static size_t string_list(struct vctx *v, json_object *parent, const char *ppath, const char *key,
			  size_t max_items, size_t maxlen, const char **out)
{
	json_object *a = field(v, parent, ppath, key, json_type_array, false, NULL);
	char path[PATH_MAX_LEN], ipath[PATH_MAX_LEN];
	size_t n;

	if (!a)
		return 0;
	join(path, ppath, key);
	n = json_object_array_length(a);
	if (n > max_items) {
		verr(v, path, "Too many: %zu: must have at most %zu items", n, max_items);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);
		const char *s;

		index_path(ipath, path, i);
		if (!e || !json_object_is_type(e, json_type_string)) {
			verr(v, ipath, "Invalid value: %s: must be of type string", SHOW(e));
			continue;
		}
		s = json_object_get_string(e);
		if (maxlen && (!*s || strlen(s) > maxlen)) {
			verr(v, ipath, "Invalid value: %s: must be 1 to %zu characters", SHOW(e), maxlen);
			continue;
		}
		if (out)
			out[i] = s;
	}
	return n;
}

static void hf_source(struct vctx *v, json_object *hf, const char *path, const char **repo,
		      const char **revision)
{
	json_object *o;
	char p[PATH_MAX_LEN];
	const char *s;

	s = str_field(v, hf, path, "repo", true, 0);
	if (s) {
		join(p, path, "repo");
		if (!api_repo_ok(s))
			verr(v, p, "Invalid value: %s: must be \"org/name\" or \"name\"", SHOW(jpath_child(hf, "repo")));
		else
			*repo = s;
	}
	*revision = API_DEFAULT_REVISION;
	o = field(v, hf, path, "revision", json_type_string, false, NULL);
	if (o) {
		s = json_object_get_string(o);
		join(p, path, "revision");
		if (!*s || strlen(s) > API_MAX_REVISION_LEN || !revision_ok(s))
			verr(v, p, "Invalid value: %s: must be a branch, tag or commit "
			     "(letters, digits, '.', '_', '-', '/', no \"..\", at most %d characters)",
			     SHOW(o), API_MAX_REVISION_LEN);
		else
			*revision = s;
	}
}

static char *finish(struct vctx *v)
{
	if (v->n == 0) {
		buf_cleanup(&v->errs);
		return NULL;
	}
	return buf_take(&v->errs, NULL);
}

static int result(struct vctx *v, char **msg)
{
	char *m = finish(v);

	if (!m) {
		if (msg)
			*msg = NULL;
		return 0;
	}
	if (msg)
		*msg = m;
	else
		free(m);
	return -EINVAL;
}

/* ---- metadata ---- */

int api_meta_from_json(json_object *obj, struct api_meta *m)
{
	json_object *md = jpath_child(obj, "metadata");
	json_object *o;

	memset(m, 0, sizeof(*m));
	if (!md || !json_object_is_type(md, json_type_object))
		return -EINVAL;
	m->name = api_path_str(md, "name", NULL);
	m->namespace = api_path_str(md, "namespace", NULL);
	m->uid = api_path_str(md, "uid", NULL);
	m->resource_version = api_path_str(md, "resourceVersion", NULL);
	o = jpath_child(md, "generation");
	if (o && json_object_is_type(o, json_type_int))
		m->generation = json_object_get_int64(o);
	o = jpath_child(md, "labels");
	if (o && json_object_is_type(o, json_type_object))
		m->labels = o;
	o = jpath_child(md, "annotations");
	if (o && json_object_is_type(o, json_type_object))
		m->annotations = o;
	o = jpath_child(md, "deletionTimestamp");
	m->deleting = o && json_object_is_type(o, json_type_string);
	return 0;
}

static json_object *begin(struct vctx *v, json_object *obj, struct api_meta *meta)
{
	buf_init(&v->errs, MSG_MAX);
	v->n = 0;
	if (!obj || !json_object_is_type(obj, json_type_object)) {
		verr(v, "<root>", "Invalid value: must be an object");
		return NULL;
	}
	if (api_meta_from_json(obj, meta) < 0 || !meta->name)
		verr(v, "metadata.name", "Required value");
	return field(v, obj, "", "spec", json_type_object, true, NULL);
}

/* ---- InferenceCluster ---- */

static int ic_check(json_object *obj, struct api_inferencecluster *ic, char **msg)
{
	struct vctx v;
	json_object *spec, *conn, *o, *cache, *gpus;
	const char *s;
	char p[PATH_MAX_LEN];

	memset(ic, 0, sizeof(*ic));
	ic->kubeconfig_key = API_DEFAULT_KUBECONFIG_KEY;
	ic->namespace = API_DEFAULT_REMOTE_NAMESPACE;
	ic->storage_class = API_DEFAULT_STORAGE_CLASS;
	ic->capacity_bytes = -1;
	spec = begin(&v, obj, &ic->meta);
	if (!spec)
		return result(&v, msg);

	conn = field(&v, spec, "spec", "connection", json_type_object, true, NULL);
	if (conn) {
		json_object *local = field(&v, conn, "spec.connection", "local", json_type_object, false, NULL);
		json_object *ref = field(&v, conn, "spec.connection", "kubeconfigSecretRef",
					 json_type_object, false, NULL);

		/* CEL on spec.connection */
		if ((jpath_child(conn, "local") != NULL) + (jpath_child(conn, "kubeconfigSecretRef") != NULL) != 1)
			verr(&v, "spec.connection", "Invalid value: \"object\": exactly one of local or "
			     "kubeconfigSecretRef must be set");
		if (local)
			ic->connection = API_CONN_LOCAL;
		if (ref) {
			const char *rp = "spec.connection.kubeconfigSecretRef";

			ic->connection = API_CONN_KUBECONFIG;
			s = str_field(&v, ref, rp, "namespace", true, 63);
			join(p, rp, "namespace");
			check_label(&v, p, jpath_child(ref, "namespace"), s);
			ic->kubeconfig_namespace = s;
			s = str_field(&v, ref, rp, "name", true, 253);
			join(p, rp, "name");
			check_subdomain(&v, p, jpath_child(ref, "name"), s);
			ic->kubeconfig_name = s;
			s = str_field(&v, ref, rp, "key", false, 253);
			if (s) {
				join(p, rp, "key");
				if (!secret_key_ok(s))
					verr(&v, p, "Invalid value: %s: a valid config key must consist of "
					     "alphanumeric characters, '-', '_' or '.'", SHOW(jpath_child(ref, "key")));
				else
					ic->kubeconfig_key = s;
			}
		}
	}

	s = str_field(&v, spec, "spec", "namespace", false, 63);
	if (s) {
		check_label(&v, "spec.namespace", jpath_child(spec, "namespace"), s);
		ic->namespace = s;
	}

	cache = field(&v, spec, "spec", "cache", json_type_object, false, NULL);
	if (cache) {
		s = str_field(&v, cache, "spec.cache", "storageClassName", false, 253);
		if (s) {
			check_subdomain(&v, "spec.cache.storageClassName", jpath_child(cache, "storageClassName"), s);
			ic->storage_class = s;
		}
		ic->capacity_bytes = quantity_field(&v, cache, "spec.cache", "capacity", false, false);
		ic->reserve_bytes = quantity_field(&v, cache, "spec.cache", "reserve", false, true);
		if (ic->reserve_bytes < 0)
			ic->reserve_bytes = 0;
		/* CEL on spec.cache */
		if (jpath_child(cache, "reserve") && !jpath_child(cache, "capacity"))
			verr(&v, "spec.cache", "Invalid value: \"object\": reserve requires capacity");
		/* operator-only: CEL cannot compare int-or-string quantities */
		if (ic->capacity_bytes > 0 && ic->reserve_bytes >= ic->capacity_bytes)
			verr(&v, "spec.cache.reserve", "Invalid value: %s: must be less than spec.cache.capacity",
			     SHOW(jpath_child(cache, "reserve")));
		ic->max_caches = int_field(&v, cache, "spec.cache", "maxCaches", 0, 1, 100000);
	}

	gpus = field(&v, spec, "spec", "gpus", json_type_array, false, NULL);
	if (gpus) {
		size_t n = json_object_array_length(gpus);

		if (n > API_MAX_GPU_POOLS) {
			verr(&v, "spec.gpus", "Too many: %zu: must have at most %d items", n, API_MAX_GPU_POOLS);
			n = 0;
		}
		for (size_t i = 0; i < n; i++) {
			struct api_gpu_pool *g = &ic->gpus[ic->ngpus];

			o = json_object_array_get_idx(gpus, i);
			index_path(p, "spec.gpus", i);
			if (!o || !json_object_is_type(o, json_type_object)) {
				verr(&v, p, "Invalid value: %s: must be of type object", SHOW(o));
				continue;
			}
			g->product = str_field(&v, o, p, "product", true, 253);
			g->memory_bytes = quantity_field(&v, o, p, "memory", true, false);
			g->per_node = int_field(&v, o, p, "perNode", 1, 1, 1024);
			g->nodes = int_field(&v, o, p, "nodes", 1, 1, 100000);
			if (field(&v, o, p, "unifiedMemory", json_type_boolean, false, NULL))
				g->unified_memory = json_object_get_boolean(jpath_child(o, "unifiedMemory"));
			ic->ngpus++;
		}
	}
	return result(&v, msg);
}

int api_inferencecluster_from_json(json_object *obj, struct api_inferencecluster *ic, char **msg)
{
	return ic_check(obj, ic, msg);
}

int api_validate_inferencecluster(json_object *obj, char **msg)
{
	struct api_inferencecluster ic;

	return ic_check(obj, &ic, msg);
}

/* ---- ModelCache ---- */

static int mc_check(json_object *obj, struct api_modelcache *mc, char **msg)
{
	static const char *const sources[] = { "HuggingFace", NULL };
	static const char *const policies[] = { "Delete", "Retain", NULL };
	static const char *const onoff[] = { "Enabled", "Disabled", NULL };
	static const char *const layouts[] = { "Flat", "HuggingFaceCache", NULL };
	static const char *const filesets[] = { "Auto", "All", NULL };
	struct vctx v;
	json_object *spec, *hf, *pre;
	const char *s;

	memset(mc, 0, sizeof(*mc));
	mc->revision = API_DEFAULT_REVISION;
	mc->precheck_vram = true;
	mc->safety_factor = API_DEFAULT_SAFETY_FACTOR;
	spec = begin(&v, obj, &mc->meta);
	/* schema metadata.name maxLength 63: the name is used as a label value */
	if (mc->meta.name && strlen(mc->meta.name) > 63)
		verr(&v, "metadata.name", "Too long: may not be more than 63 bytes");
	if (!spec)
		return result(&v, msg);

	s = str_field(&v, spec, "spec", "source", true, 0);
	if (s && enum_check(&v, "spec.source", s, sources) >= 0)
		mc->source = s;
	hf = field(&v, spec, "spec", "huggingFace", json_type_object, false, NULL);
	/* CEL on spec (reason FieldValueRequired, fieldPath .huggingFace) */
	if (s && strcmp(s, "HuggingFace") == 0 && !jpath_child(spec, "huggingFace"))
		verr(&v, "spec.huggingFace", "Required value: spec.huggingFace is required when "
		     "spec.source is HuggingFace");
	if (hf) {
		json_object *auth;

		hf_source(&v, hf, "spec.huggingFace", &mc->repo, &mc->revision);
		mc->ninclude = string_list(&v, hf, "spec.huggingFace", "include", API_MAX_PATTERNS,
					   API_MAX_PATTERN_LEN, mc->include);
		mc->nexclude = string_list(&v, hf, "spec.huggingFace", "exclude", API_MAX_PATTERNS,
					   API_MAX_PATTERN_LEN, mc->exclude);
		s = str_field(&v, hf, "spec.huggingFace", "layout", false, 0);
		if (s && enum_check(&v, "spec.huggingFace.layout", s, layouts) == 1)
			mc->layout = API_LAYOUT_HF_CACHE;
		s = str_field(&v, hf, "spec.huggingFace", "files", false, 0);
		if (s && enum_check(&v, "spec.huggingFace.files", s, filesets) == 1)
			mc->files = API_FILES_ALL;
		auth = field(&v, hf, "spec.huggingFace", "authSecret", json_type_object, false, NULL);
		if (auth) {
			const char *ap = "spec.huggingFace.authSecret";

			s = str_field(&v, auth, ap, "name", true, 253);
			check_subdomain(&v, "spec.huggingFace.authSecret.name", jpath_child(auth, "name"), s);
			mc->auth_secret_name = s;
			mc->auth_secret_key = API_DEFAULT_AUTH_KEY;
			s = str_field(&v, auth, ap, "key", false, 253);
			if (s) {
				if (!secret_key_ok(s))
					verr(&v, "spec.huggingFace.authSecret.key", "Invalid value: %s: a valid "
					     "config key must consist of alphanumeric characters, '-', '_' or '.'",
					     SHOW(jpath_child(auth, "key")));
				else
					mc->auth_secret_key = s;
			}
		}
	}
	mc->size_bytes = quantity_field(&v, spec, "spec", "size", false, false);
	if (mc->size_bytes < 0)
		mc->size_bytes = 0;
	check_selector(&v, spec, "spec", "clusterSelector", &mc->cluster_selector);
	s = str_field(&v, spec, "spec", "deletionPolicy", false, 0);
	if (s && enum_check(&v, "spec.deletionPolicy", s, policies) == 1)
		mc->deletion_policy = API_DELETION_RETAIN;
	pre = field(&v, spec, "spec", "precheck", json_type_object, false, NULL);
	if (pre) {
		s = str_field(&v, pre, "spec.precheck", "vram", false, 0);
		if (s && enum_check(&v, "spec.precheck.vram", s, onoff) == 1)
			mc->precheck_vram = false;
		mc->safety_factor = decimal_field(&v, pre, "spec.precheck", "safetyFactor",
						  API_DEFAULT_SAFETY_FACTOR, 0, 100);
	}

	/* annotations (lenient) */
	mc->multi_node_sharded = api_annotation_true(obj, API_ANN_MULTI_NODE_SHARDED);
	mc->pinned = api_annotation_true(obj, API_ANN_PINNED);
	mc->retry = api_annotation(obj, API_ANN_RETRY);
	return result(&v, msg);
}

int api_modelcache_from_json(json_object *obj, struct api_modelcache *mc, char **msg)
{
	return mc_check(obj, mc, msg);
}

int api_validate_modelcache(json_object *obj, char **msg)
{
	struct api_modelcache mc;

	return mc_check(obj, &mc, msg);
}

/* ---- ModelDeployment ---- */

static void env_list(struct vctx *v, json_object *engine, json_object **out)
{
	json_object *a = field(v, engine, "spec.engine", "env", json_type_array, false, NULL);
	char p[PATH_MAX_LEN];
	size_t n;

	*out = a;
	if (!a)
		return;
	n = json_object_array_length(a);
	if (n > API_MAX_ARGS) {
		verr(v, "spec.engine.env", "Too many: %zu: must have at most %d items", n, API_MAX_ARGS);
		*out = NULL;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(a, i);

		index_path(p, "spec.engine.env", i);
		if (!e || !json_object_is_type(e, json_type_object)) {
			verr(v, p, "Invalid value: %s: must be of type object", SHOW(e));
			continue;
		}
		str_field(v, e, p, "name", true, 0);
		field(v, e, p, "value", json_type_string, false, NULL);
		field(v, e, p, "valueFrom", json_type_object, false, NULL);
	}
}

static int md_check(json_object *obj, struct api_modeldeployment *md, char **msg)
{
	struct vctx v;
	json_object *spec, *ref, *model, *engine, *topo, *o;
	const char *s;

	memset(md, 0, sizeof(*md));
	md->replicas = 1;
	md->port = API_DEFAULT_PORT;
	md->max_sequences = 1;
	md->gpu_memory_utilization = API_DEFAULT_GPU_MEM_UTIL;
	spec = begin(&v, obj, &md->meta);
	if (!spec)
		return result(&v, msg);

	md->replicas = int_field(&v, spec, "spec", "replicas", 1, 0, 10000);
	ref = field(&v, spec, "spec", "modelCacheRef", json_type_object, false, NULL);
	if (ref) {
		s = str_field(&v, ref, "spec.modelCacheRef", "name", true, 63);
		check_subdomain(&v, "spec.modelCacheRef.name", jpath_child(ref, "name"), s);
		md->cache_ref = s;
	}
	model = field(&v, spec, "spec", "model", json_type_object, false, NULL);
	if (model) {
		json_object *hf = field(&v, model, "spec.model", "huggingFace", json_type_object, true, NULL);

		if (hf)
			hf_source(&v, hf, "spec.model.huggingFace", &md->model_repo, &md->model_revision);
	}
	/* CEL on spec */
	if (!jpath_child(spec, "modelCacheRef") && !jpath_child(spec, "model"))
		verr(&v, "spec", "Invalid value: \"object\": one of spec.modelCacheRef or spec.model is required");
	check_selector(&v, spec, "spec", "clusterSelector", &md->cluster_selector);

	engine = field(&v, spec, "spec", "engine", json_type_object, true, NULL);
	if (engine) {
		json_object *img = jpath_child(engine, "image");

		s = str_field(&v, engine, "spec.engine", "image", true, 1024);
		if (s) {
			bool ws = false;

			for (const char *c = s; *c; c++)
				ws |= isspace((unsigned char)*c) != 0;
			if (ws)
				verr(&v, "spec.engine.image", "Invalid value: %s: must not contain whitespace",
				     SHOW(img));
			else
				md->image = s;
		}
		if (string_list(&v, engine, "spec.engine", "command", API_MAX_ARGS, 0, NULL) > 0)
			md->byo_engine = true;
		o = jpath_child(engine, "command");
		md->command = o && json_object_is_type(o, json_type_array) ? o : NULL;
		string_list(&v, engine, "spec.engine", "args", API_MAX_ARGS, 0, NULL);
		o = jpath_child(engine, "args");
		md->args = o && json_object_is_type(o, json_type_array) ? o : NULL;
		env_list(&v, engine, &md->env);
		md->port = int_field(&v, engine, "spec.engine", "port", API_DEFAULT_PORT, 1, 65535);
	}
	topo = field(&v, spec, "spec", "topology", json_type_object, false, NULL);
	if (topo) {
		md->tensor = int_field(&v, topo, "spec.topology", "tensor", 0, 0, 1024);
		md->pipeline = int_field(&v, topo, "spec.topology", "pipeline", 0, 0, 1024);
		md->nodes = int_field(&v, topo, "spec.topology", "nodes", 0, 0, 1024);
	}
	md->context_length = int_field(&v, spec, "spec", "contextLength", 0, 0, 16777216);
	md->max_sequences = int_field(&v, spec, "spec", "maxSequences", 1, 1, 65536);
	md->gpu_memory_utilization = decimal_field(&v, spec, "spec", "gpuMemoryUtilization",
						   API_DEFAULT_GPU_MEM_UTIL, 0, 1);
	return result(&v, msg);
}

int api_modeldeployment_from_json(json_object *obj, struct api_modeldeployment *md, char **msg)
{
	return md_check(obj, md, msg);
}

int api_validate_modeldeployment(json_object *obj, char **msg)
{
	struct api_modeldeployment md;

	return md_check(obj, &md, msg);
}

/* ---- generic accessors ---- */

json_object *api_path(json_object *obj, const char *dotted)
{
	return dotted ? jpath_get(obj, dotted) : obj;
}

const char *api_path_str(json_object *obj, const char *dotted, const char *def)
{
	json_object *o = api_path(obj, dotted);

	if (!o || !json_object_is_type(o, json_type_string))
		return def;
	return json_object_get_string(o);
}

const char *api_annotation(json_object *obj, const char *key)
{
	return jpath_annotation(obj, key);
}

bool api_annotation_true(json_object *obj, const char *key)
{
	const char *v = api_annotation(obj, key);

	return v && strcmp(v, "true") == 0;
}

const char *api_label(json_object *obj, const char *key)
{
	return jpath_label(obj, key);
}

/* ---- conditions ---- */

static json_object *conditions(json_object *status)
{
	json_object *c = NULL;

	if (!status || !json_object_is_type(status, json_type_object) ||
	    !json_object_object_get_ex(status, "conditions", &c) || !json_object_is_type(c, json_type_array))
		return NULL;
	return c;
}

static int condition_index(json_object *conds, const char *type)
{
	size_t n = conds ? json_object_array_length(conds) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = api_path_str(c, "type", NULL);

		if (t && strcmp(t, type) == 0)
			return (int)i;
	}
	return -1;
}

json_object *api_condition_find(json_object *status, const char *type)
{
	json_object *conds = conditions(status);
	int i;

	if (!type)
		return NULL;
	i = condition_index(conds, type);
	return i < 0 ? NULL : json_object_array_get_idx(conds, (size_t)i);
}

const char *api_condition_status(json_object *status, const char *type)
{
	return api_path_str(api_condition_find(status, type), "status", NULL);
}

bool api_condition_is_true(json_object *status, const char *type)
{
	const char *s = api_condition_status(status, type);

	return s && strcmp(s, "True") == 0;
}

/* Set key to a string when it differs; 1 when changed. */
static int put_str_if(json_object *o, const char *key, const char *val)
{
	const char *cur = api_path_str(o, key, NULL);

	if (cur && strcmp(cur, val) == 0)
		return 0;
	json_object_object_add(o, key, json_object_new_string(val));
	return 1;
}

int api_condition_set(json_object *status, const struct api_condition *c, int64_t now_unix_sec)
{
	json_object *conds, *cond;
	const char *msg;
	char ts[RFC3339_LEN + 1];
	int changed = 0;
	json_object *og = NULL;

	if (!status || !json_object_is_type(status, json_type_object) || !c || !c->type || !*c->type ||
	    !c->status || !c->reason || !*c->reason)
		return -EINVAL;
	if (strcmp(c->status, "True") != 0 && strcmp(c->status, "False") != 0 &&
	    strcmp(c->status, "Unknown") != 0)
		return -EINVAL;
	msg = c->message ? c->message : "";
	rfc3339_format(now_unix_sec, ts);
	conds = conditions(status);
	if (!conds) {
		conds = json_object_new_array();
		json_object_object_add(status, "conditions", conds);
	}
	cond = api_condition_find(status, c->type);
	if (!cond) {
		cond = json_object_new_object();
		json_object_object_add(cond, "type", json_object_new_string(c->type));
		json_object_object_add(cond, "status", json_object_new_string(c->status));
		json_object_object_add(cond, "observedGeneration", json_object_new_int64(c->observed_generation));
		json_object_object_add(cond, "lastTransitionTime", json_object_new_string(ts));
		json_object_object_add(cond, "reason", json_object_new_string(c->reason));
		json_object_object_add(cond, "message", json_object_new_string(msg));
		json_object_array_add(conds, cond);
		return 1;
	}
	if (put_str_if(cond, "status", c->status)) {
		json_object_object_add(cond, "lastTransitionTime", json_object_new_string(ts));
		changed = 1;
	} else if (!api_path_str(cond, "lastTransitionTime", NULL)) {
		json_object_object_add(cond, "lastTransitionTime", json_object_new_string(ts));
		changed = 1;
	}
	changed |= put_str_if(cond, "reason", c->reason);
	changed |= put_str_if(cond, "message", msg);
	if (!json_object_object_get_ex(cond, "observedGeneration", &og) ||
	    !json_object_is_type(og, json_type_int) || json_object_get_int64(og) != c->observed_generation) {
		json_object_object_add(cond, "observedGeneration", json_object_new_int64(c->observed_generation));
		changed = 1;
	}
	return changed;
}

int api_condition_remove(json_object *status, const char *type)
{
	json_object *conds = conditions(status);
	int i;

	if (!conds || !type)
		return 0;
	i = condition_index(conds, type);
	if (i < 0)
		return 0;
	json_object_array_del_idx(conds, (size_t)i, 1);
	return 1;
}
