#include "api.h"
#include "admission.h"
#include "validate.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "labelsel.h"
#include "rbac.h"
#include "simjson.h"
#include "pb.h"
#include "table.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"
#include "yaml2json.h"
#include "evview.h"

#define WATCH_DEFAULT_TIMEOUT_S 1800
#define BOOKMARK_EVERY_MS 10000

struct api {
	struct api_opts o;
	struct sim *sim;
	FILE *log;
	pthread_mutex_t log_mu;
	unsigned int seed;
	pthread_mutex_t seed_mu;
};

/* The request's ServiceAccount identity (sa_authenticate), NULL for the
 * admin credentials; thread-local: one request per connection thread. */
static _Thread_local json_object *tl_sa_user;
static _Thread_local int tl_anonymous;   /* the request carries no credentials */

/* ---------------------------------------------------------------- small helpers */

#define hexval sj_hexval
#define urldecode sj_urldecode
#define qparam sj_qparam

/* A boolean query parameter as the apiserver reads it
 * (Convert_Slice_string_To_bool): absent, "0" or "false" in any case is
 * false; anything else, the empty value and "True" included, is true. */
static int qbool(const char *query, const char *key)
{
	char *v = qparam(query, key);
	int b = v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
	free(v);
	return b;
}

static void request_log(struct api *a, struct http_req *r, int code)
{
	if (!a->log)
		return;
	pthread_mutex_lock(&a->log_mu);
	fprintf(a->log, "%s %s%s%s %d\n", r->method, r->path, r->query[0] ? "?" : "", r->query, code);
	fflush(a->log);
	pthread_mutex_unlock(&a->log_mu);
}

static const char *to_json(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void respond_json(struct api *a, struct http_req *r, int code, json_object *o, const char *extra)
{
	const char *s = to_json(o);
	request_log(a, r, code);
	/* admission webhooks' warnings become Warning headers (admission.c) */
	char *w = admission_take_warnings();
	char *hdrs = w ? xasprintf("%s%s", extra ? extra : "", w) : NULL;
	http_respond(r, code, "application/json", s, strlen(s), hdrs ? hdrs : extra);
	free(hdrs);
	free(w);
}

static json_object *status_obj(int code, const char *reason, const char *message, const char *name,
			       const char *group, const char *kind, json_object *causes /* taken */)
{
	json_object *st = json_object_new_object();
	json_object_object_add(st, "kind", json_object_new_string("Status"));
	json_object_object_add(st, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(st, "metadata", json_object_new_object());
	json_object_object_add(st, "status", json_object_new_string(code < 300 ? "Success" : "Failure"));
	if (message)
		json_object_object_add(st, "message", json_object_new_string(message));
	if (reason && *reason)
		json_object_object_add(st, "reason", json_object_new_string(reason));
	if (name || kind || causes) {
		json_object *d = json_object_new_object();
		if (name)
			json_object_object_add(d, "name", json_object_new_string(name));
		if (group && *group)
			json_object_object_add(d, "group", json_object_new_string(group));
		if (kind)
			json_object_object_add(d, "kind", json_object_new_string(kind));
		if (causes)
			json_object_object_add(d, "causes", causes);
		json_object_object_add(st, "details", d);
	}
	json_object_object_add(st, "code", json_object_new_int(code));
	return st;
}

static void respond_status(struct api *a, struct http_req *r, int code, const char *reason, const char *message,
			   const char *name, const char *group, const char *kind, json_object *causes,
			   const char *extra)
{
	json_object *st = status_obj(code, reason, message, name, group, kind, causes);
	respond_json(a, r, code, st, extra);
	json_object_put(st);
}

static void respond_err(struct api *a, struct http_req *r, struct sim_err *e, const char *name,
			const char *group, const char *plural)
{
	json_object *causes = e->causes;
	e->causes = NULL;
	/* like the apiserver: details.kind is the Kind for Invalid, the resource otherwise */
	char *kind = NULL;
	size_t pl = plural ? strlen(plural) : 0;
	int names_resource = plural && strncmp(e->message, plural, pl) == 0 && e->message[pl] == '.';
	if (e->code == 422 && plural && !names_resource) {
		json_object *all = sim_resources(a->sim);
		for (size_t i = 0; i < json_object_array_length(all); i++) {
			json_object *d = json_object_array_get_idx(all, i);
			if (strcmp(sj_str(d, "resource", NULL), plural) == 0 &&
			    strcmp(sj_str(d, "group", NULL), group ? group : "") == 0) {
				kind = xstrdup(sj_str(d, "kind", NULL));
				break;
			}
		}
		json_object_put(all);
		if (kind)
			plural = kind;
	}
	/* an apply conflict's details are its causes only (NewApplyConflict) */
	if (e->code == 409 && causes) {
		name = NULL;
		group = NULL;
		plural = NULL;
	}
	/* a webhook's denial may carry no reason (kept empty, as the apiserver does) */
	respond_status(a, r, e->code ? e->code : 500, e->reason[0] || e->code ? e->reason : "InternalError", e->message, name,
		       group, plural, causes, NULL);
	free(kind);
}

static void respond_text(struct api *a, struct http_req *r, int code, const char *text)
{
	request_log(a, r, code);
	http_respond(r, code, "text/plain; charset=utf-8", text, strlen(text), NULL);
}

/* ---------------------------------------------------------------- discovery */

/* The discovery entry of subresource RES/SUB (verbs get, patch, update);
 * GROUP and VERSION (both or neither) when its kind is another group's. */
static json_object *subresource_entry(const char *res, const char *sub, int ns, const char *group,
				      const char *version, const char *kind)
{
	json_object *s = json_object_new_object();
	char n[300];
	snprintf(n, sizeof(n), "%s/%s", res, sub);
	json_object_object_add(s, "name", json_object_new_string(n));
	json_object_object_add(s, "singularName", json_object_new_string(""));
	json_object_object_add(s, "namespaced", json_object_new_boolean(ns));
	if (group) {
		json_object_object_add(s, "group", json_object_new_string(group));
		json_object_object_add(s, "version", json_object_new_string(version));
	}
	json_object_object_add(s, "kind", json_object_new_string(kind));
	json_object *sv = json_object_new_array();
	json_object_array_add(sv, json_object_new_string("get"));
	json_object_array_add(sv, json_object_new_string("patch"));
	json_object_array_add(sv, json_object_new_string("update"));
	json_object_object_add(s, "verbs", sv);
	return s;
}

/* core/v1 serviceaccounts: the token subresource (TokenRequest) */
static int is_sa_resource(json_object *d)
{
	return !sj_str(d, "group", NULL)[0] && strcmp(sj_str(d, "resource", NULL), "serviceaccounts") == 0;
}

static json_object *resource_entries(json_object *d)
{
	json_object *arr = json_object_new_array();
	int ns = sj_bool(d, "namespaced");
	const char *res = sj_str(d, "resource", NULL), *kind = sj_str(d, "kind", NULL);
	json_object *e = json_object_new_object();
	json_object_object_add(e, "name", json_object_new_string(res));
	json_object_object_add(e, "singularName", json_object_new_string(sj_str(d, "singular", NULL)));
	json_object_object_add(e, "namespaced", json_object_new_boolean(ns));
	json_object_object_add(e, "kind", json_object_new_string(kind));
	const char *verbs[] = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
	json_object *v = json_object_new_array();
	for (size_t i = 0; i < 8; i++)
		json_object_array_add(v, json_object_new_string(verbs[i]));
	json_object_object_add(e, "verbs", v);
	json_object *sn = sj_get(d, "shortNames");
	if (sn && json_object_array_length(sn))
		json_object_object_add(e, "shortNames", sj_copy(sn));
	json_object *cat = sj_get(d, "categories");
	if (cat && json_object_array_length(cat))
		json_object_object_add(e, "categories", sj_copy(cat));
	json_object_object_add(e, "storageVersionHash", json_object_new_string("kubesim0000="));
	json_object_array_add(arr, e);
	if (sj_bool(d, "status"))
		json_object_array_add(arr, subresource_entry(res, "status", ns, NULL, NULL, kind));
	if (sj_bool(d, "scale"))
		json_object_array_add(arr, subresource_entry(res, "scale", ns, "autoscaling", "v1", "Scale"));
	if (is_sa_resource(d)) {
		json_object *tk = subresource_entry(res, "token", ns, "authentication.k8s.io", "v1", "TokenRequest");
		json_object *cv = json_object_new_array();
		json_object_array_add(cv, json_object_new_string("create"));
		json_object_object_add(tk, "verbs", cv);
		json_object_array_add(arr, tk);
	}
	return arr;
}

static void discovery_resources(struct api *a, struct http_req *r, const char *group, const char *version)
{
	json_object *all = sim_resources(a->sim);
	json_object *list = json_object_new_object();
	json_object *res = json_object_new_array();
	int found = 0;
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *d = json_object_array_get_idx(all, i);
		if (strcmp(sj_str(d, "group", NULL), group) || strcmp(sj_str(d, "version", NULL), version))
			continue;
		found = 1;
		json_object *ents = resource_entries(d);
		for (size_t k = 0; k < json_object_array_length(ents); k++)
			json_object_array_add(res, json_object_get(json_object_array_get_idx(ents, k)));
		json_object_put(ents);
	}
	json_object_put(all);
	if (!found) {
		json_object_put(res);
		json_object_put(list);
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		return;
	}
	char gv[300];
	snprintf(gv, sizeof(gv), "%s%s%s", group, group[0] ? "/" : "", version);
	json_object_object_add(list, "kind", json_object_new_string("APIResourceList"));
	json_object_object_add(list, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(list, "groupVersion", json_object_new_string(gv));
	json_object_object_add(list, "resources", res);
	respond_json(a, r, 200, list, NULL);
	json_object_put(list);
}

/* {"name":g,"versions":[...],"preferredVersion":{...}} for every non-core group. */
static json_object *api_groups(struct api *a, const char *only)
{
	json_object *all = sim_resources(a->sim);
	json_object *groups = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *d = json_object_array_get_idx(all, i);
		const char *g = sj_str(d, "group", NULL), *v = sj_str(d, "version", NULL);
		if (!g[0] || (only && strcmp(g, only) != 0))
			continue;
		json_object *grp = NULL;
		for (size_t k = 0; k < json_object_array_length(groups); k++)
			if (strcmp(sj_str(json_object_array_get_idx(groups, k), "name", NULL), g) == 0)
				grp = json_object_array_get_idx(groups, k);
		if (!grp) {
			grp = json_object_new_object();
			json_object_object_add(grp, "name", json_object_new_string(g));
			json_object_object_add(grp, "versions", json_object_new_array());
			json_object_array_add(groups, grp);
		}
		json_object *vers = sj_get(grp, "versions");
		int have = 0;
		for (size_t k = 0; k < json_object_array_length(vers); k++)
			if (strcmp(sj_str(json_object_array_get_idx(vers, k), "version", NULL), v) == 0)
				have = 1;
		if (!have) {
			json_object *gv = json_object_new_object();
			char s[300];
			snprintf(s, sizeof(s), "%s/%s", g, v);
			json_object_object_add(gv, "groupVersion", json_object_new_string(s));
			json_object_object_add(gv, "version", json_object_new_string(v));
			json_object_array_add(vers, gv);
			if (!sj_get(grp, "preferredVersion") || sj_bool(d, "storageVersion"))
				json_object_object_add(grp, "preferredVersion", sj_copy(gv));
		}
	}
	json_object_put(all);
	return groups;
}

static void discovery_groups(struct api *a, struct http_req *r)
{
	json_object *l = json_object_new_object();
	json_object_object_add(l, "kind", json_object_new_string("APIGroupList"));
	json_object_object_add(l, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(l, "groups", api_groups(a, NULL));
	respond_json(a, r, 200, l, NULL);
	json_object_put(l);
}

static void discovery_group(struct api *a, struct http_req *r, const char *group)
{
	json_object *gs = api_groups(a, group);
	if (json_object_array_length(gs) == 0) {
		json_object_put(gs);
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		return;
	}
	json_object *g = json_object_get(json_object_array_get_idx(gs, 0));
	json_object_put(gs);
	json_object_object_add(g, "kind", json_object_new_string("APIGroup"));
	json_object_object_add(g, "apiVersion", json_object_new_string("v1"));
	respond_json(a, r, 200, g, NULL);
	json_object_put(g);
}

/* Aggregated discovery (apidiscovery.k8s.io/v2), what kubectl 1.32 asks
 * for first on /api and /apis: every group, version and resource in one
 * response. core != 0: the core group only (/api), else the others (/apis). */
#define AGG_CTYPE "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

static int wants_aggregated(struct http_req *r)
{
	/* the first acceptable type decides (kubectl lists v2, v2beta1, then json) */
	const char *p = strstr(r->accept, "as=APIGroupDiscoveryList");
	if (!p)
		return 0;
	const char *comma = strchr(r->accept, ',');
	if (comma && comma < p)
		return 0;
	return strstr(r->accept, "g=apidiscovery.k8s.io") && strstr(r->accept, "v=v2") &&
	       (!strstr(r->accept, "v=v2beta1") || strstr(r->accept, "v=v2;") || strstr(r->accept, "v=v2,"));
}

static json_object *gvk(const char *g, const char *v, const char *k)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "group", json_object_new_string(g));
	json_object_object_add(o, "version", json_object_new_string(v));
	json_object_object_add(o, "kind", json_object_new_string(k));
	return o;
}

