/* kubesim store (sim.h): resourceVersions, generation, 409/410 rules,
 * status subresource, finalizers, CRD registration, selectors, watches,
 * subscribers and owner-reference garbage collection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evview.h"
#include "gc.h"
#include "labelsel.h"
#include "sim.h"
#include "simjson.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static struct sim *new_sim(void)
{
	struct sim *s = NULL;
	assert_int_equal(sim_new(NULL, &s), 0);
	return s;
}

static uint64_t rv_of(json_object *o)
{
	const char *rv = sj_str(o, "metadata", "resourceVersion", NULL);
	assert_non_null(rv);
	return strtoull(rv, NULL, 10);
}

static int64_t gen_of(json_object *o)
{
	return json_object_get_int64(sj_get(sj_get(o, "metadata"), "generation"));
}

static void create_cm(struct sim *s, const char *ns, const char *name, const char *labels_json)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"labels\":%s},\"data\":{\"k\":\"v\"}}", name,
		 labels_json ? labels_json : "{}");
	json_object *o = J(buf);
	assert_int_equal(sim_create(s, "", "v1", "configmaps", ns, o, NULL, NULL), 0);
	json_object_put(o);
}

static void test_create_get_and_metadata(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	json_object *in = J("{\"metadata\":{\"name\":\"a\"},\"data\":{\"x\":\"1\"}}"), *out = NULL, *got = NULL;
	uint64_t before = sim_current_rv(s);
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", in, &out, NULL), 0);
	assert_string_equal(sj_str(out, "apiVersion", NULL), "v1");
	assert_string_equal(sj_str(out, "kind", NULL), "ConfigMap");
	assert_string_equal(sj_str(out, "metadata", "namespace", NULL), "default");
	assert_int_equal(strlen(sj_str(out, "metadata", "uid", NULL)), 36);
	assert_non_null(sj_str(out, "metadata", "creationTimestamp", NULL));
	assert_int_equal(rv_of(out), before + 1);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "a", &got, NULL), 0);
	assert_true(json_object_equal(got, out));
	/* duplicate => 409 AlreadyExists */
	struct sim_err e = {0};
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", in, NULL, &e), -409);
	assert_string_equal(e.reason, "AlreadyExists");
	assert_string_equal(e.message, "configmaps \"a\" already exists");
	sim_err_cleanup(&e);
	/* missing namespace => 404 */
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "nope", in, NULL, &e), -404);
	assert_string_equal(e.message, "namespaces \"nope\" not found");
	sim_err_cleanup(&e);
	/* bad name => 422 naming metadata.name */
	json_object *bad = J("{\"metadata\":{\"name\":\"Bad_Name\"}}");
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", bad, NULL, &e), -422);
	assert_string_equal(e.reason, "Invalid");
	assert_string_equal(sj_str(json_object_array_get_idx(e.causes, 0), "field", NULL), "metadata.name");
	sim_err_cleanup(&e);
	/* not found */
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "zz", NULL, &e), -404);
	assert_string_equal(e.message, "configmaps \"zz\" not found");
	sim_err_cleanup(&e);
	/* metadata of the wrong JSON types is refused before anything reads it */
	const char *badmeta[] = {"{\"metadata\":{\"name\":\"m\",\"finalizers\":\"x\"}}",
				 "{\"metadata\":{\"name\":\"m\",\"labels\":{\"a\":1}}}",
				 "{\"metadata\":{\"name\":\"m\",\"ownerReferences\":[\"x\"]}}",
				 "{\"metadata\":{\"name\":7}}", "{\"metadata\":\"x\"}"};
	for (size_t i = 0; i < sizeof(badmeta) / sizeof(badmeta[0]); i++) {
		json_object *bm = J(badmeta[i]);
		assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", bm, NULL, &e), -400);
		assert_string_equal(e.reason, "BadRequest");
		sim_err_cleanup(&e);
		json_object_put(bm);
	}
	/* unknown resource */
	assert_int_equal(sim_get(s, "x.io", "v1", "things", "default", "zz", NULL, &e), -404);
	sim_err_cleanup(&e);
	json_object_put(bad);
	json_object_put(in);
	json_object_put(out);
	json_object_put(got);
	sim_free(s);
}

static void test_generate_name(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	json_object *in = J("{\"metadata\":{\"generateName\":\"job-\"}}"), *a = NULL, *b = NULL;
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", in, &a, NULL), 0);
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", in, &b, NULL), 0);
	const char *na = sj_str(a, "metadata", "name", NULL), *nb = sj_str(b, "metadata", "name", NULL);
	assert_int_equal(strncmp(na, "job-", 4), 0);
	assert_int_equal(strlen(na), 9);
	assert_string_not_equal(na, nb);
	json_object_put(in);
	json_object_put(a);
	json_object_put(b);
	sim_free(s);
}

