/* Watch mux against the loopback test server: a line split across chunks,
 * several events in one chunk, BOOKMARK and the last resourceVersion, 410 on
 * open and as an ERROR event, synchronous stop, several streams at once,
 * stop from a callback, undecodable events. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "kube/watch.h"
#include "testserver/testserver.h"
#include "util/mem.h"

#define WAIT_MS 10000   /* bound on every wait; failing tests fail, they never hang */

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	enum kube_watch_type types[32];
	char names[32][64];
	char rvs[32][32];
	int status_code[32];
	bool done;
	int done_rc;
	char done_msg[256];
	struct kube_watch *self;   /* stop from the callback after stop_after events */
	int stop_after;
};

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
}

static void sink_cleanup(struct sink *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
}

static const char *jpath(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;
	if (!json_object_object_get_ex(o, a, &x))
		return NULL;
	if (!b)
		return json_object_get_string(x);
	if (!json_object_object_get_ex(x, b, &y))
		return NULL;
	return json_object_get_string(y);
}

static void on_event(void *ctx, const struct kube_watch_event *ev)
{
	struct sink *s = ctx;
	pthread_mutex_lock(&s->mu);
	if (s->n < 32) {
		s->types[s->n] = ev->type;
		const char *nm = jpath(ev->object, "metadata", "name");
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", nm ? nm : "");
		snprintf(s->rvs[s->n], sizeof(s->rvs[0]), "%s", ev->resource_version ? ev->resource_version : "");
		const char *code = jpath(ev->object, "code", NULL);
		s->status_code[s->n] = code ? atoi(code) : 0;
	}
	s->n++;
	bool stop = s->self && s->n == s->stop_after;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (stop)
		kube_watch_stop(s->self);
}

