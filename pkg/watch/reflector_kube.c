/* The reflector transport over a kube client and the watch mux. */
#include "watch/reflector.h"

#include <stdlib.h>

#include "util/mem.h"
#include "watch/transform.h"

/* ---- the real transport ---- */
struct kube_tx {
	struct kube_client *c;
	struct kube_watch_mux *mux;
	const struct kube_resource *res;
	char *ns, *label, *field;
	int timeout_s;
	reflector_transform_fn transform;
};

/* The resource's transform (watch/transform.h), applied page by page, so a
 * list of thousands is never held whole and untransformed (reflector.c
 * applies its own transform again: transforms are idempotent). */
static void each_item(void *ctx, json_object *item)
{
	struct kube_tx *k = ctx;
	if (k->transform)
		k->transform(item);
}

static int ktx_list(void *tctx, json_object **out, struct kube_error *err)
{
	struct kube_tx *k = tctx;
	struct kube_list_opts lo = {.label_selector = k->label, .field_selector = k->field, .limit = 500,
				    .each_item = each_item, .each_ctx = k};
	return kube_list(k->c, k->res, k->ns, &lo, out, err);
}

static int ktx_watch_start(void *tctx, const char *rv, kube_watch_event_cb ev, kube_watch_done_cb done,
			   void *cbctx, void **handle, struct kube_error *err)
{
	struct kube_tx *k = tctx;
	struct kube_watch_opts wo = {
		.label_selector = k->label,
		.field_selector = k->field,
		.resource_version = rv && *rv ? rv : NULL,
		.allow_bookmarks = true,
		.timeout_seconds = k->timeout_s,
	};
	struct kube_watch *w = NULL;
	int rc = kube_watch_start(k->mux, k->c, k->res, k->ns, &wo, ev, done, cbctx, &w, err);
	if (rc == 0)
		*handle = w;
	return rc;
}

static void ktx_watch_stop(void *tctx, void *handle)
{
	(void)tctx;
	kube_watch_stop(handle);
}

static void ktx_release(void *tctx)
{
	struct kube_tx *k = tctx;
	if (!k)
		return;
	free(k->ns);
	free(k->label);
	free(k->field);
	free(k);
}

int reflector_kube_transport(struct kube_client *c, struct kube_watch_mux *mux,
			     const struct reflector_kube_opts *o, struct reflector_transport *out)
{
	struct kube_tx *k = xcalloc(1, sizeof(*k));
	k->c = c;
	k->mux = mux;
	k->res = o->resource;
	k->ns = xstrdup(o->ns);
	k->label = xstrdup(o->label_selector);
	k->field = xstrdup(o->field_selector);
	k->timeout_s = o->watch_timeout_s > 0 ? o->watch_timeout_s : 300;
	k->transform = reflector_transform_for(o->resource);
	out->list = ktx_list;
	out->watch_start = ktx_watch_start;
	out->watch_stop = ktx_watch_stop;
	out->release = ktx_release;
	out->tctx = k;
	return 0;
}

