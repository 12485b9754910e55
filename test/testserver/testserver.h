/* A loopback HTTP/1.1 (+ TLS) server for client tests.
 *
 * One accept thread plus one thread per connection (all joined by
 * ts_stop). Every request is handed to the test's handler on its
 * connection's thread; the handler answers with ts_respond() or streams with
 * ts_begin_chunked()/ts_chunk()/ts_end_chunked(), each chunk written and
 * flushed on its own (so a test decides exactly where a chunk boundary
 * falls). TLS uses OpenSSL with optional client-certificate verification;
 * ts_make_certs() creates a CA, a server and client certificates with the
 * `openssl` command line into a directory (tests use a mkdtemp dir). */
#ifndef MC_TEST_TESTSERVER_H
#define MC_TEST_TESTSERVER_H

#include <stdbool.h>
#include <stddef.h>

struct ts_server;
struct ts_conn;

struct ts_request {
	char method[16];
	char path[8192];           /* path with query string */
	char authorization[8192];  /* Authorization header value or "" */
	char content_type[256];
	char client_cn[256];       /* TLS client certificate CN or "" */
	char *body;                /* NUL-terminated, body_len bytes */
	size_t body_len;
	int seq;                   /* 1, 2, ... across the server */
};

typedef void (*ts_handler)(void *ctx, const struct ts_request *req, struct ts_conn *conn);

struct ts_tls {
	const char *cert_file;
	const char *key_file;
	const char *client_ca_file;   /* NULL: no client certificates asked for */
};

/* tls NULL = plain HTTP. Listens on 127.0.0.1 on a free port. */
int ts_start(const struct ts_tls *tls, ts_handler h, void *ctx, struct ts_server **out);
/* Closes every connection (handlers blocked in ts_wait_closed return) and
 * joins every thread. */
void ts_stop(struct ts_server *s);
int ts_port(const struct ts_server *s);
/* "http://127.0.0.1:PORT" or https; static per server, borrowed. */
const char *ts_url(const struct ts_server *s);
int ts_requests(const struct ts_server *s);   /* requests served so far */
int ts_connections(const struct ts_server *s);   /* connections accepted so far */

/* Responses. extra_headers: NULL or lines each ending in "\r\n". 0 or -1. */
int ts_respond(struct ts_conn *c, int status, const char *extra_headers, const char *content_type,
	       const char *body, size_t len);
int ts_respond_json(struct ts_conn *c, int status, const char *json);
int ts_begin_chunked(struct ts_conn *c, int status, const char *extra_headers, const char *content_type);
int ts_chunk(struct ts_conn *c, const void *p, size_t n);
int ts_chunk_str(struct ts_conn *c, const char *s);
int ts_end_chunked(struct ts_conn *c);
/* Close the connection after this response (no keep-alive). */
void ts_close_after(struct ts_conn *c);
/* Wait up to ms for the client to go away (or the server to stop); true if it did. */
bool ts_wait_closed(struct ts_conn *c, int ms);

/* Value of query parameter `key` in req->path (decoded) into out; false if absent. */
bool ts_query(const struct ts_request *req, const char *key, char *out, size_t n);

/* Certificates (PEM) in dir: ca.crt ca.key server.crt server.key (SAN
 * 127.0.0.1/localhost) client.crt client.key (CN=tester, signed by ca),
 * other-ca.crt and rogue.crt/rogue.key (a client signed by other-ca).
 * 0 or -1 (openssl failed). */
int ts_make_certs(const char *dir);
/* Base64 of a file's bytes (malloc'd) or NULL. */
char *ts_b64_file(const char *path);
/* Base64 of a buffer (malloc'd). */
char *ts_b64(const void *p, size_t n);

#endif
