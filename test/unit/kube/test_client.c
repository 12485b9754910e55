/* REST client against the loopback test server: verbs, bearer token,
 * pagination, retries, Status errors, TLS with client certificates, exec
 * credentials, rate limiting. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/client.h"
#include "testserver/testserver.h"
#include "util/clock.h"
#include "util/mem.h"

/* ------------------------------------------------------------------ */
/* recording */

#define MAXREQ 64

struct rec {
	pthread_mutex_t mu;
	int n;
	char method[MAXREQ][16];
	char path[MAXREQ][1024];
	char auth[MAXREQ][256];
	char ctype[MAXREQ][128];
	char cn[MAXREQ][64];
	char body[MAXREQ][1024];
	int mode;       /* per-test behaviour switch */
	int counter;    /* per-test state */
};

static struct rec R;

static void rec_reset(int mode)
{
	pthread_mutex_lock(&R.mu);
	int m = mode;
	R.n = 0;
	R.counter = 0;
	R.mode = m;
	pthread_mutex_unlock(&R.mu);
}

static int record(const struct ts_request *q)
{
	pthread_mutex_lock(&R.mu);
	int i = R.n < MAXREQ ? R.n++ : MAXREQ - 1;
	snprintf(R.method[i], sizeof(R.method[i]), "%s", q->method);
	snprintf(R.path[i], sizeof(R.path[i]), "%.1000s", q->path);
	snprintf(R.auth[i], sizeof(R.auth[i]), "%.250s", q->authorization);
	snprintf(R.ctype[i], sizeof(R.ctype[i]), "%.120s", q->content_type);
	snprintf(R.cn[i], sizeof(R.cn[i]), "%.60s", q->client_cn);
	snprintf(R.body[i], sizeof(R.body[i]), "%s", q->body ? q->body : "");
	pthread_mutex_unlock(&R.mu);
	return i;
}

static int bump(void)
{
	pthread_mutex_lock(&R.mu);
	int v = ++R.counter;
	pthread_mutex_unlock(&R.mu);
	return v;
}

/* sleeps requested by the client (retries, rate limit) */
struct sleeps {
	int n;
	uint64_t ms[64];
	struct mclock_fake *fake;   /* advanced by each sleep when set */
};

static void rec_sleep(void *ctx, uint64_t ms)
{
	struct sleeps *s = ctx;
	if (s->n < 64)
		s->ms[s->n] = ms;
	s->n++;
	if (s->fake)
		mclock_fake_advance(s->fake, ms * 1000000ull);
}

static char *kubeconfig(const char *server, const char *cluster_extra, const char *user_body)
{
	return xasprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n%s"
			 "users:\n- name: u\n  user:\n%s"
			 "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: ns1\n"
			 "current-context: x\n",
			 server, cluster_extra ? cluster_extra : "", user_body ? user_body : "    token: sekret\n");
}

static struct kube_client *client_for(const char *server, const char *cluster_extra, const char *user_body,
				      struct kube_client_opts *o)
{
	char *y = kubeconfig(server, cluster_extra, user_body);
	struct kube_config *cfg = NULL;
	char *em = NULL;
	int rc = kube_config_from_bytes(y, strlen(y), NULL, true, &cfg, &em);
	if (rc != 0)
		fail_msg("config: %s", em);
	free(y);
	struct kube_client *c = NULL;
	struct kube_error e = { 0 };
	assert_int_equal(kube_client_new(cfg, o, &c, &e), 0);
	kube_config_free(cfg);   /* the client holds its own reference */
	return c;
}

/* ------------------------------------------------------------------ */
/* verbs */

static void h_verbs(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	record(q);
	if (strcmp(q->path, "/version") == 0) {
		ts_respond_json(c, 200, "{\"major\":\"1\",\"minor\":\"31\",\"gitVersion\":\"v1.31.2\"}");
	} else if (strcmp(q->path, "/apis/batch/v1") == 0) {
		ts_respond_json(c, 200, "{\"kind\":\"APIResourceList\",\"groupVersion\":\"batch/v1\",\"resources\":"
					"[{\"name\":\"jobs\",\"namespaced\":true,\"kind\":\"Job\"},{\"name\":\"jobs/status\"}]}");
	} else if (strcmp(q->path, "/apis/leaderworkerset.x-k8s.io/v1") == 0) {
		ts_respond_json(c, 404, "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"NotFound\",\"code\":404,"
					"\"message\":\"the server could not find the requested resource\"}");
	} else if (strcmp(q->method, "GET") == 0) {
		ts_respond_json(c, 200, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}");
	} else if (strcmp(q->method, "DELETE") == 0) {
		ts_respond_json(c, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}");
	} else {
		/* echo the body back as the stored object */
		ts_respond(c, strcmp(q->method, "POST") == 0 ? 201 : 200, NULL, "application/json", q->body, q->body_len);
	}
}

