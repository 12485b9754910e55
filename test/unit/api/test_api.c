/* pkg/api: views with defaults, validation rules and messages, conditions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "api/api.h"
#include "util/buf.h"
#include "util/mem.h"

typedef int (*validate_fn)(json_object *, char **);

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);

	if (!o)
		fail_msg("bad test JSON: %s", s);
	return o;
}

#define META "\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml-team\",\"generation\":3}"

/* A ModelCache with the given spec body. */
static char *mc_doc(const char *spec)
{
	return xasprintf("{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\"," META
			 ",\"spec\":{%s}}", spec);
}

#define HF_OK "\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\"}"

/* The message must be exactly `want`. */
static void expect_msg(validate_fn fn, const char *doc, const char *want)
{
	json_object *o = J(doc);
	char *msg = NULL;
	int rc = fn(o, &msg);

	if (rc != -EINVAL)
		fail_msg("expected invalid: %s", doc);
	assert_non_null(msg);
	if (strcmp(msg, want) != 0)
		fail_msg("for %s\n got: %s\nwant: %s", doc, msg, want);
	free(msg);
	json_object_put(o);
}

static void expect_mc(const char *spec, const char *want)
{
	char *doc = mc_doc(spec);

	expect_msg(api_validate_modelcache, doc, want);
	free(doc);
}

static void expect_valid(validate_fn fn, const char *doc)
{
	json_object *o = J(doc);
	char *msg = NULL;

	if (fn(o, &msg) != 0)
		fail_msg("expected valid: %s\n got: %s", doc, msg);
	assert_null(msg);
	json_object_put(o);
}

/* ---- ModelCache ---- */

static void test_mc_defaults(void **state)
{
	char *doc = mc_doc(HF_OK);
	json_object *o = J(doc);
	struct api_modelcache mc;
	char *msg = NULL;

	assert_int_equal(api_modelcache_from_json(o, &mc, &msg), 0);
	assert_null(msg);
	assert_string_equal(mc.meta.name, "qwen");
	assert_string_equal(mc.meta.namespace, "ml-team");
	assert_int_equal(mc.meta.generation, 3);
	assert_false(mc.meta.deleting);
	assert_string_equal(mc.source, "HuggingFace");
	assert_string_equal(mc.repo, "Qwen/Qwen3-0.6B");
	assert_string_equal(mc.revision, "main");
	assert_int_equal(mc.ninclude, 0);
	assert_int_equal(mc.nexclude, 0);
	assert_null(mc.auth_secret_name);
	assert_int_equal(mc.size_bytes, 0);
	assert_null(mc.cluster_selector);
	assert_int_equal(mc.deletion_policy, API_DELETION_DELETE);
	assert_true(mc.precheck_vram);
	assert_true(mc.safety_factor == 1.0);
	assert_false(mc.multi_node_sharded);
	assert_false(mc.pinned);
	assert_null(mc.retry);
	json_object_put(o);
	free(doc);
}

