/* kubesim: defaulting of built-in kinds (defaults.h). The values are
 * kube-apiserver's (pkg/apis/core/v1/defaults.go, apps/v1 and batch/v1
 * defaults, the Job strategy's generated selector, the ServiceAccount,
 * Priority and DefaultTolerationSeconds admission plugins), checked against
 * the answers of a real v1.28 apiserver (test/kubesim/fidelity/). */
#include "defaults.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "simjson.h"

static json_object *obj_at(json_object *o, const char *key)
{
	json_object *v = sj_get(o, key);
	if (!v || !json_object_is_type(v, json_type_object)) {
		v = json_object_new_object();
		json_object_object_add(o, key, v);
	}
	return v;
}

static void set_str(json_object *o, const char *key, const char *val)
{
	if (!sj_get(o, key))
		json_object_object_add(o, key, json_object_new_string(val));
}

static void set_int(json_object *o, const char *key, int64_t val)
{
	if (!sj_get(o, key))
		json_object_object_add(o, key, json_object_new_int64(val));
}

static void set_bool(json_object *o, const char *key, int val)
{
	if (!sj_get(o, key))
		json_object_object_add(o, key, json_object_new_boolean(val));
}

/* Always for ":latest" or an untagged image (no digest), else IfNotPresent. */
static const char *pull_policy(const char *image)
{
	if (!image)
		return "IfNotPresent";
	if (strchr(image, '@'))
		return "IfNotPresent";
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');
	if (!colon || strcmp(colon, ":latest") == 0)
		return "Always";
	return "IfNotPresent";
}

