/* kubesim: validation of built-in kinds and of object metadata, as
 * kube-apiserver's registry strategies do it (test/kubesim/README.md,
 * "Built-in kinds: validation, defaulting, immutability"):
 *
 *   - every kind: label keys and values (metadata.labels), no new finalizers
 *     on an object being deleted; custom resources: a PUT must carry
 *     metadata.resourceVersion;
 *   - Pod: containers required (name, image), restartPolicy, the pod update
 *     rule (only images, activeDeadlineSeconds, added tolerations and
 *     terminationGracePeriodSeconds may change);
 *   - Deployment: selector required and matching the template's labels,
 *     template restartPolicy Always, replicas >= 0, selector immutable;
 *   - Job: template restartPolicy OnFailure or Never, template and selector
 *     immutable, completions immutable;
 *   - PersistentVolumeClaim: accessModes and resources.requests.storage
 *     required, spec immutable except the storage request and binding;
 *   - ConfigMap and Secret: key names, `immutable` objects keep their data,
 *     a Secret's type is immutable.
 * Errors are the apiserver's 422 Invalid Status: message
 * `Kind.group "name" is invalid: field: ...` (several in [a, b]) and one
 * cause per error (FieldValueRequired, FieldValueInvalid, ...). */
#ifndef KUBESIM_VALIDATE_H
#define KUBESIM_VALIDATE_H

#include <json-c/json.h>

#include "sim.h"

/* obj: the object about to be stored (defaults applied); old: the stored
 * object for an update, NULL for a create. group/plural/kind name the type;
 * crd is 1 for custom resources; status is 1 for a /status write (only the
 * metadata rules apply). 0 or -422 with err filled. */
int validate_write(const char *group, const char *plural, const char *kind, int crd, int status,
		   json_object *obj, json_object *old, struct sim_err *err);

/* Field selectors the apiserver supports for (group, plural): 0, or -400
 * with err filled with its message (`field label not supported: x`, `"x" is
 * not a known field selector: only "metadata.name", "metadata.namespace"`,
 * `invalid selector: ...`). sel NULL or "" is fine. */
int validate_field_selector(const char *group, const char *plural, int crd, const char *sel,
			    struct sim_err *err);

/* ---- shared by kubesim's other apiserver emulations ---- */

/* An apiserver field.ErrorList being built. */
struct verrs {
	json_object *causes;   /* [{"reason","message","field"}] */
	char msg[1024];        /* "a: x, b: y" (unique texts, in order) */
	int n;
};
/* Add one error: reason FieldValueInvalid..., field path, body (the text
 * after "field: "). */
void verrs_add(struct verrs *v, const char *reason, const char *field, const char *body);
/* 0 when empty; else fill err as the 422 of `qualkind "name" is invalid`
 * (causes moved into err) and return -422. Frees v's contents either way. */
int verrs_finish(struct verrs *v, const char *qualkind, const char *name, struct sim_err *err);
/* Go's %q of s into out. */
void go_quote(const char *s, char *out, size_t n);

#endif