static void test_mc_full(void **state)
{
	const char *doc =
		"{\"metadata\":{\"name\":\"gated\",\"namespace\":\"ml\",\"generation\":1,"
		"\"deletionTimestamp\":\"2026-11-23T10:00:00Z\","
		"\"annotations\":{\"modelcache.dev/multi-node-sharded\":\"true\",\"modelcache.dev/pinned\":\"yes\","
		"\"modelcache.dev/retry\":\"2\"}},"
		"\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"gpt2\",\"revision\":\"refs/pr/1\","
		"\"include\":[\"*.gguf\",\"*.json\"],\"exclude\":[\"original/*\"],"
		"\"authSecret\":{\"name\":\"hf-token\"}},\"size\":\"20Gi\","
		"\"clusterSelector\":{\"matchLabels\":{\"region\":\"west\"}},\"deletionPolicy\":\"Retain\","
		"\"precheck\":{\"vram\":\"Disabled\",\"safetyFactor\":\"1.25\"}}}";
	json_object *o = J(doc);
	struct api_modelcache mc;
	char *msg = NULL;

	assert_int_equal(api_modelcache_from_json(o, &mc, &msg), 0);
	assert_string_equal(mc.repo, "gpt2");
	assert_string_equal(mc.revision, "refs/pr/1");
	assert_int_equal(mc.ninclude, 2);
	assert_string_equal(mc.include[0], "*.gguf");
	assert_string_equal(mc.include[1], "*.json");
	assert_int_equal(mc.nexclude, 1);
	assert_string_equal(mc.exclude[0], "original/*");
	assert_string_equal(mc.auth_secret_name, "hf-token");
	assert_string_equal(mc.auth_secret_key, "HF_TOKEN");
	assert_int_equal(mc.size_bytes, 20LL << 30);
	assert_non_null(mc.cluster_selector);
	assert_string_equal(api_path_str(mc.cluster_selector, "matchLabels.region", NULL), "west");
	assert_int_equal(mc.deletion_policy, API_DELETION_RETAIN);
	assert_false(mc.precheck_vram);
	assert_true(mc.safety_factor == 1.25);
	assert_true(mc.multi_node_sharded);
	assert_false(mc.pinned);     /* only "true" counts */
	assert_string_equal(mc.retry, "2");
	assert_true(mc.meta.deleting);
	json_object_put(o);

	/* integer size = bytes; explicit auth key */
	{
		char *d = mc_doc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\","
				 "\"authSecret\":{\"name\":\"s\",\"key\":\"token.txt\"}},\"size\":1073741824");

		o = J(d);
		assert_int_equal(api_modelcache_from_json(o, &mc, NULL), 0);
		assert_int_equal(mc.size_bytes, 1073741824);
		assert_string_equal(mc.auth_secret_key, "token.txt");
		json_object_put(o);
		free(d);
	}
}

