/* kubesim PodSecurity (podsecurity.c): the checks as a table of pods and the
 * apiserver's aggregated detail (texts of pod-security-admission's
 * check_*_test.go and of a real 1.28 apiserver), the namespace label policy,
 * and the admission step (refusal, warnings, label errors, existing pods). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "admission.h"
#include "podsecurity.h"
#include "simjson.h"
#include "validate.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);
	if (!o)
		fail_msg("bad JSON in test: %s", s);
	return o;
}

#define B PODSEC_BASELINE
#define R PODSEC_RESTRICTED
#define LATEST PODSEC_LATEST

/* a restricted-compliant container security context */
#define OKSC "\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]}}"
#define OKPOD "\"securityContext\":{\"runAsNonRoot\":true,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}"

struct tcase {
	const char *name;
	enum podsec_level level;
	long minor;
	const char *meta, *spec;
	const char *want;   /* ForbiddenDetail, NULL = allowed */
};

static const struct tcase cases[] = {
	{"the real apiserver's answer to a privileged pod", R, LATEST, NULL,
	 "{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"securityContext\":{\"privileged\":true}}]}",
	 "privileged (container \"c\" must not set securityContext.privileged=true), "
	 "allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), "
	 "unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), "
	 "runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), "
	 "seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"},
	{"compliant restricted pod", R, LATEST, NULL, "{" OKPOD ",\"containers\":[{\"name\":\"c\"," OKSC "}]}", NULL},
	{"privileged is fine at privileged", PODSEC_PRIVILEGED, LATEST, NULL,
	 "{\"hostPID\":true,\"containers\":[{\"name\":\"c\",\"securityContext\":{\"privileged\":true}}]}", NULL},
	{"baseline allows what restricted refuses", B, LATEST, NULL, "{\"containers\":[{\"name\":\"c\"}]}", NULL},
	{"privileged: containers, init first", B, LATEST, NULL,
	 "{\"initContainers\":[{\"name\":\"i\",\"securityContext\":{\"privileged\":true}}],"
	 "\"containers\":[{\"name\":\"a\",\"securityContext\":{\"privileged\":true}},{\"name\":\"b\",\"securityContext\":{\"privileged\":false}}]}",
	 "privileged (containers \"i\", \"a\" must not set securityContext.privileged=true)"},
	{"host namespaces sorted", B, LATEST, NULL, "{\"hostPID\":true,\"hostNetwork\":true,\"hostIPC\":true,\"containers\":[]}",
	 "host namespaces (hostIPC, hostNetwork, hostPID)"},
	{"host ports: sorted as strings", B, LATEST, NULL,
	 "{\"containers\":[{\"name\":\"a\",\"ports\":[{\"hostPort\":9090},{\"hostPort\":0}]},"
	 "{\"name\":\"b\",\"ports\":[{\"hostPort\":10000},{\"hostPort\":9090}]},{\"name\":\"c\",\"ports\":[{\"containerPort\":80}]}]}",
	 "hostPort (containers \"a\", \"b\" use hostPorts 10000, 9090)"},
	{"one host port", B, LATEST, NULL, "{\"containers\":[{\"name\":\"a\",\"ports\":[{\"hostPort\":80}]}]}",
	 "hostPort (container \"a\" uses hostPort 80)"},
	{"hostPath volumes at baseline", B, LATEST, NULL,
	 "{\"volumes\":[{\"name\":\"a\",\"hostPath\":{\"path\":\"/\"}},{\"name\":\"b\",\"emptyDir\":{}},{\"name\":\"c\",\"hostPath\":{}}]}",
	 "hostPath volumes (volumes \"a\", \"c\")"},
	{"non-default capabilities", B, LATEST, NULL,
	 "{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"capabilities\":{\"add\":[\"NET_RAW\",\"CHOWN\",\"SYS_ADMIN\"]}}},"
	 "{\"name\":\"b\",\"securityContext\":{\"capabilities\":{\"add\":[\"NET_RAW\"]}}},"
	 "{\"name\":\"c\",\"securityContext\":{\"capabilities\":{\"add\":[\"KILL\"]}}}]}",
	 "non-default capabilities (containers \"a\", \"b\" must not include \"NET_RAW\", \"SYS_ADMIN\" in securityContext.capabilities.add)"},
	{"hostProcess pod and container", B, LATEST, NULL,
	 "{\"securityContext\":{\"windowsOptions\":{\"hostProcess\":true}},"
	 "\"containers\":[{\"name\":\"a\",\"securityContext\":{\"windowsOptions\":{\"hostProcess\":true}}}]}",
	 "hostProcess (pod and container \"a\" must not set securityContext.windowsOptions.hostProcess=true)"},
	{"procMount", B, LATEST, NULL,
	 "{\"containers\":[{\"name\":\"a\",\"securityContext\":{\"procMount\":\"Unmasked\"}},"
	 "{\"name\":\"b\",\"securityContext\":{\"procMount\":\"Default\"}},{\"name\":\"c\",\"securityContext\":{\"procMount\":\"Other\"}}]}",
	 "procMount (containers \"a\", \"c\" must not set securityContext.procMount to \"Other\", \"Unmasked\")"},
	{"seLinux type, user and role", B, LATEST, NULL,
	 "{\"securityContext\":{\"seLinuxOptions\":{\"type\":\"foo\"}},\"containers\":["
	 "{\"name\":\"a\",\"securityContext\":{\"seLinuxOptions\":{\"type\":\"container_t\"}}},"
	 "{\"name\":\"e\",\"securityContext\":{\"seLinuxOptions\":{\"type\":\"bar\"}}},"
	 "{\"name\":\"f\",\"securityContext\":{\"seLinuxOptions\":{\"user\":\"x\"}}},"
	 "{\"name\":\"g\",\"securityContext\":{\"seLinuxOptions\":{\"role\":\"x\"}}}]}",
	 "seLinuxOptions (pod and containers \"e\", \"f\", \"g\" set forbidden securityContext.seLinuxOptions: "
	 "types \"bar\", \"foo\"; user may not be set; role may not be set)"},
	{"seLinux user only", B, LATEST, NULL, "{\"securityContext\":{\"seLinuxOptions\":{\"user\":\"bad\"}}}",
	 "seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: user may not be set)"},
	{"sysctls in order, v1.27 set", B, LATEST, NULL,
	 "{\"securityContext\":{\"sysctls\":[{\"name\":\"b\"},{\"name\":\"net.ipv4.ip_local_reserved_ports\"},"
	 "{\"name\":\"kernel.shm_rmid_forced\"},{\"name\":\"a\"}]}}",
	 "forbidden sysctls (b, a)"},
	{"sysctls before v1.27", B, 26, NULL,
	 "{\"securityContext\":{\"sysctls\":[{\"name\":\"net.ipv4.ip_local_reserved_ports\"}]}}",
	 "forbidden sysctls (net.ipv4.ip_local_reserved_ports)"},
	{"seccomp baseline: Unconfined", B, LATEST, NULL,
	 "{\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}},\"containers\":["
	 "{\"name\":\"a\",\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"}}},"
	 "{\"name\":\"b\",\"securityContext\":{\"seccompProfile\":{\"type\":\"Localhost\"}}},{\"name\":\"c\"}]}",
	 "seccompProfile (pod and container \"a\" must not set securityContext.seccompProfile.type to \"Unconfined\")"},
	{"seccomp baseline before v1.19: annotations", B, 18,
	 "{\"annotations\":{\"seccomp.security.alpha.kubernetes.io/pod\":\"unconfined\","
	 "\"container.seccomp.security.alpha.kubernetes.io/a\":\"localhost/x\"}}",
	 "{\"containers\":[{\"name\":\"a\"}]}",
	 "seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod=\"unconfined\")"},
	{"AppArmor annotations sorted", B, LATEST,
	 "{\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/b\":\"unconfined\","
	 "\"container.apparmor.security.beta.kubernetes.io/a\":\"x\","
	 "\"container.apparmor.security.beta.kubernetes.io/c\":\"localhost/p\"}}",
	 "{\"containers\":[]}",
	 "forbidden AppArmor profiles (container.apparmor.security.beta.kubernetes.io/a=\"x\", "
	 "container.apparmor.security.beta.kubernetes.io/b=\"unconfined\")"},
	{"restricted volumes replace hostPath volumes", R, LATEST, NULL,
	 "{" OKPOD ",\"volumes\":[{\"name\":\"a\",\"hostPath\":{\"path\":\"/\"}},{\"name\":\"b\",\"emptyDir\":{}},"
	 "{\"name\":\"c\",\"nfs\":{\"server\":\"s\",\"path\":\"/\"}},{\"name\":\"d\",\"configMap\":{\"name\":\"x\"}},{\"name\":\"e\"}]}",
	 "restricted volume types (volumes \"a\", \"c\", \"e\" use restricted volume types \"hostPath\", \"nfs\", \"unknown\")"},
	{"one restricted volume", R, LATEST, NULL, "{" OKPOD ",\"volumes\":[{\"name\":\"g\",\"gitRepo\":{}}]}",
	 "restricted volume types (volume \"g\" uses restricted volume type \"gitRepo\")"},
	{"capabilities restricted: drop and add", R, LATEST, NULL,
	 "{" OKPOD ",\"containers\":["
	 "{\"name\":\"a\",\"securityContext\":{\"allowPrivilegeEscalation\":false}},"
	 "{\"name\":\"b\",\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"NET_RAW\"],\"add\":[\"NET_BIND_SERVICE\"]}}},"
	 "{\"name\":\"c\",\"securityContext\":{\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"SYS_TIME\",\"CHOWN\"]}}}]}",
	 "unrestricted capabilities (containers \"a\", \"b\" must set securityContext.capabilities.drop=[\"ALL\"]; "
	 "container \"c\" must not include \"CHOWN\", \"SYS_TIME\" in securityContext.capabilities.add)"},
	{"capabilities baseline applies before v1.22 at restricted", R, 21, NULL,
	 "{" OKPOD ",\"containers\":[{\"name\":\"a\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
	 "\"capabilities\":{\"add\":[\"NET_RAW\"]}}}]}",
	 "non-default capabilities (container \"a\" must not include \"NET_RAW\" in securityContext.capabilities.add)"},
	{"runAsNonRoot explicit false", R, LATEST, NULL,
	 "{\"securityContext\":{\"runAsNonRoot\":false,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"containers\":["
	 "{\"name\":\"a\"," OKSC "},{\"name\":\"b\",\"securityContext\":{\"runAsNonRoot\":false,"
	 "\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]}}}]}",
	 "runAsNonRoot != true (pod and container \"b\" must not set securityContext.runAsNonRoot=false)"},
	{"runAsNonRoot by containers only", R, LATEST, NULL,
	 "{\"securityContext\":{\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"containers\":["
	 "{\"name\":\"a\",\"securityContext\":{\"runAsNonRoot\":true,\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]}}},"
	 "{\"name\":\"b\"," OKSC "}]}",
	 "runAsNonRoot != true (pod or container \"b\" must set securityContext.runAsNonRoot=true)"},
	{"runAsUser=0", R, LATEST, NULL,
	 "{\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":0,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},"
	 "\"containers\":[{\"name\":\"a\",\"securityContext\":{\"runAsUser\":0,\"allowPrivilegeEscalation\":false,"
	 "\"capabilities\":{\"drop\":[\"ALL\"]}}},{\"name\":\"b\",\"securityContext\":{\"runAsUser\":1000,"
	 "\"allowPrivilegeEscalation\":false,\"capabilities\":{\"drop\":[\"ALL\"]}}}]}",
	 "runAsUser=0 (pod and container \"a\" must not set runAsUser=0)"},
	{"runAsUser=0 is fine before v1.23", R, 22, NULL,
	 "{\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":0,\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},"
	 "\"containers\":[{\"name\":\"a\"," OKSC "}]}",
	 NULL},
	{"seccomp restricted: explicit beats implicit", R, LATEST, NULL,
	 "{\"securityContext\":{\"runAsNonRoot\":true},\"containers\":["
	 "{\"name\":\"a\",\"securityContext\":{\"seccompProfile\":{\"type\":\"Unconfined\"},\"allowPrivilegeEscalation\":false,"
	 "\"capabilities\":{\"drop\":[\"ALL\"]}}},{\"name\":\"b\"," OKSC "}]}",
	 "seccompProfile (container \"a\" must not set securityContext.seccompProfile.type to \"Unconfined\")"},
	{"windows pods: the three Linux checks are exempt since v1.25", R, LATEST, NULL,
	 "{\"os\":{\"name\":\"windows\"},\"securityContext\":{\"runAsNonRoot\":true},\"containers\":[{\"name\":\"w\"}]}", NULL},
	{"windows pods before v1.25", R, 24, NULL,
	 "{\"os\":{\"name\":\"windows\"},\"securityContext\":{\"runAsNonRoot\":true},\"containers\":[{\"name\":\"w\"}]}",
	 "allowPrivilegeEscalation != false (container \"w\" must set securityContext.allowPrivilegeEscalation=false), "
	 "unrestricted capabilities (container \"w\" must set securityContext.capabilities.drop=[\"ALL\"]), "
	 "seccompProfile (pod or container \"w\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"},
	{"ephemeral containers are checked", B, LATEST, NULL,
	 "{\"containers\":[{\"name\":\"a\"}],\"ephemeralContainers\":[{\"name\":\"dbg\",\"securityContext\":{\"privileged\":true}}]}",
	 "privileged (container \"dbg\" must not set securityContext.privileged=true)"},
	{"baseline order: apparmor, host namespaces, ..., hostProcess", B, LATEST,
	 "{\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/a\":\"unconfined\"}}",
	 "{\"hostNetwork\":true,\"securityContext\":{\"sysctls\":[{\"name\":\"x\"}],\"windowsOptions\":{\"hostProcess\":true}},"
	 "\"volumes\":[{\"name\":\"h\",\"hostPath\":{}}],"
	 "\"containers\":[{\"name\":\"a\",\"securityContext\":{\"privileged\":true,\"capabilities\":{\"add\":[\"SYS_ADMIN\"]}}}]}",
	 "forbidden AppArmor profile (container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"), "
	 "non-default capabilities (container \"a\" must not include \"SYS_ADMIN\" in securityContext.capabilities.add), "
	 "host namespaces (hostNetwork), hostPath volumes (volume \"h\"), "
	 "privileged (container \"a\" must not set securityContext.privileged=true), forbidden sysctls (x), "
	 "hostProcess (pod must not set securityContext.windowsOptions.hostProcess=true)"},
};

