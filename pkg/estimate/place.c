/* Replica placement (docs/concepts.md, "ModelDeployment"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "estimate/fit.h"
#include "estimate/place.h"
#include "estimate/satmath.h"

static double gib(int64_t b)
{
	return (double)b / (double)GIB;
}

static int64_t per_gpu_budget(const struct gpu_pool *p, double util)
{
	if (p->unified_memory)
		return estimate_budget_unified(p->memory_bytes);
	return estimate_budget_discrete(p->memory_bytes, 1, util);
}

static int64_t required(const struct place_request *q, int gpus)
{
	return sat_add(sat_add(q->weight_bytes, q->kv_cache_bytes), sat_mul(q->overhead_per_gpu, gpus));
}

static bool fits(const struct gpu_pool *p, const struct place_request *q, double util, int gpus)
{
	return required(q, gpus) <= sat_mul(per_gpu_budget(p, util), gpus);
}

static bool divides(const struct place_request *q, int k)
{
	return q->attention_heads <= 0 || q->attention_heads % k == 0;
}

static void set(struct placement *o, enum place_status st, size_t pool, int nodes, int gpn,
		int tensor, int pipeline)
{
	o->status = st;
	o->pool = pool;
	o->nodes = nodes;
	o->gpus_per_node = gpn;
	o->tensor = tensor;
	o->pipeline = pipeline;
}

static void describe_ok(const struct gpu_pool *pools, const struct place_request *q,
			double util, struct placement *o)
{
	const struct gpu_pool *p = &pools[o->pool];
	int gpus = o->nodes * o->gpus_per_node;
	o->required_bytes = required(q, gpus);
	o->budget_bytes = p->memory_bytes ? per_gpu_budget(p, util) * gpus : 0;
	if (o->memory_unknown)
		snprintf(o->message, sizeof(o->message),
			 "placed on %d x %s (GPU memory unknown: fit not checked)", gpus,
			 p->product ? p->product : "GPU");
	else
		snprintf(o->message, sizeof(o->message),
			 "%d node%s x %d %s (tensor %d, pipeline %d): needs ~%.1f GiB of %.1f GiB",
			 o->nodes, o->nodes > 1 ? "s" : "", o->gpus_per_node,
			 p->product ? p->product : "GPU", o->tensor, o->pipeline,
			 gib(o->required_bytes), gib(o->budget_bytes));
}

static void describe_vram(const struct gpu_pool *pools, size_t n, const struct place_request *q,
			  double util, struct placement *o)
{
	size_t best = 0;
	int64_t best_bytes = -1;
	for (size_t i = 0; i < n; i++) {
		int64_t b = pools[i].memory_bytes * pools[i].per_node;
		if (b > best_bytes) {
			best_bytes = b;
			best = i;
		}
	}
	int64_t need = required(q, 1);
	o->required_bytes = need;
	o->budget_bytes = best_bytes > 0 ? per_gpu_budget(&pools[best], util) * pools[best].per_node : 0;
	o->pool = best;
	snprintf(o->message, sizeof(o->message),
		 "The model requires approximately %.1f GiB of VRAM. With gpuMemoryUtilization=%g, "
		 "all GPUs combined need to provide at least %.1f GiB. The largest node in %s has "
		 "%.1f GiB (%d x %.1f GiB).",
		 gib(need), util, gib(need) / util, q->cluster ? q->cluster : "the cluster",
		 gib(best_bytes > 0 ? best_bytes : 0), pools[best].per_node,
		 gib(pools[best].memory_bytes));
}

static int explicit_topology(const struct gpu_pool *pools, size_t n,
			     const struct place_request *q, double util, struct placement *o)
{
	int t = q->tensor > 0 ? q->tensor : 1, pp = q->pipeline > 0 ? q->pipeline : 1;
	if (!divides(q, t)) {
		set(o, PLACE_INVALID_TOPOLOGY, 0, 0, 0, t, pp);
		snprintf(o->message, sizeof(o->message),
			 "tensor parallel size %d does not divide the %lld attention heads", t,
			 (long long)q->attention_heads);
		return 0;
	}
	int world = t * pp;
	bool shaped = false;
	for (size_t i = 0; i < n; i++) {
		const struct gpu_pool *p = &pools[i];
		int nodes, gpn;
		if (world <= p->per_node && p->nodes >= 1) {
			nodes = 1;
			gpn = world;
		} else if (p->per_node > 0 && world % p->per_node == 0 &&
			   world / p->per_node <= p->nodes) {
			nodes = world / p->per_node;
			gpn = p->per_node;
		} else {
			continue;
		}
		shaped = true;
		if (p->memory_bytes == 0 || fits(p, q, util, world)) {
			set(o, PLACE_OK, i, nodes, gpn, t, pp);
			o->memory_unknown = p->memory_bytes == 0;
			describe_ok(pools, q, util, o);
			return 0;
		}
	}
	if (!shaped) {
		set(o, PLACE_INVALID_TOPOLOGY, 0, 0, 0, t, pp);
		snprintf(o->message, sizeof(o->message),
			 "world size %d (tensor %d x pipeline %d) fits neither one node nor whole "
			 "nodes of any GPU pool in %s", world, t, pp, q->cluster ? q->cluster : "the cluster");
		return 0;
	}
	set(o, PLACE_INSUFFICIENT_VRAM, 0, 0, 0, t, pp);
	describe_vram(pools, n, q, util, o);
	return 0;
}

int estimate_place(const struct gpu_pool *pools, size_t n, const struct place_request *q,
		   struct placement *o)
{
	if (o == NULL || q == NULL || (n > 0 && pools == NULL))
		return -EINVAL;
	memset(o, 0, sizeof(*o));
	double util = q->utilization > 0 && q->utilization <= 1 ? q->utilization : 0.9;
	size_t usable = 0;
	for (size_t i = 0; i < n; i++)
		usable += pools[i].per_node > 0 && pools[i].nodes > 0;
	if (usable == 0) {
		set(o, PLACE_NO_GPUS, 0, 0, 0, 0, 0);
		snprintf(o->message, sizeof(o->message), "no GPUs known in %s",
			 q->cluster ? q->cluster : "the cluster");
		return 0;
	}
	if (q->tensor > 0 || q->pipeline > 0)
		return explicit_topology(pools, n, q, util, o);

	int max_per_node = 0, max_nodes = 0;
	for (size_t i = 0; i < n; i++) {
		if (pools[i].per_node > max_per_node)
			max_per_node = pools[i].per_node;
		if (pools[i].nodes > max_nodes)
			max_nodes = pools[i].nodes;
	}
	/* 1. one GPU */
	for (size_t i = 0; i < n; i++)
		if (pools[i].memory_bytes > 0 && pools[i].per_node > 0 && pools[i].nodes > 0 &&
		    fits(&pools[i], q, util, 1)) {
			set(o, PLACE_OK, i, 1, 1, 1, 1);
			goto ok;
		}
	/* 2. one node, smallest k dividing the heads */
	for (int k = 2; k <= max_per_node; k++) {
		if (!divides(q, k))
			continue;
		for (size_t i = 0; i < n; i++)
			if (pools[i].memory_bytes > 0 && pools[i].per_node >= k && pools[i].nodes > 0 &&
			    fits(&pools[i], q, util, k)) {
				set(o, PLACE_OK, i, 1, k, k, 1);
				goto ok;
			}
	}
	/* 3. whole nodes of one pool: tensor = GPUs per node, pipeline = nodes */
	for (int m = 2; m <= max_nodes; m++)
		for (size_t i = 0; i < n; i++) {
			const struct gpu_pool *p = &pools[i];
			if (p->memory_bytes > 0 && p->nodes >= m && p->per_node > 0 &&
			    divides(q, p->per_node) && fits(p, q, util, m * p->per_node)) {
				set(o, PLACE_OK, i, m, p->per_node, p->per_node, m);
				goto ok;
			}
		}
	/* 4. fail open on a pool whose GPU memory is unknown */
	for (size_t i = 0; i < n; i++)
		if (pools[i].memory_bytes == 0 && pools[i].per_node > 0 && pools[i].nodes > 0) {
			set(o, PLACE_OK, i, 1, 1, 1, 1);
			o->memory_unknown = true;
			goto ok;
		}
	set(o, PLACE_INSUFFICIENT_VRAM, 0, 0, 0, 0, 0);
	describe_vram(pools, n, q, util, o);
	return 0;
ok:
	describe_ok(pools, q, util, o);
	return 0;
}
