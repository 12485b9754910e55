#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

struct http_conn {
	struct http_server *srv;
	int fd;
	SSL *ssl;
	pthread_t th;
	int done;
	int close_after;
	struct buf in;
	struct http_conn *next;
};

struct http_server {
	struct http_server_opts o;
	int lfd;
	int port;
	_Atomic int stop;
	pthread_t accept_th;
	pthread_mutex_t mu;
	struct http_conn *conns;
};

/* ---------------------------------------------------------------- I/O */

static ssize_t conn_read(struct http_conn *c, void *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, (int)n);
		return r > 0 ? r : -1;
	}
	ssize_t r;
	do
		r = recv(c->fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	return r > 0 ? r : -1;
}

static int conn_write_all(struct http_conn *c, const void *p, size_t n)
{
	const char *d = p;
	while (n) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, d, (int)n);
			w = r > 0 ? r : -1;
		} else {
			do
				w = send(c->fd, d, n, MSG_NOSIGNAL);
			while (w < 0 && errno == EINTR);
		}
		if (w <= 0)
			return -1;
		d += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make sure at least `need` bytes are buffered; 0 or -1. */
static int fill(struct http_conn *c, size_t need)
{
	char tmp[16384];
	while (c->in.len < need) {
		ssize_t r = conn_read(c, tmp, sizeof(tmp));
		if (r <= 0)
			return -1;
		if (buf_append(&c->in, tmp, (size_t)r) < 0)
			return -1;
	}
	return 0;
}

/* Read up to and including "\r\n" (line without it into *out). */
static int read_line(struct http_conn *c, char **out, size_t max)
{
	for (;;) {
		char *nl = c->in.data ? memmem(c->in.data, c->in.len, "\r\n", 2) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - c->in.data);
			*out = xstrndup(c->in.data, n);
			buf_consume(&c->in, n + 2);
			return 0;
		}
		if (c->in.len > max)
			return -1;
		if (fill(c, c->in.len + 1) < 0)
			return -1;
	}
}

/* ---------------------------------------------------------------- responses */

static const char *reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Request Entity Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

int http_respond(struct http_req *r, int code, const char *ctype, const char *body, size_t len,
		 const char *extra_headers)
{
	struct http_conn *c = r->conn;
	r->code = code;
	char *head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			       "Cache-Control: no-cache, private\r\n%s%s\r\n",
			       code, reason_phrase(code), ctype ? ctype : "application/json", len,
			       extra_headers ? extra_headers : "", c->close_after ? "Connection: close\r\n" : "");
	/* one write for head and body: one TLS record / TCP segment train */
	size_t hl = strlen(head), bl = (len && strcmp(r->method, "HEAD") != 0) ? len : 0;
	char *all = xmalloc(hl + bl);
	memcpy(all, head, hl);
	if (bl)
		memcpy(all + hl, body, bl);
	free(head);
	int rc = conn_write_all(c, all, hl + bl);
	free(all);
	if (rc < 0)
		c->close_after = 1;
	return rc;
}

int http_stream_begin(struct http_req *r, int code, const char *ctype)
{
	struct http_conn *c = r->conn;
	r->code = code;
	char *head = xasprintf("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
			       "Cache-Control: no-cache, private\r\n\r\n",
			       code, reason_phrase(code), ctype ? ctype : "application/json");
	int rc = conn_write_all(c, head, strlen(head));
	free(head);
	if (rc < 0)
		c->close_after = 1;
	return rc;
}

int http_stream_write(struct http_req *r, const char *data, size_t len)
{
	struct http_conn *c = r->conn;
	if (!len)
		return 0;
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
	char *chunk = xmalloc((size_t)n + len + 2);
	memcpy(chunk, hdr, (size_t)n);
	memcpy(chunk + n, data, len);
	memcpy(chunk + n + len, "\r\n", 2);
	int rc = conn_write_all(c, chunk, (size_t)n + len + 2);
	free(chunk);
	if (rc < 0) {
		c->close_after = 1;
		return -1;
	}
	return 0;
}

int http_stream_end(struct http_req *r, int close)
{
	struct http_conn *c = r->conn;
	if (close)
		c->close_after = 1;
	if (conn_write_all(c, "0\r\n\r\n", 5) < 0) {
		c->close_after = 1;
		return -1;
	}
	return 0;
}

