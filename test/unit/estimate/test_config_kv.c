/* config.json parsing and KV cache bytes for real architectures. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "estimate/config.h"
#include "estimate/fit.h"
#include "estimate/gguf.h"
#include "estimate/kv.h"
#include "fixture.h"

static const char LLAMA31_8B[] =
	"{\"architectures\":[\"LlamaForCausalLM\"],\"attention_bias\":false,\"bos_token_id\":128000,"
	"\"eos_token_id\":128001,\"hidden_act\":\"silu\",\"hidden_size\":4096,\"initializer_range\":0.02,"
	"\"intermediate_size\":14336,\"max_position_embeddings\":131072,\"mlp_bias\":false,"
	"\"model_type\":\"llama\",\"num_attention_heads\":32,\"num_hidden_layers\":32,"
	"\"num_key_value_heads\":8,\"pretraining_tp\":1,\"rms_norm_eps\":1e-05,\"rope_scaling\":"
	"{\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,"
	"\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"},\"rope_theta\":500000.0,"
	"\"tie_word_embeddings\":false,\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.43.0.dev0\","
	"\"use_cache\":true,\"vocab_size\":128256}";

static const char QWEN3_06B[] =
	"{\"architectures\":[\"Qwen3ForCausalLM\"],\"attention_bias\":false,\"attention_dropout\":0.0,"
	"\"bos_token_id\":151643,\"eos_token_id\":151645,\"head_dim\":128,\"hidden_act\":\"silu\","
	"\"hidden_size\":1024,\"initializer_range\":0.02,\"intermediate_size\":3072,"
	"\"max_position_embeddings\":40960,\"max_window_layers\":28,\"model_type\":\"qwen3\","
	"\"num_attention_heads\":16,\"num_hidden_layers\":28,\"num_key_value_heads\":8,"
	"\"rms_norm_eps\":1e-06,\"rope_scaling\":null,\"rope_theta\":1000000,\"sliding_window\":null,"
	"\"tie_word_embeddings\":true,\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.51.0\","
	"\"use_cache\":true,\"use_sliding_window\":false,\"vocab_size\":151936}";

static const char TINYLLAMA[] =
	"{\"architectures\":[\"LlamaForCausalLM\"],\"bos_token_id\":1,\"eos_token_id\":2,"
	"\"hidden_act\":\"silu\",\"hidden_size\":2048,\"initializer_range\":0.02,"
	"\"intermediate_size\":5632,\"max_position_embeddings\":2048,\"model_type\":\"llama\","
	"\"num_attention_heads\":32,\"num_hidden_layers\":22,\"num_key_value_heads\":4,"
	"\"pretraining_tp\":1,\"rms_norm_eps\":1e-05,\"rope_scaling\":null,\"rope_theta\":10000.0,"
	"\"tie_word_embeddings\":false,\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.35.0\","
	"\"use_cache\":true,\"vocab_size\":32000}";

/* Gemma-3 4B (multimodal: the language model is under text_config) */
static const char GEMMA3_4B[] =
	"{\"architectures\":[\"Gemma3ForConditionalGeneration\"],\"boi_token_index\":255999,"
	"\"eoi_token_index\":256000,\"image_token_index\":262144,\"mm_tokens_per_image\":256,"
	"\"model_type\":\"gemma3\",\"text_config\":{\"head_dim\":256,\"hidden_size\":2560,"
	"\"intermediate_size\":10240,\"model_type\":\"gemma3_text\",\"num_attention_heads\":8,"
	"\"num_hidden_layers\":34,\"num_key_value_heads\":4,\"query_pre_attn_scalar\":256,"
	"\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"linear\"},\"sliding_window\":1024,"
	"\"sliding_window_pattern\":6,\"max_position_embeddings\":131072},"
	"\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.50.0.dev0\","
	"\"vision_config\":{\"hidden_size\":1152,\"image_size\":896,\"intermediate_size\":4304,"
	"\"model_type\":\"siglip_vision_model\",\"num_attention_heads\":16,\"num_hidden_layers\":27,"
	"\"patch_size\":14,\"vision_use_head\":false}}";

