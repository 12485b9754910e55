/* pkg/status: a table of observed states -> per-cluster phases, and of
 * cluster phases -> summary and conditions, covering every rule of docs/concepts.md
 * "Phases" and the precedence of "Conditions and events"; plus transition times, retry backoff and
 * the events each transition emits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status/status.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define T0 1795000000   /* some Unix time */

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static json_object *pvc_with(const char *phase)
{
	if (!phase)
		return NULL;
	char *s = xasprintf("{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"%s\"}}", phase);
	json_object *o = parse(s);
	free(s);
	return o;
}

/* cond: NULL = running Job, "none" = no Job, else the condition set True. */
static json_object *job_with(const char *cond, const char *attempt)
{
	if (cond && strcmp(cond, "none") == 0)
		return NULL;
	char *s = xasprintf("{\"metadata\":{\"name\":\"j\",\"annotations\":{\"modelcache.dev/attempt\":\"%s\"}},"
			    "\"status\":{\"conditions\":[%s%s%s]}}",
			    attempt ? attempt : "1", cond ? "{\"type\":\"" : "", cond ? cond : "",
			    cond ? "\",\"status\":\"True\",\"message\":\"Job has reached the specified backoff limit\"}" : "");
	json_object *o = parse(s);
	free(s);
	return o;
}

static json_object *prev_entry(const char *phase, int64_t t, int attempts)
{
	if (!phase)
		return NULL;
	char ts[RFC3339_LEN + 1];
	rfc3339_format(t, ts);
	char *s = xasprintf("{\"name\":\"c\",\"phase\":\"%s\",\"lastTransitionTime\":\"%s\",\"attempts\":%d}", phase, ts,
			    attempts);
	json_object *o = parse(s);
	free(s);
	return o;
}

struct phase_row {
	const char *what;
	bool skipped, evicted, auth_missing;
	const char *pvc_phase;   /* NULL: no PVC */
	const char *job;         /* NULL running, "none", "Complete", "Failed" */
	const char *prev_phase;  /* NULL: no previous entry */
	const char *want_phase, *want_reason;
};

static const struct phase_row phase_rows[] = {
	{"1 skipped wins over everything", true, true, false, "Bound", "Complete", "Ready", "Skipped", "InsufficientVRAM"},
	{"2 evicted before failed", false, true, false, "Bound", "Failed", NULL, "Evicted", "Evicted"},
	{"3 failed job", false, false, false, "Bound", "Failed", "Hydrating", "Failed", "HydrationFailed"},
	{"3 failed before the Ready latch", false, false, false, "Bound", "Failed", "Ready", "Failed", "HydrationFailed"},
	{"3 failed even with the PVC pending", false, false, false, "Pending", "Failed", NULL, "Failed", "HydrationFailed"},
	{"4 bound + complete", false, false, false, "Bound", "Complete", "Hydrating", "Ready", "Staged"},
	{"4 latch: job TTL-deleted", false, false, false, "Bound", "none", "Ready", "Ready", "Staged"},
	{"4 latch: job running again", false, false, false, "Bound", NULL, "Ready", "Ready", "Staged"},
	{"5 bound, job running", false, false, false, "Bound", NULL, "Pending", "Hydrating", "Hydrating"},
	{"5 bound, no job yet", false, false, false, "Bound", "none", NULL, "Hydrating", "Hydrating"},
	{"5 bound, auth secret missing", false, false, true, "Bound", "none", NULL, "Hydrating", "AuthSecretMissing"},
	{"6 nothing observed", false, false, false, NULL, "none", NULL, "Pending", "WaitingForVolume"},
	{"6 pvc pending", false, false, false, "Pending", NULL, NULL, "Pending", "WaitingForVolume"},
	{"6 complete job but pvc pending", false, false, false, "Pending", "Complete", NULL, "Pending", "WaitingForVolume"},
	{"6 lost PVC drops Ready", false, false, false, NULL, "none", "Ready", "Pending", "VolumeLost"},
	{"6 PVC phase Lost drops Ready", false, false, false, "Lost", "none", "Ready", "Pending", "VolumeLost"},
	{"6 auth missing, pvc pending", false, false, true, "Pending", "none", NULL, "Pending", "AuthSecretMissing"},
};