/* A valid Deployment spec (the store validates built-in kinds, validate.c). */
#define DSPEC(r)                                                                                                \
	"\"spec\":{\"replicas\":" #r ",\"selector\":{\"matchLabels\":{\"app\":\"d\"}},\"template\":{\"metadata\":" \
	"{\"labels\":{\"app\":\"d\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}"

static void test_update_conflict_and_generation(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	json_object *in = J("{\"metadata\":{\"name\":\"d\"}," DSPEC(1) "}"), *v1 = NULL, *v2 = NULL,
		    *v3 = NULL;
	assert_int_equal(sim_create(s, "apps", "v1", "deployments", "default", in, &v1, NULL), 0);
	assert_int_equal(gen_of(v1), 1);
	/* label change: new rv, same generation */
	json_object *upd = json_object_get(v1);
	json_object *m = sj_meta(upd);
	json_object_object_add(m, "labels", J("{\"a\":\"b\"}"));
	assert_int_equal(sim_update(s, "apps", "v1", "deployments", "default", upd, &v2, NULL), 0);
	assert_true(rv_of(v2) > rv_of(v1));
	assert_int_equal(gen_of(v2), 1);
	/* stale resourceVersion (v1's) => 409 Conflict */
	json_object *stale = J("{\"metadata\":{\"name\":\"d\",\"resourceVersion\":\"1\"}," DSPEC(5) "}");
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv_of(v1));
	json_object_object_add(sj_meta(stale), "resourceVersion", json_object_new_string(rvs));
	struct sim_err e = {0};
	assert_int_equal(sim_update(s, "apps", "v1", "deployments", "default", stale, NULL, &e), -409);
	assert_string_equal(e.reason, "Conflict");
	assert_non_null(strstr(e.message, "the object has been modified"));
	sim_err_cleanup(&e);
	/* current resourceVersion: spec change bumps generation */
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv_of(v2));
	json_object_object_add(sj_meta(stale), "resourceVersion", json_object_new_string(rvs));
	assert_int_equal(sim_update(s, "apps", "v1", "deployments", "default", stale, &v3, NULL), 0);
	assert_int_equal(gen_of(v3), 2);
	/* the update dropped the labels (a PUT replaces) but kept uid/creationTimestamp */
	assert_null(sj_get(sj_get(v3, "metadata"), "labels"));
	assert_string_equal(sj_str(v3, "metadata", "uid", NULL), sj_str(v1, "metadata", "uid", NULL));
	/* no-op update: same resourceVersion, no event */
	uint64_t cur = sim_current_rv(s);
	json_object *v4 = NULL;
	assert_int_equal(sim_update(s, "apps", "v1", "deployments", "default", v3, &v4, NULL), 0);
	assert_int_equal(sim_current_rv(s), cur);
	assert_int_equal(rv_of(v4), rv_of(v3));
	json_object_put(in);
	json_object_put(upd);
	json_object_put(v1);
	json_object_put(v2);
	json_object_put(v3);
	json_object_put(v4);
	json_object_put(stale);
	sim_free(s);
}

static void test_status_subresource(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	json_object *in = J("{\"metadata\":{\"name\":\"j\"}," DSPEC(1) ",\"status\":{\"replicas\":3}}");
	json_object *v1 = NULL, *v2 = NULL, *v3 = NULL;
	assert_int_equal(sim_create(s, "apps", "v1", "deployments", "default", in, &v1, NULL), 0);
	/* status written through the status subresource; spec in the same body ignored */
	json_object *st = J("{\"metadata\":{\"name\":\"j\"}," DSPEC(9) ",\"status\":{\"readyReplicas\":1}}");
	assert_int_equal(sim_update_status(s, "apps", "v1", "deployments", "default", st, &v2, NULL), 0);
	assert_int_equal(json_object_get_int(sj_get(sj_get(v2, "status"), "readyReplicas")), 1);
	assert_int_equal(json_object_get_int(sj_get(sj_get(v2, "spec"), "replicas")), 1);
	assert_int_equal(gen_of(v2), 1);
	/* main resource: status changes ignored, spec changes taken */
	assert_int_equal(sim_update(s, "apps", "v1", "deployments", "default", st, &v3, NULL), 0);
	assert_int_equal(json_object_get_int(sj_get(sj_get(v3, "spec"), "replicas")), 9);
	assert_int_equal(json_object_get_int(sj_get(sj_get(v3, "status"), "readyReplicas")), 1);
	assert_int_equal(gen_of(v3), 2);
	json_object_put(in);
	json_object_put(st);
	json_object_put(v1);
	json_object_put(v2);
	json_object_put(v3);
	sim_free(s);
}