static const char DEEPSEEK_V3[] =
	"{\"architectures\":[\"DeepseekV3ForCausalLM\"],\"first_k_dense_replace\":3,"
	"\"hidden_size\":7168,\"intermediate_size\":18432,\"kv_lora_rank\":512,"
	"\"max_position_embeddings\":163840,\"model_type\":\"deepseek_v3\",\"moe_intermediate_size\":2048,"
	"\"n_routed_experts\":256,\"n_shared_experts\":1,\"num_attention_heads\":128,"
	"\"num_experts_per_tok\":8,\"num_hidden_layers\":61,\"num_key_value_heads\":128,"
	"\"q_lora_rank\":1536,\"qk_nope_head_dim\":128,\"qk_rope_head_dim\":64,"
	"\"quantization_config\":{\"activation_scheme\":\"dynamic\",\"fmt\":\"e4m3\","
	"\"quant_method\":\"fp8\",\"weight_block_size\":[128,128]},\"torch_dtype\":\"bfloat16\","
	"\"v_head_dim\":128,\"vocab_size\":129280}";

static const char MIXTRAL[] =
	"{\"architectures\":[\"MixtralForCausalLM\"],\"hidden_size\":4096,\"intermediate_size\":14336,"
	"\"max_position_embeddings\":32768,\"model_type\":\"mixtral\",\"num_attention_heads\":32,"
	"\"num_experts_per_tok\":2,\"num_hidden_layers\":32,\"num_key_value_heads\":8,"
	"\"num_local_experts\":8,\"sliding_window\":null,\"torch_dtype\":\"bfloat16\",\"vocab_size\":32000}";

/* Qwen3-Next: 3 of every 4 layers are gated-delta-net linear attention */
static const char QWEN3_NEXT[] =
	"{\"model_type\":\"qwen3_next\",\"num_hidden_layers\":8,\"hidden_size\":2048,"
	"\"num_attention_heads\":16,\"num_key_value_heads\":2,\"head_dim\":256,"
	"\"layer_types\":[\"linear_attention\",\"linear_attention\",\"linear_attention\",\"full_attention\","
	"\"linear_attention\",\"linear_attention\",\"linear_attention\",\"full_attention\"],"
	"\"linear_num_value_heads\":32,\"linear_num_key_heads\":16,\"linear_key_head_dim\":128,"
	"\"linear_value_head_dim\":128,\"linear_conv_kernel_dim\":4,\"torch_dtype\":\"bfloat16\"}";

/* Gemma-3 27B IT as published: text_config has neither layer_types nor
 * sliding_window_pattern nor max_position_embeddings nor vocab_size (the
 * Gemma3TextConfig defaults apply: pattern 6, 131072, 262208). */
static const char GEMMA3_27B[] =
	"{\"architectures\":[\"Gemma3ForConditionalGeneration\"],\"boi_token_index\":255999,"
	"\"eoi_token_index\":256000,\"eos_token_id\":[1,106],\"image_token_index\":262144,"
	"\"initializer_range\":0.02,\"mm_tokens_per_image\":256,\"model_type\":\"gemma3\","
	"\"text_config\":{\"head_dim\":128,\"hidden_size\":5376,\"intermediate_size\":21504,"
	"\"model_type\":\"gemma3_text\",\"num_attention_heads\":32,\"num_hidden_layers\":62,"
	"\"num_key_value_heads\":16,\"query_pre_attn_scalar\":168,"
	"\"rope_scaling\":{\"factor\":8.0,\"rope_type\":\"linear\"},\"sliding_window\":1024},"
	"\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.50.0.dev0\","
	"\"vision_config\":{\"hidden_size\":1152,\"image_size\":896,\"intermediate_size\":4304,"
	"\"model_type\":\"siglip_vision_model\",\"num_attention_heads\":16,\"num_hidden_layers\":27,"
	"\"patch_size\":14,\"vision_use_head\":false}}";

/* Llama-4 Scout 17B-16E Instruct as published: chunked attention declared by
 * attention_chunk_size with an empty no_rope_layers (transformers then uses
 * no_rope_layer_interval, default 4: every fourth layer global, NoPE). */
