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

#include "util/clock.h"
#include "workqueue/workqueue.h"

static struct wq *mkq(struct mclock_fake *fc)
{
	struct wq_opts o = {.name = "t", .clock = fc ? &fc->base : NULL};
	struct wq *q = NULL;
	assert_int_equal(wq_new(&o, &q), 0);
	return q;
}

static void get_expect(struct wq *q, const char *want)
{
	char *k = NULL;
	assert_int_equal(wq_try_get(q, &k), 0);
	assert_string_equal(k, want);
	free(k);
}

static void test_dedup_fifo(void **st)
{
	(void)st;
	struct wq *q = mkq(NULL);
	wq_add(q, "a");
	wq_add(q, "b");
	wq_add(q, "a");
	assert_int_equal(wq_len(q), 2);
	get_expect(q, "a");
	get_expect(q, "b");
	char *k;
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	wq_done(q, "a");
	wq_done(q, "b");
	assert_int_equal(wq_processing(q), 0);
	wq_shutdown(q);
	wq_free(q);
}

static void test_dedup_while_processing(void **st)
{
	(void)st;
	struct wq *q = mkq(NULL);
	wq_add(q, "a");
	get_expect(q, "a");
	/* re-added while processing: not handed out to a second worker */
	wq_add(q, "a");
	wq_add(q, "a");
	char *k;
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	assert_int_equal(wq_len(q), 0);
	wq_done(q, "a");
	/* ... but processed again (once) after done */
	assert_int_equal(wq_len(q), 1);
	get_expect(q, "a");
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	wq_done(q, "a");
	assert_int_equal(wq_len(q), 0);
	wq_shutdown(q);
	wq_free(q);
}

static void test_delayed_add(void **st)
{
	(void)st;
	struct mclock_fake fc;
	mclock_fake_init(&fc, 0);
	struct wq *q = mkq(&fc);
	char *k;
	wq_add_after(q, "late", 1000);
	wq_add_after(q, "soon", 10);
	wq_add_after(q, "late", 2000);   /* keeps the earliest time */
	assert_int_equal(wq_delayed_len(q), 2);
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	mclock_fake_advance(&fc, 9 * 1000000ull);
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	mclock_fake_advance(&fc, 1 * 1000000ull);
	get_expect(q, "soon");
	wq_done(q, "soon");
	mclock_fake_advance(&fc, 989 * 1000000ull);
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	mclock_fake_advance(&fc, 1 * 1000000ull);
	get_expect(q, "late");
	wq_done(q, "late");
	assert_int_equal(wq_delayed_len(q), 0);
	wq_shutdown(q);
	wq_free(q);
	mclock_fake_cleanup(&fc);
}

static void test_item_exponential(void **st)
{
	(void)st;
	struct mclock_fake fc;
	mclock_fake_init(&fc, 0);
	struct wq *q = mkq(&fc);
	uint64_t want = 5;
	for (int i = 0; i < 30; i++) {
		/* advance so the global bucket never limits */
		mclock_fake_advance(&fc, 1000000000ull);
		uint64_t d = wq_rate_limit_when(q, "x");
		assert_int_equal(d, want);
		want = want * 2 > 1000000 ? 1000000 : want * 2;
	}
	assert_int_equal(wq_num_requeues(q, "x"), 30);
	mclock_fake_advance(&fc, 1000000000ull);
	assert_int_equal(wq_rate_limit_when(q, "x"), 1000000);   /* capped at 1000 s */
	wq_forget(q, "x");
	assert_int_equal(wq_num_requeues(q, "x"), 0);
	mclock_fake_advance(&fc, 1000000000ull);
	assert_int_equal(wq_rate_limit_when(q, "x"), 5);
	/* other keys are independent */
	assert_int_equal(wq_rate_limit_when(q, "y"), 5);
	wq_shutdown(q);
	wq_free(q);
	mclock_fake_cleanup(&fc);
}

