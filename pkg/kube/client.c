/* Kubernetes REST client over libcurl (see client.h). */
#include "kube/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/client_int.h"
#include "util/backoff.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_RESPONSE_BYTES (256u << 20)
#define POOL_MAX 16
#define RETRY_AFTER_MAX_S 60
#define CONNECT_TIMEOUT_S 10

struct kube_client {
	struct kube_config *cfg;
	char *server;
	char *url_base;            /* server, or https://<tls-server-name>:port */
	struct curl_slist *connect_to;   /* tls-server-name:port -> real host:port */
	char *user_agent;
	double qps;
	int burst;
	int timeout_s;
	int max_retries;
	size_t max_response;
	kube_request_hook hook;
	void *hook_ctx;
	const struct mclock *clock;
	void (*sleep_ms)(void *ctx, uint64_t ms);
	void *sleep_ctx;

	pthread_mutex_t mu;   /* pool + bucket */
	CURL *pool[POOL_MAX];
	size_t npool;
	double tokens;
	uint64_t last_ns;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}
void kube__curl_global(void)
{
	pthread_once(&curl_once, curl_init_once);
}

int kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts, struct kube_client **out,
		    struct kube_error *err)
{
	static const struct kube_client_opts defaults = { 0 };
	if (!opts)
		opts = &defaults;
	*out = NULL;
	if (!cfg || !kube_config_server(cfg))
		return kube_error_set(err, KUBE_ERR_CONFIG, "no configuration");
	kube__curl_global();
	struct kube_client *c = xcalloc(1, sizeof(*c));
	c->cfg = kube_config_ref((struct kube_config *)cfg);
	c->server = xstrdup(kube_config_server(cfg));
	c->user_agent = opts->user_agent ? xstrdup(opts->user_agent) : xstrdup("modelcache-operator/" MC_VERSION);
	c->qps = opts->qps > 0 ? opts->qps : 20;
	c->burst = opts->burst > 0 ? opts->burst : 30;
	c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 30;
	c->max_retries = opts->max_retries < 0 ? 0 : opts->max_retries == 0 ? 5 : opts->max_retries;
	c->max_response = opts->max_response_bytes ? opts->max_response_bytes : MAX_RESPONSE_BYTES;
	c->hook = opts->hook;
	c->hook_ctx = opts->hook_ctx;
	c->clock = opts->clock ? opts->clock : mclock_system();
	c->sleep_ms = opts->sleep_ms;
	c->sleep_ctx = opts->sleep_ctx;
	c->url_base = xstrdup(c->server);
	const char *tsn = kube_config_tls_server_name(cfg);
	if (tsn && tsn[0] && strncmp(c->server, "https://", 8) == 0) {
		/* Verify (and send SNI for) tls-server-name while connecting to the
		 * server's address: address the URL to the name, route it with CONNECT_TO. */
		const char *hp = c->server + 8;
		size_t hl = strcspn(hp, "/");
		char *hostport = xstrndup(hp, hl);
		const char *colon;
		if (hostport[0] == '[') {
			const char *rb = strchr(hostport, ']');
			colon = rb && rb[1] == ':' ? rb + 1 : NULL;
		} else {
			colon = strrchr(hostport, ':');
		}
		char *host = colon ? xstrndup(hostport, (size_t)(colon - hostport)) : xstrdup(hostport);
		const char *port = colon ? colon + 1 : "443";
		char *ct = xasprintf("%s:%s:%s:%s", tsn, port, host, port);
		c->connect_to = curl_slist_append(NULL, ct);
		free(c->url_base);
		c->url_base = xasprintf("https://%s:%s%s", tsn, port, hp + hl);
		free(ct);
		free(host);
		free(hostport);
	}
	pthread_mutex_init(&c->mu, NULL);
	c->tokens = c->burst;
	c->last_ns = mclock_mono_ns(c->clock);
	*out = c;
	return 0;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->mu);
	kube_config_free(c->cfg);
	curl_slist_free_all(c->connect_to);
	free(c->url_base);
	free(c->server);
	free(c->user_agent);
	free(c);
}

const char *kube_client_server(const struct kube_client *c)
{
	return c->server;
}

const struct kube_config *kube_client_config(const struct kube_client *c)
{
	return c->cfg;
}

/* ------------------------------------------------------------------ */

