/* Replica placement (see placement.h). */
#include "placement/placement.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/fit.h"
#include "estimate/satmath.h"
#include "util/buf.h"
#include "util/mem.h"

#define MSG_MAX (64u << 10)

static double gib(int64_t b)
{
	return (double)b / (double)GIB;
}

/* "48" for whole GiB, "20.1" otherwise */
static void gfmt(char *out, size_t n, int64_t bytes)
{
	double g = gib(bytes);
	snprintf(out, n, "%.1f", g);
	size_t l = strlen(out);
	if (l > 2 && strcmp(out + l - 2, ".0") == 0)
		out[l - 2] = '\0';
}

static double util_of(const struct placement_model *m)
{
	return m->utilization > 0 && m->utilization <= 1 ? m->utilization : 0.9;
}

int64_t placement_per_gpu_bytes(const struct placement_model *m, int t, int p)
{
	if (t < 1)
		t = 1;
	if (p < 1)
		p = 1;
	int64_t ranks = m->kv_heads > 0 && m->kv_heads < t ? m->kv_heads : t;
	int64_t w = m->weight_bytes > 0 ? m->weight_bytes / ((int64_t)t * p) : 0;
	int64_t kv = m->kv_cache_bytes > 0 ? m->kv_cache_bytes / p / ranks : 0;
	return sat_add(sat_add(w, kv), m->overhead_per_gpu);
}

int64_t placement_gpu_budget(const struct placement_model *m, const struct placement_node *n)
{
	if (n->memory_bytes <= 0)
		return 0;
	if (n->unified)
		return estimate_budget_unified_free(n->memory_bytes, n->in_use_bytes);
	return estimate_budget_discrete(n->memory_bytes, 1, util_of(m));
}

const char *placement_reason_str(enum placement_reason r)
{
	switch (r) {
	case PLACEMENT_PLACED: return "Placed";
	case PLACEMENT_NO_CLUSTERS: return "NoClusters";
	case PLACEMENT_INSUFFICIENT_VRAM: return "InsufficientVRAM";
	case PLACEMENT_INSUFFICIENT_GPUS: return "InsufficientGPUs";
	case PLACEMENT_INVALID_TOPOLOGY: return "InvalidTopology";
	case PLACEMENT_LWS_MISSING: return "LeaderWorkerSetMissing";
	}
	return "Unknown";
}

/* ---------------------------------------------------------------- pools */

struct pool {
	size_t *idx;      /* node indices, by name */
	size_t n;
	const struct placement_node *rep;
};

struct cl {
	const struct placement_cluster *c;
	size_t *order;    /* node indices sorted by name */
	int *free;
	struct pool *pools;
	size_t npools;
	/* the shape its replicas share (0 = none yet) */
	int single_g, single_t, single_p;
	int multi_m, multi_g, multi_t, multi_p;
};

static const struct placement_cluster *sort_ctx;
static int by_name(const void *a, const void *b)
{
	const char *x = sort_ctx->nodes[*(const size_t *)a].name, *y = sort_ctx->nodes[*(const size_t *)b].name;
	return strcmp(x ? x : "", y ? y : "");
}

static bool same_pool(const struct placement_node *a, const struct placement_node *b)
{
	const char *pa = a->product ? a->product : "", *pb = b->product ? b->product : "";
	return strcmp(pa, pb) == 0 && a->memory_bytes == b->memory_bytes && a->gpus == b->gpus &&
	       a->unified == b->unified;
}

