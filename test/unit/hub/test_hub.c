/* pkg/hub: error mapping, include/exclude globs, and the client against a
 * loopback server (retries, Retry-After, redirects that must not carry the
 * token to another host, Range reads from servers that ignore Range, resumed
 * downloads after a cut, JSON caps). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "hub/filter.h"
#include "hub/hub.h"
#include "testserver/testserver.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

/* ------------------------------------------------------------------ errors */

static void test_error_mapping(void **state)
{
	(void)state;
	assert_int_equal(hub_error_kind_for_status(200), HUB_OK);
	assert_int_equal(hub_error_kind_for_status(302), HUB_OK);
	assert_int_equal(hub_error_kind_for_status(401), HUB_ERR_AUTH);
	assert_int_equal(hub_error_kind_for_status(403), HUB_ERR_AUTH);
	assert_int_equal(hub_error_kind_for_status(404), HUB_ERR_NOT_FOUND);
	assert_int_equal(hub_error_kind_for_status(429), HUB_ERR_OTHER);
	assert_int_equal(hub_error_kind_for_status(500), HUB_ERR_OTHER);
	struct hub_error e;
	hub_error_set(&e, HUB_ERR_AUTH, 401, "x %d\ny", 1);
	assert_int_equal(hub_error_exit_code(&e), 3);
	assert_string_equal(e.msg, "x 1 y");   /* one line */
	e.kind = HUB_ERR_NOT_FOUND;
	assert_int_equal(hub_error_exit_code(&e), 4);
	e.kind = HUB_ERR_INTEGRITY;
	assert_int_equal(hub_error_exit_code(&e), 5);
	e.kind = HUB_ERR_OTHER;
	assert_int_equal(hub_error_exit_code(&e), 1);
	e.kind = HUB_OK;
	assert_int_equal(hub_error_exit_code(&e), 0);
	assert_int_equal(hub_error_exit_code(NULL), 1);
}

/* ------------------------------------------------------------------ globs */