static void test_checks_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct tcase *t = &cases[i];
		json_object *meta = t->meta ? J(t->meta) : NULL, *spec = J(t->spec);
		struct podsec_lv lv = {t->level, t->minor};
		struct podsec_result r;
		podsec_evaluate(&lv, meta, spec, &r);
		char *got = podsec_forbidden_detail(&r);
		if (t->want ? strcmp(got, t->want) != 0 : r.n != 0)
			fail_msg("case \"%s\":\n got: %s\nwant: %s", t->name, got, t->want ? t->want : "(allowed)");
		free(got);
		podsec_result_cleanup(&r);
		if (meta)
			json_object_put(meta);
		json_object_put(spec);
	}
}

static void test_policy(void **state)
{
	(void)state;
	struct podsec_policy p;
	char s[64];
	assert_int_equal(podsec_policy(NULL, &p, NULL), 0);
	podsec_lv_string(&p.enforce, s, sizeof s);
	assert_string_equal(s, "privileged:latest");

	/* warn follows an explicitly set enforce level, with its version */
	json_object *l = J("{\"pod-security.kubernetes.io/enforce\":\"baseline\","
			   "\"pod-security.kubernetes.io/enforce-version\":\"v1.25\"}");
	assert_int_equal(podsec_policy(l, &p, NULL), 0);
	podsec_lv_string(&p.warn, s, sizeof s);
	assert_string_equal(s, "baseline:v1.25");
	assert_int_equal(p.audit.level, PODSEC_PRIVILEGED);
	json_object_put(l);

	/* but not an explicit warn level, and warn-version is kept */
	l = J("{\"pod-security.kubernetes.io/enforce\":\"restricted\",\"pod-security.kubernetes.io/warn\":\"baseline\"}");
	podsec_policy(l, &p, NULL);
	assert_int_equal(p.warn.level, PODSEC_BASELINE);
	json_object_put(l);
	l = J("{\"pod-security.kubernetes.io/enforce\":\"restricted\",\"pod-security.kubernetes.io/warn-version\":\"v1.20\"}");
	podsec_policy(l, &p, NULL);
	podsec_lv_string(&p.warn, s, sizeof s);
	assert_string_equal(s, "restricted:v1.20");
	json_object_put(l);

	/* invalid values: enforce fails closed, warn open, versions latest */
	l = J("{\"pod-security.kubernetes.io/enforce\":\"strict\",\"pod-security.kubernetes.io/warn\":\"loud\","
	      "\"pod-security.kubernetes.io/audit-version\":\"v1.05\"}");
	struct verrs v = {0};
	assert_int_equal(podsec_policy(l, &p, &v), 3);
	assert_int_equal(p.enforce.level, PODSEC_RESTRICTED);
	assert_int_equal(p.warn.level, PODSEC_PRIVILEGED);
	assert_int_equal(p.audit.minor, PODSEC_LATEST);
	struct sim_err e = {0};
	assert_int_equal(verrs_finish(&v, "Namespace", "n", &e), -422);
	assert_string_equal(e.message,
			    "Namespace \"n\" is invalid: [metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "
			    "\"strict\": must be one of privileged, baseline, restricted, "
			    "metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: \"v1.05\": must be "
			    "\"latest\" or \"v1.x\", metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: \"loud\": "
			    "must be one of privileged, baseline, restricted]");
	sim_err_cleanup(&e);
	json_object_put(l);
}

