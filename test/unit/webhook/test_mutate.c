/* pkg/webhook/mutate: the pod webhook's decisions over in-memory stores
 * (labelled pod mutated, unknown cache denied, already mounted unchanged,
 * not-Ready warning, hostile bodies answered 400). Run under ASan by the
 * sanitizer build (hack/test.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "cache/store.h"
#include "util/mem.h"
#include "webhook/mutate.h"

struct fx {
	const char *cluster;   /* the path's InferenceCluster, NULL = local */
	struct store *mcs, *ics;
	struct webhook_view v;
};

static void put(struct store *s, const char *json)
{
	json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	assert_int_equal(store_upsert_take(s, o, NULL, NULL), 0);
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof *f);
	assert_int_equal(store_new(&f->mcs), 0);
	assert_int_equal(store_new(&f->ics), 0);
	put(f->ics, "{\"metadata\":{\"name\":\"west\",\"resourceVersion\":\"1\"},"
		    "\"spec\":{\"connection\":{\"kubeconfigSecretRef\":{\"namespace\":\"x\",\"name\":\"y\"}}}}");
	put(f->ics, "{\"metadata\":{\"name\":\"home\",\"resourceVersion\":\"1\"},\"spec\":{\"connection\":{\"local\":{}}}}");
	put(f->mcs, "{\"metadata\":{\"namespace\":\"ml-team\",\"name\":\"qwen\",\"resourceVersion\":\"1\"},"
		    "\"status\":{\"clusters\":[{\"name\":\"west\",\"phase\":\"Hydrating\"},{\"name\":\"home\",\"phase\":\"Ready\"}]}}");
	put(f->mcs, "{\"metadata\":{\"namespace\":\"ml-team\",\"name\":\"slow\",\"resourceVersion\":\"1\"},"
		    "\"status\":{\"clusters\":[{\"name\":\"home\",\"phase\":\"Hydrating\"}]}}");
	f->v.caches = f->mcs;
	f->v.clusters = f->ics;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_free(f->mcs);
	store_free(f->ics);
	free(f);
	return 0;
}

/* A review of pod (JSON text) in ns with operation op. */
static char *review_of(const char *ns, const char *op, const char *pod)
{
	return xasprintf("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
			 "\"uid\":\"u-1\",\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
			 "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
			 "\"namespace\":\"%s\",\"operation\":\"%s\",\"object\":%s}}",
			 ns, op, pod);
}

struct answer {
	enum webhook_result r;
	int status;
	json_object *resp;   /* response object (borrowed from doc) */
	json_object *doc;
	json_object *patch;  /* decoded patch or NULL */
	char *text;
};

static void ask(struct fx *f, const char *body, size_t len, struct answer *a)
{
	memset(a, 0, sizeof *a);
	a->r = webhook_review(&f->v, f->cluster, body, len, &a->status, &a->text);
	assert_non_null(a->text);
	if (a->status != 200)
		return;
	a->doc = json_tokener_parse(a->text);
	assert_non_null(a->doc);
	assert_string_equal(json_object_get_string(json_object_object_get(a->doc, "apiVersion")), "admission.k8s.io/v1");
	a->resp = json_object_object_get(a->doc, "response");
	assert_non_null(a->resp);
	assert_string_equal(json_object_get_string(json_object_object_get(a->resp, "uid")), "u-1");
	json_object *p = json_object_object_get(a->resp, "patch");
	if (p) {
		assert_string_equal(json_object_get_string(json_object_object_get(a->resp, "patchType")), "JSONPatch");
		const char *b = json_object_get_string(p);
		unsigned char *raw = xmalloc(strlen(b) + 1);
		int n = EVP_DecodeBlock(raw, (const unsigned char *)b, (int)strlen(b));
		assert_true(n > 0);
		raw[n] = 0;
		/* EVP_DecodeBlock keeps the padding's zero bytes: strlen is the text */
		a->patch = json_tokener_parse((char *)raw);
		free(raw);
		assert_non_null(a->patch);
	}
}

static void ask_str(struct fx *f, const char *body, struct answer *a)
{
	ask(f, body, strlen(body), a);
}

