/* Work queue: FIFO of ready keys + a dirty set (queued or to re-queue) + a
 * processing set + delayed keys + per-item failure counts + a token bucket. */
#include "workqueue/workqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/hmap.h"
#include "util/mem.h"

/* ---- the queue ---- */
struct delayed {
	char *key;
	uint64_t at_ns;
};

struct wq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t done_cv;
	char *name;
	const struct mclock *clock;
	bool fake_clock;
	uint64_t base_ms, max_ms;
	double qps;
	double burst;
	double tokens;
	uint64_t last_ns;

	char **fifo;     /* ring */
	size_t cap, head, len;
	struct hmap dirty;       /* queued or to re-queue after done */
	struct hmap processing;
	struct hmap failures;    /* per-item exponent */
	struct delayed *del;
	size_t ndel, capdel;
	bool shutting_down;
	struct wq_hooks hooks;
};

int wq_new(const struct wq_opts *o, struct wq **out)
{
	struct wq *q = xcalloc(1, sizeof(*q));
	struct wq_opts d = {0};
	if (!o)
		o = &d;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_cond_init(&q->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	q->name = xstrdup(o->name ? o->name : "queue");
	q->clock = o->clock ? o->clock : mclock_system();
	q->fake_clock = q->clock != mclock_system();
	q->base_ms = o->base_delay_ms ? o->base_delay_ms : 5;
	q->max_ms = o->max_delay_ms ? o->max_delay_ms : 1000000;
	q->qps = o->qps > 0 ? o->qps : 10;
	q->burst = o->burst > 0 ? o->burst : 100;
	q->tokens = q->burst;
	q->last_ns = mclock_mono_ns(q->clock);
	q->cap = 16;
	q->fifo = xcalloc(q->cap, sizeof(char *));
	hmap_init(&q->dirty);
	hmap_init(&q->processing);
	hmap_init(&q->failures);
	*out = q;
	return 0;
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->len; i++)
		free(q->fifo[(q->head + i) % q->cap]);
	free(q->fifo);
	for (size_t i = 0; i < q->ndel; i++)
		free(q->del[i].key);
	free(q->del);
	hmap_cleanup(&q->dirty, NULL);
	hmap_cleanup(&q->processing, NULL);
	hmap_cleanup(&q->failures, NULL);
	pthread_cond_destroy(&q->cv);
	pthread_cond_destroy(&q->done_cv);
	pthread_mutex_destroy(&q->mu);
	free(q->name);
	free(q);
}

void wq_set_hooks(struct wq *q, const struct wq_hooks *h)
{
	pthread_mutex_lock(&q->mu);
	q->hooks = *h;
	pthread_mutex_unlock(&q->mu);
}

static void fifo_push(struct wq *q, const char *key)
{
	if (q->len == q->cap) {
		char **n = xcalloc(q->cap * 2, sizeof(char *));
		for (size_t i = 0; i < q->len; i++)
			n[i] = q->fifo[(q->head + i) % q->cap];
		free(q->fifo);
		q->fifo = n;
		q->head = 0;
		q->cap *= 2;
	}
	q->fifo[(q->head + q->len) % q->cap] = xstrdup(key);
	q->len++;
}

static void depth_hook(struct wq *q)
{
	if (q->hooks.on_depth)
		q->hooks.on_depth(q->hooks.ctx, q->name, q->len);
}

/* Locked. */
static void add_locked(struct wq *q, const char *key)
{
	if (q->shutting_down)
		return;
	if (q->hooks.on_add)
		q->hooks.on_add(q->hooks.ctx, q->name);
	if (hmap_get(&q->dirty, key))
		return;
	hmap_put(&q->dirty, key, HMAP_PTR(1));
	if (hmap_get(&q->processing, key))
		return;   /* re-queued by wq_done */
	fifo_push(q, key);
	depth_hook(q);
	pthread_cond_signal(&q->cv);
}

void wq_add(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	add_locked(q, key);
	pthread_mutex_unlock(&q->mu);
}

void wq_add_after(struct wq *q, const char *key, uint64_t delay_ms)
{
	pthread_mutex_lock(&q->mu);
	if (q->shutting_down)
		goto out;
	if (delay_ms == 0) {
		add_locked(q, key);
		goto out;
	}
	uint64_t at = mclock_mono_ns(q->clock) + delay_ms * 1000000ull;
	for (size_t i = 0; i < q->ndel; i++) {
		if (strcmp(q->del[i].key, key) == 0) {
			if (at < q->del[i].at_ns)   /* keep the earliest */
				q->del[i].at_ns = at;
			pthread_cond_broadcast(&q->cv);
			goto out;
		}
	}
	if (q->ndel == q->capdel) {
		q->capdel = q->capdel ? q->capdel * 2 : 16;
		q->del = xrealloc(q->del, q->capdel * sizeof(*q->del));
	}
	q->del[q->ndel].key = xstrdup(key);
	q->del[q->ndel].at_ns = at;
	q->ndel++;
	pthread_cond_broadcast(&q->cv);
out:
	pthread_mutex_unlock(&q->mu);
}

