/* --run-jobs, the controller half: the batch/v1 Job controller (pods per
 * attempt, backoffLimit with a short exponential retry delay, completions /
 * parallelism, activeDeadlineSeconds, ttlSecondsAfterFinished, status and
 * conditions the way kube-controller-manager 1.31+ writes them). The kubelet
 * half is behave_pod.c. */
#include "behave_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define MANAGER "kube-controller-manager"
#define RETRY_BASE_MS 500   /* the real controller starts at 10s; tests want speed */
#define RETRY_MAX_MS 8000

static bool cond_true(json_object *conds, const char *type)
{
	size_t n = conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = behave__str(c, "type"), *s = behave__str(c, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
			return true;
	}
	return false;
}

static const char *cond_time(json_object *conds, const char *type)
{
	size_t n = conds && json_object_is_type(conds, json_type_array) ? json_object_array_length(conds) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = behave__str(c, "type");
		if (t && !strcmp(t, type))
			return behave__str(c, "lastTransitionTime");
	}
	return NULL;
}

static int64_t parse_sec(const char *ts)
{
	int64_t ns;
	if (!ts || rfc3339_parse(ts, &ns) < 0)
		return 0;
	return ns / 1000000000;
}

static int64_t int_or(json_object *o, const char *path, int64_t def)
{
	json_object *v = behave__path(o, path);
	return v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		       ? json_object_get_int64(v)
		       : def;
}

static json_object *condition(const char *type, const char *reason, const char *message, const char *now)
{
	json_object *c = json_object_new_object();
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string("True"));
	json_object_object_add(c, "lastProbeTime", json_object_new_string(now));
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(now));
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(message));
	return c;
}

/* would merging patch into cur change anything? */
static bool changes(json_object *cur, json_object *patch)
{
	json_object_object_foreach(patch, k, v) {
		json_object *c = behave__get(cur, k);
		if (!v) {
			if (c)
				return true;
			continue;
		}
		if (!c || !json_object_equal(c, v))
			return true;
	}
	return false;
}

/* Flip the Suspended condition (kept in conds); true when it changed to
 * `on` or, for !on, when a Suspended=True condition was resumed. */
static bool set_suspended(json_object *conds, bool on, const char *now)
{
	size_t n = json_object_array_length(conds);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = behave__str(c, "type"), *st = behave__str(c, "status");
		if (!t || strcmp(t, "Suspended"))
			continue;
		if (on ? (st && !strcmp(st, "True")) : !(st && !strcmp(st, "True")))
			return on; /* already so */
		json_object *nc = on ? condition("Suspended", "JobSuspended", "Job suspended", now)
				     : condition("Suspended", "JobResumed", "Job resumed", now);
		if (!on)
			json_object_object_add(nc, "status", json_object_new_string("False"));
		json_object_array_put_idx(conds, i, nc);
		return true;
	}
	if (!on)
		return false;
	json_object_array_add(conds, condition("Suspended", "JobSuspended", "Job suspended", now));
	return true;
}

static void handle_ttl(struct behave *b, json_object *job, const char *ns, const char *name)
{
	json_object *ttl = behave__path(job, "spec.ttlSecondsAfterFinished");
	json_object *st = behave__get(job, "status");
	int64_t done, now;
	if (!ttl)
		return;
	done = parse_sec(behave__str(st, "completionTime"));
	if (!done)
		done = parse_sec(cond_time(behave__get(st, "conditions"), "Failed"));
	if (!done)
		return;
	now = behave__now_sec(b);
	if (now >= done + json_object_get_int64(ttl)) {
		struct sim_err err = {0};
		LOG_INFO("kubesim: Job TTL expired", "key=%s/%s", ns, name);
		sim_delete(b->s, "batch", "v1", "jobs", ns, name, "Background", NULL, &err);
		sim_err_cleanup(&err);
		return;
	}
	behave__enqueue(b, BQ_JOB, ns, name, NULL, (uint64_t)(done + json_object_get_int64(ttl) - now) * 1000 + 50);
}

