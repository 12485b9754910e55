/* kubesim ServiceAccounts (serviceaccount.h): the default ServiceAccount
 * and kube-root-ca.crt of every namespace (also recreated), the admission
 * check of pods, TokenRequest validation and the tokens' authentication. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "serviceaccount.h"
#include "sim.h"
#include "simjson.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

struct fx {
	struct sim *s;
	struct sa_ctl *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_int_equal(sim_new(NULL, &f->s), 0);
	assert_int_equal(sa_start(f->s, "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n", &f->c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	sa_stop(f->c);
	sim_free(f->s);
	free(f);
	return 0;
}

static int exists(struct sim *s, const char *plural, const char *ns, const char *name)
{
	json_object *o = NULL;
	int rc = sim_get(s, "", "v1", plural, ns, name, &o, NULL);
	if (o)
		json_object_put(o);
	return rc == 0;
}

static void create(struct sim *s, const char *plural, const char *ns, const char *json)
{
	json_object *o = J(json);
	struct sim_err e = {0};
	assert_int_equal(sim_create(s, "", "v1", plural, ns, o, NULL, &e), 0);
	json_object_put(o);
}

static void test_namespaces_get_default_sa_and_root_ca(void **state)
{
	struct fx *f = *state;
	const char *nss[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
	for (size_t i = 0; i < 4; i++) {
		assert_true(exists(f->s, "serviceaccounts", nss[i], "default"));
		assert_true(exists(f->s, "configmaps", nss[i], "kube-root-ca.crt"));
	}
	create(f->s, "namespaces", NULL, "{\"metadata\":{\"name\":\"team\"}}");
	sim_sync(f->s);
	assert_true(exists(f->s, "serviceaccounts", "team", "default"));
	json_object *cm = NULL;
	assert_int_equal(sim_get(f->s, "", "v1", "configmaps", "team", "kube-root-ca.crt", &cm, NULL), 0);
	assert_string_equal(sj_str(cm, "data", "ca.crt", NULL), "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
	assert_non_null(strstr(sj_str(cm, "metadata", "annotations", "kubernetes.io/description", NULL),
			       "verify the kube-apiserver"));
	/* the publisher restores what is changed, the controllers recreate what is deleted */
	json_object_object_add(cm, "data", J("{\"ca.crt\":\"tampered\"}"));
	json_object_object_del(sj_get(cm, "metadata"), "resourceVersion");
	assert_int_equal(sim_update(f->s, "", "v1", "configmaps", "team", cm, NULL, NULL), 0);
	json_object_put(cm);
	sim_sync(f->s);
	sim_sync(f->s);
	assert_int_equal(sim_get(f->s, "", "v1", "configmaps", "team", "kube-root-ca.crt", &cm, NULL), 0);
	assert_string_equal(sj_str(cm, "data", "ca.crt", NULL), "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n");
	json_object_put(cm);
	assert_int_equal(sim_delete(f->s, "", "v1", "serviceaccounts", "team", "default", NULL, NULL, NULL), 0);
	assert_int_equal(sim_delete(f->s, "", "v1", "configmaps", "team", "kube-root-ca.crt", NULL, NULL, NULL), 0);
	sim_sync(f->s);
	assert_true(exists(f->s, "serviceaccounts", "team", "default"));
	assert_true(exists(f->s, "configmaps", "team", "kube-root-ca.crt"));
}