static json_object *str_list(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void discovery_aggregated(struct api *a, struct http_req *r, int core)
{
	static const char *const verbs[] = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
	static const char *const subverbs[] = {"get", "patch", "update"};
	json_object *all = sim_resources(a->sim);
	json_object *items = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *d = json_object_array_get_idx(all, i);
		const char *g = sj_str(d, "group", NULL), *v = sj_str(d, "version", NULL);
		if ((core && g[0]) || (!core && !g[0]))
			continue;
		json_object *grp = NULL;
		for (size_t k = 0; k < json_object_array_length(items); k++) {
			json_object *it = json_object_array_get_idx(items, k);
			const char *nm = sj_str(it, "metadata", "name", NULL);
			if (strcmp(nm ? nm : "", g) == 0)
				grp = it;
		}
		if (!grp) {
			grp = json_object_new_object();
			json_object *m = json_object_new_object();
			if (g[0])
				json_object_object_add(m, "name", json_object_new_string(g));
			json_object_object_add(m, "creationTimestamp", NULL);
			json_object_object_add(grp, "metadata", m);
			json_object_object_add(grp, "versions", json_object_new_array());
			json_object_array_add(items, grp);
		}
		json_object *vers = sj_get(grp, "versions"), *ver = NULL;
		for (size_t k = 0; k < json_object_array_length(vers); k++)
			if (strcmp(sj_str(json_object_array_get_idx(vers, k), "version", NULL), v) == 0)
				ver = json_object_array_get_idx(vers, k);
		if (!ver) {
			ver = json_object_new_object();
			json_object_object_add(ver, "version", json_object_new_string(v));
			json_object_object_add(ver, "resources", json_object_new_array());
			json_object_object_add(ver, "freshness", json_object_new_string("Current"));
			json_object_array_add(vers, ver);
		}
		if (sj_bool(d, "storageVersion") && sj_bool(d, "crd"))
			json_object_object_add(ver, "_preferred", json_object_new_boolean(1));
		const char *kind = sj_str(d, "kind", NULL);
		json_object *res = json_object_new_object();
		json_object_object_add(res, "resource", json_object_new_string(sj_str(d, "resource", NULL)));
		json_object_object_add(res, "responseKind", gvk(g, v, kind));
		json_object_object_add(res, "scope", json_object_new_string(sj_bool(d, "namespaced") ? "Namespaced" : "Cluster"));
		json_object_object_add(res, "singularResource", json_object_new_string(sj_str(d, "singular", NULL)));
		json_object_object_add(res, "verbs", str_list(verbs, 8));
		json_object *sn = sj_get(d, "shortNames"), *cat = sj_get(d, "categories");
		if (sn && json_object_array_length(sn))
			json_object_object_add(res, "shortNames", sj_copy(sn));
		if (cat && json_object_array_length(cat))
			json_object_object_add(res, "categories", sj_copy(cat));
		json_object *subs = json_object_new_array();
		if (sj_bool(d, "status")) {
			json_object *sr = json_object_new_object();
			json_object_object_add(sr, "subresource", json_object_new_string("status"));
			json_object_object_add(sr, "responseKind", gvk(g, v, kind));
			json_object_object_add(sr, "verbs", str_list(subverbs, 3));
			json_object_array_add(subs, sr);
		}
		if (sj_bool(d, "scale")) {
			json_object *sr = json_object_new_object();
			json_object_object_add(sr, "subresource", json_object_new_string("scale"));
			json_object_object_add(sr, "responseKind", gvk("autoscaling", "v1", "Scale"));
			json_object_object_add(sr, "verbs", str_list(subverbs, 3));
			json_object_array_add(subs, sr);
		}
		if (is_sa_resource(d)) {
			static const char *const create[] = {"create"};
			json_object *sr = json_object_new_object();
			json_object_object_add(sr, "subresource", json_object_new_string("token"));
			json_object_object_add(sr, "responseKind", gvk("authentication.k8s.io", "v1", "TokenRequest"));
			json_object_object_add(sr, "verbs", str_list(create, 1));
			json_object_array_add(subs, sr);
		}
		if (json_object_array_length(subs))
			json_object_object_add(res, "subresources", subs);
		else
			json_object_put(subs);
		json_object_array_add(sj_get(ver, "resources"), res);
	}
	json_object_put(all);
	/* the preferred (storage) version first, like the apiserver */
	for (size_t k = 0; k < json_object_array_length(items); k++) {
		json_object *vers = sj_get(json_object_array_get_idx(items, k), "versions");
		json_object *sorted = json_object_new_array();
		for (int pass = 0; pass < 2; pass++)
			for (size_t j = 0; j < json_object_array_length(vers); j++) {
				json_object *x = json_object_array_get_idx(vers, j);
				if (sj_bool(x, "_preferred") == (pass == 0))
					json_object_array_add(sorted, json_object_get(x));
			}
		for (size_t j = 0; j < json_object_array_length(sorted); j++)
			json_object_object_del(json_object_array_get_idx(sorted, j), "_preferred");
		json_object_object_add(json_object_array_get_idx(items, k), "versions", sorted);
	}
	json_object *l = json_object_new_object();
	json_object_object_add(l, "kind", json_object_new_string("APIGroupDiscoveryList"));
	json_object_object_add(l, "apiVersion", json_object_new_string("apidiscovery.k8s.io/v2"));
	json_object_object_add(l, "metadata", json_object_new_object());
	json_object_object_add(l, "items", items);
	const char *body = to_json(l);
	request_log(a, r, 200);
	http_respond(r, 200, AGG_CTYPE, body, strlen(body), "Vary: Accept\r\n");
	json_object_put(l);
}

static void version_info(struct api *a, struct http_req *r)
{
	json_object *v = json_object_new_object();
	json_object_object_add(v, "major", json_object_new_string("1"));
	json_object_object_add(v, "minor", json_object_new_string("32"));
	json_object_object_add(v, "gitVersion", json_object_new_string("v1.32.0-kubesim"));
	json_object_object_add(v, "gitCommit", json_object_new_string("0000000000000000000000000000000000000000"));
	json_object_object_add(v, "gitTreeState", json_object_new_string("clean"));
	json_object_object_add(v, "buildDate", json_object_new_string("2026-01-01T00:00:00Z"));
	json_object_object_add(v, "goVersion", json_object_new_string("go1.23.0"));
	json_object_object_add(v, "compiler", json_object_new_string("gc"));
	json_object_object_add(v, "platform", json_object_new_string("linux/amd64"));
	respond_json(a, r, 200, v, NULL);
	json_object_put(v);
}

/* ---------------------------------------------------------------- openapi */

/* /openapi/v3: the group-version index kubectl uses to discover that
 * server-side field validation is supported; /openapi/v3/<gv>: a minimal
 * document whose paths carry the fieldValidation parameter. */
