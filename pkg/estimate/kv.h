/* KV cache sizing (docs/estimation.md, "KV cache").
 *
 * Per layer type: full attention 2 x kv_heads x head_dim x bytes per token
 * (head_dim from head_dim / key_length, never hidden/heads when given);
 * sliding-window layers hold min(context, window + batch) tokens, chunked
 * local attention layers (Llama 4) min(context, chunk + batch); MLA holds
 * one latent (kv_lora_rank + qk_rope_head_dim) x bytes per token; recurrent /
 * linear-attention layers a fixed state per sequence. */
#ifndef MC_ESTIMATE_KV_H
#define MC_ESTIMATE_KV_H

#include <stdint.h>

#include "estimate/arch.h"

/* KV element size as block_bytes per block elements, so that quantized
 * caches are exact: fp16/bf16 2/1, fp8 1/1, fp32 4/1, q8_0 34/32, q4_0 18/32. */
struct kv_dtype {
	const char *name;       /* static, canonical */
	int64_t block;
	int64_t block_bytes;
};

/* Parse a --kv-cache-dtype (vLLM: auto, fp8, fp8_e4m3, fp8_e5m2, bfloat16,
 * float16) or --cache-type-k (llama.cpp: f16, bf16, f32, q8_0, q4_0, q4_1,
 * q5_0, q5_1, iq4_nl) value. "auto"/NULL => the model's dtype (2 bytes for
 * bf16/fp16 and for fp32 models, which engines serve in 16 bit).
 * 0 or -EINVAL. */
int kv_dtype_parse(const char *s, const struct model_arch *a, struct kv_dtype *out);

/* Bytes per token of the layers whose cache grows with the context (full
 * attention + MLA), in whole bytes for the given dtype. The figures asked by
 * the issue: Llama-3.1-8B 131072, Qwen3-0.6B 114688, TinyLlama 22528 (fp16). */
int64_t kv_bytes_per_token(const struct model_arch *a, const struct kv_dtype *dt);

/* Total KV bytes for `context` tokens x `sequences`; `batch` = tokens
 * processed at once (sliding windows keep window + batch; 512 if 0). */
int64_t kv_cache_bytes(const struct model_arch *a, const struct kv_dtype *dt,
		       int64_t context, int64_t sequences, int64_t batch);

#endif
