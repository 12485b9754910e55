#include "cel.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define CEL_MAX_DEPTH 64
#define CEL_MAX_EXPR 16384

/* ---- values ---- */

enum vk { V_ERR, V_NULL, V_BOOL, V_INT, V_DBL, V_STR, V_LIST, V_MAP };

struct val {
	enum vk k;
	int64_t i;      /* V_BOOL, V_INT */
	double d;       /* V_DBL */
	char *s;        /* V_STR (owned), V_ERR message (owned) */
	json_object *j; /* V_LIST, V_MAP (a reference) */
};

static struct val v_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static struct val v_err(const char *fmt, ...)
{
	struct val v = {.k = V_ERR};
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&v.s, fmt, ap) < 0)
		v.s = xstrdup("error");
	va_end(ap);
	return v;
}

static struct val v_bool(int b) { return (struct val){.k = V_BOOL, .i = b ? 1 : 0}; }
static struct val v_int(int64_t i) { return (struct val){.k = V_INT, .i = i}; }
static struct val v_dbl(double d) { return (struct val){.k = V_DBL, .d = d}; }
static struct val v_str(const char *s) { return (struct val){.k = V_STR, .s = xstrdup(s)}; }
static struct val v_str_take(char *s) { return (struct val){.k = V_STR, .s = s}; }

static void v_free(struct val *v)
{
	if (v->k == V_STR || v->k == V_ERR)
		free(v->s);
	if (v->k == V_LIST || v->k == V_MAP)
		json_object_put(v->j);
	memset(v, 0, sizeof(*v));
}

static struct val v_copy(const struct val *v)
{
	struct val c = *v;
	if (v->k == V_STR || v->k == V_ERR)
		c.s = xstrdup(v->s);
	if (v->k == V_LIST || v->k == V_MAP)
		json_object_get(c.j);
	return c;
}

/* json (borrowed) -> value */
static struct val v_json(json_object *j)
{
	switch (json_object_get_type(j)) {
	case json_type_null: return (struct val){.k = V_NULL};
	case json_type_boolean: return v_bool(json_object_get_boolean(j));
	case json_type_int: return v_int(json_object_get_int64(j));
	case json_type_double: return v_dbl(json_object_get_double(j));
	case json_type_string: return v_str(json_object_get_string(j));
	case json_type_array: return (struct val){.k = V_LIST, .j = json_object_get(j)};
	case json_type_object: return (struct val){.k = V_MAP, .j = json_object_get(j)};
	}
	return (struct val){.k = V_NULL};
}

/* value -> new json (NULL for null) */
static json_object *v_to_json(const struct val *v)
{
	switch (v->k) {
	case V_BOOL: return json_object_new_boolean((json_bool)v->i);
	case V_INT: return json_object_new_int64(v->i);
	case V_DBL: return json_object_new_double(v->d);
	case V_STR: return json_object_new_string(v->s);
	case V_LIST:
	case V_MAP: return json_object_get(v->j);
	default: return NULL;
	}
}

static const char *v_type(const struct val *v)
{
	static const char *const n[] = {"error", "null_type", "bool", "int", "double", "string", "list", "map"};
	return n[v->k];
}

/* ---- lexer ---- */

enum tk {
	T_EOF, T_INT, T_DBL, T_STR, T_ID, T_LP, T_RP, T_LB, T_RB, T_LC, T_RC, T_DOT, T_COMMA, T_Q, T_COLON,
	T_NOT, T_MINUS, T_PLUS, T_STAR, T_SLASH, T_PCT, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_AND, T_OR, T_IN,
};

struct tok {
	enum tk t;
	int64_t i;
	double d;
	char *s;
};

struct lex {
	const char *p;
	struct tok cur;
	char *err;
};

static void lex_fail(struct lex *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lex_fail(struct lex *l, const char *fmt, ...)
{
	if (l->err)
		return;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&l->err, fmt, ap) < 0)
		l->err = xstrdup("syntax error");
	va_end(ap);
}

static int read_string(struct lex *l, char q)
{
	size_t cap = 32, n = 0;
	char *b = xmalloc(cap);
	const char *p = l->p + 1;
	for (;;) {
		char c = *p++;
		if (!c) {
			free(b);
			lex_fail(l, "Syntax error: unterminated string");
			return -1;
		}
		if (c == q)
			break;
		if (c == '\\') {
			char e = *p++;
			switch (e) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case '\\': c = '\\'; break;
			case '\'': c = '\''; break;
			case '"': c = '"'; break;
			case '`': c = '`'; break;
			case '?': c = '?'; break;
			default:
				free(b);
				lex_fail(l, "unsupported CEL: string escape \\%c", e ? e : '0');
				return -1;
			}
		}
		if (n + 2 > cap)
			b = xrealloc(b, cap *= 2);
		b[n++] = c;
	}
	b[n] = 0;
	l->cur.t = T_STR;
	l->cur.s = b;
	l->p = p;
	return 0;
}