static json_object *new_pod(json_object *job, const char *ns, const char *name, const char *uid)
{
	json_object *tmpl = behave__path(job, "spec.template"), *pod = json_object_new_object();
	json_object *meta = json_object_new_object(), *labels = json_object_new_object(), *spec = NULL;
	json_object *tl = behave__path(tmpl, "metadata.labels"), *ta = behave__path(tmpl, "metadata.annotations");
	char *gen = xasprintf("%s-", name);

	json_object_object_add(pod, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(pod, "kind", json_object_new_string("Pod"));
	json_object_object_add(meta, "generateName", json_object_new_string(gen));
	json_object_object_add(meta, "namespace", json_object_new_string(ns));
	if (tl && json_object_is_type(tl, json_type_object)) {
		json_object_object_foreach(tl, k, v) json_object_object_add(labels, k, json_object_get(v));
	}
	json_object_object_add(labels, "batch.kubernetes.io/controller-uid", json_object_new_string(uid));
	json_object_object_add(labels, "batch.kubernetes.io/job-name", json_object_new_string(name));
	json_object_object_add(labels, "controller-uid", json_object_new_string(uid));
	json_object_object_add(labels, "job-name", json_object_new_string(name));
	json_object_object_add(meta, "labels", labels);
	if (ta && json_object_is_type(ta, json_type_object)) {
		json_object *ann = NULL;
		json_object_deep_copy(ta, &ann, NULL);
		json_object_object_add(meta, "annotations", ann);
	}
	json_object *refs = json_object_new_array(), *ref = json_object_new_object();
	json_object_object_add(ref, "apiVersion", json_object_new_string("batch/v1"));
	json_object_object_add(ref, "kind", json_object_new_string("Job"));
	json_object_object_add(ref, "name", json_object_new_string(name));
	json_object_object_add(ref, "uid", json_object_new_string(uid));
	json_object_object_add(ref, "controller", json_object_new_boolean(1));
	json_object_object_add(ref, "blockOwnerDeletion", json_object_new_boolean(1));
	json_object_array_add(refs, ref);
	json_object_object_add(meta, "ownerReferences", refs);
	json_object_object_add(pod, "metadata", meta);
	if (behave__get(tmpl, "spec"))
		json_object_deep_copy(behave__get(tmpl, "spec"), &spec, NULL);
	if (!spec)
		spec = json_object_new_object();
	json_object_object_add(spec, "nodeName", json_object_new_string("kubesim"));
	json_object_object_add(pod, "spec", spec);
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string("Pending"));
	json_object_object_add(st, "qosClass", json_object_new_string("BestEffort"));
	json_object_object_add(pod, "status", st);
	free(gen);
	return pod;
}

/* When the failed count of the Job reached `failed` (first seen now). The
 * pods' finishedAt has only second precision, too coarse for the delay. */
static uint64_t failure_seen(struct behave *b, const char *uid, int64_t failed)
{
	struct job_seen *js;
	for (js = b->seen; js; js = js->next)
		if (!strcmp(js->uid, uid))
			break;
	if (!js) {
		js = xcalloc(1, sizeof(*js));
		js->uid = xstrdup(uid);
		js->next = b->seen;
		b->seen = js;
	}
	if (js->failed != failed) {
		js->failed = failed;
		js->at_ms = mono_ms();
	}
	return js->at_ms;
}

static void forget_job(struct behave *b, const char *uid)
{
	for (struct job_seen **pp = &b->seen; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->uid, uid)) {
			struct job_seen *js = *pp;
			*pp = js->next;
			free(js->uid);
			free(js);
			return;
		}
	}
}

static void delete_pod(struct behave *b, json_object *pod)
{
	json_object *meta = behave__get(pod, "metadata");
	sim_delete(b->s, "", "v1", "pods", behave__str(meta, "namespace"), behave__str(meta, "name"), "Background", NULL, NULL);
}

