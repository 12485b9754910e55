/* Server-side printing: meta.k8s.io/v1 Table objects for kubectl get.
 * CRDs use their additionalPrinterColumns (JSONPath subset: .a.b, .a[0].b,
 * .a[?(@.k=="v")].b); built-ins get NAME/AGE plus a few kind-specific
 * columns. */
#ifndef KUBESIM_TABLE_H
#define KUBESIM_TABLE_H

#include <stdint.h>

#include <json-c/json.h>

enum table_include { TABLE_INCLUDE_NONE, TABLE_INCLUDE_METADATA, TABLE_INCLUDE_OBJECT };

/* desc: a sim_resource() entry (borrowed). items: array of objects
 * (borrowed). now_s: Unix seconds for ages. Returns a new Table. */
json_object *table_build(json_object *desc, json_object *items, int with_columns,
			 enum table_include inc, int64_t now_s);

/* Evaluate the JSONPath subset against obj; borrowed result or NULL. */
json_object *table_jsonpath(json_object *obj, const char *path);

/* "5s", "3m2s", "2d4h" ... like kubectl's HumanDuration. out >= 32. */
void table_age(int64_t seconds, char *out);

#endif
