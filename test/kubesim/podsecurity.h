/* kubesim's Pod Security admission, as kube-apiserver 1.28's PodSecurity
 * plugin (k8s.io/pod-security-admission) decides it (test/kubesim/README.md,
 * "Pod Security admission"):
 *
 *   - namespace labels pod-security.kubernetes.io/{enforce,audit,warn}
 *     (+ -version) give the policy; unset modes are privileged:latest, and
 *     warn defaults to the enforce level when only enforce is set;
 *   - a Pod violating the enforce level is refused: 403 Forbidden
 *     `pods "NAME" is forbidden: violates PodSecurity "LEVEL:VERSION": DETAIL`;
 *     an admitted Pod violating the warn level gets the warning
 *     `would violate PodSecurity "LEVEL:VERSION": DETAIL`;
 *   - workload objects (Deployments, ReplicaSets, StatefulSets, DaemonSets,
 *     Jobs, CronJobs, ReplicationControllers, PodTemplates) are never refused:
 *     their pod template is checked against the warn level only;
 *   - namespace labels with invalid values are refused with 422 on create
 *     (and on update when the errors changed); tightening the enforce level
 *     warns about the namespace's existing pods that violate it.
 *
 * The checks (podsec_evaluate) are the Pod Security Standards of policy
 * versions v1.0 .. v1.28: baseline (appArmorProfile, capabilities_baseline,
 * hostNamespaces, hostPathVolumes, hostPorts, privileged, procMount,
 * seLinuxOptions, seccompProfile_baseline, sysctls, windowsHostProcess) and
 * restricted (all baseline ones except the three it overrides, then
 * allowPrivilegeEscalation, capabilities_restricted, restrictedVolumes,
 * runAsNonRoot, runAsUser, seccompProfile_restricted), each ID-sorted, with
 * the apiserver's reasons and details. Not done: exemptions (the apiserver's
 * default configuration has none), audit annotations (kubesim has no audit
 * log). */
#ifndef KUBESIM_PODSECURITY_H
#define KUBESIM_PODSECURITY_H

#include <stddef.h>

#include <json-c/json.h>

#include "sim.h"

enum podsec_level { PODSEC_PRIVILEGED, PODSEC_BASELINE, PODSEC_RESTRICTED };

/* A policy version: minor of v1.MINOR, or PODSEC_LATEST. */
#define PODSEC_LATEST (-1L)

struct podsec_lv {
	enum podsec_level level;
	long minor;
};

/* The failed checks of one evaluation, in the apiserver's order. */
#define PODSEC_MAX_CHECKS 20
struct podsec_result {
	int n;
	char reason[PODSEC_MAX_CHECKS][48];
	char *detail[PODSEC_MAX_CHECKS];   /* malloc'd; "" when the check gives none */
};

/* Check a pod's metadata and spec (either may be NULL) against lv. Always
 * fills out (n = 0: allowed); release it with podsec_result_cleanup. */
void podsec_evaluate(const struct podsec_lv *lv, json_object *meta, json_object *spec, struct podsec_result *out);
void podsec_result_cleanup(struct podsec_result *r);
/* AggregateCheckResult.ForbiddenDetail: "reason (detail), reason, ...";
 * ForbiddenReason: "reason, reason". malloc'd. */
char *podsec_forbidden_detail(const struct podsec_result *r);
char *podsec_forbidden_reason(const struct podsec_result *r);
/* "restricted:latest", "baseline:v1.25". */
void podsec_lv_string(const struct podsec_lv *lv, char *out, size_t n);

struct podsec_policy {
	struct podsec_lv enforce, audit, warn;
};
struct verrs;
/* The policy of a namespace's labels (NULL = none). Returns the number of
 * invalid labels; with errs non-NULL each is added there as the apiserver's
 * field error (`metadata.labels[pod-security.kubernetes.io/enforce]: Invalid
 * value: "x": must be one of privileged, baseline, restricted`). An invalid
 * enforce level is restricted (fail closed), an invalid audit/warn level
 * privileged (fail open), an invalid version latest. */
int podsec_policy(json_object *labels, struct podsec_policy *p, struct verrs *errs);

/* One write, as the store sees it after validation. */
struct podsec_req {
	const char *operation;     /* CREATE | UPDATE */
	const char *group, *plural;
	json_object *obj;          /* the object to be stored */
	json_object *old;          /* the stored object on UPDATE, else NULL */
	json_object *ns_labels;    /* labels of the object's namespace, NULL = none */
	json_object *ns_pods;      /* namespace UPDATE: the namespace's pods (array), else NULL */
};
/* The PodSecurity admission step: 0 (warnings, if any, queued for the
 * response with admission_add_warning), or -403 / -422 with err filled. */
int podsec_admit(const struct podsec_req *r, struct sim_err *err);

#endif