static const char LLAMA4_SCOUT[] =
	"{\"architectures\":[\"Llama4ForConditionalGeneration\"],\"boi_token_index\":200080,"
	"\"eoi_token_index\":200081,\"image_token_index\":200092,\"model_type\":\"llama4\","
	"\"text_config\":{\"attention_bias\":false,\"attention_chunk_size\":8192,"
	"\"attention_dropout\":0.0,\"attn_scale\":0.1,\"attn_temperature_tuning\":4,"
	"\"bos_token_id\":200000,\"cache_implementation\":\"hybrid\","
	"\"eos_token_id\":[200001,200007,200008],\"floor_scale\":8192,\"for_llm_compressor\":false,"
	"\"head_dim\":128,\"hidden_act\":\"silu\",\"hidden_size\":5120,\"initializer_range\":0.02,"
	"\"interleave_moe_layer_step\":1,\"intermediate_size\":8192,\"intermediate_size_mlp\":16384,"
	"\"max_position_embeddings\":10485760,\"model_type\":\"llama4_text\","
	"\"no_rope_layers\":[],\"num_attention_heads\":40,\"num_experts_per_tok\":1,"
	"\"num_hidden_layers\":48,\"num_key_value_heads\":8,\"num_local_experts\":16,"
	"\"pad_token_id\":200018,\"rms_norm_eps\":1e-05,\"rope_scaling\":{\"factor\":16.0,"
	"\"high_freq_factor\":1.0,\"low_freq_factor\":1.0,\"original_max_position_embeddings\":8192,"
	"\"rope_type\":\"llama3\"},\"rope_theta\":500000.0,\"router_aux_loss_coef\":0.001,"
	"\"router_jitter_noise\":0.0,\"torch_dtype\":\"bfloat16\",\"use_cache\":true,"
	"\"use_qk_norm\":true,\"vocab_size\":202048},\"tie_word_embeddings\":false,"
	"\"torch_dtype\":\"bfloat16\",\"transformers_version\":\"4.51.0.dev0\","
	"\"vision_config\":{\"hidden_size\":1408,\"image_size\":336,\"intermediate_size\":5632,"
	"\"model_type\":\"llama4_vision_model\",\"num_attention_heads\":16,\"num_hidden_layers\":34,"
	"\"patch_size\":14,\"vision_output_dim\":4096}}";

static void parse(const char *json, struct model_arch *a)
{
	assert_int_equal(model_config_parse(json, strlen(json), a), 0);
	assert_true(a->known);
}

static int64_t per_token(const struct model_arch *a, const char *dtype)
{
	struct kv_dtype dt;
	assert_int_equal(kv_dtype_parse(dtype, a, &dt), 0);
	return kv_bytes_per_token(a, &dt);
}

static void test_llama31_8b(void **state)
{
	struct model_arch a;
	parse(LLAMA31_8B, &a);
	assert_int_equal(a.layers, 32);
	assert_int_equal(a.kv_heads, 8);
	assert_int_equal(a.head_dim, 128);
	assert_int_equal(a.max_context, 131072);
	assert_int_equal(a.vocab, 128256);
	assert_int_equal(a.dtype_bytes, 2);
	assert_int_equal(per_token(&a, "fp16"), 131072);
	assert_int_equal(per_token(&a, "auto"), 131072);
	/* the earlier tools' defect: 2 x hidden x layers x 2 is 4x too high */
	int64_t hidden_based = 2 * a.hidden * a.layers * 2;
	assert_int_equal(hidden_based, 4 * per_token(&a, NULL));
	assert_int_equal(per_token(&a, "fp8"), 65536);
	assert_int_equal(per_token(&a, "q8_0"), 65536 / 32 * 34);   /* 65536 elements */
	assert_int_equal(per_token(&a, "q4_0"), 65536 / 32 * 18);
	struct kv_dtype dt;
	kv_dtype_parse("fp16", &a, &dt);
	assert_int_equal(kv_cache_bytes(&a, &dt, 8192, 4, 0), 131072LL * 8192 * 4);
	assert_int_equal(kv_dtype_parse("int3", &a, &dt), -EINVAL);
}