static char *take_warnings(void)
{
	char *w = admission_take_warnings();
	return w ? w : calloc(1, 1);
}

static void test_admit_pod(void **state)
{
	(void)state;
	json_object *labels = J("{\"pod-security.kubernetes.io/enforce\":\"baseline\","
				"\"pod-security.kubernetes.io/warn\":\"restricted\"}");
	json_object *pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"hostIPC\":true,\"containers\":[{\"name\":\"c\",\"image\":\"a\"}]}}");
	struct podsec_req r = {"CREATE", "", "pods", pod, NULL, labels, NULL};
	struct sim_err e = {0};
	assert_int_equal(podsec_admit(&r, &e), -403);
	assert_string_equal(e.reason, "Forbidden");
	assert_string_equal(e.message, "pods \"p\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostIPC)");
	char *w = take_warnings();
	assert_string_equal(w, "");   /* no warnings on a refusal */
	free(w);

	/* an image change re-checks; a label change does not */
	json_object *ok = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"a\"}]}}");
	r.obj = ok;
	assert_int_equal(podsec_admit(&r, &e), 0);
	w = take_warnings();
	assert_non_null(strstr(w, "Warning: 299 - \"would violate PodSecurity \\\"restricted:latest\\\": allowPrivilegeEscalation != false"));
	free(w);
	json_object *relabel = J("{\"metadata\":{\"name\":\"p\",\"labels\":{\"a\":\"b\"}},\"spec\":{\"hostIPC\":true,"
				 "\"containers\":[{\"name\":\"c\",\"image\":\"a\"}]}}");
	struct podsec_req u = {"UPDATE", "", "pods", relabel, pod, labels, NULL};
	assert_int_equal(podsec_admit(&u, &e), 0);
	json_object_object_add(json_object_array_get_idx(sj_get(sj_get(relabel, "spec"), "containers"), 0), "image",
			       json_object_new_string("b"));
	assert_int_equal(podsec_admit(&u, &e), -403);
	free(take_warnings());

	/* a long refusal (eight containers) is not cut short */
	json_object *many = J("{\"metadata\":{\"name\":\"m\"},\"spec\":{\"containers\":[]}}");
	json_object *cs = sj_get(sj_get(many, "spec"), "containers");
	for (int i = 0; i < 8; i++) {
		char c[96];
		snprintf(c, sizeof c, "{\"name\":\"container-with-a-long-name-%d\"}", i);
		json_object_array_add(cs, J(c));
	}
	json_object *rl = J("{\"pod-security.kubernetes.io/enforce\":\"restricted\"}");
	struct podsec_req mr = {"CREATE", "", "pods", many, NULL, rl, NULL};
	assert_int_equal(podsec_admit(&mr, &e), -403);
	assert_true(strlen(e.message) > 1024);
	const char *tail = "\"container-with-a-long-name-7\" must set securityContext.seccompProfile.type to "
			   "\"RuntimeDefault\" or \"Localhost\")";
	assert_string_equal(e.message + strlen(e.message) - strlen(tail), tail);
	json_object_put(rl);
	json_object_put(many);
	json_object_put(relabel);
	json_object_put(ok);
	json_object_put(pod);
	json_object_put(labels);
}

