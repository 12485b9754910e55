#include "yaml2json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#define YAML_MAX_DEPTH 100

static json_object *scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_object_new_string_len(v, (int)n);
	if (n == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
		return NULL;
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_object_new_boolean(1);
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_object_new_boolean(0);
	char *end = NULL;
	errno = 0;
	long long i = strtoll(v, &end, 10);
	if (end && *end == 0 && errno == 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
		return json_object_new_int64(i);
	double d = strtod(v, &end);
	if (end && *end == 0 && (v[0] == '-' || v[0] == '.' || (v[0] >= '0' && v[0] <= '9')))
		return json_object_new_double(d);
	return json_object_new_string_len(v, (int)n);
}

/* Parse one node whose first event is *ev (consumed by the caller). */
static int node(yaml_parser_t *p, yaml_event_t *ev, json_object **out, int depth)
{
	if (depth > YAML_MAX_DEPTH)
		return -EINVAL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		*out = scalar(ev);
		return 0;
	case YAML_SEQUENCE_START_EVENT: {
		json_object *arr = json_object_new_array();
		for (;;) {
			yaml_event_t e;
			if (!yaml_parser_parse(p, &e))
				goto arr_fail;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				break;
			}
			json_object *child = NULL;
			int rc = node(p, &e, &child, depth + 1);
			yaml_event_delete(&e);
			if (rc < 0)
				goto arr_fail;
			json_object_array_add(arr, child);
		}
		*out = arr;
		return 0;
	arr_fail:
		json_object_put(arr);
		return -EINVAL;
	}
	case YAML_MAPPING_START_EVENT: {
		json_object *obj = json_object_new_object();
		for (;;) {
			yaml_event_t k;
			if (!yaml_parser_parse(p, &k))
				goto obj_fail;
			if (k.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&k);
				break;
			}
			if (k.type != YAML_SCALAR_EVENT) {
				yaml_event_delete(&k);
				goto obj_fail;
			}
			char *key = strndup((const char *)k.data.scalar.value, k.data.scalar.length);
			yaml_event_delete(&k);
			yaml_event_t v;
			if (!yaml_parser_parse(p, &v)) {
				free(key);
				goto obj_fail;
			}
			json_object *child = NULL;
			int rc = node(p, &v, &child, depth + 1);
			yaml_event_delete(&v);
			if (rc < 0) {
				free(key);
				goto obj_fail;
			}
			json_object_object_add(obj, key, child);
			free(key);
		}
		*out = obj;
		return 0;
	obj_fail:
		json_object_put(obj);
		return -EINVAL;
	}
	default:
		return -EINVAL;
	}
}

int yaml_to_json(const char *text, size_t len, json_object **out)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = -EINVAL;
	json_object *res = NULL;
	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	/* STREAM-START, DOCUMENT-START, node */
	for (int i = 0; i < 2; i++) {
		if (!yaml_parser_parse(&p, &ev))
			goto out;
		int ok = (i == 0 && ev.type == YAML_STREAM_START_EVENT) || (i == 1 && ev.type == YAML_DOCUMENT_START_EVENT);
		yaml_event_delete(&ev);
		if (!ok)
			goto out;
	}
	if (!yaml_parser_parse(&p, &ev))
		goto out;
	rc = node(&p, &ev, &res, 0);
	yaml_event_delete(&ev);
	if (rc == 0) {
		*out = res;
		res = NULL;
	}
out:
	if (res)
		json_object_put(res);
	yaml_parser_delete(&p);
	return rc;
}