static void test_mc_rules(void **state)
{
	expect_mc("\"source\":\"HuggingFace\"",
		  "spec.huggingFace: Required value: spec.huggingFace is required when spec.source is HuggingFace");
	expect_mc("\"huggingFace\":{\"repo\":\"a\"}", "spec.source: Required value");
	expect_mc("\"source\":\"S3\",\"huggingFace\":{\"repo\":\"a\"}",
		  "spec.source: Unsupported value: \"S3\": supported values: \"HuggingFace\"");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a/b/c\"}",
		  "spec.huggingFace.repo: Invalid value: \"a/b/c\": must be \"org/name\" or \"name\"");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{}", "spec.huggingFace.repo: Required value");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"\"}", "spec.huggingFace.repo: Required value");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":7}",
		  "spec.huggingFace.repo: Invalid value: 7: must be of type string");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"-a/b\"}",
		  "spec.huggingFace.repo: Invalid value: \"-a/b\": must be \"org/name\" or \"name\"");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a/b..c\"}",
		  "spec.huggingFace.repo: Invalid value: \"a/b..c\": must be \"org/name\" or \"name\"");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a/ b\"}",
		  "spec.huggingFace.repo: Invalid value: \"a/ b\": must be \"org/name\" or \"name\"");
	expect_mc(HF_OK ",\"size\":\"20Gx\"", "spec.size: Invalid value: \"20Gx\": not a quantity");
	expect_mc(HF_OK ",\"size\":\"0\"", "spec.size: Invalid value: \"0\": must be greater than zero");
	expect_mc(HF_OK ",\"size\":\"-1Gi\"", "spec.size: Invalid value: \"-1Gi\": must not be negative");
	expect_mc(HF_OK ",\"size\":true",
		  "spec.size: Invalid value: true: must be a quantity (string such as \"20Gi\" or integer)");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a/b\",\"files\":\"Some\"}",
		  "spec.huggingFace.files: Unsupported value: \"Some\": supported values: \"Auto\", \"All\"");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a/b\",\"layout\":\"Cache\"}",
		  "spec.huggingFace.layout: Unsupported value: \"Cache\": supported values: \"Flat\", "
		  "\"HuggingFaceCache\"");
	expect_mc(HF_OK ",\"deletionPolicy\":\"Orphan\"",
		  "spec.deletionPolicy: Unsupported value: \"Orphan\": supported values: \"Delete\", \"Retain\"");
	expect_mc(HF_OK ",\"precheck\":{\"vram\":\"On\"}",
		  "spec.precheck.vram: Unsupported value: \"On\": supported values: \"Enabled\", \"Disabled\"");
	expect_mc(HF_OK ",\"precheck\":{\"safetyFactor\":\"abc\"}",
		  "spec.precheck.safetyFactor: Invalid value: \"abc\": must be a decimal number such as \"1\"");
	expect_mc(HF_OK ",\"precheck\":{\"safetyFactor\":\"0\"}",
		  "spec.precheck.safetyFactor: Invalid value: \"0\": must be greater than 0 and at most 100");
	expect_mc(HF_OK ",\"precheck\":{\"safetyFactor\":1.2}",
		  "spec.precheck.safetyFactor: Invalid value: 1.2: must be of type string");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"revision\":\"../x\"}",
		  "spec.huggingFace.revision: Invalid value: \"../x\": must be a branch, tag or commit "
		  "(letters, digits, '.', '_', '-', '/', no \"..\", at most 255 characters)");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"include\":[\"\"]}",
		  "spec.huggingFace.include[0]: Invalid value: \"\": must be 1 to 256 characters");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"exclude\":\"x\"}",
		  "spec.huggingFace.exclude: Invalid value: \"x\": must be of type array");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"authSecret\":{}}",
		  "spec.huggingFace.authSecret.name: Required value");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"authSecret\":{\"name\":\"Bad_Name\"}}",
		  "spec.huggingFace.authSecret.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain "
		  "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
		  "an alphanumeric character");
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"authSecret\":{\"name\":\"s\",\"key\":\"a b\"}}",
		  "spec.huggingFace.authSecret.key: Invalid value: \"a b\": a valid config key must consist of "
		  "alphanumeric characters, '-', '_' or '.'");
	expect_mc(HF_OK ",\"clusterSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}",
		  "spec.clusterSelector.matchExpressions[0].values: Required value: must be specified when operator is \"In\"");
	expect_mc(HF_OK ",\"clusterSelector\":{\"matchLabels\":{\"a\":\"b c\"}}",
		  "spec.clusterSelector.matchLabels[a]: Invalid value: \"b c\": a valid label must be an empty string "
		  "or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
		  "alphanumeric character");
	expect_mc(HF_OK ",\"clusterSelector\":[]",
		  "spec.clusterSelector: Invalid value: []: must be of type object");
}

static void test_mc_many_errors_and_shapes(void **state)
{
	struct api_modelcache mc;
	char *msg = NULL;
	json_object *o;
	char *long_list;
	struct buf b;

	/* several problems are all reported, in field order */
	expect_mc("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a/b/c\"},\"size\":\"x\"",
		  "spec.huggingFace.repo: Invalid value: \"a/b/c\": must be \"org/name\" or \"name\"; "
		  "spec.size: Invalid value: \"x\": not a quantity");
	expect_msg(api_validate_modelcache, "{\"metadata\":{\"name\":\"a\"}}", "spec: Required value");
	expect_msg(api_validate_modelcache, "{\"spec\":{" HF_OK "}}", "metadata.name: Required value");
	expect_msg(api_validate_modelcache, "[]", "<root>: Invalid value: must be an object");
	expect_msg(api_validate_modelcache,
		   "{\"metadata\":{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"},"
		   "\"spec\":{" HF_OK "}}",
		   "metadata.name: Too long: may not be more than 63 bytes");
	/* maxItems */
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 65; i++)
		buf_printf(&b, "%s\"p%d\"", i ? "," : "", i);
	long_list = xasprintf("\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"a\",\"include\":[%s]}",
			      buf_str(&b));
	expect_mc(long_list, "spec.huggingFace.include: Too many: 65: must have at most 64 items");
	free(long_list);
	buf_cleanup(&b);
	/* NULL msg pointer is allowed */
	o = J("{\"metadata\":{\"name\":\"a\"},\"spec\":{}}");
	assert_int_equal(api_modelcache_from_json(o, &mc, NULL), -EINVAL);
	json_object_put(o);
	(void)msg;
}