static void on_done(void *ctx, int rc, const struct kube_error *err)
{
	struct sink *s = ctx;
	pthread_mutex_lock(&s->mu);
	s->done = true;
	s->done_rc = rc;
	if (err && err->message)
		snprintf(s->done_msg, sizeof(s->done_msg), "%s", err->message);
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Wait until n events (or done, when n < 0) arrived; false on timeout. */
static bool sink_wait(struct sink *s, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_MS / 1000;
	bool ok = true;
	pthread_mutex_lock(&s->mu);
	while (ok && (n < 0 ? !s->done : s->n < n))
		ok = pthread_cond_timedwait(&s->cv, &s->mu, &dl) == 0;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static int sink_count(struct sink *s)
{
	pthread_mutex_lock(&s->mu);
	int n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ------------------------------------------------------------------ */

struct srv {
	pthread_mutex_t mu;
	int mode;
	char lastpath[1024];
	bool client_gone;   /* the held stream noticed the client leave */
};
static struct srv S = { .mu = PTHREAD_MUTEX_INITIALIZER };

#define EV(type, name, rv) \
	"{\"type\":\"" type "\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" name \
	"\",\"namespace\":\"ns1\",\"resourceVersion\":\"" rv "\"},\"data\":{\"k\":\"caf\xc3\xa9 \\u00e9\"}}}\n"
#define BOOKMARK(rv) \
	"{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv \
	"\",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}}}}\n"

static void h_watch(void *ctx, const struct ts_request *q, struct ts_conn *c)
{
	(void)ctx;
	pthread_mutex_lock(&S.mu);
	snprintf(S.lastpath, sizeof(S.lastpath), "%.1000s", q->path);
	int mode = S.mode;
	pthread_mutex_unlock(&S.mu);
	char name[64] = "";
	ts_query(q, "labelSelector", name, sizeof(name));

	switch (mode) {
	case 0: { /* framing: one event over three chunks, two in one chunk, a bookmark */
		const char *e1 = EV("ADDED", "a", "11");
		size_t l1 = strlen(e1);
		ts_begin_chunked(c, 200, NULL, "application/json");
		ts_chunk(c, e1, 7);                      /* inside "type" */
		ts_chunk(c, e1 + 7, l1 - 7 - 20);        /* up to inside the data */
		ts_chunk(c, e1 + l1 - 20, 20);           /* the rest, newline included */
		char *two = xasprintf("%s%s", EV("MODIFIED", "a", "12"), EV("ADDED", "b", "13"));
		ts_chunk_str(c, two);
		free(two);
		/* a DELETED split right before its newline, then the newline alone */
		const char *e4 = EV("DELETED", "b", "14");
		ts_chunk(c, e4, strlen(e4) - 1);
		ts_chunk_str(c, "\n");
		ts_chunk_str(c, BOOKMARK("20"));
		ts_end_chunked(c);
		break;
	}
	case 1: /* 410 on open */
		ts_respond_json(c, 410, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"Expired\","
					"\"message\":\"too old resource version: 5 (300)\",\"code\":410}");
		break;
	case 2: /* 410 as an ERROR event on an open stream */
		ts_begin_chunked(c, 200, NULL, "application/json");
		ts_chunk_str(c, EV("ADDED", "a", "31"));
		ts_chunk_str(c, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
				"\"message\":\"too old resource version: 31 (40)\",\"reason\":\"Expired\",\"code\":410}}\n");
		ts_end_chunked(c);
		break;
	case 3: /* hold the stream open until the client leaves */
		ts_begin_chunked(c, 200, NULL, "application/json");
		if (name[0]) {
			/* one event named after the selector, so streams can be told apart */
			char *e = xasprintf("{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"7\"}}}\n", name);
			ts_chunk_str(c, e);
			free(e);
		} else {
			ts_chunk_str(c, EV("ADDED", "a", "51"));
			ts_chunk_str(c, EV("ADDED", "b", "52"));
		}
		if (ts_wait_closed(c, WAIT_MS)) {
			pthread_mutex_lock(&S.mu);
			S.client_gone = true;
			pthread_mutex_unlock(&S.mu);
		}
		ts_close_after(c);
		break;
	case 5: { /* a 3000-byte event over several chunks */
		char *big = xmalloc(3100);
		int k = snprintf(big, 3100, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"");
		memset(big + k, 'n', 3000 - (size_t)k);
		strcpy(big + 3000, "\"}}}\n");
		ts_begin_chunked(c, 200, NULL, "application/json");
		ts_chunk_str(c, EV("ADDED", "a", "71"));
		for (size_t off = 0; off < strlen(big); off += 1000)
			ts_chunk(c, big + off, strlen(big) - off < 1000 ? strlen(big) - off : 1000);
		ts_end_chunked(c);
		free(big);
		break;
	}
	case 4: /* garbage on the stream */
		ts_begin_chunked(c, 200, NULL, "application/json");
		ts_chunk_str(c, EV("ADDED", "a", "61"));
		ts_chunk_str(c, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"na\n");
		ts_end_chunked(c);
		break;
	}
}

static struct kube_client *client_for(const char *url)
{
	char *y = xasprintf("clusters:\n- name: c\n  cluster: {server: '%s'}\nusers:\n- name: u\n  user: {token: t}\n"
			    "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n", url);
	struct kube_config *cfg;
	char *em = NULL;
	assert_int_equal(kube_config_from_bytes(y, strlen(y), NULL, false, &cfg, &em), 0);
	free(y);
	struct kube_client *c;
	assert_int_equal(kube_client_new(cfg, NULL, &c, NULL), 0);
	kube_config_free(cfg);
	return c;
}

static void set_mode(int m)
{
	pthread_mutex_lock(&S.mu);
	S.mode = m;
	S.client_gone = false;
	pthread_mutex_unlock(&S.mu);
}

static void test_framing_and_bookmark(void **state)
{
	(void)state;
	struct ts_server *s;
	set_mode(0);
	assert_int_equal(ts_start(NULL, h_watch, NULL, &s), 0);
	struct kube_client *c = client_for(ts_url(s));
	struct kube_watch_mux *m;
	assert_int_equal(kube_watch_mux_new(&m), 0);
	struct sink k;
	sink_init(&k);
	struct kube_watch *w;
	struct kube_watch_opts o = { .resource_version = "10", .allow_bookmarks = true, .timeout_seconds = 300,
				     .label_selector = "app=x", .field_selector = "metadata.name=a" };
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, "ns1", &o, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, -1));
	assert_int_equal(k.done_rc, 0);
	assert_int_equal(k.n, 5);
	assert_int_equal(k.types[0], KUBE_WATCH_ADDED);
	assert_string_equal(k.names[0], "a");
	assert_string_equal(k.rvs[0], "11");
	assert_int_equal(k.types[1], KUBE_WATCH_MODIFIED);
	assert_string_equal(k.rvs[1], "12");
	assert_int_equal(k.types[2], KUBE_WATCH_ADDED);
	assert_string_equal(k.names[2], "b");
	assert_int_equal(k.types[3], KUBE_WATCH_DELETED);
	assert_string_equal(k.rvs[3], "14");
	assert_int_equal(k.types[4], KUBE_WATCH_BOOKMARK);
	assert_string_equal(k.rvs[4], "20");
	char rv[64];
	kube_watch_last_rv(w, rv, sizeof(rv));
	assert_string_equal(rv, "20");
	pthread_mutex_lock(&S.mu);
	assert_string_equal(S.lastpath, "/api/v1/namespaces/ns1/configmaps?watch=1&resourceVersion=10"
					"&allowWatchBookmarks=true&timeoutSeconds=300&labelSelector=app%3Dx"
					"&fieldSelector=metadata.name%3Da");
	pthread_mutex_unlock(&S.mu);
	kube_watch_stop(w);
	kube_watch_mux_free(m);
	sink_cleanup(&k);
	kube_client_free(c);
	ts_stop(s);
}

static void test_gone(void **state)
{
	(void)state;
	struct ts_server *s;
	assert_int_equal(ts_start(NULL, h_watch, NULL, &s), 0);
	struct kube_client *c = client_for(ts_url(s));
	struct kube_watch_mux *m;
	assert_int_equal(kube_watch_mux_new(&m), 0);
	struct kube_watch_opts o = { .resource_version = "5" };

	/* 410 when opening: done with -Gone and the server's message */
	set_mode(1);
	struct sink k;
	sink_init(&k);
	struct kube_watch *w;
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, "ns1", &o, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, -1));
	assert_int_equal(k.done_rc, -KUBE_ERR_GONE);
	assert_string_equal(k.done_msg, "too old resource version: 5 (300)");
	assert_int_equal(k.n, 0);
	kube_watch_stop(w);
	sink_cleanup(&k);

	/* 410 as an ERROR event: delivered as such, RV not taken from it */
	set_mode(2);
	sink_init(&k);
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, "ns1", &o, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, -1));
	assert_int_equal(k.n, 2);
	assert_int_equal(k.types[1], KUBE_WATCH_ERROR);
	assert_int_equal(k.status_code[1], 410);
	char rv[64];
	kube_watch_last_rv(w, rv, sizeof(rv));
	assert_string_equal(rv, "31");
	kube_watch_stop(w);
	sink_cleanup(&k);

	/* an undecodable event ends the stream with a decode error */
	set_mode(4);
	sink_init(&k);
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, "ns1", &o, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, -1));
	assert_int_equal(k.n, 1);
	assert_int_equal(k.done_rc, -KUBE_ERR_DECODE);
	kube_watch_stop(w);
	sink_cleanup(&k);

	/* an event over the cap ends the stream with a decode error; under it, it passes */
	set_mode(5);
	sink_init(&k);
	o.max_event_bytes = 2048;
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, "ns1", &o, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, -1));
	assert_int_equal(k.n, 1);
	assert_int_equal(k.done_rc, -KUBE_ERR_DECODE);
	assert_string_equal(k.done_msg, "watch configmaps: event larger than 2048 bytes");
	kube_watch_stop(w);
	sink_cleanup(&k);
	sink_init(&k);
	o.max_event_bytes = 4096;
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, "ns1", &o, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, -1));
	assert_int_equal(k.n, 2);
	assert_int_equal(k.done_rc, 0);
	assert_int_equal(strlen(k.names[1]), 63);   /* truncated by the sink, not by the mux */
	kube_watch_stop(w);
	sink_cleanup(&k);

	kube_watch_mux_free(m);
	kube_client_free(c);
	ts_stop(s);
}

