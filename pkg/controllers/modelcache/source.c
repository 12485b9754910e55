/* Steps "resolve auth" and "resolve size".
 *
 * Auth: the authSecret's token (base64 for the copies composed on the
 * clusters, in clear for the estimator's Hub requests; never logged), or
 * the message saying what is missing (AuthSecretMissing).
 *
 * Size: spec.size when set, else the estimate's download size with
 * headroom (compose_size_from_download), else --default-cache-size with
 * SizeEstimated=False and a Warning event. The estimate's weights feed the
 * VRAM precheck unless it is disabled. A definitive source error (the repo
 * or revision does not exist, the token may not read it, the patterns
 * select nothing) is recorded in source_reason: the reconcile then composes
 * nothing, because a volume and a Job would only fail. Transient Hub errors
 * keep composing at the default size. The source is re-checked when the
 * failed estimate expires, and at once when the spec or the token changes
 * (both are in the estimate's key). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cache/informer.h"
#include "compose/compose.h"
#include "controller/events.h"
#include "controllers/modelcache/internal.h"
#include "estimate/estimate.h"
#include "util/base64.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/quantity.h"

void step_resolve_auth(struct rec *x)
{
	const char *name = x->spec.auth_secret_name;
	if (!name)
		return;
	x->auth = true;
	const char *key = x->spec.auth_secret_key;
	char *skey = xasprintf("%s/%s", x->ns, name);
	if (informer_get(x->r->secrets, skey, &x->secret) != 0)
		x->secret = NULL;
	free(skey);
	json_object *v = jpath_child(jpath_child(x->secret, "data"), key);
	const char *b64 = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (b64 && *b64) {
		char *raw = NULL;
		size_t len = 0;
		if (base64_decode(b64, SIZE_MAX, &raw, &len) == 0) {
			x->token = xstrndup(raw, len);
			memset(raw, 0, len);
			free(raw);
		}
		if (x->token && *x->token) {
			x->token_b64 = b64;
		} else {
			free_secret(x->token);
			x->token = NULL;
		}
	}
	if (!x->token_b64)
		x->auth_message = xasprintf("authSecret %s/%s is missing or has no key \"%s\"", x->ns, name, key);
}

static json_object *estimate_status(const struct est_entry *e)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "downloadBytes", json_object_new_int64(e->download_bytes));
	json_object_object_add(o, "weightBytes", json_object_new_int64(e->weight_bytes));
	json_object_object_add(o, "files", json_object_new_int64(e->files));
	json_object_object_add(o, "format", json_object_new_string(e->format));
	json_object_object_add(o, "method", json_object_new_string(e->method));
	json_object_object_add(o, "strategy", json_object_new_string(e->strategy));
	json_object_object_add(o, "usedFallback", json_object_new_boolean(e->used_fallback));
	return o;
}

void step_resolve_size(struct rec *x)
{
	struct mcr *r = x->r;
	int64_t spec_size = x->spec.size_bytes;
	bool need_weights = x->spec.precheck_vram;
	if (spec_size <= 0 || need_weights)
		x->est = estimate_for(r, &x->spec, x->token, x->key, &x->estimating);
	if (x->estimating) {
		x->size_state = STATUS_SIZE_PENDING;
		x->size_msg = xasprintf("estimating the download size of %s from the Hub", x->spec.repo);
		return;
	}
	const struct est_entry *e = x->est;
	bool ok = e && e->rc == 0;
	if (ok) {
		x->weight_bytes = e->weight_bytes;
		x->estimate = estimate_status(e);
	}
	if (spec_size > 0) {
		x->size_bytes = spec_size;
		x->size_state = STATUS_SIZE_SPEC;
		x->size_msg = xasprintf("size %s from spec.size", jpath_str_or(x->mc, "spec.size", ""));
	} else if (ok) {
		compose_size_from_download(e->download_bytes, &x->size_bytes);
		char q[QUANTITY_STR_MAX];
		quantity_format_bytes(x->size_bytes, q, sizeof(q));
		x->size_state = STATUS_SIZE_ESTIMATED;
		x->size_msg = xasprintf("%" PRId64 " bytes to download (%s, %s); volume %s", e->download_bytes,
					e->format, e->strategy, q);
	} else {
		x->size_bytes = r->default_size;
		x->size_state = STATUS_SIZE_FAILED;
		char q[QUANTITY_STR_MAX];
		quantity_format_bytes(x->size_bytes, q, sizeof(q));
		x->size_msg = xasprintf("%s; using the default cache size %s",
					e && e->msg ? e->msg : "the Hub client could not be created", q);
	}
	/* a missing authSecret is its own, more precise reason (AuthSecretMissing) */
	if (e && e->rc == ESTIMATE_ERR_AUTH && !x->auth_message)
		x->source_reason = "Unauthorized";
	else if (e && e->rc == ESTIMATE_ERR_NOT_FOUND)
		x->source_reason = e->msg && strstr(e->msg, "no file matches") ? "NoFilesSelected" : "SourceNotFound";
	if (x->source_reason)
		events_emit(mgr_events(r->m), x->mc, EVENT_WARNING, x->source_reason, "Estimate", e->msg);
	else if (x->size_state == STATUS_SIZE_FAILED)
		events_emit(mgr_events(r->m), x->mc, EVENT_WARNING, "EstimateFailed", "Estimate", x->size_msg);
	if (x->size_state == STATUS_SIZE_FAILED && !x->source_reason)
		rec_want_requeue(x, ESTIMATE_RETRY_BASE_MS);   /* asked again as its backoff allows */
}