static void cl_init(struct cl *k, const struct placement_cluster *c)
{
	memset(k, 0, sizeof(*k));
	k->c = c;
	k->order = xcalloc(c->nnodes + 1, sizeof(size_t));
	k->free = xcalloc(c->nnodes + 1, sizeof(int));
	k->pools = xcalloc(c->nnodes + 1, sizeof(struct pool));
	for (size_t i = 0; i < c->nnodes; i++) {
		k->order[i] = i;
		k->free[i] = c->nodes[i].free < 0 ? 0 : c->nodes[i].free;
		if (k->free[i] > c->nodes[i].gpus)
			k->free[i] = c->nodes[i].gpus;
	}
	sort_ctx = c;
	qsort(k->order, c->nnodes, sizeof(size_t), by_name);
	for (size_t o = 0; o < c->nnodes; o++) {
		size_t i = k->order[o];
		const struct placement_node *n = &c->nodes[i];
		if (n->gpus <= 0)
			continue;
		size_t p;
		for (p = 0; p < k->npools; p++)
			if (same_pool(k->pools[p].rep, n))
				break;
		if (p == k->npools) {
			k->pools[p].rep = n;
			k->pools[p].idx = xcalloc(c->nnodes + 1, sizeof(size_t));
			k->npools++;
		}
		k->pools[p].idx[k->pools[p].n++] = i;
	}
}

static void cl_cleanup(struct cl *k)
{
	for (size_t p = 0; p < k->npools; p++)
		free(k->pools[p].idx);
	free(k->pools);
	free(k->order);
	free(k->free);
}

/* ---------------------------------------------------------------- options */

struct option {
	size_t c, pool;
	int m, g, t, p;
	int64_t need, budget;
	bool known;       /* GPU memory known */
	bool fits;
};

static int opt_cmp(const void *a, const void *b)
{
	const struct option *x = a, *y = b;
	if (x->m != y->m)
		return x->m < y->m ? -1 : 1;
	int wx = x->m * x->g, wy = y->m * y->g;
	if (wx != wy)
		return wx < wy ? -1 : 1;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	if (x->pool != y->pool)
		return x->pool < y->pool ? -1 : 1;
	return 0;
}

static bool divides(const struct placement_model *m, int t)
{
	return m->heads <= 0 || m->heads % t == 0;
}

/* tensor / pipeline for a shape of m nodes x g GPUs; false = not allowed */
static bool assign(const struct placement_model *md, int m, int g, int *t, int *p)
{
	int world = m * g, T = md->tensor, P = md->pipeline;
	if (md->nodes > 0 && m != md->nodes)
		return false;
	if (T <= 0 && P <= 0) {
		*t = g;
		*p = m;
	} else if (T > 0 && P <= 0) {
		if (world % T)
			return false;
		*t = T;
		*p = world / T;
	} else if (T <= 0) {
		if (world % P)
			return false;
		*t = world / P;
		*p = P;
	} else {
		if (T * P != world)
			return false;
		*t = T;
		*p = P;
	}
	return divides(md, *t);
}

static size_t gen_options(const struct placement_model *md, struct cl *cls, size_t ncl, struct option **out)
{
	size_t cap = 16, n = 0;
	struct option *o = xcalloc(cap, sizeof(*o));
	for (size_t c = 0; c < ncl; c++)
		for (size_t pi = 0; pi < cls[c].npools; pi++) {
			const struct pool *p = &cls[c].pools[pi];
			int G = p->rep->gpus;
			int maxm = (int)p->n;
			for (int m = 1; m <= maxm; m++)
				for (int g = m == 1 ? 1 : G; g <= G; g++) {
					int t, pp;
					if (!assign(md, m, g, &t, &pp))
						continue;
					if (n == cap) {
						cap *= 2;
						o = xrealloc(o, cap * sizeof(*o));
					}
					struct option *x = &o[n++];
					memset(x, 0, sizeof(*x));
					x->c = c;
					x->pool = pi;
					x->m = m;
					x->g = g;
					x->t = t;
					x->p = pp;
					x->known = p->rep->memory_bytes > 0;
					x->need = placement_per_gpu_bytes(md, t, pp);
					x->budget = placement_gpu_budget(md, p->rep);
					x->fits = x->known && x->need <= x->budget;
				}
		}
	qsort(o, n, sizeof(*o), opt_cmp);
	*out = o;
	return n;
}

/* Does option x respect the shape the cluster's replicas already share? */
static bool shape_ok(const struct cl *k, const struct option *x)
{
	if (x->m == 1)
		return k->single_g == 0 || (k->single_g == x->g && k->single_t == x->t && k->single_p == x->p);
	return k->multi_m == 0 ||
	       (k->multi_m == x->m && k->multi_g == x->g && k->multi_t == x->t && k->multi_p == x->p);
}

