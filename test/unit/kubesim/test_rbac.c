/* kubesim --rbac (rbac.h) as a table: request attributes from method, path
 * and query as the apiserver's RequestInfoFactory derives them; decisions of
 * the authorizer over a fixed set of roles and bindings; the 403 messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rbac.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void test_request_info(void **state)
{
	(void)state;
	static const struct {
		const char *method, *path, *query;
		int res;
		const char *verb, *group, *resource, *sub, *name, *ns;
	} rows[] = {
		{"GET", "/api/v1/namespaces/ns/pods", "", 1, "list", "", "pods", "", "", "ns"},
		{"GET", "/api/v1/namespaces/ns/pods", "watch=True", 1, "watch", "", "pods", "", "", "ns"},
		{"GET", "/api/v1/namespaces/ns/pods", "watch=false", 1, "list", "", "pods", "", "", "ns"},
		{"GET", "/api/v1/watch/namespaces/ns/pods", "", 1, "watch", "", "pods", "", "", "ns"},
		{"GET", "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name%3Dp1", 1, "list", "", "pods", "", "p1", "ns"},
		{"GET", "/api/v1/namespaces/ns/pods/p1/log", "", 1, "get", "", "pods", "log", "p1", "ns"},
		{"HEAD", "/api/v1/nodes/n1", "", 1, "get", "", "nodes", "", "n1", ""},
		{"GET", "/api/v1/namespaces/foo", "", 1, "get", "", "namespaces", "", "foo", "foo"},
		{"PUT", "/api/v1/namespaces/foo/finalize", "", 1, "update", "", "namespaces", "finalize", "foo", "foo"},
		{"GET", "/api/v1/namespaces", "", 1, "list", "", "namespaces", "", "", ""},
		{"POST", "/apis/batch/v1/namespaces/ns/jobs", "", 1, "create", "batch", "jobs", "", "", "ns"},
		{"PATCH", "/apis/batch/v1/namespaces/ns/jobs/j/status", "", 1, "patch", "batch", "jobs", "status", "j", "ns"},
		{"DELETE", "/apis/batch/v1/namespaces/ns/jobs/j", "", 1, "delete", "batch", "jobs", "", "j", "ns"},
		{"DELETE", "/apis/batch/v1/namespaces/ns/jobs", "", 1, "deletecollection", "batch", "jobs", "", "", "ns"},
		{"POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token", "", 1, "create", "", "serviceaccounts", "token", "sa", "ns"},
		{"GET", "/apis/modelcache.dev/v1alpha1/inferenceclusters", "", 1, "list", "modelcache.dev", "inferenceclusters", "", "", ""},
		{"GET", "/api", "", 0, "get", "", "", "", "", ""},
		{"GET", "/api/v1", "", 0, "get", "", "", "", "", ""},
		{"GET", "/apis/batch/v1", "", 0, "get", "", "", "", "", ""},
		{"GET", "/version", "", 0, "get", "", "", "", "", ""},
		{"POST", "/openapi/v3", "", 0, "post", "", "", "", "", ""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rbac_request r;
		rbac_request_info(rows[i].method, rows[i].path, rows[i].query, &r);
		if (r.resource_request != rows[i].res || strcmp(r.verb, rows[i].verb) || strcmp(r.group, rows[i].group) ||
		    strcmp(r.resource, rows[i].resource) || strcmp(r.subresource, rows[i].sub) ||
		    strcmp(r.name, rows[i].name) || strcmp(r.ns, rows[i].ns))
			fail_msg("row %zu %s %s?%s: got res=%d verb=%s group=%s resource=%s sub=%s name=%s ns=%s", i,
				 rows[i].method, rows[i].path, rows[i].query, r.resource_request, r.verb, r.group, r.resource,
				 r.subresource, r.name, r.ns);
		rbac_request_free(&r);
	}
}

static const char *POLICY_CR =
	"[{\"metadata\":{\"name\":\"op\"},\"rules\":["
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"jobs\"],\"verbs\":[\"get\",\"list\",\"patch\"]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"jobs/status\"],\"verbs\":[\"update\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"*/log\"],\"verbs\":[\"get\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\"],\"resourceNames\":[\"only\"],\"verbs\":[\"*\"]},"
	"{\"nonResourceURLs\":[\"/metrics\",\"/debug/*\"],\"verbs\":[\"get\"]}]},"
	"{\"metadata\":{\"name\":\"reader\"},\"rules\":[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"list\"]}]}]";