/* ---- InferenceCluster ---- */

static void test_ic(void **state)
{
	const char *local = "{\"metadata\":{\"name\":\"local\",\"labels\":{\"region\":\"west\"}},"
			    "\"spec\":{\"connection\":{\"local\":{}}}}";
	const char *remote =
		"{\"metadata\":{\"name\":\"gpu-west\"},\"spec\":{\"connection\":{\"kubeconfigSecretRef\":"
		"{\"namespace\":\"modelcache-system\",\"name\":\"gpu-west\"}},\"namespace\":\"models\","
		"\"cache\":{\"storageClassName\":\"nfs\",\"capacity\":\"2Ti\",\"reserve\":\"100Gi\",\"maxCaches\":20},"
		"\"gpus\":[{\"product\":\"NVIDIA-H100-80GB-HBM3\",\"memory\":\"80Gi\",\"perNode\":8,\"nodes\":4},"
		"{\"product\":\"GB10\",\"memory\":\"128Gi\",\"unifiedMemory\":true}]}}";
	struct api_inferencecluster ic;
	json_object *o = J(local);

	assert_int_equal(api_inferencecluster_from_json(o, &ic, NULL), 0);
	assert_int_equal(ic.connection, API_CONN_LOCAL);
	assert_string_equal(ic.namespace, "modelcache");
	assert_string_equal(ic.storage_class, "modelcache-rwx");
	assert_int_equal(ic.capacity_bytes, -1);
	assert_int_equal(ic.reserve_bytes, 0);
	assert_int_equal(ic.max_caches, 0);
	assert_int_equal(ic.ngpus, 0);
	assert_string_equal(api_label(o, "region"), "west");
	json_object_put(o);

	o = J(remote);
	assert_int_equal(api_inferencecluster_from_json(o, &ic, NULL), 0);
	assert_int_equal(ic.connection, API_CONN_KUBECONFIG);
	assert_string_equal(ic.kubeconfig_namespace, "modelcache-system");
	assert_string_equal(ic.kubeconfig_name, "gpu-west");
	assert_string_equal(ic.kubeconfig_key, "kubeconfig");
	assert_string_equal(ic.namespace, "models");
	assert_string_equal(ic.storage_class, "nfs");
	assert_int_equal(ic.capacity_bytes, 2LL << 40);
	assert_int_equal(ic.reserve_bytes, 100LL << 30);
	assert_int_equal(ic.max_caches, 20);
	assert_int_equal(ic.ngpus, 2);
	assert_string_equal(ic.gpus[0].product, "NVIDIA-H100-80GB-HBM3");
	assert_int_equal(ic.gpus[0].memory_bytes, 80LL << 30);
	assert_int_equal(ic.gpus[0].per_node, 8);
	assert_int_equal(ic.gpus[0].nodes, 4);
	assert_false(ic.gpus[0].unified_memory);
	assert_int_equal(ic.gpus[1].per_node, 1);
	assert_int_equal(ic.gpus[1].nodes, 1);
	assert_true(ic.gpus[1].unified_memory);
	json_object_put(o);

	expect_msg(api_validate_inferencecluster, "{\"metadata\":{\"name\":\"a\"},\"spec\":{}}",
		   "spec.connection: Required value");
	expect_msg(api_validate_inferencecluster, "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{}}}",
		   "spec.connection: Invalid value: \"object\": exactly one of local or kubeconfigSecretRef must be set");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"local\":{},"
		   "\"kubeconfigSecretRef\":{\"namespace\":\"a\",\"name\":\"b\"}}}}",
		   "spec.connection: Invalid value: \"object\": exactly one of local or kubeconfigSecretRef must be set");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"kubeconfigSecretRef\":{\"name\":\"b\"}}}}",
		   "spec.connection.kubeconfigSecretRef.namespace: Required value");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"local\":{}},\"namespace\":\"Bad\"}}",
		   "spec.namespace: Invalid value: \"Bad\": a lowercase RFC 1123 label must consist of lower case "
		   "alphanumeric characters or '-', start and end with an alphanumeric character, and be at most "
		   "63 characters");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"local\":{}},\"cache\":{\"reserve\":\"1Gi\"}}}",
		   "spec.cache: Invalid value: \"object\": reserve requires capacity");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"local\":{}},"
		   "\"cache\":{\"capacity\":\"1Ti\",\"reserve\":\"2Ti\"}}}",
		   "spec.cache.reserve: Invalid value: \"2Ti\": must be less than spec.cache.capacity");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"local\":{}},\"cache\":{\"maxCaches\":0}}}",
		   "spec.cache.maxCaches: Invalid value: 0: should be greater than or equal to 1");
	expect_msg(api_validate_inferencecluster,
		   "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"connection\":{\"local\":{}},"
		   "\"gpus\":[{\"product\":\"x\"},{\"memory\":\"8Gi\",\"perNode\":0}]}}",
		   "spec.gpus[0].memory: Required value; spec.gpus[1].product: Required value; "
		   "spec.gpus[1].perNode: Invalid value: 0: should be greater than or equal to 1");
}

