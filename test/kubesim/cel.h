/* A subset of CEL for CRD validation rules (x-kubernetes-validations), as
 * the apiserver evaluates them (staging/src/k8s.io/apiextensions-apiserver/
 * pkg/apiserver/schema/cel). Supported (test/kubesim/README.md, "CEL"):
 *
 *   self, oldSelf; literals: int, double, string ('..' and ".." with escapes),
 *   true/false/null, lists [..] and maps {k: v}; field selection a.b, a[i],
 *   a['k']; has(a.b); c ? a : b; && || !; + - * / % on int and double, +
 *   on strings and lists; == != < <= > >=; in (lists and map keys);
 *   size(x) and x.size(); s.contains(t), s.startsWith(t), s.endsWith(t),
 *   s.matches(re) (POSIX ERE via regcomp: RE2 syntax such as \d or (?i) is
 *   not available), s.lowerAscii(), s.upperAscii(); int(x), double(x),
 *   string(x); l.all(v, e), l.exists(v, e), l.exists_one(v, e),
 *   l.map(v, e), l.filter(v, e) on lists and maps (over keys).
 *
 * Anything else (other functions, quantity(), macros with other names,
 * comprehension syntax, bytes, uint literals, timestamps) is refused at
 * compile time with "unsupported CEL: ...", so a rule is never silently
 * skipped: kubesim refuses the CRD instead. */
#ifndef KUBESIM_CEL_H
#define KUBESIM_CEL_H

#include <json-c/json.h>

struct cel_prog;

/* 0 and *out (cel_free), or -1 with *err (caller frees): a syntax error or
 * "unsupported CEL: ...". */
int cel_compile(const char *expr, struct cel_prog **out, char **err);
void cel_free(struct cel_prog *p);
/* Whether the rule mentions oldSelf (a transition rule: evaluated only on
 * updates where the old value exists). */
int cel_uses_old_self(const struct cel_prog *p);
/* Evaluates a boolean rule. self/old_self borrowed (NULL = null). Returns
 * 1 true, 0 false, -1 runtime error (*err, caller frees), e.g.
 * "no such key: x". A non-boolean result is an error. */
int cel_eval_bool(const struct cel_prog *p, json_object *self, json_object *old_self, char **err);
/* Evaluates a messageExpression (must give a string): 0 and *out (caller
 * frees) or -1 with *err. */
int cel_eval_string(const struct cel_prog *p, json_object *self, json_object *old_self, char **out, char **err);

#endif
