#include "yaml2json.h"

#include <errno.h>
#include <stdio.h>
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

/* The escapes go-yaml v2's scanner knows (yaml_parser_scan_flow_scalar). */
static int goyaml_escape_known(char c)
{
	return c && strchr("0abt\tnvfre \"'\\N_LPxuU\r\n", c) != NULL;
}

/* Byte offset of libyaml's mark, which counts characters: the n-th UTF-8
 * character of text (continuation bytes 10xxxxxx are not characters). */
static size_t char_to_byte(const char *text, size_t len, size_t index)
{
	size_t b = 0;
	for (size_t c = 0; b < len; b++) {
		if (((unsigned char)text[b] & 0xC0) == 0x80)
			continue;
		if (c++ == index)
			return b;
	}
	return len;
}

struct ystrict {
	const char *text;
	size_t len;
	char *err; /* first error, go-yaml's wording */
};

/* go-yaml v2 (yaml.go, parser.fail) prefixes "line N: " with the problem's
 * line for scanner errors (0-based + 1), else the context's line (as is),
 * and nothing when both are line 0. */
static void ystrict_fail(struct ystrict *y, size_t problem_line, size_t context_line, const char *msg)
{
	if (y->err)
		return;
	size_t line = problem_line ? problem_line + 1 : context_line;
	char buf[160];
	if (line)
		snprintf(buf, sizeof(buf), "yaml: line %zu: %s", line, msg);
	else
		snprintf(buf, sizeof(buf), "yaml: %s", msg);
	y->err = strdup(buf);
}

/* A double-quoted scalar's raw text between its marks: refuse the escapes
 * go-yaml does not know. */
static int ystrict_scalar(struct ystrict *y, const yaml_event_t *ev)
{
	if (!y || ev->data.scalar.style != YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		return 0;
	size_t a = char_to_byte(y->text, y->len, ev->start_mark.index);
	size_t b = char_to_byte(y->text, y->len, ev->end_mark.index);
	if (a >= y->len || y->text[a] != '"') /* a libyaml that counts bytes */
		a = ev->start_mark.index, b = ev->end_mark.index;
	if (b > y->len)
		b = y->len;
	size_t line = ev->start_mark.line;
	for (size_t i = a + 1; i + 1 < b; i++) {
		char c = y->text[i];
		if (c == '\n') {
			line++;
		} else if (c == '\\') {
			char n = y->text[i + 1];
			if (!goyaml_escape_known(n)) {
				ystrict_fail(y, line, ev->start_mark.line, "found unknown escape character");
				return -EINVAL;
			}
			if (n == '\n')
				line++;
			i++;
		}
	}
	return 0;
}

/* Parse one node whose first event is *ev (consumed by the caller). */
static int node_s(yaml_parser_t *p, yaml_event_t *ev, json_object **out, int depth, struct ystrict *y);

static int node_s(yaml_parser_t *p, yaml_event_t *ev, json_object **out, int depth, struct ystrict *y)
{
	if (depth > YAML_MAX_DEPTH)
		return -EINVAL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (ystrict_scalar(y, ev) < 0)
			return -EINVAL;
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
			int rc = node_s(p, &e, &child, depth + 1, y);
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
			if (k.type != YAML_SCALAR_EVENT || ystrict_scalar(y, &k) < 0) {
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
			int rc = node_s(p, &v, &child, depth + 1, y);
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

static int parse_doc(const char *text, size_t len, json_object **out, struct ystrict *y)
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
	rc = node_s(&p, &ev, &res, 0, y);
	yaml_event_delete(&ev);
	if (rc == 0) {
		*out = res;
		res = NULL;
	}
out:
	if (rc < 0 && y && !y->err && p.error != YAML_NO_ERROR) {
		/* libyaml's own wording (go-yaml v2 is its port) */
		int scanner = p.error == YAML_SCANNER_ERROR;
		ystrict_fail(y, scanner ? p.problem_mark.line : 0,
			     scanner ? p.context_mark.line : p.problem_mark.line,
			     p.problem ? p.problem : "cannot parse");
	}
	if (res)
		json_object_put(res);
	yaml_parser_delete(&p);
	return rc;
}

int yaml_to_json(const char *text, size_t len, json_object **out)
{
	return parse_doc(text, len, out, NULL);
}

int yaml_to_json_k8s(const char *text, size_t len, json_object **out, char **err)
{
	struct ystrict y = {.text = text, .len = len};
	*err = NULL;
	int rc = parse_doc(text, len, out, &y);
	if (rc < 0)
		*err = y.err ? y.err : strdup("yaml: cannot parse");
	else
		free(y.err);
	return rc;
}
