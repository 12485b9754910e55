/* "Server-side apply only when the desired hash differs".
 *
 * ctrl_desired_hash() hashes a desired manifest canonically (object keys
 * sorted, no whitespace, any existing modelcache.dev/desired-hash annotation
 * ignored) with SHA-256. ctrl_apply_if_changed() sets the annotation
 * modelcache.dev/desired-hash on `desired` (modified in place), compares it
 * with the same annotation on `observed` (the cached object, may be NULL) and
 * only when they differ (or observed is NULL) applies with
 * fieldManager=modelcache-operator, force=true. */
#ifndef MC_CONTROLLER_APPLY_H
#define MC_CONTROLLER_APPLY_H

#include <json-c/json.h>
#include <stdbool.h>

#include "api/api.h"
#include "kube/client.h"


/* Canonical JSON (util/jcanon.h), malloc'd. */
char *ctrl_canonical_json(json_object *obj);
/* out: 65 bytes; jcanon_hash skipping API_ANN_DESIRED_HASH, the same bytes
 * as compose_set_hash. An object over 16 MiB gets "" (never matches). */
void ctrl_desired_hash(json_object *desired, char out[65]);

/* *applied (may be NULL) tells whether a write happened; out (may be NULL)
 * receives the server's object when applied. */
int ctrl_apply_if_changed(struct kube_client *c, const struct kube_resource *r, const char *ns,
			  json_object *desired, json_object *observed, bool *applied,
			  json_object **out, struct kube_error *err);

/* Status update only when it differs: compares json `status` with
 * observed's .status (json_object_equal); when different PUTs observed with
 * the new status to /status (observed borrowed, not modified). */
int ctrl_update_status_if_changed(struct kube_client *c, const struct kube_resource *r,
				  json_object *observed, json_object *status, bool *updated,
				  struct kube_error *err);

/* Is `finalizer` in obj's metadata.finalizers? */
bool ctrl_has_finalizer(json_object *obj, const char *finalizer);
/* Adds (add) or removes `finalizer` with a merge patch carrying obj's
 * resourceVersion (a conflict when obj changed meanwhile: the caller
 * reconciles again). 0 or a negative kube error, err filled. */
int ctrl_patch_finalizer(struct kube_client *c, const struct kube_resource *r, json_object *obj,
			 const char *finalizer, bool add, struct kube_error *err);

#endif
