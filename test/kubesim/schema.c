/* CRD structural-schema pruning, defaulting and validation, and the CRD's
 * CEL rules (x-kubernetes-validations) evaluated with cel.c (see schema.h). */
#include "schema.h"

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cel.h"
#include "util/buf.h"
#include "util/mem.h"

#define MAX_DEPTH 64  /* deeper objects are rejected, never recursed into */

/* ---- small helpers ---------------------------------------------------- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static bool flag(json_object *schema, const char *key)
{
	json_object *v = get(schema, key);
	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

static bool has_num(json_object *schema, const char *key, double *out)
{
	json_object *v = get(schema, key);
	if (!v || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return false;
	*out = json_object_get_double(v);
	return true;
}

static bool has_int(json_object *schema, const char *key, int64_t *out)
{
	double d;
	if (!has_num(schema, key, &d))
		return false;
	*out = (int64_t)d;
	return true;
}

static char *child_path(const char *parent, const char *key)
{
	if (!parent || !*parent)
		return xstrdup(key);
	return xasprintf("%s.%s", parent, key);
}

static char *index_path(const char *parent, size_t i)
{
	return xasprintf("%s[%zu]", parent ? parent : "", i);
}

/* Go's %q for a string (enough of it: quotes, backslashes, control bytes). */
static void quote(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n') {
			buf_puts(b, "\\n");
		} else if (c == '\t') {
			buf_puts(b, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			buf_printf(b, "\\x%02x", c);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

/* A value the way field.Error prints it: strings quoted, the rest as JSON. */
static void value_str(struct buf *b, json_object *v)
{
	if (!v || json_object_is_type(v, json_type_null)) {
		buf_puts(b, "\"null\"");
		return;
	}
	if (json_object_is_type(v, json_type_string)) {
		quote(b, json_object_get_string(v));
		return;
	}
	buf_puts(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void number_str(struct buf *b, double d)
{
	if (d == (double)(int64_t)d)
		buf_printf(b, "%lld", (long long)(int64_t)d);
	else
		buf_printf(b, "%g", d);
}

static void add_cause(json_object *causes, const char *reason, const char *field, const char *message)
{
	json_object *c = json_object_new_object();
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(message));
	json_object_object_add(c, "field", json_object_new_string(field ? field : ""));
	json_object_array_add(causes, c);
}

/* "Invalid value: <v>: <path> in body <detail>" */
static void invalid(json_object *causes, const char *reason, const char *path, json_object *v,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void invalid(json_object *causes, const char *reason, const char *path, json_object *v,
		    const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	buf_init(&b, 1u << 16);
	buf_puts(&b, "Invalid value: ");
	value_str(&b, v);
	buf_puts(&b, ": ");
	buf_puts(&b, path);
	buf_puts(&b, " in body ");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	add_cause(causes, reason, path, buf_str(&b));
	buf_cleanup(&b);
}

static size_t utf8_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* ---- ECMA-262 pattern -> POSIX ERE ------------------------------------ */

/* Translates the parts of JavaScript regex syntax CRDs commonly use:
 * \d \D \w \W \s \S (also inside brackets), escaped punctuation, (?: ). */
static int ecma_to_ere(const char *in, struct buf *out)
{
	bool in_br = false;
	for (const char *p = in; *p; p++) {
		if (*p == '\\' && p[1]) {
			char c = *++p;
			const char *cls = NULL, *ncls = NULL;
			switch (c) {
			case 'd': cls = "0-9"; break;
			case 'D': ncls = "0-9"; break;
			case 'w': cls = "A-Za-z0-9_"; break;
			case 'W': ncls = "A-Za-z0-9_"; break;
			case 's': cls = "[:space:]"; break;
			case 'S': ncls = "[:space:]"; break;
			default: break;
			}
			if (cls || ncls) {
				if (in_br) {
					if (ncls)
						return -1; /* negated class inside brackets: unsupported */
					buf_puts(out, cls);
				} else {
					buf_printf(out, "[%s%s]", ncls ? "^" : "", cls ? cls : ncls);
				}
				continue;
			}
			if (c == 'n' || c == 't' || c == 'r') {
				buf_putc(out, c == 'n' ? '\n' : c == 't' ? '\t' : '\r');
				continue;
			}
			if (in_br) {
				/* inside POSIX brackets a backslash is literal: keep only the char;
				 * ']' and '-' need positions we cannot guarantee, reject them. */
				if (c == ']' || c == '^')
					return -1;
				if (c == '-') {
					/* a literal '-' is fine as the last char before ']' */
					if (p[1] != ']')
						return -1;
				}
				buf_putc(out, c);
				continue;
			}
			if (strchr(".[]{}()*+?|^$\\", c)) {
				buf_putc(out, '\\');
				buf_putc(out, c);
			} else {
				buf_putc(out, c); /* \/ \- \: ... are just the character */
			}
			continue;
		}
		if (in_br) {
			if (*p == ']')
				in_br = false;
			buf_putc(out, *p);
			continue;
		}
		if (*p == '[') {
			in_br = true;
			buf_putc(out, '[');
			if (p[1] == '^') {
				buf_putc(out, '^');
				p++;
			}
			if (p[1] == ']') { /* leading ']' is literal */
				buf_putc(out, ']');
				p++;
			}
			continue;
		}
		if (*p == '(' && p[1] == '?' && p[2] == ':') {
			buf_putc(out, '(');
			p += 2;
			continue;
		}
		if ((*p == '*' || *p == '+' || *p == '?' || *p == '}') && p[1] == '?') {
			buf_putc(out, *p); /* lazy quantifier: same match set for anchored tests */
			p++;
			continue;
		}
		buf_putc(out, *p);
	}
	return in_br ? -1 : 0;
}

/* 1 match, 0 no match, -1 pattern unusable */
static int pattern_match(const char *pattern, const char *s)
{
	struct buf ere;
	regex_t re;
	int rc;
	buf_init(&ere, 1u << 16);
	if (ecma_to_ere(pattern, &ere) < 0) {
		buf_cleanup(&ere);
		return -1;
	}
	if (regcomp(&re, buf_str(&ere), REG_EXTENDED | REG_NOSUB) != 0) {
		buf_cleanup(&ere);
		return -1;
	}
	rc = regexec(&re, s, 0, NULL, 0) == 0 ? 1 : 0;
	regfree(&re);
	buf_cleanup(&ere);
	return rc;
}

/* ---- pruning and defaulting -------------------------------------------- */

static bool keeps_meta(const char *key)
{
	return !strcmp(key, "apiVersion") || !strcmp(key, "kind") || !strcmp(key, "metadata");
}

static void normalize(json_object *schema, json_object *v, bool root, int depth)
{
	json_object *props, *addl, *items;
	bool preserve, embedded;

	if (!schema || !json_object_is_type(schema, json_type_object) || !v || depth > MAX_DEPTH)
		return;
	if (json_object_is_type(v, json_type_array)) {
		items = get(schema, "items");
		if (!items)
			return;
		size_t n = json_object_array_length(v);
		for (size_t i = 0; i < n; i++)
			normalize(items, json_object_array_get_idx(v, i), false, depth + 1);
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
	/* an int-or-string or untyped field that happens to hold an object */
	if (flag(schema, "x-kubernetes-int-or-string"))
		return;

	props = get(schema, "properties");
	addl = get(schema, "additionalProperties");
	preserve = flag(schema, "x-kubernetes-preserve-unknown-fields") ||
		   (addl && json_object_is_type(addl, json_type_boolean) && json_object_get_boolean(addl));
	embedded = flag(schema, "x-kubernetes-embedded-resource");
	if (addl && !json_object_is_type(addl, json_type_object))
		addl = NULL;

	/* collect the keys first: we delete while walking */
	size_t nkeys = (size_t)json_object_object_length(v), k = 0;
	char **keys = xcalloc(nkeys ? nkeys : 1, sizeof(*keys));
	json_object_object_foreach(v, fkey, fval) {
		(void)fval;
		keys[k++] = xstrdup(fkey);
	}
	for (size_t i = 0; i < k; i++) {
		const char *key = keys[i];
		json_object *sub, *val = get(v, key);
		if ((root || embedded) && keeps_meta(key))
			continue; /* metadata is the core's business */
		sub = get(props, key);
		if (!sub)
			sub = addl;
		if (!sub) {
			if (!preserve)
				json_object_object_del(v, key);
			continue;
		}
		if ((!val || json_object_is_type(val, json_type_null)) && !flag(sub, "nullable")) {
			/* 1.20+: nulls of non-nullable fields are pruned before defaulting */
			json_object_object_del(v, key);
			continue;
		}
		normalize(sub, val, false, depth + 1);
	}
	for (size_t i = 0; i < k; i++)
		free(keys[i]);
	free(keys);

	if (props && json_object_is_type(props, json_type_object)) {
		json_object_object_foreach(props, pname, psch) {
			json_object *def = get(psch, "default");
			if (!def || get(v, pname))
				continue;
			if (root && keeps_meta(pname))
				continue;
			json_object *copy = NULL;
			if (json_object_deep_copy(def, &copy, NULL) != 0)
				continue;
			json_object_object_add(v, pname, copy);
			normalize(psch, copy, false, depth + 1);
		}
	}
}

/* ---- validation --------------------------------------------------------- */

static const char *json_type_name(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_int: return "integer";
	case json_type_double: return "number";
	case json_type_string: return "string";
	case json_type_array: return "array";
	case json_type_object: return "object";
	}
	return "unknown";
}

static bool type_ok(const char *type, json_object *v)
{
	enum json_type t = json_object_get_type(v);
	if (!strcmp(type, "object")) return t == json_type_object;
	if (!strcmp(type, "array")) return t == json_type_array;
	if (!strcmp(type, "string")) return t == json_type_string;
	if (!strcmp(type, "boolean")) return t == json_type_boolean;
	if (!strcmp(type, "number")) return t == json_type_int || t == json_type_double;
	if (!strcmp(type, "integer")) {
		if (t == json_type_int)
			return true;
		if (t == json_type_double) {
			double d = json_object_get_double(v);
			return d == (double)(int64_t)d;
		}
		return false;
	}
	return true; /* unknown type names are not ours to judge */
}

static void validate(json_object *schema, json_object *v, const char *path, json_object *causes, bool root,
		     int depth);

static int validate_quiet(json_object *schema, json_object *v, const char *path, int depth)
{
	json_object *scratch = json_object_new_array();
	int n;
	validate(schema, v, path, scratch, false, depth);
	n = (int)json_object_array_length(scratch);
	json_object_put(scratch);
	return n;
}

static void check_enum(json_object *schema, json_object *v, const char *path, json_object *causes)
{
	json_object *en = get(schema, "enum");
	size_t n;
	struct buf b;
	if (!en || !json_object_is_type(en, json_type_array))
		return;
	n = json_object_array_length(en);
	for (size_t i = 0; i < n; i++)
		if (json_object_equal(json_object_array_get_idx(en, i), v))
			return;
	buf_init(&b, 1u << 16);
	buf_puts(&b, "Unsupported value: ");
	value_str(&b, v);
	buf_puts(&b, ": supported values: ");
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(&b, ", ");
		value_str(&b, json_object_array_get_idx(en, i));
	}
	add_cause(causes, "FieldValueNotSupported", path, buf_str(&b));
	buf_cleanup(&b);
}

static void check_number(json_object *schema, json_object *v, const char *path, json_object *causes)
{
	double d = json_object_get_double(v), lim;
	struct buf b;
	buf_init(&b, 256);
	if (has_num(schema, "minimum", &lim)) {
		bool ex = flag(schema, "exclusiveMinimum");
		if (ex ? !(d > lim) : !(d >= lim)) {
			number_str(&b, lim);
			invalid(causes, "FieldValueInvalid", path, v, "should be greater than %s%s",
				ex ? "" : "or equal to ", buf_str(&b));
		}
	}
	buf_reset(&b);
	if (has_num(schema, "maximum", &lim)) {
		bool ex = flag(schema, "exclusiveMaximum");
		if (ex ? !(d < lim) : !(d <= lim)) {
			number_str(&b, lim);
			invalid(causes, "FieldValueInvalid", path, v, "should be less than %s%s",
				ex ? "" : "or equal to ", buf_str(&b));
		}
	}
	buf_reset(&b);
	if (has_num(schema, "multipleOf", &lim) && lim > 0) {
		double q = d / lim;
		if (q != (double)(int64_t)q) {
			number_str(&b, lim);
			invalid(causes, "FieldValueInvalid", path, v, "should be a multiple of %s", buf_str(&b));
		}
	}
	buf_cleanup(&b);
}

static void check_string(json_object *schema, json_object *v, const char *path, json_object *causes)
{
	const char *s = json_object_get_string(v);
	size_t len = utf8_len(s);
	int64_t lim;
	json_object *pat;
	if (has_int(schema, "minLength", &lim) && (int64_t)len < lim)
		invalid(causes, "FieldValueInvalid", path, v, "should be at least %lld chars long", (long long)lim);
	if (has_int(schema, "maxLength", &lim) && (int64_t)len > lim) {
		char *m = xasprintf("Too long: may not be more than %lld bytes", (long long)lim);
		add_cause(causes, "FieldValueTooLong", path, m);
		free(m);
	}
	pat = get(schema, "pattern");
	if (pat && json_object_is_type(pat, json_type_string)) {
		const char *p = json_object_get_string(pat);
		int m = pattern_match(p, s);
		if (m == 0)
			invalid(causes, "FieldValueInvalid", path, v, "should match '%s'", p);
		/* m < 0: a pattern we cannot translate is not enforced (fail open) */
	}
}

static void check_list_type(json_object *schema, json_object *v, const char *path, json_object *causes)
{
	json_object *lt = get(schema, "x-kubernetes-list-type"), *keys = get(schema, "x-kubernetes-list-map-keys");
	size_t n = json_object_array_length(v);
	const char *t;
	if (!lt || !json_object_is_type(lt, json_type_string))
		return;
	t = json_object_get_string(lt);
	if (strcmp(t, "set") && strcmp(t, "map"))
		return;
	for (size_t i = 1; i < n; i++) {
		json_object *a = json_object_array_get_idx(v, i);
		for (size_t j = 0; j < i; j++) {
			json_object *b = json_object_array_get_idx(v, j);
			bool dup;
			if (!strcmp(t, "set")) {
				dup = json_object_equal(a, b);
			} else {
				size_t nk = keys && json_object_is_type(keys, json_type_array) ? json_object_array_length(keys) : 0;
				dup = nk > 0;
				for (size_t k = 0; k < nk && dup; k++) {
					const char *kn = json_object_get_string(json_object_array_get_idx(keys, k));
					json_object *ka = get(a, kn), *kb = get(b, kn);
					if (!(ka == NULL && kb == NULL) && !json_object_equal(ka, kb))
						dup = false;
				}
			}
			if (!dup)
				continue;
			struct buf b2;
			char *ip = index_path(path, i);
			buf_init(&b2, 1u << 16);
			buf_puts(&b2, "Duplicate value: ");
			if (!strcmp(t, "set")) {
				value_str(&b2, a);
			} else {
				json_object *ko = json_object_new_object();
				size_t nk = json_object_array_length(keys);
				for (size_t k = 0; k < nk; k++) {
					const char *kn = json_object_get_string(json_object_array_get_idx(keys, k));
					json_object *kv = get(a, kn);
					if (kv)
						json_object_object_add(ko, kn, json_object_get(kv));
				}
				value_str(&b2, ko);
				json_object_put(ko);
			}
			add_cause(causes, "FieldValueDuplicate", ip, buf_str(&b2));
			buf_cleanup(&b2);
			free(ip);
			break;
		}
	}
}

static void validate(json_object *schema, json_object *v, const char *path, json_object *causes, bool root,
		     int depth)
{
	json_object *type, *x;
	int64_t lim;

	if (!schema || !json_object_is_type(schema, json_type_object))
		return;
	if (depth > MAX_DEPTH) {
		add_cause(causes, "FieldValueInvalid", path, "Invalid value: object nested too deeply");
		return;
	}
	type = get(schema, "type");
	if (!v || json_object_is_type(v, json_type_null)) {
		if (flag(schema, "nullable") || (!type && !flag(schema, "x-kubernetes-int-or-string")))
			return;
		invalid(causes, "FieldValueTypeInvalid", path, v, "must be of type %s: \"null\"",
			type ? json_object_get_string(type) : "integer,string");
		return;
	}
	if (flag(schema, "x-kubernetes-int-or-string")) {
		if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_string)) {
			char *m = xasprintf("Invalid value: \"%s\": %s in body must be of type integer,string: \"%s\"",
					    json_type_name(v), path, json_type_name(v));
			add_cause(causes, "FieldValueTypeInvalid", path, m);
			free(m);
			return;
		}
	} else if (type && json_object_is_type(type, json_type_string) &&
		   !type_ok(json_object_get_string(type), v)) {
		char *m = xasprintf("Invalid value: \"%s\": %s in body must be of type %s: \"%s\"",
				    json_type_name(v), path, json_object_get_string(type), json_type_name(v));
		add_cause(causes, "FieldValueTypeInvalid", path, m);
		free(m);
		return;
	}

	check_enum(schema, v, path, causes);

	switch (json_object_get_type(v)) {
	case json_type_int:
	case json_type_double:
		check_number(schema, v, path, causes);
		break;
	case json_type_string:
		check_string(schema, v, path, causes);
		break;
	case json_type_array: {
		size_t n = json_object_array_length(v);
		if (has_int(schema, "minItems", &lim) && (int64_t)n < lim)
			invalid(causes, "FieldValueInvalid", path, v, "should have at least %lld items", (long long)lim);
		if (has_int(schema, "maxItems", &lim) && (int64_t)n > lim) {
			char *m = xasprintf("Too many: %zu: must have at most %lld items", n, (long long)lim);
			add_cause(causes, "FieldValueTooMany", path, m);
			free(m);
		}
		check_list_type(schema, v, path, causes);
		x = get(schema, "items");
		if (x) {
			for (size_t i = 0; i < n; i++) {
				char *ip = index_path(path, i);
				validate(x, json_object_array_get_idx(v, i), ip, causes, false, depth + 1);
				free(ip);
			}
		}
		break;
	}
	case json_type_object: {
		json_object *props = get(schema, "properties"), *addl = get(schema, "additionalProperties");
		bool embedded = flag(schema, "x-kubernetes-embedded-resource");
		size_t n = (size_t)json_object_object_length(v);
		if (has_int(schema, "minProperties", &lim) && (int64_t)n < lim)
			invalid(causes, "FieldValueInvalid", path, v, "should have at least %lld properties",
				(long long)lim);
		if (has_int(schema, "maxProperties", &lim) && (int64_t)n > lim) {
			char *m = xasprintf("Too many: %zu: must have at most %lld items", n, (long long)lim);
			add_cause(causes, "FieldValueTooMany", path, m);
			free(m);
		}
		x = get(schema, "required");
		if (x && json_object_is_type(x, json_type_array)) {
			size_t nr = json_object_array_length(x);
			for (size_t i = 0; i < nr; i++) {
				const char *rn = json_object_get_string(json_object_array_get_idx(x, i));
				json_object *rv = get(v, rn);
				if (!rn || (rv && !json_object_is_type(rv, json_type_null)))
					continue;
				if (rv && flag(get(props, rn), "nullable"))
					continue;
				char *cp = child_path(path, rn);
				add_cause(causes, "FieldValueRequired", cp, "Required value");
				free(cp);
			}
		}
		if (embedded) {
			static const char *const need[] = {"apiVersion", "kind"};
			for (size_t i = 0; i < 2; i++) {
				if (get(v, need[i]))
					continue;
				char *cp = child_path(path, need[i]);
				add_cause(causes, "FieldValueRequired", cp, "Required value");
				free(cp);
			}
		}
		if (addl && !json_object_is_type(addl, json_type_object))
			addl = NULL;
		json_object_object_foreach(v, key, val) {
			json_object *sub;
			if ((root || embedded) && keeps_meta(key))
				continue;
			sub = get(props, key);
			if (!sub)
				sub = addl;
			if (!sub)
				continue;
			char *cp = child_path(path, key);
			validate(sub, val, cp, causes, false, depth + 1);
			free(cp);
		}
		break;
	}
	default:
		break;
	}

	/* value validations (structural schemas allow these without types) */
	x = get(schema, "allOf");
	if (x && json_object_is_type(x, json_type_array)) {
		size_t n = json_object_array_length(x);
		for (size_t i = 0; i < n; i++)
			validate(json_object_array_get_idx(x, i), v, path, causes, false, depth + 1);
	}
	x = get(schema, "anyOf");
	if (x && json_object_is_type(x, json_type_array)) {
		size_t n = json_object_array_length(x), ok = 0;
		for (size_t i = 0; i < n && !ok; i++)
			if (validate_quiet(json_object_array_get_idx(x, i), v, path, depth + 1) == 0)
				ok++;
		if (n && !ok)
			invalid(causes, "FieldValueInvalid", path, v, "must validate at least one schema (anyOf)");
	}
	x = get(schema, "oneOf");
	if (x && json_object_is_type(x, json_type_array)) {
		size_t n = json_object_array_length(x), ok = 0;
		for (size_t i = 0; i < n; i++)
			if (validate_quiet(json_object_array_get_idx(x, i), v, path, depth + 1) == 0)
				ok++;
		if (n && ok != 1)
			invalid(causes, "FieldValueInvalid", path, v, "must validate one and only one schema (oneOf)");
	}
	x = get(schema, "not");
	if (x && json_object_is_type(x, json_type_object) && validate_quiet(x, v, path, depth + 1) == 0)
		invalid(causes, "FieldValueInvalid", path, v, "must not validate the schema (not)");
}

/* ---- CEL rules ---- */

/* The apiserver builds a CEL type for a rule's self from the whole schema
 * below it; an object with neither properties nor additionalProperties
 * (and no x-kubernetes-preserve-unknown-fields / embedded-resource /
 * int-or-string) cannot be typed (model.SchemaDeclType). 0 or -1. */
static int cel_typeable(json_object *schema, int depth)
{
	if (!schema || !json_object_is_type(schema, json_type_object) || depth > MAX_DEPTH)
		return 0;
	const char *t = json_object_get_string(get(schema, "type"));
	json_object *props = get(schema, "properties"), *addl = get(schema, "additionalProperties");
	if (t && strcmp(t, "object") == 0 && !flag(schema, "x-kubernetes-preserve-unknown-fields") &&
	    !flag(schema, "x-kubernetes-embedded-resource") && !flag(schema, "x-kubernetes-int-or-string")) {
		int has_props = props && json_object_object_length(props) > 0;
		int has_addl = addl && json_object_is_type(addl, json_type_object) &&
			       json_object_object_length(addl) > 0;
		if (!has_props && !has_addl)
			return -1;
	}
	if (props) {
		json_object_object_foreach(props, k, sub) {
			(void)k;
			if (cel_typeable(sub, depth + 1) < 0)
				return -1;
		}
	}
	if (addl && json_object_is_type(addl, json_type_object) && cel_typeable(addl, depth + 1) < 0)
		return -1;
	if (cel_typeable(get(schema, "items"), depth + 1) < 0)
		return -1;
	return 0;
}

/* the value the apiserver shows in "Invalid value: ..." for a rule's
 * field: the schema's type ("" for int-or-string, which has none) */
static const char *schema_type_name(json_object *schema)
{
	const char *t = json_object_get_string(get(schema, "type"));
	return t ? t : "";
}

/* ruleMessageOrDefault: the message, else "failed rule: <rule>" */
static char *rule_message(json_object *rule, json_object *self, json_object *old)
{
	const char *me = json_object_get_string(get(rule, "messageExpression"));
	if (me && *me) {
		struct cel_prog *p = NULL;
		char *err = NULL, *out = NULL;
		if (cel_compile(me, &p, &err) == 0 && cel_eval_string(p, self, old, &out, &err) == 0 && out &&
		    *out) {
			cel_free(p);
			return out;
		}
		free(out);
		free(err);
		cel_free(p);
	}
	const char *m = json_object_get_string(get(rule, "message"));
	if (m && *m)
		return xstrdup(m);
	return xasprintf("failed rule: %s", json_object_get_string(get(rule, "rule")));
}

static void rule_cause(json_object *causes, json_object *schema, json_object *rule, const char *path,
		       const char *detail)
{
	const char *reason = json_object_get_string(get(rule, "reason"));
	const char *fp = json_object_get_string(get(rule, "fieldPath"));
	/* fieldPath is relative to the rule's field: ".a.b" or "[0]" */
	const char *rel = fp && fp[0] == '.' ? fp + 1 : fp;
	char *field = !rel || !*rel ? xstrdup(path)
		      : !path[0]     ? xstrdup(rel)
		      : rel[0] == '[' ? xasprintf("%s%s", path, rel)
				      : xasprintf("%s.%s", path, rel);
	char *m;
	if (reason && strcmp(reason, "FieldValueRequired") == 0)
		m = xasprintf("Required value: %s", detail);
	else if (reason && strcmp(reason, "FieldValueForbidden") == 0)
		m = xasprintf("Forbidden: %s", detail);
	else if (reason && strcmp(reason, "FieldValueDuplicate") == 0)
		m = xasprintf("Duplicate value: \"%s\"", detail);
	else
		m = xasprintf("Invalid value: \"%s\": %s", schema_type_name(schema), detail), reason = NULL;
	add_cause(causes, reason ? reason : "FieldValueInvalid", field, m);
	free(m);
	free(field);
}

static void cel_rules(json_object *schema, json_object *v, json_object *old, const char *path, json_object *causes)
{
	json_object *rules = get(schema, "x-kubernetes-validations");
	if (!rules || !json_object_is_type(rules, json_type_array))
		return;
	int typeable = cel_typeable(schema, 0) == 0;
	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		json_object *rule = json_object_array_get_idx(rules, i);
		const char *expr = json_object_get_string(get(rule, "rule"));
		struct cel_prog *p = NULL;
		char *err = NULL;
		if (!typeable) {
			char *msg = rule_message(rule, NULL, NULL);
			char *d = xasprintf("invalid object type, expected either Properties or AdditionalProperties "
					    "with Allows=true and non-empty Schema evaluating rule: %s", msg);
			char *m = xasprintf("Invalid value: \"%s\": %s", schema_type_name(schema), d);
			add_cause(causes, "FieldValueInvalid", path, m);
			free(m);
			free(d);
			free(msg);
			continue;
		}
		if (!expr || cel_compile(expr, &p, &err) < 0) {
			char *m = xasprintf("Invalid value: \"%s\": compilation failed: %s", schema_type_name(schema),
					    err ? err : "no rule");
			add_cause(causes, "FieldValueInvalid", path, m);
			free(m);
			free(err);
			continue;
		}
		if (cel_uses_old_self(p) && !old) { /* transition rule on create: skipped */
			cel_free(p);
			continue;
		}
		int rc = cel_eval_bool(p, v, old, &err);
		if (rc == 0) {
			char *msg = rule_message(rule, v, old);
			rule_cause(causes, schema, rule, path, msg);
			free(msg);
		} else if (rc < 0) {
			char *msg = rule_message(rule, v, old);
			char *d = xasprintf("%s evaluating rule: %s", err ? err : "error", msg);
			char *m = xasprintf("Invalid value: \"%s\": %s", schema_type_name(schema), d);
			add_cause(causes, "FieldValueInvalid", path, m);
			free(m);
			free(d);
			free(msg);
		}
		free(err);
		cel_free(p);
	}
}