static void test_admit_workloads(void **state)
{
	(void)state;
	json_object *labels = J("{\"pod-security.kubernetes.io/enforce\":\"restricted\"}");
	json_object *dep = J("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
			     "\"securityContext\":{\"privileged\":true}}]}}}}");
	struct podsec_req r = {"CREATE", "apps", "deployments", dep, NULL, labels, NULL};
	struct sim_err e = {0};
	assert_int_equal(podsec_admit(&r, &e), 0);   /* stored: workloads only warn */
	char *w = take_warnings();
	assert_non_null(strstr(w, "would violate PodSecurity \\\"restricted:latest\\\": privileged (container \\\"web\\\" must not set"));
	free(w);
	json_object *cj = J("{\"metadata\":{\"name\":\"c\"},\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":"
			    "{\"hostPID\":true,\"containers\":[]}}}}}}");
	struct podsec_req c = {"CREATE", "batch", "cronjobs", cj, NULL, labels, NULL};
	assert_int_equal(podsec_admit(&c, &e), 0);
	w = take_warnings();
	assert_non_null(strstr(w, "host namespaces (hostPID)"));
	free(w);
	/* custom resources (LeaderWorkerSets) are not pod controllers to the apiserver */
	struct podsec_req lws = {"CREATE", "leaderworkerset.x-k8s.io", "leaderworkersets", dep, NULL, labels, NULL};
	assert_int_equal(podsec_admit(&lws, &e), 0);
	w = take_warnings();
	assert_string_equal(w, "");
	free(w);
	/* warn privileged explicitly: no warning */
	json_object *quiet = J("{\"pod-security.kubernetes.io/enforce\":\"restricted\",\"pod-security.kubernetes.io/warn\":\"privileged\"}");
	r.ns_labels = quiet;
	assert_int_equal(podsec_admit(&r, &e), 0);
	w = take_warnings();
	assert_string_equal(w, "");
	free(w);
	json_object_put(quiet);
	json_object_put(cj);
	json_object_put(dep);
	json_object_put(labels);
}

