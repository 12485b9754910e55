#include "gc.h"

#include <stdio.h>
#include <string.h>

#include "simjson.h"
#include "util/log.h"
#include "util/mem.h"

struct gc {
	struct sim *s;
	int sub;
};

/* Split "group/version" or "version". */
static void split_av(const char *av, char *group, size_t gn, char *version, size_t vn)
{
	const char *sl = av ? strchr(av, '/') : NULL;
	if (sl) {
		snprintf(group, gn, "%.*s", (int)(sl - av), av);
		snprintf(version, vn, "%s", sl + 1);
	} else {
		snprintf(group, gn, "%s", "");
		snprintf(version, vn, "%s", av ? av : "v1");
	}
}

static void loc_args(json_object *loc, const char **g, const char **v, const char **r, const char **ns, const char **n)
{
	*g = sj_str(loc, "group", NULL);
	*v = sj_str(loc, "version", NULL);
	*r = sj_str(loc, "resource", NULL);
	*ns = sj_str(loc, "namespace", NULL);
	*n = sj_str(loc, "name", NULL);
}

/* Remove a finalizer (retrying conflicts). */
static void drop_finalizer(struct sim *s, json_object *loc, const char *fin)
{
	const char *g, *v, *r, *ns, *n;
	loc_args(loc, &g, &v, &r, &ns, &n);
	for (int attempt = 0; attempt < 5; attempt++) {
		json_object *o = NULL;
		if (sim_get(s, g, v, r, ns, n, &o, NULL) < 0)
			return;
		json_object *fins = sj_get(sj_get(o, "metadata"), "finalizers");
		json_object *keep = json_object_new_array();
		int found = 0;
		for (size_t i = 0; fins && i < json_object_array_length(fins); i++) {
			json_object *f = json_object_array_get_idx(fins, i);
			if (strcmp(json_object_get_string(f), fin) == 0)
				found = 1;
			else
				json_object_array_add(keep, json_object_get(f));
		}
		if (!found) {
			json_object_put(keep);
			json_object_put(o);
			return;
		}
		json_object_object_add(sj_meta(o), "finalizers", keep);
		int rc = sim_update(s, g, v, r, ns, o, NULL, NULL);
		json_object_put(o);
		if (rc != -409)
			return;
	}
}

/* Remove the ownerReference to uid from the object at loc. */
static void drop_owner_ref(struct sim *s, json_object *loc, const char *uid)
{
	const char *g, *v, *r, *ns, *n;
	loc_args(loc, &g, &v, &r, &ns, &n);
	for (int attempt = 0; attempt < 5; attempt++) {
		json_object *o = NULL;
		if (sim_get(s, g, v, r, ns, n, &o, NULL) < 0)
			return;
		json_object *refs = sj_get(sj_get(o, "metadata"), "ownerReferences");
		json_object *keep = json_object_new_array();
		for (size_t i = 0; refs && i < json_object_array_length(refs); i++) {
			json_object *ref = json_object_array_get_idx(refs, i);
			const char *u = sj_str(ref, "uid", NULL);
			if (!u || strcmp(u, uid) != 0)
				json_object_array_add(keep, json_object_get(ref));
		}
		if (json_object_array_length(keep))
			json_object_object_add(sj_meta(o), "ownerReferences", keep);
		else {
			json_object_put(keep);
			json_object_object_del(sj_meta(o), "ownerReferences");
		}
		int rc = sim_update(s, g, v, r, ns, o, NULL, NULL);
		json_object_put(o);
		if (rc != -409)
			return;
	}
}

