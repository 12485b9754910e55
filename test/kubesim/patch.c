/* JSON merge patch, JSON patch, strategic merge patch and server-side apply
 * for kubesim (see patch.h). Everything works on private deep copies and
 * swaps the result in only on success. */
#include "patch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

#define MAX_DEPTH 100
#define MSG_MAX (64u << 10)

/* ---- helpers ------------------------------------------------------------ */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static const char *get_str(json_object *o, const char *key)
{
	json_object *v = get(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static bool is_obj(json_object *v) { return v && json_object_is_type(v, json_type_object); }
static bool is_arr(json_object *v) { return v && json_object_is_type(v, json_type_array); }
static bool is_null(json_object *v) { return !v || json_object_is_type(v, json_type_null); }

static json_object *copy(json_object *v)
{
	json_object *out = NULL;
	if (!v)
		return NULL;
	if (json_object_deep_copy(v, &out, NULL) != 0)
		abort(); /* only fails on allocation failure: our OOM policy */
	return out;
}

static void set_err(char **errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **errmsg, const char *fmt, ...)
{
	va_list ap;
	if (!errmsg)
		return;
	free(*errmsg);
	va_start(ap, fmt);
	*errmsg = xvasprintf(fmt, ap);
	va_end(ap);
}

/* insert v (owned) at idx of arr, shifting the rest (json-c 0.16 has no insert) */
static void array_insert(json_object *arr, size_t idx, json_object *v)
{
	size_t n = json_object_array_length(arr);
	if (idx >= n) {
		json_object_array_add(arr, v);
		return;
	}
	json_object_array_add(arr, json_object_get(json_object_array_get_idx(arr, n - 1)));
	for (size_t i = n - 1; i > idx; i--)
		json_object_array_put_idx(arr, i, json_object_get(json_object_array_get_idx(arr, i - 1)));
	json_object_array_put_idx(arr, idx, v);
}

static void replace_target(json_object **target, json_object *result)
{
	json_object_put(*target);
	*target = result;
}

/* ---- RFC 7386 ------------------------------------------------------------ */

static json_object *merge(json_object *target, json_object *patch, int depth)
{
	json_object *res;
	if (!is_obj(patch) || depth > MAX_DEPTH)
		return copy(patch);
	res = is_obj(target) ? copy(target) : json_object_new_object();
	json_object_object_foreach(patch, key, pv) {
		if (is_null(pv)) {
			json_object_object_del(res, key);
			continue;
		}
		json_object_object_add(res, key, merge(get(res, key), pv, depth + 1));
	}
	return res;
}

int patch_merge(json_object **target, json_object *patch)
{
	if (!target)
		return -1;
	replace_target(target, merge(*target, patch, 0));
	return 0;
}

/* ---- RFC 6901 pointers and RFC 6902 ------------------------------------- */

/* Split a pointer into unescaped tokens (json array of strings). */
static int pointer_parse(const char *ptr, json_object **out)
{
	json_object *toks;
	if (!ptr)
		return -1;
	toks = json_object_new_array();
	if (!*ptr) {
		*out = toks;
		return 0;
	}
	if (*ptr != '/') {
		json_object_put(toks);
		return -1;
	}
	const char *p = ptr + 1;
	for (;;) {
		struct buf b;
		buf_init(&b, strlen(ptr) + 1);
		for (; *p && *p != '/'; p++) {
			if (*p == '~') {
				if (p[1] == '0') buf_putc(&b, '~');
				else if (p[1] == '1') buf_putc(&b, '/');
				else {
					buf_cleanup(&b);
					json_object_put(toks);
					return -1;
				}
				p++;
			} else {
				buf_putc(&b, *p);
			}
		}
		json_object_array_add(toks, json_object_new_string(buf_str(&b)));
		buf_cleanup(&b);
		if (!*p)
			break;
		p++;
	}
	*out = toks;
	return 0;
}

/* array index token: digits, no leading zero; -1 otherwise */
static long array_index(const char *tok)
{
	char *end;
	long v;
	if (!*tok || (tok[0] == '0' && tok[1]) || tok[0] == '-' || tok[0] == '+')
		return -1;
	for (const char *p = tok; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	errno = 0;
	v = strtol(tok, &end, 10);
	if (errno || *end || v > 1000000000L)
		return -1;
	return v;
}

static const char *tok_at(json_object *toks, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(toks, i));
}

/* Walk tokens [0, n) from doc; NULL when missing. */
static json_object *ptr_get(json_object *doc, json_object *toks, size_t n)
{
	json_object *cur = doc;
	for (size_t i = 0; i < n && cur; i++) {
		const char *t = tok_at(toks, i);
		if (is_obj(cur)) {
			cur = get(cur, t);
		} else if (is_arr(cur)) {
			long idx = array_index(t);
			if (idx < 0 || (size_t)idx >= json_object_array_length(cur))
				return NULL;
			cur = json_object_array_get_idx(cur, (size_t)idx);
		} else {
			return NULL;
		}
	}
	return cur;
}

/* add value (owned) at toks; replaces *doc for the root. */
static int op_add(json_object **doc, json_object *toks, json_object *value, bool must_exist)
{
	size_t n = json_object_array_length(toks);
	json_object *parent;
	const char *last;
	if (n == 0) {
		json_object_put(*doc);
		*doc = value;
		return 0;
	}
	parent = ptr_get(*doc, toks, n - 1);
	last = tok_at(toks, n - 1);
	if (is_obj(parent)) {
		if (must_exist && !json_object_object_get_ex(parent, last, NULL))
			goto fail;
		json_object_object_add(parent, last, value);
		return 0;
	}
	if (is_arr(parent)) {
		size_t len = json_object_array_length(parent);
		long idx;
		if (!strcmp(last, "-") && !must_exist) {
			json_object_array_add(parent, value);
			return 0;
		}
		idx = array_index(last);
		if (idx < 0 || (size_t)idx > len || (must_exist && (size_t)idx == len))
			goto fail;
		if (must_exist)
			json_object_array_put_idx(parent, (size_t)idx, value);
		else
			array_insert(parent, (size_t)idx, value);
		return 0;
	}
fail:
	json_object_put(value);
	return -1;
}

static int op_remove(json_object **doc, json_object *toks)
{
	size_t n = json_object_array_length(toks);
	json_object *parent;
	const char *last;
	if (n == 0)
		return -1;
	parent = ptr_get(*doc, toks, n - 1);
	last = tok_at(toks, n - 1);
	if (is_obj(parent)) {
		if (!json_object_object_get_ex(parent, last, NULL))
			return -1;
		json_object_object_del(parent, last);
		return 0;
	}
	if (is_arr(parent)) {
		long idx = array_index(last);
		if (idx < 0 || (size_t)idx >= json_object_array_length(parent))
			return -1;
		json_object_array_del_idx(parent, (size_t)idx, 1);
		return 0;
	}
	return -1;
}

static bool tok_prefix(json_object *a, json_object *b)
{
	size_t na = json_object_array_length(a), nb = json_object_array_length(b);
	if (na >= nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(tok_at(a, i), tok_at(b, i)))
			return false;
	return true;
}

int patch_json(json_object **target, json_object *ops, char **errmsg)
{
	json_object *doc = NULL, *toks = NULL, *from = NULL;
	int rc = -1;
	size_t n;

	if (errmsg)
		*errmsg = NULL;
	if (!target || !is_arr(ops)) {
		set_err(errmsg, "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
		return -1;
	}
	doc = copy(*target);
	if (!doc)
		doc = json_object_new_object();
	n = json_object_array_length(ops);
	for (size_t i = 0; i < n; i++) {
		json_object *op = json_object_array_get_idx(ops, i), *val;
		const char *kind = get_str(op, "op"), *path = get_str(op, "path");
		json_object_put(toks);
		json_object_put(from);
		toks = from = NULL;
		if (!kind) {
			set_err(errmsg, "Unexpected kind: unknown");
			goto out;
		}
		if (!path || pointer_parse(path, &toks) < 0) {
			set_err(errmsg, "%s operation does not apply: doc is missing path: \"%s\": missing value",
				kind, path ? path : "");
			goto out;
		}
		if (!strcmp(kind, "add") || !strcmp(kind, "replace")) {
			bool replace = kind[0] == 'r';
			if (!json_object_object_get_ex(op, "value", &val)) {
				set_err(errmsg, "%s operation does not apply: missing value", kind);
				goto out;
			}
			if (op_add(&doc, toks, copy(val), replace) < 0) {
				if (replace)
					set_err(errmsg, "replace operation does not apply: doc is missing key: %s: missing value", path);
				else
					set_err(errmsg, "add operation does not apply: doc is missing path: \"%s\": missing value", path);
				goto out;
			}
		} else if (!strcmp(kind, "remove")) {
			if (op_remove(&doc, toks) < 0) {
				set_err(errmsg, "remove operation does not apply: doc is missing path: \"%s\": missing value", path);
				goto out;
			}
		} else if (!strcmp(kind, "move") || !strcmp(kind, "copy")) {
			const char *fp = get_str(op, "from");
			json_object *fv;
			bool move = kind[0] == 'm';
			if (!fp || pointer_parse(fp, &from) < 0 || !(fv = ptr_get(doc, from, json_object_array_length(from)))) {
				set_err(errmsg, "%s operation does not apply: doc is missing from path: \"%s\": missing value",
					kind, fp ? fp : "");
				goto out;
			}
			if (move && tok_prefix(from, toks)) {
				set_err(errmsg, "move operation does not apply: \"%s\" is a child of \"%s\"", path, fp);
				goto out;
			}
			fv = move ? json_object_get(fv) : copy(fv);
			if (move && op_remove(&doc, from) < 0) {
				json_object_put(fv);
				set_err(errmsg, "move operation does not apply: doc is missing from path: \"%s\"", fp);
				goto out;
			}
			if (op_add(&doc, toks, fv, false) < 0) {
				set_err(errmsg, "%s operation does not apply: doc is missing destination path: \"%s\"", kind, path);
				goto out;
			}
		} else if (!strcmp(kind, "test")) {
			json_object *cur = ptr_get(doc, toks, json_object_array_length(toks));
			if (!json_object_object_get_ex(op, "value", &val)) {
				set_err(errmsg, "test operation does not apply: missing value");
				goto out;
			}
			if (!cur && json_object_array_length(toks) > 0) {
				set_err(errmsg, "testing value %s failed: test failed", path);
				goto out;
			}
			if (!json_object_equal(cur, val)) {
				set_err(errmsg, "testing value %s failed: test failed", path);
				goto out;
			}
		} else {
			set_err(errmsg, "Unexpected kind: %s", kind);
			goto out;
		}
	}
	replace_target(target, doc);
	doc = NULL;
	rc = 0;
out:
	json_object_put(toks);
	json_object_put(from);
	json_object_put(doc);
	return rc;
}

/* ---- list semantics shared by strategic merge and apply ------------------ */

/* patchMergeKey of the built-in list fields (k8s.io/api struct tags). */
static const char *merge_key(const char *field, const char *kind)
{
	static const struct { const char *field, *key; } keys[] = {
		{"containers", "name"}, {"initContainers", "name"}, {"ephemeralContainers", "name"},
		{"volumes", "name"}, {"env", "name"}, {"imagePullSecrets", "name"},
		{"volumeMounts", "mountPath"}, {"volumeDevices", "devicePath"},
		{"conditions", "type"}, {"ownerReferences", "uid"}, {"hostAliases", "ip"},
		{"topologySpreadConstraints", "topologyKey"}, {"resourceClaims", "name"},
		{"schedulingGates", "name"},
	};
	if (!field)
		return NULL;
	if (!strcmp(field, "ports"))
		return kind && !strcmp(kind, "Service") ? "port" : "containerPort";
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(field, keys[i].field))
			return keys[i].key;
	return NULL;
}

static bool set_list(const char *field)
{
	return field && !strcmp(field, "finalizers");
}

/* every element an object carrying key */
static bool keyed(json_object *arr, const char *key)
{
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++)
		if (!get(json_object_array_get_idx(arr, i), key))
			return false;
	return true;
}

static long find_keyed(json_object *arr, const char *key, json_object *kv)
{
	size_t n = is_arr(arr) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++)
		if (json_object_equal(get(json_object_array_get_idx(arr, i), key), kv))
			return (long)i;
	return -1;
}