static void do_sleep(struct kube_client *c, uint64_t ms)
{
	if (c->sleep_ms) {
		c->sleep_ms(c->sleep_ctx, ms);
		return;
	}
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void kube__rate_wait(struct kube_client *c)
{
	pthread_mutex_lock(&c->mu);
	uint64_t now = mclock_mono_ns(c->clock);
	if (now > c->last_ns) {
		c->tokens += (double)(now - c->last_ns) / 1e9 * c->qps;
		if (c->tokens > c->burst)
			c->tokens = c->burst;
		c->last_ns = now;
	}
	c->tokens -= 1.0;   /* reserve: a negative balance is the queue ahead of us */
	double wait_s = c->tokens < 0 ? -c->tokens / c->qps : 0;
	pthread_mutex_unlock(&c->mu);
	if (wait_s > 0) {
		uint64_t ms = (uint64_t)(wait_s * 1000.0 + 0.999);
		do_sleep(c, ms);
	}
}

void kube__hook(struct kube_client *c, const char *verb, const struct kube_resource *r, int code)
{
	if (c->hook)
		c->hook(c->hook_ctx, verb, r ? r->resource : "", code);
}

static CURL *pool_get(struct kube_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->mu);
	if (c->npool)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->mu);
	if (!h)
		h = curl_easy_init();
	else
		curl_easy_reset(h);   /* keeps live connections */
	if (!h)
		abort();
	return h;
}

static void pool_put(struct kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->npool < POOL_MAX) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

void kube__query(struct buf *b, const char *k, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";
	buf_putc(b, strchr(buf_str(b), '?') ? '&' : '?');
	buf_puts(b, k);
	buf_putc(b, '=');
	for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		    *s == '.' || *s == '_' || *s == '~') {
			buf_putc(b, (char)*s);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[*s >> 4]);
			buf_putc(b, hex[*s & 15]);
		}
	}
}

int kube__easy_setup(struct kube_client *c, CURL *h, const char *method, const char *path, const char *content_type,
		     struct curl_slist **headers, struct kube_error *err)
{
	struct kube_auth a;
	char *emsg = NULL;
	struct curl_slist *hl = NULL;
	if (kube_config_auth(c->cfg, &a, &emsg) < 0) {
		int rc = kube_error_set(err, KUBE_ERR_CONFIG, "credentials: %s", emsg ? emsg : "unavailable");
		free(emsg);
		return rc;
	}
	char *url = xasprintf("%s%s", c->url_base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url);
	if (c->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, c->connect_to);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	size_t ca_len = 0;
	const char *ca = kube_config_ca(c->cfg, &ca_len);
	if (ca) {
		struct curl_blob blob = { .data = (void *)ca, .len = ca_len, .flags = CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (kube_config_insecure(c->cfg)) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (a.cert_pem) {
		struct curl_blob cb = { .data = a.cert_pem, .len = a.cert_len, .flags = CURL_BLOB_COPY };
		struct curl_blob kb = { .data = a.key_pem, .len = a.key_len, .flags = CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
	}
	if (a.token) {
		char *hdr = xasprintf("Authorization: Bearer %s", a.token);
		hl = curl_slist_append(hl, hdr);
		free_secret(hdr);
	} else if (a.username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, a.username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, a.password);
	}
	hl = curl_slist_append(hl, "Accept: application/json");
	hl = curl_slist_append(hl, "Expect:");
	if (content_type) {
		char *ct = xasprintf("Content-Type: %s", content_type);
		hl = curl_slist_append(hl, ct);
		free(ct);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	*headers = hl;
	kube_auth_cleanup(&a);
	return 0;
}

/* ------------------------------------------------------------------ */
/* one request with retries */

struct resp {
	struct buf body;
	int retry_after_s;
};

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	if (buf_append(&r->body, p, sz * n) < 0)
		return 0;   /* over the cap: abort the transfer */
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t len = sz * n;
	static const char k[] = "retry-after:";
	if (len > sizeof(k) - 1 && strncasecmp(p, k, sizeof(k) - 1) == 0) {
		char tmp[32];
		size_t vl = len - (sizeof(k) - 1);
		if (vl >= sizeof(tmp))
			vl = sizeof(tmp) - 1;
		memcpy(tmp, p + sizeof(k) - 1, vl);
		tmp[vl] = '\0';
		char *end;
		long v = strtol(tmp, &end, 10);
		if (end != tmp && v >= 0)
			r->retry_after_s = v > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : (int)v;
	}
	return len;
}

enum retry_class {
	RETRY_NONE,        /* only 429 and connection-never-made failures */
	RETRY_IDEMPOTENT,  /* also 5xx and any transport failure */
};

struct request {
	const char *verb;                 /* hook label */
	const struct kube_resource *res;  /* hook label (may be NULL) */
	const char *method;
	const char *path;
	const char *content_type;
	const char *body;
	size_t body_len;
	enum retry_class retry;
};

static bool retriable_code(int code)
{
	return code == 429 || code == 500 || code == 502 || code == 503 || code == 504;
}

static enum kube_reason curl_reason(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT: return KUBE_ERR_TIMEOUT;
	case CURLE_WRITE_ERROR: return KUBE_ERR_DECODE;
	default: return KUBE_ERR_UNAVAILABLE;
	}
}

static bool never_sent(CURLcode cc)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY;
}

