#include "compose/emit.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/jcanon.h"

static int looks_special(const char *s)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~", NULL};
	for (size_t i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0)
			return 1;
	/* anything a YAML 1.1/1.2 parser could read as a number */
	char *end = NULL;
	errno = 0;
	(void)strtod(s, &end);
	if (end && *end == '\0')
		return 1;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
		return 1;
	if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, ".nan") == 0 || strcasecmp(s, "-.inf") == 0)
		return 1;
	return 0;
}

static int plain_ok(const char *s)
{
	if (!*s)
		return 0;
	if (!isalnum((unsigned char)s[0]) && s[0] != '/' && !(s[0] == '-' && s[1] == '-'))
		return 0;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || strchr("_./=+@-*,()", c))
			continue;
		if (c == ':' && p[1] != ' ' && p[1] != '\0')
			continue;
		if (c == ' ' && p[1] != '\0' && p[1] != '#' && p[1] != ' ')
			continue;
		return 0;
	}
	return !looks_special(s);
}

static int put_yaml_scalar(struct buf *out, json_object *v)
{
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		return plain_ok(s) ? buf_puts(out, s) : jcanon_string(out, s);
	}
	return jcanon_scalar(out, v);
}

static int put_key(struct buf *out, const char *k)
{
	return plain_ok(k) ? buf_puts(out, k) : jcanon_string(out, k);
}

static int is_empty_container(json_object *v)
{
	if (json_object_is_type(v, json_type_object))
		return json_object_object_length(v) == 0;
	if (json_object_is_type(v, json_type_array))
		return json_object_array_length(v) == 0;
	return 0;
}

static int is_container(json_object *v)
{
	return v && (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array));
}

static int indent(struct buf *out, int n)
{
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++)
		rc = buf_putc(out, ' ');
	return rc;
}

static int emit_node(json_object *v, struct buf *out, int ind, int first_inline);

/* An object's members at indentation ind; the first line may already be
 * positioned (after "- "). */
static int emit_map(json_object *obj, struct buf *out, int ind, int first_inline)
{
	const char **keys = NULL;
	size_t n = jcanon_sorted_keys(obj, &keys);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *v = json_object_object_get(obj, keys[i]);
		if (!(i == 0 && first_inline))
			rc = indent(out, ind);
		if (rc == 0)
			rc = put_key(out, keys[i]);
		if (rc)
			break;
		if (is_container(v) && !is_empty_container(v)) {
			rc = buf_puts(out, ":\n");
			if (rc == 0)
				rc = emit_node(v, out, json_object_is_type(v, json_type_array) ? ind : ind + 2, 0);
		} else {
			rc = buf_puts(out, ": ");
			if (rc == 0)
				rc = emit_node(v, out, ind, 1);
		}
	}
	free(keys);
	return rc;
}

static int emit_list(json_object *arr, struct buf *out, int ind, int first_inline)
{
	size_t n = json_object_array_length(arr);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (!(i == 0 && first_inline))
			rc = indent(out, ind);
		if (rc == 0)
			rc = buf_puts(out, "- ");
		if (rc)
			break;
		rc = emit_node(v, out, ind + 2, 1);   /* the item's first line follows "- " */
	}
	return rc;
}

static int emit_node(json_object *v, struct buf *out, int ind, int first_inline)
{
	if (v && json_object_is_type(v, json_type_object)) {
		if (json_object_object_length(v) == 0)
			return buf_puts(out, "{}\n");
		return emit_map(v, out, ind, first_inline);
	}
	if (v && json_object_is_type(v, json_type_array)) {
		if (json_object_array_length(v) == 0)
			return buf_puts(out, "[]\n");
		return emit_list(v, out, ind, first_inline);
	}
	int rc = v ? put_yaml_scalar(out, v) : buf_puts(out, "null");
	return rc ? rc : buf_putc(out, '\n');
}

int compose_emit_yaml(json_object *obj, struct buf *out)
{
	return emit_node(obj, out, 0, 0);
}
