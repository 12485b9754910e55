/* Publishing what a reconcile found: the status (merge-patched only when
 * it differs from what was last written or observed), the events of its
 * transitions (after a successful write), metrics, and the finalizer. The
 * memo of the last written status covers an informer that lags behind our
 * own writes: a reconcile right after a write compares with what it wrote. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "controller/apply.h"
#include "controller/events.h"
#include "controller/memo.h"
#include "controllers/modelcache/internal.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "metrics/metrics.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

/* Metric increments already made: (uid, cluster, reason). */
struct counted {
	char *id;
	struct counted *next;
};

/* true the first time (uid, cluster, reason) is seen. */
bool count_once(struct mcr *r, const char *uid, const char *cluster, const char *reason)
{
	char *id = xasprintf("%s|%s|%s", uid ? uid : "", cluster, reason);
	bool first = true;
	pthread_mutex_lock(&r->mu);
	for (struct counted *c = r->counted; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			first = false;
	if (first) {
		struct counted *c = xcalloc(1, sizeof(*c));
		c->id = id;
		id = NULL;
		c->next = r->counted;
		r->counted = c;
	}
	pthread_mutex_unlock(&r->mu);
	free(id);
	return first;
}

static void metric_skipped(const char *cluster)
{
	static const char *const keys[] = {"cluster", "reason"};
	const char *vals[] = {cluster, "vram_insufficient"};
	metrics_counter_inc(metrics_counter_get("modelcache_hydrations_skipped_total",
						"Hydrations skipped by the VRAM precheck.", 2, keys, vals));
}

void metric_bypass(const char *reason)
{
	static const char *const keys[] = {"reason"};
	const char *vals[] = {reason};
	metrics_counter_inc(metrics_counter_get("modelcache_precheck_bypass_total",
						"VRAM prechecks bypassed, by reason.", 1, keys, vals));
}

bool has_finalizer(json_object *mc)
{
	return ctrl_has_finalizer(mc, API_FINALIZER);
}

int patch_finalizers(struct mcr *r, json_object *mc, bool add)
{
	struct kube_error err = {0};
	int rc = ctrl_patch_finalizer(mgr_client(r->m), &KUBE_RES_MODELCACHES, mc, API_FINALIZER, add, &err);
	if (rc)
		LOG_WARN("finalizer patch failed", "add=%d err=%s", add, err.message ? err.message : "");
	kube_error_clear(&err);
	return rc;
}

/* Merge-patch the owned status keys (absent ones set to null). */
static int write_status(struct mcr *r, json_object *mc, json_object *st)
{
	json_object *body = json_object_new_object(), *s = json_object_new_object();
	for (size_t i = 0; status_owned_keys[i]; i++) {
		json_object *v = jpath_child(st, status_owned_keys[i]);
		json_object_object_add(s, status_owned_keys[i], v ? json_object_get(v) : NULL);
	}
	json_object_object_add(body, "status", s);
	struct kube_patch_opts po = {.type = KUBE_PATCH_MERGE, .subresource = "status"};
	struct kube_error err = {0};
	int rc = kube_patch_obj(mgr_client(r->m), &KUBE_RES_MODELCACHES, jpath_str(mc, "metadata.namespace"),
				jpath_str(mc, "metadata.name"), body, &po, NULL, &err);
	if (rc)
		LOG_WARN("status write failed", "err=%s", err.message ? err.message : "");
	kube_error_clear(&err);
	json_object_put(body);
	return rc;
}

/* Is any cluster of a status in this phase? */
static bool any_cluster_in(json_object *st, enum status_phase p)
{
	json_object *cl = jpath_child(st, "clusters");
	for (size_t i = 0; cl && i < json_object_array_length(cl); i++)
		if (status_entry_phase(json_object_array_get_idx(cl, i)) == p)
			return true;
	return false;
}

static void emit_events(struct mcr *r, json_object *mc, json_object *prev, json_object *next)
{
	/* Once the cache has left the state an event reported, the recorder
	 * forgets it, so that entering the state again (Staged after a
	 * re-hydration, a second failure with the same message) is reported;
	 * while the state holds, a recomputed transition (a status write that
	 * failed) stays deduplicated. */
	const char *ready = jpath_str(api_condition_find(next, "ArtifactReady"), "reason");
	struct events *rec = mgr_events(r->m);
	if (!mc_streq(ready, "Staged"))
		events_forget_reason(rec, mc, "Staged");
	if (!mc_streq(ready, "AuthSecretMissing"))
		events_forget_reason(rec, mc, "AuthSecretMissing");
	if (!any_cluster_in(next, STATUS_FAILED))
		events_forget_reason(rec, mc, "HydrationFailed");
	if (!any_cluster_in(next, STATUS_SKIPPED))
		events_forget_reason(rec, mc, "InsufficientVRAM");
	if (!any_cluster_in(next, STATUS_EVICTED))
		events_forget_reason(rec, mc, "Evicted");
	if (!any_cluster_in(next, STATUS_PENDING))
		events_forget_reason(rec, mc, "InsufficientCapacity");
	json_object *ev = NULL;
	if (status_events(prev, next, jpath_str_or(mc, "spec.huggingFace.repo", ""), &ev) != 0)
		return;
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		const char *reason = jpath_str(e, "reason");
		events_emit(mgr_events(r->m), mc, jpath_str(e, "type"), reason, "Reconcile", jpath_str(e, "message"));
	}
	json_object_put(ev);
	/* the skipped counter follows the transitions into Skipped */
	json_object *ncl = jpath_child(next, "clusters"), *pcl = jpath_child(prev, "clusters");
	for (size_t i = 0; ncl && i < json_object_array_length(ncl); i++) {
		json_object *e = json_object_array_get_idx(ncl, i);
		if (status_entry_phase(e) != STATUS_SKIPPED)
			continue;
		json_object *pe = jpath_find_name(pcl, jpath_str(e, "name"));
		if ((!pe || status_entry_phase(pe) != STATUS_SKIPPED) &&
		    count_once(r, jpath_str(mc, "metadata.uid"), jpath_str_or(e, "name", "?"), "vram_insufficient"))
			metric_skipped(jpath_str_or(e, "name", "?"));
	}
}