struct hookrec {
	int n;
	char verbs[16][16];
	int codes[16];
};

static void hook(void *ctx, const char *verb, const char *resource, int code)
{
	struct hookrec *h = ctx;
	(void)resource;
	if (h->n < 16) {
		snprintf(h->verbs[h->n], 16, "%s", verb);
		h->codes[h->n] = code;
	}
	h->n++;
}

/* Every body the client sends is JSON without json-c's "\/" escape: the
 * apiserver decodes apply-patch+yaml bodies with go-yaml v2, which has no
 * such escape ("found unknown escape character"). */
static void test_bodies_never_escape_slash(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_verbs, NULL, &s), 0);
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, NULL);
	struct kube_error e = { 0 };
	json_object *obj = json_tokener_parse("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\","
					      "\"labels\":{\"app.kubernetes.io/managed-by\":\"modelcache-operator\"}},"
					      "\"spec\":{\"args\":[\"--dest=/mnt/artifact\"]}}");
	struct kube_patch_opts po = { .type = KUBE_PATCH_MERGE };
	struct kube_delete_opts d = { .precondition_uid = "a/b" };
	assert_int_equal(kube_create(c, &KUBE_RES_JOBS, "ns1", obj, NULL, &e), 0);
	assert_int_equal(kube_update(c, &KUBE_RES_JOBS, "ns1", "j", obj, NULL, &e), 0);
	assert_int_equal(kube_update_status(c, &KUBE_RES_JOBS, "ns1", "j", obj, NULL, &e), 0);
	assert_int_equal(kube_patch_obj(c, &KUBE_RES_JOBS, "ns1", "j", obj, &po, NULL, &e), 0);
	assert_int_equal(kube_apply(c, &KUBE_RES_JOBS, "ns1", obj, "modelcache-operator", true, NULL, NULL, &e), 0);
	assert_int_equal(kube_delete(c, &KUBE_RES_JOBS, "ns1", "j", &d, &e), 0);
	assert_int_equal(R.n, 6);
	for (int i = 0; i < R.n; i++) {
		if (strstr(R.body[i], "\\/"))
			fail_msg("request %d (%s) has a \\/ escape: %s", i, R.method[i], R.body[i]);
		assert_non_null(strstr(R.body[i], i < 5 ? "app.kubernetes.io/managed-by" : "a/b"));
	}
	assert_string_equal(R.ctype[4], "application/apply-patch+yaml");
	json_object_put(obj);
	kube_client_free(c);
	ts_stop(s);
}

