#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simjson.h"
#include "util/mem.h"
#include "util/timeutil.h"

void table_age(int64_t d, char *out)
{
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(out, 32, "%llds", (long long)d);
	else if (d < 600)
		snprintf(out, 32, "%lldm%llds", (long long)(d / 60), (long long)(d % 60));
	else if (d < 3 * 3600)
		snprintf(out, 32, "%lldm", (long long)(d / 60));
	else if (d < 8 * 3600)
		snprintf(out, 32, "%lldh%lldm", (long long)(d / 3600), (long long)((d % 3600) / 60));
	else if (d < 48 * 3600)
		snprintf(out, 32, "%lldh", (long long)(d / 3600));
	else if (d < 8 * 86400)
		snprintf(out, 32, "%lldd%lldh", (long long)(d / 86400), (long long)((d % 86400) / 3600));
	else if (d < 2 * 365 * 86400)
		snprintf(out, 32, "%lldd", (long long)(d / 86400));
	else
		snprintf(out, 32, "%lldy", (long long)(d / (365 * 86400)));
}

/* One step of the path. Returns the remaining path or NULL on a parse error. */
json_object *table_jsonpath(json_object *obj, const char *path)
{
	const char *p = path;
	json_object *cur = obj;
	if (*p == '{')
		p++;
	while (cur && *p && *p != '}') {
		if (*p == '.') {
			p++;
			const char *b = p;
			while (*p && *p != '.' && *p != '[' && *p != '}')
				p++;
			if (p == b)
				continue;
			char key[256];
			snprintf(key, sizeof(key), "%.*s", (int)(p - b), b);
			cur = sj_get(cur, key);
		} else if (*p == '[') {
			p++;
			if (p[0] == '*' && p[1] == ']') {
				/* [*]: kube-apiserver's table convertor prints the first
				 * result only (results[0][0]); the first element for
				 * which the rest of the path exists */
				p += 2;
				if (!json_object_is_type(cur, json_type_array))
					return NULL;
				for (size_t i = 0; i < json_object_array_length(cur); i++) {
					json_object *hit = table_jsonpath(json_object_array_get_idx(cur, i), p);
					if (hit)
						return hit;
				}
				return NULL;
			}
			if (*p == '?') {
				/* [?(@.key=="value")] */
				const char *at = strstr(p, "@.");
				const char *eq = strstr(p, "==");
				const char *end = strstr(p, ")]");
				if (!at || !eq || !end || eq > end)
					return NULL;
				char key[128], val[256];
				snprintf(key, sizeof(key), "%.*s", (int)(eq - (at + 2)), at + 2);
				const char *v = eq + 2;
				while (*v == ' ')
					v++;
				const char *ve = end;
				if (*v == '"' || *v == '\'') {
					v++;
					ve = end - 1;
					while (ve > v && *ve != '"' && *ve != '\'')
						ve--;
				}
				snprintf(val, sizeof(val), "%.*s", (int)(ve - v), v);
				p = end + 2;
				json_object *hit = NULL;
				if (!json_object_is_type(cur, json_type_array))
					return NULL;
				for (size_t i = 0; i < json_object_array_length(cur); i++) {
					json_object *e = json_object_array_get_idx(cur, i);
					json_object *kv = sj_get(e, key);
					if (kv && strcmp(json_object_get_string(kv), val) == 0) {
						hit = e;
						break;
					}
				}
				cur = hit;
			} else {
				long idx = strtol(p, (char **)&p, 10);
				if (*p != ']')
					return NULL;
				p++;
				if (!json_object_is_type(cur, json_type_array))
					return NULL;
				if (idx < 0)
					idx += (long)json_object_array_length(cur);
				cur = idx >= 0 ? json_object_array_get_idx(cur, (size_t)idx) : NULL;
			}
		} else {
			return NULL;
		}
	}
	return cur;
}

static json_object *coldef(const char *name, const char *type, const char *format, const char *desc, int prio)
{
	json_object *c = json_object_new_object();
	json_object_object_add(c, "name", json_object_new_string(name));
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "format", json_object_new_string(format));
	json_object_object_add(c, "description", json_object_new_string(desc));
	json_object_object_add(c, "priority", json_object_new_int(prio));
	return c;
}

static json_object *age_cell(json_object *o, int64_t now_s)
{
	const char *ts = sj_str(o, "metadata", "creationTimestamp", NULL);
	int64_t ns;
	if (!ts || rfc3339_parse(ts, &ns) < 0)
		return json_object_new_string("<unknown>");
	char a[32];
	table_age(now_s - ns / 1000000000, a);
	return json_object_new_string(a);
}

static json_object *str_or_none(const char *s)
{
	return json_object_new_string(s && *s ? s : "<none>");
}

/* Built-in columns after NAME (and before AGE). */
struct bcol {
	const char *resource, *name, *path, *type;
};

static const struct bcol bcols[] = {
	{"namespaces", "Status", ".status.phase", "string"},
	{"pods", "Status", ".status.phase", "string"},
	{"persistentvolumeclaims", "Status", ".status.phase", "string"},
	{"persistentvolumeclaims", "Volume", ".spec.volumeName", "string"},
	{"persistentvolumeclaims", "Capacity", ".status.capacity.storage", "string"},
	{"persistentvolumeclaims", "StorageClass", ".spec.storageClassName", "string"},
	{"jobs", "Succeeded", ".status.succeeded", "integer"},
	{"jobs", "Failed", ".status.failed", "integer"},
	{"deployments", "Ready", ".status.readyReplicas", "integer"},
	{"deployments", "Available", ".status.availableReplicas", "integer"},
	{"storageclasses", "Provisioner", ".provisioner", "string"},
	{"secrets", "Type", ".type", "string"},
	{"leases", "Holder", ".spec.holderIdentity", "string"},
	{"events", "Reason", ".reason", "string"},
	{"events", "Message", ".message", "string"},
	{"nodes", "Status", ".status.conditions[?(@.type==\"Ready\")].type", "string"},
};

