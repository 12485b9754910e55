/* Admission from the objects' status (see view.h). */
#include "capacity/view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/quantity.h"
#include "util/timeutil.h"

#define VIEW_MAX_UNACCOUNTED 65536   /* volumes status.cache may count beyond the ModelCaches given */
#define VIEW_NOTES_MAX (64u << 10)

/* One volume on the cluster. */
struct vrow {
	char *key;           /* namespace/name of its ModelCache; NULL: none accounts for it */
	json_object *mc;     /* referenced, or NULL */
	int64_t size_bytes;
};

struct capacity_view {
	json_object *ic;     /* referenced */
	char *cluster;
	struct capacity_budget b;
	json_object *mcs;    /* the ModelCaches given (an array of references) */
	json_object *mds;    /* the ModelDeployments given */
	struct vrow *rows;
	size_t n, cap;
	struct buf notes;
};

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool is_kind(json_object *o, const char *kind)
{
	return streq(jpath_str(o, "kind"), kind);
}

/* A quantity given as a string or an integer; 0 when absent or invalid. */
static int64_t bytes_at(json_object *obj, const char *path)
{
	json_object *q = jpath_get(obj, path);
	int64_t b = 0;
	if (q && json_object_is_type(q, json_type_int))
		b = json_object_get_int64(q);
	else if (q && json_object_is_type(q, json_type_string) && quantity_parse_bytes(json_object_get_string(q), &b) != 0)
		b = 0;
	return b > 0 ? b : 0;
}

static int64_t time_at(json_object *obj, const char *path)
{
	const char *s = jpath_str(obj, path);
	int64_t ns = 0;
	return s && rfc3339_parse(s, &ns) == 0 ? ns / 1000000000 : 0;
}

/* Does this status.clusters[] entry hold a volume there? Everything the
 * operator composes a PVC for: not Skipped, not Evicted, not waiting for
 * capacity. */
static bool entry_has_volume(json_object *e)
{
	const char *phase = jpath_str(e, "phase");
	if (!e || !phase)
		return false;
	if (streq(phase, "Skipped") || streq(phase, "Evicted"))
		return false;
	return !(streq(phase, "Pending") && streq(jpath_str(e, "reason"), "InsufficientCapacity"));
}

static void add_row(struct capacity_view *v, const char *key, json_object *mc, int64_t size)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->rows = xrealloc(v->rows, v->cap * sizeof(*v->rows));
	}
	v->rows[v->n++] = (struct vrow){.key = key ? xstrdup(key) : NULL, .mc = mc ? json_object_get(mc) : NULL,
					.size_bytes = size};
}

static char *key_of(json_object *mc)
{
	return xasprintf("%s/%s", jpath_str_or(mc, "metadata.namespace", "default"), jpath_str_or(mc, "metadata.name", ""));
}

/* The volumes the ModelCaches report on the cluster, then what status.cache
 * counts beyond them. */
static int inventory(struct capacity_view *v, char **msg)
{
	int64_t known = 0;
	for (size_t i = 0; i < json_object_array_length(v->mcs); i++) {
		json_object *mc = json_object_array_get_idx(v->mcs, i);
		if (!entry_has_volume(jpath_find_name(jpath_get(mc, "status.clusters"), v->cluster)))
			continue;
		int64_t size = bytes_at(mc, "status.size");
		if (!size)
			size = bytes_at(mc, "spec.size");
		char *key = key_of(mc);
		if (!size)
			buf_printf(&v->notes, "%s has a volume on %s of unknown size (no status.size or spec.size): counted as 0\n",
				   key, v->cluster);
		add_row(v, key, mc, size);
		free(key);
		if (__builtin_add_overflow(known, size, &known))
			known = INT64_MAX;
	}
	json_object *sc = jpath_get(v->ic, "status.cache");
	if (!sc)
		return 0;
	int64_t caches = jpath_int_or(sc, "caches", -1), used = jpath_int_or(sc, "usedBytes", -1);
	if (caches > (int64_t)v->n) {
		int64_t extra = caches - (int64_t)v->n;
		if (extra > VIEW_MAX_UNACCOUNTED) {
			*msg = xasprintf("InferenceCluster %s: status.cache.caches %lld: more than %d volumes beyond its ModelCaches",
					 v->cluster, (long long)caches, VIEW_MAX_UNACCOUNTED);
			return -EINVAL;
		}
		int64_t rest = used > known ? used - known : 0;
		char q[QUANTITY_STR_MAX] = "";
		quantity_format_bytes(rest, q, sizeof q);
		buf_printf(&v->notes,
			   "status.cache of %s counts %lld volumes, the ModelCaches given %zu: %lld more (%s) counted as volumes "
			   "no ModelCache owns (never evicted)\n",
			   v->cluster, (long long)caches, v->n, (long long)extra, q);
		for (int64_t i = 0; i < extra; i++)
			add_row(v, NULL, NULL, i == 0 ? rest : 0);
	} else if (caches >= 0 && (caches < (int64_t)v->n || (used >= 0 && used != known))) {
		char a[QUANTITY_STR_MAX] = "", b[QUANTITY_STR_MAX] = "";
		quantity_format_bytes(used, a, sizeof a);
		quantity_format_bytes(known, b, sizeof b);
		buf_printf(&v->notes,
			   "status.cache of %s (%lld volumes, %s) differs from its ModelCaches (%zu volumes, %s): "
			   "deciding from the ModelCaches\n",
			   v->cluster, (long long)caches, a, v->n, b);
	}
	return 0;
}

