#include "util/jpath.h"

#include <string.h>

json_object *jpath_child(json_object *obj, const char *key)
{
	json_object *v = NULL;
	if (!obj || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v))
		return NULL;
	return v;
}

const char *jpath_child_str(json_object *obj, const char *key)
{
	json_object *v = jpath_child(obj, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *jpath_get(json_object *root, const char *path)
{
	char seg[256];
	json_object *cur = root;
	const char *p = path;
	while (cur && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 0 || n >= sizeof(seg))
			return NULL;
		memcpy(seg, p, n);
		seg[n] = '\0';
		cur = jpath_child(cur, seg);
		p += n;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *jpath_str(json_object *root, const char *path)
{
	json_object *v = jpath_get(root, path);
	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *jpath_str_or(json_object *root, const char *path, const char *def)
{
	const char *s = jpath_str(root, path);
	return s && *s ? s : def;
}

int64_t jpath_int_or(json_object *root, const char *path, int64_t def)
{
	json_object *v = jpath_get(root, path);
	if (!v || !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}

const char *jpath_annotation(json_object *obj, const char *key)
{
	return jpath_child_str(jpath_get(obj, "metadata.annotations"), key);
}

const char *jpath_label(json_object *obj, const char *key)
{
	return jpath_child_str(jpath_get(obj, "metadata.labels"), key);
}

static json_object *find_by(json_object *arr, const char *field, const char *value)
{
	if (!arr || !json_object_is_type(arr, json_type_array) || !value)
		return NULL;
	size_t n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *f = jpath_child_str(e, field);
		if (f && strcmp(f, value) == 0)
			return e;
	}
	return NULL;
}

json_object *jpath_find_type(json_object *arr, const char *type)
{
	return find_by(arr, "type", type);
}

json_object *jpath_find_name(json_object *arr, const char *name)
{
	return find_by(arr, "name", name);
}

bool jpath_condition_true(json_object *obj, const char *type)
{
	json_object *c = jpath_find_type(jpath_get(obj, "status.conditions"), type);
	const char *s = jpath_str(c, "status");
	return s && strcmp(s, "True") == 0;
}
