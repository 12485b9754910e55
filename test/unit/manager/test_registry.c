/* The cluster registry end to end inside one process: a loopback API server
 * (lists + a streaming watch), the real kube client and watch mux, the
 * reflector, the informers, the cluster watches that map events to keys, the
 * config-hash rebuild and the removal. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "manager/registry.h"
#include "testserver/testserver.h"

static struct ctrl_label_keys cache_keys = {"modelcache.dev/cache-namespace", "modelcache.dev/cache"};

struct srv {
	pthread_mutex_t mu;
	int lists, watches;
	char last_selector[256];
};

#define PVC(name, rv) \
	"{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ml\",\"resourceVersion\":\"" rv "\",\"labels\":{" \
	"\"app.kubernetes.io/managed-by\":\"modelcache-operator\",\"modelcache.dev/cache\":\"qwen\"," \
	"\"modelcache.dev/cache-namespace\":\"ml-team\"}}}"

static void handler(void *ctx, const struct ts_request *req, struct ts_conn *c)
{
	struct srv *s = ctx;
	char w[16] = "", sel[256] = "";
	ts_query(req, "watch", w, sizeof w);
	ts_query(req, "labelSelector", sel, sizeof sel);
	bool nodes = strncmp(req->path, "/api/v1/nodes", 13) == 0;
	bool pvcs = strncmp(req->path, "/api/v1/persistentvolumeclaims", 30) == 0;
	if (!nodes && !pvcs) {
		ts_respond_json(c, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (pvcs)
		snprintf(s->last_selector, sizeof s->last_selector, "%s", sel);
	if (strcmp(w, "true") != 0 && strcmp(w, "1") != 0) {
		s->lists++;
		pthread_mutex_unlock(&s->mu);
		if (nodes)
			ts_respond_json(c, 200, "{\"kind\":\"NodeList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":["
					       "{\"metadata\":{\"name\":\"n1\",\"resourceVersion\":\"3\"}}]}");
		else
			ts_respond_json(c, 200, "{\"kind\":\"PersistentVolumeClaimList\",\"metadata\":{\"resourceVersion\":\"5\"},"
					       "\"items\":[" PVC("p1", "4") "]}");
		return;
	}
	s->watches++;
	pthread_mutex_unlock(&s->mu);
	ts_begin_chunked(c, 200, NULL, "application/json");
	if (pvcs)
		ts_chunk_str(c, "{\"type\":\"ADDED\",\"object\":" PVC("p2", "7") "}\n");
	else
		ts_chunk_str(c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"n2\",\"resourceVersion\":\"6\"}}}\n");
	ts_wait_closed(c, 20000);
	ts_end_chunked(c);
}

static int noop_reconcile(void *ctx, const char *key, struct ctrl_result *res)
{
	(void)ctx;
	(void)key;
	(void)res;
	return 0;
}

static struct kube_config *cfg_for(struct ts_server *ts)
{
	char kc[1024];
	snprintf(kc, sizeof kc,
		 "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n"
		 "users:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "current-context: x\n", ts_url(ts));
	struct kube_config *cfg = NULL;
	char *err = NULL;
	assert_int_equal(kube_config_from_bytes(kc, strlen(kc), NULL, false, &cfg, &err), 0);
	return cfg;
}

static void wait_len(struct informer *inf, size_t want)
{
	for (int i = 0; i < 3000 && store_len(informer_store(inf)) < want; i++)
		usleep(1000);
	assert_int_equal(store_len(informer_store(inf)), want);
}

static void test_registry_clusters_and_watches(void **st)
{
	(void)st;
	struct srv s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct ts_server *ts;
	assert_int_equal(ts_start(NULL, handler, &s, &ts), 0);
	struct kube_watch_mux *mux;
	assert_int_equal(kube_watch_mux_new(&mux), 0);
	struct registry_opts ro = {.mux = mux};
	struct registry *reg;
	assert_int_equal(registry_new(&ro, &reg), 0);
	/* controllers that receive the mapped keys (not started: keys wait in their queues) */
	struct ctrl *mc, *icc;
	struct ctrl_opts co = {.name = "mc", .reconcile = noop_reconcile};
	assert_int_equal(ctrl_new(&co, &mc), 0);
	co.name = "ic";
	assert_int_equal(ctrl_new(&co, &icc), 0);
	const char *sel = "app.kubernetes.io/managed-by=modelcache-operator";
	assert_int_equal(registry_add_watch(reg, &KUBE_RES_PVCS, sel, ctrl_map_by_label_keys, &cache_keys, mc), 0);

	bool rebuilt = false;
	char *err = NULL;
	assert_int_equal(registry_ensure(reg, "west", cfg_for(ts), "h1", false, "modelcache", &rebuilt, &err), 0);
	assert_true(rebuilt);
	/* a watch registered after the cluster exists applies to it too */
	assert_int_equal(registry_add_cluster_self_watch(reg, &KUBE_RES_NODES, NULL, icc), 0);

	struct cluster *c = registry_acquire(reg, "west");
	assert_non_null(c);
	assert_string_equal(cluster_name(c), "west");
	assert_false(cluster_is_local(c));
	assert_string_equal(cluster_target_namespace(c), "modelcache");
	/* the same (resource, selector) is one shared informer: list (p1) + watch (p2) */
	struct informer *pvcs = cluster_informer(c, &KUBE_RES_PVCS, NULL, sel);
	assert_ptr_equal(pvcs, cluster_informer(c, &KUBE_RES_PVCS, NULL, sel));
	wait_len(pvcs, 2);
	assert_true(informer_has_synced(pvcs));
	pthread_mutex_lock(&s.mu);
	assert_string_equal(s.last_selector, sel);
	pthread_mutex_unlock(&s.mu);
	/* both PVC events mapped to the owning ModelCache key, deduplicated */
	assert_int_equal(wq_len(ctrl_queue(mc)), 1);
	char *key = NULL;
	assert_int_equal(wq_try_get(ctrl_queue(mc), &key), 0);
	assert_string_equal(key, "ml-team/qwen");
	wq_done(ctrl_queue(mc), key);
	free(key);
	/* nodes: events enqueue the cluster's own name, coalesced: the two
	 * Node events give one key, after the coalescing delay */
	struct informer *nodes = cluster_informer(c, &KUBE_RES_NODES, NULL, NULL);
	wait_len(nodes, 2);
	int got = -1;
	for (int i = 0; i < 500 && got != 0; i++) {
		got = wq_try_get(ctrl_queue(icc), &key);
		if (got != 0)
			usleep(10000);
	}
	assert_int_equal(got, 0);
	assert_string_equal(key, "west");
	wq_done(ctrl_queue(icc), key);
	free(key);
	usleep(1200000);
	assert_int_equal(wq_len(ctrl_queue(icc)) + wq_delayed_len(ctrl_queue(icc)), 0);

	/* same config hash: nothing rebuilt */
	assert_int_equal(registry_ensure(reg, "west", cfg_for(ts), "h1", false, "modelcache", &rebuilt, &err), 0);
	assert_false(rebuilt);
	struct cluster *same = registry_acquire(reg, "west");
	assert_ptr_equal(same, c);
	cluster_release(same);
	/* a new hash (the Secret changed): a new client and informers; the old
	 * reference stays usable until released */
	assert_int_equal(registry_ensure(reg, "west", cfg_for(ts), "h2", false, "modelcache", &rebuilt, &err), 0);
	assert_true(rebuilt);
	struct cluster *c2 = registry_acquire(reg, "west");
	assert_ptr_not_equal(c2, c);
	assert_int_equal(store_len(informer_store(pvcs)), 2);   /* old informer still alive */
	cluster_release(c);
	wait_len(cluster_informer(c2, &KUBE_RES_PVCS, NULL, sel), 2);
	cluster_release(c2);

	size_t n;
	char **names = registry_names(reg, &n);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "west");
	store_keys_free(names, n);
	registry_remove(reg, "west");
	assert_null(registry_acquire(reg, "west"));
	names = registry_names(reg, &n);
	assert_int_equal(n, 0);
	store_keys_free(names, n);

	registry_free(reg);
	kube_watch_mux_free(mux);
	ctrl_free(mc);
	ctrl_free(icc);
	ts_stop(ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_clusters_and_watches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