static void openapi_v3(struct api *a, struct http_req *r, const char *rest)
{
	json_object *all = sim_resources(a->sim);
	if (!rest || !*rest) {
		json_object *paths = json_object_new_object();
		for (size_t i = 0; i < json_object_array_length(all); i++) {
			json_object *d = json_object_array_get_idx(all, i);
			const char *g = sj_str(d, "group", NULL), *v = sj_str(d, "version", NULL);
			char key[300];
			if (g[0])
				snprintf(key, sizeof(key), "apis/%s/%s", g, v);
			else
				snprintf(key, sizeof(key), "api/%s", v);
			if (sj_get(paths, key))
				continue;
			json_object *e = json_object_new_object();
			char *url = xasprintf("/openapi/v3/%s?hash=%016llx", key,
					      (unsigned long long)sim_current_rv(a->sim));
			json_object_object_add(e, "serverRelativeURL", json_object_new_string(url));
			free(url);
			json_object_object_add(paths, key, e);
		}
		json_object *doc = json_object_new_object();
		json_object_object_add(doc, "paths", paths);
		respond_json(a, r, 200, doc, NULL);
		json_object_put(doc);
		json_object_put(all);
		return;
	}
	/* rest: "api/v1" or "apis/g/v" */
	const char *group = "", *version = NULL;
	char buf[300];
	snprintf(buf, sizeof(buf), "%s", rest);
	if (strncmp(buf, "api/", 4) == 0) {
		version = buf + 4;
	} else if (strncmp(buf, "apis/", 5) == 0) {
		char *sl = strchr(buf + 5, '/');
		if (sl) {
			*sl = 0;
			group = buf + 5;
			version = sl + 1;
		}
	}
	if (!version) {
		json_object_put(all);
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		return;
	}
	json_object *paths = json_object_new_object();
	json_object *schemas = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *d = json_object_array_get_idx(all, i);
		if (strcmp(sj_str(d, "group", NULL), group) || strcmp(sj_str(d, "version", NULL), version))
			continue;
		const char *res = sj_str(d, "resource", NULL);
		char p[512];
		snprintf(p, sizeof(p), "/%s%s%s/%s/%s%s/{name}", group[0] ? "apis/" : "api", group,
			 group[0] ? "" : "", version, sj_bool(d, "namespaced") ? "namespaces/{namespace}/" : "", res);
		if (group[0])
			snprintf(p, sizeof(p), "/apis/%s/%s/%s%s/{name}", group, version,
				 sj_bool(d, "namespaced") ? "namespaces/{namespace}/" : "", res);
		else
			snprintf(p, sizeof(p), "/api/%s/%s%s/{name}", version,
				 sj_bool(d, "namespaced") ? "namespaces/{namespace}/" : "", res);
		json_object *gvk = json_object_new_object();
		json_object_object_add(gvk, "group", json_object_new_string(group));
		json_object_object_add(gvk, "version", json_object_new_string(version));
		json_object_object_add(gvk, "kind", json_object_new_string(sj_str(d, "kind", NULL)));
		json_object *params = json_object_new_array();
		const char *pn[] = {"fieldValidation", "fieldManager", "dryRun", "force"};
		for (size_t k = 0; k < 4; k++) {
			json_object *prm = json_object_new_object();
			json_object_object_add(prm, "name", json_object_new_string(pn[k]));
			json_object_object_add(prm, "in", json_object_new_string("query"));
			json_object *sch = json_object_new_object();
			json_object_object_add(sch, "type", json_object_new_string(k == 3 ? "boolean" : "string"));
			json_object_object_add(prm, "schema", sch);
			json_object_object_add(prm, "uniqueItems", json_object_new_boolean(1));
			json_object_array_add(params, prm);
		}
		json_object *item = json_object_new_object();
		const char *ops[] = {"get", "put", "patch", "delete"};
		for (size_t k = 0; k < 4; k++) {
			json_object *op = json_object_new_object();
			json_object *gvka = json_object_new_array();
			json_object_array_add(gvka, sj_copy(gvk));
			json_object_object_add(op, "x-kubernetes-group-version-kind", sj_copy(gvk));
			json_object_object_add(op, "x-kubernetes-action", json_object_new_string(
				k == 0 ? "get" : k == 1 ? "put" : k == 2 ? "patch" : "delete"));
			json_object_put(gvka);
			json_object_object_add(op, "parameters", sj_copy(params));
			json_object_object_add(item, ops[k], op);
		}
		json_object_object_add(paths, p, item);
		char sname[300];
		snprintf(sname, sizeof(sname), "%s.%s.%s", group[0] ? group : "io.k8s.api.core", version,
			 sj_str(d, "kind", NULL));
		/* CRDs: their own schema (kubectl explain); built-ins: free-form */
		json_object *sch = sim_resource_schema(a->sim, group, version, res);
		if (sch && json_object_is_type(sch, json_type_object)) {
			json_object *props = sj_get(sch, "properties");
			/* the apiserver publishes ObjectMeta (with this description) for
			 * metadata, whatever the CRD says there (it may only restrict
			 * name and generateName, and may not describe metadata) */
			json_object *md = props ? sj_get(props, "metadata") : NULL;
			if (props && !md) {
				md = json_object_new_object();
				json_object_object_add(md, "type", json_object_new_string("object"));
				json_object_object_add(props, "metadata", md);
			}
			if (md && json_object_is_type(md, json_type_object))
				json_object_object_add(md, "description", json_object_new_string(
					"Standard object's metadata. More info: "
					"https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"));
		} else {
			if (sch)
				json_object_put(sch);
			sch = json_object_new_object();
			json_object_object_add(sch, "type", json_object_new_string("object"));
			json_object_object_add(sch, "x-kubernetes-preserve-unknown-fields", json_object_new_boolean(1));
		}
		json_object *gvka = json_object_new_array();
		json_object_array_add(gvka, gvk);
		json_object_object_add(sch, "x-kubernetes-group-version-kind", gvka);
		json_object_object_add(schemas, sname, sch);
		json_object_put(params);
	}
	json_object_put(all);
	json_object *doc = json_object_new_object();
	json_object_object_add(doc, "openapi", json_object_new_string("3.0.0"));
	json_object *info = json_object_new_object();
	json_object_object_add(info, "title", json_object_new_string("Kubernetes"));
	json_object_object_add(info, "version", json_object_new_string("v1.32.0"));
	json_object_object_add(doc, "info", info);
	json_object_object_add(doc, "paths", paths);
	json_object *comp = json_object_new_object();
	json_object_object_add(comp, "schemas", schemas);
	json_object_object_add(doc, "components", comp);
	respond_json(a, r, 200, doc, NULL);
	json_object_put(doc);
}

/* ---------------------------------------------------------------- resources */

struct target {
	char *group, *version, *resource, *ns, *name, *sub;
	json_object *desc;   /* sim_resource() entry */
	int ev_view;         /* events.k8s.io/v1 events: served from core/v1 (evview.h) */
};

static void target_free(struct target *t)
{
	free(t->group);
	free(t->version);
	free(t->resource);
	free(t->ns);
	free(t->name);
	free(t->sub);
	if (t->desc)
		json_object_put(t->desc);
}

/* The apiserver refuses field selectors the kind does not support (400,
 * validate.c); kubesim's store could match any dotted path. 0 or answered. */
static int fieldsel_refused(struct api *a, struct http_req *r, struct target *t, const char *fs)
{
	struct sim_err e = {0};
	int crd = t->desc && sj_bool(t->desc, "crd");
	if (validate_field_selector(t->group, t->resource, crd, fs, &e) == 0)
		return 0;
	respond_status(a, r, 400, "BadRequest", e.message, NULL, NULL, NULL, NULL, NULL);
	return 1;
}

static int wants_table(struct http_req *r)
{
	return strstr(r->accept, "as=Table") != NULL;
}

static enum table_include table_include(struct http_req *r)
{
	char *v = qparam(r->query, "includeObject");
	enum table_include inc = TABLE_INCLUDE_METADATA;
	if (v && strcmp(v, "None") == 0)
		inc = TABLE_INCLUDE_NONE;
	else if (v && strcmp(v, "Object") == 0)
		inc = TABLE_INCLUDE_OBJECT;
	free(v);
	return inc;
}

static int64_t now_s(void)
{
	return wall_ms() / 1000;
}

static void respond_object(struct api *a, struct http_req *r, struct target *t, int code, json_object *o)
{
	if (wants_table(r)) {
		json_object *items = json_object_new_array();
		json_object_array_add(items, json_object_get(o));
		json_object *tab = table_build(t->desc, items, 1, table_include(r), now_s());
		json_object_object_add(sj_get(tab, "metadata"), "resourceVersion",
				       sj_copy(sj_get(sj_get(o, "metadata"), "resourceVersion")));
		respond_json(a, r, code, tab, NULL);
		json_object_put(tab);
		json_object_put(items);
		return;
	}
	if (t->ev_view)
		evview_convert(o, 0, 1);
	respond_json(a, r, code, o, NULL);
}

static char *hex_encode(const char *s)
{
	size_t n = strlen(s);
	char *o = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++)
		snprintf(o + 2 * i, 3, "%02x", (unsigned char)s[i]);
	o[2 * n] = 0;
	return o;
}

static char *hex_decode(const char *s)
{
	size_t n = strlen(s);
	if (n % 2)
		return NULL;
	char *o = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0) {
			free(o);
			return NULL;
		}
		o[i] = (char)(h * 16 + l);
	}
	o[n / 2] = 0;
	return o;
}

static char *item_key(json_object *o)
{
	const char *ns = sj_str(o, "metadata", "namespace", NULL);
	const char *n = sj_str(o, "metadata", "name", NULL);
	return xasprintf("%s/%s", ns ? ns : "", n ? n : "");
}

static void do_list(struct api *a, struct http_req *r, struct target *t)
{
	char *ls = qparam(r->query, "labelSelector"), *fs = qparam(r->query, "fieldSelector");
	char *limit_s = qparam(r->query, "limit"), *cont = qparam(r->query, "continue");
	json_object *list = NULL;
	struct sim_err e = {0};
	char *start = NULL;
	if (fieldsel_refused(a, r, t, fs))
		goto out;
	if (cont && *cont) {
		/* token: hex("rv;ns/name") */
		start = hex_decode(cont);
		if (!start || !strchr(start, ';')) {
			respond_status(a, r, 400, "BadRequest", "continue key is not valid", NULL, NULL, NULL, NULL,
				       NULL);
			goto out;
		}
		if (strtoull(start, NULL, 10) < sim_compacted_rv(a->sim)) {
			respond_status(a, r, 410, "Expired",
				       "The provided continue parameter is too old to display a consistent list result. "
				       "You can start a new list without the continue parameter.",
				       NULL, NULL, NULL, NULL, NULL);
			goto out;
		}
	}
	if (sim_list(a->sim, t->group, t->version, t->resource, t->ns, ls, fs, &list, &e) < 0) {
		respond_err(a, r, &e, NULL, t->group, t->resource);
		goto out;
	}
	long limit = limit_s ? atol(limit_s) : 0;
	json_object *items = sj_get(list, "items");
	if (start || limit > 0) {
		const char *after = start ? strchr(start, ';') + 1 : NULL;
		json_object *page = json_object_new_array();
		size_t n = json_object_array_length(items), i = 0;
		if (after)
			while (i < n) {
				char *k = item_key(json_object_array_get_idx(items, i));
				int past = strcmp(k, after) > 0;
				free(k);
				if (past)
					break;
				i++;
			}
		size_t taken = 0;
		for (; i < n && (limit <= 0 || taken < (size_t)limit); i++, taken++)
			json_object_array_add(page, json_object_get(json_object_array_get_idx(items, i)));
		if (i < n) {
			json_object *last = json_object_array_get_idx(page, json_object_array_length(page) - 1);
			char *k = item_key(last);
			char *tok = xasprintf("%s;%s", sj_str(list, "metadata", "resourceVersion", NULL), k);
			char *hex = hex_encode(tok);
			json_object_object_add(sj_get(list, "metadata"), "continue", json_object_new_string(hex));
			json_object_object_add(sj_get(list, "metadata"), "remainingItemCount",
					       json_object_new_int64((int64_t)(n - i)));
			free(hex);
			free(tok);
			free(k);
		}
		json_object_object_add(list, "items", page);
		items = page;
	}
	if (wants_table(r)) {
		json_object *tab = table_build(t->desc, items, 1, table_include(r), now_s());
		json_object_object_add(tab, "metadata", sj_copy(sj_get(list, "metadata")));
		respond_json(a, r, 200, tab, NULL);
		json_object_put(tab);
	} else {
		for (size_t i = 0; t->ev_view && i < json_object_array_length(items); i++)
			evview_convert(json_object_array_get_idx(items, i), 0, 1);
		if (t->ev_view) {
			json_object_object_add(list, "apiVersion", json_object_new_string("events.k8s.io/v1"));
			json_object_object_add(list, "kind", json_object_new_string("EventList"));
		}
		respond_json(a, r, 200, list, NULL);
	}
out:
	if (list)
		json_object_put(list);
	sim_err_cleanup(&e);
	free(start);
	free(ls);
	free(fs);
	free(limit_s);
	free(cont);
}

