#include "leader/leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

struct leader {
	struct kube_client *c;
	char *ns, *name, *id;
	uint64_t dur_ms, deadline_ms, retry_ms;
	const struct mclock *clock;
	void (*on_started)(void *);
	void (*on_lost)(void *);
	void *ctx;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	bool leading;
	char *observed;           /* "holder|renewTime|duration" as last seen */
	uint64_t observed_ns;     /* when it last changed (local monotonic) */
	uint64_t last_renew_ns;   /* last successful acquire/renew */
	json_object *lease;       /* last lease we wrote or read */
	uint64_t expires_ns;      /* when another holder's lease expires (local view); 0 = unknown */
};

int leader_new(struct kube_client *c, const struct leader_opts *o, struct leader **out)
{
	if (!o->ns || !o->name || !o->identity)
		return -EINVAL;
	struct leader *l = xcalloc(1, sizeof(*l));
	l->c = c;
	l->ns = xstrdup(o->ns);
	l->name = xstrdup(o->name);
	l->id = xstrdup(o->identity);
	l->dur_ms = o->lease_duration_ms ? o->lease_duration_ms : 15000;
	l->deadline_ms = o->renew_deadline_ms ? o->renew_deadline_ms : 10000;
	l->retry_ms = o->retry_period_ms ? o->retry_period_ms : 2000;
	l->clock = o->clock ? o->clock : mclock_system();
	l->on_started = o->on_started_leading;
	l->on_lost = o->on_lost;
	l->ctx = o->ctx;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = l;
	return 0;
}

