/* pkg/placement: where replicas go, as a table (docs/concepts.md
 * "ModelDeployment"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "estimate/fit.h"
#include "placement/placement.h"

static const struct placement_node ONE_24[] = {
	{.name = "n1", .product = "NVIDIA-A10G", .memory_bytes = 24 * GIB, .gpus = 1, .free = 1},
};
static const struct placement_node EIGHT_24[] = {
	{.name = "big", .product = "NVIDIA-L4", .memory_bytes = 24 * GIB, .gpus = 8, .free = 8},
};
static const struct placement_node TWO_8X24[] = {
	{.name = "w1", .product = "NVIDIA-L4", .memory_bytes = 24 * GIB, .gpus = 8, .free = 8},
	{.name = "w0", .product = "NVIDIA-L4", .memory_bytes = 24 * GIB, .gpus = 8, .free = 8},
};
static const struct placement_node UNIFIED_32[] = {
	{.name = "mac", .product = "Apple-M2", .memory_bytes = 32 * GIB, .gpus = 1, .free = 1, .unified = true},
};
static const struct placement_node TWO_1X24_ONE_TAKEN[] = {
	{.name = "a", .product = "NVIDIA-A10G", .memory_bytes = 24 * GIB, .gpus = 1, .free = 0},
	{.name = "b", .product = "NVIDIA-A10G", .memory_bytes = 24 * GIB, .gpus = 1, .free = 1},
};

struct row {
	const char *what;
	struct placement_model m;
	struct placement_cluster cl[2];
	size_t ncl;
	int replicas;
	/* expected */
	enum placement_reason reason;
	size_t placed;
	const char *cluster;       /* of replica 0 */
	int nodes, gpn, tensor, pipeline;
	const char *node0;
	const char *contains[3];   /* substrings of the Scheduled message */
};

#define C(nm, arr, l) {.name = nm, .nodes = arr, .nnodes = sizeof(arr) / sizeof(arr[0]), .lws = l}

