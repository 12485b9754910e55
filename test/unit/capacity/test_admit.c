/* pkg/capacity: the admission choice over a table (LRU order, pinned, in
 * use, not Ready, reserve, maxCaches, nothing evictable, the cache being
 * admitted, demand time), and the readers of its inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capacity/admit.h"

#define GI (1LL << 30)
#define T0 1795000000LL

/* flags of a cache row */
#define R 1   /* Ready */
#define P 2   /* pinned */
#define U 4   /* in use by a placed ModelDeployment */

struct crow {
	const char *key;     /* NULL ends the list; "-" = no ModelCache owns it */
	int64_t gib;
	int flags;
	int64_t used;        /* last used, seconds after T0 */
};

struct row {
	const char *name;
	int64_t cap_gib;     /* -1: no capacity */
	int64_t reserve_gib;
	int64_t max;
	struct crow caches[8];
	const char *req;
	int64_t req_gib;
	int64_t demanded;    /* seconds after T0 */
	enum capacity_verdict want;
	const char *evict;   /* keys in order, joined with ",", "" for none */
	const char *msg;     /* exact message, NULL = not checked */
};

static const struct row rows[] = {
	{"no budget: anything goes", -1, 0, 0, {{"a", 1000, R, 0}}, "c", 1000, 10, CAPACITY_ADMIT, "", ""},
	{"fits without evicting", 25, 0, 0, {{"a", 10, R, 1}}, "c", 10, 10, CAPACITY_ADMIT, "", ""},
	{"fits exactly", 20, 0, 0, {{"a", 10, R, 1}}, "c", 10, 10, CAPACITY_ADMIT, "", ""},
	{"LRU: the least recently used goes", 25, 0, 0, {{"a", 10, R, 2}, {"b", 10, R, 1}}, "c", 10, 10,
	 CAPACITY_ADMIT, "b", "c needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB)"},
	{"LRU: as many as it takes, oldest first", 30, 0, 0, {{"a", 10, R, 3}, {"b", 10, R, 1}, {"d", 10, R, 2}}, "c",
	 20, 10, CAPACITY_ADMIT, "b,d", NULL},
	{"LRU ties broken by key", 25, 0, 0, {{"b", 10, R, 1}, {"a", 10, R, 1}}, "c", 10, 10, CAPACITY_ADMIT, "a", NULL},
	{"pinned is never evicted", 25, 0, 0, {{"a", 10, R | P, 1}, {"b", 10, R, 2}}, "c", 10, 10, CAPACITY_ADMIT, "b",
	 NULL},
	{"in use is never evicted", 25, 0, 0, {{"a", 10, R | U, 1}, {"b", 10, R, 2}}, "c", 10, 10, CAPACITY_ADMIT, "b",
	 NULL},
	{"pinned + in use: nothing evictable", 25, 0, 0, {{"a", 10, R | P, 1}, {"b", 10, R | U, 2}}, "c", 10, 10,
	 CAPACITY_INSUFFICIENT, "",
	 "needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing evictable: 1 cache in use, 1 pinned"},
	{"the issue's example", 100, 10, 0,
	 {{"a", 20, R | U, 1}, {"b", 20, R | U, 1}, {"d", 5, R | U, 1}, {"e", 20, R | P, 1}}, "c", 40, 10,
	 CAPACITY_INSUFFICIENT, "",
	 "needs 40 GiB; gpu-west has 25 GiB free of 100 GiB (reserve 10 GiB) and nothing evictable: 3 caches in use, 1 pinned"},
	{"reserve: capacity 30 reserve 10 is capacity 20", 30, 10, 0, {{"a", 10, R, 1}, {"b", 10, R, 2}}, "c", 10, 10,
	 CAPACITY_ADMIT, "a", NULL},
	{"reserve: the same without reserve fits", 30, 0, 0, {{"a", 10, R, 1}, {"b", 10, R, 2}}, "c", 10, 10,
	 CAPACITY_ADMIT, "", NULL},
	{"maxCaches with plenty of bytes", 1000, 0, 2, {{"a", 10, R, 2}, {"b", 10, R, 1}}, "c", 10, 10, CAPACITY_ADMIT,
	 "b", "c needs a cache slot; gpu-west holds 2 of maxCaches 2"},
	{"maxCaches without capacity", -1, 0, 2, {{"a", 10, R, 2}, {"b", 10, R, 1}}, "c", 10, 10, CAPACITY_ADMIT, "b",
	 NULL},
	{"maxCaches: nothing evictable", -1, 0, 1, {{"a", 10, R | P, 1}}, "c", 10, 10, CAPACITY_INSUFFICIENT, "",
	 "needs a cache slot; gpu-west holds 1 of maxCaches 1 and nothing evictable: 1 cache pinned"},
	{"bytes and count both short", 20, 0, 2, {{"a", 10, R, 1}, {"b", 10, R, 2}}, "c", 10, 10, CAPACITY_ADMIT, "a",
	 "c needs 10 GiB and a cache slot; gpu-west has 0 GiB free of 20 GiB (reserve 0 GiB) and holds 2 of maxCaches 2"},
	{"not Ready (being composed) is never evicted", 25, 0, 0, {{"a", 10, 0, 1}, {"b", 10, 0, 2}}, "c", 10, 10,
	 CAPACITY_INSUFFICIENT, "",
	 "needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing evictable: 2 caches not Ready"},
	{"demand time: used after the request is not evictable", 50, 0, 0,
	 {{"a", 10, R, 10}, {"b", 10, R, 10}, {"d", 10, R, 11}, {"e", 10, R, 12}, {"f", 10, R, 10}}, "c", 10, 10,
	 CAPACITY_INSUFFICIENT, "",
	 "needs 10 GiB; gpu-west has 0 GiB free of 50 GiB (reserve 0 GiB) and nothing evictable: "
	 "5 caches last used after this cache was requested"},
	{"demand time: used strictly before is evictable", 50, 0, 0,
	 {{"a", 10, R, 10}, {"b", 10, R, 9}, {"d", 10, R, 11}, {"e", 10, R, 12}, {"f", 10, R, 10}}, "c", 10, 10,
	 CAPACITY_ADMIT, "b", NULL},
	{"demand time: a later demand (bring-back) can evict", 50, 0, 0,
	 {{"a", 10, R, 10}, {"b", 10, R, 10}, {"d", 10, R, 11}, {"e", 10, R, 12}, {"f", 10, R, 10}}, "c", 10, 100,
	 CAPACITY_ADMIT, "a", NULL},
	{"the cache being admitted is already there: admitted", 20, 0, 1, {{"a", 10, R, 1}, {"c", 10, 0, 5}}, "c", 10,
	 10, CAPACITY_ADMIT, "", ""},
	{"the cache being admitted grows: only the growth counts, never itself", 25, 0, 0,
	 {{"c", 10, R, 0}, {"a", 10, R, 1}}, "c", 20, 10, CAPACITY_ADMIT, "a",
	 "c needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB)"},
	{"too big for the budget whatever happens", 25, 5, 0, {{"a", 10, R, 1}}, "c", 30, 10, CAPACITY_INSUFFICIENT, "",
	 "needs 30 GiB; gpu-west has 10 GiB free of 25 GiB (reserve 5 GiB) and evicting all 1 evictable cache (10 GiB) "
	 "would not be enough"},
	{"evictable but not enough: nothing touched", 30, 0, 0, {{"a", 10, R, 1}, {"b", 15, R | U, 1}}, "c", 20, 10,
	 CAPACITY_INSUFFICIENT, "",
	 "needs 20 GiB; gpu-west has 5 GiB free of 30 GiB (reserve 0 GiB) and evicting all 1 evictable cache (10 GiB) "
	 "would not be enough: 1 cache in use"},
	{"empty cluster, too big", 10, 0, 0, {{NULL, 0, 0, 0}}, "c", 11, 10, CAPACITY_INSUFFICIENT, "",
	 "needs 11 GiB; gpu-west has 10 GiB free of 10 GiB (reserve 0 GiB) and nothing evictable: no other cache there"},
	{"a volume without a ModelCache counts and stays", 25, 0, 0, {{"-", 10, R, 0}, {"a", 10, R, 1}}, "c", 10, 10,
	 CAPACITY_ADMIT, "a", NULL},
	{"a volume without a ModelCache is not evictable", 15, 0, 0, {{"-", 10, R, 0}}, "c", 10, 10,
	 CAPACITY_INSUFFICIENT, "",
	 "needs 10 GiB; gpu-west has 5 GiB free of 15 GiB (reserve 0 GiB) and nothing evictable: "
	 "1 cache retained without a ModelCache"},
	{"small numbers", 3, 0, 0, {{"a", 2, R | P, 1}}, "c", 2, 10, CAPACITY_INSUFFICIENT, "",
	 "needs 2 GiB; gpu-west has 1 GiB free of 3 GiB (reserve 0 GiB) and nothing evictable: 1 cache pinned"},
};

