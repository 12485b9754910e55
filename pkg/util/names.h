/* Names of composed objects (docs/concepts.md, "Names").
 *
 * child_name joins the parts with '-' into `full`; h = the first 5 hex chars
 * of SHA-256(full); prefix = the first 57 chars of full with trailing '-'
 * stripped; the result is "prefix-h" (always <= 63 chars, a valid DNS label
 * when the parts are). */
#ifndef MC_UTIL_NAMES_H
#define MC_UTIL_NAMES_H

#include <stddef.h>

#define CHILD_NAME_MAX 63

/* out must hold CHILD_NAME_MAX + 1 bytes. */
void child_namev(char out[CHILD_NAME_MAX + 1], size_t nparts, const char *const parts[]);
/* NULL-terminated list of parts: child_name(out, "modelcache", ns, name, NULL). */
void child_name(char out[CHILD_NAME_MAX + 1], ...) __attribute__((sentinel));

/* The names docs/concepts.md fixes for a ModelCache ns/name. */
void name_cache_pvc(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name);
void name_cache_job(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name);
void name_cache_auth(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name);

/* Is s a DNS-1123 subdomain (<= 253, [a-z0-9]([-a-z0-9.]*[a-z0-9])?)? label:
 * DNS-1123 label (<= 63, no dots). */
int dns1123_subdomain_ok(const char *s);
int dns1123_label_ok(const char *s);

#endif
