/* Reflector: keeps a sink (the informer's store) in step with the API server.
 *
 *   list (paged, via the transport) -> sink replace (the store reports the
 *   difference as ADDED/MODIFIED/DELETED) -> watch from the list's
 *   resourceVersion with bookmarks -> events to the sink.
 *   A stream that ends (server timeout, drop, transport error) is resumed
 *   from the last resourceVersion seen (objects and BOOKMARKs) after a
 *   backoff (200 ms .. 30 s, reset after a healthy stream); a 410 Gone
 *   (on open or as an ERROR event) relists, and so does a 504 whose cause
 *   is ResourceVersionTooLarge (a replaced server that has not reached
 *   our resourceVersion), as client-go does.
 *   Every object goes through opts.transform before the sink sees it
 *   (watch/transform.h: what each informer keeps); without one,
 *   metadata.managedFields is removed (nothing reads it; it is most of an
 *   object's memory).
 *
 * Threads: the watch streams run on the transport's thread (for the real
 * transport, the process's one curl-multi thread); the reflector has one
 * control thread that does the (blocking) lists, the backoff waits, the
 * periodic resync, and restarts watches. Sink callbacks are called from
 * both, never concurrently. The transport is an interface so unit tests
 * drive the reflector without a server. */
#ifndef MC_WATCH_REFLECTOR_H
#define MC_WATCH_REFLECTOR_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"
#include "kube/watch.h"
#include "util/clock.h"

/* How the reflector reaches the server. */
struct reflector_transport {
	/* Full list; *out is a List object (items + metadata.resourceVersion), caller's. */
	int (*list)(void *tctx, json_object **out, struct kube_error *err);
	/* Start a watch from rv; events/done on the transport's thread. */
	int (*watch_start)(void *tctx, const char *rv, kube_watch_event_cb on_event,
			   kube_watch_done_cb on_done, void *cbctx, void **handle,
			   struct kube_error *err);
	/* Synchronous: no callback runs after it returns. */
	void (*watch_stop)(void *tctx, void *handle);
	/* Frees tctx (may be NULL); called by whoever owns the transport. */
	void (*release)(void *tctx);
	void *tctx;
};

/* Where the objects go. */
struct reflector_sink {
	/* items: json array, borrowed (elements may be kept with json_object_get). */
	void (*replace)(void *sctx, json_object *items);
	/* type ADDED/MODIFIED/DELETED; obj borrowed (json_object_get to keep). */
	void (*event)(void *sctx, enum kube_watch_type type, json_object *obj);
	/* Periodic resync (only when resync_ms > 0). */
	void (*resync)(void *sctx);
	/* A list or watch failed (reason for logs/metrics: "gone", "dropped",
	 * "error", "list_error"); rc = -kube_reason or 0. May be NULL. */
	void (*failure)(void *sctx, const char *reason, int rc);
	void *sctx;
};

struct reflector_opts {
	const char *name;              /* logs/metrics, e.g. "remote/nodes"; copied */
	const struct mclock *clock;    /* NULL = system */
	uint64_t resync_ms;            /* 0 = none */
	uint64_t backoff_base_ms;      /* 0 => 200 */
	uint64_t backoff_max_ms;       /* 0 => 30000 */
	/* Edits each listed or watched object in place before the sink
	 * (client-go's SetTransform); NULL = drop metadata.managedFields. */
	void (*transform)(json_object *obj);
};

struct reflector;

/* Copies the transport and sink structs (their contexts are borrowed and
 * must outlive the reflector). Does not start. */
int reflector_new(const struct reflector_transport *t, const struct reflector_sink *s,
		  const struct reflector_opts *o, struct reflector **out);
int reflector_start(struct reflector *r);
/* Stops the watch, joins the control thread. Idempotent. */
void reflector_stop(struct reflector *r);
void reflector_free(struct reflector *r);   /* stops first */

/* True once the first list was delivered. */
bool reflector_has_synced(struct reflector *r);
/* Last resourceVersion delivered (copied, n bytes). */
void reflector_last_rv(struct reflector *r, char *out, size_t n);
/* Counters (tests, metrics). */
struct reflector_stats {
	unsigned lists;           /* successful lists */
	unsigned watches;         /* watch starts */
	unsigned resumes;         /* restarts from a resourceVersion after a drop */
	unsigned relists_gone;    /* relists after 410 */
	unsigned failures;
};
void reflector_stats(struct reflector *r, struct reflector_stats *out);
/* Wake the control thread now (tests with a fake clock). */
void reflector_kick(struct reflector *r);

/* The real transport over a kube client and the watch mux. The context is
 * allocated here (copies selectors); out->release frees it. */
struct reflector_kube_opts {
	const struct kube_resource *resource;
	const char *ns;               /* NULL = all namespaces */
	const char *label_selector;
	const char *field_selector;
	int watch_timeout_s;          /* server-side timeoutSeconds; 0 => 300 */
};
int reflector_kube_transport(struct kube_client *c, struct kube_watch_mux *mux,
			     const struct reflector_kube_opts *o, struct reflector_transport *out);

#endif
