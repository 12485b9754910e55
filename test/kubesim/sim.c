/* kubesim store: objects, resource types, resourceVersions, event history,
 * subscribers. See sim.h for the contract. */
#include "sim.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "labelsel.h"
#include "simjson.h"
#include "util/mem.h"
#include "util/names.h"
#include "util/timeutil.h"

#include "defaults.h"
#include "podsecurity.h"
#include "validate.h"
#ifdef KUBESIM_HAVE_SCHEMA
#include "schema.h"
#endif
#ifdef KUBESIM_HAVE_PATCH
#include "patch.h"
#endif

struct rtype {
	char *group, *version, *plural, *singular, *kind;
	int namespaced, status, scale, crd, storage;
	json_object *short_names, *categories, *columns, *schema; /* owned */
	json_object *scale_paths; /* owned: the CRD's subresources.scale, NULL for built-ins */
	char *crd_name;
};

struct ev {
	uint64_t rv;
	char type[12];
	char *gr;     /* "group/plural" */
	char *ns;     /* "" for cluster-scoped */
	char *json;
	char *prev_labels; /* MODIFIED: labels before the change ("{}" if none) */
};

struct sub {
	int id;
	sim_event_fn cb;
	void *ctx;
};

struct sim {
	pthread_mutex_t mu;
	pthread_cond_t cond;      /* broadcast on every commit and delivery */
	const struct mclock *clock;
	uint64_t rv;
	uint64_t compacted;       /* watches from an older rv get 410 */
	json_object *data;        /* "group/plural" -> {"ns/name" -> object} */
	struct rtype **types;
	size_t ntypes, captypes;
	struct ev *evs;           /* sorted by rv */
	size_t nev, capev, history_max;
	struct sub *subs;
	size_t nsubs, capsubs;
	int next_sub_id;
	uint64_t disp_rv;         /* last event delivered to subscribers */
	int delivering;
	int stop;
	int disp_started;
	pthread_t disp;
	struct sim_admission adm;  /* mutating admission hook (admission.c) or zeros */
	struct sim_admission plugins[SIM_ADMISSION_PLUGINS_MAX]; /* built-in plugins (serviceaccount.c, ...) */
	size_t nplugins;
};

struct sim_watch {
	struct sim *s;
	char *gr;
	char *ns;
	uint64_t pos;
};

/* ---------------------------------------------------------------- errors */

int sim_err_set(struct sim_err *e, int code, const char *reason, const char *fmt, ...)
{
	if (e) {
		e->code = code;
		snprintf(e->reason, sizeof(e->reason), "%s", reason);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
	return -code;
}
#define seterr sim_err_set

void sim_err_cleanup(struct sim_err *e)
{
	if (!e)
		return;
	if (e->causes)
		json_object_put(e->causes);
	e->causes = NULL;
}

static void add_cause(struct sim_err *e, const char *reason, const char *field, const char *msg)
{
	if (!e)
		return;
	if (!e->causes)
		e->causes = json_object_new_array();
	json_object *c = json_object_new_object();
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(msg));
	json_object_object_add(c, "field", json_object_new_string(field));
	json_object_array_add(e->causes, c);
}

/* "configmaps" or "modelcaches.modelcache.dev" (how the apiserver names a
 * resource in messages). */
static void qual_resource(const struct rtype *rt, char *out, size_t n)
{
	if (rt->group[0])
		snprintf(out, n, "%s.%s", rt->plural, rt->group);
	else
		snprintf(out, n, "%s", rt->plural);
}

static int err_notfound(struct sim_err *e, const struct rtype *rt, const char *name)
{
	char q[256];
	qual_resource(rt, q, sizeof(q));
	return seterr(e, 404, "NotFound", "%s \"%s\" not found", q, name);
}

/* ---------------------------------------------------------------- helpers */

static void now_str(struct sim *s, char out[32])
{
	rfc3339_format(mclock_wall_ns(s->clock) / 1000000000, out);
}

void sim_now(struct sim *s, char out[32])
{
	now_str(s, out);
}