static void lex_next(struct lex *l)
{
	free(l->cur.s);
	memset(&l->cur, 0, sizeof(l->cur));
	while (isspace((unsigned char)*l->p))
		l->p++;
	const char *p = l->p;
	if (!*p) {
		l->cur.t = T_EOF;
		return;
	}
	if (isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]))) {
		char *end;
		errno = 0;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
			l->cur.i = (int64_t)strtoll(p, &end, 16);
			l->cur.t = T_INT;
		} else {
			size_t n = strspn(p, "0123456789");
			if (p[n] == '.' || p[n] == 'e' || p[n] == 'E') {
				l->cur.d = strtod(p, &end);
				l->cur.t = T_DBL;
			} else {
				l->cur.i = (int64_t)strtoll(p, &end, 10);
				l->cur.t = T_INT;
			}
		}
		if (errno == ERANGE)
			lex_fail(l, "Syntax error: number out of range");
		if (*end == 'u' || *end == 'U')
			lex_fail(l, "unsupported CEL: uint literal");
		l->p = end;
		return;
	}
	if (*p == '\'' || *p == '"') {
		if (p[0] == p[1] && p[1] == p[2])
			lex_fail(l, "unsupported CEL: triple-quoted string");
		read_string(l, *p);
		return;
	}
	if (isalpha((unsigned char)*p) || *p == '_') {
		if ((p[0] == 'r' || p[0] == 'R' || p[0] == 'b' || p[0] == 'B') && (p[1] == '\'' || p[1] == '"')) {
			lex_fail(l, "unsupported CEL: raw or bytes string");
			l->cur.t = T_EOF;
			return;
		}
		size_t n = 0;
		while (isalnum((unsigned char)p[n]) || p[n] == '_')
			n++;
		l->cur.s = xstrndup(p, n);
		l->cur.t = strcmp(l->cur.s, "in") == 0 ? T_IN : T_ID;
		l->p = p + n;
		return;
	}
	static const struct { const char *s; enum tk t; } ops[] = {
		{"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE}, {">=", T_GE}, {"&&", T_AND}, {"||", T_OR},
		{"(", T_LP}, {")", T_RP}, {"[", T_LB}, {"]", T_RB}, {"{", T_LC}, {"}", T_RC}, {".", T_DOT},
		{",", T_COMMA}, {"?", T_Q}, {":", T_COLON}, {"!", T_NOT}, {"-", T_MINUS}, {"+", T_PLUS},
		{"*", T_STAR}, {"/", T_SLASH}, {"%", T_PCT}, {"<", T_LT}, {">", T_GT},
	};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].s);
		if (strncmp(p, ops[i].s, n) == 0) {
			l->cur.t = ops[i].t;
			l->p = p + n;
			return;
		}
	}
	lex_fail(l, "Syntax error: token recognition error at: '%c'", *p);
	l->cur.t = T_EOF;
}

/* ---- AST ---- */

enum nk { N_LIT, N_ID, N_SEL, N_HAS, N_IDX, N_CALL, N_UN, N_BIN, N_COND, N_LIST, N_MAP, N_MACRO };

struct node {
	enum nk k;
	enum tk op;
	struct val lit;
	char *name;           /* N_ID, N_SEL field, N_CALL/N_MACRO function, N_MACRO variable in var */
	char *var;
	struct node *a, *b, *c; /* operands; N_CALL/N_MACRO a = target (may be NULL) */
	struct node **args;
	size_t nargs;
};

struct cel_prog {
	struct node *root;
	int old_self;
};

static void node_free(struct node *n)
{
	if (!n)
		return;
	v_free(&n->lit);
	free(n->name);
	free(n->var);
	node_free(n->a);
	node_free(n->b);
	node_free(n->c);
	for (size_t i = 0; i < n->nargs; i++)
		node_free(n->args[i]);
	free(n->args);
	free(n);
}

static struct node *mk(enum nk k)
{
	struct node *n = xcalloc(1, sizeof(struct node));
	n->k = k;
	return n;
}

struct parser {
	struct lex l;
	int depth;
	int old_self;
};

static struct node *p_expr(struct parser *p);

static int accept(struct parser *p, enum tk t)
{
	if (p->l.cur.t != t)
		return 0;
	lex_next(&p->l);
	return 1;
}

static int expect(struct parser *p, enum tk t, const char *what)
{
	if (accept(p, t))
		return 0;
	lex_fail(&p->l, "Syntax error: missing %s", what);
	return -1;
}

static void add_arg(struct node *n, struct node *a)
{
	n->args = xrealloc(n->args, (n->nargs + 1) * sizeof(*n->args));
	n->args[n->nargs++] = a;
}

static const char *const macros[] = {"all", "exists", "exists_one", "map", "filter"};
static const char *const methods[] = {"size", "contains", "startsWith", "endsWith", "matches", "lowerAscii",
				      "upperAscii"};
static const char *const globals[] = {"size", "int", "double", "string"};

