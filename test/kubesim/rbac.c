/* kubesim --rbac (rbac.h): kube-apiserver v1.28's RequestInfoFactory
 * (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go), RBAC authorizer
 * (plugin/pkg/auth/authorizer/rbac: VisitRulesFor, appliesTo, RuleAllows),
 * the Forbidden responder's message (endpoints/handlers/responsewriters)
 * and the bootstrap policy's discovery roles. */
#include "rbac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "simjson.h"
#include "util/mem.h"

#define MAX_PARTS 16

#define pct_decode sj_urldecode
#define query_value sj_qparam

/* fields.Selector.RequiresExactMatch("metadata.name") of a fieldSelector. */
static char *exact_name(const char *fs)
{
	if (!fs)
		return NULL;
	char *d = xstrdup(fs), *save = NULL, *found = NULL;
	for (char *t = strtok_r(d, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "metadata.name", 13) != 0)
			continue;
		const char *v = t + 13;
		if (strncmp(v, "==", 2) == 0)
			v += 2;
		else if (*v == '=')
			v++;
		else
			continue;
		free(found);
		found = xstrdup(v);
	}
	free(d);
	/* path.IsValidPathSegmentName */
	if (found && (!strcmp(found, ".") || !strcmp(found, "..") || strpbrk(found, "/%"))) {
		free(found);
		found = NULL;
	}
	return found;
}

void rbac_request_info(const char *method, const char *raw_path, const char *query, struct rbac_request *r)
{
	memset(r, 0, sizeof(*r));
	r->path = pct_decode(raw_path, strlen(raw_path), 0);
	char *verb = xstrdup(method);
	for (char *c = verb; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
	r->verb = verb;
	char *parts[MAX_PARTS];
	size_t n = 0;
	const char *p = raw_path;
	while (*p == '/')
		p++;
	while (*p && n < MAX_PARTS) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		parts[n++] = pct_decode(p, len, 0);
		p += len;
		if (*p == '/')
			p++;
	}
	size_t i = 0;
	const char *group = "";
	if (n < 3 || (strcmp(parts[0], "api") && strcmp(parts[0], "apis")))
		goto done;
	i = 1;
	if (strcmp(parts[0], "apis") == 0) {
		if (n - i < 3)
			goto done;
		group = parts[i++];
	}
	const char *version = parts[i++];
	const char *mverb = NULL;
	if (!strcmp(parts[i], "watch") || !strcmp(parts[i], "proxy")) {
		if (n - i < 2)
			goto done; /* the apiserver fails the request info: treated as non-resource here */
		mverb = parts[i++];
	} else if (!strcmp(method, "POST"))
		mverb = "create";
	else if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		mverb = "get";
	else if (!strcmp(method, "PUT"))
		mverb = "update";
	else if (!strcmp(method, "PATCH"))
		mverb = "patch";
	else if (!strcmp(method, "DELETE"))
		mverb = "delete";
	else
		mverb = "";
	r->resource_request = 1;
	free(r->verb);
	r->verb = xstrdup(mverb);
	r->group = xstrdup(group);
	r->version = xstrdup(version);
	const char *ns = "";
	if (!strcmp(parts[i], "namespaces")) {
		if (n - i > 1) {
			ns = parts[i + 1];
			if (n - i > 2 && strcmp(parts[i + 2], "status") && strcmp(parts[i + 2], "finalize"))
				i += 2;
		}
	}
	r->ns = xstrdup(ns);
	size_t np = n - i;
	r->resource = xstrdup(np >= 1 ? parts[i] : "");
	r->name = xstrdup(np >= 2 ? parts[i + 1] : "");
	r->subresource = xstrdup(np >= 3 && strcmp(r->verb, "proxy") ? parts[i + 2] : "");
	if (!r->name[0] && !strcmp(r->verb, "get")) {
		char *w = query_value(query, "watch");
		int watch = w && strcasecmp(w, "false") && strcmp(w, "0");
		free(w);
		free(r->verb);
		r->verb = xstrdup(watch ? "watch" : "list");
		char *fs = query_value(query, "fieldSelector");
		char *nm = exact_name(fs);
		free(fs);
		if (nm) {
			free(r->name);
			r->name = nm;
		}
	}
	if (!r->name[0] && !strcmp(r->verb, "delete")) {
		free(r->verb);
		r->verb = xstrdup("deletecollection");
	}
done:
	for (size_t k = 0; k < n; k++)
		free(parts[k]);
	if (!r->resource_request) {
		r->group = xstrdup("");
		r->version = xstrdup("");
		r->resource = xstrdup("");
		r->subresource = xstrdup("");
		r->name = xstrdup("");
		r->ns = xstrdup("");
	}
}

