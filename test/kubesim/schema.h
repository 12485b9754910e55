/* CRD structural-schema enforcement for kubesim (what kube-apiserver does to a
 * custom resource between decoding and storing it).
 *
 *   json_object *causes = json_object_new_array();
 *   if (schema_apply(version_schema, obj, causes) < 0)
 *       -> 422 Invalid with details.causes = causes
 *
 * Order, as in the apiserver: prune unknown fields, drop nulls of
 * non-nullable fields, apply defaults (a property's default is applied when
 * its parent object exists; defaults are then defaulted and pruned in turn),
 * then validate. The root's apiVersion, kind and metadata are never touched
 * (metadata.name validation is the core's job).
 *
 * Enforced: type (object, array, string, integer, number, boolean) and
 * nullable, required, enum, pattern (ECMA-262 subset translated to POSIX ERE),
 * minimum/maximum (+exclusiveMinimum/exclusiveMaximum), minLength/maxLength
 * (in characters), minItems/maxItems, minProperties/maxProperties,
 * x-kubernetes-int-or-string, x-kubernetes-preserve-unknown-fields,
 * x-kubernetes-embedded-resource, additionalProperties (schema maps),
 * items, allOf/anyOf/oneOf/not (validation only, as in structural schemas),
 * x-kubernetes-list-type set/map uniqueness.
 * CEL rules (x-kubernetes-validations, cel.h's subset) are evaluated on
 * structurally valid objects: a false rule is a cause with the rule's
 * message (or messageExpression), reason and fieldPath; a rule whose self
 * cannot be typed (an object schema with no properties) gives the
 * apiserver's "invalid object type ..." cause; transition rules (oldSelf)
 * run on updates only. NOT evaluated: format (except int-or-string),
 * ratcheting, CEL cost limits.
 *
 * Causes appended to `causes` (a json array, borrowed) look like the
 * apiserver's: {"reason": "FieldValueRequired" | "FieldValueInvalid" |
 * "FieldValueNotSupported" | "FieldValueTypeInvalid" | "FieldValueTooLong" |
 * "FieldValueTooMany" | "FieldValueDuplicate", "message": "...",
 * "field": "spec.x[0].y"}. */
#ifndef KUBESIM_SCHEMA_H
#define KUBESIM_SCHEMA_H

#include <json-c/json.h>

/* schema: a CRD version's openAPIV3Schema (borrowed). obj: the whole object,
 * modified in place. Returns 0 when valid, -1 when invalid (causes added). */
int schema_apply(json_object *schema, json_object *obj, json_object *causes);
/* The same for an update: old (borrowed, the stored object) is oldSelf. */
int schema_apply_update(json_object *schema, json_object *obj, json_object *old, json_object *causes);

/* Every rule and messageExpression below schema compiles with cel.h's
 * subset: 0, or -1 with *err_path ("<path>.x-kubernetes-validations[i].rule")
 * and *err (both caller frees), e.g. "unsupported CEL: function quantity()". */
int schema_cel_check(json_object *schema, const char *path, char **err_path, char **err);

/* Render causes the way kube-apiserver renders a 422 message body:
 * `<kind>.<group> "<name>" is invalid: spec.x: Required value` (one cause) or
 * `...: [a: msg, b: msg]` (several). Returned string is malloc'ed. */
char *schema_invalid_message(const char *kind_group, const char *name, json_object *causes);

#endif
