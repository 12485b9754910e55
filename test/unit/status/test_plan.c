/* status_plan_job: the hydration Job's state machine as a table (one row
 * per situation: observed Job, its hash and attempt numbers, the cache's
 * retry annotation, the time since the cluster went Failed) -> the step,
 * the attempt numbers of the Job to keep or create, and the wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status/plan.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define T0_S 1795000000LL
#define BASE_MS 60000

struct row {
	const char *what;
	/* observed */
	const char *job;          /* NULL: none; "running", "failed", "complete" */
	const char *job_hash;     /* its desired-hash annotation */
	unsigned attempt, backoff_from;   /* 0: annotation absent */
	const char *job_retry;    /* its retry annotation */
	int entry_attempts;       /* status entry attempts (-1: no entry) */
	int64_t failed_for_ms;    /* now - the entry's lastTransitionTime */
	const char *retry;        /* the cache's retry annotation */
	/* expected */
	enum plan_step step;
	unsigned want_attempt, want_from;
	int64_t want_wait_ms;
};

static const struct row rows[] = {
	{"no Job, no entry: first attempt", NULL, NULL, 0, 0, NULL, -1, 0, NULL, PLAN_CREATE, 1, 1, 0},
	{"no Job after 2 attempts: the next", NULL, NULL, 0, 0, NULL, 2, 0, NULL, PLAN_CREATE, 3, 3, 0},
	{"running Job, same spec: keep", "running", "H", 1, 0, NULL, 1, 0, NULL, PLAN_KEEP, 1, 1, 0},
	{"complete Job, same spec: keep", "complete", "H", 4, 2, NULL, 4, 0, NULL, PLAN_KEEP, 4, 2, 0},
	{"running Job, spec changed: replace, backoff reset", "running", "OLD", 2, 1, NULL, 2, 0, NULL, PLAN_REPLACE,
	 3, 3, 0},
	{"failed Job, spec changed: at once", "failed", "OLD", 3, 1, NULL, 3, 1000, NULL, PLAN_REPLACE, 4, 4, 0},
	{"failed Job, retry asked: at once", "failed", "OLD", 1, 0, NULL, 1, 1000, "r1", PLAN_REPLACE, 2, 2, 0},
	{"failed Job, 1st failure, 30 s of 60", "failed", "H", 1, 0, NULL, 1, 30000, NULL, PLAN_WAIT, 1, 1, 30000},
	{"failed Job, 1st failure, 60 s: retry", "failed", "H", 1, 0, NULL, 1, 60000, NULL, PLAN_REPLACE, 2, 1, 0},
	{"failed Job, 2nd failure: 120 s", "failed", "H", 2, 1, NULL, 2, 119000, NULL, PLAN_WAIT, 2, 1, 1000},
	{"failed Job, 2nd failure at 120 s: retry", "failed", "H", 2, 1, NULL, 2, 120000, NULL, PLAN_REPLACE, 3, 1,
	 0},
	{"failed Job, 3rd failure of a new spec: 4 min", "failed", "H", 7, 5, NULL, 7, 200000, NULL, PLAN_WAIT, 7, 5,
	 40000},
	{"failed Job, many failures: capped at 1 h", "failed", "H", 30, 1, NULL, 30, 3599000, NULL, PLAN_WAIT, 30, 1,
	 1000},
	{"failed Job, many failures, 1 h: retry", "failed", "H", 30, 1, NULL, 30, 3600000, NULL, PLAN_REPLACE, 31, 1,
	 0},
	{"backoff-from above attempt is ignored", "failed", "H", 2, 9, NULL, 2, 60000, NULL, PLAN_REPLACE, 3, 2, 0},
};

static json_object *make_job(const struct row *r)
{
	json_object *job = json_object_new_object(), *meta = json_object_new_object(), *ann = json_object_new_object();
	char n[24];
	if (r->attempt) {
		snprintf(n, sizeof(n), "%u", r->attempt);
		json_object_object_add(ann, "modelcache.dev/attempt", json_object_new_string(n));
	}
	if (r->backoff_from) {
		snprintf(n, sizeof(n), "%u", r->backoff_from);
		json_object_object_add(ann, "modelcache.dev/backoff-from", json_object_new_string(n));
	}
	if (r->job_hash)
		json_object_object_add(ann, "modelcache.dev/desired-hash", json_object_new_string(r->job_hash));
	if (r->job_retry)
		json_object_object_add(ann, "modelcache.dev/retry", json_object_new_string(r->job_retry));
	json_object_object_add(meta, "annotations", ann);
	json_object_object_add(job, "metadata", meta);
	if (strcmp(r->job, "running") != 0) {
		json_object *st = json_object_new_object(), *conds = json_object_new_array(), *c = json_object_new_object();
		json_object_object_add(c, "type", json_object_new_string(strcmp(r->job, "failed") == 0 ? "Failed" : "Complete"));
		json_object_object_add(c, "status", json_object_new_string("True"));
		json_object_array_add(conds, c);
		json_object_object_add(st, "conditions", conds);
		json_object_object_add(job, "status", st);
	}
	return job;
}

static void test_table(void **state)
{
	(void)state;
	int64_t now_ms = T0_S * 1000 + 3600000;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		json_object *job = r->job ? make_job(r) : NULL, *entry = NULL;
		if (r->entry_attempts >= 0) {
			char ts[RFC3339_LEN + 1];
			rfc3339_format((now_ms - r->failed_for_ms) / 1000, ts);
			char *s = xasprintf("{\"name\":\"c\",\"phase\":\"Failed\",\"attempts\":%d,\"lastTransitionTime\":\"%s\"}",
					    r->entry_attempts, ts);
			entry = json_tokener_parse(s);
			free(s);
		}
		struct plan_in in = {.entry = entry, .job = job, .desired_hash = job ? "H" : NULL, .retry = r->retry,
				     .now_ms = now_ms, .retry_base_ms = BASE_MS};
		struct plan p;
		status_plan_job(&in, &p);
		if (p.step != r->step || p.attempt != r->want_attempt || p.backoff_from != r->want_from ||
		    p.wait_ms != r->want_wait_ms)
			fail_msg("row %zu (%s): got %s attempt=%u from=%u wait=%lld, want %s attempt=%u from=%u wait=%lld", i,
				 r->what, plan_step_str(p.step), p.attempt, p.backoff_from, (long long)p.wait_ms,
				 plan_step_str(r->step), r->want_attempt, r->want_from, (long long)r->want_wait_ms);
		assert_non_null(p.why);
		json_object_put(job);
		json_object_put(entry);
	}
}

static void test_delay(void **state)
{
	(void)state;
	assert_int_equal(plan_retry_delay_ms(0, 1), 60000);
	assert_int_equal(plan_retry_delay_ms(2000, 1), 2000);
	assert_int_equal(plan_retry_delay_ms(2000, 3), 8000);
	assert_int_equal(plan_retry_delay_ms(60000, 7), 3600000);
	assert_int_equal(plan_retry_delay_ms(60000, 100000), 3600000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_delay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
