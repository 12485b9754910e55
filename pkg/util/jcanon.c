#include "util/jcanon.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define HASH_INPUT_MAX (16u << 20)

size_t jcanon_sorted_keys(json_object *obj, const char ***keys)
{
	size_t n = (size_t)json_object_object_length(obj), i = 0;
	const char **k = xcalloc(n ? n : 1, sizeof(*k));
	json_object_object_foreach(obj, key, val) {
		(void)val;
		k[i++] = key;
	}
	/* insertion sort: objects are small */
	for (size_t a = 1; a < n; a++) {
		const char *t = k[a];
		size_t b = a;
		while (b > 0 && strcmp(k[b - 1], t) > 0) {
			k[b] = k[b - 1];
			b--;
		}
		k[b] = t;
	}
	*keys = k;
	return n;
}

int jcanon_string(struct buf *out, const char *s)
{
	json_object *js = json_object_new_string(s);
	int rc = buf_puts(out, json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(js);
	return rc;
}

int jcanon_scalar(struct buf *out, json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return buf_puts(out, "null");
	case json_type_boolean:
		return buf_puts(out, json_object_get_boolean(v) ? "true" : "false");
	case json_type_int:
		return buf_printf(out, "%" PRId64, json_object_get_int64(v));
	case json_type_double:
		return buf_puts(out, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	case json_type_string:
		return jcanon_string(out, json_object_get_string(v));
	default:
		return -EINVAL;
	}
}

/* Does the annotations map hold nothing but skip? */
static bool only(json_object *ann, const char *skip)
{
	if (!json_object_is_type(ann, json_type_object))
		return false;
	json_object_object_foreach(ann, k, v) {
		(void)v;
		if (strcmp(k, skip) != 0)
			return false;
	}
	return true;
}

/* skip: the annotation left out; depth 0 = the object, 1 = its metadata,
 * 2 = metadata.annotations (skip is passed down only along that path). */
static int canon(json_object *obj, struct buf *out, const char *skip, int depth)
{
	int rc = 0;
	if (!obj)
		return buf_puts(out, "null");
	if (json_object_is_type(obj, json_type_object)) {
		const char **keys = NULL;
		size_t n = jcanon_sorted_keys(obj, &keys);
		bool first = true;
		rc = buf_putc(out, '{');
		for (size_t i = 0; i < n && rc == 0; i++) {
			json_object *v = json_object_object_get(obj, keys[i]);
			const char *next = NULL;
			if (skip && depth == 0 && strcmp(keys[i], "metadata") == 0)
				next = skip;
			if (skip && depth == 1 && strcmp(keys[i], "annotations") == 0) {
				if (only(v, skip))
					continue;
				next = skip;
			}
			if (skip && depth == 2 && strcmp(keys[i], skip) == 0)
				continue;
			if (!first)
				rc = buf_putc(out, ',');
			first = false;
			if (rc == 0)
				rc = jcanon_string(out, keys[i]);
			if (rc == 0)
				rc = buf_putc(out, ':');
			if (rc == 0)
				rc = canon(v, out, next, depth + 1);
		}
		if (rc == 0)
			rc = buf_putc(out, '}');
		free(keys);
		return rc;
	}
	if (json_object_is_type(obj, json_type_array)) {
		size_t n = json_object_array_length(obj);
		rc = buf_putc(out, '[');
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (i)
				rc = buf_putc(out, ',');
			if (rc == 0)
				rc = canon(json_object_array_get_idx(obj, i), out, NULL, depth + 1);
		}
		if (rc == 0)
			rc = buf_putc(out, ']');
		return rc;
	}
	return jcanon_scalar(out, obj);
}

int jcanon_json(json_object *obj, struct buf *out)
{
	return canon(obj, out, NULL, 0);
}

int jcanon_hash(json_object *obj, const char *skip_ann, char hex[SHA256_HEX_LEN + 1])
{
	struct buf b;
	buf_init(&b, HASH_INPUT_MAX);
	int rc = canon(obj, &b, skip_ann, 0);
	if (rc == 0)
		sha256_hex(buf_str(&b), b.len, hex);
	buf_cleanup(&b);
	return rc;
}