static long find_equal(json_object *arr, json_object *v)
{
	size_t n = is_arr(arr) ? json_object_array_length(arr) : 0;
	for (size_t i = 0; i < n; i++)
		if (json_object_equal(json_object_array_get_idx(arr, i), v))
			return (long)i;
	return -1;
}

/* ---- strategic merge patch --------------------------------------------- */

struct smp {
	const char *kind;
	char **errmsg;
};

static bool directive(const char *k)
{
	return !strcmp(k, "$patch") || !strcmp(k, "$retainKeys") || !strncmp(k, "$setElementOrder/", 17) ||
	       !strncmp(k, "$deleteFromPrimitiveList/", 25);
}

static int smp_value(struct smp *c, json_object *orig, json_object *p, const char *field, int depth,
		     json_object **out);

static int smp_list(struct smp *c, json_object *orig, json_object *p, const char *field, int depth,
		    json_object **out)
{
	const char *key = merge_key(field, c->kind);
	size_t n = json_object_array_length(p);
	json_object *res;

	if (set_list(field)) {
		res = is_arr(orig) ? copy(orig) : json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(p, i);
			if (find_equal(res, e) < 0)
				json_object_array_add(res, copy(e));
		}
		*out = res;
		return 0;
	}
	/* an element {"$patch": "replace"} replaces the whole list */
	bool replace = false;
	for (size_t i = 0; i < n; i++) {
		const char *d = get_str(json_object_array_get_idx(p, i), "$patch");
		if (d && !strcmp(d, "replace"))
			replace = true;
	}
	if (!key || replace) {
		res = json_object_new_array();
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(p, i), *v = NULL;
			const char *d = get_str(e, "$patch");
			if (d && !strcmp(d, "replace") && json_object_object_length(e) == 1)
				continue;
			if (smp_value(c, NULL, e, NULL, depth + 1, &v) < 0) {
				json_object_put(res);
				return -1;
			}
			if (v)
				json_object_array_add(res, v);
		}
		*out = res;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(p, i);
		if (!is_obj(e) || (!get(e, key) && !get(e, "$patch"))) {
			set_err(c->errmsg, "map: %s does not contain declared merge key: %s",
				json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN), key);
			return -1;
		}
	}
	res = is_arr(orig) ? copy(orig) : json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(p, i), *kv = get(e, key), *v = NULL;
		const char *d = get_str(e, "$patch");
		long at;
		if (!kv)
			continue; /* a bare directive element without a key: nothing to match */
		at = find_keyed(res, key, kv);
		if (d && !strcmp(d, "delete")) {
			while (at >= 0) {
				json_object_array_del_idx(res, (size_t)at, 1);
				at = find_keyed(res, key, kv);
			}
			continue;
		}
		if (smp_value(c, at >= 0 ? json_object_array_get_idx(res, (size_t)at) : NULL, e, NULL, depth + 1, &v) < 0) {
			json_object_put(res);
			return -1;
		}
		if (!v) {
			if (at >= 0)
				json_object_array_del_idx(res, (size_t)at, 1);
		} else if (at >= 0) {
			json_object_array_put_idx(res, (size_t)at, v);
		} else {
			json_object_array_add(res, v);
		}
	}
	*out = res;
	return 0;
}

