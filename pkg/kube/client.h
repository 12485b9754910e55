/* Kubernetes REST client over libcurl.
 *
 * One struct kube_client per cluster (API server + credentials). It is safe
 * to share between threads: every call uses its own easy handle from a pool
 * (each pooled handle keeps its connections alive; HTTP/2 where the server
 * offers it via ALPN). tls-server-name is honoured (SNI and verification use
 * it while connecting to the server's address).
 * A client-side token bucket limits requests (qps/burst). Idempotent verbs
 * (GET, LIST, PUT with resourceVersion, DELETE, apply PATCH) are retried with
 * backoff on 429 (honouring Retry-After), 5xx and connection failures.
 *
 * Objects are json-c: objects passed in are borrowed; objects returned
 * through `out` are the caller's to json_object_put(). `out` may be NULL when
 * the response is not wanted. Every call returns 0 or -enum kube_reason and
 * fills `err` (may be NULL) on failure; see errors.h. */
#ifndef MC_KUBE_CLIENT_H
#define MC_KUBE_CLIENT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kube/config.h"
#include "kube/errors.h"
#include "kube/resource.h"

struct kube_client;
struct mclock;

/* Called after every HTTP exchange (for metrics and request counting);
 * verb is "GET", "LIST", "WATCH", "CREATE", "UPDATE", "PATCH", "DELETE";
 * code is the HTTP status or 0 on a transport failure. Any thread. */
typedef void (*kube_request_hook)(void *ctx, const char *verb, const char *resource, int code);

struct kube_client_opts {
	double qps;               /* <= 0: 20 */
	int burst;                /* <= 0: 30 */
	int timeout_s;            /* per request (not watches); <= 0: 30 */
	int max_retries;          /* < 0: 0; default 0 => 5 */
	const char *user_agent;   /* default "modelcache-operator/VERSION" */
	size_t max_response_bytes; /* cap on one response body; 0: 256 MiB */
	kube_request_hook hook;
	void *hook_ctx;
	/* Tests: the clock of the token bucket and the sleep used for rate
	 * limiting and retry delays (NULL = system clock / nanosleep). */
	const struct mclock *clock;
	void (*sleep_ms)(void *ctx, uint64_t ms);
	void *sleep_ctx;
};

/* The client takes its own reference on cfg (kube_config_ref). Retries:
 * 5xx and connection failures are retried for idempotent verbs only; 429 is
 * retried for every verb (the API server rejected it before processing);
 * a 401 drops a cached exec/token-file credential and is retried once. */
int kube_client_new(const struct kube_config *cfg, const struct kube_client_opts *opts,
		    struct kube_client **out, struct kube_error *err);
void kube_client_free(struct kube_client *c);
/* The server URL (borrowed) - useful in messages; never contains credentials. */
const char *kube_client_server(const struct kube_client *c);
const struct kube_config *kube_client_config(const struct kube_client *c);

int kube_get(struct kube_client *c, const struct kube_resource *r, const char *ns,
	     const char *name, json_object **out, struct kube_error *err);

struct kube_list_opts {
	const char *label_selector;   /* query-string form, e.g. "a=b,c in (d)" */
	const char *field_selector;
	int64_t limit;                /* page size; 0 => 500 */
	const char *resource_version;
	/* called on every item as its page arrives, before the next page is
	 * read (e.g. an informer's transform: the whole list is never held
	 * untransformed); NULL: none */
	void (*each_item)(void *ctx, json_object *item);
	void *each_ctx;
};
/* Lists every page (limit/continue) and returns one List object whose
 * "items" holds all of them and whose metadata.resourceVersion is the one to
 * watch from. An expired continue token (410) restarts the list once. */
int kube_list(struct kube_client *c, const struct kube_resource *r, const char *ns,
	      const struct kube_list_opts *o, json_object **out, struct kube_error *err);

int kube_create(struct kube_client *c, const struct kube_resource *r, const char *ns,
		json_object *obj, json_object **out, struct kube_error *err);
/* PUT; obj carries metadata.resourceVersion (409 Conflict when stale). */
int kube_update(struct kube_client *c, const struct kube_resource *r, const char *ns,
		const char *name, json_object *obj, json_object **out, struct kube_error *err);
/* PUT to the /status subresource. */
int kube_update_status(struct kube_client *c, const struct kube_resource *r, const char *ns,
		       const char *name, json_object *obj, json_object **out, struct kube_error *err);

enum kube_patch_type {
	KUBE_PATCH_MERGE,      /* application/merge-patch+json */
	KUBE_PATCH_JSON,       /* application/json-patch+json */
	KUBE_PATCH_STRATEGIC,  /* application/strategic-merge-patch+json */
	KUBE_PATCH_APPLY,      /* application/apply-patch+yaml (server-side apply; JSON body) */
};

struct kube_patch_opts {
	enum kube_patch_type type;
	const char *field_manager;   /* required for APPLY */
	bool force;                  /* APPLY: force=true */
	const char *subresource;     /* NULL or "status" / "scale" */
};
/* The one serialiser of request bodies: compact JSON without json-c's "\/"
 * escape. application/apply-patch+yaml bodies are decoded by Kubernetes with
 * a YAML decoder that has no "\/" escape, so "a\/b" is refused there
 * ("found unknown escape character"). The string is owned by obj. */
const char *kube_body(json_object *obj);
int kube_patch(struct kube_client *c, const struct kube_resource *r, const char *ns,
	       const char *name, const char *body, size_t len, const struct kube_patch_opts *o,
	       json_object **out, struct kube_error *err);
/* kube_patch of a json-c patch document (borrowed), serialised by kube_body. */
int kube_patch_obj(struct kube_client *c, const struct kube_resource *r, const char *ns,
		   const char *name, json_object *patch, const struct kube_patch_opts *o,
		   json_object **out, struct kube_error *err);
/* Server-side apply of obj (borrowed; apiVersion/kind/metadata.name set). */
int kube_apply(struct kube_client *c, const struct kube_resource *r, const char *ns,
	       json_object *obj, const char *field_manager, bool force, const char *subresource,
	       json_object **out, struct kube_error *err);

struct kube_delete_opts {
	const char *propagation_policy;   /* NULL, "Background", "Foreground", "Orphan" */
	const char *precondition_uid;
	const char *precondition_resource_version;
};
/* NotFound is reported as -KUBE_ERR_NOT_FOUND; callers that do not care test for it. */
int kube_delete(struct kube_client *c, const struct kube_resource *r, const char *ns,
		const char *name, const struct kube_delete_opts *o, struct kube_error *err);

/* GET /version; *git_version (malloc'd) e.g. "v1.31.2". */
int kube_server_version(struct kube_client *c, char **git_version, struct kube_error *err);
/* Discovery: is group/version/resource served? 0 = yes, -KUBE_ERR_NOT_FOUND = no. */
int kube_resource_served(struct kube_client *c, const struct kube_resource *r, struct kube_error *err);

/* A raw request (method, absolute path with query). *body_out is malloc'd
 * (may be NULL), *code is the HTTP status. Non-2xx is not an error here;
 * transport failures are. */
int kube_raw(struct kube_client *c, const char *method, const char *path_and_query,
	     const char *content_type, const char *body, size_t len, int *code, char **body_out,
	     struct kube_error *err);

#endif