static void new_uid(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static void api_version(const struct rtype *rt, char *out, size_t n)
{
	if (rt->group[0])
		snprintf(out, n, "%s/%s", rt->group, rt->version);
	else
		snprintf(out, n, "%s", rt->version);
}

static char *gr_key(const char *group, const char *plural)
{
	return xasprintf("%s/%s", group, plural);
}

static struct rtype *find_type(struct sim *s, const char *group, const char *version, const char *plural)
{
	for (size_t i = 0; i < s->ntypes; i++) {
		struct rtype *rt = s->types[i];
		if (strcmp(rt->group, group ? group : "") == 0 && strcmp(rt->plural, plural) == 0 &&
		    (!version || strcmp(rt->version, version) == 0))
			return rt;
	}
	return NULL;
}

static struct rtype *find_storage_type(struct sim *s, const char *group, const char *plural)
{
	struct rtype *any = NULL;
	for (size_t i = 0; i < s->ntypes; i++) {
		struct rtype *rt = s->types[i];
		if (strcmp(rt->group, group) == 0 && strcmp(rt->plural, plural) == 0) {
			if (rt->storage)
				return rt;
			if (!any)
				any = rt;
		}
	}
	return any;
}

static json_object *bucket(struct sim *s, const struct rtype *rt)
{
	char *k = gr_key(rt->group, rt->plural);
	json_object *b = NULL;
	if (!json_object_object_get_ex(s->data, k, &b)) {
		b = json_object_new_object();
		json_object_object_add(s->data, k, b);
	}
	free(k);
	return b;
}

static char *obj_key(const char *ns, const char *name)
{
	return xasprintf("%s/%s", ns ? ns : "", name);
}

static void rtype_free(struct rtype *rt)
{
	if (!rt)
		return;
	free(rt->group);
	free(rt->version);
	free(rt->plural);
	free(rt->singular);
	free(rt->kind);
	free(rt->crd_name);
	json_object_put(rt->short_names);
	json_object_put(rt->categories);
	json_object_put(rt->columns);
	json_object_put(rt->schema);
	json_object_put(rt->scale_paths);
	free(rt);
}

static void add_type(struct sim *s, struct rtype *rt)
{
	if (s->ntypes == s->captypes) {
		s->captypes = s->captypes ? s->captypes * 2 : 64;
		s->types = xrealloc(s->types, s->captypes * sizeof(*s->types));
	}
	s->types[s->ntypes++] = rt;
}

static json_object *str_array(const char *csv)
{
	json_object *a = json_object_new_array();
	if (!csv || !*csv)
		return a;
	char *d = xstrdup(csv), *save = NULL;
	for (char *t = strtok_r(d, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_object_array_add(a, json_object_new_string(t));
	free(d);
	return a;
}

struct builtin {
	const char *group, *version, *plural, *singular, *kind;
	int namespaced, status, scale;
	const char *short_names, *categories;
};

static const struct builtin builtins[] = {
	{"", "v1", "namespaces", "namespace", "Namespace", 0, 1, 0, "ns", ""},
	{"", "v1", "nodes", "node", "Node", 0, 1, 0, "no", ""},
	{"", "v1", "secrets", "secret", "Secret", 1, 0, 0, "", ""},
	{"", "v1", "configmaps", "configmap", "ConfigMap", 1, 0, 0, "cm", ""},
	{"", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", 1, 1, 0, "pvc", ""},
	{"", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", 0, 1, 0, "pv", ""},
	{"", "v1", "events", "event", "Event", 1, 0, 0, "ev", ""},
	{"", "v1", "pods", "pod", "Pod", 1, 1, 0, "po", "all"},
	{"", "v1", "services", "service", "Service", 1, 1, 0, "svc", "all"},
	{"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", 1, 0, 0, "sa", ""},
	{"storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", 0, 0, 0, "sc", ""},
	{"events.k8s.io", "v1", "events", "event", "Event", 1, 0, 0, "ev", ""},
	{"batch", "v1", "jobs", "job", "Job", 1, 1, 0, "", "all"},
	{"apps", "v1", "deployments", "deployment", "Deployment", 1, 1, 1, "deploy", "all"},
	{"coordination.k8s.io", "v1", "leases", "lease", "Lease", 1, 0, 0, "", ""},
	{"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
	 "CustomResourceDefinition", 0, 1, 0, "crd,crds", "api-extensions"},
	{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration",
	 "MutatingWebhookConfiguration", 0, 0, 0, "", "api-extensions"},
	{"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "validatingwebhookconfiguration",
	 "ValidatingWebhookConfiguration", 0, 0, 0, "", "api-extensions"},
	{"authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", 0, 0, 0, "", ""},
	{"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview",
	 0, 0, 0, "", ""},
	{"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", 0, 0, 0, "", ""},
	{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", 0, 0, 0, "", ""},
	{"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", 1, 0, 0, "", ""},
	{"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", 1, 0, 0, "", ""},
};

/* ---------------------------------------------------------------- dry run */

static _Thread_local int tl_dry_run;
static _Thread_local const char *tl_manager;
static _Thread_local int tl_applying; /* inside a server-side apply: patch_apply owns managedFields */
static _Thread_local int tl_strict_fields;

void sim_field_validation_strict(int on)
{
	tl_strict_fields = on;
}

void sim_dry_run(int on)
{
	tl_dry_run = on;
}

void sim_field_manager(const char *manager)
{
	tl_manager = manager;
}

/* Record an Update by the thread's field manager (old NULL on create). */
static void track_update(struct sim *s, json_object *old, json_object *obj, const char *subresource)
{
#ifdef KUBESIM_HAVE_PATCH
	if (!tl_manager || tl_applying)
		return;
	char now[32];
	rfc3339_format(mclock_wall_ns(s->clock) / 1000000000, now);
	/* like the apiserver's field manager: managedFields the request changed
	 * itself (kubectl's client-side -> server-side apply migration does) are
	 * taken as the base; otherwise the live object's are */
	json_object *base = old, *tmp = NULL;
	json_object *nmf = sj_get(sj_get(obj, "metadata"), "managedFields");
	json_object *omf = old ? sj_get(sj_get(old, "metadata"), "managedFields") : NULL;
	if (old && nmf && json_object_is_type(nmf, json_type_array) && json_object_array_length(nmf) > 0 &&
	    !json_object_equal(omf, nmf)) {
		tmp = sj_copy(old);
		json_object_object_add(sj_meta(tmp), "managedFields", sj_copy(nmf));
		base = tmp;
	}
	patch_track_update(base, obj, tl_manager, subresource, now);
	if (tmp)
		json_object_put(tmp);
#else
	(void)s;
	(void)old;
	(void)obj;
	(void)subresource;
#endif
}

/* ---------------------------------------------------------------- history */

static void trim_history(struct sim *s)
{
	/* drop events that are compacted or beyond the cap, but never ones the
	 * dispatcher has not delivered yet */
	size_t drop = 0;
	while (drop < s->nev) {
		struct ev *e = &s->evs[drop];
		int over = s->nev - drop > s->history_max;
		if (e->rv > s->disp_rv || (!over && e->rv > s->compacted))
			break;
		if (e->rv > s->compacted)
			s->compacted = e->rv;
		free(e->gr);
		free(e->ns);
		free(e->json);
		free(e->prev_labels);
		drop++;
	}
	if (drop) {
		memmove(s->evs, s->evs + drop, (s->nev - drop) * sizeof(*s->evs));
		s->nev -= drop;
	}
}

/* Store obj (taken) under key at a new resourceVersion and log the event.
 * For DELETED, obj is the final state and is freed after logging. */
static void commit(struct sim *s, const struct rtype *rt, const char *type, const char *ns,
		   const char *name, json_object *obj)
{
	if (tl_dry_run) {
		json_object_put(obj);
		return;
	}
	s->rv++;
	char rvs[32];
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)s->rv);
	json_object_object_add(sj_meta(obj), "resourceVersion", json_object_new_string(rvs));
	char av[256];
	api_version(rt, av, sizeof(av));
	json_object_object_add(obj, "apiVersion", json_object_new_string(av));
	json_object_object_add(obj, "kind", json_object_new_string(rt->kind));

	if (s->nev == s->capev) {
		s->capev = s->capev ? s->capev * 2 : 1024;
		s->evs = xrealloc(s->evs, s->capev * sizeof(*s->evs));
	}
	struct ev *e = &s->evs[s->nev++];
	e->rv = s->rv;
	snprintf(e->type, sizeof(e->type), "%s", type);
	e->gr = gr_key(rt->group, rt->plural);
	e->ns = xstrdup(rt->namespaced && ns ? ns : "");
	e->json = xstrdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

	json_object *b = bucket(s, rt);
	char *k = obj_key(rt->namespaced ? ns : "", name);
	e->prev_labels = NULL;
	if (strcmp(type, "MODIFIED") == 0) {
		json_object *prev = NULL;
		json_object_object_get_ex(b, k, &prev);
		json_object *pl = sj_get(sj_get(prev, "metadata"), "labels");
		e->prev_labels = xstrdup(pl ? json_object_to_json_string_ext(pl, JSON_C_TO_STRING_PLAIN) : "{}");
	}
	if (strcmp(type, "DELETED") == 0) {
		json_object_object_del(b, k);
		json_object_put(obj);
	} else {
		json_object_object_add(b, k, obj);
	}
	free(k);
	trim_history(s);
	pthread_cond_broadcast(&s->cond);
}

static json_object *copy_out(json_object *o, const struct rtype *rt);
#define copy_out_early copy_out

/* commit() handing the caller a copy with the new resourceVersion. */
static void commit_out(struct sim *s, const struct rtype *rt, const char *type, const char *ns,
		       const char *name, json_object *obj, json_object **out)
{
	if (out)
		*out = copy_out_early(obj, rt);
	commit(s, rt, type, ns, name, obj);
	if (out && !tl_dry_run) {
		char rvs[32];
		snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)s->rv);
		json_object_object_add(sj_meta(*out), "resourceVersion", json_object_new_string(rvs));
	}
}

/* ---------------------------------------------------------------- fallbacks */

#ifndef KUBESIM_HAVE_PATCH
/* RFC 7386, used only when patch.c (kubesim2) is not built in. */
static json_object *merge_patch(json_object *target, json_object *patch)
{
	if (!json_object_is_type(patch, json_type_object)) {
		json_object_put(target);
		json_object *c = NULL;
		json_object_deep_copy(patch, &c, NULL);
		return c;
	}
	if (!target || !json_object_is_type(target, json_type_object)) {
		json_object_put(target);
		target = json_object_new_object();
	}
	json_object_object_foreach(patch, k, v) {
		if (!v) {
			json_object_object_del(target, k);
			continue;
		}
		json_object *cur = json_object_object_get(target, k);
		json_object *merged = merge_patch(cur ? json_object_get(cur) : NULL, v);
		json_object_object_add(target, k, merged);
	}
	return target;
}
#endif

/* ---------------------------------------------------------------- type hooks */

static int validate_name(const struct rtype *rt, const char *name, struct sim_err *err)
{
	int ok;
	if (strcmp(rt->plural, "namespaces") == 0)
		ok = dns1123_label_ok(name);
	else if (strcmp(rt->group, "rbac.authorization.k8s.io") == 0)
		ok = name[0] && !strchr(name, '/') && !strchr(name, '%') && strcmp(name, ".") && strcmp(name, "..");
	else
		ok = dns1123_subdomain_ok(name);
	if (ok)
		return 0;
	char msg[512];
	snprintf(msg, sizeof(msg),
		 "Invalid value: \"%s\": a lowercase RFC 1123 %s must consist of lower case alphanumeric "
		 "characters, '-' or '.', and must start and end with an alphanumeric character",
		 name, strcmp(rt->plural, "namespaces") == 0 ? "label" : "subdomain");
	add_cause(err, "FieldValueInvalid", "metadata.name", msg);
	return seterr(err, 422, "Invalid", "%s \"%s\" is invalid: metadata.name: %s", rt->kind, name, msg);
}

/* The apiserver decodes metadata into typed Go structs: a wrong JSON type is
 * a 400 before anything else looks at the object. */
static int type_err(struct sim_err *err, const char *field, const char *want)
{
	return seterr(err, 400, "BadRequest",
		      "json: cannot unmarshal into Go struct field ObjectMeta.%s of type %s", field, want);
}

static int map_of_strings(json_object *m)
{
	if (!json_object_is_type(m, json_type_object))
		return 0;
	json_object_object_foreach(m, k, v) {
		(void)k;
		if (!json_object_is_type(v, json_type_string))
			return 0;
	}
	return 1;
}

static int check_meta_types(json_object *obj, struct sim_err *err)
{
	json_object *meta = sj_get(obj, "metadata");
	if (!meta)
		return 0;
	if (!json_object_is_type(meta, json_type_object))
		return seterr(err, 400, "BadRequest", "json: cannot unmarshal metadata: not an object");
	const char *strs[] = {"name", "generateName", "namespace", "uid", "resourceVersion"};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		json_object *v = sj_get(meta, strs[i]);
		if (v && !json_object_is_type(v, json_type_string))
			return type_err(err, strs[i], "string");
	}
	json_object *v = sj_get(meta, "labels");
	if (v && !map_of_strings(v))
		return type_err(err, "labels", "map[string]string");
	v = sj_get(meta, "annotations");
	if (v && !map_of_strings(v))
		return type_err(err, "annotations", "map[string]string");
	v = sj_get(meta, "finalizers");
	if (v) {
		if (!json_object_is_type(v, json_type_array))
			return type_err(err, "finalizers", "[]string");
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_string))
				return type_err(err, "finalizers", "[]string");
	}
	v = sj_get(meta, "ownerReferences");
	if (v) {
		if (!json_object_is_type(v, json_type_array))
			return type_err(err, "ownerReferences", "[]v1.OwnerReference");
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			json_object *r = json_object_array_get_idx(v, i);
			if (!json_object_is_type(r, json_type_object))
				return type_err(err, "ownerReferences", "[]v1.OwnerReference");
			const char *keys[] = {"apiVersion", "kind", "name", "uid"};
			for (size_t k = 0; k < 4; k++) {
				json_object *x = sj_get(r, keys[k]);
				if (x && !json_object_is_type(x, json_type_string))
					return type_err(err, "ownerReferences", "[]v1.OwnerReference");
			}
		}
	}
	v = sj_get(meta, "managedFields");
	if (v && !json_object_is_type(v, json_type_array))
		return type_err(err, "managedFields", "[]v1.ManagedFieldsEntry");
	for (size_t i = 0; v && i < json_object_array_length(v); i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i), json_type_object))
			return type_err(err, "managedFields", "[]v1.ManagedFieldsEntry");
	return 0;
}

static void secret_string_data(json_object *obj)
{
	json_object *sd = sj_get(obj, "stringData");
	if (!sd || !json_object_is_type(sd, json_type_object)) {
		json_object_object_del(obj, "stringData");
		return;
	}
	json_object *data = sj_get(obj, "data");
	if (!data || !json_object_is_type(data, json_type_object)) {
		data = json_object_new_object();
		json_object_object_add(obj, "data", data);
	}
	json_object_object_foreach(sd, k, v) {
		const char *str = v ? json_object_get_string(v) : "";
		size_t n = strlen(str);
		char *enc = xmalloc(4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)str, (int)n);
		json_object_object_add(data, k, json_object_new_string(enc));
		free(enc);
	}
	json_object_object_del(obj, "stringData");
}