/* *out: the merged value (new), or NULL when the patch deletes it. */
static int smp_value(struct smp *c, json_object *orig, json_object *p, const char *field, int depth,
		     json_object **out)
{
	json_object *res;
	const char *d;

	*out = NULL;
	if (depth > MAX_DEPTH) {
		set_err(c->errmsg, "patch nested too deeply");
		return -1;
	}
	if (is_arr(p))
		return smp_list(c, orig, p, field, depth, out);
	if (!is_obj(p)) {
		*out = copy(p);
		return 0;
	}
	d = get_str(p, "$patch");
	if (d && !strcmp(d, "delete"))
		return 0;
	if (d && strcmp(d, "replace") && strcmp(d, "merge")) {
		set_err(c->errmsg, "Unknown patch type: %s", d);
		return -1;
	}
	res = (is_obj(orig) && !(d && !strcmp(d, "replace"))) ? copy(orig) : json_object_new_object();
	json_object_object_foreach(p, key, pv) {
		json_object *v = NULL;
		if (!strncmp(key, "$deleteFromPrimitiveList/", 25)) {
			json_object *list = get(res, key + 25);
			if (is_arr(list) && is_arr(pv)) {
				size_t n = json_object_array_length(pv);
				for (size_t i = 0; i < n; i++) {
					long at;
					while ((at = find_equal(list, json_object_array_get_idx(pv, i))) >= 0)
						json_object_array_del_idx(list, (size_t)at, 1);
				}
			}
			continue;
		}
		if (directive(key))
			continue;
		if (is_null(pv)) {
			json_object_object_del(res, key);
			continue;
		}
		if (smp_value(c, get(res, key), pv, key, depth + 1, &v) < 0) {
			json_object_put(res);
			return -1;
		}
		if (v)
			json_object_object_add(res, key, v);
		else
			json_object_object_del(res, key);
	}
	json_object *retain = get(p, "$retainKeys");
	if (retain) {
		if (!is_arr(retain)) {
			json_object_put(res);
			set_err(c->errmsg, "$retainKeys must be a list");
			return -1;
		}
		size_t nk = (size_t)json_object_object_length(res), k = 0;
		char **keys = xcalloc(nk ? nk : 1, sizeof(*keys));
		json_object_object_foreach(res, rk, rv) {
			(void)rv;
			keys[k++] = xstrdup(rk);
		}
		for (size_t i = 0; i < k; i++) {
			bool keep = false;
			size_t nr = json_object_array_length(retain);
			for (size_t j = 0; j < nr && !keep; j++)
				keep = !strcmp(json_object_get_string(json_object_array_get_idx(retain, j)), keys[i]);
			if (!keep)
				json_object_object_del(res, keys[i]);
			free(keys[i]);
		}
		free(keys);
	}
	*out = res;
	return 0;
}

int patch_strategic(json_object **target, json_object *patch, const char *kind, char **errmsg)
{
	struct smp c = {.kind = kind, .errmsg = errmsg};
	json_object *res = NULL;
	if (errmsg)
		*errmsg = NULL;
	if (!target || !is_obj(patch)) {
		set_err(errmsg, "strategic merge patch must be a JSON object");
		return -1;
	}
	if (smp_value(&c, *target, patch, NULL, 0, &res) < 0)
		return -1;
	if (!res)
		res = json_object_new_object(); /* $patch: delete at the top: empty */
	replace_target(target, res);
	return 0;
}