static void test_verbs_and_bearer(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_verbs, NULL, &s), 0);
	struct hookrec hr = { 0 };
	struct kube_client_opts o = { .hook = hook, .hook_ctx = &hr };
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, &o);
	struct kube_error e = { 0 };
	json_object *out = NULL, *v;

	assert_string_equal(kube_client_server(c), ts_url(s));
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", &out, &e), 0);
	assert_true(json_object_object_get_ex(out, "kind", &v));
	assert_string_equal(json_object_get_string(v), "ConfigMap");
	json_object_put(out);
	assert_string_equal(R.method[0], "GET");
	assert_string_equal(R.path[0], "/api/v1/namespaces/ns1/configmaps/a");
	assert_string_equal(R.auth[0], "Bearer sekret");

	json_object *obj = json_tokener_parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"},"
					      "\"data\":{\"k\":\"v\"}}");
	assert_int_equal(kube_create(c, &KUBE_RES_CONFIGMAPS, "ns1", obj, &out, &e), 0);
	assert_string_equal(R.method[1], "POST");
	assert_string_equal(R.path[1], "/api/v1/namespaces/ns1/configmaps");
	assert_string_equal(R.ctype[1], "application/json");
	assert_non_null(strstr(R.body[1], "\"k\":\"v\""));
	json_object_put(out);

	assert_int_equal(kube_update(c, &KUBE_RES_CONFIGMAPS, "ns1", "b", obj, NULL, &e), 0);
	assert_string_equal(R.method[2], "PUT");
	assert_string_equal(R.path[2], "/api/v1/namespaces/ns1/configmaps/b");
	assert_int_equal(kube_update_status(c, &KUBE_RES_MODELCACHES, "ns1", "b", obj, NULL, &e), 0);
	assert_string_equal(R.path[3], "/apis/modelcache.dev/v1alpha1/namespaces/ns1/modelcaches/b/status");

	const char *mp = "{\"metadata\":{\"labels\":{\"x\":\"y\"}}}";
	struct kube_patch_opts po = { .type = KUBE_PATCH_MERGE };
	assert_int_equal(kube_patch(c, &KUBE_RES_CONFIGMAPS, "ns1", "b", mp, strlen(mp), &po, NULL, &e), 0);
	assert_string_equal(R.method[4], "PATCH");
	assert_string_equal(R.ctype[4], "application/merge-patch+json");
	assert_string_equal(R.body[4], mp);
	const char *jp = "[{\"op\":\"add\",\"path\":\"/data/z\",\"value\":\"1\"}]";
	po.type = KUBE_PATCH_JSON;
	po.subresource = "status";
	assert_int_equal(kube_patch(c, &KUBE_RES_CONFIGMAPS, "ns1", "b", jp, strlen(jp), &po, NULL, &e), 0);
	assert_string_equal(R.ctype[5], "application/json-patch+json");
	assert_string_equal(R.path[5], "/api/v1/namespaces/ns1/configmaps/b/status");

	assert_int_equal(kube_apply(c, &KUBE_RES_CONFIGMAPS, "ns1", obj, "modelcache-operator", true, NULL, &out, &e), 0);
	assert_string_equal(R.ctype[6], "application/apply-patch+yaml");
	assert_string_equal(R.path[6], "/api/v1/namespaces/ns1/configmaps/b?fieldManager=modelcache-operator&force=true");
	json_object_put(out);
	/* apply without a name or a field manager is refused locally */
	json_object *noname = json_tokener_parse("{\"metadata\":{}}");
	assert_int_equal(kube_apply(c, &KUBE_RES_CONFIGMAPS, "ns1", noname, "m", true, NULL, NULL, &e),
			 -KUBE_ERR_BAD_REQUEST);
	kube_error_clear(&e);
	json_object_put(noname);
	po.type = KUBE_PATCH_APPLY;
	po.field_manager = NULL;
	assert_int_equal(kube_patch(c, &KUBE_RES_CONFIGMAPS, "ns1", "b", "{}", 2, &po, NULL, &e), -KUBE_ERR_BAD_REQUEST);
	kube_error_clear(&e);

	struct kube_delete_opts d = { .propagation_policy = "Background", .precondition_uid = "u-1",
				      .precondition_resource_version = "7" };
	assert_int_equal(kube_delete(c, &KUBE_RES_JOBS, "ns1", "j", &d, &e), 0);
	assert_string_equal(R.method[7], "DELETE");
	assert_string_equal(R.path[7], "/apis/batch/v1/namespaces/ns1/jobs/j");
	json_object *db = json_tokener_parse(R.body[7]), *pre, *x;
	assert_non_null(db);
	assert_true(json_object_object_get_ex(db, "propagationPolicy", &x));
	assert_string_equal(json_object_get_string(x), "Background");
	assert_true(json_object_object_get_ex(db, "preconditions", &pre));
	assert_true(json_object_object_get_ex(pre, "uid", &x));
	assert_string_equal(json_object_get_string(x), "u-1");
	assert_true(json_object_object_get_ex(pre, "resourceVersion", &x));
	assert_string_equal(json_object_get_string(x), "7");
	json_object_put(db);

	char *ver = NULL;
	assert_int_equal(kube_server_version(c, &ver, &e), 0);
	assert_string_equal(ver, "v1.31.2");
	free(ver);
	assert_int_equal(kube_resource_served(c, &KUBE_RES_JOBS, &e), 0);
	assert_int_equal(kube_resource_served(c, &KUBE_RES_LEADERWORKERSETS, &e), -KUBE_ERR_NOT_FOUND);
	kube_error_clear(&e);

	int code = 0;
	char *body = NULL;
	assert_int_equal(kube_raw(c, "GET", "/apis/leaderworkerset.x-k8s.io/v1", NULL, NULL, 0, &code, &body, &e), 0);
	assert_int_equal(code, 404);
	assert_non_null(strstr(body, "NotFound"));
	free(body);

	/* the hook saw every exchange with its verb and code */
	assert_int_equal(hr.n, R.n);
	assert_string_equal(hr.verbs[0], "GET");
	assert_string_equal(hr.verbs[1], "CREATE");
	assert_int_equal(hr.codes[1], 201);
	assert_string_equal(hr.verbs[2], "UPDATE");
	assert_string_equal(hr.verbs[4], "PATCH");
	assert_string_equal(hr.verbs[7], "DELETE");

	json_object_put(obj);
	kube_client_free(c);
	ts_stop(s);
}

/* ------------------------------------------------------------------ */
/* pagination */

