/* pkg/controllers/modeldeployment/decide.c: the reconciler's pure
 * decisions (GPU inventory, sizing, status, lastUsedTime), as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/modeldeployment/decide.h"
#include "estimate/fit.h"
#include "util/jpath.h"

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static const struct placement_node *node(const struct md_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->n; i++)
		if (strcmp(inv->nodes[i].name, name) == 0)
			return &inv->nodes[i];
	return NULL;
}

static void test_inventory(void **state)
{
	(void)state;
	json_object *ic = parse("{\"metadata\":{\"name\":\"w\"},\"spec\":{}}");
	json_object *nodes = parse(
		"[{\"metadata\":{\"name\":\"a\",\"labels\":{\"nvidia.com/gpu.product\":\"L4\",\"nvidia.com/gpu.memory\":\"24576\"}},"
		"  \"status\":{\"allocatable\":{\"nvidia.com/gpu\":\"8\"}}},"
		" {\"metadata\":{\"name\":\"b\",\"labels\":{\"nvidia.com/gpu.count\":\"2\",\"nvidia.com/gpu.memory\":\"81920\"}}},"
		" {\"metadata\":{\"name\":\"down\",\"labels\":{\"nvidia.com/gpu.count\":\"4\"}},"
		"  \"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}},"
		" {\"metadata\":{\"name\":\"cpu\"},\"status\":{\"allocatable\":{\"cpu\":\"8\"}}}]");
	json_object *pods = parse(
		"[{\"spec\":{\"nodeName\":\"a\",\"containers\":[{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"2\"}}},"
		"   {\"resources\":{\"requests\":{\"nvidia.com/gpu\":1}}}]},\"status\":{\"phase\":\"Running\"}},"
		" {\"spec\":{\"nodeName\":\"a\",\"containers\":[{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"4\"}}}]},"
		"  \"status\":{\"phase\":\"Succeeded\"}},"
		" {\"metadata\":{\"labels\":{\"modelcache.dev/deployment\":\"x\"}},"
		"  \"spec\":{\"nodeName\":\"a\",\"containers\":[{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"4\"}}}]}},"
		" {\"spec\":{\"containers\":[{\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]}}]");
	struct md_reservation res[] = {{"b", 1}, {"a", 1}};
	struct md_inventory inv;
	assert_int_equal(md_inventory_build(ic, nodes, pods, res, 2, &inv), 0);
	assert_int_equal(inv.n, 3);   /* the CPU node offers no GPU */
	const struct placement_node *a = node(&inv, "a"), *b = node(&inv, "b"), *d = node(&inv, "down");
	assert_non_null(a);
	assert_int_equal(a->gpus, 8);
	/* 3 held by a running pod (2 + 1), the finished pod and our own workload's pod do not
	 * count (our placements are reservations), 1 reserved */
	assert_int_equal(a->free, 4);
	assert_int_equal(a->memory_bytes, 24 * GIB);
	assert_string_equal(a->product, "L4");
	assert_int_equal(b->gpus, 2);
	assert_int_equal(b->free, 1);
	assert_int_equal(b->memory_bytes, 80 * GIB);
	assert_int_equal(d->free, 0);   /* not Ready */
	assert_int_equal(inv.total_gpus, 14);
	assert_int_equal(inv.free_gpus, 5);
	md_inventory_cleanup(&inv);
	json_object_put(ic);

	/* a declared unified pool and no GPU nodes: the declared node, memory in use from pods */
	ic = parse("{\"metadata\":{\"name\":\"mac\"},\"spec\":{\"gpus\":[{\"product\":\"M2\",\"memory\":\"32Gi\","
		   "\"perNode\":1,\"nodes\":1,\"unifiedMemory\":true}]}}");
	json_object *none = parse("[]");
	assert_int_equal(md_inventory_build(ic, none, none, NULL, 0, &inv), 0);
	assert_int_equal(inv.n, 1);
	assert_string_equal(inv.nodes[0].name, "M2-0");
	assert_true(inv.nodes[0].unified);
	assert_int_equal(inv.nodes[0].memory_bytes, 32 * GIB);
	assert_int_equal(inv.nodes[0].free, 1);
	md_inventory_cleanup(&inv);
	json_object *mnode = parse("[{\"metadata\":{\"name\":\"m1\",\"labels\":{\"nvidia.com/gpu.count\":\"1\"}}}]");
	json_object *mpods = parse("[{\"spec\":{\"nodeName\":\"m1\",\"containers\":[{\"resources\":{\"requests\":"
				   "{\"memory\":\"6Gi\"}}}]}}]");
	assert_int_equal(md_inventory_build(ic, mnode, mpods, NULL, 0, &inv), 0);
	assert_int_equal(inv.n, 1);
	assert_true(inv.nodes[0].unified);
	assert_int_equal(inv.nodes[0].in_use_bytes, 6 * GIB);
	md_inventory_cleanup(&inv);
	json_object_put(mnode);
	json_object_put(mpods);
	json_object_put(none);
	json_object_put(ic);
	json_object_put(nodes);
	json_object_put(pods);
}

