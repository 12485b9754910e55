/* pkg/capacity view: admission from the objects' status (what render shows):
 * the inventory read from ModelCaches and status.cache, LRU eviction named,
 * pinned / in use InsufficientCapacity with the operator's message, caches
 * admitted one after the other, composed already, not grown, Evicted,
 * no budget; and the helpers both the reconciler and the view use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity/view.h"

#define GI (1LL << 30)

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static json_object *ic_with(const char *cache, const char *status)
{
	char *s = NULL;
	assert_true(asprintf(&s,
			     "{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"InferenceCluster\","
			     "\"metadata\":{\"name\":\"gpu-west\"},\"spec\":{\"connection\":{\"local\":{}}%s%s}%s%s}",
			     cache ? ",\"cache\":" : "", cache ? cache : "", status ? ",\"status\":" : "",
			     status ? status : "") > 0);
	json_object *o = parse(s);
	free(s);
	return o;
}

/* A ModelCache in ns "ml" with an entry on gpu-west. */
static json_object *mc_on(const char *name, const char *size, const char *phase, const char *reason,
			  const char *ltt, const char *extra_meta)
{
	char *s = NULL;
	assert_true(asprintf(&s,
			     "{\"kind\":\"ModelCache\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ml\","
			     "\"creationTimestamp\":\"2026-12-01T00:00:00Z\"%s},"
			     "\"spec\":{\"huggingFace\":{\"repo\":\"o/%s\"}},\"status\":{\"size\":\"%s\","
			     "\"clusters\":[{\"name\":\"gpu-west\",\"phase\":\"%s\",\"reason\":\"%s\",\"message\":\"m-%s\","
			     "\"lastTransitionTime\":\"%s\"}]}}",
			     name, extra_meta ? extra_meta : "", name, size, phase, reason, name, ltt) > 0);
	json_object *o = parse(s);
	free(s);
	return o;
}

static json_object *new_mc(const char *name)
{
	char *s = NULL;
	assert_true(asprintf(&s, "{\"kind\":\"ModelCache\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ml\"},"
				 "\"spec\":{\"huggingFace\":{\"repo\":\"o/%s\"}}}",
			     name, name) > 0);
	json_object *o = parse(s);
	free(s);
	return o;
}

static json_object *md_serving(const char *cache)
{
	char *s = NULL;
	assert_true(asprintf(&s,
			     "{\"kind\":\"ModelDeployment\",\"metadata\":{\"name\":\"serve-%s\",\"namespace\":\"ml\","
			     "\"creationTimestamp\":\"2026-12-01T00:00:00Z\"},\"spec\":{\"modelCacheRef\":{\"name\":\"%s\"}},"
			     "\"status\":{\"placements\":[{\"replica\":0,\"cluster\":\"gpu-west\"}]}}",
			     cache, cache) > 0);
	json_object *o = parse(s);
	free(s);
	return o;
}

static char *text(struct capacity_view *v, struct capacity_report *r)
{
	struct buf b;
	buf_init(&b, 1u << 16);
	assert_int_equal(capacity_report_text(v, r, "# ", &b), 0);
	return buf_take(&b, NULL);
}

static struct capacity_view *view(json_object *ic, json_object *objs)
{
	struct capacity_view *v = NULL;
	char *msg = NULL;
	assert_int_equal(capacity_view_new(ic, objs, &v, &msg), 0);
	assert_null(msg);
	return v;
}

/* a (older) and b Ready on 25Gi: c evicts a and names it; d (applied with
 * c) then evicts b, never c (composed, not Ready yet) */
