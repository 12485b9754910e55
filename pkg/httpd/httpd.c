/* HTTP(S) server on libwebsockets (see httpd.h). */
#include "httpd/httpd.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include "metrics/metrics.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_ROUTES 32
#define METHOD_MAX 12
#define PATH_MAX_LEN 512
#define QUERY_MAX 2048
#define CTYPE_MAX 256
#define CHUNK 16384
#define CERT_FILE_MAX (1u << 20)
#define DEFAULT_CTYPE "text/plain; charset=utf-8"

struct route {
	char method[METHOD_MAX];
	char path[PATH_MAX_LEN];
	httpd_handler_fn fn;
	void *arg;
};

struct httpd {
	char *name;
	char *iface;           /* NULL = all interfaces */
	char *cert;
	char *key;
	int port;
	size_t max_body;
	unsigned reload_ms;
	struct lws_context *ctx;
	struct lws_protocols protocols[2];
	struct route routes[MAX_ROUTES];
	size_t nroutes;
	pthread_t thread;
	bool started;
	bool joined;
	atomic_bool stop;
	lws_sorted_usec_list_t sul;
	SSL_CTX *ssl_ctx;      /* the vhost's, captured at creation */
	char cert_digest[SHA256_HEX_LEN + 1];
	char key_digest[SHA256_HEX_LEN + 1];
	char bad_digest[2 * SHA256_HEX_LEN + 1];   /* last pair that failed, to log once */
	atomic_uint_fast64_t reloads;
};

/* Per connection (lws allocates it zeroed; reused across keep-alive requests). */
struct pss {
	char method[METHOD_MAX];
	char path[PATH_MAX_LEN];
	char query[QUERY_MAX];
	char ctype[CTYPE_MAX];
	struct buf body;
	bool body_init;
	bool too_large;
	bool close_after;
	bool dispatched;       /* one response per request */
	char *out;
	size_t out_len;
	size_t out_off;
};

/* ---- logging bridge ---- */

static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		LOG_ERROR("lws", "detail=%.*s", (int)n, line);
	else
		LOG_WARN("lws", "detail=%.*s", (int)n, line);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void log_init_once(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
}

/* ---- per-request state ---- */

static void pss_reset(struct pss *ps)
{
	if (ps->body_init)
		buf_cleanup(&ps->body);
	free(ps->out);
	memset(ps, 0, sizeof(*ps));
}

static const char *method_name(int m)
{
	switch (m) {
	case LWSHUMETH_GET: return "GET";
	case LWSHUMETH_POST: return "POST";
	case LWSHUMETH_OPTIONS: return "OPTIONS";
	case LWSHUMETH_PUT: return "PUT";
	case LWSHUMETH_PATCH: return "PATCH";
	case LWSHUMETH_DELETE: return "DELETE";
	case LWSHUMETH_CONNECT: return "CONNECT";
	case LWSHUMETH_HEAD: return "HEAD";
	default: return NULL;
	}
}

static void copy_hdr(struct lws *wsi, enum lws_token_indexes t, char *out, size_t n)
{
	out[0] = 0;
	if (lws_hdr_total_length(wsi, t) > 0 && lws_hdr_copy(wsi, out, (int)n, t) < 0)
		out[0] = 0;
}