static int write_event(struct http_req *r, const char *type, json_object *obj)
{
	json_object *ev = json_object_new_object();
	json_object_object_add(ev, "type", json_object_new_string(type));
	json_object_object_add(ev, "object", json_object_get(obj));
	const char *s = to_json(ev);
	size_t n = strlen(s);
	char *line = xmalloc(n + 2);
	memcpy(line, s, n);
	line[n] = '\n';
	line[n + 1] = 0;
	int rc = http_stream_write(r, line, n + 1);
	free(line);
	json_object_put(ev);
	return rc;
}

static json_object *bookmark(struct target *t, uint64_t rv, int initial_end)
{
	json_object *b = json_object_new_object();
	char av[300], rvs[32];
	snprintf(av, sizeof(av), "%s%s%s", t->group, t->group[0] ? "/" : "", t->version);
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv);
	json_object_object_add(b, "kind", json_object_new_string(sj_str(t->desc, "kind", NULL)));
	json_object_object_add(b, "apiVersion", json_object_new_string(av));
	json_object *m = json_object_new_object();
	json_object_object_add(m, "resourceVersion", json_object_new_string(rvs));
	if (initial_end) {
		json_object *ann = json_object_new_object();
		json_object_object_add(ann, "k8s.io/initial-events-end", json_object_new_string("true"));
		json_object_object_add(m, "annotations", ann);
	}
	json_object_object_add(b, "metadata", m);
	return b;
}

/* Object as the client asked for it (Table row or the object itself). */
static json_object *present(struct http_req *r, struct target *t, json_object *o, int *first)
{
	char av[300];
	snprintf(av, sizeof(av), "%s%s%s", t->group, t->group[0] ? "/" : "", t->version);
	json_object_object_add(o, "apiVersion", json_object_new_string(av));
	if (!wants_table(r)) {
		if (t->ev_view)
			evview_convert(o, 0, 1);
		return json_object_get(o);
	}
	json_object *items = json_object_new_array();
	json_object_array_add(items, json_object_get(o));
	json_object *tab = table_build(t->desc, items, *first, table_include(r), now_s());
	json_object_object_add(sj_get(tab, "metadata"), "resourceVersion",
			       sj_copy(sj_get(sj_get(o, "metadata"), "resourceVersion")));
	*first = 0;
	json_object_put(items);
	return tab;
}

static void do_watch(struct api *a, struct http_req *r, struct target *t)
{
	char *ls = qparam(r->query, "labelSelector"), *fs = qparam(r->query, "fieldSelector");
	char *rvq = qparam(r->query, "resourceVersion"), *to = qparam(r->query, "timeoutSeconds");
	int bookmarks = qbool(r->query, "allowWatchBookmarks");
	int send_initial = qbool(r->query, "sendInitialEvents");
	struct labelsel *lsel = NULL;
	struct fieldsel *fsel = NULL;
	struct sim_watch *w = NULL;
	json_object *initial = NULL;
	char *perr = NULL;
	int first = 1;
	if (fieldsel_refused(a, r, t, fs))
		goto out;
	if (labelsel_parse(ls, &lsel, &perr) < 0 || fieldsel_parse(fs, &fsel, &perr) < 0) {
		respond_status(a, r, 400, "BadRequest", perr, NULL, NULL, NULL, NULL, NULL);
		goto out;
	}
	uint64_t from = 0;
	int from_state = !rvq || !*rvq || strcmp(rvq, "0") == 0 || send_initial;
	if (from_state) {
		struct sim_err e = {0};
		if (sim_list(a->sim, t->group, t->version, t->resource, t->ns, ls, fs, &initial, &e) < 0) {
			respond_err(a, r, &e, NULL, t->group, t->resource);
			sim_err_cleanup(&e);
			goto out;
		}
		from = strtoull(sj_str(initial, "metadata", "resourceVersion", NULL), NULL, 10);
	} else {
		char *end = NULL;
		from = strtoull(rvq, &end, 10);
		if (!end || *end) {
			char *m = xasprintf("Invalid value: \"%s\": resourceVersion must be a number", rvq);
			respond_status(a, r, 400, "BadRequest", m, NULL, NULL, NULL, NULL, NULL);
			free(m);
			goto out;
		}
	}
	if (from > sim_current_rv(a->sim)) {
		/* like the watch cache: wait up to 3 s for the resourceVersion, then
		 * 504 Timeout with cause ResourceVersionTooLarge (client-go relists) */
		uint64_t until = mono_ms() + 3000;
		while (from > sim_current_rv(a->sim) && mono_ms() < until && http_peer_alive(r))
			usleep(50000);
		if (from > sim_current_rv(a->sim)) {
			char *m = xasprintf("Too large resource version: %llu, current: %llu", (unsigned long long)from,
					    (unsigned long long)sim_current_rv(a->sim));
			json_object *causes = json_object_new_array(), *c = json_object_new_object();
			json_object_object_add(c, "reason", json_object_new_string("ResourceVersionTooLarge"));
			json_object_object_add(c, "message", json_object_new_string("Too large resource version"));
			json_object_array_add(causes, c);
			json_object *st = status_obj(504, "Timeout", m, NULL, NULL, NULL, causes);
			json_object_object_add(sj_get(st, "details"), "retryAfterSeconds", json_object_new_int(1));
			respond_json(a, r, 504, st, "Retry-After: 1\r\n");
			json_object_put(st);
			free(m);
			goto out;
		}
	}
	int orc = sim_watch_open(a->sim, t->group, t->resource, t->ns, from, &w);
	request_log(a, r, 200);
	if (http_stream_begin(r, 200, "application/json") < 0)
		goto out;
	if (orc == -410) {
		char *m = xasprintf("too old resource version: %llu (%llu)", (unsigned long long)from,
				    (unsigned long long)sim_current_rv(a->sim));
		json_object *st = status_obj(410, "Expired", m, NULL, NULL, NULL, NULL);
		free(m);
		write_event(r, "ERROR", st);
		json_object_put(st);
		http_stream_end(r, 0);
		goto out;
	}
	if (initial) {
		json_object *items = sj_get(initial, "items");
		for (size_t i = 0; i < json_object_array_length(items); i++) {
			json_object *p = present(r, t, json_object_array_get_idx(items, i), &first);
			int wrc = write_event(r, "ADDED", p);
			json_object_put(p);
			if (wrc < 0)
				goto out;
		}
		if (send_initial && bookmarks) {
			json_object *b = bookmark(t, from, 1);
			write_event(r, "BOOKMARK", b);
			json_object_put(b);
		}
	}
	long timeout_s = to ? atol(to) : WATCH_DEFAULT_TIMEOUT_S;
	if (timeout_s <= 0)
		timeout_s = WATCH_DEFAULT_TIMEOUT_S;
	if (a->o.fault_watch_drop_s > 0 && a->o.fault_watch_drop_s < timeout_s)
		timeout_s = a->o.fault_watch_drop_s;
	uint64_t deadline = mono_ms() + (uint64_t)timeout_s * 1000;
	uint64_t next_bm = mono_ms() + BOOKMARK_EVERY_MS;
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		int wait = (int)(deadline - now);
		if (wait > 1000)
			wait = 1000;
		char *type = NULL, *json = NULL, *prev = NULL;
		uint64_t rv = 0;
		int rc = sim_watch_next(w, wait, &type, &json, &rv, &prev);
		if (rc == -ECANCELED)
			break;
		if (rc == -410) {
			char *m = xasprintf("too old resource version: %llu (%llu)", (unsigned long long)from,
					    (unsigned long long)sim_current_rv(a->sim));
			json_object *st = status_obj(410, "Expired", m, NULL, NULL, NULL, NULL);
			free(m);
			write_event(r, "ERROR", st);
			json_object_put(st);
			break;
		}
		if (rc == 0) {
			json_object *o = sj_parse(json, strlen(json));
			int ok = o && labelsel_match(lsel, sj_get(sj_get(o, "metadata"), "labels")) &&
				 fieldsel_match(fsel, o);
			const char *etype = type;
			if (o && lsel && prev) {
				/* like the watch cache: entering the selector is ADDED, leaving it DELETED */
				json_object *pl = sj_parse(prev, strlen(prev));
				int was = fieldsel_match(fsel, o) && labelsel_match(lsel, pl);
				json_object_put(pl);
				if (ok && !was)
					etype = "ADDED";
				else if (!ok && was) {
					etype = "DELETED";
					ok = 1;
				}
			}
			int wrc = 0;
			if (ok) {
				json_object *p = present(r, t, o, &first);
				wrc = write_event(r, etype, p);
				json_object_put(p);
			}
			if (o)
				json_object_put(o);
			free(type);
			free(json);
			free(prev);
			if (wrc < 0)
				goto out;
			continue;
		}
		if (!http_peer_alive(r))
			goto out_closed;
		if (bookmarks && mono_ms() >= next_bm) {
			json_object *b = bookmark(t, sim_watch_pos(w), 0);
			int wrc = write_event(r, "BOOKMARK", b);
			json_object_put(b);
			if (wrc < 0)
				goto out;
			next_bm = mono_ms() + BOOKMARK_EVERY_MS;
		}
	}
	http_stream_end(r, a->o.fault_watch_drop_s > 0);
	goto out;
