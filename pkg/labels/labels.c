/* Kubernetes label selectors (see labels.h). */
#include "labels/labels.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/names.h"

#define SEL_MAX_REQS 256
#define SEL_MAX_VALUES 256
/* One limit for the text form, parsed and rendered: whatever render
 * produces, parse accepts (render fails with -E2BIG beyond it). */
#define SEL_MAX_INPUT LABELS_SELECTOR_MAX_TEXT

struct req {
	char *key;
	enum labels_selector_op op;
	char **values;   /* sorted, deduplicated */
	size_t nvalues;
};

struct labels_selector {
	struct req *reqs;   /* sorted by key, then op */
	size_t n;
};

static void set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	*err = xvasprintf(fmt, ap);
	va_end(ap);
}

static void req_cleanup(struct req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

void labels_selector_free(struct labels_selector *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		req_cleanup(&s->reqs[i]);
	free(s->reqs);
	free(s);
}

/* ---- key / value syntax (apimachinery validation.IsQualifiedName) ---- */

static int name_char(int c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.';
}

static int name_part_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63)
		return 0;
	if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!name_char((unsigned char)s[i]))
			return 0;
	return 1;
}

int labels_key_check(const char *key, char **why)
{
	const char *slash, *name;

	if (!key || !*key) {
		set_err(why, "name part must be non-empty");
		return -EINVAL;
	}
	slash = strchr(key, '/');
	name = key;
	if (slash) {
		size_t plen = (size_t)(slash - key);
		char *prefix;
		int ok;

		if (plen == 0) {
			set_err(why, "prefix part must be non-empty");
			return -EINVAL;
		}
		prefix = xstrndup(key, plen);
		ok = plen <= 253 && dns1123_subdomain_ok(prefix);
		free(prefix);
		if (!ok) {
			set_err(why, "prefix part must be a lowercase RFC 1123 subdomain "
				"(e.g. 'example.com')");
			return -EINVAL;
		}
		name = slash + 1;
		if (strchr(name, '/')) {
			set_err(why, "a qualified name must consist of an optional "
				"prefix and a name separated by one '/'");
			return -EINVAL;
		}
	}
	if (!*name) {
		set_err(why, "name part must be non-empty");
		return -EINVAL;
	}
	if (strlen(name) > 63) {
		set_err(why, "name part must be no more than 63 characters");
		return -EINVAL;
	}
	if (!name_part_ok(name, strlen(name))) {
		set_err(why, "name part must consist of alphanumeric characters, "
			"'-', '_' or '.', and must start and end with an alphanumeric character");
		return -EINVAL;
	}
	return 0;
}

int labels_value_check(const char *value, char **why)
{
	size_t n;

	if (!value) {
		set_err(why, "must be a string");
		return -EINVAL;
	}
	n = strlen(value);
	if (n == 0)
		return 0;
	if (n > 63) {
		set_err(why, "must be no more than 63 characters");
		return -EINVAL;
	}
	if (!name_part_ok(value, n)) {
		set_err(why, "a valid label must be an empty string or consist of "
			"alphanumeric characters, '-', '_' or '.', and must start and end "
			"with an alphanumeric character");
		return -EINVAL;
	}
	return 0;
}

/* ---- building ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_req(const void *a, const void *b)
{
	const struct req *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return (int)x->op - (int)y->op;
}

/* Sort + dedup the values of r. */
static void req_normalise(struct req *r)
{
	size_t w = 0;

	if (r->nvalues < 2)
		return;
	qsort(r->values, r->nvalues, sizeof(char *), cmp_str);
	for (size_t i = 0; i < r->nvalues; i++) {
		if (w > 0 && strcmp(r->values[w - 1], r->values[i]) == 0) {
			free(r->values[i]);
			continue;
		}
		r->values[w++] = r->values[i];
	}
	r->nvalues = w;
}