/* The query arguments (lws keeps them as %-decoded fragments) joined by '&'. */
static void copy_query(struct lws *wsi, char *out, size_t n)
{
	char frag[QUERY_MAX];
	size_t used = 0;

	out[0] = 0;
	for (int i = 0; i < 64; i++) {
		int len = lws_hdr_copy_fragment(wsi, frag, (int)sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		int w;

		if (len < 0)
			break;
		w = snprintf(out + used, n - used, "%s%s", used ? "&" : "", frag);
		if (w < 0 || (size_t)w >= n - used) {
			out[used] = 0;
			break;
		}
		used += (size_t)w;
	}
}

/* Write the status line and headers, then ask for WRITEABLE to send the body. */
static int send_response(struct lws *wsi, struct pss *ps, int status, const char *ctype,
			 const char *allow)
{
	unsigned char hb[LWS_PRE + 2048];
	unsigned char *start = hb + LWS_PRE, *p = start, *end = hb + sizeof(hb) - 1;

	if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype, (lws_filepos_t)ps->out_len, &p, end))
		return -1;
	if (allow && lws_add_http_header_by_name(wsi, (const unsigned char *)"allow:",
						 (const unsigned char *)allow, (int)strlen(allow), &p, end))
		return -1;
	if (ps->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
							   (const unsigned char *)"close", 5, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

/* Exact path, or a prefix ending in a slash and a star: one more non-empty
 * segment after the prefix. */
static bool route_matches(const char *route, const char *path)
{
	size_t n = strlen(route);
	if (n >= 2 && strcmp(route + n - 2, "/*") == 0) {
		if (strncmp(route, path, n - 1) != 0)
			return false;
		const char *seg = path + n - 1;
		return *seg && !strchr(seg, '/');
	}
	return strcmp(route, path) == 0;
}

static int dispatch(struct httpd *h, struct lws *wsi, struct pss *ps)
{
	struct httpd_request rq = { 0 };
	struct httpd_response rs = { .status = 200, .content_type = DEFAULT_CTYPE };
	const struct route *match = NULL;
	char allow[128] = "";
	bool path_known = false;

	if (ps->dispatched)
		return 0;
	ps->dispatched = true;
	if (ps->too_large) {
		ps->close_after = true;
		ps->out = xasprintf("request body exceeds %zu bytes\n", h->max_body);
		ps->out_len = strlen(ps->out);
		return send_response(wsi, ps, 413, DEFAULT_CTYPE, NULL);
	}
	for (size_t i = 0; i < h->nroutes; i++) {
		if (!route_matches(h->routes[i].path, ps->path))
			continue;
		path_known = true;
		if (strcmp(h->routes[i].method, ps->method) == 0) {
			match = &h->routes[i];
			break;
		}
		if (strlen(allow) + strlen(h->routes[i].method) + 3 < sizeof(allow)) {
			if (*allow)
				strcat(allow, ", ");
			strcat(allow, h->routes[i].method);
		}
	}
	if (!match) {
		ps->out = xstrdup(path_known ? "method not allowed\n" : "not found\n");
		ps->out_len = strlen(ps->out);
		return send_response(wsi, ps, path_known ? 405 : 404, DEFAULT_CTYPE,
				     path_known ? allow : NULL);
	}
	rq.method = ps->method;
	rq.path = ps->path;
	rq.query = ps->query;
	rq.content_type = ps->ctype;
	rq.body = ps->body_init ? buf_str(&ps->body) : "";
	rq.body_len = ps->body_init ? ps->body.len : 0;
	if (match->fn(match->arg, &rq, &rs) < 0) {
		free(rs.body);
		LOG_WARN("http handler failed", "server=%s method=%s path=%s", h->name, ps->method, ps->path);
		rs.status = 500;
		rs.content_type = DEFAULT_CTYPE;
		rs.body = xstrdup("internal error\n");
		rs.body_len = 0;
	}
	if (rs.status < 100 || rs.status > 599)
		rs.status = 500;
	if (rs.body && rs.body_len == 0)
		rs.body_len = strlen(rs.body);
	ps->out = rs.body;
	ps->out_len = rs.body ? rs.body_len : 0;
	return send_response(wsi, ps, rs.status, rs.content_type ? rs.content_type : DEFAULT_CTYPE, NULL);
}

static int write_body(struct lws *wsi, struct pss *ps)
{
	unsigned char b[LWS_PRE + CHUNK];
	size_t n = ps->out_len - ps->out_off;
	bool last;

	if (n > CHUNK)
		n = CHUNK;
	last = ps->out_off + n >= ps->out_len;
	if (n > 0) {
		memcpy(b + LWS_PRE, ps->out + ps->out_off, n);
		if (lws_write(wsi, b + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
			return -1;
		ps->out_off += n;
	}
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	free(ps->out);
	ps->out = NULL;
	if (ps->close_after)
		return -1;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

static int cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *lc = lws_get_context(wsi);
	struct httpd *h = lc ? lws_context_user(lc) : NULL;
	struct pss *ps = user;

	switch (reason) {
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* user is the vhost's SSL_CTX: kept to reload the certificate */
		if (h && user) {
			h->ssl_ctx = (SSL_CTX *)user;
			/* TLS 1.2 or newer (the header's promise) */
			SSL_CTX_set_min_proto_version(h->ssl_ctx, TLS1_2_VERSION);
		}
		return 0;

	case LWS_CALLBACK_HTTP: {
		char *uri = NULL;
		int ulen = 0, m;
		const char *mn;

		if (!h || !ps)
			return -1;
		pss_reset(ps);
		m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
		mn = method_name(m);
		snprintf(ps->method, sizeof(ps->method), "%s", mn ? mn : "UNKNOWN");
		if (snprintf(ps->path, sizeof(ps->path), "%s", in ? (const char *)in : "/") >= (int)sizeof(ps->path)) {
			ps->close_after = true;
			ps->out = xstrdup("uri too long\n");
			ps->out_len = strlen(ps->out);
			return send_response(wsi, ps, 414, DEFAULT_CTYPE, NULL);
		}
		copy_query(wsi, ps->query, sizeof(ps->query));
		copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ps->ctype, sizeof(ps->ctype));
		if (m == LWSHUMETH_POST || m == LWSHUMETH_PUT || m == LWSHUMETH_PATCH) {
			char cl[32];

			copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl));
			buf_init(&ps->body, h->max_body);
			ps->body_init = true;
			if (cl[0] && strtoull(cl, NULL, 10) > h->max_body) {
				ps->too_large = true;
				return dispatch(h, wsi, ps);
			}
			if (cl[0] && strtoull(cl, NULL, 10) > 0)
				return 0;   /* wait for HTTP_BODY ... BODY_COMPLETION */
			if (!cl[0] && lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
				return 0;   /* chunked */
		}
		return dispatch(h, wsi, ps);
	}

	case LWS_CALLBACK_HTTP_BODY:
		if (!ps || !ps->body_init)
			return 0;
		if (!ps->too_large && buf_append(&ps->body, in, len) < 0)
			ps->too_large = true;
		return 0;

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (!h || !ps)
			return -1;
		return dispatch(h, wsi, ps);

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!ps || (!ps->out && ps->out_len))
			return -1;
		return write_body(wsi, ps);

	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (ps)
			pss_reset(ps);
		break;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- certificate reload ---- */

static int file_digest(const char *path, char out[SHA256_HEX_LEN + 1])
{
	FILE *f = fopen(path, "rb");
	struct digest *d;
	char b[8192];
	size_t n, total = 0;

	if (!f)
		return -errno;
	d = digest_new(DIGEST_SHA256);
	while ((n = fread(b, 1, sizeof(b), f)) > 0) {
		total += n;
		if (total > CERT_FILE_MAX)
			break;
		digest_update(d, b, n);
	}
	fclose(f);
	digest_final_hex(d, out);
	digest_free(d);
	return total > CERT_FILE_MAX ? -E2BIG : 0;
}

static int load_pair(SSL_CTX *ctx, const char *cert, const char *key)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return -1;
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return -1;
	if (SSL_CTX_check_private_key(ctx) != 1)
		return -1;
	return 0;
}

static void check_certs(struct httpd *h)
{
	char cd[SHA256_HEX_LEN + 1], kd[SHA256_HEX_LEN + 1], both[2 * SHA256_HEX_LEN + 1];
	SSL_CTX *probe;
	int ok;

	if (!h->cert || !h->ssl_ctx)
		return;
	if (file_digest(h->cert, cd) < 0 || file_digest(h->key, kd) < 0)
		return;   /* mid-rotation: try again next time */
	if (strcmp(cd, h->cert_digest) == 0 && strcmp(kd, h->key_digest) == 0)
		return;
	snprintf(both, sizeof(both), "%s%s", cd, kd);
	if (strcmp(both, h->bad_digest) == 0)
		return;
	/* Validate the new pair on a scratch context before touching the live one. */
	probe = SSL_CTX_new(TLS_server_method());
	ok = probe && load_pair(probe, h->cert, h->key) == 0;
	SSL_CTX_free(probe);
	if (!ok || load_pair(h->ssl_ctx, h->cert, h->key) < 0) {
		LOG_WARN("tls certificate changed but does not load; keeping the old one",
			 "server=%s cert=%s key=%s", h->name, h->cert, h->key);
		snprintf(h->bad_digest, sizeof(h->bad_digest), "%s", both);
		return;
	}
	memcpy(h->cert_digest, cd, sizeof(cd));
	memcpy(h->key_digest, kd, sizeof(kd));
	h->bad_digest[0] = 0;
	atomic_fetch_add(&h->reloads, 1);
	LOG_INFO("tls certificate reloaded", "server=%s cert=%s", h->name, h->cert);
}

static void sul_reload(lws_sorted_usec_list_t *sul)
{
	struct httpd *h = lws_container_of(sul, struct httpd, sul);

	check_certs(h);
	lws_sul_schedule(h->ctx, 0, &h->sul, sul_reload, (lws_usec_t)h->reload_ms * LWS_US_PER_MS);
}

/* ---- lifecycle ---- */

static int parse_listen(const char *s, char **iface, int *port)
{
	const char *colon, *host_end, *host = s;
	char *end = NULL;
	unsigned long p;

	*iface = NULL;
	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		host_end = strchr(s, ']');
		if (!host_end || host_end[1] != ':')
			return -EINVAL;
		host = s + 1;
		colon = host_end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		host_end = colon;
	}
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535)
		return -EINVAL;
	*port = (int)p;
	if (host_end > host) {
		*iface = xstrndup(host, (size_t)(host_end - host));
		if (strcmp(*iface, "localhost") == 0) {
			free(*iface);
			*iface = xstrdup("127.0.0.1");
		}
	}
	return 0;
}

