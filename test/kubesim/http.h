/* kubesim's HTTP/1.1 server: plain sockets (+ OpenSSL for TLS), one thread
 * per connection, keep-alive, Content-Length and chunked request bodies,
 * chunked streaming responses for watches.
 *
 * Why not libwebsockets: a watch is a response that stays open for minutes
 * while other threads produce its events; with one blocking thread per
 * connection the watch loop is a plain loop (wait for the next event, write a
 * chunk), TLS client-certificate checks are two OpenSSL calls, and nothing
 * has to be marshalled onto an lws service thread. For a test simulator with
 * tens of connections this is the simpler and more obviously correct design.
 *
 * The handler runs on the connection's thread and must answer each request
 * with exactly one http_respond() or http_stream_begin()..http_stream_end().
 * Every thread is joined by http_server_stop(). */
#ifndef KUBESIM_HTTP_H
#define KUBESIM_HTTP_H

#include <stddef.h>

#include <openssl/ssl.h>

#define HTTP_HEADER_MAX (64 * 1024)
#define HTTP_BODY_MAX (32 * 1024 * 1024)

struct http_conn;

struct http_req {
	char method[16];
	char *path;           /* raw (still %-encoded), without the query */
	char *query;          /* raw, "" when none */
	char *accept;         /* header values, "" when absent */
	char *content_type;
	char *authorization;
	char *user_agent;
	char *body;           /* NUL-terminated, may be "" */
	size_t body_len;
	int client_cert_ok;   /* TLS client certificate verified by our CA */
	char client_cn[128];
	struct http_conn *conn;
	int code;             /* set by http_respond / http_stream_begin */
};

typedef void (*http_handler_fn)(void *ctx, struct http_req *req);

struct http_server_opts {
	int port;              /* 0 = pick a free one */
	SSL_CTX *ssl_ctx;      /* NULL = plain HTTP (borrowed) */
	http_handler_fn handler;
	void *ctx;
};

struct http_server;

int http_server_start(const struct http_server_opts *o, struct http_server **out);
int http_server_port(const struct http_server *srv);
/* Closes the listener and every connection, joins every thread, frees. */
void http_server_stop(struct http_server *srv);

/* extra_headers: "Name: value\r\n..." or NULL. */
int http_respond(struct http_req *r, int code, const char *ctype, const char *body, size_t len,
		 const char *extra_headers);
int http_stream_begin(struct http_req *r, int code, const char *ctype);
/* One chunk; -1 when the peer is gone. */
int http_stream_write(struct http_req *r, const char *data, size_t len);
/* Terminating chunk. The connection is closed afterwards when close != 0. */
int http_stream_end(struct http_req *r, int close);
/* 0 when the peer closed its side (checked without blocking). */
int http_peer_alive(struct http_req *r);

#endif
