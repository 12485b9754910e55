/* A small HTTP(S) server on libwebsockets 4.1: exact method + path routes,
 * one service thread, optional TLS whose certificate is reloaded when the
 * files change. Used for the probes and metrics (:8081, :8080) and the pod
 * webhook (:9443).
 *
 *   struct httpd *h;
 *   struct httpd_opts o = { .listen = ":8081", .name = "probes" };
 *   if (httpd_new(&o, &h) < 0) ...             // binds now: port known
 *   httpd_route(h, "GET", "/healthz", healthz, ctx);
 *   httpd_route_metrics(h, "/metrics", NULL);  // the default registry
 *   httpd_start(h);                            // service thread
 *   ...
 *   httpd_free(h);                             // stops, joins, closes
 *
 * Handlers run ON THE SERVICE THREAD, one at a time: they must be quick and
 * must not block (read snapshots / informer caches, never call the API
 * server). They fill `resp`: status, content type and a body they allocate
 * (the server frees it). A handler that returns < 0 produces a 500.
 * A route path ending in a slash and a star matches one more segment
 * ("/mutate-v1-pod/" + star matches "/mutate-v1-pod/gpu-west", not
 * "/mutate-v1-pod" nor ".../a/b"; the handler reads req->path). Unknown path -> 404; known path, other method ->
 * 405 (with Allow); a body
 * over max_body -> 413. HEAD is not special: register it if needed.
 *
 * Listen syntax: ":8080" (all interfaces), "127.0.0.1:0" (loopback, the
 * kernel picks the port: read it with httpd_port), "[::1]:9443",
 * "0.0.0.0:9443", "localhost:8080".
 *
 * TLS: with tls_cert_file and tls_key_file set the server speaks HTTPS only
 * (TLS 1.2 or newer; HTTP/1.1; ALPN h2 is not offered). Every reload_interval_ms the service
 * thread hashes both files; when either changed and the new pair loads and
 * matches, it replaces the certificate for NEW connections (a bad or
 * half-written pair is logged and ignored; the old certificate stays).
 *
 * Thread safety: httpd_route/_route_metrics before httpd_start only;
 * httpd_port, httpd_cert_reloads, httpd_stop and httpd_free from any one
 * controlling thread (not from a handler). */
#ifndef MC_HTTPD_HTTPD_H
#define MC_HTTPD_HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct metrics_registry;
struct httpd;

struct httpd_opts {
	const char *listen;            /* required, see above */
	const char *name;              /* for logs; default "http" */
	const char *tls_cert_file;     /* PEM chain; NULL = plain HTTP */
	const char *tls_key_file;      /* PEM key */
	unsigned reload_interval_ms;   /* certificate check period; default 1000 */
	size_t max_body;               /* request body cap; default 1 MiB */
};

struct httpd_request {
	const char *method;            /* "GET", "POST", ... */
	const char *path;              /* "/mutate-v1-pod" (no query) */
	const char *query;             /* "a=1&b=2" or "": the arguments as lws gives them
	                                * (each %-decoded), joined by '&'; capped at 2 KiB */
	const char *content_type;      /* request Content-Type or "" */
	const char *body;              /* NUL-terminated; "" when none */
	size_t body_len;
};

struct httpd_response {
	int status;                    /* default 200 */
	const char *content_type;      /* static string; default "text/plain; charset=utf-8" */
	char *body;                    /* malloc'd by the handler, freed by the server; NULL = empty */
	size_t body_len;               /* 0 with a body = strlen(body) */
};

typedef int (*httpd_handler_fn)(void *arg, const struct httpd_request *req, struct httpd_response *resp);

/* Create and bind. 0, -EINVAL (bad opts / listen syntax), -EADDRINUSE or
 * -EIO (lws could not create the server, e.g. unreadable certificate). */
int httpd_new(const struct httpd_opts *o, struct httpd **out);
/* Register an exact method + path. 0, -EEXIST, -EBUSY (already started),
 * -EINVAL. Up to 32 routes. */
int httpd_route(struct httpd *h, const char *method, const char *path, httpd_handler_fn fn, void *arg);
/* GET path -> Prometheus text of r (NULL = the default registry). */
int httpd_route_metrics(struct httpd *h, const char *path, struct metrics_registry *r);
/* Start the service thread. 0 or -errno. */
int httpd_start(struct httpd *h);
/* The bound port (useful with port 0). */
int httpd_port(const struct httpd *h);
/* How many times a changed certificate was loaded. */
uint64_t httpd_cert_reloads(const struct httpd *h);
/* Stop serving and join the thread; idempotent. */
void httpd_stop(struct httpd *h);
/* Stop if needed, then release everything. NULL is fine. */
void httpd_free(struct httpd *h);

/* Convenience for handlers: copy `text` as the body. */
void httpd_respond(struct httpd_response *resp, int status, const char *content_type, const char *text);

#endif
