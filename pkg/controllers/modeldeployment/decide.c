/* Pure decisions of the ModelDeployment reconciler (see decide.h). */
#include "controllers/modeldeployment/decide.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/serve.h"
#include "estimate/engine.h"
#include "status/status.h"
#include "util/buf.h"
#include "util/jcanon.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/quantity.h"
#include "util/timeutil.h"

/* A condition message: room for the apiserver's longest refusals (a
 * PodSecurity one names every failed check and container). */
#define MD_STATUS_MESSAGE_MAX 4096

#define MIB ((int64_t)1 << 20)
#define LAST_USED_EVERY_S 3600
#define DEFAULT_CONTEXT 4096

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* ---------------------------------------------------------------- pods */

static int64_t qty_int(json_object *v)
{
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	struct quantity q;
	if (!json_object_is_type(v, json_type_string) || quantity_parse(json_object_get_string(v), &q) != 0)
		return 0;
	int64_t x = quantity_value(&q);
	return x < 0 ? 0 : x;
}

static int64_t container_res(json_object *c, const char *res)
{
	json_object *r = jpath_child(jpath_child(jpath_child(c, "resources"), "requests"), res);
	if (!r)
		r = jpath_child(jpath_child(jpath_child(c, "resources"), "limits"), res);
	return qty_int(r);
}

/* effective request of a pod: max(sum of containers, largest init container) */
static int64_t pod_res(json_object *pod, const char *res)
{
	int64_t sum = 0, init = 0;
	json_object *cs = jpath_get(pod, "spec.containers"), *ics = jpath_get(pod, "spec.initContainers");
	for (size_t i = 0; cs && json_object_is_type(cs, json_type_array) && i < json_object_array_length(cs); i++) {
		int64_t v = container_res(json_object_array_get_idx(cs, i), res);
		sum = v > INT64_MAX - sum ? INT64_MAX : sum + v;
	}
	for (size_t i = 0; ics && json_object_is_type(ics, json_type_array) && i < json_object_array_length(ics); i++) {
		int64_t v = container_res(json_object_array_get_idx(ics, i), res);
		if (v > init)
			init = v;
	}
	return sum > init ? sum : init;
}

int md_pod_gpus(json_object *pod)
{
	int64_t g = pod_res(pod, COMPOSE_GPU_RESOURCE);
	return g > 1 << 20 ? 1 << 20 : (int)g;
}

bool md_pod_active(json_object *pod)
{
	const char *phase = jpath_str(pod, "status.phase");
	const char *node = jpath_str(pod, "spec.nodeName");
	return node && *node && !streq(phase, "Succeeded") && !streq(phase, "Failed");
}

/* ---------------------------------------------------------------- inventory */

static const char *keep_str(struct md_inventory *inv, const char *s, size_t *cap)
{
	if (inv->nstrs == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		inv->strs = xrealloc(inv->strs, *cap * sizeof(char *));
	}
	inv->strs[inv->nstrs] = xstrdup(s ? s : "");
	return inv->strs[inv->nstrs++];
}

static int64_t label_int(json_object *node, const char *key, int64_t def)
{
	const char *v = jpath_label(node, key);
	if (!v || !*v)
		return def;
	char *end;
	long long x = strtoll(v, &end, 10);
	return *end || x < 0 ? def : (int64_t)x;
}

static bool node_usable(json_object *node)
{
	json_object *u = jpath_get(node, "spec.unschedulable");
	if (u && json_object_get_boolean(u))
		return false;
	json_object *ready = jpath_find_type(jpath_get(node, "status.conditions"), "Ready");
	return !ready || !streq(jpath_str(ready, "status"), "False");
}

/* spec.gpus[].memory: bytes or a quantity; 0 when unusable */
static int64_t pool_memory(json_object *g)
{
	int64_t mem = 0;
	json_object *m = jpath_child(g, "memory");
	if (m && json_object_is_type(m, json_type_int))
		mem = json_object_get_int64(m);
	else if (m && quantity_parse_bytes(json_object_get_string(m), &mem) != 0)
		mem = 0;
	return mem > 0 ? mem : 0;
}

void md_inventory_cleanup(struct md_inventory *inv)
{
	if (!inv)
		return;
	for (size_t i = 0; i < inv->nstrs; i++)
		free(inv->strs[i]);
	free(inv->strs);
	free(inv->nodes);
	memset(inv, 0, sizeof(*inv));
}

