/* Step "per cluster": one matched InferenceCluster, in named sub-steps.
 *
 *   precheck        the VRAM precheck decides before anything is composed
 *   open            the cluster's client and informers (synced), else wait
 *   observe         the PVC, Job, token copy and Namespace there
 *   drop_lost       a Lost volume (or one gone under a Ready cluster) is
 *                   deleted with its Job, so both are composed again
 *   unlatch         a volume hydrated from another source is no longer Ready
 *   judge_job       is the observed Job the one the spec wants; the failed
 *                   Job's reason and message (read once per attempt)
 *   apply_volume    Namespace (remote), PVC (never shrunk), token copy (only
 *                   until Ready)
 *   hydrate         the Job, as status_plan_job decides
 *
 * Reads come from the cluster's informers; the only live requests are the
 * writes, the Pod list when a Job attempt has just failed, and a Job GET
 * when the informer has not yet seen a Job we created. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cache/informer.h"
#include "compose/compose.h"
#include "compose/precheck.h"
#include "controller/apply.h"
#include "controllers/modelcache/internal.h"
#include "kube/client.h"
#include "kube/resource.h"
#include "status/plan.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/quantity.h"

struct cl {
	struct rec *x;
	json_object *ic;
	const char *name, *tns;
	bool remote;
	struct cluster *cluster;
	struct kube_client *kc;
	struct cinf ci;
	json_object *prev_entry;               /* borrowed from x->prev */
	json_object *pvc, *job, *sec, *nsobj;  /* observed, owned */
	json_object *unlatched;                /* prev_entry with the Ready latch released */
	char *term;                            /* the failed attempt's message */
	struct status_cluster_in in;
	struct compose_input want;
	struct admit_hold hold;                /* capacity.c */
	unsigned errors_before;
};

bool cluster_informers(struct cluster *cl, bool remote, struct cinf *ci)
{
	ci->pvcs = cluster_informer(cl, &KUBE_RES_PVCS, NULL, API_SELECTOR_MANAGED);
	ci->jobs = cluster_informer(cl, &KUBE_RES_JOBS, NULL, API_SELECTOR_MANAGED);
	ci->secs = cluster_informer(cl, &KUBE_RES_SECRETS, NULL, API_SELECTOR_MANAGED);
	ci->nss = remote ? cluster_informer(cl, &KUBE_RES_NAMESPACES, NULL, API_SELECTOR_MANAGED) : NULL;
	return ci->pvcs && ci->jobs && ci->secs && informer_has_synced(ci->pvcs) && informer_has_synced(ci->jobs) &&
	       informer_has_synced(ci->secs) && (!ci->nss || informer_has_synced(ci->nss));
}

json_object *observe(struct informer *inf, const char *ns, const char *name)
{
	json_object *o = NULL;
	if (!inf)
		return NULL;
	char *key = ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
	if (informer_get(inf, key, &o) != 0)
		o = NULL;
	free(key);
	return o;
}

int delete_obj(struct kube_client *kc, const struct kube_resource *res, const char *ns, const char *name,
	       struct kube_error *err)
{
	struct kube_delete_opts o = {.propagation_policy = "Background"};
	int rc = kube_delete(kc, res, ns, name, &o, err);
	if (rc == -KUBE_ERR_NOT_FOUND) {
		kube_error_clear(err);
		return 0;
	}
	return rc;
}

/* The hydrator's exit code as a per-cluster reason (docs/concepts.md). */
static const char *exit_reason(int64_t code)
{
	switch (code) {
	case 3:
		return "Unauthorized";
	case 4:
		return "SourceNotFound";
	case 5:
		return "IntegrityError";
	default:
		return "HydrationFailed";
	}
}

/* The hydrator's termination message and exit code, from the Job's newest
 * Pod that has terminated. */
