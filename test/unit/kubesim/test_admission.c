/* kubesim admission (admission.c): rule and selector matching, and the
 * whole call over loopback HTTP against a fake webhook served by kubesim's
 * own http.c: JSONPatch applied before storage, denial, warnings, the
 * objectSelector, failurePolicy Fail / Ignore. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "admission.h"
#include "http.h"
#include "sim.h"
#include "simjson.h"
#include "util/mem.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void test_rules(void **state)
{
	(void)state;
	struct admission_attrs pod = {"CREATE", "", "v1", "pods", "", 1};
	struct admission_attrs pod_status = {"UPDATE", "", "v1", "pods", "status", 1};
	struct admission_attrs ns = {"CREATE", "", "v1", "namespaces", "", 0};
	json_object *r = J("{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],"
			   "\"resources\":[\"pods\"],\"scope\":\"Namespaced\"}");
	assert_true(admission_rule_matches(r, &pod));
	assert_false(admission_rule_matches(r, &pod_status));   /* operation and subresource */
	assert_false(admission_rule_matches(r, &ns));
	json_object_put(r);
	r = J("{\"operations\":[\"*\"],\"apiGroups\":[\"*\"],\"apiVersions\":[\"*\"],\"resources\":[\"*\"]}");
	assert_true(admission_rule_matches(r, &pod));
	assert_true(admission_rule_matches(r, &ns));
	assert_false(admission_rule_matches(r, &pod_status));   /* "*" is no subresource */
	json_object_put(r);
	r = J("{\"operations\":[\"UPDATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"*/status\"]}");
	assert_true(admission_rule_matches(r, &pod_status));
	json_object_put(r);
	r = J("{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"],"
	      "\"scope\":\"Cluster\"}");
	assert_false(admission_rule_matches(r, &pod));
	json_object_put(r);
	r = J("{\"operations\":[\"CREATE\"],\"apiGroups\":[\"apps\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}");
	assert_false(admission_rule_matches(r, &pod));
	json_object_put(r);
}

static void test_selectors(void **state)
{
	(void)state;
	json_object *l = J("{\"modelcache.dev/cache\":\"qwen\",\"app\":\"web\"}");
	json_object *managed = J("{\"modelcache.dev/cache\":\"qwen\",\"app.kubernetes.io/managed-by\":\"modelcache-operator\"}");
	json_object *sel = J("{\"matchExpressions\":[{\"key\":\"modelcache.dev/cache\",\"operator\":\"Exists\"},"
			     "{\"key\":\"app.kubernetes.io/managed-by\",\"operator\":\"NotIn\",\"values\":[\"modelcache-operator\"]}]}");
	assert_true(admission_selector_matches(sel, l));
	assert_false(admission_selector_matches(sel, managed));
	assert_false(admission_selector_matches(sel, NULL));
	json_object_put(sel);
	sel = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"DoesNotExist\"},"
		"{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"db\",\"web\"]}]}");
	assert_true(admission_selector_matches(sel, l));
	json_object_put(sel);
	sel = J("{}");
	assert_true(admission_selector_matches(sel, NULL));   /* empty selects everything */
	json_object_put(sel);
	assert_true(admission_selector_matches(NULL, NULL));
	sel = J("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Bogus\"}]}");
	assert_false(admission_selector_matches(sel, l));
	json_object_put(sel);
	json_object_put(l);
	json_object_put(managed);
}

/* ---- a fake webhook over loopback HTTP ---- */

struct fake {
	const char *mode;   /* "patch" | "deny" | "empty" */
	int calls;
	char last_user[128];
	char last_op[16];
};

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)s, (int)n);
	return o;
}

