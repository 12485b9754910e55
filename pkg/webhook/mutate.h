/* The pod webhook's decision, without the server (docs/webhook.md): an
 * admission.k8s.io/v1 AdmissionReview in, the HTTP status and the
 * AdmissionReview answer out.
 *
 * The cluster asking: `cluster` NULL = this one (the InferenceCluster whose
 * spec.connection has "local"), else the InferenceCluster of that name (a
 * remote cluster where the admin registered /mutate-v1-pod/<name>).
 *
 * A pod labelled modelcache.dev/cache=<name> on CREATE, with the ModelCache
 * looked up in the namespace of the label modelcache.dev/cache-namespace if
 * set, else the pod's namespace:
 *   - no such ModelCache in the cache store => denied (403):
 *     "ModelCache <ns>/<name> not found: create it or remove the
 *     modelcache.dev/cache label";
 *   - the pod not in the namespace of the cache PVC on that cluster (the
 *     ModelCache's own here, the InferenceCluster's spec.namespace on a remote
 *     one) => denied, naming the namespace to use;
 *   - otherwise allowed with a JSONPatch (base64, patchType JSONPatch) adding
 *     the volume "model-cache" (the cache PVC: child_name("modelcache", ns,
 *     name)) unless a volume of that name exists, and a read-only mount of it
 *     at /mnt/models in every container and init container that does not
 *     already mount that path. Nothing to add => allowed without a patch.
 *   - the cache not Ready on that cluster => still allowed and mounted, with
 *     an AdmissionReview warning naming the phase.
 * Unlabelled pods, the operator's own pods (app.kubernetes.io/managed-by=
 * modelcache-operator, which the configuration's objectSelector excludes
 * anyway) and other operations are allowed unchanged.
 *
 * Bad requests get an HTTP 400 with a plain-text reason (never a crash):
 * not JSON, not an object, no "request", no request.uid, a request.object
 * that is not an object; an unknown cluster gets 404.
 *
 * Reads only the two stores (informer caches); thread-safe as they are. */
#ifndef MC_WEBHOOK_MUTATE_H
#define MC_WEBHOOK_MUTATE_H

#include <stddef.h>

struct store;

#define WEBHOOK_VOLUME "model-cache"
#define WEBHOOK_MOUNT_PATH "/mnt/models"

/* What happened, for the requests_total{result} metric. */
enum webhook_result {
	WEBHOOK_MUTATED,     /* allowed with a patch */
	WEBHOOK_ALLOWED,     /* allowed unchanged */
	WEBHOOK_DENIED,      /* allowed=false */
	WEBHOOK_BAD_REQUEST, /* HTTP 4xx */
};
const char *webhook_result_name(enum webhook_result r);

struct webhook_view {
	struct store *caches;    /* ModelCaches, keys "ns/name" */
	struct store *clusters;  /* InferenceClusters, keys "name" */
};

/* Decide on body (len bytes, need not be NUL-terminated). *status is the
 * HTTP status (200, 400 or 404); *out (malloc'd, the caller's) is the
 * AdmissionReview JSON for 200, a one-line text reason otherwise. */
enum webhook_result webhook_review(const struct webhook_view *v, const char *cluster, const char *body, size_t len,
				   int *status, char **out);

#endif
