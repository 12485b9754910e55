/* Informer transforms (client-go's SharedIndexInformer.SetTransform): what a
 * shared informer keeps of each object before it reaches the store. Every
 * object loses metadata.managedFields and the
 * kubectl.kubernetes.io/last-applied-configuration annotation (nothing in the
 * operator reads them; writes are server-side applies keyed by the
 * desired-hash annotation). Per resource, the union of what the readers of
 * that informer read (see docs/architecture.md, "What the informers keep"):
 *
 *   jobs     metadata, status (no spec: the reconciler compares the
 *            desired-hash annotation, never the template);
 *   persistentvolumeclaims
 *            metadata, spec.resources.requests, spec.storageClassName,
 *            spec.volumeName, status.phase, status.capacity;
 *   nodes    metadata, spec.taints, spec.unschedulable,
 *            status.allocatable, status.capacity (no images, conditions,
 *            addresses, nodeInfo);
 *   anything else: the whole object (ModelCaches, InferenceClusters,
 *            ModelDeployments, Secrets, Namespaces, StorageClasses).
 * A transform edits the object in place and never fails. */
#ifndef MC_WATCH_TRANSFORM_H
#define MC_WATCH_TRANSFORM_H

#include <json-c/json.h>

#include "kube/resource.h"

typedef void (*reflector_transform_fn)(json_object *obj);

/* The transform for a resource (never NULL: the default drops only
 * managedFields and the last-applied annotation). */
reflector_transform_fn reflector_transform_for(const struct kube_resource *res);

#endif