static void test_stop_and_many(void **state)
{
	(void)state;
	struct ts_server *s;
	set_mode(3);
	assert_int_equal(ts_start(NULL, h_watch, NULL, &s), 0);
	struct kube_client *c = client_for(ts_url(s));
	struct kube_watch_mux *m;
	assert_int_equal(kube_watch_mux_new(&m), 0);

	/* stop while the server holds the stream open: synchronous, no done callback */
	struct sink k;
	sink_init(&k);
	struct kube_watch *w;
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_PODS, "ns1", NULL, on_event, on_done, &k, &w, NULL), 0);
	assert_true(sink_wait(&k, 2));
	kube_watch_stop(w);
	int after = sink_count(&k);
	assert_int_equal(after, 2);
	assert_false(k.done);
	/* and the connection is really closed: the server sees the client leave */
	bool gone = false;
	for (int i = 0; i < WAIT_MS / 10 && !gone; i++) {
		pthread_mutex_lock(&S.mu);
		gone = S.client_gone;
		pthread_mutex_unlock(&S.mu);
		if (!gone)
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	assert_true(gone);

	/* several streams multiplexed on the one thread, each with its own events */
	enum { N = 4 };
	struct sink ks[N];
	struct kube_watch *ws[N];
	for (int i = 0; i < N; i++) {
		char sel[16];
		snprintf(sel, sizeof(sel), "w%d", i);
		struct kube_watch_opts o = { .label_selector = sel };
		sink_init(&ks[i]);
		assert_int_equal(kube_watch_start(m, c, &KUBE_RES_PODS, "ns1", &o, on_event, on_done, &ks[i], &ws[i], NULL), 0);
	}
	for (int i = 0; i < N; i++) {
		char want[16];
		snprintf(want, sizeof(want), "w%d", i);
		assert_true(sink_wait(&ks[i], 1));
		assert_string_equal(ks[i].names[0], want);
		char rv[16];
		kube_watch_last_rv(ws[i], rv, sizeof(rv));
		assert_string_equal(rv, "7");
	}
	/* stop two; the mux frees the rest */
	kube_watch_stop(ws[0]);
	kube_watch_stop(ws[2]);

	/* stop from inside the event callback */
	struct sink ksf;
	sink_init(&ksf);
	ksf.stop_after = 1;
	pthread_mutex_lock(&ksf.mu);
	assert_int_equal(kube_watch_start(m, c, &KUBE_RES_PODS, "ns1", NULL, on_event, on_done, &ksf, &ksf.self, NULL), 0);
	pthread_mutex_unlock(&ksf.mu);
	assert_true(sink_wait(&ksf, 1));

	kube_watch_mux_free(m);
	/* nothing more arrived after the stop from the callback */
	assert_int_equal(sink_count(&ksf), 1);
	assert_false(ksf.done);
	for (int i = 0; i < N; i++) {
		assert_false(ks[i].done);   /* the mux stops them without a done callback */
		sink_cleanup(&ks[i]);
	}
	sink_cleanup(&ksf);
	sink_cleanup(&k);
	kube_client_free(c);
	ts_stop(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing_and_bookmark),
		cmocka_unit_test(test_gone),
		cmocka_unit_test(test_stop_and_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