static const struct row rows[] = {
	{"0.6B on one GPU",
	 {.weight_bytes = GIB + GIB / 5, .kv_cache_bytes = GIB / 2, .overhead_per_gpu = GIB, .heads = 16, .kv_heads = 8},
	 {C("gpu-west", ONE_24, false)}, 1, 1, PLACEMENT_PLACED, 1, "gpu-west", 1, 1, 1, 1, "n1",
	 {"The model requires approximately 2.7 GiB of VRAM (weights 1.2 + KV cache 0.5 + overhead 1.0). "
	  "With gpuMemoryUtilization=0.9, all GPUs combined need to provide at least 3.0 GiB.",
	  "1 of 1 replica placed.", "replica 0: gpu-west, 1 node x 1 GPU (tensor 1, pipeline 1) on n1"}},
	{"needs 4 GPUs of 24 GiB on a node of 8: tensor parallel 4",
	 {.weight_bytes = 60 * GIB, .kv_cache_bytes = 4 * GIB, .overhead_per_gpu = 2 * GIB, .heads = 32, .kv_heads = 8},
	 {C("gpu-west", EIGHT_24, false)}, 1, 1, PLACEMENT_PLACED, 1, "gpu-west", 1, 4, 4, 1, "big",
	 {"1 node x 4 GPUs (tensor 4, pipeline 1)", NULL, NULL}},
	{"6 heads needing 4 GPUs get 6 (4 and 5 do not divide 6)",
	 {.weight_bytes = 60 * GIB, .kv_cache_bytes = 4 * GIB, .overhead_per_gpu = 2 * GIB, .heads = 6, .kv_heads = 6},
	 {C("gpu-west", EIGHT_24, false)}, 1, 1, PLACEMENT_PLACED, 1, "gpu-west", 1, 6, 6, 1, "big",
	 {NULL, NULL, NULL}},
	{"two whole nodes: pipeline 2 on the cluster that serves LWS",
	 {.weight_bytes = 250 * GIB, .kv_cache_bytes = 8 * GIB, .overhead_per_gpu = 2 * GIB, .heads = 64, .kv_heads = 8},
	 {C("b-nolws", TWO_8X24, false), C("a-lws", TWO_8X24, true)}, 2, 1, PLACEMENT_PLACED, 1, "a-lws", 2, 8, 8, 2,
	 "w0",
	 {"b-nolws: 2 nodes x 8 GPUs (tensor 8, pipeline 2) needs 18.1 GiB per GPU of 21.6 GiB but the cluster does not "
	  "serve leaderworkerset.x-k8s.io/v1 (LeaderWorkerSetMissing).", "a-lws: 2 nodes x 8 GPUs", NULL}},
	{"two whole nodes, no cluster serves LWS",
	 {.weight_bytes = 250 * GIB, .kv_cache_bytes = 8 * GIB, .overhead_per_gpu = 2 * GIB, .heads = 64, .kv_heads = 8},
	 {C("a-nolws", TWO_8X24, false)}, 1, 1, PLACEMENT_LWS_MISSING, 0, NULL, 0, 0, 0, 0, NULL,
	 {"LeaderWorkerSetMissing", NULL, NULL}},
	{"too big everywhere",
	 {.weight_bytes = 900 * GIB, .kv_cache_bytes = 8 * GIB, .overhead_per_gpu = 2 * GIB, .heads = 64, .kv_heads = 8},
	 {C("gpu-west", ONE_24, false), C("gpu-east", TWO_8X24, true)}, 2, 1, PLACEMENT_INSUFFICIENT_VRAM, 0, NULL, 0,
	 0, 0, 0, NULL,
	 {"The model requires approximately 910.0 GiB of VRAM", "gpu-west: the largest node has 24 GiB (1 x 24 GiB)",
	  "gpu-east: the largest node has 192 GiB (8 x 24 GiB); even 2 nodes x 8 GPUs (tensor 8, pipeline 2) needs "
	  "58.8 GiB per GPU of 21.6 GiB: does not fit."}},
	{"unified memory 32 GiB refuses 22 GiB",
	 {.weight_bytes = 19 * GIB, .kv_cache_bytes = 2 * GIB, .overhead_per_gpu = GIB, .heads = 32, .kv_heads = 8},
	 {C("mac", UNIFIED_32, false)}, 1, 1, PLACEMENT_INSUFFICIENT_VRAM, 0, NULL, 0, 0, 0, 0, NULL,
	 {"mac: unified memory 32 GiB: budget 21.4 GiB (32 GiB x 0.67 - 0 GiB in use) but the model needs 22 GiB: "
	  "does not fit.", NULL, NULL}},
	{"free GPUs: the taken node is skipped",
	 {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 16},
	 {C("c", TWO_1X24_ONE_TAKEN, false)}, 1, 1, PLACEMENT_PLACED, 1, "c", 1, 1, 1, 1, "b", {NULL, NULL, NULL}},
	{"free GPUs exhausted: InsufficientGPUs with the counts",
	 {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 16},
	 {C("c", TWO_1X24_ONE_TAKEN, false)}, 1, 2, PLACEMENT_INSUFFICIENT_GPUS, 1, "c", 1, 1, 1, 1, "b",
	 {"c: 1 GPU needs 3 GiB per GPU of 21.6 GiB but no node has 1 GPU free (0 of 2 GPUs free).", NULL, NULL}},
	{"explicit --tensor-parallel-size=2 honoured",
	 {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 32, .tensor = 2},
	 {C("gpu-west", EIGHT_24, false)}, 1, 1, PLACEMENT_PLACED, 1, "gpu-west", 1, 2, 2, 1, "big", {NULL, NULL, NULL}},
	{"explicit tensor 5 on 32 heads: InvalidTopology",
	 {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 32, .tensor = 5},
	 {C("gpu-west", EIGHT_24, false)}, 1, 1, PLACEMENT_INVALID_TOPOLOGY, 0, NULL, 0, 0, 0, 0, NULL,
	 {"tensor parallel size 5 does not divide the 32 attention heads", NULL, NULL}},
	{"explicit tensor 4 x pipeline 4 is 16 GPUs: two whole nodes",
	 {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 32, .tensor = 4, .pipeline = 4},
	 {C("gpu-west", TWO_8X24, true)}, 1, 1, PLACEMENT_PLACED, 1, "gpu-west", 2, 8, 4, 4, "w0", {NULL, NULL, NULL}},
	{"explicit nodes 3 on a cluster of two: no shape",
	 {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 32, .nodes = 3},
	 {C("gpu-west", TWO_8X24, true)}, 1, 1, PLACEMENT_INVALID_TOPOLOGY, 0, NULL, 0, 0, 0, 0, NULL,
	 {"fits no node shape", NULL, NULL}},
	{"no candidate cluster",
	 {.weight_bytes = GIB}, {{0}}, 0, 1, PLACEMENT_NO_CLUSTERS, 0, NULL, 0, 0, 0, 0, NULL, {"no candidate cluster", NULL, NULL}},
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct placement_result r;
		assert_int_equal(placement_decide(&w->m, w->cl, w->ncl, NULL, 0, w->replicas, &r), 0);
		if (r.reason != w->reason || r.nslots != w->placed)
			fail_msg("%s: reason %s placed %zu, want %s %zu\n%s", w->what, placement_reason_str(r.reason),
				 r.nslots, placement_reason_str(w->reason), w->placed, r.message);
		if (w->placed) {
			const struct placement_slot *s = &r.slots[0];
			if (strcmp(s->cluster, w->cluster) || s->nodes != w->nodes || s->gpus_per_node != w->gpn ||
			    s->tensor != w->tensor || s->pipeline != w->pipeline || strcmp(s->node_names[0], w->node0))
				fail_msg("%s: got %s %dx%d t%d p%d on %s\n%s", w->what, s->cluster, s->nodes, s->gpus_per_node,
					 s->tensor, s->pipeline, s->node_names[0], r.message);
			assert_non_null(strstr(s->message, "placed on"));
		}
		for (int k = 0; k < 3; k++)
			if (w->contains[k] && !strstr(r.message, w->contains[k]) &&
			    !(r.nslots && strstr(r.slots[0].message, w->contains[k])))
				fail_msg("%s: message lacks \"%s\":\n%s", w->what, w->contains[k], r.message);
		placement_result_cleanup(&r);
	}
}