static void fake_handler(void *ctx, struct http_req *r)
{
	struct fake *f = ctx;
	f->calls++;
	json_object *rev = json_tokener_parse(r->body);
	const char *uid = sj_str(rev, "request", "uid", NULL);
	snprintf(f->last_user, sizeof f->last_user, "%s", sj_str(rev, "request", "userInfo", "username", NULL) ?: "");
	snprintf(f->last_op, sizeof f->last_op, "%s", sj_str(rev, "request", "operation", NULL) ?: "");
	char *resp;
	if (strcmp(f->mode, "deny") == 0) {
		resp = xasprintf("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":"
				 "{\"uid\":\"%s\",\"allowed\":false,\"status\":{\"code\":403,\"reason\":\"Forbidden\","
				 "\"message\":\"no cache\"}}}", uid);
	} else if (strcmp(f->mode, "patch") == 0) {
		char *p = b64("[{\"op\":\"add\",\"path\":\"/spec/volumes\",\"value\":[{\"name\":\"model-cache\"}]},"
			      "{\"op\":\"add\",\"path\":\"/metadata/annotations\",\"value\":{\"seen\":\"yes\"}}]");
		resp = xasprintf("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":"
				 "{\"uid\":\"%s\",\"allowed\":true,\"patchType\":\"JSONPatch\",\"patch\":\"%s\","
				 "\"warnings\":[\"cache \\\"qwen\\\" is Hydrating\"]}}", uid, p);
		free(p);
	} else {
		resp = xasprintf("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"response\":"
				 "{\"uid\":\"wrong\",\"allowed\":true}}");
	}
	http_respond(r, 200, "application/json", resp, strlen(resp), NULL);
	free(resp);
	json_object_put(rev);
}

struct env {
	struct sim *s;
	struct admission *a;
	struct http_server *srv;
	struct fake f;
};

static void register_hook(struct env *e, const char *url, const char *policy)
{
	char *cfg = xasprintf(
		"{\"metadata\":{\"name\":\"modelcache\"},\"webhooks\":[{\"name\":\"pods.modelcache.dev\","
		"\"sideEffects\":\"None\",\"admissionReviewVersions\":[\"v1\"],\"failurePolicy\":\"%s\",\"timeoutSeconds\":5,"
		"\"clientConfig\":{\"url\":\"%s\"},"
		"\"rules\":[{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],\"apiVersions\":[\"v1\"],\"resources\":[\"pods\"]}],"
		"\"objectSelector\":{\"matchExpressions\":[{\"key\":\"modelcache.dev/cache\",\"operator\":\"Exists\"},"
		"{\"key\":\"app.kubernetes.io/managed-by\",\"operator\":\"NotIn\",\"values\":[\"modelcache-operator\"]}]},"
		"\"namespaceSelector\":{\"matchExpressions\":[{\"key\":\"kubernetes.io/metadata.name\",\"operator\":\"NotIn\","
		"\"values\":[\"kube-system\"]}]}}]}",
		policy, url);
	json_object *o = J(cfg);
	struct sim_err err = {0};
	sim_delete(e->s, "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", NULL, "modelcache", NULL,
		   NULL, NULL);
	assert_int_equal(sim_create(e->s, "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", NULL, o,
				    NULL, &err), 0);
	sim_err_cleanup(&err);
	json_object_put(o);
	free(cfg);
}

static int env_setup(void **state)
{
	struct env *e = xcalloc(1, sizeof *e);
	assert_int_equal(sim_new(NULL, &e->s), 0);
	assert_int_equal(admission_new(e->s, &e->a), 0);
	admission_install(e->a);
	e->f.mode = "patch";
	struct http_server_opts ho = {.port = 0, .handler = fake_handler, .ctx = &e->f};
	assert_int_equal(http_server_start(&ho, &e->srv), 0);
	char url[128];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/mutate-v1-pod", http_server_port(e->srv));
	register_hook(e, url, "Fail");
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	http_server_stop(e->srv);
	sim_free(e->s);
	admission_free(e->a);
	free(admission_take_warnings());
	free(e);
	return 0;
}

static int create_pod(struct env *e, const char *ns, const char *name, const char *labels, json_object **out,
		      struct sim_err *err)
{
	char *pod = xasprintf("{\"metadata\":{\"name\":\"%s\",\"labels\":%s},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}",
			      name, labels);
	json_object *o = J(pod);
	int rc = sim_create(e->s, "", "v1", "pods", ns, o, out, err);
	json_object_put(o);
	free(pod);
	return rc;
}

