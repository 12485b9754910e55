/* What an engine's command line says about memory and topology (docs/concepts.md,
 * "ModelDeployment"): vLLM `--max-model-len`, `--kv-cache-dtype`, `--gpu-memory-utilization`,
 * `--tensor-parallel-size/-tp`, `--pipeline-parallel-size/-pp`,
 * `--max-num-seqs`; llama.cpp `-c/--ctx-size`, `-ctk/--cache-type-k`,
 * `-np/--parallel`. Both `--flag=value` and `--flag value` forms. Pure. */
#ifndef MC_ESTIMATE_ENGINE_H
#define MC_ESTIMATE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

struct engine_args {
	int64_t max_model_len;      /* 0 = not given */
	int tensor;                 /* 0 = not given */
	int pipeline;               /* 0 = not given */
	double gpu_memory_utilization;  /* 0 = not given */
	int64_t max_num_seqs;       /* 0 = not given (llama.cpp --parallel) */
	char kv_cache_dtype[24];    /* "" = not given */
	const char *bad_flag;       /* set (borrowed) when a value does not parse */
};

/* 0, or -EINVAL when a recognised flag has an invalid value (out->bad_flag
 * names it). Unknown flags are ignored. */
int engine_args_parse(const char *const *args, size_t n, struct engine_args *out);

#endif