static void run_row(const struct row *r)
{
	struct capacity_cache cs[8];
	size_t n = 0;
	for (; n < 8 && r->caches[n].key; n++) {
		const struct crow *c = &r->caches[n];
		cs[n] = (struct capacity_cache){.key = strcmp(c->key, "-") == 0 ? NULL : c->key,
						.size_bytes = c->gib * GI, .ready = c->flags & R, .pinned = c->flags & P,
						.in_use = c->flags & U, .last_used_s = T0 + c->used};
	}
	struct capacity_budget b = {.cluster = "gpu-west", .capacity_bytes = r->cap_gib < 0 ? -1 : r->cap_gib * GI,
				    .reserve_bytes = r->reserve_gib * GI, .max_caches = r->max};
	struct capacity_request q = {.key = r->req, .size_bytes = r->req_gib * GI, .demanded_s = T0 + r->demanded};
	struct capacity_decision d;
	assert_int_equal(capacity_admit(&b, cs, n, &q, &d), 0);
	char got[256] = "";
	for (size_t i = 0; i < d.nevict; i++) {
		assert_true(d.evict[i] < n);
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", cs[d.evict[i]].key);
	}
	if (d.verdict != r->want || strcmp(got, r->evict) != 0 || (r->msg && strcmp(d.message, r->msg) != 0))
		print_error("row \"%s\": verdict %d evict \"%s\" message \"%s\"\n", r->name, d.verdict, got, d.message);
	assert_int_equal(d.verdict, r->want);
	assert_string_equal(got, r->evict);
	if (r->msg)
		assert_string_equal(d.message, r->msg);
	if (d.verdict == CAPACITY_INSUFFICIENT)
		assert_int_equal(d.nevict, 0);
	capacity_decision_cleanup(&d);
}

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		run_row(&rows[i]);
}