static void test_phase_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(phase_rows) / sizeof(phase_rows[0]); i++) {
		const struct phase_row *r = &phase_rows[i];
		json_object *pvc = pvc_with(r->pvc_phase), *job = job_with(r->job, "1");
		json_object *prev = prev_entry(r->prev_phase, T0 - 100, 1);
		struct status_cluster_in in = {.name = "c", .pvc_name = "p", .job_name = "j", .skipped = r->skipped,
					       .estimated_bytes = 5, .available_bytes = 4, .skip_message = "too big",
					       .evicted = r->evicted, .pvc = pvc, .job = job,
					       .auth_missing = r->auth_missing, .auth_message = "authSecret missing",
					       .prev = prev};
		json_object *e = NULL;
		enum status_phase ph;
		assert_int_equal(status_cluster(&in, T0, &e, &ph), 0);
		if (strcmp(jpath_str(e, "phase"), r->want_phase) != 0 || strcmp(jpath_str(e, "reason"), r->want_reason) != 0)
			fail_msg("row \"%s\": got %s/%s, want %s/%s", r->what, jpath_str(e, "phase"), jpath_str(e, "reason"),
				 r->want_phase, r->want_reason);
		assert_string_equal(status_phase_str(ph), r->want_phase);
		assert_int_equal(status_entry_phase(e), ph);
		json_object_put(e);
		json_object_put(pvc);
		json_object_put(job);
		json_object_put(prev);
	}
}

static void test_cluster_fields(void **state)
{
	(void)state;
	char ts[RFC3339_LEN + 1], old[RFC3339_LEN + 1];
	rfc3339_format(T0, ts);
	rfc3339_format(T0 - 100, old);
	/* Skipped: byte counts, message, no pvc/job names (nothing composed) */
	struct status_cluster_in in = {.name = "gpu-west", .pvc_name = "p", .job_name = "j", .skipped = true,
				       .estimated_bytes = 100, .available_bytes = 48,
				       .skip_message = "model needs ~93 GiB"};
	json_object *e = NULL;
	assert_int_equal(status_cluster(&in, T0, &e, NULL), 0);
	assert_int_equal(jpath_int_or(e, "estimatedBytes", 0), 100);
	assert_int_equal(jpath_int_or(e, "availableBytes", 0), 48);
	assert_string_equal(jpath_str(e, "message"), "model needs ~93 GiB");
	assert_null(jpath_get(e, "pvc"));
	assert_string_equal(jpath_str(e, "lastTransitionTime"), ts);
	json_object_put(e);

	/* Failed: the termination message wins over the Job condition's; attempts from the Job */
	json_object *pvc = pvc_with("Bound"), *job = job_with("Failed", "3");
	json_object *prev = prev_entry("Failed", T0 - 100, 2);
	struct status_cluster_in f = {.name = "c", .pvc_name = "p", .job_name = "j", .pvc = pvc, .job = job,
				      .failure_message = "sha256 mismatch for model.safetensors", .prev = prev};
	assert_int_equal(status_cluster(&f, T0, &e, NULL), 0);
	assert_string_equal(jpath_str(e, "message"), "sha256 mismatch for model.safetensors");
	assert_int_equal(jpath_int_or(e, "attempts", 0), 3);
	assert_string_equal(jpath_str(e, "lastTransitionTime"), old);   /* same phase: time kept */
	assert_string_equal(jpath_str(e, "pvc"), "p");
	assert_string_equal(jpath_str(e, "job"), "j");
	json_object_put(e);
	f.failure_message = NULL;
	assert_int_equal(status_cluster(&f, T0, &e, NULL), 0);
	assert_string_equal(jpath_str(e, "message"), "Job has reached the specified backoff limit");
	json_object_put(e);
	json_object_put(job);

	/* phase change: new time; attempts from the previous entry when the Job is gone */
	f.job = job_with("Complete", NULL);
	json_object_object_del(jpath_get(f.job, "metadata"), "annotations");
	assert_int_equal(status_cluster(&f, T0, &e, NULL), 0);
	assert_string_equal(jpath_str(e, "phase"), "Ready");
	assert_string_equal(jpath_str(e, "lastTransitionTime"), ts);
	assert_int_equal(jpath_int_or(e, "attempts", 0), 2);
	json_object_put(e);
	json_object_put(f.job);
	json_object_put(pvc);
	json_object_put(prev);
	assert_int_equal(status_cluster(NULL, T0, &e, NULL), -EINVAL);
}