static void h_pages(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	record(q);
	char cont[64] = "", lim[16] = "";
	bool has = ts_query(q, "continue", cont, sizeof(cont));
	ts_query(q, "limit", lim, sizeof(lim));
	if (!has) {
		/* mode 1: the second page's token is expired the first time */
		int gen = bump();
		char *b = xasprintf("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"100\","
				    "\"continue\":\"t%d-2\",\"remainingItemCount\":3},\"items\":[{\"metadata\":{\"name\":\"p1\"}},"
				    "{\"metadata\":{\"name\":\"p2\"}}]}", gen);
		ts_respond_json(c, 200, b);
		free(b);
	} else if (R.mode == 1 && strcmp(cont, "t1-2") == 0) {
		ts_respond_json(c, 410, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Expired\","
					"\"message\":\"The provided continue parameter is too old\",\"code\":410}");
	} else if (strstr(cont, "-2")) {
		char *b = xasprintf("{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"100\","
				    "\"continue\":\"%.2s-3\"},\"items\":[{\"metadata\":{\"name\":\"p3\"}},"
				    "{\"metadata\":{\"name\":\"p4\"}}]}", cont);
		ts_respond_json(c, 200, b);
		free(b);
	} else {
		ts_respond_json(c, 200, "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"100\"},"
					"\"items\":[{\"metadata\":{\"name\":\"p5\"}}]}");
	}
}

static void check_items(json_object *l, int n)
{
	json_object *items, *meta, *x;
	assert_true(json_object_object_get_ex(l, "items", &items));
	assert_int_equal(json_object_array_length(items), n);
	for (int i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(items, i), *m, *nm;
		char want[16];
		snprintf(want, sizeof(want), "p%d", i + 1);
		assert_true(json_object_object_get_ex(it, "metadata", &m));
		assert_true(json_object_object_get_ex(m, "name", &nm));
		assert_string_equal(json_object_get_string(nm), want);
	}
	assert_true(json_object_object_get_ex(l, "metadata", &meta));
	assert_true(json_object_object_get_ex(meta, "resourceVersion", &x));
	assert_string_equal(json_object_get_string(x), "100");
	assert_false(json_object_object_get_ex(meta, "continue", &x));
	assert_false(json_object_object_get_ex(meta, "remainingItemCount", &x));
}

static void test_pagination(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_pages, NULL, &s), 0);
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, NULL);
	struct kube_error e = { 0 };
	json_object *l = NULL;
	struct kube_list_opts lo = { .label_selector = "app in (a,b),!x", .limit = 2 };
	assert_int_equal(kube_list(c, &KUBE_RES_PODS, "ns1", &lo, &l, &e), 0);
	check_items(l, 5);
	json_object_put(l);
	assert_int_equal(R.n, 3);
	assert_string_equal(R.path[0], "/api/v1/namespaces/ns1/pods?limit=2&labelSelector=app%20in%20%28a%2Cb%29%2C%21x");
	assert_string_equal(R.path[1], "/api/v1/namespaces/ns1/pods?limit=2&labelSelector=app%20in%20%28a%2Cb%29%2C%21x"
				       "&continue=t1-2");
	assert_non_null(strstr(R.path[2], "continue=t1-3"));

	/* an expired continue token restarts the list from the beginning, once */
	rec_reset(1);
	assert_int_equal(kube_list(c, &KUBE_RES_PODS, "ns1", &lo, &l, &e), 0);
	check_items(l, 5);   /* no duplicates from the abandoned first page */
	json_object_put(l);
	assert_int_equal(R.n, 5);
	assert_non_null(strstr(R.path[1], "continue=t1-2"));
	assert_null(strstr(R.path[2], "continue="));
	assert_non_null(strstr(R.path[3], "continue=t2-2"));
	kube_client_free(c);
	ts_stop(s);
}

/* ------------------------------------------------------------------ */
/* retries */

static void h_retry(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	record(q);
	int n = bump();
	switch (R.mode) {
	case 0: /* two 429s with Retry-After, then success */
		if (n <= 2) {
			const char *b = "{\"kind\":\"Status\",\"reason\":\"TooManyRequests\",\"code\":429,\"message\":\"slow down\"}";
			ts_respond(c, 429, "Retry-After: 2\r\n", "application/json", b, strlen(b));
		} else
			ts_respond_json(c, n == 3 && strcmp(q->method, "POST") == 0 ? 201 : 200, "{\"kind\":\"ConfigMap\"}");
		break;
	case 1: /* always 503 */
		ts_respond_json(c, 503, "{\"kind\":\"Status\",\"reason\":\"ServiceUnavailable\",\"code\":503,"
					"\"message\":\"apiserver is shutting down\"}");
		break;
	default: /* always 429 */
		ts_respond(c, 429, "Retry-After: 3\r\n", "application/json", "", 0);
		break;
	}
}