/* CRD: check the spec and fill in status (names accepted, established). */
static int crd_check(json_object *crd, struct sim_err *err)
{
	const char *name = sj_str(crd, "metadata", "name", NULL);
	json_object *spec = sj_get(crd, "spec");
	const char *group = sj_str(spec, "group", NULL);
	json_object *names = sj_get(spec, "names");
	const char *plural = sj_str(names, "plural", NULL);
	const char *kind = sj_str(names, "kind", NULL);
	const char *scope = sj_str(spec, "scope", NULL);
	json_object *versions = sj_get(spec, "versions");
	if (!group || !*group)
		add_cause(err, "FieldValueRequired", "spec.group", "Required value");
	if (!plural || !*plural)
		add_cause(err, "FieldValueRequired", "spec.names.plural", "Required value");
	if (!kind || !*kind)
		add_cause(err, "FieldValueRequired", "spec.names.kind", "Required value");
	if (!scope || (strcmp(scope, "Namespaced") && strcmp(scope, "Cluster")))
		add_cause(err, "FieldValueNotSupported", "spec.scope",
			  "Unsupported value: supported values: \"Cluster\", \"Namespaced\"");
	if (!versions || !json_object_is_type(versions, json_type_array) ||
	    json_object_array_length(versions) == 0)
		add_cause(err, "FieldValueRequired", "spec.versions", "Required value");
#ifdef KUBESIM_HAVE_SCHEMA
	/* every CEL rule must compile in kubesim's subset: a rule it cannot
	 * evaluate refuses the CRD, so no rule is ever silently skipped */
	for (size_t i = 0; versions && json_object_is_type(versions, json_type_array) &&
			   i < json_object_array_length(versions);
	     i++) {
		json_object *sch = sj_get(sj_get(json_object_array_get_idx(versions, i), "schema"), "openAPIV3Schema");
		char base[64], *epath = NULL, *emsg = NULL;
		snprintf(base, sizeof(base), "spec.versions[%zu].schema.openAPIV3Schema", i);
		if (sch && schema_cel_check(sch, base, &epath, &emsg) < 0) {
			char m[1024];
			snprintf(m, sizeof(m), "Invalid value: \"object\": compilation failed: %s", emsg);
			add_cause(err, "FieldValueInvalid", epath, m);
			free(epath);
			free(emsg);
		}
	}
#endif
	if (group && plural && name) {
		char want[512];
		snprintf(want, sizeof(want), "%s.%s", plural, group);
		if (strcmp(want, name) != 0)
			add_cause(err, "FieldValueInvalid", "metadata.name",
				  "Invalid value: must be spec.names.plural+\".\"+spec.group");
	}
	if (err && err->causes) {
		json_object *c0 = json_object_array_get_idx(err->causes, 0);
		return seterr(err, 422, "Invalid", "CustomResourceDefinition.apiextensions.k8s.io \"%s\" is invalid: %s: %s",
			      name ? name : "", sj_str(c0, "field", NULL), sj_str(c0, "message", NULL));
	}
	if (!err && (!group || !plural || !kind || !versions))
		return -422;
	return 0;
}

static void crd_set_status(struct sim *s, json_object *crd)
{
	char now[32];
	now_str(s, now);
	json_object *spec = sj_get(crd, "spec");
	json_object *status = json_object_new_object();
	json_object *conds = json_object_new_array();
	const char *types[] = {"NamesAccepted", "Established"};
	const char *reasons[] = {"NoConflicts", "InitialNamesAccepted"};
	const char *msgs[] = {"no conflicts found", "the initial names have been accepted"};
	for (int i = 0; i < 2; i++) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "type", json_object_new_string(types[i]));
		json_object_object_add(c, "status", json_object_new_string("True"));
		json_object_object_add(c, "reason", json_object_new_string(reasons[i]));
		json_object_object_add(c, "message", json_object_new_string(msgs[i]));
		json_object_object_add(c, "lastTransitionTime", json_object_new_string(now));
		json_object_array_add(conds, c);
	}
	json_object_object_add(status, "conditions", conds);
	json_object_object_add(status, "acceptedNames", sj_copy(sj_get(spec, "names")));
	json_object *stored = json_object_new_array();
	json_object *versions = sj_get(spec, "versions");
	for (size_t i = 0; versions && i < json_object_array_length(versions); i++) {
		json_object *v = json_object_array_get_idx(versions, i);
		if (sj_bool(v, "storage"))
			json_object_array_add(stored, json_object_new_string(sj_str(v, "name", NULL)));
	}
	json_object_object_add(status, "storedVersions", stored);
	json_object_object_add(crd, "status", status);
}

static void crd_unregister(struct sim *s, const char *crd_name)
{
	size_t j = 0;
	for (size_t i = 0; i < s->ntypes; i++) {
		if (s->types[i]->crd_name && strcmp(s->types[i]->crd_name, crd_name) == 0)
			rtype_free(s->types[i]);
		else
			s->types[j++] = s->types[i];
	}
	s->ntypes = j;
}