out_closed:
	http_stream_end(r, 1);
out:
	sim_watch_close(w);
	if (initial)
		json_object_put(initial);
	labelsel_free(lsel);
	fieldsel_free(fsel);
	free(perr);
	free(ls);
	free(fs);
	free(rvq);
	free(to);
}

static json_object *parse_body(struct http_req *r, int yaml_ok)
{
	json_object *o = NULL;
	if (strstr(r->content_type, "protobuf")) {
		if (pb_decode_object((const unsigned char *)r->body, r->body_len, &o) < 0)
			return NULL;
		return o;
	}
	if (strstr(r->content_type, "cbor"))
		return NULL;
	if (r->body_len) {
		o = sj_parse(r->body, r->body_len);
		if (!o && yaml_ok)
			yaml_to_json(r->body, r->body_len, &o);
	}
	return o;
}

static void respond_bad_body(struct api *a, struct http_req *r)
{
	if (strstr(r->content_type, "protobuf") || strstr(r->content_type, "cbor")) {
		char *m = xasprintf("the body of the request was in an unknown format - accepted media types include: "
				    "application/json, application/yaml (got \"%s\")", r->content_type);
		respond_status(a, r, 415, "UnsupportedMediaType", m, NULL, NULL, NULL, NULL, NULL);
		free(m);
		return;
	}
	respond_status(a, r, 400, "BadRequest", "the body of the request could not be decoded as JSON", NULL, NULL,
		       NULL, NULL, NULL);
}

/* Scale subresource: Deployments (.spec.replicas, .status.replicas,
 * .spec.selector) and CRDs with subresources.scale (their
 * specReplicasPath / statusReplicasPath / labelSelectorPath). */
static json_object *path_patch(const char *path, json_object *value)
{
	/* ".spec.x.y" -> {"spec":{"x":{"y":value}}} */
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path[0] == '.' ? path + 1 : path);
	json_object *root = json_object_new_object(), *cur = root;
	char *save = NULL;
	char *seg = strtok_r(buf, ".", &save);
	while (seg) {
		char *next = strtok_r(NULL, ".", &save);
		if (!next) {
			json_object_object_add(cur, seg, value);
			break;
		}
		json_object *o = json_object_new_object();
		json_object_object_add(cur, seg, o);
		cur = o;
		seg = next;
	}
	return root;
}

static char *selector_string(json_object *sel)
{
	/* a LabelSelector's matchLabels as "a=b,c=d" (what Scale.status.selector holds) */
	json_object *ml = sj_get(sel, "matchLabels");
	char *out = xstrdup("");
	if (!ml)
		return out;
	json_object_object_foreach(ml, k, v) {
		char *n = xasprintf("%s%s%s=%s", out, out[0] ? "," : "", k, json_object_get_string(v));
		free(out);
		out = n;
	}
	return out;
}

static void do_scale(struct api *a, struct http_req *r, struct target *t)
{
	struct sim_err e = {0};
	json_object *o = NULL, *body = NULL;
	json_object *sp = sj_get(t->desc, "scalePaths");
	const char *spec_path = sj_str(sp, "specReplicasPath", NULL);
	const char *status_path = sj_str(sp, "statusReplicasPath", NULL);
	const char *sel_path = sj_str(sp, "labelSelectorPath", NULL);
	if (!sp) {
		spec_path = ".spec.replicas";
		status_path = ".status.replicas";
	}
	if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0) {
		body = parse_body(r, 0);
		if (!body) {
			respond_bad_body(a, r);
			goto out;
		}
		json_object *rep = NULL;
		if (strcmp(r->method, "PATCH") == 0 && strncasecmp(r->content_type, "application/json-patch+json", 27) == 0) {
			/* [{"op":"replace","path":"/spec/replicas","value":N}] */
			for (size_t i = 0; json_object_is_type(body, json_type_array) && i < json_object_array_length(body); i++) {
				json_object *op = json_object_array_get_idx(body, i);
				const char *p = sj_str(op, "path", NULL);
				if (p && strcmp(p, "/spec/replicas") == 0)
					rep = sj_get(op, "value");
			}
		} else {
			rep = sj_get(sj_get(body, "spec"), "replicas");
		}
		if (rep && spec_path) {
			json_object *patch = path_patch(spec_path, json_object_new_int64(json_object_get_int64(rep)));
			int rc = sim_patch(a->sim, t->group, t->version, t->resource, t->ns, t->name, NULL,
					   SIM_PATCH_MERGE, patch, NULL, 0, NULL, &e);
			json_object_put(patch);
			if (rc < 0) {
				respond_err(a, r, &e, t->name, t->group, t->resource);
				goto out;
			}
		}
	}
	if (sim_get(a->sim, t->group, t->version, t->resource, t->ns, t->name, &o, &e) < 0) {
		respond_err(a, r, &e, t->name, t->group, t->resource);
		goto out;
	}
	json_object *sc = json_object_new_object();
	json_object_object_add(sc, "kind", json_object_new_string("Scale"));
	json_object_object_add(sc, "apiVersion", json_object_new_string("autoscaling/v1"));
	json_object *m = json_object_new_object();
	const char *keys[] = {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"};
	for (size_t i = 0; i < 5; i++) {
		json_object *v = sj_get(sj_get(o, "metadata"), keys[i]);
		if (v)
			json_object_object_add(m, keys[i], sj_copy(v));
	}
	json_object_object_add(sc, "metadata", m);
	json_object *spec = json_object_new_object(), *st = json_object_new_object();
	json_object *rep = spec_path ? table_jsonpath(o, spec_path) : NULL;
	json_object_object_add(spec, "replicas", json_object_new_int64(rep ? json_object_get_int64(rep) : 0));
	json_object *srep = status_path ? table_jsonpath(o, status_path) : NULL;
	json_object_object_add(st, "replicas", json_object_new_int64(srep ? json_object_get_int64(srep) : 0));
	if (sel_path) {
		json_object *sel = table_jsonpath(o, sel_path);
		if (sel && json_object_is_type(sel, json_type_string))
			json_object_object_add(st, "selector", sj_copy(sel));
	} else if (!sp && sj_get(sj_get(o, "spec"), "selector")) {
		char *ss = selector_string(sj_get(sj_get(o, "spec"), "selector"));
		json_object_object_add(st, "selector", json_object_new_string(ss));
		free(ss);
	}
	json_object_object_add(sc, "spec", spec);
	json_object_object_add(sc, "status", st);
	respond_json(a, r, 200, sc, NULL);
	json_object_put(sc);
out:
	if (o)
		json_object_put(o);
	if (body)
		json_object_put(body);
	sim_err_cleanup(&e);
}

/* GET pods/NAME/log: the container's output that the --run-jobs behaviour
 * writes to <kubesim.dev/pod-dir>/logs/<container>.log. ?container=,
 * ?tailLines=, ?limitBytes= honoured; follow is not (the log so far). */
#define POD_LOG_MAX (16u << 20)
static void do_pod_log(struct api *a, struct http_req *r, struct target *t)
{
	struct sim_err e = {0};
	json_object *pod = NULL;
	char *container = qparam(r->query, "container"), *tail = qparam(r->query, "tailLines");
	char *limit = qparam(r->query, "limitBytes");
	char *path = NULL, *data = NULL;
	if (sim_get(a->sim, "", "v1", "pods", t->ns, t->name, &pod, &e) < 0) {
		respond_err(a, r, &e, t->name, "", "pods");
		goto out;
	}
	const char *dir = sj_str(pod, "metadata", "annotations", "kubesim.dev/pod-dir", NULL);
	json_object *cs = sj_get(sj_get(pod, "spec"), "containers");
	const char *cname = container && *container ? container
				: sj_str(json_object_array_get_idx(cs, 0), "name", NULL);
	if (!cname || strchr(cname, '/') || strstr(cname, "..")) {
		respond_status(a, r, 400, "BadRequest", "a container name must be specified", t->name, "", "pods", NULL,
			       NULL);
		goto out;
	}
	if (!dir) {
		char *m = xasprintf("container \"%s\" in pod \"%s\" is waiting to start: no logs (kubesim runs pods "
				    "only with --run-jobs)", cname, t->name);
		respond_status(a, r, 400, "BadRequest", m, t->name, "", "pods", NULL, NULL);
		free(m);
		goto out;
	}
	path = xasprintf("%s/logs/%s.log", dir, cname);
	FILE *f = fopen(path, "re");
	size_t n = 0;
	if (f) {
		fseek(f, 0, SEEK_END);
		long size = ftell(f);
		long from = size > (long)POD_LOG_MAX ? size - (long)POD_LOG_MAX : 0;
		fseek(f, from, SEEK_SET);
		data = xmalloc((size_t)(size - from) + 1);
		n = fread(data, 1, (size_t)(size - from), f);
		data[n] = 0;
		fclose(f);
	} else {
		data = xstrdup("");
	}
	size_t off = 0;
	if (tail && *tail) {
		long want = atol(tail), lines = 0;
		size_t i = n;
		if (i > 0 && data[i - 1] == '\n')
			i--;
		while (i > 0 && lines < want) {
			if (data[i - 1] == '\n')
				lines++;
			if (lines < want)
				i--;
		}
		off = want <= 0 ? n : i;
	}
	size_t len = n - off;
	if (limit && *limit && (size_t)atol(limit) < len)
		len = (size_t)atol(limit);
	request_log(a, r, 200);
	http_respond(r, 200, "text/plain", data + off, len, NULL);
out:
	if (pod)
		json_object_put(pod);
	sim_err_cleanup(&e);
	free(container);
	free(tail);
	free(limit);
	free(path);
	free(data);
}

