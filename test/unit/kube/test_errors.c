/* Status -> typed errors, and resource paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kube/errors.h"
#include "kube/resource.h"

static json_object *status(int code, const char *reason, const char *msg)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "kind", json_object_new_string("Status"));
	json_object_object_add(s, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(s, "status", json_object_new_string("Failure"));
	json_object_object_add(s, "reason", json_object_new_string(reason));
	json_object_object_add(s, "message", json_object_new_string(msg));
	json_object_object_add(s, "code", json_object_new_int(code));
	return s;
}

static void test_each_kind(void **state)
{
	static const struct {
		int code;
		const char *reason;
		enum kube_reason want;
	} cases[] = {
		{ 404, "NotFound", KUBE_ERR_NOT_FOUND },
		{ 409, "AlreadyExists", KUBE_ERR_ALREADY_EXISTS },
		{ 409, "Conflict", KUBE_ERR_CONFLICT },
		{ 422, "Invalid", KUBE_ERR_INVALID },
		{ 403, "Forbidden", KUBE_ERR_FORBIDDEN },
		{ 401, "Unauthorized", KUBE_ERR_UNAUTHORIZED },
		{ 410, "Expired", KUBE_ERR_GONE },
		{ 410, "Gone", KUBE_ERR_GONE },
		{ 429, "TooManyRequests", KUBE_ERR_TOO_MANY_REQUESTS },
		{ 504, "Timeout", KUBE_ERR_TIMEOUT },
		{ 500, "InternalError", KUBE_ERR_INTERNAL },
		{ 400, "BadRequest", KUBE_ERR_BAD_REQUEST },
		{ 405, "MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED },
		{ 503, "ServiceUnavailable", KUBE_ERR_UNAVAILABLE },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kube_error e = { 0 };
		json_object *s = status(cases[i].code, cases[i].reason, "the message");
		int rc = kube_error_from_status(cases[i].code, s, &e);
		assert_int_equal(rc, -(int)cases[i].want);
		assert_int_equal(e.reason, cases[i].want);
		assert_int_equal(e.http_code, cases[i].code);
		assert_string_equal(e.message, "the message");
		kube_error_clear(&e);
		assert_null(e.message);
		/* the same HTTP code without a body maps to the same kind, except
		 * 409 which defaults to Conflict */
		rc = kube_error_from_status(cases[i].code, NULL, &e);
		if (strcmp(cases[i].reason, "AlreadyExists") == 0)
			assert_int_equal(rc, -KUBE_ERR_CONFLICT);
		else
			assert_int_equal(rc, -(int)cases[i].want);
		assert_non_null(e.message);
		kube_error_clear(&e);
		json_object_put(s);
	}
	assert_string_equal(kube_reason_str(KUBE_ERR_ALREADY_EXISTS), "AlreadyExists");
	assert_string_equal(kube_reason_str(-KUBE_ERR_GONE), "Gone");
	assert_string_equal(kube_reason_str(999), "Unknown");
}

static void test_causes_and_retry_after(void **state)
{
	(void)state;
	const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Invalid\","
			   "\"message\":\"ModelCache.modelcache.dev \\\"q\\\" is invalid\",\"code\":422,"
			   "\"details\":{\"name\":\"q\",\"kind\":\"ModelCache\",\"retryAfterSeconds\":7,\"causes\":["
			   "{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\",\"field\":\"spec.huggingFace\"},"
			   "{\"reason\":\"FieldValueNotSupported\",\"message\":\"Unsupported value: \\\"X\\\"\",\"field\":\"spec.source\"}]}}";
	json_object *s = json_tokener_parse(body);
	struct kube_error e = { 0 };
	assert_int_equal(kube_error_from_status(422, s, &e), -KUBE_ERR_INVALID);
	assert_int_equal(e.ncauses, 2);
	assert_string_equal(e.causes[0].type, "FieldValueRequired");
	assert_string_equal(e.causes[0].field, "spec.huggingFace");
	assert_string_equal(e.causes[0].message, "Required value");
	assert_string_equal(e.causes[1].field, "spec.source");
	assert_int_equal(e.retry_after_s, 7);
	assert_string_equal(e.message, "ModelCache.modelcache.dev \"q\" is invalid");
	kube_error_clear(&e);
	assert_int_equal(e.ncauses, 0);
	json_object_put(s);

	/* a body that is not a Status does not lend its message */
	s = json_tokener_parse("{\"kind\":\"Pod\",\"message\":\"nope\"}");
	assert_int_equal(kube_error_from_status(500, s, &e), -KUBE_ERR_INTERNAL);
	assert_string_not_equal(e.message, "nope");
	kube_error_clear(&e);
	json_object_put(s);

	/* unknown reason falls back to the code; NULL err is allowed */
	s = status(403, "SomethingNew", "m");
	assert_int_equal(kube_error_from_status(403, s, NULL), -KUBE_ERR_FORBIDDEN);
	json_object_put(s);

	assert_int_equal(kube_error_set(&e, KUBE_ERR_UNAVAILABLE, "connect %s: %d", "x", 3), -KUBE_ERR_UNAVAILABLE);
	assert_string_equal(e.message, "connect x: 3");
	assert_int_equal(e.http_code, 0);
	kube_error_clear(&e);
}

static void test_paths(void **state)
{
	(void)state;
	char *p = kube_resource_path(&KUBE_RES_PVCS, "ml-team", "a", NULL);
	assert_string_equal(p, "/api/v1/namespaces/ml-team/persistentvolumeclaims/a");
	free(p);
	p = kube_resource_path(&KUBE_RES_MODELCACHES, "ns", "qwen", "status");
	assert_string_equal(p, "/apis/modelcache.dev/v1alpha1/namespaces/ns/modelcaches/qwen/status");
	free(p);
	p = kube_resource_path(&KUBE_RES_NODES, "ignored", NULL, NULL);
	assert_string_equal(p, "/api/v1/nodes");
	free(p);
	p = kube_resource_path(&KUBE_RES_JOBS, NULL, NULL, NULL);
	assert_string_equal(p, "/apis/batch/v1/jobs");
	free(p);
	p = kube_resource_path(&KUBE_RES_SECRETS, "n s", "a/b?c", NULL);
	assert_string_equal(p, "/api/v1/namespaces/n%20s/secrets/a%2Fb%3Fc");
	free(p);
	char av[128];
	kube_resource_api_version(&KUBE_RES_DEPLOYMENTS, av, sizeof(av));
	assert_string_equal(av, "apps/v1");
	kube_resource_api_version(&KUBE_RES_PODS, av, sizeof(av));
	assert_string_equal(av, "v1");
	kube_resource_api_version(&KUBE_RES_EVENTS, av, sizeof(av));
	assert_string_equal(av, "events.k8s.io/v1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_kind),
		cmocka_unit_test(test_causes_and_retry_after),
		cmocka_unit_test(test_paths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
