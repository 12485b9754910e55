#include "controller/apply.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/buf.h"
#include "util/jcanon.h"
#include "util/jpath.h"

char *ctrl_canonical_json(json_object *obj)
{
	struct buf b;
	buf_init(&b, BUF_DEFAULT_MAX);
	jcanon_json(obj, &b);
	return buf_take(&b, NULL);
}

void ctrl_desired_hash(json_object *desired, char out[65])
{
	if (jcanon_hash(desired, API_ANN_DESIRED_HASH, out) != 0)
		out[0] = '\0';   /* over 16 MiB: matches no observed hash */
}

int ctrl_apply_if_changed(struct kube_client *c, const struct kube_resource *r, const char *ns,
			  json_object *desired, json_object *observed, bool *applied,
			  json_object **out, struct kube_error *err)
{
	char h[65];
	ctrl_desired_hash(desired, h);
	json_object *md, *ann;
	if (!json_object_object_get_ex(desired, "metadata", &md)) {
		md = json_object_new_object();
		json_object_object_add(desired, "metadata", md);
	}
	if (!json_object_object_get_ex(md, "annotations", &ann)) {
		ann = json_object_new_object();
		json_object_object_add(md, "annotations", ann);
	}
	json_object_object_add(ann, API_ANN_DESIRED_HASH, json_object_new_string(h));
	if (applied)
		*applied = false;
	const char *cur = jpath_annotation(observed, API_ANN_DESIRED_HASH);
	if (cur && strcmp(cur, h) == 0)
		return 0;
	int rc = kube_apply(c, r, ns, desired, API_FIELD_MANAGER, true, NULL, out, err);
	if (rc == 0 && applied)
		*applied = true;
	return rc;
}

int ctrl_update_status_if_changed(struct kube_client *c, const struct kube_resource *r,
				  json_object *observed, json_object *status, bool *updated,
				  struct kube_error *err)
{
	if (updated)
		*updated = false;
	json_object *cur = NULL;
	json_object_object_get_ex(observed, "status", &cur);
	if (cur && json_object_equal(cur, status))
		return 0;
	json_object *md, *name, *ns = NULL;
	if (!json_object_object_get_ex(observed, "metadata", &md) || !json_object_object_get_ex(md, "name", &name))
		return kube_error_set(err, KUBE_ERR_INVALID, "object without metadata.name");
	json_object_object_get_ex(md, "namespace", &ns);
	json_object *copy = NULL;
	json_object_deep_copy(observed, &copy, NULL);
	json_object *st = NULL;
	json_object_deep_copy(status, &st, NULL);
	json_object_object_add(copy, "status", st);
	int rc = kube_update_status(c, r, ns ? json_object_get_string(ns) : NULL, json_object_get_string(name),
				    copy, NULL, err);
	json_object_put(copy);
	if (rc == 0 && updated)
		*updated = true;
	return rc;
}

bool ctrl_has_finalizer(json_object *obj, const char *finalizer)
{
	json_object *f = jpath_get(obj, "metadata.finalizers");
	for (size_t i = 0; f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(f, i));
		if (s && strcmp(s, finalizer) == 0)
			return true;
	}
	return false;
}

int ctrl_patch_finalizer(struct kube_client *c, const struct kube_resource *r, json_object *obj,
			 const char *finalizer, bool add, struct kube_error *err)
{
	json_object *list = json_object_new_array();
	json_object *f = jpath_get(obj, "metadata.finalizers");
	for (size_t i = 0; f && json_object_is_type(f, json_type_array) && i < json_object_array_length(f); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(f, i));
		if (s && strcmp(s, finalizer) != 0)
			json_object_array_add(list, json_object_new_string(s));
	}
	if (add)
		json_object_array_add(list, json_object_new_string(finalizer));
	json_object *body = json_object_new_object(), *meta = json_object_new_object();
	json_object_object_add(meta, "finalizers", list);
	json_object_object_add(meta, "resourceVersion",
			       json_object_new_string(jpath_str_or(obj, "metadata.resourceVersion", "")));
	json_object_object_add(body, "metadata", meta);
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE};
	int rc = kube_patch_obj(c, r, jpath_str(obj, "metadata.namespace"), jpath_str(obj, "metadata.name"), body, &po,
				NULL, err);
	json_object_put(body);
	return rc;
}
