/* kubesim: defaulting of built-in kinds as kube-apiserver does it on every
 * write (its SetDefaults_* functions, the registry strategies'
 * PrepareForCreate and the defaulting admission plugins), documented in
 * test/kubesim/README.md ("Built-in kinds: validation, defaulting,
 * immutability"):
 *
 *   - Pod: restartPolicy Always, dnsPolicy ClusterFirst, schedulerName
 *     default-scheduler, terminationGracePeriodSeconds 30, securityContext {},
 *     enableServiceLinks true, serviceAccountName (and serviceAccount)
 *     default, priority 0 + preemptionPolicy PreemptLowerPriority, the
 *     not-ready/unreachable NoExecute tolerations (300 s), containers'
 *     imagePullPolicy, terminationMessagePath/Policy, resources {}, port
 *     protocols; status.phase Pending and qosClass;
 *   - pod templates (Deployment, Job): the PodSpec and container defaults;
 *   - Deployment: replicas 1, strategy RollingUpdate 25%/25%,
 *     revisionHistoryLimit 10, progressDeadlineSeconds 600;
 *   - Job: parallelism/completions 1, backoffLimit 6, completionMode
 *     NonIndexed, suspend false, the generated selector and the
 *     controller-uid/job-name labels of its template;
 *   - Service: type ClusterIP, sessionAffinity None, port protocol TCP and
 *     targetPort, a cluster IP from 10.0.0.0/24 with clusterIPs, ipFamilies,
 *     ipFamilyPolicy, internalTrafficPolicy;
 *   - Namespace: spec.finalizers ["kubernetes"]. */
#ifndef KUBESIM_DEFAULTS_H
#define KUBESIM_DEFAULTS_H

#include <json-c/json.h>

/* Default obj (uid and name already set) in place. old: the stored object
 * on an update (NULL on create): create-only defaults (a Job's selector,
 * a Service's cluster IP, a Pod's status) are not applied again. */
void defaults_apply(const char *group, const char *plural, int crd, json_object *obj, json_object *old);

/* Does the kind carry metadata.generation (kinds with a spec the
 * apiserver's strategies count: apps, batch, custom resources, CRDs, ...)?
 * ConfigMaps, Secrets, Namespaces, Pods (1.28) have none. */
int defaults_has_generation(const char *group, const char *plural, int crd);

#endif