static void test_retries(void **state)
{
	(void)state;
	struct ts_server *s;
	assert_int_equal(ts_start(NULL, h_retry, NULL, &s), 0);
	struct sleeps sl = { 0 };
	struct kube_client_opts o = { .sleep_ms = rec_sleep, .sleep_ctx = &sl, .max_retries = 3 };
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, &o);
	struct kube_error e = { 0 };
	json_object *out = NULL;

	/* 429 + Retry-After on GET: waits what the server asked */
	rec_reset(0);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", &out, &e), 0);
	json_object_put(out);
	assert_int_equal(R.n, 3);
	assert_int_equal(sl.n, 2);
	assert_int_equal(sl.ms[0], 2000);
	assert_int_equal(sl.ms[1], 2000);

	/* 429 is retried for POST too (the request was not processed) */
	rec_reset(0);
	sl.n = 0;
	json_object *obj = json_tokener_parse("{\"metadata\":{\"name\":\"x\"}}");
	assert_int_equal(kube_create(c, &KUBE_RES_CONFIGMAPS, "ns1", obj, NULL, &e), 0);
	assert_int_equal(R.n, 3);
	assert_int_equal(sl.n, 2);

	/* 503: GET retried with exponential backoff, then the Status error */
	rec_reset(1);
	sl.n = 0;
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", &out, &e), -KUBE_ERR_UNAVAILABLE);
	assert_int_equal(R.n, 4);   /* 1 + max_retries */
	assert_int_equal(sl.n, 3);
	assert_in_range(sl.ms[0], 160, 240);   /* 200 ms +/- 20 % jitter */
	assert_in_range(sl.ms[1], 320, 480);
	assert_string_equal(e.message, "apiserver is shutting down");
	assert_int_equal(e.http_code, 503);
	kube_error_clear(&e);

	/* ... but a POST is not retried on 503 */
	rec_reset(1);
	sl.n = 0;
	assert_int_equal(kube_create(c, &KUBE_RES_CONFIGMAPS, "ns1", obj, NULL, &e), -KUBE_ERR_UNAVAILABLE);
	assert_int_equal(R.n, 1);
	assert_int_equal(sl.n, 0);
	kube_error_clear(&e);

	/* a PUT without resourceVersion is not idempotent; with one it is */
	rec_reset(1);
	assert_int_equal(kube_update(c, &KUBE_RES_CONFIGMAPS, "ns1", "x", obj, NULL, &e), -KUBE_ERR_UNAVAILABLE);
	assert_int_equal(R.n, 1);
	kube_error_clear(&e);
	json_object *meta;
	json_object_object_get_ex(obj, "metadata", &meta);
	json_object_object_add(meta, "resourceVersion", json_object_new_string("9"));
	rec_reset(1);
	assert_int_equal(kube_update(c, &KUBE_RES_CONFIGMAPS, "ns1", "x", obj, NULL, &e), -KUBE_ERR_UNAVAILABLE);
	assert_int_equal(R.n, 4);
	kube_error_clear(&e);

	/* retries exhausted on 429: TooManyRequests with the Retry-After */
	rec_reset(2);
	sl.n = 0;
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_TOO_MANY_REQUESTS);
	assert_int_equal(e.retry_after_s, 3);
	assert_int_equal(sl.n, 3);
	assert_int_equal(sl.ms[2], 3000);
	kube_error_clear(&e);

	json_object_put(obj);
	kube_client_free(c);
	ts_stop(s);

	/* connection refused: retried for GET, then Unavailable naming the server */
	struct ts_server *gone;
	assert_int_equal(ts_start(NULL, h_retry, NULL, &gone), 0);
	char *url = xstrdup(ts_url(gone));
	ts_stop(gone);
	sl.n = 0;
	c = client_for(url, NULL, NULL, &o);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_UNAVAILABLE);
	assert_int_equal(sl.n, 3);
	assert_int_equal(e.http_code, 0);
	assert_non_null(strstr(e.message, url));
	kube_error_clear(&e);
	free(url);
	kube_client_free(c);
}

/* ------------------------------------------------------------------ */
/* every Status kind through HTTP */

static const struct {
	const char *reason;
	int code;
	enum kube_reason want;
} kinds[] = {
	{ "NotFound", 404, KUBE_ERR_NOT_FOUND },
	{ "AlreadyExists", 409, KUBE_ERR_ALREADY_EXISTS },
	{ "Conflict", 409, KUBE_ERR_CONFLICT },
	{ "Invalid", 422, KUBE_ERR_INVALID },
	{ "Forbidden", 403, KUBE_ERR_FORBIDDEN },
	{ "Unauthorized", 401, KUBE_ERR_UNAUTHORIZED },
	{ "Gone", 410, KUBE_ERR_GONE },
	{ "TooManyRequests", 429, KUBE_ERR_TOO_MANY_REQUESTS },
	{ "Timeout", 504, KUBE_ERR_TIMEOUT },
	{ "InternalError", 500, KUBE_ERR_INTERNAL },
	{ "BadRequest", 400, KUBE_ERR_BAD_REQUEST },
};

