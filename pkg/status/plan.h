/* The hydration Job's state machine for one cluster, as a pure decision
 * (no I/O; the time is passed in), tested as a table in test_plan.c.
 *
 * Jobs are immutable, so every change is a new Job: the decision is to keep
 * the observed one, create one, replace it (delete, then create), or wait
 * for a failed one's backoff. Each Job carries its attempt number
 * (modelcache.dev/attempt, counted per cluster over the cache's life, shown
 * as status attempts) and the attempt its backoff counts from
 * (modelcache.dev/backoff-from): a new spec or an explicit retry request
 * restarts the backoff at its base, an automatic retry doubles it.
 *
 *   no Job                         create, attempt = entry attempts + 1
 *   Job not for the desired spec   replace at once (a spec change, or the
 *     (desired-hash differs)        modelcache.dev/retry annotation changed)
 *   Job failed, backoff elapsed    replace (same backoff origin)
 *   Job failed, backoff running    wait the remaining time
 *   otherwise                      keep
 *
 * Backoff after the n-th failure of one spec: base, 2 x base, 4 x base ...
 * capped at one hour, counted from the entry's lastTransitionTime (the
 * moment the cluster went Failed). */
#ifndef MC_STATUS_PLAN_H
#define MC_STATUS_PLAN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define PLAN_RETRY_BASE_MS_DEFAULT 60000
#define PLAN_RETRY_MAX_MS 3600000

enum plan_step {
	PLAN_KEEP = 0,
	PLAN_CREATE,
	PLAN_REPLACE,
	PLAN_WAIT,
};

struct plan_in {
	json_object *entry;        /* the cluster's status entry computed this round (attempts,
	                            * phase, lastTransitionTime), or NULL */
	json_object *job;          /* the observed Job, or NULL */
	const char *desired_hash;  /* desired-hash of the Job composed for the observed Job's
	                            * attempt numbers (NULL when there is no Job) */
	const char *retry;         /* the cache's modelcache.dev/retry annotation, or NULL */
	int64_t now_ms;            /* Unix time */
	int64_t retry_base_ms;     /* first backoff; <= 0: PLAN_RETRY_BASE_MS_DEFAULT */
};

struct plan {
	enum plan_step step;
	unsigned attempt;          /* of the Job to keep or create */
	unsigned backoff_from;     /* its backoff origin */
	int64_t wait_ms;           /* with PLAN_WAIT */
	const char *why;           /* for the log: "first attempt", "spec changed", ... */
};

const char *plan_step_str(enum plan_step s);

/* The retry delay after `failures` failures of one spec (>= 1). */
int64_t plan_retry_delay_ms(int64_t base_ms, unsigned failures);

void status_plan_job(const struct plan_in *in, struct plan *out);

/* A Job's attempt numbers, from its annotations (1 / the attempt when absent). */
unsigned plan_job_attempt(json_object *job);
unsigned plan_job_backoff_from(json_object *job);
bool plan_job_failed(json_object *job);

#endif