static void test_finalizers_hold_delete(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	json_object *in = J("{\"metadata\":{\"name\":\"f\",\"finalizers\":[\"x.io/keep\"]}}"), *out = NULL, *got = NULL;
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", in, NULL, NULL), 0);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "f", NULL, &out, NULL), 0);
	assert_non_null(sj_str(out, "metadata", "deletionTimestamp", NULL));
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "f", &got, NULL), 0);
	assert_non_null(sj_str(got, "metadata", "deletionTimestamp", NULL));
	/* deleting again changes nothing */
	uint64_t cur = sim_current_rv(s);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "f", NULL, NULL, NULL), 0);
	assert_int_equal(sim_current_rv(s), cur);
	/* removing the finalizer deletes it */
	json_object_object_del(sj_meta(got), "finalizers");
	assert_int_equal(sim_update(s, "", "v1", "configmaps", "default", got, NULL, NULL), 0);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "f", NULL, NULL), -404);
	json_object_put(in);
	json_object_put(out);
	json_object_put(got);
	sim_free(s);
}

static void test_list_selectors(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	json_object *ns = J("{\"metadata\":{\"name\":\"other\"}}");
	assert_int_equal(sim_create(s, "", "v1", "namespaces", NULL, ns, NULL, NULL), 0);
	create_cm(s, "default", "c", "{\"app\":\"x\",\"tier\":\"web\"}");
	create_cm(s, "default", "a", "{\"app\":\"x\"}");
	create_cm(s, "default", "b", "{\"app\":\"y\"}");
	create_cm(s, "other", "a", "{\"app\":\"x\"}");
	struct {
		const char *ns, *ls, *fs, *want;
	} cases[] = {
		{"default", NULL, NULL, "a,b,c"},
		{NULL, NULL, NULL, "a,b,c,a"},
		{"default", "app=x", NULL, "a,c"},
		{"default", "app==x", NULL, "a,c"},
		{"default", "app!=x", NULL, "b"},
		{"default", "app in (x,y),tier", NULL, "c"},
		{"default", "app notin (x)", NULL, "b"},
		{"default", "!tier", NULL, "a,b"},
		{NULL, "app=x", "metadata.namespace=other", "a"},
		{NULL, NULL, "metadata.name=a", "a,a"},
		{NULL, NULL, "metadata.name!=a,metadata.namespace==default", "b,c"},
		{"default", "app=z", NULL, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_object *l = NULL;
		assert_int_equal(sim_list(s, "", "v1", "configmaps", cases[i].ns, cases[i].ls, cases[i].fs, &l, NULL), 0);
		assert_string_equal(sj_str(l, "kind", NULL), "ConfigMapList");
		assert_int_equal(strtoull(sj_str(l, "metadata", "resourceVersion", NULL), NULL, 10), sim_current_rv(s));
		char got[256] = "";
		json_object *items = sj_get(l, "items");
		for (size_t k = 0; k < json_object_array_length(items); k++) {
			strcat(got, k ? "," : "");
			strcat(got, sj_str(json_object_array_get_idx(items, k), "metadata", "name", NULL));
		}
		assert_string_equal(got, cases[i].want);
		json_object_put(l);
	}
	struct sim_err e = {0};
	assert_int_equal(sim_list(s, "", "v1", "configmaps", NULL, "a in x", NULL, NULL, &e), -400);
	sim_err_cleanup(&e);
	json_object_put(ns);
	sim_free(s);
}

static void test_watch_order_and_410(void **state)
{
	(void)state;
	struct sim_opts o = {.history_max = 1000};
	struct sim *s = NULL;
	assert_int_equal(sim_new(&o, &s), 0);
	uint64_t start = sim_current_rv(s);
	struct sim_watch *w = NULL;
	assert_int_equal(sim_watch_open(s, "", "configmaps", "default", start, &w), 0);
	create_cm(s, "default", "a", NULL);
	create_cm(s, "kube-system", "other-ns", NULL); /* filtered out by namespace */
	json_object *upd = J("{\"metadata\":{\"name\":\"a\"},\"data\":{\"k\":\"2\"}}");
	assert_int_equal(sim_update(s, "", "v1", "configmaps", "default", upd, NULL, NULL), 0);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "a", NULL, NULL, NULL), 0);
	const char *want[] = {"ADDED", "MODIFIED", "DELETED"};
	uint64_t last = start;
	for (int i = 0; i < 3; i++) {
		char *type = NULL, *json = NULL;
		uint64_t rv = 0;
		assert_int_equal(sim_watch_next(w, 1000, &type, &json, &rv, NULL), 0);
		assert_string_equal(type, want[i]);
		assert_true(rv > last);
		json_object *obj = J(json);
		assert_int_equal(rv_of(obj), rv);
		assert_string_equal(sj_str(obj, "metadata", "name", NULL), "a");
		last = rv;
		json_object_put(obj);
		free(type);
		free(json);
	}
	char *type = NULL, *json = NULL;
	uint64_t rv = 0;
	assert_int_equal(sim_watch_next(w, 50, &type, &json, &rv, NULL), 1); /* timeout, nothing */
	assert_int_equal(sim_watch_pos(w), sim_current_rv(s));
	sim_watch_close(w);

	/* compaction: older resourceVersions are gone, the current one still works */
	sim_compact(s);
	assert_int_equal(sim_watch_open(s, "", "configmaps", NULL, start, &w), -410);
	assert_int_equal(sim_watch_open(s, "", "configmaps", NULL, sim_current_rv(s), &w), 0);
	create_cm(s, "default", "b", NULL);
	assert_int_equal(sim_watch_next(w, 1000, &type, &json, &rv, NULL), 0);
	assert_string_equal(type, "ADDED");
	free(type);
	free(json);
	/* a cursor left behind by a compaction gets -410 */
	create_cm(s, "default", "c", NULL);
	sim_compact(s);
	assert_int_equal(sim_watch_next(w, 50, &type, &json, &rv, NULL), -410);
	sim_watch_close(w);
	json_object_put(upd);
	sim_free(s);
}

