/* pkg/compose: desired objects per (ModelCache, InferenceCluster), compared
 * with golden YAML (test/unit/compose/golden/<case>.yaml; regenerate with
 * MC_UPDATE_GOLDEN=1 after an intended change and review the diff). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "compose/emit.h"
#include "compose/precheck.h"
#include "compose/yamlload.h"
#include "unit/compose/golden.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/names.h"

#define GIB ((int64_t)1 << 30)

static const char *MC_BASIC =
	"{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\","
	"\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml-team\",\"generation\":1},"
	"\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"Qwen/Qwen3-0.6B\"}}}";

static const char *MC_FULL =
	"{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\","
	"\"metadata\":{\"name\":\"llama\",\"namespace\":\"ml-team\",\"generation\":4},"
	"\"spec\":{\"source\":\"HuggingFace\",\"huggingFace\":{\"repo\":\"meta-llama/Llama-3.1-8B\","
	"\"revision\":\"v1.0\",\"include\":[\"*.safetensors\",\"*.json\"],\"exclude\":[\"original/*\"],"
	"\"authSecret\":{\"name\":\"hf-token\"}},\"size\":\"20Gi\"}}";

static const char *IC_LOCAL =
	"{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"InferenceCluster\","
	"\"metadata\":{\"name\":\"local\"},\"spec\":{\"connection\":{\"local\":{}}}}";

static const char *IC_REMOTE =
	"{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"InferenceCluster\","
	"\"metadata\":{\"name\":\"gpu-west\"},\"spec\":{\"connection\":{\"kubeconfigSecretRef\":"
	"{\"namespace\":\"modelcache-system\",\"name\":\"gpu-west\"}},\"namespace\":\"caches\","
	"\"cache\":{\"storageClassName\":\"nfs-rwx\"}}}";

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void test_local_basic(void **state)
{
	(void)state;
	json_object *mc = parse(MC_BASIC), *ic = parse(IC_LOCAL);
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = 2 * GIB,
				   .hydrator_image = "ghcr.io/modelcache/modelcache-operator:0.1.0"};
	json_object *ns = NULL, *pvc = NULL, *job = NULL;
	assert_int_equal(compose_namespace(&in, &ns), 0);
	assert_null(ns);   /* local cluster: the ModelCache's own namespace exists */
	assert_int_equal(compose_pvc(&in, &pvc), 0);
	assert_int_equal(compose_job(&in, &job), 0);
	assert_string_equal(jpath_str(pvc, "metadata.name"), "modelcache-ml-team-qwen-17db2");
	assert_string_equal(jpath_str(pvc, "metadata.namespace"), "ml-team");
	assert_string_equal(jpath_str(job, "metadata.name"), "modelcache-ml-team-qwen-hydrate-256ec");
	assert_string_equal(jpath_str(pvc, "spec.storageClassName"), "modelcache-rwx");
	assert_string_equal(jpath_str(pvc, "spec.resources.requests.storage"), "2Gi");
	assert_null(jpath_child(json_object_array_get_idx(jpath_get(job, "spec.template.spec.containers"), 0), "env"));
	json_object *objs[] = {pvc, job};
	check_golden("local-basic", objs, 2);
	json_object_put(pvc);
	json_object_put(job);
	json_object_put(mc);
	json_object_put(ic);
}