struct sizing_row {
	const char *spec;
	int rc;
	int64_t context;
	int tensor, pipeline;
	double util;
	const char *msg;
};

static void test_sizing(void **state)
{
	(void)state;
	static const struct sizing_row rows[] = {
		{"{\"engine\":{\"args\":[\"--max-model-len=8192\",\"-tp\",\"2\"]}}", 0, 8192, 2, 0, 0.9, NULL},
		{"{\"contextLength\":1024,\"engine\":{\"args\":[\"--max-model-len=8192\"]}}", 0, 1024, 0, 0, 0.9, NULL},
		{"{\"engine\":{\"args\":[]}}", 0, 40960, 0, 0, 0.9, NULL},   /* the model's maximum */
		{"{\"gpuMemoryUtilization\":\"0.5\",\"engine\":{\"args\":[\"--gpu-memory-utilization=0.8\"]}}", 0, 40960, 0, 0,
		 0.8, NULL},
		{"{\"topology\":{\"tensor\":4,\"pipeline\":2},\"engine\":{}}", 0, 40960, 4, 2, 0.9, NULL},
		{"{\"topology\":{\"tensor\":4},\"engine\":{\"args\":[\"--tensor-parallel-size=2\"]}}", -EINVAL, 0, 0, 0, 0,
		 "spec.topology.tensor 4 and --tensor-parallel-size 2 in spec.engine.args differ"},
		{"{\"engine\":{\"args\":[\"--tensor-parallel-size=zero\"]}}", -EINVAL, 0, 0, 0, 0, "--tensor-parallel-size=zero"},
	};
	struct model_arch arch = {.known = true, .max_context = 40960};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[512];
		snprintf(buf, sizeof buf, "{\"spec\":%s}", rows[i].spec);
		json_object *md = parse(buf);
		struct md_sizing sz;
		char *msg = NULL;
		int rc = md_sizing_from_spec(md, &arch, &sz, &msg);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 0) {
			assert_int_equal(sz.context, rows[i].context);
			assert_int_equal(sz.tensor, rows[i].tensor);
			assert_int_equal(sz.pipeline, rows[i].pipeline);
			assert_true(sz.utilization > rows[i].util - 1e-9 && sz.utilization < rows[i].util + 1e-9);
			assert_int_equal(sz.sequences, 1);
		} else {
			assert_non_null(msg);
			if (!strstr(msg, rows[i].msg))
				fail_msg("row %zu: %s", i, msg);
		}
		free(msg);
		json_object_put(md);
	}
	json_object *md = parse("{\"spec\":{\"engine\":{\"image\":\"ghcr.io/ggml-org/llama.cpp:server\"}}}");
	struct md_sizing sz;
	char *msg = NULL;
	assert_int_equal(md_sizing_from_spec(md, NULL, &sz, &msg), 0);
	assert_true(sz.llamacpp);
	assert_int_equal(sz.context, 4096);   /* nothing known */
	json_object_put(md);
}

static void test_last_used(void **state)
{
	(void)state;
	/* 2026-12-03T10:00:00Z = 1796292000 */
	json_object *mc = parse("{\"status\":{\"lastUsedTime\":\"2026-12-03T10:00:00Z\"}}");
	assert_false(md_last_used_due(mc, 1796292000 + 3599));
	assert_true(md_last_used_due(mc, 1796292000 + 3600));
	json_object_put(mc);
	mc = parse("{\"status\":{}}");
	assert_true(md_last_used_due(mc, 0));
	json_object_put(mc);
}

