/* ModelDeployment reconciler (docs/concepts.md "ModelDeployment").
 *
 * Level-triggered: a key "ns/name" is reconciled from the informer caches in
 * named steps (reconcile.c): deletion (finalizer modelcache.dev/cleanup:
 * the workloads go on every cluster first) -> validation -> resolve the
 * ModelCache -> estimate (weights from the cache's status.estimate, the
 * architecture from the Hub on a background thread, never on a worker) ->
 * candidate clusters (Connected, both selectors, the cache not Skipped
 * there) -> observe each (GPU Nodes, the pods holding GPUs, LeaderWorkerSet
 * discovery) -> place (pkg/placement: deterministic and stable) -> gate on
 * the cache being Ready on a cluster -> compose one Deployment and/or one
 * LeaderWorkerSet per cluster (pkg/compose, applied only when the
 * desired-hash differs), remove them where no replica is placed any more ->
 * Available from the workloads' readiness -> the cache's lastUsedTime (at
 * most hourly) -> status written only when it differs.
 *
 * Watches: ModelDeployments (self), ModelCaches (-> the deployments that
 * reference them), InferenceClusters (-> all), and on every cluster Nodes
 * and Pods that request nvidia.com/gpu (-> all deployments), the
 * Deployments and LeaderWorkerSets it manages (-> their owner by label). */
#ifndef MC_CONTROLLERS_MODELDEPLOYMENT_H
#define MC_CONTROLLERS_MODELDEPLOYMENT_H

#include "manager/manager.h"
#include "manager/options.h"

/* Creates the controller, registers it with the manager and wires its
 * watches; the manager owns it. 0 or negative errno. */
int modeldeployment_controller_setup(struct manager *m, const struct operator_options *o);

#endif
