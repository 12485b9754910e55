/* Model facts (weights and architecture) for ModelDeployments, estimated
 * from the Hub on one background thread so that a reconcile never waits on
 * the Hub: a miss queues the estimate and answers -EAGAIN; the deployment's
 * key is enqueued again when the answer is there. Answers are kept per
 * (repo, revision, include, exclude, token); a failure is retried after
 * five minutes. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "controllers/modeldeployment/mdr.h"
#include "estimate/estimate.h"
#include "hub/hub.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/jcanon.h"
#include "util/log.h"
#include "util/mem.h"

#define FAILURE_TTL_MS (5 * 60 * 1000)
#define MAX_PATTERNS 64
#define MAX_WAITERS 64

struct waiter {
	char *key;
	struct waiter *next;
};

struct entry {
	char *key;
	char *repo, *revision, *token;
	json_object *include, *exclude;
	bool done, running;
	struct md__facts facts;
	uint64_t at_ms;
	struct waiter *waiters;
	size_t nwaiters;
	struct entry *next;
};

struct md__estimator {
	struct mdr *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, started;
	pthread_t th;
	struct entry *entries;
};

static void entry_free(struct entry *e)
{
	free(e->key);
	free(e->repo);
	free(e->revision);
	free_secret(e->token);
	json_object_put(e->include);
	json_object_put(e->exclude);
	while (e->waiters) {
		struct waiter *w = e->waiters;
		e->waiters = w->next;
		free(w->key);
		free(w);
	}
	free(e);
}

static size_t strings_of(json_object *arr, const char **out)
{
	size_t n = 0;
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr) &&
			   n < MAX_PATTERNS; i++)
		out[n++] = json_object_get_string(json_object_array_get_idx(arr, i));
	return n;
}

static void run(struct md__estimator *e, struct entry *x, struct md__facts *f)
{
	const char *inc[MAX_PATTERNS], *exc[MAX_PATTERNS];
	size_t ninc = strings_of(x->include, inc), nexc = strings_of(x->exclude, exc);
	struct hub_client *hub = NULL;
	struct estimate_result res;
	char *msg = NULL;
	memset(f, 0, sizeof(*f));
	estimate_result_init(&res);
	struct hub_opts hopts;
	estimate_hub_opts(&hopts);
	int rc = hub_client_new(e->r->hf_endpoint, x->token, &hopts, &hub);
	if (rc == 0) {
		rc = estimate_repo(hub, x->repo, x->revision, inc, ninc, exc, nexc, &res, &msg);
		hub_client_free(hub);
	} else {
		msg = xstrdup("cannot create the Hub client");
	}
	f->rc = rc;
	if (rc == 0) {
		f->weight_bytes = res.weight_bytes;
		f->arch = res.arch;
		LOG_INFO("model estimated for serving", "repo=%s weight_bytes=%" PRId64 " heads=%" PRId64 " kv_heads=%" PRId64,
			 x->repo, res.weight_bytes, res.arch.heads, res.arch.kv_heads);
	} else {
		snprintf(f->msg, sizeof f->msg, "%s", msg ? msg : "estimate failed");
		LOG_WARN("serving estimate failed", "repo=%s err=%s", x->repo, f->msg);
	}
	free(msg);
	estimate_result_cleanup(&res);
}

static void *loop(void *arg)
{
	struct md__estimator *e = arg;
	pthread_mutex_lock(&e->mu);
	while (!e->stop) {
		struct entry *x = NULL;
		for (struct entry *it = e->entries; it && !x; it = it->next)
			if (!it->done && !it->running)
				x = it;
		if (!x) {
			pthread_cond_wait(&e->cv, &e->mu);
			continue;
		}
		x->running = true;
		pthread_mutex_unlock(&e->mu);
		struct md__facts f;
		run(e, x, &f);   /* x stays: only this thread removes running entries */
		pthread_mutex_lock(&e->mu);
		x->facts = f;
		x->done = true;
		x->running = false;
		x->at_ms = mclock_mono_ms(e->r->clock);
		struct waiter *w = x->waiters;
		x->waiters = NULL;
		x->nwaiters = 0;
		pthread_mutex_unlock(&e->mu);
		while (w) {
			struct waiter *next = w->next;
			ctrl_enqueue(e->r->c, w->key);
			free(w->key);
			free(w);
			w = next;
		}
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	return NULL;
}