static void test_retry_backoff(void **state)
{
	(void)state;
	assert_int_equal(status_retry_delay_s(0), 60);
	assert_int_equal(status_retry_delay_s(1), 60);
	assert_int_equal(status_retry_delay_s(2), 120);
	assert_int_equal(status_retry_delay_s(3), 240);
	assert_int_equal(status_retry_delay_s(6), 1920);
	assert_int_equal(status_retry_delay_s(7), 3600);   /* 3840 capped at 1h */
	assert_int_equal(status_retry_delay_s(1000), 3600);
	json_object *e = prev_entry("Failed", T0, 2);
	int64_t wait = -1;
	assert_false(status_retry_due(e, T0 + 119, &wait));
	assert_int_equal(wait, 1);
	assert_true(status_retry_due(e, T0 + 120, &wait));
	assert_int_equal(wait, 0);
	json_object_put(e);
	/* no transition time: due at once */
	e = parse("{\"phase\":\"Failed\"}");
	assert_true(status_retry_due(e, T0, &wait));
	json_object_put(e);
}

/* Build a clusters array from a phase list "Ready,Skipped". */
static json_object *clusters_of(const char *phases)
{
	json_object *arr = json_object_new_array();
	char *dup = xstrdup(phases), *save = NULL;
	int i = 0;
	for (char *p = strtok_r(dup, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *s = xasprintf("{\"name\":\"c%d\",\"phase\":\"%s\",\"message\":\"m%d\"}", i, p, i);
		json_object_array_add(arr, parse(s));
		free(s);
		i++;
	}
	free(dup);
	return arr;
}

struct cond_row {
	const char *phases;
	bool auth_missing;
	const char *want_status, *want_reason, *want_summary;
	const char *want_stalled; /* Ready mirrors ArtifactReady; Stalled only when a user must act */
};

static const struct cond_row cond_rows[] = {
	{"", false, "False", "NoClusters", "0/0", "False"},
	{"", true, "False", "NoClusters", "0/0", "False"},                  /* NoClusters first */
	{"Ready,Pending", true, "False", "AuthSecretMissing", "1/2", "False"},
	{"Failed,Pending", true, "False", "AuthSecretMissing", "0/2", "False"}, /* auth before Failed */
	{"Ready,Ready", true, "True", "Staged", "2/2", "False"},            /* only while not all Ready */
	{"Failed,Ready", false, "False", "Failed", "1/2", "False"},
	{"Ready,Failed,Skipped", false, "False", "Failed", "1/3", "False"},
	{"Ready,Ready", false, "True", "Staged", "2/2", "False"},
	{"Ready", false, "True", "Staged", "1/1", "False"},
	{"Ready,Skipped", false, "False", "Partial", "1/2", "False"},      /* Skipped counts in the denominator */
	{"Ready,Hydrating", false, "False", "Partial", "1/2", "False"},
	{"Skipped,Skipped", false, "False", "Skipped", "0/2", "True"},
	{"Skipped", false, "False", "Skipped", "0/1", "True"},
	{"Pending,Skipped", false, "False", "Hydrating", "0/2", "False"},
	{"Hydrating,Pending", false, "False", "Hydrating", "0/2", "False"},
	{"Evicted", false, "False", "Evicted", "0/1", "False"},             /* Evicted counts in the denominator */
	{"Ready,Evicted", false, "False", "Evicted", "1/2", "False"},
	{"Evicted,Skipped", false, "False", "Evicted", "0/2", "False"},
	{"Evicted,Hydrating", false, "False", "Hydrating", "0/2", "False"},
	{"Ready,Evicted,Pending", false, "False", "Partial", "1/3", "False"},
};

static const char *cond_field(json_object *st, const char *type, const char *field)
{
	return jpath_str(jpath_find_type(jpath_child(st, "conditions"), type), field);
}

static void test_condition_table(void **state)
{
	(void)state;
	json_object *mc = parse("{\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml\",\"generation\":7}}");
	for (size_t i = 0; i < sizeof(cond_rows) / sizeof(cond_rows[0]); i++) {
		const struct cond_row *r = &cond_rows[i];
		json_object *cl = clusters_of(r->phases), *st = NULL;
		struct status_in in = {.mc = mc, .now_s = T0, .clusters = cl, .size = STATUS_SIZE_SPEC,
				       .auth_message = r->auth_missing ? "authSecret ml/hf is missing or has no key \"HF_TOKEN\"" : NULL};
		assert_int_equal(status_compute(&in, &st), 0);
		const char *s = cond_field(st, "ArtifactReady", "status"), *rs = cond_field(st, "ArtifactReady", "reason");
		if (strcmp(s, r->want_status) || strcmp(rs, r->want_reason) ||
		    strcmp(jpath_str(st, "summary.ready"), r->want_summary))
			fail_msg("row [%s] auth=%d: got %s/%s %s, want %s/%s %s", r->phases, r->auth_missing, s, rs,
				 jpath_str(st, "summary.ready"), r->want_status, r->want_reason, r->want_summary);
		assert_int_equal(jpath_int_or(st, "observedGeneration", 0), 7);
		assert_int_equal(jpath_int_or(jpath_find_type(jpath_child(st, "conditions"), "ArtifactReady"),
					      "observedGeneration", 0), 7);
		assert_string_equal(cond_field(st, "Valid", "status"), "True");
		assert_string_equal(cond_field(st, "Ready", "status"), r->want_status);
		assert_string_equal(cond_field(st, "Ready", "reason"), r->want_reason);
		assert_int_equal(jpath_int_or(jpath_find_type(jpath_child(st, "conditions"), "Ready"),
					      "observedGeneration", 0), 7);
		if (strcmp(cond_field(st, "Stalled", "status"), r->want_stalled) != 0)
			fail_msg("row [%s]: Stalled=%s, want %s", r->phases, cond_field(st, "Stalled", "status"),
				 r->want_stalled);
		assert_string_equal(cond_field(st, "ClustersMatched", "status"), *r->phases ? "True" : "False");
		assert_string_equal(cond_field(st, "ClustersMatched", "reason"), *r->phases ? "Matched" : "NoClusters");
		assert_int_equal(json_object_array_length(jpath_child(st, "clusters")),
				 json_object_array_length(cl));
		json_object_put(st);
		json_object_put(cl);
	}
	json_object_put(mc);
}

static void test_messages_and_size(void **state)
{
	(void)state;
	json_object *mc = parse("{\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml\",\"generation\":1}}");
	json_object *cl = clusters_of("Ready,Failed"), *st = NULL;
	json_object *est = parse("{\"downloadBytes\":1000,\"weightBytes\":900}");
	struct status_in in = {.mc = mc, .now_s = T0, .clusters = cl, .size = STATUS_SIZE_FAILED,
			       .size_message = "Qwen/Nope: repository not found (404)", .estimate = est,
			       .resolved_revision = "abc123"};
	assert_int_equal(status_compute(&in, &st), 0);
	assert_string_equal(cond_field(st, "ArtifactReady", "message"), "hydration failed on c1: m1");
	assert_string_equal(cond_field(st, "SizeEstimated", "status"), "False");
	assert_string_equal(cond_field(st, "SizeEstimated", "reason"), "EstimateFailed");
	assert_string_equal(cond_field(st, "SizeEstimated", "message"), "Qwen/Nope: repository not found (404)");
	assert_string_equal(cond_field(st, "ClustersMatched", "message"), "2 clusters: c0, c1");
	assert_int_equal(jpath_int_or(st, "estimate.downloadBytes", 0), 1000);
	assert_string_equal(jpath_str(st, "resolvedRevision"), "abc123");
	in.size = STATUS_SIZE_ESTIMATED;
	assert_null(jpath_str(st, "size"));   /* no volume size given: no key */
	json_object *before = st;
	in.volume_size = "20Gi";
	assert_int_equal(status_compute(&in, &st), 0);
	assert_string_equal(jpath_str(st, "size"), "20Gi");   /* the SIZE printer column */
	assert_false(status_equal(before, st));              /* a size change is a status change */
	json_object_put(before);
	assert_string_equal(cond_field(st, "SizeEstimated", "reason"), "Estimated");
	assert_null(cond_field(st, "CleanupBlocked", "status"));
	json_object_put(st);
	/* deletion waiting for a cluster is named */
	in.cleanup_blocked = "waiting for cluster gpu-west (unreachable) to delete the cache's objects";
	assert_int_equal(status_compute(&in, &st), 0);
	assert_string_equal(cond_field(st, "CleanupBlocked", "status"), "True");
	assert_non_null(strstr(cond_field(st, "CleanupBlocked", "message"), "gpu-west"));
	json_object_put(st);
	json_object_put(cl);
	json_object_put(est);
	json_object_put(mc);
}

static void test_invalid(void **state)
{
	(void)state;
	json_object *mc = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"ml\",\"generation\":2}}");
	json_object *cl = clusters_of("Ready"), *st = NULL;
	struct status_in in = {.mc = mc, .now_s = T0, .clusters = cl,
			       .invalid_message = "spec.huggingFace: Required value: source HuggingFace needs spec.huggingFace"};
	assert_int_equal(status_compute(&in, &st), 0);
	assert_string_equal(cond_field(st, "Valid", "status"), "False");
	assert_string_equal(cond_field(st, "Valid", "reason"), "Invalid");
	assert_non_null(strstr(cond_field(st, "Valid", "message"), "spec.huggingFace"));
	assert_string_equal(cond_field(st, "ArtifactReady", "reason"), "Invalid");
	assert_string_equal(cond_field(st, "Ready", "status"), "False");
	assert_string_equal(cond_field(st, "Stalled", "status"), "True");
	assert_string_equal(cond_field(st, "Stalled", "reason"), "Invalid");
	assert_int_equal(json_object_array_length(jpath_child(st, "clusters")), 0);
	assert_string_equal(jpath_str(st, "summary.ready"), "0/0");
	json_object_put(st);
	json_object_put(cl);
	json_object_put(mc);
}