/* Write status when it differs from what we last wrote / observed; emit the
 * transition events after a successful write. */
int publish(struct rec *x, json_object *st)
{
	if (status_equal(x->prev, st))
		return 0;
	int rc = write_status(x->r, x->mc, st);
	if (rc == 0) {
		emit_events(x->r, x->mc, x->prev, st);
		ctrl_memo_put(x->r->memo, x->key, x->uid, st);
	}
	return rc;
}

/* The previous status with condition `type` set (the other conditions and
 * fields kept): used while a deletion waits. */
int publish_condition(struct rec *x, const char *type, const char *status, const char *reason,
			     const char *message)
{
	json_object *st = NULL;
	if (x->prev)
		json_object_deep_copy(x->prev, &st, NULL);
	else
		st = json_object_new_object();
	json_object *pc = jpath_child(x->prev, "conditions");
	json_object *nc = json_object_new_array();
	for (size_t i = 0; pc && json_object_is_type(pc, json_type_array) && i < json_object_array_length(pc); i++) {
		json_object *c = json_object_array_get_idx(pc, i);
		if (!mc_streq(jpath_str(c, "type"), type))
			json_object_array_add(nc, json_object_get(c));
	}
	status_set_condition(nc, pc, type, status, reason, message, jpath_int_or(x->mc, "metadata.generation", 0),
			     x->now_s);
	json_object_object_add(st, "conditions", nc);
	int rc = publish(x, st);
	json_object_put(st);
	return rc;
}


int publish_status(struct rec *x, const struct status_in *si)
{
	json_object *st = NULL;
	int rc = status_compute(si, &st) == 0 && publish(x, st) == 0 ? 0 : -EIO;
	json_object_put(st);
	return rc;
}

void publish_state_free(struct mcr *r)
{
	ctrl_memo_free(r->memo);
	while (r->counted) {
		struct counted *c = r->counted;
		r->counted = c->next;
		free(c->id);
		free(c);
	}
}
