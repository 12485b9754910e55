/* Event recorder (events.k8s.io/v1) for reconcilers.
 *
 * events_emit() creates an Event on the cluster of the recorder's client,
 * in the namespace of the regarding object ("default" for cluster-scoped
 * ones), with reportingController "modelcache-operator", reportingInstance
 * the recorder's instance id, action, reason, note (capped at 1 KiB) and
 * type Normal/Warning. Deduplication: the same (object uid, reason, note)
 * is emitted once; emitting a different note for the same (uid, reason) is
 * a new transition and is emitted. events_forget(uid) drops an object's
 * memory (e.g. when it is deleted). A failed create is logged and dropped
 * (events are best-effort) and is not remembered, so it is retried by the
 * next reconcile. Thread-safe. */
#ifndef MC_CONTROLLER_EVENTS_H
#define MC_CONTROLLER_EVENTS_H

#include <json-c/json.h>

#include "kube/client.h"

#define EVENT_NORMAL "Normal"
#define EVENT_WARNING "Warning"

struct events;

/* client borrowed (must outlive the recorder); instance copied (e.g. the pod
 * name or hostname). */
int events_new(struct kube_client *client, const char *instance, struct events **out);
void events_free(struct events *e);

/* regarding: the object (borrowed; apiVersion, kind, metadata.{name,
 * namespace,uid,resourceVersion} are used). Returns 1 if emitted, 0 if
 * deduplicated, negative on API error. */
int events_emit(struct events *e, json_object *regarding, const char *type, const char *reason,
		const char *action, const char *note);
void events_forget(struct events *e, const char *uid);
/* The object has left the state that (uid, reason) reported: the next
 * emission of that reason is a new transition even with the same note
 * (e.g. Staged again after a re-hydration). */
void events_forget_reason(struct events *e, json_object *regarding, const char *reason);

/* Count of Events created (tests). */
unsigned long events_created(struct events *e);

#endif