static json_object *cell_value(json_object *v, const char *type, int64_t now_s)
{
	if (!v)
		return NULL;
	if (type && strcmp(type, "date") == 0) {
		int64_t ns;
		if (json_object_is_type(v, json_type_string) && rfc3339_parse(json_object_get_string(v), &ns) == 0) {
			char a[32];
			table_age(now_s - ns / 1000000000, a);
			return json_object_new_string(a);
		}
	}
	if (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))
		return json_object_new_string(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	return sj_copy(v);
}

json_object *table_build(json_object *desc, json_object *items, int with_columns,
			 enum table_include inc, int64_t now_s)
{
	json_object *t = json_object_new_object();
	json_object_object_add(t, "kind", json_object_new_string("Table"));
	json_object_object_add(t, "apiVersion", json_object_new_string("meta.k8s.io/v1"));
	json_object_object_add(t, "metadata", json_object_new_object());
	const char *res = sj_str(desc, "resource", NULL);
	json_object *crdcols = sj_get(desc, "columns");
	int crd = sj_bool(desc, "crd");
	json_object *defs = json_object_new_array();
	json_object_array_add(defs, coldef("Name", "string", "name",
					   "Name must be unique within a namespace.", 0));
	if (crd && crdcols && json_object_array_length(crdcols) > 0) {
		for (size_t i = 0; i < json_object_array_length(crdcols); i++) {
			json_object *c = json_object_array_get_idx(crdcols, i);
			const char *d = sj_str(c, "description", NULL);
			json_object *pr = sj_get(c, "priority");
			const char *fmt = sj_str(c, "format", NULL);
			json_object_array_add(defs, coldef(sj_str(c, "name", NULL) ? sj_str(c, "name", NULL) : "",
							   sj_str(c, "type", NULL) ? sj_str(c, "type", NULL) : "string",
							   fmt ? fmt : "", d ? d : "", pr ? json_object_get_int(pr) : 0));
		}
	} else {
		for (size_t i = 0; !crd && i < sizeof(bcols) / sizeof(bcols[0]); i++)
			if (strcmp(bcols[i].resource, res) == 0)
				json_object_array_add(defs, coldef(bcols[i].name, bcols[i].type, "", "", 0));
		json_object_array_add(defs, coldef("Age", "string", "",
						   "CreationTimestamp is a timestamp representing the server time "
						   "when this object was created.", 0));
	}
	json_object_object_add(t, "columnDefinitions", with_columns ? defs : json_object_new_array());
	json_object *rows = json_object_new_array();
	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *o = json_object_array_get_idx(items, i);
		json_object *cells = json_object_new_array();
		json_object_array_add(cells, str_or_none(sj_str(o, "metadata", "name", NULL)));
		if (crd && crdcols && json_object_array_length(crdcols) > 0) {
			for (size_t k = 0; k < json_object_array_length(crdcols); k++) {
				json_object *c = json_object_array_get_idx(crdcols, k);
				const char *jp = sj_str(c, "jsonPath", NULL);
				json_object *v = jp ? table_jsonpath(o, jp) : NULL;
				json_object_array_add(cells, cell_value(v, sj_str(c, "type", NULL), now_s));
			}
		} else {
			for (size_t k = 0; !crd && k < sizeof(bcols) / sizeof(bcols[0]); k++) {
				if (strcmp(bcols[k].resource, res) != 0)
					continue;
				json_object *v = table_jsonpath(o, bcols[k].path);
				if (strcmp(bcols[k].resource, "nodes") == 0) {
					json_object *st = table_jsonpath(o, ".status.conditions[?(@.type==\"Ready\")].status");
					v = NULL;
					json_object_array_add(cells, json_object_new_string(
						st && strcmp(json_object_get_string(st), "True") == 0 ? "Ready" : "NotReady"));
					continue;
				}
				json_object *cv = cell_value(v, bcols[k].type, now_s);
				if (!cv && strcmp(bcols[k].type, "integer") == 0)
					cv = json_object_new_int(0);
				json_object_array_add(cells, cv ? cv : json_object_new_string("<none>"));
			}
			json_object_array_add(cells, age_cell(o, now_s));
		}
		json_object *row = json_object_new_object();
		json_object_object_add(row, "cells", cells);
		if (inc == TABLE_INCLUDE_OBJECT) {
			json_object_object_add(row, "object", sj_copy(o));
		} else if (inc == TABLE_INCLUDE_METADATA) {
			json_object *pom = json_object_new_object();
			json_object_object_add(pom, "kind", json_object_new_string("PartialObjectMetadata"));
			json_object_object_add(pom, "apiVersion", json_object_new_string("meta.k8s.io/v1"));
			json_object_object_add(pom, "metadata", sj_copy(sj_get(o, "metadata")));
			json_object_object_add(row, "object", pom);
		}
		json_object_array_add(rows, row);
	}
	json_object_object_add(t, "rows", rows);
	if (!with_columns)
		json_object_put(defs);
	return t;
}