static void test_watch_prev_labels(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	create_cm(s, "default", "l", "{\"x\":\"1\"}");
	struct sim_watch *w = NULL;
	assert_int_equal(sim_watch_open(s, "", "configmaps", NULL, sim_current_rv(s), &w), 0);
	json_object *upd = J("{\"metadata\":{\"name\":\"l\",\"labels\":{\"x\":\"2\"}}}");
	assert_int_equal(sim_update(s, "", "v1", "configmaps", "default", upd, NULL, NULL), 0);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "l", NULL, NULL, NULL), 0);
	char *type = NULL, *json = NULL, *prev = NULL;
	uint64_t rv;
	assert_int_equal(sim_watch_next(w, 1000, &type, &json, &rv, &prev), 0);
	assert_string_equal(type, "MODIFIED");
	json_object *pl = J(prev), *o = J(json);
	assert_string_equal(sj_str(pl, "x", NULL), "1");
	assert_string_equal(sj_str(o, "metadata", "labels", "x", NULL), "2");
	json_object_put(pl);
	json_object_put(o);
	free(type);
	free(json);
	free(prev);
	prev = NULL;
	assert_int_equal(sim_watch_next(w, 1000, &type, &json, &rv, &prev), 0);
	assert_string_equal(type, "DELETED");
	assert_null(prev);
	free(type);
	free(json);
	sim_watch_close(w);
	json_object_put(upd);
	sim_free(s);
}

static void test_history_cap(void **state)
{
	(void)state;
	struct sim_opts o = {.history_max = 10};
	struct sim *s = NULL;
	assert_int_equal(sim_new(&o, &s), 0);
	uint64_t start = sim_current_rv(s);
	char name[32];
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		create_cm(s, "default", name, NULL);
	}
	sim_sync(s);
	/* make sure the dispatcher released the history, then the old rv is gone */
	create_cm(s, "default", "last", NULL);
	sim_sync(s);
	struct sim_watch *w = NULL;
	assert_int_equal(sim_watch_open(s, "", "configmaps", NULL, start, &w), -410);
	assert_int_equal(sim_watch_open(s, "", "configmaps", NULL, sim_current_rv(s) - 5, &w), 0);
	sim_watch_close(w);
	sim_free(s);
}

struct rec {
	int n;
	char log[2048];
};

static void record(void *ctx, const char *type, const char *plural, json_object *obj)
{
	struct rec *r = ctx;
	r->n++;
	char line[128];
	snprintf(line, sizeof(line), "%s %s %s;", type, plural, sj_str(obj, "metadata", "name", NULL));
	strncat(r->log, line, sizeof(r->log) - strlen(r->log) - 1);
}

static void test_subscribers(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	struct rec r = {0};
	int id = 0;
	assert_int_equal(sim_subscribe(s, record, &r, &id), 0);
	create_cm(s, "default", "a", NULL);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "a", NULL, NULL, NULL), 0);
	sim_sync(s);
	assert_string_equal(r.log, "ADDED configmaps a;DELETED configmaps a;");
	sim_unsubscribe(s, id);
	create_cm(s, "default", "b", NULL);
	sim_sync(s);
	assert_int_equal(r.n, 2);
	sim_free(s);
}

static const char *crd_json =
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
	"\"metadata\":{\"name\":\"widgets.x.io\"},\"spec\":{\"group\":\"x.io\",\"scope\":\"Namespaced\","
	"\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\",\"shortNames\":[\"wd\"]},"
	"\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
	"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
	"\"required\":[\"size\"],\"properties\":{\"size\":{\"type\":\"integer\",\"minimum\":1},"
	"\"mode\":{\"type\":\"string\",\"default\":\"fast\"}}},\"status\":{\"type\":\"object\","
	"\"x-kubernetes-preserve-unknown-fields\":true}}}}}]}}";