static void test_qwen3_head_dim_not_hidden_over_heads(void **state)
{
	struct model_arch a;
	parse(QWEN3_06B, &a);
	assert_int_equal(a.head_dim, 128);   /* hidden/heads would be 64 */
	assert_int_equal(a.sliding_window, 0); /* use_sliding_window=false */
	assert_int_equal(per_token(&a, "bf16"), 114688);
}

static void test_tinyllama(void **state)
{
	struct model_arch a;
	parse(TINYLLAMA, &a);
	assert_int_equal(a.head_dim, 64);
	assert_int_equal(per_token(&a, "fp16"), 22528);
}

static void test_gemma3_text_config_and_sliding_window(void **state)
{
	struct model_arch a;
	parse(GEMMA3_4B, &a);
	/* language model values, not the vision tower's */
	assert_int_equal(a.layers, 34);
	assert_int_equal(a.hidden, 2560);
	assert_int_equal(a.heads, 8);
	assert_int_equal(a.kv_heads, 4);
	assert_int_equal(a.head_dim, 256);
	assert_string_equal(a.dtype, "bfloat16");
	assert_int_equal(a.sliding_window, 1024);
	/* 5 of every 6 layers windowed: 34 - 34/6 = 29 sliding, 5 full */
	assert_int_equal(a.swa_layers, 29);
	const int64_t layer = 2 * 4 * 256 * 2;   /* 4096 B per token per layer */
	assert_int_equal(per_token(&a, "bf16"), 5 * layer);
	struct kv_dtype dt;
	kv_dtype_parse("bf16", &a, &dt);
	/* sliding layers keep window + batch tokens */
	assert_int_equal(kv_cache_bytes(&a, &dt, 32768, 1, 512),
			 5 * layer * 32768 + 29 * layer * (1024 + 512));
	/* shorter context than the window: everything is full */
	assert_int_equal(kv_cache_bytes(&a, &dt, 1000, 2, 512), 34 * layer * 1000 * 2);
}

static void test_gemma3_27b_absent_keys_take_defaults(void **state)
{
	struct model_arch a;
	parse(GEMMA3_27B, &a);
	assert_int_equal(a.layers, 62);
	assert_int_equal(a.kv_heads, 16);
	assert_int_equal(a.head_dim, 128);
	assert_int_equal(a.max_context, 131072);   /* absent: Gemma3TextConfig default */
	assert_int_equal(a.vocab, 262208);
	assert_int_equal(a.sliding_window, 1024);
	/* absent pattern => 6: layers 5, 11, ..., 59 full (10), 52 windowed */
	assert_int_equal(a.swa_layers, 52);
	const int64_t layer = 2 * 16 * 128 * 2;   /* 8192 B per token per layer */
	assert_int_equal(per_token(&a, "bf16"), 81920);
	assert_int_equal(per_token(&a, "bf16"), 10 * layer);
	struct kv_dtype dt;
	kv_dtype_parse("bf16", &a, &dt);
	/* 131072 tokens: 10 full layers x 131072 + 52 x (1024 + 512) */
	assert_int_equal(kv_cache_bytes(&a, &dt, 131072, 1, 512), 11391729664LL);
	assert_int_equal(kv_cache_bytes(&a, &dt, 131072, 1, 512),
			 10 * layer * 131072 + 52 * layer * (1024 + 512));

	/* a bare gemma3_text config: every value from Gemma3TextConfig */
	parse("{\"model_type\":\"gemma3_text\"}", &a);
	assert_int_equal(a.layers, 26);
	assert_int_equal(a.heads, 8);
	assert_int_equal(a.kv_heads, 4);
	assert_int_equal(a.head_dim, 256);
	assert_int_equal(a.hidden, 2304);
	assert_int_equal(a.max_context, 131072);
	assert_int_equal(a.sliding_window, 4096);
	assert_int_equal(a.swa_layers, 22);   /* 26 - 26/6 */
	assert_int_equal(per_token(&a, "bf16"), 4 * 2 * 4 * 256 * 2);
	/* explicit values win; a null window means none */
	parse("{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":12,\"sliding_window\":null,"
	      "\"max_position_embeddings\":32768}", &a);
	assert_int_equal(a.max_context, 32768);
	assert_int_equal(a.sliding_window, 0);
	assert_int_equal(per_token(&a, "bf16"), 12 * 2 * 4 * 256 * 2);
	/* an explicit pattern still wins over the default */
	parse("{\"model_type\":\"gemma3_text\",\"num_hidden_layers\":12,"
	      "\"sliding_window_pattern\":2}", &a);
	assert_int_equal(a.swa_layers, 6);
}