static void test_remote_full(void **state)
{
	(void)state;
	json_object *mc = parse(MC_FULL), *ic = parse(IC_REMOTE);
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = 20 * GIB,
				   .hydrator_image = "modelcache-operator:dev", .hf_endpoint = "http://127.0.0.1:8081",
				   .with_auth = true, .attempt = 2, .retry = "after-fix-1"};
	json_object *ns = NULL, *pvc = NULL, *sec = NULL, *job = NULL;
	assert_int_equal(compose_namespace(&in, &ns), 0);
	assert_non_null(ns);
	assert_int_equal(compose_pvc(&in, &pvc), 0);
	assert_int_equal(compose_auth_secret(&in, "aGZfc2VjcmV0", &sec), 0);
	assert_int_equal(compose_job(&in, &job), 0);
	assert_string_equal(jpath_str(ns, "metadata.name"), "caches");
	assert_string_equal(jpath_str(pvc, "metadata.namespace"), "caches");
	assert_string_equal(jpath_str(pvc, "spec.storageClassName"), "nfs-rwx");
	char auth[CHILD_NAME_MAX + 1];
	name_cache_auth(auth, "ml-team", "llama");
	assert_string_equal(jpath_str(sec, "metadata.name"), auth);
	/* the Job reads the token from the copy, and finds the endpoint */
	json_object *env = jpath_child(json_object_array_get_idx(jpath_get(job, "spec.template.spec.containers"), 0), "env");
	assert_int_equal(json_object_array_length(env), 2);
	assert_string_equal(jpath_str(json_object_array_get_idx(env, 0), "valueFrom.secretKeyRef.name"), auth);
	assert_string_equal(jpath_str(json_object_array_get_idx(env, 1), "value"), "http://127.0.0.1:8081");
	assert_string_equal(jpath_str(sec, "data.HF_TOKEN"), "aGZfc2VjcmV0");
	assert_string_equal(jpath_annotation(job, COMPOSE_ANN_ATTEMPT), "2");
	assert_string_equal(jpath_annotation(job, API_ANN_RETRY), "after-fix-1");
	json_object *objs[] = {ns, pvc, sec, job};
	check_golden("remote-full", objs, 4);
	json_object_put(ns);
	json_object_put(pvc);
	json_object_put(sec);
	json_object_put(job);
	json_object_put(mc);
	json_object_put(ic);
}

/* Every value is its own argv element: nothing is spliced into a shell string. */
static void test_job_argv_no_shell(void **state)
{
	(void)state;
	json_object *mc = parse(MC_FULL), *ic = parse(IC_LOCAL);
	json_object *hf = jpath_get(mc, "spec.huggingFace");
	json_object *inc = json_object_new_array();
	json_object_array_add(inc, json_object_new_string("a b;rm -rf /*"));
	json_object_object_add(hf, "include", inc);
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = GIB, .hydrator_image = "img"};
	json_object *job = NULL;
	assert_int_equal(compose_job(&in, &job), 0);
	json_object *c = json_object_array_get_idx(jpath_get(job, "spec.template.spec.containers"), 0);
	json_object *cmd = jpath_child(c, "command"), *args = jpath_child(c, "args");
	assert_int_equal(json_object_array_length(cmd), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cmd, 0)), "modelcache-operator");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(cmd, 1)), "hydrate");
	const char *want[] = {"--repo=meta-llama/Llama-3.1-8B", "--revision=v1.0", "--dest=/mnt/artifact",
			      "--include=a b;rm -rf /*", "--exclude=original/*"};
	assert_int_equal(json_object_array_length(args), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(json_object_get_string(json_object_array_get_idx(args, i)), want[i]);
	/* restricted security context */
	assert_true(json_object_get_boolean(jpath_get(job, "spec.template.spec.securityContext.runAsNonRoot")));
	assert_int_equal(jpath_int_or(job, "spec.template.spec.securityContext.fsGroup", 0), 65532);
	assert_string_equal(jpath_str(job, "spec.template.spec.securityContext.seccompProfile.type"), "RuntimeDefault");
	assert_false(json_object_get_boolean(jpath_get(c, "securityContext.allowPrivilegeEscalation")));
	assert_true(json_object_get_boolean(jpath_get(c, "securityContext.readOnlyRootFilesystem")));
	assert_int_equal(jpath_int_or(job, "spec.backoffLimit", 0), 3);
	assert_int_equal(jpath_int_or(job, "spec.ttlSecondsAfterFinished", 0), 180);
	assert_string_equal(jpath_str(job, "spec.template.spec.restartPolicy"), "Never");
	json_object_put(job);
	json_object_put(mc);
	json_object_put(ic);
}

/* spec.huggingFace.layout HuggingFaceCache: the hydrator writes the Hub
 * cache (--layout=hf-cache); Flat (the default) passes nothing. */