int md_inventory_build(json_object *ic, json_object *nodes, json_object *pods, const struct md_reservation *res,
		       size_t nres, struct md_inventory *out)
{
	memset(out, 0, sizeof(*out));
	size_t cap_strs = 0;
	json_object *spec_gpus = jpath_get(ic, "spec.gpus");
	size_t nspec = spec_gpus && json_object_is_type(spec_gpus, json_type_array) ? json_object_array_length(spec_gpus) : 0;
	size_t nn = nodes && json_object_is_type(nodes, json_type_array) ? json_object_array_length(nodes) : 0;
	if (nn > PLACEMENT_MAX_NODES)
		return -E2BIG;
	out->nodes = xcalloc(nn + 1, sizeof(*out->nodes));
	for (size_t i = 0; i < nn; i++) {
		json_object *node = json_object_array_get_idx(nodes, i);
		int64_t count = label_int(node, "nvidia.com/gpu.count", -1);
		json_object *alloc = jpath_child(jpath_child(jpath_child(node, "status"), "allocatable"), COMPOSE_GPU_RESOURCE);
		if (alloc)
			count = qty_int(alloc);
		if (count <= 0)
			continue;
		const char *product = jpath_label(node, COMPOSE_GPU_PRODUCT_LABEL);
		struct placement_node *p = &out->nodes[out->n++];
		p->name = keep_str(out, jpath_str(node, "metadata.name"), &cap_strs);
		p->product = product ? keep_str(out, product, &cap_strs) : NULL;
		p->gpus = count > PLACEMENT_MAX_GPUS_PER_NODE ? PLACEMENT_MAX_GPUS_PER_NODE : (int)count;
		p->memory_bytes = label_int(node, "nvidia.com/gpu.memory", 0) * MIB;
		p->free = node_usable(node) ? p->gpus : 0;
		/* a declared pool describes the nodes of its product (or all, when it is the only one) */
		for (size_t k = 0; k < nspec; k++) {
			json_object *g = json_object_array_get_idx(spec_gpus, k);
			if (nspec > 1 && !streq(jpath_str(g, "product"), product))
				continue;
			int64_t mem = pool_memory(g);
			if (mem > 0)
				p->memory_bytes = mem;
			json_object *u = jpath_child(g, "unifiedMemory");
			p->unified = u && json_object_get_boolean(u);
			break;
		}
	}
	if (out->n == 0 && nspec > 0) {
		/* the declared inventory, when the cluster shows no GPU nodes */
		size_t total = 0;
		for (size_t k = 0; k < nspec; k++)
			total += (size_t)jpath_int_or(json_object_array_get_idx(spec_gpus, k), "nodes", 1);
		if (total > PLACEMENT_MAX_NODES) {
			md_inventory_cleanup(out);
			return -E2BIG;
		}
		free(out->nodes);
		out->nodes = xcalloc(total + 1, sizeof(*out->nodes));
		for (size_t k = 0; k < nspec; k++) {
			json_object *g = json_object_array_get_idx(spec_gpus, k);
			int64_t nodes_k = jpath_int_or(g, "nodes", 1), per = jpath_int_or(g, "perNode", 1);
			int64_t mem = pool_memory(g);
			json_object *u = jpath_child(g, "unifiedMemory");
			for (int64_t j = 0; j < nodes_k; j++) {
				char name[320];
				snprintf(name, sizeof name, "%s-%lld", jpath_str_or(g, "product", "gpu"), (long long)j);
				struct placement_node *p = &out->nodes[out->n++];
				p->name = keep_str(out, name, &cap_strs);
				p->product = keep_str(out, jpath_str_or(g, "product", ""), &cap_strs);
				p->gpus = per > PLACEMENT_MAX_GPUS_PER_NODE ? PLACEMENT_MAX_GPUS_PER_NODE : (int)(per < 1 ? 1 : per);
				p->free = p->gpus;
				p->memory_bytes = mem;
				p->unified = u && json_object_get_boolean(u);
			}
		}
	}
	/* what the pods on each node hold (our own workloads count as reservations) */
	size_t np = pods && json_object_is_type(pods, json_type_array) ? json_object_array_length(pods) : 0;
	for (size_t i = 0; i < np; i++) {
		json_object *pod = json_object_array_get_idx(pods, i);
		if (!md_pod_active(pod) || jpath_label(pod, COMPOSE_LABEL_DEPLOYMENT))
			continue;
		const char *node = jpath_str(pod, "spec.nodeName");
		for (size_t k = 0; k < out->n; k++) {
			struct placement_node *p = &out->nodes[k];
			if (!streq(p->name, node))
				continue;
			p->free -= md_pod_gpus(pod);
			if (p->unified)
				p->in_use_bytes += pod_res(pod, "memory");
		}
	}
	for (size_t r = 0; r < nres; r++)
		for (size_t k = 0; k < out->n; k++)
			if (streq(out->nodes[k].name, res[r].node))
				out->nodes[k].free -= res[r].gpus;
	for (size_t k = 0; k < out->n; k++) {
		if (out->nodes[k].free < 0)
			out->nodes[k].free = 0;
		out->total_gpus += out->nodes[k].gpus;
		out->free_gpus += out->nodes[k].free;
	}
	return 0;
}