static void h_status(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	record(q);
	const char *name = strrchr(q->path, '/') + 1;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(name, kinds[i].reason) != 0)
			continue;
		char *b = xasprintf("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
				    "\"message\":\"configmaps \\\"%s\\\" failed: %s\",\"reason\":\"%s\",\"code\":%d%s}",
				    name, kinds[i].reason, kinds[i].reason, kinds[i].code,
				    kinds[i].code == 422 ? ",\"details\":{\"causes\":[{\"reason\":\"FieldValueRequired\","
							   "\"message\":\"Required value\",\"field\":\"data.k\"}]}" : "");
		ts_respond_json(c, kinds[i].code, b);
		free(b);
		return;
	}
	ts_respond_json(c, 200, "not json at all");
}

static void test_status_errors(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_status, NULL, &s), 0);
	struct kube_client_opts o = { .max_retries = -1 };
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, &o);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct kube_error e = { 0 };
		json_object *out = (json_object *)&e;   /* must be reset to NULL */
		int rc = kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", kinds[i].reason, &out, &e);
		assert_int_equal(rc, -(int)kinds[i].want);
		assert_null(out);
		assert_int_equal(e.reason, kinds[i].want);
		assert_int_equal(e.http_code, kinds[i].code);
		char want[128];
		snprintf(want, sizeof(want), "configmaps \"%s\" failed: %s", kinds[i].reason, kinds[i].reason);
		assert_string_equal(e.message, want);
		if (kinds[i].want == KUBE_ERR_INVALID) {
			assert_int_equal(e.ncauses, 1);
			assert_string_equal(e.causes[0].field, "data.k");
			assert_string_equal(e.causes[0].type, "FieldValueRequired");
		}
		kube_error_clear(&e);
	}
	/* a 200 whose body is not JSON is a decode error */
	struct kube_error e = { 0 };
	json_object *out = NULL;
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "garbage", &out, &e), -KUBE_ERR_DECODE);
	assert_null(out);
	kube_error_clear(&e);
	kube_client_free(c);
	ts_stop(s);
}

/* ------------------------------------------------------------------ */
/* rate limiter */

static void h_ok(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	record(q);
	ts_respond_json(c, 200, "{}");
}

struct worker {
	struct kube_client *c;
	int ok;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 20; i++) {
		json_object *out = NULL;
		struct kube_error e = { 0 };
		if (kube_get(w->c, &KUBE_RES_CONFIGMAPS, "ns1", "a", &out, &e) == 0 && out)
			w->ok++;
		json_object_put(out);
		kube_error_clear(&e);
	}
	return NULL;
}

/* One client shared by threads; connections are kept alive and reused. */
static void test_shared_and_reuse(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_ok, NULL, &s), 0);
	struct kube_client_opts o = { .qps = 1000, .burst = 1000 };
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, &o);
	for (int i = 0; i < 5; i++)
		assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, NULL), 0);
	assert_int_equal(ts_connections(s), 1);
	enum { T = 4 };
	pthread_t th[T];
	struct worker ws[T];
	for (int i = 0; i < T; i++) {
		ws[i] = (struct worker){ .c = c };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &ws[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ws[i].ok, 20);
	}
	assert_int_equal(ts_requests(s), 5 + T * 20);
	/* at most one connection per concurrent caller */
	assert_in_range(ts_connections(s), 1, T + 1);
	kube_client_free(c);
	ts_stop(s);
}

static void h_big(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	record(q);
	char *b = xmalloc(5000);
	memset(b, 'x', 5000);
	memcpy(b, "{\"a\":\"", 6);
	memcpy(b + 4998, "\"}", 2);
	ts_respond(c, 200, NULL, "application/json", b, 5000);
	free(b);
}

static void test_response_cap(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_big, NULL, &s), 0);
	struct kube_client_opts o = { .max_response_bytes = 4096 };
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, &o);
	struct kube_error e = { 0 };
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_DECODE);
	assert_non_null(strstr(e.message, "response too large"));
	assert_int_equal(R.n, 1);   /* not retried */
	kube_error_clear(&e);
	kube_client_free(c);
	o.max_response_bytes = 8192;
	c = client_for(ts_url(s), NULL, NULL, &o);
	json_object *out = NULL;
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", &out, &e), 0);
	json_object_put(out);
	kube_client_free(c);
	ts_stop(s);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_ok, NULL, &s), 0);
	struct mclock_fake fk;
	mclock_fake_init(&fk, 0);
	struct sleeps sl = { .fake = &fk };
	struct kube_client_opts o = { .qps = 10, .burst = 2, .clock = &fk.base, .sleep_ms = rec_sleep, .sleep_ctx = &sl };
	struct kube_client *c = client_for(ts_url(s), NULL, NULL, &o);
	for (int i = 0; i < 5; i++)
		assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, NULL), 0);
	/* burst 2 goes through at once; then one request per 100 ms */
	assert_int_equal(sl.n, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sl.ms[i], 100);
	/* after a quiet second the bucket is full again (capped at burst) */
	mclock_fake_advance(&fk, 1000000000ull);
	sl.n = 0;
	for (int i = 0; i < 3; i++)
		assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, NULL), 0);
	assert_int_equal(sl.n, 1);
	assert_int_equal(R.n, 8);
	kube_client_free(c);
	mclock_fake_cleanup(&fk);
	ts_stop(s);
}

