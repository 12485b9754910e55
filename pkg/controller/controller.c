#include "controller/controller.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/log.h"
#include "util/mem.h"

struct stale {
	char *key;
	char *rv;
	uint64_t at_ns;
	struct stale *next;
};

struct ctrl {
	struct stale *stale;   /* under mu */
	char *name;
	int nworkers;
	ctrl_reconcile_fn reconcile;
	void *ctx;
	const struct mclock *clock;
	struct wq *q;
	pthread_t *threads;
	bool started;
	pthread_mutex_t mu;
	struct ctrl_stats st;
	struct metrics_histogram *hist[4];   /* per result */
};

static const char *const result_names[] = {"success", "requeue_after", "error", "terminal"};
static atomic_ulong next_rid = 1;
static _Thread_local unsigned long cur_rid;

unsigned long ctrl_current_rid(void)
{
	return cur_rid;
}

static void hook_add(void *ctx, const char *queue)
{
	(void)ctx;
	static const char *k[] = {"name"};
	metrics_counter_inc(metrics_counter_get("modelcache_workqueue_adds_total",
		"Keys added to a work queue.", 1, k, (const char *[]){queue}));
}

static void hook_retry(void *ctx, const char *queue)
{
	(void)ctx;
	static const char *k[] = {"name"};
	metrics_counter_inc(metrics_counter_get("modelcache_workqueue_retries_total",
		"Rate-limited re-adds to a work queue.", 1, k, (const char *[]){queue}));
}

static void hook_depth(void *ctx, const char *queue, size_t depth)
{
	(void)ctx;
	static const char *k[] = {"name"};
	metrics_gauge_set(metrics_gauge_get("modelcache_workqueue_depth",
		"Keys waiting in a work queue.", 1, k, (const char *[]){queue}), (double)depth);
}

int ctrl_new(const struct ctrl_opts *o, struct ctrl **out)
{
	if (!o || !o->name || !o->reconcile)
		return -EINVAL;
	struct ctrl *c = xcalloc(1, sizeof(*c));
	c->name = xstrdup(o->name);
	c->nworkers = o->workers > 0 ? o->workers : 2;
	c->reconcile = o->reconcile;
	c->ctx = o->ctx;
	c->clock = o->clock ? o->clock : mclock_system();
	pthread_mutex_init(&c->mu, NULL);
	struct wq_opts qo = {.name = o->name, .clock = c->clock};
	wq_new(&qo, &c->q);
	struct wq_hooks h = {hook_add, hook_retry, hook_depth, c};
	wq_set_hooks(c->q, &h);
	/* make the families visible at zero; results in enum ctrl_result_kind order */
	static const char *k2[] = {"controller", "result"};
	for (int i = 0; i < 4; i++) {
		const char *v2[] = {c->name, result_names[i]};
		metrics_counter_add(metrics_counter_get("modelcache_reconcile_total",
			"Reconciles per controller and result.", 2, k2, v2), 0);
		c->hist[i] = metrics_histogram_get("modelcache_reconcile_duration_seconds",
			"Time per reconcile, per controller and result.", 0, NULL, 2, k2, v2);
	}
	hook_depth(NULL, c->name, 0);
	*out = c;
	return 0;
}

static void count(struct ctrl *c, const char *result)
{
	static const char *k[] = {"controller", "result"};
	const char *v[] = {c->name, result};
	metrics_counter_inc(metrics_counter_get("modelcache_reconcile_total",
		"Reconciles per controller and result.", 2, k, v));
}