/* Performs rq; on return *code is the final HTTP status (0: none) and out
 * holds the body. Returns 0 when a response arrived (any status), or -reason
 * on transport failure with err filled. */
static int perform(struct kube_client *c, const struct request *rq, int *code, struct buf *out, int *retry_after,
		   struct kube_error *err)
{
	struct backoff bo;
	backoff_init(&bo, 200, 10000, 2.0, 0.2);
	bool auth_retried = false;
	int attempt = 0;
	int rc = 0;
	for (;;) {
		struct resp r;
		struct curl_slist *hl = NULL;
		buf_init(&r.body, c->max_response);
		r.retry_after_s = 0;
		kube__rate_wait(c);
		CURL *h = pool_get(c);
		rc = kube__easy_setup(c, h, rq->method, rq->path, rq->content_type, &hl, err);
		if (rc < 0) {
			pool_put(c, h);
			buf_cleanup(&r.body);
			return rc;
		}
		if (rq->body) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		}
		curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)c->timeout_s);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
		char ebuf[CURL_ERROR_SIZE] = "";
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
		CURLcode cc = curl_easy_perform(h);
		long http = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hl);
		pool_put(c, h);
		kube__hook(c, rq->verb, rq->res, cc == CURLE_OK ? (int)http : 0);

		bool can_retry = attempt < c->max_retries;
		if (cc != CURLE_OK) {
			/* A request that found no answer within the timeout is not
			 * repeated: the server has it and is not answering (a frozen
			 * or overloaded apiserver), and a repeat only multiplies the
			 * wait of the caller (and of every worker behind it). */
			bool again = can_retry && (rq->retry == RETRY_IDEMPOTENT || never_sent(cc)) &&
				     cc != CURLE_WRITE_ERROR && cc != CURLE_OPERATION_TIMEDOUT;
			if (again) {
				uint64_t d = backoff_next(&bo);
				LOG_DEBUG("kube request retry", "method=%s path=%s error=%s delay_ms=%llu", rq->method,
					  rq->path, curl_easy_strerror(cc), (unsigned long long)d);
				buf_cleanup(&r.body);
				attempt++;
				do_sleep(c, d);
				continue;
			}
			rc = kube_error_set(err, curl_reason(cc), "%s %s%s: %s", rq->method, c->server, rq->path,
					    cc == CURLE_WRITE_ERROR ? "response too large" : ebuf[0] ? ebuf : curl_easy_strerror(cc));
			buf_cleanup(&r.body);
			return rc;
		}
		if (http == 401 && !auth_retried && kube_config_auth_invalidate(c->cfg)) {
			auth_retried = true;
			buf_cleanup(&r.body);
			continue;
		}
		if (can_retry && retriable_code((int)http) && (http == 429 || rq->retry == RETRY_IDEMPOTENT)) {
			uint64_t d = backoff_next(&bo);
			if (r.retry_after_s > 0)
				d = (uint64_t)r.retry_after_s * 1000;
			LOG_DEBUG("kube request retry", "method=%s path=%s code=%ld delay_ms=%llu", rq->method, rq->path,
				  http, (unsigned long long)d);
			buf_cleanup(&r.body);
			attempt++;
			do_sleep(c, d);
			continue;
		}
		*code = (int)http;
		*retry_after = r.retry_after_s;
		*out = r.body;
		return 0;
	}
}

/* A request whose non-2xx answers are errors; *out gets the decoded JSON
 * body of a 2xx answer (when out is non-NULL). */
