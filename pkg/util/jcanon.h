/* Canonical JSON of json-c trees: compact, object keys sorted bytewise,
 * strings escaped as json-c does (but '/' kept), integers as int64. It is
 * the input of every desired-hash (docs/concepts.md, "Names"): the composer
 * (compose_set_hash) and the controller runtime (ctrl_desired_hash) both
 * hash through jcanon_hash, so their hashes are the same bytes.
 * Writers append to `out` and return 0 or -E2BIG when its cap is hit. */
#ifndef MC_UTIL_JCANON_H
#define MC_UTIL_JCANON_H

#include <json-c/json.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/digest.h"

int jcanon_json(json_object *obj, struct buf *out);

/* SHA-256 (lowercase hex) of the canonical JSON of obj as if
 * metadata.annotations[skip_ann] were absent, and metadata.annotations too
 * when nothing else is in it (skip_ann NULL: the whole object). obj is not
 * modified. 0 or -E2BIG (over 16 MiB). */
int jcanon_hash(json_object *obj, const char *skip_ann, char hex[SHA256_HEX_LEN + 1]);

/* Building blocks shared with other serialisers (the YAML emitter):
 * an object's keys sorted (*keys malloc'd, the strings borrowed), a JSON
 * string literal, a scalar (null, boolean, int, double, string). */
size_t jcanon_sorted_keys(json_object *obj, const char ***keys);
int jcanon_string(struct buf *out, const char *s);
int jcanon_scalar(struct buf *out, json_object *v);

#endif
