/* The estimate cache and its estimators: one Hub estimate per source (repo,
 * revision, include, exclude, and a digest of the token: a gated repository
 * answers once the token is there).
 *
 * Estimates run OFF the reconcile workers, on ESTIMATORS threads of their
 * own: a slow or silent Hub stalls only the caches of that source, never the
 * others. estimate_for never blocks on the network:
 *   - a cached result is returned at once (a success for the process's life:
 *     the revision was resolved to a commit; a definitive failure, such as a
 *     source that does not exist, for ESTIMATE_FAILURE_TTL_MS; a transient
 *     one, such as a Hub outage, for ESTIMATE_RETRY_BASE_MS doubled per
 *     consecutive failure up to ESTIMATE_FAILURE_TTL_MS);
 *   - otherwise the source is queued once (single flight: every cache that
 *     asks for it while it runs waits for the same run) and the caller is
 *     told it is pending; when the run completes, every waiting cache is
 *     enqueued again;
 *   - a run still going after ESTIMATE_TIMEOUT_MS answers its waiters with a
 *     transient failure (so their caches compose at --default-cache-size as
 *     for any Hub outage); its result, when it comes, replaces that answer.
 * The Hub client's own limits (connect timeout, low-speed abort, retries)
 * bound a run. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "compose/compose.h"
#include "controllers/modelcache/internal.h"
#include "estimate/estimate.h"
#include "hub/hub.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/jcanon.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_FILTERS 64

/* One queued or running estimate. */
struct est_job {
	char *key;
	char *repo, *revision, *token;
	char *inc[MAX_FILTERS], *exc[MAX_FILTERS];
	size_t ninc, nexc;
	struct hmap waiters;        /* cache keys to enqueue when done */
	uint64_t queued_ms;
	bool running;
	struct est_job *next;       /* queue order */
};

/* The source of an estimate: repo@revision and the filters (each pattern
 * as a JSON string, so no pattern can imitate a separator). */
static void est_key(const struct api_modelcache *spec, const char *token, struct buf *k)
{
	buf_printf(k, "%s@%s", spec->repo ? spec->repo : "", spec->revision);
	const char *inc[MAX_FILTERS], *exc[MAX_FILTERS];
	size_t ninc, nexc;
	compose_hf_filters_of(spec, inc, &ninc, exc, &nexc, MAX_FILTERS);
	buf_puts(k, "|inc=");
	for (size_t i = 0; i < ninc; i++) {
		json_object *s = json_object_new_string(inc[i]);
		jcanon_json(s, k);
		json_object_put(s);
	}
	buf_puts(k, "|exc=");
	for (size_t i = 0; i < nexc; i++) {
		json_object *s = json_object_new_string(exc[i]);
		jcanon_json(s, k);
		json_object_put(s);
	}
	if (token) {
		char h[SHA256_HEX_LEN + 1];
		sha256_hex_str(token, h);
		buf_printf(k, "|tok=%.16s", h);   /* a gated repo answers once the token is there */
	}
}

static bool definitive(int rc)
{
	return rc == ESTIMATE_ERR_AUTH || rc == ESTIMATE_ERR_NOT_FOUND;
}

/* How long a cached result answers. */
static uint64_t entry_ttl_ms(const struct est_entry *e)
{
	if (e->rc == 0)
		return UINT64_MAX;
	if (definitive(e->rc))
		return ESTIMATE_FAILURE_TTL_MS;
	uint64_t t = ESTIMATE_RETRY_BASE_MS;
	for (unsigned i = 1; i < e->failures && t < ESTIMATE_FAILURE_TTL_MS; i++)
		t *= 2;
	return t < ESTIMATE_FAILURE_TTL_MS ? t : ESTIMATE_FAILURE_TTL_MS;
}

static struct est_entry *entry_copy(const struct est_entry *e)
{
	struct est_entry *c = xcalloc(1, sizeof(*c));
	*c = *e;
	c->key = xstrdup(e->key);
	c->msg = xstrdup(e->msg);
	c->commit = xstrdup(e->commit);
	return c;
}

void est_free(struct est_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->msg);
	free(e->commit);
	free(e);
}