/* ---- ModelDeployment ---- */

static void test_md(void **state)
{
	const char *doc = "{\"metadata\":{\"name\":\"chat\",\"namespace\":\"ml\"},\"spec\":{"
			  "\"modelCacheRef\":{\"name\":\"qwen\"},\"engine\":{\"image\":\"vllm/vllm-openai:v0.8.5\","
			  "\"args\":[\"--max-model-len=8192\"]}}}";
	struct api_modeldeployment md;
	json_object *o = J(doc);

	assert_int_equal(api_modeldeployment_from_json(o, &md, NULL), 0);
	assert_int_equal(md.replicas, 1);
	assert_string_equal(md.cache_ref, "qwen");
	assert_null(md.model_repo);
	assert_string_equal(md.image, "vllm/vllm-openai:v0.8.5");
	assert_null(md.command);
	assert_false(md.byo_engine);
	assert_non_null(md.args);
	assert_int_equal(json_object_array_length(md.args), 1);
	assert_int_equal(md.port, 8000);
	assert_int_equal(md.tensor, 0);
	assert_int_equal(md.context_length, 0);
	assert_int_equal(md.max_sequences, 1);
	assert_true(md.gpu_memory_utilization == 0.9);
	json_object_put(o);

	o = J("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"replicas\":3,\"model\":{\"huggingFace\":{\"repo\":\"Qwen/Qwen3-8B\"}},"
	      "\"engine\":{\"image\":\"llama\",\"command\":[\"llama-server\"],\"port\":8080,"
	      "\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},\"topology\":{\"tensor\":2,\"pipeline\":2,\"nodes\":2},"
	      "\"contextLength\":32768,\"maxSequences\":4,\"gpuMemoryUtilization\":\"0.85\"}}");
	assert_int_equal(api_modeldeployment_from_json(o, &md, NULL), 0);
	assert_int_equal(md.replicas, 3);
	assert_string_equal(md.model_repo, "Qwen/Qwen3-8B");
	assert_string_equal(md.model_revision, "main");
	assert_true(md.byo_engine);
	assert_int_equal(md.port, 8080);
	assert_int_equal(md.tensor, 2);
	assert_int_equal(md.pipeline, 2);
	assert_int_equal(md.nodes, 2);
	assert_int_equal(md.context_length, 32768);
	assert_int_equal(md.max_sequences, 4);
	assert_true(md.gpu_memory_utilization == 0.85);
	assert_non_null(md.env);
	json_object_put(o);

	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"engine\":{\"image\":\"i\"}}}",
		   "spec: Invalid value: \"object\": one of spec.modelCacheRef or spec.model is required");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}}}",
		   "spec.engine: Required value");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"modelCacheRef\":{\"name\":\"q\"},\"engine\":{}}}",
		   "spec.engine.image: Required value");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"modelCacheRef\":{},\"engine\":{\"image\":\"i\"}}}",
		   "spec.modelCacheRef.name: Required value");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"model\":{},\"engine\":{\"image\":\"i\"}}}",
		   "spec.model.huggingFace: Required value");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"model\":{\"huggingFace\":{\"repo\":\"a/b/c\"}},"
		   "\"engine\":{\"image\":\"i\"}}}",
		   "spec.model.huggingFace.repo: Invalid value: \"a/b/c\": must be \"org/name\" or \"name\"");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"replicas\":-1,\"modelCacheRef\":{\"name\":\"q\"},"
		   "\"engine\":{\"image\":\"i\",\"port\":70000,\"args\":[1],\"env\":[{\"value\":\"v\"}]},"
		   "\"maxSequences\":0,\"gpuMemoryUtilization\":\"1.5\",\"topology\":{\"tensor\":\"2\"}}}",
		   "spec.replicas: Invalid value: -1: should be greater than or equal to 0; "
		   "spec.engine.args[0]: Invalid value: 1: must be of type string; "
		   "spec.engine.env[0].name: Required value; "
		   "spec.engine.port: Invalid value: 70000: should be less than or equal to 65535; "
		   "spec.topology.tensor: Invalid value: \"2\": must be of type integer; "
		   "spec.maxSequences: Invalid value: 0: should be greater than or equal to 1; "
		   "spec.gpuMemoryUtilization: Invalid value: \"1.5\": must be greater than 0 and at most 1");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"modelCacheRef\":{\"name\":\"q\"},"
		   "\"engine\":{\"image\":\"a b\"}}}",
		   "spec.engine.image: Invalid value: \"a b\": must not contain whitespace");
	expect_valid(api_validate_modeldeployment,
		     "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"replicas\":0,\"modelCacheRef\":{\"name\":\"q\"},"
		     "\"clusterSelector\":{\"matchExpressions\":[{\"key\":\"gpu\",\"operator\":\"Exists\"}]},"
		     "\"engine\":{\"image\":\"i\",\"env\":[{\"name\":\"T\",\"valueFrom\":{\"secretKeyRef\":"
		     "{\"name\":\"s\",\"key\":\"k\"}}}]}}}");
}