static void test_crd_serves_kind(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	assert_int_equal(sim_served(s, "x.io", "v1", "widgets", NULL), 0);
	json_object *crd = J(crd_json), *out = NULL;
	assert_int_equal(sim_create(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL, crd, &out, NULL), 0);
	assert_string_equal(sj_str(json_object_array_get_idx(sj_get(sj_get(out, "status"), "conditions"), 1), "type", NULL),
			    "Established");
	int namespaced = 0;
	assert_int_equal(sim_served(s, "x.io", "v1", "widgets", &namespaced), 1);
	assert_int_equal(namespaced, 1);
	json_object *w = J("{\"apiVersion\":\"x.io/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w1\"},"
			   "\"spec\":{\"size\":2,\"junk\":1},\"status\":{\"x\":1}}"),
		    *wo = NULL;
	assert_int_equal(sim_create(s, "x.io", "v1", "widgets", "default", w, &wo, NULL), 0);
	assert_string_equal(sj_str(wo, "kind", NULL), "Widget");
#ifdef KUBESIM_HAVE_SCHEMA
	assert_string_equal(sj_str(wo, "spec", "mode", NULL), "fast");        /* defaulted */
	assert_null(sj_get(sj_get(wo, "spec"), "junk"));                      /* pruned */
	json_object *bad = J("{\"metadata\":{\"name\":\"w2\"},\"spec\":{\"size\":0}}");
	struct sim_err e = {0};
	assert_int_equal(sim_create(s, "x.io", "v1", "widgets", "default", bad, NULL, &e), -422);
	assert_string_equal(e.reason, "Invalid");
	assert_non_null(strstr(e.message, "spec.size"));
	sim_err_cleanup(&e);
	json_object_put(bad);
	/* fieldValidation=Strict: unknown fields are refused instead of pruned */
	json_object *junk = J("{\"metadata\":{\"name\":\"w3\"},\"spec\":{\"size\":2,\"junk\":1,"
			      "\"list\":[{\"a\":1}]}}");
	sim_field_validation_strict(1);
	assert_int_equal(sim_create(s, "x.io", "v1", "widgets", "default", junk, NULL, &e), -400);
	sim_field_validation_strict(0);
	assert_string_equal(e.reason, "BadRequest");
	assert_non_null(strstr(e.message, "strict decoding error: unknown field \"spec.junk\""));
	assert_non_null(strstr(e.message, "unknown field \"spec.list\""));
	sim_err_cleanup(&e);
	json_object_put(junk);
#endif
	assert_null(sj_get(wo, "status")); /* status subresource: not set on create */
	/* deleting the CRD stops serving the kind and removes its objects */
	struct rec r = {0};
	int id;
	sim_subscribe(s, record, &r, &id);
	assert_int_equal(sim_delete(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL, "widgets.x.io",
				    NULL, NULL, NULL), 0);
	sim_sync(s);
	assert_non_null(strstr(r.log, "DELETED widgets w1;"));
	assert_int_equal(sim_served(s, "x.io", "v1", "widgets", NULL), 0);
	sim_unsubscribe(s, id);
	json_object_put(crd);
	json_object_put(out);
	json_object_put(w);
	json_object_put(wo);
	sim_free(s);
}

static void test_crd_delete_waits_for_objects(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	struct gc *gc = NULL;
	assert_int_equal(gc_start(s, &gc), 0);
	json_object *crd = J(crd_json), *w = NULL, *out = NULL;
	assert_int_equal(sim_create(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL, crd, NULL, NULL), 0);
	w = J("{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"x.io/f\"]},\"spec\":{\"size\":1}}");
	assert_int_equal(sim_create(s, "x.io", "v1", "widgets", "default", w, NULL, NULL), 0);
	assert_int_equal(sim_delete(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL, "widgets.x.io",
				    NULL, &out, NULL), 0);
	assert_non_null(sj_str(out, "metadata", "deletionTimestamp", NULL));
	json_object_put(out);
	sim_sync(s);
	/* still served; the object is Terminating; no new objects */
	assert_int_equal(sim_served(s, "x.io", "v1", "widgets", NULL), 1);
	assert_int_equal(sim_get(s, "x.io", "v1", "widgets", "default", "held", &out, NULL), 0);
	assert_non_null(sj_str(out, "metadata", "deletionTimestamp", NULL));
	json_object *w2 = J("{\"metadata\":{\"name\":\"new\"},\"spec\":{\"size\":1}}");
	struct sim_err e = {0};
	assert_int_equal(sim_create(s, "x.io", "v1", "widgets", "default", w2, NULL, &e), -405);
	sim_err_cleanup(&e);
	/* the last finalizer goes: the object, then (GC) the CRD */
	json_object_object_del(sj_meta(out), "finalizers");
	assert_int_equal(sim_update(s, "x.io", "v1", "widgets", "default", out, NULL, NULL), 0);
	for (int i = 0; i < 3; i++)
		sim_sync(s);
	assert_int_equal(sim_served(s, "x.io", "v1", "widgets", NULL), 0);
	assert_int_equal(sim_get(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL, "widgets.x.io", NULL,
				 NULL), -404);
	json_object_put(out);
	json_object_put(w);
	json_object_put(w2);
	json_object_put(crd);
	gc_stop(gc);
	sim_free(s);
}