static void done(struct answer *a)
{
	if (a->doc)
		json_object_put(a->doc);
	if (a->patch)
		json_object_put(a->patch);
	free(a->text);
}

static int allowed(struct answer *a)
{
	return json_object_get_boolean(json_object_object_get(a->resp, "allowed"));
}

/* The op at index i: "add PATH" plus the value's JSON. */
static void expect_op(json_object *patch, size_t i, const char *path, const char *value_json)
{
	json_object *op = json_object_array_get_idx(patch, i);
	assert_non_null(op);
	assert_string_equal(json_object_get_string(json_object_object_get(op, "op")), "add");
	assert_string_equal(json_object_get_string(json_object_object_get(op, "path")), path);
	json_object *want = json_tokener_parse(value_json);
	assert_non_null(want);
	if (!json_object_equal(want, json_object_object_get(op, "value")))
		fail_msg("op %zu value %s, want %s", i,
			 json_object_to_json_string(json_object_object_get(op, "value")), value_json);
	json_object_put(want);
}

#define MOUNT "{\"name\":\"model-cache\",\"mountPath\":\"/mnt/models\",\"readOnly\":true}"

static void test_labelled_pod_gets_volume_and_mounts(void **state)
{
	struct fx *f = *state;
	char *body = review_of("ml-team", "CREATE",
			       "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},"
			       "\"spec\":{\"initContainers\":[{\"name\":\"i\",\"image\":\"x\"}],"
			       "\"containers\":[{\"name\":\"a\",\"image\":\"x\"},"
			       "{\"name\":\"b\",\"image\":\"x\",\"volumeMounts\":[{\"name\":\"t\",\"mountPath\":\"/tmp\"}]}],"
			       "\"volumes\":[{\"name\":\"t\",\"emptyDir\":{}}]}}");
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.r, WEBHOOK_MUTATED);
	assert_true(allowed(&a));
	assert_null(json_object_object_get(a.resp, "warnings"));   /* Ready on "home" */
	assert_non_null(a.patch);
	assert_int_equal(json_object_array_length(a.patch), 4);
	expect_op(a.patch, 0, "/spec/volumes/-",
		  "{\"name\":\"model-cache\",\"persistentVolumeClaim\":{\"claimName\":\"modelcache-ml-team-qwen-17db2\",\"readOnly\":true}}");
	expect_op(a.patch, 1, "/spec/initContainers/0/volumeMounts", "[" MOUNT "]");
	expect_op(a.patch, 2, "/spec/containers/0/volumeMounts", "[" MOUNT "]");
	expect_op(a.patch, 3, "/spec/containers/1/volumeMounts/-", MOUNT);
	done(&a);
	free(body);
}

static void test_no_volumes_creates_the_list(void **state)
{
	struct fx *f = *state;
	char *body = review_of("ml-team", "CREATE",
			       "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}");
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_MUTATED);
	assert_int_equal(json_object_array_length(a.patch), 2);
	expect_op(a.patch, 0, "/spec/volumes",
		  "[{\"name\":\"model-cache\",\"persistentVolumeClaim\":{\"claimName\":\"modelcache-ml-team-qwen-17db2\",\"readOnly\":true}}]");
	done(&a);
	free(body);
}

static void test_unknown_cache_denied(void **state)
{
	struct fx *f = *state;
	char *body = review_of("ml-team", "CREATE",
			       "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"nope\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}");
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.r, WEBHOOK_DENIED);
	assert_false(allowed(&a));
	json_object *st = json_object_object_get(a.resp, "status");
	assert_int_equal(json_object_get_int(json_object_object_get(st, "code")), 403);
	assert_string_equal(json_object_get_string(json_object_object_get(st, "message")),
			    "ModelCache ml-team/nope not found: create it or remove the modelcache.dev/cache label");
	assert_null(json_object_object_get(a.resp, "patch"));
	done(&a);
	free(body);
	/* the same cache name in another namespace is not that cache */
	body = review_of("other", "CREATE",
			 "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},"
			 "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}");
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_DENIED);
	done(&a);
	free(body);
}

