/* The informer (pkg/cache/informer.c) and the reflector beneath it, against
 * a fake transport and a fake clock. */
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

#include "cache/informer.h"
#include "util/clock.h"

struct fake {
	pthread_mutex_t mu;
	char *list_json;          /* next list response */
	int list_fail;            /* next N lists fail */
	int watch_gone;           /* next N watch starts return 410 */
	int lists, starts, stops;
	char start_rv[16][32];
	kube_watch_event_cb ev;
	kube_watch_done_cb done;
	void *cbctx;
	bool open;
};

static int f_list(void *t, json_object **out, struct kube_error *err)
{
	struct fake *f = t;
	pthread_mutex_lock(&f->mu);
	int rc = 0;
	if (f->list_fail > 0) {
		f->list_fail--;
		rc = kube_error_set(err, KUBE_ERR_UNAVAILABLE, "connection refused");
	} else {
		*out = json_tokener_parse(f->list_json);
		f->lists++;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int f_watch_start(void *t, const char *rv, kube_watch_event_cb ev, kube_watch_done_cb done, void *cbctx,
			 void **h, struct kube_error *err)
{
	struct fake *f = t;
	pthread_mutex_lock(&f->mu);
	int rc = 0;
	if (f->starts < 16)
		snprintf(f->start_rv[f->starts], 32, "%s", rv ? rv : "");
	f->starts++;
	if (f->watch_gone > 0) {
		f->watch_gone--;
		rc = kube_error_set(err, KUBE_ERR_GONE, "too old resource version");
	} else {
		f->ev = ev;
		f->done = done;
		f->cbctx = cbctx;
		f->open = true;
		*h = f;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void f_watch_stop(void *t, void *h)
{
	struct fake *f = t;
	(void)h;
	pthread_mutex_lock(&f->mu);
	f->open = false;
	f->stops++;
	pthread_mutex_unlock(&f->mu);
}

static int get_int(struct fake *f, int *p)
{
	pthread_mutex_lock(&f->mu);
	int v = *p;
	pthread_mutex_unlock(&f->mu);
	return v;
}

/* Wait (real time, bounded) until *p >= want. */
static void wait_int(struct fake *f, int *p, int want)
{
	for (int i = 0; i < 2000 && get_int(f, p) < want; i++)
		usleep(1000);
	assert_true(get_int(f, p) >= want);
}

/* Move the fake clock forward in steps until *p >= want (the reflector may
 * compute its deadline after any given advance). */
static void advance_until(struct fake *f, struct mclock_fake *clk, int *p, int want)
{
	for (int i = 0; i < 2000 && get_int(f, p) < want; i++) {
		mclock_fake_advance(clk, 100000000ull);
		usleep(1000);
	}
	assert_true(get_int(f, p) >= want);
}

static void wait_open(struct fake *f)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&f->mu);
		bool o = f->open;
		pthread_mutex_unlock(&f->mu);
		if (o)
			return;
		usleep(1000);
	}
	fail_msg("watch never (re)opened");
}

static void send(struct fake *f, enum kube_watch_type t, const char *json)
{
	json_object *o = json_tokener_parse(json);
	assert_non_null(o);
	json_object *md, *rv = NULL;
	if (json_object_object_get_ex(o, "metadata", &md))
		json_object_object_get_ex(md, "resourceVersion", &rv);
	struct kube_watch_event ev = {t, o, rv ? json_object_get_string(rv) : NULL};
	f->ev(f->cbctx, &ev);
	json_object_put(o);
}

static void end_stream(struct fake *f, int rc)
{
	pthread_mutex_lock(&f->mu);
	kube_watch_done_cb d = f->done;
	void *c = f->cbctx;
	pthread_mutex_unlock(&f->mu);
	struct kube_error e = {0};
	d(c, rc, &e);
}

struct rec {
	pthread_mutex_t mu;
	char log[4096];
	int failures;
};

static void rec_add(struct rec *r, const char *tag, json_object *o)
{
	char *k = store_key_of(o);
	pthread_mutex_lock(&r->mu);
	size_t l = strlen(r->log);
	snprintf(r->log + l, sizeof r->log - l, "%s:%s ", tag, k);
	pthread_mutex_unlock(&r->mu);
	free(k);
}
static void h_add(void *c, json_object *o) { rec_add(c, "A", o); }
static void h_upd(void *c, json_object *o, json_object *n) { (void)o; rec_add(c, "U", n); }
static void h_del(void *c, json_object *o) { rec_add(c, "D", o); }
static void h_fail(void *c, const char *reason, int rc)
{
	struct rec *r = c;
	(void)reason;
	(void)rc;
	pthread_mutex_lock(&r->mu);
	r->failures++;
	pthread_mutex_unlock(&r->mu);
}

static void rec_take(struct rec *r, char *out, size_t n)
{
	pthread_mutex_lock(&r->mu);
	snprintf(out, n, "%s", r->log);
	r->log[0] = 0;
	pthread_mutex_unlock(&r->mu);
}

#define NODE(name, rv, lbl) \
	"{\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv "\",\"labels\":{\"v\":\"" lbl "\"}}}"

struct env {
	struct fake f;
	struct mclock_fake clk;
	struct rec r;
	struct informer *inf;
};

static int setup(void **st)
{
	struct env *e = calloc(1, sizeof(*e));
	pthread_mutex_init(&e->f.mu, NULL);
	pthread_mutex_init(&e->r.mu, NULL);
	mclock_fake_init(&e->clk, 0);
	e->f.list_json = strdup("{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":[" NODE("a", "5", "1") ","
				NODE("b", "6", "1") "," NODE("c", "7", "1") "]}");
	struct reflector_transport t = {f_list, f_watch_start, f_watch_stop, NULL, &e->f};
	struct reflector_opts o = {.name = "test/nodes", .clock = &e->clk.base, .resync_ms = 60000};
	assert_int_equal(informer_new(&t, false, &o, &e->inf), 0);
	struct informer_handler h = {h_add, h_upd, h_del, h_fail, &e->r};
	informer_add_handler(e->inf, &h);
	*st = e;
	return 0;
}

static int teardown(void **st)
{
	struct env *e = *st;
	informer_free(e->inf);
	free(e->f.list_json);
	mclock_fake_cleanup(&e->clk);
	pthread_mutex_destroy(&e->f.mu);
	pthread_mutex_destroy(&e->r.mu);
	free(e);
	return 0;
}

static void set_list(struct fake *f, const char *json)
{
	pthread_mutex_lock(&f->mu);
	free(f->list_json);
	f->list_json = strdup(json);
	pthread_mutex_unlock(&f->mu);
}

static void start_synced(struct env *e)
{
	assert_int_equal(informer_start(e->inf), 0);
	wait_open(&e->f);
	assert_true(informer_has_synced(e->inf));
	assert_string_equal(e->f.start_rv[0], "10");   /* watch from the list's RV */
	char log[4096];
	rec_take(&e->r, log, sizeof log);
	assert_string_equal(log, "A:a A:b A:c ");
}

static void test_list_then_watch_events(void **st)
{
	struct env *e = *st;
	start_synced(e);
	send(&e->f, KUBE_WATCH_MODIFIED, NODE("a", "11", "2"));
	send(&e->f, KUBE_WATCH_ADDED, NODE("d", "12", "1"));
	send(&e->f, KUBE_WATCH_DELETED, NODE("b", "13", "1"));
	char log[4096];
	rec_take(&e->r, log, sizeof log);
	assert_string_equal(log, "U:a A:d D:b ");
	assert_int_equal(store_len(informer_store(e->inf)), 3);
	char rv[32];
	reflector_last_rv(informer_reflector(e->inf), rv, sizeof rv);
	assert_string_equal(rv, "13");
}

static void test_bookmark_then_resume(void **st)
{
	struct env *e = *st;
	start_synced(e);
	send(&e->f, KUBE_WATCH_MODIFIED, NODE("a", "11", "2"));
	send(&e->f, KUBE_WATCH_BOOKMARK, "{\"kind\":\"Node\",\"metadata\":{\"resourceVersion\":\"42\"}}");
	char log[4096];
	rec_take(&e->r, log, sizeof log);
	assert_string_equal(log, "U:a ");   /* a bookmark is not an event */
	/* the stream drops: resumed from the bookmark's RV after a backoff, no relist */
	end_stream(&e->f, 0);
	wait_int(&e->f, &e->f.stops, 1);
	usleep(20000);
	assert_int_equal(get_int(&e->f, &e->f.starts), 1);   /* still waiting: the clock did not move */
	advance_until(&e->f, &e->clk, &e->f.starts, 2);
	wait_open(&e->f);
	assert_string_equal(e->f.start_rv[1], "42");
	assert_int_equal(get_int(&e->f, &e->f.lists), 1);
	struct reflector_stats s;
	reflector_stats(informer_reflector(e->inf), &s);
	assert_int_equal(s.resumes, 1);
	assert_int_equal(s.relists_gone, 0);
	pthread_mutex_lock(&e->r.mu);
	assert_int_equal(e->r.failures, 1);
	pthread_mutex_unlock(&e->r.mu);
	/* a transport error also resumes */
	end_stream(&e->f, -KUBE_ERR_UNAVAILABLE);
	wait_int(&e->f, &e->f.stops, 2);
	advance_until(&e->f, &e->clk, &e->f.starts, 3);
	assert_string_equal(e->f.start_rv[2], "42");
	rec_take(&e->r, log, sizeof log);
	assert_string_equal(log, "");
}

static void test_gone_relists_and_delivers_difference(void **st)
{
	struct env *e = *st;
	start_synced(e);
	/* while we were away: a modified, b deleted, e added, c unchanged */
	set_list(&e->f, "{\"metadata\":{\"resourceVersion\":\"50\"},\"items\":[" NODE("a", "40", "9") ","
			NODE("c", "7", "1") "," NODE("e", "45", "1") "]}");
	send(&e->f, KUBE_WATCH_ERROR,
	     "{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Expired\",\"code\":410}");
	wait_int(&e->f, &e->f.lists, 2);   /* relisted at once, no backoff */
	wait_int(&e->f, &e->f.starts, 2);
	wait_open(&e->f);
	assert_string_equal(e->f.start_rv[1], "50");
	char log[4096];
	rec_take(&e->r, log, sizeof log);
	assert_non_null(strstr(log, "U:a "));
	assert_non_null(strstr(log, "D:b "));
	assert_non_null(strstr(log, "A:e "));
	assert_null(strstr(log, ":c "));
	assert_int_equal(store_len(informer_store(e->inf)), 3);
	/* the stream end reported as 410 by the transport relists too */
	end_stream(&e->f, -KUBE_ERR_GONE);
	wait_int(&e->f, &e->f.lists, 3);
	struct reflector_stats s;
	reflector_stats(informer_reflector(e->inf), &s);
	assert_int_equal(s.relists_gone, 2);
	assert_int_equal(s.resumes, 0);
}

/* A 504 ResourceVersionTooLarge (a replaced apiserver behind our RV) relists
 * instead of resuming from an RV the server will never reach; a plain 504
 * resumes. */
static void test_rv_too_large_relists(void **st)
{
	struct env *e = *st;
	start_synced(e);
	struct kube_cause cause = {.type = "ResourceVersionTooLarge", .message = "Too large resource version"};
	struct kube_error err = {.reason = KUBE_ERR_TIMEOUT, .http_code = 504, .causes = &cause, .ncauses = 1};
	pthread_mutex_lock(&e->f.mu);
	kube_watch_done_cb d = e->f.done;
	void *c = e->f.cbctx;
	pthread_mutex_unlock(&e->f.mu);
	d(c, -KUBE_ERR_TIMEOUT, &err);
	wait_int(&e->f, &e->f.lists, 2);   /* relisted */
	wait_int(&e->f, &e->f.starts, 2);
	struct reflector_stats s;
	reflector_stats(informer_reflector(e->inf), &s);
	assert_int_equal(s.relists_gone, 1);
	assert_int_equal(s.resumes, 0);
	/* a 504 without that cause is an ordinary drop: resumed, not relisted */
	wait_open(&e->f);
	end_stream(&e->f, -KUBE_ERR_TIMEOUT);
	advance_until(&e->f, &e->clk, &e->f.starts, 3);
	assert_int_equal(get_int(&e->f, &e->f.lists), 2);
	reflector_stats(informer_reflector(e->inf), &s);
	assert_int_equal(s.resumes, 1);
}

static void test_resume_with_too_old_rv_relists(void **st)
{
	struct env *e = *st;
	start_synced(e);
	pthread_mutex_lock(&e->f.mu);
	e->f.watch_gone = 1;   /* the resume is refused with 410 */
	pthread_mutex_unlock(&e->f.mu);
	end_stream(&e->f, 0);
	advance_until(&e->f, &e->clk, &e->f.lists, 2);
	wait_int(&e->f, &e->f.starts, 3);
	wait_open(&e->f);
	assert_string_equal(e->f.start_rv[1], "10");
	assert_string_equal(e->f.start_rv[2], "10");
}

static void test_list_failure_backs_off_then_syncs(void **st)
{
	struct env *e = *st;
	pthread_mutex_lock(&e->f.mu);
	e->f.list_fail = 2;
	pthread_mutex_unlock(&e->f.mu);
	assert_int_equal(informer_start(e->inf), 0);
	usleep(20000);
	assert_false(informer_has_synced(e->inf));
	advance_until(&e->f, &e->clk, &e->f.lists, 1);
	wait_open(&e->f);
	assert_true(informer_has_synced(e->inf));
	pthread_mutex_lock(&e->r.mu);
	assert_int_equal(e->r.failures, 2);
	pthread_mutex_unlock(&e->r.mu);
}

static void test_resync(void **st)
{
	struct env *e = *st;
	start_synced(e);
	mclock_fake_advance(&e->clk, 61000000000ull);
	char log[4096] = "";
	for (int i = 0; i < 1000 && strlen(log) < 12; i++) {
		usleep(1000);
		pthread_mutex_lock(&e->r.mu);
		snprintf(log, sizeof log, "%s", e->r.log);
		pthread_mutex_unlock(&e->r.mu);
	}
	assert_string_equal(log, "U:a U:b U:c ");
	/* a resync does not touch the server */
	assert_int_equal(get_int(&e->f, &e->f.lists), 1);
	assert_int_equal(get_int(&e->f, &e->f.starts), 1);
}

static void test_late_handler_gets_existing(void **st)
{
	struct env *e = *st;
	start_synced(e);
	struct rec r2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct informer_handler h = {h_add, h_upd, h_del, NULL, &r2};
	informer_add_handler(e->inf, &h);
	char log[4096];
	rec_take(&r2, log, sizeof log);
	assert_string_equal(log, "A:a A:b A:c ");
	informer_stop(e->inf);   /* before r2 goes out of scope */
}

static bool has_managed_fields(struct store *s, const char *key)
{
	json_object *o = NULL, *md = NULL;
	assert_int_equal(store_get(s, key, &o), 0);
	assert_true(json_object_object_get_ex(o, "metadata", &md));
	bool has = json_object_object_get_ex(md, "managedFields", NULL);
	json_object_put(o);
	return has;
}

#define MF "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"fieldsV1\":{\"f:spec\":{}}}]"

static void test_managed_fields_dropped(void **st)
{
	struct env *e = *st;
	set_list(&e->f, "{\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
			"{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"," MF "}}]}");
	assert_int_equal(informer_start(e->inf), 0);
	wait_open(&e->f);
	struct store *s = informer_store(e->inf);
	assert_false(has_managed_fields(s, "a"));   /* from the list */
	send(&e->f, KUBE_WATCH_ADDED, "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"11\"," MF ",\"labels\":{\"x\":\"y\"}}}");
	char log[4096];
	rec_take(&e->r, log, sizeof log);
	assert_string_equal(log, "A:a A:b ");
	assert_false(has_managed_fields(s, "b"));   /* from the watch */
	json_object *o = NULL;
	assert_int_equal(store_get(s, "b", &o), 0);
	json_object *md = json_object_object_get(o, "metadata");
	assert_non_null(json_object_object_get(md, "labels"));   /* the rest is kept */
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_then_watch_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bookmark_then_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_relists_and_delivers_difference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_with_too_old_rv_relists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rv_too_large_relists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_failure_backs_off_then_syncs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_handler_gets_existing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_managed_fields_dropped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