static void note_shape(struct cl *k, int m, int g, int t, int p)
{
	if (m == 1) {
		k->single_g = g;
		k->single_t = t;
		k->single_p = p;
	} else {
		k->multi_m = m;
		k->multi_g = g;
		k->multi_t = t;
		k->multi_p = p;
	}
}

/* Pick nodes for x (indices into the cluster's nodes); false when the GPUs
 * are taken. One node: the one with the fewest free GPUs that suffice (best
 * fit, then by name); several: the first wholly free ones by name. */
static bool pick_nodes(const struct cl *k, const struct option *x, size_t *picked)
{
	const struct pool *p = &k->pools[x->pool];
	if (x->m == 1) {
		bool found = false;
		size_t best = 0;
		for (size_t j = 0; j < p->n; j++) {
			size_t i = p->idx[j];
			if (k->free[i] >= x->g && (!found || k->free[i] < k->free[best])) {
				best = i;
				found = true;
			}
		}
		if (found)
			picked[0] = best;
		return found;
	}
	int got = 0;
	for (size_t j = 0; j < p->n && got < x->m; j++) {
		size_t i = p->idx[j];
		if (k->free[i] >= x->g)
			picked[got++] = i;
	}
	return got == x->m;
}

/* free and total GPUs of the whole cluster */
static void cluster_gpus(const struct cl *k, int *free_out, int *total_out)
{
	int f = 0, t = 0;
	for (size_t p = 0; p < k->npools; p++)
		for (size_t j = 0; j < k->pools[p].n; j++) {
			f += k->free[k->pools[p].idx[j]];
			t += k->pools[p].rep->gpus;
		}
	*free_out = f;
	*total_out = t;
}

static void shape_text(const struct option *x, char *out, size_t n)
{
	if (x->m == 1 && x->g == 1)
		snprintf(out, n, "1 GPU");
	else if (x->m == 1 && x->p == 1)
		snprintf(out, n, "tensor parallel %d", x->t);
	else if (x->m == 1)
		snprintf(out, n, "tensor %d x pipeline %d on one node", x->t, x->p);
	else
		snprintf(out, n, "%d nodes x %d GPUs (tensor %d, pipeline %d)", x->m, x->g, x->t, x->p);
}

/* ---------------------------------------------------------------- messages */

static void header(const struct placement_model *md, struct buf *b)
{
	int64_t total = sat_add(sat_add(md->weight_bytes, md->kv_cache_bytes), md->overhead_per_gpu);
	double u = util_of(md);
	buf_printf(b,
		   "The model requires approximately %.1f GiB of VRAM (weights %.1f + KV cache %.1f + overhead %.1f). "
		   "With gpuMemoryUtilization=%g, all GPUs combined need to provide at least %.1f GiB.",
		   gib(total), gib(md->weight_bytes), gib(md->kv_cache_bytes), gib(md->overhead_per_gpu), u,
		   gib(total) / u);
}

struct verdict {
	int kind;                 /* 0 nothing, 1 vram, 2 lws missing, 3 gpus taken, 4 fits elsewhere, 5 placed */
	const struct option *o;
};

static void node_list(const struct cl *k, const size_t *picked, int m, struct buf *b)
{
	for (int i = 0; i < m; i++)
		buf_printf(b, "%s%s", i ? ", " : "", k->c->nodes[picked[i]].name ? k->c->nodes[picked[i]].name : "?");
}