/* ---- field sets (FieldsV1) ------------------------------------------------
 *
 * A set is a json object: keys "f:<field>", "k:<json key>", "v:<json value>";
 * a node that is an empty object is owned; a node with children is owned
 * itself only when it has a "." child. Paths are json arrays of those keys. */

static bool ignored_meta(const char *k)
{
	static const char *const names[] = {"name", "namespace", "uid", "resourceVersion", "generation",
					    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
					    "managedFields", "selfLink", "generateName"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(k, names[i]))
			return true;
	return false;
}

static bool ignored(int depth, const char *parent, const char *k)
{
	if (depth == 0)
		return !strcmp(k, "apiVersion") || !strcmp(k, "kind");
	return depth == 1 && parent && !strcmp(parent, "metadata") && ignored_meta(k);
}

static char *item_key(json_object *item, const char *key)
{
	json_object *k = json_object_new_object();
	char *s;
	json_object_object_add(k, key, json_object_get(get(item, key)));
	/* containerPort is keyed together with protocol in the real schema */
	if (!strcmp(key, "containerPort") && get(item, "protocol"))
		json_object_object_add(k, "protocol", json_object_get(get(item, "protocol")));
	s = xasprintf("k:%s", json_object_to_json_string_ext(k, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(k);
	return s;
}

static char *value_key(json_object *v)
{
	return xasprintf("v:%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The field set of value v found under field `field` (NULL: nothing to own). */
static json_object *fs_build(json_object *v, const char *field, const char *kind, int depth)
{
	json_object *node;
	if (depth > MAX_DEPTH)
		return json_object_new_object();
	if (is_obj(v)) {
		size_t total = 0;
		node = json_object_new_object();
		json_object_object_foreach(v, k, cv) {
			json_object *child;
			char *fk, small[128];
			total++;
			if (is_null(cv) || ignored(depth, field, k))
				continue;
			child = fs_build(cv, k, kind, depth + 1);
			if (!child)
				continue;
			size_t kl = strlen(k);
			if (kl + 3 <= sizeof(small)) {
				small[0] = 'f';
				small[1] = ':';
				memcpy(small + 2, k, kl + 1);
				json_object_object_add(node, small, child);
			} else {
				fk = xasprintf("f:%s", k);
				json_object_object_add(node, fk, child);
				free(fk);
			}
		}
		if (total > 0 && json_object_object_length(node) == 0) {
			json_object_put(node);
			return NULL; /* only ignored fields (metadata: name, ...) */
		}
		return node;
	}
	if (is_arr(v) && json_object_array_length(v) > 0) {
		const char *key = merge_key(field, kind);
		size_t n = json_object_array_length(v);
		if (set_list(field)) {
			node = json_object_new_object();
			for (size_t i = 0; i < n; i++) {
				char *vk = value_key(json_object_array_get_idx(v, i));
				json_object_object_add(node, vk, json_object_new_object());
				free(vk);
			}
			return node;
		}
		if (key && keyed(v, key)) {
			node = json_object_new_object();
			for (size_t i = 0; i < n; i++) {
				json_object *item = json_object_array_get_idx(v, i);
				json_object *in = fs_build(item, NULL, kind, depth + 1);
				char *ik = item_key(item, key);
				if (!in)
					in = json_object_new_object();
				if (json_object_object_length(in) > 0)
					json_object_object_add(in, ".", json_object_new_object());
				json_object_object_add(node, ik, in);
				free(ik);
			}
			return node;
		}
	}
	return json_object_new_object(); /* scalar, empty or atomic list: a leaf */
}

static bool fs_owned_node(json_object *node)
{
	return is_obj(node) && (json_object_object_length(node) == 0 || get(node, "."));
}

static json_object *fs_node(json_object *set, json_object *path)
{
	size_t n = json_object_array_length(path);
	json_object *cur = set;
	for (size_t i = 0; i < n && cur; i++)
		cur = get(cur, json_object_get_string(json_object_array_get_idx(path, i)));
	return cur;
}

static bool fs_owned(json_object *set, json_object *path)
{
	return fs_owned_node(fs_node(set, path));
}

/* anything owned at or below path */
static bool fs_any(json_object *set, json_object *path)
{
	return fs_node(set, path) != NULL;
}

static void fs_add(json_object *set, json_object *path)
{
	size_t n = json_object_array_length(path);
	json_object *cur = set;
	for (size_t i = 0; i < n; i++) {
		const char *k = json_object_get_string(json_object_array_get_idx(path, i));
		json_object *next = get(cur, k);
		if (!next) {
			next = json_object_new_object();
			json_object_object_add(cur, k, next);
		} else if (i + 1 < n && json_object_object_length(next) == 0) {
			json_object_object_add(next, ".", json_object_new_object()); /* keep its own ownership */
		}
		cur = next;
	}
	if (n > 0 && json_object_object_length(cur) > 0 && !get(cur, "."))
		json_object_object_add(cur, ".", json_object_new_object());
}

static void fs_normalize(json_object *node)
{
	/* {".": {}} alone means the same as {} */
	if (json_object_object_length(node) == 1 && get(node, "."))
		json_object_object_del(node, ".");
}

/* remove ownership of path itself; prunes parents that become empty */
static void fs_remove_at(json_object *node, json_object *path, size_t i)
{
	size_t n = json_object_array_length(path);
	const char *k = json_object_get_string(json_object_array_get_idx(path, i));
	json_object *child = get(node, k);
	if (!child)
		return;
	if (i + 1 == n) {
		if (json_object_object_length(child) > 1 && get(child, "."))
			json_object_object_del(child, ".");
		else if (json_object_object_length(child) == 0 || get(child, "."))
			json_object_object_del(node, k);
		return;
	}
	bool owned_self = get(child, ".") != NULL;
	fs_remove_at(child, path, i + 1);
	if (json_object_object_length(child) == 0 && !owned_self)
		json_object_object_del(node, k);
	else
		fs_normalize(child);
}

static void fs_remove(json_object *set, json_object *path)
{
	if (json_object_array_length(path) > 0)
		fs_remove_at(set, path, 0);
}

/* every owned path of a set, as a json array of paths */
static void fs_paths_rec(json_object *node, json_object *prefix, json_object *out, int depth)
{
	if (depth > MAX_DEPTH)
		return;
	json_object_object_foreach(node, k, child) {
		if (!strcmp(k, "."))
			continue;
		json_object *p = copy(prefix);
		json_object_array_add(p, json_object_new_string(k));
		if (fs_owned_node(child))
			json_object_array_add(out, json_object_get(p));
		fs_paths_rec(child, p, out, depth + 1);
		json_object_put(p);
	}
}

static json_object *fs_paths(json_object *set)
{
	json_object *out = json_object_new_array(), *prefix = json_object_new_array();
	if (is_obj(set))
		fs_paths_rec(set, prefix, out, 0);
	json_object_put(prefix);
	return out;
}

/* one step of a path into a value; *idx set for array elements */
static json_object *step(json_object *cur, const char *k, long *idx)
{
	*idx = -1;
	if (!strncmp(k, "f:", 2))
		return get(cur, k + 2);
	if (!is_arr(cur))
		return NULL;
	if (!strncmp(k, "k:", 2)) {
		json_object *kv = json_tokener_parse(k + 2);
		size_t n = json_object_array_length(cur);
		if (!is_obj(kv)) {
			json_object_put(kv);
			return NULL;
		}
		for (size_t i = 0; i < n && *idx < 0; i++) {
			json_object *item = json_object_array_get_idx(cur, i);
			bool all = true;
			json_object_object_foreach(kv, kk, vv) {
				if (!json_object_equal(get(item, kk), vv))
					all = false;
			}
			if (all)
				*idx = (long)i;
		}
		json_object_put(kv);
	} else if (!strncmp(k, "v:", 2)) {
		json_object *v = json_tokener_parse(k + 2);
		if (v || !strcmp(k + 2, "null"))
			*idx = find_equal(cur, v);
		json_object_put(v);
	} else if (!strncmp(k, "i:", 2)) {
		*idx = atol(k + 2);
		if (*idx < 0 || (size_t)*idx >= json_object_array_length(cur))
			*idx = -1;
	}
	return *idx >= 0 ? json_object_array_get_idx(cur, (size_t)*idx) : NULL;
}

static json_object *val_at(json_object *obj, json_object *path)
{
	size_t n = json_object_array_length(path);
	json_object *cur = obj;
	long idx;
	for (size_t i = 0; i < n && cur; i++)
		cur = step(cur, json_object_get_string(json_object_array_get_idx(path, i)), &idx);
	return cur;
}

static void val_remove(json_object *obj, json_object *path)
{
	size_t n = json_object_array_length(path);
	json_object *parent = obj;
	const char *last;
	long idx;
	if (n == 0)
		return;
	for (size_t i = 0; i + 1 < n && parent; i++)
		parent = step(parent, json_object_get_string(json_object_array_get_idx(path, i)), &idx);
	if (!parent)
		return;
	last = json_object_get_string(json_object_array_get_idx(path, n - 1));
	if (!strncmp(last, "f:", 2)) {
		if (is_obj(parent))
			json_object_object_del(parent, last + 2);
		return;
	}
	if (step(parent, last, &idx) && idx >= 0)
		json_object_array_del_idx(parent, (size_t)idx, 1);
}

/* After a removal, parents left empty that nobody owns go too (a manager
 * that stops applying the only label removes the labels map as well). */
static void prune_empty_parents(json_object *obj, json_object *path, json_object *aset, json_object *mf, long mine)
{
	size_t n = json_object_array_length(path), ne = json_object_array_length(mf);
	for (size_t len = n - 1; len >= 1; len--) {
		json_object *anc = json_object_new_array(), *v;
		bool keep = false;
		for (size_t i = 0; i < len; i++)
			json_object_array_add(anc, json_object_get(json_object_array_get_idx(path, i)));
		v = val_at(obj, anc);
		if (!v || !((is_obj(v) && json_object_object_length(v) == 0) ||
			    (is_arr(v) && json_object_array_length(v) == 0)))
			keep = true;
		if (!keep && fs_any(aset, anc))
			keep = true;
		for (size_t e = 0; e < ne && !keep; e++) {
			json_object *set = get(json_object_array_get_idx(mf, e), "fieldsV1");
			if ((long)e != mine && is_obj(set) && fs_any(set, anc))
				keep = true;
		}
		if (!keep)
			val_remove(obj, anc);
		json_object_put(anc);
		if (keep)
			break;
	}
}

/* ".spec.containers[name=\"c\"].image" for conflict messages */
static void path_str(struct buf *b, json_object *path)
{
	size_t n = json_object_array_length(path);
	for (size_t i = 0; i < n; i++) {
		const char *k = json_object_get_string(json_object_array_get_idx(path, i));
		if (!strncmp(k, "f:", 2)) {
			buf_printf(b, ".%s", k + 2);
		} else if (!strncmp(k, "k:", 2)) {
			json_object *kv = json_tokener_parse(k + 2);
			bool first = true;
			buf_putc(b, '[');
			if (is_obj(kv)) {
				json_object_object_foreach(kv, kk, vv) {
					buf_printf(b, "%s%s=%s", first ? "" : ",", kk,
						   json_object_to_json_string_ext(vv, JSON_C_TO_STRING_PLAIN));
					first = false;
				}
			}
			buf_putc(b, ']');
			json_object_put(kv);
		} else if (!strncmp(k, "v:", 2)) {
			buf_printf(b, "[=%s]", k + 2);
		} else if (!strncmp(k, "i:", 2)) {
			buf_printf(b, "[%s]", k + 2);
		}
	}
}

/* ---- server-side apply ---------------------------------------------------- */

static json_object *ssa_merge(json_object *live, json_object *applied, const char *field, const char *kind,
			      int depth)
{
	if (depth > MAX_DEPTH)
		return copy(applied);
	if (is_obj(applied)) {
		json_object *res = is_obj(live) ? copy(live) : json_object_new_object();
		json_object_object_foreach(applied, k, av) {
			if (depth == 1 && field && !strcmp(field, "metadata") && ignored_meta(k) &&
			    strcmp(k, "name") && strcmp(k, "namespace") && strcmp(k, "generateName"))
				continue; /* uid, resourceVersion, managedFields ... stay the server's */
			if (is_null(av)) {
				json_object_object_del(res, k);
				continue;
			}
			json_object_object_add(res, k, ssa_merge(get(res, k), av, k, kind, depth + 1));
		}
		return res;
	}
	if (is_arr(applied) && is_arr(live)) {
		const char *key = merge_key(field, kind);
		size_t n = json_object_array_length(applied);
		if (set_list(field)) {
			json_object *res = copy(live);
			for (size_t i = 0; i < n; i++) {
				json_object *e = json_object_array_get_idx(applied, i);
				if (find_equal(res, e) < 0)
					json_object_array_add(res, copy(e));
			}
			return res;
		}
		if (key && keyed(applied, key) && keyed(live, key)) {
			json_object *res = copy(live);
			for (size_t i = 0; i < n; i++) {
				json_object *e = json_object_array_get_idx(applied, i);
				long at = find_keyed(res, key, get(e, key));
				if (at >= 0)
					json_object_array_put_idx(res, (size_t)at,
								  ssa_merge(json_object_array_get_idx(res, (size_t)at), e,
									    NULL, kind, depth + 1));
				else
					json_object_array_add(res, copy(e));
			}
			return res;
		}
	}
	return copy(applied);
}

static json_object *managed_fields_copy(json_object *obj)
{
	json_object *mf = get(get(obj, "metadata"), "managedFields");
	return is_arr(mf) ? copy(mf) : json_object_new_array();
}

static bool entry_is(json_object *e, const char *manager, const char *op, const char *sub)
{
	const char *m = get_str(e, "manager"), *o = get_str(e, "operation"), *s = get_str(e, "subresource");
	if (!m || strcmp(m, manager) || !o || strcmp(o, op))
		return false;
	if (!sub || !*sub)
		return !s || !*s;
	return s && !strcmp(s, sub);
}

static void drop_empty_entries(json_object *mf)
{
	for (size_t i = json_object_array_length(mf); i-- > 0;) {
		json_object *fs = get(json_object_array_get_idx(mf, i), "fieldsV1");
		if (!is_obj(fs) || json_object_object_length(fs) == 0)
			json_object_array_del_idx(mf, i, 1);
	}
}

static void set_managed_fields(json_object *obj, json_object *mf /* owned */)
{
	json_object *meta = get(obj, "metadata");
	if (!is_obj(meta)) {
		meta = json_object_new_object();
		json_object_object_add(obj, "metadata", meta);
	}
	drop_empty_entries(mf);
	if (json_object_array_length(mf) == 0) {
		json_object_put(mf);
		json_object_object_del(meta, "managedFields");
		return;
	}
	json_object_object_add(meta, "managedFields", mf);
}

static json_object *new_entry(const char *manager, const char *op, const char *api_version, const char *sub,
			      const char *now, json_object *set /* owned */)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "manager", json_object_new_string(manager));
	json_object_object_add(e, "operation", json_object_new_string(op));
	json_object_object_add(e, "apiVersion", json_object_new_string(api_version ? api_version : ""));
	json_object_object_add(e, "time", json_object_new_string(now ? now : ""));
	json_object_object_add(e, "fieldsType", json_object_new_string("FieldsV1"));
	json_object_object_add(e, "fieldsV1", set);
	if (sub && *sub)
		json_object_object_add(e, "subresource", json_object_new_string(sub));
	return e;
}

struct conflict_group {
	const char *manager;      /* borrowed from the managedFields copy */
	const char *api_version;
	const char *operation;    /* Apply | Update */
	const char *subresource;  /* "" for the main resource */
	json_object *paths;       /* array of paths */
};

/* The conflicts' StatusCauses of the last failed apply on this thread. */
static _Thread_local json_object *tl_conflict_causes;

json_object *patch_take_conflict_causes(void)
{
	json_object *c = tl_conflict_causes;
	tl_conflict_causes = NULL;
	return c;
}

/* The apiserver's printManager: "name" for an Apply manager, "name" using
 * V for an Update one, with subresource "S" when it has one. */
static void manager_str(struct buf *b, const struct conflict_group *g)
{
	buf_printf(b, "\"%s\"", g->manager);
	if (g->subresource && *g->subresource)
		buf_printf(b, " with subresource \"%s\"", g->subresource);
	if (g->operation && strcmp(g->operation, "Update") == 0)
		buf_printf(b, " using %s", g->api_version);
}

static int group_cmp(const void *a, const void *b)
{
	const struct conflict_group *x = a, *y = b;
	return strcmp(x->manager, y->manager);
}

/* The message and causes of the apiserver's apply conflict error
 * (fieldmanager NewConflictError): one cause FieldManagerConflict per path. */
static char *conflict_message(struct conflict_group *g, size_t ng, size_t total)
{
	struct buf b;
	if (tl_conflict_causes)
		json_object_put(tl_conflict_causes);
	tl_conflict_causes = json_object_new_array();
	for (size_t i = 0; i < ng; i++) {
		for (size_t j = 0; j < json_object_array_length(g[i].paths); j++) {
			struct buf m, f;
			buf_init(&m, MSG_MAX);
			buf_init(&f, MSG_MAX);
			buf_puts(&m, "conflict with ");
			manager_str(&m, &g[i]);
			path_str(&f, json_object_array_get_idx(g[i].paths, j));
			json_object *c = json_object_new_object();
			json_object_object_add(c, "reason", json_object_new_string("FieldManagerConflict"));
			char *ms = buf_take(&m, NULL), *fs = buf_take(&f, NULL);
			json_object_object_add(c, "message", json_object_new_string(ms));
			json_object_object_add(c, "field", json_object_new_string(fs));
			free(ms);
			free(fs);
			json_object_array_add(tl_conflict_causes, c);
		}
	}
	buf_init(&b, MSG_MAX);
	if (total == 1) {
		buf_puts(&b, "Apply failed with 1 conflict: conflict with ");
		manager_str(&b, &g[0]);
		buf_puts(&b, ": ");
		path_str(&b, json_object_array_get_idx(g[0].paths, 0));
		return buf_take(&b, NULL);
	}
	qsort(g, ng, sizeof(*g), group_cmp);
	buf_printf(&b, "Apply failed with %zu conflicts: ", total);
	for (size_t i = 0; i < ng; i++) {
		size_t np = json_object_array_length(g[i].paths);
		buf_puts(&b, i ? "\nconflicts with " : "conflicts with ");
		manager_str(&b, &g[i]);
		for (size_t j = 0; j < np; j++) {
			buf_puts(&b, "\n- ");
			path_str(&b, json_object_array_get_idx(g[i].paths, j));
		}
	}
	return buf_take(&b, NULL);
}

static bool same_but_managed_fields(json_object *a, json_object *b)
{
	json_object *ca, *cb;
	bool eq;
	if (!a || !b)
		return false;
	ca = copy(a);
	cb = copy(b);
	json_object_object_del(get(ca, "metadata"), "managedFields");
	json_object_object_del(get(cb, "metadata"), "managedFields");
	eq = json_object_equal(ca, cb);
	json_object_put(ca);
	json_object_put(cb);
	return eq;
}

static bool status_apply(json_object *applied)
{
	bool status = false;
	json_object_object_foreach(applied, k, v) {
		(void)v;
		if (!strcmp(k, "status"))
			status = true;
		else if (strcmp(k, "apiVersion") && strcmp(k, "kind") && strcmp(k, "metadata"))
			return false;
	}
	return status;
}

int patch_apply(json_object **live, json_object *applied, const char *manager, int force,
		const char *now_rfc3339, char **errmsg)
{
	json_object *aset = NULL, *apaths = NULL, *mf = NULL, *result = NULL, *prev = NULL;
	struct conflict_group *groups = NULL;
	const char *kind, *api_version, *sub;
	size_t ngroups = 0, nconf = 0;
	long mine = -1;
	int rc = -1;

	if (errmsg)
		*errmsg = NULL;
	if (!live || !is_obj(applied)) {
		set_err(errmsg, "apply patch must be a YAML or JSON object");
		return -1;
	}
	if (!manager || !*manager) {
		set_err(errmsg, "PATCH, application/apply-patch+yaml requires fieldManager to be set");
		return -1;
	}
	kind = get_str(applied, "kind");
	api_version = get_str(applied, "apiVersion");
	if (!kind || !*kind || !api_version || !*api_version) {
		set_err(errmsg, "invalid object type: %s, Kind=%s", api_version ? api_version : "/",
			kind ? kind : "");
		return -1;
	}
	if (*live && !is_obj(*live)) {
		set_err(errmsg, "live object is not an object");
		return -1;
	}

	/* an apply carrying only status is an apply to the status subresource:
	 * its fields are recorded apart (subresource "status"), and each side
	 * leaves the other's fields alone, as the apiserver's resetFields do */
	sub = status_apply(applied) ? "status" : NULL;
	aset = fs_build(applied, NULL, kind, 0);
	if (!aset)
		aset = json_object_new_object();
	if (sub) {
		json_object_object_del(aset, "f:metadata");
		json_object_object_del(aset, "f:spec");
	} else {
		json_object_object_del(aset, "f:status");
	}
	apaths = fs_paths(aset);
	mf = managed_fields_copy(*live);

	/* conflicts: fields another manager owns whose value would change */
	size_t nentries = json_object_array_length(mf), npaths = json_object_array_length(apaths);
	groups = xcalloc(nentries ? nentries : 1, sizeof(*groups));
	for (size_t e = 0; e < nentries; e++) {
		json_object *ent = json_object_array_get_idx(mf, e), *set = get(ent, "fieldsV1");
		const char *m = get_str(ent, "manager");
		if (entry_is(ent, manager, "Apply", sub)) {
			mine = (long)e;
			continue;
		}
		if (m && !strcmp(m, manager))
			continue; /* the same manager's own updates never conflict */
		for (size_t i = 0; i < npaths; i++) {
			json_object *p = json_object_array_get_idx(apaths, i), *lv, *av;
			const char *last = json_object_get_string(
				json_object_array_get_idx(p, json_object_array_length(p) - 1));
			if (strncmp(last, "f:", 2) || !fs_owned(set, p))
				continue; /* list items themselves never conflict, only their fields */
			lv = val_at(*live, p);
			av = val_at(applied, p);
			if (!lv || json_object_equal(lv, av))
				continue;
			if (is_obj(lv) && is_obj(av))
				continue; /* compared field by field */
			if (!groups[ngroups].paths) {
				groups[ngroups].manager = m ? m : "";
				groups[ngroups].api_version = get_str(ent, "apiVersion") ? get_str(ent, "apiVersion") : "";
				groups[ngroups].operation = get_str(ent, "operation");
				groups[ngroups].subresource = get_str(ent, "subresource");
				groups[ngroups].paths = json_object_new_array();
			}
			json_object_array_add(groups[ngroups].paths, json_object_get(p));
			nconf++;
		}
		if (groups[ngroups].paths)
			ngroups++;
	}
	if (nconf > 0 && !force) {
		char *msg = conflict_message(groups, ngroups, nconf);
		if (errmsg)
			*errmsg = msg;
		else
			free(msg);
		rc = -2;
		goto out;
	}
	if (nconf > 0) {
		/* force: the conflicting fields move to us */
		for (size_t e = 0; e < nentries; e++) {
			json_object *ent = json_object_array_get_idx(mf, e), *set = get(ent, "fieldsV1");
			for (size_t g = 0; g < ngroups; g++) {
				if (strcmp(get_str(ent, "manager") ? get_str(ent, "manager") : "", groups[g].manager))
					continue;
				size_t np = json_object_array_length(groups[g].paths);
				for (size_t j = 0; j < np; j++)
					if (is_obj(set))
						fs_remove(set, json_object_array_get_idx(groups[g].paths, j));
			}
		}
	}

	/* merge the applied values */
	result = ssa_merge(*live, applied, NULL, kind, 0);
	json_object_object_add(result, "apiVersion", json_object_new_string(api_version));
	if (!get_str(result, "kind"))
		json_object_object_add(result, "kind", json_object_new_string(kind));

	/* fields we applied before and dropped now go, unless someone else owns them */
	if (mine >= 0) {
		prev = json_object_get(get(json_object_array_get_idx(mf, (size_t)mine), "fieldsV1"));
		json_object *ppaths = fs_paths(prev);
		size_t np = json_object_array_length(ppaths);
		/* parents first: an item that goes takes its fields along */
		for (size_t i = 0; i < np; i++) {
			json_object *p = json_object_array_get_idx(ppaths, i);
			bool other = false;
			if (fs_any(aset, p))
				continue;
			for (size_t e = 0; e < nentries && !other; e++) {
				if ((long)e == mine)
					continue;
				json_object *set = get(json_object_array_get_idx(mf, e), "fieldsV1");
				other = is_obj(set) && fs_any(set, p);
			}
			if (other)
				continue;
			val_remove(result, p);
			prune_empty_parents(result, p, aset, mf, mine);
		}
		json_object_put(ppaths);
	}

	/* record our ownership; an unchanged set keeps its entry (and time), so
	 * that a no-op apply leaves the object byte-for-byte as it was and the
	 * server does not bump its resourceVersion */
	json_object *old_entry = mine >= 0 ? json_object_array_get_idx(mf, (size_t)mine) : NULL;
	const char *old_av = get_str(old_entry, "apiVersion");
	if (!old_entry || !json_object_equal(get(old_entry, "fieldsV1"), aset) || !old_av ||
	    strcmp(old_av, api_version) || !same_but_managed_fields(*live, result)) {
		json_object *entry = new_entry(manager, "Apply", api_version, sub, now_rfc3339, json_object_get(aset));
		if (mine >= 0)
			json_object_array_put_idx(mf, (size_t)mine, entry);
		else
			json_object_array_add(mf, entry);
	}
	set_managed_fields(result, mf);
	mf = NULL;
	replace_target(live, result);
	result = NULL;
	rc = 0;
out:
	for (size_t g = 0; g < ngroups; g++)
		json_object_put(groups[g].paths);
	free(groups);
	json_object_put(prev);
	json_object_put(result);
	json_object_put(mf);
	json_object_put(apaths);
	json_object_put(aset);
	return rc;
}

/* Drop from a field set every path whose value is gone from v (one walk). */
static void prune_gone(json_object *node, json_object *v, int depth)
{
	size_t n = (size_t)json_object_object_length(node), nd = 0;
	char **drop;
	if (depth >= MAX_DEPTH || n == 0)
		return;
	drop = xcalloc(n, sizeof(*drop));
	json_object_object_foreach(node, k, child) {
		long idx;
		json_object *cv;
		if (!strcmp(k, "."))
			continue;
		cv = v ? step(v, k, &idx) : NULL;
		if (!cv) {
			drop[nd++] = xstrdup(k);
			continue;
		}
		if (json_object_object_length(child) == 0)
			continue;
		bool had_dot = get(child, ".") != NULL;
		prune_gone(child, cv, depth + 1);
		size_t left = (size_t)json_object_object_length(child);
		if (left == 0 || (left == 1 && had_dot)) {
			if (had_dot)
				json_object_object_del(child, "."); /* only itself is left: a plain owned node */
			else
				drop[nd++] = xstrdup(k);
		}
	}
	for (size_t i = 0; i < nd; i++) {
		json_object_object_del(node, drop[i]);
		free(drop[i]);
	}
	free(drop);
}

struct track {
	json_object *mf, *mine_set;
	long mine;
	size_t nentries;
	bool changed;
	const char *stack[MAX_DEPTH + 1];
};

static void track_changed(struct track *t, int depth)
{
	json_object *p = json_object_new_array();
	for (int i = 0; i < depth; i++)
		json_object_array_add(p, json_object_new_string(t->stack[i]));
	t->changed = true;
	for (size_t e = 0; e < t->nentries; e++) {
		json_object *set = get(json_object_array_get_idx(t->mf, e), "fieldsV1");
		if ((long)e != t->mine && is_obj(set))
			fs_remove(set, p);
	}
	fs_add(t->mine_set, p);
	json_object_put(p);
}

/* Walk the new object's field set along the old and new values; every owned
 * field whose value changed (or item that is new) moves to the manager. */
static void track_walk(struct track *t, json_object *node, json_object *ov, json_object *nv, int depth)
{
	if (depth >= MAX_DEPTH)
		return;
	json_object_object_foreach(node, k, child) {
		long idx;
		json_object *ovc, *nvc;
		if (!strcmp(k, "."))
			continue;
		ovc = ov ? step(ov, k, &idx) : NULL;
		nvc = nv ? step(nv, k, &idx) : NULL;
		t->stack[depth] = k;
		if (fs_owned_node(child)) {
			bool item = strncmp(k, "f:", 2) != 0;
			bool changed = item ? ovc == NULL : !(ovc && json_object_equal(ovc, nvc));
			if (changed && !item && is_obj(ovc) && is_obj(nvc))
				changed = false; /* a map emptied by deletions is not a value someone set */
			if (changed)
				track_changed(t, depth + 1);
		}
		if (json_object_object_length(child) > 0)
			track_walk(t, child, ovc, nvc, depth + 1);
	}
}

int patch_track_update(json_object *old, json_object *obj, const char *manager, const char *subresource,
		       const char *now_rfc3339)
{
	struct track t = {.mine = -1};
	json_object *nset;
	const char *kind = get_str(obj, "kind");

	if (!is_obj(obj))
		return 0;
	if (!manager || !*manager)
		manager = "unknown";
	t.mf = managed_fields_copy(old);
	t.nentries = json_object_array_length(t.mf);

	/* fields that are gone are owned by nobody */
	for (size_t e = 0; e < t.nentries; e++) {
		json_object *set = get(json_object_array_get_idx(t.mf, e), "fieldsV1");
		if (is_obj(set))
			prune_gone(set, obj, 0);
	}
	for (size_t e = 0; e < t.nentries; e++)
		if (entry_is(json_object_array_get_idx(t.mf, e), manager, "Update", subresource))
			t.mine = (long)e;
	if (t.mine >= 0) {
		t.mine_set = get(json_object_array_get_idx(t.mf, (size_t)t.mine), "fieldsV1");
		if (!is_obj(t.mine_set)) {
			t.mine_set = json_object_new_object();
			json_object_object_add(json_object_array_get_idx(t.mf, (size_t)t.mine), "fieldsV1", t.mine_set);
		}
	} else {
		t.mine_set = json_object_new_object();
	}

	/* changed fields move to this manager */
	nset = fs_build(obj, NULL, kind, 0);
	if (nset)
		track_walk(&t, nset, old, obj, 0);
	if (t.mine < 0) {
		if (json_object_object_length(t.mine_set) > 0)
			json_object_array_add(t.mf, new_entry(manager, "Update", get_str(obj, "apiVersion"), subresource,
							      now_rfc3339, t.mine_set));
		else
			json_object_put(t.mine_set);
	} else if (t.changed) {
		json_object *ent = json_object_array_get_idx(t.mf, (size_t)t.mine);
		json_object_object_add(ent, "time", json_object_new_string(now_rfc3339 ? now_rfc3339 : ""));
		if (get_str(obj, "apiVersion"))
			json_object_object_add(ent, "apiVersion", json_object_new_string(get_str(obj, "apiVersion")));
	}
	set_managed_fields(obj, t.mf);
	json_object_put(nset);
	return 0;
}
