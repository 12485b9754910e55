/* The four PATCH flavours of kube-apiserver, as pure json-c functions.
 *
 * Ownership: *target / *live is replaced on success (the old object is put
 * and a new reference stored); on failure it is left exactly as it was.
 * patch / ops / applied are borrowed. *errmsg (when non-NULL) is set to a
 * malloc'ed message on failure; free() it.
 *
 *   patch_merge      RFC 7386 JSON merge patch (application/merge-patch+json).
 *   patch_json       RFC 6902 JSON patch (application/json-patch+json): add,
 *                    remove, replace, move, copy, test; JSON pointers with ~0/~1
 *                    escapes and '-' for the end of an array. All or nothing.
 *                    -1 => the apiserver answers 422 with errmsg.
 *   patch_strategic  strategic merge patch for built-in kinds: lists merged by
 *                    patchMergeKey for the fields kubectl and operators touch
 *                    (containers, initContainers, ephemeralContainers, volumes,
 *                    env, imagePullSecrets by name; volumeMounts by mountPath;
 *                    volumeDevices by devicePath; ports by containerPort
 *                    (Service: port); conditions by type; ownerReferences by
 *                    uid; hostAliases by ip; topologySpreadConstraints by
 *                    topologyKey), finalizers as a set; directives
 *                    $patch: replace|delete|merge (maps and list items),
 *                    $retainKeys, $deleteFromPrimitiveList/<f>,
 *                    $setElementOrder/<f> (accepted; order is not enforced).
 *                    Every other list is replaced, as for merge patch.
 *   patch_apply      server-side apply (application/apply-patch+yaml) with
 *                    metadata.managedFields in FieldsV1 form.
 */
#ifndef KUBESIM_PATCH_H
#define KUBESIM_PATCH_H

#include <json-c/json.h>

/* 0 ok, -1 patch is not usable (never happens for valid JSON). */
int patch_merge(json_object **target, json_object *patch);

/* 0 ok, -1 an operation failed (errmsg says which and why). */
int patch_json(json_object **target, json_object *ops, char **errmsg);

/* kind: the object's kind ("Deployment", "Service", ...) or NULL.
 * 0 ok, -1 malformed patch / directive (errmsg). */
int patch_strategic(json_object **target, json_object *patch, const char *kind, char **errmsg);

/* Server-side apply.
 *   *live NULL => create from `applied`.
 *   Fields set in `applied` become owned by `manager` (managedFields entry
 *   with operation "Apply", the applied apiVersion, time now_rfc3339,
 *   fieldsType "FieldsV1"). Values are merged into live: maps per key, lists
 *   of maps keyed like strategic merge (by name, type, uid, ...), finalizers
 *   as a set; every other list and every scalar is replaced. Fields the same
 *   manager applied before but omits now are removed unless another manager
 *   owns them. A field owned by another manager whose live value differs from
 *   the applied one is a conflict: -2 with the apiserver's message unless
 *   force (then ownership moves to `manager`).
 *   apiVersion, kind and metadata.{name, namespace, uid, resourceVersion,
 *   generation, creationTimestamp, deletionTimestamp, managedFields} are never
 *   owned; metadata.managedFields in `applied` is ignored.
 * Returns 0, -1 invalid (422), -2 conflict (409). */
int patch_apply(json_object **live, json_object *applied, const char *manager, int force,
		const char *now_rfc3339, char **errmsg);
/* The StatusCauses ({"reason":"FieldManagerConflict","message","field"}) of
 * the last patch_apply on this thread that failed with conflicts (-2), or
 * NULL; the caller owns them. */
json_object *patch_take_conflict_causes(void);

/* Record a non-apply write (create, update, merge/json/strategic patch) the
 * way the apiserver's field manager does: fields whose value changed between
 * `old` (NULL for create) and `*obj` become owned by `manager` with operation
 * "Update" (subresource "status" when subresource is "status"), and are taken
 * away from every other manager; fields that disappeared are dropped from all
 * managers. Updates (*obj).metadata.managedFields in place; managedFields
 * sent by the client in *obj are ignored in favour of old's. 0 always. */
int patch_track_update(json_object *old, json_object *obj, const char *manager, const char *subresource,
		       const char *now_rfc3339);

#endif