static void job_free(struct est_job *j)
{
	if (!j)
		return;
	free(j->key);
	free(j->repo);
	free(j->revision);
	free_secret(j->token);
	for (size_t i = 0; i < j->ninc; i++)
		free(j->inc[i]);
	for (size_t i = 0; i < j->nexc; i++)
		free(j->exc[i]);
	hmap_cleanup(&j->waiters, NULL);
	free(j);
}

static struct est_job *job_new(const char *key, const struct api_modelcache *spec, const char *token, uint64_t now)
{
	struct est_job *j = xcalloc(1, sizeof(*j));
	j->key = xstrdup(key);
	j->repo = xstrdup(spec->repo ? spec->repo : "");
	j->revision = xstrdup(spec->revision);
	j->token = token ? xstrdup(token) : NULL;
	const char *inc[MAX_FILTERS], *exc[MAX_FILTERS];
	compose_hf_filters_of(spec, inc, &j->ninc, exc, &j->nexc, MAX_FILTERS);
	for (size_t i = 0; i < j->ninc; i++)
		j->inc[i] = xstrdup(inc[i]);
	for (size_t i = 0; i < j->nexc; i++)
		j->exc[i] = xstrdup(exc[i]);
	hmap_init(&j->waiters);
	j->queued_ms = now;
	return j;
}

/* Runs the estimate of j (no lock held); a new entry. */
static struct est_entry *run_estimate(struct mcr *r, struct est_job *j)
{
	struct est_entry *e = xcalloc(1, sizeof(*e));
	e->key = xstrdup(j->key);
	struct hub_client *hub = NULL;
	struct estimate_result res;
	estimate_result_init(&res);
	char *msg = NULL;
	struct hub_opts hopts;
	estimate_hub_opts(&hopts);
	int rc = hub_client_new(r->hf_endpoint, j->token, &hopts, &hub);
	if (rc == 0) {
		rc = estimate_repo(hub, j->repo, j->revision, (const char *const *)j->inc, j->ninc,
				   (const char *const *)j->exc, j->nexc, &res, &msg);
		hub_client_free(hub);
	} else {
		msg = xstrdup("cannot create the Hub client");
	}
	e->rc = rc;
	if (rc == 0) {
		e->download_bytes = res.download_bytes;
		e->weight_bytes = res.weight_bytes;
		e->files = (int64_t)res.nfiles;
		snprintf(e->format, sizeof(e->format), "%s", res.format ? res.format : "unknown");
		snprintf(e->method, sizeof(e->method), "%s", res.method ? res.method : "unknown");
		snprintf(e->strategy, sizeof(e->strategy), "%s", res.strategy ? res.strategy : "");
		e->used_fallback = res.used_fallback;
		e->commit = xstrdup(res.commit);
		LOG_INFO("estimated", "repo=%s download_bytes=%" PRId64 " weight_bytes=%" PRId64 " strategy=%s", j->repo,
			 e->download_bytes, e->weight_bytes, e->strategy);
	} else {
		e->msg = msg ? msg : xstrdup("estimate failed");
		msg = NULL;
		LOG_WARN("estimate failed", "repo=%s err=%s", j->repo, e->msg);
	}
	free(msg);
	estimate_result_cleanup(&res);
	return e;
}