void rbac_request_free(struct rbac_request *r)
{
	free(r->verb);
	free(r->path);
	free(r->group);
	free(r->version);
	free(r->resource);
	free(r->subresource);
	free(r->name);
	free(r->ns);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- rules */

static int list_has(json_object *arr, const char *v, int star)
{
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(arr, i));
		if (s && ((star && !strcmp(s, "*")) || !strcmp(s, v)))
			return 1;
	}
	return 0;
}

static int resource_matches(json_object *rule_res, const char *res, const char *sub)
{
	char combined[600];
	snprintf(combined, sizeof(combined), "%s%s%s", res, sub[0] ? "/" : "", sub);
	for (size_t i = 0; rule_res && json_object_is_type(rule_res, json_type_array) &&
			   i < json_object_array_length(rule_res); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(rule_res, i));
		if (!s)
			continue;
		if (!strcmp(s, "*") || !strcmp(s, combined))
			return 1;
		/* "*" + "/" + subresource */
		if (sub[0] && strlen(s) == strlen(sub) + 2 && !strncmp(s, "*/", 2) && !strcmp(s + 2, sub))
			return 1;
	}
	return 0;
}

static int nonresource_matches(json_object *urls, const char *path)
{
	for (size_t i = 0; urls && json_object_is_type(urls, json_type_array) && i < json_object_array_length(urls); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(urls, i));
		if (!s)
			continue;
		size_t l = strlen(s);
		if (!strcmp(s, "*") || !strcmp(s, path))
			return 1;
		if (l && s[l - 1] == '*') {
			while (l && s[l - 1] == '*') /* strings.TrimRight(rule, "*") */
				l--;
			if (!strncmp(path, s, l))
				return 1;
		}
	}
	return 0;
}

static int rule_allows(json_object *rule, const struct rbac_request *r)
{
	if (!list_has(sj_get(rule, "verbs"), r->verb, 1))
		return 0;
	if (!r->resource_request)
		return nonresource_matches(sj_get(rule, "nonResourceURLs"), r->path);
	if (!list_has(sj_get(rule, "apiGroups"), r->group, 1) ||
	    !resource_matches(sj_get(rule, "resources"), r->resource, r->subresource))
		return 0;
	json_object *names = sj_get(rule, "resourceNames");
	return !names || !json_object_is_type(names, json_type_array) || json_object_array_length(names) == 0 ||
	       list_has(names, r->name, 0);
}

static int in_groups(json_object *groups, const char *g)
{
	return list_has(groups, g, 0);
}

/* appliesToUser: the subject's kind and name against the user; a
 * ServiceAccount subject without a namespace takes the binding's. */
static int applies(json_object *subj, const char *user, json_object *groups, const char *binding_ns)
{
	const char *kind = sj_str(subj, "kind", NULL), *name = sj_str(subj, "name", NULL);
	if (!kind || !name)
		return 0;
	if (!strcmp(kind, "User"))
		return !strcmp(user, name);
	if (!strcmp(kind, "Group"))
		return in_groups(groups, name);
	if (!strcmp(kind, "ServiceAccount")) {
		const char *ns = sj_str(subj, "namespace", NULL);
		if (!ns || !*ns)
			ns = binding_ns;
		if (!ns || !*ns)
			return 0;
		char want[600];
		snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", ns, name);
		return !strcmp(user, want);
	}
	return 0;
}

static json_object *find_named(json_object *arr, const char *name)
{
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		const char *n = sj_str(o, "metadata", "name", NULL);
		if (n && !strcmp(n, name))
			return o;
	}
	return NULL;
}

static char *describe_subject(json_object *subj, const char *binding_ns)
{
	const char *kind = sj_str(subj, "kind", NULL), *name = sj_str(subj, "name", NULL);
	if (kind && !strcmp(kind, "ServiceAccount")) {
		const char *ns = sj_str(subj, "namespace", NULL);
		return xasprintf("%s \"%s/%s\"", kind, name, ns && *ns ? ns : binding_ns);
	}
	return xasprintf("%s \"%s\"", kind ? kind : "", name ? name : "");
}

/* Errors met while visiting (deduplicated, in order), for the reason. */
struct errs {
	char *v[16];
	size_t n;
};

static void add_err(struct errs *e, char *msg)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->v[i], msg)) {
			free(msg);
			return;
		}
	if (e->n == 16) {
		free(msg);
		return;
	}
	e->v[e->n++] = msg;
}