static void cluster_line(const struct placement_model *md, const struct cl *k, size_t c, const struct option *opts,
			 size_t nopts, const struct verdict *v, const size_t *picked, struct buf *b)
{
	char need[32], bud[32], sh[96];
	const char *name = k->c->name ? k->c->name : "?";
	buf_printf(b, "\n%s: ", name);
	if (v->o) {
		gfmt(need, sizeof need, v->o->need);
		gfmt(bud, sizeof bud, v->o->budget);
		shape_text(v->o, sh, sizeof sh);
	}
	switch (v->kind) {
	case 5:
		if (!v->o->known) {
			buf_printf(b, "GPU memory unknown (fit not checked): placed on ");
		} else {
			buf_printf(b, "%s needs %s GiB per GPU of %s GiB: placed on ", sh, need, bud);
		}
		node_list(k, picked, v->o->m, b);
		buf_puts(b, ".");
		return;
	case 4:
		buf_printf(b, "%s would fit (%s GiB per GPU of %s GiB).", sh, need, bud);
		return;
	case 3: {
		int f, t;
		cluster_gpus(k, &f, &t);
		if (v->o->m == 1)
			buf_printf(b, "%s needs %s GiB per GPU of %s GiB but no node has %d GPU%s free (%d of %d GPUs free).",
				   sh, need, bud, v->o->g, v->o->g > 1 ? "s" : "", f, t);
		else
			buf_printf(b, "%s needs %s GiB per GPU of %s GiB but fewer than %d nodes are wholly free (%d of %d GPUs free).",
				   sh, need, bud, v->o->m, f, t);
		return;
	}
	case 2:
		buf_printf(b, "%s needs %s GiB per GPU of %s GiB but the cluster does not serve "
			      "leaderworkerset.x-k8s.io/v1 (LeaderWorkerSetMissing).", sh, need, bud);
		return;
	default:
		break;
	}
	/* does not fit: the largest node, and the closest shape */
	const struct placement_node *big = NULL;
	for (size_t p = 0; p < k->npools; p++) {
		const struct placement_node *n = k->pools[p].rep;
		double cap = (double)n->memory_bytes * (n->unified ? 1 : n->gpus);
		if (!big || cap > (double)big->memory_bytes * (big->unified ? 1 : big->gpus))
			big = n;
	}
	if (!big) {
		buf_puts(b, "no GPU nodes.");
		return;
	}
	const struct option *close = NULL;
	for (size_t i = 0; i < nopts; i++) {
		const struct option *x = &opts[i];
		if (x->c != c || !x->known)
			continue;
		if (!close || (double)x->need / (double)(x->budget > 0 ? x->budget : 1) <
				      (double)close->need / (double)(close->budget > 0 ? close->budget : 1))
			close = x;
	}
	char tot[32], per[32];
	gfmt(per, sizeof per, big->memory_bytes);
	if (big->unified) {
		int64_t budget = placement_gpu_budget(md, big);
		char inuse[32];
		gfmt(inuse, sizeof inuse, big->in_use_bytes);
		gfmt(bud, sizeof bud, budget);
		gfmt(need, sizeof need, close ? close->need : placement_per_gpu_bytes(md, 1, 1));
		buf_printf(b, "unified memory %s GiB: budget %s GiB (%s GiB x %.2f - %s GiB in use) but the model needs %s GiB: "
			      "does not fit.", per, bud, per, big->memory_bytes <= 36 * GIB ? 0.67 : 0.75, inuse, need);
		return;
	}
	gfmt(tot, sizeof tot, big->memory_bytes * big->gpus);
	buf_printf(b, "the largest node has %s GiB (%d x %s GiB)", tot, big->gpus, per);
	if (close) {
		gfmt(need, sizeof need, close->need);
		gfmt(bud, sizeof bud, close->budget);
		shape_text(close, sh, sizeof sh);
		buf_printf(b, "; even %s needs %s GiB per GPU of %s GiB: does not fit.", sh, need, bud);
	} else if (big->memory_bytes <= 0) {
		buf_puts(b, ": GPU memory unknown.");
	} else {
		buf_puts(b, ": no node shape allowed by the topology.");
	}
}

/* ---------------------------------------------------------------- decide */

static void slot_free(struct placement_slot *s)
{
	free(s->cluster);
	for (int i = 0; s->node_names && i < s->nodes; i++)
		free(s->node_names[i]);
	free(s->node_names);
	free(s->message);
}

void placement_result_cleanup(struct placement_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nslots; i++)
		slot_free(&r->slots[i]);
	free(r->slots);
	free(r->message);
	memset(r, 0, sizeof(*r));
}

static int slot_cmp(const void *a, const void *b)
{
	const struct placement_slot *x = a, *y = b;
	return (x->replica > y->replica) - (x->replica < y->replica);
}

