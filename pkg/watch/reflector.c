#include "watch/reflector.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>

#include "util/backoff.h"
#include "util/log.h"
#include "util/mem.h"

#define RV_MAX 128
#define HEALTHY_STREAM_NS (10ull * 1000000000ull)

struct reflector {
	struct reflector_transport t;
	struct reflector_sink s;
	char *name;
	const struct mclock *clock;
	bool fake_clock;
	uint64_t resync_ms;
	void (*transform)(json_object *obj);
	struct backoff bo;

	pthread_mutex_t mu;        /* state below */
	pthread_cond_t cv;
	pthread_mutex_t sink_mu;   /* serialises sink calls */
	pthread_t thread;
	bool running;
	bool stop;
	bool synced;
	char rv[RV_MAX];
	/* current stream */
	void *handle;
	bool ended;
	int end_rc;
	bool gone;            /* relist: 410 Gone, or the RV is newer than the server's history */
	const char *relist_reason;   /* "gone" or "too_large" */
	bool kicked;
	struct reflector_stats st;
};

/* metadata.managedFields is dropped before objects reach the sink, as
 * controller-runtime's default cache transform does: nothing in the
 * operator reads it (writes are server-side applies keyed by desired-hash),
 * and it is most of a cached object's JSON (68 of a Job's 89 nodes). */
static void strip_managed_fields(json_object *obj)
{
	json_object *md = NULL;
	if (obj && json_object_object_get_ex(obj, "metadata", &md) && json_object_is_type(md, json_type_object))
		json_object_object_del(md, "managedFields");
}

int reflector_new(const struct reflector_transport *t, const struct reflector_sink *s,
		  const struct reflector_opts *o, struct reflector **out)
{
	struct reflector *r = xcalloc(1, sizeof(*r));
	r->t = *t;
	r->s = *s;
	r->name = xstrdup(o && o->name ? o->name : "reflector");
	r->clock = o && o->clock ? o->clock : mclock_system();
	r->fake_clock = r->clock != mclock_system();
	r->resync_ms = o ? o->resync_ms : 0;
	r->transform = o && o->transform ? o->transform : strip_managed_fields;
	backoff_init(&r->bo, o && o->backoff_base_ms ? o->backoff_base_ms : 200,
		     o && o->backoff_max_ms ? o->backoff_max_ms : 30000, 2.0, 0.2);
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->sink_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = r;
	return 0;
}

static const char *obj_rv(json_object *obj)
{
	json_object *md, *v;
	if (obj && json_object_object_get_ex(obj, "metadata", &md) &&
	    json_object_object_get_ex(md, "resourceVersion", &v))
		return json_object_get_string(v);
	return NULL;
}

static void set_rv_locked(struct reflector *r, const char *rv)
{
	if (rv && *rv)
		snprintf(r->rv, sizeof r->rv, "%s", rv);
}

/* ---- callbacks from the transport's thread ---- */
static void on_event(void *ctx, const struct kube_watch_event *ev)
{
	struct reflector *r = ctx;
	const char *rv = ev->resource_version ? ev->resource_version : obj_rv(ev->object);
	switch (ev->type) {
	case KUBE_WATCH_ADDED:
	case KUBE_WATCH_MODIFIED:
	case KUBE_WATCH_DELETED:
		if (ev->object)
			r->transform(ev->object);
		pthread_mutex_lock(&r->sink_mu);
		r->s.event(r->s.sctx, ev->type, ev->object);
		pthread_mutex_unlock(&r->sink_mu);
		pthread_mutex_lock(&r->mu);
		set_rv_locked(r, rv);
		pthread_mutex_unlock(&r->mu);
		break;
	case KUBE_WATCH_BOOKMARK:
		pthread_mutex_lock(&r->mu);
		set_rv_locked(r, rv);
		pthread_mutex_unlock(&r->mu);
		break;
	case KUBE_WATCH_ERROR: {
		json_object *code = NULL;
		int c = 0;
		if (ev->object && json_object_object_get_ex(ev->object, "code", &code))
			c = json_object_get_int(code);
		pthread_mutex_lock(&r->mu);
		r->gone = (c == 410);
		r->ended = true;
		r->end_rc = c == 410 ? -KUBE_ERR_GONE : -KUBE_ERR_OTHER;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		break;
	}
	}
}