int capacity_view_new(json_object *ic, json_object *objs, struct capacity_view **out, char **msg)
{
	struct api_inferencecluster a;
	char *vmsg = NULL;
	*out = NULL;
	*msg = NULL;
	if (!ic)
		return -EINVAL;
	if (api_inferencecluster_from_json(ic, &a, &vmsg) != 0) {
		*msg = xasprintf("InferenceCluster %s is invalid: %s", jpath_str_or(ic, "metadata.name", "?"),
				 vmsg ? vmsg : "");
		free(vmsg);
		return -EINVAL;
	}
	free(vmsg);
	struct capacity_view *v = xcalloc(1, sizeof(*v));
	v->ic = json_object_get(ic);
	v->cluster = xstrdup(jpath_str_or(ic, "metadata.name", "?"));
	v->b = (struct capacity_budget){.cluster = v->cluster, .capacity_bytes = a.capacity_bytes,
					.reserve_bytes = a.reserve_bytes, .max_caches = a.max_caches};
	v->mcs = json_object_new_array();
	v->mds = json_object_new_array();
	buf_init(&v->notes, VIEW_NOTES_MAX);
	for (size_t i = 0; objs && json_object_is_type(objs, json_type_array) && i < json_object_array_length(objs); i++) {
		json_object *o = json_object_array_get_idx(objs, i);
		if (is_kind(o, "ModelCache"))
			json_object_array_add(v->mcs, json_object_get(o));
		else if (is_kind(o, "ModelDeployment"))
			json_object_array_add(v->mds, json_object_get(o));
	}
	int rc = capacity_limited(&v->b) ? inventory(v, msg) : 0;
	if (rc) {
		capacity_view_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

void capacity_view_free(struct capacity_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++) {
		free(v->rows[i].key);
		json_object_put(v->rows[i].mc);
	}
	free(v->rows);
	json_object_put(v->mcs);
	json_object_put(v->mds);
	json_object_put(v->ic);
	buf_cleanup(&v->notes);
	free(v->cluster);
	free(v);
}

bool capacity_view_limited(const struct capacity_view *v)
{
	return v && capacity_limited(&v->b);
}

const char *capacity_view_notes(const struct capacity_view *v)
{
	return v && v->notes.len ? buf_str(&v->notes) : "";
}

void capacity_report_cleanup(struct capacity_report *r)
{
	if (!r)
		return;
	capacity_decision_cleanup(&r->d);
	for (size_t i = 0; i < r->nvictims; i++) {
		free(r->victims[i].key);
		free(r->victims[i].message);
	}
	free(r->victims);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

/* The copy of namespace/name among the ModelCaches given (its status), or NULL. */
static json_object *given(struct capacity_view *v, const char *ns, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(v->mcs); i++) {
		json_object *mc = json_object_array_get_idx(v->mcs, i);
		if (streq(jpath_str_or(mc, "metadata.namespace", "default"), ns) && streq(jpath_str(mc, "metadata.name"), name))
			return mc;
	}
	return NULL;
}

/* The decision taken: the victims leave, the admitted cache holds its volume. */
static void commit(struct capacity_view *v, const struct capacity_decision *d, const char *key, json_object *self,
		   int64_t size, long own)
{
	bool *gone = xcalloc(v->n + 1, sizeof(*gone));
	for (size_t i = 0; i < d->nevict; i++)
		gone[d->evict[i]] = true;
	if (own >= 0 && v->rows[own].size_bytes < size)
		v->rows[own].size_bytes = size;
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++) {
		if (gone[i]) {
			free(v->rows[i].key);
			json_object_put(v->rows[i].mc);
		} else {
			v->rows[k++] = v->rows[i];
		}
	}
	v->n = k;
	free(gone);
	if (own < 0)
		add_row(v, key, self, size);
}