/* POST serviceaccounts/NAME/token (serviceaccount.h); other methods 405. */
static void do_token_request(struct api *a, struct http_req *r, struct target *t)
{
	struct sim_err e = {0};
	json_object *body = NULL, *out = NULL;
	if (strcmp(r->method, "POST") != 0) {
		respond_status(a, r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
			       NULL, NULL, NULL, NULL, NULL);
		return;
	}
	if (r->body_len && !(body = parse_body(r, 1))) {
		respond_bad_body(a, r);
		return;
	}
	if (sa_token_request(a->o.sa, t->ns, t->name, body, &out, &e) < 0) {
		/* a missing ServiceAccount is the serviceaccounts NotFound; the
		 * TokenRequest's own errors name authentication.k8s.io/TokenRequest */
		if (e.code == 422) {
			int unnamed = strstr(e.message, "TokenRequest.authentication.k8s.io \"\" ") == e.message;
			respond_status(a, r, 422, e.reason, e.message, unnamed ? NULL : t->name, "authentication.k8s.io",
				       "TokenRequest", e.causes, NULL);
			e.causes = NULL;
		} else {
			respond_err(a, r, &e, e.code == 404 ? t->name : NULL, "", e.code == 404 ? "serviceaccounts" : NULL);
		}
	} else {
		respond_json(a, r, 201, out, NULL);
	}
	if (body)
		json_object_put(body);
	if (out)
		json_object_put(out);
	sim_err_cleanup(&e);
}

static int patch_type(const char *ct, enum sim_patch_type *out)
{
	if (strncasecmp(ct, "application/merge-patch+json", 28) == 0)
		*out = SIM_PATCH_MERGE;
	else if (strncasecmp(ct, "application/json-patch+json", 27) == 0)
		*out = SIM_PATCH_JSON;
	else if (strncasecmp(ct, "application/strategic-merge-patch+json", 38) == 0)
		*out = SIM_PATCH_STRATEGIC;
	else if (strncasecmp(ct, "application/apply-patch+yaml", 28) == 0 ||
		 strncasecmp(ct, "application/apply-patch+json", 28) == 0)
		*out = SIM_PATCH_APPLY;
	else
		return -1;
	return 0;
}

static void do_delete_collection(struct api *a, struct http_req *r, struct target *t)
{
	char *ls = qparam(r->query, "labelSelector"), *fs = qparam(r->query, "fieldSelector");
	char *prop = qparam(r->query, "propagationPolicy");
	json_object *list = NULL;
	struct sim_err e = {0};
	if (fieldsel_refused(a, r, t, fs))
		goto out;
	if (sim_list(a->sim, t->group, t->version, t->resource, t->ns, ls, fs, &list, &e) < 0) {
		respond_err(a, r, &e, NULL, t->group, t->resource);
		goto out;
	}
	json_object *items = sj_get(list, "items");
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *o = json_object_array_get_idx(items, i);
		struct sim_err de = {0};
		sim_delete(a->sim, t->group, t->version, t->resource, sj_str(o, "metadata", "namespace", NULL),
			   sj_str(o, "metadata", "name", NULL), prop, NULL, &de);
		sim_err_cleanup(&de);
	}
	respond_json(a, r, 200, list, NULL);
out:
	if (list)
		json_object_put(list);
	sim_err_cleanup(&e);
	free(ls);
	free(fs);
	free(prop);
}

/* Who is asking: the user the apiserver would see. */
static void user_info(struct api *a, struct http_req *r, json_object *ui)
{
	const char *user = "system:admin";
	if (tl_anonymous) {
		json_object_object_add(ui, "username", json_object_new_string("system:anonymous"));
		json_object *g = json_object_new_array();
		json_object_array_add(g, json_object_new_string("system:unauthenticated"));
		json_object_object_add(ui, "groups", g);
		return;
	}
	if (tl_sa_user) {
		json_object_object_foreach(tl_sa_user, k, v)
			json_object_object_add(ui, k, sj_copy(v));
		return;
	}
	if (a->o.client_ca && r->client_cert_ok && r->client_cn[0])
		user = r->client_cn;
	else if (a->o.token)
		user = "kubesim-token-user";
	json_object_object_add(ui, "username", json_object_new_string(user));
	json_object *groups = json_object_new_array();
	json_object_array_add(groups, json_object_new_string("system:masters"));
	json_object_array_add(groups, json_object_new_string("system:authenticated"));
	json_object_object_add(ui, "groups", groups);
}

/* SelfSubjectReview (kubectl auth whoami) and SelfSubjectAccessReview
 * (kubectl auth can-i): answered, never stored; every authenticated user may
 * do everything (no RBAC). */
static int authorize_attrs(struct api *a, json_object *ui, const struct rbac_request *rq, char **reason_out);

static int apply_create_allowed(struct api *a, struct http_req *r, struct target *t)
{
	struct rbac_request rq;
	rbac_request_info(r->method, r->path, r->query, &rq);
	free(rq.verb);
	rq.verb = xstrdup("create");
	json_object *ui = json_object_new_object();
	user_info(a, r, ui);
	char *reason = NULL;
	int ok = authorize_attrs(a, ui, &rq, &reason);
	if (!ok) {
		char *m = xasprintf("%s%s%s \"%s\" is forbidden: %s", t->resource, t->group[0] ? "." : "", t->group, t->name,
				    reason ? reason : "");
		respond_status(a, r, 403, "Forbidden", m, t->name, t->group, t->resource, NULL, NULL);
		free(m);
	}
	free(reason);
	json_object_put(ui);
	rbac_request_free(&rq);
	return ok;
}

static int do_review(struct api *a, struct http_req *r, struct target *t)
{
	int ssr = strcmp(t->group, "authentication.k8s.io") == 0 && strcmp(t->resource, "selfsubjectreviews") == 0;
	int ssar = strcmp(t->group, "authorization.k8s.io") == 0 && strcmp(t->resource, "selfsubjectaccessreviews") == 0;
	if (!ssr && !ssar)
		return 0;
	if (strcmp(r->method, "POST") != 0 || t->name) {
		respond_status(a, r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
			       NULL, NULL, NULL, NULL, NULL);
		return 1;
	}
	json_object *body = parse_body(r, 1);
	json_object *o = json_object_new_object();
	char av[300];
	snprintf(av, sizeof(av), "%s/%s", t->group, t->version);
	json_object_object_add(o, "kind", json_object_new_string(sj_str(t->desc, "kind", NULL)));
	json_object_object_add(o, "apiVersion", json_object_new_string(av));
	json_object_object_add(o, "metadata", json_object_new_object());
	json_object *st = json_object_new_object();
	if (ssr) {
		json_object *ui = json_object_new_object();
		user_info(a, r, ui);
		json_object_object_add(st, "userInfo", ui);
	} else {
		if (sj_get(body, "spec"))
			json_object_object_add(o, "spec", sj_copy(sj_get(body, "spec")));
		if (a->o.rbac) {
			/* the review's attributes through the same authorizer */
			json_object *spec = sj_get(body, "spec"), *ra = sj_get(spec, "resourceAttributes");
			json_object *nra = sj_get(spec, "nonResourceAttributes");
			struct rbac_request rq = {0};
			const char *f[6] = {"group", "version", "resource", "subresource", "name", "namespace"};
			char **dst[6] = {&rq.group, &rq.version, &rq.resource, &rq.subresource, &rq.name, &rq.ns};
			rq.resource_request = ra != NULL;
			rq.verb = xstrdup(sj_str(ra ? ra : nra, "verb", NULL) ? sj_str(ra ? ra : nra, "verb", NULL) : "");
			rq.path = xstrdup(sj_str(nra, "path", NULL) ? sj_str(nra, "path", NULL) : "");
			for (size_t k = 0; k < 6; k++)
				*dst[k] = xstrdup(sj_str(ra, f[k], NULL) ? sj_str(ra, f[k], NULL) : "");
			json_object *ui = json_object_new_object();
			user_info(a, r, ui);
			char *reason = NULL;
			int ok = authorize_attrs(a, ui, &rq, &reason);
			json_object_object_add(st, "allowed", json_object_new_boolean(ok));
			if (reason)
				json_object_object_add(st, "reason", json_object_new_string(reason));
			free(reason);
			json_object_put(ui);
			rbac_request_free(&rq);
		} else {
			/* no authorizer: allowed without a reason, as the apiserver
			 * answers system:masters */
			json_object_object_add(st, "allowed", json_object_new_boolean(1));
		}
	}
	json_object_object_add(o, "status", st);
	respond_json(a, r, 201, o, NULL);
	json_object_put(o);
	if (body)
		json_object_put(body);
	return 1;
}