/* ---------------------------------------------------------------- sizing */

int md_sizing_from_spec(json_object *md, const struct model_arch *arch, struct md_sizing *out, char **msg)
{
	memset(out, 0, sizeof(*out));
	*msg = NULL;
	json_object *args = jpath_get(md, "spec.engine.args");
	size_t n = args && json_object_is_type(args, json_type_array) ? json_object_array_length(args) : 0;
	const char **argv = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		argv[i] = json_object_get_string(json_object_array_get_idx(args, i));
	struct engine_args ea;
	int rc = engine_args_parse(argv, n, &ea);
	free(argv);
	if (rc) {
		*msg = xasprintf("spec.engine.args: Invalid value: \"%s\": not a valid value for this flag",
				 ea.bad_flag ? ea.bad_flag : "?");
		return -EINVAL;
	}
	int64_t t_spec = jpath_int_or(md, "spec.topology.tensor", 0), p_spec = jpath_int_or(md, "spec.topology.pipeline", 0);
	if (t_spec > 0 && ea.tensor > 0 && t_spec != ea.tensor) {
		*msg = xasprintf("spec.topology.tensor %lld and --tensor-parallel-size %d in spec.engine.args differ",
				 (long long)t_spec, ea.tensor);
		return -EINVAL;
	}
	if (p_spec > 0 && ea.pipeline > 0 && p_spec != ea.pipeline) {
		*msg = xasprintf("spec.topology.pipeline %lld and --pipeline-parallel-size %d in spec.engine.args differ",
				 (long long)p_spec, ea.pipeline);
		return -EINVAL;
	}
	out->tensor = t_spec > 0 ? (int)t_spec : ea.tensor;
	out->pipeline = p_spec > 0 ? (int)p_spec : ea.pipeline;
	out->nodes = (int)jpath_int_or(md, "spec.topology.nodes", 0);
	int64_t ctx = jpath_int_or(md, "spec.contextLength", 0);
	if (ctx <= 0)
		ctx = ea.max_model_len;
	if (ctx <= 0 && arch)
		ctx = arch->max_context;
	out->context = ctx > 0 ? ctx : DEFAULT_CONTEXT;
	out->sequences = jpath_int_or(md, "spec.maxSequences", 1);
	if (out->sequences < 1)
		out->sequences = 1;
	const char *u = jpath_str(md, "spec.gpuMemoryUtilization");
	out->utilization = u ? strtod(u, NULL) : 0.9;
	if (ea.gpu_memory_utilization > 0)
		out->utilization = ea.gpu_memory_utilization;   /* what the engine will use */
	if (!(out->utilization > 0 && out->utilization <= 1))
		out->utilization = 0.9;
	snprintf(out->kv_dtype, sizeof out->kv_dtype, "%s", ea.kv_cache_dtype);
	const char *image = jpath_str_or(md, "spec.engine.image", "");
	json_object *cmd = jpath_get(md, "spec.engine.command");
	const char *cmd0 = cmd && json_object_is_type(cmd, json_type_array) && json_object_array_length(cmd) > 0
				   ? json_object_get_string(json_object_array_get_idx(cmd, 0)) : NULL;
	out->llamacpp = strstr(image, "llama.cpp") || strstr(image, "llamacpp") || (cmd0 && strstr(cmd0, "llama"));
	return 0;
}

/* ---------------------------------------------------------------- lastUsedTime */

bool md_last_used_due(json_object *mc, int64_t now_s)
{
	const char *t = jpath_str(mc, "status.lastUsedTime");
	int64_t ns = 0;
	if (!t || rfc3339_parse(t, &ns) != 0)
		return true;
	return now_s - ns / 1000000000 >= LAST_USED_EVERY_S;
}