/* ------------------------------------------------------------------ */
/* TLS */

static char certdir[256];

static char *path_in(const char *dir, const char *f)
{
	return xasprintf("%s/%s", dir, f);
}

static void test_tls_client_cert(void **state)
{
	(void)state;
	char *ca = path_in(certdir, "ca.crt"), *crt = path_in(certdir, "server.crt"), *key = path_in(certdir, "server.key");
	struct ts_tls tls = { .cert_file = crt, .key_file = key, .client_ca_file = ca };
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(&tls, h_ok, NULL, &s), 0);
	assert_int_equal(strncmp(ts_url(s), "https://", 8), 0);

	char *ca64 = ts_b64_file(ca);
	char *cc = path_in(certdir, "client.crt"), *ck = path_in(certdir, "client.key");
	char *cc64 = ts_b64_file(cc), *ck64 = ts_b64_file(ck);
	char *cl = xasprintf("    certificate-authority-data: %s\n", ca64);
	char *us = xasprintf("    client-certificate-data: %s\n    client-key-data: %s\n", cc64, ck64);
	struct kube_error e = { 0 };
	struct kube_client_opts o = { .max_retries = -1 };

	/* CA + client certificate: the server sees CN=tester */
	struct kube_client *c = client_for(ts_url(s), cl, us, &o);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), 0);
	assert_string_equal(R.cn[0], "tester");
	assert_string_equal(R.auth[0], "");
	kube_client_free(c);

	/* the same with file paths instead of -data */
	char *kcpath = path_in(certdir, "kubeconfig");
	FILE *f = fopen(kcpath, "w");
	assert_non_null(f);
	fprintf(f, "clusters:\n- name: c\n  cluster:\n    server: %s\n    certificate-authority: ca.crt\n"
		   "users:\n- name: u\n  user:\n    client-certificate: %s\n    client-key: client.key\n"
		   "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
		ts_url(s), cc);
	fclose(f);
	struct kube_config *cfg = NULL;
	char *em = NULL;
	assert_int_equal(kube_config_load(kcpath, NULL, &cfg, &em), 0);
	assert_int_equal(kube_client_new(cfg, &o, &c, &e), 0);
	kube_config_free(cfg);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), 0);
	assert_string_equal(R.cn[1], "tester");
	kube_client_free(c);

	/* tls-server-name: verified against that name while connecting to 127.0.0.1 */
	char *cltsn = xasprintf("%s    tls-server-name: localhost\n", cl);
	c = client_for(ts_url(s), cltsn, us, &o);
	if (kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e) != 0)
		fail_msg("tls-server-name: %s", e.message);
	assert_string_equal(R.cn[2], "tester");
	kube_client_free(c);
	free(cltsn);
	cltsn = xasprintf("%s    tls-server-name: wrong.example\n", cl);
	c = client_for(ts_url(s), cltsn, us, &o);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_UNAVAILABLE);
	assert_non_null(strstr(e.message, ts_url(s)));   /* messages name the real server */
	kube_error_clear(&e);
	kube_client_free(c);
	free(cltsn);

	/* an exec plugin may hand out a client certificate instead of a token */
	char *plug = path_in(certdir, "certplugin.sh");
	f = fopen(plug, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nc=$(awk '{printf \"%%s\\\\n\", $0}' '%s')\nk=$(awk '{printf \"%%s\\\\n\", $0}' '%s')\n"
		   "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
		   "\"status\":{\"clientCertificateData\":\"%%s\",\"clientKeyData\":\"%%s\"}}' \"$c\" \"$k\"\n",
		cc, ck);
	fclose(f);
	chmod(plug, 0755);
	char *usexec = xasprintf("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: %s\n", plug);
	c = client_for(ts_url(s), cl, usexec, &o);
	if (kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e) != 0)
		fail_msg("exec client certificate: %s", e.message);
	assert_string_equal(R.cn[R.n - 1], "tester");
	assert_string_equal(R.auth[R.n - 1], "");
	kube_client_free(c);
	free(usexec);
	free(plug);

	/* a server certificate from another CA is rejected */
	char *other = path_in(certdir, "other-ca.crt");
	char *other64 = ts_b64_file(other);
	char *clbad = xasprintf("    certificate-authority-data: %s\n", other64);
	c = client_for(ts_url(s), clbad, us, &o);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_UNAVAILABLE);
	assert_int_equal(e.http_code, 0);
	kube_error_clear(&e);
	kube_client_free(c);

	/* a client certificate from another CA is rejected by the server */
	char *rcp = path_in(certdir, "rogue.crt"), *rkp = path_in(certdir, "rogue.key");
	char *rc64 = ts_b64_file(rcp), *rk64 = ts_b64_file(rkp);
	free(rcp);
	free(rkp);
	char *usbad = xasprintf("    client-certificate-data: %s\n    client-key-data: %s\n", rc64, rk64);
	c = client_for(ts_url(s), cl, usbad, &o);
	assert_int_not_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), 0);
	kube_error_clear(&e);
	kube_client_free(c);
	assert_int_equal(R.n, 4);   /* no failed handshake reached the handler */
	ts_stop(s);

	/* insecure-skip-tls-verify + bearer token against a server without client auth */
	tls.client_ca_file = NULL;
	assert_int_equal(ts_start(&tls, h_ok, NULL, &s), 0);
	c = client_for(ts_url(s), "    insecure-skip-tls-verify: true\n", NULL, &o);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), 0);
	assert_string_equal(R.auth[4], "Bearer sekret");
	assert_string_equal(R.cn[4], "");
	kube_client_free(c);
	/* without the CA and without insecure: the system roots do not know it */
	c = client_for(ts_url(s), NULL, NULL, &o);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_UNAVAILABLE);
	kube_error_clear(&e);
	kube_client_free(c);
	ts_stop(s);

	free(ca);
	free(crt);
	free(key);
	free(ca64);
	free(cc);
	free(ck);
	free(cc64);
	free(ck64);
	free(cl);
	free(us);
	free(kcpath);
	free(other);
	free(other64);
	free(clbad);
	free(rc64);
	free(rk64);
	free(usbad);
}