/* A definitive source error: nothing composed, the Hub's message, Stalled. */
static void test_source_error(void **state)
{
	(void)state;
	static const char *const reasons[] = {"SourceNotFound", "Unauthorized", "NoFilesSelected"};
	json_object *mc = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"ml\",\"generation\":3}}");
	for (size_t i = 0; i < 3; i++) {
		json_object *st = NULL;
		struct status_in in = {.mc = mc, .now_s = T0, .size = STATUS_SIZE_FAILED,
				       .size_message = "Repository fixtures/typo not found at revision main",
				       .source_reason = reasons[i],
				       .source_message = "Repository fixtures/typo not found at revision main"};
		assert_int_equal(status_compute(&in, &st), 0);
		assert_string_equal(cond_field(st, "ArtifactReady", "status"), "False");
		assert_string_equal(cond_field(st, "ArtifactReady", "reason"), reasons[i]);
		assert_string_equal(cond_field(st, "ArtifactReady", "message"),
				    "Repository fixtures/typo not found at revision main");
		assert_string_equal(cond_field(st, "Stalled", "status"), "True");
		assert_string_equal(cond_field(st, "Stalled", "reason"), reasons[i]);
		assert_string_equal(cond_field(st, "Ready", "status"), "False");
		assert_string_equal(cond_field(st, "Valid", "status"), "True");
		assert_string_equal(jpath_str(st, "summary.ready"), "0/0");
		assert_int_equal(json_object_array_length(jpath_child(st, "clusters")), 0);
		json_object_put(st);
	}
	json_object_put(mc);
}

