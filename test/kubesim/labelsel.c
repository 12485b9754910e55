#include "labelsel.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"

#define SEL_MAX_REQS 64
#define SEL_MAX_VALUES 64
#define SEL_MAX_LEN 4096

enum op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOTEXISTS };

struct req {
	char *key;
	enum op op;
	size_t nvals;
	char *vals[SEL_MAX_VALUES];
};

struct labelsel {
	size_t n;
	struct req r[SEL_MAX_REQS];
};

struct fieldsel {
	size_t n;
	struct req r[SEL_MAX_REQS];
};

static void reqs_free(struct req *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(r[i].key);
		for (size_t j = 0; j < r[i].nvals; j++)
			free(r[i].vals[j]);
	}
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int is_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/';
}

static char *take_token(const char **pp)
{
	const char *p = *pp, *b = p;
	while (*p && is_key_char(*p))
		p++;
	*pp = p;
	return xstrndup(b, (size_t)(p - b));
}

static int fail(char **err, const char *s, const char *what)
{
	if (err)
		*err = xasprintf("unable to parse requirement %s: %s", s, what);
	return -EINVAL;
}

/* Parses one requirement starting at *pp (labels when !fields). */
static int parse_req(const char *whole, const char **pp, struct req *r, int fields, char **err)
{
	const char *p = skip_ws(*pp);
	int neg = 0;
	if (*p == '!') {
		if (fields)
			return fail(err, whole, "\"!\" is not supported in field selectors");
		neg = 1;
		p = skip_ws(p + 1);
	}
	r->key = take_token(&p);
	if (!r->key[0])
		return fail(err, whole, "expected a key");
	p = skip_ws(p);
	if (neg) {
		r->op = OP_NOTEXISTS;
		*pp = p;
		return 0;
	}
	if (*p == ',' || *p == 0) {
		if (fields)
			return fail(err, whole, "expected an operator");
		r->op = OP_EXISTS;
		*pp = p;
		return 0;
	}
	if (p[0] == '!' && p[1] == '=') {
		r->op = OP_NE;
		p += 2;
	} else if (p[0] == '=' && p[1] == '=') {
		r->op = OP_EQ;
		p += 2;
	} else if (p[0] == '=') {
		r->op = OP_EQ;
		p += 1;
	} else if (!fields && strncmp(p, "notin", 5) == 0 && !is_key_char(p[5])) {
		r->op = OP_NOTIN;
		p += 5;
	} else if (!fields && strncmp(p, "in", 2) == 0 && !is_key_char(p[2])) {
		r->op = OP_IN;
		p += 2;
	} else {
		return fail(err, whole, "expected one of =, ==, !=, in, notin");
	}
	p = skip_ws(p);
	if (r->op == OP_IN || r->op == OP_NOTIN) {
		if (*p != '(')
			return fail(err, whole, "expected \"(\" after in/notin");
		p++;
		for (;;) {
			p = skip_ws(p);
			if (r->nvals >= SEL_MAX_VALUES)
				return fail(err, whole, "too many values");
			r->vals[r->nvals++] = take_token(&p);
			p = skip_ws(p);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == ')') {
				p++;
				break;
			}
			return fail(err, whole, "expected \",\" or \")\" in the value set");
		}
	} else {
		/* field values may hold more characters (e.g. ':' in names) */
		const char *b = p;
		while (*p && *p != ',' && *p != ' ')
			p++;
		r->vals[r->nvals++] = xstrndup(b, (size_t)(p - b));
	}
	*pp = skip_ws(p);
	return 0;
}

static int parse_all(const char *s, struct req *r, size_t *n, int fields, char **err)
{
	*n = 0;
	if (!s)
		return 0;
	if (strlen(s) > SEL_MAX_LEN)
		return fail(err, "(selector)", "too long");
	const char *p = skip_ws(s);
	while (*p) {
		if (*n >= SEL_MAX_REQS)
			return fail(err, s, "too many requirements");
		memset(&r[*n], 0, sizeof(r[*n]));
		(*n)++;
		int rc = parse_req(s, &p, &r[*n - 1], fields, err);
		if (rc < 0)
			return rc;
		if (*p == ',') {
			p = skip_ws(p + 1);
			if (!*p)
				return fail(err, s, "trailing \",\"");
		} else if (*p) {
			return fail(err, s, "unexpected character");
		}
	}
	return 0;
}

int labelsel_parse(const char *s, struct labelsel **out, char **err)
{
	struct labelsel *sel = xcalloc(1, sizeof(*sel));
	int rc = parse_all(s, sel->r, &sel->n, 0, err);
	if (rc < 0) {
		labelsel_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}

void labelsel_free(struct labelsel *sel)
{
	if (!sel)
		return;
	reqs_free(sel->r, sel->n);
	free(sel);
}

static int in_set(const struct req *r, const char *v)
{
	for (size_t i = 0; i < r->nvals; i++)
		if (strcmp(r->vals[i], v) == 0)
			return 1;
	return 0;
}

static int req_match(const struct req *r, const char *v /* NULL = absent */)
{
	switch (r->op) {
	case OP_EQ:
	case OP_IN:
		return v && in_set(r, v);
	case OP_NE:
	case OP_NOTIN:
		return !v || !in_set(r, v);
	case OP_EXISTS:
		return v != NULL;
	case OP_NOTEXISTS:
		return v == NULL;
	}
	return 0;
}

int labelsel_match(const struct labelsel *sel, json_object *labels)
{
	if (!sel)
		return 1;
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = NULL;
		json_object *j;
		if (labels && json_object_object_get_ex(labels, sel->r[i].key, &j) &&
		    json_object_is_type(j, json_type_string))
			v = json_object_get_string(j);
		if (!req_match(&sel->r[i], v))
			return 0;
	}
	return 1;
}

int fieldsel_parse(const char *s, struct fieldsel **out, char **err)
{
	struct fieldsel *sel = xcalloc(1, sizeof(*sel));
	int rc = parse_all(s, sel->r, &sel->n, 1, err);
	if (rc < 0) {
		fieldsel_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}

void fieldsel_free(struct fieldsel *sel)
{
	if (!sel)
		return;
	reqs_free(sel->r, sel->n);
	free(sel);
}

int fieldsel_match(const struct fieldsel *sel, json_object *obj)
{
	if (!sel)
		return 1;
	for (size_t i = 0; i < sel->n; i++) {
		const struct req *r = &sel->r[i];
		char path[256];
		if (snprintf(path, sizeof(path), "%s", r->key) >= (int)sizeof(path))
			return 0;
		json_object *cur = obj;
		char *save = NULL;
		for (char *seg = strtok_r(path, ".", &save); seg && cur; seg = strtok_r(NULL, ".", &save)) {
			json_object *next = NULL;
			if (!json_object_is_type(cur, json_type_object) ||
			    !json_object_object_get_ex(cur, seg, &next))
				next = NULL;
			cur = next;
		}
		const char *v = "";
		if (cur && !json_object_is_type(cur, json_type_object) &&
		    !json_object_is_type(cur, json_type_array))
			v = json_object_get_string(cur);
		int eq = in_set(r, v);
		if ((r->op == OP_EQ && !eq) || (r->op == OP_NE && eq))
			return 0;
	}
	return 1;
}