/* Can iface:port be bound? lws 4.1 leaks a little when its listener fails
 * to bind, and cannot say why; probing first gives -EADDRINUSE cleanly. */
static int probe_bind(const char *iface, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST };
	struct addrinfo *res = NULL;
	char ps[16];
	int rc, fd, one = 1;

	if (port == 0)
		return 0;
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(iface, ps, &hints, &res) != 0)
		return 0;   /* not numeric (interface name): let lws decide */
	rc = 0;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 && errno == EADDRINUSE)
			rc = -EADDRINUSE;
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

int httpd_new(const struct httpd_opts *o, struct httpd **out)
{
	struct lws_context_creation_info info;
	struct httpd *h;
	struct lws_vhost *vh;
	int rc;

	*out = NULL;
	if (!o || !o->listen || (!o->tls_cert_file != !o->tls_key_file))
		return -EINVAL;
	pthread_once(&log_once, log_init_once);
	h = xcalloc(1, sizeof(*h));
	rc = parse_listen(o->listen, &h->iface, &h->port);
	if (rc < 0) {
		free(h);
		return rc;
	}
	h->name = xstrdup(o->name ? o->name : "http");
	rc = probe_bind(h->iface, h->port);
	if (rc < 0) {
		LOG_ERROR("http server could not listen: address in use", "server=%s listen=%s",
			  h->name, o->listen);
		httpd_free(h);
		return rc;
	}
	h->cert = xstrdup(o->tls_cert_file);
	h->key = xstrdup(o->tls_key_file);
	h->max_body = o->max_body ? o->max_body : (1u << 20);
	h->reload_ms = o->reload_interval_ms ? o->reload_interval_ms : 1000;
	atomic_init(&h->stop, false);
	atomic_init(&h->reloads, 0);
	h->protocols[0].name = "http";
	h->protocols[0].callback = cb_http;
	h->protocols[0].per_session_data_size = sizeof(struct pss);

	memset(&info, 0, sizeof(info));
	info.port = h->port;
	info.iface = h->iface;
	info.protocols = h->protocols;
	info.vhost_name = "default";
	info.user = h;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	info.max_http_header_data = 8192;
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	if (h->iface && strchr(h->iface, ':'))
		info.options = 0;   /* an IPv6 literal */
	if (!h->iface)
		info.options = 0;   /* all interfaces: dual stack where available */
	if (h->cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = h->cert;
		info.ssl_private_key_filepath = h->key;
		info.alpn = "http/1.1";
		info.ssl_options_set = SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
		if (file_digest(h->cert, h->cert_digest) < 0 || file_digest(h->key, h->key_digest) < 0) {
			LOG_ERROR("cannot read tls certificate or key", "server=%s cert=%s key=%s",
				  h->name, h->cert, h->key);
			httpd_free(h);
			return -EIO;
		}
	}
	h->ctx = lws_create_context(&info);
	if (!h->ctx && !h->iface && !(info.options & LWS_SERVER_OPTION_DISABLE_IPV6)) {
		/* no IPv6 on this host: retry IPv4 only */
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
		h->ctx = lws_create_context(&info);
	}
	if (!h->ctx) {
		LOG_ERROR("http server could not start", "server=%s listen=%s", h->name, o->listen);
		httpd_free(h);
		return -EIO;
	}
	vh = lws_get_vhost_by_name(h->ctx, "default");
	if (!vh || lws_get_vhost_listen_port(vh) <= 0) {
		LOG_ERROR("http server could not listen", "server=%s listen=%s", h->name, o->listen);
		httpd_free(h);
		return -EADDRINUSE;
	}
	h->port = lws_get_vhost_listen_port(vh);
	if (h->cert && !h->ssl_ctx)
		LOG_WARN("tls context not captured; certificate reload disabled", "server=%s", h->name);
	if (h->cert)
		lws_sul_schedule(h->ctx, 0, &h->sul, sul_reload, (lws_usec_t)h->reload_ms * LWS_US_PER_MS);
	LOG_INFO("http server listening", "server=%s listen=%s port=%d tls=%s", h->name, o->listen,
		 h->port, h->cert ? "true" : "false");
	*out = h;
	return 0;
}