/* Rules are evaluated where the value exists, children first as the
 * apiserver's validator visits them (order of causes is not significant). */
static void cel_walk(json_object *schema, json_object *v, json_object *old, const char *path, json_object *causes,
		     bool root, int depth)
{
	if (!schema || !json_object_is_type(schema, json_type_object) || !v || depth > MAX_DEPTH)
		return;
	if (json_object_is_type(v, json_type_object)) {
		json_object *props = get(schema, "properties"), *addl = get(schema, "additionalProperties");
		if (addl && !json_object_is_type(addl, json_type_object))
			addl = NULL;
		json_object_object_foreach(v, key, val) {
			if (root && keeps_meta(key))
				continue;
			json_object *sub = get(props, key);
			if (!sub)
				sub = addl;
			if (!sub)
				continue;
			json_object *ov = old && json_object_is_type(old, json_type_object) ? get(old, key) : NULL;
			char *cp = child_path(path, key);
			cel_walk(sub, val, ov, cp, causes, false, depth + 1);
			free(cp);
		}
	} else if (json_object_is_type(v, json_type_array)) {
		json_object *items = get(schema, "items");
		for (size_t i = 0; items && i < json_object_array_length(v); i++) {
			char *ip = index_path(path, i);
			cel_walk(items, json_object_array_get_idx(v, i), NULL, ip, causes, false, depth + 1);
			free(ip);
		}
	}
	cel_rules(schema, v, old, path, causes);
}