static void test_lru(void **state)
{
	(void)state;
	json_object *ic = ic_with("{\"capacity\":\"25Gi\"}", "{\"cache\":{\"usedBytes\":21474836480,\"caches\":2}}");
	json_object *objs = json_object_new_array();
	json_object_array_add(objs, mc_on("a", "10Gi", "Ready", "Staged", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, mc_on("b", "10Gi", "Ready", "Staged", "2026-12-01T02:00:00Z", NULL));
	struct capacity_view *v = view(ic, objs);
	assert_true(capacity_view_limited(v));
	assert_string_equal(capacity_view_notes(v), "");
	json_object *c = new_mc("c"), *d = new_mc("d"), *e = new_mc("e");
	struct capacity_report r;
	assert_int_equal(capacity_view_admit(v, c, 10 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_EVICTS);
	assert_int_equal(r.nvictims, 1);
	assert_string_equal(r.victims[0].key, "ml/a");
	assert_int_equal(r.victims[0].size_bytes, 10 * GI);
	assert_string_equal(r.victims[0].message, "evicted from gpu-west (least recently used, 10Gi) to make room: "
						  "ml/c needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB)");
	char *t = text(v, &r);
	assert_string_equal(t, "# Admitted after evicting 1 cache (least recently used first): needs 10 GiB; gpu-west has "
			       "5 GiB free of 25 GiB (reserve 0 GiB), 5 GiB after\n"
			       "#   evicts ml/a (10Gi, last used 2026-12-01T01:00:00Z; Ready, not pinned, not in use): "
			       "evicted from gpu-west (least recently used, 10Gi) to make room: ml/c needs 10 GiB; gpu-west "
			       "has 5 GiB free of 25 GiB (reserve 0 GiB)\n");
	free(t);
	capacity_report_cleanup(&r);
	assert_int_equal(capacity_view_admit(v, d, 10 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_EVICTS);
	assert_string_equal(r.victims[0].key, "ml/b");
	capacity_report_cleanup(&r);
	/* c and d hold the space now, neither Ready: e waits */
	assert_int_equal(capacity_view_admit(v, e, 10 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_WAITS);
	assert_string_equal(r.message, "needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing "
				       "evictable: 2 caches not Ready");
	t = text(v, &r);
	assert_string_equal(t, "# Pending (InsufficientCapacity): needs 10 GiB; gpu-west has 5 GiB free of 25 GiB "
			       "(reserve 0 GiB) and nothing evictable: 2 caches not Ready\n");
	free(t);
	capacity_report_cleanup(&r);
	capacity_view_free(v);
	json_object_put(c);
	json_object_put(d);
	json_object_put(e);
	json_object_put(objs);
	json_object_put(ic);
}

/* pinned a, b in use by a placed ModelDeployment: the numbers */
static void test_pinned_in_use(void **state)
{
	(void)state;
	json_object *ic = ic_with("{\"capacity\":\"100Gi\",\"reserve\":\"10Gi\"}", NULL);
	json_object *objs = json_object_new_array();
	json_object_array_add(objs, mc_on("a", "20Gi", "Ready", "Staged", "2026-12-01T01:00:00Z",
					  ",\"annotations\":{\"modelcache.dev/pinned\":\"true\"}"));
	json_object_array_add(objs, mc_on("b", "20Gi", "Ready", "Staged", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, mc_on("d", "20Gi", "Ready", "Staged", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, mc_on("e", "5Gi", "Hydrating", "Hydrating", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, mc_on("s", "50Gi", "Skipped", "InsufficientVRAM", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, mc_on("x", "50Gi", "Evicted", "Evicted", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, mc_on("w", "50Gi", "Pending", "InsufficientCapacity", "2026-12-01T01:00:00Z", NULL));
	json_object_array_add(objs, md_serving("b"));
	json_object_array_add(objs, md_serving("d"));
	struct capacity_view *v = view(ic, objs);
	json_object *c = new_mc("c");
	struct capacity_report r;
	assert_int_equal(capacity_view_admit(v, c, 40 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_WAITS);
	assert_string_equal(r.message, "needs 40 GiB; gpu-west has 25 GiB free of 100 GiB (reserve 10 GiB) and nothing "
				       "evictable: 2 caches in use, 1 pinned, 1 not Ready");
	capacity_report_cleanup(&r);
	/* a smaller one fits: free before and after */
	assert_int_equal(capacity_view_admit(v, c, 5 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_FITS);
	char *t = text(v, &r);
	assert_string_equal(t, "# Admitted: needs 5 GiB; gpu-west has 25 GiB free of 100 GiB (reserve 10 GiB), 20 GiB after\n");
	free(t);
	capacity_report_cleanup(&r);
	/* the Evicted x stays so (no ModelDeployment asks for it) */
	json_object *x = new_mc("x");
	assert_int_equal(capacity_view_admit(v, x, 50 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_STAYS_EVICTED);
	assert_string_equal(r.message, "m-x");
	capacity_report_cleanup(&r);
	/* composed there already (its copy has a volume): no decision */
	json_object *e = new_mc("e");
	assert_int_equal(capacity_view_admit(v, e, 5 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_COMPOSED);
	t = text(v, &r);
	assert_string_equal(t, "# Admitted: composed on gpu-west already (5Gi)\n");
	free(t);
	capacity_report_cleanup(&r);
	/* growing it beyond what is free: kept at its size */
	assert_int_equal(capacity_view_admit(v, e, 60 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_NOT_GROWN);
	assert_int_equal(r.size_bytes, 5 * GI);
	capacity_report_cleanup(&r);
	capacity_view_free(v);
	json_object_put(e);
	json_object_put(x);
	json_object_put(c);
	json_object_put(objs);
	json_object_put(ic);
}

/* status.cache counts volumes the ModelCaches given do not: never evicted */
static void test_unaccounted(void **state)
{
	(void)state;
	json_object *ic = ic_with("{\"capacity\":\"30Gi\",\"maxCaches\":3}",
				  "{\"cache\":{\"usedBytes\":26843545600,\"caches\":3}}");
	json_object *objs = json_object_new_array();
	json_object_array_add(objs, mc_on("a", "10Gi", "Ready", "Staged", "2026-12-01T01:00:00Z", NULL));
	struct capacity_view *v = view(ic, objs);
	assert_string_equal(capacity_view_notes(v),
			    "status.cache of gpu-west counts 3 volumes, the ModelCaches given 1: 2 more (15Gi) counted as "
			    "volumes no ModelCache owns (never evicted)\n");
	json_object *c = new_mc("c");
	struct capacity_report r;
	assert_int_equal(capacity_view_admit(v, c, 5 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_EVICTS);
	assert_string_equal(r.victims[0].key, "ml/a");
	char *t = text(v, &r);
	assert_non_null(strstr(t, "needs 5 GiB; gpu-west has 5 GiB free of 30 GiB (reserve 0 GiB), 10 GiB after; "
				  "gpu-west holds 3 of maxCaches 3, 3 after\n"));
	free(t);
	capacity_report_cleanup(&r);
	capacity_view_free(v);
	/* a count past the cap is refused, not allocated */
	json_object_put(ic);
	ic = ic_with("{\"capacity\":\"30Gi\"}", "{\"cache\":{\"usedBytes\":1,\"caches\":99999999999}}");
	char *msg = NULL;
	v = NULL;
	assert_int_equal(capacity_view_new(ic, objs, &v, &msg), -EINVAL);
	assert_null(v);
	assert_non_null(strstr(msg, "status.cache.caches 99999999999"));
	free(msg);
	json_object_put(c);
	json_object_put(objs);
	json_object_put(ic);
}

/* no budget: nothing decided; an invalid InferenceCluster is an error */
static void test_unlimited_and_invalid(void **state)
{
	(void)state;
	json_object *ic = ic_with(NULL, "{\"cache\":{\"usedBytes\":5,\"caches\":7}}");
	struct capacity_view *v = view(ic, NULL);
	assert_false(capacity_view_limited(v));
	json_object *c = new_mc("c");
	struct capacity_report r;
	assert_int_equal(capacity_view_admit(v, c, 1000 * GI, &r), 0);
	assert_int_equal(r.outcome, CAPACITY_UNLIMITED);
	char *t = text(v, &r);
	assert_string_equal(t, "");
	free(t);
	capacity_report_cleanup(&r);
	assert_int_equal(capacity_view_admit(v, NULL, GI, &r), -EINVAL);
	capacity_view_free(v);
	json_object_put(ic);
	ic = parse("{\"kind\":\"InferenceCluster\",\"metadata\":{\"name\":\"bad\"},\"spec\":{\"cache\":{\"capacity\":\"lots\"}}}");
	char *msg = NULL;
	assert_int_equal(capacity_view_new(ic, NULL, &v, &msg), -EINVAL);
	assert_non_null(msg);
	assert_non_null(strstr(msg, "InferenceCluster bad is invalid"));
	free(msg);
	json_object_put(ic);
	json_object_put(c);
}

/* The helpers the reconciler feeds capacity_admit with. */
static void test_helpers(void **state)
{
	(void)state;
	json_object *mc = mc_on("a", "10Gi", "Ready", "Staged", "2026-12-01T01:00:00Z",
				",\"annotations\":{\"modelcache.dev/pinned\":\"true\"}");
	struct capacity_cache c;
	capacity_cache_of(mc, "ml/a", "gpu-west", true, 7, &c);
	assert_string_equal(c.key, "ml/a");
	assert_int_equal(c.size_bytes, 7);
	assert_true(c.ready && c.pinned && c.in_use);
	assert_int_equal(c.last_used_s, 1796086800);   /* Ready there since */
	capacity_cache_of(mc, "ml/a", "elsewhere", false, 7, &c);
	assert_false(c.ready || c.in_use);
	assert_int_equal(c.last_used_s, 1796083200);   /* creation */
	json_object *ev = parse("{\"phase\":\"Evicted\",\"lastTransitionTime\":\"2026-12-01T01:00:00Z\"}");
	assert_int_equal(capacity_demand_time(100, 50, false, ev, 999), 100);
	assert_int_equal(capacity_demand_time(100, 150, false, ev, 999), 150);
	assert_int_equal(capacity_demand_time(100, 150, true, ev, 999), 1796086800);
	assert_int_equal(capacity_demand_time(100, 150, true, NULL, 999), 999);
	char *m = capacity_evicted_message("w", 10 * GI, "why");
	assert_string_equal(m, "evicted from w (least recently used, 10Gi) to make room: why");
	free(m);
	json_object_put(ev);
	json_object_put(mc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_pinned_in_use),
		cmocka_unit_test(test_unaccounted),
		cmocka_unit_test(test_unlimited_and_invalid),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
