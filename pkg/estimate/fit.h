/* Engine overhead, budgets and the fit verdict (docs/estimation.md, "Engine overhead", "Budgets"). */
#ifndef MC_ESTIMATE_FIT_H
#define MC_ESTIMATE_FIT_H

#include <stdbool.h>
#include <stdint.h>

#include "estimate/arch.h"

#define GIB ((int64_t)1 << 30)
#define MIB ((int64_t)1 << 20)

enum estimate_engine { ENGINE_VLLM = 0, ENGINE_LLAMACPP = 1 };

int estimate_engine_parse(const char *s, enum estimate_engine *out);  /* 0 / -EINVAL */
const char *estimate_engine_name(enum estimate_engine e);

/* Engine overhead per GPU (bytes) beyond weights and KV cache; see fit.c for
 * the constants and their sources. */
int64_t estimate_overhead_bytes(enum estimate_engine e, const struct model_arch *a);

/* Usable bytes: discrete = total x utilization (utilization <= 0 => 0.9);
 * unified = total x 0.67 up to 36 GiB, x 0.75 above. */
int64_t estimate_budget_discrete(int64_t per_gpu_bytes, int gpus, double utilization);
int64_t estimate_budget_unified(int64_t total_bytes);
/* Unified memory minus what other processes already use (docs/estimation.md, "Budgets"). */
int64_t estimate_budget_unified_free(int64_t total_bytes, int64_t in_use_bytes);

/* The whole memory picture for one model served one way. */
struct estimate_memory {
	int64_t weight_bytes;
	int64_t kv_cache_bytes;
	int64_t overhead_bytes;  /* per GPU x number of GPUs */
	int64_t total_bytes;     /* weights + kv + overhead */
};

/* weights + kv + overhead x gpus (gpus < 1 => 1). */
void estimate_memory_compute(int64_t weight_bytes, int64_t kv_bytes, int64_t overhead_per_gpu,
			     int gpus, struct estimate_memory *out);

/* Does `m` fit in `budget_bytes`? (total <= budget) */
static inline bool estimate_fits(const struct estimate_memory *m, int64_t budget_bytes)
{
	return m->total_bytes <= budget_bytes;
}

/* ModelCache VRAM precheck (docs/concepts.md): weight_bytes x safety_factor against one
 * node's aggregate GPU memory (per_node x memory). */
static inline bool estimate_precheck_fits(int64_t weight_bytes, double safety_factor,
					  int64_t node_bytes)
{
	if (safety_factor <= 0)
		safety_factor = 1.0;
	return (double)weight_bytes * safety_factor <= (double)node_bytes;
}

#endif
