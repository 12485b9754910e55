/* kubesim HTTP layer + REST routing over a loopback socket: keep-alive,
 * chunked and 100-continue request bodies, discovery, Status bodies, auth,
 * watch streaming (chunked) and the request log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "http.h"
#include "sim.h"
#include "simjson.h"

struct fixture {
	struct sim *sim;
	struct api *api;
	struct http_server *srv;
	char logpath[64];
};

static int setup_opts(void **state, const char *token)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_int_equal(sim_new(NULL, &f->sim), 0);
	snprintf(f->logpath, sizeof(f->logpath), "/tmp/kubesim-test-api-%d.log", (int)getpid());
	unlink(f->logpath);
	struct api_opts ao = {.sim = f->sim, .token = token, .request_log = f->logpath};
	assert_int_equal(api_new(&ao, &f->api), 0);
	struct http_server_opts ho = {.port = 0, .handler = api_handle, .ctx = f->api};
	assert_int_equal(http_server_start(&ho, &f->srv), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_opts(state, NULL);
}

static int setup_token(void **state)
{
	return setup_opts(state, "s3cret");
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	sim_shutdown(f->sim);
	http_server_stop(f->srv);
	api_free(f->api);
	sim_free(f->sim);
	unlink(f->logpath);
	free(f);
	return 0;
}

static int dial(struct fixture *f)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)http_server_port(f->srv))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(send(fd, s, n, 0), (ssize_t)n);
}

/* Read one response (Content-Length framing); returns the status code, body in buf. */
static int read_response(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char *hdr_end = NULL;
	while (!hdr_end) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		assert_true(r > 0);
		n += (size_t)r;
		buf[n] = 0;
		hdr_end = strstr(buf, "\r\n\r\n");
	}
	int code = atoi(buf + 9);
	const char *cl = strstr(buf, "Content-Length: ");
	size_t want = cl ? (size_t)atol(cl + 16) : 0;
	size_t have = n - (size_t)(hdr_end + 4 - buf);
	while (have < want) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
		assert_true(r > 0);
		n += (size_t)r;
		have += (size_t)r;
	}
	buf[n] = 0;
	memmove(buf, hdr_end + 4, have + 1);
	return code;
}

static void test_keepalive_discovery_and_crud(void **state)
{
	struct fixture *f = *state;
	char buf[65536];
	int fd = dial(f);
	send_all(fd, "GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	assert_non_null(strstr(buf, "\"gitVersion\":\"v1.32.0-kubesim\""));
	/* same connection: discovery */
	send_all(fd, "GET /apis/apps/v1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	json_object *l = json_tokener_parse(buf);
	assert_string_equal(sj_str(l, "groupVersion", NULL), "apps/v1");
	json_object *res = sj_get(l, "resources");
	assert_string_equal(sj_str(json_object_array_get_idx(res, 0), "name", NULL), "deployments");
	assert_string_equal(sj_str(json_object_array_get_idx(res, 1), "name", NULL), "deployments/status");
	assert_string_equal(sj_str(json_object_array_get_idx(res, 2), "name", NULL), "deployments/scale");
	json_object_put(l);
	/* chunked request body */
	const char *obj = "{\"metadata\":{\"name\":\"c1\"},\"data\":{\"a\":\"b\"}}";
	char req[1024];
	snprintf(req, sizeof(req),
		 "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%.*s\r\n%zx\r\n%s\r\n0\r\n\r\n",
		 (size_t)10, 10, obj, strlen(obj + 10), obj + 10);
	send_all(fd, req);
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 201);
	assert_non_null(strstr(buf, "\"name\":\"c1\""));
	/* Expect: 100-continue */
	snprintf(req, sizeof(req),
		 "POST /api/v1/namespaces/default/configmaps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
		 "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
		 strlen(obj));
	send_all(fd, req);
	ssize_t r = recv(fd, buf, 25, MSG_WAITALL);
	assert_int_equal(r, 25);
	assert_memory_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
	send_all(fd, obj);
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 409);
	l = json_tokener_parse(buf);
	assert_string_equal(sj_str(l, "kind", NULL), "Status");
	assert_string_equal(sj_str(l, "reason", NULL), "AlreadyExists");
	assert_string_equal(sj_str(l, "details", "name", NULL), "c1");
	assert_string_equal(sj_str(l, "details", "kind", NULL), "configmaps");
	json_object_put(l);
	/* unknown paths and methods */
	send_all(fd, "GET /apis/nope.io/v1/things HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 404);
	send_all(fd, "POST /api/v1/namespaces/default/configmaps/c1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 405);
	/* unsupported patch type */
	send_all(fd, "PATCH /api/v1/namespaces/default/configmaps/c1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
		     "Content-Length: 2\r\n\r\n{}");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 415);
	close(fd);

	/* request log: one line per request, METHOD PATH?QUERY CODE */
	FILE *lf = fopen(f->logpath, "r");
	assert_non_null(lf);
	char line[512];
	const char *want[] = {"GET /version 200\n", "GET /apis/apps/v1 200\n",
			      "POST /api/v1/namespaces/default/configmaps 201\n",
			      "POST /api/v1/namespaces/default/configmaps 409\n",
			      "GET /apis/nope.io/v1/things 404\n",
			      "POST /api/v1/namespaces/default/configmaps/c1 405\n",
			      "PATCH /api/v1/namespaces/default/configmaps/c1 415\n"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_non_null(fgets(line, sizeof(line), lf));
		assert_string_equal(line, want[i]);
	}
	fclose(lf);
}

