/* The pod webhook's decision, without the server (docs/concepts.md, "Pod
 * webhook"): an admission.k8s.io/v1 AdmissionReview in, the HTTP status and
 * the AdmissionReview answer out.
 *
 * A pod labelled modelcache.dev/cache=<name> on CREATE:
 *   - no ModelCache <ns>/<name> in the cache store => denied (403):
 *     "ModelCache <ns>/<name> not found: create it or remove the
 *     modelcache.dev/cache label";
 *   - otherwise allowed with a JSONPatch (base64, patchType JSONPatch) adding
 *     the volume "model-cache" (the cache PVC: child_name("modelcache", ns,
 *     name)) unless a volume of that name exists, and a read-only mount of it
 *     at /mnt/models in every container and init container that does not
 *     already mount that path. Nothing to add => allowed without a patch.
 *   - the cache not Ready on the local cluster (the InferenceCluster whose
 *     spec.connection has "local") => still allowed and mounted, with an
 *     AdmissionReview warning naming the phase.
 * Unlabelled pods and other operations are allowed unchanged.
 *
 * Bad requests get an HTTP 400 with a plain-text reason (never a crash):
 * not JSON, not an object, no "request", no request.uid, a request.object
 * that is not an object.
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
 * HTTP status (200 or 400); *out (malloc'd, the caller's) is the
 * AdmissionReview JSON for 200, a one-line text reason for 400. */
enum webhook_result webhook_review(const struct webhook_view *v, const char *body, size_t len, int *status,
				   char **out);

#endif
