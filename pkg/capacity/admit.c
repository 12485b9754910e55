/* The admission decision for cache capacity (see admit.h). */
#include "capacity/admit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/quantity.h"
#include "util/timeutil.h"

#define GIB_D 1073741824.0

void capacity_format_gib(int64_t bytes, char *out, size_t n)
{
	double g = (double)bytes / GIB_D;
	if (g == (double)(int64_t)g)
		snprintf(out, n, "%.0f GiB", g);
	else if (g >= 0.1)
		snprintf(out, n, "%.1f GiB", g);
	else
		snprintf(out, n, "%.3g GiB", g);
}

bool capacity_limited(const struct capacity_budget *b)
{
	return b && (b->capacity_bytes >= 0 || b->max_caches > 0);
}

void capacity_decision_cleanup(struct capacity_decision *d)
{
	if (!d)
		return;
	free(d->evict);
	d->evict = NULL;
	d->nevict = 0;
}

/* Sums of sizes are kept in 128 bits (gcc/clang): a table of huge volumes
 * neither wraps nor saturates into a wrong answer. */
typedef __int128 wide;

static int64_t clamp64(wide v)
{
	return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v;
}

static bool same_key(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Eviction order: least recently used first; the key breaks ties so that
 * the choice does not depend on the order the caller listed the caches in. */
struct cand {
	size_t idx;
	const struct capacity_cache *c;
};

static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	if (a->c->last_used_s != b->c->last_used_s)
		return a->c->last_used_s < b->c->last_used_s ? -1 : 1;
	return strcmp(a->c->key, b->c->key);
}

/* Appends ", N what" (the first item reads "N cache(s) what"). */
static void blocker_item(char *out, size_t n, size_t *len, bool *first, size_t count, const char *what)
{
	if (!count || *len >= n)
		return;
	int w;
	if (*first)
		w = snprintf(out + *len, n - *len, "%zu cache%s %s", count, count == 1 ? "" : "s", what);
	else
		w = snprintf(out + *len, n - *len, ", %zu %s", count, what);
	*first = false;
	if (w > 0)
		*len = (size_t)w >= n - *len ? n - 1 : *len + (size_t)w;
}

static void blockers_text(const struct capacity_blockers *bl, char *out, size_t n)
{
	size_t len = 0;
	bool first = true;
	out[0] = '\0';
	blocker_item(out, n, &len, &first, bl->in_use, "in use");
	blocker_item(out, n, &len, &first, bl->pinned, "pinned");
	blocker_item(out, n, &len, &first, bl->not_ready, "not Ready");
	blocker_item(out, n, &len, &first, bl->newer, "last used after this cache was requested");
	blocker_item(out, n, &len, &first, bl->unowned, "retained without a ModelCache");
	if (first)
		snprintf(out, n, "no other cache there");
}

/* "needs 40 GiB; gpu-west has 25 GiB free of 100 GiB (reserve 10 GiB)" and/or
 * the count: "gpu-west holds 2 of maxCaches 2". */
static void need_text(const struct capacity_budget *b, const struct capacity_decision *d, bool bytes_short,
		      bool count_short, char *out, size_t n)
{
	char need[32], fr[32], cap[32], res[32];
	capacity_format_gib(d->needed_bytes, need, sizeof need);
	capacity_format_gib(d->free_bytes, fr, sizeof fr);
	capacity_format_gib(b->capacity_bytes, cap, sizeof cap);
	capacity_format_gib(b->reserve_bytes, res, sizeof res);
	const char *cl = b->cluster ? b->cluster : "the cluster";
	if (bytes_short && count_short)
		snprintf(out, n, "needs %s and a cache slot; %s has %s free of %s (reserve %s) and holds %zu of maxCaches %lld",
			 need, cl, fr, cap, res, d->count, (long long)b->max_caches);
	else if (bytes_short)
		snprintf(out, n, "needs %s; %s has %s free of %s (reserve %s)", need, cl, fr, cap, res);
	else
		snprintf(out, n, "needs a cache slot; %s holds %zu of maxCaches %lld", cl, d->count,
			 (long long)b->max_caches);
}