static void test_watch_stream(void **state)
{
	struct fixture *f = *state;
	char buf[65536] = "";
	int fd = dial(f);
	uint64_t rv = sim_current_rv(f->sim);
	char req[256];
	snprintf(req, sizeof(req),
		 "GET /api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%llu&timeoutSeconds=2 HTTP/1.1\r\n"
		 "Host: x\r\n\r\n",
		 (unsigned long long)rv);
	send_all(fd, req);
	json_object *cm = json_tokener_parse("{\"metadata\":{\"name\":\"w1\"}}");
	assert_int_equal(sim_create(f->sim, "", "v1", "configmaps", "default", cm, NULL, NULL), 0);
	json_object_put(cm);
	/* read until the terminating chunk (timeoutSeconds=2 ends the stream) */
	size_t n = 0;
	while (!strstr(buf, "\r\n0\r\n\r\n")) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		assert_true(r > 0);
		n += (size_t)r;
		buf[n] = 0;
	}
	assert_non_null(strstr(buf, "Transfer-Encoding: chunked"));
	assert_non_null(strstr(buf, "{\"type\":\"ADDED\",\"object\":{"));
	assert_non_null(strstr(buf, "\"name\":\"w1\""));
	close(fd);
	/* a compacted resourceVersion: 200 + ERROR event with 410 */
	sim_compact(f->sim);
	fd = dial(f);
	/* watch=True (the Python client's spelling) is a watch, as on the apiserver */
	send_all(fd, "GET /api/v1/namespaces/default/configmaps?watch=True&resourceVersion=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	n = 0;
	buf[0] = 0;
	while (!strstr(buf, "\r\n0\r\n\r\n")) {
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		assert_true(r > 0);
		n += (size_t)r;
		buf[n] = 0;
	}
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "\"type\":\"ERROR\""));
	assert_non_null(strstr(buf, "\"code\":410"));
	assert_non_null(strstr(buf, "\"reason\":\"Expired\""));
	close(fd);
	/* watch=False and watch=0 are plain lists */
	fd = dial(f);
	send_all(fd, "GET /api/v1/namespaces/default/configmaps?watch=False HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	assert_non_null(strstr(buf, "\"kind\":\"ConfigMapList\""));
	send_all(fd, "GET /api/v1/namespaces/default/configmaps?watch=0 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	assert_non_null(strstr(buf, "\"kind\":\"ConfigMapList\""));
	close(fd);
}

static void test_aggregated_discovery(void **state)
{
	struct fixture *f = *state;
	char buf[262144];
	int fd = dial(f);
	send_all(fd, "GET /apis HTTP/1.1\r\nHost: x\r\nAccept: application/json;g=apidiscovery.k8s.io;v=v2;"
		     "as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
		     "application/json\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	json_object *l = json_tokener_parse(buf);
	assert_non_null(l);
	assert_string_equal(sj_str(l, "kind", NULL), "APIGroupDiscoveryList");
	assert_string_equal(sj_str(l, "apiVersion", NULL), "apidiscovery.k8s.io/v2");
	json_object *items = sj_get(l, "items"), *apps = NULL;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *it = json_object_array_get_idx(items, i);
		assert_non_null(sj_str(it, "metadata", "name", NULL)); /* no core group under /apis */
		if (strcmp(sj_str(it, "metadata", "name", NULL), "apps") == 0)
			apps = it;
	}
	assert_non_null(apps);
	json_object *v1 = json_object_array_get_idx(sj_get(apps, "versions"), 0);
	assert_string_equal(sj_str(v1, "version", NULL), "v1");
	json_object *dep = json_object_array_get_idx(sj_get(v1, "resources"), 0);
	assert_string_equal(sj_str(dep, "resource", NULL), "deployments");
	assert_string_equal(sj_str(dep, "scope", NULL), "Namespaced");
	assert_string_equal(sj_str(dep, "responseKind", "kind", NULL), "Deployment");
	json_object *subs = sj_get(dep, "subresources");
	assert_int_equal(json_object_array_length(subs), 2);
	assert_string_equal(sj_str(json_object_array_get_idx(subs, 1), "responseKind", "kind", NULL), "Scale");
	json_object_put(l);
	/* /api: the core group (no name) */
	send_all(fd, "GET /api HTTP/1.1\r\nHost: x\r\nAccept: application/json;g=apidiscovery.k8s.io;v=v2;"
		     "as=APIGroupDiscoveryList\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	l = json_tokener_parse(buf);
	items = sj_get(l, "items");
	assert_int_equal(json_object_array_length(items), 1);
	assert_null(sj_str(json_object_array_get_idx(items, 0), "metadata", "name", NULL));
	json_object_put(l);
	/* plain JSON clients get the legacy APIGroupList */
	send_all(fd, "GET /apis HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	l = json_tokener_parse(buf);
	assert_string_equal(sj_str(l, "kind", NULL), "APIGroupList");
	json_object_put(l);
	close(fd);
}

static void test_auth(void **state)
{
	struct fixture *f = *state;
	char buf[65536];
	int fd = dial(f);
	send_all(fd, "GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 403);
	assert_non_null(strstr(buf, "system:anonymous"));
	send_all(fd, "GET /version HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	send_all(fd, "GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 401);
	send_all(fd, "GET /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n");
	assert_int_equal(read_response(fd, buf, sizeof(buf)), 200);
	assert_non_null(strstr(buf, "\"kind\":\"NamespaceList\""));
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keepalive_discovery_and_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aggregated_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup_token, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