static int in_list(const char *s, const char *const *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, l[i]) == 0)
			return 1;
	return 0;
}
#define IN(s, l) in_list((s), (l), sizeof(l) / sizeof((l)[0]))

/* args of a call, after '(' was consumed */
static int p_args(struct parser *p, struct node *n)
{
	if (accept(p, T_RP))
		return 0;
	do {
		struct node *a = p_expr(p);
		if (!a)
			return -1;
		add_arg(n, a);
	} while (accept(p, T_COMMA));
	return expect(p, T_RP, "')'");
}

static struct node *p_primary(struct parser *p)
{
	struct tok *t = &p->l.cur;
	struct node *n = NULL;
	switch (t->t) {
	case T_INT:
		n = mk(N_LIT);
		n->lit = v_int(t->i);
		lex_next(&p->l);
		return n;
	case T_DBL:
		n = mk(N_LIT);
		n->lit = v_dbl(t->d);
		lex_next(&p->l);
		return n;
	case T_STR:
		n = mk(N_LIT);
		n->lit = v_str(t->s);
		lex_next(&p->l);
		return n;
	case T_LP:
		lex_next(&p->l);
		n = p_expr(p);
		if (n && expect(p, T_RP, "')'") < 0) {
			node_free(n);
			return NULL;
		}
		return n;
	case T_LB:
		lex_next(&p->l);
		n = mk(N_LIST);
		if (!accept(p, T_RB)) {
			do {
				struct node *e = p_expr(p);
				if (!e) {
					node_free(n);
					return NULL;
				}
				add_arg(n, e);
			} while (accept(p, T_COMMA));
			if (expect(p, T_RB, "']'") < 0) {
				node_free(n);
				return NULL;
			}
		}
		return n;
	case T_LC:
		lex_next(&p->l);
		n = mk(N_MAP);
		if (!accept(p, T_RC)) {
			do {
				struct node *k = p_expr(p);
				struct node *v = NULL;
				if (!k || expect(p, T_COLON, "':'") < 0 || !(v = p_expr(p))) {
					node_free(k);
					node_free(n);
					return NULL;
				}
				add_arg(n, k);
				add_arg(n, v);
			} while (accept(p, T_COMMA));
			if (expect(p, T_RC, "'}'") < 0) {
				node_free(n);
				return NULL;
			}
		}
		return n;
	case T_ID: {
		char *id = xstrdup(t->s);
		lex_next(&p->l);
		if (strcmp(id, "true") == 0 || strcmp(id, "false") == 0) {
			n = mk(N_LIT);
			n->lit = v_bool(id[0] == 't');
			free(id);
			return n;
		}
		if (strcmp(id, "null") == 0) {
			n = mk(N_LIT);
			n->lit.k = V_NULL;
			free(id);
			return n;
		}
		if (accept(p, T_LP)) {
			if (strcmp(id, "has") == 0) {
				n = mk(N_HAS);
				free(id);
				struct node *a = p_expr(p);
				if (!a || expect(p, T_RP, "')'") < 0) {
					node_free(a);
					node_free(n);
					return NULL;
				}
				if (a->k != N_SEL) {
					node_free(a);
					node_free(n);
					lex_fail(&p->l, "invalid argument to has() macro");
					return NULL;
				}
				n->a = a;
				return n;
			}
			if (!IN(id, globals)) {
				lex_fail(&p->l, "unsupported CEL: function %s()", id);
				free(id);
				return NULL;
			}
			n = mk(N_CALL);
			n->name = id;
			if (p_args(p, n) < 0) {
				node_free(n);
				return NULL;
			}
			if (n->nargs != 1) {
				lex_fail(&p->l, "found no matching overload for '%s' applied to %zu arguments", n->name,
					 n->nargs);
				node_free(n);
				return NULL;
			}
			return n;
		}
		/* other names are macro variables, resolved when evaluated */
		if (strcmp(id, "oldSelf") == 0)
			p->old_self = 1;
		n = mk(N_ID);
		n->name = id;
		return n;
	}
	case T_EOF:
		lex_fail(&p->l, "Syntax error: mismatched input '<EOF>'");
		return NULL;
	default:
		lex_fail(&p->l, "Syntax error: unexpected token");
		return NULL;
	}
}

static struct node *p_member(struct parser *p)
{
	struct node *n = p_primary(p);
	while (n && !p->l.err) {
		if (accept(p, T_DOT)) {
			if (p->l.cur.t != T_ID) {
				lex_fail(&p->l, "Syntax error: missing IDENTIFIER");
				break;
			}
			char *f = xstrdup(p->l.cur.s);
			lex_next(&p->l);
			if (accept(p, T_LP)) {
				int macro = IN(f, macros);
				if (!macro && !IN(f, methods)) {
					lex_fail(&p->l, "unsupported CEL: function %s()", f);
					free(f);
					break;
				}
				struct node *c = mk(macro ? N_MACRO : N_CALL);
				c->name = f;
				c->a = n;
				n = c;
				if (p_args(p, c) < 0)
					break;
				if (macro) {
					if (c->nargs != 2 || c->args[0]->k != N_ID) {
						lex_fail(&p->l, "unsupported CEL: %s() takes a variable and an expression", f);
						break;
					}
					c->var = xstrdup(c->args[0]->name);
				}
			} else {
				struct node *s = mk(N_SEL);
				s->name = f;
				s->a = n;
				n = s;
			}
		} else if (accept(p, T_LB)) {
			struct node *x = mk(N_IDX);
			x->a = n;
			n = x;
			x->b = p_expr(p);
			if (!x->b || expect(p, T_RB, "']'") < 0)
				break;
		} else {
			return n;
		}
	}
	if (p->l.err) {
		node_free(n);
		return NULL;
	}
	return n;
}

