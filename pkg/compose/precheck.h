/* VRAM precheck of a ModelCache on one InferenceCluster (docs/concepts.md, "VRAM precheck").
 * PURE: weight bytes come from the caller's estimate.
 *
 * The cluster's GPU pools are read from status.gpuPools
 * ({memoryBytes, perNode, nodes}) when present, else spec.gpus
 * ({memory: "80Gi", perNode, nodes}). The largest node = max over pools of
 * perNode x memory. weight x safetyFactor larger than every pool's node =>
 * SKIP with the message of "VRAM precheck". Bypasses (verdict BYPASS, reason is the
 * metric label): precheck.vram Disabled ("disabled"), annotation
 * modelcache.dev/multi-node-sharded "true" when the model would not fit
 * ("multi_node_sharded"), weight unknown ("size_unknown"), no pool or a pool
 * with unknown memory ("gpu_inventory_unknown"). */
#ifndef MC_COMPOSE_PRECHECK_H
#define MC_COMPOSE_PRECHECK_H

#include <json-c/json.h>
#include <stdint.h>

enum precheck_verdict { PRECHECK_FITS = 0, PRECHECK_SKIP, PRECHECK_BYPASS };

struct precheck_result {
	enum precheck_verdict verdict;
	const char *bypass_reason;   /* static; with BYPASS */
	int64_t needed_bytes;        /* weight x safetyFactor */
	int64_t available_bytes;     /* the largest node's aggregate GPU memory */
	int per_node;                /* of the largest node */
	int64_t gpu_bytes;           /* per GPU, of the largest node */
	char message[512];           /* with SKIP */
};

/* weight_bytes <= 0 = unknown. */
int compose_precheck(json_object *mc, json_object *ic, int64_t weight_bytes, struct precheck_result *out);

#endif
