/* Small json-c accessors shared by the kubesim modules. All returned
 * pointers are borrowed unless the name says copy. */
#ifndef KUBESIM_SIMJSON_H
#define KUBESIM_SIMJSON_H

#include <stddef.h>

#include <json-c/json.h>

/* Member of an object, NULL when absent or when o is not an object. */
json_object *sj_get(json_object *o, const char *key);
/* String at a path of keys ending with NULL: sj_str(o, "metadata", "name", NULL).
 * NULL when any step is missing or the leaf is not a string. */
const char *sj_str(json_object *o, ...) __attribute__((sentinel));
/* 1 when o[key] is boolean true. */
int sj_bool(json_object *o, const char *key);
/* o.metadata, created (as {}) when missing. */
json_object *sj_meta(json_object *o);
/* Parse JSON text of n bytes with a nesting limit of SJ_MAX_DEPTH (json-c's
 * default of 32 is too shallow for CRDs that embed pod templates); NULL on
 * any error or trailing garbage. Caller puts. */
#define SJ_MAX_DEPTH 256
json_object *sj_parse(const char *s, size_t n);
/* Deep copy (NULL in => NULL out); caller puts. */
json_object *sj_copy(json_object *o);

/* The value of a hex digit, -1 when c is none. */
int sj_hexval(char c);
/* %XX-decoding of n bytes (plus_is_space: '+' is ' ', as in queries);
 * malloc'd. */
char *sj_urldecode(const char *s, size_t n, int plus_is_space);
/* The decoded value of query parameter key ("" for a bare key) or NULL;
 * malloc'd. */
char *sj_qparam(const char *query, const char *key);

#endif