/* Locked: max(per-item exponential, token bucket reservation). */
static uint64_t when_locked(struct wq *q, const char *key)
{
	unsigned n = (unsigned)HMAP_UINT(hmap_get(&q->failures, key));
	hmap_put(&q->failures, key, HMAP_PTR(n + 1));
	uint64_t item = q->max_ms;
	if (n < 63) {
		double d = (double)q->base_ms;
		for (unsigned i = 0; i < n && d < (double)q->max_ms; i++)
			d *= 2;
		item = d >= (double)q->max_ms ? q->max_ms : (uint64_t)d;
	}
	/* token bucket (a reservation: tokens may go negative) */
	uint64_t now = mclock_mono_ns(q->clock);
	double el = (double)(now - q->last_ns) / 1e9;
	q->last_ns = now;
	q->tokens += el * q->qps;
	if (q->tokens > q->burst)
		q->tokens = q->burst;
	q->tokens -= 1;
	uint64_t bucket = 0;
	if (q->tokens < 0)
		bucket = (uint64_t)((-q->tokens / q->qps) * 1000.0 + 0.5);
	return item > bucket ? item : bucket;
}

uint64_t wq_rate_limit_when(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	uint64_t d = when_locked(q, key);
	pthread_mutex_unlock(&q->mu);
	return d;
}

void wq_add_rate_limited(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	uint64_t d = when_locked(q, key);
	if (q->hooks.on_retry)
		q->hooks.on_retry(q->hooks.ctx, q->name);
	pthread_mutex_unlock(&q->mu);
	wq_add_after(q, key, d);
}

void wq_forget(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	hmap_del(&q->failures, key);
	pthread_mutex_unlock(&q->mu);
}

unsigned wq_num_requeues(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	unsigned n = (unsigned)HMAP_UINT(hmap_get(&q->failures, key));
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Locked: move due delayed keys to the queue; returns ns until the next one
 * (UINT64_MAX when none). */
static uint64_t promote_locked(struct wq *q)
{
	uint64_t now = mclock_mono_ns(q->clock);
	uint64_t next = UINT64_MAX;
	size_t i = 0;
	while (i < q->ndel) {
		if (q->del[i].at_ns <= now) {
			char *k = q->del[i].key;
			q->del[i] = q->del[--q->ndel];
			add_locked(q, k);
			free(k);
			continue;
		}
		if (q->del[i].at_ns - now < next)
			next = q->del[i].at_ns - now;
		i++;
	}
	return next;
}

static char *pop_locked(struct wq *q)
{
	char *k = q->fifo[q->head];
	q->head = (q->head + 1) % q->cap;
	q->len--;
	hmap_put(&q->processing, k, HMAP_PTR(1));
	hmap_del(&q->dirty, k);
	depth_hook(q);
	return k;
}

int wq_try_get(struct wq *q, char **key)
{
	int rc = -EAGAIN;
	pthread_mutex_lock(&q->mu);
	if (q->shutting_down) {
		rc = -ESHUTDOWN;
		goto out;
	}
	promote_locked(q);
	if (q->len) {
		*key = pop_locked(q);
		rc = 0;
	}
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int wq_get(struct wq *q, char **key)
{
	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->shutting_down) {
			pthread_mutex_unlock(&q->mu);
			return -ESHUTDOWN;
		}
		uint64_t next = promote_locked(q);
		if (q->len) {
			*key = pop_locked(q);
			pthread_mutex_unlock(&q->mu);
			return 0;
		}
		if (q->fake_clock && next > 2000000ull)
			next = 2000000ull;   /* poll a fake clock every 2 ms */
		if (next == UINT64_MAX) {
			pthread_cond_wait(&q->cv, &q->mu);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + next;
			ts.tv_sec = (time_t)(t / 1000000000ull);
			ts.tv_nsec = (long)(t % 1000000000ull);
			pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		}
	}
}

void wq_done(struct wq *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	hmap_del(&q->processing, key);
	if (!q->shutting_down && hmap_get(&q->dirty, key)) {
		fifo_push(q, key);
		depth_hook(q);
		pthread_cond_signal(&q->cv);
	}
	if (q->processing.n == 0)
		pthread_cond_broadcast(&q->done_cv);
	pthread_mutex_unlock(&q->mu);
}

size_t wq_len(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t wq_delayed_len(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->ndel;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t wq_processing(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->processing.n;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void wq_shutdown(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int wq_drain(struct wq *q, uint64_t timeout_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + timeout_ms * 1000000ull;
	ts.tv_sec = (time_t)(t / 1000000000ull);
	ts.tv_nsec = (long)(t % 1000000000ull);
	int rc = 0;
	pthread_mutex_lock(&q->mu);
	while (q->processing.n > 0) {
		if (pthread_cond_timedwait(&q->done_cv, &q->mu, &ts) == ETIMEDOUT) {
			rc = q->processing.n > 0 ? -ETIMEDOUT : 0;
			break;
		}
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}
