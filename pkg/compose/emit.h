/* Deterministic YAML of json-c trees (canonical JSON: util/jcanon.h).
 *
 * compose_emit_yaml: block-style YAML with sorted keys, the way kubectl
 * prints objects (lists at the indentation of their key); strings are plain
 * when unambiguous, else double-quoted with JSON escapes (valid YAML).
 * Appends to `out`; 0 or -E2BIG when the buffer cap is hit. */
#ifndef MC_COMPOSE_EMIT_H
#define MC_COMPOSE_EMIT_H

#include <json-c/json.h>

#include "util/buf.h"

int compose_emit_yaml(json_object *obj, struct buf *out);

#endif
