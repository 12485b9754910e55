#include "testserver/testserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR_MAX (64 * 1024)
#define BODY_MAX (16 * 1024 * 1024)

struct ts_conn {
	struct ts_server *s;
	int fd;
	SSL *ssl;
	pthread_t th;
	bool responded;
	bool close_after;
	bool broken;
	char rbuf[HDR_MAX];
	size_t rlen;
	struct ts_conn *next;
};

struct ts_server {
	int lfd;
	int port;
	char url[64];
	SSL_CTX *ctx;
	ts_handler h;
	void *hctx;
	pthread_t accept_th;
	pthread_mutex_t mu;
	bool stopping;
	int seq;
	int nconns;
	struct ts_conn *conns;
};

static bool stopping(struct ts_server *s)
{
	pthread_mutex_lock(&s->mu);
	bool v = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* Read some bytes; waits in 100 ms slices so ts_stop is noticed. */
static ssize_t conn_read(struct ts_conn *c, void *p, size_t n)
{
	for (;;) {
		if (c->ssl && SSL_pending(c->ssl) > 0)
			break;
		if (stopping(c->s))
			return -1;
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		int r = poll(&pf, 1, 100);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0)
			break;
	}
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, (int)n);
		return r > 0 ? r : -1;
	}
	ssize_t r = recv(c->fd, p, n, 0);
	return r > 0 ? r : -1;
}

static int conn_write(struct ts_conn *c, const void *p, size_t n)
{
	const char *q = p;
	if (c->broken)
		return -1;
	while (n) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, q, (int)n);
			w = r > 0 ? r : -1;
		} else {
			w = send(c->fd, q, n, MSG_NOSIGNAL);
		}
		if (w < 0) {
			if (!c->ssl && errno == EINTR)
				continue;
			c->broken = true;
			return -1;
		}
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

static const char *status_text(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

int ts_respond(struct ts_conn *c, int status, const char *extra, const char *ctype, const char *body, size_t len)
{
	char head[4096];
	int k = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n", status,
			 status_text(status), ctype ? ctype : "application/json", len, extra ? extra : "",
			 c->close_after ? "Connection: close\r\n" : "");
	if (k < 0 || (size_t)k >= sizeof(head))
		return -1;
	c->responded = true;
	if (conn_write(c, head, (size_t)k) < 0)
		return -1;
	return len ? conn_write(c, body, len) : 0;
}

int ts_respond_json(struct ts_conn *c, int status, const char *json)
{
	return ts_respond(c, status, NULL, "application/json", json, strlen(json));
}

int ts_begin_chunked(struct ts_conn *c, int status, const char *extra, const char *ctype)
{
	char head[4096];
	int k = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n%s%s\r\n",
			 status, status_text(status), ctype ? ctype : "application/json", extra ? extra : "",
			 c->close_after ? "Connection: close\r\n" : "");
	if (k < 0 || (size_t)k >= sizeof(head))
		return -1;
	c->responded = true;
	return conn_write(c, head, (size_t)k);
}

int ts_chunk(struct ts_conn *c, const void *p, size_t n)
{
	char h[32];
	if (n == 0)
		return 0;
	int k = snprintf(h, sizeof(h), "%zx\r\n", n);
	if (conn_write(c, h, (size_t)k) < 0 || conn_write(c, p, n) < 0 || conn_write(c, "\r\n", 2) < 0)
		return -1;
	/* let the client read this chunk on its own */
	usleep(20000);
	return 0;
}

int ts_chunk_str(struct ts_conn *c, const char *s)
{
	return ts_chunk(c, s, strlen(s));
}

int ts_end_chunked(struct ts_conn *c)
{
	return conn_write(c, "0\r\n\r\n", 5);
}

void ts_close_after(struct ts_conn *c)
{
	c->close_after = true;
}