static void test_llama4_chunked_attention(void **state)
{
	struct model_arch a;
	parse(LLAMA4_SCOUT, &a);
	assert_int_equal(a.layers, 48);
	assert_int_equal(a.kv_heads, 8);
	assert_int_equal(a.head_dim, 128);
	assert_int_equal(a.experts, 16);
	assert_int_equal(a.max_context, 10485760);
	assert_int_equal(a.chunk_size, 8192);
	assert_int_equal(a.chunked_layers, 36);   /* layers 3, 7, ..., 47 global */
	assert_int_equal(a.sliding_window, 0);
	const int64_t layer = 2 * 8 * 128 * 2;    /* 4096 B per token per layer */
	assert_int_equal(per_token(&a, "bf16"), 49152);
	assert_int_equal(per_token(&a, "bf16"), 12 * layer);
	struct kv_dtype dt;
	kv_dtype_parse("bf16", &a, &dt);
	/* chunked layers hold min(chunk + batch, context) tokens (vLLM) */
	assert_int_equal(kv_cache_bytes(&a, &dt, 131072, 1, 512), 7725907968LL);
	assert_int_equal(kv_cache_bytes(&a, &dt, 131072, 1, 512),
			 12 * layer * 131072 + 36 * layer * (8192 + 512));
	assert_int_equal(kv_cache_bytes(&a, &dt, 4096, 2, 512), 48 * layer * 4096 * 2);

	/* the same model declared by an explicit no_rope_layers (0 = global) */
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "{\"model_type\":\"llama4_text\",\"num_hidden_layers\":8,"
			 "\"attention_chunk_size\":1024,\"no_rope_layers\":[1,0,1,1,1,0,1,1]}");
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	parse(buf, &a);
	assert_int_equal(a.chunked_layers, 6);
	assert_int_equal(per_token(&a, "bf16"), 2 * layer);
	/* by layer_types */
	parse("{\"model_type\":\"llama4_text\",\"num_hidden_layers\":4,\"attention_chunk_size\":1024,"
	      "\"layer_types\":[\"chunked_attention\",\"full_attention\",\"full_attention\","
	      "\"full_attention\"]}", &a);
	assert_int_equal(a.chunked_layers, 1);
	assert_int_equal(per_token(&a, "bf16"), 3 * layer);
	/* by Meta's nope_layer_interval (every second layer global) */
	parse("{\"model_type\":\"llama4_text\",\"num_hidden_layers\":8,\"nope_layer_interval\":2}", &a);
	assert_int_equal(a.chunk_size, 8192);   /* absent: Llama4TextConfig default */
	assert_int_equal(a.chunked_layers, 4);
	/* a null chunk size: no chunking, every layer full */
	parse("{\"model_type\":\"llama4_text\",\"num_hidden_layers\":8,\"attention_chunk_size\":null}", &a);
	assert_int_equal(a.chunk_size, 0);
	assert_int_equal(per_token(&a, "bf16"), 8 * layer);
	/* another architecture with a chunk size but no pattern: priced full */
	parse("{\"model_type\":\"llama\",\"num_hidden_layers\":8,\"num_attention_heads\":8,"
	      "\"num_key_value_heads\":8,\"head_dim\":128,\"attention_chunk_size\":1024}", &a);
	assert_int_equal(a.chunked_layers, 0);
	assert_int_equal(per_token(&a, "bf16"), 8 * layer);
}