/* Does any owner other than `gone_uid` still exist? */
static int has_live_owner(struct sim *s, json_object *dep_loc, const char *gone_uid)
{
	const char *g, *v, *r, *ns, *n;
	loc_args(dep_loc, &g, &v, &r, &ns, &n);
	json_object *o = NULL;
	if (sim_get(s, g, v, r, ns, n, &o, NULL) < 0)
		return 1; /* already gone: nothing to do */
	json_object *refs = sj_get(sj_get(o, "metadata"), "ownerReferences");
	int live = 0;
	for (size_t i = 0; refs && i < json_object_array_length(refs) && !live; i++) {
		const char *u = sj_str(json_object_array_get_idx(refs, i), "uid", NULL);
		if (!u || (gone_uid && strcmp(u, gone_uid) == 0))
			continue;
		json_object *owner = sim_find_uid(s, u);
		if (owner) {
			live = 1;
			json_object_put(owner);
		}
	}
	json_object_put(o);
	return live;
}

static void collect_dependents(struct gc *gc, const char *uid, const char *propagation)
{
	json_object *deps = sim_dependents(gc->s, uid);
	for (size_t i = 0; i < json_object_array_length(deps); i++) {
		json_object *d = json_object_array_get_idx(deps, i);
		const char *g, *v, *r, *ns, *n;
		loc_args(d, &g, &v, &r, &ns, &n);
		if (has_live_owner(gc->s, d, uid)) {
			drop_owner_ref(gc->s, d, uid);
			continue;
		}
		LOG_DEBUG("gc delete dependent", "resource=%s name=%s/%s owner=%s", r, ns, n, uid);
		sim_delete(gc->s, g, v, r, ns, n, propagation, NULL, NULL);
	}
	json_object_put(deps);
}

static int has_fin(json_object *obj, const char *f)
{
	json_object *fin = sj_get(sj_get(obj, "metadata"), "finalizers");
	for (size_t i = 0; fin && i < json_object_array_length(fin); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(fin, i)), f) == 0)
			return 1;
	return 0;
}

static json_object *self_loc(json_object *obj, const char *plural)
{
	char g[256], v[64];
	split_av(sj_str(obj, "apiVersion", NULL), g, sizeof(g), v, sizeof(v));
	json_object *l = json_object_new_object();
	json_object_object_add(l, "group", json_object_new_string(g));
	json_object_object_add(l, "version", json_object_new_string(v));
	json_object_object_add(l, "resource", json_object_new_string(plural));
	const char *ns = sj_str(obj, "metadata", "namespace", NULL);
	json_object_object_add(l, "namespace", json_object_new_string(ns ? ns : ""));
	json_object_object_add(l, "name", json_object_new_string(sj_str(obj, "metadata", "name", NULL)));
	return l;
}

/* An owner in foreground deletion loses its finalizer when no dependents remain. */
static void finish_foreground(struct gc *gc, const char *owner_uid)
{
	json_object *loc = sim_find_uid(gc->s, owner_uid);
	if (!loc)
		return;
	const char *g, *v, *r, *ns, *n;
	loc_args(loc, &g, &v, &r, &ns, &n);
	json_object *o = NULL;
	if (sim_get(gc->s, g, v, r, ns, n, &o, NULL) == 0) {
		if (sj_get(sj_get(o, "metadata"), "deletionTimestamp") && has_fin(o, "foregroundDeletion")) {
			json_object *deps = sim_dependents(gc->s, owner_uid);
			if (json_object_array_length(deps) == 0)
				drop_finalizer(gc->s, loc, "foregroundDeletion");
			json_object_put(deps);
		}
		json_object_put(o);
	}
	json_object_put(loc);
}