bool ts_wait_closed(struct ts_conn *c, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		if (stopping(c->s) || c->broken)
			return true;
		struct pollfd pf = { .fd = c->fd, .events = POLLIN | POLLRDHUP };
		int r = poll(&pf, 1, 50);
		if (r > 0)
			return true;   /* EOF, reset, or TLS close_notify: the client is gone */
	}
	return false;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool ts_query(const struct ts_request *req, const char *key, char *out, size_t n)
{
	const char *q = strchr(req->path, '?');
	size_t kl = strlen(key);
	while (q && *q) {
		q++;
		if (strncmp(q, key, kl) == 0 && q[kl] == '=') {
			const char *v = q + kl + 1;
			size_t k = 0;
			while (*v && *v != '&' && k + 1 < n) {
				if (*v == '%' && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
					out[k++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
					v += 3;
				} else {
					out[k++] = *v == '+' ? ' ' : *v;
					v++;
				}
			}
			out[k] = '\0';
			return true;
		}
		q = strchr(q, '&');
	}
	return false;
}

static void copy_hdr(char *dst, size_t n, const char *v, size_t vl)
{
	if (vl >= n)
		vl = n - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

/* Read one request; 0 ok, -1 connection over. */
static int read_request(struct ts_conn *c, struct ts_request *req)
{
	char *end;
	for (;;) {
		end = c->rlen ? memmem(c->rbuf, c->rlen, "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		if (c->rlen == sizeof(c->rbuf))
			return -1;
		ssize_t r = conn_read(c, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (r <= 0)
			return -1;
		c->rlen += (size_t)r;
	}
	size_t hlen = (size_t)(end - c->rbuf) + 4;
	memset(req, 0, sizeof(*req));
	size_t clen = 0;
	bool close_hdr = false;
	/* request line */
	char *line = c->rbuf, *eol = memmem(line, hlen, "\r\n", 2);
	char *sp1 = memchr(line, ' ', (size_t)(eol - line));
	char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	if (!sp1 || !sp2)
		return -1;
	copy_hdr(req->method, sizeof(req->method), line, (size_t)(sp1 - line));
	copy_hdr(req->path, sizeof(req->path), sp1 + 1, (size_t)(sp2 - sp1 - 1));
	for (line = eol + 2; line < c->rbuf + hlen - 2; line = eol + 2) {
		eol = memmem(line, (size_t)(c->rbuf + hlen - line), "\r\n", 2);
		char *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			continue;
		size_t kl = (size_t)(colon - line);
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		size_t vl = (size_t)(eol - v);
		if (kl == 13 && strncasecmp(line, "authorization", 13) == 0)
			copy_hdr(req->authorization, sizeof(req->authorization), v, vl);
		else if (kl == 12 && strncasecmp(line, "content-type", 12) == 0)
			copy_hdr(req->content_type, sizeof(req->content_type), v, vl);
		else if (kl == 14 && strncasecmp(line, "content-length", 14) == 0)
			clen = strtoul(v, NULL, 10);
		else if (kl == 10 && strncasecmp(line, "connection", 10) == 0 && vl >= 5 && strncasecmp(v, "close", 5) == 0)
			close_hdr = true;
	}
	if (clen > BODY_MAX)
		return -1;
	req->body = malloc(clen + 1);
	if (!req->body)
		abort();
	size_t have = c->rlen - hlen;
	if (have > clen)
		have = clen;
	memcpy(req->body, c->rbuf + hlen, have);
	memmove(c->rbuf, c->rbuf + hlen + have, c->rlen - hlen - have);
	c->rlen -= hlen + have;
	while (have < clen) {
		ssize_t r = conn_read(c, req->body + have, clen - have);
		if (r <= 0) {
			free(req->body);
			req->body = NULL;
			return -1;
		}
		have += (size_t)r;
	}
	req->body[clen] = '\0';
	req->body_len = clen;
	c->close_after = close_hdr;
	return 0;
}

static void *conn_main(void *arg)
{
	struct ts_conn *c = arg;
	struct ts_server *s = c->s;
	char cn[256] = "";
	if (s->ctx) {
		c->ssl = SSL_new(s->ctx);
		SSL_set_fd(c->ssl, c->fd);
		/* blocking handshake; the client is local */
		if (SSL_accept(c->ssl) != 1)
			goto out;
		X509 *peer = SSL_get1_peer_certificate(c->ssl);
		if (peer) {
			X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
			X509_free(peer);
		}
	}
	for (;;) {
		struct ts_request req;
		if (read_request(c, &req) < 0)
			break;
		snprintf(req.client_cn, sizeof(req.client_cn), "%s", cn);
		pthread_mutex_lock(&s->mu);
		req.seq = ++s->seq;
		pthread_mutex_unlock(&s->mu);
		c->responded = false;
		s->h(s->hctx, &req, c);
		free(req.body);
		if (!c->responded)
			ts_respond_json(c, 500, "{\"kind\":\"Status\",\"message\":\"test handler did not answer\"}");
		if (c->close_after || c->broken)
			break;
	}
out:
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct ts_server *s = arg;
	while (!stopping(s)) {
		struct pollfd pf = { .fd = s->lfd, .events = POLLIN };
		if (poll(&pf, 1, 100) <= 0)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct ts_conn *c = calloc(1, sizeof(*c));
		if (!c)
			abort();
		c->s = s;
		c->fd = fd;
		pthread_mutex_lock(&s->mu);
		c->next = s->conns;
		s->conns = c;
		s->nconns++;
		pthread_mutex_unlock(&s->mu);
		if (pthread_create(&c->th, NULL, conn_main, c) != 0)
			abort();
	}
	return NULL;
}

int ts_start(const struct ts_tls *tls, ts_handler h, void *ctx, struct ts_server **out)
{
	signal(SIGPIPE, SIG_IGN);
	struct ts_server *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->h = h;
	s->hctx = ctx;
	pthread_mutex_init(&s->mu, NULL);
	if (tls) {
		s->ctx = SSL_CTX_new(TLS_server_method());
		if (SSL_CTX_use_certificate_chain_file(s->ctx, tls->cert_file) != 1 ||
		    SSL_CTX_use_PrivateKey_file(s->ctx, tls->key_file, SSL_FILETYPE_PEM) != 1)
			goto fail;
		if (tls->client_ca_file) {
			if (SSL_CTX_load_verify_locations(s->ctx, tls->client_ca_file, NULL) != 1)
				goto fail;
			SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		}
	}
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 64) != 0)
		goto fail;
	socklen_t al = sizeof(a);
	getsockname(s->lfd, (struct sockaddr *)&a, &al);
	s->port = ntohs(a.sin_port);
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
	if (pthread_create(&s->accept_th, NULL, accept_main, s) != 0)
		goto fail;
	*out = s;
	return 0;
fail:
	ERR_print_errors_fp(stderr);
	if (s->lfd > 0)
		close(s->lfd);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	free(s);
	*out = NULL;
	return -1;
}

void ts_stop(struct ts_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->accept_th, NULL);
	/* no new connections now */
	for (struct ts_conn *c = s->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (s->conns) {
		struct ts_conn *c = s->conns;
		s->conns = c->next;
		pthread_join(c->th, NULL);
		close(c->fd);
		free(c);
	}
	close(s->lfd);
	if (s->ctx)
		SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int ts_port(const struct ts_server *s)
{
	return s->port;
}

const char *ts_url(const struct ts_server *s)
{
	return s->url;
}

int ts_connections(const struct ts_server *s)
{
	struct ts_server *m = (struct ts_server *)s;
	pthread_mutex_lock(&m->mu);
	int n = m->nconns;
	pthread_mutex_unlock(&m->mu);
	return n;
}

int ts_requests(const struct ts_server *s)
{
	struct ts_server *m = (struct ts_server *)s;
	pthread_mutex_lock(&m->mu);
	int n = m->seq;
	pthread_mutex_unlock(&m->mu);
	return n;
}

/* ------------------------------------------------------------------ */

static int run(const char *dir, const char *cmd)
{
	char full[4096];
	snprintf(full, sizeof(full), "cd '%s' && { %s ; } >/dev/null 2>&1", dir, cmd);
	int rc = system(full);
	if (rc != 0)
		fprintf(stderr, "testserver: failed: %s\n", cmd);
	return rc == 0 ? 0 : -1;
}

int ts_make_certs(const char *dir)
{
	static const char *const cmds[] = {
		"printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > server.ext",
		"printf 'extendedKeyUsage=clientAuth\\n' > client.ext",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt "
		"-days 2 -subj /CN=test-ca",
		"openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other-ca.key "
		"-out other-ca.crt -days 2 -subj /CN=other-ca",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr "
		"-subj /CN=127.0.0.1",
		"openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
		"-extfile server.ext",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout client.key -out client.csr "
		"-subj /CN=tester",
		"openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 "
		"-extfile client.ext",
		"openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout rogue.key -out rogue.csr "
		"-subj /CN=rogue",
		"openssl x509 -req -in rogue.csr -CA other-ca.crt -CAkey other-ca.key -CAcreateserial -out rogue.crt "
		"-days 2 -extfile client.ext",
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (run(dir, cmds[i]) < 0)
			return -1;
	return 0;
}

char *ts_b64(const void *p, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (!out)
		abort();
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

char *ts_b64_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *data = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
		size_t r = fread(data + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	char *o = ts_b64(data, len);
	free(data);
	return o;
}