static struct node *p_unary(struct parser *p)
{
	if (p->l.cur.t == T_NOT || p->l.cur.t == T_MINUS) {
		enum tk op = p->l.cur.t;
		lex_next(&p->l);
		if (++p->depth > CEL_MAX_DEPTH) {
			lex_fail(&p->l, "expression nested too deeply");
			return NULL;
		}
		struct node *a = p_unary(p);
		p->depth--;
		if (!a)
			return NULL;
		if (op == T_MINUS && a->k == N_LIT && (a->lit.k == V_INT || a->lit.k == V_DBL)) {
			if (a->lit.k == V_INT)
				a->lit.i = -a->lit.i;
			else
				a->lit.d = -a->lit.d;
			return a;
		}
		struct node *n = mk(N_UN);
		n->op = op;
		n->a = a;
		return n;
	}
	return p_member(p);
}

static int prec(enum tk t)
{
	switch (t) {
	case T_OR: return 1;
	case T_AND: return 2;
	case T_EQ: case T_NE: case T_LT: case T_LE: case T_GT: case T_GE: case T_IN: return 3;
	case T_PLUS: case T_MINUS: return 4;
	case T_STAR: case T_SLASH: case T_PCT: return 5;
	default: return 0;
	}
}

static struct node *p_binary(struct parser *p, int min)
{
	if (++p->depth > CEL_MAX_DEPTH) {
		lex_fail(&p->l, "expression nested too deeply");
		return NULL;
	}
	struct node *lhs = p_unary(p);
	while (lhs && prec(p->l.cur.t) >= min && prec(p->l.cur.t) > 0) {
		enum tk op = p->l.cur.t;
		int pr = prec(op);
		lex_next(&p->l);
		struct node *rhs = p_binary(p, pr + 1);
		if (!rhs) {
			node_free(lhs);
			lhs = NULL;
			break;
		}
		struct node *n = mk(N_BIN);
		n->op = op;
		n->a = lhs;
		n->b = rhs;
		lhs = n;
	}
	p->depth--;
	return lhs;
}

static struct node *p_expr(struct parser *p)
{
	struct node *c = p_binary(p, 1);
	if (!c || !accept(p, T_Q))
		return c;
	struct node *n = mk(N_COND);
	n->a = c;
	n->b = p_binary(p, 1);
	if (!n->b || expect(p, T_COLON, "':'") < 0 || !(n->c = p_expr(p))) {
		node_free(n);
		return NULL;
	}
	return n;
}

int cel_compile(const char *expr, struct cel_prog **out, char **err)
{
	*out = NULL;
	*err = NULL;
	if (!expr || strlen(expr) > CEL_MAX_EXPR) {
		*err = xstrdup("rule too long");
		return -1;
	}
	struct parser p = {.l = {.p = expr}};
	lex_next(&p.l);
	struct node *root = p.l.err ? NULL : p_expr(&p);
	if (root && !p.l.err && p.l.cur.t != T_EOF)
		lex_fail(&p.l, "Syntax error: extraneous input");
	if (p.l.err || !root) {
		*err = p.l.err ? p.l.err : xstrdup("Syntax error");
		node_free(root);
		free(p.l.cur.s);
		return -1;
	}
	free(p.l.cur.s);
	struct cel_prog *pr = xcalloc(1, sizeof(*pr));
	pr->root = root;
	pr->old_self = p.old_self;
	*out = pr;
	return 0;
}

void cel_free(struct cel_prog *p)
{
	if (!p)
		return;
	node_free(p->root);
	free(p);
}

int cel_uses_old_self(const struct cel_prog *p)
{
	return p && p->old_self;
}

/* ---- evaluation ---- */

struct binding {
	const char *name;
	struct val v;
	struct binding *up;
};

struct env {
	json_object *self, *old;
	struct binding *vars;
	int depth;
};

static struct val eval(struct env *e, const struct node *n);

static int v_truthy(const struct val *v, int *out)
{
	if (v->k != V_BOOL)
		return -1;
	*out = (int)v->i;
	return 0;
}

static int num(const struct val *v, double *d)
{
	if (v->k == V_INT)
		*d = (double)v->i;
	else if (v->k == V_DBL)
		*d = v->d;
	else
		return -1;
	return 0;
}

