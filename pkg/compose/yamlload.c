#include "compose/yamlload.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/mem.h"

#define MAX_DEPTH 64

struct frame {
	json_object *node;   /* object or array */
	char *key;           /* pending key in a mapping */
};

static json_object *resolve_plain(const char *s, size_t n)
{
	if (n == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return NULL;
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
		return json_object_new_boolean(1);
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
		return json_object_new_boolean(0);
	char *end = NULL;
	errno = 0;
	const char *digits = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
	if (*digits >= '0' && *digits <= '9') {
		long long v = strtoll(s, &end, 10);
		if (end && *end == '\0' && errno == 0)
			return json_object_new_int64(v);
		errno = 0;
		double d = strtod(s, &end);
		if (end && *end == '\0' && errno == 0 && strpbrk(s, ".eE"))
			return json_object_new_double(d);
	}
	return json_object_new_string_len(s, (int)n);
}

/* Attach v to the top frame (or make it the document root). */
static int attach(struct frame *st, int depth, json_object **root, json_object *v, const char *scalar_key,
		  int *took_key)
{
	*took_key = 0;
	if (depth == 0) {
		json_object_put(*root);
		*root = v;
		return 0;
	}
	struct frame *f = &st[depth - 1];
	if (json_object_is_type(f->node, json_type_array)) {
		json_object_array_add(f->node, v);
		return 0;
	}
	if (!f->key) {
		/* this value is a key */
		if (!scalar_key) {
			json_object_put(v);
			return -EINVAL;   /* complex keys are not supported */
		}
		f->key = xstrdup(scalar_key);
		json_object_put(v);
		*took_key = 1;
		return 0;
	}
	json_object_object_add(f->node, f->key, v);
	free(f->key);
	f->key = NULL;
	return 0;
}

int compose_yaml_load(const char *data, size_t len, json_object **docs, char **errmsg)
{
	yaml_parser_t p;
	yaml_event_t ev;
	struct frame st[MAX_DEPTH];
	int depth = 0, rc = 0, done = 0, took;
	json_object *out = json_object_new_array(), *root = NULL;
	int have_root = 0;
	*docs = NULL;
	if (errmsg)
		*errmsg = NULL;
	memset(st, 0, sizeof(st));
	if (!yaml_parser_initialize(&p)) {
		json_object_put(out);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			if (errmsg)
				*errmsg = xasprintf("line %zu column %zu: %s", p.problem_mark.line + 1,
						    p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML");
			rc = -EINVAL;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			root = NULL;
			have_root = 0;
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (have_root && root)
				json_object_array_add(out, root);
			else
				json_object_put(root);
			root = NULL;
			have_root = 0;
			break;
		case YAML_ALIAS_EVENT:
			if (errmsg)
				*errmsg = xasprintf("line %zu: aliases are not supported", ev.start_mark.line + 1);
			rc = -EINVAL;
			break;
		case YAML_SCALAR_EVENT: {
			const char *s = (const char *)ev.data.scalar.value;
			size_t n = ev.data.scalar.length;
			json_object *v = ev.data.scalar.plain_implicit && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
						 ? resolve_plain(s, n)
						 : json_object_new_string_len(s, (int)n);
			rc = attach(st, depth, &root, v, s, &took);
			if (depth == 0)
				have_root = 1;
			if (rc && errmsg)
				*errmsg = xasprintf("line %zu: unsupported key", ev.start_mark.line + 1);
			break;
		}
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			if (depth >= MAX_DEPTH) {
				if (errmsg)
					*errmsg = xasprintf("line %zu: nesting deeper than %d", ev.start_mark.line + 1, MAX_DEPTH);
				rc = -EINVAL;
				break;
			}
			json_object *v = ev.type == YAML_MAPPING_START_EVENT ? json_object_new_object() : json_object_new_array();
			json_object_get(v);   /* one ref for the frame, one for the parent */
			rc = attach(st, depth, &root, v, NULL, &took);
			if (rc) {
				json_object_put(v);
				if (errmsg)
					*errmsg = xasprintf("line %zu: complex keys are not supported", ev.start_mark.line + 1);
				break;
			}
			if (depth == 0)
				have_root = 1;
			st[depth].node = v;
			st[depth].key = NULL;
			depth++;
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			free(st[depth].key);
			st[depth].key = NULL;
			json_object_put(st[depth].node);
			st[depth].node = NULL;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	while (depth > 0) {
		depth--;
		free(st[depth].key);
		json_object_put(st[depth].node);
	}
	json_object_put(root);
	yaml_parser_delete(&p);
	if (rc) {
		json_object_put(out);
		return rc;
	}
	*docs = out;
	return 0;
}