static void test_glob(void **state)
{
	(void)state;
	/* '*' crosses '/', like huggingface_hub's fnmatch */
	assert_true(hub_glob_match("*.safetensors", "model.safetensors"));
	assert_true(hub_glob_match("*.safetensors", "unet/diffusion_pytorch_model.safetensors"));
	assert_false(hub_glob_match("*.safetensors", "model.safetensors.index.json"));
	assert_true(hub_glob_match("*.json", "config.json"));
	assert_false(hub_glob_match("*.json", "config.jso"));
	/* '?' is exactly one character */
	assert_true(hub_glob_match("model-0000?-of-00004.safetensors", "model-00003-of-00004.safetensors"));
	assert_false(hub_glob_match("model-0000?-of-00004.safetensors", "model-000003-of-00004.safetensors"));
	/* '**' */
	assert_true(hub_glob_match("**/config.json", "text_encoder/config.json"));
	assert_true(hub_glob_match("**/config.json", "config.json"));
	assert_true(hub_glob_match("unet/**", "unet/a/b.bin"));
	assert_false(hub_glob_match("unet/**", "vae/a.bin"));
	/* folders */
	assert_true(hub_glob_match("original/*", "original/params.json"));
	assert_true(hub_glob_match("original/*", "original/sub/consolidated.00.pth"));
	assert_false(hub_glob_match("original/*", "originals/x"));
	assert_false(hub_glob_match("original/*", "x/original/params.json"));
	assert_true(hub_glob_match("original/", "original/params.json"));
	assert_false(hub_glob_match("original/", "original"));
	assert_false(hub_glob_match("original/", "originalx/y"));
	/* classes and escapes */
	assert_true(hub_glob_match("*Q4_K_[MS]*.gguf", "model-Q4_K_M.gguf"));
	assert_false(hub_glob_match("*Q4_K_[MS]*.gguf", "model-Q4_K_L.gguf"));
	assert_true(hub_glob_match("*-0000[1-2]-of-*", "m-00002-of-00003.gguf"));
	assert_false(hub_glob_match("*-0000[!1-2]-of-*", "m-00002-of-00003.gguf"));
	assert_true(hub_glob_match("a\\*b", "a*b"));
	assert_false(hub_glob_match("a\\*b", "axb"));
	assert_true(hub_glob_match("[", "["));   /* unclosed class = literal */
	/* exact and empty */
	assert_true(hub_glob_match("config.json", "config.json"));
	assert_false(hub_glob_match("config.json", "x/config.json"));
	assert_false(hub_glob_match("", "a"));
	assert_true(hub_glob_match("*", "any/thing"));
	/* many stars do not blow up */
	assert_false(hub_glob_match("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_filter(void **state)
{
	(void)state;
	const char *inc[] = {"*.safetensors", "*.json"};
	const char *exc[] = {"original/*", "*.fp16.safetensors"};
	assert_true(hub_filter_selects(NULL, 0, NULL, 0, "anything"));
	assert_true(hub_filter_selects(inc, 2, exc, 2, "config.json"));
	assert_true(hub_filter_selects(inc, 2, exc, 2, "unet/diffusion_pytorch_model.safetensors"));
	assert_false(hub_filter_selects(inc, 2, exc, 2, "unet/diffusion_pytorch_model.fp16.safetensors"));
	assert_false(hub_filter_selects(inc, 2, exc, 2, "original/params.json"));
	assert_false(hub_filter_selects(inc, 2, exc, 2, "pytorch_model.bin"));
	assert_false(hub_filter_selects(NULL, 0, exc, 2, "original/x"));
	assert_true(hub_filter_selects(NULL, 0, exc, 2, "README.md"));
}

static void test_escape(void **state)
{
	(void)state;
	char *s = hub_escape_path("unet/a b+c%.safetensors");
	assert_string_equal(s, "unet/a%20b%2Bc%25.safetensors");
	free(s);
}

/* ------------------------------------------------------------------ client */

struct srv {
	pthread_mutex_t mu;
	int mode;
	int hits;
	char auth[16][256];
	char path[16][512];
	struct ts_server *other;   /* redirect target (another origin) */
	struct ts_server *self;
};

enum {
	M_INFO,        /* 200 model info */
	M_429_ONCE,    /* 429 Retry-After: 0 then 200 */
	M_503,         /* always 503 */
	M_401,
	M_404,
	M_REDIRECT_OTHER,   /* 302 to another origin */
	M_REDIRECT_SAME,    /* 302 to /lfs/x on the same origin */
	M_BODY,        /* 200 "0123456789" x10, ignores Range */
	M_CUT_ONCE,    /* first answer cut after 40 bytes, then M_BODY */
	M_BIG_JSON,
	M_HEAD_LFS,    /* HEAD: 302 with X-Linked-* headers */
	M_HEAD_SMALL,  /* HEAD: 200 with ETag */
	M_TREE_PAGES,  /* tree in two pages linked with Link: rel="next" */
};

static const char BODY100[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";

static void handler(void *ctx, const struct ts_request *req, struct ts_conn *c)
{
	struct srv *s = ctx;
	pthread_mutex_lock(&s->mu);
	int n = s->hits++;
	if (n < 16) {
		snprintf(s->auth[n], sizeof(s->auth[n]), "%.255s", req->authorization);
		snprintf(s->path[n], sizeof(s->path[n]), "%.511s", req->path);
	}
	int mode = s->mode;
	pthread_mutex_unlock(&s->mu);
	bool lfs = strncmp(req->path, "/lfs/", 5) == 0;
	switch (mode) {
	case M_INFO:
		ts_respond_json(c, 200, "{\"id\":\"org/m\",\"sha\":\"abc\",\"siblings\":[]}");
		return;
	case M_429_ONCE:
		if (n == 0)
			ts_respond(c, 429, "Retry-After: 0\r\n", "application/json", "{}", 2);
		else
			ts_respond_json(c, 200, "{\"sha\":\"ok\"}");
		return;
	case M_503:
		ts_respond(c, 503, NULL, "application/json", "{\"error\":\"busy\"}", 16);
		return;
	case M_401:
		ts_respond(c, 401, "X-Error-Code: GatedRepo\r\n", "application/json",
			   "{\"error\":\"gated\"}", 17);
		return;
	case M_404:
		ts_respond(c, 404, "X-Error-Message: Repository not found\r\n", "application/json", "{}", 2);
		return;
	case M_REDIRECT_OTHER:
		if (lfs) {
			ts_respond(c, 200, NULL, "application/octet-stream", BODY100, 100);
		} else {
			char h[256];
			snprintf(h, sizeof(h), "Location: http://localhost:%d/lfs/abc\r\n", ts_port(s->other));
			ts_respond(c, 302, h, "text/plain", "", 0);
		}
		return;
	case M_REDIRECT_SAME:
		if (lfs)
			ts_respond(c, 200, NULL, "application/octet-stream", BODY100, 100);
		else
			ts_respond(c, 302, "Location: /lfs/abc\r\n", "text/plain", "", 0);
		return;
	case M_BODY:
		ts_respond(c, 200, NULL, "application/octet-stream", BODY100, 100);
		return;
	case M_CUT_ONCE:
		if (n == 0) {
			ts_begin_chunked(c, 200, NULL, "application/octet-stream");
			ts_chunk(c, BODY100, 40);
			ts_close_after(c);
			return;   /* no terminating chunk: the transfer is cut */
		}
		ts_respond(c, 200, NULL, "application/octet-stream", BODY100, 100);
		return;
	case M_HEAD_LFS:
		ts_respond(c, 302,
			   "Location: /lfs/abc\r\nX-Linked-Size: 1503300328\r\n"
			   "X-Linked-Etag: \"f47f71177f32bcd101b7573ec9171e6a57f4f4d31148d38e382306f42996874b\"\r\n"
			   "X-Repo-Commit: c1899de289a04d12100db370d81485cdf75e47ca\r\nETag: \"a0458bbf\"\r\n",
			   "text/plain", "", 0);
		return;
	case M_HEAD_SMALL:
		ts_respond(c, 200, "ETag: \"f5c3703b78ae2a478ae15b247e9f855e0ce2107b\"\r\nX-Repo-Commit: c1899de\r\n",
			   "application/json", "", 0);
		return;
	case M_TREE_PAGES:
		if (strstr(req->path, "cursor=2")) {
			ts_respond_json(c, 200, "[{\"type\":\"file\",\"path\":\"b.json\",\"size\":2,\"oid\":\"bb\"}]");
		} else {
			char h[256];
			snprintf(h, sizeof(h), "Link: <%s/api/models/org/m/tree/main?recursive=true&cursor=2>; rel=\"next\"\r\n",
				 ts_url(s->self));
			ts_respond(c, 200, h, "application/json",
				   "[{\"type\":\"file\",\"path\":\"a.json\",\"size\":1,\"oid\":\"aa\"}]", 53);
		}
		return;
	case M_BIG_JSON: {
		char *big = xmalloc(5001);
		big[0] = '"';
		memset(big + 1, 'x', 4998);
		big[4999] = '"';
		big[5000] = '\0';
		ts_respond_json(c, 200, big);
		free(big);
		return;
	}
	}
}

struct fixture {
	struct srv s;
	struct ts_server *ts;
	struct hub_client *hub;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	pthread_mutex_init(&f->s.mu, NULL);
	if (ts_start(NULL, handler, &f->s, &f->ts) < 0)
		return -1;
	f->s.self = f->ts;
	struct hub_opts o;
	hub_opts_default(&o);
	o.retry_base_ms = 1;
	o.retry_max_ms = 5;
	o.max_retries = 3;
	o.max_json_bytes = 4096;
	if (hub_client_new(ts_url(f->ts), "hf_secret", &o, &f->hub) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	hub_client_free(f->hub);
	ts_stop(f->ts);
	if (f->s.other)
		ts_stop(f->s.other);
	pthread_mutex_destroy(&f->s.mu);
	free(f);
	return 0;
}

static void test_model_info(void **state)
{
	struct fixture *f = *state;
	json_object *j = NULL;
	struct hub_error err;
	f->s.mode = M_INFO;
	assert_int_equal(hub_model_info(f->hub, "org/m", "main", true, &j, &err), 0);
	json_object *sha;
	assert_true(json_object_object_get_ex(j, "sha", &sha));
	assert_string_equal(json_object_get_string(sha), "abc");
	json_object_put(j);
	assert_string_equal(f->s.path[0], "/api/models/org/m/revision/main?blobs=true");
	assert_string_equal(f->s.auth[0], "Bearer hf_secret");
	/* a revision with '/' is one escaped segment; no revision = default branch */
	assert_int_equal(hub_model_info(f->hub, "org/m", "refs/pr/1", false, &j, &err), 0);
	json_object_put(j);
	assert_string_equal(f->s.path[1], "/api/models/org/m/revision/refs%2Fpr%2F1");
	assert_int_equal(hub_model_info(f->hub, "org/m", NULL, false, &j, &err), 0);
	json_object_put(j);
	assert_string_equal(f->s.path[2], "/api/models/org/m");
}

static void test_retry_after_429(void **state)
{
	struct fixture *f = *state;
	json_object *j = NULL;
	struct hub_error err;
	f->s.mode = M_429_ONCE;
	log_init(LOG_LEVEL_ERROR, false);
	assert_int_equal(hub_model_info(f->hub, "org/m", "main", true, &j, &err), 0);
	json_object_put(j);
	assert_int_equal(f->s.hits, 2);
}

static void test_5xx_gives_up(void **state)
{
	struct fixture *f = *state;
	json_object *j = NULL;
	struct hub_error err;
	f->s.mode = M_503;
	log_init(LOG_LEVEL_ERROR, false);
	assert_true(hub_model_info(f->hub, "org/m", "main", true, &j, &err) < 0);
	assert_null(j);
	assert_int_equal(err.kind, HUB_ERR_OTHER);
	assert_int_equal(err.http_status, 503);
	assert_int_equal(f->s.hits, 4);   /* 1 + 3 retries */
	assert_non_null(strstr(err.msg, "busy"));
	assert_null(strstr(err.msg, "hf_secret"));
}

/* The budgets are per client (one estimate), not per request: the second
 * request after the retry budget is spent gets one attempt; past the time
 * budget nothing is attempted. */
static void test_budgets_shared_by_requests(void **state)
{
	struct fixture *f = *state;
	json_object *j = NULL;
	struct hub_error err;
	struct hub_client *hub;
	struct hub_opts o;
	hub_opts_default(&o);
	o.retry_base_ms = 1;
	o.retry_max_ms = 5;
	o.max_retries = 3;
	o.retry_budget = 2;
	assert_int_equal(hub_client_new(ts_url(f->ts), NULL, &o, &hub), 0);
	f->s.mode = M_503;
	log_init(LOG_LEVEL_ERROR, false);
	assert_true(hub_model_info(hub, "org/m", "main", true, &j, &err) < 0);
	assert_int_equal(f->s.hits, 3);   /* 1 + the 2 retries of the budget */
	assert_non_null(strstr(err.msg, "retry budget of this task is spent"));
	assert_true(hub_model_info(hub, "org/m", "main", true, &j, &err) < 0);
	assert_int_equal(f->s.hits, 4);   /* one attempt, no retry */
	hub_client_free(hub);

	o.retry_budget = 0;
	o.time_budget_ms = 1;
	assert_int_equal(hub_client_new(ts_url(f->ts), NULL, &o, &hub), 0);
	struct timespec ts = {0, 20 * 1000 * 1000};
	nanosleep(&ts, NULL);
	assert_true(hub_model_info(hub, "org/m", "main", true, &j, &err) < 0);
	assert_int_equal(f->s.hits, 4);   /* not attempted */
	assert_int_equal(err.kind, HUB_ERR_OTHER);
	assert_non_null(strstr(err.msg, "time budget of this task is spent"));
	assert_null(j);
	hub_client_free(hub);
}

static void test_auth_and_not_found(void **state)
{
	struct fixture *f = *state;
	json_object *j = NULL;
	struct hub_error err;
	f->s.mode = M_401;
	assert_true(hub_model_info(f->hub, "org/m", "main", true, &j, &err) < 0);
	assert_int_equal(err.kind, HUB_ERR_AUTH);
	assert_int_equal(hub_error_exit_code(&err), 3);
	assert_int_equal(f->s.hits, 1);   /* never retried */
	f->s.mode = M_404;
	assert_true(hub_tree(f->hub, "org/m", "main", true, &j, &err) < 0);
	assert_int_equal(err.kind, HUB_ERR_NOT_FOUND);
	assert_int_equal(hub_error_exit_code(&err), 4);
	assert_non_null(strstr(err.msg, "Repository not found"));
	assert_int_equal(f->s.hits, 2);
}

static int body_sink(void *ud, const void *p, size_t n)
{
	return buf_append(ud, p, n) < 0 ? 1 : 0;
}

static void test_redirect_other_host_drops_token(void **state)
{
	struct fixture *f = *state;
	struct hub_error err;
	struct buf b;
	assert_int_equal(ts_start(NULL, handler, &f->s, &f->s.other), 0);
	f->s.mode = M_REDIRECT_OTHER;
	buf_init(&b, 1 << 20);
	assert_int_equal(hub_download(f->hub, "org/m", "main", "model.safetensors", 0, body_sink, &b, NULL, &err), 0);
	assert_int_equal(b.len, 100);
	assert_memory_equal(b.data, BODY100, 100);
	assert_int_equal(f->s.hits, 2);
	assert_string_equal(f->s.path[0], "/org/m/resolve/main/model.safetensors");
	assert_string_equal(f->s.auth[0], "Bearer hf_secret");
	assert_string_equal(f->s.path[1], "/lfs/abc");
	assert_string_equal(f->s.auth[1], "");   /* another host never sees the token */
	buf_cleanup(&b);
}

static void test_redirect_same_origin_keeps_token(void **state)
{
	struct fixture *f = *state;
	struct hub_error err;
	struct buf b;
	f->s.mode = M_REDIRECT_SAME;
	buf_init(&b, 1 << 20);
	assert_int_equal(hub_download(f->hub, "org/m", "main", "m.gguf", 0, body_sink, &b, NULL, &err), 0);
	assert_int_equal(b.len, 100);
	assert_string_equal(f->s.auth[1], "Bearer hf_secret");
	buf_cleanup(&b);
}

static void test_range_when_server_ignores_range(void **state)
{
	struct fixture *f = *state;
	struct hub_error err;
	struct buf b;
	f->s.mode = M_BODY;
	buf_init(&b, 1 << 20);
	assert_int_equal(hub_read_range(f->hub, "org/m", "main", "x.bin", 10, 20, &b, &err), 0);
	assert_int_equal(b.len, 20);
	assert_memory_equal(b.data, BODY100 + 10, 20);
	/* past the end of a 100-byte file: what there is */
	buf_reset(&b);
	assert_int_equal(hub_read_range(f->hub, "org/m", "main", "x.bin", 90, 50, &b, &err), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, BODY100 + 90, 10);
	buf_cleanup(&b);
}

static void test_download_resumes_after_cut(void **state)
{
	struct fixture *f = *state;
	struct hub_error err;
	struct buf b;
	uint64_t got = 0;
	f->s.mode = M_CUT_ONCE;
	log_init(LOG_LEVEL_ERROR, false);
	buf_init(&b, 1 << 20);
	assert_int_equal(hub_download(f->hub, "org/m", "main", "x.bin", 0, body_sink, &b, &got, &err), 0);
	/* every byte exactly once, in order, across the cut */
	assert_int_equal(b.len, 100);
	assert_int_equal(got, 100);
	assert_memory_equal(b.data, BODY100, 100);
	assert_int_equal(f->s.hits, 2);
	buf_cleanup(&b);
	/* and from an offset */
	f->s.hits = 0;
	buf_init(&b, 1 << 20);
	assert_int_equal(hub_download(f->hub, "org/m", "main", "x.bin", 30, body_sink, &b, &got, &err), 0);
	assert_int_equal(b.len, 70);
	assert_memory_equal(b.data, BODY100 + 30, 70);
	buf_cleanup(&b);
}

static void test_json_cap(void **state)
{
	struct fixture *f = *state;
	json_object *j = NULL;
	struct hub_error err;
	f->s.mode = M_BIG_JSON;
	assert_true(hub_model_info(f->hub, "org/m", "main", true, &j, &err) < 0);
	assert_null(j);
	assert_non_null(strstr(err.msg, "cap"));
}

static void test_head(void **state)
{
	struct fixture *f = *state;
	struct hub_error err;
	struct hub_file_meta m;
	f->s.mode = M_HEAD_LFS;
	assert_int_equal(hub_head(f->hub, "Qwen/Qwen3-0.6B", "main", "model.safetensors", &m, &err), 0);
	assert_int_equal(f->s.hits, 1);   /* the redirect is not followed */
	assert_string_equal(f->s.path[0], "/Qwen/Qwen3-0.6B/resolve/main/model.safetensors");
	assert_true(m.lfs);
	assert_int_equal(m.size, 1503300328);
	assert_string_equal(m.etag, "f47f71177f32bcd101b7573ec9171e6a57f4f4d31148d38e382306f42996874b");
	assert_string_equal(m.commit, "c1899de289a04d12100db370d81485cdf75e47ca");
	f->s.mode = M_HEAD_SMALL;
	assert_int_equal(hub_head(f->hub, "Qwen/Qwen3-0.6B", "main", "config.json", &m, &err), 0);
	assert_false(m.lfs);
	assert_string_equal(m.etag, "f5c3703b78ae2a478ae15b247e9f855e0ce2107b");
	assert_string_equal(m.commit, "c1899de");
	f->s.mode = M_404;
	assert_true(hub_head(f->hub, "Qwen/Qwen3-0.6B", "main", "nope", &m, &err) < 0);
	assert_int_equal(err.kind, HUB_ERR_NOT_FOUND);
}

static void test_tree_pages(void **state)
{
	struct fixture *f = *state;
	struct hub_error err;
	json_object *j = NULL;
	f->s.mode = M_TREE_PAGES;
	assert_int_equal(hub_tree(f->hub, "org/m", "main", true, &j, &err), 0);
	assert_int_equal(json_object_array_length(j), 2);
	json_object *p;
	assert_true(json_object_object_get_ex(json_object_array_get_idx(j, 1), "path", &p));
	assert_string_equal(json_object_get_string(p), "b.json");
	json_object_put(j);
	assert_int_equal(f->s.hits, 2);
	assert_string_equal(f->s.path[0], "/api/models/org/m/tree/main?recursive=true");
}

static void test_bad_endpoint(void **state)
{
	(void)state;
	struct hub_client *c = NULL;
	assert_int_equal(hub_client_new("ftp://x", NULL, NULL, &c), -22);
	assert_int_equal(hub_client_new("not a url", NULL, NULL, &c), -22);
	assert_int_equal(hub_client_new("https://hub.example/", NULL, NULL, &c), 0);
	assert_string_equal(hub_client_endpoint(c), "https://hub.example");
	hub_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_bad_endpoint),
		cmocka_unit_test_setup_teardown(test_model_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_after_429, setup, teardown),
		cmocka_unit_test_setup_teardown(test_5xx_gives_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_and_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_other_host_drops_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_same_origin_keeps_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_range_when_server_ignores_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budgets_shared_by_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_download_resumes_after_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_pages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
