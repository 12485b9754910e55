#include "status/plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "util/jpath.h"
#include "util/timeutil.h"

const char *plan_step_str(enum plan_step s)
{
	switch (s) {
	case PLAN_KEEP:
		return "keep";
	case PLAN_CREATE:
		return "create";
	case PLAN_REPLACE:
		return "replace";
	case PLAN_WAIT:
		return "wait";
	}
	return "?";
}

int64_t plan_retry_delay_ms(int64_t base_ms, unsigned failures)
{
	int64_t d = base_ms > 0 ? base_ms : PLAN_RETRY_BASE_MS_DEFAULT;
	for (unsigned i = 1; i < failures && d < PLAN_RETRY_MAX_MS; i++)
		d *= 2;
	return d > PLAN_RETRY_MAX_MS ? PLAN_RETRY_MAX_MS : d;
}

static unsigned ann_uint(json_object *job, const char *key, unsigned dflt)
{
	const char *a = jpath_annotation(job, key);
	char *end = NULL;
	unsigned long v = a ? strtoul(a, &end, 10) : 0;
	return a && end && *end == '\0' && v > 0 && v < 1000000 ? (unsigned)v : dflt;
}

unsigned plan_job_attempt(json_object *job)
{
	return ann_uint(job, COMPOSE_ANN_ATTEMPT, 1);
}

unsigned plan_job_backoff_from(json_object *job)
{
	unsigned a = plan_job_attempt(job);
	unsigned b = ann_uint(job, COMPOSE_ANN_BACKOFF_FROM, a);
	return b <= a ? b : a;
}

bool plan_job_failed(json_object *job)
{
	json_object *c = jpath_find_type(jpath_get(job, "status.conditions"), "Failed");
	const char *s = jpath_str(c, "status");
	return s && strcmp(s, "True") == 0;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

void status_plan_job(const struct plan_in *in, struct plan *out)
{
	memset(out, 0, sizeof(*out));
	if (!in->job) {
		int64_t had = jpath_int_or(in->entry, "attempts", 0);
		out->step = PLAN_CREATE;
		out->attempt = had > 0 && had < 999999 ? (unsigned)had + 1 : 1;
		out->backoff_from = out->attempt;
		out->why = had > 0 ? "the Job is gone" : "first attempt";
		return;
	}
	unsigned attempt = plan_job_attempt(in->job), from = plan_job_backoff_from(in->job);
	if (!same(jpath_annotation(in->job, API_ANN_DESIRED_HASH), in->desired_hash)) {
		/* a new spec or an explicit retry: at once, backoff from its base */
		out->step = PLAN_REPLACE;
		out->attempt = attempt + 1;
		out->backoff_from = out->attempt;
		out->why = same(jpath_annotation(in->job, API_ANN_RETRY), in->retry) ? "spec changed"
											: "retry requested";
		return;
	}
	if (!plan_job_failed(in->job)) {
		out->step = PLAN_KEEP;
		out->attempt = attempt;
		out->backoff_from = from;
		out->why = "up to date";
		return;
	}
	int64_t t = 0, due_ms = 0;
	const char *ts = jpath_str(in->entry, "lastTransitionTime");
	if (ts && rfc3339_parse(ts, &t) == 0)
		due_ms = t / 1000000 + plan_retry_delay_ms(in->retry_base_ms, attempt - from + 1);
	if (in->now_ms >= due_ms) {
		out->step = PLAN_REPLACE;
		out->attempt = attempt + 1;
		out->backoff_from = from;
		out->why = "backoff elapsed";
	} else {
		out->step = PLAN_WAIT;
		out->attempt = attempt;
		out->backoff_from = from;
		out->wait_ms = due_ms - in->now_ms;
		out->why = "backoff";
	}
}
