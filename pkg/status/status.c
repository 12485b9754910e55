#include "status/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "util/buf.h"
#include "util/jcanon.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/timeutil.h"

static const char *const phase_names[] = {"Pending", "Hydrating", "Ready", "Failed", "Skipped", "Evicted"};

const char *const status_owned_keys[] = {"observedGeneration", "resolvedRevision", "size", "estimate", "summary",
					 "clusters", "conditions", NULL};

const char *status_phase_str(enum status_phase p)
{
	if ((unsigned)p >= sizeof(phase_names) / sizeof(phase_names[0]))
		return "Pending";
	return phase_names[p];
}

int status_phase_parse(const char *s, enum status_phase *out)
{
	for (unsigned i = 0; s && i < sizeof(phase_names) / sizeof(phase_names[0]); i++) {
		if (strcmp(s, phase_names[i]) == 0) {
			*out = (enum status_phase)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum status_phase status_entry_phase(json_object *entry)
{
	enum status_phase p = STATUS_PENDING;
	if (status_phase_parse(jpath_str(entry, "phase"), &p) != 0)
		return STATUS_PENDING;
	return p;
}

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void now_str(int64_t now_s, char out[RFC3339_LEN + 1])
{
	rfc3339_format(now_s, out);
}

static json_object *cond_of(json_object *obj, const char *type)
{
	return jpath_find_type(jpath_get(obj, "status.conditions"), type);
}

static bool obj_cond_true(json_object *obj, const char *type)
{
	const char *s = jpath_str(cond_of(obj, type), "status");
	return s && strcmp(s, "True") == 0;
}

int64_t status_retry_delay_s(unsigned attempts)
{
	int64_t d = 60;
	for (unsigned i = 1; i < attempts && d < 3600; i++)
		d *= 2;
	return d > 3600 ? 3600 : d;
}

bool status_retry_due(json_object *entry, int64_t now_s, int64_t *wait_s)
{
	int64_t t = 0;
	unsigned attempts = (unsigned)jpath_int_or(entry, "attempts", 1);
	const char *ts = jpath_str(entry, "lastTransitionTime");
	if (wait_s)
		*wait_s = 0;
	if (!ts || rfc3339_parse(ts, &t) != 0)
		return true;
	int64_t due = t / 1000000000 + status_retry_delay_s(attempts ? attempts : 1);
	if (now_s >= due)
		return true;
	if (wait_s)
		*wait_s = due - now_s;
	return false;
}

static unsigned attempts_of(const struct status_cluster_in *in)
{
	const char *a = in->job ? jpath_annotation(in->job, COMPOSE_ANN_ATTEMPT) : NULL;
	if (a) {
		char *end = NULL;
		unsigned long v = strtoul(a, &end, 10);
		if (end && *end == '\0' && v > 0 && v < 1000000)
			return (unsigned)v;
	}
	int64_t p = jpath_int_or(in->prev, "attempts", 0);
	return p > 0 && p < 1000000 ? (unsigned)p : 0;
}

int status_cluster(const struct status_cluster_in *in, int64_t now_s, json_object **out, enum status_phase *phase_out)
{
	enum status_phase phase;
	const char *reason, *message = "";
	char *owned_msg = NULL;
	if (!in || !in->name)
		return -EINVAL;
	bool was_ready = in->prev && status_entry_phase(in->prev) == STATUS_READY;
	const char *pvc_phase = jpath_str(in->pvc, "status.phase");
	bool bound = in->pvc && pvc_phase && strcmp(pvc_phase, "Bound") == 0;
	bool lost = !in->pvc || (pvc_phase && strcmp(pvc_phase, "Lost") == 0);

	if (in->skipped) {
		phase = STATUS_SKIPPED;
		reason = "InsufficientVRAM";
		message = in->skip_message ? in->skip_message : "";
	} else if (in->evicted) {
		phase = STATUS_EVICTED;
		reason = "Evicted";
		message = in->evicted_message && *in->evicted_message ? in->evicted_message
								      : "removed to free cache capacity";
	} else if (in->capacity_message) {
		phase = STATUS_PENDING;
		reason = "InsufficientCapacity";
		message = in->capacity_message;
	} else if (in->job && obj_cond_true(in->job, "Failed")) {
		phase = STATUS_FAILED;
		reason = in->failure_reason && *in->failure_reason ? in->failure_reason : "HydrationFailed";
		message = in->failure_message;
		if (!message || !*message)
			message = jpath_str(cond_of(in->job, "Failed"), "message");
		if (!message || !*message)
			message = "the hydration job failed";
	} else if (bound && ((in->job && obj_cond_true(in->job, "Complete")) || was_ready)) {
		phase = STATUS_READY;
		reason = "Staged";
	} else if (bound) {
		phase = STATUS_HYDRATING;
		if (in->auth_missing) {
			reason = "AuthSecretMissing";
			message = in->auth_message ? in->auth_message : "";
		} else if (in->job) {
			reason = "Hydrating";
			message = "the hydration job is running";
		} else {
			reason = "Hydrating";
			message = "waiting for the hydration job";
		}
	} else {
		phase = STATUS_PENDING;
		if (was_ready && lost) {
			reason = "VolumeLost";
			message = "the cache volume is gone; composing it again";
		} else if (in->auth_missing) {
			reason = "AuthSecretMissing";
			message = in->auth_message ? in->auth_message : "";
		} else if (in->pvc) {
			/* name the class: a missing StorageClass is the usual cause */
			reason = "WaitingForVolume";
			owned_msg = xasprintf("waiting for a volume of class %s on %s (PVC %s is %s)",
					      jpath_str_or(in->pvc, "spec.storageClassName", "(default)"), in->name,
					      in->pvc_name ? in->pvc_name : "", pvc_phase ? pvc_phase : "not bound yet");
			message = owned_msg;
		} else {
			reason = "WaitingForVolume";
			owned_msg = xasprintf("waiting for PVC %s on %s", in->pvc_name ? in->pvc_name : "", in->name);
			message = owned_msg;
		}
	}

	json_object *e = json_object_new_object();
	put_str(e, "name", in->name);
	put_str(e, "phase", status_phase_str(phase));
	put_str(e, "reason", reason);
	put_str(e, "message", message);
	if (phase != STATUS_SKIPPED) {
		if (in->pvc_name)
			put_str(e, "pvc", in->pvc_name);
		if (in->job_name)
			put_str(e, "job", in->job_name);
	}
	unsigned attempts = attempts_of(in);
	if (attempts)
		json_object_object_add(e, "attempts", json_object_new_int64(attempts));
	const char *prev_ts = jpath_str(in->prev, "lastTransitionTime");
	if (in->prev && status_entry_phase(in->prev) == phase && jpath_str(in->prev, "phase") && prev_ts) {
		put_str(e, "lastTransitionTime", prev_ts);
	} else {
		char ts[RFC3339_LEN + 1];
		now_str(now_s, ts);
		put_str(e, "lastTransitionTime", ts);
	}
	if (phase == STATUS_SKIPPED) {
		json_object_object_add(e, "estimatedBytes", json_object_new_int64(in->estimated_bytes));
		json_object_object_add(e, "availableBytes", json_object_new_int64(in->available_bytes));
	}
	free(owned_msg);
	*out = e;
	if (phase_out)
		*phase_out = phase;
	return 0;
}

void status_set_condition(json_object *conds, json_object *prev_conds, const char *type, const char *status,
			  const char *reason, const char *message, int64_t generation, int64_t now_s)
{
	json_object *prev = jpath_find_type(prev_conds, type);
	const char *pst = jpath_str(prev, "status");
	const char *pts = jpath_str(prev, "lastTransitionTime");
	json_object *c = json_object_new_object();
	put_str(c, "type", type);
	put_str(c, "status", status);
	put_str(c, "reason", reason);
	put_str(c, "message", message);
	json_object_object_add(c, "observedGeneration", json_object_new_int64(generation));
	if (pst && pts && strcmp(pst, status) == 0) {
		put_str(c, "lastTransitionTime", pts);
	} else {
		char ts[RFC3339_LEN + 1];
		now_str(now_s, ts);
		put_str(c, "lastTransitionTime", ts);
	}
	json_object_array_add(conds, c);
}

/* "a, b, c" of the entries' names whose phase passes the filter. */
static char *names_where(json_object *clusters, int want_phase, int skip_phase)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	size_t n = clusters ? json_object_array_length(clusters) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(clusters, i);
		enum status_phase p = status_entry_phase(e);
		if (want_phase >= 0 && (int)p != want_phase)
			continue;
		if (skip_phase >= 0 && (int)p == skip_phase)
			continue;
		if (b.len)
			buf_puts(&b, ", ");
		buf_puts(&b, jpath_str_or(e, "name", "?"));
	}
	return buf_take(&b, NULL);
}

static size_t count_where(json_object *clusters, int want_phase, int skip_phase)
{
	size_t c = 0, n = clusters ? json_object_array_length(clusters) : 0;
	for (size_t i = 0; i < n; i++) {
		enum status_phase p = status_entry_phase(json_object_array_get_idx(clusters, i));
		if ((want_phase < 0 || (int)p == want_phase) && (skip_phase < 0 || (int)p != skip_phase))
			c++;
	}
	return c;
}

static json_object *deep_copy(json_object *o)
{
	json_object *c = NULL;
	if (!o)
		return NULL;
	if (json_object_deep_copy(o, &c, NULL) != 0)
		return NULL;
	return c;
}

static void artifact_ready(json_object *conds, json_object *prev_conds, json_object *clusters,
			   const struct status_in *in, int64_t gen)
{
	size_t matched = clusters ? json_object_array_length(clusters) : 0;
	size_t ready = count_where(clusters, STATUS_READY, -1);
	size_t failed = count_where(clusters, STATUS_FAILED, -1);
	size_t skipped = count_where(clusters, STATUS_SKIPPED, -1);
	size_t evicted = count_where(clusters, STATUS_EVICTED, -1);
	char *msg = NULL;
	const char *st = "False", *reason;
	if (in->source_reason) {
		reason = in->source_reason;
		msg = xstrdup(in->source_message ? in->source_message : in->source_reason);
	} else if (in->size == STATUS_SIZE_PENDING) {
		reason = "Estimating";
		msg = xstrdup(in->size_message ? in->size_message : "estimating the size from the Hub");
	} else if (matched == 0) {
		reason = "NoClusters";
		msg = xstrdup("no connected InferenceCluster matches the clusterSelector");
	} else if (in->auth_message && ready < matched) {
		reason = "AuthSecretMissing";
		msg = xstrdup(in->auth_message);
	} else if (failed > 0) {
		reason = "Failed";
		char *names = names_where(clusters, STATUS_FAILED, -1);
		json_object *first = NULL;
		for (size_t i = 0; i < matched; i++) {
			json_object *e = json_object_array_get_idx(clusters, i);
			if (status_entry_phase(e) == STATUS_FAILED) {
				first = e;
				break;
			}
		}
		msg = xasprintf("hydration failed on %s: %s", names, jpath_str_or(first, "message", ""));
		free(names);
	} else if (ready == matched) {
		st = "True";
		reason = "Staged";
		msg = xasprintf("Artifact staged on all %zu clusters", matched);
	} else if (evicted > 0 && evicted + skipped == matched - ready) {
		reason = "Evicted";
		char *names = names_where(clusters, STATUS_EVICTED, -1);
		msg = xasprintf("evicted for capacity on %s (ready on %zu of %zu clusters); a ModelDeployment "
				"placed there brings it back", names, ready, matched);
		free(names);
	} else if (ready > 0) {
		reason = "Partial";
		char *names = names_where(clusters, STATUS_READY, -1);
		msg = xasprintf("ready on %zu of %zu clusters: %s", ready, matched, names);
		free(names);
	} else if (skipped == matched - ready) {
		reason = "Skipped";
		msg = xasprintf("skipped on every matched cluster (%zu)", skipped);
	} else {
		reason = "Hydrating";
		/* say what each cluster waits for: a volume, or the download */
		struct buf b;
		buf_init(&b, 1u << 16);
		char *hyd = NULL;
		for (size_t i = 0; i < matched; i++) {
			json_object *e = json_object_array_get_idx(clusters, i);
			if (status_entry_phase(e) == STATUS_SKIPPED)
				continue;
			if (strcmp(jpath_str_or(e, "reason", ""), "WaitingForVolume") == 0) {
				buf_printf(&b, "%s%s", b.len ? "; " : "", jpath_str_or(e, "message", ""));
			} else {
				char *prev = hyd;
				hyd = xasprintf("%s%s%s", prev ? prev : "", prev ? ", " : "", jpath_str_or(e, "name", ""));
				free(prev);
			}
		}
		if (hyd && b.len)
			msg = xasprintf("hydrating on %s; %s", hyd, buf_str(&b));
		else if (hyd)
			msg = xasprintf("hydrating on %s", hyd);
		else
			msg = xstrdup(buf_str(&b));
		free(hyd);
		buf_cleanup(&b);
	}
	status_set_condition(conds, prev_conds, "ArtifactReady", st, reason, msg, gen, in->now_s);
	free(msg);
}

/* Ready and Stalled, the conditions GitOps tools read (kstatus, Argo CD,
 * Flux, `kubectl wait --for=condition=Ready`): Ready mirrors ArtifactReady;
 * Stalled is True when nothing changes without a user action (the spec is
 * invalid, or every matched cluster is Skipped for VRAM). */
static void health(json_object *conds, json_object *prev_conds, int64_t gen, int64_t now_s)
{
	json_object *ar = jpath_find_type(conds, "ArtifactReady");
	const char *st = jpath_str_or(ar, "status", "Unknown"), *reason = jpath_str_or(ar, "reason", "Unknown");
	const char *msg = jpath_str_or(ar, "message", "");
	status_set_condition(conds, prev_conds, "Ready", st, reason, msg, gen, now_s);
	static const char *const terminal[] = {"Invalid", "Skipped", "SourceNotFound", "Unauthorized", "NoFilesSelected"};
	bool stalled = false;
	for (size_t i = 0; strcmp(st, "True") != 0 && i < sizeof(terminal) / sizeof(terminal[0]); i++)
		stalled |= strcmp(reason, terminal[i]) == 0;
	status_set_condition(conds, prev_conds, "Stalled", stalled ? "True" : "False", reason,
			     stalled ? msg : "", gen, now_s);
}

int status_compute(const struct status_in *in, json_object **out)
{
	if (!in || !in->mc || !out)
		return -EINVAL;
	int64_t gen = jpath_int_or(in->mc, "metadata.generation", 0);
	json_object *prev_conds = jpath_get(in->mc, "status.conditions");
	json_object *st = json_object_new_object();
	json_object *conds = json_object_new_array();
	json_object_object_add(st, "observedGeneration", json_object_new_int64(gen));

	if (in->invalid_message) {
		json_object_object_add(st, "summary", json_object_new_object());
		put_str(json_object_object_get(st, "summary"), "ready", "0/0");
		json_object_object_add(st, "clusters", json_object_new_array());
		status_set_condition(conds, prev_conds, "Valid", "False", "Invalid", in->invalid_message, gen, in->now_s);
		status_set_condition(conds, prev_conds, "ArtifactReady", "False", "Invalid",
				     "the ModelCache is invalid; nothing is composed", gen, in->now_s);
		goto done;
	}

	if (in->resolved_revision)
		put_str(st, "resolvedRevision", in->resolved_revision);
	if (in->volume_size)
		put_str(st, "size", in->volume_size);
	if (in->estimate)
		json_object_object_add(st, "estimate", deep_copy(in->estimate));
	json_object *clusters = in->clusters ? deep_copy(in->clusters) : json_object_new_array();
	size_t matched = json_object_array_length(clusters);
	size_t ready = count_where(clusters, STATUS_READY, -1);
	char summary[64];
	snprintf(summary, sizeof(summary), "%zu/%zu", ready, matched);
	json_object *sum = json_object_new_object();
	put_str(sum, "ready", summary);
	json_object_object_add(st, "summary", sum);
	json_object_object_add(st, "clusters", clusters);

	status_set_condition(conds, prev_conds, "Valid", "True", "Valid", "", gen, in->now_s);
	if (in->size == STATUS_SIZE_PENDING && matched == 0) {
		status_set_condition(conds, prev_conds, "ClustersMatched", "Unknown", "Estimating",
				     "clusters are matched once the size is known", gen, in->now_s);
	} else if (matched == 0) {
		status_set_condition(conds, prev_conds, "ClustersMatched", "False", "NoClusters",
				     "no connected InferenceCluster matches the clusterSelector", gen, in->now_s);
	} else {
		char *names = names_where(clusters, -1, -1);
		char *msg = xasprintf("%zu clusters: %s", matched, names);
		status_set_condition(conds, prev_conds, "ClustersMatched", "True", "Matched", msg, gen, in->now_s);
		free(msg);
		free(names);
	}
	switch (in->size) {
	case STATUS_SIZE_SPEC:
		status_set_condition(conds, prev_conds, "SizeEstimated", "True", "SpecSize",
				     in->size_message ? in->size_message : "size set in spec.size", gen, in->now_s);
		break;
	case STATUS_SIZE_ESTIMATED:
		status_set_condition(conds, prev_conds, "SizeEstimated", "True", "Estimated",
				     in->size_message ? in->size_message : "", gen, in->now_s);
		break;
	case STATUS_SIZE_FAILED:
		status_set_condition(conds, prev_conds, "SizeEstimated", "False", "EstimateFailed",
				     in->size_message ? in->size_message : "", gen, in->now_s);
		break;
	default:
		status_set_condition(conds, prev_conds, "SizeEstimated", "Unknown", "Estimating",
				     in->size_message ? in->size_message : "", gen, in->now_s);
		break;
	}
	artifact_ready(conds, prev_conds, clusters, in, gen);
done:
	health(conds, prev_conds, gen, in->now_s);
	if (in->cleanup_blocked)
		status_set_condition(conds, prev_conds, "CleanupBlocked", "True", "ClusterUnreachable",
				     in->cleanup_blocked, gen, in->now_s);
	json_object_object_add(st, "conditions", conds);
	*out = st;
	return 0;
}

bool status_equal(json_object *a, json_object *b)
{
	bool eq = true;
	struct buf x, y;
	buf_init(&x, 16u << 20);
	buf_init(&y, 16u << 20);
	for (size_t i = 0; status_owned_keys[i] && eq; i++) {
		buf_reset(&x);
		buf_reset(&y);
		jcanon_json(jpath_child(a, status_owned_keys[i]), &x);
		jcanon_json(jpath_child(b, status_owned_keys[i]), &y);
		eq = x.len == y.len && memcmp(buf_str(&x), buf_str(&y), x.len) == 0;
	}
	buf_cleanup(&x);
	buf_cleanup(&y);
	return eq;
}

static void add_event(json_object *arr, const char *type, const char *reason, const char *message)
{
	json_object *e = json_object_new_object();
	put_str(e, "type", type);
	put_str(e, "reason", reason);
	put_str(e, "message", message);
	json_object_array_add(arr, e);
}

int status_events(json_object *prev, json_object *next, const char *repo, json_object **out)
{
	json_object *ev = json_object_new_array();
	json_object *pcl = jpath_child(prev, "clusters"), *ncl = jpath_child(next, "clusters");
	size_t prev_composed = count_where(pcl, -1, STATUS_SKIPPED);
	size_t next_composed = count_where(ncl, -1, STATUS_SKIPPED);
	if (prev_composed == 0 && next_composed > 0) {
		char *names = names_where(ncl, -1, STATUS_SKIPPED);
		char *msg = xasprintf("Staging %s to %zu clusters: %s", repo ? repo : "", next_composed, names);
		add_event(ev, "Normal", "Staging", msg);
		free(msg);
		free(names);
	}
	size_t n = ncl ? json_object_array_length(ncl) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(ncl, i);
		const char *name = jpath_str_or(e, "name", "?");
		json_object *pe = jpath_find_name(pcl, name);
		enum status_phase p = status_entry_phase(e);
		bool changed = !pe || status_entry_phase(pe) != p;
		if (p == STATUS_FAILED &&
		    (changed || jpath_int_or(pe, "attempts", 0) != jpath_int_or(e, "attempts", 0))) {
			char *msg = xasprintf("hydration on %s failed (attempt %lld): %s", name,
					      (long long)jpath_int_or(e, "attempts", 1), jpath_str_or(e, "message", ""));
			add_event(ev, "Warning", "HydrationFailed", msg);
			free(msg);
		} else if (p == STATUS_SKIPPED && changed) {
			add_event(ev, "Warning", "InsufficientVRAM", jpath_str_or(e, "message", ""));
		} else if (p == STATUS_EVICTED && changed) {
			add_event(ev, "Normal", "Evicted", jpath_str_or(e, "message", ""));
		} else if (p == STATUS_PENDING && strcmp(jpath_str_or(e, "reason", ""), "InsufficientCapacity") == 0 &&
			   (changed || strcmp(jpath_str_or(pe, "reason", ""), "InsufficientCapacity") != 0)) {
			add_event(ev, "Warning", "InsufficientCapacity", jpath_str_or(e, "message", ""));
		}
	}
	json_object *pa = jpath_find_type(jpath_child(prev, "conditions"), "ArtifactReady");
	json_object *na = jpath_find_type(jpath_child(next, "conditions"), "ArtifactReady");
	const char *pst = jpath_str(pa, "status"), *nst = jpath_str(na, "status");
	const char *prs = jpath_str(pa, "reason"), *nrs = jpath_str(na, "reason");
	if (nst && strcmp(nst, "True") == 0 && nrs && strcmp(nrs, "Staged") == 0 && !(pst && strcmp(pst, "True") == 0))
		add_event(ev, "Normal", "Staged", jpath_str_or(na, "message", ""));
	if (nrs && strcmp(nrs, "AuthSecretMissing") == 0 && !(prs && strcmp(prs, "AuthSecretMissing") == 0))
		add_event(ev, "Warning", "AuthSecretMissing", jpath_str_or(na, "message", ""));
	*out = ev;
	return 0;
}