static int call(struct kube_client *c, const struct request *rq, json_object **out, struct kube_error *err)
{
	struct buf body;
	int code = 0, ra = 0;
	if (out)
		*out = NULL;
	int rc = perform(c, rq, &code, &body, &ra, err);
	if (rc < 0)
		return rc;
	json_object *j = NULL;
	if (body.len) {
		struct json_tokener *tok = json_tokener_new_ex(256);
		j = json_tokener_parse_ex(tok, body.data, (int)body.len);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			json_object_put(j);
			j = NULL;
		}
		json_tokener_free(tok);
	}
	if (code < 200 || code > 299) {
		rc = kube_error_from_status(code, j, err);
		if (err && ra > 0 && err->retry_after_s == 0)
			err->retry_after_s = ra;
		json_object_put(j);
		buf_cleanup(&body);
		return rc;
	}
	buf_cleanup(&body);
	if (out) {
		if (!j && code != 204)
			return kube_error_set(err, KUBE_ERR_DECODE, "%s %s: response is not JSON", rq->method, rq->path);
		*out = j;
	} else {
		json_object_put(j);
	}
	if (err)
		kube_error_clear(err);
	return 0;
}

/* ------------------------------------------------------------------ */
/* verbs */

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
	     json_object **out, struct kube_error *err)
{
	char *path = kube_resource_path(r, ns, name, NULL);
	struct request rq = { .verb = "GET", .res = r, .method = "GET", .path = path, .retry = RETRY_IDEMPOTENT };
	int rc = call(c, &rq, out, err);
	free(path);
	return rc;
}

static char *list_path(const struct kube_resource *r, const char *ns, const struct kube_list_opts *o,
		       const char *cont, bool first)
{
	struct buf b;
	buf_init(&b, 0);
	char *p = kube_resource_path(r, ns, NULL, NULL);
	buf_puts(&b, p);
	free(p);
	char lim[32];
	snprintf(lim, sizeof(lim), "%lld", (long long)(o && o->limit > 0 ? o->limit : 500));
	kube__query(&b, "limit", lim);
	if (o && o->label_selector && o->label_selector[0])
		kube__query(&b, "labelSelector", o->label_selector);
	if (o && o->field_selector && o->field_selector[0])
		kube__query(&b, "fieldSelector", o->field_selector);
	if (cont)
		kube__query(&b, "continue", cont);
	else if (first && o && o->resource_version && o->resource_version[0])
		kube__query(&b, "resourceVersion", o->resource_version);
	return buf_take(&b, NULL);
}

int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns, const struct kube_list_opts *o,
	      json_object **out, struct kube_error *err)
{
	json_object *items = json_object_new_array();
	json_object *last = NULL;
	char *cont = NULL;
	bool restarted = false;
	int rc = 0;
	if (out)
		*out = NULL;
	for (;;) {
		char *path = list_path(r, ns, o, cont, !cont);
		struct request rq = { .verb = "LIST", .res = r, .method = "GET", .path = path, .retry = RETRY_IDEMPOTENT };
		json_object *page = NULL;
		rc = call(c, &rq, &page, err);
		free(path);
		if (rc == -KUBE_ERR_GONE && cont && !restarted) {
			/* The continue token expired: start over, once. */
			LOG_INFO("list continue token expired, restarting", "resource=%s", r->resource);
			restarted = true;
			free(cont);
			cont = NULL;
			json_object_put(items);
			items = json_object_new_array();
			kube_error_clear(err);
			continue;
		}
		if (rc < 0)
			goto out;
		json_object *pi = NULL, *meta, *cv;
		if (!json_object_object_get_ex(page, "items", &pi) || !json_object_is_type(pi, json_type_array)) {
			if (!pi || json_object_is_type(pi, json_type_null)) {
				pi = NULL;   /* an empty list may have "items": null */
			} else {
				json_object_put(page);
				rc = kube_error_set(err, KUBE_ERR_DECODE, "list %s: items is not an array", r->resource);
				goto out;
			}
		}
		size_t n = pi ? json_object_array_length(pi) : 0;
		for (size_t i = 0; i < n; i++) {
			json_object *it = json_object_array_get_idx(pi, i);
			if (it && o && o->each_item)
				o->each_item(o->each_ctx, it);
			json_object_array_add(items, json_object_get(it));
		}
		free(cont);
		cont = NULL;
		if (json_object_object_get_ex(page, "metadata", &meta) && json_object_object_get_ex(meta, "continue", &cv) &&
		    json_object_is_type(cv, json_type_string) && json_object_get_string_len(cv) > 0)
			cont = xstrdup(json_object_get_string(cv));
		json_object_put(last);
		last = page;
		if (!cont)
			break;
	}
	if (out) {
		json_object *meta;
		json_object_object_add(last, "items", items);
		items = NULL;
		if (json_object_object_get_ex(last, "metadata", &meta) && json_object_is_type(meta, json_type_object)) {
			json_object_object_del(meta, "continue");
			json_object_object_del(meta, "remainingItemCount");
		}
		*out = last;
		last = NULL;
	}
out:
	free(cont);
	json_object_put(items);
	json_object_put(last);
	return rc;
}

