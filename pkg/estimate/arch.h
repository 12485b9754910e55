/* The model architecture facts memory estimation needs, from config.json
 * (config.h) or GGUF metadata (gguf.h). Plain value type. Zero = unknown. */
#ifndef MC_ESTIMATE_ARCH_H
#define MC_ESTIMATE_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_ARCH_NAME_MAX 64

struct model_arch {
	bool known;                 /* at least layers and an attention shape were found */
	char name[MODEL_ARCH_NAME_MAX];   /* model_type / general.architecture */
	int64_t layers;
	int64_t hidden;
	int64_t intermediate;
	int64_t vocab;
	int64_t heads;              /* attention (query) heads */
	int64_t kv_heads;           /* num_key_value_heads / head_count_kv (per-layer max) */
	int64_t kv_heads_sum;       /* sum over layers when given per layer, else 0 */
	int64_t head_dim;           /* key head size (head_dim / key_length) */
	int64_t v_head_dim;         /* value head size (value_length), 0 = head_dim */
	int64_t max_context;        /* max_position_embeddings / context_length */
	int dtype_bytes;            /* torch_dtype: 2 bf16/fp16, 4 fp32, 0 unknown */
	char dtype[16];             /* "bfloat16", "float16", ... */
	/* sliding window attention */
	int64_t sliding_window;     /* tokens, 0 = none */
	int64_t swa_layers;         /* how many layers use the window */
	/* chunked local attention (Llama 4): a layer attends within its chunk */
	int64_t chunk_size;         /* attention_chunk_size tokens, 0 = none */
	int64_t chunked_layers;     /* how many layers are chunked */
	/* multi-head latent attention (DeepSeek-V2/V3) */
	int64_t kv_lora_rank;
	int64_t qk_rope_head_dim;
	/* layers without a growing KV cache (linear attention / SSM) */
	int64_t recurrent_layers;
	int64_t recurrent_state_bytes;   /* per layer per sequence */
	/* mixture of experts */
	int64_t experts;
	int64_t experts_per_tok;
	/* quantization_config */
	char quant_method[32];      /* lowercase, "" none */
	int quant_bits;
};

#endif