static void test_pod_naming_a_missing_sa_is_forbidden(void **state)
{
	struct fx *f = *state;
	json_object *p = J("{\"metadata\":{\"name\":\"p-nosa\"},\"spec\":{\"serviceAccountName\":\"no-such-sa\","
			   "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	struct sim_err e = {0};
	assert_int_equal(sim_create(f->s, "", "v1", "pods", "default", p, NULL, &e), -403);
	assert_string_equal(e.reason, "Forbidden");
	assert_string_equal(e.message, "pods \"p-nosa\" is forbidden: error looking up service account "
				       "default/no-such-sa: serviceaccount \"no-such-sa\" not found");
	json_object_put(p);
	/* generateName names the pod in the message; the default SA admits */
	p = J("{\"metadata\":{\"generateName\":\"job-\"},\"spec\":{\"serviceAccountName\":\"gone\","
	      "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	assert_int_equal(sim_create(f->s, "", "v1", "pods", "default", p, NULL, &e), -403);
	assert_non_null(strstr(e.message, "pods \"job-\" is forbidden"));
	json_object_put(p);
	create(f->s, "pods", "default", "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	/* a missing namespace stays the store's 404 */
	p = J("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	assert_int_equal(sim_create(f->s, "", "v1", "pods", "nowhere", p, NULL, &e), -404);
	json_object_put(p);
}

static void test_token_request_and_authentication(void **state)
{
	struct fx *f = *state;
	create(f->s, "serviceaccounts", "default", "{\"metadata\":{\"name\":\"bot\"}}");
	struct sim_err e = {0};
	json_object *out = NULL, *body = J("{\"spec\":{\"expirationSeconds\":599}}");
	assert_int_equal(sa_token_request(f->c, "default", "bot", body, &out, &e), -422);
	assert_string_equal(e.message, "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: "
				       "Invalid value: 599: may not specify a duration less than 10 minutes");
	sim_err_cleanup(&e);
	json_object_put(body);
	body = J("{\"metadata\":{\"name\":\"other\"}}");
	assert_int_equal(sa_token_request(f->c, "default", "bot", body, &out, &e), -422);
	assert_non_null(strstr(e.message, "metadata.name: Invalid value: \"other\": must match the service account name"));
	sim_err_cleanup(&e);
	json_object_put(body);
	assert_int_equal(sa_token_request(f->c, "default", "nobody", NULL, &out, &e), -404);
	assert_string_equal(e.message, "serviceaccounts \"nobody\" not found");
	assert_int_equal(sa_token_request(f->c, "default", "bot", NULL, &out, &e), 0);
	assert_int_equal(json_object_get_int64(sj_get(sj_get(out, "spec"), "expirationSeconds")), 3600);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(sj_get(sj_get(out, "spec"), "audiences"), 0)),
			    SA_ISSUER);
	char *tok = strdup(sj_str(out, "status", "token", NULL));
	json_object_put(out);
	json_object *user = NULL;
	assert_int_equal(sa_authenticate(f->c, tok, &user), 1);
	assert_string_equal(sj_str(user, "username", NULL), "system:serviceaccount:default:bot");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(sj_get(user, "groups"), 1)),
			    "system:serviceaccounts:default");
	json_object_put(user);
	/* a changed signature is not ours; a token for another audience is refused */
	tok[strlen(tok) - 2] ^= 1;
	assert_int_equal(sa_authenticate(f->c, tok, &user), 0);
	assert_int_equal(sa_authenticate(f->c, "not.a.jwt", &user), 0);
	assert_int_equal(sa_authenticate(f->c, "garbage", &user), 0);
	free(tok);
	body = J("{\"spec\":{\"audiences\":[\"vault\"]}}");
	assert_int_equal(sa_token_request(f->c, "default", "bot", body, &out, &e), 0);
	json_object_put(body);
	assert_int_equal(sa_authenticate(f->c, sj_str(out, "status", "token", NULL), &user), -1);
	json_object_put(out);
	/* deleting the ServiceAccount invalidates its tokens */
	assert_int_equal(sa_token_request(f->c, "default", "bot", NULL, &out, &e), 0);
	assert_int_equal(sim_delete(f->s, "", "v1", "serviceaccounts", "default", "bot", NULL, NULL, NULL), 0);
	assert_int_equal(sa_authenticate(f->c, sj_str(out, "status", "token", NULL), &user), -1);
	json_object_put(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_namespaces_get_default_sa_and_root_ca, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_naming_a_missing_sa_is_forbidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_request_and_authentication, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
