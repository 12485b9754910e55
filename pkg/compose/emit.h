/* Deterministic serialisations of json-c trees.
 *
 * compose_canonical_json: compact JSON with object keys sorted bytewise (the
 * input of the desired-hash, DESIGN.md section 2).
 * compose_emit_yaml: block-style YAML with sorted keys, the way kubectl
 * prints objects (lists at the indentation of their key); strings are plain
 * when unambiguous, else double-quoted with JSON escapes (valid YAML).
 * Both append to `out` and return 0 or -E2BIG when the buffer cap is hit. */
#ifndef MC_COMPOSE_EMIT_H
#define MC_COMPOSE_EMIT_H

#include <json-c/json.h>

#include "util/buf.h"

int compose_canonical_json(json_object *obj, struct buf *out);
int compose_emit_yaml(json_object *obj, struct buf *out);

#endif