static void *estimator_main(void *arg)
{
	struct mcr *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct est_job *j = NULL;
		while (!r->est_stop) {
			for (j = r->est_queue; j && j->running; j = j->next)
				;
			if (j)
				break;
			pthread_cond_wait(&r->est_cv, &r->mu);
		}
		if (r->est_stop)
			break;
		j->running = true;
		pthread_mutex_unlock(&r->mu);
		struct est_entry *e = run_estimate(r, j);
		pthread_mutex_lock(&r->mu);
		if (r->est_stop) {
			est_free(e);
			break;
		}
		e->at_ms = mclock_mono_ms(r->clock);
		const struct est_entry *was = hmap_get(&r->ests, e->key);
		if (e->rc != 0 && !definitive(e->rc))
			e->failures = was && was->rc != 0 && !definitive(was->rc) ? was->failures + 1 : 1;
		est_free(hmap_put(&r->ests, e->key, e));
		/* out of the queue; its waiters are enqueued again */
		struct est_job **pp = &r->est_queue;
		while (*pp != j)
			pp = &(*pp)->next;
		*pp = j->next;
		size_t it = 0;
		for (struct hmap_ent *w = NULL; (w = hmap_next(&j->waiters, w, &it));)
			ctrl_enqueue(r->c, w->key);
		job_free(j);
	}
	r->est_alive--;
	pthread_cond_broadcast(&r->est_cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int estimators_start(struct mcr *r)
{
	hmap_init(&r->ests);
	pthread_cond_init(&r->est_cv, NULL);
	for (int i = 0; i < ESTIMATORS; i++) {
		pthread_t t;
		pthread_mutex_lock(&r->mu);
		r->est_alive++;
		pthread_mutex_unlock(&r->mu);
		if (pthread_create(&t, NULL, estimator_main, r) != 0) {
			pthread_mutex_lock(&r->mu);
			r->est_alive--;
			pthread_mutex_unlock(&r->mu);
			return -1;
		}
		pthread_detach(t);
	}
	return 0;
}

/* Stops the estimators without waiting for a Hub that may take minutes to
 * answer: once this returns, no estimator touches the controller again (a
 * run in progress ends in its thread and is dropped; the process is
 * exiting). */
void estimators_stop(void *ctx)
{
	struct mcr *r = ctx;
	pthread_mutex_lock(&r->mu);
	r->est_stop = true;
	pthread_cond_broadcast(&r->est_cv);
	pthread_mutex_unlock(&r->mu);
}

static void est_free_void(void *p)
{
	est_free(p);
}

bool estimators_free(struct mcr *r)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;
	pthread_mutex_lock(&r->mu);
	while (r->est_alive > 0)
		if (pthread_cond_timedwait(&r->est_cv, &r->mu, &until) != 0)
			break;
	bool idle = r->est_alive == 0;
	pthread_mutex_unlock(&r->mu);
	if (!idle)
		return false;   /* one is still waiting for the Hub: left to the process exit */
	while (r->est_queue) {
		struct est_job *j = r->est_queue;
		r->est_queue = j->next;
		job_free(j);
	}
	hmap_cleanup(&r->ests, est_free_void);
	pthread_cond_destroy(&r->est_cv);
	return true;
}

struct est_entry *estimate_for(struct mcr *r, const struct api_modelcache *spec, const char *token, const char *cache_key,
			       bool *pending)
{
	struct buf k;
	buf_init(&k, 1u << 20);
	est_key(spec, token, &k);
	struct est_entry *out = NULL;
	uint64_t now = mclock_mono_ms(r->clock);
	*pending = false;
	pthread_mutex_lock(&r->mu);
	const struct est_entry *e = hmap_get(&r->ests, buf_str(&k));
	struct est_job *j = r->est_queue;
	while (j && strcmp(j->key, buf_str(&k)) != 0)
		j = j->next;
	if (e && now - e->at_ms < entry_ttl_ms(e)) {
		out = entry_copy(e);
	} else if (j && now - j->queued_ms >= ESTIMATE_TIMEOUT_MS) {
		/* still running: a transient failure until it answers */
		struct est_entry t = {.key = j->key, .rc = ESTIMATE_ERR_OTHER};
		char msg[160];
		snprintf(msg, sizeof(msg), "the Hub has not answered the estimate of %s within %d s", j->repo,
			 ESTIMATE_TIMEOUT_MS / 1000);
		t.msg = msg;
		out = entry_copy(&t);
		hmap_put(&j->waiters, cache_key, HMAP_PTR(1));
	} else {
		if (!j) {
			j = job_new(buf_str(&k), spec, token, now);
			struct est_job **pp = &r->est_queue;
			while (*pp)
				pp = &(*pp)->next;
			*pp = j;
			pthread_cond_signal(&r->est_cv);
		}
		hmap_put(&j->waiters, cache_key, HMAP_PTR(1));
		*pending = true;
	}
	pthread_mutex_unlock(&r->mu);
	buf_cleanup(&k);
	return out;
}
