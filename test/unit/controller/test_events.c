/* Event recorder: events.k8s.io/v1 body, dedup per (object, reason, note),
 * a failed create is not remembered. Loopback API server. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "controller/events.h"
#include "testserver/testserver.h"

struct srv {
	pthread_mutex_t mu;
	int posts;
	bool fail;
	char path[256];
	json_object *last;
};

static void handler(void *ctx, const struct ts_request *req, struct ts_conn *c)
{
	struct srv *s = ctx;
	pthread_mutex_lock(&s->mu);
	if (strcmp(req->method, "POST") == 0) {
		if (s->fail) {
			pthread_mutex_unlock(&s->mu);
			ts_respond_json(c, 403, "{\"kind\":\"Status\",\"code\":403,\"reason\":\"Forbidden\",\"message\":\"no\"}");
			return;
		}
		s->posts++;
		snprintf(s->path, sizeof s->path, "%s", req->path);
		json_object_put(s->last);
		s->last = json_tokener_parse(req->body);
		pthread_mutex_unlock(&s->mu);
		ts_respond_json(c, 201, req->body);
		return;
	}
	pthread_mutex_unlock(&s->mu);
	ts_respond_json(c, 404, "{\"kind\":\"Status\",\"code\":404,\"reason\":\"NotFound\"}");
}

static const char *str(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;
	if (!json_object_object_get_ex(o, a, &x))
		return NULL;
	if (!b)
		return json_object_get_string(x);
	return json_object_object_get_ex(x, b, &y) ? json_object_get_string(y) : NULL;
}

static void test_emit_dedup(void **st)
{
	(void)st;
	struct srv s = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct ts_server *ts;
	assert_int_equal(ts_start(NULL, handler, &s, &ts), 0);
	char kc[1024];
	snprintf(kc, sizeof kc,
		 "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: %s\n"
		 "users:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
		 "current-context: x\n", ts_url(ts));
	struct kube_config *cfg;
	char *err = NULL;
	assert_int_equal(kube_config_from_bytes(kc, strlen(kc), NULL, false, &cfg, &err), 0);
	struct kube_client *kcl;
	struct kube_client_opts o = {.max_retries = -1};
	assert_int_equal(kube_client_new(cfg, &o, &kcl, NULL), 0);
	kube_config_free(cfg);
	struct events *ev;
	assert_int_equal(events_new(kcl, "op-1", &ev), 0);
	json_object *mc = json_tokener_parse("{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"ModelCache\","
		"\"metadata\":{\"name\":\"qwen\",\"namespace\":\"ml\",\"uid\":\"u-1\",\"resourceVersion\":\"9\"}}");

	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staging", "Compose", "Staging Qwen to 2 clusters: a, b"), 1);
	assert_int_equal(s.posts, 1);
	assert_string_equal(s.path, "/apis/events.k8s.io/v1/namespaces/ml/events");
	assert_string_equal(str(s.last, "apiVersion", NULL), "events.k8s.io/v1");
	assert_string_equal(str(s.last, "kind", NULL), "Event");
	assert_string_equal(str(s.last, "reason", NULL), "Staging");
	assert_string_equal(str(s.last, "action", NULL), "Compose");
	assert_string_equal(str(s.last, "type", NULL), "Normal");
	assert_string_equal(str(s.last, "note", NULL), "Staging Qwen to 2 clusters: a, b");
	assert_string_equal(str(s.last, "reportingController", NULL), "modelcache-operator");
	assert_string_equal(str(s.last, "reportingInstance", NULL), "op-1");
	assert_string_equal(str(s.last, "regarding", "kind"), "ModelCache");
	assert_string_equal(str(s.last, "regarding", "uid"), "u-1");
	assert_string_equal(str(s.last, "regarding", "name"), "qwen");
	assert_string_equal(str(s.last, "metadata", "namespace"), "ml");
	assert_non_null(str(s.last, "eventTime", NULL));

	/* the same (object, reason, note) again: deduplicated, no request */
	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staging", "Compose", "Staging Qwen to 2 clusters: a, b"), 0);
	assert_int_equal(s.posts, 1);
	/* another reason, or a new note for the same reason: a transition, emitted */
	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staged", "Compose", "Artifact staged on all 2 clusters"), 1);
	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staging", "Compose", "Staging Qwen to 3 clusters: a, b, c"), 1);
	assert_int_equal(s.posts, 3);
	/* a failed create is not remembered: the next reconcile retries it */
	pthread_mutex_lock(&s.mu);
	s.fail = true;
	pthread_mutex_unlock(&s.mu);
	assert_true(events_emit(ev, mc, EVENT_WARNING, "HydrationFailed", "Hydrate", "boom") < 0);
	pthread_mutex_lock(&s.mu);
	s.fail = false;
	pthread_mutex_unlock(&s.mu);
	assert_int_equal(events_emit(ev, mc, EVENT_WARNING, "HydrationFailed", "Hydrate", "boom"), 1);
	assert_string_equal(str(s.last, "type", NULL), "Warning");
	assert_int_equal(events_created(ev), 4);
	/* forgetting the object (deleted) emits again */
	events_forget(ev, "u-1");
	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staged", "Compose", "Artifact staged on all 2 clusters"), 1);
	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staged", "Compose", "Artifact staged on all 2 clusters"), 0);
	assert_int_equal(events_emit(ev, mc, EVENT_WARNING, "HydrationFailed", "Hydrate", "boom"), 1);
	/* having left the state (re-hydrating), the same note is a new transition;
	 * other reasons are still remembered */
	events_forget_reason(ev, mc, "Staged");
	assert_int_equal(events_emit(ev, mc, EVENT_NORMAL, "Staged", "Compose", "Artifact staged on all 2 clusters"), 1);
	assert_int_equal(events_emit(ev, mc, EVENT_WARNING, "HydrationFailed", "Hydrate", "boom"), 0);
	/* a cluster-scoped object: events go to "default" */
	json_object *ic = json_tokener_parse("{\"apiVersion\":\"modelcache.dev/v1alpha1\",\"kind\":\"InferenceCluster\","
		"\"metadata\":{\"name\":\"west\",\"uid\":\"u-2\"}}");
	assert_int_equal(events_emit(ev, ic, EVENT_NORMAL, "Connected", "Connect", "ok"), 1);
	assert_string_equal(s.path, "/apis/events.k8s.io/v1/namespaces/default/events");
	json_object_put(ic);

	json_object_put(mc);
	events_free(ev);
	kube_client_free(kcl);
	ts_stop(ts);
	json_object_put(s.last);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emit_dedup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
