/* kubesim: the in-process API of the Kubernetes API simulator's store.
 *
 * One `struct sim` holds every object of every served resource, one global
 * resourceVersion counter and the event history that watches read. The HTTP
 * layer (api.c) and the cluster behaviours (behave*.c) both go through these
 * functions, so an object written here looks exactly like one written with
 * kubectl: uid, creationTimestamp, generation (bumped on spec changes only),
 * resourceVersion, finalizers/deletionTimestamp, events to watchers and to
 * subscribers.
 *
 * Addressing: (group, version, resource-plural, namespace, name). group is ""
 * for the core group; ns is ignored (may be NULL) for cluster-scoped
 * resources. Storage is per (group, resource): every served version of a CRD
 * sees the same objects (apiVersion is rewritten, there is no conversion).
 *
 * Errors: every function returns 0 or a negative HTTP status (-404, -409,
 * -410, -422, -400, -405, -415, -500). When err != NULL it is filled with the
 * Kubernetes Status fields (code, reason, message, causes); call
 * sim_err_cleanup() afterwards (also fine after success).
 *
 * Ownership: objects passed in are borrowed (copied); objects handed out
 * through json_object **out are new references the caller must
 * json_object_put(). `out` may be NULL when the result is not wanted.
 *
 * Threads: every function is thread-safe (one store mutex). json-c objects
 * are never shared between threads: the store keeps its own copies.
 *
 * Subscribers (sim_subscribe) are called on ONE dispatcher thread, in
 * resourceVersion order, after the change is committed, with NO store lock
 * held: a callback MAY call sim_get/sim_update/... (the changes it makes are
 * delivered to subscribers later, again on the dispatcher thread). Rules:
 *   - the `obj` passed to a callback is borrowed and valid only during the
 *     call (json_object_get() it or deep-copy it to keep it);
 *   - callbacks should be quick: they delay every other subscriber (including
 *     owner-reference garbage collection); hand long work (running a Job's
 *     processes) to your own thread;
 *   - do not call sim_unsubscribe() or sim_free() from inside a callback. */
#ifndef KUBESIM_SIM_H
#define KUBESIM_SIM_H

#include <stdint.h>

#include <json-c/json.h>

#include "util/clock.h"

struct sim;

struct sim_err {
	int code;             /* HTTP status, 0 on success */
	char reason[40];      /* NotFound AlreadyExists Conflict Invalid BadRequest Gone
	                       * MethodNotAllowed UnsupportedMediaType InternalError */
	char message[4096];   /* PodSecurity refusals name every container */
	json_object *causes;  /* owned: [{"reason","message","field"}] or NULL */
};
void sim_err_cleanup(struct sim_err *e);
/* Fill e (may be NULL) with code, reason and the formatted message;
 * returns -code. For the modules that answer with the store's errors. */
