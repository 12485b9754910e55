/* API resources the operator and its tools address. Plain values. */
#ifndef MC_KUBE_RESOURCE_H
#define MC_KUBE_RESOURCE_H

#include <stdbool.h>
#include <stddef.h>

struct kube_resource {
	const char *group;      /* "" for the core group */
	const char *version;    /* "v1" */
	const char *resource;   /* plural, e.g. "persistentvolumeclaims" */
	const char *kind;       /* "PersistentVolumeClaim" */
	bool namespaced;
};

extern const struct kube_resource KUBE_RES_NAMESPACES;
extern const struct kube_resource KUBE_RES_NODES;
extern const struct kube_resource KUBE_RES_PODS;
extern const struct kube_resource KUBE_RES_SECRETS;
extern const struct kube_resource KUBE_RES_CONFIGMAPS;
extern const struct kube_resource KUBE_RES_PVCS;
extern const struct kube_resource KUBE_RES_STORAGECLASSES;
extern const struct kube_resource KUBE_RES_EVENTS;          /* events.k8s.io/v1 */
extern const struct kube_resource KUBE_RES_CORE_EVENTS;     /* core/v1 */
extern const struct kube_resource KUBE_RES_JOBS;
extern const struct kube_resource KUBE_RES_DEPLOYMENTS;
extern const struct kube_resource KUBE_RES_LEASES;
extern const struct kube_resource KUBE_RES_CRDS;
extern const struct kube_resource KUBE_RES_LEADERWORKERSETS;
extern const struct kube_resource KUBE_RES_MUTATINGWEBHOOKS;
extern const struct kube_resource KUBE_RES_INFERENCECLUSTERS;
extern const struct kube_resource KUBE_RES_MODELCACHES;
extern const struct kube_resource KUBE_RES_MODELDEPLOYMENTS;

/* "apps/v1" or "v1". out >= 128 bytes. */
void kube_resource_api_version(const struct kube_resource *r, char *out, size_t n);
/* The collection or object path: /api/v1/namespaces/NS/pods[/NAME[/SUB]].
 * ns is ignored for cluster-scoped resources; name and sub may be NULL.
 * Returns a malloc'd string (path segments are escaped). */
char *kube_resource_path(const struct kube_resource *r, const char *ns, const char *name, const char *sub);

#endif