static void test_deepseek_v3_mla(void **state)
{
	struct model_arch a;
	parse(DEEPSEEK_V3, &a);
	assert_int_equal(a.kv_lora_rank, 512);
	assert_int_equal(a.qk_rope_head_dim, 64);
	assert_int_equal(a.experts, 256);
	assert_int_equal(a.experts_per_tok, 8);
	assert_string_equal(a.quant_method, "fp8");
	/* one latent of 512 + 64 per layer: 61 x 576 x 2 */
	assert_int_equal(per_token(&a, "bf16"), 61 * 576 * 2);
	/* MHA pricing would be 2 x 128 heads x (192 + 128)/2 ... orders of magnitude more */
	assert_true(per_token(&a, "bf16") * 50 < 2 * 128 * 192 * 2 * 61);
}

static void test_moe_and_hybrid(void **state)
{
	struct model_arch a;
	parse(MIXTRAL, &a);
	assert_int_equal(a.experts, 8);
	assert_int_equal(a.experts_per_tok, 2);
	assert_int_equal(a.sliding_window, 0);
	assert_int_equal(per_token(&a, "bf16"), 131072);
	parse(QWEN3_NEXT, &a);
	assert_int_equal(a.recurrent_layers, 6);
	assert_int_equal(per_token(&a, "bf16"), 2 * 2 * 2 * 256 * 2);
	struct kv_dtype dt;
	kv_dtype_parse("bf16", &a, &dt);
	int64_t state_b = 32 * 128 * 128 * 4 + 3 * (2 * 16 * 128 + 32 * 128) * 2;
	assert_int_equal(a.recurrent_state_bytes, state_b);
	assert_int_equal(kv_cache_bytes(&a, &dt, 1000, 3, 0),
			 (2 * 2 * 2 * 256 * 2 * 1000 + 6 * state_b) * 3);
}

static void test_config_hostile(void **state)
{
	struct model_arch a;
	assert_int_equal(model_config_parse("{", 1, &a), -EINVAL);
	assert_int_equal(model_config_parse("[]", 2, &a), -EINVAL);
	char deep[5 * 1000 + 1];
	size_t k = 0;
	for (int i = 0; i < 1000; i++) {
		memcpy(deep + k, "{\"a\":", 5);
		k += 5;
	}
	deep[k] = 0;
	assert_int_equal(model_config_parse(deep, k, &a), -EINVAL);
	/* nonsense values are ignored, not trusted */
	const char *neg = "{\"num_hidden_layers\":-5,\"num_attention_heads\":1e300,\"hidden_size\":\"x\"}";
	assert_int_equal(model_config_parse(neg, strlen(neg), &a), 0);
	assert_false(a.known);
	assert_int_equal(a.layers, 0);
	/* huge values (found by fuzz_config): the arithmetic saturates, no overflow */
	const char *big = "{\"num_hidden_layers\":200000000000000,\"num_attention_heads\":1,"
			  "\"num_key_value_heads\":200000000000000,\"head_dim\":200000000000000,"
			  "\"hidden_size\":200000000000000,\"intermediate_size\":200000000000000,"
			  "\"vocab_size\":200000000000000,\"sliding_window\":9223372036854775807,"
			  "\"sliding_window_pattern\":2,\"layer_types\":null}";
	assert_int_equal(model_config_parse(big, strlen(big), &a), 0);
	assert_int_equal(a.sliding_window, 0);   /* out of range: ignored */
	struct kv_dtype dt;
	kv_dtype_parse("q8_0", &a, &dt);
	assert_int_equal(kv_bytes_per_token(&a, &dt), INT64_MAX);
	assert_int_equal(kv_cache_bytes(&a, &dt, INT64_MAX, INT64_MAX, INT64_MAX), INT64_MAX);
	assert_int_equal(estimate_overhead_bytes(ENGINE_VLLM, &a), INT64_MAX);
	assert_int_equal(estimate_overhead_bytes(ENGINE_LLAMACPP, &a), 450 * MIB + GIB + 512LL * (1000000000000000LL) * 4);
	assert_int_equal(estimate_budget_discrete(INT64_MAX, 1000, 1.0), INT64_MAX);
}