/* One binding: 1 when one of its role's rules allows (reason set). */
static int visit_binding(const struct rbac_policy *p, json_object *b, const char *binding_ns, const char *user,
			 json_object *groups, const struct rbac_request *r, struct errs *errs, char **reason)
{
	json_object *subjects = sj_get(b, "subjects"), *subj = NULL;
	for (size_t i = 0; subjects && json_object_is_type(subjects, json_type_array) &&
			   i < json_object_array_length(subjects); i++) {
		if (applies(json_object_array_get_idx(subjects, i), user, groups, binding_ns)) {
			subj = json_object_array_get_idx(subjects, i);
			break;
		}
	}
	if (!subj)
		return 0;
	const char *kind = sj_str(b, "roleRef", "kind", NULL), *rname = sj_str(b, "roleRef", "name", NULL);
	if (!kind || !rname)
		return 0;
	json_object *role = NULL;
	if (!strcmp(kind, "ClusterRole")) {
		if (!(role = find_named(p->cluster_roles, rname)))
			add_err(errs, xasprintf("clusterrole.rbac.authorization.k8s.io \"%s\" not found", rname));
	} else if (!strcmp(kind, "Role") && binding_ns) {
		if (!(role = find_named(p->roles, rname)))
			add_err(errs, xasprintf("role.rbac.authorization.k8s.io \"%s\" not found", rname));
	}
	json_object *rules = sj_get(role, "rules");
	for (size_t i = 0; rules && json_object_is_type(rules, json_type_array) && i < json_object_array_length(rules);
	     i++) {
		if (!rule_allows(json_object_array_get_idx(rules, i), r))
			continue;
		if (reason) {
			char *sd = describe_subject(subj, binding_ns ? binding_ns : "");
			const char *bn = sj_str(b, "metadata", "name", NULL);
			if (binding_ns)
				*reason = xasprintf("RBAC: allowed by RoleBinding \"%s/%s\" of %s \"%s\" to %s", bn, binding_ns,
						    kind, rname, sd);
			else
				*reason = xasprintf("RBAC: allowed by ClusterRoleBinding \"%s\" of %s \"%s\" to %s", bn, kind,
						    rname, sd);
			free(sd);
		}
		return 1;
	}
	return 0;
}

int rbac_authorize(const struct rbac_policy *p, const char *user, json_object *groups, const struct rbac_request *r,
		   char **reason)
{
	struct errs errs = {0};
	int allowed = 0;
	if (reason)
		*reason = NULL;
	json_object *crbs = p->cluster_role_bindings;
	for (size_t i = 0; !allowed && crbs && json_object_is_type(crbs, json_type_array) &&
			   i < json_object_array_length(crbs); i++)
		allowed = visit_binding(p, json_object_array_get_idx(crbs, i), NULL, user, groups, r, &errs, reason);
	json_object *rbs = p->role_bindings;
	for (size_t i = 0; !allowed && r->ns && r->ns[0] && rbs && json_object_is_type(rbs, json_type_array) &&
			   i < json_object_array_length(rbs); i++) {
		json_object *b = json_object_array_get_idx(rbs, i);
		const char *bns = sj_str(b, "metadata", "namespace", NULL);
		if (bns && !strcmp(bns, r->ns))
			allowed = visit_binding(p, b, r->ns, user, groups, r, &errs, reason);
	}
	if (!allowed && reason && errs.n) {
		/* utilerrors.NewAggregate: one error as is, several as [a, b] */
		size_t len = 16;
		for (size_t i = 0; i < errs.n; i++)
			len += strlen(errs.v[i]) + 2;
		char *s = xmalloc(len), *w = s;
		w += sprintf(w, "RBAC: %s", errs.n > 1 ? "[" : "");
		for (size_t i = 0; i < errs.n; i++)
			w += sprintf(w, "%s%s", i ? ", " : "", errs.v[i]);
		if (errs.n > 1)
			sprintf(w, "]");
		*reason = s;
	}
	for (size_t i = 0; i < errs.n; i++)
		free(errs.v[i]);
	return allowed;
}

char *rbac_forbidden_message(const char *user, const struct rbac_request *r, const char *reason)
{
	char *what;
	if (!r->resource_request) {
		what = xasprintf("User \"%s\" cannot %s path \"%s\"", user, r->verb, r->path);
	} else {
		char res[600];
		snprintf(res, sizeof(res), "%s%s%s", r->resource, r->subresource[0] ? "/" : "", r->subresource);
		if (r->ns[0])
			what = xasprintf("User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"",
					 user, r->verb, res, r->group, r->ns);
		else
			what = xasprintf("User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the cluster scope",
					 user, r->verb, res, r->group);
	}
	char *msg;
	char gr[600];
	snprintf(gr, sizeof(gr), "%s%s%s", r->resource_request ? r->resource : "", r->group[0] ? "." : "", r->group);
	const char *rs = reason && *reason ? reason : NULL;
	if (!gr[0])
		msg = xasprintf("forbidden: %s%s%s", what, rs ? ": " : "", rs ? rs : "");
	else if (!r->name[0])
		msg = xasprintf("%s is forbidden: %s%s%s", gr, what, rs ? ": " : "", rs ? rs : "");
	else
		msg = xasprintf("%s \"%s\" is forbidden: %s%s%s", gr, r->name, what, rs ? ": " : "", rs ? rs : "");
	free(what);
	return msg;
}

