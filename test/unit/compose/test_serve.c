/* pkg/compose serving workloads: Deployment and LeaderWorkerSet compared
 * with golden YAML (test/unit/compose/golden/serve-*.yaml; regenerate with
 * MC_UPDATE_GOLDEN=1 after an intended change and review the diff), and the
 * engine argument rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "compose/emit.h"
#include "compose/serve.h"
#include "unit/compose/golden.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/mem.h"

static const char *MC =
	"{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\","
	"\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml-team\"},"
	"\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\"}}}";
static const char *MC_HF =
	"{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\","
	"\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml-team\"},"
	"\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\",\"layout\":\"HuggingFaceCache\"}}}";
static const char *IC_LOCAL =
	"{\"metadata\":{\"name\":\"local\"},\"spec\":{\"connection\":{\"local\":{}}}}";
static const char *IC_REMOTE =
	"{\"metadata\":{\"name\":\"gpu-west\"},\"spec\":{\"connection\":{\"kubeconfigSecretRef\":"
	"{\"namespace\":\"modelcache-system\",\"name\":\"gpu-west\"}},\"namespace\":\"serving\"}}";

static json_object *md_with(const char *engine)
{
	char *s = xasprintf("{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelDeployment\","
			    "\"metadata\":{\"name\":\"chat\",\"namespace\":\"ml-team\"},"
			    "\"spec\":{\"replicas\":2,\"modelCacheRef\":{\"name\":\"qwen\"},\"engine\":%s}}", engine);
	json_object *o = json_tokener_parse(s);
	free(s);
	assert_non_null(o);
	return o;
}

static void golden(const char *name, json_object *obj)
{
	json_object *objs[] = {obj};
	check_golden(name, objs, 1);
}

static const char *arg(json_object *args, size_t i)
{
	return json_object_get_string(json_object_array_get_idx(args, i));
}

static void test_deployment_golden(void **state)
{
	(void)state;
	json_object *md = md_with("{\"image\":\"vllm/vllm-openai:v0.8.5\",\"args\":[\"--max-model-len=8192\"],"
				  "\"env\":[{\"name\":\"VLLM_LOGGING_LEVEL\",\"value\":\"INFO\"}],\"port\":8000}");
	json_object *mc = json_tokener_parse(MC), *ic = json_tokener_parse(IC_LOCAL);
	struct compose_serve_input in = {.md = md, .mc = mc, .ic = ic, .replicas = 2, .nodes = 1, .gpus_per_node = 4,
					 .tensor = 4, .pipeline = 1, .gpu_product = "NVIDIA-L4"};
	json_object *d = NULL;
	assert_int_equal(compose_serve_deployment(&in, &d), 0);
	assert_string_equal(jpath_str(d, "metadata.name"), "modelcache-ml-team-chat-serve-f08f3");
	assert_string_equal(jpath_str(d, "metadata.namespace"), "ml-team");
	golden("serve-deployment", d);
	json_object *lws = NULL;
	assert_int_equal(compose_serve_lws(&in, &lws), -EINVAL);   /* one node is a Deployment */
	json_object_put(d);
	json_object_put(md);
	json_object_put(mc);
	json_object_put(ic);
}

static void test_lws_golden(void **state)
{
	(void)state;
	json_object *md = md_with("{\"image\":\"vllm/vllm-openai:v0.8.5\"}");
	json_object *mc = json_tokener_parse(MC), *ic = json_tokener_parse(IC_REMOTE);
	struct compose_serve_input in = {.md = md, .mc = mc, .ic = ic, .replicas = 1, .nodes = 2, .gpus_per_node = 8,
					 .tensor = 8, .pipeline = 2};
	json_object *l = NULL;
	assert_int_equal(compose_serve_lws(&in, &l), 0);
	assert_string_equal(jpath_str(l, "metadata.namespace"), "serving");
	assert_int_equal(jpath_int_or(l, "spec.leaderWorkerTemplate.size", 0), 2);
	/* the cache in every pod: leader and workers */
	const char *tmpl[] = {"spec.leaderWorkerTemplate.leaderTemplate.spec", "spec.leaderWorkerTemplate.workerTemplate.spec"};
	for (int i = 0; i < 2; i++) {
		json_object *spec = jpath_get(l, tmpl[i]);
		json_object *c = json_object_array_get_idx(jpath_child(spec, "containers"), 0);
		json_object *m = json_object_array_get_idx(jpath_child(c, "volumeMounts"), 0);
		assert_string_equal(jpath_str(m, "mountPath"), "/mnt/models");
		assert_string_equal(jpath_str(json_object_array_get_idx(jpath_child(spec, "volumes"), 0),
					      "persistentVolumeClaim.claimName"), "modelcache-ml-team-qwen-17db2");
		assert_string_equal(arg(jpath_child(c, "args"), 0), "--model=/mnt/models");
		assert_string_equal(jpath_child_str(jpath_get(c, "resources.limits"), "nvidia.com/gpu"), "8");
	}
	golden("serve-lws", l);
	json_object_put(l);
	json_object_put(md);
	json_object_put(mc);
	json_object_put(ic);
}

