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

#include "api/api.h"
#include "controller/apply.h"
#include "controller/controller.h"
#include "metrics/metrics.h"
#include "util/clock.h"
#include "workqueue/workqueue.h"

static struct ctrl_label_keys cache_keys = {"modelcache.dev/cache-namespace", "modelcache.dev/cache"};

struct rctx {
	pthread_mutex_t mu;
	int calls_a, calls_err, calls_term, calls_req, calls_slow;
	int concurrent, max_concurrent;
	int err_left;
	bool gate_open;           /* "a" waits for it */
	pthread_cond_t gate;
	struct ctrl *c;           /* "slow" watches its queue */
	bool slow_finished;
	unsigned long rids[64];
	int nrids;
};

static int reconcile(void *ctx, const char *key, struct ctrl_result *res)
{
	struct rctx *r = ctx;
	pthread_mutex_lock(&r->mu);
	r->concurrent++;
	if (r->concurrent > r->max_concurrent)
		r->max_concurrent = r->concurrent;
	if (r->nrids < 64)
		r->rids[r->nrids++] = ctrl_current_rid();
	pthread_mutex_unlock(&r->mu);
	int rc = 0;
	if (strcmp(key, "a") == 0) {
		/* held until the test has re-added it meanwhile */
		pthread_mutex_lock(&r->mu);
		while (!r->gate_open)
			pthread_cond_wait(&r->gate, &r->mu);
		r->calls_a++;
		pthread_mutex_unlock(&r->mu);
	} else if (strcmp(key, "err") == 0) {
		pthread_mutex_lock(&r->mu);
		r->calls_err++;
		if (r->err_left > 0) {
			r->err_left--;
			rc = -EIO;
		}
		pthread_mutex_unlock(&r->mu);
	} else if (strcmp(key, "term") == 0) {
		pthread_mutex_lock(&r->mu);
		r->calls_term++;
		pthread_mutex_unlock(&r->mu);
		res->kind = CTRL_TERMINAL;
		snprintf(res->message, sizeof res->message, "invalid spec");
		rc = -EINVAL;
	} else if (strcmp(key, "req") == 0) {
		pthread_mutex_lock(&r->mu);
		int n = ++r->calls_req;
		pthread_mutex_unlock(&r->mu);
		if (n < 3) {
			res->kind = CTRL_REQUEUE_AFTER;
			res->requeue_after_ms = 10;
		}
	} else if (strcmp(key, "slow") == 0) {
		pthread_mutex_lock(&r->mu);
		r->calls_slow++;
		pthread_mutex_unlock(&r->mu);
		/* still running when ctrl_stop shuts the queue down (bounded: 60 s) */
		for (int i = 0; i < 60000; i++) {
			char *k = NULL;
			int qrc = wq_try_get(ctrl_queue(r->c), &k);
			if (qrc == -ESHUTDOWN)
				break;
			if (qrc == 0) {   /* nothing else is queued in that test */
				wq_done(ctrl_queue(r->c), k);
				free(k);
			}
			usleep(1000);
		}
		pthread_mutex_lock(&r->mu);
		r->slow_finished = true;
		pthread_mutex_unlock(&r->mu);
	}
	pthread_mutex_lock(&r->mu);
	r->concurrent--;
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static int val(struct rctx *r, int *p)
{
	pthread_mutex_lock(&r->mu);
	int v = *p;
	pthread_mutex_unlock(&r->mu);
	return v;
}

/* Polls for a condition another thread brings about (bounded: 60 s, the
 * machine may be loaded); time in the controller comes from a fake clock. */
static void wait_val(struct rctx *r, int *p, int want)
{
	for (int i = 0; i < 60000 && val(r, p) < want; i++)
		usleep(1000);
	assert_true(val(r, p) >= want);
}

static void wait_delayed(struct ctrl *c, size_t want)
{
	for (int i = 0; i < 60000 && wq_delayed_len(ctrl_queue(c)) != want; i++)
		usleep(1000);
	assert_int_equal(wq_delayed_len(ctrl_queue(c)), want);
}

static struct ctrl *mk_clock(struct rctx *r, int workers, const struct mclock *clock)
{
	struct ctrl_opts o = {.name = "test", .workers = workers, .reconcile = reconcile, .ctx = r, .clock = clock};
	struct ctrl *c;
	assert_int_equal(ctrl_new(&o, &c), 0);
	r->c = c;
	return c;
}

static struct ctrl *mk(struct rctx *r, int workers)
{
	return mk_clock(r, workers, NULL);
}

static void test_results(void **st)
{
	(void)st;
	struct mclock_fake clk;
	mclock_fake_init(&clk, 1700000000LL * 1000000000LL);
	struct rctx r = {.mu = PTHREAD_MUTEX_INITIALIZER, .err_left = 3};
	struct ctrl *c = mk_clock(&r, 4, &clk.base);
	ctrl_enqueue(c, "err");
	ctrl_enqueue(c, "term");
	ctrl_enqueue(c, "req");
	assert_int_equal(ctrl_start(c), 0);
	/* first pass: "err" waits 5 ms (backoff), "req" 10 ms (requeue-after) */
	wait_val(&r, &r.calls_term, 1);
	wait_delayed(c, 2);
	assert_int_equal(val(&r, &r.calls_err), 1);
	assert_int_equal(val(&r, &r.calls_req), 1);
	/* error: retried with backoff (5, 10, 20 ms) until it succeeds */
	mclock_fake_advance(&clk, 5000000ull);    /* t=5: err */
	wait_val(&r, &r.calls_err, 2);
	wait_delayed(c, 2);
	assert_int_equal(val(&r, &r.calls_req), 1);
	mclock_fake_advance(&clk, 5000000ull);    /* t=10: req (again after 10 ms) */
	wait_val(&r, &r.calls_req, 2);
	wait_delayed(c, 2);
	assert_int_equal(val(&r, &r.calls_err), 2);   /* due at 15 */
	mclock_fake_advance(&clk, 5000000ull);    /* t=15: err, next due at 35 */
	wait_val(&r, &r.calls_err, 3);
	wait_delayed(c, 2);
	/* requeue-after: called again after the delay, then done */
	mclock_fake_advance(&clk, 5000000ull);    /* t=20: req, done */
	wait_val(&r, &r.calls_req, 3);
	wait_delayed(c, 1);
	assert_int_equal(val(&r, &r.calls_err), 3);
	mclock_fake_advance(&clk, 15000000ull);   /* t=35: err succeeds */
	wait_val(&r, &r.calls_err, 4);
	wait_delayed(c, 0);
	assert_int_equal(ctrl_stop(c, 60000), 0);   /* joins the workers: the figures are final */
	assert_int_equal(val(&r, &r.calls_err), 4);
	assert_int_equal(val(&r, &r.calls_req), 3);
	/* terminal: not retried */
	assert_int_equal(val(&r, &r.calls_term), 1);
	assert_int_equal(wq_num_requeues(ctrl_queue(c), "err"), 0);   /* forgotten on success */
	struct ctrl_stats s;
	ctrl_stats(c, &s);
	assert_int_equal(s.errors, 3);
	assert_int_equal(s.terminal, 1);
	assert_int_equal(s.requeues, 2);
	assert_int_equal(s.reconciles, 8);
	/* the same figures in the Prometheus registry */
	static const char *k[] = {"controller", "result"};
	const char *ve[] = {"test", "error"}, *vt[] = {"test", "terminal"}, *vs[] = {"test", "success"};
	assert_true(metrics_counter_value(metrics_counter_get("modelcache_reconcile_total", "", 2, k, ve)) == 3.0);
	assert_true(metrics_counter_value(metrics_counter_get("modelcache_reconcile_total", "", 2, k, vt)) == 1.0);
	assert_true(metrics_counter_value(metrics_counter_get("modelcache_reconcile_total", "", 2, k, vs)) == 2.0);
	uint64_t n = 0;
	double sum = 0;
	metrics_histogram_read(metrics_histogram_get("modelcache_reconcile_duration_seconds", "", 0, NULL, 2, k, ve), &n, &sum);
	assert_int_equal(n, 3);
	/* every reconcile had its own id */
	for (int i = 0; i < r.nrids; i++) {
		assert_true(r.rids[i] > 0);
		for (int j = 0; j < i; j++)
			assert_true(r.rids[i] != r.rids[j]);
	}
	ctrl_free(c);
	mclock_fake_cleanup(&clk);
}

static void test_one_worker_per_key(void **st)
{
	(void)st;
	struct rctx r = {.mu = PTHREAD_MUTEX_INITIALIZER, .gate = PTHREAD_COND_INITIALIZER};
	struct ctrl *c = mk(&r, 4);
	assert_int_equal(ctrl_start(c), 0);
	ctrl_enqueue(c, "a");
	wait_val(&r, &r.concurrent, 1);
	/* added many times while processing: never concurrently, once more after */
	for (int i = 0; i < 20; i++)
		ctrl_enqueue(c, "a");
	assert_int_equal(wq_len(ctrl_queue(c)), 0);   /* dirty, not ready, while in flight */
	pthread_mutex_lock(&r.mu);
	r.gate_open = true;
	pthread_cond_broadcast(&r.gate);
	pthread_mutex_unlock(&r.mu);
	wait_val(&r, &r.calls_a, 2);
	assert_int_equal(wq_len(ctrl_queue(c)), 0);   /* nothing left for a third run */
	assert_int_equal(ctrl_stop(c, 60000), 0);
	assert_int_equal(val(&r, &r.calls_a), 2);
	assert_int_equal(r.max_concurrent, 1);
	ctrl_free(c);
}

static void test_stop_drains_in_flight(void **st)
{
	(void)st;
	struct rctx r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct ctrl *c = mk(&r, 2);
	assert_int_equal(ctrl_start(c), 0);
	ctrl_enqueue(c, "slow");
	wait_val(&r, &r.calls_slow, 1);
	assert_int_equal(ctrl_stop(c, 60000), 0);
	pthread_mutex_lock(&r.mu);
	assert_true(r.slow_finished);   /* the in-flight reconcile completed before stop returned */
	pthread_mutex_unlock(&r.mu);
	ctrl_enqueue(c, "slow");   /* refused after stop */
	assert_int_equal(wq_len(ctrl_queue(c)), 0);
	ctrl_free(c);
}

static void test_map_by_cache_labels(void **st)
{
	(void)st;
	json_object *o = json_tokener_parse("{\"metadata\":{\"name\":\"pvc\",\"labels\":{"
		"\"modelcache.dev/cache\":\"qwen\",\"modelcache.dev/cache-namespace\":\"ml-team\"}}}");
	char key[64];
	assert_int_equal(ctrl_map_by_label_keys(&cache_keys, o, key, sizeof key), 0);
	assert_string_equal(key, "ml-team/qwen");
	json_object_put(o);
	o = json_tokener_parse("{\"metadata\":{\"name\":\"pvc\",\"labels\":{\"modelcache.dev/cache\":\"qwen\"}}}");
	assert_int_equal(ctrl_map_by_label_keys(&cache_keys, o, key, sizeof key), -1);
	json_object_put(o);
}

static int noop(void *ctx, const char *key, struct ctrl_result *res)
{
	(void)ctx;
	(void)key;
	(void)res;
	return 0;
}

static void test_map_handler_events(void **st)
{
	(void)st;
	struct ctrl *c = NULL;
	struct ctrl_opts o = {.name = "map", .reconcile = noop};
	assert_int_equal(ctrl_new(&o, &c), 0);   /* not started: keys wait in the queue */
	struct informer_handler h;
	ctrl_handler_for_map(c, ctrl_map_by_label_keys, &cache_keys, &h);
	json_object *a = json_tokener_parse("{\"metadata\":{\"name\":\"pvc\",\"resourceVersion\":\"1\",\"labels\":{"
		"\"modelcache.dev/cache\":\"a\",\"modelcache.dev/cache-namespace\":\"ns\"}}}");
	json_object *b = json_tokener_parse("{\"metadata\":{\"name\":\"pvc\",\"resourceVersion\":\"2\",\"labels\":{"
		"\"modelcache.dev/cache\":\"b\",\"modelcache.dev/cache-namespace\":\"ns\"}}}");
	h.on_update(h.ctx, a, a);   /* a resync: the owner's own informer covers it */
	assert_int_equal(wq_len(ctrl_queue(c)), 0);
	h.on_update(h.ctx, a, b);   /* relabelled: old and new owner */
	assert_int_equal(wq_len(ctrl_queue(c)), 2);
	h.on_add(h.ctx, b);         /* deduplicated while queued */
	h.on_delete(h.ctx, a);
	assert_int_equal(wq_len(ctrl_queue(c)), 2);
	json_object_put(a);
	json_object_put(b);
	ctrl_handler_map_free(&h);
	ctrl_free(c);
}

static void test_desired_hash_canonical(void **st)
{
	(void)st;
	json_object *a = json_tokener_parse("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\",\"labels\":{\"b\":\"2\",\"a\":\"1\"}},"
					    "\"spec\":{\"size\":\"1/2\",\"list\":[1,2]}}");
	json_object *b = json_tokener_parse("{\"spec\":{\"list\":[1,2],\"size\":\"1/2\"},\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"},"
					    "\"annotations\":{\"modelcache.dev/desired-hash\":\"old\"},\"name\":\"x\"},\"kind\":\"PVC\"}");
	char *ca = ctrl_canonical_json(a);
	assert_string_equal(ca, "{\"kind\":\"PVC\",\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"name\":\"x\"},"
				"\"spec\":{\"list\":[1,2],\"size\":\"1/2\"}}");
	free(ca);
	char ha[65], hb[65];
	ctrl_desired_hash(a, ha);
	ctrl_desired_hash(b, hb);
	/* key order and the hash annotation itself do not matter... */
	assert_string_equal(ha, hb);
	/* ... but content does */
	json_object *spec;
	json_object_object_get_ex(b, "spec", &spec);
	json_object_object_add(spec, "size", json_object_new_string("2"));
	ctrl_desired_hash(b, hb);
	assert_string_not_equal(ha, hb);
	json_object_put(a);
	json_object_put(b);
}

