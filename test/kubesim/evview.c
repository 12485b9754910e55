#include "evview.h"

#include <string.h>

#include "simjson.h"
#include "util/mem.h"

static const char *const names[][2] = {
	/* events.k8s.io/v1, core/v1 */
	{"regarding", "involvedObject"},
	{"note", "message"},
	{"reportingController", "reportingComponent"},
	{"deprecatedSource", "source"},
	{"deprecatedFirstTimestamp", "firstTimestamp"},
	{"deprecatedLastTimestamp", "lastTimestamp"},
	{"deprecatedCount", "count"},
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static const char *renamed(const char *key, int to_core)
{
	for (size_t i = 0; i < NNAMES; i++)
		if (strcmp(key, names[i][to_core ? 0 : 1]) == 0)
			return names[i][to_core ? 1 : 0];
	return NULL;
}

void evview_convert(json_object *obj, int to_core, int set_type)
{
	if (!json_object_is_type(obj, json_type_object))
		return;
	/* collect first: renaming while iterating would revisit keys */
	json_object *moved = json_object_new_object();
	for (size_t i = 0; i < NNAMES; i++) {
		const char *from = names[i][to_core ? 0 : 1], *to = names[i][to_core ? 1 : 0];
		json_object *v = NULL;
		if (json_object_object_get_ex(obj, from, &v)) {
			json_object_object_add(moved, to, json_object_get(v));
			json_object_object_del(obj, from);
		}
	}
	json_object_object_foreach(moved, k, v)
		json_object_object_add(obj, k, json_object_get(v));
	json_object_put(moved);
	if (set_type || sj_get(obj, "apiVersion"))
		json_object_object_add(obj, "apiVersion", json_object_new_string(to_core ? "v1" : "events.k8s.io/v1"));
	if (set_type || sj_get(obj, "kind"))
		json_object_object_add(obj, "kind", json_object_new_string("Event"));
}

static void convert_path(json_object *op, const char *field)
{
	const char *p = sj_str(op, field, NULL);
	if (!p || p[0] != '/')
		return;
	size_t n = strcspn(p + 1, "/");
	char *first = xstrndup(p + 1, n);
	const char *to = renamed(first, 1);
	if (to) {
		char *np = xasprintf("/%s%s", to, p + 1 + n);
		json_object_object_add(op, field, json_object_new_string(np));
		free(np);
	}
	free(first);
}

void evview_convert_json_patch(json_object *ops)
{
	if (!json_object_is_type(ops, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(ops); i++) {
		json_object *op = json_object_array_get_idx(ops, i);
		convert_path(op, "path");
		convert_path(op, "from");
	}
}
