#include "cache/informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "util/mem.h"

#define MAX_HANDLERS 32

struct informer {
	struct reflector_transport t;
	bool kube_transport;
	struct store *store;
	struct reflector *refl;
	pthread_mutex_t hmu;   /* handlers + their calls */
	struct informer_handler h[MAX_HANDLERS];
	int nh;
};

static void dispatch(void *ctx, enum store_delta_type t, json_object *old_obj, json_object *new_obj)
{
	struct informer *inf = ctx;
	/* hmu held by the caller */
	for (int i = 0; i < inf->nh; i++) {
		const struct informer_handler *h = &inf->h[i];
		switch (t) {
		case STORE_ADDED:
			if (h->on_add)
				h->on_add(h->ctx, new_obj);
			break;
		case STORE_UPDATED:
			if (h->on_update)
				h->on_update(h->ctx, old_obj, new_obj);
			break;
		case STORE_DELETED:
			if (h->on_delete)
				h->on_delete(h->ctx, old_obj);
			break;
		}
	}
}

static void sink_replace(void *sctx, json_object *items)
{
	struct informer *inf = sctx;
	pthread_mutex_lock(&inf->hmu);
	store_replace(inf->store, items, dispatch, inf);
	pthread_mutex_unlock(&inf->hmu);
}

static void sink_event(void *sctx, enum kube_watch_type type, json_object *obj)
{
	struct informer *inf = sctx;
	pthread_mutex_lock(&inf->hmu);
	if (type == KUBE_WATCH_DELETED)
		store_delete_take(inf->store, json_object_get(obj), dispatch, inf);
	else
		store_upsert_take(inf->store, json_object_get(obj), dispatch, inf);
	pthread_mutex_unlock(&inf->hmu);
}

static void sink_resync(void *sctx)
{
	struct informer *inf = sctx;
	pthread_mutex_lock(&inf->hmu);
	store_resync(inf->store, dispatch, inf);
	pthread_mutex_unlock(&inf->hmu);
}

static void sink_failure(void *sctx, const char *reason, int rc)
{
	struct informer *inf = sctx;
	pthread_mutex_lock(&inf->hmu);
	for (int i = 0; i < inf->nh; i++)
		if (inf->h[i].on_failure)
			inf->h[i].on_failure(inf->h[i].ctx, reason, rc);
	pthread_mutex_unlock(&inf->hmu);
}

int informer_new(const struct reflector_transport *t, bool kube_transport,
		 const struct reflector_opts *o, struct informer **out)
{
	struct informer *inf = xcalloc(1, sizeof(*inf));
	inf->t = *t;
	inf->kube_transport = kube_transport;
	pthread_mutex_init(&inf->hmu, NULL);
	store_new(&inf->store);
	struct reflector_sink s = {
		.replace = sink_replace,
		.event = sink_event,
		.resync = sink_resync,
		.failure = sink_failure,
		.sctx = inf,
	};
	int rc = reflector_new(&inf->t, &s, o, &inf->refl);
	if (rc) {
		store_free(inf->store);
		free(inf);
		return rc;
	}
	*out = inf;
	return 0;
}

struct store *informer_store(struct informer *inf)
{
	return inf->store;
}

void informer_add_handler(struct informer *inf, const struct informer_handler *h)
{
	pthread_mutex_lock(&inf->hmu);
	if (inf->nh < MAX_HANDLERS) {
		inf->h[inf->nh++] = *h;
		if (h->on_add) /* objects already there (a late handler) */
			store_each(inf->store, h->on_add, h->ctx);
	}
	pthread_mutex_unlock(&inf->hmu);
}

int informer_start(struct informer *inf)
{
	return reflector_start(inf->refl);
}

void informer_stop(struct informer *inf)
{
	reflector_stop(inf->refl);
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	reflector_free(inf->refl);
	store_free(inf->store);
	if (inf->kube_transport && inf->t.release)
		inf->t.release(inf->t.tctx);
	pthread_mutex_destroy(&inf->hmu);
	free(inf);
}

bool informer_has_synced(struct informer *inf)
{
	return reflector_has_synced(inf->refl);
}

int informer_wait_synced(struct informer *inf, uint64_t timeout_ms)
{
	for (uint64_t waited = 0; !informer_has_synced(inf); waited += 20) {
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		usleep(20000);
	}
	return 0;
}

struct reflector *informer_reflector(struct informer *inf)
{
	return inf->refl;
}