static void test_job_layout(void **state)
{
	(void)state;
	json_object *mc = parse(MC_FULL), *ic = parse(IC_LOCAL);
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = GIB, .hydrator_image = "img"};
	json_object *job = NULL;
	const char *layouts[] = {"Flat", "HuggingFaceCache"};
	for (int i = 0; i < 2; i++) {
		json_object_object_add(jpath_get(mc, "spec.huggingFace"), "layout", json_object_new_string(layouts[i]));
		assert_int_equal(compose_job(&in, &job), 0);
		json_object *args = jpath_child(
			json_object_array_get_idx(jpath_get(job, "spec.template.spec.containers"), 0), "args");
		size_t n = json_object_array_length(args);
		bool seen = false;
		for (size_t k = 0; k < n; k++)
			seen |= strcmp(json_object_get_string(json_object_array_get_idx(args, k)), "--layout=hf-cache") == 0;
		assert_int_equal(seen, i == 1);
		json_object_put(job);
	}
	json_object_put(mc);
	json_object_put(ic);
}

static bool job_has_arg(json_object *job, const char *arg)
{
	json_object *args = jpath_child(json_object_array_get_idx(jpath_get(job, "spec.template.spec.containers"), 0),
					"args");
	for (size_t k = 0; k < json_object_array_length(args); k++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(args, k)), arg) == 0)
			return true;
	return false;
}

/* spec.huggingFace.files: Auto (default) passes --files=auto and leaves the
 * estimator's include list empty; All is the include pattern "*" and the
 * hydrator's default; explicit include patterns choose the files. */
static void test_files_auto_all(void **state)
{
	(void)state;
	json_object *ic = parse(IC_LOCAL), *job = NULL;
	const char *inc[4], *exc[4];
	size_t ninc, nexc;
	for (int mode = 0; mode < 3; mode++) {
		json_object *mc = parse(mode == 2 ? MC_FULL : MC_BASIC);
		if (mode == 1)
			json_object_object_add(jpath_get(mc, "spec.huggingFace"), "files", json_object_new_string("All"));
		struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = GIB, .hydrator_image = "img"};
		assert_int_equal(compose_job(&in, &job), 0);
		assert_int_equal(job_has_arg(job, "--files=auto"), mode == 0);
		json_object_put(job);
		compose_hf_filters(mc, inc, &ninc, exc, &nexc, 4);
		if (mode == 0)
			assert_int_equal(ninc, 0);
		if (mode == 1) {
			assert_int_equal(ninc, 1);
			assert_string_equal(inc[0], "*");
		}
		if (mode == 2)
			assert_int_equal(ninc, 2);
		json_object_put(mc);
	}
	json_object_put(ic);
}

static void test_hash(void **state)
{
	(void)state;
	json_object *mc = parse(MC_BASIC), *ic = parse(IC_LOCAL);
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = GIB, .hydrator_image = "img"};
	json_object *a = NULL, *b = NULL, *c = NULL;
	assert_int_equal(compose_pvc(&in, &a), 0);
	assert_int_equal(compose_pvc(&in, &b), 0);
	in.size_bytes = 2 * GIB;
	assert_int_equal(compose_pvc(&in, &c), 0);
	const char *ha = jpath_annotation(a, API_ANN_DESIRED_HASH);
	assert_non_null(ha);
	assert_int_equal(strlen(ha), 64);
	assert_true(compose_hash_matches(a, b));
	assert_false(compose_hash_matches(a, c));
	/* recomputing over an object that already carries the annotation is stable */
	char hex[65];
	assert_int_equal(compose_set_hash(b, hex), 0);
	assert_string_equal(hex, ha);
	/* the observed object without annotation never matches */
	json_object_object_del(jpath_get(b, "metadata"), "annotations");
	assert_false(compose_hash_matches(a, b));
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
	json_object_put(mc);
	json_object_put(ic);
}