int http_peer_alive(struct http_req *r)
{
	struct http_conn *c = r->conn;
	struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return 1;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
		return 0;
	if (!c->ssl && (p.revents & POLLIN)) {
		char ch;
		ssize_t n = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0)
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- requests */

static int read_body(struct http_conn *c, struct http_req *r, long long clen, int chunked)
{
	struct buf body;
	buf_init(&body, HTTP_BODY_MAX);
	int rc = -1;
	if (chunked) {
		for (;;) {
			char *line = NULL;
			if (read_line(c, &line, 1024) < 0)
				goto out;
			unsigned long long n = strtoull(line, NULL, 16);
			free(line);
			if (n > HTTP_BODY_MAX)
				goto out;
			if (n == 0) {
				/* trailers until an empty line */
				for (;;) {
					if (read_line(c, &line, 8192) < 0)
						goto out;
					int empty = line[0] == 0;
					free(line);
					if (empty)
						break;
				}
				break;
			}
			if (fill(c, (size_t)n + 2) < 0 || buf_append(&body, c->in.data, (size_t)n) < 0)
				goto out;
			buf_consume(&c->in, (size_t)n + 2);
		}
	} else if (clen > 0) {
		if (clen > HTTP_BODY_MAX || fill(c, (size_t)clen) < 0)
			goto out;
		if (buf_append(&body, c->in.data, (size_t)clen) < 0)
			goto out;
		buf_consume(&c->in, (size_t)clen);
	}
	r->body = buf_take(&body, &r->body_len);
	rc = 0;
out:
	buf_cleanup(&body);
	return rc;
}

static void req_free(struct http_req *r)
{
	free(r->path);
	free(r->query);
	free(r->accept);
	free(r->content_type);
	free(r->authorization);
	free(r->user_agent);
	free(r->body);
}

/* 0 ok, -1 connection done. */
static int serve_one(struct http_conn *c, int cert_ok, const char *cn)
{
	struct http_req r;
	memset(&r, 0, sizeof(r));
	r.conn = c;
	r.client_cert_ok = cert_ok;
	snprintf(r.client_cn, sizeof(r.client_cn), "%s", cn);
	char *line = NULL;
	int rc = -1;
	long long clen = 0;
	int chunked = 0, expect_continue = 0;
	size_t hdr_total = 0;
	do {
		free(line);
		line = NULL;
		if (read_line(c, &line, HTTP_HEADER_MAX) < 0)
			goto out;
	} while (line[0] == 0); /* tolerate stray CRLF between requests */
	/* METHOD SP request-target SP HTTP-version (the target may be long:
	 * label selectors; the line is already capped at HTTP_HEADER_MAX) */
	char version[16] = "";
	char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strrchr(line, ' ') : NULL;
	if (!sp1 || sp2 == sp1 || (size_t)(sp1 - line) >= sizeof(r.method) ||
	    strlen(sp2 + 1) >= sizeof(version)) {
		free(line);
		goto out;
	}
	memcpy(r.method, line, (size_t)(sp1 - line));
	r.method[sp1 - line] = 0;
	snprintf(version, sizeof(version), "%s", sp2 + 1);
	char *target = xstrndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	free(line);
	line = NULL;
	char *q = strchr(target, '?');
	if (q) {
		*q = 0;
		r.query = xstrdup(q + 1);
	} else {
		r.query = xstrdup("");
	}
	r.path = target;
	r.accept = xstrdup("");
	r.content_type = xstrdup("");
	r.authorization = xstrdup("");
	r.user_agent = xstrdup("");
	if (strcmp(version, "HTTP/1.0") == 0)
		c->close_after = 1;
	for (;;) {
		if (read_line(c, &line, HTTP_HEADER_MAX) < 0)
			goto out;
		hdr_total += strlen(line);
		if (hdr_total > HTTP_HEADER_MAX)
			goto out;
		if (line[0] == 0)
			break;
		char *colon = strchr(line, ':');
		if (colon) {
			*colon = 0;
			char *v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			if (strcasecmp(line, "Accept") == 0) {
				free(r.accept);
				r.accept = xstrdup(v);
			} else if (strcasecmp(line, "Content-Type") == 0) {
				free(r.content_type);
				r.content_type = xstrdup(v);
			} else if (strcasecmp(line, "Authorization") == 0) {
				free(r.authorization);
				r.authorization = xstrdup(v);
			} else if (strcasecmp(line, "User-Agent") == 0) {
				free(r.user_agent);
				r.user_agent = xstrdup(v);
			} else if (strcasecmp(line, "Content-Length") == 0) {
				clen = atoll(v);
			} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
				chunked = strcasestr(v, "chunked") != NULL;
			} else if (strcasecmp(line, "Connection") == 0) {
				if (strcasestr(v, "close"))
					c->close_after = 1;
			} else if (strcasecmp(line, "Expect") == 0) {
				expect_continue = strcasecmp(v, "100-continue") == 0;
			}
		}
		free(line);
		line = NULL;
	}
	free(line);
	line = NULL;
	if (clen < 0 || clen > HTTP_BODY_MAX) {
		c->close_after = 1;
		http_respond(&r, 413, "text/plain", "request body too large\n", 23, NULL);
		goto out;
	}
	if (expect_continue && (clen > 0 || chunked) && conn_write_all(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
		goto out;
	if (read_body(c, &r, clen, chunked) < 0)
		goto out;
	c->srv->o.handler(c->srv->o.ctx, &r);
	rc = c->close_after ? -1 : 0;
out:
	free(line);
	req_free(&r);
	return rc;
}

static void *conn_main(void *arg)
{
	struct http_conn *c = arg;
	int cert_ok = 0;
	char cn[128] = "";
	if (c->ssl) {
		struct timeval tv = {10, 0};
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (SSL_accept(c->ssl) != 1) {
			LOG_DEBUG("tls handshake failed", "err=%s", ERR_reason_error_string(ERR_get_error()));
			ERR_clear_error();
			goto out;
		}
		struct timeval zero = {0, 0};
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &zero, sizeof(zero));
		X509 *peer = SSL_get1_peer_certificate(c->ssl);
		if (peer) {
			if (SSL_get_verify_result(c->ssl) == X509_V_OK) {
				cert_ok = 1;
				X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
			}
			X509_free(peer);
		}
	}
	while (!c->srv->stop && serve_one(c, cert_ok, cn) == 0)
		;
out:
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	pthread_mutex_lock(&c->srv->mu);
	shutdown(c->fd, SHUT_RDWR);
	c->done = 1;
	pthread_mutex_unlock(&c->srv->mu);
	return NULL;
}

/* Join and free finished connections (all when `all`). */
static void reap(struct http_server *srv, int all)
{
	for (;;) {
		struct http_conn *victim = NULL;
		pthread_mutex_lock(&srv->mu);
		for (struct http_conn **pp = &srv->conns; *pp; pp = &(*pp)->next) {
			if ((*pp)->done || all) {
				victim = *pp;
				*pp = victim->next;
				break;
			}
		}
		pthread_mutex_unlock(&srv->mu);
		if (!victim)
			return;
		pthread_join(victim->th, NULL);
		close(victim->fd);
		buf_cleanup(&victim->in);
		free(victim);
	}
}

static void *accept_main(void *arg)
{
	struct http_server *srv = arg;
	while (!srv->stop) {
		struct pollfd p = {.fd = srv->lfd, .events = POLLIN};
		int n = poll(&p, 1, 200);
		reap(srv, 0);
		if (n <= 0)
			continue;
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct http_conn *c = xcalloc(1, sizeof(*c));
		c->srv = srv;
		c->fd = fd;
		buf_init(&c->in, HTTP_HEADER_MAX + HTTP_BODY_MAX + 65536);
		if (srv->o.ssl_ctx) {
			c->ssl = SSL_new(srv->o.ssl_ctx);
			SSL_set_fd(c->ssl, fd);
		}
		pthread_mutex_lock(&srv->mu);
		if (pthread_create(&c->th, NULL, conn_main, c) != 0) {
			pthread_mutex_unlock(&srv->mu);
			if (c->ssl)
				SSL_free(c->ssl);
			close(fd);
			buf_cleanup(&c->in);
			free(c);
			continue;
		}
		c->next = srv->conns;
		srv->conns = c;
		pthread_mutex_unlock(&srv->mu);
	}
	return NULL;
}

int http_server_start(const struct http_server_opts *o, struct http_server **out)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	srv->o = *o;
	pthread_mutex_init(&srv->mu, NULL);
	srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv->lfd < 0)
		goto fail;
	int one = 1;
	setsockopt(srv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(srv->lfd, 128) < 0)
		goto fail;
	socklen_t al = sizeof(a);
	getsockname(srv->lfd, (struct sockaddr *)&a, &al);
	srv->port = ntohs(a.sin_port);
	if (pthread_create(&srv->accept_th, NULL, accept_main, srv) != 0)
		goto fail;
	*out = srv;
	return 0;
fail:;
	int e = errno ? -errno : -EIO;
	if (srv->lfd >= 0)
		close(srv->lfd);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
	return e;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	srv->stop = 1;
	pthread_join(srv->accept_th, NULL);
	close(srv->lfd);
	pthread_mutex_lock(&srv->mu);
	for (struct http_conn *c = srv->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&srv->mu);
	reap(srv, 1);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
}
