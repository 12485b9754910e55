#include "manager/factory.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/informer.h"
#include "util/mem.h"
#include "watch/reflector.h"
#include "watch/transform.h"

#define MAX_INFORMERS 32

struct entry {
	const struct kube_resource *res;
	char *ns, *label;
	struct informer *inf;
};

struct informer_factory {
	struct informer_factory_opts o;
	char *name;
	pthread_mutex_t mu;
	struct entry e[MAX_INFORMERS];
	int n;
	bool started;
};

int informer_factory_new(const struct informer_factory_opts *o, struct informer_factory **out)
{
	*out = NULL;
	if (!o->client || !o->name)
		return -EINVAL;
	struct informer_factory *f = xcalloc(1, sizeof(*f));
	f->o = *o;
	f->name = xstrdup(o->name);
	f->o.name = f->name;
	f->started = o->started;
	pthread_mutex_init(&f->mu, NULL);
	*out = f;
	return 0;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

struct informer *informer_factory_get(struct informer_factory *f, const struct kube_resource *res,
				      const char *ns, const char *label_selector)
{
	struct informer *inf = NULL;
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->n; i++)
		if (f->e[i].res == res && same(f->e[i].ns, ns) && same(f->e[i].label, label_selector)) {
			inf = f->e[i].inf;
			goto out;
		}
	if (f->n == MAX_INFORMERS)
		goto out;
	struct reflector_transport t;
	struct reflector_kube_opts ko = {.resource = res, .ns = ns, .label_selector = label_selector};
	reflector_kube_transport(f->o.client, f->o.mux, &ko, &t);
	char name[256];
	snprintf(name, sizeof name, "%s/%s", f->name, res->resource);
	struct reflector_opts ro = {
		.name = name,
		.resync_ms = f->o.resync_ms,
		.transform = reflector_transform_for(res),
	};
	if (informer_new(&t, true, &ro, &inf)) {
		t.release(t.tctx);
		inf = NULL;
		goto out;
	}
	if (f->o.on_failure) {
		struct informer_handler fh = {.on_failure = f->o.on_failure, .ctx = f->o.failure_ctx};
		informer_add_handler(inf, &fh);
	}
	struct entry *e = &f->e[f->n++];
	e->res = res;
	e->ns = ns ? xstrdup(ns) : NULL;
	e->label = label_selector ? xstrdup(label_selector) : NULL;
	e->inf = inf;
	if (f->started)
		informer_start(inf);
out:
	pthread_mutex_unlock(&f->mu);
	return inf;
}

void informer_factory_start(struct informer_factory *f)
{
	pthread_mutex_lock(&f->mu);
	f->started = true;
	for (int i = 0; i < f->n; i++)
		informer_start(f->e[i].inf);
	pthread_mutex_unlock(&f->mu);
}

bool informer_factory_synced(struct informer_factory *f)
{
	bool all = true;
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->n && all; i++)
		all = informer_has_synced(f->e[i].inf);
	pthread_mutex_unlock(&f->mu);
	return all;
}

int informer_factory_count(struct informer_factory *f)
{
	pthread_mutex_lock(&f->mu);
	int n = f->n;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* Stopping joins each informer's thread: not under f->mu, so that a
 * handler running on that thread may still ask the factory for an
 * informer. Entries are only removed by informer_factory_free. */
void informer_factory_stop(struct informer_factory *f)
{
	pthread_mutex_lock(&f->mu);
	int n = f->n;
	pthread_mutex_unlock(&f->mu);
	for (int i = 0; i < n; i++)
		informer_stop(f->e[i].inf);
}

void informer_factory_free(struct informer_factory *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++) {
		informer_free(f->e[i].inf);
		free(f->e[i].ns);
		free(f->e[i].label);
	}
	pthread_mutex_destroy(&f->mu);
	free(f->name);
	free(f);
}