static void test_patch_merge_and_apply(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	create_cm(s, "default", "p", "{\"a\":\"1\"}");
	json_object *patch = J("{\"metadata\":{\"labels\":{\"a\":null,\"b\":\"2\"}},\"data\":{\"k2\":\"v2\"}}"), *out = NULL;
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "p", NULL, SIM_PATCH_MERGE, patch, NULL, 0,
				   &out, NULL), 0);
	assert_null(sj_get(sj_get(sj_get(out, "metadata"), "labels"), "a"));
	assert_string_equal(sj_str(out, "metadata", "labels", "b", NULL), "2");
	assert_string_equal(sj_str(out, "data", "k", NULL), "v");
	assert_string_equal(sj_str(out, "data", "k2", NULL), "v2");
	json_object_put(out);
	/* a patch carrying a stale resourceVersion => 409 */
	json_object *stale = J("{\"metadata\":{\"resourceVersion\":\"1\"},\"data\":{\"k\":\"x\"}}");
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "p", NULL, SIM_PATCH_MERGE, stale, NULL, 0,
				   NULL, NULL), -409);
	/* patch of a missing object => 404; apply creates it */
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "nope", NULL, SIM_PATCH_MERGE, patch, NULL, 0,
				   NULL, NULL), -404);
	json_object *ap = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"new\"},\"data\":{\"z\":\"1\"}}");
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "new", NULL, SIM_PATCH_APPLY, ap, "me", 0, &out,
				   NULL), 0);
	assert_string_equal(sj_str(out, "data", "z", NULL), "1");
	assert_non_null(sj_str(out, "metadata", "uid", NULL));
	json_object_put(out);
	/* apply requires a field manager */
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "new", NULL, SIM_PATCH_APPLY, ap, NULL, 0, NULL,
				   NULL), -422);
	json_object_put(patch);
	json_object_put(stale);
	json_object_put(ap);
	sim_free(s);
}

static void test_gc_background_and_foreground(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	struct gc *gc = NULL;
	assert_int_equal(gc_start(s, &gc), 0);
	json_object *owner = J("{\"metadata\":{\"name\":\"owner\"}}"), *oo = NULL;
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", owner, &oo, NULL), 0);
	char buf[512];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"dep\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		 "\"name\":\"owner\",\"uid\":\"%s\"}]}}",
		 sj_str(oo, "metadata", "uid", NULL));
	json_object *dep = J(buf);
	assert_int_equal(sim_create(s, "", "v1", "secrets", "default", dep, NULL, NULL), 0);
	sim_sync(s);
	assert_int_equal(sim_get(s, "", "v1", "secrets", "default", "dep", NULL, NULL), 0);
	/* background: the owner goes at once, the dependent after the GC ran */
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "owner", "Background", NULL, NULL), 0);
	sim_sync(s);
	sim_sync(s);
	assert_int_equal(sim_get(s, "", "v1", "secrets", "default", "dep", NULL, NULL), -404);

	/* foreground: the owner waits (finalizer) until its dependent is gone */
	json_object_put(oo);
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", owner, &oo, NULL), 0);
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"dep2\",\"finalizers\":[\"x.io/hold\"],\"ownerReferences\":[{\"apiVersion\":\"v1\","
		 "\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"%s\"}]}}",
		 sj_str(oo, "metadata", "uid", NULL));
	json_object *dep2 = J(buf), *got = NULL;
	assert_int_equal(sim_create(s, "", "v1", "secrets", "default", dep2, NULL, NULL), 0);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "owner", "Foreground", NULL, NULL), 0);
	sim_sync(s);
	sim_sync(s);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "owner", &got, NULL), 0);
	assert_non_null(sj_str(got, "metadata", "deletionTimestamp", NULL));
	json_object_put(got);
	assert_int_equal(sim_get(s, "", "v1", "secrets", "default", "dep2", &got, NULL), 0);
	assert_non_null(sj_str(got, "metadata", "deletionTimestamp", NULL)); /* held by its own finalizer */
	json_object_object_del(sj_meta(got), "finalizers");
	assert_int_equal(sim_update(s, "", "v1", "secrets", "default", got, NULL, NULL), 0);
	for (int i = 0; i < 4; i++)
		sim_sync(s);
	assert_int_equal(sim_get(s, "", "v1", "secrets", "default", "dep2", NULL, NULL), -404);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "owner", NULL, NULL), -404);
	json_object_put(got);
	json_object_put(owner);
	json_object_put(oo);
	json_object_put(dep);
	json_object_put(dep2);
	gc_stop(gc);
	sim_free(s);
}