int httpd_route(struct httpd *h, const char *method, const char *path, httpd_handler_fn fn, void *arg)
{
	struct route *r;

	if (!h || !method || !path || !fn || path[0] != '/' || strlen(method) >= METHOD_MAX ||
	    strlen(path) >= PATH_MAX_LEN)
		return -EINVAL;
	if (h->started)
		return -EBUSY;
	for (size_t i = 0; i < h->nroutes; i++)
		if (strcmp(h->routes[i].method, method) == 0 && strcmp(h->routes[i].path, path) == 0)
			return -EEXIST;
	if (h->nroutes >= MAX_ROUTES)
		return -ENOSPC;
	r = &h->routes[h->nroutes++];
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", path);
	r->fn = fn;
	r->arg = arg;
	return 0;
}

static int metrics_handler(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	char *text = NULL;

	if (metrics_render(arg, &text) < 0)
		return -1;
	resp->status = 200;
	resp->content_type = METRICS_CONTENT_TYPE;
	resp->body = text;
	resp->body_len = strlen(text);
	return 0;
}

int httpd_route_metrics(struct httpd *h, const char *path, struct metrics_registry *r)
{
	return httpd_route(h, "GET", path, metrics_handler, r ? r : metrics_default());
}

static void *service_main(void *arg)
{
	struct httpd *h = arg;

	while (!atomic_load(&h->stop))
		if (lws_service(h->ctx, 0) < 0)
			break;
	return NULL;
}