/* A PVC that stays Pending names its storage class, in the cluster entry and
 * in ArtifactReady's message (a missing class is the usual cause). */
static void test_waiting_for_volume(void **state)
{
	(void)state;
	json_object *pvc = parse("{\"spec\":{\"storageClassName\":\"modelcache-rwx\"},\"status\":{\"phase\":\"Pending\"}}");
	struct status_cluster_in in = {.name = "local", .pvc_name = "p", .job_name = "j", .pvc = pvc};
	json_object *e = NULL;
	enum status_phase ph;
	assert_int_equal(status_cluster(&in, T0, &e, &ph), 0);
	assert_int_equal(ph, STATUS_PENDING);
	assert_string_equal(jpath_str(e, "reason"), "WaitingForVolume");
	assert_string_equal(jpath_str(e, "message"), "waiting for a volume of class modelcache-rwx on local (PVC p is Pending)");
	json_object *cl = json_object_new_array(), *ready = parse("{\"name\":\"gpu-west\",\"phase\":\"Hydrating\",\"reason\":\"Hydrating\"}");
	json_object_array_add(cl, ready);
	json_object_array_add(cl, e);
	json_object *mc = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"ml\",\"generation\":1}}"), *st = NULL;
	struct status_in si = {.mc = mc, .now_s = T0, .clusters = cl, .size = STATUS_SIZE_SPEC};
	assert_int_equal(status_compute(&si, &st), 0);
	assert_string_equal(cond_field(st, "ArtifactReady", "reason"), "Hydrating");
	assert_string_equal(cond_field(st, "ArtifactReady", "message"),
			    "hydrating on gpu-west; waiting for a volume of class modelcache-rwx on local (PVC p is Pending)");
	json_object_put(st);
	json_object_put(mc);
	json_object_put(cl);
	json_object_put(pvc);
}