static int v_equal(const struct val *a, const struct val *b)
{
	double x, y;
	if (num(a, &x) == 0 && num(b, &y) == 0)
		return x == y;
	if (a->k != b->k)
		return 0;
	switch (a->k) {
	case V_NULL: return 1;
	case V_BOOL: return a->i == b->i;
	case V_STR: return strcmp(a->s, b->s) == 0;
	case V_LIST:
	case V_MAP: return json_object_equal(a->j, b->j);
	default: return 0;
	}
}

static struct val select_field(struct val *o, const char *f, int has_only)
{
	if (o->k != V_MAP)
		return v_err("no such overload: field selection on %s", v_type(o));
	json_object *x = NULL;
	int present = json_object_object_get_ex(o->j, f, &x);
	if (has_only)
		return v_bool(present);
	if (!present)
		return v_err("no such key: %s", f);
	return v_json(x);
}

static struct val call_method(struct env *e, const struct node *n, struct val *t)
{
	const char *f = n->name;
	if (strcmp(f, "size") == 0) {
		if (n->nargs != 0)
			return v_err("found no matching overload for 'size'");
		if (t->k == V_STR) {
			int64_t c = 0;
			for (const unsigned char *s = (const unsigned char *)t->s; *s; s++)
				if ((*s & 0xC0) != 0x80)
					c++;
			return v_int(c);
		}
		if (t->k == V_LIST)
			return v_int((int64_t)json_object_array_length(t->j));
		if (t->k == V_MAP)
			return v_int((int64_t)json_object_object_length(t->j));
		return v_err("found no matching overload for 'size' applied to '%s'", v_type(t));
	}
	if (t->k != V_STR)
		return v_err("found no matching overload for '%s' applied to '%s'", f, v_type(t));
	if (strcmp(f, "lowerAscii") == 0 || strcmp(f, "upperAscii") == 0) {
		char *s = xstrdup(t->s);
		for (char *c = s; *c; c++)
			*c = (char)(f[0] == 'l' ? tolower((unsigned char)*c) : toupper((unsigned char)*c));
		return v_str_take(s);
	}
	if (n->nargs != 1)
		return v_err("found no matching overload for '%s'", f);
	struct val a = eval(e, n->args[0]);
	if (a.k == V_ERR)
		return a;
	struct val r;
	if (a.k != V_STR) {
		r = v_err("found no matching overload for '%s' applied to 'string.(%s)'", f, v_type(&a));
	} else if (strcmp(f, "contains") == 0) {
		r = v_bool(strstr(t->s, a.s) != NULL);
	} else if (strcmp(f, "startsWith") == 0) {
		r = v_bool(strncmp(t->s, a.s, strlen(a.s)) == 0);
	} else if (strcmp(f, "endsWith") == 0) {
		size_t ls = strlen(t->s), la = strlen(a.s);
		r = v_bool(la <= ls && strcmp(t->s + ls - la, a.s) == 0);
	} else { /* matches: RE2 search semantics, via POSIX ERE */
		regex_t re;
		if (regcomp(&re, a.s, REG_EXTENDED | REG_NOSUB) != 0) {
			r = v_err("invalid regex: %s", a.s);
		} else {
			r = v_bool(regexec(&re, t->s, 0, NULL, 0) == 0);
			regfree(&re);
		}
	}
	v_free(&a);
	return r;
}

static struct val call_global(struct env *e, const struct node *n)
{
	struct val a = eval(e, n->args[0]);
	if (a.k == V_ERR)
		return a;
	struct val r;
	const char *f = n->name;
	if (strcmp(f, "size") == 0) {
		struct node fake = {.k = N_CALL, .name = (char *)"size"};
		r = call_method(e, &fake, &a);
	} else if (strcmp(f, "double") == 0) {
		double d;
		if (num(&a, &d) == 0) {
			r = v_dbl(d);
		} else if (a.k == V_STR) {
			char *end;
			errno = 0;
			d = strtod(a.s, &end);
			r = (*a.s && !*end && errno == 0) ? v_dbl(d) : v_err("double conversion error: %s", a.s);
		} else {
			r = v_err("found no matching overload for 'double' applied to '%s'", v_type(&a));
		}
	} else if (strcmp(f, "int") == 0) {
		if (a.k == V_INT) {
			r = v_int(a.i);
		} else if (a.k == V_DBL) {
			r = (a.d >= -9.2233720368547758e18 && a.d < 9.2233720368547758e18) ? v_int((int64_t)a.d)
											    : v_err("int range error");
		} else if (a.k == V_STR) {
			char *end;
			errno = 0;
			long long i = strtoll(a.s, &end, 10);
			r = (*a.s && !*end && errno == 0) ? v_int(i) : v_err("int conversion error: %s", a.s);
		} else {
			r = v_err("found no matching overload for 'int' applied to '%s'", v_type(&a));
		}
	} else { /* string */
		char buf[64];
		if (a.k == V_STR)
			r = v_str(a.s);
		else if (a.k == V_INT)
			snprintf(buf, sizeof(buf), "%lld", (long long)a.i), r = v_str(buf);
		else if (a.k == V_DBL)
			snprintf(buf, sizeof(buf), "%g", a.d), r = v_str(buf);
		else if (a.k == V_BOOL)
			r = v_str(a.i ? "true" : "false");
		else
			r = v_err("found no matching overload for 'string' applied to '%s'", v_type(&a));
	}
	v_free(&a);
	return r;
}