/* ---------------------------------------------------------------- status */

const char *const md_status_keys[] = {"observedGeneration", "replicas", "estimate", "placements", "conditions", NULL};

bool md_status_equal(json_object *a, json_object *b)
{
	for (size_t i = 0; md_status_keys[i]; i++) {
		json_object *x = jpath_child(a, md_status_keys[i]), *y = jpath_child(b, md_status_keys[i]);
		if (!x && !y)
			continue;
		if (!x || !y)
			return false;
		struct buf bx, by;
		buf_init(&bx, BUF_DEFAULT_MAX);
		buf_init(&by, BUF_DEFAULT_MAX);
		bool same = jcanon_json(x, &bx) == 0 && jcanon_json(y, &by) == 0 && strcmp(buf_str(&bx), buf_str(&by)) == 0;
		buf_cleanup(&bx);
		buf_cleanup(&by);
		if (!same)
			return false;
	}
	return true;
}

static void cond(json_object *conds, json_object *prev, const char *type, const char *st, const char *reason,
		 const char *msg, int64_t gen, int64_t now)
{
	status_set_condition(conds, prev, type, st ? st : "Unknown", reason ? reason : "Unknown", msg ? msg : "", gen,
			     now);
}

const char *md_workload_failure(json_object *deploy, const char **message)
{
	*message = NULL;
	if (!deploy || jpath_int_or(deploy, "status.observedGeneration", -1) != jpath_int_or(deploy, "metadata.generation", 0))
		return NULL;   /* the controller has not looked at this spec yet */
	json_object *conds = jpath_get(deploy, "status.conditions");
	json_object *c = jpath_find_type(conds, "ReplicaFailure");
	if (!streq(jpath_str(c, "status"), "True")) {
		c = jpath_find_type(conds, "Progressing");
		if (!streq(jpath_str(c, "status"), "False"))
			return NULL;
	}
	*message = jpath_str_or(c, "message", "");
	return jpath_str_or(c, "reason", "ReplicaFailure");
}

int md_status_compute(const struct md_status_in *in, json_object **out)
{
	*out = NULL;
	if (!in || !in->md)
		return -EINVAL;
	json_object *prev = jpath_child(in->md, "status");
	json_object *prev_conds = jpath_child(prev, "conditions");
	int64_t gen = jpath_int_or(in->md, "metadata.generation", 0);
	json_object *st = json_object_new_object(), *conds = json_object_new_array();
	json_object_object_add(st, "observedGeneration", json_object_new_int64(gen));
	char msg[MD_STATUS_MESSAGE_MAX];
	if (in->invalid) {
		/* nothing is decided for an invalid spec: what was placed stays */
		const char *keep[] = {"replicas", "estimate", "placements"};
		for (size_t i = 0; i < 3; i++)
			if (jpath_child(prev, keep[i]))
				json_object_object_add(st, keep[i], json_object_get(jpath_child(prev, keep[i])));
		cond(conds, prev_conds, "Valid", "False", "Invalid", in->invalid, gen, in->now_s);
		cond(conds, prev_conds, "Ready", "False", "Invalid", "the spec is invalid (see Valid)", gen, in->now_s);
		cond(conds, prev_conds, "Stalled", "True", "Invalid", in->invalid, gen, in->now_s);
		json_object_object_add(st, "conditions", conds);
		*out = st;
		return 0;
	}
	json_object *repl = json_object_new_object();
	json_object_object_add(repl, "desired", json_object_new_int64(in->desired));
	json_object_object_add(repl, "ready", json_object_new_int64(in->ready));
	json_object_object_add(st, "replicas", repl);
	if (in->estimate)
		json_object_object_add(st, "estimate", json_object_get(in->estimate));
	json_object_object_add(st, "placements", in->placements ? json_object_get(in->placements) : json_object_new_array());

	cond(conds, prev_conds, "Valid", "True", "Valid", "", gen, in->now_s);
	cond(conds, prev_conds, "ModelCacheResolved", in->cache_status, in->cache_reason, in->cache_message, gen, in->now_s);
	cond(conds, prev_conds, "CacheReady", in->ready_status, in->ready_reason, in->ready_message, gen, in->now_s);
	cond(conds, prev_conds, "Scheduled", in->sched_status, in->sched_reason, in->sched_message, gen, in->now_s);
	const char *as, *ar;
	snprintf(msg, sizeof msg, "%lld of %lld replicas ready", (long long)in->ready, (long long)in->desired);
	if (in->desired == 0) {
		as = "True";
		ar = "ScaledToZero";
		snprintf(msg, sizeof msg, "0 replicas requested");
	} else if (in->ready >= in->desired) {
		as = "True";
		ar = "MinimumReplicasAvailable";
	} else {
		as = "False";
		if (streq(in->sched_status, "False"))
			ar = in->sched_reason ? in->sched_reason : "Unschedulable";
		else if (streq(in->ready_status, "False"))
			ar = "WaitingForCache";
		else if (in->workload_reason) {
			/* the workload controller's own words: the apiserver's refusal
			 * of the pods is what the user must fix */
			ar = in->workload_reason;
			snprintf(msg, sizeof msg, "%lld of %lld replicas ready: %s", (long long)in->ready,
				 (long long)in->desired, in->workload_message ? in->workload_message : "");
		} else
			ar = "ReplicasNotReady";
	}
	cond(conds, prev_conds, "Available", as, ar, msg, gen, in->now_s);
	cond(conds, prev_conds, "Ready", as, ar, msg, gen, in->now_s);
	bool stalled = streq(in->sched_reason, "InvalidTopology") && streq(in->sched_status, "False");
	cond(conds, prev_conds, "Stalled", stalled ? "True" : "False", stalled ? "InvalidTopology" : "Progressing",
	     stalled ? in->sched_message : "", gen, in->now_s);
	json_object_object_add(st, "conditions", conds);
	*out = st;
	return 0;
}