static void *worker(void *p)
{
	struct ctrl *c = p;
	char *key;
	while (wq_get(c->q, &key) == 0) {
		unsigned long rid = atomic_fetch_add(&next_rid, 1);
		cur_rid = rid;
		char ctxs[512];
		snprintf(ctxs, sizeof ctxs, "controller=%s key=%s rid=%lu", c->name, key, rid);
		log_set_context(ctxs);
		struct ctrl_result res;
		memset(&res, 0, sizeof res);
		uint64_t t0 = mclock_mono_ns(mclock_system());
		int rc = c->reconcile(c->ctx, key, &res);
		double secs = (double)(mclock_mono_ns(mclock_system()) - t0) / 1e9;
		if (rc < 0 && res.kind != CTRL_TERMINAL)
			res.kind = CTRL_ERROR;
		if ((unsigned)res.kind > CTRL_TERMINAL)
			res.kind = CTRL_ERROR;
		metrics_histogram_observe(c->hist[res.kind], secs);
		pthread_mutex_lock(&c->mu);
		c->st.reconciles++;
		switch (res.kind) {
		case CTRL_DONE: c->st.done++; break;
		case CTRL_REQUEUE_AFTER: c->st.requeues++; break;
		case CTRL_ERROR: c->st.errors++; break;
		case CTRL_TERMINAL: c->st.terminal++; break;
		}
		pthread_mutex_unlock(&c->mu);
		switch (res.kind) {
		case CTRL_DONE:
			count(c, result_names[CTRL_DONE]);
			wq_forget(c->q, key);
			LOG_DEBUG("reconciled", "took_ms=%.1f", secs * 1000);
			break;
		case CTRL_REQUEUE_AFTER:
			count(c, result_names[CTRL_REQUEUE_AFTER]);
			wq_forget(c->q, key);
			wq_add_after(c->q, key, res.requeue_after_ms);
			LOG_DEBUG("reconciled", "took_ms=%.1f requeue_after_ms=%llu", secs * 1000,
				  (unsigned long long)res.requeue_after_ms);
			break;
		case CTRL_ERROR:
			count(c, result_names[CTRL_ERROR]);
			LOG_WARN("reconcile failed", "rc=%d retries=%u error=%s", rc, wq_num_requeues(c->q, key),
				 res.message[0] ? res.message : "(none)");
			wq_add_rate_limited(c->q, key);
			break;
		case CTRL_TERMINAL:
			count(c, result_names[CTRL_TERMINAL]);
			wq_forget(c->q, key);
			LOG_ERROR("reconcile failed, not retried", "error=%s", res.message[0] ? res.message : "(none)");
			break;
		}
		log_set_context(NULL);
		cur_rid = 0;
		wq_done(c->q, key);
		free(key);
	}
	return NULL;
}

int ctrl_start(struct ctrl *c)
{
	if (c->started)
		return -EALREADY;
	c->threads = xcalloc((size_t)c->nworkers, sizeof(pthread_t));
	for (int i = 0; i < c->nworkers; i++) {
		int rc = pthread_create(&c->threads[i], NULL, worker, c);
		if (rc) {
			c->nworkers = i;
			break;
		}
	}
	c->started = true;
	LOG_INFO("controller started", "controller=%s workers=%d", c->name, c->nworkers);
	return 0;
}

int ctrl_stop(struct ctrl *c, uint64_t timeout_ms)
{
	wq_shutdown(c->q);
	int rc = wq_drain(c->q, timeout_ms);
	if (rc)
		LOG_WARN("reconciles still running at the deadline", "controller=%s in_flight=%zu", c->name,
			 wq_processing(c->q));
	if (c->started) {
		for (int i = 0; i < c->nworkers; i++)
			pthread_join(c->threads[i], NULL);
		free(c->threads);
		c->threads = NULL;
		c->started = false;
		LOG_INFO("controller stopped", "controller=%s", c->name);
	}
	return rc;
}

void ctrl_free(struct ctrl *c)
{
	if (!c)
		return;
	ctrl_stop(c, 30000);
	while (c->stale) {
		struct stale *n = c->stale->next;
		free(c->stale->key);
		free(c->stale->rv);
		free(c->stale);
		c->stale = n;
	}
	wq_free(c->q);
	pthread_mutex_destroy(&c->mu);
	free(c->name);
	free(c);
}

const char *ctrl_name(const struct ctrl *c)
{
	return c->name;
}

struct wq *ctrl_queue(struct ctrl *c)
{
	return c->q;
}

void ctrl_enqueue(struct ctrl *c, const char *key)
{
	wq_add(c->q, key);
}

void ctrl_enqueue_after(struct ctrl *c, const char *key, uint64_t delay_ms)
{
	wq_add_after(c->q, key, delay_ms);
}

void ctrl_stats(struct ctrl *c, struct ctrl_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->st;
	pthread_mutex_unlock(&c->mu);
}

