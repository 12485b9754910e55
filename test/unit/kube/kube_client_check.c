/* kube-client-check: drives pkg/kube against a real API server (kubesim in
 * test/e2e/kube_client.sh) and asserts what it gets back.
 *
 *   kube-client-check crud KUBECONFIG NAMESPACE   CRUD, apply, patch, pagination, watch
 *   kube-client-check reads KUBECONFIG N          N GET/LIST that must all succeed (faults on)
 *   kube-client-check auth KUBECONFIG             expects Unauthorized (exit 0 when it is)
 *
 * Exit 0 = every check held; 1 = a check failed (the message says which). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/client.h"
#include "kube/watch.h"
#include "util/mem.h"

static int failures;

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			failures++; \
		} \
	} while (0)

#define RC(call, want) \
	do { \
		int rc_ = (call); \
		if (rc_ != (want)) \
			fprintf(stderr, "FAIL %s:%d: %s = %d (%s), want %d\n", __FILE__, __LINE__, #call, rc_, \
				e.message ? e.message : "", want); \
		failures += rc_ != (want); \
		kube_error_clear(&e); \
	} while (0)

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static struct kube_client *open_client(const char *kc, struct kube_client_opts *o)
{
	struct kube_config *cfg = NULL;
	char *em = NULL;
	if (kube_config_load(kc, NULL, &cfg, &em) != 0) {
		fprintf(stderr, "FAIL kubeconfig: %s\n", em);
		exit(1);
	}
	struct kube_client *c = NULL;
	struct kube_error e = { 0 };
	if (kube_client_new(cfg, o, &c, &e) != 0) {
		fprintf(stderr, "FAIL client: %s\n", e.message);
		exit(1);
	}
	kube_config_free(cfg);
	return c;
}

static const char *jstr(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;
	if (!json_object_object_get_ex(o, a, &x))
		return NULL;
	if (!b)
		return json_object_get_string(x);
	return json_object_object_get_ex(x, b, &y) ? json_object_get_string(y) : NULL;
}

/* watch sink */
struct seen {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char log[4096];
	int n;
};