static int decide(struct capacity_view *v, json_object *self, const char *key, int64_t size, int64_t demanded_s,
		  struct capacity_report *out)
{
	long own = -1;
	for (size_t i = 0; i < v->n; i++)
		if (streq(v->rows[i].key, key))
			own = (long)i;
	out->had_volume = own >= 0;
	if (own >= 0 && v->rows[own].size_bytes >= size) {
		out->outcome = CAPACITY_COMPOSED;   /* as the reconciler: composed there already, no decision */
		return 0;
	}
	struct capacity_cache *cs = xcalloc(v->n + 1, sizeof(*cs));
	for (size_t i = 0; i < v->n; i++) {
		const struct vrow *r = &v->rows[i];
		if (!r->key) {
			cs[i] = (struct capacity_cache){.size_bytes = r->size_bytes};
			continue;
		}
		bool in_use = capacity_md_placed(v->mds, jpath_str_or(r->mc, "metadata.namespace", "default"),
						 jpath_str_or(r->mc, "metadata.name", ""), v->cluster, NULL);
		capacity_cache_of(r->mc, r->key, v->cluster, in_use, r->size_bytes, &cs[i]);
	}
	struct capacity_request q = {.key = key, .size_bytes = size, .demanded_s = demanded_s};
	int rc = capacity_admit(&v->b, cs, v->n, &q, &out->d);
	if (rc)
		goto out;
	if (out->d.verdict == CAPACITY_INSUFFICIENT) {
		/* a composed cache whose volume cannot grow keeps its volume (as the reconciler) */
		out->outcome = own >= 0 ? CAPACITY_NOT_GROWN : CAPACITY_WAITS;
		if (own >= 0)
			out->size_bytes = v->rows[own].size_bytes;
		out->message = xstrdup(out->d.message);
		goto out;
	}
	out->outcome = out->d.nevict ? CAPACITY_EVICTS : CAPACITY_FITS;
	out->victims = xcalloc(out->d.nevict + 1, sizeof(*out->victims));
	for (size_t i = 0; i < out->d.nevict; i++) {
		const struct capacity_cache *c = &cs[out->d.evict[i]];
		out->victims[i] = (struct capacity_victim){.key = xstrdup(c->key), .size_bytes = c->size_bytes,
							   .last_used_s = c->last_used_s,
							   .message = capacity_evicted_message(v->cluster, c->size_bytes,
											       out->d.message)};
	}
	out->nvictims = out->d.nevict;
	commit(v, &out->d, key, self, size, own);
out:
	free(cs);
	return rc;
}

int capacity_view_admit(struct capacity_view *v, json_object *mc, int64_t size_bytes, struct capacity_report *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	const char *ns = jpath_str(mc, "metadata.namespace"), *name = jpath_str(mc, "metadata.name");
	if (!v || !ns || !name || size_bytes < 0)
		return -EINVAL;
	out->size_bytes = size_bytes;
	/* its status, when the objects given hold a copy of it */
	json_object *live = given(v, ns, name), *self = live ? live : mc;
	json_object *entry = jpath_find_name(jpath_get(self, "status.clusters"), v->cluster);
	int64_t md_demand = 0;
	bool demanded = capacity_md_placed(v->mds, ns, name, v->cluster, &md_demand);
	bool evicted = entry && streq(jpath_str(entry, "phase"), "Evicted");
	if (evicted && !demanded) {
		/* stays Evicted until a ModelDeployment placed there asks for it */
		out->outcome = CAPACITY_STAYS_EVICTED;
		out->message = xstrdup(jpath_str_or(entry, "message", ""));
		return 0;
	}
	if (!capacity_limited(&v->b))
		return 0;   /* CAPACITY_UNLIMITED */
	/* not created yet: demanded after every time the objects carry ("now") */
	int64_t created = time_at(self, "metadata.creationTimestamp");
	int64_t demanded_s = capacity_demand_time(created ? created : INT64_MAX, md_demand, evicted, entry, INT64_MAX);
	char *key = xasprintf("%s/%s", ns, name);
	int rc = decide(v, self, key, size_bytes, demanded_s, out);
	free(key);
	return rc;
}