/* ---- the remaining rules, one line each ---- */

static void test_more_rules(void **state)
{
#define IC(spec) "{\"metadata\":{\"name\":\"c\"},\"spec\":{" spec "}}"
#define LOCAL "\"connection\":{\"local\":{}}"
#define MD(spec) "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}," \
	"\"engine\":{\"image\":\"i\"}," spec "}}"
	expect_msg(api_validate_inferencecluster, IC("\"connection\":{\"kubeconfigSecretRef\":{\"namespace\":\"a\","
		   "\"name\":\"b\",\"key\":\"a/b\"}}"),
		   "spec.connection.kubeconfigSecretRef.key: Invalid value: \"a/b\": a valid config key must consist "
		   "of alphanumeric characters, '-', '_' or '.'");
	expect_msg(api_validate_inferencecluster, IC("\"connection\":{\"kubeconfigSecretRef\":{\"namespace\":\"a\"}}"),
		   "spec.connection.kubeconfigSecretRef.name: Required value");
	expect_msg(api_validate_inferencecluster, IC("\"connection\":{\"local\":true}"),
		   "spec.connection.local: Invalid value: true: must be of type object");
	expect_msg(api_validate_inferencecluster, IC(LOCAL ",\"cache\":{\"storageClassName\":\"RWX\"}"),
		   "spec.cache.storageClassName: Invalid value: \"RWX\": a lowercase RFC 1123 subdomain must consist "
		   "of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
		   "character");
	expect_msg(api_validate_inferencecluster, IC(LOCAL ",\"cache\":{\"capacity\":\"lots\"}"),
		   "spec.cache.capacity: Invalid value: \"lots\": not a quantity");
	expect_msg(api_validate_inferencecluster, IC(LOCAL ",\"gpus\":[{\"product\":\"x\",\"memory\":\"0\"}]"),
		   "spec.gpus[0].memory: Invalid value: \"0\": must be greater than zero");
	expect_msg(api_validate_inferencecluster, IC(LOCAL ",\"gpus\":[{\"product\":\"x\",\"memory\":\"8Gi\","
		   "\"unifiedMemory\":\"yes\"}]"),
		   "spec.gpus[0].unifiedMemory: Invalid value: \"yes\": must be of type boolean");
	expect_msg(api_validate_inferencecluster, IC(LOCAL ",\"gpus\":{}"),
		   "spec.gpus: Invalid value: {}: must be of type array");
	expect_valid(api_validate_inferencecluster, IC(LOCAL ",\"cache\":{\"capacity\":1099511627776,"
		     "\"reserve\":0},\"gpus\":[{\"product\":\"x\",\"memory\":25769803776}]"));

	expect_msg(api_validate_modeldeployment, MD("\"replicas\":\"2\""),
		   "spec.replicas: Invalid value: \"2\": must be of type integer");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"modelCacheRef\":{\"name\":\"Q\"},\"engine\":{\"image\":\"i\"}}}",
		   "spec.modelCacheRef.name: Invalid value: \"Q\": a lowercase RFC 1123 subdomain must consist of lower "
		   "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
	expect_msg(api_validate_modeldeployment, MD("\"contextLength\":-1"),
		   "spec.contextLength: Invalid value: -1: should be greater than or equal to 0");
	expect_msg(api_validate_modeldeployment, MD("\"topology\":{\"nodes\":2000}"),
		   "spec.topology.nodes: Invalid value: 2000: should be less than or equal to 1024");
	expect_msg(api_validate_modeldeployment, MD("\"gpuMemoryUtilization\":\".9\""),
		   "spec.gpuMemoryUtilization: Invalid value: \".9\": must be a decimal number such as \"0.9\"");
	expect_msg(api_validate_modeldeployment, MD("\"clusterSelector\":{\"matchExpressions\":[{\"key\":\"a\","
		   "\"operator\":\"Exists\",\"values\":[\"x\"]}]}"),
		   "spec.clusterSelector.matchExpressions[0].values: Forbidden: may not be specified when operator is "
		   "\"Exists\"");
	expect_msg(api_validate_modeldeployment,
		   "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"model\":{\"huggingFace\":{\"repo\":\"a\","
		   "\"revision\":\"\"}},\"engine\":{\"image\":\"i\",\"command\":\"sh\"}}}",
		   "spec.model.huggingFace.revision: Invalid value: \"\": must be a branch, tag or commit (letters, "
		   "digits, '.', '_', '-', '/', no \"..\", at most 255 characters); "
		   "spec.engine.command: Invalid value: \"sh\": must be of type array");
#undef IC
#undef LOCAL
#undef MD
}