static char *termination_message(struct kube_client *kc, const char *ns, const char *job, int64_t *exit_code)
{
	static const char *const sels[] = {"batch.kubernetes.io/job-name", "job-name"};
	char *msg = NULL;
	*exit_code = -1;
	for (size_t s = 0; s < 2 && !msg; s++) {
		char *sel = xasprintf("%s=%s", sels[s], job);
		struct kube_list_opts lo = {.label_selector = sel};
		json_object *list = NULL;
		if (kube_list(kc, &KUBE_RES_PODS, ns, &lo, &list, NULL) == 0) {
			json_object *items = jpath_child(list, "items");
			const char *best_ts = NULL;
			for (size_t i = 0; items && i < json_object_array_length(items); i++) {
				json_object *p = json_object_array_get_idx(items, i);
				json_object *cs = json_object_array_get_idx(jpath_get(p, "status.containerStatuses"), 0);
				const char *m = jpath_str(cs, "state.terminated.message");
				const char *ts = jpath_str(p, "metadata.creationTimestamp");
				if (m && *m && (!best_ts || (ts && strcmp(ts, best_ts) >= 0))) {
					free(msg);
					msg = xstrdup(m);
					best_ts = ts;
					*exit_code = jpath_int_or(cs, "state.terminated.exitCode", -1);
				}
			}
		}
		json_object_put(list);
		free(sel);
	}
	if (msg) {
		/* one line, capped */
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		if (strlen(msg) > 512)
			msg[512] = '\0';
		size_t n = strlen(msg);
		while (n > 0 && msg[n - 1] == ' ')
			msg[--n] = '\0';
	}
	return msg;
}

static void cl_entry(struct cl *k, json_object **entry, enum status_phase *phase)
{
	json_object_put(*entry);
	*entry = NULL;
	status_cluster(&k->in, k->x->now_s, entry, phase);
}

static bool precheck(struct cl *k, json_object **entry)
{
	struct rec *x = k->x;
	struct precheck_result pr;
	compose_precheck(x->mc, k->ic, x->weight_bytes, &pr);
	if (pr.verdict == PRECHECK_SKIP) {
		k->in.skipped = true;
		k->in.estimated_bytes = pr.needed_bytes;
		k->in.available_bytes = pr.available_bytes;
		k->in.skip_message = pr.message;
		cl_entry(k, entry, NULL);
		return true;
	}
	if (pr.verdict == PRECHECK_BYPASS && count_once(x->r, x->uid, k->name, pr.bypass_reason)) {
		metric_bypass(pr.bypass_reason);
		LOG_INFO("vram precheck bypassed", "cluster=%s reason=%s", k->name, pr.bypass_reason);
	}
	return false;
}

static bool open_cluster(struct cl *k, json_object **entry)
{
	struct rec *x = k->x;
	k->cluster = registry_acquire(mgr_clusters(x->r->m), k->name);
	if (!k->cluster) {
		/* the InferenceCluster controller has not built its client yet */
		rec_want_requeue(x, REQUEUE_BLOCKED_MS);
		cl_entry(k, entry, NULL);
		return false;
	}
	k->remote = !compose_cluster_is_local(k->ic);
	k->tns = compose_target_namespace(x->mc, k->ic);
	/* a cluster found not answering is skipped until the InferenceCluster
	 * controller connects it again (its events requeue every cache) */
	if (!cluster_connected(k->cluster) || !cluster_informers(k->cluster, k->remote, &k->ci)) {
		rec_want_requeue(x, REQUEUE_NOT_SYNCED_MS);
		/* keep what we knew */
		if (k->prev_entry)
			json_object_deep_copy(k->prev_entry, entry, NULL);
		else
			cl_entry(k, entry, NULL);
		return false;
	}
	k->kc = cluster_client(k->cluster);
	return true;
}

static void observe_all(struct cl *k)
{
	struct rec *x = k->x;
	k->pvc = observe(k->ci.pvcs, k->tns, x->pvc_name);
	k->job = observe(k->ci.jobs, k->tns, x->job_name);
	k->sec = observe(k->ci.secs, k->tns, x->auth_name);
	k->nsobj = k->remote ? observe(k->ci.nss, NULL, k->tns) : NULL;
}

/* A failed request: recorded, and a cluster that does not answer is
 * reported so that no other reconcile waits for it too. */
static void cl_error(struct cl *k, const char *what, const struct kube_error *err)
{
	rec_set_error(k->x, what, k->name, err);
	if (err->reason == KUBE_ERR_TIMEOUT || err->reason == KUBE_ERR_UNAVAILABLE)
		cluster_report_unanswered(k->cluster, err->message ? err->message : what);
}

/* false once the cluster was found not answering (the rest of its work waits) */
static bool cl_usable(struct cl *k)
{
	if (cluster_connected(k->cluster))
		return true;
	rec_want_requeue(k->x, REQUEUE_BLOCKED_MS);
	return false;
}