/* The order the caller lists the caches in does not change the choice. */
static void test_order_independent(void **state)
{
	(void)state;
	struct capacity_cache cs[4] = {
		{.key = "ns/a", .size_bytes = 10 * GI, .ready = true, .last_used_s = T0 + 3},
		{.key = "ns/b", .size_bytes = 10 * GI, .ready = true, .last_used_s = T0 + 1},
		{.key = "ns/d", .size_bytes = 10 * GI, .ready = true, .last_used_s = T0 + 2},
		{.key = "ns/e", .size_bytes = 10 * GI, .ready = true, .last_used_s = T0 + 1},
	};
	struct capacity_budget b = {.cluster = "x", .capacity_bytes = 40 * GI, .max_caches = 0};
	struct capacity_request q = {.key = "ns/c", .size_bytes = 15 * GI, .demanded_s = T0 + 10};
	for (int rot = 0; rot < 4; rot++) {
		struct capacity_cache r[4];
		for (int i = 0; i < 4; i++)
			r[i] = cs[(i + rot) % 4];
		struct capacity_decision d;
		assert_int_equal(capacity_admit(&b, r, 4, &q, &d), 0);
		assert_int_equal(d.verdict, CAPACITY_ADMIT);
		assert_int_equal(d.nevict, 2);
		assert_string_equal(r[d.evict[0]].key, "ns/b");
		assert_string_equal(r[d.evict[1]].key, "ns/e");
		assert_int_equal(d.evict_bytes, 20 * GI);
		assert_int_equal(d.used_bytes, 40 * GI);
		assert_int_equal(d.free_bytes, 0);
		capacity_decision_cleanup(&d);
	}
}