static void test_artifact_id(void **state)
{
	(void)state;
	json_object *a = parse(MC_BASIC), *b = parse(MC_BASIC);
	char x[17], y[17];
	compose_artifact_id(a, x);
	compose_artifact_id(b, y);
	assert_int_equal(strlen(x), 16);
	assert_string_equal(x, y);
	/* "main" is the default revision: same artifact */
	json_object_object_add(jpath_get(b, "spec.huggingFace"), "revision", json_object_new_string("main"));
	compose_artifact_id(b, y);
	assert_string_equal(x, y);
	/* another revision or file selection is another artifact */
	json_object_object_add(jpath_get(b, "spec.huggingFace"), "revision", json_object_new_string("v2"));
	compose_artifact_id(b, y);
	assert_string_not_equal(x, y);
	json_object_object_add(jpath_get(b, "spec.huggingFace"), "revision", json_object_new_string("main"));
	json_object_object_add(jpath_get(b, "spec.huggingFace"), "include", parse("[\"*.json\"]"));
	compose_artifact_id(b, y);
	assert_string_not_equal(x, y);
	/* the PVC carries it */
	json_object *ic = parse(IC_LOCAL), *pvc = NULL;
	struct compose_input in = {.mc = a, .ic = ic, .size_bytes = GIB, .hydrator_image = "img"};
	assert_int_equal(compose_pvc(&in, &pvc), 0);
	assert_string_equal(jpath_annotation(pvc, COMPOSE_ANN_ARTIFACT), x);
	json_object_put(pvc);
	json_object_put(ic);
	json_object_put(a);
	json_object_put(b);
}

static void test_size_from_download(void **state)
{
	(void)state;
	int64_t out = 0;
	assert_int_equal(compose_size_from_download(0, &out), 0);
	assert_int_equal(out, GIB);   /* at least 1 GiB */
	assert_int_equal(compose_size_from_download(1503238553, &out), 0);  /* 1.4 GiB x 1.15 = 1.61 -> 2 */
	assert_int_equal(out, 2 * GIB);
	assert_int_equal(compose_size_from_download(16 * GIB, &out), 0);    /* 18.4 -> 19 */
	assert_int_equal(out, 19 * GIB);
	assert_int_equal(compose_size_from_download(20 * GIB, &out), 0);    /* exactly 23 */
	assert_int_equal(out, 23 * GIB);
	assert_int_equal(compose_size_from_download(-1, &out), -EINVAL);
	assert_int_equal(compose_size_from_download(INT64_MAX, &out), -ERANGE);
}

static void test_spec_size_and_filters(void **state)
{
	(void)state;
	int64_t b = -1;
	json_object *mc = parse("{\"spec\":{\"size\":\"20Gi\",\"huggingFace\":{\"include\":[\"*.json\",\"*.gguf\"],"
				"\"exclude\":\"not-a-list\"}}}");
	assert_int_equal(compose_spec_size(mc, &b), 0);
	assert_int_equal(b, 20 * GIB);
	const char *inc[1], *exc[4];
	size_t ninc = 9, nexc = 9;
	compose_hf_filters(mc, inc, &ninc, exc, &nexc, 1);   /* capped at 1 */
	assert_int_equal(ninc, 1);
	assert_string_equal(inc[0], "*.json");
	assert_int_equal(nexc, 0);
	json_object_put(mc);
	mc = parse("{\"spec\":{\"size\":1000}}");
	assert_int_equal(compose_spec_size(mc, &b), 0);
	assert_int_equal(b, 1000);
	json_object_put(mc);
	const char *bad[] = {"{\"spec\":{}}", "{\"spec\":{\"size\":0}}", "{\"spec\":{\"size\":\"-1Gi\"}}",
			     "{\"spec\":{\"size\":\"lots\"}}", "{\"spec\":{\"size\":\"0\"}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mc = parse(bad[i]);
		b = -1;
		assert_int_equal(compose_spec_size(mc, &b), -ENOENT);
		assert_int_equal(b, 0);
		json_object_put(mc);
	}
}

static void test_invalid_input(void **state)
{
	(void)state;
	json_object *mc = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"y\"},\"spec\":{}}");
	json_object *ic = parse(IC_LOCAL);
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = GIB, .hydrator_image = "img"};
	json_object *o = (json_object *)1;
	assert_int_equal(compose_job(&in, &o), -EINVAL);   /* no repo */
	assert_null(o);
	in.size_bytes = 0;
	assert_int_equal(compose_pvc(&in, &o), -EINVAL);
	assert_int_equal(compose_auth_secret(&in, "", &o), -EINVAL);
	json_object_put(mc);
	json_object_put(ic);
}

static void yaml_is(const char *json, const char *want)
{
	json_object *o = parse(json);
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(compose_emit_yaml(o, &b), 0);
	assert_string_equal(buf_str(&b), want);
	buf_cleanup(&b);
	json_object_put(o);
}