static void fill_slot(struct placement_slot *s, int replica, const struct cl *k, const struct option *x,
		      const size_t *picked, const char *msg)
{
	s->replica = replica;
	s->cluster = xstrdup(k->c->name);
	s->nodes = x->m;
	s->gpus_per_node = x->g;
	s->tensor = x->t;
	s->pipeline = x->p;
	s->node_names = xcalloc((size_t)x->m, sizeof(char *));
	for (int i = 0; i < x->m; i++)
		s->node_names[i] = xstrdup(k->c->nodes[picked[i]].name);
	s->message = xstrdup(msg);
}

/* Keep a previous placement? (its cluster is a candidate, its nodes exist in
 * one pool with enough GPUs, the model still fits them, LWS still served) */
static bool keep(const struct placement_model *md, struct cl *cls, size_t ncl, const struct placement_slot *s,
		 size_t *ci, size_t *picked, struct option *x)
{
	if (!s->cluster || s->nodes < 1 || !s->node_names || s->gpus_per_node < 1 || s->tensor < 1 ||
	    s->pipeline < 1 || s->nodes * s->gpus_per_node != s->tensor * s->pipeline)
		return false;
	size_t c;
	for (c = 0; c < ncl; c++)
		if (cls[c].c->name && strcmp(cls[c].c->name, s->cluster) == 0)
			break;
	if (c == ncl)
		return false;
	struct cl *k = &cls[c];
	if (s->nodes > 1 && !k->c->lws)
		return false;
	if (md->tensor > 0 && s->tensor != md->tensor)
		return false;
	if (md->pipeline > 0 && s->pipeline != md->pipeline)
		return false;
	if (md->nodes > 0 && s->nodes != md->nodes)
		return false;
	size_t pool = SIZE_MAX;
	for (int i = 0; i < s->nodes; i++) {
		size_t found = SIZE_MAX;
		for (size_t j = 0; j < k->c->nnodes; j++)
			if (k->c->nodes[j].name && s->node_names[i] && strcmp(k->c->nodes[j].name, s->node_names[i]) == 0)
				found = j;
		if (found == SIZE_MAX || k->c->nodes[found].gpus < s->gpus_per_node)
			return false;
		size_t p;
		for (p = 0; p < k->npools; p++)
			if (same_pool(k->pools[p].rep, &k->c->nodes[found]))
				break;
		if (p == k->npools || (pool != SIZE_MAX && p != pool))
			return false;
		pool = p;
		picked[i] = found;
	}
	memset(x, 0, sizeof(*x));
	x->c = c;
	x->pool = pool;
	x->m = s->nodes;
	x->g = s->gpus_per_node;
	x->t = s->tensor;
	x->p = s->pipeline;
	x->known = k->pools[pool].rep->memory_bytes > 0;
	x->need = placement_per_gpu_bytes(md, x->t, x->p);
	x->budget = placement_gpu_budget(md, k->pools[pool].rep);
	if (x->known && x->need > x->budget)
		return false;
	if (!shape_ok(k, x))
		return false;
	*ci = c;
	return true;
}

static void take(struct cl *k, const struct option *x, const size_t *picked)
{
	for (int i = 0; i < x->m; i++) {
		k->free[picked[i]] -= x->g;
		if (k->free[picked[i]] < 0)
			k->free[picked[i]] = 0;
	}
	note_shape(k, x->m, x->g, x->t, x->p);
}