static int sel_add(struct labels_selector *s, struct req *r, char **err)
{
	if (s->n >= SEL_MAX_REQS) {
		set_err(err, "too many requirements (max %d)", SEL_MAX_REQS);
		return -EINVAL;
	}
	req_normalise(r);
	s->reqs = xrealloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
	s->reqs[s->n++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

static void sel_finish(struct labels_selector *s)
{
	if (s->n > 1)
		qsort(s->reqs, s->n, sizeof(*s->reqs), cmp_req);
}

static void req_push_value(struct req *r, const char *v)
{
	r->values = xrealloc(r->values, (r->nvalues + 1) * sizeof(char *));
	r->values[r->nvalues++] = xstrdup(v);
}

/* ---- JSON form ---- */

static int op_from_string(const char *s, enum labels_selector_op *op)
{
	if (strcmp(s, "In") == 0)
		*op = LABELS_SEL_IN;
	else if (strcmp(s, "NotIn") == 0)
		*op = LABELS_SEL_NOT_IN;
	else if (strcmp(s, "Exists") == 0)
		*op = LABELS_SEL_EXISTS;
	else if (strcmp(s, "DoesNotExist") == 0)
		*op = LABELS_SEL_DOES_NOT_EXIST;
	else
		return -EINVAL;
	return 0;
}

static int parse_expression(json_object *e, size_t idx, struct req *r, char **err)
{
	json_object *jkey = NULL, *jop = NULL, *jvals = NULL;
	char *why = NULL;
	const char *key, *ops;
	size_t nvals = 0;

	if (!json_object_is_type(e, json_type_object)) {
		set_err(err, "matchExpressions[%zu]: Invalid value: must be an object", idx);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(e, "key", &jkey) || !json_object_is_type(jkey, json_type_string)) {
		set_err(err, "matchExpressions[%zu].key: Required value", idx);
		return -EINVAL;
	}
	key = json_object_get_string(jkey);
	if (labels_key_check(key, &why) < 0) {
		set_err(err, "matchExpressions[%zu].key: Invalid value: \"%s\": %s", idx, key, why);
		free(why);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(e, "operator", &jop) || !json_object_is_type(jop, json_type_string)) {
		set_err(err, "matchExpressions[%zu].operator: Required value", idx);
		return -EINVAL;
	}
	ops = json_object_get_string(jop);
	if (op_from_string(ops, &r->op) < 0) {
		set_err(err, "matchExpressions[%zu].operator: Unsupported value: \"%s\": "
			"supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"", idx, ops);
		return -EINVAL;
	}
	if (json_object_object_get_ex(e, "values", &jvals) && jvals) {
		if (!json_object_is_type(jvals, json_type_array)) {
			set_err(err, "matchExpressions[%zu].values: Invalid value: must be a list of strings", idx);
			return -EINVAL;
		}
		nvals = json_object_array_length(jvals);
	}
	if ((r->op == LABELS_SEL_IN || r->op == LABELS_SEL_NOT_IN) && nvals == 0) {
		set_err(err, "matchExpressions[%zu].values: Required value: must be specified "
			"when operator is \"%s\"", idx, ops);
		return -EINVAL;
	}
	if ((r->op == LABELS_SEL_EXISTS || r->op == LABELS_SEL_DOES_NOT_EXIST) && nvals > 0) {
		set_err(err, "matchExpressions[%zu].values: Forbidden: may not be specified "
			"when operator is \"%s\"", idx, ops);
		return -EINVAL;
	}
	if (nvals > SEL_MAX_VALUES) {
		set_err(err, "matchExpressions[%zu].values: Too many: %zu: must have at most %d items",
			idx, nvals, SEL_MAX_VALUES);
		return -EINVAL;
	}
	r->key = xstrdup(key);
	for (size_t i = 0; i < nvals; i++) {
		json_object *v = json_object_array_get_idx(jvals, i);
		const char *vs;

		if (!json_object_is_type(v, json_type_string)) {
			set_err(err, "matchExpressions[%zu].values[%zu]: Invalid value: must be a string", idx, i);
			return -EINVAL;
		}
		vs = json_object_get_string(v);
		if (labels_value_check(vs, &why) < 0) {
			set_err(err, "matchExpressions[%zu].values[%zu]: Invalid value: \"%s\": %s",
				idx, i, vs, why);
			free(why);
			return -EINVAL;
		}
		req_push_value(r, vs);
	}
	return 0;
}

int labels_selector_from_json(json_object *sel, struct labels_selector **out, char **err)
{
	struct labels_selector *s = xcalloc(1, sizeof(*s));
	json_object *ml = NULL, *me = NULL;
	struct req r = { 0 };
	char *why = NULL;
	int rc = -EINVAL;

	*out = NULL;
	if (!sel || json_object_is_type(sel, json_type_null))
		goto done;
	if (!json_object_is_type(sel, json_type_object)) {
		set_err(err, "Invalid value: a label selector must be an object");
		goto out;
	}
	if (json_object_object_get_ex(sel, "matchLabels", &ml) && ml) {
		if (!json_object_is_type(ml, json_type_object)) {
			set_err(err, "matchLabels: Invalid value: must be a map of strings");
			goto out;
		}
		json_object_object_foreach(ml, k, v) {
			const char *vs;

			if (labels_key_check(k, &why) < 0) {
				set_err(err, "matchLabels: Invalid value: \"%s\": %s", k, why);
				goto out;
			}
			if (!json_object_is_type(v, json_type_string)) {
				set_err(err, "matchLabels[%s]: Invalid value: must be a string", k);
				goto out;
			}
			vs = json_object_get_string(v);
			if (labels_value_check(vs, &why) < 0) {
				set_err(err, "matchLabels[%s]: Invalid value: \"%s\": %s", k, vs, why);
				goto out;
			}
			r.key = xstrdup(k);
			r.op = LABELS_SEL_EQUALS;
			req_push_value(&r, vs);
			if (sel_add(s, &r, err) < 0)
				goto out;
		}
	}
	if (json_object_object_get_ex(sel, "matchExpressions", &me) && me) {
		size_t n;

		if (!json_object_is_type(me, json_type_array)) {
			set_err(err, "matchExpressions: Invalid value: must be a list");
			goto out;
		}
		n = json_object_array_length(me);
		for (size_t i = 0; i < n; i++) {
			if (parse_expression(json_object_array_get_idx(me, i), i, &r, err) < 0)
				goto out;
			if (sel_add(s, &r, err) < 0)
				goto out;
		}
	}
done:
	sel_finish(s);
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(why);
	req_cleanup(&r);
	labels_selector_free(s);
	return rc;
}

/* ---- query-string form (apimachinery labels.Parse) ---- */

struct lexer {
	const char *in;
	size_t pos;
	size_t len;
	char **err;
};

static int special(int c)
{
	return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
}

static void skip_ws(struct lexer *lx)
{
	while (lx->pos < lx->len && isspace((unsigned char)lx->in[lx->pos]))
		lx->pos++;
}

/* Read an identifier (run of non-special, non-space chars). Returns a malloc'd
 * string, possibly "" when none is present. */
static char *read_ident(struct lexer *lx)
{
	size_t start;

	skip_ws(lx);
	start = lx->pos;
	while (lx->pos < lx->len && !special((unsigned char)lx->in[lx->pos]) &&
	       !isspace((unsigned char)lx->in[lx->pos]))
		lx->pos++;
	return xstrndup(lx->in + start, lx->pos - start);
}

static int peek(struct lexer *lx)
{
	skip_ws(lx);
	return lx->pos < lx->len ? (unsigned char)lx->in[lx->pos] : 0;
}

/* The text of the requirement starting at `start` (up to the next top-level
 * comma), for error messages. */
static char *req_text(const struct lexer *lx, size_t start)
{
	size_t e = start;
	int depth = 0;

	while (e < lx->len) {
		char c = lx->in[e];

		if (c == '(')
			depth++;
		else if (c == ')' && depth > 0)
			depth--;
		else if (c == ',' && depth == 0)
			break;
		e++;
	}
	while (start < e && isspace((unsigned char)lx->in[start]))
		start++;
	while (e > start && isspace((unsigned char)lx->in[e - 1]))
		e--;
	return xstrndup(lx->in + start, e - start);
}

static int lex_fail(struct lexer *lx, size_t start, const char *what)
{
	char *t = req_text(lx, start);

	set_err(lx->err, "unable to parse requirement \"%s\": %s at offset %zu", t, what, lx->pos);
	free(t);
	return -EINVAL;
}

static int check_value(struct lexer *lx, size_t start, const char *v)
{
	char *why = NULL;
	char *t;

	if (labels_value_check(v, &why) == 0)
		return 0;
	t = req_text(lx, start);
	set_err(lx->err, "unable to parse requirement \"%s\": value \"%s\": %s", t, v, why);
	free(t);
	free(why);
	return -EINVAL;
}

static int parse_set(struct lexer *lx, size_t start, struct req *r)
{
	if (peek(lx) != '(')
		return lex_fail(lx, start, r->op == LABELS_SEL_IN ?
				"expected \"(\" after \"in\"" : "expected \"(\" after \"notin\"");
	lx->pos++;
	for (;;) {
		char *v;
		int c;

		if (peek(lx) == ')' && r->nvalues == 0) {
			lx->pos++;
			return lex_fail(lx, start, "a set of values must not be empty");
		}
		v = read_ident(lx);
		if (check_value(lx, start, v) < 0) {
			free(v);
			return -EINVAL;
		}
		if (r->nvalues >= SEL_MAX_VALUES) {
			free(v);
			return lex_fail(lx, start, "too many values");
		}
		r->values = xrealloc(r->values, (r->nvalues + 1) * sizeof(char *));
		r->values[r->nvalues++] = v;
		c = peek(lx);
		if (c == ',') {
			lx->pos++;
			continue;
		}
		if (c == ')') {
			lx->pos++;
			return 0;
		}
		return lex_fail(lx, start, c ? "expected \",\" or \")\" in a set of values" :
				"missing \")\" at the end of a set of values");
	}
}

static int parse_requirement(struct lexer *lx, struct req *r)
{
	size_t start;
	char *why = NULL;
	char *word = NULL;
	int c;

	skip_ws(lx);
	start = lx->pos;
	if (peek(lx) == '!') {
		lx->pos++;
		r->op = LABELS_SEL_DOES_NOT_EXIST;
	} else {
		r->op = LABELS_SEL_EXISTS;
	}
	r->key = read_ident(lx);
	if (!*r->key)
		return lex_fail(lx, start, "expected a label key");
	if (labels_key_check(r->key, &why) < 0) {
		char *t = req_text(lx, start);

		set_err(lx->err, "unable to parse requirement \"%s\": key \"%s\": %s", t, r->key, why);
		free(t);
		free(why);
		return -EINVAL;
	}
	c = peek(lx);
	if (r->op == LABELS_SEL_DOES_NOT_EXIST) {
		if (c != 0 && c != ',')
			return lex_fail(lx, start, "unexpected text after \"!key\"");
		return 0;
	}
	if (c == 0 || c == ',')
		return 0;   /* Exists */
	if (c == '=' || c == '!') {
		char *v;

		if (c == '!') {
			if (lx->pos + 1 >= lx->len || lx->in[lx->pos + 1] != '=')
				return lex_fail(lx, start, "expected \"!=\"");
			r->op = LABELS_SEL_NOT_EQUALS;
			lx->pos += 2;
		} else {
			r->op = LABELS_SEL_EQUALS;
			lx->pos++;
			if (lx->pos < lx->len && lx->in[lx->pos] == '=')
				lx->pos++;
		}
		v = read_ident(lx);
		if (check_value(lx, start, v) < 0) {
			free(v);
			return -EINVAL;
		}
		r->values = xmalloc(sizeof(char *));
		r->values[0] = v;
		r->nvalues = 1;
		c = peek(lx);
		if (c != 0 && c != ',')
			return lex_fail(lx, start, "unexpected text after the value");
		return 0;
	}
	if (c == '<' || c == '>')
		return lex_fail(lx, start, "operators \"<\" and \">\" are not supported");
	if (c == '(' || c == ')')
		return lex_fail(lx, start, "unexpected parenthesis");
	word = read_ident(lx);
	if (strcmp(word, "in") == 0) {
		r->op = LABELS_SEL_IN;
	} else if (strcmp(word, "notin") == 0) {
		r->op = LABELS_SEL_NOT_IN;
	} else {
		free(word);
		return lex_fail(lx, start, "expected one of \"=\", \"==\", \"!=\", \"in\", \"notin\"");
	}
	free(word);
	if (parse_set(lx, start, r) < 0)
		return -EINVAL;
	c = peek(lx);
	if (c != 0 && c != ',')
		return lex_fail(lx, start, "unexpected text after the set of values");
	return 0;
}

int labels_selector_parse(const char *str, struct labels_selector **out, char **err)
{
	struct labels_selector *s = xcalloc(1, sizeof(*s));
	struct lexer lx = { .in = str ? str : "", .pos = 0, .err = err };
	struct req r = { 0 };
	int rc = -EINVAL;

	*out = NULL;
	lx.len = strlen(lx.in);
	if (lx.len > SEL_MAX_INPUT) {
		set_err(err, "selector too long (%zu bytes, max %d)", lx.len, SEL_MAX_INPUT);
		goto out;
	}
	if (peek(&lx) == 0)
		goto done;
	for (;;) {
		if (parse_requirement(&lx, &r) < 0)
			goto out;
		if (sel_add(s, &r, err) < 0)
			goto out;
		if (peek(&lx) == 0)
			break;
		lx.pos++;   /* the ',' */
		if (peek(&lx) == 0) {
			set_err(err, "unable to parse selector \"%s\": trailing \",\"", lx.in);
			goto out;
		}
	}
done:
	sel_finish(s);
	*out = s;
	s = NULL;
	rc = 0;
out:
	req_cleanup(&r);
	labels_selector_free(s);
	return rc;
}

/* ---- matching ---- */

static bool has_value(const struct req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

static bool req_matches(const struct req *r, const char *v /* NULL = absent */)
{
	switch (r->op) {
	case LABELS_SEL_EQUALS:
	case LABELS_SEL_IN:
		return v && has_value(r, v);
	case LABELS_SEL_NOT_EQUALS:
	case LABELS_SEL_NOT_IN:
		return !v || !has_value(r, v);
	case LABELS_SEL_EXISTS:
		return v != NULL;
	case LABELS_SEL_DOES_NOT_EXIST:
		return v == NULL;
	}
	return false;
}

bool labels_selector_matches(const struct labels_selector *s, json_object *labels)
{
	if (!s)
		return true;
	for (size_t i = 0; i < s->n; i++) {
		json_object *jv = NULL;
		const char *v = NULL;

		if (labels && json_object_is_type(labels, json_type_object) &&
		    json_object_object_get_ex(labels, s->reqs[i].key, &jv) &&
		    json_object_is_type(jv, json_type_string))
			v = json_object_get_string(jv);
		if (!req_matches(&s->reqs[i], v))
			return false;
	}
	return true;
}

bool labels_selector_matches_kv(const struct labels_selector *s, const char *const *kv)
{
	if (!s)
		return true;
	for (size_t i = 0; i < s->n; i++) {
		const char *v = NULL;

		for (size_t j = 0; kv && kv[j] && kv[j + 1]; j += 2)
			if (strcmp(kv[j], s->reqs[i].key) == 0) {
				v = kv[j + 1];
				break;
			}
		if (!req_matches(&s->reqs[i], v))
			return false;
	}
	return true;
}

bool labels_selector_empty(const struct labels_selector *s)
{
	return !s || s->n == 0;
}

size_t labels_selector_count(const struct labels_selector *s)
{
	return s ? s->n : 0;
}

/* ---- rendering ---- */

int labels_selector_render(const struct labels_selector *s, char **out)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, SEL_MAX_INPUT);
	for (size_t i = 0; s && i < s->n && rc == 0; i++) {
		const struct req *r = &s->reqs[i];

		if (i > 0)
			rc = buf_putc(&b, ',');
		switch (r->op) {
		case LABELS_SEL_EQUALS:
			rc = rc ? rc : buf_printf(&b, "%s=%s", r->key, r->values[0]);
			break;
		case LABELS_SEL_NOT_EQUALS:
			rc = rc ? rc : buf_printf(&b, "%s!=%s", r->key, r->values[0]);
			break;
		case LABELS_SEL_IN:
		case LABELS_SEL_NOT_IN:
			rc = rc ? rc : buf_printf(&b, "%s %s (", r->key,
						  r->op == LABELS_SEL_IN ? "in" : "notin");
			for (size_t j = 0; j < r->nvalues && rc == 0; j++)
				rc = buf_printf(&b, "%s%s", j ? "," : "", r->values[j]);
			/* a set holding only "" must not render as "()" (which
			 * does not parse): "(,)" parses back to {""} */
			if (rc == 0 && r->nvalues == 1 && !r->values[0][0])
				rc = buf_putc(&b, ',');
			rc = rc ? rc : buf_putc(&b, ')');
			break;
		case LABELS_SEL_EXISTS:
			rc = rc ? rc : buf_puts(&b, r->key);
			break;
		case LABELS_SEL_DOES_NOT_EXIST:
			rc = rc ? rc : buf_printf(&b, "!%s", r->key);
			break;
		}
	}
	if (rc < 0) {
		buf_cleanup(&b);
		*out = NULL;
		return rc;
	}
	*out = buf_take(&b, NULL);
	return 0;
}
