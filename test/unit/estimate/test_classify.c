/* Classifier and top-level estimate over fixture repos written to disk. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "estimate/classify.h"
#include "estimate/estimate.h"
#include "estimate/ggml_types.h"
#include "estimate/kv.h"
#include "estimate/source.h"
#include "fixture.h"
#include "util/buf.h"
#include "util/mem.h"

static const char QWEN3_CFG[] =
	"{\"architectures\":[\"Qwen3ForCausalLM\"],\"head_dim\":128,\"hidden_size\":1024,"
	"\"intermediate_size\":3072,\"max_position_embeddings\":40960,\"model_type\":\"qwen3\","
	"\"num_attention_heads\":16,\"num_hidden_layers\":28,\"num_key_value_heads\":8,"
	"\"torch_dtype\":\"bfloat16\",\"use_sliding_window\":false,\"vocab_size\":151936}";

struct ctx {
	char *dir;
};

static int setup(void **state)
{
	struct ctx *c = xcalloc(1, sizeof(*c));
	c->dir = fx_tmpdir();
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	fx_rmrf(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

/* Write a safetensors file; returns its tensor bytes. */
static uint64_t write_st(const char *dir, const char *rel, const struct fx_tensor *t, size_t n)
{
	size_t len;
	unsigned char *p = fx_safetensors(t, n, &len);
	assert_int_equal(fx_write(dir, rel, p, len), 0);
	uint64_t hl = 0;
	for (int i = 7; i >= 0; i--)
		hl = (hl << 8) | p[i];
	free(p);
	return len - 8 - hl;
}

static uint64_t write_gguf_q(const char *dir, const char *rel, int type, uint64_t rows)
{
	struct fx_gguf g;
	fx_gguf_init(&g, 3);
	fx_gguf_str(&g, "general.architecture", "qwen3");
	fx_gguf_u32(&g, "qwen3.block_count", 28);
	fx_gguf_u32(&g, "qwen3.embedding_length", 1024);
	fx_gguf_u32(&g, "qwen3.attention.head_count", 16);
	fx_gguf_u32(&g, "qwen3.attention.head_count_kv", 8);
	fx_gguf_u32(&g, "qwen3.attention.key_length", 128);
	fx_gguf_u32(&g, "qwen3.attention.value_length", 128);
	fx_gguf_u32(&g, "qwen3.context_length", 40960);
	uint64_t ne[2] = {1024, rows}, nn[1] = {1024};
	fx_gguf_tensor(&g, "blk.0.attn_q.weight", 2, ne, type);
	fx_gguf_tensor(&g, "blk.0.attn_norm.weight", 1, nn, 0);
	size_t len;
	uint64_t db;
	unsigned char *p = fx_gguf_finish(&g, 1, &len, &db);
	assert_int_equal(fx_write(dir, rel, p, len), 0);
	free(p);
	uint64_t b;
	ggml_tensor_bytes((uint32_t)type, 1024, 1024 * rows, &b);
	return b + 1024 * 4;
}

static int run(const char *dir, const char *const *inc, size_t ninc, const char *const *exc,
	       size_t nexc, struct estimate_result *r)
{
	struct est_repo *repo;
	char *msg = NULL;
	assert_int_equal(est_repo_dir_new(dir, &repo, &msg), 0);
	int rc = estimate_from_repo(repo, inc, ninc, exc, nexc, r, &msg);
	free(msg);
	est_repo_free(repo);
	return rc;
}

static bool priced(const struct estimate_result *r, const char *path)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].path, path) == 0)
			return true;
	return false;
}

static void test_glob(void **state)
{
	assert_true(estimate_glob_match("*.safetensors", "sub/dir/x.safetensors"));
	assert_true(estimate_glob_match("original/", "original/consolidated.00.pth"));
	assert_false(estimate_glob_match("original/", "x/original.bin"));
	assert_true(estimate_glob_match("*Q4_K_M*", "gguf/model-Q4_K_M.gguf"));
	const char *inc[] = {"*.json", "*.safetensors"}, *exc[] = {"original/*"};
	assert_true(estimate_path_selected("config.json", inc, 2, exc, 1));
	assert_false(estimate_path_selected("original/params.json", inc, 2, exc, 1));
	assert_false(estimate_path_selected("model.bin", inc, 2, exc, 1));
	assert_true(estimate_path_selected("anything", NULL, 0, NULL, 0));
}

