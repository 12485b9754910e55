/* The estimate cache: one Hub estimate per source (repo, revision, include,
 * exclude, and a digest of the token: a gated repository answers once the
 * token is there). A success is kept for the process's life (the revision
 * is resolved to a commit); a failure for ESTIMATE_FAILURE_TTL_MS, so a
 * source that does not exist is asked again with that period. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "controllers/modelcache/internal.h"
#include "estimate/estimate.h"
#include "hub/hub.h"
#include "util/buf.h"
#include "util/digest.h"
#include "util/jcanon.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

static void est_key(json_object *mc, const char *token, struct buf *k)
{
	buf_printf(k, "%s@%s", jpath_str_or(mc, "spec.huggingFace.repo", ""),
		   jpath_str_or(mc, "spec.huggingFace.revision", "main"));
	buf_puts(k, "|inc=");
	jcanon_json(jpath_get(mc, "spec.huggingFace.include"), k);
	buf_puts(k, "|exc=");
	jcanon_json(jpath_get(mc, "spec.huggingFace.exclude"), k);
	if (token) {
		char h[SHA256_HEX_LEN + 1];
		sha256_hex_str(token, h);
		buf_printf(k, "|tok=%.16s", h);   /* a gated repo answers once the token is there */
	}
}

/* A copy of the cached entry for this spec (estimating when needed).
 * Returns NULL when no estimator is built. */
struct est_entry *estimate_for(struct mcr *r, json_object *mc, const char *token)
{
	struct buf k;
	buf_init(&k, 1u << 20);
	est_key(mc, token, &k);
	struct est_entry *hit = NULL;
	uint64_t now = mclock_mono_ms(r->clock);
	pthread_mutex_lock(&r->mu);
	for (struct est_entry *e = r->ests; e; e = e->next) {
		if (strcmp(e->key, buf_str(&k)) == 0 && (e->rc == 0 || now - e->at_ms < ESTIMATE_FAILURE_TTL_MS)) {
			hit = xcalloc(1, sizeof(*hit));
			*hit = *e;
			hit->key = xstrdup(e->key);
			hit->msg = xstrdup(e->msg);
			hit->commit = xstrdup(e->commit);
			hit->next = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (hit) {
		buf_cleanup(&k);
		return hit;
	}
	struct est_entry *e = xcalloc(1, sizeof(*e));
	e->key = buf_take(&k, NULL);
	e->at_ms = now;
	const char *inc[64], *exc[64];
	size_t ninc = 0, nexc = 0;
	compose_hf_filters(mc, inc, &ninc, exc, &nexc, 64);
	struct hub_client *hub = NULL;
	struct estimate_result res;
	estimate_result_init(&res);
	char *msg = NULL;
	int rc = hub_client_new(r->hf_endpoint, token, NULL, &hub);
	if (rc == 0) {
		rc = estimate_repo(hub, jpath_str_or(mc, "spec.huggingFace.repo", ""),
				   jpath_str_or(mc, "spec.huggingFace.revision", "main"), inc, ninc, exc, nexc, &res, &msg);
		hub_client_free(hub);
	} else {
		msg = xstrdup("cannot create the Hub client");
	}
	e->rc = rc;
	if (rc == 0) {
		e->download_bytes = res.download_bytes;
		e->weight_bytes = res.weight_bytes;
		e->files = (int64_t)res.nfiles;
		snprintf(e->format, sizeof(e->format), "%s", res.format ? res.format : "unknown");
		snprintf(e->method, sizeof(e->method), "%s", res.method ? res.method : "unknown");
		snprintf(e->strategy, sizeof(e->strategy), "%s", res.strategy ? res.strategy : "");
		e->used_fallback = res.used_fallback;
		e->commit = xstrdup(res.commit);
		LOG_INFO("estimated", "repo=%s download_bytes=%" PRId64 " weight_bytes=%" PRId64 " strategy=%s",
			 jpath_str_or(mc, "spec.huggingFace.repo", ""), e->download_bytes, e->weight_bytes, e->strategy);
	} else {
		e->msg = msg ? msg : xstrdup("estimate failed");
		msg = NULL;
		LOG_WARN("estimate failed", "repo=%s err=%s", jpath_str_or(mc, "spec.huggingFace.repo", ""), e->msg);
	}
	free(msg);
	estimate_result_cleanup(&res);
	/* keep one entry per key */
	struct est_entry *copy = xcalloc(1, sizeof(*copy));
	*copy = *e;
	copy->key = xstrdup(e->key);
	copy->msg = xstrdup(e->msg);
	copy->commit = xstrdup(e->commit);
	copy->next = NULL;
	pthread_mutex_lock(&r->mu);
	struct est_entry **pp = &r->ests;
	while (*pp) {
		if (strcmp((*pp)->key, e->key) == 0) {
			struct est_entry *old = *pp;
			*pp = old->next;
			free(old->key);
			free(old->msg);
			free(old->commit);
			free(old);
		} else {
			pp = &(*pp)->next;
		}
	}
	e->next = r->ests;
	r->ests = e;
	pthread_mutex_unlock(&r->mu);
	return copy;
}

void est_free(struct est_entry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->msg);
	free(e->commit);
	free(e);
}
