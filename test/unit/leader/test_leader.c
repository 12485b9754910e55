/* Leader election against an in-memory Lease endpoint (loopback server) with
 * a fake clock: acquire, hold, expiry takeover, optimistic concurrency,
 * release, and the election thread's callbacks. */
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
#include <json-c/json.h>

#include "kube/client.h"
#include "kube/config.h"
#include "leader/leader.h"
#include "testserver/testserver.h"
#include "util/clock.h"

#define LEASE_PATH "/apis/coordination.k8s.io/v1/namespaces/ns/leases"

struct srv {
	pthread_mutex_t mu;
	json_object *lease;   /* NULL = none */
	long rv;
	int puts, posts, conflicts;
	bool fail_all;        /* 503 everything */
};

static void status(struct ts_conn *c, int code, const char *reason)
{
	char buf[256];
	snprintf(buf, sizeof buf, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"%s\",\"code\":%d}",
		 reason, code);
	ts_respond_json(c, code, buf);
}

static void set_rv(struct srv *s, json_object *o)
{
	json_object *md;
	char rv[32];
	snprintf(rv, sizeof rv, "%ld", ++s->rv);
	if (!json_object_object_get_ex(o, "metadata", &md)) {
		md = json_object_new_object();
		json_object_object_add(o, "metadata", md);
	}
	json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
}

static void handler(void *ctx, const struct ts_request *req, struct ts_conn *c)
{
	struct srv *s = ctx;
	pthread_mutex_lock(&s->mu);
	if (s->fail_all) {
		pthread_mutex_unlock(&s->mu);
		ts_close_after(c);
		status(c, 503, "ServiceUnavailable");
		return;
	}
	bool item = strncmp(req->path, LEASE_PATH "/lock", strlen(LEASE_PATH "/lock")) == 0;
	if (!strcmp(req->method, "GET") && item) {
		if (!s->lease)
			status(c, 404, "NotFound");
		else
			ts_respond_json(c, 200, json_object_to_json_string(s->lease));
	} else if (!strcmp(req->method, "POST")) {
		s->posts++;
		if (s->lease) {
			status(c, 409, "AlreadyExists");
		} else {
			s->lease = json_tokener_parse(req->body);
			set_rv(s, s->lease);
			ts_respond_json(c, 201, json_object_to_json_string(s->lease));
		}
	} else if (!strcmp(req->method, "PUT") && item) {
		s->puts++;
		json_object *o = json_tokener_parse(req->body), *md, *rv;
		const char *cur = NULL;
		if (s->lease && json_object_object_get_ex(s->lease, "metadata", &md) &&
		    json_object_object_get_ex(md, "resourceVersion", &rv))
			cur = json_object_get_string(rv);
		const char *got = NULL;
		if (o && json_object_object_get_ex(o, "metadata", &md) && json_object_object_get_ex(md, "resourceVersion", &rv))
			got = json_object_get_string(rv);
		if (!s->lease) {
			status(c, 404, "NotFound");
			json_object_put(o);
		} else if (!got || !cur || strcmp(got, cur)) {
			s->conflicts++;
			status(c, 409, "Conflict");
			json_object_put(o);
		} else {
			json_object_put(s->lease);
			s->lease = o;
			set_rv(s, s->lease);
			ts_respond_json(c, 200, json_object_to_json_string(s->lease));
		}
	} else {
		status(c, 404, "NotFound");
	}
	pthread_mutex_unlock(&s->mu);
}

static const char *holder(struct srv *s, char *out, size_t n)
{
	pthread_mutex_lock(&s->mu);
	json_object *spec, *h;
	out[0] = 0;
	if (s->lease && json_object_object_get_ex(s->lease, "spec", &spec) &&
	    json_object_object_get_ex(spec, "holderIdentity", &h))
		snprintf(out, n, "%s", json_object_get_string(h));
	pthread_mutex_unlock(&s->mu);
	return out;
}

struct env {
	struct srv s;
	struct ts_server *ts;
	struct kube_client *kc;
	struct mclock_fake clk;
};