static void crd_register(struct sim *s, json_object *crd)
{
	const char *name = sj_str(crd, "metadata", "name", NULL);
	crd_unregister(s, name);
	json_object *spec = sj_get(crd, "spec");
	json_object *names = sj_get(spec, "names");
	json_object *versions = sj_get(spec, "versions");
	for (size_t i = 0; versions && i < json_object_array_length(versions); i++) {
		json_object *v = json_object_array_get_idx(versions, i);
		if (sj_get(v, "served") && !sj_bool(v, "served"))
			continue;
		struct rtype *rt = xcalloc(1, sizeof(*rt));
		rt->group = xstrdup(sj_str(spec, "group", NULL));
		rt->version = xstrdup(sj_str(v, "name", NULL));
		rt->plural = xstrdup(sj_str(names, "plural", NULL));
		const char *singular = sj_str(names, "singular", NULL);
		rt->kind = xstrdup(sj_str(names, "kind", NULL));
		if (singular && *singular) {
			rt->singular = xstrdup(singular);
		} else {
			rt->singular = xstrdup(rt->kind);
			for (char *p = rt->singular; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
		}
		rt->namespaced = strcmp(sj_str(spec, "scope", NULL) ? sj_str(spec, "scope", NULL) : "", "Namespaced") == 0;
		rt->status = sj_get(sj_get(v, "subresources"), "status") != NULL;
		rt->scale = sj_get(sj_get(v, "subresources"), "scale") != NULL;
		if (rt->scale)
			rt->scale_paths = sj_copy(sj_get(sj_get(v, "subresources"), "scale"));
		rt->crd = 1;
		rt->storage = sj_bool(v, "storage");
		json_object *sn = sj_get(names, "shortNames");
		rt->short_names = sn ? sj_copy(sn) : json_object_new_array();
		json_object *cat = sj_get(names, "categories");
		rt->categories = cat ? sj_copy(cat) : json_object_new_array();
		json_object *cols = sj_get(v, "additionalPrinterColumns");
		rt->columns = cols ? sj_copy(cols) : json_object_new_array();
		json_object *schema = sj_get(sj_get(v, "schema"), "openAPIV3Schema");
		rt->schema = schema ? sj_copy(schema) : NULL;
		rt->crd_name = xstrdup(name);
		add_type(s, rt);
	}
}

#ifdef KUBESIM_HAVE_SCHEMA
/* Append `unknown field "a.b"` for every member of `before` (outside
 * metadata/apiVersion/kind) that `after` lacks; arrays element-wise. */
static void pruned_fields(json_object *before, json_object *after, const char *path, char *out, size_t cap,
			  size_t *used)
{
	if (json_object_is_type(before, json_type_object) && json_object_is_type(after, json_type_object)) {
		json_object_object_foreach(before, k, v) {
			if (!path[0] && (!strcmp(k, "metadata") || !strcmp(k, "apiVersion") || !strcmp(k, "kind")))
				continue;
			char sub[512];
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", k);
			json_object *a = NULL;
			if (!json_object_object_get_ex(after, k, &a)) {
				int n = snprintf(out + *used, cap - *used, "%sunknown field \"%s\"", *used ? ", " : "", sub);
				if (n > 0 && (size_t)n < cap - *used)
					*used += (size_t)n;
				continue;
			}
			pruned_fields(v, a, sub, out, cap, used);
		}
	} else if (json_object_is_type(before, json_type_array) && json_object_is_type(after, json_type_array) &&
		   json_object_array_length(before) == json_object_array_length(after)) {
		for (size_t i = 0; i < json_object_array_length(before); i++) {
			char sub[512];
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			pruned_fields(json_object_array_get_idx(before, i), json_object_array_get_idx(after, i), sub, out,
				      cap, used);
		}
	}
}
#endif

/* Defaults and validation for custom resources (schema.c from kubesim2). */
static int cr_validate(const struct rtype *rt, json_object *obj, json_object *old, struct sim_err *err)
{
#ifdef KUBESIM_HAVE_SCHEMA
	if (!rt->crd || !rt->schema)
		return 0;
	json_object *causes = json_object_new_array();
	json_object *before = tl_strict_fields ? sj_copy(obj) : NULL;
	int rc = schema_apply_update(rt->schema, obj, old, causes);
	if (rc == 0 && before) {
		/* ?fieldValidation=Strict: fields the schema pruned are an error */
		char unknown[900] = "";
		size_t used = 0;
		pruned_fields(before, obj, "", unknown, sizeof(unknown), &used);
		json_object_put(before);
		if (used) {
			json_object_put(causes);
			return seterr(err, 400, "BadRequest",
				      "%s in version \"%s\" cannot be handled as a %s: strict decoding error: %s", rt->kind,
				      rt->version, rt->kind, unknown);
		}
	} else if (before) {
		json_object_put(before);
	}
	if (rc == 0 && json_object_array_length(causes) == 0) {
		json_object_put(causes);
		return 0;
	}
	if (rc == 0) {
		json_object_put(causes);
		return 0;
	}
	struct buf_s {
		char m[900];
		size_t n;
	} b = {{0}, 0};
	for (size_t i = 0; i < json_object_array_length(causes); i++) {
		json_object *c = json_object_array_get_idx(causes, i);
		int w = snprintf(b.m + b.n, sizeof(b.m) - b.n, "%s%s: %s", i ? ", " : "",
				 sj_str(c, "field", NULL) ? sj_str(c, "field", NULL) : "",
				 sj_str(c, "message", NULL) ? sj_str(c, "message", NULL) : "");
		if (w < 0 || (size_t)w >= sizeof(b.m) - b.n)
			break;
		b.n += (size_t)w;
	}
	const char *name = sj_str(obj, "metadata", "name", NULL);
	char kind_q[256];
	snprintf(kind_q, sizeof(kind_q), "%s.%s", rt->kind, rt->group);
	int n = (int)json_object_array_length(causes);
	if (err) {
		if (err->causes)
			json_object_put(err->causes);
		err->causes = causes;
	} else {
		json_object_put(causes);
	}
	if (n > 1)
		return seterr(err, 422, "Invalid", "%s \"%s\" is invalid: [%s]", kind_q, name ? name : "", b.m);
	return seterr(err, 422, "Invalid", "%s \"%s\" is invalid: %s", kind_q, name ? name : "", b.m);
#else
	(void)rt;
	(void)obj;
	(void)err;
	return 0;
#endif
}

/* ---------------------------------------------------------------- core ops */

static int spec_equal(json_object *a, json_object *b)
{
	/* everything but metadata and status */
	json_object *ca = sj_copy(a), *cb = sj_copy(b);
	const char *skip[] = {"metadata", "status", "apiVersion", "kind"};
	for (size_t i = 0; i < 4; i++) {
		json_object_object_del(ca, skip[i]);
		json_object_object_del(cb, skip[i]);
	}
	int eq = json_object_equal(ca, cb);
	json_object_put(ca);
	json_object_put(cb);
	return eq;
}

/* 1 exists, 2 exists but Terminating, 0 missing. */
static int ns_exists(struct sim *s, const char *ns)
{
	struct rtype *nst = find_type(s, "", "v1", "namespaces");
	json_object *b = bucket(s, nst), *o = NULL;
	char *k = obj_key("", ns);
	int ok = json_object_object_get_ex(b, k, &o);
	free(k);
	if (ok && sj_get(sj_get(o, "metadata"), "deletionTimestamp"))
		return 2;
	return ok;
}

static json_object *lookup(struct sim *s, const struct rtype *rt, const char *ns, const char *name)
{
	json_object *b = bucket(s, rt), *o = NULL;
	char *k = obj_key(rt->namespaced ? ns : "", name);
	if (!json_object_object_get_ex(b, k, &o))
		o = NULL;
	free(k);
	return o;
}

static void set_api_version(json_object *o, const struct rtype *rt)
{
	char av[256];
	api_version(rt, av, sizeof(av));
	json_object_object_add(o, "apiVersion", json_object_new_string(av));
	json_object_object_add(o, "kind", json_object_new_string(rt->kind));
}

static json_object *copy_out(json_object *o, const struct rtype *rt)
{
	json_object *c = sj_copy(o);
	set_api_version(c, rt);
	return c;
}

static int check_scope(struct sim *s, const struct rtype *rt, const char *ns, struct sim_err *err)
{
	if (!rt->namespaced)
		return 0;
	if (!ns || !*ns)
		return seterr(err, 400, "BadRequest", "the namespace is required for %s", rt->plural);
	return 0;
}

/* PodSecurity admission (podsecurity.c) after validation, where the
 * apiserver runs its validating admission plugins; with s->mu held. */
static int admit_podsecurity(struct sim *s, const struct rtype *rt, json_object *obj, json_object *old,
			     struct sim_err *err)
{
	if (rt->crd)
		return 0;
	struct podsec_req r = {old ? "UPDATE" : "CREATE", rt->group, rt->plural, obj, old, NULL, NULL};
	const char *ns = sj_str(obj, "metadata", "namespace", NULL), *name = sj_str(obj, "metadata", "name", NULL);
	struct rtype *nst = find_type(s, "", "v1", "namespaces"), *pt = find_type(s, "", "v1", "pods");
	if (strcmp(rt->group, "") == 0 && strcmp(rt->plural, "namespaces") == 0 && old && pt && name) {
		r.ns_pods = json_object_new_array();
		json_object_object_foreach(bucket(s, pt), k, v) {
			const char *pns = sj_str(v, "metadata", "namespace", NULL);
			(void)k;
			if (pns && strcmp(pns, name) == 0)
				json_object_array_add(r.ns_pods, json_object_get(v));
		}
	} else if (rt->namespaced && ns && nst) {
		r.ns_labels = sj_get(sj_get(lookup(s, nst, "", ns), "metadata"), "labels");
	}
	int rc = podsec_admit(&r, err);
	if (r.ns_pods)
		json_object_put(r.ns_pods);
	return rc;
}

static int do_create(struct sim *s, const struct rtype *rt, const char *ns, json_object *in,
		     json_object **out, struct sim_err *err)
{
	int rc = check_scope(s, rt, ns, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(in, json_type_object))
		return seterr(err, 400, "BadRequest", "the body of the request was not a JSON object");
	if ((rc = check_meta_types(in, err)) < 0)
		return rc;
	json_object *obj = sj_copy(in);
	json_object *meta = sj_meta(obj);
	const char *ons = sj_str(meta, "namespace", NULL);
	if (rt->namespaced && ons && *ons && strcmp(ons, ns) != 0) {
		json_object_put(obj);
		return seterr(err, 400, "BadRequest",
			      "the namespace of the provided object does not match the namespace sent on the request");
	}
	const char *name = sj_str(meta, "name", NULL);
	char gen[300];
	if (!name || !*name) {
		const char *gn = sj_str(meta, "generateName", NULL);
		if (!gn || !*gn) {
			json_object_put(obj);
			add_cause(err, "FieldValueRequired", "metadata.name", "Required value: name or generateName is required");
			return seterr(err, 422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: name or generateName is required",
				      rt->kind);
		}
		static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
		unsigned char r[5];
		if (RAND_bytes(r, 5) != 1)
			memset(r, 7, 5);
		snprintf(gen, sizeof(gen), "%.*s%c%c%c%c%c", 58, gn, alnum[r[0] % 27], alnum[r[1] % 27],
			 alnum[r[2] % 27], alnum[r[3] % 27], alnum[r[4] % 27]);
		json_object_object_add(meta, "name", json_object_new_string(gen));
		name = gen;
	}
	char namebuf[300];
	snprintf(namebuf, sizeof(namebuf), "%s", name);
	name = namebuf;
	if ((rc = validate_name(rt, name, err)) < 0)
		goto fail;
	if (rt->namespaced) {
		int nse = ns_exists(s, ns);
		if (!nse) {
			rc = seterr(err, 404, "NotFound", "namespaces \"%s\" not found", ns);
			goto fail;
		}
		if (nse == 2) {
			char q[256];
			qual_resource(rt, q, sizeof(q));
			rc = seterr(err, 403, "Forbidden",
				    "%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being terminated",
				    q, name, ns);
			goto fail;
		}
		json_object_object_add(meta, "namespace", json_object_new_string(ns));
	} else {
		json_object_object_del(meta, "namespace");
	}
	if (rt->crd && rt->crd_name) {
		struct rtype *crdt = find_type(s, "apiextensions.k8s.io", "v1", "customresourcedefinitions");
		json_object *crd = crdt ? lookup(s, crdt, "", rt->crd_name) : NULL;
		if (crd && sj_get(sj_get(crd, "metadata"), "deletionTimestamp")) {
			rc = seterr(err, 405, "MethodNotAllowed",
				    "create not allowed while custom resource definition is terminating");
			goto fail;
		}
	}
	if (lookup(s, rt, ns, name)) {
		char q[256];
		qual_resource(rt, q, sizeof(q));
		rc = seterr(err, 409, "AlreadyExists", "%s \"%s\" already exists", q, name);
		goto fail;
	}
	char uid[37], now[32];
	new_uid(uid);
	now_str(s, now);
	json_object_object_add(meta, "uid", json_object_new_string(uid));
	json_object_object_add(meta, "creationTimestamp", json_object_new_string(now));
	if (defaults_has_generation(rt->group, rt->plural, rt->crd))
		json_object_object_add(meta, "generation", json_object_new_int64(1));
	else
		json_object_object_del(meta, "generation");
	json_object_object_del(meta, "deletionTimestamp");
	json_object_object_del(meta, "deletionGracePeriodSeconds");
	json_object_object_del(meta, "resourceVersion");
	set_api_version(obj, rt);

	if (strcmp(rt->group, "") == 0 && strcmp(rt->plural, "secrets") == 0) {
		secret_string_data(obj);
		if (!sj_str(obj, "type", NULL))
			json_object_object_add(obj, "type", json_object_new_string("Opaque"));
	}
	if (strcmp(rt->group, "") == 0 && strcmp(rt->plural, "namespaces") == 0) {
		json_object *labels = sj_get(meta, "labels");
		if (!labels) {
			labels = json_object_new_object();
			json_object_object_add(meta, "labels", labels);
		}
		json_object_object_add(labels, "kubernetes.io/metadata.name", json_object_new_string(name));
		json_object *st = json_object_new_object();
		json_object_object_add(st, "phase", json_object_new_string("Active"));
		json_object_object_add(obj, "status", st);
	}
	if (strcmp(rt->plural, "customresourcedefinitions") == 0) {
		if ((rc = crd_check(obj, err)) < 0)
			goto fail;
		crd_set_status(s, obj);
	}
	if (rt->crd) {
		if (rt->status)
			json_object_object_del(obj, "status");
		if ((rc = cr_validate(rt, obj, NULL, err)) < 0)
			goto fail;
	}
	/* built-in kinds: defaulting and validation (defaults.c, validate.c) */
	defaults_apply(rt->group, rt->plural, rt->crd, obj, NULL);
	if ((rc = validate_write(rt->group, rt->plural, rt->kind, rt->crd, 0, obj, NULL, err)) < 0 ||
	    (rc = admit_podsecurity(s, rt, obj, NULL, err)) < 0)
		goto fail;
	track_update(s, NULL, obj, NULL);
	if (strcmp(rt->plural, "customresourcedefinitions") == 0 && !tl_dry_run)
		crd_register(s, obj);
	if (tl_dry_run)
		json_object_object_del(meta, "resourceVersion");
	commit_out(s, rt, "ADDED", ns, name, obj, out);
	return 0;
fail:
	json_object_put(obj);
	return rc;
}

static int do_remove(struct sim *s, const struct rtype *rt, const char *ns, const char *name,
		     json_object *cur, json_object **out);

enum upd_mode { UPD_MAIN, UPD_STATUS };

/* Replace stored object with `in` (borrowed). cur is the stored object. */
static int do_update(struct sim *s, const struct rtype *rt, const char *ns, json_object *in,
		     enum upd_mode mode, json_object **out, struct sim_err *err)
{
	int rc = check_scope(s, rt, ns, err);
	if (rc < 0)
		return rc;
	if (!json_object_is_type(in, json_type_object))
		return seterr(err, 400, "BadRequest", "the body of the request was not a JSON object");
	if ((rc = check_meta_types(in, err)) < 0)
		return rc;
	const char *name = sj_str(in, "metadata", "name", NULL);
	if (!name || !*name) {
		add_cause(err, "FieldValueRequired", "metadata.name", "Required value: name is required");
		return seterr(err, 422, "Invalid", "%s \"\" is invalid: metadata.name: Required value", rt->kind);
	}
	json_object *cur = lookup(s, rt, ns, name);
	if (!cur)
		return err_notfound(err, rt, name);
	const char *want_rv = sj_str(in, "metadata", "resourceVersion", NULL);
	const char *have_rv = sj_str(cur, "metadata", "resourceVersion", NULL);
	if (want_rv && *want_rv && strcmp(want_rv, have_rv ? have_rv : "") != 0) {
		char q[256];
		qual_resource(rt, q, sizeof(q));
		return seterr(err, 409, "Conflict",
			      "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
			      "please apply your changes to the latest version and try again",
			      q, name);
	}
	json_object *obj;
	if (mode == UPD_STATUS) {
		obj = sj_copy(cur);
		json_object *st = sj_get(in, "status");
		if (st)
			json_object_object_add(obj, "status", sj_copy(st));
		else
			json_object_object_del(obj, "status");
	} else {
		obj = sj_copy(in);
		if (rt->status) {
			json_object *st = sj_get(cur, "status");
			if (st)
				json_object_object_add(obj, "status", sj_copy(st));
			else
				json_object_object_del(obj, "status");
		}
		json_object *meta = sj_meta(obj), *cmeta = sj_get(cur, "metadata");
		const char *keep[] = {"uid", "creationTimestamp", "deletionTimestamp",
				      "deletionGracePeriodSeconds", "namespace", "name", "generation"};
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			json_object *v = sj_get(cmeta, keep[i]);
			if (v)
				json_object_object_add(meta, keep[i], sj_copy(v));
			else
				json_object_object_del(meta, keep[i]);
		}
		if (strcmp(rt->group, "") == 0 && strcmp(rt->plural, "secrets") == 0)
			secret_string_data(obj);
		if (strcmp(rt->plural, "customresourcedefinitions") == 0) {
			if ((rc = crd_check(obj, err)) < 0) {
				json_object_put(obj);
				return rc;
			}
			crd_set_status(s, obj);
		}
		if (!spec_equal(obj, cur) && defaults_has_generation(rt->group, rt->plural, rt->crd)) {
			int64_t g = json_object_get_int64(sj_get(cmeta, "generation"));
			json_object_object_add(meta, "generation", json_object_new_int64(g + 1));
		}
	}
	set_api_version(obj, rt);
	if (rt->crd && (rc = cr_validate(rt, obj, cur, err)) < 0) {
		json_object_put(obj);
		return rc;
	}
	/* built-in kinds: defaulting and validation (defaults.c, validate.c) */
	if (mode == UPD_MAIN)
		defaults_apply(rt->group, rt->plural, rt->crd, obj, cur);
	if ((rc = validate_write(rt->group, rt->plural, rt->kind, rt->crd, mode == UPD_STATUS, obj, cur, err)) < 0 ||
	    (mode == UPD_MAIN && (rc = admit_podsecurity(s, rt, obj, cur, err)) < 0)) {
		json_object_put(obj);
		return rc;
	}
	track_update(s, cur, obj, mode == UPD_STATUS ? "status" : NULL);
	/* a terminating object whose last finalizer went away is deleted */
	json_object *fin = sj_get(sj_get(obj, "metadata"), "finalizers");
	if (sj_get(sj_get(obj, "metadata"), "deletionTimestamp") &&
	    (!fin || json_object_array_length(fin) == 0)) {
		json_object_object_del(sj_meta(obj), "finalizers");
		rc = do_remove(s, rt, ns, name, obj, out);
		return rc;
	}
	/* no-op updates do not bump the resourceVersion */
	json_object_object_add(sj_meta(obj), "resourceVersion", json_object_new_string(have_rv ? have_rv : ""));
	json_object *cmp = sj_copy(cur);
	set_api_version(cmp, rt);
	int same = json_object_equal(cmp, obj);
	json_object_put(cmp);
	if (same) {
		json_object_put(obj);
		if (out)
			*out = copy_out(cur, rt);
		return 0;
	}
	if (strcmp(rt->plural, "customresourcedefinitions") == 0 && !tl_dry_run)
		crd_register(s, obj);
	commit_out(s, rt, "MODIFIED", ns, name, obj, out);
	return 0;
}