int md__estimator_new(struct mdr *r, struct md__estimator **out)
{
	struct md__estimator *e = xcalloc(1, sizeof(*e));
	e->r = r;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	if (pthread_create(&e->th, NULL, loop, e) != 0) {
		pthread_mutex_destroy(&e->mu);
		pthread_cond_destroy(&e->cv);
		free(e);
		return -EAGAIN;
	}
	e->started = true;
	*out = e;
	return 0;
}

void md__estimator_halt(void *arg)
{
	struct md__estimator *e = arg;
	pthread_mutex_lock(&e->mu);
	e->stop = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void md__estimator_free(void *arg)
{
	struct md__estimator *e = arg;
	if (!e)
		return;
	md__estimator_halt(e);
	if (e->started)
		pthread_join(e->th, NULL);
	while (e->entries) {
		struct entry *x = e->entries;
		e->entries = x->next;
		entry_free(x);
	}
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e);
}

static char *key_of(const char *repo, const char *revision, json_object *inc, json_object *exc, const char *token)
{
	struct buf k;
	buf_init(&k, 1u << 20);
	buf_printf(&k, "%s@%s|inc=", repo, revision);
	jcanon_json(inc, &k);
	buf_puts(&k, "|exc=");
	jcanon_json(exc, &k);
	if (token) {
		char h[SHA256_HEX_LEN + 1];
		sha256_hex_str(token, h);
		buf_printf(&k, "|tok=%.16s", h);
	}
	return buf_take(&k, NULL);
}

int md__estimator_get(struct md__estimator *e, const char *repo, const char *revision, json_object *include,
		      json_object *exclude, const char *token, const char *md_key, struct md__facts *out)
{
	if (!e || !repo || !*repo)
		return -EINVAL;
	if (!revision || !*revision)
		revision = API_DEFAULT_REVISION;
	char *key = key_of(repo, revision, include, exclude, token);
	int rc = -EAGAIN;
	uint64_t now = mclock_mono_ms(e->r->clock);
	pthread_mutex_lock(&e->mu);
	if (e->stop) {
		rc = -ECANCELED;
		goto out;
	}
	struct entry **pp = &e->entries, *x = NULL;
	for (; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			x = *pp;
			break;
		}
	if (x && x->done && x->facts.rc != 0 && now - x->at_ms >= FAILURE_TTL_MS) {
		/* a failure expires: estimate again */
		x->done = false;
	}
	if (x && x->done) {
		*out = x->facts;
		rc = 0;
		goto out;
	}
	if (!x) {
		x = xcalloc(1, sizeof(*x));
		x->key = key;
		key = NULL;
		x->repo = xstrdup(repo);
		x->revision = xstrdup(revision);
		x->token = xstrdup(token);
		/* copies: the caller's objects belong to its thread */
		if (include)
			json_object_deep_copy(include, &x->include, NULL);
		if (exclude)
			json_object_deep_copy(exclude, &x->exclude, NULL);
		x->next = e->entries;
		e->entries = x;
	}
	bool known = false;
	for (struct waiter *w = x->waiters; w; w = w->next)
		known |= strcmp(w->key, md_key) == 0;
	if (!known && x->nwaiters < MAX_WAITERS) {
		struct waiter *w = xcalloc(1, sizeof(*w));
		w->key = xstrdup(md_key);
		w->next = x->waiters;
		x->waiters = w;
		x->nwaiters++;
	}
	pthread_cond_broadcast(&e->cv);
out:
	pthread_mutex_unlock(&e->mu);
	free(key);
	return rc;
}