static void container_defaults(json_object *spec, const char *key)
{
	json_object *cs = sj_get(spec, key);
	if (!cs || !json_object_is_type(cs, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		if (!json_object_is_type(c, json_type_object))
			continue;
		set_str(c, "imagePullPolicy", pull_policy(sj_str(c, "image", NULL)));
		set_str(c, "terminationMessagePath", "/dev/termination-log");
		set_str(c, "terminationMessagePolicy", "File");
		obj_at(c, "resources");
		json_object *ports = sj_get(c, "ports");
		for (size_t j = 0; ports && json_object_is_type(ports, json_type_array) &&
				   j < json_object_array_length(ports); j++) {
			json_object *p = json_object_array_get_idx(ports, j);
			if (json_object_is_type(p, json_type_object))
				set_str(p, "protocol", "TCP");
		}
	}
}

/* SetDefaults_PodSpec (also for templates). */
static void pod_spec_defaults(json_object *spec)
{
	if (!spec || !json_object_is_type(spec, json_type_object))
		return;
	set_str(spec, "dnsPolicy", "ClusterFirst");
	set_str(spec, "restartPolicy", "Always");
	set_int(spec, "terminationGracePeriodSeconds", 30);
	set_str(spec, "schedulerName", "default-scheduler");
	obj_at(spec, "securityContext");
	container_defaults(spec, "containers");
	container_defaults(spec, "initContainers");
}

static int has_toleration(json_object *tols, const char *key)
{
	for (size_t i = 0; tols && i < json_object_array_length(tols); i++) {
		const char *k = sj_str(json_object_array_get_idx(tols, i), "key", NULL);
		if (k && strcmp(k, key) == 0)
			return 1;
	}
	return 0;
}

/* BestEffort without any request or limit; Guaranteed when every container
 * limits cpu and memory with requests equal to the limits (or unset). */
static const char *qos_class(json_object *spec)
{
	json_object *cs = sj_get(spec, "containers");
	int any = 0, guaranteed = 1;
	for (size_t i = 0; cs && json_object_is_type(cs, json_type_array) && i < json_object_array_length(cs); i++) {
		json_object *r = sj_get(json_object_array_get_idx(cs, i), "resources");
		json_object *lim = sj_get(r, "limits"), *req = sj_get(r, "requests");
		if ((lim && json_object_object_length(lim)) || (req && json_object_object_length(req)))
			any = 1;
		const char *res[] = {"cpu", "memory"};
		for (size_t k = 0; k < 2; k++) {
			json_object *l = sj_get(lim, res[k]), *q = sj_get(req, res[k]);
			if (!l || (q && !json_object_equal(l, q)))
				guaranteed = 0;
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

static void pod_defaults(json_object *obj, json_object *old)
{
	json_object *spec = obj_at(obj, "spec");
	pod_spec_defaults(spec);
	set_bool(spec, "enableServiceLinks", 1);
	/* ServiceAccount admission; the v1 API mirrors the deprecated field */
	set_str(spec, "serviceAccountName", "default");
	set_str(spec, "serviceAccount", sj_str(spec, "serviceAccountName", NULL));
	/* Priority admission */
	set_int(spec, "priority", 0);
	set_str(spec, "preemptionPolicy", "PreemptLowerPriority");
	/* DefaultTolerationSeconds admission */
	json_object *tols = sj_get(spec, "tolerations");
	if (!tols || !json_object_is_type(tols, json_type_array)) {
		tols = json_object_new_array();
		json_object_object_add(spec, "tolerations", tols);
	}
	const char *keys[] = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"};
	for (size_t i = 0; !old && i < 2; i++) {
		if (has_toleration(tols, keys[i]))
			continue;
		json_object *t = json_object_new_object();
		json_object_object_add(t, "key", json_object_new_string(keys[i]));
		json_object_object_add(t, "operator", json_object_new_string("Exists"));
		json_object_object_add(t, "effect", json_object_new_string("NoExecute"));
		json_object_object_add(t, "tolerationSeconds", json_object_new_int64(300));
		json_object_array_add(tols, t);
	}
	if (!old) {
		json_object *st = obj_at(obj, "status");
		set_str(st, "phase", "Pending");
		set_str(st, "qosClass", qos_class(spec));
	}
}

static void deployment_defaults(json_object *obj)
{
	json_object *spec = obj_at(obj, "spec");
	set_int(spec, "replicas", 1);
	json_object *strat = obj_at(spec, "strategy");
	set_str(strat, "type", "RollingUpdate");
	if (strcmp(sj_str(strat, "type", NULL), "RollingUpdate") == 0) {
		json_object *ru = obj_at(strat, "rollingUpdate");
		set_str(ru, "maxUnavailable", "25%");
		set_str(ru, "maxSurge", "25%");
	}
	set_int(spec, "revisionHistoryLimit", 10);
	set_int(spec, "progressDeadlineSeconds", 600);
	pod_spec_defaults(sj_get(sj_get(spec, "template"), "spec"));
}

static void job_defaults(json_object *obj, json_object *old)
{
	json_object *spec = obj_at(obj, "spec");
	if (!sj_get(spec, "completions") && !sj_get(spec, "parallelism")) {
		set_int(spec, "completions", 1);
		set_int(spec, "parallelism", 1);
	}
	set_int(spec, "parallelism", 1);
	set_int(spec, "backoffLimit", 6);
	set_str(spec, "completionMode", "NonIndexed");
	set_bool(spec, "suspend", 0);
	json_object *tmpl = obj_at(spec, "template");
	pod_spec_defaults(sj_get(tmpl, "spec"));
	const char *uid = sj_str(obj, "metadata", "uid", NULL);
	const char *name = sj_str(obj, "metadata", "name", NULL);
	if (old || !uid || !name || sj_bool(spec, "manualSelector"))
		return;
	/* the Job strategy's generated selector and template labels */
	json_object *sel = json_object_new_object(), *ml = json_object_new_object();
	json_object_object_add(ml, "batch.kubernetes.io/controller-uid", json_object_new_string(uid));
	json_object_object_add(sel, "matchLabels", ml);
	json_object_object_add(spec, "selector", sel);
	json_object *labels = obj_at(obj_at(tmpl, "metadata"), "labels");
	json_object_object_add(labels, "batch.kubernetes.io/controller-uid", json_object_new_string(uid));
	json_object_object_add(labels, "batch.kubernetes.io/job-name", json_object_new_string(name));
	json_object_object_add(labels, "controller-uid", json_object_new_string(uid));
	json_object_object_add(labels, "job-name", json_object_new_string(name));
}

static pthread_mutex_t ip_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned next_ip = 10;

static void service_defaults(json_object *obj, json_object *old)
{
	json_object *spec = obj_at(obj, "spec");
	set_str(spec, "type", "ClusterIP");
	set_str(spec, "sessionAffinity", "None");
	json_object *ports = sj_get(spec, "ports");
	for (size_t i = 0; ports && json_object_is_type(ports, json_type_array) && i < json_object_array_length(ports);
	     i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		if (!json_object_is_type(p, json_type_object))
			continue;
		set_str(p, "protocol", "TCP");
		if (!sj_get(p, "targetPort") && sj_get(p, "port"))
			json_object_object_add(p, "targetPort", json_object_get(sj_get(p, "port")));
	}
	const char *type = sj_str(spec, "type", NULL);
	if (strcmp(type, "ExternalName") == 0)
		return;
	if (old) {
		/* the allocated address survives updates that do not name it */
		const char *keep[] = {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"};
		for (size_t i = 0; i < 4; i++)
			if (!sj_get(spec, keep[i]) && sj_get(sj_get(old, "spec"), keep[i]))
				json_object_object_add(spec, keep[i], sj_copy(sj_get(sj_get(old, "spec"), keep[i])));
	}
	if (!sj_str(spec, "clusterIP", NULL) || !*sj_str(spec, "clusterIP", NULL)) {
		char ip[32];
		pthread_mutex_lock(&ip_mu);
		snprintf(ip, sizeof(ip), "10.0.0.%u", next_ip);
		next_ip = next_ip >= 254 ? 10 : next_ip + 1;
		pthread_mutex_unlock(&ip_mu);
		json_object_object_add(spec, "clusterIP", json_object_new_string(ip));
	}
	if (!sj_get(spec, "clusterIPs")) {
		json_object *a = json_object_new_array();
		json_object_array_add(a, json_object_new_string(sj_str(spec, "clusterIP", NULL)));
		json_object_object_add(spec, "clusterIPs", a);
	}
	if (!sj_get(spec, "ipFamilies")) {
		json_object *a = json_object_new_array();
		json_object_array_add(a, json_object_new_string("IPv4"));
		json_object_object_add(spec, "ipFamilies", a);
	}
	set_str(spec, "ipFamilyPolicy", "SingleStack");
	set_str(spec, "internalTrafficPolicy", "Cluster");
}

void defaults_apply(const char *group, const char *plural, int crd, json_object *obj, json_object *old)
{
	if (crd || !obj || !json_object_is_type(obj, json_type_object))
		return;
	int core = !group || !*group;
	if (core && strcmp(plural, "pods") == 0)
		pod_defaults(obj, old);
	else if (core && strcmp(plural, "services") == 0)
		service_defaults(obj, old);
	else if (core && strcmp(plural, "namespaces") == 0) {
		json_object *spec = obj_at(obj, "spec");
		if (!sj_get(spec, "finalizers")) {
			json_object *f = json_object_new_array();
			json_object_array_add(f, json_object_new_string("kubernetes"));
			json_object_object_add(spec, "finalizers", f);
		}
	} else if (strcmp(group, "apps") == 0 && strcmp(plural, "deployments") == 0)
		deployment_defaults(obj);
	else if (strcmp(group, "batch") == 0 && strcmp(plural, "jobs") == 0)
		job_defaults(obj, old);
}

int defaults_has_generation(const char *group, const char *plural, int crd)
{
	if (crd)
		return 1;
	if (!group || !*group)
		return 0;   /* core/v1: ConfigMap, Secret, Namespace, Pod, PVC, Service, ... */
	static const char *const with[] = {"apps", "batch", "apiextensions.k8s.io", "policy", "networking.k8s.io",
					   "autoscaling", "admissionregistration.k8s.io", "leaderworkerset.x-k8s.io"};
	for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++)
		if (strcmp(group, with[i]) == 0)
			return 1;
	(void)plural;
	return 0;
}
