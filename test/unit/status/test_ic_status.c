/* status_ic_compute: the InferenceCluster's Ready rules as a table (one row
 * per observation: validity, connection, namespace, GPU pools, storage
 * class) -> Connected and Ready (status, reason, message), version and
 * whether the previous gpuPools/cache are kept; and status_ic_cache's sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "status/inferencecluster.h"
#include "util/jpath.h"

#define NOW 1795000000LL

struct row {
	const char *what;
	/* observed */
	const char *invalid;
	const char *conn;          /* "True", "False", NULL */
	const char *conn_reason;
	const char *ns_error;
	bool pools;                /* pools observed this time */
	bool pools_pending;
	bool had_pools;            /* the previous status has gpuPools */
	bool sc_missing;
	/* expected */
	const char *connected, *connected_reason;
	const char *ready, *ready_reason, *ready_msg;   /* ready_msg: a substring */
	bool valid_false;
	bool version;
};

static const struct row rows[] = {
	{"invalid spec", "spec.connection: unknown", NULL, NULL, NULL, false, false, false, false,
	 "Unknown", "Invalid", "False", "Invalid", "spec.connection: unknown", true, false},
	{"unreachable", NULL, "False", "Unreachable", NULL, false, false, false, false,
	 "False", "Unreachable", "False", "Unreachable", "GET", false, false},
	{"kubeconfig invalid", NULL, "False", "KubeconfigInvalid", NULL, false, false, false, false,
	 "False", "KubeconfigInvalid", "False", "KubeconfigInvalid", "GET", false, false},
	{"never checked", NULL, NULL, NULL, NULL, false, false, false, false,
	 "Unknown", "Unknown", "False", "Unknown", "", false, false},
	{"connected, namespace failed", NULL, "True", "Connected", "namespace modelcache: forbidden", true, false,
	 false, false, "True", "Connected", "False", "NamespaceFailed", "forbidden", false, true},
	{"connected, Nodes being listed", NULL, "True", "Connected", NULL, false, true, false, false,
	 "True", "Connected", "False", "Discovering", "listing Nodes", false, true},
	{"connected, Nodes being listed, pools known before", NULL, "True", "Connected", NULL, false, true, true,
	 false, "True", "Connected", "True", "Ready", "1 GPU pool", false, true},
	{"connected, storage class missing", NULL, "True", "Connected", NULL, true, false, false, true,
	 "True", "Connected", "False", "StorageClassMissing", "storage class fast does not exist on gpu-west",
	 false, true},
	{"namespace failure wins over the storage class", NULL, "True", "Connected", "namespace x: boom", true,
	 false, false, true, "True", "Connected", "False", "NamespaceFailed", "boom", false, true},
	{"connected, two pools", NULL, "True", "Connected", NULL, true, false, false, false,
	 "True", "Connected", "True", "Ready", "2 GPU pools", false, true},
};

static const char *cond_field(json_object *status, const char *type, const char *field)
{
	return jpath_str_or(api_condition_find(status, type), field, NULL);
}

static void test_ready_rules(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		json_object *status = json_object_new_object();
		if (r->had_pools)
			json_object_object_add(status, "gpuPools", json_tokener_parse("[{\"name\":\"a\"}]"));
		json_object_object_add(status, "cache", json_tokener_parse("{\"usedBytes\":7}"));
		struct status_ic_in in = {
			.cluster = "gpu-west",
			.invalid = r->invalid,
			.conn_status = r->conn,
			.conn_reason = r->conn_reason,
			.conn_message = r->conn ? "GET https://x/version: refused" : NULL,
			.version = "v1.28.7",
			.namespace_error = r->ns_error,
			.storage_class_missing = r->sc_missing,
			.storage_class = "fast",
			.gpu_pools = r->pools ? json_tokener_parse("[{\"name\":\"a\"},{\"name\":\"b\"}]") : NULL,
			.pools_pending = r->pools_pending,
		};
		if (r->conn && strcmp(r->conn, "True") == 0)
			in.conn_message = "Connected to https://x (v1.28.7)";
		status_ic_compute(status, &in, 3, NOW);
		printf("row %zu: %s\n", i, r->what);
		assert_int_equal(jpath_int_or(status, "observedGeneration", -1), 3);
		assert_string_equal(cond_field(status, "Connected", "status"), r->connected);
		assert_string_equal(cond_field(status, "Connected", "reason"), r->connected_reason);
		assert_string_equal(cond_field(status, "Ready", "status"), r->ready);
		assert_string_equal(cond_field(status, "Ready", "reason"), r->ready_reason);
		const char *m = cond_field(status, "Ready", "message");
		assert_non_null(strstr(m ? m : "", r->ready_msg));
		assert_int_equal(jpath_int_or(api_condition_find(status, "Ready"), "observedGeneration", -1), 3);
		if (r->valid_false)
			assert_string_equal(cond_field(status, "Valid", "status"), "False");
		else
			assert_null(api_condition_find(status, "Valid"));
		assert_int_equal(jpath_get(status, "version") != NULL, r->version);
		/* the previous cache is kept when none was observed */
		assert_int_equal(jpath_int_or(status, "cache.usedBytes", -1), 7);
		json_object_put(status);
	}
}