/* A placed replica stays where it is (even when another cluster now comes
 * first) until it no longer fits; scale-down drops the highest replicas. */
static void test_stable(void **state)
{
	(void)state;
	struct placement_model m = {.weight_bytes = GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 16};
	struct placement_cluster cl[] = {C("a", EIGHT_24, false), C("b", ONE_24, false)};
	char *nodes_b[] = {"n1"}, *nodes_a[] = {"big"};
	struct placement_slot prev[] = {
		{.replica = 0, .cluster = "b", .nodes = 1, .gpus_per_node = 1, .tensor = 1, .pipeline = 1,
		 .node_names = nodes_b, .message = "kept"},
		{.replica = 2, .cluster = "a", .nodes = 1, .gpus_per_node = 1, .tensor = 1, .pipeline = 1,
		 .node_names = nodes_a, .message = "kept too"},
	};
	struct placement_result r;
	assert_int_equal(placement_decide(&m, cl, 2, prev, 2, 2, &r), 0);
	assert_int_equal(r.reason, PLACEMENT_PLACED);
	assert_int_equal(r.nslots, 2);
	assert_int_equal(r.slots[0].replica, 0);
	assert_string_equal(r.slots[0].cluster, "b");
	assert_string_equal(r.slots[0].message, "kept");
	assert_int_equal(r.slots[1].replica, 1);   /* replica 2 dropped (scale-down), 1 new on a */
	assert_string_equal(r.slots[1].cluster, "a");
	placement_result_cleanup(&r);

	/* the node is gone: replaced */
	char *gone[] = {"vanished"};
	prev[0].node_names = gone;
	assert_int_equal(placement_decide(&m, cl, 2, prev, 1, 1, &r), 0);
	assert_int_equal(r.nslots, 1);
	assert_string_equal(r.slots[0].cluster, "a");
	assert_string_not_equal(r.slots[0].message, "kept");
	placement_result_cleanup(&r);

	/* the model grew beyond the kept shape: re-placed with more GPUs */
	prev[0].node_names = nodes_a;
	prev[0].cluster = "a";
	m.weight_bytes = 30 * GIB;
	assert_int_equal(placement_decide(&m, cl, 2, prev, 1, 1, &r), 0);
	assert_int_equal(r.nslots, 1);
	assert_int_equal(r.slots[0].tensor, 2);
	placement_result_cleanup(&r);
}