static const char *spec_str(json_object *lease, const char *k)
{
	json_object *spec, *v;
	if (lease && json_object_object_get_ex(lease, "spec", &spec) && json_object_object_get_ex(spec, k, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static int64_t spec_int(json_object *lease, const char *k, int64_t def)
{
	json_object *spec, *v;
	if (lease && json_object_object_get_ex(lease, "spec", &spec) && json_object_object_get_ex(spec, k, &v))
		return json_object_get_int64(v);
	return def;
}

static void set_spec(struct leader *l, json_object *lease, bool new_holder, bool release)
{
	json_object *spec;
	if (!json_object_object_get_ex(lease, "spec", &spec)) {
		spec = json_object_new_object();
		json_object_object_add(lease, "spec", spec);
	}
	char ts[RFC3339_MICRO_LEN + 1];
	rfc3339_format_micro(mclock_wall_ns(l->clock), ts);
	if (release) {
		json_object_object_add(spec, "holderIdentity", json_object_new_string(""));
		json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(1));
	} else {
		json_object_object_add(spec, "holderIdentity", json_object_new_string(l->id));
		json_object_object_add(spec, "leaseDurationSeconds",
				       json_object_new_int((int)((l->dur_ms + 999) / 1000)));
	}
	json_object_object_add(spec, "renewTime", json_object_new_string(ts));
	if (new_holder) {
		json_object_object_add(spec, "acquireTime", json_object_new_string(ts));
		json_object_object_add(spec, "leaseTransitions",
				       json_object_new_int64(spec_int(lease, "leaseTransitions", -1) + 1));
	}
}

/* Locked. */
static void observe(struct leader *l, json_object *lease)
{
	char *rec = xasprintf("%s|%s|%lld", spec_str(lease, "holderIdentity") ? spec_str(lease, "holderIdentity") : "",
			      spec_str(lease, "renewTime") ? spec_str(lease, "renewTime") : "",
			      (long long)spec_int(lease, "leaseDurationSeconds", 0));
	if (!l->observed || strcmp(rec, l->observed) != 0) {
		free(l->observed);
		l->observed = rec;
		l->observed_ns = mclock_mono_ns(l->clock);
	} else {
		free(rec);
	}
}

int leader_try_acquire_or_renew(struct leader *l)
{
	json_object *lease = NULL, *out = NULL;
	struct kube_error err = {0};
	uint64_t now = mclock_mono_ns(l->clock);
	int rc = kube_get(l->c, &KUBE_RES_LEASES, l->ns, l->name, &lease, &err);
	int leading = 0;
	if (rc == -KUBE_ERR_NOT_FOUND) {
		kube_error_clear(&err);
		lease = json_object_new_object();
		json_object_object_add(lease, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
		json_object_object_add(lease, "kind", json_object_new_string("Lease"));
		json_object *md = json_object_new_object();
		json_object_object_add(md, "name", json_object_new_string(l->name));
		json_object_object_add(md, "namespace", json_object_new_string(l->ns));
		json_object_object_add(lease, "metadata", md);
		set_spec(l, lease, true, false);
		rc = kube_create(l->c, &KUBE_RES_LEASES, l->ns, lease, &out, &err);
		if (rc == 0)
			leading = 1;
		goto out;
	}
	if (rc)
		goto out;
	pthread_mutex_lock(&l->mu);
	observe(l, lease);
	uint64_t observed_ns = l->observed_ns;
	pthread_mutex_unlock(&l->mu);
	const char *holder = spec_str(lease, "holderIdentity");
	int64_t dur_s = spec_int(lease, "leaseDurationSeconds", 15);
	bool mine = holder && strcmp(holder, l->id) == 0;
	bool free_ = !holder || !*holder;
	bool expired = now >= observed_ns + (uint64_t)dur_s * 1000000000ull;
	if (!mine && !free_ && !expired) {
		/* someone else holds it: try again as soon as it would expire */
		pthread_mutex_lock(&l->mu);
		l->expires_ns = observed_ns + (uint64_t)dur_s * 1000000000ull;
		pthread_mutex_unlock(&l->mu);
		goto out;
	}
	set_spec(l, lease, !mine, false);
	rc = kube_update(l->c, &KUBE_RES_LEASES, l->ns, l->name, lease, &out, &err);
	if (rc == 0)
		leading = 1;
out:
	if (rc && rc != -KUBE_ERR_CONFLICT && rc != -KUBE_ERR_ALREADY_EXISTS)
		LOG_WARN("lease request failed", "lease=%s/%s error=%s", l->ns, l->name,
			 err.message ? err.message : kube_reason_str(-rc));
	kube_error_clear(&err);
	pthread_mutex_lock(&l->mu);
	if (leading) {
		observe(l, out);
		json_object_put(l->lease);
		l->lease = out;
		out = NULL;
		l->last_renew_ns = now;
	}
	pthread_mutex_unlock(&l->mu);
	json_object_put(out);
	json_object_put(lease);
	return leading;
}

/* Locked: wait ms or until stop. */
static void sleep_locked(struct leader *l, uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + ms * 1000000ull;
	ts.tv_sec = (time_t)(t / 1000000000ull);
	ts.tv_nsec = (long)(t % 1000000000ull);
	while (!l->stop)
		if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT)
			break;
}

static void *run(void *p)
{
	struct leader *l = p;
	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		bool was = l->leading;
		pthread_mutex_unlock(&l->mu);
		int ok = leader_try_acquire_or_renew(l);
		pthread_mutex_lock(&l->mu);
		if (l->stop)
			break;
		if (!was && ok) {
			l->leading = true;
			pthread_mutex_unlock(&l->mu);
			LOG_INFO("became leader", "lease=%s/%s identity=%s", l->ns, l->name, l->id);
			if (l->on_started)
				l->on_started(l->ctx);
			pthread_mutex_lock(&l->mu);
		} else if (was && !ok) {
			uint64_t since = mclock_mono_ns(l->clock) - l->last_renew_ns;
			if (since >= l->deadline_ms * 1000000ull) {
				l->leading = false;
				pthread_mutex_unlock(&l->mu);
				LOG_ERROR("leader lease lost", "lease=%s/%s identity=%s", l->ns, l->name, l->id);
				if (l->on_lost)
					l->on_lost(l->ctx);
				pthread_mutex_lock(&l->mu);
				break;
			}
		}
		uint64_t wait_ms = l->retry_ms;
		if (!l->leading && l->expires_ns) {
			/* wake up right when the holder's lease expires */
			uint64_t now = mclock_mono_ns(l->clock);
			uint64_t until = l->expires_ns > now ? (l->expires_ns - now) / 1000000ull + 1 : 1;
			if (until < wait_ms)
				wait_ms = until;
			l->expires_ns = 0;
		}
		sleep_locked(l, wait_ms);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int leader_start(struct leader *l)
{
	pthread_mutex_lock(&l->mu);
	l->stop = false;
	int rc = pthread_create(&l->thread, NULL, run, l);
	if (rc == 0)
		l->running = true;
	pthread_mutex_unlock(&l->mu);
	return -rc;
}

void leader_stop(struct leader *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	bool running = l->running;
	l->stop = true;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
	if (running)
		pthread_join(l->thread, NULL);
	pthread_mutex_lock(&l->mu);
	l->running = false;
	bool leading = l->leading;
	json_object *lease = l->lease;
	l->lease = NULL;
	l->leading = false;
	pthread_mutex_unlock(&l->mu);
	if (leading && lease) {
		set_spec(l, lease, false, true);
		struct kube_error err = {0};
		int rc = kube_update(l->c, &KUBE_RES_LEASES, l->ns, l->name, lease, NULL, &err);
		if (rc)
			LOG_WARN("lease release failed", "lease=%s/%s error=%s", l->ns, l->name,
				 err.message ? err.message : kube_reason_str(-rc));
		else
			LOG_INFO("lease released", "lease=%s/%s identity=%s", l->ns, l->name, l->id);
		kube_error_clear(&err);
	}
	json_object_put(lease);
}

void leader_free(struct leader *l)
{
	if (!l)
		return;
	leader_stop(l);
	json_object_put(l->lease);
	free(l->observed);
	free(l->ns);
	free(l->name);
	free(l->id);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

bool leader_is_leader(struct leader *l)
{
	pthread_mutex_lock(&l->mu);
	bool v = l->leading;
	pthread_mutex_unlock(&l->mu);
	return v;
}