/* Ready's lastTransitionTime moves only when its status changes. */
static void test_transition_time_kept(void **state)
{
	(void)state;
	json_object *status = json_object_new_object();
	struct status_ic_in in = {.cluster = "c", .conn_status = "True", .conn_reason = "Connected",
				  .conn_message = "ok", .gpu_pools = json_tokener_parse("[]")};
	status_ic_compute(status, &in, 1, NOW);
	char *t0 = strdup(cond_field(status, "Ready", "lastTransitionTime"));
	in.gpu_pools = json_tokener_parse("[]");
	status_ic_compute(status, &in, 2, NOW + 100);
	assert_string_equal(cond_field(status, "Ready", "lastTransitionTime"), t0);
	in.conn_status = "False";
	in.conn_reason = "Unreachable";
	in.gpu_pools = NULL;
	status_ic_compute(status, &in, 2, NOW + 200);
	assert_string_not_equal(cond_field(status, "Ready", "lastTransitionTime"), t0);
	free(t0);
	json_object_put(status);
}

static void test_cache_sums(void **state)
{
	(void)state;
	struct api_inferencecluster ic;
	memset(&ic, 0, sizeof ic);
	ic.storage_class = "rwx";
	ic.capacity_bytes = 100LL << 30;
	ic.reserve_bytes = 10LL << 30;
	ic.max_caches = 3;
	json_object *pvcs = json_tokener_parse(
		"[{\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{\"requests\":{\"storage\":\"10Gi\"}}}},"
		" {\"metadata\":{\"name\":\"b\",\"deletionTimestamp\":\"2026-01-01T00:00:00Z\"},"
		"  \"spec\":{\"resources\":{\"requests\":{\"storage\":\"50Gi\"}}}},"
		" {\"metadata\":{\"name\":\"c\"},\"spec\":{\"resources\":{\"requests\":{\"storage\":\"5Gi\"}}}}]");
	struct status_ic_usage u = {0};
	for (size_t i = 0; i < json_object_array_length(pvcs); i++)
		status_ic_usage_add(&u, json_object_array_get_idx(pvcs, i));
	assert_int_equal(u.used_bytes, 15LL << 30);
	assert_int_equal(u.caches, 2);
	json_object *o = status_ic_cache(&ic, &u);
	assert_int_equal(jpath_int_or(o, "usedBytes", -1), 15LL << 30);
	assert_string_equal(jpath_str_or(o, "used", ""), "15Gi");
	assert_int_equal(jpath_int_or(o, "caches", -1), 2);
	assert_int_equal(jpath_int_or(o, "capacityBytes", -1), 100LL << 30);
	assert_int_equal(jpath_int_or(o, "reserveBytes", -1), 10LL << 30);
	assert_string_equal(jpath_str_or(o, "capacity", ""), "100Gi");
	assert_int_equal(jpath_int_or(o, "maxCaches", -1), 3);
	assert_string_equal(jpath_str_or(o, "storageClassName", ""), "rwx");
	json_object_put(o);
	json_object_put(pvcs);
	/* sizes that overflow int64 saturate */
	pvcs = json_tokener_parse(
		"[{\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{\"requests\":{\"storage\":\"4Ei\"}}}},"
		" {\"metadata\":{\"name\":\"b\"},\"spec\":{\"resources\":{\"requests\":{\"storage\":\"4Ei\"}}}},"
		" {\"metadata\":{\"name\":\"c\"},\"spec\":{\"resources\":{\"requests\":{\"storage\":\"4Ei\"}}}}]");
	ic.capacity_bytes = -1;
	u = (struct status_ic_usage){0};
	for (size_t i = 0; i < json_object_array_length(pvcs); i++)
		status_ic_usage_add(&u, json_object_array_get_idx(pvcs, i));
	assert_int_equal(u.used_bytes, INT64_MAX);
	o = status_ic_cache(&ic, &u);
	assert_int_equal(jpath_int_or(o, "usedBytes", -1), INT64_MAX);
	assert_null(jpath_get(o, "capacityBytes"));
	json_object_put(o);
	json_object_put(pvcs);
	/* nothing known yet */
	o = status_ic_cache(&ic, NULL);
	assert_int_equal(jpath_int_or(o, "usedBytes", -1), 0);
	assert_int_equal(jpath_int_or(o, "caches", -1), 0);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready_rules),
		cmocka_unit_test(test_transition_time_kept),
		cmocka_unit_test(test_cache_sums),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