static void test_apply_skipped_when_hash_equal(void **st)
{
	(void)st;
	/* observed carries the same hash: no request is made (client NULL would crash otherwise) */
	json_object *desired = json_tokener_parse("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\"}}");
	char h[65];
	ctrl_desired_hash(desired, h);
	char buf[256];
	snprintf(buf, sizeof buf, "{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\",\"annotations\":{\"modelcache.dev/desired-hash\":\"%s\"}}}", h);
	json_object *observed = json_tokener_parse(buf);
	bool applied = true;
	assert_int_equal(ctrl_apply_if_changed(NULL, &KUBE_RES_PVCS, "ns", desired, observed, &applied, NULL, NULL), 0);
	assert_false(applied);
	json_object *md, *ann, *v;
	json_object_object_get_ex(desired, "metadata", &md);
	json_object_object_get_ex(md, "annotations", &ann);
	assert_true(json_object_object_get_ex(ann, API_ANN_DESIRED_HASH, &v));
	assert_string_equal(json_object_get_string(v), h);
	/* same for status */
	json_object *obs = json_tokener_parse("{\"metadata\":{\"name\":\"x\"},\"status\":{\"a\":1,\"b\":[\"x\"]}}");
	json_object *status = json_tokener_parse("{\"b\":[\"x\"],\"a\":1}");
	bool updated = true;
	assert_int_equal(ctrl_update_status_if_changed(NULL, &KUBE_RES_INFERENCECLUSTERS, obs, status, &updated, NULL), 0);
	assert_false(updated);
	json_object_put(obs);
	json_object_put(status);
	json_object_put(desired);
	json_object_put(observed);
}

static void test_read_your_writes_guard(void **st)
{
	(void)st;
	struct rctx r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct ctrl *c = mk(&r, 1);
	assert_false(ctrl_cache_stale(c, "ns/a", "5"));
	ctrl_note_write(c, "ns/a", "5");   /* we wrote over version 5 */
	assert_true(ctrl_cache_stale(c, "ns/a", "5"));    /* cache still shows 5 */
	assert_true(ctrl_cache_stale(c, "ns/a", "5"));
	assert_false(ctrl_cache_stale(c, "ns/b", "5"));   /* other keys unaffected */
	assert_false(ctrl_cache_stale(c, "ns/a", "6"));   /* caught up: note dropped */
	assert_false(ctrl_cache_stale(c, "ns/a", "5"));
	ctrl_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_results),
		cmocka_unit_test(test_one_worker_per_key),
		cmocka_unit_test(test_stop_drains_in_flight),
		cmocka_unit_test(test_map_by_cache_labels),
		cmocka_unit_test(test_map_handler_events),
		cmocka_unit_test(test_desired_hash_canonical),
		cmocka_unit_test(test_apply_skipped_when_hash_equal),
		cmocka_unit_test(test_read_your_writes_guard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