/* ---------------------------------------------------------------- bootstrap */

static json_object *strs(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static json_object *boot_meta(const char *name)
{
	json_object *m = json_object_new_object(), *l = json_object_new_object(), *an = json_object_new_object();
	json_object_object_add(m, "name", json_object_new_string(name));
	json_object_object_add(l, "kubernetes.io/bootstrapping", json_object_new_string("rbac-defaults"));
	json_object_object_add(m, "labels", l);
	json_object_object_add(an, "rbac.authorization.kubernetes.io/autoupdate", json_object_new_string("true"));
	json_object_object_add(m, "annotations", an);
	return m;
}

static void add(json_object *out, const char *res, json_object *obj)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "resource", json_object_new_string(res));
	json_object_object_add(e, "object", obj);
	json_object_array_add(out, e);
}

static json_object *rule(const char *const *verbs, const char *const *groups, const char *const *resources,
			 const char *const *urls)
{
	json_object *r = json_object_new_object();
	json_object_object_add(r, "verbs", strs(verbs));
	if (groups)
		json_object_object_add(r, "apiGroups", strs(groups));
	if (resources)
		json_object_object_add(r, "resources", strs(resources));
	if (urls)
		json_object_object_add(r, "nonResourceURLs", strs(urls));
	return r;
}

static void role_and_binding(json_object *out, const char *name, json_object *rules, const char *const *groups)
{
	json_object *cr = json_object_new_object();
	json_object_object_add(cr, "apiVersion", json_object_new_string("rbac.authorization.k8s.io/v1"));
	json_object_object_add(cr, "kind", json_object_new_string("ClusterRole"));
	json_object_object_add(cr, "metadata", boot_meta(name));
	json_object_object_add(cr, "rules", rules);
	add(out, "clusterroles", cr);
	json_object *b = json_object_new_object();
	json_object_object_add(b, "apiVersion", json_object_new_string("rbac.authorization.k8s.io/v1"));
	json_object_object_add(b, "kind", json_object_new_string("ClusterRoleBinding"));
	json_object_object_add(b, "metadata", boot_meta(name));
	json_object *ref = json_object_new_object();
	json_object_object_add(ref, "apiGroup", json_object_new_string("rbac.authorization.k8s.io"));
	json_object_object_add(ref, "kind", json_object_new_string("ClusterRole"));
	json_object_object_add(ref, "name", json_object_new_string(name));
	json_object_object_add(b, "roleRef", ref);
	json_object *subs = json_object_new_array();
	for (; *groups; groups++) {
		json_object *s = json_object_new_object();
		json_object_object_add(s, "apiGroup", json_object_new_string("rbac.authorization.k8s.io"));
		json_object_object_add(s, "kind", json_object_new_string("Group"));
		json_object_object_add(s, "name", json_object_new_string(*groups));
		json_object_array_add(subs, s);
	}
	json_object_object_add(b, "subjects", subs);
	add(out, "clusterrolebindings", b);
}

json_object *rbac_bootstrap(void)
{
	static const char *const all[] = {"*", NULL}, *const get[] = {"get", NULL}, *const create[] = {"create", NULL};
	static const char *const masters[] = {"system:masters", NULL};
	static const char *const authd[] = {"system:authenticated", NULL};
	static const char *const everyone[] = {"system:authenticated", "system:unauthenticated", NULL};
	static const char *const discovery[] = {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
						"/openapi", "/openapi/*", "/readyz", "/version", "/version/", NULL};
	static const char *const public_info[] = {"/healthz", "/livez", "/readyz", "/version", "/version/", NULL};
	static const char *const authz[] = {"authorization.k8s.io", NULL}, *const authn[] = {"authentication.k8s.io", NULL};
	static const char *const ssar[] = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", NULL};
	static const char *const ssr[] = {"selfsubjectreviews", NULL};
	json_object *out = json_object_new_array(), *rules;
	rules = json_object_new_array();
	json_object_array_add(rules, rule(all, all, all, NULL));
	json_object_array_add(rules, rule(all, NULL, NULL, all));
	role_and_binding(out, "cluster-admin", rules, masters);
	rules = json_object_new_array();
	json_object_array_add(rules, rule(get, NULL, NULL, discovery));
	role_and_binding(out, "system:discovery", rules, authd);
	rules = json_object_new_array();
	json_object_array_add(rules, rule(get, NULL, NULL, public_info));
	role_and_binding(out, "system:public-info-viewer", rules, everyone);
	rules = json_object_new_array();
	json_object_array_add(rules, rule(create, authz, ssar, NULL));
	json_object_array_add(rules, rule(create, authn, ssr, NULL));
	role_and_binding(out, "system:basic-user", rules, authd);
	return out;
}