/* lastTransitionTime of a condition changes only when its status changes. */
static void test_transition_times(void **state)
{
	(void)state;
	char t0[RFC3339_LEN + 1], t1[RFC3339_LEN + 1];
	rfc3339_format(T0, t0);
	rfc3339_format(T0 + 50, t1);
	json_object *mc = parse("{\"metadata\":{\"name\":\"q\",\"namespace\":\"ml\",\"generation\":1}}");
	json_object *cl = clusters_of("Pending"), *st = NULL;
	struct status_in in = {.mc = mc, .now_s = T0, .clusters = cl, .size = STATUS_SIZE_SPEC};
	assert_int_equal(status_compute(&in, &st), 0);
	assert_string_equal(cond_field(st, "ArtifactReady", "lastTransitionTime"), t0);
	json_object_object_add(mc, "status", st);   /* becomes the previous status */

	/* later, still not ready but another reason: same status => same time */
	json_object *cl2 = clusters_of("Hydrating"), *st2 = NULL;
	in.clusters = cl2;
	in.now_s = T0 + 50;
	assert_int_equal(status_compute(&in, &st2), 0);
	assert_string_equal(cond_field(st2, "ArtifactReady", "lastTransitionTime"), t0);
	assert_string_equal(cond_field(st2, "Valid", "lastTransitionTime"), t0);
	json_object *prev_copy = NULL;
	json_object_deep_copy(jpath_child(mc, "status"), &prev_copy, NULL);
	assert_false(status_equal(prev_copy, st2));

	/* Ready: status flips => new time */
	json_object *cl3 = clusters_of("Ready"), *st3 = NULL;
	in.clusters = cl3;
	assert_int_equal(status_compute(&in, &st3), 0);
	assert_string_equal(cond_field(st3, "ArtifactReady", "lastTransitionTime"), t1);
	/* the same observation twice: equal, so nothing would be written */
	json_object_object_add(mc, "status", st3);
	json_object *st4 = NULL;
	in.now_s = T0 + 500;
	assert_int_equal(status_compute(&in, &st4), 0);
	assert_true(status_equal(jpath_child(mc, "status"), st4));
	json_object_put(st4);
	json_object_put(st2);
	json_object_put(prev_copy);
	json_object_put(cl);
	json_object_put(cl2);
	json_object_put(cl3);
	json_object_put(mc);
}

static int count_reason(json_object *ev, const char *reason, const char *type)
{
	int n = 0;
	for (size_t i = 0; i < json_object_array_length(ev); i++) {
		json_object *e = json_object_array_get_idx(ev, i);
		if (strcmp(jpath_str(e, "reason"), reason) == 0) {
			assert_string_equal(jpath_str(e, "type"), type);
			n++;
		}
	}
	return n;
}

static json_object *status_of(const char *phases, bool auth, int64_t now)
{
	json_object *mc = parse("{\"metadata\":{\"name\":\"q\",\"namespace\":\"ml\",\"generation\":1}}");
	json_object *cl = clusters_of(phases), *st = NULL;
	struct status_in in = {.mc = mc, .now_s = now, .clusters = cl, .size = STATUS_SIZE_SPEC,
			       .auth_message = auth ? "authSecret ml/hf is missing or has no key \"HF_TOKEN\"" : NULL};
	assert_int_equal(status_compute(&in, &st), 0);
	json_object_put(cl);
	json_object_put(mc);
	return st;
}