/* Sharded safetensors with an index, plus .bin twins, original/ and
 * consolidated.* files that must not be priced. */
static void test_safetensors_repo(void **state)
{
	struct ctx *c = *state;
	fx_write_str(c->dir, "config.json", QWEN3_CFG);
	const struct fx_tensor s1[] = {{"model.embed_tokens.weight", "BF16", 2, {151936, 64}},
				       {"model.layers.0.mlp.up_proj.weight", "BF16", 2, {3072, 64}}};
	const struct fx_tensor s2[] = {{"model.layers.1.mlp.up_proj.weight", "BF16", 2, {3072, 64}},
				       {"model.norm.weight", "F32", 1, {1024}}};
	uint64_t b1 = write_st(c->dir, "model-00001-of-00002.safetensors", s1, 2);
	uint64_t b2 = write_st(c->dir, "model-00002-of-00002.safetensors", s2, 2);
	write_st(c->dir, "stray-draft.safetensors", s2, 2);   /* not in the index */
	fx_write_str(c->dir, "model.safetensors.index.json",
		     "{\"metadata\":{\"total_size\":1},\"weight_map\":{"
		     "\"model.embed_tokens.weight\":\"model-00001-of-00002.safetensors\","
		     "\"model.norm.weight\":\"model-00002-of-00002.safetensors\"}}");
	fx_write_str(c->dir, "pytorch_model-00001-of-00002.bin", "pickle pickle pickle");
	write_st(c->dir, "original/consolidated.00.safetensors", s1, 2);
	write_st(c->dir, "consolidated.safetensors", s1, 2);
	fx_write_str(c->dir, ".git/HEAD", "ref");
	struct estimate_result r;
	assert_int_equal(run(c->dir, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.format, "safetensors");
	assert_string_equal(r.strategy, "safetensors_header_exact");
	assert_string_equal(r.method, "bf16");
	assert_false(r.used_fallback);
	assert_int_equal(r.weight_bytes, (int64_t)(b1 + b2));
	assert_int_equal(r.nfiles, 2);
	assert_true(priced(&r, "model-00001-of-00002.safetensors"));
	assert_true(priced(&r, "model-00002-of-00002.safetensors"));
	assert_int_equal(r.parameters, 151936 * 64 + 3072 * 64 * 2 + 1024);
	assert_true(r.arch.known);
	assert_int_equal(r.arch.layers, 28);
	/* serving memory: the model's own context (40960) by default */
	struct estimate_memory m;
	int64_t ctx = 0;
	assert_int_equal(estimate_serving_memory(&r, ENGINE_VLLM, NULL, 0, 2, 1, &m, &ctx), 0);
	assert_int_equal(ctx, 40960);
	assert_int_equal(m.kv_cache_bytes, 114688LL * 40960 * 2);
	assert_int_equal(m.total_bytes, r.weight_bytes + m.kv_cache_bytes + m.overhead_bytes);
	assert_int_equal(estimate_serving_memory(&r, ENGINE_LLAMACPP, "q8_0", 1024, 1, 2, &m, &ctx), 0);
	assert_int_equal(m.kv_cache_bytes, 114688LL / 2 / 32 * 34 * 1024);
	assert_int_equal(m.overhead_bytes, 2 * estimate_overhead_bytes(ENGINE_LLAMACPP, &r.arch));
	assert_int_equal(estimate_serving_memory(&r, ENGINE_VLLM, "int2", 0, 1, 1, &m, NULL), -EINVAL);
	/* download = every selected file, incl. the ones that do not load */
	assert_true(r.download_bytes > r.weight_bytes);
	estimate_result_cleanup(&r);
	/* include narrows what is downloaded too */
	const char *inc[] = {"*.safetensors", "*.json"}, *exc[] = {"original/*", "consolidated*", "stray*"};
	assert_int_equal(run(c->dir, inc, 2, exc, 3, &r), 0);
	assert_int_equal(r.weight_bytes, (int64_t)(b1 + b2));
	assert_false(priced(&r, "pytorch_model-00001-of-00002.bin"));
	estimate_result_cleanup(&r);
}

/* AWQ / GPTQ: packed int32 qweight; parameters unpacked by the bit width,
 * weight bytes = what is stored. */
static void test_awq_gptq(void **state)
{
	struct ctx *c = *state;
	const char *methods[] = {"awq", "gptq"};
	for (int m = 0; m < 2; m++) {
		char *dir = xasprintf("%s/%s", c->dir, methods[m]);
		char *cfg = xasprintf("{\"model_type\":\"llama\",\"num_hidden_layers\":2,\"hidden_size\":256,"
				      "\"num_attention_heads\":4,\"num_key_value_heads\":2,\"torch_dtype\":\"float16\","
				      "\"quantization_config\":{\"quant_method\":\"%s\",\"bits\":4,\"group_size\":128}}",
				      methods[m]);
		fx_write_str(dir, "config.json", cfg);
		const struct fx_tensor t[] = {
			{"model.layers.0.self_attn.q_proj.qweight", "I32", 2, {256, 32}},
			{"model.layers.0.self_attn.q_proj.qzeros", "I32", 2, {2, 32}},
			{"model.layers.0.self_attn.q_proj.scales", "F16", 2, {2, 256}},
			{"model.layers.0.self_attn.q_proj.g_idx", "I32", 1, {256}},
			{"model.embed_tokens.weight", "F16", 2, {1000, 256}},
		};
		uint64_t b = write_st(dir, "model.safetensors", t, 5);
		struct estimate_result r;
		assert_int_equal(run(dir, NULL, 0, NULL, 0, &r), 0);
		assert_string_equal(r.method, methods[m]);
		assert_string_equal(r.format, "safetensors");
		assert_int_equal(r.weight_bytes, (int64_t)b);
		/* 256 x 32 int32 = 256 x 256 4-bit weights; aux tensors are not parameters */
		assert_int_equal(r.parameters, 256 * 256 + 1000 * 256);
		estimate_result_cleanup(&r);
		free(cfg);
		free(dir);
	}
}

/* gpt-oss-20b as published (config.json, one shard's worth of its tensors in
 * one sparse file: header written, data a hole). */
static const char GPT_OSS_20B_CFG[] =
	"{\"architectures\":[\"GptOssForCausalLM\"],\"attention_bias\":true,\"attention_dropout\":0.0,"
	"\"eos_token_id\":200002,\"experts_per_token\":4,\"head_dim\":64,\"hidden_act\":\"silu\","
	"\"hidden_size\":2880,\"initial_context_length\":4096,\"initializer_range\":0.02,"
	"\"intermediate_size\":2880,\"layer_types\":[\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\",\"sliding_attention\",\"full_attention\","
	"\"sliding_attention\",\"full_attention\"],\"max_position_embeddings\":131072,"
	"\"model_type\":\"gpt_oss\",\"num_attention_heads\":64,\"num_experts_per_tok\":4,"
	"\"num_hidden_layers\":24,\"num_key_value_heads\":8,\"num_local_experts\":32,"
	"\"output_router_logits\":false,\"pad_token_id\":199999,\"quantization_config\":"
	"{\"modules_to_not_convert\":[\"model.layers.*.self_attn\",\"model.layers.*.mlp.router\","
	"\"model.embed_tokens\",\"lm_head\"],\"quant_method\":\"mxfp4\"},\"rms_norm_eps\":1e-05,"
	"\"rope_scaling\":{\"beta_fast\":32.0,\"beta_slow\":1.0,\"factor\":32.0,"
	"\"original_max_position_embeddings\":4096,\"rope_type\":\"yarn\",\"truncate\":false},"
	"\"rope_theta\":150000,\"router_aux_loss_coef\":0.9,\"sliding_window\":128,"
	"\"swiglu_limit\":7.0,\"tie_word_embeddings\":false,\"transformers_version\":\"4.55.0.dev0\","
	"\"use_cache\":true,\"vocab_size\":201088}";

struct st_writer {
	struct buf h;
	uint64_t off;
};

static void stw_add(struct st_writer *w, const char *name, const char *dtype, int nd, const uint64_t *shape)
{
	uint64_t el = 1;
	buf_printf(&w->h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", name, dtype);
	for (int d = 0; d < nd; d++) {
		buf_printf(&w->h, "%s%llu", d ? "," : "", (unsigned long long)shape[d]);
		el *= shape[d];
	}
	uint64_t bytes = el * (strcmp(dtype, "U8") == 0 ? 1 : 2);
	buf_printf(&w->h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)w->off,
		   (unsigned long long)(w->off + bytes));
	w->off += bytes;
}

#define STW(w, name, dtype, ...) \
	stw_add(w, name, dtype, (int)(sizeof((uint64_t[]){__VA_ARGS__}) / sizeof(uint64_t)), \
		(uint64_t[]){__VA_ARGS__})

/* The gpt-oss-20b tensors (names, dtypes, shapes of the real checkpoint);
 * returns the tensor bytes. The data is a hole (truncate). */
static uint64_t write_gpt_oss_20b(const char *dir)
{
	struct st_writer w = {.off = 0};
	buf_init(&w.h, 1 << 20);
	buf_puts(&w.h, "{\"__metadata__\":{\"format\":\"pt\"}");
	STW(&w, "model.embed_tokens.weight", "BF16", 201088, 2880);
	for (int l = 0; l < 24; l++) {
		char n[128];
#define T(suffix, dtype, ...) \
	do { snprintf(n, sizeof(n), "model.layers.%d.%s", l, suffix); STW(&w, n, dtype, __VA_ARGS__); } while (0)
		T("input_layernorm.weight", "BF16", 2880);
		T("post_attention_layernorm.weight", "BF16", 2880);
		T("self_attn.q_proj.weight", "BF16", 4096, 2880);
		T("self_attn.q_proj.bias", "BF16", 4096);
		T("self_attn.k_proj.weight", "BF16", 512, 2880);
		T("self_attn.k_proj.bias", "BF16", 512);
		T("self_attn.v_proj.weight", "BF16", 512, 2880);
		T("self_attn.v_proj.bias", "BF16", 512);
		T("self_attn.o_proj.weight", "BF16", 2880, 4096);
		T("self_attn.o_proj.bias", "BF16", 2880);
		T("self_attn.sinks", "BF16", 64);
		T("mlp.router.weight", "BF16", 32, 2880);
		T("mlp.router.bias", "BF16", 32);
		T("mlp.experts.gate_up_proj_blocks", "U8", 32, 5760, 90, 16);
		T("mlp.experts.gate_up_proj_scales", "U8", 32, 5760, 90);
		T("mlp.experts.gate_up_proj_bias", "BF16", 32, 5760);
		T("mlp.experts.down_proj_blocks", "U8", 32, 2880, 90, 16);
		T("mlp.experts.down_proj_scales", "U8", 32, 2880, 90);
		T("mlp.experts.down_proj_bias", "BF16", 32, 2880);
#undef T
	}
	STW(&w, "model.norm.weight", "BF16", 2880);
	STW(&w, "lm_head.weight", "BF16", 201088, 2880);
	buf_puts(&w.h, "}");
	while (w.h.len % 8)
		buf_putc(&w.h, ' ');
	size_t len = 8 + w.h.len;
	unsigned char *p = xcalloc(1, len);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)((uint64_t)w.h.len >> (8 * i));
	memcpy(p + 8, w.h.data, w.h.len);
	assert_int_equal(fx_write(dir, "model.safetensors", p, len), 0);
	char *path = xasprintf("%s/model.safetensors", dir);
	assert_int_equal(truncate(path, (off_t)(len + w.off)), 0);
	free(path);
	free(p);
	buf_cleanup(&w.h);
	return w.off;
}