int placement_decide(const struct placement_model *md, const struct placement_cluster *clusters, size_t ncl,
		     const struct placement_slot *prev, size_t nprev, int replicas, struct placement_result *out)
{
	if (!md || !out || (ncl && !clusters) || (nprev && !prev) || replicas < 0 || replicas > PLACEMENT_MAX_REPLICAS ||
	    ncl > PLACEMENT_MAX_CLUSTERS)
		return -EINVAL;
	for (size_t c = 0; c < ncl; c++) {
		if (clusters[c].nnodes > PLACEMENT_MAX_NODES || (clusters[c].nnodes && !clusters[c].nodes))
			return -EINVAL;
		for (size_t i = 0; i < clusters[c].nnodes; i++)
			if (clusters[c].nodes[i].gpus > PLACEMENT_MAX_GPUS_PER_NODE)
				return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->weight_bytes = md->weight_bytes;
	out->kv_cache_bytes = md->kv_cache_bytes;
	out->overhead_bytes = md->overhead_per_gpu;
	out->total_bytes = sat_add(sat_add(md->weight_bytes, md->kv_cache_bytes), md->overhead_per_gpu);

	struct buf hdr, b;
	buf_init(&hdr, MSG_MAX);
	buf_init(&b, MSG_MAX);
	header(md, &hdr);

	struct cl *cls = xcalloc(ncl + 1, sizeof(*cls));
	size_t shapes = 0;
	for (size_t c = 0; c < ncl; c++) {
		cl_init(&cls[c], &clusters[c]);
		for (size_t p = 0; p < cls[c].npools; p++)
			shapes += (size_t)cls[c].pools[p].rep->gpus + cls[c].pools[p].n;
	}
	if (shapes > PLACEMENT_MAX_SHAPES) {
		for (size_t c = 0; c < ncl; c++)
			cl_cleanup(&cls[c]);
		free(cls);
		buf_cleanup(&hdr);
		buf_cleanup(&b);
		memset(out, 0, sizeof(*out));
		return -E2BIG;
	}
	struct option *opts = NULL;
	size_t nopts = gen_options(md, cls, ncl, &opts);
	size_t maxm = 1;
	for (size_t i = 0; i < nopts; i++)
		if ((size_t)opts[i].m > maxm)
			maxm = (size_t)opts[i].m;
	size_t *picked = xcalloc(maxm + PLACEMENT_MAX_NODES + 1, sizeof(size_t));
	size_t *scratch = xcalloc(maxm + 1, sizeof(size_t));
	bool *used = xcalloc((size_t)replicas + 1, sizeof(bool));
	out->slots = xcalloc((size_t)replicas + 1, sizeof(*out->slots));

	/* 1. previous placements that still hold */
	for (size_t i = 0; i < nprev; i++) {
		const struct placement_slot *s = &prev[i];
		if (s->replica < 0 || s->replica >= replicas || used[s->replica])
			continue;
		struct option x;
		size_t c;
		if (!keep(md, cls, ncl, s, &c, picked, &x))
			continue;
		take(&cls[c], &x, picked);
		used[s->replica] = true;
		fill_slot(&out->slots[out->nslots++], s->replica, &cls[c], &x, picked, s->message ? s->message : "");
	}

	/* 2. new replicas, lowest numbers first; stop at the first that cannot be placed */
	if (md->tensor > 0 && !divides(md, md->tensor)) {
		out->reason = PLACEMENT_INVALID_TOPOLOGY;
		buf_printf(&b, "tensor parallel size %d does not divide the %lld attention heads of the model.",
			   md->tensor, (long long)md->heads);
	} else if (ncl == 0 && replicas > (int)out->nslots) {
		out->reason = PLACEMENT_NO_CLUSTERS;
		buf_puts(&b, "no candidate cluster: none is Connected, matches both selectors and holds the cache.");
	}
	struct verdict *v = xcalloc(ncl + 1, sizeof(*v));
	for (int r = 0; r < replicas && out->reason == PLACEMENT_PLACED; r++) {
		if (used[r])
			continue;
		memset(v, 0, (ncl + 1) * sizeof(*v));
		const struct option *chosen = NULL;
		for (size_t i = 0; i < nopts && !chosen; i++) {
			const struct option *x = &opts[i];
			struct cl *k = &cls[x->c];
			if (!x->fits || !shape_ok(k, x)) {
				if (v[x->c].kind < 1)
					v[x->c].kind = 1;
				continue;
			}
			if (x->m > 1 && !k->c->lws) {
				if (v[x->c].kind < 2) {
					v[x->c].kind = 2;
					v[x->c].o = x;
				}
				continue;
			}
			if (!pick_nodes(k, x, picked)) {
				if (v[x->c].kind < 3) {
					v[x->c].kind = 3;
					v[x->c].o = x;
				}
				continue;
			}
			chosen = x;
		}
		/* fail open on a pool whose GPU memory is unknown: one GPU */
		for (size_t i = 0; i < nopts && !chosen; i++) {
			const struct option *x = &opts[i];
			if (!x->known && x->m == 1 && x->g == 1 && shape_ok(&cls[x->c], x) && v[x->c].kind < 3 &&
			    pick_nodes(&cls[x->c], x, picked))
				chosen = x;
		}
		/* the other clusters' best alternative, for the message */
		for (size_t i = 0; chosen && i < nopts; i++) {
			const struct option *x = &opts[i];
			if (x->c == chosen->c || !x->fits || v[x->c].kind >= 4 || !shape_ok(&cls[x->c], x))
				continue;
			int kind = x->m > 1 && !cls[x->c].c->lws ? 2 : pick_nodes(&cls[x->c], x, scratch) ? 4 : 3;
			if (kind > v[x->c].kind) {
				v[x->c].kind = kind;
				v[x->c].o = x;
			}
		}
		buf_reset(&b);
		buf_puts(&b, buf_str(&hdr));
		if (chosen) {
			v[chosen->c].kind = 5;
			v[chosen->c].o = chosen;
		}
		for (size_t c = 0; c < ncl; c++)
			cluster_line(md, &cls[c], c, opts, nopts, &v[c], picked, &b);
		if (!chosen) {
			bool gpus = false, lws = false, any = nopts > 0;
			for (size_t c = 0; c < ncl; c++) {
				gpus |= v[c].kind == 3;
				lws |= v[c].kind == 2;
			}
			out->reason = gpus ? PLACEMENT_INSUFFICIENT_GPUS
				      : lws ? PLACEMENT_LWS_MISSING
				      : (!any && (md->tensor > 0 || md->pipeline > 0 || md->nodes > 0)) ? PLACEMENT_INVALID_TOPOLOGY
				      : PLACEMENT_INSUFFICIENT_VRAM;
			if (out->reason == PLACEMENT_INVALID_TOPOLOGY)
				buf_printf(&b, "\ntopology tensor %d, pipeline %d, nodes %d fits no node shape of any candidate cluster.",
					   md->tensor, md->pipeline, md->nodes);
			break;
		}
		struct cl *k = &cls[chosen->c];
		take(k, chosen, picked);
		used[r] = true;
		fill_slot(&out->slots[out->nslots++], r, k, chosen, picked, buf_str(&b));
	}
	free(v);
	qsort(out->slots, out->nslots, sizeof(*out->slots), slot_cmp);

	if (out->reason == PLACEMENT_PLACED) {
		buf_reset(&b);
		buf_puts(&b, buf_str(&hdr));
		buf_printf(&b, "\n%zu of %d replica%s placed.", out->nslots, replicas, replicas == 1 ? "" : "s");
		for (size_t i = 0; i < out->nslots; i++) {
			const struct placement_slot *s = &out->slots[i];
			buf_printf(&b, "\nreplica %d: %s, %d node%s x %d GPU%s (tensor %d, pipeline %d) on ", s->replica,
				   s->cluster, s->nodes, s->nodes > 1 ? "s" : "", s->gpus_per_node,
				   s->gpus_per_node > 1 ? "s" : "", s->tensor, s->pipeline);
			for (int j = 0; j < s->nodes; j++)
				buf_printf(&b, "%s%s", j ? ", " : "", s->node_names[j] ? s->node_names[j] : "?");
		}
	} else if (out->reason == PLACEMENT_INVALID_TOPOLOGY || out->reason == PLACEMENT_NO_CLUSTERS) {
		if (b.len && strncmp(buf_str(&b), buf_str(&hdr), hdr.len) != 0) {
			char *why = buf_take(&b, NULL);
			buf_puts(&b, buf_str(&hdr));
			buf_printf(&b, "\n%s", why);
			free(why);
		}
	}
	out->message = buf_take(&b, NULL);
	buf_cleanup(&hdr);
	free(used);
	free(picked);
	free(scratch);
	free(opts);
	for (size_t c = 0; c < ncl; c++)
		cl_cleanup(&cls[c]);
	free(cls);
	return 0;
}