/* ---- text ---- */

static void gib(int64_t bytes, char *out, size_t n)
{
	capacity_format_gib(bytes, out, n);
}

/* "needs 10 GiB; gpu-west has 15 GiB free of 25 GiB (reserve 0 GiB), 5 GiB
 * after; holds 1 of maxCaches 3, 2 after" */
static void space_text(const struct capacity_view *v, const struct capacity_report *r, struct buf *out)
{
	const struct capacity_budget *b = &v->b;
	const struct capacity_decision *d = &r->d;
	char need[32], fr[32], cap[32], res[32], after[32];
	gib(d->needed_bytes, need, sizeof need);
	buf_printf(out, "needs %s", need);
	if (b->capacity_bytes >= 0) {
		int64_t limit = b->capacity_bytes - b->reserve_bytes;
		if (limit < 0)
			limit = 0;
		__int128 left = (__int128)limit - d->used_bytes + d->evict_bytes - d->needed_bytes;
		gib(d->free_bytes, fr, sizeof fr);
		gib(b->capacity_bytes, cap, sizeof cap);
		gib(b->reserve_bytes, res, sizeof res);
		gib(left < 0 ? 0 : left > INT64_MAX ? INT64_MAX : (int64_t)left, after, sizeof after);
		buf_printf(out, "; %s has %s free of %s (reserve %s), %s after", v->cluster, fr, cap, res, after);
	}
	if (b->max_caches > 0) {
		size_t n_after = d->count - d->nevict + (r->had_volume ? 0 : 1);
		buf_printf(out, "; %s holds %zu of maxCaches %lld, %zu after", v->cluster, d->count, (long long)b->max_caches,
			   n_after);
	}
}

int capacity_report_text(const struct capacity_view *v, const struct capacity_report *r, const char *prefix,
			 struct buf *out)
{
	char q[QUANTITY_STR_MAX] = "";
	if (!v || !r || !out)
		return -EINVAL;
	if (!prefix)
		prefix = "";
	quantity_format_bytes(r->size_bytes, q, sizeof q);
	switch (r->outcome) {
	case CAPACITY_UNLIMITED:
		break;
	case CAPACITY_STAYS_EVICTED:
		buf_printf(out, "%sEvicted: %s\n", prefix, r->message ? r->message : "");
		buf_printf(out, "%snothing composed until a ModelDeployment placed on %s asks for it\n", prefix, v->cluster);
		break;
	case CAPACITY_WAITS:
		buf_printf(out, "%sPending (InsufficientCapacity): %s\n", prefix, r->message ? r->message : "");
		break;
	case CAPACITY_NOT_GROWN:
		buf_printf(out, "%sAdmitted, volume not grown (kept at %s): %s\n", prefix, q, r->message ? r->message : "");
		break;
	case CAPACITY_COMPOSED:
		buf_printf(out, "%sAdmitted: composed on %s already (%s)\n", prefix, v->cluster, q);
		break;
	case CAPACITY_FITS:
		buf_printf(out, "%sAdmitted: ", prefix);
		space_text(v, r, out);
		buf_putc(out, '\n');
		break;
	case CAPACITY_EVICTS:
		buf_printf(out, "%sAdmitted after evicting %zu cache%s (least recently used first): ", prefix, r->nvictims,
			   r->nvictims == 1 ? "" : "s");
		space_text(v, r, out);
		buf_putc(out, '\n');
		for (size_t i = 0; i < r->nvictims; i++) {
			const struct capacity_victim *c = &r->victims[i];
			char size[QUANTITY_STR_MAX] = "", ts[RFC3339_LEN + 1] = "unknown";
			quantity_format_bytes(c->size_bytes, size, sizeof size);
			if (c->last_used_s > 0)
				rfc3339_format(c->last_used_s, ts);
			buf_printf(out, "%s  evicts %s (%s, last used %s; Ready, not pinned, not in use): %s\n", prefix, c->key,
				   size, ts, c->message);
		}
		break;
	}
	return 0;
}