static void test_admit_namespace(void **state)
{
	(void)state;
	json_object *old = J("{\"metadata\":{\"name\":\"n\",\"labels\":{}}}");
	json_object *bad = J("{\"metadata\":{\"name\":\"n\",\"labels\":{\"pod-security.kubernetes.io/enforce\":\"x\"}}}");
	struct podsec_req r = {"CREATE", "", "namespaces", bad, NULL, NULL, NULL};
	struct sim_err e = {0};
	assert_int_equal(podsec_admit(&r, &e), -422);
	assert_string_equal(e.message, "Namespace \"n\" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: "
				       "Invalid value: \"x\": must be one of privileged, baseline, restricted");
	sim_err_cleanup(&e);
	/* an update that keeps the same invalid labels is allowed */
	struct podsec_req same = {"UPDATE", "", "namespaces", bad, bad, NULL, NULL};
	assert_int_equal(podsec_admit(&same, &e), 0);

	json_object *pods = J("[{\"metadata\":{\"name\":\"z\"},\"spec\":{\"hostPID\":true}},"
			      "{\"metadata\":{\"name\":\"b\"},\"spec\":{\"hostPID\":true}},"
			      "{\"metadata\":{\"name\":\"y\"},\"spec\":{\"hostPID\":true}},"
			      "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"securityContext\":{\"privileged\":true}}]}},"
			      "{\"metadata\":{\"name\":\"ok\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}]");
	json_object *tight = J("{\"metadata\":{\"name\":\"n\",\"labels\":{\"pod-security.kubernetes.io/enforce\":\"baseline\"}}}");
	struct podsec_req u = {"UPDATE", "", "namespaces", tight, old, NULL, pods};
	assert_int_equal(podsec_admit(&u, &e), 0);
	char *w = take_warnings();
	assert_string_equal(w, "Warning: 299 - \"existing pods in namespace \\\"n\\\" violate the new PodSecurity enforce level \\\"baseline:latest\\\"\"\r\n"
			       "Warning: 299 - \"a: privileged\"\r\n"
			       "Warning: 299 - \"b (and 2 other pods): host namespaces\"\r\n");
	free(w);
	/* relaxing gives nothing to check */
	struct podsec_req relax = {"UPDATE", "", "namespaces", old, tight, NULL, pods};
	assert_int_equal(podsec_admit(&relax, &e), 0);
	w = take_warnings();
	assert_string_equal(w, "");
	free(w);
	json_object_put(tight);
	json_object_put(pods);
	json_object_put(bad);
	json_object_put(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checks_table),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_admit_pod),
		cmocka_unit_test(test_admit_workloads),
		cmocka_unit_test(test_admit_namespace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