static const char *cond(json_object *st, const char *type, const char *field)
{
	return jpath_str(jpath_find_type(jpath_child(st, "conditions"), type), field);
}

static void test_workload_failure(void **state)
{
	(void)state;
	static const struct {
		const char *deploy, *reason, *message;
	} cases[] = {
		{NULL, NULL, NULL},   /* no Deployment (yet) */
		{"{\"metadata\":{\"generation\":2},\"status\":{\"observedGeneration\":2,\"conditions\":["
		 "{\"type\":\"Available\",\"status\":\"True\"},{\"type\":\"Progressing\",\"status\":\"True\"}]}}",
		 NULL, NULL},
		{"{\"metadata\":{\"generation\":2},\"status\":{\"observedGeneration\":2,\"conditions\":["
		 "{\"type\":\"ReplicaFailure\",\"status\":\"True\",\"reason\":\"FailedCreate\","
		 "\"message\":\"pods \\\"d-5f-\\\" is forbidden: exceeded quota\"}]}}",
		 "FailedCreate", "pods \"d-5f-\" is forbidden: exceeded quota"},
		/* an old generation's failure: the controller has not seen the fix yet */
		{"{\"metadata\":{\"generation\":3},\"status\":{\"observedGeneration\":2,\"conditions\":["
		 "{\"type\":\"ReplicaFailure\",\"status\":\"True\",\"reason\":\"FailedCreate\",\"message\":\"x\"}]}}",
		 NULL, NULL},
		{"{\"metadata\":{\"generation\":1},\"status\":{\"observedGeneration\":1,\"conditions\":["
		 "{\"type\":\"ReplicaFailure\",\"status\":\"False\"},{\"type\":\"Progressing\",\"status\":\"False\","
		 "\"reason\":\"ProgressDeadlineExceeded\",\"message\":\"ReplicaSet \\\"d-5f\\\" has timed out progressing.\"}]}}",
		 "ProgressDeadlineExceeded", "ReplicaSet \"d-5f\" has timed out progressing."},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_object *d = cases[i].deploy ? parse(cases[i].deploy) : NULL;
		const char *msg = "unset", *reason = md_workload_failure(d, &msg);
		if (cases[i].reason) {
			assert_non_null(reason);
			assert_string_equal(reason, cases[i].reason);
			assert_string_equal(msg, cases[i].message);
		} else {
			assert_null(reason);
			assert_null(msg);
		}
		json_object_put(d);
	}
}

