/* Small read-only helpers over json-c trees: dotted-path lookups.
 *
 *   jpath_str(mc, "spec.huggingFace.repo")  -> borrowed string or NULL
 *
 * Path segments are separated by '.'; a segment may not itself contain '.'
 * (use jpath_child / jpath_child_str for keys such as "modelcache.dev/retry"
 * or names read from data); an empty segment ("a..b") finds nothing; the
 * empty path is root itself. Everything returned is borrowed from the tree. */
#ifndef MC_UTIL_JPATH_H
#define MC_UTIL_JPATH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

json_object *jpath_get(json_object *root, const char *path);
/* The string at path, or NULL when absent or not a string. */
const char *jpath_str(json_object *root, const char *path);
/* The string at path, or def when absent, not a string or empty. */
const char *jpath_str_or(json_object *root, const char *path, const char *def);
/* The integer at path, or def. */
int64_t jpath_int_or(json_object *root, const char *path, int64_t def);
/* Child of an object by exact key (borrowed) or NULL. */
json_object *jpath_child(json_object *obj, const char *key);
/* The string child by exact key, or NULL when absent or not a string. */
const char *jpath_child_str(json_object *obj, const char *key);
/* metadata.annotations[key] / metadata.labels[key] (borrowed) or NULL. */
const char *jpath_annotation(json_object *obj, const char *key);
const char *jpath_label(json_object *obj, const char *key);
/* Find the element of an array of objects whose "type" is `type`
 * (conditions) or whose "name" is `name`; NULL when absent. */
json_object *jpath_find_type(json_object *arr, const char *type);
json_object *jpath_find_name(json_object *arr, const char *name);
/* status.conditions[type=...].status == "True". */
bool jpath_condition_true(json_object *obj, const char *type);

#endif