static void test_yaml_emitter(void **state)
{
	(void)state;
	yaml_is("{\"b\":1,\"a\":\"x\"}", "a: x\nb: 1\n");
	/* strings a parser would read as something else are quoted */
	yaml_is("{\"a\":\"true\",\"b\":\"123\",\"c\":\"\",\"d\":\"a: b\",\"e\":\"#x\",\"f\":\"1e3\"}",
		"a: \"true\"\nb: \"123\"\nc: \"\"\nd: \"a: b\"\ne: \"#x\"\nf: \"1e3\"\n");
	yaml_is("{\"l\":[\"--x=1\",{\"k\":\"v\",\"j\":[]}],\"m\":{},\"n\":null,\"t\":false}",
		"l:\n- --x=1\n- j: []\n  k: v\nm: {}\n\"n\": null\nt: false\n");
	yaml_is("{\"s\":\"line1\\nline2\",\"u\":\"a\\\"q\"}", "s: \"line1\\nline2\"\nu: \"a\\\"q\"\n");
	yaml_is("{\"x\":{\"y\":{\"z\":[[1,2]]}}}", "x:\n  \"y\":\n    z:\n    - - 1\n      - 2\n");
}

static void test_yaml_load(void **state)
{
	(void)state;
	const char *y =
		"# two documents\n"
		"apiVersion: modelcache.dev/v1alpha1\n"
		"kind: ModelCache\n"
		"metadata: {name: qwen, namespace: ml-team}\n"
		"spec:\n"
		"  size: 20Gi\n"
		"  huggingFace:\n"
		"    repo: Qwen/Qwen3-0.6B\n"
		"    include: [\"*.json\", '*.safetensors']\n"
		"  precheck: {safetyFactor: \"1.0\", other: 1.5, n: 3, t: true, z: ~, s: 'true'}\n"
		"---\n"
		"---\n"
		"kind: InferenceCluster\n";
	json_object *docs = NULL;
	char *err = NULL;
	assert_int_equal(compose_yaml_load(y, strlen(y), &docs, &err), 0);
	assert_int_equal(json_object_array_length(docs), 2);   /* the empty document is dropped */
	json_object *mc = json_object_array_get_idx(docs, 0);
	assert_string_equal(jpath_str(mc, "metadata.name"), "qwen");
	assert_string_equal(jpath_str(mc, "spec.size"), "20Gi");
	json_object *inc = jpath_get(mc, "spec.huggingFace.include");
	assert_int_equal(json_object_array_length(inc), 2);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(inc, 1)), "*.safetensors");
	assert_string_equal(jpath_str(mc, "spec.precheck.safetyFactor"), "1.0");
	assert_true(json_object_is_type(jpath_get(mc, "spec.precheck.other"), json_type_double));
	assert_int_equal(jpath_int_or(mc, "spec.precheck.n", 0), 3);
	assert_true(json_object_get_boolean(jpath_get(mc, "spec.precheck.t")));
	json_object *z = (json_object *)1;
	assert_true(json_object_object_get_ex(jpath_get(mc, "spec.precheck"), "z", &z));
	assert_null(z);   /* a null value */
	assert_string_equal(jpath_str(mc, "spec.precheck.s"), "true");
	assert_string_equal(jpath_str(json_object_array_get_idx(docs, 1), "kind"), "InferenceCluster");
	json_object_put(docs);

	const char *bad = "a: [1, 2\nb: 3\n";
	assert_int_equal(compose_yaml_load(bad, strlen(bad), &docs, &err), -EINVAL);
	assert_non_null(err);
	assert_non_null(strstr(err, "line"));
	free(err);
	err = NULL;
	const char *alias = "a: &x 1\nb: *x\n";
	assert_int_equal(compose_yaml_load(alias, strlen(alias), &docs, &err), -EINVAL);
	free(err);
	/* what the emitter writes reads back to the same tree */
	json_object *o = json_tokener_parse("{\"a\":[\"--x=1\",{\"k\":\"true\",\"j\":[]}],\"m\":{},\"s\":\"a: b\",\"i\":5}");
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(compose_emit_yaml(o, &b), 0);
	assert_int_equal(compose_yaml_load(buf_str(&b), b.len, &docs, &err), 0);
	assert_true(json_object_equal(o, json_object_array_get_idx(docs, 0)));
	json_object_put(docs);
	json_object_put(o);
	buf_cleanup(&b);
}