static void delete_or_note(struct cl *k, const struct kube_resource *res, const char *name, const char *what)
{
	struct kube_error err = {0};
	if (cl_usable(k) && delete_obj(k->kc, res, k->tns, name, &err) != 0)
		cl_error(k, what, &err);
	kube_error_clear(&err);
}

static void drop_lost(struct cl *k)
{
	struct rec *x = k->x;
	bool was_ready = k->prev_entry && status_entry_phase(k->prev_entry) == STATUS_READY;
	if (!(k->pvc && mc_streq(jpath_str(k->pvc, "status.phase"), "Lost")) && !(!k->pvc && was_ready))
		return;
	LOG_WARN("cache volume lost", "cluster=%s pvc=%s/%s", k->name, k->tns, x->pvc_name);
	if (k->pvc)
		delete_or_note(k, &KUBE_RES_PVCS, x->pvc_name, "delete lost PVC");
	if (k->job)
		delete_or_note(k, &KUBE_RES_JOBS, x->job_name, "delete Job");
	json_object_put(k->pvc);
	json_object_put(k->job);
	k->pvc = k->job = NULL;
}

static void unlatch(struct cl *k)
{
	char art[17];
	compose_artifact_id_of(&k->x->spec, art);
	const char *have = jpath_annotation(k->pvc, COMPOSE_ANN_ARTIFACT);
	if (!have || strcmp(have, art) == 0 || !k->prev_entry || status_entry_phase(k->prev_entry) != STATUS_READY)
		return;
	LOG_INFO("source changed: hydrating again", "cluster=%s artifact=%s was=%s", k->name, art, have);
	json_object_deep_copy(k->prev_entry, &k->unlatched, NULL);
	json_object_object_add(k->unlatched, "phase", json_object_new_string(status_phase_str(STATUS_HYDRATING)));
	json_object_object_del(k->unlatched, "lastTransitionTime");
	k->in.prev = k->unlatched;
}

/* The desired-hash of the Job the spec wants, at the attempt numbers of the
 * observed Job (so that only a change of spec or retry request differs). */
static bool desired_hash_for(struct cl *k, json_object *job, char hash[65])
{
	struct compose_input in = k->want;
	in.attempt = plan_job_attempt(job);
	in.backoff_from = plan_job_backoff_from(job);
	json_object *d = NULL;
	bool ok = compose_job(&in, &d) == 0;
	if (ok)
		ctrl_desired_hash(d, hash);
	json_object_put(d);
	return ok;
}

static void judge_job(struct cl *k)
{
	struct rec *x = k->x;
	k->in.pvc = k->pvc;
	k->in.job = k->job;
	if (!k->job)
		return;
	if (!plan_job_failed(k->job)) {
		/* a Job composed for another source (or before a retry request) does not count */
		char h[65];
		if (desired_hash_for(k, k->job, h) && !mc_streq(jpath_annotation(k->job, API_ANN_DESIRED_HASH), h))
			k->in.job = NULL;
		return;
	}
	/* the message and reason already in status for this attempt, else from the Pod */
	json_object *pe = k->prev_entry;
	if (pe && status_entry_phase(pe) == STATUS_FAILED &&
	    jpath_int_or(pe, "attempts", 0) == (int64_t)plan_job_attempt(k->job) && jpath_str(pe, "message")) {
		k->term = xstrdup(jpath_str(pe, "message"));
		k->in.failure_reason = jpath_str(pe, "reason");
	} else {
		int64_t code = -1;
		k->term = termination_message(k->kc, k->tns, x->job_name, &code);
		k->in.failure_reason = exit_reason(code);
	}
	k->in.failure_message = k->term;
}

static void apply_one(struct cl *k, const struct kube_resource *res, const char *ns, json_object *desired,
		      json_object *observed, const char *what, const char *kind)
{
	struct kube_error err = {0};
	bool applied = false;
	if (!cl_usable(k))
		return;
	if (ctrl_apply_if_changed(k->kc, res, ns, desired, observed, &applied, NULL, &err) != 0)
		cl_error(k, what, &err);
	else if (applied && kind)
		LOG_INFO("applied", "cluster=%s kind=%s name=%s/%s", k->name, kind, ns ? ns : "",
			 jpath_str_or(desired, "metadata.name", "?"));
	kube_error_clear(&err);
}

