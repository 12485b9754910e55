/* InferenceCluster reconciler (docs/concepts.md, "InferenceCluster"): connection check
 * (GET /version => Connected with reasons Connected / Unreachable /
 * Unauthorized / KubeconfigInvalid, re-checked every 30 s and when a watch on
 * that cluster fails), GPU pools (spec.gpus, else NVIDIA GPU Feature
 * Discovery labels on Nodes with status.allocatable fallback), the remote
 * namespace ensured, status.cache summary from the managed PVCs, Ready.
 * Maintains the manager's cluster registry. */
#ifndef MC_CONTROLLERS_INFERENCECLUSTER_H
#define MC_CONTROLLERS_INFERENCECLUSTER_H

#include <json-c/json.h>

#include "manager/manager.h"

int inferencecluster_controller_setup(struct manager *m, const struct operator_options *o);

/* Pure helpers (unit-tested). nodes: json array of Node objects (borrowed);
 * returns a new json array of pools {product, memoryBytes, perNode, nodes,
 * unifiedMemory, source: "NodeLabels"} sorted by product then memory. */
json_object *ic_pools_from_nodes(json_object *nodes);
/* spec.gpus (borrowed) -> pools with source "Spec"; NULL on an invalid entry. */
json_object *ic_pools_from_spec(json_object *gpus);

#endif