static void do_resource(struct api *a, struct http_req *r, struct target *t, int watch)
{
	struct sim_err e = {0};
	json_object *body = NULL, *out = NULL;
	const char *m = r->method;
	char *dry = qparam(r->query, "dryRun");
	char *fm_q = NULL;
	if (dry && *dry && strcmp(m, "GET") != 0) {
		if (strcmp(dry, "All") != 0) {
			char *msg = xasprintf("Invalid value: \"%s\": supported values: \"All\"", dry);
			respond_status(a, r, 400, "BadRequest", msg, NULL, NULL, NULL, NULL, NULL);
			free(msg);
			goto out;
		}
		if (t->sub && strcmp(t->sub, "scale") == 0) {
			respond_status(a, r, 400, "BadRequest", "dryRun on /scale is not supported by kubesim", NULL, NULL,
				       NULL, NULL, NULL);
			goto out;
		}
		sim_dry_run(1);
	}
	/* the field manager of this write: ?fieldManager= or the User-Agent's program */
	fm_q = qparam(r->query, "fieldManager");
	if (!fm_q || !*fm_q) {
		free(fm_q);
		size_t n = strcspn(r->user_agent, "/ ");
		fm_q = n ? xstrndup(r->user_agent, n) : xstrdup("unknown");
	}
	sim_field_manager(fm_q);
	char *fv = qparam(r->query, "fieldValidation");
	sim_field_validation_strict(fv && strcmp(fv, "Strict") == 0);
	free(fv);
	if (t->sub && strcmp(t->sub, "scale") == 0) {
		if (!sj_bool(t->desc, "scale"))
			respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL,
				       NULL, NULL, NULL, NULL);
		else
			do_scale(a, r, t);
		goto out;
	}
	if (t->sub && strcmp(t->sub, "log") == 0 && strcmp(t->resource, "pods") == 0 && !t->group[0] &&
	    strcmp(m, "GET") == 0) {
		do_pod_log(a, r, t);
		goto out;
	}
	if (t->sub && strcmp(t->sub, "token") == 0 && strcmp(t->resource, "serviceaccounts") == 0 && !t->group[0] &&
	    a->o.sa) {
		do_token_request(a, r, t);
		goto out;
	}
	if (t->sub && strcmp(t->sub, "status") != 0) {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		goto out;
	}
	if (t->sub && !sj_bool(t->desc, "status")) {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		goto out;
	}
	if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
		if (!t->name) {
			if (watch || qbool(r->query, "watch"))
				do_watch(a, r, t);
			else
				do_list(a, r, t);
			goto out;
		}
		if (sim_get(a->sim, t->group, t->version, t->resource, t->ns, t->name, &out, &e) < 0)
			respond_err(a, r, &e, t->name, t->group, t->resource);
		else
			respond_object(a, r, t, 200, out);
		goto out;
	}
	if (strcmp(m, "POST") == 0) {
		if (t->name) {
			respond_status(a, r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
				       NULL, NULL, NULL, NULL, NULL);
			goto out;
		}
		body = parse_body(r, 1);
		if (!body) {
			respond_bad_body(a, r);
			goto out;
		}
		if (t->ev_view)
			evview_convert(body, 1, 1);
		if (sim_create(a->sim, t->group, t->version, t->resource, t->ns, body, &out, &e) < 0)
			respond_err(a, r, &e, sj_str(body, "metadata", "name", NULL), t->group, t->resource);
		else
			respond_object(a, r, t, 201, out);
		goto out;
	}
	if (strcmp(m, "PUT") == 0) {
		body = parse_body(r, 1);
		if (!t->name || !body) {
			respond_bad_body(a, r);
			goto out;
		}
		if (!json_object_is_type(body, json_type_object)) {
			respond_status(a, r, 400, "BadRequest", "the body of the request was not a JSON object", NULL, NULL,
				       NULL, NULL, NULL);
			goto out;
		}
		const char *bn = sj_str(body, "metadata", "name", NULL);
		if (bn && strcmp(bn, t->name) != 0) {
			respond_status(a, r, 400, "BadRequest", "the name of the object does not match the name on the URL",
				       t->name, t->group, t->resource, NULL, NULL);
			goto out;
		}
		if (!bn)
			json_object_object_add(sj_meta(body), "name", json_object_new_string(t->name));
		if (t->ev_view)
			evview_convert(body, 1, 1);
		int rc = t->sub ? sim_update_status(a->sim, t->group, t->version, t->resource, t->ns, body, &out, &e)
				: sim_update(a->sim, t->group, t->version, t->resource, t->ns, body, &out, &e);
		if (rc < 0)
			respond_err(a, r, &e, t->name, t->group, t->resource);
		else
			respond_object(a, r, t, 200, out);
		goto out;
	}
	if (strcmp(m, "PATCH") == 0) {
		enum sim_patch_type pt;
		if (!t->name) {
			respond_status(a, r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
				       NULL, NULL, NULL, NULL, NULL);
			goto out;
		}
		if (patch_type(r->content_type, &pt) < 0) {
			char *msg = xasprintf("the body of the request was in an unknown format - accepted media types include: "
					      "application/json-patch+json, application/merge-patch+json, "
					      "application/apply-patch+yaml (got \"%s\")", r->content_type);
			respond_status(a, r, 415, "UnsupportedMediaType", msg, NULL, NULL, NULL, NULL, NULL);
			free(msg);
			goto out;
		}
		if (pt == SIM_PATCH_APPLY && strncasecmp(r->content_type, "application/apply-patch+yaml", 28) == 0) {
			/* The apiserver decodes apply bodies, JSON included, with
			 * sigs.k8s.io/yaml (go-yaml v2): 400 "error decoding YAML: ...". */
			char *yerr = NULL;
			if (yaml_to_json_k8s(r->body, r->body_len, &body, &yerr) < 0 || !body) {
				char *msg = xasprintf("error decoding YAML: error converting YAML to JSON: %s",
						      yerr ? yerr : "yaml: cannot parse");
				respond_status(a, r, 400, "BadRequest", msg, NULL, NULL, NULL, NULL, NULL);
				free(msg);
				free(yerr);
				goto out;
			}
			free(yerr);
		} else {
			body = parse_body(r, pt == SIM_PATCH_APPLY);
		}
		if (!body) {
			respond_bad_body(a, r);
			goto out;
		}
		if (t->ev_view && pt == SIM_PATCH_JSON)
			evview_convert_json_patch(body);
		else if (t->ev_view)
			evview_convert(body, 1, pt == SIM_PATCH_APPLY);
		char *fm = qparam(r->query, "fieldManager");
		int force = qbool(r->query, "force");
		/* an apply that creates answers 201 Created, as the apiserver's
		 * PatchResource does when the object did not exist */
		int created = 0;
		if (pt == SIM_PATCH_APPLY && !(t->sub && *t->sub)) {
			json_object *cur = NULL;
			created = sim_get(a->sim, t->group, t->version, t->resource, t->ns, t->name, &cur, NULL) < 0;
			json_object_put(cur);
			/* an apply that creates is also authorized as create
			 * (handlers/patch.go withAuthorization): 403
			 * `jobs.batch "x" is forbidden: REASON` */
			if (created && a->o.rbac && !apply_create_allowed(a, r, t))
				goto out;
		}
		int rc = sim_patch(a->sim, t->group, t->version, t->resource, t->ns, t->name, t->sub, pt, body, fm,
				   force, &out, &e);
		free(fm);
		if (rc < 0)
			respond_err(a, r, &e, t->name, t->group, t->resource);
		else
			respond_object(a, r, t, created ? 201 : 200, out);
		goto out;
	}
	if (strcmp(m, "DELETE") == 0) {
		if (!t->name) {
			do_delete_collection(a, r, t);
			goto out;
		}
		char *prop = qparam(r->query, "propagationPolicy");
		body = parse_body(r, 0);
		if (!prop && body) {
			const char *bp = sj_str(body, "propagationPolicy", NULL);
			if (bp)
				prop = xstrdup(bp);
			else if (sj_get(body, "orphanDependents") && sj_bool(body, "orphanDependents"))
				prop = xstrdup("Orphan");
		}
		json_object *bdry = sj_get(body, "dryRun");
		for (size_t i = 0; bdry && json_object_is_type(bdry, json_type_array) && i < json_object_array_length(bdry); i++)
			if (strcmp(json_object_get_string(json_object_array_get_idx(bdry, i)), "All") == 0)
				sim_dry_run(1); /* DeleteOptions.dryRun (kubectl delete --dry-run=server) */
		const char *pre_uid = sj_str(sj_get(body, "preconditions"), "uid", NULL);
		const char *pre_rv = sj_str(sj_get(body, "preconditions"), "resourceVersion", NULL);
		if (pre_uid || pre_rv) {
			json_object *cur = NULL;
			if (sim_get(a->sim, t->group, t->version, t->resource, t->ns, t->name, &cur, &e) < 0) {
				respond_err(a, r, &e, t->name, t->group, t->resource);
				free(prop);
				goto out;
			}
			int bad = (pre_uid && strcmp(pre_uid, sj_str(cur, "metadata", "uid", NULL))) ||
				  (pre_rv && strcmp(pre_rv, sj_str(cur, "metadata", "resourceVersion", NULL)));
			json_object_put(cur);
			if (bad) {
				respond_status(a, r, 409, "Conflict", "Precondition failed: UID or resourceVersion mismatch",
					       t->name, t->group, t->resource, NULL, NULL);
				free(prop);
				goto out;
			}
		}
		int rc = sim_delete(a->sim, t->group, t->version, t->resource, t->ns, t->name, prop, &out, &e);
		free(prop);
		if (rc < 0) {
			respond_err(a, r, &e, t->name, t->group, t->resource);
			goto out;
		}
		/* like the apiserver (handlers/delete.go): 202 only for an object
		 * kept (finalizers) under an explicit orphanDependents=false */
		int kept = sj_str(out, "metadata", "deletionTimestamp", NULL) != NULL;
		json_object *od = sj_get(body, "orphanDependents");
		int code = kept && od && !json_object_get_boolean(od) ? 202 : 200;
		/* an object removed at once is answered with a Status, except the
		 * kinds whose registry returns the deleted object */
		static const char *const returns_object[] = {"pods", "serviceaccounts", "services", "storageclasses",
							     "namespaces", "customresourcedefinitions"};
		int ret_obj = kept;
		for (size_t i = 0; i < sizeof(returns_object) / sizeof(returns_object[0]); i++)
			ret_obj |= strcmp(t->resource, returns_object[i]) == 0;
		if (ret_obj) {
			respond_object(a, r, t, code, out);
			goto out;
		}
		json_object *st = status_obj(200, NULL, NULL, t->name, t->group, t->resource, NULL);
		json_object_object_del(st, "code");
		const char *uid = sj_str(out, "metadata", "uid", NULL);
		if (uid)
			json_object_object_add(sj_get(st, "details"), "uid", json_object_new_string(uid));
		respond_json(a, r, 200, st, NULL);
		json_object_put(st);
		goto out;
	}
	respond_status(a, r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
		       NULL, NULL, NULL, NULL, NULL);
out:
	sim_dry_run(0);
	sim_field_manager(NULL);
	sim_field_validation_strict(0);
	free(fm_q);
	free(dry);
	if (body)
		json_object_put(body);
	if (out)
		json_object_put(out);
	sim_err_cleanup(&e);
}

/* ---------------------------------------------------------------- routing */

#define MAX_SEGS 12

static size_t split_path(const char *path, char *segs[MAX_SEGS])
{
	size_t n = 0;
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *b = p;
		while (*p && *p != '/')
			p++;
		if (n == MAX_SEGS)
			return MAX_SEGS + 1;
		segs[n++] = urldecode(b, (size_t)(p - b), 0);
	}
	return n;
}

static int authenticated(struct api *a, struct http_req *r, int *anonymous)
{
	*anonymous = 0;
	if (tl_sa_user)
		json_object_put(tl_sa_user);
	tl_sa_user = NULL;
	if (strncasecmp(r->authorization, "Bearer ", 7) == 0 && a->o.sa &&
	    !(a->o.token && strcmp(r->authorization + 7, a->o.token) == 0)) {
		/* a ServiceAccount token (serviceaccount.h); a token this issuer
		 * signed that is no longer valid is 401 */
		int sa = sa_authenticate(a->o.sa, r->authorization + 7, &tl_sa_user);
		if (sa != 0)
			return sa > 0;
	}
	if (!a->o.token && !a->o.client_ca)
		return 1;
	if (a->o.client_ca && r->client_cert_ok)
		return 1;
	if (strncasecmp(r->authorization, "Bearer ", 7) == 0) {
		if (a->o.token && strcmp(r->authorization + 7, a->o.token) == 0)
			return 1;
		return 0;
	}
	if (r->authorization[0])
		return 0;
	*anonymous = 1;
	return 0;
}