static int setup(void **st)
{
	struct env *e = calloc(1, sizeof(*e));
	pthread_mutex_init(&e->s.mu, NULL);
	assert_int_equal(ts_start(NULL, handler, &e->s, &e->ts), 0);
	char kc[1024];
	snprintf(kc, sizeof kc,
		 "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n"
		 "users:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "current-context: x\n", ts_url(e->ts));
	struct kube_config *cfg = NULL;
	char *err = NULL;
	assert_int_equal(kube_config_from_bytes(kc, strlen(kc), NULL, false, &cfg, &err), 0);
	struct kube_client_opts o = {.max_retries = -1};
	assert_int_equal(kube_client_new(cfg, &o, &e->kc, NULL), 0);
	kube_config_free(cfg);
	mclock_fake_init(&e->clk, 1700000000ll * 1000000000ll);
	*st = e;
	return 0;
}

static int teardown(void **st)
{
	struct env *e = *st;
	kube_client_free(e->kc);
	ts_stop(e->ts);
	json_object_put(e->s.lease);
	mclock_fake_cleanup(&e->clk);
	pthread_mutex_destroy(&e->s.mu);
	free(e);
	return 0;
}

static struct leader *mk(struct env *e, const char *id)
{
	struct leader_opts o = {.ns = "ns", .name = "lock", .identity = id, .clock = &e->clk.base};
	struct leader *l;
	assert_int_equal(leader_new(e->kc, &o, &l), 0);
	return l;
}

static void test_acquire_hold_expire(void **st)
{
	struct env *e = *st;
	struct leader *a = mk(e, "a"), *b = mk(e, "b");
	char h[64];
	assert_int_equal(leader_try_acquire_or_renew(a), 1);   /* creates the Lease */
	assert_string_equal(holder(&e->s, h, sizeof h), "a");
	assert_int_equal(e->s.posts, 1);
	assert_int_equal(leader_try_acquire_or_renew(b), 0);   /* held, not expired */
	mclock_fake_advance(&e->clk, 10ull * 1000000000ull);
	assert_int_equal(leader_try_acquire_or_renew(a), 1);   /* renew */
	assert_int_equal(leader_try_acquire_or_renew(b), 0);   /* b saw the record change: still held */
	mclock_fake_advance(&e->clk, 14ull * 1000000000ull);
	assert_int_equal(leader_try_acquire_or_renew(b), 0);   /* 14 s < 15 s since b observed the renewal */
	mclock_fake_advance(&e->clk, 1ull * 1000000000ull);
	assert_int_equal(leader_try_acquire_or_renew(b), 1);   /* expired: taken over */
	assert_string_equal(holder(&e->s, h, sizeof h), "b");
	/* a comes back: b's record is fresh for a */
	assert_int_equal(leader_try_acquire_or_renew(a), 0);
	pthread_mutex_lock(&e->s.mu);
	json_object *spec, *tr;
	json_object_object_get_ex(e->s.lease, "spec", &spec);
	json_object_object_get_ex(spec, "leaseTransitions", &tr);
	assert_int_equal(json_object_get_int(tr), 1);
	pthread_mutex_unlock(&e->s.mu);
	leader_free(a);
	leader_free(b);
}

static void test_released_lease_is_taken_at_once(void **st)
{
	struct env *e = *st;
	struct leader *a = mk(e, "a"), *b = mk(e, "b");
	assert_int_equal(leader_try_acquire_or_renew(a), 1);
	assert_int_equal(leader_try_acquire_or_renew(b), 0);
	/* a releases (what leader_stop writes): holder cleared */
	pthread_mutex_lock(&e->s.mu);
	json_object *spec;
	json_object_object_get_ex(e->s.lease, "spec", &spec);
	json_object_object_add(spec, "holderIdentity", json_object_new_string(""));
	json_object_object_add(spec, "leaseDurationSeconds", json_object_new_int(1));
	pthread_mutex_unlock(&e->s.mu);
	assert_int_equal(leader_try_acquire_or_renew(b), 1);   /* no waiting for expiry */
	leader_free(a);
	leader_free(b);
}

struct cb {
	pthread_mutex_t mu;
	int started, lost;
};
static void cb_started(void *c)
{
	struct cb *x = c;
	pthread_mutex_lock(&x->mu);
	x->started++;
	pthread_mutex_unlock(&x->mu);
}
static void cb_lost(void *c)
{
	struct cb *x = c;
	pthread_mutex_lock(&x->mu);
	x->lost++;
	pthread_mutex_unlock(&x->mu);
}
static int cbv(struct cb *x, int *p)
{
	pthread_mutex_lock(&x->mu);
	int v = *p;
	pthread_mutex_unlock(&x->mu);
	return v;
}

static void test_thread_lead_release(void **st)
{
	struct env *e = *st;
	struct cb x = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct leader_opts o = {.ns = "ns", .name = "lock", .identity = "t", .clock = &e->clk.base,
				.retry_period_ms = 20, .on_started_leading = cb_started, .on_lost = cb_lost, .ctx = &x};
	struct leader *l;
	assert_int_equal(leader_new(e->kc, &o, &l), 0);
	assert_int_equal(leader_start(l), 0);
	for (int i = 0; i < 2000 && cbv(&x, &x.started) == 0; i++)
		usleep(1000);
	assert_int_equal(cbv(&x, &x.started), 1);
	assert_true(leader_is_leader(l));
	leader_stop(l);   /* releases */
	char h[64];
	assert_string_equal(holder(&e->s, h, sizeof h), "");
	assert_false(leader_is_leader(l));
	assert_int_equal(cbv(&x, &x.lost), 0);
	leader_free(l);
}

static void test_thread_loses_after_renew_deadline(void **st)
{
	struct env *e = *st;
	struct cb x = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct leader_opts o = {.ns = "ns", .name = "lock", .identity = "t", .clock = &e->clk.base,
				.retry_period_ms = 10, .on_started_leading = cb_started, .on_lost = cb_lost, .ctx = &x};
	struct leader *l;
	assert_int_equal(leader_new(e->kc, &o, &l), 0);
	assert_int_equal(leader_start(l), 0);
	for (int i = 0; i < 2000 && cbv(&x, &x.started) == 0; i++)
		usleep(1000);
	assert_int_equal(cbv(&x, &x.started), 1);
	pthread_mutex_lock(&e->s.mu);
	e->s.fail_all = true;   /* the API server goes away */
	pthread_mutex_unlock(&e->s.mu);
	usleep(50000);
	assert_int_equal(cbv(&x, &x.lost), 0);   /* within the 10 s renew deadline: still leading */
	mclock_fake_advance(&e->clk, 11ull * 1000000000ull);
	for (int i = 0; i < 3000 && cbv(&x, &x.lost) == 0; i++)
		usleep(1000);
	assert_int_equal(cbv(&x, &x.lost), 1);
	assert_false(leader_is_leader(l));
	leader_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_acquire_hold_expire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_released_lease_is_taken_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_lead_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_loses_after_renew_deadline, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