int sim_err_set(struct sim_err *e, int code, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

struct sim_opts {
	const struct mclock *clock;   /* NULL = system clock */
	size_t history_max;           /* events kept for watches; 0 = 20000 */
};

int sim_new(const struct sim_opts *o, struct sim **out);
/* Stops the dispatcher thread (joined) and frees everything. */
void sim_free(struct sim *s);

/* ---- object operations (same semantics as the HTTP API) ---- */

int sim_get(struct sim *s, const char *group, const char *version, const char *resource,
	    const char *ns, const char *name, json_object **out, struct sim_err *err);

/* A List object ({"kind":"<Kind>List","metadata":{"resourceVersion"},"items":[...]}),
 * items sorted by namespace/name. ns NULL or "" = all namespaces. Selectors
 * use the query-string forms (NULL = everything): labels "a=b,c!=d,e in (x),f,!g";
 * fields "metadata.name=x,metadata.namespace!=y" (plus any dotted path to a
 * string/number/bool field, e.g. "status.phase=Bound"). */
int sim_list(struct sim *s, const char *group, const char *version, const char *resource,
	     const char *ns, const char *label_selector, const char *field_selector,
	     json_object **out, struct sim_err *err);

/* metadata.name (or generateName), namespace from ns. status is kept on
 * create (like the apiserver for most kinds). */
int sim_create(struct sim *s, const char *group, const char *version, const char *resource,
	       const char *ns, json_object *obj, json_object **out, struct sim_err *err);

/* Replace the object named obj.metadata.name. When obj.metadata.resourceVersion
 * is set and differs from the stored one => -409 Conflict; unset =>
 * unconditional. For resources with a status subresource, status changes are
 * ignored here (use sim_update_status). Removing the last finalizer of an
 * object that has a deletionTimestamp deletes it. */
int sim_update(struct sim *s, const char *group, const char *version, const char *resource,
	       const char *ns, json_object *obj, json_object **out, struct sim_err *err);

/* Only .status is taken from obj (the rest is ignored), same resourceVersion
 * rule as sim_update. Works for every resource (also those without a status
 * subresource). */
int sim_update_status(struct sim *s, const char *group, const char *version, const char *resource,
		      const char *ns, json_object *obj, json_object **out, struct sim_err *err);

/* propagation: NULL/"Background", "Foreground" or "Orphan". With finalizers
 * the object stays with deletionTimestamp set (out = the object, return 0);
 * otherwise it is removed (out = the last state). Dependents (ownerReferences)
 * are collected asynchronously by the garbage collector. */
int sim_delete(struct sim *s, const char *group, const char *version, const char *resource,
	       const char *ns, const char *name, const char *propagation,
	       json_object **out, struct sim_err *err);

enum sim_patch_type {
	SIM_PATCH_MERGE,       /* application/merge-patch+json */
	SIM_PATCH_JSON,        /* application/json-patch+json */
	SIM_PATCH_STRATEGIC,   /* application/strategic-merge-patch+json */
	SIM_PATCH_APPLY,       /* application/apply-patch+yaml (server-side apply) */
};

/* subresource NULL (main resource) or "status". field_manager is required for
 * APPLY; force only matters for APPLY. APPLY creates the object when absent. */
int sim_patch(struct sim *s, const char *group, const char *version, const char *resource,
	      const char *ns, const char *name, const char *subresource,
	      enum sim_patch_type type, json_object *patch, const char *field_manager,
	      int force, json_object **out, struct sim_err *err);

/* Server-side dry run (?dryRun=All) for the CALLING THREAD: while on,
 * create/update/update_status/patch/delete validate, default and return what
 * they would store, but store nothing, bump no resourceVersion and send no
 * events. Turn it off again after the call. */
void sim_dry_run(int on);

/* Field manager of the CALLING THREAD's writes (the HTTP layer sets
 * ?fieldManager= or the User-Agent's program name): create/update/status
 * updates and non-apply patches then record "Update" managedFields entries
 * like the apiserver, so a later server-side apply conflicts with them.
 * NULL (default) = writes are not tracked. The string is borrowed until reset. */
void sim_field_manager(const char *manager);

/* ?fieldValidation=Strict for the CALLING THREAD's writes: a custom resource
 * carrying fields its schema does not declare is refused (400 BadRequest,
 * `strict decoding error: unknown field "spec.x"`) instead of pruned. */
void sim_field_validation_strict(int on);

/* ---- admission (admission.c: mutating webhooks) ----
 * Called by sim_create, sim_update and sim_patch (main resource, not
 * subresources) BEFORE the store lock is taken, so a hook may call other
 * sim_* functions and block on the network. wants() says cheaply whether any
 * webhook could be called for (op, group, version, resource); admit() may
 * replace *obj (a copy the hook owns) with the mutated object, or refuse
 * with err filled (return its negative code). The hook must be set before
 * the first request and outlive the sim. */
struct sim_admit_attrs {
	const char *operation;    /* CREATE | UPDATE */
	const char *group, *version, *resource, *subresource;   /* subresource "" */
	const char *ns;           /* NULL/"" for cluster-scoped */
	int dry_run;              /* the calling thread's sim_dry_run */
};
struct sim_admission {
	int (*wants)(void *ctx, const struct sim_admit_attrs *a);
	int (*admit)(void *ctx, const struct sim_admit_attrs *a, json_object **obj, struct sim_err *err);
	void *ctx;
};
void sim_set_admission(struct sim *s, const struct sim_admission *adm);
/* Built-in admission plugins (serviceaccount.c's ServiceAccount plugin,
 * ...): same contract, run in registration order BEFORE the webhook hook
 * (the apiserver's plugins precede MutatingAdmissionWebhook) and again on
 * the object the webhooks changed (its validating phase). At most
 * SIM_ADMISSION_PLUGINS_MAX; 0 or -ENOSPC. Register before the first
 * request; ctx must outlive every write. */
#define SIM_ADMISSION_PLUGINS_MAX 8
int sim_add_admission_plugin(struct sim *s, const struct sim_admission *p);

/* ---- subscribers ---- */

typedef void (*sim_event_fn)(void *ctx, const char *type /* ADDED MODIFIED DELETED */,
			     const char *resource_plural, json_object *obj /* borrowed */);

/* Called for every change committed after this call (and possibly a few
 * committed just before it that were not yet delivered). *id (may be NULL)
 * identifies the subscription for sim_unsubscribe. */
int sim_subscribe(struct sim *s, sim_event_fn cb, void *ctx, int *id);
/* After return the callback is not running and will not be called again. */
void sim_unsubscribe(struct sim *s, int id);
/* Block until every change committed before this call has been delivered to
 * the subscribers (tests; never from a callback). */
void sim_sync(struct sim *s);

/* ---- helpers ---- */

/* Is (group, version, resource) served (built-in or from a CRD)? 1/0;
 * *namespaced (may be NULL) is set when served. */
int sim_served(struct sim *s, const char *group, const char *version, const char *resource,
	       int *namespaced);
/* The simulator's "now" as RFC 3339 (seconds) into out (>= 21 bytes). */
void sim_now(struct sim *s, char out[32]);
/* Current resourceVersion (the last committed change). */
uint64_t sim_current_rv(struct sim *s);
/* Highest compacted resourceVersion: watches and list continuations from
 * older ones get 410 Expired. */
uint64_t sim_compacted_rv(struct sim *s);

/* ---- for the HTTP layer and the garbage collector ---- */

/* A snapshot of every served resource: a JSON array (caller puts) of
 *   {"group","version","resource","singular","kind","namespaced":bool,
 *    "shortNames":[..],"categories":[..],"status":bool,"scale":bool,
 *    "columns":[additionalPrinterColumns] (CRDs only), "crd":bool,
 *    "storageVersion":bool, "scalePaths":{specReplicasPath,...} (CRDs with scale)}
 * in registration order. */
json_object *sim_resources(struct sim *s);
/* One entry of sim_resources, or NULL when not served. Caller puts. */
json_object *sim_resource(struct sim *s, const char *group, const char *version, const char *resource);
/* The openAPIV3Schema of a CRD-served version (copy, caller puts) or NULL. */
json_object *sim_resource_schema(struct sim *s, const char *group, const char *version, const char *resource);
/* Resolve a kind ("ModelCache") in a group to its plural and version; 0 or -404. */
int sim_resource_for_kind(struct sim *s, const char *group, const char *kind,
			  char *plural, size_t plural_n, char *version, size_t version_n);

/* Objects anywhere in the store whose metadata.ownerReferences contain uid:
 * array of {"group","version","resource","namespace","name","uid"}. */
json_object *sim_dependents(struct sim *s, const char *uid);
/* Locate an object by uid: {"group","version","resource","namespace","name"}
 * or NULL. */
json_object *sim_find_uid(struct sim *s, const char *uid);

/* Watch cursors (HTTP watch). ns NULL = all namespaces. from_rv: the
 * resourceVersion to start after. -410 when from_rv has been compacted. */
struct sim_watch;
int sim_watch_open(struct sim *s, const char *group, const char *resource, const char *ns,
		   uint64_t from_rv, struct sim_watch **out);
/* Next event: waits up to timeout_ms; 0 with *type set (caller frees *type and
 * *json, the object's serialization, and *rv), 1 on timeout (nothing),
 * -410 when the cursor fell behind a compaction, -ECANCELED when the sim is
 * shutting down. prev_labels (may be NULL): for MODIFIED, the object's labels
 * before the change as JSON ("{}" when none; caller frees), else NULL; a
 * label-selector watch turns "started/stopped matching" into ADDED/DELETED. */
int sim_watch_next(struct sim_watch *w, int timeout_ms, char **type, char **json, uint64_t *rv,
		   char **prev_labels);
/* The resourceVersion the cursor has reached (for bookmarks). */
uint64_t sim_watch_pos(struct sim_watch *w);
void sim_watch_close(struct sim_watch *w);
/* Wake every waiting watch (shutdown). */
void sim_shutdown(struct sim *s);

/* Forget history up to the current resourceVersion: watches that start from
 * an older resourceVersion get 410 Gone. */
void sim_compact(struct sim *s);

#endif
