/* Budgets, overheads and placement (docs/estimation.md, "Engine overhead", "Budgets"). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "estimate/estimate.h"

static void test_budgets(void **state)
{
	assert_int_equal(estimate_budget_discrete(80 * GIB, 1, 0.9), (int64_t)(80 * GIB * 0.9));
	assert_int_equal(estimate_budget_discrete(80 * GIB, 8, 0), (int64_t)(80 * GIB * 0.9) * 8);
	assert_int_equal(estimate_budget_discrete(24 * GIB, 1, 0.5), 12 * GIB);
	/* unified: 0.67 up to 36 GiB, 0.75 above */
	assert_int_equal(estimate_budget_unified(32 * GIB), (int64_t)(32 * GIB * 0.67));
	assert_int_equal(estimate_budget_unified(36 * GIB), (int64_t)(36 * GIB * 0.67));
	assert_int_equal(estimate_budget_unified(128 * GIB), 96 * GIB);
	assert_int_equal(estimate_budget_unified_free(128 * GIB, 6 * GIB), 90 * GIB);
	assert_int_equal(estimate_budget_unified_free(16 * GIB, 64 * GIB), 0);
	struct estimate_memory m;
	estimate_memory_compute(10 * GIB, 2 * GIB, GIB, 2, &m);
	assert_int_equal(m.total_bytes, 14 * GIB);
	assert_true(estimate_fits(&m, 14 * GIB));
	assert_false(estimate_fits(&m, 14 * GIB - 1));
	assert_true(estimate_precheck_fits(100 * GIB, 1.0, 8 * 80 * GIB));
	assert_false(estimate_precheck_fits(700 * GIB, 1.0, 8 * 80 * GIB));
	assert_false(estimate_precheck_fits(600 * GIB, 1.1, 8 * 80 * GIB));
}

static void test_overheads(void **state)
{
	struct model_arch a = {.hidden = 4096, .intermediate = 12288, .vocab = 151936};
	/* vLLM: 1 GiB non-torch + 8192-token activation peak + 256 x vocab f32 logits */
	int64_t v = estimate_overhead_bytes(ENGINE_VLLM, &a);
	assert_int_equal(v, GIB + 8192LL * (2 * 4096 + 2 * 12288) * 2 + 256LL * 151936 * 4);
	/* Qwen3-8B lands near the 1.6 GiB of the docs/estimation.md example */
	assert_true(v > (int64_t)(1.5 * GIB) && v < (int64_t)(1.7 * GIB));
	/* llama.cpp: 450 MiB CUDA context + compute buffer + 1 GiB fit target */
	int64_t l = estimate_overhead_bytes(ENGINE_LLAMACPP, &a);
	assert_int_equal(l, 450 * MIB + 512LL * (151936 + 4 * 4096) * 4 + GIB);
	enum estimate_engine e;
	assert_int_equal(estimate_engine_parse("llama.cpp", &e), 0);
	assert_int_equal(e, ENGINE_LLAMACPP);
	assert_int_equal(estimate_engine_parse("tgi", &e), -EINVAL);
}

static const struct gpu_pool H100x8x4 = {"NVIDIA-H100-80GB-HBM3", 80 * GIB, 8, 4, false};

static struct place_request req(int64_t weights_gib, int64_t heads)
{
	struct place_request q = {
		.cluster = "gpu-west",
		.weight_bytes = weights_gib * GIB,
		.kv_cache_bytes = 4 * GIB,
		.overhead_per_gpu = 2 * GIB,
		.attention_heads = heads,
		.utilization = 0.9,
	};
	return q;
}

