/* kubesim cluster behaviours: subscription, work queue, worker thread and
 * shared helpers (see behave.h). */
#include "behave.h"
#include "behave_int.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

/* ---- json helpers --------------------------------------------------------- */

json_object *behave__get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *behave__str(json_object *o, const char *key)
{
	json_object *v = behave__get(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

json_object *behave__path(json_object *o, const char *dotted)
{
	char buf[256];
	char *save = NULL;
	if (snprintf(buf, sizeof(buf), "%s", dotted) >= (int)sizeof(buf))
		return NULL;
	for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save))
		o = behave__get(o, t);
	return o;
}

void behave__now(struct behave *b, char out[32])
{
	sim_now(b->s, out);
}

int64_t behave__now_sec(struct behave *b)
{
	char now[32];
	int64_t ns = 0;
	sim_now(b->s, now);
	if (rfc3339_parse(now, &ns) < 0)
		return (int64_t)time(NULL);
	return ns / 1000000000;
}

int behave__patch(struct behave *b, const char *group, const char *version, const char *resource, const char *ns,
		 const char *name, const char *subresource, json_object *patch, const char *manager)
{
	struct sim_err err = {0};
	int rc = sim_patch(b->s, group, version, resource, ns, name, subresource, SIM_PATCH_MERGE, patch, manager, 0,
			   NULL, &err);
	if (rc == -404 && subresource) {
		/* a CRD without a status subresource: status lives on the main resource */
		sim_err_cleanup(&err);
		rc = sim_patch(b->s, group, version, resource, ns, name, NULL, SIM_PATCH_MERGE, patch, manager, 0, NULL,
			       &err);
	}
	if (rc < 0 && rc != -404)
		LOG_WARN("kubesim behave: patch failed", "resource=%s key=%s/%s sub=%s code=%d msg=%s", resource,
			 ns ? ns : "", name, subresource ? subresource : "", rc, err.message);
	sim_err_cleanup(&err);
	return rc;
}