const char *kube_body(json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static int write_obj(struct kube_client *c, const char *verb, const struct kube_resource *r, const char *method,
		     const char *path, json_object *obj, const char *ctype, enum retry_class rc_class,
		     json_object **out, struct kube_error *err)
{
	const char *body = kube_body(obj);
	struct request rq = { .verb = verb, .res = r, .method = method, .path = path, .content_type = ctype,
			      .body = body, .body_len = strlen(body), .retry = rc_class };
	return call(c, &rq, out, err);
}

int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns, json_object *obj,
		json_object **out, struct kube_error *err)
{
	char *path = kube_resource_path(r, ns, NULL, NULL);
	int rc = write_obj(c, "CREATE", r, "POST", path, obj, "application/json", RETRY_NONE, out, err);
	free(path);
	return rc;
}

static bool has_rv(json_object *obj)
{
	json_object *m, *rv;
	return json_object_object_get_ex(obj, "metadata", &m) && json_object_object_get_ex(m, "resourceVersion", &rv) &&
	       json_object_is_type(rv, json_type_string) && json_object_get_string_len(rv) > 0;
}

int kube_update(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		json_object *obj, json_object **out, struct kube_error *err)
{
	char *path = kube_resource_path(r, ns, name, NULL);
	int rc = write_obj(c, "UPDATE", r, "PUT", path, obj, "application/json",
			   has_rv(obj) ? RETRY_IDEMPOTENT : RETRY_NONE, out, err);
	free(path);
	return rc;
}

int kube_update_status(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		       json_object *obj, json_object **out, struct kube_error *err)
{
	char *path = kube_resource_path(r, ns, name, "status");
	int rc = write_obj(c, "UPDATE", r, "PUT", path, obj, "application/json",
			   has_rv(obj) ? RETRY_IDEMPOTENT : RETRY_NONE, out, err);
	free(path);
	return rc;
}