static void test_status(void **state)
{
	(void)state;
	json_object *md = parse("{\"metadata\":{\"generation\":3},\"status\":{\"conditions\":[{\"type\":\"Available\","
				"\"status\":\"False\",\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"},{\"type\":\"Scheduled\","
				"\"status\":\"True\",\"lastTransitionTime\":\"2026-01-02T00:00:00Z\"}]}}");
	struct md_status_in in = {.md = md, .now_s = 1796292000, .cache_status = "True", .cache_reason = "Resolved",
				  .ready_status = "True", .ready_reason = "Ready", .sched_status = "True",
				  .sched_reason = "Placed", .sched_message = "placed", .desired = 2, .ready = 1};
	json_object *st = NULL;
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "reason"), "ReplicasNotReady");
	assert_string_equal(cond(st, "Available", "message"), "1 of 2 replicas ready");
	assert_string_equal(cond(st, "Available", "lastTransitionTime"), "2026-01-01T00:00:00Z");   /* unchanged status */
	assert_string_equal(cond(st, "Scheduled", "lastTransitionTime"), "2026-01-02T00:00:00Z");
	assert_string_equal(cond(st, "Ready", "status"), "False");
	assert_string_equal(cond(st, "Stalled", "status"), "False");
	assert_int_equal(jpath_int_or(st, "replicas.desired", 0), 2);
	assert_int_equal(jpath_int_or(st, "observedGeneration", 0), 3);
	json_object_put(st);

	in.ready = 2;
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "status"), "True");
	assert_string_equal(cond(st, "Available", "reason"), "MinimumReplicasAvailable");
	assert_string_equal(cond(st, "Available", "lastTransitionTime"), "2026-12-03T10:00:00Z");   /* flipped now */
	json_object_put(st);

	in.ready = 0;
	in.sched_status = "False";
	in.sched_reason = "InvalidTopology";
	in.sched_message = "tensor parallel size 5 does not divide the 32 attention heads";
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "reason"), "InvalidTopology");
	assert_string_equal(cond(st, "Stalled", "status"), "True");
	assert_string_equal(cond(st, "Stalled", "message"), in.sched_message);
	json_object_put(st);

	in.sched_status = "True";
	in.sched_reason = "Placed";
	in.ready_status = "False";
	in.ready_reason = "Hydrating";
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "reason"), "WaitingForCache");
	json_object_put(st);

	/* a workload whose pods are refused: the controller's words */
	in.ready_status = "True";
	in.ready_reason = "Ready";
	in.workload_reason = "FailedCreate";
	in.workload_message = "cluster gpu-west: pods \"chat-7d9c-\" is forbidden: violates PodSecurity";
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "reason"), "FailedCreate");
	assert_string_equal(cond(st, "Available", "message"),
			    "0 of 2 replicas ready: cluster gpu-west: pods \"chat-7d9c-\" is forbidden: violates PodSecurity");
	assert_string_equal(cond(st, "Ready", "reason"), "FailedCreate");
	assert_string_equal(cond(st, "Stalled", "status"), "False");   /* a namespace label may fix it */
	json_object_put(st);
	in.ready = 2;   /* ready after all: the failure no longer matters */
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "reason"), "MinimumReplicasAvailable");
	json_object_put(st);
	in.ready = 0;
	in.workload_reason = in.workload_message = NULL;

	in.desired = 0;
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Available", "reason"), "ScaledToZero");
	assert_string_equal(cond(st, "Available", "status"), "True");
	json_object_put(st);

	in.invalid = "spec.engine.image: Required value";
	assert_int_equal(md_status_compute(&in, &st), 0);
	assert_string_equal(cond(st, "Valid", "status"), "False");
	assert_string_equal(cond(st, "Stalled", "status"), "True");
	assert_null(jpath_find_type(jpath_child(st, "conditions"), "Scheduled"));
	json_object_put(st);
	json_object_put(md);
}

static void test_slots(void **state)
{
	(void)state;
	json_object *pl = parse("[{\"replica\":0,\"cluster\":\"w\",\"nodes\":2,\"gpusPerNode\":8,\"tensor\":8,\"pipeline\":2,"
				"\"nodeNames\":[\"a\",\"b\"],\"message\":\"m\"},"
				"{\"replica\":1,\"cluster\":\"w\",\"nodes\":2,\"nodeNames\":[\"a\"]},"
				"{\"replica\":2,\"cluster\":\"w\",\"nodes\":1}]");
	size_t n = 0;
	struct placement_slot *s = md_slots_from_status(pl, &n);
	assert_int_equal(n, 1);   /* entries whose node names do not match their count are dropped */
	assert_string_equal(s[0].node_names[1], "b");
	assert_int_equal(s[0].pipeline, 2);
	struct placement_result r = {.slots = s, .nslots = n};
	json_object *back = md_placements_json(&r);
	assert_string_equal(jpath_str(json_object_array_get_idx(back, 0), "message"), "m");
	json_object *a = json_object_new_object(), *b = json_object_new_object();
	assert_true(md_status_equal(a, b));
	json_object_object_add(a, "placements", json_object_get(back));
	json_object_object_add(b, "placements", json_object_get(pl));
	assert_false(md_status_equal(a, b));
	json_object_object_add(b, "placements", json_object_get(back));
	assert_true(md_status_equal(a, b));
	json_object_put(a);
	json_object_put(b);
	json_object_put(back);
	md_slots_free(s, n);
	json_object_put(pl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inventory),
		cmocka_unit_test(test_sizing),
		cmocka_unit_test(test_last_used),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_workload_failure),
		cmocka_unit_test(test_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