static void test_place_auto(void **state)
{
	struct placement p;
	/* fits one GPU: 60 + 4 + 2 = 66 <= 72 */
	struct place_request q = req(60, 64);
	assert_int_equal(estimate_place(&H100x8x4, 1, &q, &p), 0);
	assert_int_equal(p.status, PLACE_OK);
	assert_int_equal(p.nodes, 1);
	assert_int_equal(p.gpus_per_node, 1);
	assert_int_equal(p.tensor, 1);
	/* 100 GiB: two GPUs (104 + 4 = 108 <= 144) */
	q = req(100, 64);
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	assert_int_equal(p.gpus_per_node, 2);
	assert_int_equal(p.tensor, 2);
	/* 150 GiB with 28 heads: 3 GPUs would hold it (150+4+6=160 <= 216) but 3
	 * does not divide 28, so 4 */
	q = req(150, 28);
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	assert_int_equal(p.gpus_per_node, 4);
	assert_int_equal(p.tensor, 4);
	/* 700 GiB: two whole nodes (tensor 8, pipeline 2): 700+4+32 = 736 <= 1152 */
	q = req(700, 64);
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	assert_int_equal(p.nodes, 2);
	assert_int_equal(p.gpus_per_node, 8);
	assert_int_equal(p.tensor, 8);
	assert_int_equal(p.pipeline, 2);
	/* the smaller pool first when both fit one GPU; order of pools kept */
	struct gpu_pool two[] = {{"L4", 24 * GIB, 4, 2, false}, H100x8x4};
	q = req(10, 32);
	estimate_place(two, 2, &q, &p);
	assert_int_equal(p.pool, 0);
	q = req(30, 32);   /* too big for one L4 (36 > 21.6), fits one H100 */
	estimate_place(two, 2, &q, &p);
	assert_int_equal(p.pool, 1);
	assert_int_equal(p.gpus_per_node, 1);
	/* unified memory budget */
	struct gpu_pool mac = {"Apple-M3-Max", 128 * GIB, 1, 1, true};
	q = req(88, 32);   /* 88+4+2 = 94 <= 96 */
	estimate_place(&mac, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	q = req(91, 32);
	estimate_place(&mac, 1, &q, &p);
	assert_int_equal(p.status, PLACE_INSUFFICIENT_VRAM);
}

static void test_place_failures(void **state)
{
	struct placement p;
	struct place_request q = req(3000, 64);
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_INSUFFICIENT_VRAM);
	char want[512];
	snprintf(want, sizeof(want),
		 "The model requires approximately %.1f GiB of VRAM. With gpuMemoryUtilization=0.9, "
		 "all GPUs combined need to provide at least %.1f GiB. The largest node in gpu-west "
		 "has 640.0 GiB (8 x 80.0 GiB).", 3006.0, 3006.0 / 0.9);
	assert_string_equal(p.message, want);
	/* no pools */
	estimate_place(NULL, 0, &q, &p);
	assert_int_equal(p.status, PLACE_NO_GPUS);
	assert_int_equal(estimate_place(&H100x8x4, 1, NULL, &p), -EINVAL);
	/* unknown memory fails open (and says so) */
	struct gpu_pool unk = {"NVIDIA-Mystery", 0, 8, 1, false};
	estimate_place(&unk, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	assert_true(p.memory_unknown);
	assert_non_null(strstr(p.message, "fit not checked"));
}

static void test_place_explicit(void **state)
{
	struct placement p;
	struct place_request q = req(100, 28);
	q.tensor = 3;
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_INVALID_TOPOLOGY);
	assert_string_equal(p.message, "tensor parallel size 3 does not divide the 28 attention heads");
	q.tensor = 4;
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	assert_int_equal(p.gpus_per_node, 4);
	assert_int_equal(p.nodes, 1);
	/* tensor 4 x pipeline 4 = 16: two whole nodes */
	q.pipeline = 4;
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_OK);
	assert_int_equal(p.nodes, 2);
	assert_int_equal(p.gpus_per_node, 8);
	assert_int_equal(p.tensor, 4);
	assert_int_equal(p.pipeline, 4);
	/* world 12: more than a node, not whole nodes */
	q.tensor = 4;
	q.pipeline = 3;
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_INVALID_TOPOLOGY);
	/* world 40 > 4 nodes x 8 */
	q.tensor = 4;
	q.pipeline = 10;
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_INVALID_TOPOLOGY);
	/* valid shape, not enough memory: 1 GPU for 100 GiB */
	q.tensor = 1;
	q.pipeline = 0;
	estimate_place(&H100x8x4, 1, &q, &p);
	assert_int_equal(p.status, PLACE_INSUFFICIENT_VRAM);
}

static void test_engine_args(void **state)
{
	struct engine_args e;
	const char *vllm[] = {"--model=/mnt/models", "--max-model-len=8192", "-tp", "4",
			      "--pipeline-parallel-size", "2", "--kv-cache-dtype=fp8",
			      "--gpu-memory-utilization", "0.85", "--max-num-seqs=16", "--enforce-eager"};
	assert_int_equal(engine_args_parse(vllm, 11, &e), 0);
	assert_int_equal(e.max_model_len, 8192);
	assert_int_equal(e.tensor, 4);
	assert_int_equal(e.pipeline, 2);
	assert_string_equal(e.kv_cache_dtype, "fp8");
	assert_true(e.gpu_memory_utilization > 0.849 && e.gpu_memory_utilization < 0.851);
	assert_int_equal(e.max_num_seqs, 16);
	const char *vllm2[] = {"--tensor-parallel-size=8", "--max-model-len", "32k"};
	assert_int_equal(engine_args_parse(vllm2, 3, &e), 0);
	assert_int_equal(e.tensor, 8);
	assert_int_equal(e.max_model_len, 32768);
	assert_int_equal(e.pipeline, 0);
	const char *llama[] = {"-m", "/mnt/models/m.gguf", "-c", "16384", "-ctk", "q8_0", "-np", "4", "-ngl", "99"};
	assert_int_equal(engine_args_parse(llama, 10, &e), 0);
	assert_int_equal(e.max_model_len, 16384);
	assert_string_equal(e.kv_cache_dtype, "q8_0");
	assert_int_equal(e.max_num_seqs, 4);
	/* invalid values are reported, not ignored */
	const char *bad1[] = {"-tp", "three"};
	assert_int_equal(engine_args_parse(bad1, 2, &e), -EINVAL);
	assert_string_equal(e.bad_flag, "-tp");
	const char *bad2[] = {"--gpu-memory-utilization=1.5"};
	assert_int_equal(engine_args_parse(bad2, 1, &e), -EINVAL);
	const char *bad3[] = {"--max-model-len"};
	assert_int_equal(engine_args_parse(bad3, 1, &e), -EINVAL);
	const char *bad4[] = {"--tensor-parallel-size=0"};
	assert_int_equal(engine_args_parse(bad4, 1, &e), -EINVAL);
	/* look-alike flags are not ours */
	const char *other[] = {"--tpx=3", "-t", "8", "--max-model-length=5"};
	assert_int_equal(engine_args_parse(other, 4, &e), 0);
	assert_int_equal(e.tensor, 0);
	assert_int_equal(e.max_model_len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_budgets),
		cmocka_unit_test(test_overheads),
		cmocka_unit_test(test_place_auto),
		cmocka_unit_test(test_place_failures),
		cmocka_unit_test(test_place_explicit),
		cmocka_unit_test(test_engine_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