static void test_namespace_delete(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	struct gc *gc = NULL;
	assert_int_equal(gc_start(s, &gc), 0);
	json_object *ns = J("{\"metadata\":{\"name\":\"tmp\"}}"), *out = NULL;
	assert_int_equal(sim_create(s, "", "v1", "namespaces", NULL, ns, &out, NULL), 0);
	assert_string_equal(sj_str(out, "status", "phase", NULL), "Active");
	assert_string_equal(sj_str(out, "metadata", "labels", "kubernetes.io/metadata.name", NULL), "tmp");
	assert_int_equal(sim_delete(s, "", "v1", "namespaces", NULL, "default", NULL, NULL, NULL), -403);
	json_object_put(out);
	create_cm(s, "tmp", "a", NULL);
	json_object *held = J("{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"x.io/f\"]}}"), *h = NULL;
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "tmp", held, NULL, NULL), 0);
	assert_int_equal(sim_delete(s, "", "v1", "namespaces", NULL, "tmp", NULL, NULL, NULL), 0);
	sim_sync(s);
	/* Terminating while the finalizer holds "held": no new content (403) */
	assert_int_equal(sim_get(s, "", "v1", "namespaces", NULL, "tmp", &out, NULL), 0);
	assert_string_equal(sj_str(out, "status", "phase", NULL), "Terminating");
	json_object_put(out);
	struct sim_err e = {0};
	json_object *more = J("{\"metadata\":{\"name\":\"more\"}}");
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "tmp", more, NULL, &e), -403);
	assert_string_equal(e.reason, "Forbidden");
	sim_err_cleanup(&e);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "tmp", "held", &h, NULL), 0);
	json_object_object_del(sj_meta(h), "finalizers");
	assert_int_equal(sim_update(s, "", "v1", "configmaps", "tmp", h, NULL, NULL), 0);
	sim_sync(s);
	sim_sync(s);
	json_object_put(h);
	json_object_put(held);
	json_object_put(more);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "tmp", "a", NULL, NULL), -404);
	assert_int_equal(sim_get(s, "", "v1", "namespaces", NULL, "tmp", NULL, NULL), -404);
	json_object_put(ns);
	gc_stop(gc);
	sim_free(s);
}

/* events.k8s.io/v1 <-> core/v1: the field renames of the apiserver's
 * conversion, both ways, and JSON patch paths (evview.h). */
static void test_event_view(void **state)
{
	(void)state;
	json_object *ev = J("{\"apiVersion\":\"events.k8s.io/v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"q.1\"},"
			    "\"eventTime\":\"2026-01-01T00:00:00.000000Z\",\"reportingController\":\"op\","
			    "\"reportingInstance\":\"op-1\",\"action\":\"Compose\",\"reason\":\"Staging\",\"type\":\"Normal\","
			    "\"note\":\"hello\",\"series\":{\"count\":3,\"lastObservedTime\":\"2026-01-01T00:00:01.000000Z\"},"
			    "\"deprecatedCount\":2,\"regarding\":{\"kind\":\"ModelCache\",\"name\":\"q\",\"namespace\":\"default\"}}");
	json_object *orig = sj_copy(ev);
	evview_convert(ev, 1, 1);
	assert_string_equal(sj_str(ev, "apiVersion", NULL), "v1");
	assert_string_equal(sj_str(ev, "message", NULL), "hello");
	assert_string_equal(sj_str(ev, "involvedObject", "name", NULL), "q");
	assert_string_equal(sj_str(ev, "reportingComponent", NULL), "op");
	assert_null(sj_get(ev, "source")); /* no source is made up */
	assert_int_equal(json_object_get_int(sj_get(ev, "count")), 2);
	assert_int_equal(json_object_get_int(sj_get(sj_get(ev, "series"), "count")), 3);
	assert_null(sj_get(ev, "note"));
	assert_null(sj_get(ev, "regarding"));
	evview_convert(ev, 0, 1);
	assert_true(json_object_equal(ev, orig));
	/* a merge patch has no apiVersion: none is added */
	json_object *mp = J("{\"note\":\"x\",\"series\":{\"count\":4}}");
	evview_convert(mp, 1, 0);
	assert_string_equal(sj_str(mp, "message", NULL), "x");
	assert_null(sj_get(mp, "apiVersion"));
	json_object *jp = J("[{\"op\":\"replace\",\"path\":\"/deprecatedCount\",\"value\":5},"
			    "{\"op\":\"copy\",\"from\":\"/note\",\"path\":\"/series/count\"}]");
	evview_convert_json_patch(jp);
	assert_string_equal(sj_str(json_object_array_get_idx(jp, 0), "path", NULL), "/count");
	assert_string_equal(sj_str(json_object_array_get_idx(jp, 1), "from", NULL), "/message");
	assert_string_equal(sj_str(json_object_array_get_idx(jp, 1), "path", NULL), "/series/count");
	json_object_put(jp);
	json_object_put(mp);
	json_object_put(orig);
	json_object_put(ev);
}