/* ---- accessors ---- */

static void test_accessors(void **state)
{
	json_object *o = J("{\"metadata\":{\"name\":\"n\",\"annotations\":{\"modelcache.dev/pinned\":\"true\"}},"
			   "\"spec\":{\"a\":{\"b\":\"c\",\"n\":1}}}");

	assert_string_equal(api_path_str(o, "spec.a.b", NULL), "c");
	assert_string_equal(api_path_str(o, "spec.a.n", "def"), "def");   /* not a string */
	assert_string_equal(api_path_str(o, "spec.x.y", "def"), "def");
	assert_null(api_path(o, "spec.a.b.c"));
	assert_null(api_path(o, "spec..a"));
	assert_ptr_equal(api_path(o, ""), o);
	assert_string_equal(api_annotation(o, API_ANN_PINNED), "true");
	assert_null(api_annotation(o, API_ANN_RETRY));
	assert_true(api_annotation_true(o, API_ANN_PINNED));
	assert_false(api_annotation_true(o, API_ANN_MULTI_NODE_SHARDED));
	assert_null(api_label(o, "x"));
	assert_true(api_repo_ok("Qwen/Qwen3-0.6B"));
	assert_true(api_repo_ok("gpt2"));
	assert_true(api_repo_ok("unsloth/Qwen3-0.6B-GGUF"));
	assert_true(api_repo_ok("meta-llama/Llama-3.1-8B_x"));
	assert_false(api_repo_ok("a/b/c"));
	assert_false(api_repo_ok("/a"));
	assert_false(api_repo_ok("a/"));
	assert_false(api_repo_ok("a--b"));
	assert_false(api_repo_ok("a/b."));
	assert_false(api_repo_ok(""));
	assert_false(api_repo_ok(NULL));
	json_object_put(o);
}

