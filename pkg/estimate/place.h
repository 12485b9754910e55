/* Placement of one model server replica on GPU pools (docs/concepts.md, "ModelDeployment").
 * Pure functions; no I/O. */
#ifndef MC_ESTIMATE_PLACE_H
#define MC_ESTIMATE_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One kind of GPU node in a cluster (InferenceCluster status.gpuPools). */
struct gpu_pool {
	const char *product;    /* borrowed */
	int64_t memory_bytes;   /* per GPU; 0 = unknown (fit fails open) */
	int per_node;
	int nodes;
	bool unified_memory;
};

struct place_request {
	const char *cluster;        /* for messages */
	int64_t weight_bytes;
	int64_t kv_cache_bytes;     /* whole KV cache (context x sequences) */
	int64_t overhead_per_gpu;   /* estimate_overhead_bytes() */
	int64_t attention_heads;    /* 0 unknown: any k accepted */
	double utilization;         /* gpuMemoryUtilization; <= 0 => 0.9 */
	int tensor;                 /* 0 = decide */
	int pipeline;               /* 0 = decide */
};

enum place_status {
	PLACE_OK = 0,
	PLACE_INSUFFICIENT_VRAM = 1,   /* Scheduled=False/InsufficientVRAM */
	PLACE_INVALID_TOPOLOGY = 2,    /* Scheduled=False/InvalidTopology */
	PLACE_NO_GPUS = 3,             /* no pools */
};

struct placement {
	enum place_status status;
	size_t pool;            /* index into pools[] */
	int nodes;              /* 1 = one Deployment, > 1 = LeaderWorkerSet */
	int gpus_per_node;
	int tensor;
	int pipeline;
	int64_t required_bytes; /* weights + kv + overhead x gpus */
	int64_t budget_bytes;   /* of the chosen GPUs (or the largest node on failure) */
	bool memory_unknown;    /* placed on a pool without memory info (fail open) */
	char message[512];      /* human text: why / what (always set) */
};

/* Try, in order: one GPU; one node with the smallest k GPUs (k | heads);
 * several whole nodes of one pool (tensor = per_node, pipeline = nodes).
 * Explicit tensor/pipeline are validated (tensor must divide the heads; the
 * world size must fit one node or whole nodes). Always returns 0 and fills
 * *out (status says the verdict); -EINVAL only for NULL arguments. */
int estimate_place(const struct gpu_pool *pools, size_t npools, const struct place_request *req,
		   struct placement *out);

#endif
