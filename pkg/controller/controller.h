/* Controller: a rate-limited work queue of keys and N workers calling a
 * level-triggered reconcile function (controller-runtime's Controller).
 *
 * The reconciler receives only a key ("ns/name", or "name" for
 * cluster-scoped kinds), reads everything from informer caches and writes
 * only what differs. Its result:
 *   CTRL_DONE            forget the key (reset its backoff)
 *   CTRL_REQUEUE_AFTER   forget, then re-add after requeue_after_ms
 *   CTRL_ERROR           rate-limited retry (5 ms .. 1000 s, global 10/s)
 *   CTRL_TERMINAL        logged, not retried (until the key is added again)
 * A reconcile that returns a negative int is treated as CTRL_ERROR.
 * Every log line written by a worker during a reconcile carries
 * "controller=<name> key=<key> rid=<n>" (log_set_context).
 * Workers never touch the curl-multi handle (they use the blocking client). */
#ifndef MC_CONTROLLER_CONTROLLER_H
#define MC_CONTROLLER_CONTROLLER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/informer.h"
#include "workqueue/workqueue.h"

enum ctrl_result_kind { CTRL_DONE = 0, CTRL_REQUEUE_AFTER, CTRL_ERROR, CTRL_TERMINAL };

struct ctrl_result {
	enum ctrl_result_kind kind;
	uint64_t requeue_after_ms;   /* CTRL_REQUEUE_AFTER */
	char message[256];           /* CTRL_ERROR / CTRL_TERMINAL: why (logged) */
};

/* Reconcile one key; fill *res (zeroed = CTRL_DONE). Return 0, or a negative
 * error (then res->kind is forced to CTRL_ERROR unless it is CTRL_TERMINAL). */
typedef int (*ctrl_reconcile_fn)(void *ctx, const char *key, struct ctrl_result *res);

struct ctrl;

struct ctrl_opts {
	const char *name;            /* e.g. "inferencecluster"; copied */
	int workers;                 /* <= 0 => 2 */
	ctrl_reconcile_fn reconcile;
	void *ctx;
	const struct mclock *clock;  /* NULL = system */
};

int ctrl_new(const struct ctrl_opts *o, struct ctrl **out);
/* Starts the workers (the manager does this once leading). */
int ctrl_start(struct ctrl *c);
/* Stop taking work, wait for in-flight reconciles up to timeout_ms, join the
 * workers. Returns -ETIMEDOUT if reconciles were still running at the
 * deadline (the workers are still joined: they exit when those finish). */
int ctrl_stop(struct ctrl *c, uint64_t timeout_ms);
void ctrl_free(struct ctrl *c);
const char *ctrl_name(const struct ctrl *c);
struct wq *ctrl_queue(struct ctrl *c);

/* Enqueue helpers (any thread; before ctrl_start keys just wait in the queue). */
void ctrl_enqueue(struct ctrl *c, const char *key);
void ctrl_enqueue_after(struct ctrl *c, const char *key, uint64_t delay_ms);

/* Reconcile counters (tests, metrics). */
struct ctrl_stats {
	unsigned long reconciles, done, requeues, errors, terminal;
};
void ctrl_stats(struct ctrl *c, struct ctrl_stats *out);

/* Event handler that enqueues the object's own key ("ns/name"/"name") into
 * the controller: informer_add_handler(inf, &h) with
 *   ctrl_handler_for_self(c, &h); */
void ctrl_handler_for_self(struct ctrl *c, struct informer_handler *h);

/* Map function for owned objects: write the owner's key into out (n bytes)
 * and return 0, or return -1 to ignore the object. obj is borrowed. */
typedef int (*ctrl_map_fn)(void *mctx, json_object *obj, char *out, size_t n);
/* A handler that maps every event through map and enqueues the result into
 * c (an update: the old and the new owner; a resync is ignored, since the
 * owner's own informer resyncs it). The returned handler's ctx is allocated; free it with
 * ctrl_handler_map_free after the informer is stopped. */
void ctrl_handler_for_map(struct ctrl *c, ctrl_map_fn map, void *mctx, struct informer_handler *h);
void ctrl_handler_map_free(struct informer_handler *h);

/* Map an object to its owner's key "ns/name" read from two of its labels:
 * mctx is a struct ctrl_label_keys naming them. */
struct ctrl_label_keys {
	const char *namespace_key, *name_key;
};
int ctrl_map_by_label_keys(void *mctx, json_object *obj, char *out, size_t n);

/* Read-your-writes guard. After a write that replaced the cached version
 * old_rv of key (e.g. a status update), call ctrl_note_write(c, key, old_rv).
 * ctrl_cache_stale(c, key, cached_rv) is then true while the informer still
 * shows old_rv: requeue shortly (e.g. 200 ms) instead of computing a write
 * from a stale copy (which would only earn a 409 Conflict). The note is
 * dropped once a newer version is seen, or after 10 s. */
void ctrl_note_write(struct ctrl *c, const char *key, const char *old_rv);
bool ctrl_cache_stale(struct ctrl *c, const char *key, const char *cached_rv);

/* The reconcile id of the calling worker (0 outside a reconcile). */
unsigned long ctrl_current_rid(void);

#endif