#define LBL "{\"modelcache.dev/cache\":\"qwen\"}"

static void test_patch_applied_before_storage(void **state)
{
	struct env *e = *state;
	json_object *out = NULL;
	struct sim_err err = {0};
	assert_int_equal(create_pod(e, "default", "p1", LBL, &out, &err), 0);
	assert_int_equal(e->f.calls, 1);
	assert_string_equal(e->f.last_op, "CREATE");
	assert_string_equal(e->f.last_user, "system:serviceaccount:kube-system:job-controller");   /* in-process */
	assert_string_equal(sj_str(json_object_array_get_idx(sj_get(sj_get(out, "spec"), "volumes"), 0), "name", NULL),
			    "model-cache");   /* the create's answer is the mutated pod */
	json_object *stored = NULL;
	assert_int_equal(sim_get(e->s, "", "v1", "pods", "default", "p1", &stored, NULL), 0);
	json_object *vols = sj_get(sj_get(stored, "spec"), "volumes");
	assert_int_equal(json_object_array_length(vols), 1);
	assert_string_equal(sj_str(json_object_array_get_idx(vols, 0), "name", NULL), "model-cache");
	assert_string_equal(sj_str(stored, "metadata", "annotations", "seen", NULL), "yes");
	assert_non_null(sj_str(stored, "metadata", "uid", NULL));   /* stored normally afterwards */
	char *w = admission_take_warnings();
	assert_non_null(w);
	assert_string_equal(w, "Warning: 299 - \"cache \\\"qwen\\\" is Hydrating\"\r\n");
	free(w);
	assert_null(admission_take_warnings());
	json_object_put(stored);
	json_object_put(out);
	sim_err_cleanup(&err);
}

static void test_selectors_skip_the_call(void **state)
{
	struct env *e = *state;
	struct sim_err err = {0};
	assert_int_equal(create_pod(e, "default", "plain", "{}", NULL, &err), 0);
	assert_int_equal(create_pod(e, "default", "mine",
				    "{\"modelcache.dev/cache\":\"qwen\",\"app.kubernetes.io/managed-by\":\"modelcache-operator\"}",
				    NULL, &err), 0);
	assert_int_equal(create_pod(e, "kube-system", "sys", LBL, NULL, &err), 0);
	assert_int_equal(e->f.calls, 0);
	/* a missing namespace is the store's 404, no call */
	assert_int_equal(create_pod(e, "nowhere", "p", LBL, NULL, &err), -404);
	assert_int_equal(e->f.calls, 0);
	sim_err_cleanup(&err);
}

static void test_denial(void **state)
{
	struct env *e = *state;
	e->f.mode = "deny";
	struct sim_err err = {0};
	assert_int_equal(create_pod(e, "default", "p2", LBL, NULL, &err), -403);
	assert_string_equal(err.reason, "Forbidden");
	assert_string_equal(err.message, "admission webhook \"pods.modelcache.dev\" denied the request: no cache");
	json_object *got = NULL;
	assert_int_equal(sim_get(e->s, "", "v1", "pods", "default", "p2", &got, NULL), -404);
	sim_err_cleanup(&err);
}