static void remove_crd_objects(struct sim *s, const char *crd_name, const char *group, const char *plural)
{
	struct rtype *rt = find_storage_type(s, group, plural);
	if (!rt)
		return;
	json_object *b = bucket(s, rt);
	/* collect keys first: commit() modifies the bucket */
	json_object *keys = json_object_new_array();
	json_object_object_foreach(b, k, v) {
		(void)v;
		json_object_array_add(keys, json_object_new_string(k));
	}
	for (size_t i = 0; i < json_object_array_length(keys); i++) {
		json_object *o = NULL;
		if (!json_object_object_get_ex(b, json_object_get_string(json_object_array_get_idx(keys, i)), &o))
			continue;
		json_object *c = sj_copy(o);
		const char *ons = sj_str(c, "metadata", "namespace", NULL);
		char *nsd = xstrdup(ons ? ons : ""), *named = xstrdup(sj_str(c, "metadata", "name", NULL));
		commit(s, rt, "DELETED", nsd, named, c);
		free(nsd);
		free(named);
	}
	json_object_put(keys);
	(void)crd_name;
}

/* Remove the stored object for good. final (taken) is its last state. */
static int do_remove(struct sim *s, const struct rtype *rt, const char *ns, const char *name,
		     json_object *final, json_object **out)
{
	char *nsd = xstrdup(ns ? ns : ""), *named = xstrdup(name);
	if (strcmp(rt->plural, "customresourcedefinitions") == 0 && !tl_dry_run) {
		const char *crd_name = sj_str(final, "metadata", "name", NULL);
		char *cn = xstrdup(crd_name);
		char *group = xstrdup(sj_str(final, "spec", "group", NULL));
		char *plural = xstrdup(sj_str(sj_get(sj_get(final, "spec"), "names"), "plural", NULL));
		if (group && plural)
			remove_crd_objects(s, cn, group, plural);
		crd_unregister(s, cn);
		free(cn);
		free(group);
		free(plural);
	}
	commit_out(s, rt, "DELETED", nsd, named, final, out);
	free(nsd);
	free(named);
	return 0;
}

static int has_finalizer(json_object *obj, const char *f)
{
	json_object *fin = sj_get(sj_get(obj, "metadata"), "finalizers");
	for (size_t i = 0; fin && i < json_object_array_length(fin); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(fin, i)), f) == 0)
			return 1;
	return 0;
}

static int do_delete(struct sim *s, const struct rtype *rt, const char *ns, const char *name,
		     const char *propagation, json_object **out, struct sim_err *err);

static void delete_namespace_contents(struct sim *s, const char *ns)
{
	for (size_t i = 0; i < s->ntypes; i++) {
		struct rtype *rt = s->types[i];
		if (!rt->namespaced || find_storage_type(s, rt->group, rt->plural) != rt)
			continue;
		json_object *b = bucket(s, rt);
		json_object *names = json_object_new_array();
		size_t plen = strlen(ns);
		json_object_object_foreach(b, k, v) {
			(void)v;
			if (strncmp(k, ns, plen) == 0 && k[plen] == '/')
				json_object_array_add(names, json_object_new_string(k + plen + 1));
		}
		for (size_t j = 0; j < json_object_array_length(names); j++)
			do_delete(s, rt, ns, json_object_get_string(json_object_array_get_idx(names, j)),
				  "Background", NULL, NULL);
		json_object_put(names);
	}
}

static int ns_empty(struct sim *s, const char *ns)
{
	size_t plen = strlen(ns);
	json_object_object_foreach(s->data, gr, b) {
		(void)gr;
		json_object_object_foreach(b, k, v) {
			(void)v;
			if (strncmp(k, ns, plen) == 0 && k[plen] == '/')
				return 0;
		}
	}
	return 1;
}

#define CRD_CLEANUP_FINALIZER "customresourcecleanup.apiextensions.k8s.io"

/* Deleting a CRD that still has objects: like the apiextensions apiserver,
 * it becomes Terminating (finalizer customresourcecleanup...), its objects
 * are deleted (their finalizers respected), and the GC removes the CRD once
 * the last one is gone. 1 when handled here. */
static int delete_crd_with_objects(struct sim *s, const struct rtype *rt, json_object *cur, const char *name,
				   json_object **out)
{
	json_object *spec = sj_get(cur, "spec");
	const char *group = sj_str(spec, "group", NULL);
	const char *plural = sj_str(sj_get(spec, "names"), "plural", NULL);
	struct rtype *crt = group && plural ? find_storage_type(s, group, plural) : NULL;
	if (!crt || json_object_object_length(bucket(s, crt)) == 0 || tl_dry_run)
		return 0;
	if (sj_get(sj_get(cur, "metadata"), "deletionTimestamp")) {
		if (out)
			*out = copy_out(cur, rt);
		return 1;
	}
	json_object *obj = sj_copy(cur);
	json_object *meta = sj_meta(obj);
	char now[32];
	now_str(s, now);
	json_object_object_add(meta, "deletionTimestamp", json_object_new_string(now));
	json_object_object_add(meta, "deletionGracePeriodSeconds", json_object_new_int64(0));
	json_object *f = sj_get(meta, "finalizers");
	if (!f) {
		f = json_object_new_array();
		json_object_object_add(meta, "finalizers", f);
	}
	json_object_array_add(f, json_object_new_string(CRD_CLEANUP_FINALIZER));
	json_object *conds = sj_get(sj_get(obj, "status"), "conditions");
	if (conds && json_object_is_type(conds, json_type_array)) {
		json_object *c = json_object_new_object();
		json_object_object_add(c, "type", json_object_new_string("Terminating"));
		json_object_object_add(c, "status", json_object_new_string("True"));
		json_object_object_add(c, "reason", json_object_new_string("InstanceDeletionInProgress"));
		json_object_object_add(c, "message", json_object_new_string("CustomResource deletion is in progress"));
		json_object_object_add(c, "lastTransitionTime", json_object_new_string(now));
		json_object_array_add(conds, c);
	}
	commit_out(s, rt, "MODIFIED", "", name, obj, out);
	/* delete the objects (collect the keys first: deleting changes the bucket) */
	json_object *keys = json_object_new_array();
	json_object_object_foreach(bucket(s, crt), k, v) {
		(void)v;
		json_object_array_add(keys, json_object_new_string(k));
	}
	for (size_t i = 0; i < json_object_array_length(keys); i++) {
		const char *key = json_object_get_string(json_object_array_get_idx(keys, i));
		const char *slash = strchr(key, '/');
		char *ons = xstrndup(key, (size_t)(slash - key));
		do_delete(s, crt, ons, slash + 1, "Background", NULL, NULL);
		free(ons);
	}
	json_object_put(keys);
	/* all gone at once (no finalizers): the CRD goes too */
	if (json_object_object_length(bucket(s, crt)) == 0) {
		json_object *now_crd = lookup(s, rt, "", name);
		if (now_crd) {
			json_object *fin = sj_copy(now_crd);
			json_object_object_del(sj_meta(fin), "finalizers");
			if (out)
				json_object_put(*out);
			do_remove(s, rt, "", name, fin, out);
		}
	}
	return 1;
}

