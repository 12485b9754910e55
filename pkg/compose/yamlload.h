/* YAML (libyaml) -> json-c, for manifests users write (kubectl-modelcache
 * render, tests). A stream of documents becomes an array with one element
 * per non-empty document. Plain scalars are resolved like Kubernetes' YAML
 * decoder (YAML 1.2 core schema): null/~ -> null, true/false -> bool,
 * integers -> int, decimals -> double, everything else (and every quoted
 * scalar) -> string. Anchors/aliases are rejected. The input is capped by the
 * caller; nesting is capped at 64 levels. */
#ifndef MC_COMPOSE_YAMLLOAD_H
#define MC_COMPOSE_YAMLLOAD_H

#include <json-c/json.h>
#include <stddef.h>

/* 0 and *docs (a new array), or -EINVAL and *errmsg (malloc'd, with line:column). */
int compose_yaml_load(const char *data, size_t len, json_object **docs, char **errmsg);

#endif