int kube_patch(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
	       const char *body, size_t len, const struct kube_patch_opts *o, json_object **out, struct kube_error *err)
{
	static const char *const ctypes[] = {
		[KUBE_PATCH_MERGE] = "application/merge-patch+json",
		[KUBE_PATCH_JSON] = "application/json-patch+json",
		[KUBE_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
		[KUBE_PATCH_APPLY] = "application/apply-patch+yaml",
	};
	enum kube_patch_type t = o ? o->type : KUBE_PATCH_MERGE;
	if ((unsigned)t > KUBE_PATCH_APPLY)
		return kube_error_set(err, KUBE_ERR_BAD_REQUEST, "unknown patch type %d", (int)t);
	if (t == KUBE_PATCH_APPLY && (!o->field_manager || !o->field_manager[0]))
		return kube_error_set(err, KUBE_ERR_BAD_REQUEST, "server-side apply needs a field manager");
	char *p = kube_resource_path(r, ns, name, o ? o->subresource : NULL);
	struct buf b;
	buf_init(&b, 0);
	buf_puts(&b, p);
	free(p);
	if (o && o->field_manager && o->field_manager[0])
		kube__query(&b, "fieldManager", o->field_manager);
	if (t == KUBE_PATCH_APPLY && o->force)
		kube__query(&b, "force", "true");
	/* Apply is idempotent; so is a merge patch, but a JSON patch (add to a list) is not. */
	struct request rq = { .verb = "PATCH", .res = r, .method = "PATCH", .path = buf_str(&b),
			      .content_type = ctypes[t], .body = body, .body_len = len,
			      .retry = (t == KUBE_PATCH_APPLY || t == KUBE_PATCH_MERGE) ? RETRY_IDEMPOTENT : RETRY_NONE };
	int rc = call(c, &rq, out, err);
	buf_cleanup(&b);
	return rc;
}

int kube_patch_obj(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		   json_object *patch, const struct kube_patch_opts *o, json_object **out, struct kube_error *err)
{
	const char *body = kube_body(patch);
	return kube_patch(c, r, ns, name, body, strlen(body), o, out, err);
}

int kube_apply(struct kube_client *c, const struct kube_resource *r, const char *ns, json_object *obj,
	       const char *field_manager, bool force, const char *subresource, json_object **out,
	       struct kube_error *err)
{
	json_object *m, *n;
	if (!json_object_object_get_ex(obj, "metadata", &m) || !json_object_object_get_ex(m, "name", &n) ||
	    !json_object_is_type(n, json_type_string))
		return kube_error_set(err, KUBE_ERR_BAD_REQUEST, "apply: metadata.name is required");
	const char *body = kube_body(obj);
	struct kube_patch_opts o = { .type = KUBE_PATCH_APPLY, .field_manager = field_manager, .force = force,
				     .subresource = subresource };
	return kube_patch(c, r, ns, json_object_get_string(n), body, strlen(body), &o, out, err);
}

int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns, const char *name,
		const struct kube_delete_opts *o, struct kube_error *err)
{
	char *path = kube_resource_path(r, ns, name, NULL);
	json_object *d = json_object_new_object();
	json_object_object_add(d, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(d, "kind", json_object_new_string("DeleteOptions"));
	if (o && o->propagation_policy)
		json_object_object_add(d, "propagationPolicy", json_object_new_string(o->propagation_policy));
	if (o && (o->precondition_uid || o->precondition_resource_version)) {
		json_object *pre = json_object_new_object();
		if (o->precondition_uid)
			json_object_object_add(pre, "uid", json_object_new_string(o->precondition_uid));
		if (o->precondition_resource_version)
			json_object_object_add(pre, "resourceVersion",
					       json_object_new_string(o->precondition_resource_version));
		json_object_object_add(d, "preconditions", pre);
	}
	int rc = write_obj(c, "DELETE", r, "DELETE", path, d, "application/json", RETRY_IDEMPOTENT, NULL, err);
	json_object_put(d);
	free(path);
	return rc;
}

int kube_server_version(struct kube_client *c, char **git_version, struct kube_error *err)
{
	json_object *j = NULL, *v;
	struct request rq = { .verb = "GET", .method = "GET", .path = "/version", .retry = RETRY_IDEMPOTENT };
	*git_version = NULL;
	int rc = call(c, &rq, &j, err);
	if (rc < 0)
		return rc;
	if (!json_object_object_get_ex(j, "gitVersion", &v) || !json_object_is_type(v, json_type_string)) {
		json_object_put(j);
		return kube_error_set(err, KUBE_ERR_DECODE, "/version: no gitVersion");
	}
	*git_version = xstrdup(json_object_get_string(v));
	json_object_put(j);
	return 0;
}

int kube_resource_served(struct kube_client *c, const struct kube_resource *r, struct kube_error *err)
{
	char *path = (r->group && r->group[0]) ? xasprintf("/apis/%s/%s", r->group, r->version)
					       : xasprintf("/api/%s", r->version);
	json_object *j = NULL, *res;
	struct request rq = { .verb = "GET", .method = "GET", .path = path, .retry = RETRY_IDEMPOTENT };
	int rc = call(c, &rq, &j, err);
	free(path);
	if (rc < 0)
		return rc;
	rc = -KUBE_ERR_NOT_FOUND;
	if (json_object_object_get_ex(j, "resources", &res) && json_object_is_type(res, json_type_array)) {
		size_t n = json_object_array_length(res);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(res, i), *nm;
			if (json_object_object_get_ex(e, "name", &nm) && json_object_is_type(nm, json_type_string) &&
			    strcmp(json_object_get_string(nm), r->resource) == 0) {
				rc = 0;
				break;
			}
		}
	}
	json_object_put(j);
	if (rc < 0)
		kube_error_set(err, KUBE_ERR_NOT_FOUND, "%s is not served by %s/%s", r->resource,
			       r->group && r->group[0] ? r->group : "core", r->version);
	return rc;
}

int kube_raw(struct kube_client *c, const char *method, const char *path_and_query, const char *content_type,
	     const char *body, size_t len, int *code, char **body_out, struct kube_error *err)
{
	struct buf b;
	int ra = 0;
	bool idem = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	struct request rq = { .verb = idem ? "GET" : method, .method = method, .path = path_and_query,
			      .content_type = content_type, .body = body, .body_len = len,
			      .retry = idem ? RETRY_IDEMPOTENT : RETRY_NONE };
	if (body_out)
		*body_out = NULL;
	*code = 0;
	int rc = perform(c, &rq, code, &b, &ra, err);
	if (rc < 0)
		return rc;
	if (body_out && b.len)
		*body_out = buf_take(&b, NULL);
	buf_cleanup(&b);
	if (err)
		kube_error_clear(err);
	return 0;
}
