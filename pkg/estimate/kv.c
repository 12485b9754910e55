/* KV cache sizing. Rules (docs/estimation.md, "KV cache"), checked against the engines:
 * vLLM FullAttentionSpec page size = 2 x block x kv_heads x head_size x dtype;
 * SlidingWindowSpec keeps window + batch tokens, ChunkedLocalAttentionSpec
 * chunk + batch tokens; MLAAttentionSpec one latent
 * (kv_lora_rank + qk_rope_head_dim) per token; llama.cpp llama_kv_cache
 * likewise, with the SWA cache sized n_swa + n_ubatch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "estimate/kv.h"
#include "estimate/satmath.h"

static const struct kv_dtype table[] = {
	{"fp16", 1, 2}, {"float16", 1, 2}, {"f16", 1, 2}, {"half", 1, 2},
	{"bf16", 1, 2}, {"bfloat16", 1, 2},
	{"fp32", 1, 4}, {"float32", 1, 4}, {"f32", 1, 4},
	{"fp8", 1, 1}, {"fp8_e4m3", 1, 1}, {"fp8_e5m2", 1, 1}, {"fp8_inc", 1, 1},
	{"q8_0", 32, 34},   /* ggml block sizes (ggml_types.c) */
	{"q5_1", 32, 24},
	{"q5_0", 32, 22},
	{"q4_1", 32, 20},
	{"q4_0", 32, 18},
	{"iq4_nl", 32, 18},
};

int kv_dtype_parse(const char *s, const struct model_arch *a, struct kv_dtype *out)
{
	if (s == NULL || *s == 0 || strcasecmp(s, "auto") == 0) {
		/* engines serve fp32 checkpoints in 16 bit (vLLM dtype=auto) */
		out->name = a && a->dtype_bytes == 2 && strstr(a->dtype, "bf") ? "bf16" : "fp16";
		out->block = 1;
		out->block_bytes = 2;
		return 0;
	}
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcasecmp(table[i].name, s) == 0) {
			*out = table[i];
			return 0;
		}
	return -EINVAL;
}

static int64_t bytes_of(int64_t elements, const struct kv_dtype *dt)
{
	/* whole blocks (llama.cpp rows are block multiples) */
	return sat_mul(sat_add(elements, dt->block - 1) / dt->block, dt->block_bytes);
}

static int64_t v_dim(const struct model_arch *a)
{
	return a->v_head_dim > 0 ? a->v_head_dim : a->head_dim;
}

/* Elements per token of ONE attention layer with a growing cache. */
static int64_t layer_elements(const struct model_arch *a, int64_t attn_layers)
{
	if (a->kv_lora_rank > 0)
		return sat_add(a->kv_lora_rank, a->qk_rope_head_dim);
	int64_t kvh = a->kv_heads;
	if (a->kv_heads_sum > 0 && attn_layers > 0)
		kvh = a->kv_heads_sum / attn_layers;   /* per-layer counts: mean */
	return sat_mul(kvh, sat_add(a->head_dim, v_dim(a)));
}

static int64_t attention_layers(const struct model_arch *a)
{
	if (a->layers <= 0)
		return 0;
	int64_t n = a->layers - (a->recurrent_layers > 0 ? a->recurrent_layers : 0);
	return n > 0 ? n : 0;
}

/* Layers holding a bounded cache: sliding window, then chunked, capped at attn. */
static void bounded_layers(const struct model_arch *a, int64_t attn, int64_t *swa, int64_t *chunked)
{
	*swa = a->sliding_window > 0 && a->swa_layers > 0 ? a->swa_layers : 0;
	if (*swa > attn)
		*swa = attn;
	*chunked = a->chunk_size > 0 && a->chunked_layers > 0 ? a->chunked_layers : 0;
	if (*chunked > attn - *swa)
		*chunked = attn - *swa;
}

int64_t kv_bytes_per_token(const struct model_arch *a, const struct kv_dtype *dt)
{
	int64_t attn = attention_layers(a), swa, chunked;
	bounded_layers(a, attn, &swa, &chunked);
	return bytes_of(sat_mul(attn - swa - chunked, layer_elements(a, attn)), dt);
}

int64_t kv_cache_bytes(const struct model_arch *a, const struct kv_dtype *dt, int64_t context,
		       int64_t sequences, int64_t batch)
{
	if (context < 0)
		context = 0;
	if (sequences < 1)
		sequences = 1;
	if (batch <= 0)
		batch = 512;
	int64_t attn = attention_layers(a), swa, chunked;
	bounded_layers(a, attn, &swa, &chunked);
	int64_t per_layer = layer_elements(a, attn);
	int64_t swa_tokens = sat_add(a->sliding_window, batch);
	if (swa_tokens > context)
		swa_tokens = context;
	/* vLLM ChunkedLocalAttentionSpec: min(chunk + batched tokens, max_model_len) */
	int64_t chunk_tokens = sat_add(a->chunk_size, batch);
	if (chunk_tokens > context)
		chunk_tokens = context;
	int64_t elements = sat_add(sat_add(sat_mul3(attn - swa - chunked, per_layer, context),
					   sat_mul3(swa, per_layer, swa_tokens)),
				   sat_mul3(chunked, per_layer, chunk_tokens));
	int64_t bytes = bytes_of(elements, dt);
	bytes = sat_add(bytes, sat_mul(a->recurrent_layers, a->recurrent_state_bytes));
	return sat_mul(bytes, sequences);
}