static void test_token_bucket(void **st)
{
	(void)st;
	struct mclock_fake fc;
	mclock_fake_init(&fc, 0);
	struct wq *q = mkq(&fc);
	char key[32];
	/* burst of 100 distinct keys: each first failure = 5 ms (item), bucket free */
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%d", i);
		assert_int_equal(wq_rate_limit_when(q, key), 5);
	}
	/* bucket empty: 10/s => the 101st waits 100 ms, the 102nd 200 ms */
	assert_int_equal(wq_rate_limit_when(q, "k100"), 100);
	assert_int_equal(wq_rate_limit_when(q, "k101"), 200);
	/* time refills the bucket: after 1 s the debt of 2 is paid and 8 are back */
	mclock_fake_advance(&fc, 1000000000ull);
	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof key, "m%d", i);
		assert_int_equal(wq_rate_limit_when(q, key), 5);
	}
	assert_int_equal(wq_rate_limit_when(q, "m8"), 100);
	wq_shutdown(q);
	wq_free(q);
	mclock_fake_cleanup(&fc);
}

static void test_rate_limited_add_goes_through_delay(void **st)
{
	(void)st;
	struct mclock_fake fc;
	mclock_fake_init(&fc, 0);
	struct wq *q = mkq(&fc);
	char *k;
	wq_add_rate_limited(q, "r");   /* 5 ms */
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	mclock_fake_advance(&fc, 5 * 1000000ull);
	get_expect(q, "r");
	wq_done(q, "r");
	wq_add_rate_limited(q, "r");   /* 10 ms */
	mclock_fake_advance(&fc, 9 * 1000000ull);
	assert_int_equal(wq_try_get(q, &k), -EAGAIN);
	mclock_fake_advance(&fc, 1 * 1000000ull);
	get_expect(q, "r");
	wq_done(q, "r");
	wq_shutdown(q);
	wq_free(q);
	mclock_fake_cleanup(&fc);
}

struct worker_arg {
	struct wq *q;
	int got;
	int rc;
};

static void *blocking_getter(void *p)
{
	struct worker_arg *a = p;
	char *k = NULL;
	a->rc = wq_get(a->q, &k);
	if (a->rc == 0) {
		a->got = 1;
		usleep(50000);   /* an in-flight reconcile */
		wq_done(a->q, k);
		free(k);
	}
	return NULL;
}

static void test_blocking_get_and_shutdown_drain(void **st)
{
	(void)st;
	struct wq *q = mkq(NULL);
	struct worker_arg a = {.q = q};
	pthread_t t;
	pthread_create(&t, NULL, blocking_getter, &a);
	usleep(20000);
	wq_add(q, "a");
	/* wait until picked up */
	for (int i = 0; i < 500 && wq_processing(q) == 0 && !a.got; i++)
		usleep(2000);
	wq_add(q, "b");
	wq_shutdown(q);
	/* adds after shutdown are refused; queued b is not handed out */
	wq_add(q, "c");
	char *k;
	assert_int_equal(wq_try_get(q, &k), -ESHUTDOWN);
	assert_int_equal(wq_get(q, &k), -ESHUTDOWN);
	assert_int_equal(wq_drain(q, 5000), 0);   /* waits for the in-flight a */
	pthread_join(t, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.got, 1);
	assert_int_equal(wq_processing(q), 0);
	wq_free(q);
}

static void test_drain_timeout(void **st)
{
	(void)st;
	struct wq *q = mkq(NULL);
	wq_add(q, "stuck");
	get_expect(q, "stuck");
	wq_shutdown(q);
	assert_int_equal(wq_drain(q, 30), -ETIMEDOUT);
	wq_done(q, "stuck");
	assert_int_equal(wq_drain(q, 30), 0);
	wq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_fifo),
		cmocka_unit_test(test_dedup_while_processing),
		cmocka_unit_test(test_delayed_add),
		cmocka_unit_test(test_item_exponential),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_rate_limited_add_goes_through_delay),
		cmocka_unit_test(test_blocking_get_and_shutdown_drain),
		cmocka_unit_test(test_drain_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
