/* Engine overhead and budgets.
 *
 * llama.cpp (ggml-cuda): a CUDA context costs ~450 MiB per device before any
 * buffer (measured figure quoted in llama.cpp discussions #3847 and in the
 * `--fit` work); the compute buffer of a graph is dominated by the logits
 * (n_ubatch x n_vocab x f32) plus activations (n_ubatch x 4 hidden x f32);
 * `--fit-target` keeps 1 GiB free by default (common/arg.cpp).
 * vLLM (docs "GPU memory utilization", worker profile_run): the budget is
 * gpu_memory_utilization x TOTAL memory per GPU and must hold the weights, the
 * activation peak of a max_num_batched_tokens profile run (8192 tokens by
 * default for the OpenAI server) and the sampler's logits (max_num_seqs 256 x
 * vocab x f32), ~1 GiB of non-torch memory (CUDA context, NCCL, graphs), and
 * the KV cache for at least one full-length sequence. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "estimate/fit.h"
#include "estimate/satmath.h"

int estimate_engine_parse(const char *s, enum estimate_engine *out)
{
	if (s == NULL || strcasecmp(s, "vllm") == 0) {
		*out = ENGINE_VLLM;
		return 0;
	}
	if (strcasecmp(s, "llamacpp") == 0 || strcasecmp(s, "llama.cpp") == 0 ||
	    strcasecmp(s, "llama-cpp") == 0) {
		*out = ENGINE_LLAMACPP;
		return 0;
	}
	return -EINVAL;
}

const char *estimate_engine_name(enum estimate_engine e)
{
	return e == ENGINE_LLAMACPP ? "llamacpp" : "vllm";
}

#define LLAMACPP_CUDA_CONTEXT (450 * MIB)
#define LLAMACPP_FIT_TARGET GIB
#define LLAMACPP_UBATCH 512
#define VLLM_NON_TORCH GIB
#define VLLM_BATCHED_TOKENS 8192
#define VLLM_MAX_SEQS 256

int64_t estimate_overhead_bytes(enum estimate_engine e, const struct model_arch *a)
{
	int64_t hidden = a && a->hidden > 0 ? a->hidden : 4096;
	int64_t vocab = a && a->vocab > 0 ? a->vocab : 32000;
	int64_t inter = a && a->intermediate > 0 ? a->intermediate : sat_mul(4, hidden);
	if (e == ENGINE_LLAMACPP) {
		int64_t compute = sat_mul3(LLAMACPP_UBATCH, sat_add(vocab, sat_mul(4, hidden)), 4);
		return sat_add(LLAMACPP_CUDA_CONTEXT + LLAMACPP_FIT_TARGET, compute);
	}
	/* activations in 16 bit: residual + attention in/out (2 hidden) and the
	 * MLP's gate/up (2 intermediate) per token */
	int64_t act = sat_mul3(VLLM_BATCHED_TOKENS, sat_add(sat_mul(2, hidden), sat_mul(2, inter)), 2);
	int64_t logits = sat_mul3(VLLM_MAX_SEQS, vocab, 4);
	return sat_add(VLLM_NON_TORCH, sat_add(act, logits));
}

int64_t estimate_budget_discrete(int64_t per_gpu_bytes, int gpus, double utilization)
{
	if (utilization <= 0 || utilization > 1)
		utilization = 0.9;
	if (gpus < 1)
		gpus = 1;
	double b = (double)per_gpu_bytes * utilization;
	if (!(b > 0))
		return 0;
	return sat_mul(b >= 9.2e18 ? INT64_MAX : (int64_t)b, gpus);
}

int64_t estimate_budget_unified(int64_t total_bytes)
{
	double f = total_bytes <= 36 * GIB ? 0.67 : 0.75;
	if (total_bytes <= 0)
		return 0;
	return (int64_t)((double)total_bytes * f);   /* < INT64_MAX */
}

int64_t estimate_budget_unified_free(int64_t total_bytes, int64_t in_use_bytes)
{
	int64_t b = estimate_budget_unified(total_bytes);
	if (in_use_bytes > 0)
		b = in_use_bytes >= b ? 0 : b - in_use_bytes;
	return b;
}

void estimate_memory_compute(int64_t weight_bytes, int64_t kv_bytes, int64_t overhead_per_gpu,
			     int gpus, struct estimate_memory *out)
{
	if (gpus < 1)
		gpus = 1;
	out->weight_bytes = weight_bytes;
	out->kv_cache_bytes = kv_bytes;
	out->overhead_bytes = sat_mul(overhead_per_gpu, gpus);
	out->total_bytes = sat_add(sat_add(weight_bytes, kv_bytes), out->overhead_bytes);
}