/* Ten caches decided one after the other (as serialized admission does):
 * five fit in 50 GiB, five do not, none evicts another. */
static void test_serialized_batch(void **state)
{
	(void)state;
	struct capacity_cache on[10];
	char keys[10][8];
	size_t n = 0, waiting = 0;
	struct capacity_budget b = {.cluster = "x", .capacity_bytes = 50 * GI};
	for (int i = 0; i < 10; i++) {
		snprintf(keys[i], sizeof keys[i], "ns/c%d", i);
		struct capacity_request q = {.key = keys[i], .size_bytes = 10 * GI, .demanded_s = T0};
		struct capacity_decision d;
		assert_int_equal(capacity_admit(&b, on, n, &q, &d), 0);
		assert_int_equal(d.nevict, 0);
		if (d.verdict == CAPACITY_ADMIT)
			on[n++] = (struct capacity_cache){.key = keys[i], .size_bytes = 10 * GI, .last_used_s = T0};
		else
			waiting++;
		capacity_decision_cleanup(&d);
	}
	assert_int_equal(n, 5);
	assert_int_equal(waiting, 5);
	/* the five become Ready (at or after the moment the others were applied) */
	for (size_t i = 0; i < n; i++)
		on[i].ready = true, on[i].last_used_s = T0 + (int64_t)i;
	struct capacity_request q = {.key = "ns/c9", .size_bytes = 10 * GI, .demanded_s = T0};
	struct capacity_decision d;
	assert_int_equal(capacity_admit(&b, on, n, &q, &d), 0);
	assert_int_equal(d.verdict, CAPACITY_INSUFFICIENT);
	assert_int_equal(d.blockers.newer, 5);
	capacity_decision_cleanup(&d);
}

static void test_bad_input(void **state)
{
	(void)state;
	struct capacity_decision d;
	struct capacity_budget b = {.capacity_bytes = 10};
	struct capacity_request q = {.key = "c", .size_bytes = -1};
	assert_int_equal(capacity_admit(&b, NULL, 0, &q, &d), -EINVAL);
	capacity_decision_cleanup(&d);
	q.size_bytes = 1;
	assert_int_equal(capacity_admit(NULL, NULL, 0, &q, &d), -EINVAL);
	assert_int_equal(capacity_admit(&b, NULL, 3, &q, &d), -EINVAL);
	struct capacity_cache c = {.key = "a", .size_bytes = -5};
	assert_int_equal(capacity_admit(&b, &c, 1, &q, &d), -EINVAL);
	assert_int_equal(capacity_admit(&b, NULL, 0, &q, NULL), -EINVAL);
	/* sizes near INT64_MAX saturate instead of wrapping */
	struct capacity_cache big[2] = {{.key = "a", .size_bytes = INT64_MAX, .ready = true},
					{.key = "b", .size_bytes = INT64_MAX, .ready = true}};
	q.size_bytes = INT64_MAX;
	q.demanded_s = 1;
	assert_int_equal(capacity_admit(&b, big, 2, &q, &d), 0);
	assert_int_equal(d.verdict, CAPACITY_INSUFFICIENT);
	capacity_decision_cleanup(&d);
	assert_false(capacity_limited(&(struct capacity_budget){.capacity_bytes = -1}));
	assert_true(capacity_limited(&(struct capacity_budget){.capacity_bytes = 0}));
	assert_true(capacity_limited(&(struct capacity_budget){.capacity_bytes = -1, .max_caches = 3}));
}