/* One Deployment per cluster: replicas there share a shape; a cluster's GPUs
 * are used up replica by replica. */
static void test_scale_out(void **state)
{
	(void)state;
	struct placement_model m = {.weight_bytes = 30 * GIB, .kv_cache_bytes = GIB, .overhead_per_gpu = GIB, .heads = 32};
	struct placement_cluster cl[] = {C("a", EIGHT_24, false)};
	struct placement_result r;
	assert_int_equal(placement_decide(&m, cl, 1, NULL, 0, 5, &r), 0);
	assert_int_equal(r.reason, PLACEMENT_INSUFFICIENT_GPUS);
	assert_int_equal(r.nslots, 4);   /* 4 x tensor 2 on 8 GPUs */
	for (size_t i = 0; i < r.nslots; i++)
		assert_int_equal(r.slots[i].tensor, 2);
	assert_non_null(strstr(r.message, "(0 of 8 GPUs free)"));
	placement_result_cleanup(&r);
	assert_int_equal(placement_decide(&m, cl, 1, NULL, 0, 0, &r), 0);
	assert_int_equal(r.reason, PLACEMENT_PLACED);
	assert_int_equal(r.nslots, 0);
	placement_result_cleanup(&r);
}

static void test_per_gpu(void **state)
{
	(void)state;
	/* KV heads replicated when tensor exceeds them: 8 ranks, 4 KV heads */
	struct placement_model m = {.weight_bytes = 80 * GIB, .kv_cache_bytes = 8 * GIB, .overhead_per_gpu = GIB,
				    .kv_heads = 4};
	assert_int_equal(placement_per_gpu_bytes(&m, 8, 1), 10 * GIB + 2 * GIB + GIB);
	assert_int_equal(placement_per_gpu_bytes(&m, 2, 2), 20 * GIB + 2 * GIB + GIB);
	assert_int_equal(placement_per_gpu_bytes(&m, 1, 1), 89 * GIB);
	struct placement_node u = {.memory_bytes = 128 * GIB, .unified = true, .in_use_bytes = 6 * GIB};
	assert_int_equal(placement_gpu_budget(&m, &u), 90 * GIB);
	struct placement_result r;
	assert_int_equal(placement_decide(&m, NULL, 0, NULL, 0, -1, &r), -EINVAL);
	assert_int_equal(placement_decide(NULL, NULL, 0, NULL, 0, 1, &r), -EINVAL);
	/* hostile inventories are refused, never priced shape by shape */
	struct placement_node huge = {.name = "h", .memory_bytes = GIB, .gpus = PLACEMENT_MAX_GPUS_PER_NODE + 1, .free = 1};
	struct placement_cluster hc = {.name = "x", .nodes = &huge, .nnodes = 1};
	assert_int_equal(placement_decide(&m, &hc, 1, NULL, 0, 1, &r), -EINVAL);
	static struct placement_node many[PLACEMENT_MAX_NODES];
	static char names[PLACEMENT_MAX_NODES][16];
	for (int i = 0; i < PLACEMENT_MAX_NODES; i++) {
		snprintf(names[i], sizeof names[i], "n%d", i);
		many[i] = (struct placement_node){.name = names[i], .product = names[i], .memory_bytes = GIB,
						  .gpus = PLACEMENT_MAX_GPUS_PER_NODE, .free = 1};
	}
	struct placement_cluster mc = {.name = "x", .nodes = many, .nnodes = PLACEMENT_MAX_NODES};
	assert_int_equal(placement_decide(&m, &mc, 1, NULL, 0, 1, &r), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_scale_out),
		cmocka_unit_test(test_per_gpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