int capacity_admit(const struct capacity_budget *b, const struct capacity_cache *caches, size_t n,
		   const struct capacity_request *req, struct capacity_decision *out)
{
	struct cand *cands = NULL;
	int rc = 0;
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!b || !req || !req->key || req->size_bytes < 0 || (n && !caches))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (caches[i].size_bytes < 0)
			return -EINVAL;
	out->verdict = CAPACITY_ADMIT;
	out->limited = capacity_limited(b);
	if (!out->limited)
		return 0;

	/* what is there, and what the request needs */
	int64_t have = -1;   /* the requested cache's own volume, when composed */
	wide used = 0;
	for (size_t i = 0; i < n; i++) {
		used += caches[i].size_bytes;
		if (same_key(caches[i].key, req->key))
			have = have < caches[i].size_bytes ? caches[i].size_bytes : have;
	}
	out->count = n;
	bool new_slot = have < 0;   /* a composed cache already holds its slot */
	out->needed_bytes = have < 0 ? req->size_bytes : (req->size_bytes > have ? req->size_bytes - have : 0);
	bool bytes_budget = b->capacity_bytes >= 0;
	int64_t limit = bytes_budget ? b->capacity_bytes - b->reserve_bytes : INT64_MAX;
	if (limit < 0)
		limit = 0;
	out->used_bytes = clamp64(used);
	if (bytes_budget)
		out->free_bytes = used < limit ? (int64_t)(limit - used) : 0;

	size_t count = out->count + (new_slot ? 1 : 0);
	bool bytes_short = bytes_budget && out->needed_bytes > 0 && used + out->needed_bytes > limit;
	bool count_short = new_slot && b->max_caches > 0 && (int64_t)count > b->max_caches;
	bool bytes_short0 = bytes_short, count_short0 = count_short;
	if (!bytes_short && !count_short)
		return 0;

	/* the evictable caches, least recently used first */
	cands = xcalloc(n + 1, sizeof(*cands));
	size_t ncand = 0;
	for (size_t i = 0; i < n; i++) {
		const struct capacity_cache *c = &caches[i];
		if (same_key(c->key, req->key))
			continue;   /* the cache being admitted */
		if (!c->key)
			out->blockers.unowned++;
		else if (c->in_use)
			out->blockers.in_use++;
		else if (c->pinned)
			out->blockers.pinned++;
		else if (!c->ready)
			out->blockers.not_ready++;
		else if (c->last_used_s >= req->demanded_s)
			out->blockers.newer++;
		else
			cands[ncand++] = (struct cand){i, c};
	}
	qsort(cands, ncand, sizeof(*cands), cand_cmp);

	size_t k = 0;
	wide freed = 0;
	while ((bytes_short || count_short) && k < ncand) {
		freed += cands[k].c->size_bytes;
		used -= cands[k].c->size_bytes;
		count--;
		k++;
		bytes_short = bytes_budget && used + out->needed_bytes > limit;
		count_short = new_slot && b->max_caches > 0 && (int64_t)count > b->max_caches;
	}

	char need[CAPACITY_MSG_MAX / 2], why[CAPACITY_MSG_MAX / 2];
	need_text(b, out, bytes_short0, count_short0, need, sizeof need);
	if (bytes_short || count_short) {
		/* even evicting every evictable cache would not make room: touch nothing */
		out->verdict = CAPACITY_INSUFFICIENT;
		blockers_text(&out->blockers, why, sizeof why);
		if (ncand == 0) {
			snprintf(out->message, sizeof out->message, "%s and nothing evictable: %s", need, why);
		} else {
			char fr[32];
			const struct capacity_blockers *bl = &out->blockers;
			bool others = bl->in_use || bl->pinned || bl->not_ready || bl->newer || bl->unowned;
			capacity_format_gib(clamp64(freed), fr, sizeof fr);
			snprintf(out->message, sizeof out->message,
				 "%s and evicting all %zu evictable cache%s (%s) would not be enough%s%s", need, ncand,
				 ncand == 1 ? "" : "s", fr, others ? ": " : "", others ? why : "");
		}
		goto out;
	}
	out->evict = xcalloc(k + 1, sizeof(*out->evict));
	for (size_t i = 0; i < k; i++)
		out->evict[i] = cands[i].idx;
	out->nevict = k;
	out->evict_bytes = clamp64(freed);
	snprintf(out->message, sizeof out->message, "%s %s", req->key, need);