/* ------------------------------------------------------------------ */
/* exec credentials through the client: cached, re-run on 401 */

static void h_exec(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	int i = record(q);
	/* mode 1: the first token has been revoked */
	if (R.mode == 1 && strcmp(R.auth[i], "Bearer exec-token-1") == 0) {
		ts_respond_json(c, 401, "{\"kind\":\"Status\",\"reason\":\"Unauthorized\",\"code\":401,\"message\":\"Unauthorized\"}");
		return;
	}
	ts_respond_json(c, 200, "{}");
}

static void test_exec_credentials(void **state)
{
	(void)state;
	char *script = path_in(certdir, "cred.sh"), *count = path_in(certdir, "cred.count");
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nn=$(cat '%s' 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > '%s'\n"
		   "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		   "\"status\":{\"token\":\"exec-token-%%s\",\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}' $n\n",
		count, count);
	fclose(f);
	chmod(script, 0755);
	unlink(count);
	char *user = xasprintf("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n"
			       "      interactiveMode: Never\n", script);
	struct ts_server *s;
	rec_reset(0);
	assert_int_equal(ts_start(NULL, h_exec, NULL, &s), 0);
	struct kube_client *c = client_for(ts_url(s), NULL, user, NULL);
	struct kube_error e = { 0 };
	for (int i = 0; i < 3; i++)
		assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), 0);
	assert_int_equal(kube_config_exec_runs(kube_client_config(c)), 1);
	assert_string_equal(R.auth[2], "Bearer exec-token-1");
	/* the token is revoked: a 401 runs the plugin again and retries once */
	rec_reset(1);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), 0);
	assert_int_equal(R.n, 2);
	assert_string_equal(R.auth[1], "Bearer exec-token-2");
	assert_int_equal(kube_config_exec_runs(kube_client_config(c)), 2);
	kube_client_free(c);

	/* a failing plugin: the request fails as a configuration error naming the field */
	f = fopen(script, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\nexit 4\n");
	fclose(f);
	c = client_for(ts_url(s), NULL, user, NULL);
	rec_reset(0);
	assert_int_equal(kube_get(c, &KUBE_RES_CONFIGMAPS, "ns1", "a", NULL, &e), -KUBE_ERR_CONFIG);
	assert_non_null(strstr(e.message, "users[0].user.exec: "));
	assert_non_null(strstr(e.message, "exited with status 4"));
	assert_int_equal(R.n, 0);   /* nothing was sent without credentials */
	kube_error_clear(&e);
	kube_client_free(c);
	ts_stop(s);
	unlink(script);
	unlink(count);
	free(script);
	free(count);
	free(user);
}

static int setup_certs(void **state)
{
	(void)state;
	snprintf(certdir, sizeof(certdir), "/tmp/kube-client-test-XXXXXX");
	if (!mkdtemp(certdir))
		return -1;
	return ts_make_certs(certdir);
}

static int teardown_certs(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", certdir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	pthread_mutex_init(&R.mu, NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs_and_bearer),
		cmocka_unit_test(test_bodies_never_escape_slash),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_retries),
		cmocka_unit_test(test_status_errors),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_shared_and_reuse),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_tls_client_cert),
		cmocka_unit_test(test_exec_credentials),
	};
	return cmocka_run_group_tests(tests, setup_certs, teardown_certs);
}