static int do_delete(struct sim *s, const struct rtype *rt, const char *ns, const char *name,
		     const char *propagation, json_object **out, struct sim_err *err)
{
	int rc = check_scope(s, rt, ns, err);
	if (rc < 0)
		return rc;
	json_object *cur = lookup(s, rt, ns, name);
	if (!cur)
		return err_notfound(err, rt, name);
	if (strcmp(rt->plural, "customresourcedefinitions") == 0 && delete_crd_with_objects(s, rt, cur, name, out))
		return 0;
	int is_ns = strcmp(rt->group, "") == 0 && strcmp(rt->plural, "namespaces") == 0;
	if (is_ns && (!strcmp(name, "default") || !strcmp(name, "kube-system") || !strcmp(name, "kube-public")))
		return seterr(err, 403, "Forbidden", "namespaces \"%s\" is forbidden: this namespace may not be deleted",
			      name);
	const char *pfin = NULL;
	if (propagation && strcmp(propagation, "Foreground") == 0)
		pfin = "foregroundDeletion";
	else if (propagation && strcmp(propagation, "Orphan") == 0)
		pfin = "orphan";
	json_object *fin = sj_get(sj_get(cur, "metadata"), "finalizers");
	int nfin = fin ? (int)json_object_array_length(fin) : 0;
	if (is_ns) {
		char *nsname = xstrdup(name);
		if (!tl_dry_run)
			delete_namespace_contents(s, nsname);
		cur = lookup(s, rt, ns, nsname);
		int empty = ns_empty(s, nsname);
		free(nsname);
		if (!cur)
			return err_notfound(err, rt, name);
		if (!empty || nfin) {
			if (sj_get(sj_get(cur, "metadata"), "deletionTimestamp")) {
				if (out)
					*out = copy_out(cur, rt);
				return 0;
			}
			json_object *obj = sj_copy(cur);
			char now[32];
			now_str(s, now);
			json_object_object_add(sj_meta(obj), "deletionTimestamp", json_object_new_string(now));
			json_object *st = json_object_new_object();
			json_object_object_add(st, "phase", json_object_new_string("Terminating"));
			json_object_object_add(obj, "status", st);
			commit_out(s, rt, "MODIFIED", "", name, obj, out);
			return 0;
		}
	}
	if (nfin || pfin) {
		if (sj_get(sj_get(cur, "metadata"), "deletionTimestamp")) {
			if (out)
				*out = copy_out(cur, rt);
			return 0;
		}
		json_object *obj = sj_copy(cur);
		json_object *meta = sj_meta(obj);
		char now[32];
		now_str(s, now);
		json_object_object_add(meta, "deletionTimestamp", json_object_new_string(now));
		json_object_object_add(meta, "deletionGracePeriodSeconds", json_object_new_int64(0));
		if (defaults_has_generation(rt->group, rt->plural, rt->crd)) {
			int64_t g = json_object_get_int64(sj_get(meta, "generation"));
			json_object_object_add(meta, "generation", json_object_new_int64(g + 1));
		}
		if (pfin && !has_finalizer(obj, pfin)) {
			json_object *f = sj_get(meta, "finalizers");
			if (!f) {
				f = json_object_new_array();
				json_object_object_add(meta, "finalizers", f);
			}
			json_object_array_add(f, json_object_new_string(pfin));
		}
		commit_out(s, rt, "MODIFIED", ns, name, obj, out);
		return 0;
	}
	return do_remove(s, rt, ns, name, sj_copy(cur), out);
}

/* ---------------------------------------------------------------- public ops */

static struct rtype *resolve(struct sim *s, const char *group, const char *version, const char *resource,
			     struct sim_err *err)
{
	struct rtype *rt = find_type(s, group ? group : "", version, resource);
	if (!rt)
		seterr(err, 404, "NotFound", "the server could not find the requested resource");
	return rt;
}

/* With s->mu held: the type of GROUP/VERSION/RESOURCE in *rtp, checked
 * against namespace NS; 0, -404 for an unknown type, or check_scope's error. */
static int resolve_scoped(struct sim *s, const char *group, const char *version, const char *resource,
			  const char *ns, struct rtype **rtp, struct sim_err *err)
{
	*rtp = resolve(s, group, version, resource, err);
	if (!*rtp)
		return -404;
	return check_scope(s, *rtp, ns, err);
}

int sim_get(struct sim *s, const char *group, const char *version, const char *resource,
	    const char *ns, const char *name, json_object **out, struct sim_err *err)
{
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	struct rtype *rt;
	if ((rc = resolve_scoped(s, group, version, resource, ns, &rt, err)) < 0)
		goto out;
	json_object *o = lookup(s, rt, ns, name);
	if (!o) {
		rc = err_notfound(err, rt, name);
		goto out;
	}
	if (out)
		*out = copy_out(o, rt);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int cmp_items(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;
	const char *nx = sj_str(x, "metadata", "namespace", NULL), *ny = sj_str(y, "metadata", "namespace", NULL);
	int c = strcmp(nx ? nx : "", ny ? ny : "");
	if (c)
		return c;
	const char *mx = sj_str(x, "metadata", "name", NULL), *my = sj_str(y, "metadata", "name", NULL);
	return strcmp(mx ? mx : "", my ? my : "");
}

int sim_list(struct sim *s, const char *group, const char *version, const char *resource,
	     const char *ns, const char *label_selector, const char *field_selector,
	     json_object **out, struct sim_err *err)
{
	struct labelsel *ls = NULL;
	struct fieldsel *fs = NULL;
	char *perr = NULL;
	int rc = 0;
	if (labelsel_parse(label_selector, &ls, &perr) < 0 || fieldsel_parse(field_selector, &fs, &perr) < 0) {
		rc = seterr(err, 400, "BadRequest", "%s", perr ? perr : "invalid selector");
		free(perr);
		labelsel_free(ls);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = resolve(s, group, version, resource, err);
	if (!rt) {
		rc = -404;
		goto out;
	}
	json_object *b = bucket(s, rt);
	size_t n = 0, cap = 64;
	json_object **items = xmalloc(cap * sizeof(*items));
	size_t plen = ns ? strlen(ns) : 0;
	json_object_object_foreach(b, k, v) {
		if (rt->namespaced && ns && *ns && !(strncmp(k, ns, plen) == 0 && k[plen] == '/'))
			continue;
		if (!labelsel_match(ls, sj_get(sj_get(v, "metadata"), "labels")) || !fieldsel_match(fs, v))
			continue;
		if (n == cap) {
			cap *= 2;
			items = xrealloc(items, cap * sizeof(*items));
		}
		items[n++] = v;
	}
	qsort(items, n, sizeof(*items), cmp_items);
	json_object *list = json_object_new_object();
	char av[256], kind[300], rvs[32];
	api_version(rt, av, sizeof(av));
	snprintf(kind, sizeof(kind), "%sList", rt->kind);
	snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)s->rv);
	json_object_object_add(list, "apiVersion", json_object_new_string(av));
	json_object_object_add(list, "kind", json_object_new_string(kind));
	json_object *lm = json_object_new_object();
	json_object_object_add(lm, "resourceVersion", json_object_new_string(rvs));
	json_object_object_add(list, "metadata", lm);
	json_object *arr = json_object_new_array_ext((int)n);
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, copy_out(items[i], rt));
	json_object_object_add(list, "items", arr);
	free(items);
	if (out)
		*out = list;
	else
		json_object_put(list);
out:
	pthread_mutex_unlock(&s->mu);
	labelsel_free(ls);
	fieldsel_free(fs);
	return rc;
}

void sim_set_admission(struct sim *s, const struct sim_admission *adm)
{
	s->adm = *adm;
}

int sim_add_admission_plugin(struct sim *s, const struct sim_admission *p)
{
	if (s->nplugins == SIM_ADMISSION_PLUGINS_MAX)
		return -ENOSPC;
	s->plugins[s->nplugins++] = *p;
	return 0;
}