static struct val eval_macro(struct env *e, const struct node *n, struct val *t)
{
	if (t->k != V_LIST && t->k != V_MAP)
		return v_err("found no matching overload for '%s' applied to '%s'", n->name, v_type(t));
	size_t len = t->k == V_LIST ? json_object_array_length(t->j) : (size_t)json_object_object_length(t->j);
	json_object *keys = NULL;
	if (t->k == V_MAP) {
		keys = json_object_new_array();
		json_object_object_foreach(t->j, k, v) {
			(void)v;
			json_object_array_add(keys, json_object_new_string(k));
		}
	}
	int is_all = strcmp(n->name, "all") == 0, is_exists = strcmp(n->name, "exists") == 0;
	int is_one = strcmp(n->name, "exists_one") == 0, is_map = strcmp(n->name, "map") == 0;
	int count = 0, acc = is_all;
	json_object *outl = (is_map || strcmp(n->name, "filter") == 0) ? json_object_new_array() : NULL;
	struct val err = {.k = V_NULL};
	for (size_t i = 0; i < len; i++) {
		struct binding b = {.name = n->var, .up = e->vars};
		b.v = v_json(t->k == V_LIST ? json_object_array_get_idx(t->j, i) : json_object_array_get_idx(keys, i));
		e->vars = &b;
		struct val r = eval(e, n->args[1]);
		e->vars = b.up;
		if (r.k == V_ERR) {
			/* all/exists: an error is absorbed by a decisive result elsewhere */
			if (err.k != V_ERR)
				err = r;
			else
				v_free(&r);
			v_free(&b.v);
			continue;
		}
		int tr = 0;
		if (is_map) {
			json_object_array_add(outl, v_to_json(&r));
		} else if (v_truthy(&r, &tr) < 0) {
			if (err.k != V_ERR)
				err = v_err("no such overload: %s() predicate is %s", n->name, v_type(&r));
		} else if (outl) {
			if (tr)
				json_object_array_add(outl, v_to_json(&b.v));
		} else if (is_all && !tr) {
			acc = 0;
		} else if (is_exists && tr) {
			acc = 1;
		} else if (is_one && tr) {
			count++;
		}
		v_free(&r);
		v_free(&b.v);
	}
	json_object_put(keys);
	if (outl) {
		if (err.k == V_ERR) {
			json_object_put(outl);
			return err;
		}
		return (struct val){.k = V_LIST, .j = outl};
	}
	if (is_one) {
		if (err.k == V_ERR)
			return err;
		return v_bool(count == 1);
	}
	/* all: false wins over errors; exists: true wins over errors */
	if ((is_all && !acc) || (is_exists && acc)) {
		v_free(&err);
		return v_bool(acc);
	}
	if (err.k == V_ERR)
		return err;
	return v_bool(acc);
}

static struct val arith(enum tk op, struct val *a, struct val *b)
{
	if (op == T_PLUS && a->k == V_STR && b->k == V_STR) {
		char *s = xasprintf("%s%s", a->s, b->s);
		return v_str_take(s);
	}
	if (op == T_PLUS && a->k == V_LIST && b->k == V_LIST) {
		json_object *l = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(a->j); i++)
			json_object_array_add(l, json_object_get(json_object_array_get_idx(a->j, i)));
		for (size_t i = 0; i < json_object_array_length(b->j); i++)
			json_object_array_add(l, json_object_get(json_object_array_get_idx(b->j, i)));
		return (struct val){.k = V_LIST, .j = l};
	}
	static const char *const opn[] = {[T_PLUS] = "_+_", [T_MINUS] = "_-_", [T_STAR] = "_*_",
					  [T_SLASH] = "_/_", [T_PCT] = "_%_"};
	if (a->k == V_INT && b->k == V_INT) {
		int64_t r;
		switch (op) {
		case T_PLUS:
			if (__builtin_add_overflow(a->i, b->i, &r))
				return v_err("integer overflow");
			return v_int(r);
		case T_MINUS:
			if (__builtin_sub_overflow(a->i, b->i, &r))
				return v_err("integer overflow");
			return v_int(r);
		case T_STAR:
			if (__builtin_mul_overflow(a->i, b->i, &r))
				return v_err("integer overflow");
			return v_int(r);
		case T_SLASH:
		case T_PCT:
			if (b->i == 0)
				return v_err(op == T_SLASH ? "division by zero" : "modulus by zero");
			if (a->i == INT64_MIN && b->i == -1)
				return v_err("integer overflow");
			return v_int(op == T_SLASH ? a->i / b->i : a->i % b->i);
		default: break;
		}
	}
	if (a->k == V_DBL && b->k == V_DBL && op != T_PCT) {
		switch (op) {
		case T_PLUS: return v_dbl(a->d + b->d);
		case T_MINUS: return v_dbl(a->d - b->d);
		case T_STAR: return v_dbl(a->d * b->d);
		case T_SLASH: return v_dbl(a->d / b->d);
		default: break;
		}
	}
	return v_err("found no matching overload for '%s' applied to '(%s, %s)'", opn[op], v_type(a), v_type(b));
}