/* ---------------------------------------------------------------- placements */

struct placement_slot *md_slots_from_status(json_object *pl, size_t *n)
{
	size_t len = pl && json_object_is_type(pl, json_type_array) ? json_object_array_length(pl) : 0;
	struct placement_slot *s = xcalloc(len + 1, sizeof(*s));
	*n = 0;
	for (size_t i = 0; i < len; i++) {
		json_object *e = json_object_array_get_idx(pl, i);
		json_object *names = jpath_child(e, "nodeNames");
		int nodes = (int)jpath_int_or(e, "nodes", 0);
		if (nodes < 1 || nodes > PLACEMENT_MAX_NODES || !names || !json_object_is_type(names, json_type_array) ||
		    json_object_array_length(names) != (size_t)nodes)
			continue;
		struct placement_slot *x = &s[(*n)++];
		x->replica = (int)jpath_int_or(e, "replica", -1);
		x->cluster = (char *)jpath_str(e, "cluster");
		x->nodes = nodes;
		x->gpus_per_node = (int)jpath_int_or(e, "gpusPerNode", 0);
		x->tensor = (int)jpath_int_or(e, "tensor", 0);
		x->pipeline = (int)jpath_int_or(e, "pipeline", 0);
		x->message = (char *)jpath_str(e, "message");
		x->node_names = xcalloc((size_t)nodes, sizeof(char *));
		for (int k = 0; k < nodes; k++)
			x->node_names[k] = (char *)json_object_get_string(json_object_array_get_idx(names, (size_t)k));
	}
	return s;
}

void md_slots_free(struct placement_slot *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		free(s[i].node_names);
	free(s);
}

json_object *md_placements_json(const struct placement_result *r)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < r->nslots; i++) {
		const struct placement_slot *s = &r->slots[i];
		json_object *e = json_object_new_object(), *names = json_object_new_array();
		json_object_object_add(e, "replica", json_object_new_int64(s->replica));
		json_object_object_add(e, "cluster", json_object_new_string(s->cluster ? s->cluster : ""));
		json_object_object_add(e, "nodes", json_object_new_int64(s->nodes));
		json_object_object_add(e, "gpusPerNode", json_object_new_int64(s->gpus_per_node));
		json_object_object_add(e, "tensor", json_object_new_int64(s->tensor));
		json_object_object_add(e, "pipeline", json_object_new_int64(s->pipeline));
		for (int k = 0; k < s->nodes; k++)
			json_object_array_add(names, json_object_new_string(s->node_names[k] ? s->node_names[k] : ""));
		json_object_object_add(e, "nodeNames", names);
		json_object_object_add(e, "message", json_object_new_string(s->message ? s->message : ""));
		json_object_array_add(arr, e);
	}
	return arr;
}
