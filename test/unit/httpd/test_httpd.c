/* pkg/httpd over loopback with libcurl: routes, 404/405/413/500, bodies,
 * query, metrics, keep-alive, TLS with a certificate generated here, and
 * certificate reload when the files change. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "httpd/httpd.h"
#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/mem.h"

/* ---- a curl client ---- */

struct reply {
	long status;
	struct buf body;
	char ctype[128];
	char allow[128];
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;

	return buf_append(&r->body, p, sz * n) == 0 ? sz * n : 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = sz * n;

	if (len > 6 && strncasecmp(p, "allow:", 6) == 0) {
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(len - 6), p + 6);
		r->allow[strcspn(r->allow, "\r\n")] = 0;
	}
	return len;
}

/* Returns the curl code; fills r. ca = PEM of the CA to trust (https only). */
static CURLcode request(CURL *c, const char *method, const char *url, const char *body, size_t body_len,
			const char *ca, struct reply *r)
{
	struct curl_blob blob;
	char *ct = NULL;
	CURLcode rc;

	buf_init(&r->body, 64u << 20);
	r->status = 0;
	r->ctype[0] = r->allow[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	if (ca) {
		blob.data = (void *)ca;
		blob.len = strlen(ca);
		blob.flags = CURL_BLOB_COPY;
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	}
	return rc;
}

static void reply_cleanup(struct reply *r)
{
	buf_cleanup(&r->body);
}

/* ---- handlers ---- */

static int h_ok(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	httpd_respond(resp, 200, NULL, "ok");
	return 0;
}

static int h_echo(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	resp->status = 201;
	resp->content_type = "application/octet-stream";
	resp->body = xmalloc(req->body_len + 1);
	memcpy(resp->body, req->body, req->body_len);
	resp->body[req->body_len] = 0;
	resp->body_len = req->body_len;
	if (req->body_len == 0) {
		free(resp->body);
		resp->body = xasprintf("empty ctype=%s", req->content_type);
		resp->body_len = 0;
	}
	return 0;
}

static int h_query(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	char *t = xasprintf("%s %s ?%s", req->method, req->path, req->query);

	httpd_respond(resp, 200, "text/plain", t);
	free(t);
	return 0;
}

static int h_fail(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	resp->body = xstrdup("partial");   /* freed by the server */
	return -1;
}

static int h_big(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	size_t n = 300000;

	resp->body = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		resp->body[i] = (char)('a' + i % 26);
	resp->body[n] = 0;
	resp->body_len = n;
	return 0;
}

/* ---- plain HTTP ---- */

static void test_plain(void **state)
{
	struct metrics_registry *reg = metrics_registry_new();
	struct httpd_opts o = { .listen = "127.0.0.1:0", .name = "test", .max_body = 200000 };
	struct httpd *h = NULL;
	struct reply r;
	char url[256];
	CURL *c = curl_easy_init();
	char *big;
	int port;

	metrics_counter_inc(metrics_counter_get_in(reg, "test_requests_total", "Requests.", 0, NULL, NULL));
	assert_int_equal(httpd_new(&o, &h), 0);
	port = httpd_port(h);
	assert_true(port > 0 && port < 65536);
	assert_int_equal(httpd_route(h, "GET", "/healthz", h_ok, NULL), 0);
	assert_int_equal(httpd_route(h, "GET", "/healthz", h_ok, NULL), -EEXIST);
	assert_int_equal(httpd_route(h, "POST", "/echo", h_echo, NULL), 0);
	assert_int_equal(httpd_route(h, "PUT", "/echo", h_echo, NULL), 0);
	assert_int_equal(httpd_route(h, "GET", "/q", h_query, NULL), 0);
	assert_int_equal(httpd_route(h, "GET", "/fail", h_fail, NULL), 0);
	assert_int_equal(httpd_route(h, "GET", "/big", h_big, NULL), 0);
	assert_int_equal(httpd_route(h, "GET", "/pre/*", h_ok, NULL), 0);
	assert_int_equal(httpd_route(h, "GET", "no-slash", h_ok, NULL), -EINVAL);
	assert_int_equal(httpd_route_metrics(h, "/metrics", reg), 0);
	assert_int_equal(httpd_start(h), 0);
	assert_int_equal(httpd_route(h, "GET", "/late", h_ok, NULL), -EBUSY);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(buf_str(&r.body), "ok");
	assert_non_null(strstr(r.ctype, "text/plain"));
	reply_cleanup(&r);

	/* same handle again: keep-alive connection reuse */
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	reply_cleanup(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope", port);
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 404);
	reply_cleanup(&r);

	/* a prefix route (slash, star): exactly one more segment */
	static const struct { const char *path; long status; } pre[] = {
		{"/pre/gpu-west", 200}, {"/pre", 404}, {"/pre/", 404}, {"/pre/a/b", 404}, {"/prefix", 404},
	};
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, pre[i].path);
		assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
		if (r.status != pre[i].status)
			fail_msg("%s: %ld, want %ld", pre[i].path, r.status, pre[i].status);
		reply_cleanup(&r);
	}

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
	assert_int_equal(request(c, "POST", url, "x", 1, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, " GET");
	reply_cleanup(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", port);
	big = xmalloc(150001);
	for (size_t i = 0; i < 150000; i++)
		big[i] = (char)('0' + i % 10);
	big[150000] = 0;
	assert_int_equal(request(c, "POST", url, big, 150000, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body.len, 150000);
	assert_memory_equal(r.body.data, big, 150000);
	assert_string_equal(r.ctype, "application/octet-stream");
	reply_cleanup(&r);
	assert_int_equal(request(c, "PUT", url, "hello", 5, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(buf_str(&r.body), "hello");
	reply_cleanup(&r);
	/* empty POST body */
	assert_int_equal(request(c, "POST", url, "", 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 201);
	assert_string_equal(buf_str(&r.body), "empty ctype=application/x-www-form-urlencoded");
	reply_cleanup(&r);
	/* over the cap: 413 */
	big = xrealloc(big, 250001);
	memset(big, 'z', 250000);
	big[250000] = 0;
	assert_int_equal(request(c, "POST", url, big, 250000, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 413);
	reply_cleanup(&r);
	free(big);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/q?a=1&b=two", port);
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(buf_str(&r.body), "GET /q ?a=1&b=two");
	reply_cleanup(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/fail", port);
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 500);
	reply_cleanup(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", port);
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, 300000);
	assert_int_equal(r.body.data[299999], 'a' + 299999 % 26);
	reply_cleanup(&r);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/metrics", port);
	assert_int_equal(request(c, "GET", url, NULL, 0, NULL, &r), CURLE_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.ctype, METRICS_CONTENT_TYPE);
	assert_non_null(strstr(buf_str(&r.body), "# TYPE test_requests_total counter\ntest_requests_total 1\n"));
	reply_cleanup(&r);

	curl_easy_cleanup(c);
	httpd_stop(h);
	httpd_stop(h);   /* idempotent */
	httpd_free(h);
	metrics_registry_free(reg);
}

static void test_listen_syntax(void **state)
{
	struct httpd *h = NULL, *h2 = NULL;
	struct httpd_opts o = { 0 };
	const char *bad[] = { "", "8080", "127.0.0.1:", "127.0.0.1:99999", "[::1]9443", "a:b", "[::1" };
	char addr[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.listen = bad[i];
		assert_int_equal(httpd_new(&o, &h), -EINVAL);
		assert_null(h);
	}
	o.listen = NULL;
	assert_int_equal(httpd_new(&o, &h), -EINVAL);
	/* cert without key */
	o.listen = "127.0.0.1:0";
	o.tls_cert_file = "/nonexistent";
	assert_int_equal(httpd_new(&o, &h), -EINVAL);
	o.tls_key_file = "/nonexistent";
	assert_int_equal(httpd_new(&o, &h), -EIO);
	o.tls_cert_file = o.tls_key_file = NULL;

	/* all interfaces; never started: free works */
	o.listen = ":0";
	assert_int_equal(httpd_new(&o, &h), 0);
	assert_true(httpd_port(h) > 0);
	/* the same port again fails */
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", httpd_port(h));
	o.listen = addr;
	assert_int_equal(httpd_new(&o, &h2), -EADDRINUSE);
	assert_null(h2);
	httpd_free(h);
	httpd_free(NULL);

	o.listen = "localhost:0";
	assert_int_equal(httpd_new(&o, &h), 0);
	httpd_free(h);
}

/* ---- TLS ---- */

/* A self-signed certificate for 127.0.0.1 / localhost with CN=cn; PEM strings. */
static void make_cert(const char *cn, char **cert_pem, char **key_pem)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *b;
	BUF_MEM *m;

	assert_non_null(pk);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(time(NULL) & 0x7fffffff));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);

	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	BIO_get_mem_ptr(b, &m);
	*cert_pem = xstrndup(m->data, m->length);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
	BIO_get_mem_ptr(b, &m);
	*key_pem = xstrndup(m->data, m->length);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* Atomic replace, as a kubelet secret volume update would be. */
static void write_file(const char *dir, const char *name, const char *text)
{
	char tmp[512], path[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void wait_reloads(struct httpd *h, uint64_t want)
{
	for (int i = 0; i < 500 && httpd_cert_reloads(h) < want; i++)
		usleep(10000);
	if (httpd_cert_reloads(h) < want)
		fail_msg("certificate not reloaded within 5 s (reloads=%llu want=%llu)",
			 (unsigned long long)httpd_cert_reloads(h), (unsigned long long)want);
}

static CURLcode tls_get(int port, const char *ca, long *status)
{
	CURL *c = curl_easy_init();   /* a fresh connection every time */
	struct reply r;
	char url[128];
	CURLcode rc;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/healthz", port);
	rc = request(c, "GET", url, NULL, 0, ca, &r);
	*status = r.status;
	if (rc == CURLE_OK && strcmp(buf_str(&r.body), "ok") != 0)
		rc = CURLE_WEIRD_SERVER_REPLY;
	reply_cleanup(&r);
	curl_easy_cleanup(c);
	return rc;
}

static void test_tls_and_reload(void **state)
{
	char dir[] = "/tmp/httpd-test-XXXXXX";
	char cert_path[512], key_path[512];
	char *ca_a, *key_a, *ca_b, *key_b;
	struct httpd_opts o = { .listen = "127.0.0.1:0", .name = "webhook", .reload_interval_ms = 20 };
	struct httpd *h = NULL;
	long status = 0;
	uint64_t before;
	int port;

	assert_non_null(mkdtemp(dir));
	make_cert("server-a", &ca_a, &key_a);
	make_cert("server-b", &ca_b, &key_b);
	write_file(dir, "tls.crt", ca_a);
	write_file(dir, "tls.key", key_a);
	snprintf(cert_path, sizeof(cert_path), "%s/tls.crt", dir);
	snprintf(key_path, sizeof(key_path), "%s/tls.key", dir);
	o.tls_cert_file = cert_path;
	o.tls_key_file = key_path;
	assert_int_equal(httpd_new(&o, &h), 0);
	assert_int_equal(httpd_route(h, "GET", "/healthz", h_ok, NULL), 0);
	assert_int_equal(httpd_start(h), 0);
	port = httpd_port(h);

	assert_int_equal(tls_get(port, ca_a, &status), CURLE_OK);
	assert_int_equal(status, 200);
	/* a client trusting only B refuses A */
	assert_int_not_equal(tls_get(port, ca_b, &status), CURLE_OK);
	assert_int_equal(httpd_cert_reloads(h), 0);

	/* rotate to B: new connections get B */
	write_file(dir, "tls.key", key_b);
	write_file(dir, "tls.crt", ca_b);
	wait_reloads(h, 1);
	assert_int_equal(tls_get(port, ca_b, &status), CURLE_OK);
	assert_int_equal(status, 200);
	assert_int_not_equal(tls_get(port, ca_a, &status), CURLE_OK);

	/* a broken certificate is ignored; B keeps serving */
	before = httpd_cert_reloads(h);
	write_file(dir, "tls.crt", "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n");
	usleep(200000);
	assert_int_equal(httpd_cert_reloads(h), before);
	assert_int_equal(tls_get(port, ca_b, &status), CURLE_OK);
	/* a mismatched pair (cert A, key B) is ignored too */
	write_file(dir, "tls.crt", ca_a);
	usleep(200000);
	assert_int_equal(httpd_cert_reloads(h), before);
	assert_int_equal(tls_get(port, ca_b, &status), CURLE_OK);
	/* completing the rotation to A is picked up */
	write_file(dir, "tls.key", key_a);
	wait_reloads(h, before + 1);
	assert_int_equal(tls_get(port, ca_a, &status), CURLE_OK);

	httpd_free(h);
	unlink(cert_path);
	unlink(key_path);
	rmdir(dir);
	free(ca_a);
	free(key_a);
	free(ca_b);
	free(key_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_listen_syntax),
		cmocka_unit_test(test_tls_and_reload),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