static void test_events(void **state)
{
	(void)state;
	json_object *empty = parse("{}");
	json_object *pend = status_of("Pending,Skipped", false, T0);
	json_object *hyd = status_of("Hydrating,Skipped", false, T0);
	json_object *ready = status_of("Ready,Ready", false, T0);
	json_object *failed = status_of("Failed,Ready", false, T0);
	json_object *auth = status_of("Hydrating", true, T0);
	json_object *ev = NULL;

	assert_int_equal(status_events(empty, pend, "Qwen/Qwen3-0.6B", &ev), 0);
	assert_int_equal(count_reason(ev, "Staging", "Normal"), 1);
	assert_int_equal(count_reason(ev, "InsufficientVRAM", "Warning"), 1);
	assert_string_equal(jpath_str(json_object_array_get_idx(ev, 0), "message"),
			    "Staging Qwen/Qwen3-0.6B to 1 clusters: c0");
	json_object_put(ev);

	/* no transition, no event */
	assert_int_equal(status_events(pend, hyd, "r", &ev), 0);
	assert_int_equal(json_object_array_length(ev), 0);
	json_object_put(ev);
	assert_int_equal(status_events(ready, ready, "r", &ev), 0);
	assert_int_equal(json_object_array_length(ev), 0);
	json_object_put(ev);

	assert_int_equal(status_events(hyd, ready, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "Staged", "Normal"), 1);
	assert_int_equal(count_reason(ev, "Staging", "Normal"), 0);
	assert_string_equal(jpath_str(json_object_array_get_idx(ev, 0), "message"), "Artifact staged on all 2 clusters");
	json_object_put(ev);

	assert_int_equal(status_events(ready, failed, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "HydrationFailed", "Warning"), 1);
	json_object_put(ev);

	assert_int_equal(status_events(empty, auth, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "AuthSecretMissing", "Warning"), 1);
	assert_int_equal(count_reason(ev, "Staging", "Normal"), 1);
	json_object_put(ev);
	assert_int_equal(status_events(auth, auth, "r", &ev), 0);
	assert_int_equal(json_object_array_length(ev), 0);
	json_object_put(ev);

	json_object_put(empty);
	json_object_put(pend);
	json_object_put(hyd);
	json_object_put(ready);
	json_object_put(failed);
	json_object_put(auth);
}

/* Capacity: InsufficientCapacity (nothing composed) and Evicted carry their
 * messages; each emits one event when it begins. */
static void test_capacity(void **state)
{
	(void)state;
	const char *need = "needs 10 GiB; w has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing evictable: 1 cache pinned";
	struct status_cluster_in in = {.name = "w", .pvc_name = "p", .job_name = "j", .capacity_message = need};
	json_object *e = NULL, *ev = NULL;
	enum status_phase ph;
	assert_int_equal(status_cluster(&in, T0, &e, &ph), 0);
	assert_int_equal(ph, STATUS_PENDING);
	assert_string_equal(jpath_str(e, "reason"), "InsufficientCapacity");
	assert_string_equal(jpath_str(e, "message"), need);
	in.capacity_message = NULL;
	in.evicted = true;
	json_object *e2 = NULL;
	assert_int_equal(status_cluster(&in, T0, &e2, &ph), 0);
	assert_string_equal(jpath_str(e2, "message"), "removed to free cache capacity");
	json_object_put(e2);
	in.evicted_message = "evicted from w (least recently used) to make room: ns/c needs 10 GiB";
	assert_int_equal(status_cluster(&in, T0, &e2, &ph), 0);
	assert_int_equal(ph, STATUS_EVICTED);
	assert_string_equal(jpath_str(e2, "reason"), "Evicted");
	assert_string_equal(jpath_str(e2, "message"), in.evicted_message);

	json_object *a = parse("{\"clusters\":[]}"), *b = parse("{\"clusters\":[]}"), *c = parse("{\"clusters\":[]}");
	json_object_array_add(json_object_object_get(b, "clusters"), e);
	json_object_array_add(json_object_object_get(c, "clusters"), e2);
	assert_int_equal(status_events(a, b, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "InsufficientCapacity", "Warning"), 1);
	json_object_put(ev);
	assert_int_equal(status_events(b, b, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "InsufficientCapacity", "Warning"), 0);
	json_object_put(ev);
	assert_int_equal(status_events(b, c, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "Evicted", "Normal"), 1);
	json_object_put(ev);
	assert_int_equal(status_events(c, c, "r", &ev), 0);
	assert_int_equal(count_reason(ev, "Evicted", "Normal"), 0);
	json_object_put(ev);
	json_object_put(a);
	json_object_put(b);
	json_object_put(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phase_table),
		cmocka_unit_test(test_cluster_fields),
		cmocka_unit_test(test_retry_backoff),
		cmocka_unit_test(test_condition_table),
		cmocka_unit_test(test_messages_and_size),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_source_error),
		cmocka_unit_test(test_waiting_for_volume),
		cmocka_unit_test(test_transition_times),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_capacity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