/* whether any rule exists below schema (the CEL validator is nil without) */
static int has_rules(json_object *schema, int depth)
{
	if (!schema || !json_object_is_type(schema, json_type_object) || depth > MAX_DEPTH)
		return 0;
	if (get(schema, "x-kubernetes-validations"))
		return 1;
	json_object *props = get(schema, "properties");
	if (props) {
		json_object_object_foreach(props, k, sub) {
			(void)k;
			if (has_rules(sub, depth + 1))
				return 1;
		}
	}
	return has_rules(get(schema, "items"), depth + 1) || has_rules(get(schema, "additionalProperties"), depth + 1);
}

static int cel_check_walk(json_object *schema, const char *path, char **err_path, char **err, int depth)
{
	if (!schema || !json_object_is_type(schema, json_type_object) || depth > MAX_DEPTH)
		return 0;
	json_object *rules = get(schema, "x-kubernetes-validations");
	for (size_t i = 0; rules && json_object_is_type(rules, json_type_array) && i < json_object_array_length(rules);
	     i++) {
		json_object *rule = json_object_array_get_idx(rules, i);
		const char *fields[] = {"rule", "messageExpression"};
		for (size_t f = 0; f < 2; f++) {
			const char *expr = json_object_get_string(get(rule, fields[f]));
			if (f == 1 && !expr)
				continue;
			struct cel_prog *p = NULL;
			char *e = NULL;
			if (!expr || cel_compile(expr, &p, &e) < 0) {
				*err_path = xasprintf("%s.x-kubernetes-validations[%zu].%s", path, i, fields[f]);
				*err = e ? e : xstrdup("Required value");
				return -1;
			}
			cel_free(p);
		}
	}
	json_object *props = get(schema, "properties");
	if (props) {
		json_object_object_foreach(props, pk, psub) {
			char *cp = xasprintf("%s.properties[%s]", path, pk);
			int rc = cel_check_walk(psub, cp, err_path, err, depth + 1);
			free(cp);
			if (rc < 0)
				return rc;
		}
	}
	static const char *const kids[] = {"items", "additionalProperties"};
	for (size_t k = 0; k < 2; k++) {
		json_object *sub = get(schema, kids[k]);
		if (!sub || !json_object_is_type(sub, json_type_object))
			continue;
		char *cp = xasprintf("%s.%s", path, kids[k]);
		int rc = cel_check_walk(sub, cp, err_path, err, depth + 1);
		free(cp);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int schema_cel_check(json_object *schema, const char *path, char **err_path, char **err)
{
	*err_path = NULL;
	*err = NULL;
	return cel_check_walk(schema, path, err_path, err, 0);
}

int schema_apply_update(json_object *schema, json_object *obj, json_object *old, json_object *causes)
{
	size_t before;
	if (!schema || !obj || !causes)
		return -1;
	before = json_object_array_length(causes);
	if (!json_object_is_type(obj, json_type_object)) {
		add_cause(causes, "FieldValueTypeInvalid", "", "Invalid value: object expected");
		return -1;
	}
	normalize(schema, obj, true, 0);
	validate(schema, obj, "", causes, true, 0);
	/* CEL rules run unless a type, required, enum or size violation was
	 * found (the apiserver's hasBlockingErr), which it reports instead */
	int blocking = 0;
	static const char *const blockers[] = {"FieldValueNotSupported", "FieldValueRequired", "FieldValueTooLong",
					       "FieldValueTooMany", "FieldValueTypeInvalid"};
	for (size_t i = before; i < json_object_array_length(causes); i++) {
		const char *r = json_object_get_string(get(json_object_array_get_idx(causes, i), "reason"));
		for (size_t b = 0; r && b < sizeof(blockers) / sizeof(blockers[0]); b++)
			blocking |= strcmp(r, blockers[b]) == 0;
	}
	if (blocking && has_rules(schema, 0))
		add_cause(causes, "FieldValueInvalid", "<nil>",
			  "Invalid value: \"null\": some validation rules were not checked because the object was "
			  "invalid; correct the existing errors to complete validation");
	else if (!blocking)
		cel_walk(schema, obj, old, "", causes, true, 0);
	return json_object_array_length(causes) > before ? -1 : 0;
}

int schema_apply(json_object *schema, json_object *obj, json_object *causes)
{
	return schema_apply_update(schema, obj, NULL, causes);
}

char *schema_invalid_message(const char *kind_group, const char *name, json_object *causes)
{
	struct buf b;
	size_t n = causes ? json_object_array_length(causes) : 0;
	buf_init(&b, 1u << 20);
	buf_printf(&b, "%s \"%s\" is invalid: ", kind_group ? kind_group : "", name ? name : "");
	if (n != 1)
		buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(causes, i);
		const char *f = json_object_get_string(get(c, "field"));
		if (i)
			buf_puts(&b, ", ");
		if (f && *f)
			buf_printf(&b, "%s: ", f);
		buf_puts(&b, json_object_get_string(get(c, "message")));
	}
	if (n != 1)
		buf_putc(&b, ']');
	return buf_take(&b, NULL);
}
