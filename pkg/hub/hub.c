#include "hub/hub.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "util/backoff.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_REDIRECTS 5
#define ERR_BODY_MAX 4096
#define HDR_MAX 1024
#define POOL_MAX 64

struct hub_client {
	char *endpoint;
	char *origin;            /* scheme://host:port of the endpoint */
	char *token;             /* NULL = anonymous */
	struct hub_opts opts;
	char *user_agent;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	/* Idle easy handles: each keeps its own connection cache between
	 * requests (libcurl does not support sharing one connection cache
	 * between concurrent threads, so connections are not in the share). */
	pthread_mutex_t pool_mu;
	CURL *pool[POOL_MAX];
	size_t npool;
	unsigned retries_used;   /* atomic; against opts.retry_budget */
	uint64_t deadline_ms;    /* monotonic; 0 = opts.time_budget_ms unset */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* "" while the client's budgets allow a retry (taking one), else why not. */
static const char *budget_take_retry(struct hub_client *c, uint64_t delay_ms)
{
	if (c->deadline_ms && mono_ms() + delay_ms >= c->deadline_ms)
		return " (giving up: the time budget of this task is spent)";
	if (c->opts.retry_budget &&
	    __atomic_fetch_add(&c->retries_used, 1, __ATOMIC_RELAXED) >= c->opts.retry_budget)
		return " (giving up: the retry budget of this task is spent)";
	return "";
}

/* ------------------------------------------------------------------ errors */

enum hub_err_kind hub_error_kind_for_status(long status)
{
	if (status >= 200 && status < 400)
		return HUB_OK;
	if (status == 401 || status == 403)
		return HUB_ERR_AUTH;
	if (status == 404 || status == 410)
		return HUB_ERR_NOT_FOUND;
	return HUB_ERR_OTHER;
}

int hub_error_exit_code(const struct hub_error *err)
{
	if (!err)
		return 1;
	switch (err->kind) {
	case HUB_OK:
		return 0;
	case HUB_ERR_AUTH:
		return 3;
	case HUB_ERR_NOT_FOUND:
		return 4;
	case HUB_ERR_INTEGRITY:
		return 5;
	default:
		return 1;
	}
}

void hub_error_set(struct hub_error *err, enum hub_err_kind kind, long status, const char *fmt, ...)
{
	if (!err)
		return;
	err->kind = kind;
	err->http_status = status;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		err->msg[0] = '\0';
	/* one line */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

static void err_clear(struct hub_error *err)
{
	if (err) {
		err->kind = HUB_OK;
		err->http_status = 0;
		err->msg[0] = '\0';
	}
}

/* ------------------------------------------------------------------ client */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void hub_opts_default(struct hub_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_retries = 5;
	o->retry_base_ms = 500;
	o->retry_max_ms = 30000;
	o->connect_timeout_s = 15;
	o->low_speed_time_s = 60;
	o->max_json_bytes = 32u << 20;
	o->user_agent = NULL;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access acc, void *ud)
{
	(void)h;
	(void)acc;
	struct hub_client *c = ud;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	struct hub_client *c = ud;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&c->locks[data]);
}

/* scheme://host:port of an absolute URL, or NULL. */
char *hub_url_origin(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *res = NULL;
	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out;
	for (char *p = scheme; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	res = xasprintf("%s://%s:%s", scheme, host, port);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return res;
}

int hub_client_new(const char *endpoint, const char *token, const struct hub_opts *opts,
		   struct hub_client **out)
{
	pthread_once(&global_once, global_init);
	if (!endpoint || !*endpoint) {
		endpoint = getenv("HF_ENDPOINT");
		if (!endpoint || !*endpoint)
			endpoint = HUB_DEFAULT_ENDPOINT;
	}
	char *origin = hub_url_origin(endpoint);
	if (!origin || (strncmp(origin, "http://", 7) != 0 && strncmp(origin, "https://", 8) != 0)) {
		free(origin);
		return -EINVAL;
	}
	struct hub_client *c = xcalloc(1, sizeof(*c));
	c->endpoint = xstrdup(endpoint);
	size_t n = strlen(c->endpoint);
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	c->origin = origin;
	c->token = token && *token ? xstrdup(token) : NULL;
	if (opts)
		c->opts = *opts;
	else
		hub_opts_default(&c->opts);
	if (!c->opts.max_json_bytes)
		c->opts.max_json_bytes = 32u << 20;
	if (!c->opts.retry_base_ms)
		c->opts.retry_base_ms = 500;
	if (!c->opts.retry_max_ms)
		c->opts.retry_max_ms = 30000;
	if (c->opts.time_budget_ms)
		c->deadline_ms = mono_ms() + c->opts.time_budget_ms;
	c->user_agent = c->opts.user_agent ? xstrdup(c->opts.user_agent)
					   : xasprintf("modelcache-operator/%s", MC_VERSION);
	c->opts.user_agent = c->user_agent;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	c->share = curl_share_init();
	if (c->share) {
		curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
		curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	pthread_mutex_init(&c->pool_mu, NULL);
	*out = c;
	return 0;
}

void hub_client_free(struct hub_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->pool_mu);
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->endpoint);
	free(c->origin);
	free_secret(c->token);
	free(c->user_agent);
	free(c);
}

const char *hub_client_endpoint(const struct hub_client *c)
{
	return c->endpoint;
}

const char *hub_client_user_agent(const struct hub_client *c)
{
	return c->user_agent;
}

/* ------------------------------------------------------------------ URLs */

static char *escape(const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' ||
		    (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

char *hub_escape_path(const char *path)
{
	return escape(path, true);
}

static char *resolve_url(struct hub_client *c, const char *repo, const char *rev, const char *path)
{
	char *r = escape(repo, true), *v = escape(rev && *rev ? rev : "main", false),
	     *p = escape(path, true);
	char *url = xasprintf("%s/%s/resolve/%s/%s", c->endpoint, r, v, p);
	free(r);
	free(v);
	free(p);
	return url;
}

/* ------------------------------------------------------------------ requests */

enum sink_kind { SINK_BUF, SINK_FN, SINK_NONE };

struct req {
	/* in */
	bool head;
	bool no_follow;          /* a 3xx answer is the result (HEAD of resolve) */
	int64_t range_start;     /* -1: no Range */
	int64_t range_end;       /* inclusive; -1: open */
	enum sink_kind sink;
	struct buf *out;         /* SINK_BUF */
	uint64_t limit;          /* SINK_BUF: stop after this many bytes (0: no limit) */
	hub_write_fn fn;         /* SINK_FN */
	void *ud;
	/* per attempt */
	CURL *h;
	long status;
	uint64_t skip;           /* bytes to drop (server ignored Range) */
	uint64_t delivered;      /* bytes handed to the sink in this attempt */
	bool enough;             /* SINK_BUF limit reached: stop on purpose */
	bool body_started;       /* first body byte of this attempt seen */
	size_t out_len0;         /* SINK_BUF: out->len before the request */
	bool sink_failed;        /* sink returned an error */
	int sink_errno;
	struct buf errbody;
	/* headers of the last response */
	long retry_after_s;
	int64_t content_length;
	int64_t linked_size;
	char etag[96];
	char linked_etag[96];
	char commit[64];
	char link_next[HDR_MAX];
	char err_message[256];
};

/* Bounded copy (truncates), always NUL-terminated. */
static void scopy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void trim_copy(char *dst, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static void unquote(char *s)
{
	size_t n = strlen(s);
	char *p = s;
	if (n >= 2 && p[0] == 'W' && p[1] == '/') {
		p += 2;
		n -= 2;
	}
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	memmove(s, p, n);
	s[n] = '\0';
}

static void reset_headers(struct req *r)
{
	r->retry_after_s = -1;
	r->content_length = -1;
	r->linked_size = -1;
	r->etag[0] = r->linked_etag[0] = r->commit[0] = r->link_next[0] = r->err_message[0] = '\0';
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct req *r = ud;
	size_t n = size * nmemb;
	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		reset_headers(r);
		return n;
	}
	const char *colon = memchr(data, ':', n);
	if (!colon)
		return n;
	size_t klen = (size_t)(colon - data);
	const char *v = colon + 1;
	size_t vlen = n - klen - 1;
	char val[HDR_MAX];
	trim_copy(val, sizeof(val), v, vlen);
#define IS(name) (klen == sizeof(name) - 1 && strncasecmp(data, name, klen) == 0)
	if (IS("retry-after")) {
		char *end;
		long s = strtol(val, &end, 10);
		if (end != val && *end == '\0' && s >= 0)
			r->retry_after_s = s;
	} else if (IS("content-length")) {
		r->content_length = strtoll(val, NULL, 10);
	} else if (IS("x-linked-size")) {
		r->linked_size = strtoll(val, NULL, 10);
	} else if (IS("etag")) {
		scopy(r->etag, sizeof(r->etag), val);
		unquote(r->etag);
	} else if (IS("x-linked-etag")) {
		scopy(r->linked_etag, sizeof(r->linked_etag), val);
		unquote(r->linked_etag);
	} else if (IS("x-repo-commit")) {
		scopy(r->commit, sizeof(r->commit), val);
	} else if (IS("x-error-message")) {
		scopy(r->err_message, sizeof(r->err_message), val);
	} else if (IS("link")) {
		/* <url>; rel="next" */
		char *lt = strchr(val, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		if (lt && gt && strstr(gt, "rel=\"next\"")) {
			*gt = '\0';
			scopy(r->link_next, sizeof(r->link_next), lt + 1);
		}
	}
#undef IS
	return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct req *r = ud;
	size_t n = size * nmemb;
	if (r->status == 0)
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status < 200 || r->status >= 300) {
		/* keep a little of an error body for the message */
		if (r->status >= 400 && r->errbody.len < ERR_BODY_MAX) {
			size_t room = ERR_BODY_MAX - r->errbody.len;
			buf_append(&r->errbody, data, n < room ? n : room);
		}
		return n;
	}
	if (!r->body_started) {
		r->body_started = true;
		/* Range ignored (200 instead of 206): drop the bytes before it. */
		if (r->status == 200 && r->range_start > 0)
			r->skip = (uint64_t)r->range_start;
	}
	if (r->skip) {
		size_t s = n < r->skip ? n : (size_t)r->skip;
		r->skip -= s;
		data += s;
		n -= s;
		if (!n)
			return size * nmemb;
	}
	switch (r->sink) {
	case SINK_NONE:
		break;
	case SINK_BUF: {
		size_t take = n;
		if (r->limit) {
			uint64_t have = r->delivered;
			if (have >= r->limit) {
				r->enough = true;
				return 0;
			}
			if (take > r->limit - have)
				take = (size_t)(r->limit - have);
		}
		if (buf_append(r->out, data, take) < 0) {
			r->sink_failed = true;
			r->sink_errno = E2BIG;
			return 0;
		}
		r->delivered += take;
		if (r->limit && r->delivered >= r->limit) {
			r->enough = true;
			return 0;
		}
		break;
	}
	case SINK_FN:
		if (r->fn(r->ud, data, n) != 0) {
			r->sink_failed = true;
			r->sink_errno = ECANCELED;
			return 0;
		}
		r->delivered += n;
		break;
	}
	return size * nmemb;
}

static CURL *handle_get(struct hub_client *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool > 0)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->pool_mu);
	if (h) {
		curl_easy_reset(h);   /* options gone, live connections kept */
		return h;
	}
	return curl_easy_init();
}

static void handle_put(struct hub_client *c, CURL *h)
{
	pthread_mutex_lock(&c->pool_mu);
	if (c->npool < POOL_MAX) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (h)
		curl_easy_cleanup(h);
}

/* One HTTP exchange, no redirect following. Returns the CURLcode. */
static CURLcode perform_once(struct hub_client *c, const char *url, struct req *r, char **location)
{
	CURL *h = handle_get(c);
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	char range[64];
	if (!h)
		return CURLE_OUT_OF_MEMORY;
	r->h = h;
	r->status = 0;
	r->delivered = 0;
	r->enough = false;
	r->body_started = false;
	r->skip = 0;
	r->sink_failed = false;
	if (r->sink == SINK_BUF)
		r->out->len = r->out_len0;
	buf_reset(&r->errbody);
	reset_headers(r);
	*location = NULL;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->opts.connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->opts.low_speed_time_s);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 1024L * 1024L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "identity");
	if (r->head)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (r->range_start >= 0) {
		if (r->range_end >= 0)
			snprintf(range, sizeof(range), "%lld-%lld", (long long)r->range_start,
				 (long long)r->range_end);
		else
			snprintf(range, sizeof(range), "%lld-", (long long)r->range_start);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	/* The token goes only to the endpoint's own origin. */
	char *origin = hub_url_origin(url);
	char *auth = NULL;
	if (c->token && origin && strcmp(origin, c->origin) == 0) {
		auth = xasprintf("Authorization: Bearer %s", c->token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	free(origin);
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status >= 300 && r->status < 400) {
		char *loc = NULL;
		if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
			*location = xstrdup(loc);
	}
	curl_slist_free_all(hdrs);
	free_secret(auth);
	handle_put(c, h);
	r->h = NULL;
	return rc;
}

static bool retryable_status(long s)
{
	return s == 429 || s == 408 || (s >= 500 && s <= 599);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Short description of an error body (the Hub's {"error": "..."}). */
static void body_message(struct req *r, char *out, size_t cap)
{
	out[0] = '\0';
	if (r->err_message[0]) {
		snprintf(out, cap, "%s", r->err_message);
		return;
	}
	if (!r->errbody.len)
		return;
	json_object *j = json_tokener_parse(buf_str(&r->errbody));
	json_object *e;
	if (j && json_object_object_get_ex(j, "error", &e) && json_object_is_type(e, json_type_string))
		snprintf(out, cap, "%s", json_object_get_string(e));
	json_object_put(j);
}

/* A request with redirects and retries. For SINK_FN downloads, a transfer
 * cut mid-way resumes after the bytes already delivered (*total counts them).
 * 0 on a 2xx final answer; else -EIO/-ENOENT/-EACCES/... and *err. */
static int perform(struct hub_client *c, const char *url0, const char *what, struct req *r,
		   uint64_t *total, struct hub_error *err)
{
	struct backoff bo;
	int ret = -EIO;
	uint64_t got = 0;
	int64_t base_start = r->range_start;
	backoff_init(&bo, c->opts.retry_base_ms, c->opts.retry_max_ms, 2.0, 0.2);
	buf_init(&r->errbody, ERR_BODY_MAX + 1);

	for (unsigned attempt = 0;; attempt++) {
		if (attempt == 0 && c->deadline_ms && mono_ms() >= c->deadline_ms) {
			hub_error_set(err, HUB_ERR_OTHER, 0, "%s: not attempted: the time budget of this task is spent",
				      what);
			goto out;
		}
		char *url = xstrdup(url0);
		char *loc = NULL;
		CURLcode rc = CURLE_OK;
		int hops = 0;
		if (r->sink == SINK_FN && got > 0)
			r->range_start = (base_start < 0 ? 0 : base_start) + (int64_t)got;
		for (;;) {
			rc = perform_once(c, url, r, &loc);
			if (r->sink == SINK_FN)
				got += r->delivered;
			if (rc == CURLE_OK && r->status >= 300 && r->status < 400 && loc && !r->no_follow) {
				if (++hops > MAX_REDIRECTS) {
					hub_error_set(err, HUB_ERR_OTHER, r->status,
						      "%s: too many redirects", what);
					free(loc);
					ret = -ELOOP;
					free(url);
					goto out;
				}
				free(url);
				url = loc;
				loc = NULL;
				continue;
			}
			free(loc);
			loc = NULL;
			break;
		}
		free(url);
		if (r->sink_failed) {
			if (r->sink_errno == E2BIG)
				hub_error_set(err, HUB_ERR_OTHER, r->status,
					      "%s: response larger than the cap", what);
			else
				hub_error_set(err, HUB_ERR_OTHER, r->status, "%s: download aborted", what);
			ret = -r->sink_errno;
			goto out;
		}
		if (r->enough || (rc == CURLE_OK && r->status >= 200 && r->status < (r->no_follow ? 400 : 300))) {
			ret = 0;
			goto out;
		}
		bool retry;
		char detail[300];
		if (rc != CURLE_OK) {
			retry = true;
			scopy(detail, sizeof(detail), curl_easy_strerror(rc));
		} else {
			retry = retryable_status(r->status);
			char m[256];
			body_message(r, m, sizeof(m));
			snprintf(detail, sizeof(detail), "HTTP %ld%s%s", r->status, m[0] ? ": " : "", m);
		}
		if (r->status == 416 && r->range_start >= 0) {
			/* Range past the end: nothing to read. */
			ret = 0;
			goto out;
		}
		/* a host name that does not resolve twice is no network or a wrong
		 * endpoint, not a blip: fail in a second rather than after every retry */
		bool unresolved = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY;
		uint64_t delay = backoff_next(&bo);
		if (r->retry_after_s >= 0) {
			uint64_t ra = (uint64_t)r->retry_after_s * 1000u;
			delay = ra > c->opts.retry_max_ms ? c->opts.retry_max_ms : ra;
		}
		const char *spent = "";
		bool give_up = !retry || attempt >= c->opts.max_retries || (unresolved && attempt >= 1);
		if (!give_up && *(spent = budget_take_retry(c, delay)))
			give_up = true;
		if (give_up) {
			enum hub_err_kind k = rc != CURLE_OK ? HUB_ERR_OTHER
							     : hub_error_kind_for_status(r->status);
			if (k == HUB_OK)
				k = HUB_ERR_OTHER;
			hub_error_set(err, k, r->status, "%s: %s%s", what, detail,
				      *spent ? spent : retry ? " (giving up after retries)" : "");
			ret = k == HUB_ERR_AUTH ? -EACCES : k == HUB_ERR_NOT_FOUND ? -ENOENT : -EIO;
			goto out;
		}
		/* one line per request that needs retries; the later attempts at debug level */
		if (attempt == 0)
			LOG_WARN("hub request failed, retrying", "what=%s detail=\"%s\" attempt=%u delay_ms=%llu",
				 what, detail, attempt + 1, (unsigned long long)delay);
		else
			LOG_DEBUG("hub request failed, retrying", "what=%s detail=\"%s\" attempt=%u delay_ms=%llu",
				  what, detail, attempt + 1, (unsigned long long)delay);
		sleep_ms(delay);
	}
out:
	if (total)
		*total = got;
	buf_cleanup(&r->errbody);
	return ret;
}

static void req_init(struct req *r)
{
	memset(r, 0, sizeof(*r));
	r->range_start = -1;
	r->range_end = -1;
	r->sink = SINK_NONE;
	reset_headers(r);
}

static int get_json(struct hub_client *c, const char *url, const char *what, json_object **out,
		    char *next, size_t next_cap, struct hub_error *err)
{
	struct req r;
	struct buf body;
	int ret;
	req_init(&r);
	buf_init(&body, c->opts.max_json_bytes);
	r.sink = SINK_BUF;
	r.out = &body;
	r.out_len0 = 0;
	ret = perform(c, url, what, &r, NULL, err);
	if (ret < 0)
		goto out;
	if (next)
		snprintf(next, next_cap, "%s", r.link_next);
	json_tokener *tok = json_tokener_new_ex(64);
	json_object *j = json_tokener_parse_ex(tok, buf_str(&body), (int)body.len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t end = j ? json_tokener_get_parse_end(tok) : 0;
	json_tokener_free(tok);
	while (end < body.len && (body.data[end] == ' ' || body.data[end] == '\n' || body.data[end] == '\r' ||
				  body.data[end] == '\t'))
		end++;
	if (!j || jerr != json_tokener_success || end != body.len) {
		json_object_put(j);
		hub_error_set(err, HUB_ERR_OTHER, r.status, "%s: invalid JSON in the answer", what);
		ret = -EBADMSG;
		goto out;
	}
	*out = j;
out:
	buf_cleanup(&body);
	return ret;
}

int hub_model_info(struct hub_client *c, const char *repo, const char *revision, bool blobs,
		   json_object **out, struct hub_error *err)
{
	err_clear(err);
	char *r = escape(repo, true), *url, *what;
	if (revision && *revision) {
		char *v = escape(revision, false);
		url = xasprintf("%s/api/models/%s/revision/%s%s", c->endpoint, r, v,
				blobs ? "?blobs=true" : "");
		free(v);
	} else {
		url = xasprintf("%s/api/models/%s%s", c->endpoint, r, blobs ? "?blobs=true" : "");
	}
	what = xasprintf("model info %s@%s", repo, revision && *revision ? revision : "default");
	int ret = get_json(c, url, what, out, NULL, 0, err);
	if (ret == 0 && !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		hub_error_set(err, HUB_ERR_OTHER, 200, "%s: answer is not an object", what);
		ret = -EBADMSG;
	}
	free(r);
	free(url);
	free(what);
	return ret;
}

int hub_tree(struct hub_client *c, const char *repo, const char *revision, bool recursive,
	     json_object **out, struct hub_error *err)
{
	err_clear(err);
	char *r = escape(repo, true), *v = escape(revision && *revision ? revision : "main", false);
	char *url = xasprintf("%s/api/models/%s/tree/%s%s", c->endpoint, r, v,
			      recursive ? "?recursive=true" : "");
	char *what = xasprintf("tree %s@%s", repo, revision && *revision ? revision : "main");
	json_object *all = json_object_new_array();
	int ret = 0;
	char *next = xmalloc(HDR_MAX);
	for (int page = 0; page < 1000; page++) {
		json_object *j = NULL;
		ret = get_json(c, url, what, &j, next, HDR_MAX, err);
		if (ret < 0)
			break;
		if (!json_object_is_type(j, json_type_array)) {
			json_object_put(j);
			hub_error_set(err, HUB_ERR_OTHER, 200, "%s: answer is not an array", what);
			ret = -EBADMSG;
			break;
		}
		size_t n = json_object_array_length(j);
		for (size_t i = 0; i < n; i++)
			json_object_array_add(all, json_object_get(json_object_array_get_idx(j, i)));
		json_object_put(j);
		if (!next[0])
			break;
		/* Only follow pages on the endpoint's origin. */
		char *o = hub_url_origin(next);
		bool same = o && strcmp(o, c->origin) == 0;
		free(o);
		if (!same)
			break;
		free(url);
		url = xstrdup(next);
	}
	if (ret < 0)
		json_object_put(all);
	else
		*out = all;
	free(next);
	free(r);
	free(v);
	free(url);
	free(what);
	return ret;
}

int hub_head(struct hub_client *c, const char *repo, const char *revision, const char *path,
	     struct hub_file_meta *out, struct hub_error *err)
{
	err_clear(err);
	struct req r;
	char *url = resolve_url(c, repo, revision, path);
	char *what = xasprintf("HEAD %s/%s", repo, path);
	req_init(&r);
	r.head = true;
	r.no_follow = true;   /* the X-Linked-* headers are on the redirect itself */
	int ret = perform(c, url, what, &r, NULL, err);
	if (ret == 0) {
		memset(out, 0, sizeof(*out));
		out->size = r.linked_size >= 0 ? r.linked_size : r.content_length;
		out->lfs = r.linked_etag[0] != '\0';
		scopy(out->etag, sizeof(out->etag), out->lfs ? r.linked_etag : r.etag);
		scopy(out->commit, sizeof(out->commit), r.commit);
	}
	free(url);
	free(what);
	return ret;
}

int hub_read_range(struct hub_client *c, const char *repo, const char *revision, const char *path,
		   uint64_t offset, uint64_t length, struct buf *out, struct hub_error *err)
{
	err_clear(err);
	if (length == 0)
		return 0;
	struct req r;
	char *url = resolve_url(c, repo, revision, path);
	char *what = xasprintf("range %s/%s", repo, path);
	req_init(&r);
	r.sink = SINK_BUF;
	r.out = out;
	r.limit = length;
	r.range_start = (int64_t)offset;
	r.range_end = (int64_t)(offset + length - 1);
	r.out_len0 = out->len;
	int ret = perform(c, url, what, &r, NULL, err);
	free(url);
	free(what);
	return ret;
}

int hub_download(struct hub_client *c, const char *repo, const char *revision, const char *path,
		 uint64_t offset, hub_write_fn write, void *ud, uint64_t *received,
		 struct hub_error *err)
{
	err_clear(err);
	struct req r;
	char *url = resolve_url(c, repo, revision, path);
	char *what = xasprintf("download %s/%s", repo, path);
	uint64_t total = 0;
	req_init(&r);
	r.sink = SINK_FN;
	r.fn = write;
	r.ud = ud;
	r.range_start = offset > 0 ? (int64_t)offset : -1;
	int ret = perform(c, url, what, &r, &total, err);
	if (received)
		*received = total;
	free(url);
	free(what);
	return ret;
}
