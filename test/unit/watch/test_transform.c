/* Informer transforms: what each resource's informer keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "watch/transform.h"

static json_object *run(const struct kube_resource *res, const char *json)
{
	json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	reflector_transform_for(res)(o);
	return o;
}

static void expect_json(json_object *o, const char *want)
{
	json_object *w = json_tokener_parse(want);
	assert_non_null(w);
	if (!json_object_equal(o, w))
		fail_msg("got %s\nwant %s", json_object_to_json_string(o), want);
	json_object_put(w);
	json_object_put(o);
}

#define MD_IN                                                                                             \
	"\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"7\",\"labels\":{\"l\":\"v\"}," \
	"\"annotations\":{\"modelcache.dev/desired-hash\":\"h\","                                           \
	"\"kubectl.kubernetes.io/last-applied-configuration\":\"{...}\"},\"managedFields\":[{\"manager\":\"x\"}]}"
#define MD_OUT                                                                                            \
	"\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"7\",\"labels\":{\"l\":\"v\"}," \
	"\"annotations\":{\"modelcache.dev/desired-hash\":\"h\"}}"

static void test_job_keeps_metadata_and_status(void **state)
{
	(void)state;
	expect_json(run(&KUBE_RES_JOBS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\"," MD_IN
				       ",\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}},"
				       "\"status\":{\"failed\":1,\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\"}]}}"),
		    "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\"," MD_OUT
		    ",\"status\":{\"failed\":1,\"conditions\":[{\"type\":\"Failed\",\"status\":\"True\"}]}}");
}

static void test_pvc_keeps_size_class_phase(void **state)
{
	(void)state;
	expect_json(run(&KUBE_RES_PVCS, "{" MD_IN ",\"spec\":{\"accessModes\":[\"ReadWriteMany\"],\"volumeMode\":\"Filesystem\","
				       "\"storageClassName\":\"rwx\",\"volumeName\":\"pv-1\","
				       "\"resources\":{\"requests\":{\"storage\":\"2Gi\"},\"limits\":{\"storage\":\"3Gi\"}}},"
				       "\"status\":{\"phase\":\"Bound\",\"accessModes\":[\"ReadWriteMany\"],"
				       "\"capacity\":{\"storage\":\"2Gi\"},\"conditions\":[]}}"),
		    "{" MD_OUT ",\"spec\":{\"storageClassName\":\"rwx\",\"volumeName\":\"pv-1\","
		    "\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}},"
		    "\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"2Gi\"}}}");
}

static void test_node_keeps_allocatable(void **state)
{
	(void)state;
	expect_json(run(&KUBE_RES_NODES, "{" MD_IN ",\"spec\":{\"podCIDR\":\"10.0.0.0/24\",\"taints\":[]},"
					"\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"8\"},\"capacity\":{\"cpu\":\"4\"},"
					"\"images\":[{\"names\":[\"a\"]}],\"conditions\":[],\"nodeInfo\":{}}}"),
		    "{" MD_OUT ",\"spec\":{\"taints\":[]},"
		    "\"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"8\"},\"capacity\":{\"cpu\":\"4\"}}}");
}

static void test_default_keeps_everything_else(void **state)
{
	(void)state;
	expect_json(run(&KUBE_RES_MODELCACHES, "{" MD_IN ",\"spec\":{\"a\":1},\"status\":{\"b\":2}}"),
		    "{" MD_OUT ",\"spec\":{\"a\":1},\"status\":{\"b\":2}}");
	expect_json(run(&KUBE_RES_SECRETS, "{" MD_IN ",\"data\":{\"token\":\"eA==\"}}"),
		    "{" MD_OUT ",\"data\":{\"token\":\"eA==\"}}");
}

/* Unexpected shapes (a spec that is a string, no metadata) are left alone. */
static void test_odd_shapes(void **state)
{
	(void)state;
	expect_json(run(&KUBE_RES_PVCS, "{\"spec\":\"x\",\"status\":[1]}"), "{\"spec\":\"x\",\"status\":[1]}");
	expect_json(run(&KUBE_RES_JOBS, "{\"metadata\":3,\"spec\":{}}"), "{\"metadata\":3}");
	/* more keys than one walk drops */
	char big[4096] = "{\"metadata\":{}";
	for (int i = 0; i < 100; i++)
		snprintf(big + strlen(big), sizeof big - strlen(big), ",\"k%d\":%d", i, i);
	strcat(big, "}");
	expect_json(run(&KUBE_RES_JOBS, big), "{\"metadata\":{}}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_job_keeps_metadata_and_status),
		cmocka_unit_test(test_pvc_keeps_size_class_phase),
		cmocka_unit_test(test_node_keeps_allocatable),
		cmocka_unit_test(test_default_keeps_everything_else),
		cmocka_unit_test(test_odd_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
