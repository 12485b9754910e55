/* Watch streams. Every watch of the process runs on one curl-multi thread
 * owned by a struct kube_watch_mux (STYLE habit 7): callbacks run on that
 * thread and must be quick (update a store, enqueue keys). A stream is framed
 * by lines, across chunk boundaries, each line one WatchEvent; the last
 * resourceVersion seen (objects and BOOKMARKs) is tracked per stream.
 *
 * Lifecycle: kube_watch_mux_new -> kube_watch_start... -> kube_watch_stop
 * (synchronous: after it returns no callback of that watch runs and the
 * handle is freed) -> kube_watch_mux_free (stops the remaining watches and
 * joins the thread). kube_watch_stop() may also be called from inside one of
 * that watch's callbacks (the handle is then freed once the callback returns);
 * kube_watch_mux_free() must not be. A client must outlive its watches. An
 * HTTP 401 on a watch drops cached exec/token-file credentials, so the next
 * start fetches fresh ones. */
#ifndef MC_KUBE_WATCH_H
#define MC_KUBE_WATCH_H

#include <json-c/json.h>
#include <stdbool.h>

#include "kube/client.h"

enum kube_watch_type {
	KUBE_WATCH_ADDED,
	KUBE_WATCH_MODIFIED,
	KUBE_WATCH_DELETED,
	KUBE_WATCH_BOOKMARK,
	KUBE_WATCH_ERROR,      /* object is a Status (410 Gone => reason Expired/Gone) */
};

struct kube_watch_event {
	enum kube_watch_type type;
	json_object *object;   /* borrowed for the duration of the callback; json_object_get to keep */
	const char *resource_version;   /* of the object, when present */
};

/* An event arrived. */
typedef void (*kube_watch_event_cb)(void *ctx, const struct kube_watch_event *ev);
/* The stream ended: rc 0 = closed by the server (timeout, drop);
 * < 0 = -enum kube_reason (HTTP error on open, transport failure); err is
 * borrowed for the call. After this callback the watch is over but its handle
 * must still be released with kube_watch_stop(). */
typedef void (*kube_watch_done_cb)(void *ctx, int rc, const struct kube_error *err);

struct kube_watch_mux;
struct kube_watch;

int kube_watch_mux_new(struct kube_watch_mux **out);
void kube_watch_mux_free(struct kube_watch_mux *m);

struct kube_watch_opts {
	const char *label_selector;
	const char *field_selector;
	const char *resource_version;   /* watch from here */
	bool allow_bookmarks;
	int timeout_seconds;            /* server-side timeoutSeconds; 0 = server default */
	size_t max_event_bytes;         /* cap on one event line; 0 = 32 MiB (larger: DecodeError) */
};

int kube_watch_start(struct kube_watch_mux *m, struct kube_client *c, const struct kube_resource *r,
		     const char *ns, const struct kube_watch_opts *o, kube_watch_event_cb on_event,
		     kube_watch_done_cb on_done, void *ctx, struct kube_watch **out, struct kube_error *err);
void kube_watch_stop(struct kube_watch *w);
/* Last resourceVersion the stream saw (copied into out, n bytes). */
void kube_watch_last_rv(struct kube_watch *w, char *out, size_t n);

#endif
