/* kubesim --rbac: kube-apiserver's RBAC authorizer over the stored Roles,
 * ClusterRoles, RoleBindings and ClusterRoleBindings
 * (test/kubesim/README.md, "RBAC (--rbac)"). Pure: the caller hands in the
 * objects; nothing here touches the store.
 *
 *   - rbac_request_info: the request attributes as the apiserver's
 *     RequestInfoFactory derives them from method, path and query (verb get
 *     list watch create update patch delete deletecollection, API group,
 *     resource, subresource, name, namespace; non-resource paths such as
 *     /api, /apis/G/V, /version with the lower-case method as verb);
 *   - rbac_authorize: ClusterRoleBindings, then the RoleBindings of the
 *     request's namespace, whose subjects (User, Group, ServiceAccount)
 *     match the user; their role's rules allow by verbs, apiGroups,
 *     resources ("*", "res/sub", "* /sub"), resourceNames and
 *     nonResourceURLs ("*" and "prefix*"); a missing role is an error
 *     that the denial's reason lists ("RBAC: clusterrole.rbac... not found");
 *   - rbac_forbidden_message: the 403 text (`jobs.batch "x" is forbidden:
 *     User "U" cannot patch resource "jobs" in API group "batch" in the
 *     namespace "ns"`, `at the cluster scope`, `cannot get path "/x"`);
 *   - rbac_bootstrap: the apiserver's bootstrap ClusterRoles and bindings
 *     kubesim stores at start (cluster-admin for system:masters,
 *     system:discovery, system:public-info-viewer, system:basic-user).
 * Not done: aggregated ClusterRoles (aggregationRule is not evaluated),
 * impersonation, the Node authorizer. */
#ifndef KUBESIM_RBAC_H
#define KUBESIM_RBAC_H

#include <json-c/json.h>

struct rbac_request {
	int resource_request;        /* 0: non-resource (path) */
	char *verb;
	char *path;                  /* decoded path */
	char *group, *version, *resource, *subresource, *name, *ns; /* "" when absent */
};

/* From the raw (%-encoded) path and query. Always fills *out (free it). */
void rbac_request_info(const char *method, const char *raw_path, const char *query, struct rbac_request *out);
void rbac_request_free(struct rbac_request *r);

struct rbac_policy {             /* arrays of stored objects, borrowed; NULL = none */
	json_object *cluster_roles, *cluster_role_bindings;
	json_object *roles, *role_bindings;   /* of the request's namespace */
};

/* 1 allowed, 0 denied. *reason (may be NULL) gets a malloc'd text or NULL:
 * when allowed "RBAC: allowed by ClusterRoleBinding ..."; when denied the
 * errors met ("RBAC: role.rbac.authorization.k8s.io \"x\" not found"). */
int rbac_authorize(const struct rbac_policy *p, const char *user, json_object *groups, const struct rbac_request *req,
		   char **reason);

/* The apiserver's 403 message for a denial (malloc'd). reason may be NULL. */
char *rbac_forbidden_message(const char *user, const struct rbac_request *req, const char *reason);

/* The bootstrap policy: an array of {"resource": "clusterroles" |
 * "clusterrolebindings", "object": {...}} (caller puts). */
json_object *rbac_bootstrap(void);

#endif