/* The built-in plugins on *work (a copy made on first use). */
static int run_plugins(struct sim *s, const struct sim_admit_attrs *a, json_object *obj, json_object **work,
		       struct sim_err *err)
{
	for (size_t i = 0; i < s->nplugins; i++) {
		if (s->plugins[i].wants && !s->plugins[i].wants(s->plugins[i].ctx, a))
			continue;
		if (!*work)
			*work = sj_copy(obj);
		int rc = s->plugins[i].admit(s->plugins[i].ctx, a, work, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Run the admission chain for a write (outside the store lock): the
 * built-in plugins, the webhook hook, and the plugins again on what the
 * webhooks changed (the apiserver's validating phase). 0 with *work (NULL =
 * nothing ran: use the caller's object) or the refusal's code. */
static int admit(struct sim *s, const char *op, const char *group, const char *version, const char *resource,
		 const char *ns, json_object *obj, json_object **work, struct sim_err *err)
{
	*work = NULL;
	if (!json_object_is_type(obj, json_type_object))
		return 0;
	struct sim_admit_attrs a = {op, group, version, resource, "", ns, tl_dry_run};
	int rc = run_plugins(s, &a, obj, work, err);
	if (rc == 0 && s->adm.admit && (!s->adm.wants || s->adm.wants(s->adm.ctx, &a))) {
		if (!*work)
			*work = sj_copy(obj);
		json_object *before = s->nplugins ? sj_copy(*work) : NULL;
		rc = s->adm.admit(s->adm.ctx, &a, work, err);
		if (rc == 0 && before && !json_object_equal(before, *work))
			rc = run_plugins(s, &a, *work, work, err);
		if (before)
			json_object_put(before);
	}
	if (rc < 0 && *work) {
		json_object_put(*work);
		*work = NULL;
	}
	return rc;
}

int sim_create(struct sim *s, const char *group, const char *version, const char *resource,
	       const char *ns, json_object *obj, json_object **out, struct sim_err *err)
{
	json_object *work;
	int arc = admit(s, "CREATE", group, version, resource, ns, obj, &work, err);
	if (arc < 0)
		return arc;
	if (work)
		obj = work;
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = resolve(s, group, version, resource, err);
	int rc = rt ? do_create(s, rt, ns, obj, out, err) : -404;
	pthread_mutex_unlock(&s->mu);
	if (work)
		json_object_put(work);
	return rc;
}

int sim_update(struct sim *s, const char *group, const char *version, const char *resource,
	       const char *ns, json_object *obj, json_object **out, struct sim_err *err)
{
	json_object *work;
	int rc = admit(s, "UPDATE", group, version, resource, ns, obj, &work, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = resolve(s, group, version, resource, err);
	rc = rt ? do_update(s, rt, ns, work ? work : obj, UPD_MAIN, out, err) : -404;
	pthread_mutex_unlock(&s->mu);
	if (work)
		json_object_put(work);
	return rc;
}

int sim_update_status(struct sim *s, const char *group, const char *version, const char *resource,
		      const char *ns, json_object *obj, json_object **out, struct sim_err *err)
{
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = resolve(s, group, version, resource, err);
	int rc = rt ? do_update(s, rt, ns, obj, UPD_STATUS, out, err) : -404;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int sim_delete(struct sim *s, const char *group, const char *version, const char *resource,
	       const char *ns, const char *name, const char *propagation,
	       json_object **out, struct sim_err *err)
{
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = resolve(s, group, version, resource, err);
	int rc = rt ? do_delete(s, rt, ns, name, propagation, out, err) : -404;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

#ifdef KUBESIM_HAVE_PATCH
/* Does an apply conflict message name only kubectl's client-side apply manager? */
static int csa_only_conflicts(const char *msg)
{
	const char *p = msg;
	int n = 0;
	if (!msg)
		return 0;
	while ((p = strstr(p, "with \"")) != NULL) {
		p += strlen("with \"");
		if (strncmp(p, "kubectl-client-side-apply\"", 26) != 0)
			return 0;
		n++;
	}
	return n > 0;
}
#endif

static int patch_locked(struct sim *s, const char *group, const char *version, const char *resource,
			const char *ns, const char *name, const char *subresource,
			enum sim_patch_type type, json_object *patch, const char *field_manager,
			int force, json_object **out, struct sim_err *err);

/* Admission of a patch, as the apiserver does it: the patch is applied
 * first (here: a dry run), the webhooks see the result as an UPDATE (a
 * CREATE for an apply that creates), and a mutated result is stored as a
 * guarded update (409 if the object changed meanwhile). */
int sim_patch(struct sim *s, const char *group, const char *version, const char *resource,
	      const char *ns, const char *name, const char *subresource,
	      enum sim_patch_type type, json_object *patch, const char *field_manager,
	      int force, json_object **out, struct sim_err *err)
{
	if (!s->adm.admit || (subresource && *subresource))
		return patch_locked(s, group, version, resource, ns, name, subresource, type, patch, field_manager,
				    force, out, err);
	json_object *old = NULL, *would = NULL, *work = NULL;
	int existed = sim_get(s, group, version, resource, ns, name, &old, NULL) == 0;
	const char *op = existed ? "UPDATE" : "CREATE";
	struct sim_admit_attrs a = {op, group, version, resource, "", ns, tl_dry_run};
	if (old)
		json_object_put(old);
	if (s->adm.wants && !s->adm.wants(s->adm.ctx, &a))
		return patch_locked(s, group, version, resource, ns, name, subresource, type, patch, field_manager,
				    force, out, err);
	int prev = tl_dry_run;
	tl_dry_run = 1;
	int rc = patch_locked(s, group, version, resource, ns, name, subresource, type, patch, field_manager, force,
			      &would, err);
	tl_dry_run = prev;
	if (rc < 0)
		return rc;
	rc = admit(s, op, group, version, resource, ns, would, &work, err);
	if (rc < 0 || !work || json_object_equal(work, would)) {
		json_object_put(would);
		if (work)
			json_object_put(work);
		if (rc < 0)
			return rc;
		return patch_locked(s, group, version, resource, ns, name, subresource, type, patch, field_manager,
				    force, out, err);
	}
	json_object_put(would);
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = resolve(s, group, version, resource, err);
	if (!rt)
		rc = -404;
	else if (existed)
		rc = do_update(s, rt, ns, work, UPD_MAIN, out, err);
	else
		rc = do_create(s, rt, ns, work, out, err);
	pthread_mutex_unlock(&s->mu);
	json_object_put(work);
	return rc;
}

static int patch_locked(struct sim *s, const char *group, const char *version, const char *resource,
			const char *ns, const char *name, const char *subresource,
			enum sim_patch_type type, json_object *patch, const char *field_manager,
			int force, json_object **out, struct sim_err *err)
{
	int rc = 0;
	char *emsg = NULL;
	json_object *work = NULL;
	enum upd_mode mode = UPD_MAIN;
	if (subresource && strcmp(subresource, "status") == 0)
		mode = UPD_STATUS;
	else if (subresource && *subresource)
		return seterr(err, 404, "NotFound", "the server could not find the requested resource");
	pthread_mutex_lock(&s->mu);
	struct rtype *rt;
	if ((rc = resolve_scoped(s, group, version, resource, ns, &rt, err)) < 0)
		goto out;
	json_object *cur = lookup(s, rt, ns, name);
	if (!cur && type != SIM_PATCH_APPLY) {
		rc = err_notfound(err, rt, name);
		goto out;
	}
	work = cur ? copy_out(cur, rt) : NULL;
	int prc = 0;
	switch (type) {
	case SIM_PATCH_MERGE:
#ifdef KUBESIM_HAVE_PATCH
		prc = patch_merge(&work, patch);
#else
		work = merge_patch(work, patch);
#endif
		break;
	case SIM_PATCH_JSON:
#ifdef KUBESIM_HAVE_PATCH
		prc = patch_json(&work, patch, &emsg);
#else
		rc = seterr(err, 415, "UnsupportedMediaType", "json patch is not built into this kubesim");
		goto out;
#endif
		break;
	case SIM_PATCH_STRATEGIC:
		if (rt->crd) {
			rc = seterr(err, 415, "UnsupportedMediaType",
				    "the body of the request was in an unknown format - accepted media types include: "
				    "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
			goto out;
		}
#ifdef KUBESIM_HAVE_PATCH
		prc = patch_strategic(&work, patch, rt->kind, &emsg);
#else
		work = merge_patch(work, patch);
#endif
		break;
	case SIM_PATCH_APPLY: {
		if (!field_manager || !*field_manager) {
			add_cause(err, "FieldValueRequired", "fieldManager", "Required value: is required for apply patch");
			rc = seterr(err, 422, "Invalid",
				    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
			goto out;
		}
		char now[32];
		now_str(s, now);
#ifdef KUBESIM_HAVE_PATCH
		prc = patch_apply(&work, patch, field_manager, force, now, &emsg);
		if (prc == -2 && cur && csa_only_conflicts(emsg) &&
		    sj_str(cur, "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration", NULL)) {
			/* the apiserver's last-applied manager: fields managed by client-side
			 * kubectl apply move to server-side apply without conflicts */
			json_object_put(patch_take_conflict_causes());
			free(emsg);
			emsg = NULL;
			json_object_put(work);
			work = copy_out(cur, rt);
			prc = patch_apply(&work, patch, field_manager, 1, now, &emsg);
		}
#else
		(void)force;
		work = merge_patch(work, patch);
#endif
		break;
	}
	}
	if (prc == -2) {
		rc = seterr(err, 409, "Conflict", "%s", emsg ? emsg : "Apply failed with conflicts");
#ifdef KUBESIM_HAVE_PATCH
		json_object *causes = patch_take_conflict_causes();
		if (err && causes) {
			if (err->causes)
				json_object_put(err->causes);
			err->causes = causes;
		} else if (causes) {
			json_object_put(causes);
		}
#endif
		goto out;
	}
	if (prc < 0 || !work || !json_object_is_type(work, json_type_object)) {
		rc = seterr(err, 422, "Invalid", "%s", emsg ? emsg : "the patch could not be applied");
		goto out;
	}
	/* the patch may not rename or move the object */
	json_object *meta = sj_meta(work);
	json_object_object_add(meta, "name", json_object_new_string(name));
	tl_applying = type == SIM_PATCH_APPLY;
	if (!cur) {
		rc = do_create(s, rt, ns, work, out, err);
		tl_applying = 0;
		goto out;
	}
	/* a resourceVersion the patch did not set must not trip the precondition */
	if (!sj_str(sj_get(patch, "metadata"), "resourceVersion", NULL) || type == SIM_PATCH_APPLY)
		json_object_object_add(meta, "resourceVersion",
				       sj_copy(sj_get(sj_get(cur, "metadata"), "resourceVersion")));
	rc = do_update(s, rt, ns, work, mode, out, err);
	tl_applying = 0;
out:
	pthread_mutex_unlock(&s->mu);
	if (work)
		json_object_put(work);
	free(emsg);
	return rc;
}

/* ---------------------------------------------------------------- introspection */

int sim_served(struct sim *s, const char *group, const char *version, const char *resource, int *namespaced)
{
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = find_type(s, group ? group : "", version, resource);
	if (rt && namespaced)
		*namespaced = rt->namespaced;
	pthread_mutex_unlock(&s->mu);
	return rt != NULL;
}

uint64_t sim_current_rv(struct sim *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t rv = s->rv;
	pthread_mutex_unlock(&s->mu);
	return rv;
}

uint64_t sim_compacted_rv(struct sim *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t rv = s->compacted;
	pthread_mutex_unlock(&s->mu);
	return rv;
}

static json_object *describe(const struct rtype *rt)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, "group", json_object_new_string(rt->group));
	json_object_object_add(d, "version", json_object_new_string(rt->version));
	json_object_object_add(d, "resource", json_object_new_string(rt->plural));
	json_object_object_add(d, "singular", json_object_new_string(rt->singular));
	json_object_object_add(d, "kind", json_object_new_string(rt->kind));
	json_object_object_add(d, "namespaced", json_object_new_boolean(rt->namespaced));
	json_object_object_add(d, "shortNames", sj_copy(rt->short_names));
	json_object_object_add(d, "categories", sj_copy(rt->categories));
	json_object_object_add(d, "status", json_object_new_boolean(rt->status));
	json_object_object_add(d, "scale", json_object_new_boolean(rt->scale));
	json_object_object_add(d, "crd", json_object_new_boolean(rt->crd));
	json_object_object_add(d, "storageVersion", json_object_new_boolean(rt->storage));
	if (rt->columns)
		json_object_object_add(d, "columns", sj_copy(rt->columns));
	if (rt->scale_paths)
		json_object_object_add(d, "scalePaths", sj_copy(rt->scale_paths));
	return d;
}

json_object *sim_resources(struct sim *s)
{
	json_object *a = json_object_new_array();
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntypes; i++)
		json_object_array_add(a, describe(s->types[i]));
	pthread_mutex_unlock(&s->mu);
	return a;
}

json_object *sim_resource(struct sim *s, const char *group, const char *version, const char *resource)
{
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = find_type(s, group ? group : "", version, resource);
	json_object *d = rt ? describe(rt) : NULL;
	pthread_mutex_unlock(&s->mu);
	return d;
}

json_object *sim_resource_schema(struct sim *s, const char *group, const char *version, const char *resource)
{
	pthread_mutex_lock(&s->mu);
	struct rtype *rt = find_type(s, group ? group : "", version, resource);
	json_object *d = rt && rt->schema ? sj_copy(rt->schema) : NULL;
	pthread_mutex_unlock(&s->mu);
	return d;
}

int sim_resource_for_kind(struct sim *s, const char *group, const char *kind,
			  char *plural, size_t plural_n, char *version, size_t version_n)
{
	int rc = -404;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntypes; i++) {
		struct rtype *rt = s->types[i];
		if (strcmp(rt->group, group ? group : "") == 0 && strcmp(rt->kind, kind) == 0) {
			snprintf(plural, plural_n, "%s", rt->plural);
			snprintf(version, version_n, "%s", rt->version);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static json_object *locator(const struct rtype *rt, json_object *o)
{
	json_object *d = json_object_new_object();
	json_object_object_add(d, "group", json_object_new_string(rt->group));
	json_object_object_add(d, "version", json_object_new_string(rt->version));
	json_object_object_add(d, "resource", json_object_new_string(rt->plural));
	const char *ns = sj_str(o, "metadata", "namespace", NULL);
	json_object_object_add(d, "namespace", json_object_new_string(ns ? ns : ""));
	json_object_object_add(d, "name", json_object_new_string(sj_str(o, "metadata", "name", NULL)));
	const char *uid = sj_str(o, "metadata", "uid", NULL);
	json_object_object_add(d, "uid", json_object_new_string(uid ? uid : ""));
	return d;
}

json_object *sim_dependents(struct sim *s, const char *uid)
{
	json_object *a = json_object_new_array();
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntypes; i++) {
		struct rtype *rt = s->types[i];
		if (find_storage_type(s, rt->group, rt->plural) != rt)
			continue;
		json_object *b = bucket(s, rt);
		json_object_object_foreach(b, k, o) {
			(void)k;
			json_object *refs = sj_get(sj_get(o, "metadata"), "ownerReferences");
			for (size_t j = 0; refs && j < json_object_array_length(refs); j++) {
				const char *u = sj_str(json_object_array_get_idx(refs, j), "uid", NULL);
				if (u && strcmp(u, uid) == 0) {
					json_object_array_add(a, locator(rt, o));
					break;
				}
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	return a;
}

json_object *sim_find_uid(struct sim *s, const char *uid)
{
	json_object *res = NULL;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->ntypes && !res; i++) {
		struct rtype *rt = s->types[i];
		if (find_storage_type(s, rt->group, rt->plural) != rt)
			continue;
		json_object *b = bucket(s, rt);
		json_object_object_foreach(b, k, o) {
			(void)k;
			const char *u = sj_str(o, "metadata", "uid", NULL);
			if (u && strcmp(u, uid) == 0) {
				res = locator(rt, o);
				break;
			}
		}
	}
	pthread_mutex_unlock(&s->mu);
	return res;
}

/* ---------------------------------------------------------------- watches */

static size_t first_after(struct sim *s, uint64_t rv)
{
	size_t lo = 0, hi = s->nev;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->evs[mid].rv <= rv)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int sim_watch_open(struct sim *s, const char *group, const char *resource, const char *ns,
		   uint64_t from_rv, struct sim_watch **out)
{
	pthread_mutex_lock(&s->mu);
	int gone = from_rv < s->compacted;
	pthread_mutex_unlock(&s->mu);
	if (gone)
		return -410;
	struct sim_watch *w = xcalloc(1, sizeof(*w));
	w->s = s;
	w->gr = gr_key(group ? group : "", resource);
	w->ns = xstrdup(ns && *ns ? ns : NULL);
	w->pos = from_rv;
	*out = w;
	return 0;
}

static void add_ns(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int sim_watch_next(struct sim_watch *w, int timeout_ms, char **type, char **json, uint64_t *rv,
		   char **prev_labels)
{
	struct sim *s = w->s;
	struct timespec deadline;
	add_ns(&deadline, timeout_ms);
	int rc = 1;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->stop) {
			rc = -ECANCELED;
			break;
		}
		if (w->pos < s->compacted) {
			rc = -410;
			break;
		}
		size_t i = first_after(s, w->pos);
		for (; i < s->nev; i++) {
			struct ev *e = &s->evs[i];
			w->pos = e->rv;
			if (strcmp(e->gr, w->gr) != 0 || (w->ns && strcmp(e->ns, w->ns) != 0))
				continue;
			*type = xstrdup(e->type);
			*json = xstrdup(e->json);
			*rv = e->rv;
			if (prev_labels)
				*prev_labels = xstrdup(e->prev_labels);
			rc = 0;
			break;
		}
		if (rc == 0)
			break;
		if (w->pos < s->rv)
			w->pos = s->rv;
		if (pthread_cond_timedwait(&s->cond, &s->mu, &deadline) == ETIMEDOUT) {
			rc = 1;
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

uint64_t sim_watch_pos(struct sim_watch *w)
{
	pthread_mutex_lock(&w->s->mu);
	uint64_t p = w->pos;
	pthread_mutex_unlock(&w->s->mu);
	return p;
}

void sim_watch_close(struct sim_watch *w)
{
	if (!w)
		return;
	free(w->gr);
	free(w->ns);
	free(w);
}

void sim_compact(struct sim *s)
{
	pthread_mutex_lock(&s->mu);
	s->compacted = s->rv;
	trim_history(s);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- subscribers */

static void *dispatch_main(void *arg)
{
	struct sim *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		size_t i = first_after(s, s->disp_rv);
		if (i >= s->nev) {
			if (s->stop)
				break;
			pthread_cond_wait(&s->cond, &s->mu);
			continue;
		}
		struct ev *e = &s->evs[i];
		uint64_t rv = e->rv;
		char type[12];
		snprintf(type, sizeof(type), "%s", e->type);
		const char *slash = strchr(e->gr, '/');
		char *plural = xstrdup(slash ? slash + 1 : e->gr);
		char *json = xstrdup(e->json);
		size_t n = s->nsubs;
		struct sub *subs = NULL;
		if (n) {
			subs = xmalloc(n * sizeof(*subs));
			memcpy(subs, s->subs, n * sizeof(*subs));
		}
		s->delivering = 1;
		pthread_mutex_unlock(&s->mu);
		if (n) {
			json_object *obj = sj_parse(json, strlen(json));
			for (size_t k = 0; k < n && obj; k++)
				subs[k].cb(subs[k].ctx, type, plural, obj);
			json_object_put(obj);
		}
		free(subs);
		free(json);
		free(plural);
		pthread_mutex_lock(&s->mu);
		s->delivering = 0;
		s->disp_rv = rv;
		trim_history(s);
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int sim_subscribe(struct sim *s, sim_event_fn cb, void *ctx, int *id)
{
	pthread_mutex_lock(&s->mu);
	if (s->nsubs == s->capsubs) {
		s->capsubs = s->capsubs ? s->capsubs * 2 : 8;
		s->subs = xrealloc(s->subs, s->capsubs * sizeof(*s->subs));
	}
	struct sub *sb = &s->subs[s->nsubs++];
	sb->id = ++s->next_sub_id;
	sb->cb = cb;
	sb->ctx = ctx;
	if (id)
		*id = sb->id;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void sim_unsubscribe(struct sim *s, int id)
{
	pthread_mutex_lock(&s->mu);
	size_t j = 0;
	for (size_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].id != id)
			s->subs[j++] = s->subs[i];
	s->nsubs = j;
	while (s->delivering)
		pthread_cond_wait(&s->cond, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

void sim_sync(struct sim *s)
{
	pthread_mutex_lock(&s->mu);
	uint64_t target = s->rv;
	while (s->disp_rv < target && !s->stop)
		pthread_cond_wait(&s->cond, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- lifecycle */

int sim_new(const struct sim_opts *o, struct sim **out)
{
	struct sim *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->clock = o && o->clock ? o->clock : mclock_system();
	s->history_max = o && o->history_max ? o->history_max : 20000;
	s->data = json_object_new_object();
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		const struct builtin *b = &builtins[i];
		struct rtype *rt = xcalloc(1, sizeof(*rt));
		rt->group = xstrdup(b->group);
		rt->version = xstrdup(b->version);
		rt->plural = xstrdup(b->plural);
		rt->singular = xstrdup(b->singular);
		rt->kind = xstrdup(b->kind);
		rt->namespaced = b->namespaced;
		rt->status = b->status;
		rt->scale = b->scale;
		rt->storage = 1;
		rt->short_names = str_array(b->short_names);
		rt->categories = str_array(b->categories);
		add_type(s, rt);
	}
	const char *nss[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
	for (size_t i = 0; i < 4; i++) {
		json_object *ns = json_object_new_object();
		json_object *m = json_object_new_object();
		json_object_object_add(m, "name", json_object_new_string(nss[i]));
		json_object_object_add(ns, "metadata", m);
		pthread_mutex_lock(&s->mu);
		do_create(s, find_type(s, "", "v1", "namespaces"), NULL, ns, NULL, NULL);
		pthread_mutex_unlock(&s->mu);
		json_object_put(ns);
	}
	s->disp_rv = s->rv;
	if (pthread_create(&s->disp, NULL, dispatch_main, s) != 0) {
		sim_free(s);
		return -EAGAIN;
	}
	s->disp_started = 1;
	*out = s;
	return 0;
}

void sim_shutdown(struct sim *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	sim_shutdown(s);
	if (s->disp_started)
		pthread_join(s->disp, NULL);
	for (size_t i = 0; i < s->ntypes; i++)
		rtype_free(s->types[i]);
	free(s->types);
	for (size_t i = 0; i < s->nev; i++) {
		free(s->evs[i].gr);
		free(s->evs[i].ns);
		free(s->evs[i].json);
		free(s->evs[i].prev_labels);
	}
	free(s->evs);
	free(s->subs);
	json_object_put(s->data);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