static void on_event(void *ctx, const struct kube_watch_event *ev)
{
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };
	struct seen *s = ctx;
	const char *nm = jstr(ev->object, "metadata", "name");
	pthread_mutex_lock(&s->mu);
	if (ev->type != KUBE_WATCH_BOOKMARK) {
		size_t l = strlen(s->log);
		snprintf(s->log + l, sizeof(s->log) - l, "%s %s;", names[ev->type], nm ? nm : "?");
		s->n++;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void on_done(void *ctx, int rc, const struct kube_error *err)
{
	(void)ctx;
	if (rc != 0)
		fprintf(stderr, "watch ended: %d %s\n", rc, err && err->message ? err->message : "");
}

static bool wait_log(struct seen *s, const char *want)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 15;
	pthread_mutex_lock(&s->mu);
	bool ok = true;
	while (ok && !strstr(s->log, want))
		ok = pthread_cond_timedwait(&s->cv, &s->mu, &dl) == 0;
	ok = strstr(s->log, want) != NULL;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

static json_object *cm(const char *name, const char *k, const char *v)
{
	json_object *o = json_object_new_object(), *m = json_object_new_object(), *l = json_object_new_object(),
		    *d = json_object_new_object();
	json_object_object_add(o, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(o, "kind", json_object_new_string("ConfigMap"));
	json_object_object_add(m, "name", json_object_new_string(name));
	json_object_object_add(l, "kube-client-check", json_object_new_string("yes"));
	json_object_object_add(m, "labels", l);
	json_object_object_add(o, "metadata", m);
	json_object_object_add(d, k, json_object_new_string(v));
	json_object_object_add(o, "data", d);
	return o;
}

static int crud(const char *kc, const char *ns)
{
	struct kube_client *c = open_client(kc, NULL);
	struct kube_error e = { 0 };
	json_object *out = NULL;
	char *ver = NULL;

	RC(kube_server_version(c, &ver, &e), 0);
	CHECK(ver && ver[0] == 'v', "version %s", ver ? ver : "(null)");
	free(ver);

	/* watch from the list's resourceVersion */
	struct kube_list_opts lo = { .label_selector = "kube-client-check=yes" };
	RC(kube_list(c, &KUBE_RES_CONFIGMAPS, ns, &lo, &out, &e), 0);
	char rv[64] = "";
	const char *lrv = out ? jstr(out, "metadata", "resourceVersion") : NULL;
	snprintf(rv, sizeof(rv), "%s", lrv ? lrv : "");
	json_object_put(out);
	CHECK(rv[0], "list has a resourceVersion");
	struct kube_watch_mux *m;
	kube_watch_mux_new(&m);
	struct seen s = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	struct kube_watch *w = NULL;
	struct kube_watch_opts wo = { .resource_version = rv, .allow_bookmarks = true,
				      .label_selector = "kube-client-check=yes" };
	RC(kube_watch_start(m, c, &KUBE_RES_CONFIGMAPS, ns, &wo, on_event, on_done, &s, &w, &e), 0);

	/* create, AlreadyExists, get */
	json_object *a = cm("kcc-a", "k", "v1");
	RC(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, a, &out, &e), 0);
	char uid[64] = "";
	if (out) {
		const char *u = jstr(out, "metadata", "uid");
		snprintf(uid, sizeof(uid), "%s", u ? u : "");
	}
	json_object_put(out);
	RC(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, a, NULL, &e), -KUBE_ERR_ALREADY_EXISTS);
	RC(kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", &out, &e), 0);
	CHECK(out && streq(jstr(out, "data", "k"), "v1"), "get returns data.k=v1");

	/* update with the current RV works; replaying it is a Conflict */
	json_object *d = NULL;
	if (!out || !json_object_object_get_ex(out, "data", &d) || !json_object_is_type(d, json_type_object)) {
		fprintf(stderr, "FAIL: cannot continue without the object\n");
		return 1;
	}
	json_object_object_add(d, "k", json_object_new_string("v2"));
	RC(kube_update(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", out, NULL, &e), 0);
	RC(kube_update(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", out, NULL, &e), -KUBE_ERR_CONFLICT);
	json_object_put(out);

	/* merge patch, JSON patch */
	const char *mp = "{\"data\":{\"merged\":\"yes\"}}";
	struct kube_patch_opts po = { .type = KUBE_PATCH_MERGE };
	RC(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", mp, strlen(mp), &po, NULL, &e), 0);
	const char *jp = "[{\"op\":\"add\",\"path\":\"/data/jsonpatched\",\"value\":\"yes\"}]";
	po.type = KUBE_PATCH_JSON;
	RC(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", jp, strlen(jp), &po, &out, &e), 0);
	CHECK(out && jstr(out, "data", "merged") && jstr(out, "data", "jsonpatched"), "both patches applied");
	json_object_put(out);

	/* server-side apply: create, then another manager conflicts unless forced */
	json_object *b = cm("kcc-b", "owned", "by-operator");
	RC(kube_apply(c, &KUBE_RES_CONFIGMAPS, ns, b, "modelcache-operator", true, NULL, NULL, &e), 0);
	json_object *b2 = cm("kcc-b", "owned", "by-someone-else");
	RC(kube_apply(c, &KUBE_RES_CONFIGMAPS, ns, b2, "other-manager", false, NULL, NULL, &e), -KUBE_ERR_CONFLICT);
	RC(kube_apply(c, &KUBE_RES_CONFIGMAPS, ns, b2, "other-manager", true, NULL, &out, &e), 0);
	CHECK(out && streq(jstr(out, "data", "owned"), "by-someone-else"), "forced apply took the field");
	json_object_put(out);

	/* pagination: 7 more objects, listed 2 at a time */
	for (int i = 0; i < 7; i++) {
		char nm[32];
		snprintf(nm, sizeof(nm), "kcc-p%d", i);
		json_object *p = cm(nm, "i", "x");
		RC(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, p, NULL, &e), 0);
		json_object_put(p);
	}
	lo.limit = 2;
	RC(kube_list(c, &KUBE_RES_CONFIGMAPS, ns, &lo, &out, &e), 0);
	json_object *items = NULL;
	CHECK(out && json_object_object_get_ex(out, "items", &items) && json_object_array_length(items) == 9,
	      "paged list returns all 9 objects (got %zu)", items ? json_object_array_length(items) : 0);
	json_object_put(out);

	/* delete: a wrong uid precondition is a Conflict; then Background; then NotFound */
	struct kube_delete_opts dopt = { .precondition_uid = "00000000-0000-0000-0000-000000000000" };
	RC(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", &dopt, &e), -KUBE_ERR_CONFLICT);
	dopt = (struct kube_delete_opts){ .propagation_policy = "Background", .precondition_uid = uid };
	RC(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", &dopt, &e), 0);
	RC(kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", NULL, &e), -KUBE_ERR_NOT_FOUND);
	RC(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "kcc-a", NULL, &e), -KUBE_ERR_NOT_FOUND);

	/* discovery */
	RC(kube_resource_served(c, &KUBE_RES_JOBS, &e), 0);
	RC(kube_resource_served(c, &KUBE_RES_LEADERWORKERSETS, &e), -KUBE_ERR_NOT_FOUND);

	/* the watch saw it all, in order */
	CHECK(wait_log(&s, "DELETED kcc-a;"), "watch saw the delete: %s", s.log);
	CHECK(strstr(s.log, "ADDED kcc-a;MODIFIED kcc-a;MODIFIED kcc-a;MODIFIED kcc-a;") == s.log,
	      "watch order: %s", s.log);
	CHECK(strstr(s.log, "ADDED kcc-b;MODIFIED kcc-b;"), "watch saw the apply: %s", s.log);
	char last[64];
	kube_watch_last_rv(w, last, sizeof(last));
	CHECK(strcmp(last, rv) != 0 && last[0], "last RV moved from %s to %s", rv, last);
	kube_watch_stop(w);
	kube_watch_mux_free(m);

	json_object_put(a);
	json_object_put(b);
	json_object_put(b2);
	kube_client_free(c);
	printf("crud: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

struct codes {
	pthread_mutex_t mu;
	int n429, n5xx, n;
};

static void count_hook(void *ctx, const char *verb, const char *res, int code)
{
	struct codes *k = ctx;
	(void)verb;
	(void)res;
	pthread_mutex_lock(&k->mu);
	k->n++;
	if (code == 429)
		k->n429++;
	if (code >= 500)
		k->n5xx++;
	pthread_mutex_unlock(&k->mu);
}

static int reads(const char *kc, int n)
{
	struct codes k = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct kube_client_opts o = { .hook = count_hook, .hook_ctx = &k, .max_retries = 12 };   /* 0.3^13: a call never runs out */
	struct kube_client *c = open_client(kc, &o);
	struct kube_error e = { 0 };
	for (int i = 0; i < n; i++) {
		if (i % 2)
			RC(kube_list(c, &KUBE_RES_NAMESPACES, NULL, NULL, NULL, &e), 0);
		else
			RC(kube_get(c, &KUBE_RES_NAMESPACES, NULL, "default", NULL, &e), 0);
	}
	kube_client_free(c);
	printf("reads: %d calls, %d exchanges, %d x 429, %d x 5xx retried: %s\n", n, k.n, k.n429, k.n5xx,
	       failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}

static int auth(const char *kc)
{
	struct kube_client *c = open_client(kc, NULL);
	struct kube_error e = { 0 };
	int rc = kube_get(c, &KUBE_RES_NAMESPACES, NULL, "default", NULL, &e);
	printf("auth: rc=%d %s\n", rc, e.message ? e.message : "");
	kube_error_clear(&e);
	kube_client_free(c);
	return rc == -KUBE_ERR_UNAUTHORIZED ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "crud") == 0)
		return crud(argv[2], argv[3]);
	if (argc >= 4 && strcmp(argv[1], "reads") == 0)
		return reads(argv[2], atoi(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "auth") == 0)
		return auth(argv[2]);
	fprintf(stderr, "usage: kube-client-check crud KUBECONFIG NS | reads KUBECONFIG N | auth KUBECONFIG\n");
	return 2;
}