static void test_dry_run(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	create_cm(s, "default", "keep", NULL);
	uint64_t rv = sim_current_rv(s);
	json_object *in = J("{\"metadata\":{\"name\":\"dry\"}}"), *out = NULL;
	sim_dry_run(1);
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", in, &out, NULL), 0);
	assert_string_equal(sj_str(out, "metadata", "name", NULL), "dry");
	assert_non_null(sj_str(out, "metadata", "uid", NULL));
	json_object_put(out);
	/* validation still applies */
	struct sim_err e = {0};
	json_object *bad = J("{\"metadata\":{\"name\":\"Bad!\"}}");
	assert_int_equal(sim_create(s, "", "v1", "configmaps", "default", bad, NULL, &e), -422);
	sim_err_cleanup(&e);
	json_object *p = J("{\"data\":{\"x\":\"y\"}}");
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "keep", NULL, SIM_PATCH_MERGE, p, NULL, 0, &out,
				   NULL), 0);
	assert_string_equal(sj_str(out, "data", "x", NULL), "y");
	json_object_put(out);
	assert_int_equal(sim_delete(s, "", "v1", "configmaps", "default", "keep", NULL, NULL, NULL), 0);
	sim_dry_run(0);
	/* nothing changed */
	assert_int_equal(sim_current_rv(s), rv);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "dry", NULL, NULL), -404);
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "keep", &out, NULL), 0);
	assert_null(sj_get(sj_get(out, "data"), "x"));
	json_object_put(out);
	json_object_put(in);
	json_object_put(bad);
	json_object_put(p);
	sim_free(s);
}

static void test_update_managed_fields(void **state)
{
	(void)state;
	struct sim *s = new_sim();
	sim_field_manager("alice");
	create_cm(s, "default", "m", NULL);
	json_object *p = J("{\"data\":{\"k\":\"changed\"}}"), *out = NULL;
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "m", NULL, SIM_PATCH_MERGE, p, NULL, 0, &out,
				   NULL), 0);
	sim_field_manager(NULL);
#ifdef KUBESIM_HAVE_PATCH
	json_object *mf = sj_get(sj_get(out, "metadata"), "managedFields");
	assert_non_null(mf);
	assert_string_equal(sj_str(json_object_array_get_idx(mf, 0), "manager", NULL), "alice");
	assert_string_equal(sj_str(json_object_array_get_idx(mf, 0), "operation", NULL), "Update");
	/* a server-side apply by someone else changing data.k conflicts with alice */
	json_object *ap = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"m\"},"
			    "\"data\":{\"k\":\"bob\"}}");
	struct sim_err e = {0};
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "m", NULL, SIM_PATCH_APPLY, ap, "bob", 0, NULL,
				   &e), -409);
	assert_non_null(strstr(e.message, "alice"));
	sim_err_cleanup(&e);
	assert_int_equal(sim_patch(s, "", "v1", "configmaps", "default", "m", NULL, SIM_PATCH_APPLY, ap, "bob", 1, NULL,
				   NULL), 0);
	json_object_put(ap);
#endif
	/* untracked writes (no field manager) leave managedFields alone */
	json_object *got = NULL;
	assert_int_equal(sim_get(s, "", "v1", "configmaps", "default", "m", &got, NULL), 0);
	json_object *before = sj_copy(sj_get(sj_get(got, "metadata"), "managedFields"));
	json_object_object_add(sj_meta(got), "labels", J("{\"z\":\"1\"}"));
	json_object_put(out);
	assert_int_equal(sim_update(s, "", "v1", "configmaps", "default", got, &out, NULL), 0);
	assert_true(json_object_equal(before, sj_get(sj_get(out, "metadata"), "managedFields")));
	json_object_put(before);
	json_object_put(got);
	json_object_put(out);
	json_object_put(p);
	sim_free(s);
}

static void test_labelsel_parse_errors(void **state)
{
	(void)state;
	const char *bad[] = {"a in x", "a in (x", "a=b,", "=b", "a <> b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct labelsel *ls = NULL;
		char *err = NULL;
		assert_int_equal(labelsel_parse(bad[i], &ls, &err), -22);
		assert_non_null(err);
		free(err);
	}
	struct labelsel *ls = NULL;
	assert_int_equal(labelsel_parse("example.com/a=b , c", &ls, NULL), 0);
	json_object *l = J("{\"example.com/a\":\"b\",\"c\":\"\"}");
	assert_int_equal(labelsel_match(ls, l), 1);
	assert_int_equal(labelsel_match(ls, NULL), 0);
	json_object_put(l);
	labelsel_free(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_get_and_metadata),
		cmocka_unit_test(test_generate_name),
		cmocka_unit_test(test_update_conflict_and_generation),
		cmocka_unit_test(test_status_subresource),
		cmocka_unit_test(test_finalizers_hold_delete),
		cmocka_unit_test(test_list_selectors),
		cmocka_unit_test(test_watch_order_and_410),
		cmocka_unit_test(test_watch_prev_labels),
		cmocka_unit_test(test_history_cap),
		cmocka_unit_test(test_subscribers),
		cmocka_unit_test(test_crd_serves_kind),
		cmocka_unit_test(test_crd_delete_waits_for_objects),
		cmocka_unit_test(test_patch_merge_and_apply),
		cmocka_unit_test(test_gc_background_and_foreground),
		cmocka_unit_test(test_namespace_delete),
		cmocka_unit_test(test_event_view),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_update_managed_fields),
		cmocka_unit_test(test_labelsel_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