static struct val compare(enum tk op, struct val *a, struct val *b)
{
	if (op == T_EQ)
		return v_bool(v_equal(a, b));
	if (op == T_NE)
		return v_bool(!v_equal(a, b));
	int c;
	double x, y;
	if (num(a, &x) == 0 && num(b, &y) == 0)
		c = x < y ? -1 : x > y ? 1 : 0;
	else if (a->k == V_STR && b->k == V_STR)
		c = strcmp(a->s, b->s);
	else if (a->k == V_BOOL && b->k == V_BOOL)
		c = (int)(a->i - b->i);
	else
		return v_err("found no matching overload for relational operator applied to '(%s, %s)'", v_type(a),
			     v_type(b));
	switch (op) {
	case T_LT: return v_bool(c < 0);
	case T_LE: return v_bool(c <= 0);
	case T_GT: return v_bool(c > 0);
	default: return v_bool(c >= 0);
	}
}

static struct val eval_in(struct val *a, struct val *b)
{
	if (b->k == V_LIST) {
		for (size_t i = 0; i < json_object_array_length(b->j); i++) {
			struct val x = v_json(json_object_array_get_idx(b->j, i));
			int eq = v_equal(a, &x);
			v_free(&x);
			if (eq)
				return v_bool(1);
		}
		return v_bool(0);
	}
	if (b->k == V_MAP) {
		if (a->k != V_STR)
			return v_bool(0);
		return v_bool(json_object_object_get_ex(b->j, a->s, NULL));
	}
	return v_err("found no matching overload for '@in' applied to '(%s, %s)'", v_type(a), v_type(b));
}

/* Evaluates n into *out; an error is moved into *r (the caller's result)
 * and -1 returned, so each operator propagates errors the same way. */
static int operand(struct env *e, const struct node *n, struct val *out, struct val *r)
{
	*out = eval(e, n);
	if (out->k != V_ERR)
		return 0;
	*r = *out;
	*out = (struct val){.k = V_NULL};
	return -1;
}