static void test_already_mounted_unchanged(void **state)
{
	struct fx *f = *state;
	char *body = review_of("ml-team", "CREATE",
			       "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\",\"volumeMounts\":"
			       "[{\"name\":\"model-cache\",\"mountPath\":\"/mnt/models/\"}]}],"
			       "\"volumes\":[{\"name\":\"model-cache\",\"persistentVolumeClaim\":{\"claimName\":\"c\"}}]}}");
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_ALLOWED);
	assert_true(allowed(&a));
	assert_null(a.patch);
	done(&a);
	free(body);
}

static void test_not_ready_warns_with_phase(void **state)
{
	struct fx *f = *state;
	char *body = review_of("ml-team", "CREATE",
			       "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"slow\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]}}");
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_MUTATED);
	json_object *ws = json_object_object_get(a.resp, "warnings");
	assert_int_equal(json_object_array_length(ws), 1);
	const char *w = json_object_get_string(json_object_array_get_idx(ws, 0));
	assert_non_null(strstr(w, "ModelCache ml-team/slow is Hydrating on this cluster (InferenceCluster home)"));
	done(&a);
	free(body);
}

static void test_unlabelled_and_update_allowed(void **state)
{
	struct fx *f = *state;
	char *body = review_of("ml-team", "CREATE", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[]}}");
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_ALLOWED);
	assert_true(allowed(&a));
	done(&a);
	free(body);
	body = review_of("ml-team", "CREATE",
			 "{\"metadata\":{\"name\":\"h\",\"labels\":{\"modelcache.dev/cache\":\"qwen\","
			 "\"app.kubernetes.io/managed-by\":\"modelcache-operator\"}},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}");
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_ALLOWED);   /* a hydration pod: never mutated */
	assert_null(a.patch);
	done(&a);
	free(body);
	body = review_of("ml-team", "UPDATE",
			 "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},\"spec\":{}}");
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_ALLOWED);
	assert_null(a.patch);
	done(&a);
	free(body);
}

static void expect_400(struct fx *f, const char *body, size_t len, const char *why)
{
	struct answer a;
	ask(f, body, len, &a);
	if (a.status != 400 || a.r != WEBHOOK_BAD_REQUEST)
		fail_msg("body %.40s: status %d, want 400", body, a.status);
	if (!strstr(a.text, why))
		fail_msg("body %.40s: answer \"%s\", want \"%s\"", body, a.text, why);
	done(&a);
}

static void test_hostile_bodies(void **state)
{
	struct fx *f = *state;
	expect_400(f, "", 0, "malformed JSON");
	expect_400(f, "{\"request\":", strlen("{\"request\":"), "malformed JSON");
	expect_400(f, "{} x", strlen("{} x"), "data after");
	expect_400(f, "[]", strlen("[]"), "not a JSON object");
	expect_400(f, "\"s\"", strlen("\"s\""), "not a JSON object");
	expect_400(f, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", strlen("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}"), "has no request");
	expect_400(f, "{\"request\":[]}", strlen("{\"request\":[]}"), "has no request");
	expect_400(f, "{\"request\":{\"operation\":\"CREATE\"}}", strlen("{\"request\":{\"operation\":\"CREATE\"}}"), "no uid");
	expect_400(f, "{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"request\":{\"uid\":\"u\"}}", strlen("{\"apiVersion\":\"admission.k8s.io/v1beta1\",\"request\":{\"uid\":\"u\"}}"), "admission.k8s.io/v1");
	const char *notobj = "{\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\",\"object\":[1,2]}}";
	expect_400(f, notobj, strlen(notobj), "not an object");
	const char *strobj = "{\"request\":{\"uid\":\"u\",\"operation\":\"CREATE\",\"object\":\"pod\"}}";
	expect_400(f, strobj, strlen(strobj), "not an object");
	/* a body with a NUL in it is not JSON */
	expect_400(f, "{\"request\":{}}\0zz", 17, "data after");
	/* nesting deeper than the tokenizer allows */
	size_t depth = 10000;
	char *deep = xmalloc(2 * depth + 1);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[2 * depth] = 0;
	expect_400(f, deep, 2 * depth, "malformed JSON");
	free(deep);
	/* fields of the wrong types */
	const char *wrong = "{\"request\":{\"uid\":\"u-1\",\"operation\":\"CREATE\",\"namespace\":5,"
			    "\"object\":{\"metadata\":{\"labels\":{\"modelcache.dev/cache\":7}},\"spec\":[]}}}";
	struct answer a;
	ask_str(f, wrong, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.r, WEBHOOK_ALLOWED);
	done(&a);
	const char *badspec = "{\"request\":{\"uid\":\"u-1\",\"operation\":\"CREATE\",\"namespace\":\"ml-team\","
			      "\"object\":{\"metadata\":{\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},"
			      "\"spec\":{\"containers\":[5,{\"volumeMounts\":{}}],\"volumes\":7}}}}";
	ask_str(f, badspec, &a);
	assert_int_equal(a.status, 200);
	assert_int_equal(a.r, WEBHOOK_MUTATED);
	done(&a);
}

