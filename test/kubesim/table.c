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

/* translateTimestampSince of an RFC 3339 time, "<unknown>" when unset */
static json_object *since(const char *ts, int64_t now_s)
{
	int64_t ns;
	if (!ts || !*ts || rfc3339_parse(ts, &ns) < 0)
		return json_object_new_string("<unknown>");
	char a[32];
	table_age(now_s - ns / 1000000000, a);
	return json_object_new_string(a);
}

/* The apiserver's Event printer (pkg/printers/internalversion printEvent):
 * Last Seen, Type, Reason, Object, Subobject, Source, Message, First Seen,
 * Count, Name; kubectl shows the priority-0 ones. */
static void event_columns(json_object *defs)
{
	static const struct { const char *name, *type; int prio; } cols[] = {
		{"Last Seen", "string", 0}, {"Type", "string", 0}, {"Reason", "string", 0},
		{"Object", "string", 0}, {"Subobject", "string", 1}, {"Source", "string", 1},
		{"Message", "string", 0}, {"First Seen", "string", 1}, {"Count", "integer", 1},
		{"Name", "string", 1},
	};
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		json_object_array_add(defs, coldef(cols[i].name, cols[i].type, cols[i].prio == 1 && i == 9 ? "name" : "",
						   "", cols[i].prio));
}

static const char *first_nonempty(const char *a, const char *b)
{
	return a && *a ? a : (b ? b : "");
}

static json_object *event_cells(json_object *o, int64_t now_s)
{
	json_object *cells = json_object_new_array();
	const char *first_ts = sj_str(o, "firstTimestamp", NULL);
	json_object *first = (first_ts && *first_ts) ? since(first_ts, now_s) : since(sj_str(o, "eventTime", NULL), now_s);
	const char *last_ts = sj_str(o, "lastTimestamp", NULL);
	json_object *last = (last_ts && *last_ts) ? since(last_ts, now_s) : json_object_get(first);
	json_object *series = sj_get(o, "series");
	int64_t count = json_object_get_int64(sj_get(o, "count"));
	if (series) {
		json_object_put(last);
		last = since(sj_str(series, "lastObservedTime", NULL), now_s);
		count = json_object_get_int64(sj_get(series, "count"));
	} else if (count == 0) {
		count = 1; /* singleton events have no count in the new API */
	}
	const char *kind = sj_str(o, "involvedObject", "kind", NULL), *name = sj_str(o, "involvedObject", "name", NULL);
	char *lk = xstrdup(kind ? kind : "");
	for (char *c = lk; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	char *target = name && *name ? xasprintf("%s/%s", lk, name) : xstrdup(lk);
	const char *comp = first_nonempty(sj_str(o, "source", "component", NULL), sj_str(o, "reportingComponent", NULL));
	const char *inst = first_nonempty(sj_str(o, "source", "host", NULL), sj_str(o, "reportingInstance", NULL));
	char *source = *inst ? xasprintf("%s, %s", comp, inst) : xstrdup(comp);
	const char *fp = sj_str(o, "involvedObject", "fieldPath", NULL);
	json_object_array_add(cells, last);
	json_object_array_add(cells, json_object_new_string(first_nonempty(sj_str(o, "type", NULL), "")));
	json_object_array_add(cells, json_object_new_string(first_nonempty(sj_str(o, "reason", NULL), "")));
	json_object_array_add(cells, json_object_new_string(target));
	json_object_array_add(cells, json_object_new_string(fp ? fp : ""));
	json_object_array_add(cells, json_object_new_string(source));
	json_object_array_add(cells, json_object_new_string(first_nonempty(sj_str(o, "message", NULL), "")));
	json_object_array_add(cells, first);
	json_object_array_add(cells, json_object_new_int64(count));
	json_object_array_add(cells, json_object_new_string(first_nonempty(sj_str(o, "metadata", "name", NULL), "")));
	free(source);
	free(target);
	free(lk);
	return cells;
}

static json_object *meta_row(json_object *o, json_object *cells, enum table_include inc)
{
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
	return row;
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
	if (!crd && res && strcmp(res, "events") == 0) {
		json_object *edefs = json_object_new_array();
		event_columns(edefs);
		json_object_object_add(t, "columnDefinitions", with_columns ? edefs : json_object_new_array());
		if (!with_columns)
			json_object_put(edefs);
		json_object *erows = json_object_new_array();
		for (size_t i = 0; items && i < json_object_array_length(items); i++) {
			json_object *o = json_object_array_get_idx(items, i);
			json_object_array_add(erows, meta_row(o, event_cells(o, now_s), inc));
		}
		json_object_object_add(t, "rows", erows);
		return t;
	}
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
		json_object *row = meta_row(o, cells, inc);
		json_object_array_add(rows, row);
	}
	json_object_object_add(t, "rows", rows);
	if (!with_columns)
		json_object_put(defs);
	return t;
}
