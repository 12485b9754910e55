/* ModelCache reconciler (docs/concepts.md, "ModelCache": Matching to Deletion).
 *
 * Level-triggered: a key "ns/name" is reconciled from the informer caches:
 * validate -> finalizer / deletion -> match connected InferenceClusters ->
 * size (spec.size, else the estimate, cached per (repo, revision, include,
 * exclude, token) so it does not run on every reconcile; else
 * --default-cache-size with SizeEstimated=False and a Warning event) ->
 * per cluster: VRAM precheck, then Namespace, PVC, token Secret copy and
 * hydration Job from pkg/compose, applied only when the desired-hash
 * differs -> status from pkg/status written only when it differs -> events
 * of the transitions, metrics. Failed clusters are retried with backoff (1m,
 * 2m, 4m .. 1h) or at once when modelcache.dev/retry changes. Objects are
 * removed where the cache no longer matches, and on deletion (finalizer
 * modelcache.dev/cleanup; a cluster that cannot be reached keeps it and is
 * named in condition CleanupBlocked).
 *
 * Watches: ModelCaches (self), InferenceClusters and Secrets on the control
 * plane (map to the caches concerned), PVCs and Jobs labelled
 * app.kubernetes.io/managed-by=modelcache-operator on every cluster (mapped
 * by the cache labels). No polling: timed requeues only for retry backoff
 * and for clusters that are down or not synced yet. */
#ifndef MC_CONTROLLERS_MODELCACHE_H
#define MC_CONTROLLERS_MODELCACHE_H

#include "manager/manager.h"
#include "manager/options.h"

/* Creates the controller, registers it with the manager and wires its
 * watches. The manager owns the controller; the reconciler state lives
 * until the process exits. 0 or negative errno. */
int modelcache_controller_setup(struct manager *m, const struct operator_options *o);

#endif
