/* Replica placement for a ModelDeployment (docs/concepts.md "ModelDeployment",
 * docs/estimation.md "Budgets").
 *
 * PURE: no I/O, no clock, no globals. The caller observes the clusters (GPU
 * nodes with their free GPUs, whether LeaderWorkerSets are served) and the
 * replicas already placed, and gets back where every replica goes, or why the
 * first one that cannot be placed cannot, with real numbers.
 *
 * Memory per GPU for tensor t and pipeline p (vLLM's sharding):
 *   weights / (t x p) + KV / p / min(t, kv_heads) + engine overhead
 * (vLLM replicates KV heads when t exceeds them, so a rank then holds one
 * whole head). Budget per GPU: memory x gpuMemoryUtilization on discrete
 * GPUs; unified memory: total x 0.67 up to 36 GiB, x 0.75 above, minus the
 * memory in use.
 *
 * Order of attempts, over every candidate cluster (in the order given) and
 * every pool (nodes of one product, GPU memory and count): one GPU; one node
 * with k GPUs (smallest k; k divides the attention heads); m whole nodes of
 * one pool (all GPUs of each node: tensor = GPUs per node, pipeline = m).
 * Explicit tensor / pipeline / nodes filter these shapes (a tensor size that
 * does not divide the heads is InvalidTopology). A node offers its `free`
 * GPUs; memory that fits on GPUs that are taken is InsufficientGPUs.
 *
 * Stability: a previous placement (replica < replicas) stays as it is while
 * its cluster is a candidate, its nodes exist and the model still fits them;
 * new replicas take the lowest free replica numbers. All single-node replicas
 * on one cluster share one shape (one Deployment), as do multi-node ones
 * (one LeaderWorkerSet). */
#ifndef MC_PLACEMENT_PLACEMENT_H
#define MC_PLACEMENT_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PLACEMENT_MAX_REPLICAS 10000
#define PLACEMENT_MAX_NODES 4096      /* per cluster */
#define PLACEMENT_MAX_CLUSTERS 256
#define PLACEMENT_MAX_GPUS_PER_NODE 256
#define PLACEMENT_MAX_SHAPES 65536    /* (cluster, pool, nodes x GPUs) combinations tried */

/* One GPU node as observed (all strings borrowed). */
struct placement_node {
	const char *name;
	const char *product;      /* NULL = unknown */
	int64_t memory_bytes;     /* per GPU; unified: the node's whole memory; 0 = unknown */
	int gpus;                 /* allocatable nvidia.com/gpu */
	int free;                 /* gpus minus what others already hold */
	bool unified;
	int64_t in_use_bytes;     /* unified: memory already in use */
};

struct placement_cluster {
	const char *name;
	const struct placement_node *nodes;
	size_t nnodes;
	bool lws;                 /* serves leaderworkerset.x-k8s.io/v1 */
};

struct placement_model {
	int64_t weight_bytes;
	int64_t kv_cache_bytes;   /* whole KV cache: context x sequences */
	int64_t overhead_per_gpu;
	int64_t heads;            /* attention heads; 0 = unknown (any tensor size) */
	int64_t kv_heads;         /* 0 = unknown (KV split like the weights) */
	double utilization;       /* gpuMemoryUtilization; outside (0, 1] => 0.9 */
	int tensor, pipeline, nodes;   /* explicit; 0 = decide */
};

/* One placed replica. Input (previous placements: strings borrowed) and
 * output (placement_result: every string owned by the result). */
struct placement_slot {
	int replica;
	char *cluster;
	int nodes, gpus_per_node, tensor, pipeline;
	char **node_names;        /* nodes entries */
	char *message;
};

enum placement_reason {
	PLACEMENT_PLACED = 0,               /* every replica placed */
	PLACEMENT_NO_CLUSTERS,              /* no candidate cluster */
	PLACEMENT_INSUFFICIENT_VRAM,
	PLACEMENT_INSUFFICIENT_GPUS,
	PLACEMENT_INVALID_TOPOLOGY,
	PLACEMENT_LWS_MISSING,
};

struct placement_result {
	enum placement_reason reason;
	struct placement_slot *slots;     /* sorted by replica */
	size_t nslots;
	char *message;                    /* the Scheduled condition's message */
	/* the single-GPU picture (status.estimate) */
	int64_t weight_bytes, kv_cache_bytes, overhead_bytes, total_bytes;
};

/* The condition reason for a verdict ("InsufficientVRAM", ...); "Placed". */
const char *placement_reason_str(enum placement_reason r);

/* Decide. prev may be NULL (nprev 0). Returns 0 and fills *out (free with
 * placement_result_cleanup); -EINVAL for NULL arguments, replicas outside
 * [0, PLACEMENT_MAX_REPLICAS], more clusters/nodes than the limits or a node
 * with more than PLACEMENT_MAX_GPUS_PER_NODE GPUs; -E2BIG when the clusters
 * give more than PLACEMENT_MAX_SHAPES shapes to try. */
int placement_decide(const struct placement_model *m, const struct placement_cluster *clusters,
		     size_t nclusters, const struct placement_slot *prev, size_t nprev, int replicas,
		     struct placement_result *out);
void placement_result_cleanup(struct placement_result *r);

/* Bytes one GPU needs for tensor t x pipeline p (see above). */
int64_t placement_per_gpu_bytes(const struct placement_model *m, int tensor, int pipeline);
/* Usable bytes of one GPU of node n. */
int64_t placement_gpu_budget(const struct placement_model *m, const struct placement_node *n);

#endif