static void test_precheck(void **state)
{
	(void)state;
	json_object *mc = parse(MC_BASIC);
	json_object *ic = parse("{\"metadata\":{\"name\":\"gpu-west\"},\"spec\":{\"gpus\":["
				"{\"memory\":\"24Gi\",\"perNode\":2,\"nodes\":2},{\"memory\":\"16Gi\",\"perNode\":1,\"nodes\":1}]}}");
	struct precheck_result r;
	assert_int_equal(compose_precheck(mc, ic, 40 * GIB, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_FITS);
	assert_int_equal(r.available_bytes, 48 * GIB);
	assert_int_equal(compose_precheck(mc, ic, 50 * GIB, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_SKIP);
	assert_int_equal(r.needed_bytes, 50 * GIB);
	assert_string_equal(r.message, "model needs ~50.0 GiB of GPU memory for weights; the largest node in gpu-west "
				       "has 48 GiB (2 x 24 GiB)");
	/* below 1 GiB the numbers keep three significant digits */
	json_object *tiny = parse("{\"metadata\":{\"name\":\"edge\"},\"spec\":{\"gpus\":[{\"memory\":\"2Mi\",\"perNode\":1}]}}");
	assert_int_equal(compose_precheck(mc, tiny, 3410944, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_SKIP);
	assert_string_equal(r.message, "model needs ~0.00318 GiB of GPU memory for weights; the largest node in edge "
				       "has 0.00195 GiB (1 x 0.00195 GiB)");
	json_object_put(tiny);
	/* safety factor */
	json_object *pc = parse("{\"safetyFactor\":\"1.25\"}");
	json_object_object_add(jpath_get(mc, "spec"), "precheck", pc);
	assert_int_equal(compose_precheck(mc, ic, 40 * GIB, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_SKIP);   /* 50 > 48 */
	/* bypasses */
	assert_int_equal(compose_precheck(mc, ic, 0, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_BYPASS);
	assert_string_equal(r.bypass_reason, "size_unknown");
	json_object *meta = jpath_get(mc, "metadata");
	json_object *ann = parse("{\"modelcache.dev/multi-node-sharded\":\"true\"}");
	json_object_object_add(meta, "annotations", ann);
	assert_int_equal(compose_precheck(mc, ic, 400 * GIB, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_BYPASS);
	assert_string_equal(r.bypass_reason, "multi_node_sharded");
	assert_int_equal(compose_precheck(mc, ic, 4 * GIB, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_FITS);   /* no bypass needed */
	json_object_object_add(pc, "vram", json_object_new_string("Disabled"));
	assert_int_equal(compose_precheck(mc, ic, 400 * GIB, &r), 0);
	assert_string_equal(r.bypass_reason, "disabled");
	json_object_object_del(pc, "vram");
	json_object_object_del(meta, "annotations");
	/* status.gpuPools wins over spec.gpus; unknown memory fails open */
	json_object *st = parse("{\"gpuPools\":[{\"product\":\"x\",\"memoryBytes\":0,\"perNode\":8,\"nodes\":1}]}");
	json_object_object_add(ic, "status", st);
	assert_int_equal(compose_precheck(mc, ic, 400 * GIB, &r), 0);
	assert_int_equal(r.verdict, PRECHECK_BYPASS);
	assert_string_equal(r.bypass_reason, "gpu_inventory_unknown");
	json_object_object_del(ic, "status");
	json_object_object_del(ic, "spec");
	assert_int_equal(compose_precheck(mc, ic, 400 * GIB, &r), 0);
	assert_string_equal(r.bypass_reason, "gpu_inventory_unknown");
	json_object_put(mc);
	json_object_put(ic);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_local_basic),
		cmocka_unit_test(test_remote_full),
		cmocka_unit_test(test_job_argv_no_shell),
		cmocka_unit_test(test_job_layout),
		cmocka_unit_test(test_files_auto_all),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_artifact_id),
		cmocka_unit_test(test_size_from_download),
		cmocka_unit_test(test_spec_size_and_filters),
		cmocka_unit_test(test_invalid_input),
		cmocka_unit_test(test_yaml_emitter),
		cmocka_unit_test(test_yaml_load),
		cmocka_unit_test(test_precheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
