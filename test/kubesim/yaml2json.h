/* YAML (one document) to json-c, for application/apply-patch+yaml bodies.
 * Plain scalars are typed the YAML 1.2 core-schema way (null, true/false,
 * integers, floats); quoted scalars stay strings. Anchors/aliases and tags
 * are not supported (-EINVAL). */
#ifndef KUBESIM_YAML2JSON_H
#define KUBESIM_YAML2JSON_H

#include <stddef.h>

#include <json-c/json.h>

/* 0 and *out (caller puts) or -EINVAL. Input capped at len bytes. */
int yaml_to_json(const char *text, size_t len, json_object **out);

#endif