static void test_remote_cluster_path(void **state)
{
	struct fx *f = *state;
	f->cluster = "west";   /* POST /mutate-v1-pod/west */
	const char *labels = "{\"modelcache.dev/cache\":\"qwen\",\"modelcache.dev/cache-namespace\":\"ml-team\"}";
	char *pod = xasprintf("{\"metadata\":{\"name\":\"p\",\"labels\":%s},\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", labels);
	char *body = review_of("modelcache", "CREATE", pod);
	struct answer a;
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_MUTATED);
	expect_op(a.patch, 0, "/spec/volumes",
		  "[{\"name\":\"model-cache\",\"persistentVolumeClaim\":{\"claimName\":\"modelcache-ml-team-qwen-17db2\",\"readOnly\":true}}]");
	const char *w = json_object_get_string(json_object_array_get_idx(json_object_object_get(a.resp, "warnings"), 0));
	assert_non_null(strstr(w, "ModelCache ml-team/qwen is Hydrating on this cluster (InferenceCluster west)"));
	done(&a);
	free(body);
	/* in the ModelCache's namespace on the remote cluster: no PVC there */
	body = review_of("ml-team", "CREATE", pod);
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_DENIED);
	assert_string_equal(json_object_get_string(json_object_object_get(json_object_object_get(a.resp, "status"), "message")),
			    "ModelCache ml-team/qwen is staged in namespace modelcache on this cluster (InferenceCluster west): "
			    "create the pod there to mount it");
	done(&a);
	free(body);
	/* no cache-namespace label: a hint */
	body = review_of("modelcache", "CREATE",
			 "{\"metadata\":{\"name\":\"p\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}},\"spec\":{}}");
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_DENIED);
	assert_non_null(strstr(json_object_get_string(json_object_object_get(json_object_object_get(a.resp, "status"), "message")),
			       "(on a remote cluster, label the pod modelcache.dev/cache-namespace: <the ModelCache's namespace>)"));
	done(&a);
	free(body);
	/* an unknown cluster name in the path */
	f->cluster = "nowhere";
	body = review_of("modelcache", "CREATE", pod);
	ask_str(f, body, &a);
	assert_int_equal(a.status, 404);
	assert_int_equal(a.r, WEBHOOK_BAD_REQUEST);
	done(&a);
	free(body);
	/* locally, a cache of another namespace cannot be mounted */
	f->cluster = NULL;
	body = review_of("other", "CREATE", pod);
	ask_str(f, body, &a);
	assert_int_equal(a.r, WEBHOOK_DENIED);
	assert_non_null(strstr(json_object_get_string(json_object_object_get(json_object_object_get(a.resp, "status"), "message")),
			       "is staged in namespace ml-team on this cluster (InferenceCluster home)"));
	done(&a);
	free(body);
	free(pod);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_labelled_pod_gets_volume_and_mounts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_volumes_creates_the_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_cache_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_already_mounted_unchanged, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_ready_warns_with_phase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unlabelled_and_update_allowed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_bodies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_cluster_path, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