out:
	free(cands);
	return rc;
}

/* ---- inputs from our objects ---- */

static int64_t time_at(json_object *obj, const char *path)
{
	const char *s = jpath_str(obj, path);
	int64_t ns = 0;
	if (!s || rfc3339_parse(s, &ns) != 0)
		return 0;
	return ns / 1000000000;
}

int64_t capacity_lru_time(json_object *mc, const char *cluster)
{
	int64_t t = time_at(mc, "status.lastUsedTime");
	if (t)
		return t;
	json_object *e = jpath_find_name(jpath_get(mc, "status.clusters"), cluster);
	if (e && same_key(jpath_str(e, "phase"), "Ready") && (t = time_at(e, "lastTransitionTime")) != 0)
		return t;
	return time_at(mc, "metadata.creationTimestamp");
}

bool capacity_md_placed(json_object *mds, const char *ns, const char *name, const char *cluster,
			int64_t *demanded_s)
{
	bool yes = false;
	if (demanded_s)
		*demanded_s = 0;
	if (!mds || !json_object_is_type(mds, json_type_array) || !ns || !name || !cluster)
		return false;
	for (size_t i = 0; i < json_object_array_length(mds); i++) {
		json_object *md = json_object_array_get_idx(mds, i);
		if (!same_key(jpath_str(md, "metadata.namespace"), ns) ||
		    !same_key(jpath_str(md, "spec.modelCacheRef.name"), name) || jpath_get(md, "metadata.deletionTimestamp"))
			continue;
		json_object *pl = jpath_get(md, "status.placements");
		bool here = false;
		for (size_t j = 0; pl && json_object_is_type(pl, json_type_array) && j < json_object_array_length(pl); j++)
			if (same_key(jpath_str(json_object_array_get_idx(pl, j), "cluster"), cluster))
				here = true;
		if (!here)
			continue;
		yes = true;
		int64_t t = time_at(md, "metadata.creationTimestamp");
		if (demanded_s && t > *demanded_s)
			*demanded_s = t;
	}
	return yes;
}

void capacity_cache_of(json_object *mc, const char *key, const char *cluster, bool in_use, int64_t size_bytes,
		       struct capacity_cache *out)
{
	json_object *e = jpath_find_name(jpath_get(mc, "status.clusters"), cluster);
	*out = (struct capacity_cache){.key = key, .size_bytes = size_bytes,
				       .ready = e && same_key(jpath_str(e, "phase"), "Ready"),
				       .pinned = api_annotation_true(mc, API_ANN_PINNED), .in_use = in_use,
				       .last_used_s = capacity_lru_time(mc, cluster)};
}

int64_t capacity_demand_time(int64_t created_s, int64_t md_demand_s, bool brought_back, json_object *prev_entry,
			     int64_t now_s)
{
	int64_t t = created_s > md_demand_s ? created_s : md_demand_s;
	if (brought_back) {
		int64_t at = same_key(jpath_str(prev_entry, "phase"), "Evicted") ? time_at(prev_entry, "lastTransitionTime")
										 : now_s;
		if (at > t)
			t = at;
	}
	return t;
}

char *capacity_evicted_message(const char *cluster, int64_t size_bytes, const char *why)
{
	char size[QUANTITY_STR_MAX] = "";
	quantity_format_bytes(size_bytes, size, sizeof size);
	return xasprintf("evicted from %s (least recently used, %s) to make room: %s", cluster ? cluster : "?", size,
			 why ? why : "");
}