static void on_event(void *ctx, const char *type, const char *plural, json_object *obj)
{
	struct gc *gc = ctx;
	const char *uid = sj_str(obj, "metadata", "uid", NULL);
	if (!uid)
		return;
	json_object *refs = sj_get(sj_get(obj, "metadata"), "ownerReferences");
	if (strcmp(type, "DELETED") == 0) {
		collect_dependents(gc, uid, "Background");
		for (size_t i = 0; refs && i < json_object_array_length(refs); i++) {
			const char *ou = sj_str(json_object_array_get_idx(refs, i), "uid", NULL);
			if (ou)
				finish_foreground(gc, ou);
		}
		/* a Terminating CRD goes once its last object is gone */
		char g[256], v[64];
		split_av(sj_str(obj, "apiVersion", NULL), g, sizeof(g), v, sizeof(v));
		if (g[0] && strcmp(g, "apiextensions.k8s.io") != 0) {
			char crd_name[512];
			snprintf(crd_name, sizeof(crd_name), "%s.%s", plural, g);
			json_object *crd = NULL;
			if (sim_get(gc->s, "apiextensions.k8s.io", "v1", "customresourcedefinitions", NULL, crd_name, &crd,
				    NULL) == 0) {
				if (sj_get(sj_get(crd, "metadata"), "deletionTimestamp") &&
				    has_fin(crd, "customresourcecleanup.apiextensions.k8s.io")) {
					json_object *l = NULL;
					if (sim_list(gc->s, g, v, plural, NULL, NULL, NULL, &l, NULL) == 0 &&
					    json_object_array_length(sj_get(l, "items")) == 0) {
						json_object *loc = self_loc(crd, "customresourcedefinitions");
						drop_finalizer(gc->s, loc, "customresourcecleanup.apiextensions.k8s.io");
						json_object_put(loc);
					}
					if (l)
						json_object_put(l);
				}
				json_object_put(crd);
			}
		}
		/* a Terminating namespace goes once it is empty */
		const char *ns = sj_str(obj, "metadata", "namespace", NULL);
		if (ns && *ns) {
			json_object *nso = NULL;
			if (sim_get(gc->s, "", "v1", "namespaces", NULL, ns, &nso, NULL) == 0) {
				if (sj_get(sj_get(nso, "metadata"), "deletionTimestamp"))
					sim_delete(gc->s, "", "v1", "namespaces", NULL, ns, NULL, NULL, NULL);
				json_object_put(nso);
			}
		}
		return;
	}
	if (sj_get(sj_get(obj, "metadata"), "deletionTimestamp")) {
		if (has_fin(obj, "foregroundDeletion")) {
			collect_dependents(gc, uid, "Foreground");
			finish_foreground(gc, uid);
		}
		if (has_fin(obj, "orphan")) {
			json_object *deps = sim_dependents(gc->s, uid);
			for (size_t i = 0; i < json_object_array_length(deps); i++)
				drop_owner_ref(gc->s, json_object_array_get_idx(deps, i), uid);
			json_object_put(deps);
			json_object *loc = self_loc(obj, plural);
			drop_finalizer(gc->s, loc, "orphan");
			json_object_put(loc);
		}
	}
	if (strcmp(type, "ADDED") == 0 && refs && json_object_array_length(refs) > 0) {
		/* dangling: every owner is gone already */
		int live = 0;
		for (size_t i = 0; i < json_object_array_length(refs) && !live; i++) {
			const char *ou = sj_str(json_object_array_get_idx(refs, i), "uid", NULL);
			json_object *owner = ou ? sim_find_uid(gc->s, ou) : NULL;
			if (owner) {
				live = 1;
				json_object_put(owner);
			}
		}
		if (!live) {
			json_object *loc = self_loc(obj, plural);
			const char *g, *v, *r, *ns, *n;
			loc_args(loc, &g, &v, &r, &ns, &n);
			sim_delete(gc->s, g, v, r, ns, n, "Background", NULL, NULL);
			json_object_put(loc);
		}
	}
}

int gc_start(struct sim *s, struct gc **out)
{
	struct gc *g = xcalloc(1, sizeof(*g));
	g->s = s;
	int rc = sim_subscribe(s, on_event, g, &g->sub);
	if (rc < 0) {
		free(g);
		return rc;
	}
	*out = g;
	return 0;
}

void gc_stop(struct gc *g)
{
	if (!g)
		return;
	sim_unsubscribe(g->s, g->sub);
	free(g);
}