int httpd_start(struct httpd *h)
{
	int rc;

	if (!h)
		return -EINVAL;
	if (h->started)
		return -EBUSY;
	rc = pthread_create(&h->thread, NULL, service_main, h);
	if (rc)
		return -rc;
	h->started = true;
	return 0;
}

int httpd_port(const struct httpd *h)
{
	return h ? h->port : -1;
}

uint64_t httpd_cert_reloads(const struct httpd *h)
{
	return h ? (uint64_t)atomic_load(&((struct httpd *)h)->reloads) : 0;
}

void httpd_stop(struct httpd *h)
{
	if (!h || !h->started || h->joined)
		return;
	atomic_store(&h->stop, true);
	lws_cancel_service(h->ctx);
	pthread_join(h->thread, NULL);
	h->joined = true;
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	httpd_stop(h);
	if (h->ctx)
		lws_context_destroy(h->ctx);
	free(h->name);
	free(h->iface);
	free(h->cert);
	free(h->key);
	free(h);
}

void httpd_respond(struct httpd_response *resp, int status, const char *content_type, const char *text)
{
	resp->status = status;
	resp->content_type = content_type ? content_type : DEFAULT_CTYPE;
	free(resp->body);
	resp->body = xstrdup(text ? text : "");
	resp->body_len = strlen(resp->body);
}