/* A volume sized at --default-cache-size because the estimate failed, now
 * that the estimate says much less: recreated at the right size while
 * nothing was hydrated into it (never Ready, no Job running or done: none,
 * or a failed one). True when it was deleted (the rest waits for the next
 * reconcile, which composes it again once the deletion is seen). */
static bool resize_default_volume(struct cl *k, enum status_phase phase)
{
	struct rec *x = k->x;
	int64_t observed = 0;
	const char *req = jpath_str(k->pvc, "spec.resources.requests.storage");
	if (!k->pvc || k->want.size_default || !mc_streq(jpath_annotation(k->pvc, COMPOSE_ANN_SIZE_SOURCE), "default") ||
	    !req || quantity_parse_bytes(req, &observed) != 0 || observed <= k->want.size_bytes)
		return false;
	if (phase == STATUS_READY || (k->prev_entry && status_entry_phase(k->prev_entry) == STATUS_READY) ||
	    (k->job && !plan_job_failed(k->job)) || jpath_get(k->pvc, "metadata.deletionTimestamp"))
		return false;
	LOG_INFO("recreating a volume sized before the estimate", "cluster=%s pvc=%s/%s was=%s want_bytes=%" PRId64,
		 k->name, k->tns, x->pvc_name, req, k->want.size_bytes);
	if (k->job)
		delete_or_note(k, &KUBE_RES_JOBS, x->job_name, "delete Job");
	delete_or_note(k, &KUBE_RES_PVCS, x->pvc_name, "delete PVC sized at the default");
	rec_want_requeue(x, REQUEUE_NOT_SYNCED_MS);
	return true;
}

static void apply_volume(struct cl *k, enum status_phase phase)
{
	struct rec *x = k->x;
	json_object *d = NULL;
	if (k->remote && compose_namespace(&k->want, &d) == 0 && d)
		apply_one(k, &KUBE_RES_NAMESPACES, NULL, d, k->nsobj, "apply Namespace", NULL);
	json_object_put(d);
	d = NULL;

	/* never shrunk */
	struct compose_input pin = k->want;
	int64_t observed = 0;
	const char *req = jpath_str(k->pvc, "spec.resources.requests.storage");
	if (req && quantity_parse_bytes(req, &observed) == 0 && observed > pin.size_bytes)
		pin.size_bytes = observed;
	if (pin.size_bytes > x->volume_bytes)
		x->volume_bytes = pin.size_bytes;   /* status.size: what the volumes request */
	if (compose_pvc(&pin, &d) == 0)
		apply_one(k, &KUBE_RES_PVCS, k->tns, d, k->pvc, "apply PVC", "PersistentVolumeClaim");
	json_object_put(d);
	d = NULL;

	if (!x->auth)
		return;
	if (phase == STATUS_READY) {
		/* the token copy lives only until the cluster is Ready */
		if (k->sec) {
			delete_or_note(k, &KUBE_RES_SECRETS, x->auth_name, "delete Secret copy");
			LOG_INFO("deleted token copy", "cluster=%s name=%s/%s", k->name, k->tns, x->auth_name);
		}
	} else if (x->token_b64 && compose_auth_secret(&k->want, x->token_b64, &d) == 0) {
		apply_one(k, &KUBE_RES_SECRETS, k->tns, d, k->sec, "apply Secret copy", NULL);
		json_object_put(d);
	}
}

/* The informer may lag behind our own create: ask the API. Not before the
 * first attempt (no Job was ever created for this cluster; the status is not
 * stale, ctrl_cache_stale sees to that): on a cold start that GET would be a
 * 404 per cache and cluster. Should a create's status write have failed, the
 * repeated create is the same apply (same attempt). */
static void job_catch_up(struct cl *k, json_object *entry)
{
	if (k->job || jpath_int_or(entry, "attempts", 0) <= 0)
		return;
	struct kube_error err = {0};
	json_object *live = NULL;
	if (kube_get(k->kc, &KUBE_RES_JOBS, k->tns, k->x->job_name, &live, &err) == 0)
		k->job = live;
	else if (err.reason != KUBE_ERR_NOT_FOUND)
		cl_error(k, "get Job", &err);
	kube_error_clear(&err);
}