/* MXFP4 (gpt-oss): a U8 *_blocks byte is two fp4 parameters, the *_scales
 * are not parameters; weight bytes are what is stored. */
static void test_mxfp4_gpt_oss(void **state)
{
	struct ctx *c = *state;
	char *dir = xasprintf("%s/gpt-oss-20b", c->dir);
	fx_write_str(dir, "config.json", GPT_OSS_20B_CFG);
	uint64_t b = write_gpt_oss_20b(dir);
	struct estimate_result r;
	assert_int_equal(run(dir, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.method, "mxfp4");
	assert_int_equal(r.weight_bytes, (int64_t)b);
	assert_int_equal(r.weight_bytes, 13761264768LL);
	/* 20.91 B (OpenAI's model card: 20.9 B); stored bytes would say 11.96 B */
	assert_int_equal(r.parameters, 20914757184LL);
	/* 12 full-attention layers x 2 x 8 x 64 x 2 B; 12 windowed (128) */
	struct kv_dtype dt;
	assert_int_equal(kv_dtype_parse("auto", &r.arch, &dt), 0);
	assert_int_equal(r.arch.swa_layers, 12);
	assert_int_equal(kv_bytes_per_token(&r.arch, &dt), 24576);
	estimate_result_cleanup(&r);
	free(dir);

	/* the same U8 names without quant_method mxfp4: counted as stored */
	dir = xasprintf("%s/u8-plain", c->dir);
	fx_write_str(dir, "config.json", "{\"model_type\":\"llama\",\"num_hidden_layers\":1,"
		     "\"hidden_size\":64,\"num_attention_heads\":1,\"torch_dtype\":\"bfloat16\"}");
	const struct fx_tensor t[] = {
		{"model.layers.0.mlp.experts.down_proj_blocks", "U8", 2, {64, 16}},
		{"model.layers.0.mlp.experts.down_proj_scales", "U8", 1, {64}},
		{"model.embed_tokens.weight", "BF16", 2, {100, 64}},
	};
	write_st(dir, "model.safetensors", t, 3);
	assert_int_equal(run(dir, NULL, 0, NULL, 0, &r), 0);
	assert_int_equal(r.parameters, 64 * 16 + 64 + 100 * 64);
	estimate_result_cleanup(&r);
	free(dir);
}

/* diffusers: components from model_index.json, fp16 family first, never
 * the root single-file checkpoint. */
static void test_diffusers(void **state)
{
	struct ctx *c = *state;
	fx_write_str(c->dir, "model_index.json",
		     "{\"_class_name\":\"StableDiffusionPipeline\",\"_diffusers_version\":\"0.6.0\","
		     "\"feature_extractor\":[\"transformers\",\"CLIPImageProcessor\"],"
		     "\"safety_checker\":[null,null],\"scheduler\":[\"diffusers\",\"PNDMScheduler\"],"
		     "\"text_encoder\":[\"transformers\",\"CLIPTextModel\"],"
		     "\"tokenizer\":[\"transformers\",\"CLIPTokenizer\"],"
		     "\"unet\":[\"diffusers\",\"UNet2DConditionModel\"],\"vae\":[\"diffusers\",\"AutoencoderKL\"]}");
	const struct fx_tensor u32[] = {{"conv_in.weight", "F32", 2, {320, 64}}};
	const struct fx_tensor u16[] = {{"conv_in.weight", "F16", 2, {320, 64}}};
	const struct fx_tensor v[] = {{"decoder.conv.weight", "F32", 2, {128, 32}}};
	const struct fx_tensor te[] = {{"text_model.embeddings.weight", "F16", 2, {4940, 8}}};
	write_st(c->dir, "unet/diffusion_pytorch_model.safetensors", u32, 1);
	uint64_t bu = write_st(c->dir, "unet/diffusion_pytorch_model.fp16.safetensors", u16, 1);
	fx_write_str(c->dir, "unet/diffusion_pytorch_model.bin", "pickle");
	fx_write_str(c->dir, "unet/config.json", "{}");
	uint64_t bv = write_st(c->dir, "vae/diffusion_pytorch_model.safetensors", v, 1);
	uint64_t bt = write_st(c->dir, "text_encoder/model.fp16.safetensors", te, 1);
	write_st(c->dir, "text_encoder/model.safetensors", te, 1);
	fx_write_str(c->dir, "scheduler/scheduler_config.json", "{}");
	const struct fx_tensor full[] = {{"model.diffusion_model.w", "F32", 2, {1000, 100}}};
	write_st(c->dir, "v1-5-pruned-emaonly.safetensors", full, 1);
	write_st(c->dir, "v1-5-pruned.safetensors", full, 1);
	struct estimate_result r;
	assert_int_equal(run(c->dir, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.format, "diffusion");
	assert_string_equal(r.strategy, "diffusion_component_sum");
	assert_int_equal(r.nfiles, 3);
	assert_int_equal(r.weight_bytes, (int64_t)(bu + bv + bt));
	assert_false(priced(&r, "v1-5-pruned-emaonly.safetensors"));
	assert_true(priced(&r, "unet/diffusion_pytorch_model.fp16.safetensors"));
	assert_false(priced(&r, "unet/diffusion_pytorch_model.safetensors"));
	assert_false(r.used_fallback);
	estimate_result_cleanup(&r);
	/* a component shipping only a pickle: by its size, and said so */
	fx_write_str(c->dir, "safety_checker/pytorch_model.bin", "0123456789");
	fx_write_str(c->dir, "model_index.json",
		     "{\"unet\":[\"diffusers\",\"UNet2DConditionModel\"],"
		     "\"safety_checker\":[\"stable_diffusion\",\"StableDiffusionSafetyChecker\"]}");
	assert_int_equal(run(c->dir, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.strategy, "diffusion_component_sum");
	assert_int_equal(r.weight_bytes, (int64_t)bu + 10);
	assert_string_equal(r.note, "1 component file priced by size (.bin)");
	estimate_result_cleanup(&r);
}

/* Several GGUF quants + an mmproj projector. */
static void test_gguf_quants_and_projector(void **state)
{
	struct ctx *c = *state;
	uint64_t q4 = write_gguf_q(c->dir, "Qwen3-0.6B-Q4_K_M.gguf", 12, 256);
	write_gguf_q(c->dir, "Qwen3-0.6B-Q8_0.gguf", 8, 256);
	uint64_t f1 = write_gguf_q(c->dir, "F16/Qwen3-0.6B-F16-00001-of-00002.gguf", 1, 256);
	uint64_t f2 = write_gguf_q(c->dir, "F16/Qwen3-0.6B-F16-00002-of-00002.gguf", 1, 128);
	uint64_t mp = write_gguf_q(c->dir, "mmproj-Qwen3-F16.gguf", 1, 64);
	uint64_t mp32 = write_gguf_q(c->dir, "mmproj-Qwen3-F32.gguf", 0, 64);
	(void)mp;
	fx_write_str(c->dir, "README.md", "# model card");
	struct estimate_result r;
	assert_int_equal(run(c->dir, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.format, "gguf");
	assert_string_equal(r.strategy, "gguf_header_exact");
	/* the heaviest quant (the two F16 shards), and the projector priced
	 * separately (the heavier of the two projector files), not as a variant */
	assert_int_equal(r.weight_bytes, (int64_t)(f1 + f2 + mp32));
	assert_int_equal(r.projector_bytes, (int64_t)mp32);
	assert_string_equal(r.note, "heaviest of 3 GGUF quants priced: F16");
	assert_true(priced(&r, "F16/Qwen3-0.6B-F16-00002-of-00002.gguf"));
	assert_true(r.arch.known);
	assert_int_equal(r.arch.head_dim, 128);
	estimate_result_cleanup(&r);
	/* include narrows to one quant: no note, that quant + the projector */
	const char *inc[] = {"*Q4_K_M*", "mmproj-*F32*"};
	assert_int_equal(run(c->dir, inc, 2, NULL, 0, &r), 0);
	assert_int_equal(r.weight_bytes, (int64_t)(q4 + mp32));
	assert_null(r.note);
	assert_string_equal(r.method, "Q4_K");   /* no general.file_type: main tensor type */
	assert_int_equal(r.nfiles, 2);
	estimate_result_cleanup(&r);
	/* one shard of two: priced, and said so */
	const char *inc3[] = {"*F16-00001-of-00002.gguf"};
	assert_int_equal(run(c->dir, inc3, 1, NULL, 0, &r), 0);
	assert_int_equal(r.weight_bytes, (int64_t)f1);
	assert_string_equal(r.note, "GGUF quant F16: only 1 of 2 shards selected");
	estimate_result_cleanup(&r);
	const char *inc2[] = {"*Q4_K_M.gguf"};
	assert_int_equal(run(c->dir, inc2, 1, NULL, 0, &r), 0);
	assert_int_equal(r.weight_bytes, (int64_t)q4);
	assert_int_equal(r.projector_bytes, 0);
	estimate_result_cleanup(&r);
}

/* A repo wrapper that adds Hub model info with misleading hints. */
struct hinted {
	struct est_repo *inner;
	json_object *info;
};

static int h_list(void *ctx, struct est_file_entry **f, size_t *n, char **e)
{
	struct hinted *h = ctx;
	return h->inner->ops->list(h->inner->ctx, f, n, e);
}

static int h_read(void *ctx, const char *p, uint64_t off, void *buf, size_t len, size_t *got)
{
	struct hinted *h = ctx;
	return h->inner->ops->read_at(h->inner->ctx, p, off, buf, len, got);
}

static json_object *h_info(void *ctx)
{
	return ((struct hinted *)ctx)->info;
}

static void h_free(void *ctx)
{
	struct hinted *h = ctx;
	est_repo_free(h->inner);
	json_object_put(h->info);
	free(h);
}

static const struct est_repo_ops hinted_ops = {h_list, h_read, h_info, h_free};

static struct est_repo *hinted_repo(const char *dir, const char *info)
{
	struct hinted *h = xcalloc(1, sizeof(*h));
	char *msg = NULL;
	assert_int_equal(est_repo_dir_new(dir, &h->inner, &msg), 0);
	h->info = json_tokener_parse(info);
	assert_non_null(h->info);
	return est_repo_new(&hinted_ops, h);
}

/* Hub hints never override headers: gguf.total is a parameter count,
 * gguf.totalFileSize one file's size, usedStorage every revision. */
static void test_hints_ignored(void **state)
{
	struct ctx *c = *state;
	uint64_t q4 = write_gguf_q(c->dir, "m-Q4_K_M.gguf", 12, 256);
	uint64_t q8 = write_gguf_q(c->dir, "m-Q8_0.gguf", 8, 256);
	(void)q4;
	struct est_repo *repo = hinted_repo(c->dir,
		"{\"usedStorage\":99999999999,\"gguf\":{\"total\":751632384,\"totalFileSize\":12,"
		"\"architecture\":\"qwen3\"},\"safetensors\":{\"parameters\":{\"BF16\":5},\"total\":5}}");
	struct estimate_result r;
	char *msg = NULL;
	assert_int_equal(estimate_from_repo(repo, NULL, 0, NULL, 0, &r, &msg), 0);
	assert_string_equal(r.strategy, "gguf_header_exact");
	assert_int_equal(r.weight_bytes, (int64_t)q8);
	assert_int_equal(r.parameters, 1024 * 256 + 1024);
	estimate_result_cleanup(&r);
	est_repo_free(repo);
}

/* Unreadable headers: the fallback is named (strategy, note, usedFallback),
 * never silent. */
static void test_fallbacks_are_reported(void **state)
{
	struct ctx *c = *state;
	char *d1 = xasprintf("%s/st", c->dir);
	const struct fx_tensor t[] = {{"w", "BF16", 2, {100, 100}}};
	size_t len;
	unsigned char *p = fx_safetensors(t, 1, &len);
	p[8] = 'X';   /* corrupt JSON */
	fx_write(d1, "model.safetensors", p, len);
	free(p);
	struct est_repo *repo = hinted_repo(d1, "{\"safetensors\":{\"parameters\":{\"BF16\":10000}}}");
	struct estimate_result r;
	char *msg = NULL;
	assert_int_equal(estimate_from_repo(repo, NULL, 0, NULL, 0, &r, &msg), 0);
	assert_string_equal(r.strategy, "safetensors_dtype_count");
	assert_int_equal(r.weight_bytes, 20000);
	/* priced without the header: a fallback, and it says why */
	assert_true(r.used_fallback);
	assert_non_null(r.note);
	assert_non_null(strstr(r.note, "headers unreadable"));
	assert_non_null(r.header_error);
	assert_non_null(strstr(r.header_error, "model.safetensors"));
	estimate_result_cleanup(&r);
	est_repo_free(repo);
	/* hint larger than the files: capped by their size */
	repo = hinted_repo(d1, "{\"safetensors\":{\"parameters\":{\"BF16\":1000000000}}}");
	assert_int_equal(estimate_from_repo(repo, NULL, 0, NULL, 0, &r, &msg), 0);
	assert_int_equal(r.weight_bytes, (int64_t)len);
	estimate_result_cleanup(&r);
	est_repo_free(repo);
	/* no hint: the last resort, flagged */
	assert_int_equal(run(d1, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.strategy, "siblings_byte_sum");
	assert_true(r.used_fallback);
	assert_int_equal(r.weight_bytes, (int64_t)len);
	estimate_result_cleanup(&r);
	/* a GGUF whose header is cut: priced by the variant's file size */
	char *d2 = xasprintf("%s/gg", c->dir);
	fx_write_str(d2, "m-Q4_0.gguf", "GGUF\x03\0\0\0garbage");
	assert_int_equal(run(d2, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.strategy, "gguf_variant_max");
	assert_string_equal(r.method, "Q4_0");
	assert_non_null(strstr(r.note, "headers unreadable"));
	assert_true(r.used_fallback);
	assert_non_null(strstr(r.header_error, "m-Q4_0.gguf"));
	estimate_result_cleanup(&r);
	/* pickles only */
	char *d3 = xasprintf("%s/bin", c->dir);
	fx_write_str(d3, "pytorch_model.bin", "0123456789");
	fx_write_str(d3, "config.json", QWEN3_CFG);
	assert_int_equal(run(d3, NULL, 0, NULL, 0, &r), 0);
	assert_string_equal(r.format, "bin");
	assert_string_equal(r.strategy, "siblings_byte_sum");
	assert_string_equal(r.method, "bf16");
	assert_true(r.used_fallback);
	assert_int_equal(r.weight_bytes, 10);
	estimate_result_cleanup(&r);
	/* nothing selected */
	const char *inc[] = {"*.nothing"};
	assert_int_equal(run(d3, inc, 1, NULL, 0, &r), ESTIMATE_ERR_NOT_FOUND);
	estimate_result_cleanup(&r);
	free(d1);
	free(d2);
	free(d3);
}

/* Method from quantization_config, else from the dominant dtype. */
static void test_methods(void **state)
{
	struct ctx *c = *state;
	const struct { const char *qc; const char *dtype; const char *want; } cases[] = {
		{"{\"quant_method\":\"compressed-tensors\",\"format\":\"pack-quantized\"}", "BF16", "compressed-tensors"},
		{"{\"quant_method\":\"compressed-tensors\",\"format\":\"nvfp4-pack-quantized\"}", "U8", "nvfp4"},
		{"{\"quant_method\":\"modelopt\",\"quant_algo\":\"NVFP4\"}", "U8", "nvfp4"},
		{"{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true}", "U8", "bitsandbytes"},
		{"{\"quant_method\":\"fp8\",\"fmt\":\"e4m3\"}", "F8_E4M3", "fp8"},
		{"{\"quant_method\":\"mxfp4\"}", "U8", "mxfp4"},
		{"{\"quant_method\":\"hqq\"}", "U8", "hqq"},
		{"{\"quant_method\":\"GPTQ\",\"bits\":4}", "I32", "gptq"},
		{NULL, "F32", "fp32"},
		{NULL, "F16", "fp16"},
		{NULL, "BF16", "bf16"},
		{NULL, "F8_E4M3", "fp8"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *dir = xasprintf("%s/m%zu", c->dir, i);
		char *cfg = xasprintf("{\"model_type\":\"llama\",\"num_hidden_layers\":2,\"num_attention_heads\":4,"
				      "\"hidden_size\":64%s%s}", cases[i].qc ? ",\"quantization_config\":" : "",
				      cases[i].qc ? cases[i].qc : "");
		fx_write_str(dir, "config.json", cfg);
		const struct fx_tensor t[] = {{"w", cases[i].dtype, 2, {64, 64}}};
		write_st(dir, "model.safetensors", t, 1);
		struct estimate_result r;
		assert_int_equal(run(dir, NULL, 0, NULL, 0, &r), 0);
		assert_string_equal(r.method, cases[i].want);
		estimate_result_cleanup(&r);
		free(cfg);
		free(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test_setup_teardown(test_safetensors_repo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_awq_gptq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mxfp4_gpt_oss, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diffusers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gguf_quants_and_projector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hints_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallbacks_are_reported, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
