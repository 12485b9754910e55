/* events.k8s.io/v1 Events as a view of the core/v1 Events store.
 *
 * The apiserver keeps one Event per name and serves it through both APIs
 * (the events.k8s.io/v1 REST storage is the core Event storage with a
 * conversion), so an Event created through either API has one uid, name and
 * resourceVersion and is listed and watched through both. kubesim does the
 * same: requests to events.k8s.io/v1 events are served from the core store,
 * bodies converted on the way in and objects on the way out. The field
 * mapping (pkg/apis/events/v1 conversion): regarding <-> involvedObject,
 * note <-> message, reportingController <-> reportingComponent,
 * deprecatedSource <-> source, deprecatedFirstTimestamp <-> firstTimestamp,
 * deprecatedLastTimestamp <-> lastTimestamp, deprecatedCount <-> count; the
 * other fields (eventTime, series, action, reason, related, type,
 * reportingInstance, metadata) have the same names. */
#ifndef KUBESIM_EVVIEW_H
#define KUBESIM_EVVIEW_H

#include <json-c/json.h>

/* Renames obj's top-level keys in place (to_core: events.k8s.io names to
 * core names, else the reverse) and sets apiVersion/kind when present or
 * when set_type. Works for objects and for merge/apply patches. */
void evview_convert(json_object *obj, int to_core, int set_type);
/* A JSON patch (array of operations) in place: the first segment of each
 * "path"/"from" renamed to the core name. */
void evview_convert_json_patch(json_object *ops);

#endif