static void test_args(void **state)
{
	(void)state;
	json_object *mc = json_tokener_parse(MC), *mchf = json_tokener_parse(MC_HF), *ic = json_tokener_parse(IC_LOCAL);
	struct compose_serve_input in = {.mc = mc, .ic = ic, .replicas = 1, .nodes = 1, .gpus_per_node = 2,
					 .tensor = 2, .pipeline = 1};
	json_object *args = NULL;

	/* turnkey: --model first, tensor and pipeline appended */
	in.md = md_with("{\"image\":\"vllm\",\"args\":[\"--max-model-len\",\"4096\"]}");
	assert_int_equal(compose_serve_args(&in, &args), 0);
	assert_int_equal(json_object_array_length(args), 5);
	assert_string_equal(arg(args, 0), "--model=/mnt/models");
	assert_string_equal(arg(args, 1), "--max-model-len");
	assert_string_equal(arg(args, 3), "--tensor-parallel-size=2");
	assert_string_equal(arg(args, 4), "--pipeline-parallel-size=1");
	json_object_put(args);
	json_object_put(in.md);

	/* --model=x given, -tp given: neither added */
	in.md = md_with("{\"image\":\"vllm\",\"args\":[\"--model=x\",\"-tp\",\"2\",\"--pipeline-parallel-size=1\"]}");
	assert_int_equal(compose_serve_args(&in, &args), 0);
	assert_int_equal(json_object_array_length(args), 4);
	assert_string_equal(arg(args, 0), "--model=x");
	json_object_put(args);
	json_object_put(in.md);
	in.md = md_with("{\"image\":\"vllm\",\"args\":[\"--model\",\"/other\"]}");
	assert_int_equal(compose_serve_args(&in, &args), 0);
	assert_string_equal(arg(args, 0), "--model");
	json_object_put(args);
	json_object_put(in.md);

	/* command set: args untouched, nothing added */
	in.md = md_with("{\"image\":\"llama\",\"command\":[\"llama-server\"],\"args\":[\"-m\",\"/mnt/models/x.gguf\"]}");
	assert_int_equal(compose_serve_args(&in, &args), 0);
	assert_int_equal(json_object_array_length(args), 2);
	assert_string_equal(arg(args, 0), "-m");
	json_object_put(args);
	json_object *d = NULL;
	assert_int_equal(compose_serve_deployment(&in, &d), 0);
	json_object *c = json_object_array_get_idx(jpath_get(d, "spec.template.spec.containers"), 0);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(jpath_child(c, "command"), 0)), "llama-server");
	json_object_put(d);
	json_object_put(in.md);

	/* HuggingFaceCache layout: the repo id and the offline cache env */
	in.mc = mchf;
	in.md = md_with("{\"image\":\"vllm\"}");
	assert_int_equal(compose_serve_deployment(&in, &d), 0);
	c = json_object_array_get_idx(jpath_get(d, "spec.template.spec.containers"), 0);
	assert_string_equal(arg(jpath_child(c, "args"), 0), "--model=Qwen/Qwen3-0.6B");
	json_object *env = jpath_child(c, "env");
	assert_string_equal(jpath_str(json_object_array_get_idx(env, 0), "name"), "HF_HUB_CACHE");
	assert_string_equal(jpath_str(json_object_array_get_idx(env, 0), "value"), "/mnt/models");
	assert_string_equal(jpath_str(json_object_array_get_idx(env, 1), "value"), "1");
	json_object_put(d);
	json_object_put(in.md);

	/* bad input */
	in.md = NULL;
	assert_int_equal(compose_serve_args(&in, &args), -EINVAL);
	json_object_put(mc);
	json_object_put(mchf);
	json_object_put(ic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deployment_golden),
		cmocka_unit_test(test_lws_golden),
		cmocka_unit_test(test_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