static struct val eval(struct env *e, const struct node *n)
{
	if (++e->depth > CEL_MAX_DEPTH * 4) {
		e->depth--;
		return v_err("evaluation nested too deeply");
	}
	struct val r = {.k = V_NULL}, a = {.k = V_NULL}, b = {.k = V_NULL};
	switch (n->k) {
	case N_LIT:
		r = v_copy(&n->lit);
		break;
	case N_ID: {
		for (struct binding *x = e->vars; x; x = x->up)
			if (strcmp(x->name, n->name) == 0) {
				r = v_copy(&x->v);
				goto done;
			}
		if (strcmp(n->name, "self") == 0)
			r = v_json(e->self);
		else if (strcmp(n->name, "oldSelf") == 0)
			r = v_json(e->old);
		else
			r = v_err("undeclared reference to '%s'", n->name);
		break;
	}
	case N_SEL:
	case N_HAS:
		a = eval(e, n->k == N_HAS ? n->a->a : n->a);
		if (a.k == V_ERR) {
			r = a;
			a.k = V_NULL;
			a.s = NULL;
			break;
		}
		r = select_field(&a, n->k == N_HAS ? n->a->name : n->name, n->k == N_HAS);
		break;
	case N_IDX:
		if (operand(e, n->a, &a, &r) < 0)
			break;
		b = eval(e, n->b);
		if (b.k == V_ERR) {
			r = b, b = (struct val){.k = V_NULL};
		} else if (a.k == V_LIST && b.k == V_INT) {
			if (b.i < 0 || (size_t)b.i >= json_object_array_length(a.j))
				r = v_err("index out of bounds: %lld", (long long)b.i);
			else
				r = v_json(json_object_array_get_idx(a.j, (size_t)b.i));
		} else if (a.k == V_MAP && b.k == V_STR) {
			r = select_field(&a, b.s, 0);
		} else {
			r = v_err("found no matching overload for '_[_]' applied to '(%s, %s)'", v_type(&a), v_type(&b));
		}
		break;
	case N_CALL:
		if (!n->a) {
			r = call_global(e, n);
			break;
		}
		if (operand(e, n->a, &a, &r) < 0)
			break;
		r = call_method(e, n, &a);
		break;
	case N_MACRO:
		if (operand(e, n->a, &a, &r) < 0)
			break;
		r = eval_macro(e, n, &a);
		break;
	case N_UN:
		a = eval(e, n->a);
		if (a.k == V_ERR) {
			r = a, a = (struct val){.k = V_NULL};
		} else if (n->op == T_NOT) {
			r = a.k == V_BOOL ? v_bool(!a.i) : v_err("found no matching overload for '!_' applied to '%s'",
								       v_type(&a));
		} else if (a.k == V_INT) {
			r = a.i == INT64_MIN ? v_err("integer overflow") : v_int(-a.i);
		} else if (a.k == V_DBL) {
			r = v_dbl(-a.d);
		} else {
			r = v_err("found no matching overload for '-_' applied to '%s'", v_type(&a));
		}
		break;
	case N_COND: {
		a = eval(e, n->a);
		int c;
		if (a.k == V_ERR)
			r = a, a = (struct val){.k = V_NULL};
		else if (v_truthy(&a, &c) < 0)
			r = v_err("found no matching overload for '_?_:_' applied to '%s'", v_type(&a));
		else
			r = eval(e, c ? n->b : n->c);
		break;
	}
	case N_LIST: {
		json_object *l = json_object_new_array();
		for (size_t i = 0; i < n->nargs; i++) {
			struct val x = eval(e, n->args[i]);
			if (x.k == V_ERR) {
				json_object_put(l);
				r = x;
				goto done;
			}
			json_object_array_add(l, v_to_json(&x));
			v_free(&x);
		}
		r = (struct val){.k = V_LIST, .j = l};
		break;
	}
	case N_MAP: {
		json_object *m = json_object_new_object();
		for (size_t i = 0; i + 1 < n->nargs; i += 2) {
			struct val k = eval(e, n->args[i]);
			if (k.k != V_STR) {
				json_object_put(m);
				r = k.k == V_ERR ? k : v_err("unsupported CEL: map keys other than strings");
				if (k.k != V_ERR)
					v_free(&k);
				goto done;
			}
			struct val x = eval(e, n->args[i + 1]);
			if (x.k == V_ERR) {
				v_free(&k);
				json_object_put(m);
				r = x;
				goto done;
			}
			json_object_object_add(m, k.s, v_to_json(&x));
			v_free(&k);
			v_free(&x);
		}
		r = (struct val){.k = V_MAP, .j = m};
		break;
	}
	case N_BIN: {
		if (n->op == T_AND || n->op == T_OR) {
			/* CEL's commutative logic: a decisive side wins over an error */
			int want = n->op == T_OR; /* the value that decides */
			a = eval(e, n->a);
			int av = -1, bv = -1;
			if (a.k == V_BOOL)
				av = (int)a.i;
			if (av == want) {
				r = v_bool(want);
				break;
			}
			b = eval(e, n->b);
			if (b.k == V_BOOL)
				bv = (int)b.i;
			if (bv == want)
				r = v_bool(want);
			else if (av >= 0 && bv >= 0)
				r = v_bool(!want);
			else if (a.k == V_ERR)
				r = v_copy(&a);
			else if (b.k == V_ERR)
				r = v_copy(&b);
			else
				r = v_err("no such overload for logical operator applied to '(%s, %s)'", v_type(&a),
					  v_type(&b));
			break;
		}
		if (operand(e, n->a, &a, &r) < 0)
			break;
		if (operand(e, n->b, &b, &r) < 0)
			break;
		switch (n->op) {
		case T_PLUS: case T_MINUS: case T_STAR: case T_SLASH: case T_PCT:
			r = arith(n->op, &a, &b);
			break;
		case T_IN:
			r = eval_in(&a, &b);
			break;
		default:
			r = compare(n->op, &a, &b);
			break;
		}
		break;
	}
	}
done:
	v_free(&a);
	v_free(&b);
	e->depth--;
	return r;
}

int cel_eval_bool(const struct cel_prog *p, json_object *self, json_object *old_self, char **err)
{
	struct env e = {.self = self, .old = old_self};
	*err = NULL;
	struct val r = eval(&e, p->root);
	int rc;
	if (r.k == V_ERR) {
		*err = r.s;
		r.s = NULL;
		r.k = V_NULL;
		rc = -1;
	} else if (r.k != V_BOOL) {
		*err = xasprintf("rule did not evaluate to a bool (%s)", v_type(&r));
		rc = -1;
	} else {
		rc = (int)r.i;
	}
	v_free(&r);
	return rc;
}

int cel_eval_string(const struct cel_prog *p, json_object *self, json_object *old_self, char **out, char **err)
{
	struct env e = {.self = self, .old = old_self};
	*out = NULL;
	*err = NULL;
	struct val r = eval(&e, p->root);
	if (r.k == V_STR) {
		*out = r.s;
		return 0;
	}
	*err = r.k == V_ERR ? r.s : xasprintf("messageExpression must evaluate to a string (%s)", v_type(&r));
	if (r.k != V_ERR)
		v_free(&r);
	return -1;
}