static void test_invalid_response_and_policies(void **state)
{
	struct env *e = *state;
	e->f.mode = "empty";   /* a wrong uid: an invalid response is a call failure */
	struct sim_err err = {0};
	assert_int_equal(create_pod(e, "default", "p3", LBL, NULL, &err), -500);
	assert_string_equal(err.reason, "InternalError");
	assert_non_null(strstr(err.message, "Internal error occurred: failed calling webhook \"pods.modelcache.dev\": "
					    "received invalid webhook response: expected response.uid="));
	sim_err_cleanup(&err);
	memset(&err, 0, sizeof err);
	/* nothing listens there: Fail refuses, Ignore admits unmutated */
	register_hook(e, "http://127.0.0.1:1/mutate-v1-pod", "Fail");
	assert_int_equal(create_pod(e, "default", "p4", LBL, NULL, &err), -500);
	assert_non_null(strstr(err.message, "failed calling webhook \"pods.modelcache.dev\": failed to call webhook: "
					    "Post \"http://127.0.0.1:1/mutate-v1-pod?timeout=5s\": dial tcp 127.0.0.1:1: connect: connection refused"));
	sim_err_cleanup(&err);
	memset(&err, 0, sizeof err);
	register_hook(e, "http://127.0.0.1:1/mutate-v1-pod", "Ignore");
	json_object *out = NULL;
	assert_int_equal(create_pod(e, "default", "p5", LBL, &out, &err), 0);
	assert_null(sj_get(sj_get(out, "spec"), "volumes"));
	json_object_put(out);
	sim_err_cleanup(&err);
}

static void test_service_without_endpoint(void **state)
{
	struct env *e = *state;
	json_object *cfg = J("{\"metadata\":{\"name\":\"svc\"},\"webhooks\":[{\"name\":\"svc.example.com\",\"sideEffects\":\"None\","
			     "\"admissionReviewVersions\":[\"v1\"],\"clientConfig\":{\"service\":{\"namespace\":\"default\","
			     "\"name\":\"hook\",\"path\":\"/m\"}},\"rules\":[{\"operations\":[\"CREATE\"],\"apiGroups\":[\"\"],"
			     "\"apiVersions\":[\"v1\"],\"resources\":[\"configmaps\"]}]}]}");
	struct sim_err err = {0};
	assert_int_equal(sim_create(e->s, "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", NULL, cfg,
				    NULL, &err), 0);
	json_object_put(cfg);
	json_object *cm = J("{\"metadata\":{\"name\":\"c\"}}");
	assert_int_equal(sim_create(e->s, "", "v1", "configmaps", "default", cm, NULL, &err), -500);
	assert_string_equal(err.message, "Internal error occurred: failed calling webhook \"svc.example.com\": failed to call "
					 "webhook: Post \"https://hook.default.svc:443/m?timeout=10s\": service \"hook\" not found");
	sim_err_cleanup(&err);
	json_object_put(cm);
	assert_int_equal(admission_add_endpoint(e->a, "default/hook"), -EINVAL);
	assert_int_equal(admission_add_endpoint(e->a, "default/hook=127.0.0.1:x"), -EINVAL);
	assert_int_equal(admission_add_endpoint(e->a, "default/hook=127.0.0.1:9443"), 0);
}

static void test_dry_run_needs_no_side_effects(void **state)
{
	struct env *e = *state;
	json_object *cfg = NULL;
	assert_int_equal(sim_get(e->s, "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", NULL,
				 "modelcache", &cfg, NULL), 0);
	json_object_object_add(json_object_array_get_idx(sj_get(cfg, "webhooks"), 0), "sideEffects",
			       json_object_new_string("Some"));
	struct sim_err err = {0};
	assert_int_equal(sim_update(e->s, "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", NULL, cfg,
				    NULL, &err), 0);
	json_object_put(cfg);
	sim_dry_run(1);
	int rc = create_pod(e, "default", "dry", LBL, NULL, &err);
	sim_dry_run(0);
	assert_int_equal(rc, -400);
	assert_string_equal(err.message, "admission webhook \"pods.modelcache.dev\" does not support dry run");
	assert_int_equal(e->f.calls, 0);
	sim_err_cleanup(&err);
	/* not a dry run: called */
	memset(&err, 0, sizeof err);
	assert_int_equal(create_pod(e, "default", "wet", LBL, NULL, &err), 0);
	assert_int_equal(e->f.calls, 1);
	sim_err_cleanup(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test_setup_teardown(test_patch_applied_before_storage, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_selectors_skip_the_call, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_denial, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_invalid_response_and_policies, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_service_without_endpoint, env_setup, env_teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_needs_no_side_effects, env_setup, env_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