int behave__mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int behave__rmtree(const char *path)
{
	if (!path || !*path || !strcmp(path, "/"))
		return -EINVAL;
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* ---- queue ---------------------------------------------------------------- */

static void item_free(struct bq_item *it)
{
	free(it->ns);
	free(it->name);
	free(it->arg);
	free(it);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

void behave__enqueue(struct behave *b, enum bq_kind kind, const char *ns, const char *name, const char *arg,
		    uint64_t delay_ms)
{
	uint64_t due = mono_ms() + delay_ms;
	pthread_mutex_lock(&b->mu);
	if (kind != BQ_PVC_GONE) {
		/* dedupe: one pending item per object, due at the earliest time asked */
		for (struct bq_item *it = b->q; it; it = it->next) {
			if (it->kind == kind && same_str(it->ns, ns) && same_str(it->name, name)) {
				if (due < it->due_ms)
					it->due_ms = due;
				pthread_cond_broadcast(&b->cv);
				pthread_mutex_unlock(&b->mu);
				return;
			}
		}
	}
	struct bq_item *it = xcalloc(1, sizeof(*it));
	it->kind = kind;
	it->ns = xstrdup(ns);
	it->name = xstrdup(name);
	it->arg = xstrdup(arg);
	it->due_ms = due;
	it->next = b->q;
	b->q = it;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static void abs_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int behave__sleep(struct behave *b, uint64_t ms, const int *flag)
{
	struct timespec ts;
	int rc = 0;
	uint64_t end = mono_ms() + ms;
	abs_deadline(&ts, ms);
	pthread_mutex_lock(&b->mu);
	while (!b->stop && !(flag && *flag) && mono_ms() < end) {
		if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
			break;
	}
	rc = b->stop || (flag && *flag);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

static void dispatch(struct behave *b, struct bq_item *it)
{
	switch (it->kind) {
	case BQ_PVC:
		behave__pvc_reconcile(b, it->ns, it->name);
		break;
	case BQ_PVC_GONE:
		behave__pvc_gone(b, it->name, it->arg);
		break;
	case BQ_SC:
		behave__sc_changed(b);
		break;
	case BQ_JOB:
		behave__job_reconcile(b, it->ns, it->name);
		break;
	case BQ_DEPLOY:
		behave__deploy_reconcile(b, it->ns, it->name, 0);
		break;
	case BQ_LWS:
		behave__deploy_reconcile(b, it->ns, it->name, 1);
		break;
	}
}

static void *worker_main(void *arg)
{
	struct behave *b = arg;
	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		uint64_t now = mono_ms(), next = UINT64_MAX;
		struct bq_item **pp = &b->q, *ready = NULL;
		/* take the earliest due item */
		for (struct bq_item **it = &b->q; *it; it = &(*it)->next) {
			if ((*it)->due_ms <= now && (!ready || (*it)->due_ms < ready->due_ms)) {
				ready = *it;
				pp = it;
			}
			if ((*it)->due_ms < next)
				next = (*it)->due_ms;
		}
		if (ready) {
			*pp = ready->next;
			pthread_mutex_unlock(&b->mu);
			dispatch(b, ready);
			item_free(ready);
			if (b->run_jobs)
				behave__pods_reap(b, 0);
			pthread_mutex_lock(&b->mu);
			continue;
		}
		struct timespec ts;
		uint64_t wait = next == UINT64_MAX ? 1000 : next - now;
		if (wait > 1000)
			wait = 1000; /* also reap finished pod threads now and then */
		abs_deadline(&ts, wait);
		pthread_cond_timedwait(&b->cv, &b->mu, &ts);
		if (b->run_jobs && !b->stop) {
			pthread_mutex_unlock(&b->mu);
			behave__pods_reap(b, 0);
			pthread_mutex_lock(&b->mu);
		}
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

/* ---- subscription ----------------------------------------------------------- */

static const char *owner_job(json_object *obj)
{
	json_object *refs = behave__path(obj, "metadata.ownerReferences");
	size_t n = refs && json_object_is_type(refs, json_type_array) ? json_object_array_length(refs) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(refs, i);
		const char *kind = behave__str(r, "kind"), *av = behave__str(r, "apiVersion");
		if (kind && !strcmp(kind, "Job") && av && !strncmp(av, "batch/", 6))
			return behave__str(r, "name");
	}
	return NULL;
}

static void on_event(void *ctx, const char *type, const char *plural, json_object *obj)
{
	struct behave *b = ctx;
	json_object *meta = behave__get(obj, "metadata");
	const char *ns = behave__str(meta, "namespace"), *name = behave__str(meta, "name"), *uid = behave__str(meta, "uid");
	const char *api = behave__str(obj, "apiVersion");
	bool deleted = !strcmp(type, "DELETED");

	if (!name || !api)
		return;
	if (b->bind_pvcs && !strcmp(plural, "persistentvolumeclaims") && !strcmp(api, "v1")) {
		if (!deleted) {
			behave__enqueue(b, BQ_PVC, ns, name, NULL, 0);
		} else {
			const char *dir = behave__str(behave__get(meta, "annotations"), "kubesim.dev/host-path");
			char pv[128];
			snprintf(pv, sizeof(pv), "pvc-%s", uid ? uid : "");
			behave__enqueue(b, BQ_PVC_GONE, NULL, pv, dir, 0);
		}
	} else if (b->bind_pvcs && !strcmp(plural, "storageclasses") && !deleted) {
		behave__enqueue(b, BQ_SC, NULL, "", NULL, 0);
	} else if (b->run_jobs && !strcmp(plural, "jobs") && !strncmp(api, "batch/", 6)) {
		if (deleted)
			behave__pod_kill(b, NULL, uid);
		else
			behave__enqueue(b, BQ_JOB, ns, name, NULL, 0);
	} else if (b->run_jobs && !strcmp(plural, "pods") && !strcmp(api, "v1")) {
		const char *job = owner_job(obj);
		if (deleted || behave__path(obj, "metadata.deletionTimestamp"))
			behave__pod_kill(b, uid, NULL);
		if (job)
			behave__enqueue(b, BQ_JOB, ns, job, NULL, 0);
	} else if (b->ready_deployments && !deleted && !strcmp(plural, "deployments") && !strncmp(api, "apps/", 5)) {
		behave__enqueue(b, BQ_DEPLOY, ns, name, NULL, 150);
	} else if (b->ready_deployments && !deleted && !strcmp(plural, "leaderworkersets") &&
		   !strncmp(api, "leaderworkerset.x-k8s.io/", 25)) {
		behave__enqueue(b, BQ_LWS, ns, name, NULL, 150);
	}
}

/* objects that existed before we subscribed get reconciled too */
static void enqueue_existing(struct behave *b, const char *group, const char *version, const char *resource,
			     enum bq_kind kind)
{
	json_object *list = NULL, *items;
	if (!sim_served(b->s, group, version, resource, NULL))
		return;
	if (sim_list(b->s, group, version, resource, NULL, NULL, NULL, &list, NULL) < 0)
		return;
	items = behave__get(list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *meta = behave__get(json_object_array_get_idx(items, i), "metadata");
		behave__enqueue(b, kind, behave__str(meta, "namespace"), behave__str(meta, "name"), NULL, 0);
	}
	json_object_put(list);
}

int behave_start(struct sim *s, const struct behave_opts *o, struct behave **out)
{
	struct behave *b;
	pthread_condattr_t ca;
	char *pvs;
	int rc;

	if (!s || !o || !out || !o->data_dir || !*o->data_dir)
		return -EINVAL;
	b = xcalloc(1, sizeof(*b));
	b->s = s;
	b->bind_pvcs = o->bind_pvcs;
	b->run_jobs = o->run_jobs;
	b->ready_deployments = o->ready_deployments;
	b->data_dir = xstrdup(o->data_dir);
	b->bin_dir = xstrdup(o->bin_dir ? o->bin_dir : "");
	b->sub_id = -1;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);

	pvs = xasprintf("%s/pvs", b->data_dir);
	rc = behave__mkdirs(pvs, 0755);
	free(pvs);
	if (rc == 0) {
		char *pods = xasprintf("%s/pods", b->data_dir);
		rc = behave__mkdirs(pods, 0755);
		free(pods);
	}
	if (rc < 0) {
		LOG_ERROR("kubesim behave: cannot create data dir", "dir=%s err=%s", b->data_dir, strerror(-rc));
		goto fail;
	}
	rc = -pthread_create(&b->worker, NULL, worker_main, b);
	if (rc < 0)
		goto fail;
	if (sim_subscribe(s, on_event, b, &b->sub_id) < 0) {
		pthread_mutex_lock(&b->mu);
		b->stop = 1;
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->worker, NULL);
		rc = -EIO;
		goto fail;
	}
	if (b->bind_pvcs)
		enqueue_existing(b, "", "v1", "persistentvolumeclaims", BQ_PVC);
	if (b->run_jobs)
		enqueue_existing(b, "batch", "v1", "jobs", BQ_JOB);
	if (b->ready_deployments)
		enqueue_existing(b, "apps", "v1", "deployments", BQ_DEPLOY);
	LOG_INFO("kubesim behaviours started", "bind_pvcs=%d run_jobs=%d ready_deployments=%d data_dir=%s bin_dir=%s",
		 b->bind_pvcs, b->run_jobs, b->ready_deployments, b->data_dir, b->bin_dir);
	*out = b;
	return 0;
fail:
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->data_dir);
	free(b->bin_dir);
	free(b);
	return rc;
}

void behave_stop(struct behave *b)
{
	if (!b)
		return;
	if (b->sub_id >= 0)
		sim_unsubscribe(b->s, b->sub_id);
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->worker, NULL);
	behave__pods_reap(b, 1);
	while (b->seen) {
		struct job_seen *js = b->seen;
		b->seen = js->next;
		free(js->uid);
		free(js);
	}
	while (b->q) {
		struct bq_item *it = b->q;
		b->q = it->next;
		item_free(it);
	}
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->data_dir);
	free(b->bin_dir);
	free(b);
}