static const char *POLICY_CRB =
	"[{\"metadata\":{\"name\":\"op\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"op\"},"
	"\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"op\",\"namespace\":\"sys\"}]},"
	"{\"metadata\":{\"name\":\"readers\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"reader\"},"
	"\"subjects\":[{\"kind\":\"Group\",\"name\":\"readers\"}]},"
	"{\"metadata\":{\"name\":\"broken\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"gone\"},"
	"\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]}]";
static const char *POLICY_ROLES =
	"[{\"metadata\":{\"name\":\"lease\",\"namespace\":\"team\"},\"rules\":["
	"{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],\"verbs\":[\"get\",\"update\"]}]}]";
static const char *POLICY_RBS =
	"[{\"metadata\":{\"name\":\"lease\",\"namespace\":\"team\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"lease\"},"
	"\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"local\"},{\"kind\":\"User\",\"name\":\"bob\"}]},"
	"{\"metadata\":{\"name\":\"cr\",\"namespace\":\"team\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"op\"},"
	"\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]},"
	"{\"metadata\":{\"name\":\"missing\",\"namespace\":\"team\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"nope\"},"
	"\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]}]";

static void test_authorize(void **state)
{
	(void)state;
	struct rbac_policy p = {J(POLICY_CR), J(POLICY_CRB), J(POLICY_ROLES), J(POLICY_RBS)};
	static const struct {
		const char *user, *groups, *method, *path, *query;
		int allowed;
		const char *reason; /* substring of the reason, or NULL for none */
	} rows[] = {
		{"system:serviceaccount:sys:op", "[]", "PATCH", "/apis/batch/v1/namespaces/x/jobs/j", "", 1,
		 "RBAC: allowed by ClusterRoleBinding \"op\" of ClusterRole \"op\" to ServiceAccount \"op/sys\""},
		{"system:serviceaccount:sys:op", "[]", "DELETE", "/apis/batch/v1/namespaces/x/jobs/j", "", 0, NULL},
		{"system:serviceaccount:sys:op", "[]", "GET", "/apis/batch/v1/namespaces/x/jobs", "watch=1", 0, NULL},
		{"system:serviceaccount:sys:op", "[]", "PATCH", "/apis/batch/v1/namespaces/x/jobs/j/status", "", 0, NULL},
		{"system:serviceaccount:sys:op", "[]", "PUT", "/apis/batch/v1/namespaces/x/jobs/j/status", "", 1, NULL},
		{"system:serviceaccount:sys:op", "[]", "GET", "/api/v1/namespaces/x/pods/p/log", "", 1, NULL},
		{"system:serviceaccount:sys:op", "[]", "GET", "/api/v1/namespaces/x/pods/p", "", 0, NULL},
		{"system:serviceaccount:sys:op", "[]", "PUT", "/api/v1/namespaces/x/configmaps/only", "", 1, NULL},
		{"system:serviceaccount:sys:op", "[]", "PUT", "/api/v1/namespaces/x/configmaps/other", "", 0, NULL},
		{"system:serviceaccount:sys:op", "[]", "GET", "/api/v1/namespaces/x/configmaps", "", 0, NULL},
		{"system:serviceaccount:sys:op", "[]", "GET", "/metrics", "", 1, NULL},
		{"system:serviceaccount:sys:op", "[]", "GET", "/debug/pprof", "", 1, NULL},
		{"system:serviceaccount:sys:op", "[]", "POST", "/metrics", "", 0, NULL},
		{"system:serviceaccount:other:op", "[]", "PATCH", "/apis/batch/v1/namespaces/x/jobs/j", "", 0, NULL},
		{"carol", "[\"readers\"]", "GET", "/apis/apps/v1/deployments", "", 1, NULL},
		{"carol", "[\"readers\"]", "GET", "/apis/apps/v1/namespaces/a/deployments/d", "", 0, NULL},
		/* RoleBindings: a ServiceAccount subject without namespace is the binding's */
		{"system:serviceaccount:team:local", "[]", "PUT", "/apis/coordination.k8s.io/v1/namespaces/team/leases/l", "", 1,
		 "RBAC: allowed by RoleBinding \"lease/team\" of Role \"lease\" to ServiceAccount \"local/team\""},
		{"system:serviceaccount:team:local", "[]", "PUT", "/apis/coordination.k8s.io/v1/namespaces/other/leases/l", "",
		 0, NULL},
		{"alice", "[]", "GET", "/apis/batch/v1/namespaces/team/jobs", "", 1, NULL},
		{"alice", "[]", "GET", "/apis/batch/v1/namespaces/dev/jobs", "", 0, NULL},
		{"alice", "[]", "GET", "/apis/batch/v1/jobs", "", 0, NULL},
		/* missing roles are the reason of a denial, deduplicated, in order */
		{"bob", "[]", "GET", "/api/v1/nodes", "", 0, "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found"},
		{"bob", "[]", "DELETE", "/apis/coordination.k8s.io/v1/namespaces/team/leases/l", "", 0,
		 "RBAC: [clusterrole.rbac.authorization.k8s.io \"gone\" not found, role.rbac.authorization.k8s.io \"nope\" not found]"},
		{"bob", "[]", "GET", "/apis/coordination.k8s.io/v1/namespaces/team/leases/l", "", 1, NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rbac_request r;
		rbac_request_info(rows[i].method, rows[i].path, rows[i].query, &r);
		json_object *groups = J(rows[i].groups);
		char *reason = NULL;
		struct rbac_policy pp = p;
		if (!r.ns[0])
			pp.roles = pp.role_bindings = NULL;
		int got = rbac_authorize(&pp, rows[i].user, groups, &r, &reason);
		if (got != rows[i].allowed || (rows[i].reason && (!reason || strcmp(reason, rows[i].reason))))
			fail_msg("row %zu %s %s %s: allowed=%d reason=%s", i, rows[i].user, rows[i].method, rows[i].path, got,
				 reason ? reason : "(none)");
		free(reason);
		json_object_put(groups);
		rbac_request_free(&r);
	}
	json_object_put(p.cluster_roles);
	json_object_put(p.cluster_role_bindings);
	json_object_put(p.roles);
	json_object_put(p.role_bindings);
}

static void test_forbidden_messages(void **state)
{
	(void)state;
	static const struct {
		const char *method, *path, *query, *reason, *want;
	} rows[] = {
		{"PATCH", "/apis/batch/v1/namespaces/ns/jobs/x", "", NULL,
		 "jobs.batch \"x\" is forbidden: User \"U\" cannot patch resource \"jobs\" in API group \"batch\" in the "
		 "namespace \"ns\""},
		{"GET", "/api/v1/namespaces", "", NULL,
		 "namespaces is forbidden: User \"U\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"},
		{"PATCH", "/apis/batch/v1/namespaces/ns/jobs/x/status", "", "RBAC: e",
		 "jobs.batch \"x\" is forbidden: User \"U\" cannot patch resource \"jobs/status\" in API group \"batch\" in "
		 "the namespace \"ns\": RBAC: e"},
		{"GET", "/metrics", "", NULL, "forbidden: User \"U\" cannot get path \"/metrics\""},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rbac_request r;
		rbac_request_info(rows[i].method, rows[i].path, rows[i].query, &r);
		char *m = rbac_forbidden_message("U", &r, rows[i].reason);
		assert_string_equal(m, rows[i].want);
		free(m);
		rbac_request_free(&r);
	}
}

static void test_bootstrap_allows_discovery(void **state)
{
	(void)state;
	json_object *boot = rbac_bootstrap(), *crs = json_object_new_array(), *crbs = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(boot); i++) {
		json_object *e = json_object_array_get_idx(boot, i);
		const char *res = json_object_get_string(json_object_object_get(e, "resource"));
		json_object_array_add(strcmp(res, "clusterroles") == 0 ? crs : crbs,
				      json_object_get(json_object_object_get(e, "object")));
	}
	struct rbac_policy p = {crs, crbs, NULL, NULL};
	static const struct {
		const char *groups, *method, *path;
		int allowed;
	} rows[] = {
		{"[\"system:authenticated\"]", "GET", "/api", 1},
		{"[\"system:authenticated\"]", "GET", "/apis/batch/v1", 1},
		{"[\"system:authenticated\"]", "GET", "/openapi/v3/apis/batch/v1", 1},
		{"[\"system:authenticated\"]", "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", 1},
		{"[\"system:authenticated\"]", "GET", "/api/v1/pods", 0},
		{"[\"system:unauthenticated\"]", "GET", "/version", 1},
		{"[\"system:unauthenticated\"]", "GET", "/api", 0},
		{"[\"system:masters\"]", "DELETE", "/api/v1/namespaces/x", 1},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rbac_request r;
		rbac_request_info(rows[i].method, rows[i].path, "", &r);
		json_object *g = J(rows[i].groups);
		if (rbac_authorize(&p, "someone", g, &r, NULL) != rows[i].allowed)
			fail_msg("row %zu %s %s %s", i, rows[i].groups, rows[i].method, rows[i].path);
		json_object_put(g);
		rbac_request_free(&r);
	}
	json_object_put(boot);
	json_object_put(crs);
	json_object_put(crbs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_info),
		cmocka_unit_test(test_authorize),
		cmocka_unit_test(test_forbidden_messages),
		cmocka_unit_test(test_bootstrap_allows_discovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