static void test_gib(void **state)
{
	(void)state;
	char s[32];
	capacity_format_gib(40 * GI, s, sizeof s);
	assert_string_equal(s, "40 GiB");
	capacity_format_gib(GI * 5 / 2, s, sizeof s);
	assert_string_equal(s, "2.5 GiB");
	capacity_format_gib(0, s, sizeof s);
	assert_string_equal(s, "0 GiB");
	capacity_format_gib(1 << 20, s, sizeof s);
	assert_string_equal(s, "0.000977 GiB");
}

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void test_lru_time(void **state)
{
	(void)state;
	json_object *mc = parse("{\"metadata\":{\"creationTimestamp\":\"2026-12-03T10:00:00Z\"},"
				"\"status\":{\"clusters\":[{\"name\":\"w\",\"phase\":\"Ready\","
				"\"lastTransitionTime\":\"2026-12-03T11:00:00Z\"},{\"name\":\"e\",\"phase\":\"Hydrating\","
				"\"lastTransitionTime\":\"2026-12-03T12:00:00Z\"}]}}");
	int64_t created = 1796292000, ready = created + 3600;
	assert_int_equal(capacity_lru_time(mc, "w"), ready);
	assert_int_equal(capacity_lru_time(mc, "e"), created);   /* not Ready there: creation */
	assert_int_equal(capacity_lru_time(mc, "x"), created);
	json_object_object_add(json_object_object_get(mc, "status"), "lastUsedTime",
			       json_object_new_string("2026-12-03T13:00:00Z"));
	assert_int_equal(capacity_lru_time(mc, "w"), created + 3 * 3600);
	json_object_put(mc);
	mc = parse("{\"metadata\":{\"creationTimestamp\":\"junk\"}}");
	assert_int_equal(capacity_lru_time(mc, "w"), 0);
	json_object_put(mc);
}

static void test_md_placed(void **state)
{
	(void)state;
	json_object *mds = parse(
		"[{\"metadata\":{\"namespace\":\"ns\",\"name\":\"m1\",\"creationTimestamp\":\"2026-12-03T10:00:00Z\"},"
		"\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}},\"status\":{\"placements\":[{\"replica\":0,\"cluster\":\"w\"}]}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"m2\",\"creationTimestamp\":\"2026-12-03T11:00:00Z\"},"
		"\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}},\"status\":{\"placements\":[{\"cluster\":\"e\"},{\"cluster\":\"w\"}]}},"
		"{\"metadata\":{\"namespace\":\"other\",\"name\":\"m3\",\"creationTimestamp\":\"2026-12-03T12:00:00Z\"},"
		"\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}},\"status\":{\"placements\":[{\"cluster\":\"x\"}]}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"m4\",\"deletionTimestamp\":\"2026-12-03T12:00:00Z\"},"
		"\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}},\"status\":{\"placements\":[{\"cluster\":\"y\"}]}},"
		"{\"metadata\":{\"namespace\":\"ns\",\"name\":\"m5\"},\"spec\":{\"modelCacheRef\":{\"name\":\"q\"}}}]");
	int64_t t = -1;
	assert_true(capacity_md_placed(mds, "ns", "q", "w", &t));
	assert_int_equal(t, 1796292000 + 3600);   /* the newest demand */
	assert_true(capacity_md_placed(mds, "ns", "q", "e", &t));
	assert_int_equal(t, 1796292000 + 3600);
	assert_false(capacity_md_placed(mds, "ns", "q", "x", &t));    /* other namespace */
	assert_int_equal(t, 0);
	assert_false(capacity_md_placed(mds, "ns", "q", "y", NULL));  /* being deleted */
	assert_false(capacity_md_placed(mds, "ns", "other", "w", NULL));
	assert_false(capacity_md_placed(NULL, "ns", "q", "w", NULL));
	json_object_put(mds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_serialized_batch),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_gib),
		cmocka_unit_test(test_lru_time),
		cmocka_unit_test(test_md_placed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
