/* Kubernetes label selectors: parse, match, render.
 *
 * A pure module (json-c and pkg/util only, no I/O): pkg/api validates with
 * it and the reconcilers match InferenceClusters with it without linking
 * the REST client (pkg/kube).
 *
 * Two input forms produce the same opaque selector:
 *   - a metav1.LabelSelector JSON object:
 *       {"matchLabels": {"region": "west"},
 *        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a","b"]}]}
 *     operators In, NotIn (values must be non-empty), Exists, DoesNotExist
 *     (values must be empty or absent);
 *   - the query-string form used by ?labelSelector= and kubectl -l:
 *       "a=b,a==b,c!=d,e in (x,y),f notin (z),g,!h"
 *     (commas separate requirements; all must hold).
 * Keys are qualified names ("name" or "prefix/name", prefix a DNS subdomain
 * <= 253 chars, name <= 63 chars [A-Za-z0-9] at both ends, [-_.A-Za-z0-9]
 * inside); values are label values (empty or <= 63 chars of the same shape).
 *
 * Semantics: every requirement must hold (AND). In/= : the label exists and
 * its value is in the set. NotIn/!= : the label is absent OR its value is not
 * in the set. Exists / DoesNotExist: presence. An empty selector ({} or "")
 * matches everything. NOTE: a NULL JSON selector also matches everything,
 * because our CRDs define an omitted clusterSelector as "all clusters"
 * (metav1's LabelSelectorAsSelector treats nil as "nothing"; we do not).
 *
 * Errors: parse functions return -EINVAL and, when err != NULL, set *err to a
 * malloc'd message naming the bad part (caller frees), e.g.
 *   matchExpressions[1].values: Required value: must be specified when operator is "In"
 *   matchLabels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.' ...
 *   "e in x": expected "(" after "in" at offset 5
 * The selector is immutable after parsing and safe to share between threads.
 * Free with labels_selector_free. */
#ifndef MC_LABELS_LABELS_H
#define MC_LABELS_LABELS_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

enum labels_selector_op {
	LABELS_SEL_EQUALS,         /* a=b (matchLabels, "=" and "==") */
	LABELS_SEL_NOT_EQUALS,     /* a!=b */
	LABELS_SEL_IN,             /* a in (x,y) / operator In */
	LABELS_SEL_NOT_IN,         /* a notin (x,y) / operator NotIn */
	LABELS_SEL_EXISTS,         /* a / operator Exists */
	LABELS_SEL_DOES_NOT_EXIST, /* !a / operator DoesNotExist */
};

struct labels_selector;

/* The longest text form parse accepts and render produces (bytes). */
#define LABELS_SELECTOR_MAX_TEXT 65536

/* From a LabelSelector JSON object (borrowed; NULL = match everything). */
int labels_selector_from_json(json_object *sel, struct labels_selector **out, char **err);
/* From the query-string form (NULL or "" = match everything). */
int labels_selector_parse(const char *s, struct labels_selector **out, char **err);
void labels_selector_free(struct labels_selector *s);

/* Match against a labels JSON object {"k":"v",...} (borrowed; NULL = no labels).
 * Non-string label values are treated as absent. */
bool labels_selector_matches(const struct labels_selector *s, json_object *labels);
/* Match against a NULL-terminated array of alternating keys and values. */
bool labels_selector_matches_kv(const struct labels_selector *s, const char *const *kv);

/* True when the selector has no requirements (matches everything). */
bool labels_selector_empty(const struct labels_selector *s);
/* Number of requirements. */
size_t labels_selector_count(const struct labels_selector *s);

/* Render the query-string form, requirements sorted by key (then operator),
 * set values sorted, like apimachinery's labels.Selector.String():
 *   "a=b,c!=d,e in (x,y),f notin (z),g,!h".  "" for an empty selector.
 * The result parses back to an equivalent selector: it is at most
 * LABELS_SELECTOR_MAX_TEXT bytes, the limit parse accepts; a selector whose
 * text would be longer gives -E2BIG (a JSON selector may hold more). Caller
 * frees *out. */
int labels_selector_render(const struct labels_selector *s, char **out);

/* Helpers exposed for validation elsewhere (pkg/api): 0 or -EINVAL with a
 * malloc'd reason in *why (no field path; caller frees). */
int labels_key_check(const char *key, char **why);
int labels_value_check(const char *value, char **why);

#endif