/* ---- conditions ---- */

static void test_conditions(void **state)
{
	json_object *status = json_object_new_object();
	json_object *c;
	struct api_condition cond = { .type = "Valid", .status = "True", .reason = "Valid",
				      .message = NULL, .observed_generation = 1 };

	assert_null(api_condition_find(status, "Valid"));
	assert_null(api_condition_status(status, "Valid"));
	assert_false(api_condition_is_true(status, "Valid"));
	assert_int_equal(api_condition_set(status, &cond, 1000), 1);
	c = api_condition_find(status, "Valid");
	assert_non_null(c);
	assert_string_equal(api_path_str(c, "status", NULL), "True");
	assert_string_equal(api_path_str(c, "reason", NULL), "Valid");
	assert_string_equal(api_path_str(c, "message", NULL), "");
	assert_string_equal(api_path_str(c, "lastTransitionTime", NULL), "1970-01-01T00:16:40Z");
	assert_int_equal(json_object_get_int64(api_path(c, "observedGeneration")), 1);
	assert_true(api_condition_is_true(status, "Valid"));

	/* same again: no change, time kept */
	assert_int_equal(api_condition_set(status, &cond, 2000), 0);
	assert_string_equal(api_path_str(c, "lastTransitionTime", NULL), "1970-01-01T00:16:40Z");

	/* new generation, same status: changed, time kept */
	cond.observed_generation = 2;
	assert_int_equal(api_condition_set(status, &cond, 3000), 1);
	assert_string_equal(api_path_str(c, "lastTransitionTime", NULL), "1970-01-01T00:16:40Z");
	assert_int_equal(json_object_get_int64(api_path(c, "observedGeneration")), 2);

	/* message change only: changed, time kept */
	cond.message = "m";
	assert_int_equal(api_condition_set(status, &cond, 3500), 1);
	assert_string_equal(api_path_str(c, "lastTransitionTime", NULL), "1970-01-01T00:16:40Z");

	/* status change: time moves */
	cond.status = "False";
	cond.reason = "Invalid";
	cond.message = "spec.size: Invalid value";
	assert_int_equal(api_condition_set(status, &cond, 4000), 1);
	assert_string_equal(api_path_str(c, "lastTransitionTime", NULL), "1970-01-01T01:06:40Z");
	assert_string_equal(api_path_str(c, "reason", NULL), "Invalid");
	assert_string_equal(api_condition_status(status, "Valid"), "False");

	/* a second condition is appended, order kept */
	struct api_condition ready = { .type = "Ready", .status = "Unknown", .reason = "Pending" };
	assert_int_equal(api_condition_set(status, &ready, 5000), 1);
	assert_int_equal(json_object_array_length(api_path(status, "conditions")), 2);
	assert_string_equal(api_path_str(json_object_array_get_idx(api_path(status, "conditions"), 1),
					 "type", NULL), "Ready");

	/* bad arguments */
	struct api_condition bad = { .type = "X", .status = "Maybe", .reason = "R" };
	assert_int_equal(api_condition_set(status, &bad, 1), -EINVAL);
	bad.status = "True";
	bad.reason = "";
	assert_int_equal(api_condition_set(status, &bad, 1), -EINVAL);
	assert_int_equal(api_condition_set(NULL, &cond, 1), -EINVAL);

	assert_int_equal(api_condition_remove(status, "Valid"), 1);
	assert_int_equal(api_condition_remove(status, "Valid"), 0);
	assert_null(api_condition_find(status, "Valid"));
	assert_non_null(api_condition_find(status, "Ready"));
	assert_null(api_condition_find(NULL, "Ready"));
	json_object_put(status);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mc_defaults),
		cmocka_unit_test(test_mc_full),
		cmocka_unit_test(test_mc_rules),
		cmocka_unit_test(test_mc_many_errors_and_shapes),
		cmocka_unit_test(test_ic),
		cmocka_unit_test(test_md),
		cmocka_unit_test(test_more_rules),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_conditions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
