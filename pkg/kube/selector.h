/* Kubernetes label selectors: parse, match, render.
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
 * Free with kube_selector_free. */
#ifndef MC_KUBE_SELECTOR_H
#define MC_KUBE_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

enum kube_selector_op {
	KUBE_SEL_EQUALS,         /* a=b (matchLabels, "=" and "==") */
	KUBE_SEL_NOT_EQUALS,     /* a!=b */
	KUBE_SEL_IN,             /* a in (x,y) / operator In */
	KUBE_SEL_NOT_IN,         /* a notin (x,y) / operator NotIn */
	KUBE_SEL_EXISTS,         /* a / operator Exists */
	KUBE_SEL_DOES_NOT_EXIST, /* !a / operator DoesNotExist */
};

struct kube_selector;

/* The longest text form parse accepts and render produces (bytes). */
#define KUBE_SELECTOR_MAX_TEXT 65536

/* From a LabelSelector JSON object (borrowed; NULL = match everything). */
int kube_selector_from_json(json_object *sel, struct kube_selector **out, char **err);
/* From the query-string form (NULL or "" = match everything). */
int kube_selector_parse(const char *s, struct kube_selector **out, char **err);
void kube_selector_free(struct kube_selector *s);

/* Match against a labels JSON object {"k":"v",...} (borrowed; NULL = no labels).
 * Non-string label values are treated as absent. */
bool kube_selector_matches(const struct kube_selector *s, json_object *labels);
/* Match against a NULL-terminated array of alternating keys and values. */
bool kube_selector_matches_kv(const struct kube_selector *s, const char *const *kv);

/* True when the selector has no requirements (matches everything). */
bool kube_selector_empty(const struct kube_selector *s);
/* Number of requirements. */
size_t kube_selector_count(const struct kube_selector *s);

/* Render the query-string form, requirements sorted by key (then operator),
 * set values sorted, like apimachinery's labels.Selector.String():
 *   "a=b,c!=d,e in (x,y),f notin (z),g,!h".  "" for an empty selector.
 * The result parses back to an equivalent selector: it is at most
 * KUBE_SELECTOR_MAX_TEXT bytes, the limit parse accepts; a selector whose
 * text would be longer gives -E2BIG (a JSON selector may hold more). Caller
 * frees *out. */
int kube_selector_render(const struct kube_selector *s, char **out);

/* Helpers exposed for validation elsewhere (pkg/api): 0 or -EINVAL with a
 * malloc'd reason in *why (no field path; caller frees). */
int kube_label_key_check(const char *key, char **why);
int kube_label_value_check(const char *value, char **why);

#endif
