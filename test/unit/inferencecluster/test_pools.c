/* InferenceCluster GPU pool discovery (pure helpers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controllers/inferencecluster/inferencecluster.h"

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void pools_str(json_object *pools, char *out, size_t n)
{
	out[0] = 0;
	for (size_t i = 0; i < json_object_array_length(pools); i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s:%lld:%lld:%lld:%s:%s;",
			 json_object_get_string(json_object_object_get(p, "product")),
			 (long long)json_object_get_int64(json_object_object_get(p, "memoryBytes")),
			 (long long)json_object_get_int64(json_object_object_get(p, "perNode")),
			 (long long)json_object_get_int64(json_object_object_get(p, "nodes")),
			 json_object_get_boolean(json_object_object_get(p, "unifiedMemory")) ? "unified" : "discrete",
			 json_object_get_string(json_object_object_get(p, "source")));
	}
}

static void test_gfd_labels_grouped(void **st)
{
	(void)st;
	json_object *nodes = parse("["
		"{\"metadata\":{\"name\":\"a\",\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\",\"nvidia.com/gpu.memory\":\"81559\",\"nvidia.com/gpu.count\":\"8\"}}},"
		"{\"metadata\":{\"name\":\"b\",\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\",\"nvidia.com/gpu.memory\":\"81559\",\"nvidia.com/gpu.count\":\"8\"}}},"
		"{\"metadata\":{\"name\":\"c\",\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\",\"nvidia.com/gpu.memory\":\"81559\",\"nvidia.com/gpu.count\":\"4\"}}},"
		"{\"metadata\":{\"name\":\"d\",\"labels\":{\"nvidia.com/gpu.product\":\"NVIDIA-A10G\",\"nvidia.com/gpu.memory\":\"23028\",\"nvidia.com/gpu.count\":\"1\"}}},"
		"{\"metadata\":{\"name\":\"cpu\",\"labels\":{\"kubernetes.io/os\":\"linux\"}}}"
		"]");
	json_object *pools = ic_pools_from_nodes(nodes);
	char s[1024];
	pools_str(pools, s, sizeof s);
	assert_string_equal(s,
		"NVIDIA-A10G:24146608128:1:1:discrete:NodeLabels;"
		"NVIDIA-H100-80GB-HBM3:85520809984:4:1:discrete:NodeLabels;"
		"NVIDIA-H100-80GB-HBM3:85520809984:8:2:discrete:NodeLabels;");
	json_object_put(pools);
	json_object_put(nodes);
}

static void test_allocatable_fallback_and_unknown_memory(void **st)
{
	(void)st;
	json_object *nodes = parse("["
		/* product label but no count label: allocatable gives the count */
		"{\"metadata\":{\"name\":\"a\",\"labels\":{\"nvidia.com/gpu.product\":\"Tesla-T4\",\"nvidia.com/gpu.memory\":\"15360\"}},"
		" \"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"2\",\"cpu\":\"8\"}}},"
		/* no labels at all, GPUs only in allocatable: unknown product and memory */
		"{\"metadata\":{\"name\":\"b\"},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"4\"}}},"
		/* zero GPUs allocatable: not a GPU node */
		"{\"metadata\":{\"name\":\"c\"},\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"0\"}}},"
		/* garbage count label: falls back to allocatable (absent) => skipped */
		"{\"metadata\":{\"name\":\"d\",\"labels\":{\"nvidia.com/gpu.count\":\"lots\"}}}"
		"]");
	json_object *pools = ic_pools_from_nodes(nodes);
	char s[1024];
	pools_str(pools, s, sizeof s);
	assert_string_equal(s, "Tesla-T4:16106127360:2:1:discrete:NodeLabels;unknown:0:4:1:discrete:NodeLabels;");
	json_object_put(pools);
	json_object_put(nodes);
	/* no nodes: no pools */
	json_object *empty = json_object_new_array();
	pools = ic_pools_from_nodes(empty);
	assert_int_equal(json_object_array_length(pools), 0);
	json_object_put(pools);
	json_object_put(empty);
}

static void test_spec_pools(void **st)
{
	(void)st;
	json_object *gpus = parse("[{\"product\":\"NVIDIA-H100-80GB-HBM3\",\"memory\":\"80Gi\",\"perNode\":8,\"nodes\":4},"
				  "{\"product\":\"GB10\",\"memory\":\"128Gi\",\"unifiedMemory\":true}]");
	json_object *pools = ic_pools_from_spec(gpus);
	char s[1024];
	pools_str(pools, s, sizeof s);
	assert_string_equal(s, "GB10:137438953472:1:1:unified:Spec;NVIDIA-H100-80GB-HBM3:85899345920:8:4:discrete:Spec;");
	json_object_put(pools);
	json_object_put(gpus);
	gpus = parse("[{\"product\":\"X\",\"memory\":\"eighty\"}]");
	assert_null(ic_pools_from_spec(gpus));
	json_object_put(gpus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gfd_labels_grouped),
		cmocka_unit_test(test_allocatable_fallback_and_unknown_memory),
		cmocka_unit_test(test_spec_pools),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
