/* events.k8s.io/v1 Events mirrored into core/v1 Events (same namespace and
 * name), as the apiserver serves one store under both APIs: `kubectl describe`
 * and `kubectl get events` read core/v1 and so see what the operator records
 * with events.k8s.io/v1 (regarding -> involvedObject, note -> message,
 * reportingController -> source.component/reportingComponent, deprecated*
 * fields -> count/firstTimestamp/lastTimestamp, eventTime kept). One
 * direction only; runs as a sim subscriber (asynchronous, like the GC). */
#ifndef KUBESIM_EVMIRROR_H
#define KUBESIM_EVMIRROR_H

#include <json-c/json.h>

#include "sim.h"

struct evmirror;

int evmirror_start(struct sim *s, struct evmirror **out);
void evmirror_stop(struct evmirror *m);
/* The core/v1 form of an events.k8s.io/v1 Event (new object; caller puts). */
json_object *evmirror_to_core(json_object *ev);

#endif