void behave__job_reconcile(struct behave *b, const char *ns, const char *name)
{
	json_object *job = NULL, *pods = NULL, *items, *st, *patch = NULL, *conds = NULL;
	const char *uid;
	char sel[256], now[32];
	int64_t active = 0, succeeded = 0, failed = 0, ready = 0, restarts = 0;

	if (sim_get(b->s, "batch", "v1", "jobs", ns, name, &job, NULL) < 0)
		return;
	uid = behave__str(behave__get(job, "metadata"), "uid");
	if (!uid)
		goto out;
	if (behave__path(job, "metadata.deletionTimestamp")) {
		behave__pod_kill(b, NULL, uid);
		goto out;
	}
	st = behave__get(job, "status");
	if (cond_true(behave__get(st, "conditions"), "Complete") || cond_true(behave__get(st, "conditions"), "Failed")) {
		handle_ttl(b, job, ns, name);
		goto out;
	}

	snprintf(sel, sizeof(sel), "batch.kubernetes.io/controller-uid=%s", uid);
	if (sim_list(b->s, "", "v1", "pods", ns, sel, NULL, &pods, NULL) < 0)
		goto out;
	items = behave__get(pods, "items");
	size_t np = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < np; i++) {
		json_object *p = json_object_array_get_idx(items, i);
		const char *phase = behave__str(behave__get(p, "status"), "phase");
		if (phase && !strcmp(phase, "Succeeded")) {
			succeeded++;
		} else if (phase && !strcmp(phase, "Failed")) {
			failed++;
		} else if (!behave__path(p, "metadata.deletionTimestamp")) {
			/* restartPolicy OnFailure: restarts count against backoffLimit */
			json_object *cs = behave__path(p, "status.containerStatuses");
			for (size_t j = 0; cs && json_object_is_type(cs, json_type_array) && j < json_object_array_length(cs); j++) {
				json_object *rc = behave__get(json_object_array_get_idx(cs, j), "restartCount");
				if (rc)
					restarts += json_object_get_int64(rc);
			}
			active++;
			if (cond_true(behave__path(p, "status.conditions"), "Ready"))
				ready++;
		}
	}

	int64_t completions = int_or(job, "spec.completions", 1);
	int64_t parallelism = int_or(job, "spec.parallelism", 1);
	int64_t backoff_limit = int_or(job, "spec.backoffLimit", 6);
	int64_t deadline = int_or(job, "spec.activeDeadlineSeconds", 0);
	json_object *suspend = behave__path(job, "spec.suspend");
	int64_t now_s = behave__now_sec(b);
	const char *start = behave__str(st, "startTime");
	behave__now(b, now);

	conds = json_object_new_array();
	json_object *old = behave__get(st, "conditions");
	for (size_t i = 0; old && i < json_object_array_length(old); i++)
		json_object_array_add(conds, json_object_get(json_object_array_get_idx(old, i)));

	const char *fail_reason = NULL, *fail_msg = NULL;
	if (failed + restarts > backoff_limit) {
		fail_reason = "BackoffLimitExceeded";
		fail_msg = "Job has reached the specified backoff limit";
	} else if (deadline > 0 && start && now_s - parse_sec(start) >= deadline) {
		fail_reason = "DeadlineExceeded";
		fail_msg = "Job was active longer than specified deadline";
	}

	bool complete = false, suspended = false;
	if (fail_reason) {
		for (size_t i = 0; i < np; i++) {
			json_object *p = json_object_array_get_idx(items, i);
			const char *phase = behave__str(behave__get(p, "status"), "phase");
			if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")))
				delete_pod(b, p);
		}
		active = 0;
		ready = 0;
		json_object_array_add(conds, condition("FailureTarget", fail_reason, fail_msg, now));
		json_object_array_add(conds, condition("Failed", fail_reason, fail_msg, now));
		LOG_INFO("kubesim: Job failed", "key=%s/%s reason=%s failed=%lld", ns, name, fail_reason,
			 (long long)failed);
	} else if (succeeded >= completions) {
		complete = true;
		json_object_array_add(conds, condition("SuccessCriteriaMet", "CompletionsReached",
						       "Reached expected number of succeeded pods", now));
		json_object_array_add(conds, condition("Complete", "CompletionsReached",
						       "Reached expected number of succeeded pods", now));
		LOG_INFO("kubesim: Job complete", "key=%s/%s", ns, name);
	} else if (suspend && json_object_get_boolean(suspend)) {
		/* suspended: active pods go, the clock stops */
		for (size_t i = 0; i < np; i++) {
			json_object *p = json_object_array_get_idx(items, i);
			const char *phase = behave__str(behave__get(p, "status"), "phase");
			if (!phase || (strcmp(phase, "Succeeded") && strcmp(phase, "Failed")))
				delete_pod(b, p);
		}
		active = 0;
		ready = 0;
		suspended = set_suspended(conds, true, now);
	} else {
		if (set_suspended(conds, false, now))
			start = NULL; /* resumed: startTime restarts now */
		int64_t want = parallelism < completions - succeeded ? parallelism : completions - succeeded;
		int64_t need = want - active;
		if (need > 0 && failed > 0) {
			uint64_t delay = RETRY_BASE_MS, seen_at = failure_seen(b, uid, failed);
			for (int64_t i = 1; i < failed && delay < RETRY_MAX_MS; i++)
				delay *= 2;
			if (delay > RETRY_MAX_MS)
				delay = RETRY_MAX_MS;
			uint64_t now_ms = mono_ms();
			if (seen_at + delay > now_ms) {
				behave__enqueue(b, BQ_JOB, ns, name, NULL, seen_at + delay - now_ms);
				need = 0;
			}
		}
		for (int64_t i = 0; i < need; i++) {
			json_object *pod = new_pod(job, ns, name, uid), *created = NULL;
			struct sim_err err = {0};
			if (sim_create(b->s, "", "v1", "pods", ns, pod, &created, &err) == 0) {
				LOG_INFO("kubesim: Job pod created", "key=%s/%s pod=%s", ns, name,
					 behave__str(behave__get(created, "metadata"), "name"));
				behave__pod_start(b, created, uid);
				active++;
			} else {
				LOG_WARN("kubesim: cannot create Job pod", "key=%s/%s msg=%s", ns, name, err.message);
				behave__enqueue(b, BQ_JOB, ns, name, NULL, 1000);
			}
			sim_err_cleanup(&err);
			json_object_put(created);
			json_object_put(pod);
		}
	}

	json_object *nst = json_object_new_object();
	json_object_object_add(nst, "startTime", suspended ? NULL : json_object_new_string(start ? start : now));
	json_object_object_add(nst, "active", active ? json_object_new_int64(active) : NULL);
	json_object_object_add(nst, "succeeded", succeeded ? json_object_new_int64(succeeded) : NULL);
	json_object_object_add(nst, "failed", failed ? json_object_new_int64(failed) : NULL);
	json_object_object_add(nst, "ready", json_object_new_int64(ready));
	json_object_object_add(nst, "terminating", json_object_new_int64(0));
	if (complete)
		json_object_object_add(nst, "completionTime", json_object_new_string(now));
	if (json_object_array_length(conds) > 0)
		json_object_object_add(nst, "conditions", json_object_get(conds));
	if (changes(st, nst)) {
		patch = json_object_new_object();
		json_object_object_add(patch, "status", nst);
		behave__patch(b, "batch", "v1", "jobs", ns, name, "status", patch, MANAGER);
	} else {
		json_object_put(nst);
	}
	if (complete || fail_reason) {
		forget_job(b, uid);
		if (behave__path(job, "spec.ttlSecondsAfterFinished"))
			behave__enqueue(b, BQ_JOB, ns, name, NULL,
				       (uint64_t)json_object_get_int64(behave__path(job, "spec.ttlSecondsAfterFinished")) * 1000 + 50);
	} else if (deadline > 0) {
		int64_t left = (start ? parse_sec(start) : now_s) + deadline - now_s;
		behave__enqueue(b, BQ_JOB, ns, name, NULL, left > 0 ? (uint64_t)left * 1000 + 50 : 50);
	}
out:
	json_object_put(conds);
	json_object_put(patch);
	json_object_put(pods);
	json_object_put(job);
}
