/* Informer transforms: see transform.h. */
#include "watch/transform.h"

#include <stdbool.h>
#include <string.h>

#define ANN_LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static json_object *child(json_object *o, const char *k)
{
	json_object *v = NULL;
	if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v) &&
	    json_object_is_type(v, json_type_object))
		return v;
	return NULL;
}

/* Keep only the listed keys of object o (NULL-terminated); o may be NULL.
 * The keys to drop point into o's table: they are deleted after each walk,
 * at most 32 per walk. */
static void keep_only(json_object *o, const char *const *keep)
{
	const char *drop[32];
	size_t n;
	if (!o)
		return;
	do {
		n = 0;
		json_object_object_foreach(o, k, v) {
			(void)v;
			bool kept = false;
			for (size_t i = 0; keep[i] && !kept; i++)
				kept = strcmp(keep[i], k) == 0;
			if (!kept && n < sizeof drop / sizeof drop[0])
				drop[n++] = k;
		}
		for (size_t i = 0; i < n; i++)
			json_object_object_del(o, drop[i]);
	} while (n == sizeof drop / sizeof drop[0]);
}

static void common(json_object *obj)
{
	json_object *md = child(obj, "metadata");
	if (!md)
		return;
	json_object_object_del(md, "managedFields");
	json_object *ann = child(md, "annotations");
	if (ann)
		json_object_object_del(ann, ANN_LAST_APPLIED);
}

static void t_default(json_object *obj) { common(obj); }

static void t_jobs(json_object *obj)
{
	static const char *const top[] = {"apiVersion", "kind", "metadata", "status", NULL};
	common(obj);
	keep_only(obj, top);
}

static void t_pvcs(json_object *obj)
{
	static const char *const spec[] = {"resources", "storageClassName", "volumeName", NULL};
	static const char *const res[] = {"requests", NULL};
	static const char *const st[] = {"phase", "capacity", NULL};
	common(obj);
	json_object *s = child(obj, "spec");
	keep_only(s, spec);
	keep_only(child(s, "resources"), res);
	keep_only(child(obj, "status"), st);
}

static void t_nodes(json_object *obj)
{
	static const char *const spec[] = {"taints", "unschedulable", NULL};
	static const char *const st[] = {"allocatable", "capacity", NULL};
	common(obj);
	keep_only(child(obj, "spec"), spec);
	keep_only(child(obj, "status"), st);
}

reflector_transform_fn reflector_transform_for(const struct kube_resource *res)
{
	if (res == &KUBE_RES_JOBS)
		return t_jobs;
	if (res == &KUBE_RES_PVCS)
		return t_pvcs;
	if (res == &KUBE_RES_NODES)
		return t_nodes;
	return t_default;
}