/* Must the reflector list again instead of resuming? 410 Gone, and (like
 * client-go) 504 with cause ResourceVersionTooLarge: the server (a restarted
 * or replaced apiserver, a lagging watch cache) has not reached our RV and
 * resuming from it would fail forever. */
static const char *relist_reason(int rc, const struct kube_error *err)
{
	if (rc == -KUBE_ERR_GONE)
		return "gone";
	if (rc == -KUBE_ERR_TIMEOUT && err) {
		for (size_t i = 0; i < err->ncauses; i++)
			if (err->causes[i].type && strcmp(err->causes[i].type, "ResourceVersionTooLarge") == 0)
				return "too_large";
	}
	return NULL;
}

static void on_done(void *ctx, int rc, const struct kube_error *err)
{
	struct reflector *r = ctx;
	pthread_mutex_lock(&r->mu);
	if (!r->ended) {
		r->ended = true;
		r->end_rc = rc;
		r->relist_reason = relist_reason(rc, err);
		if (r->relist_reason)
			r->gone = true;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---- control thread ---- */

/* Locked. Wait until stop, a stream end (when want_end), a kick, or the
 * clock reaches deadline_ns (UINT64_MAX = none). Returns true on timeout. */
static bool wait_locked(struct reflector *r, uint64_t deadline_ns, bool want_end)
{
	for (;;) {
		if (r->stop || (want_end && r->ended) || r->kicked) {
			r->kicked = false;
			return false;
		}
		uint64_t now = mclock_mono_ns(r->clock);
		if (deadline_ns != UINT64_MAX && now >= deadline_ns)
			return true;
		uint64_t wait = deadline_ns == UINT64_MAX ? 1000000000ull : deadline_ns - now;
		if (r->fake_clock && wait > 2000000ull)
			wait = 2000000ull;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + wait;
		ts.tv_sec = (time_t)(t / 1000000000ull);
		ts.tv_nsec = (long)(t % 1000000000ull);
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
	}
}

static void failure(struct reflector *r, const char *reason, int rc)
{
	pthread_mutex_lock(&r->mu);
	r->st.failures++;
	pthread_mutex_unlock(&r->mu);
	LOG_DEBUG("watch failure", "reflector=%s reason=%s rc=%d", r->name, reason, rc);
	if (r->s.failure) {
		pthread_mutex_lock(&r->sink_mu);
		r->s.failure(r->s.sctx, reason, rc);
		pthread_mutex_unlock(&r->sink_mu);
	}
}

static int do_list(struct reflector *r)
{
	json_object *list = NULL;
	struct kube_error err = {0};
	int rc = r->t.list(r->t.tctx, &list, &err);
	if (rc) {
		LOG_WARN("list failed", "reflector=%s reason=%s error=%s", r->name, kube_reason_str(-rc),
			 err.message ? err.message : "");
		kube_error_clear(&err);
		return rc;
	}
	json_object *items = NULL;
	json_object_object_get_ex(list, "items", &items);
	for (size_t i = 0; items && i < json_object_array_length(items); i++)
		if (json_object_array_get_idx(items, i))
			r->transform(json_object_array_get_idx(items, i));
	pthread_mutex_lock(&r->sink_mu);
	r->s.replace(r->s.sctx, items);
	pthread_mutex_unlock(&r->sink_mu);
	pthread_mutex_lock(&r->mu);
	set_rv_locked(r, obj_rv(list));
	r->synced = true;
	r->st.lists++;
	pthread_mutex_unlock(&r->mu);
	json_object_put(list);
#ifdef __GLIBC__
	malloc_trim(0);   /* the list's trees are gone: give their pages back */
#endif
	return 0;
}

static void *run(void *p)
{
	struct reflector *r = p;
	bool need_list = true;
	uint64_t next_resync = r->resync_ms ? mclock_mono_ns(r->clock) + r->resync_ms * 1000000ull : UINT64_MAX;
	uint64_t stream_start = 0;
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		uint64_t delay_ms = 0;
		if (need_list) {
			pthread_mutex_unlock(&r->mu);
			int rc = do_list(r);
			pthread_mutex_lock(&r->mu);
			if (rc) {
				pthread_mutex_unlock(&r->mu);
				failure(r, "list_error", rc);
				pthread_mutex_lock(&r->mu);
				delay_ms = backoff_next(&r->bo);
				goto wait_backoff;
			}
			need_list = false;
		}
		if (!r->handle) {
			char rv[RV_MAX];
			snprintf(rv, sizeof rv, "%s", r->rv);
			r->ended = false;
			r->gone = false;
			r->relist_reason = NULL;
			void *h = NULL;
			struct kube_error err = {0};
			pthread_mutex_unlock(&r->mu);
			int rc = r->t.watch_start(r->t.tctx, rv, on_event, on_done, r, &h, &err);
			const char *why = relist_reason(rc, &err);
			kube_error_clear(&err);
			pthread_mutex_lock(&r->mu);
			if (why) {
				r->st.relists_gone++;
				need_list = true;
				pthread_mutex_unlock(&r->mu);
				failure(r, why, rc);
				pthread_mutex_lock(&r->mu);
				continue;
			}
			if (rc) {
				pthread_mutex_unlock(&r->mu);
				failure(r, "error", rc);
				pthread_mutex_lock(&r->mu);
				delay_ms = backoff_next(&r->bo);
				goto wait_backoff;
			}
			r->handle = h;
			r->st.watches++;
			stream_start = mclock_mono_ns(r->clock);
		}
		/* wait for the stream to end, a resync, or stop */
		if (wait_locked(r, next_resync, true)) {
			next_resync = mclock_mono_ns(r->clock) + r->resync_ms * 1000000ull;
			pthread_mutex_unlock(&r->mu);
			if (r->s.resync) {
				pthread_mutex_lock(&r->sink_mu);
				r->s.resync(r->s.sctx);
				pthread_mutex_unlock(&r->sink_mu);
			}
			pthread_mutex_lock(&r->mu);
			continue;
		}
		if (r->stop)
			break;
		if (!r->ended)
			continue;   /* kicked */
		/* the stream ended */
		void *h = r->handle;
		r->handle = NULL;
		bool gone = r->gone;
		const char *why = r->relist_reason ? r->relist_reason : "gone";
		int end_rc = r->end_rc;
		pthread_mutex_unlock(&r->mu);
		r->t.watch_stop(r->t.tctx, h);
		if (mclock_mono_ns(r->clock) - stream_start >= HEALTHY_STREAM_NS)
			backoff_reset(&r->bo);
		failure(r, gone ? why : (end_rc == 0 ? "dropped" : "error"), end_rc);
		pthread_mutex_lock(&r->mu);
		if (gone) {
			r->st.relists_gone++;
			need_list = true;
			continue;   /* relist at once */
		}
		r->st.resumes++;
		delay_ms = backoff_next(&r->bo);
wait_backoff:
		wait_locked(r, mclock_mono_ns(r->clock) + delay_ms * 1000000ull, false);
	}
	void *h = r->handle;
	r->handle = NULL;
	pthread_mutex_unlock(&r->mu);
	if (h)
		r->t.watch_stop(r->t.tctx, h);
	return NULL;
}

int reflector_start(struct reflector *r)
{
	pthread_mutex_lock(&r->mu);
	if (r->running) {
		pthread_mutex_unlock(&r->mu);
		return -EALREADY;
	}
	r->stop = false;
	int rc = pthread_create(&r->thread, NULL, run, r);
	if (rc == 0)
		r->running = true;
	pthread_mutex_unlock(&r->mu);
	return rc ? -rc : 0;
}

void reflector_stop(struct reflector *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	if (!r->running) {
		pthread_mutex_unlock(&r->mu);
		return;
	}
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_mutex_lock(&r->mu);
	r->running = false;
	pthread_mutex_unlock(&r->mu);
}

void reflector_free(struct reflector *r)
{
	if (!r)
		return;
	reflector_stop(r);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->sink_mu);
	free(r->name);
	free(r);
}

bool reflector_has_synced(struct reflector *r)
{
	pthread_mutex_lock(&r->mu);
	bool s = r->synced;
	pthread_mutex_unlock(&r->mu);
	return s;
}

void reflector_last_rv(struct reflector *r, char *out, size_t n)
{
	pthread_mutex_lock(&r->mu);
	snprintf(out, n, "%s", r->rv);
	pthread_mutex_unlock(&r->mu);
}

void reflector_stats(struct reflector *r, struct reflector_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->st;
	pthread_mutex_unlock(&r->mu);
}

void reflector_kick(struct reflector *r)
{
	pthread_mutex_lock(&r->mu);
	r->kicked = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}