/* 403 for ui's request as the apiserver's Forbidden responder words it. */
static void forbid(struct api *a, struct http_req *r, json_object *ui, const char *reason)
{
	struct rbac_request rq;
	rbac_request_info(r->method, r->path, r->query, &rq);
	char *m = rbac_forbidden_message(sj_str(ui, "username", NULL), &rq, reason);
	json_object *st = status_obj(403, "Forbidden", m, rq.name[0] ? rq.name : NULL, rq.group,
				     rq.resource_request ? rq.resource : NULL, NULL);
	if (!sj_get(st, "details"))
		json_object_object_add(st, "details", json_object_new_object());
	respond_json(a, r, 403, st, NULL);
	json_object_put(st);
	free(m);
	rbac_request_free(&rq);
}

static int in_group(json_object *ui, const char *g)
{
	json_object *gs = sj_get(ui, "groups");
	for (size_t i = 0; gs && json_object_is_type(gs, json_type_array) && i < json_object_array_length(gs); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(gs, i)), g) == 0)
			return 1;
	return 0;
}

static json_object *list_items(struct api *a, const char *resource, const char *ns, json_object **keep)
{
	*keep = NULL;
	if (sim_list(a->sim, "rbac.authorization.k8s.io", "v1", resource, ns, NULL, NULL, keep, NULL) < 0)
		return NULL;
	return sj_get(*keep, "items");
}

/* --rbac (rbac.h) over the stored roles and bindings; system:masters is
 * allowed before RBAC, as by the apiserver's privileged-group authorizer.
 * 1 allowed; 0 when the request was answered (also *reason_out, may be
 * NULL, for reviews: then nothing is answered). */
static int authorize_attrs(struct api *a, json_object *ui, const struct rbac_request *rq, char **reason_out)
{
	if (reason_out)
		*reason_out = NULL;
	if (in_group(ui, "system:masters"))
		return 1;
	json_object *l1, *l2, *l3 = NULL, *l4 = NULL;
	struct rbac_policy p = {
		.cluster_roles = list_items(a, "clusterroles", NULL, &l1),
		.cluster_role_bindings = list_items(a, "clusterrolebindings", NULL, &l2),
	};
	if (rq->ns && rq->ns[0]) {
		p.roles = list_items(a, "roles", rq->ns, &l3);
		p.role_bindings = list_items(a, "rolebindings", rq->ns, &l4);
	}
	int ok = rbac_authorize(&p, sj_str(ui, "username", NULL), sj_get(ui, "groups"), rq, reason_out);
	json_object *ls[] = {l1, l2, l3, l4};
	for (size_t i = 0; i < 4; i++)
		if (ls[i])
			json_object_put(ls[i]);
	return ok;
}

static int authorize_request(struct api *a, struct http_req *r, json_object *ui)
{
	struct rbac_request rq;
	rbac_request_info(r->method, r->path, r->query, &rq);
	char *reason = NULL;
	int ok = authorize_attrs(a, ui, &rq, &reason);
	rbac_request_free(&rq);
	if (!ok)
		forbid(a, r, ui, reason);
	free(reason);
	return ok;
}

static double rnd(struct api *a)
{
	pthread_mutex_lock(&a->seed_mu);
	double d = (double)rand_r(&a->seed) / ((double)RAND_MAX + 1.0);
	pthread_mutex_unlock(&a->seed_mu);
	return d;
}

static void handle(void *ctx, struct http_req *r)
{
	struct api *a = ctx;
	char *segs[MAX_SEGS];
	size_t n = 0;
	struct target t = {0};
	if (a->o.fault_latency_ms > 0)
		usleep((useconds_t)a->o.fault_latency_ms * 1000);
	int anonymous;
	int public_path = strcmp(r->path, "/version") == 0 || strcmp(r->path, "/healthz") == 0 ||
			  strcmp(r->path, "/livez") == 0 || strcmp(r->path, "/readyz") == 0;
	if (!authenticated(a, r, &anonymous)) {
		if (!anonymous) {
			respond_status(a, r, 401, "Unauthorized", "Unauthorized", NULL, NULL, NULL, NULL, NULL);
			return;
		}
		/* anonymous: only the public-info-viewer paths, or what RBAC grants
		 * system:anonymous / system:unauthenticated under --rbac */
		tl_anonymous = 1;
		if (!public_path && !a->o.rbac) {
			json_object *aui = json_object_new_object();
			user_info(a, r, aui);
			forbid(a, r, aui, NULL);
			json_object_put(aui);
			tl_anonymous = 0;
			return;
		}
	}
	free(admission_take_warnings());
	json_object *ui = json_object_new_object();
	user_info(a, r, ui);
	if (a->o.rbac && !authorize_request(a, r, ui)) {
		json_object_put(ui);
		tl_anonymous = 0;
		return;
	}
	tl_anonymous = 0;
	admission_set_user(sj_str(ui, "username", NULL), sj_get(ui, "groups"));
	json_object_put(ui);
	if (a->o.fault_error_rate > 0 && !public_path && rnd(a) < a->o.fault_error_rate) {
		if (rnd(a) < 0.5)
			respond_status(a, r, 500, "InternalError", "Internal error occurred: injected fault (kubesim)",
				       NULL, NULL, NULL, NULL, NULL);
		else
			respond_status(a, r, 429, "TooManyRequests", "Too many requests, please try again later (kubesim fault)",
				       NULL, NULL, NULL, NULL, "Retry-After: 1\r\n");
		return;
	}
	if (strcmp(r->path, "/version") == 0 || strcmp(r->path, "/version/") == 0) {
		version_info(a, r);
		return;
	}
	if (public_path) {
		respond_text(a, r, 200, "ok");
		return;
	}
	n = split_path(r->path, segs);
	if (n > MAX_SEGS) {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		return;
	}
	size_t i = 0;
	if (n >= 1 && strcmp(segs[0], "openapi") == 0) {
		if (n >= 2 && strcmp(segs[1], "v3") == 0) {
			const char *rest = strstr(r->path, "/openapi/v3");
			rest += strlen("/openapi/v3");
			while (*rest == '/')
				rest++;
			openapi_v3(a, r, rest);
		} else {
			respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL,
				       NULL, NULL, NULL, NULL);
		}
		goto out;
	}
	if (n == 1 && (strcmp(segs[0], "api") == 0 || strcmp(segs[0], "apis") == 0) && wants_aggregated(r)) {
		discovery_aggregated(a, r, strcmp(segs[0], "api") == 0);
		goto out;
	}
	if (n == 1 && strcmp(segs[0], "api") == 0) {
		json_object *v = json_object_new_object();
		json_object_object_add(v, "kind", json_object_new_string("APIVersions"));
		json_object *vs = json_object_new_array();
		json_object_array_add(vs, json_object_new_string("v1"));
		json_object_object_add(v, "versions", vs);
		json_object *cidrs = json_object_new_array(), *c = json_object_new_object();
		json_object_object_add(c, "clientCIDR", json_object_new_string("0.0.0.0/0"));
		json_object_object_add(c, "serverAddress", json_object_new_string("127.0.0.1"));
		json_object_array_add(cidrs, c);
		json_object_object_add(v, "serverAddressByClientCIDRs", cidrs);
		respond_json(a, r, 200, v, NULL);
		json_object_put(v);
		goto out;
	}
	if (n == 1 && strcmp(segs[0], "apis") == 0) {
		discovery_groups(a, r);
		goto out;
	}
	if (n == 2 && strcmp(segs[0], "apis") == 0) {
		discovery_group(a, r, segs[1]);
		goto out;
	}
	if (n >= 2 && strcmp(segs[0], "api") == 0) {
		t.group = xstrdup("");
		t.version = xstrdup(segs[1]);
		i = 2;
	} else if (n >= 3 && strcmp(segs[0], "apis") == 0) {
		t.group = xstrdup(segs[1]);
		t.version = xstrdup(segs[2]);
		i = 3;
	} else {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		goto out;
	}
	if (i == n) {
		discovery_resources(a, r, t.group, t.version);
		goto out;
	}
	int watch = 0;
	if (strcmp(segs[i], "watch") == 0) {
		watch = 1;
		i++;
	}
	size_t left = n - i;
	if (left >= 3 && strcmp(segs[i], "namespaces") == 0 &&
	    !(left == 3 && (strcmp(segs[i + 2], "status") == 0 || strcmp(segs[i + 2], "finalize") == 0))) {
		t.ns = xstrdup(segs[i + 1]);
		i += 2;
		left -= 2;
	}
	if (left >= 1)
		t.resource = xstrdup(segs[i]);
	if (left >= 2)
		t.name = xstrdup(segs[i + 1]);
	if (left >= 3)
		t.sub = xstrdup(segs[i + 2]);
	if (left > 3 || !t.resource) {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		goto out;
	}
	t.desc = sim_resource(a->sim, t.group, t.version, t.resource);
	if (!t.desc || (t.ns && !sj_bool(t.desc, "namespaced"))) {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		goto out;
	}
	if (t.name && !t.ns && sj_bool(t.desc, "namespaced")) {
		respond_status(a, r, 404, "NotFound", "the server could not find the requested resource", NULL, NULL,
			       NULL, NULL, NULL);
		goto out;
	}
	if (!t.name && !t.ns && sj_bool(t.desc, "namespaced") && strcmp(r->method, "GET") != 0) {
		respond_status(a, r, 405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
			       NULL, NULL, NULL, NULL, NULL);
		goto out;
	}
	if (strcmp(t.group, "events.k8s.io") == 0 && strcmp(t.resource, "events") == 0) {
		/* one store for both event APIs, as on the apiserver */
		free(t.group);
		t.group = xstrdup("");
		t.ev_view = 1;
	}
	if (!do_review(a, r, &t))
		do_resource(a, r, &t, watch);
out:
	target_free(&t);
	for (size_t k = 0; k < n && k < MAX_SEGS; k++)
		free(segs[k]);
}

void api_handle(void *ctx, struct http_req *r)
{
	handle(ctx, r);
	admission_thread_cleanup();
	if (tl_sa_user)
		json_object_put(tl_sa_user);
	tl_sa_user = NULL;
}

int api_new(const struct api_opts *o, struct api **out)
{
	struct api *a = xcalloc(1, sizeof(*a));
	a->o = *o;
	a->sim = o->sim;
	pthread_mutex_init(&a->log_mu, NULL);
	pthread_mutex_init(&a->seed_mu, NULL);
	a->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	if (o->request_log) {
		a->log = fopen(o->request_log, "ae");
		if (!a->log) {
			int e = -errno;
			api_free(a);
			return e;
		}
	}
	*out = a;
	return 0;
}

void api_free(struct api *a)
{
	if (!a)
		return;
	if (a->log)
		fclose(a->log);
	pthread_mutex_destroy(&a->log_mu);
	pthread_mutex_destroy(&a->seed_mu);
	free(a);
}