static void hydrate(struct cl *k, enum status_phase phase, json_object **entry)
{
	struct rec *x = k->x;
	/* while not Ready and the token (if any) is there, and only once this
	 * cluster's volume and token copy were written */
	if (phase == STATUS_READY || x->auth_message || x->nerrors != k->errors_before)
		return;
	job_catch_up(k, *entry);
	if (x->nerrors != k->errors_before)
		return;
	char h[65] = "";
	if (k->job && !desired_hash_for(k, k->job, h))
		return;
	struct plan p;
	struct plan_in pin = {.entry = *entry, .job = k->job, .desired_hash = k->job ? h : NULL,
			      .retry = k->want.retry, .now_ms = x->now_ms, .retry_base_ms = x->r->retry_base_ms};
	status_plan_job(&pin, &p);
	if (p.step == PLAN_KEEP)
		return;
	if (p.step == PLAN_WAIT) {
		rec_want_requeue(x, (uint64_t)p.wait_ms);
		return;
	}
	if (p.step == PLAN_REPLACE) {
		LOG_INFO("replacing the hydration Job", "cluster=%s attempt=%u reason=%s", k->name, p.attempt, p.why);
		struct kube_error err = {0};
		int rc = cl_usable(k) ? delete_obj(k->kc, &KUBE_RES_JOBS, k->tns, x->job_name, &err) : -1;
		if (rc != 0 && err.reason)
			cl_error(k, "delete Job", &err);
		kube_error_clear(&err);
		if (rc != 0)
			return;
	}
	struct compose_input in = k->want;
	in.attempt = p.attempt;
	in.backoff_from = p.backoff_from;
	json_object *d = NULL, *applied = NULL;
	if (compose_job(&in, &d) != 0)
		return;
	struct kube_error err = {0};
	if (!cl_usable(k)) {
		/* it waits for the cluster */
	} else if (ctrl_apply_if_changed(k->kc, &KUBE_RES_JOBS, k->tns, d, NULL, NULL, &applied, &err) != 0) {
		cl_error(k, "apply Job", &err);
	} else {
		LOG_INFO("applied", "cluster=%s kind=Job name=%s/%s attempt=%u", k->name, k->tns, x->job_name,
			 p.attempt);
		/* the entry reflects the new Job */
		k->in.job = applied;
		k->in.failure_message = NULL;
		k->in.failure_reason = NULL;
		cl_entry(k, entry, NULL);
		k->in.job = NULL;
	}
	kube_error_clear(&err);
	json_object_put(d);
	json_object_put(applied);
}

void step_cluster(struct rec *x, json_object *ic, json_object **entry)
{
	struct cl k = {.x = x, .ic = ic, .name = jpath_str_or(ic, "metadata.name", "?"), .errors_before = x->nerrors};
	k.prev_entry = jpath_find_name(jpath_child(x->prev, "clusters"), k.name);
	k.in = (struct status_cluster_in){.name = k.name, .pvc_name = x->pvc_name, .job_name = x->job_name,
					  .prev = k.prev_entry, .auth_missing = x->auth_message != NULL,
					  .auth_message = x->auth_message};
	k.want = (struct compose_input){.mc = x->mc, .spec = &x->spec, .ic = ic, .size_bytes = x->size_bytes,
					.size_default = x->size_state == STATUS_SIZE_FAILED,
					.hydrator_image = x->r->image, .hf_endpoint = x->r->hf_endpoint,
					.with_auth = x->auth, .retry = x->spec.retry};
	*entry = NULL;
	if (precheck(&k, entry) || !open_cluster(&k, entry))
		goto out;
	observe_all(&k);
	struct admit_in admit = {.ic = ic, .kc = k.kc, .local = !k.remote, .tns = k.tns, .pvc = k.pvc,
				 .prev_entry = k.prev_entry, .st = &k.in, .size_bytes = &k.want.size_bytes};
	if (!step_admit(x, &admit, &k.hold)) {
		cl_entry(&k, entry, NULL);
		goto out;
	}
	drop_lost(&k);
	unlatch(&k);
	judge_job(&k);
	enum status_phase phase;
	cl_entry(&k, entry, &phase);
	if (resize_default_volume(&k, phase))
		goto out;
	apply_volume(&k, phase);
	admit_release(&k.hold);   /* the next admission there sees this volume */
	hydrate(&k, phase, entry);
out:
	admit_hold_cleanup(&k.hold);
	free(k.term);
	json_object_put(k.unlatched);
	json_object_put(k.pvc);
	json_object_put(k.job);
	json_object_put(k.sec);
	json_object_put(k.nsobj);
	if (k.cluster)
		cluster_release(k.cluster);
}