/* ---- handlers ---- */
static void self_enqueue(struct ctrl *c, json_object *obj)
{
	char *k = store_key_of(obj);
	if (k)
		wq_add(c->q, k);
	free(k);
}
static void self_add(void *ctx, json_object *o) { self_enqueue(ctx, o); }
static void self_upd(void *ctx, json_object *o, json_object *n) { (void)o; self_enqueue(ctx, n); }
static void self_del(void *ctx, json_object *o) { self_enqueue(ctx, o); }

void ctrl_handler_for_self(struct ctrl *c, struct informer_handler *h)
{
	memset(h, 0, sizeof(*h));
	h->on_add = self_add;
	h->on_update = self_upd;
	h->on_delete = self_del;
	h->ctx = c;
}

struct map_ctx {
	struct ctrl *c;
	ctrl_map_fn map;
	void *mctx;
};

static void map_enqueue(struct map_ctx *m, json_object *obj)
{
	char key[512];
	if (obj && m->map(m->mctx, obj, key, sizeof key) == 0)
		wq_add(m->c->q, key);
}
static void map_add(void *ctx, json_object *o) { map_enqueue(ctx, o); }
static void map_upd(void *ctx, json_object *o, json_object *n)
{
	/* A resync (o == n) of a dependent object changes nothing: the owner's
	 * own informer resyncs it. Without this, every owner was reconciled
	 * once more per dependent per cluster per resync period. */
	if (o == n)
		return;
	/* a label change may move the object to another owner: both */
	map_enqueue(ctx, n);
	map_enqueue(ctx, o);
}
static void map_del(void *ctx, json_object *o) { map_enqueue(ctx, o); }

void ctrl_handler_for_map(struct ctrl *c, ctrl_map_fn map, void *mctx, struct informer_handler *h)
{
	struct map_ctx *m = xcalloc(1, sizeof(*m));
	m->c = c;
	m->map = map;
	m->mctx = mctx;
	memset(h, 0, sizeof(*h));
	h->on_add = map_add;
	h->on_update = map_upd;
	h->on_delete = map_del;
	h->ctx = m;
}

void ctrl_handler_map_free(struct informer_handler *h)
{
	free(h->ctx);
	h->ctx = NULL;
}

int ctrl_map_by_label_keys(void *mctx, json_object *obj, char *out, size_t n)
{
	const struct ctrl_label_keys *k = mctx;
	json_object *md, *labels, *name, *ns;
	if (!k || !json_object_object_get_ex(obj, "metadata", &md) ||
	    !json_object_object_get_ex(md, "labels", &labels) ||
	    !json_object_object_get_ex(labels, k->name_key, &name) ||
	    !json_object_object_get_ex(labels, k->namespace_key, &ns))
		return -1;
	int w = snprintf(out, n, "%s/%s", json_object_get_string(ns), json_object_get_string(name));
	return (w < 0 || (size_t)w >= n) ? -1 : 0;
}

#define STALE_MAX_NS (10ull * 1000000000ull)

void ctrl_note_write(struct ctrl *c, const char *key, const char *old_rv)
{
	if (!key || !old_rv)
		return;
	pthread_mutex_lock(&c->mu);
	struct stale *e;
	for (e = c->stale; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			break;
	if (!e) {
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->next = c->stale;
		c->stale = e;
	}
	free(e->rv);
	e->rv = xstrdup(old_rv);
	e->at_ns = mclock_mono_ns(c->clock);
	pthread_mutex_unlock(&c->mu);
}

bool ctrl_cache_stale(struct ctrl *c, const char *key, const char *cached_rv)
{
	bool stale = false;
	uint64_t now = mclock_mono_ns(c->clock);
	pthread_mutex_lock(&c->mu);
	for (struct stale **pp = &c->stale; *pp;) {
		struct stale *e = *pp;
		bool expired = now - e->at_ns > STALE_MAX_NS;
		if (strcmp(e->key, key) == 0 && !expired && cached_rv && strcmp(e->rv, cached_rv) == 0) {
			stale = true;
			break;
		}
		if (strcmp(e->key, key) == 0 || expired) {
			*pp = e->next;
			free(e->key);
			free(e->rv);
			free(e);
			continue;
		}
		pp = &e->next;
	}
	pthread_mutex_unlock(&c->mu);
	return stale;
}
