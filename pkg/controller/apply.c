#include "controller/apply.h"

#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/digest.h"
#include "util/mem.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_string(struct buf *b, const char *s)
{
	json_object *tmp = json_object_new_string(s);
	buf_puts(b, json_object_to_json_string_ext(tmp, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(tmp);
}

static void canon(struct buf *b, json_object *o, bool skip_hash_ann, int depth)
{
	if (!o) {
		buf_puts(b, "null");
		return;
	}
	switch (json_object_get_type(o)) {
	case json_type_object: {
		size_t n = (size_t)json_object_object_length(o), i = 0;
		const char **keys = xcalloc(n + 1, sizeof(char *));
		json_object_object_foreach(o, k, v)
		{
			(void)v;
			keys[i++] = k;
		}
		qsort(keys, i, sizeof(char *), cmp_str);
		buf_putc(b, '{');
		bool first = true;
		for (size_t j = 0; j < i; j++) {
			if (skip_hash_ann && depth == 2 && strcmp(keys[j], CTRL_ANN_DESIRED_HASH) == 0)
				continue;
			if (skip_hash_ann && depth == 1 && strcmp(keys[j], "annotations") == 0) {
				/* annotations holding only the hash count as absent */
				json_object *a = json_object_object_get(o, keys[j]), *hv;
				if (json_object_is_type(a, json_type_object) && json_object_object_length(a) == 1 &&
				    json_object_object_get_ex(a, CTRL_ANN_DESIRED_HASH, &hv))
					continue;
			}
			if (!first)
				buf_putc(b, ',');
			first = false;
			put_string(b, keys[j]);
			buf_putc(b, ':');
			json_object *val = json_object_object_get(o, keys[j]);
			/* metadata (depth 0) -> annotations (depth 1) -> the hash key (depth 2) */
			bool next_skip = skip_hash_ann &&
				((depth == 0 && strcmp(keys[j], "metadata") == 0) ||
				 (depth == 1 && strcmp(keys[j], "annotations") == 0));
			canon(b, val, next_skip, depth + 1);
		}
		buf_putc(b, '}');
		free(keys);
		break;
	}
	case json_type_array:
		buf_putc(b, '[');
		for (size_t j = 0; j < json_object_array_length(o); j++) {
			if (j)
				buf_putc(b, ',');
			canon(b, json_object_array_get_idx(o, j), false, 99);
		}
		buf_putc(b, ']');
		break;
	case json_type_string:
		put_string(b, json_object_get_string(o));
		break;
	default:
		buf_puts(b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		break;
	}
}

char *ctrl_canonical_json(json_object *obj)
{
	struct buf b;
	buf_init(&b, BUF_DEFAULT_MAX);
	canon(&b, obj, false, 0);
	return buf_take(&b, NULL);
}

void ctrl_desired_hash(json_object *desired, char out[65])
{
	struct buf b;
	buf_init(&b, BUF_DEFAULT_MAX);
	canon(&b, desired, true, 0);
	sha256_hex(b.data ? b.data : "", b.len, out);
	buf_cleanup(&b);
}

static const char *annotation(json_object *obj, const char *key)
{
	json_object *md, *ann, *v;
	if (obj && json_object_object_get_ex(obj, "metadata", &md) &&
	    json_object_object_get_ex(md, "annotations", &ann) && json_object_object_get_ex(ann, key, &v))
		return json_object_get_string(v);
	return NULL;
}

int ctrl_apply_if_changed(struct kube_client *c, const struct kube_resource *r, const char *ns,
			  json_object *desired, json_object *observed, bool *applied,
			  json_object **out, struct kube_error *err)
{
	char h[65];
	ctrl_desired_hash(desired, h);
	json_object *md, *ann;
	if (!json_object_object_get_ex(desired, "metadata", &md)) {
		md = json_object_new_object();
		json_object_object_add(desired, "metadata", md);
	}
	if (!json_object_object_get_ex(md, "annotations", &ann)) {
		ann = json_object_new_object();
		json_object_object_add(md, "annotations", ann);
	}
	json_object_object_add(ann, CTRL_ANN_DESIRED_HASH, json_object_new_string(h));
	if (applied)
		*applied = false;
	const char *cur = annotation(observed, CTRL_ANN_DESIRED_HASH);
	if (cur && strcmp(cur, h) == 0)
		return 0;
	int rc = kube_apply(c, r, ns, desired, CTRL_FIELD_MANAGER, true, NULL, out, err);
	if (rc == 0 && applied)
		*applied = true;
	return rc;
}

int ctrl_update_status_if_changed(struct kube_client *c, const struct kube_resource *r,
				  json_object *observed, json_object *status, bool *updated,
				  struct kube_error *err)
{
	if (updated)
		*updated = false;
	json_object *cur = NULL;
	json_object_object_get_ex(observed, "status", &cur);
	if (cur && json_object_equal(cur, status))
		return 0;
	json_object *md, *name, *ns = NULL;
	if (!json_object_object_get_ex(observed, "metadata", &md) || !json_object_object_get_ex(md, "name", &name))
		return kube_error_set(err, KUBE_ERR_INVALID, "object without metadata.name");
	json_object_object_get_ex(md, "namespace", &ns);
	json_object *copy = NULL;
	json_object_deep_copy(observed, &copy, NULL);
	json_object *st = NULL;
	json_object_deep_copy(status, &st, NULL);
	json_object_object_add(copy, "status", st);
	int rc = kube_update_status(c, r, ns ? json_object_get_string(ns) : NULL, json_object_get_string(name),
				    copy, NULL, err);
	json_object_put(copy);
	if (rc == 0 && updated)
		*updated = true;
	return rc;
}