/* The same facts from GGUF metadata. */
static void test_gguf_arch(void **state)
{
	struct fx_gguf g;
	fx_gguf_init(&g, 3);
	fx_gguf_str(&g, "general.architecture", "gemma3");
	fx_gguf_u32(&g, "gemma3.block_count", 34);
	fx_gguf_u32(&g, "gemma3.embedding_length", 2560);
	fx_gguf_u32(&g, "gemma3.attention.head_count", 8);
	fx_gguf_u32(&g, "gemma3.attention.head_count_kv", 4);
	fx_gguf_u32(&g, "gemma3.attention.key_length", 256);
	fx_gguf_u32(&g, "gemma3.attention.value_length", 256);
	fx_gguf_u32(&g, "gemma3.attention.sliding_window", 1024);
	size_t len;
	unsigned char *p = fx_gguf_finish(&g, 1, &len, NULL);
	struct est_source s;
	struct gguf_summary sum;
	est_source_mem(&s, p, len);
	assert_int_equal(gguf_read(&s, &sum, NULL), 0);
	assert_int_equal(sum.arch.head_dim, 256);
	assert_int_equal(sum.arch.swa_layers, 29);
	assert_int_equal(per_token(&sum.arch, "f16"), 5 * 4096);
	free(p);

	fx_gguf_init(&g, 3);
	fx_gguf_str(&g, "general.architecture", "deepseek2");
	fx_gguf_u32(&g, "deepseek2.block_count", 61);
	fx_gguf_u32(&g, "deepseek2.attention.head_count", 128);
	fx_gguf_u32(&g, "deepseek2.attention.head_count_kv", 128);
	fx_gguf_u32(&g, "deepseek2.attention.kv_lora_rank", 512);
	fx_gguf_u32(&g, "deepseek2.rope.dimension_count", 64);
	fx_gguf_u32(&g, "deepseek2.expert_count", 256);
	p = fx_gguf_finish(&g, 1, &len, NULL);
	est_source_mem(&s, p, len);
	assert_int_equal(gguf_read(&s, &sum, NULL), 0);
	assert_int_equal(per_token(&sum.arch, "f16"), 61 * 576 * 2);
	assert_int_equal(sum.arch.experts, 256);
	free(p);

	/* per-layer KV head counts (hybrid: zeros are recurrent layers) */
	fx_gguf_init(&g, 3);
	fx_gguf_str(&g, "general.architecture", "jamba");
	fx_gguf_u32(&g, "jamba.block_count", 4);
	fx_gguf_u32(&g, "jamba.embedding_length", 1024);
	fx_gguf_u32(&g, "jamba.attention.head_count", 8);
	int32_t kvh[4] = {0, 0, 0, 8};
	fx_gguf_arr_i32(&g, "jamba.attention.head_count_kv", kvh, 4);
	fx_gguf_u32(&g, "jamba.ssm.conv_kernel", 4);
	fx_gguf_u32(&g, "jamba.ssm.inner_size", 2048);
	fx_gguf_u32(&g, "jamba.ssm.state_size", 16);
	p = fx_gguf_finish(&g, 1, &len, NULL);
	est_source_mem(&s, p, len);
	assert_int_equal(gguf_read(&s, &sum, NULL), 0);
	assert_int_equal(sum.arch.recurrent_layers, 3);
	assert_int_equal(per_token(&sum.arch, "f16"), 2 * 8 * 128 * 2);
	assert_int_equal(sum.arch.recurrent_state_bytes, (3 * 2048 + 16 * 2048) * 4);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_llama31_8b),
		cmocka_unit_test(test_qwen3_head_dim_not_hidden_over_heads),
		cmocka_unit_test(test_tinyllama),
		cmocka_unit_test(test_gemma3_text_config_and_sliding_window),
		cmocka_unit_test(test_gemma3_27b_absent_keys_take_defaults),
		cmocka_unit_test(test_llama4_chunked_attention),
		cmocka_unit_test(test_deepseek_v3_mla),
		cmocka_unit_test(test_moe_and_hybrid),
		cmocka_unit_test(test_config_hostile),
		cmocka_unit_test(test_gguf_arch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
