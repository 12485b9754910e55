/* kubesim's Pod Security admission (see podsecurity.h). The checks follow
 * k8s.io/pod-security-admission/policy/check_*.go of kube-apiserver 1.28:
 * same reasons, details, pluralisation, set ordering (sorted, unique) and
 * list ordering (init containers, containers, ephemeral containers). */
#include "podsecurity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "simjson.h"
#include "util/buf.h"
#include "util/mem.h"
#include "validate.h"

#define DETAIL_MAX (256u << 10)   /* a check's detail; bounded by the pod anyway */
#define NS_MAX_PODS 3000          /* defaultNamespaceMaxPodsToCheck */
#define VERSION_LATEST_MINOR 1000000L

/* ---------------------------------------------------------------- strings */

struct sl {
	char **v;
	size_t n;
};

static void sl_add(struct sl *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = xstrdup(s);
}

static int sl_has(const struct sl *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* sets.String.Insert */
static void sl_insert(struct sl *l, const char *s)
{
	if (!sl_has(l, s))
		sl_add(l, s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sets.String.List / sort.Strings: bytewise order */
static void sl_sort(struct sl *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof *l->v, cmp_str);
}

static void sl_free(struct sl *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void join(struct buf *b, const struct sl *l, const char *sep)
{
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			buf_puts(b, sep);
		buf_puts(b, l->v[i]);
	}
}

/* joinQuote: `"a", "b"` (no escaping, as the apiserver) */
static void join_quote(struct buf *b, const struct sl *l)
{
	for (size_t i = 0; i < l->n; i++)
		buf_printf(b, "%s\"%s\"", i ? ", " : "", l->v[i]);
}

static const char *plural(const char *one, const char *many, size_t n)
{
	return n == 1 ? one : many;
}

/* `container "a"` / `containers "a", "b"` */
static void who(struct buf *b, const char *one, const char *many, const struct sl *l)
{
	buf_printf(b, "%s ", plural(one, many, l->n));
	join_quote(b, l);
}

/* Go's %q of s, malloc'd */
static char *quote(const char *s)
{
	size_t n = strlen(s) * 4 + 3;
	char *q = xmalloc(n);
	go_quote(s, q, n);
	return q;
}

/* ---------------------------------------------------------------- the pod */

struct pod {
	json_object *meta, *spec;
	json_object *psc;          /* spec.securityContext */
	json_object *containers;   /* init, regular, ephemeral (references) */
	int windows;               /* spec.os.name == windows */
	long minor;
};

static int is_true(json_object *o)
{
	return json_object_is_type(o, json_type_boolean) && json_object_get_boolean(o);
}

static int is_false(json_object *o)
{
	return json_object_is_type(o, json_type_boolean) && !json_object_get_boolean(o);
}

static json_object *sc_of(json_object *c)
{
	return sj_get(c, "securityContext");
}

static const char *cname(json_object *c)
{
	const char *n = sj_str(c, "name", NULL);
	return n ? n : "";
}

static size_t ncont(const struct pod *p)
{
	return json_object_array_length(p->containers);
}

static json_object *cont(const struct pod *p, size_t i)
{
	return json_object_array_get_idx(p->containers, i);
}

static void pod_init(struct pod *p, json_object *meta, json_object *spec, long minor)
{
	p->meta = meta;
	p->spec = spec;
	p->psc = sj_get(spec, "securityContext");
	p->minor = minor;
	const char *os = sj_str(spec, "os", "name", NULL);
	p->windows = os && strcmp(os, "windows") == 0;
	p->containers = json_object_new_array();
	static const char *const lists[] = {"initContainers", "containers", "ephemeralContainers"};
	for (size_t l = 0; l < 3; l++) {
		json_object *a = sj_get(spec, lists[l]);
		for (size_t i = 0; json_object_is_type(a, json_type_array) && i < json_object_array_length(a); i++) {
			json_object *c = json_object_array_get_idx(a, i);
			if (json_object_is_type(c, json_type_object))
				json_object_array_add(p->containers, json_object_get(c));
		}
	}
}

/* ---------------------------------------------------------------- checks */

struct res {
	int fail;
	char reason[48];
	struct buf detail;
};

static void fail(struct res *r, const char *reason)
{
	r->fail = 1;
	snprintf(r->reason, sizeof r->reason, "%s", reason);
}

/* badSetters gets `container "a"` / `containers "a", "b"` when bad is not empty */
static void add_container_setter(struct sl *setters, const struct sl *bad)
{
	if (!bad->n)
		return;
	struct buf w;
	buf_init(&w, DETAIL_MAX);
	who(&w, "container", "containers", bad);
	sl_add(setters, buf_str(&w));
	buf_cleanup(&w);
}

/* "pod and container \"a\" SUFFIX" */
static void setters_fail(struct res *r, const char *reason, const struct sl *setters, const char *suffix)
{
	fail(r, reason);
	join(&r->detail, setters, " and ");
	buf_puts(&r->detail, suffix);
}

/* "pod or containers \"a\", \"b\" SUFFIX" */
static void implicit_fail(struct res *r, const char *reason, const struct sl *bad, const char *suffix)
{
	fail(r, reason);
	buf_puts(&r->detail, "pod or ");
	who(&r->detail, "container", "containers", bad);
	buf_puts(&r->detail, suffix);
}

/* check_appArmorProfile.go (annotations; the fields came in 1.30) */
static void c_apparmor(const struct pod *p, struct res *r)
{
	static const char prefix[] = "container.apparmor.security.beta.kubernetes.io/";
	struct sl bad = {0};
	json_object *ann = sj_get(p->meta, "annotations");
	if (json_object_is_type(ann, json_type_object)) {
		json_object_object_foreach(ann, k, v) {
			const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
			if (!s || strncmp(k, prefix, sizeof prefix - 1) != 0)
				continue;
			if (!*s || strcmp(s, "runtime/default") == 0 || strncmp(s, "localhost/", 10) == 0)
				continue;
			char *q = quote(s);
			char *e = xasprintf("%s=%s", k, q);
			sl_add(&bad, e);
			free(e);
			free(q);
		}
	}
	if (bad.n) {
		sl_sort(&bad);
		fail(r, plural("forbidden AppArmor profile", "forbidden AppArmor profiles", bad.n));
		join(&r->detail, &bad, ", ");
	}
	sl_free(&bad);
}

/* check_capabilities_baseline.go */
static void c_caps_baseline(const struct pod *p, struct res *r)
{
	static const char *const allowed[] = {"AUDIT_WRITE", "CHOWN",   "DAC_OVERRIDE", "FOWNER", "FSETID",
					      "KILL",        "MKNOD",   "NET_BIND_SERVICE", "SETFCAP", "SETGID",
					      "SETPCAP",     "SETUID",  "SYS_CHROOT"};
	struct sl bad = {0}, caps = {0};
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *cp = sj_get(sc_of(cont(p, i)), "capabilities");
		if (!cp)
			continue;
		int valid = 1;
		json_object *add = sj_get(cp, "add");
		for (size_t j = 0; json_object_is_type(add, json_type_array) && j < json_object_array_length(add); j++) {
			const char *c = json_object_get_string(json_object_array_get_idx(add, j));
			int ok = 0;
			for (size_t k = 0; c && k < sizeof allowed / sizeof allowed[0]; k++)
				ok |= strcmp(c, allowed[k]) == 0;
			if (!ok) {
				valid = 0;
				sl_insert(&caps, c ? c : "");
			}
		}
		if (!valid)
			sl_add(&bad, cname(cont(p, i)));
	}
	if (bad.n) {
		sl_sort(&caps);
		fail(r, "non-default capabilities");
		who(&r->detail, "container", "containers", &bad);
		buf_puts(&r->detail, " must not include ");
		join_quote(&r->detail, &caps);
		buf_puts(&r->detail, " in securityContext.capabilities.add");
	}
	sl_free(&bad);
	sl_free(&caps);
}

/* check_hostNamespaces.go */
static void c_host_namespaces(const struct pod *p, struct res *r)
{
	struct sl ns = {0};
	static const char *const f[] = {"hostNetwork", "hostPID", "hostIPC"};
	for (size_t i = 0; i < 3; i++)
		if (is_true(sj_get(p->spec, f[i])))
			sl_insert(&ns, f[i]);
	if (ns.n) {
		sl_sort(&ns);
		fail(r, "host namespaces");
		join(&r->detail, &ns, ", ");
	}
	sl_free(&ns);
}

/* check_hostPathVolumes.go */
static void c_hostpath(const struct pod *p, struct res *r)
{
	struct sl bad = {0};
	json_object *vols = sj_get(p->spec, "volumes");
	for (size_t i = 0; json_object_is_type(vols, json_type_array) && i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		if (sj_get(v, "hostPath"))
			sl_add(&bad, cname(v));
	}
	if (bad.n) {
		fail(r, "hostPath volumes");
		who(&r->detail, "volume", "volumes", &bad);
	}
	sl_free(&bad);
}

/* check_hostPorts.go */
static void c_hostports(const struct pod *p, struct res *r)
{
	struct sl bad = {0}, ports = {0};
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *ps = sj_get(cont(p, i), "ports");
		int valid = 1;
		for (size_t j = 0; json_object_is_type(ps, json_type_array) && j < json_object_array_length(ps); j++) {
			json_object *hp = sj_get(json_object_array_get_idx(ps, j), "hostPort");
			if (json_object_is_type(hp, json_type_int) && json_object_get_int64(hp) != 0) {
				char n[24];
				snprintf(n, sizeof n, "%lld", (long long)json_object_get_int64(hp));
				valid = 0;
				sl_insert(&ports, n);
			}
		}
		if (!valid)
			sl_add(&bad, cname(cont(p, i)));
	}
	if (bad.n) {
		sl_sort(&ports);   /* as strings, like sets.String */
		fail(r, "hostPort");
		who(&r->detail, "container", "containers", &bad);
		buf_printf(&r->detail, " %s %s ", plural("uses", "use", bad.n), plural("hostPort", "hostPorts", ports.n));
		join(&r->detail, &ports, ", ");
	}
	sl_free(&bad);
	sl_free(&ports);
}

/* check_privileged.go */
static void c_privileged(const struct pod *p, struct res *r)
{
	struct sl bad = {0};
	for (size_t i = 0; i < ncont(p); i++)
		if (is_true(sj_get(sc_of(cont(p, i)), "privileged")))
			sl_add(&bad, cname(cont(p, i)));
	if (bad.n) {
		fail(r, "privileged");
		who(&r->detail, "container", "containers", &bad);
		buf_puts(&r->detail, " must not set securityContext.privileged=true");
	}
	sl_free(&bad);
}

/* check_procMount.go */
static void c_procmount(const struct pod *p, struct res *r)
{
	struct sl bad = {0}, types = {0};
	for (size_t i = 0; i < ncont(p); i++) {
		const char *pm = sj_str(sc_of(cont(p, i)), "procMount", NULL);
		if (pm && strcmp(pm, "Default") != 0) {
			sl_add(&bad, cname(cont(p, i)));
			sl_insert(&types, pm);
		}
	}
	if (bad.n) {
		sl_sort(&types);
		fail(r, "procMount");
		who(&r->detail, "container", "containers", &bad);
		buf_puts(&r->detail, " must not set securityContext.procMount to ");
		join_quote(&r->detail, &types);
	}
	sl_free(&bad);
	sl_free(&types);
}

/* check_seLinuxOptions.go */
struct selinux_acc {
	struct sl types;
	int user, role;
};

static int selinux_valid(json_object *o, struct selinux_acc *a)
{
	const char *t = sj_str(o, "type", NULL), *u = sj_str(o, "user", NULL), *rl = sj_str(o, "role", NULL);
	int valid = 1;
	if (!t)
		t = "";
	if (*t && strcmp(t, "container_t") != 0 && strcmp(t, "container_init_t") != 0 &&
	    strcmp(t, "container_kvm_t") != 0) {
		valid = 0;
		sl_insert(&a->types, t);
	}
	if (u && *u) {
		valid = 0;
		a->user = 1;
	}
	if (rl && *rl) {
		valid = 0;
		a->role = 1;
	}
	return valid;
}

static void c_selinux(const struct pod *p, struct res *r)
{
	struct selinux_acc a = {0};
	struct sl setters = {0}, bad = {0};
	json_object *po = sj_get(p->psc, "seLinuxOptions");
	if (po && !selinux_valid(po, &a))
		sl_add(&setters, "pod");
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *o = sj_get(sc_of(cont(p, i)), "seLinuxOptions");
		if (o && !selinux_valid(o, &a))
			sl_add(&bad, cname(cont(p, i)));
	}
	add_container_setter(&setters, &bad);
	if (setters.n) {
		setters_fail(r, "seLinuxOptions", &setters, " set forbidden securityContext.seLinuxOptions: ");
		const char *sep = "";
		if (a.types.n) {
			sl_sort(&a.types);
			who(&r->detail, "type", "types", &a.types);
			sep = "; ";
		}
		if (a.user) {
			buf_printf(&r->detail, "%suser may not be set", sep);
			sep = "; ";
		}
		if (a.role)
			buf_printf(&r->detail, "%srole may not be set", sep);
	}
	sl_free(&a.types);
	sl_free(&setters);
	sl_free(&bad);
}

static int seccomp_valid(json_object *prof)
{
	const char *t = sj_str(prof, "type", NULL);
	return t && (strcmp(t, "Localhost") == 0 || strcmp(t, "RuntimeDefault") == 0);
}

static const char *seccomp_type(json_object *prof)
{
	const char *t = sj_str(prof, "type", NULL);
	return t ? t : "";
}

static int seccomp_annotation_valid(const char *v)
{
	return strcmp(v, "runtime/default") == 0 || strcmp(v, "docker/default") == 0 ||
	       strncmp(v, "localhost/", 10) == 0;
}

static void seccomp_annotation(json_object *ann, const char *key, struct sl *bad)
{
	const char *v = sj_str(ann, key, NULL);
	if (!v || seccomp_annotation_valid(v))
		return;
	char *q = quote(v);
	char *e = xasprintf("%s=%s", key, q);
	sl_insert(bad, e);
	free(e);
	free(q);
}

/* check_seccompProfile_baseline.go: annotations before v1.19, fields since */
static void c_seccomp_baseline(const struct pod *p, struct res *r)
{
	if (p->minor < 19) {
		struct sl bad = {0};
		json_object *ann = sj_get(p->meta, "annotations");
		seccomp_annotation(ann, "seccomp.security.alpha.kubernetes.io/pod", &bad);
		for (size_t i = 0; i < ncont(p); i++) {
			char *k = xasprintf("container.seccomp.security.alpha.kubernetes.io/%s", cname(cont(p, i)));
			seccomp_annotation(ann, k, &bad);
			free(k);
		}
		if (bad.n) {
			sl_sort(&bad);
			fail(r, "seccompProfile");
			buf_printf(&r->detail, "forbidden %s ", plural("annotation", "annotations", bad.n));
			join(&r->detail, &bad, ", ");
		}
		sl_free(&bad);
		return;
	}
	struct sl setters = {0}, bad = {0}, values = {0};
	json_object *pp = sj_get(p->psc, "seccompProfile");
	if (pp && !seccomp_valid(pp)) {
		sl_add(&setters, "pod");
		sl_insert(&values, seccomp_type(pp));
	}
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *cp = sj_get(sc_of(cont(p, i)), "seccompProfile");
		if (cp && !seccomp_valid(cp)) {
			sl_add(&bad, cname(cont(p, i)));
			sl_insert(&values, seccomp_type(cp));
		}
	}
	add_container_setter(&setters, &bad);
	if (setters.n) {
		sl_sort(&values);
		setters_fail(r, "seccompProfile", &setters, " must not set securityContext.seccompProfile.type to ");
		join_quote(&r->detail, &values);
	}
	sl_free(&setters);
	sl_free(&bad);
	sl_free(&values);
}

/* check_sysctls.go: the v1.0 set, + net.ipv4.ip_local_reserved_ports since v1.27 */
static void c_sysctls(const struct pod *p, struct res *r)
{
	static const char *const allowed[] = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
					      "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
					      "net.ipv4.ip_unprivileged_port_start"};
	struct sl bad = {0};
	json_object *s = sj_get(p->psc, "sysctls");
	for (size_t i = 0; json_object_is_type(s, json_type_array) && i < json_object_array_length(s); i++) {
		const char *n = sj_str(json_object_array_get_idx(s, i), "name", NULL);
		if (!n)
			n = "";
		int ok = p->minor >= 27 && strcmp(n, "net.ipv4.ip_local_reserved_ports") == 0;
		for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
			ok |= strcmp(n, allowed[k]) == 0;
		if (!ok)
			sl_add(&bad, n);
	}
	if (bad.n) {
		fail(r, "forbidden sysctls");
		join(&r->detail, &bad, ", ");
	}
	sl_free(&bad);
}

/* check_windowsHostProcess.go */
static void c_host_process(const struct pod *p, struct res *r)
{
	struct sl bad = {0};
	for (size_t i = 0; i < ncont(p); i++)
		if (is_true(sj_get(sj_get(sc_of(cont(p, i)), "windowsOptions"), "hostProcess")))
			sl_add(&bad, cname(cont(p, i)));
	int pod = is_true(sj_get(sj_get(p->psc, "windowsOptions"), "hostProcess"));
	if (pod || bad.n) {
		fail(r, "hostProcess");
		if (pod)
			buf_puts(&r->detail, "pod");
		if (bad.n) {
			if (pod)
				buf_puts(&r->detail, " and ");
			who(&r->detail, "container", "containers", &bad);
		}
		buf_puts(&r->detail, " must not set securityContext.windowsOptions.hostProcess=true");
	}
	sl_free(&bad);
}

/* check_allowPrivilegeEscalation.go: since v1.8; Windows pods exempt since v1.25 */
static void c_priv_escalation(const struct pod *p, struct res *r)
{
	if (p->minor >= 25 && p->windows)
		return;
	struct sl bad = {0};
	for (size_t i = 0; i < ncont(p); i++)
		if (!is_false(sj_get(sc_of(cont(p, i)), "allowPrivilegeEscalation")))
			sl_add(&bad, cname(cont(p, i)));
	if (bad.n) {
		fail(r, "allowPrivilegeEscalation != false");
		who(&r->detail, "container", "containers", &bad);
		buf_puts(&r->detail, " must set securityContext.allowPrivilegeEscalation=false");
	}
	sl_free(&bad);
}

/* check_capabilities_restricted.go: since v1.22; Windows pods exempt since v1.25 */
static void c_caps_restricted(const struct pod *p, struct res *r)
{
	if (p->minor >= 25 && p->windows)
		return;
	struct sl nodrop = {0}, adding = {0}, caps = {0};
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *cp = sj_get(sc_of(cont(p, i)), "capabilities");
		if (!cp) {
			sl_add(&nodrop, cname(cont(p, i)));
			continue;
		}
		int all = 0, forbidden = 0;
		json_object *drop = sj_get(cp, "drop"), *add = sj_get(cp, "add");
		for (size_t j = 0; json_object_is_type(drop, json_type_array) && j < json_object_array_length(drop); j++) {
			const char *c = json_object_get_string(json_object_array_get_idx(drop, j));
			all |= c && strcmp(c, "ALL") == 0;
		}
		if (!all)
			sl_add(&nodrop, cname(cont(p, i)));
		for (size_t j = 0; json_object_is_type(add, json_type_array) && j < json_object_array_length(add); j++) {
			const char *c = json_object_get_string(json_object_array_get_idx(add, j));
			if (!c || strcmp(c, "NET_BIND_SERVICE") != 0) {
				forbidden = 1;
				sl_insert(&caps, c ? c : "");
			}
		}
		if (forbidden)
			sl_add(&adding, cname(cont(p, i)));
	}
	if (nodrop.n || adding.n) {
		fail(r, "unrestricted capabilities");
		if (nodrop.n) {
			who(&r->detail, "container", "containers", &nodrop);
			buf_puts(&r->detail, " must set securityContext.capabilities.drop=[\"ALL\"]");
		}
		if (adding.n) {
			if (nodrop.n)
				buf_puts(&r->detail, "; ");
			sl_sort(&caps);
			who(&r->detail, "container", "containers", &adding);
			buf_puts(&r->detail, " must not include ");
			join_quote(&r->detail, &caps);
			buf_puts(&r->detail, " in securityContext.capabilities.add");
		}
	}
	sl_free(&nodrop);
	sl_free(&adding);
	sl_free(&caps);
}

/* check_restrictedVolumes.go */
static void c_volumes(const struct pod *p, struct res *r)
{
	static const char *const ok[] = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
					 "persistentVolumeClaim", "projected", "secret"};
	/* the order of the apiserver's switch: the first source found names the type */
	static const char *const restricted[] = {"hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
						 "nfs", "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs",
						 "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
						 "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos"};
	struct sl bad = {0}, types = {0};
	json_object *vols = sj_get(p->spec, "volumes");
	for (size_t i = 0; json_object_is_type(vols, json_type_array) && i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		int allowed = 0;
		for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
			allowed |= sj_get(v, ok[k]) != NULL;
		if (allowed)
			continue;
		sl_add(&bad, cname(v));
		const char *t = "unknown";
		for (size_t k = 0; k < sizeof restricted / sizeof restricted[0]; k++) {
			if (sj_get(v, restricted[k])) {
				t = restricted[k];
				break;
			}
		}
		sl_insert(&types, t);
	}
	if (bad.n) {
		sl_sort(&types);
		fail(r, "restricted volume types");
		who(&r->detail, "volume", "volumes", &bad);
		buf_printf(&r->detail, " %s %s ", plural("uses", "use", bad.n),
			   plural("restricted volume type", "restricted volume types", types.n));
		join_quote(&r->detail, &types);
	}
	sl_free(&bad);
	sl_free(&types);
}

/* check_runAsNonRoot.go */
static void c_run_as_non_root(const struct pod *p, struct res *r)
{
	struct sl setters = {0}, explicit = {0}, implicit = {0};
	int pod_ok = 0;
	json_object *pv = sj_get(p->psc, "runAsNonRoot");
	if (is_false(pv))
		sl_add(&setters, "pod");
	else if (is_true(pv))
		pod_ok = 1;
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *v = sj_get(sc_of(cont(p, i)), "runAsNonRoot");
		if (json_object_is_type(v, json_type_boolean)) {
			if (!json_object_get_boolean(v))
				sl_add(&explicit, cname(cont(p, i)));
		} else if (!pod_ok) {
			sl_add(&implicit, cname(cont(p, i)));
		}
	}
	add_container_setter(&setters, &explicit);
	if (setters.n)
		setters_fail(r, "runAsNonRoot != true", &setters, " must not set securityContext.runAsNonRoot=false");
	else if (implicit.n)
		implicit_fail(r, "runAsNonRoot != true", &implicit, " must set securityContext.runAsNonRoot=true");
	sl_free(&setters);
	sl_free(&explicit);
	sl_free(&implicit);
}

static int is_zero(json_object *o)
{
	return json_object_is_type(o, json_type_int) && json_object_get_int64(o) == 0;
}

/* check_runAsUser.go: since v1.23 */
static void c_run_as_user(const struct pod *p, struct res *r)
{
	struct sl setters = {0}, bad = {0};
	if (is_zero(sj_get(p->psc, "runAsUser")))
		sl_add(&setters, "pod");
	for (size_t i = 0; i < ncont(p); i++)
		if (is_zero(sj_get(sc_of(cont(p, i)), "runAsUser")))
			sl_add(&bad, cname(cont(p, i)));
	add_container_setter(&setters, &bad);
	if (setters.n)
		setters_fail(r, "runAsUser=0", &setters, " must not set runAsUser=0");
	sl_free(&setters);
	sl_free(&bad);
}

/* check_seccompProfile_restricted.go: since v1.19; Windows pods exempt since v1.25 */
static void c_seccomp_restricted(const struct pod *p, struct res *r)
{
	if (p->minor >= 25 && p->windows)
		return;
	struct sl setters = {0}, explicit = {0}, implicit = {0}, values = {0};
	int pod_ok = 0;
	json_object *pp = sj_get(p->psc, "seccompProfile");
	if (pp) {
		if (!seccomp_valid(pp)) {
			sl_add(&setters, "pod");
			sl_insert(&values, seccomp_type(pp));
		} else {
			pod_ok = 1;
		}
	}
	for (size_t i = 0; i < ncont(p); i++) {
		json_object *cp = sj_get(sc_of(cont(p, i)), "seccompProfile");
		if (cp) {
			if (!seccomp_valid(cp)) {
				sl_add(&explicit, cname(cont(p, i)));
				sl_insert(&values, seccomp_type(cp));
			}
		} else if (!pod_ok) {
			sl_add(&implicit, cname(cont(p, i)));
		}
	}
	add_container_setter(&setters, &explicit);
	if (setters.n) {
		sl_sort(&values);
		setters_fail(r, "seccompProfile", &setters, " must not set securityContext.seccompProfile.type to ");
		join_quote(&r->detail, &values);
	} else if (implicit.n) {
		implicit_fail(r, "seccompProfile", &implicit,
			      " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"");
	}
	sl_free(&setters);
	sl_free(&explicit);
	sl_free(&implicit);
	sl_free(&values);
}

/* The registry: baseline checks, then restricted ones, each sorted by ID
 * (policy/registry.go); min = the first policy version (v1.min) of a check;
 * overrides = the baseline check a restricted one replaces. */
struct check {
	const char *id;
	enum podsec_level level;
	long min;
	void (*fn)(const struct pod *p, struct res *r);
	const char *overrides;
};

static const struct check checks[] = {
	{"appArmorProfile", PODSEC_BASELINE, 0, c_apparmor, NULL},
	{"capabilities_baseline", PODSEC_BASELINE, 0, c_caps_baseline, NULL},
	{"hostNamespaces", PODSEC_BASELINE, 0, c_host_namespaces, NULL},
	{"hostPathVolumes", PODSEC_BASELINE, 0, c_hostpath, NULL},
	{"hostPorts", PODSEC_BASELINE, 0, c_hostports, NULL},
	{"privileged", PODSEC_BASELINE, 0, c_privileged, NULL},
	{"procMount", PODSEC_BASELINE, 0, c_procmount, NULL},
	{"seLinuxOptions", PODSEC_BASELINE, 0, c_selinux, NULL},
	{"seccompProfile_baseline", PODSEC_BASELINE, 0, c_seccomp_baseline, NULL},
	{"sysctls", PODSEC_BASELINE, 0, c_sysctls, NULL},
	{"windowsHostProcess", PODSEC_BASELINE, 0, c_host_process, NULL},
	{"allowPrivilegeEscalation", PODSEC_RESTRICTED, 8, c_priv_escalation, NULL},
	{"capabilities_restricted", PODSEC_RESTRICTED, 22, c_caps_restricted, "capabilities_baseline"},
	{"restrictedVolumes", PODSEC_RESTRICTED, 0, c_volumes, "hostPathVolumes"},
	{"runAsNonRoot", PODSEC_RESTRICTED, 0, c_run_as_non_root, NULL},
	{"runAsUser", PODSEC_RESTRICTED, 23, c_run_as_user, NULL},
	{"seccompProfile_restricted", PODSEC_RESTRICTED, 19, c_seccomp_restricted, "seccompProfile_baseline"},
};
#define NCHECKS (sizeof checks / sizeof checks[0])
_Static_assert(NCHECKS <= PODSEC_MAX_CHECKS, "podsec_result holds every check");

static int overridden(const char *id, long minor)
{
	for (size_t i = 0; i < NCHECKS; i++)
		if (checks[i].overrides && strcmp(checks[i].overrides, id) == 0 && checks[i].min <= minor)
			return 1;
	return 0;
}

void podsec_evaluate(const struct podsec_lv *lv, json_object *meta, json_object *spec, struct podsec_result *out)
{
	memset(out, 0, sizeof *out);
	if (lv->level == PODSEC_PRIVILEGED)
		return;
	long minor = lv->minor == PODSEC_LATEST ? VERSION_LATEST_MINOR : lv->minor;
	struct pod p;
	pod_init(&p, meta, spec, minor);
	for (size_t i = 0; i < NCHECKS; i++) {
		const struct check *c = &checks[i];
		if (c->min > minor || (c->level == PODSEC_RESTRICTED && lv->level != PODSEC_RESTRICTED))
			continue;
		if (lv->level == PODSEC_RESTRICTED && c->level == PODSEC_BASELINE && overridden(c->id, minor))
			continue;
		struct res r = {0};
		buf_init(&r.detail, DETAIL_MAX);
		c->fn(&p, &r);
		if (r.fail) {
			snprintf(out->reason[out->n], sizeof out->reason[0], "%s", r.reason);
			out->detail[out->n++] = buf_take(&r.detail, NULL);
		}
		buf_cleanup(&r.detail);
	}
	json_object_put(p.containers);
}

void podsec_result_cleanup(struct podsec_result *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->detail[i]);
	r->n = 0;
}

char *podsec_forbidden_detail(const struct podsec_result *r)
{
	struct buf b;
	buf_init(&b, 16u << 20);
	for (int i = 0; i < r->n; i++) {
		buf_printf(&b, "%s%s", i ? ", " : "", r->reason[i]);
		if (r->detail[i][0])
			buf_printf(&b, " (%s)", r->detail[i]);
	}
	return buf_take(&b, NULL);
}

char *podsec_forbidden_reason(const struct podsec_result *r)
{
	struct buf b;
	buf_init(&b, 1u << 16);
	for (int i = 0; i < r->n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", r->reason[i]);
	return buf_take(&b, NULL);
}

/* ---------------------------------------------------------------- policy */

static const char *level_name(enum podsec_level l)
{
	return l == PODSEC_RESTRICTED ? "restricted" : l == PODSEC_BASELINE ? "baseline" : "privileged";
}

void podsec_lv_string(const struct podsec_lv *lv, char *out, size_t n)
{
	if (lv->minor == PODSEC_LATEST)
		snprintf(out, n, "%s:latest", level_name(lv->level));
	else
		snprintf(out, n, "%s:v1.%ld", level_name(lv->level), lv->minor);
}

/* api.ParseLevel: 0, or -1 with *l = restricted */
static int parse_level(const char *s, enum podsec_level *l)
{
	if (strcmp(s, "privileged") == 0)
		*l = PODSEC_PRIVILEGED;
	else if (strcmp(s, "baseline") == 0)
		*l = PODSEC_BASELINE;
	else if (strcmp(s, "restricted") == 0)
		*l = PODSEC_RESTRICTED;
	else {
		*l = PODSEC_RESTRICTED;
		return -1;
	}
	return 0;
}

/* api.ParseVersion: "latest" or ^v1\.([0-9]|[1-9][0-9]*)$; 0, or -1 with latest */
static int parse_version(const char *s, long *minor)
{
	*minor = PODSEC_LATEST;
	if (strcmp(s, "latest") == 0)
		return 0;
	if (strncmp(s, "v1.", 3) != 0 || !s[3] || (s[3] == '0' && s[4]))
		return -1;
	for (const char *q = s + 3; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	errno = 0;
	long v = strtol(s + 3, NULL, 10);
	if (errno == ERANGE)
		return -1;
	*minor = v;
	return 0;
}

static int cmp_levels(enum podsec_level a, enum podsec_level b)
{
	return a == b ? 0 : a > b ? 1 : -1;
}

static void label_err(struct verrs *v, const char *label, const char *value, const char *detail)
{
	if (!v)
		return;
	char field[128], *q = quote(value), *body = xasprintf("Invalid value: %s: %s", q, detail);
	snprintf(field, sizeof field, "metadata.labels[pod-security.kubernetes.io/%s]", label);
	verrs_add(v, "FieldValueInvalid", field, body);
	free(q);
	free(body);
}

int podsec_policy(json_object *labels, struct podsec_policy *p, struct verrs *errs)
{
	static const char level_err[] = "must be one of privileged, baseline, restricted";
	static const char version_err[] = "must be \"latest\" or \"v1.x\"";
	/* the apiserver's default configuration: privileged:latest for every mode */
	struct podsec_lv def = {PODSEC_PRIVILEGED, PODSEC_LATEST};
	p->enforce = p->audit = p->warn = def;
	struct podsec_lv *lvs[3] = {&p->enforce, &p->audit, &p->warn};
	static const char *const modes[3] = {"enforce", "audit", "warn"};
	int n = 0, has_level[3] = {0}, has_version[3] = {0}, ok_level[3] = {0};
	for (int m = 0; m < 3; m++) {
		char key[80];
		snprintf(key, sizeof key, "pod-security.kubernetes.io/%s", modes[m]);
		const char *lv = sj_str(labels, key, NULL);
		if (lv) {
			has_level[m] = 1;
			ok_level[m] = parse_level(lv, &lvs[m]->level) == 0;
			if (!ok_level[m]) {
				n++;
				label_err(errs, modes[m], lv, level_err);
				if (m > 0)
					lvs[m]->level = PODSEC_PRIVILEGED;   /* fail open for audit and warn */
			}
		}
		snprintf(key, sizeof key, "pod-security.kubernetes.io/%s-version", modes[m]);
		const char *ver = sj_str(labels, key, NULL);
		if (ver) {
			char lab[32];
			has_version[m] = 1;
			snprintf(lab, sizeof lab, "%s-version", modes[m]);
			if (parse_version(ver, &lvs[m]->minor) < 0) {
				n++;
				label_err(errs, lab, ver, version_err);
			}
		}
	}
	/* warn defaults to an explicitly set, stricter enforce level (1.26+) */
	if (!has_level[2] && ok_level[0] && cmp_levels(p->enforce.level, p->warn.level) > 0) {
		p->warn.level = p->enforce.level;
		if (!has_version[2])
			p->warn.minor = p->enforce.minor;
	}
	return n;
}

/* ---------------------------------------------------------------- admission */

static int seterr(struct sim_err *e, int code, const char *reason, const char *msg)
{
	if (e) {
		e->code = code;
		snprintf(e->reason, sizeof e->reason, "%s", reason);
		snprintf(e->message, sizeof e->message, "%s", msg);
	}
	return -code;
}

static void warn_violation(const struct podsec_lv *lv, json_object *meta, json_object *spec)
{
	struct podsec_result res;
	podsec_evaluate(lv, meta, spec, &res);
	if (res.n) {
		char l[64];
		podsec_lv_string(lv, l, sizeof l);
		char *d = podsec_forbidden_detail(&res), *w = xasprintf("would violate PodSecurity \"%s\": %s", l, d);
		admission_add_warning(w);
		free(w);
		free(d);
	}
	podsec_result_cleanup(&res);
}

static int same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int significant_container(json_object *c, json_object *oc, json_object *ann, json_object *oann)
{
	if (!same_str(sj_str(c, "image", NULL), sj_str(oc, "image", NULL)))
		return 1;
	char *k = xasprintf("container.seccomp.security.alpha.kubernetes.io/%s", cname(c));
	int changed = !same_str(sj_str(ann, k, NULL), sj_str(oann, k, NULL));
	free(k);
	return changed;
}

static size_t alen(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* isSignificantPodUpdate: only images, container seccomp annotations and
 * added ephemeral containers can change what the checks see */
static int significant_pod_update(json_object *pod, json_object *old)
{
	json_object *s = sj_get(pod, "spec"), *os = sj_get(old, "spec");
	json_object *ann = sj_get(sj_get(pod, "metadata"), "annotations");
	json_object *oann = sj_get(sj_get(old, "metadata"), "annotations");
	static const char *const lists[] = {"containers", "initContainers"};
	for (size_t l = 0; l < 2; l++) {
		json_object *a = sj_get(s, lists[l]), *oa = sj_get(os, lists[l]);
		if (alen(a) != alen(oa))
			return 1;
		for (size_t i = 0; i < alen(a); i++)
			if (significant_container(json_object_array_get_idx(a, i), json_object_array_get_idx(oa, i), ann, oann))
				return 1;
	}
	json_object *e = sj_get(s, "ephemeralContainers"), *oe = sj_get(os, "ephemeralContainers");
	for (size_t i = 0; i < alen(e); i++) {
		json_object *c = json_object_array_get_idx(e, i), *oc = NULL;
		for (size_t j = 0; !oc && j < alen(oe); j++)
			if (same_str(cname(json_object_array_get_idx(oe, j)), cname(c)))
				oc = json_object_array_get_idx(oe, j);
		if (!oc || significant_container(c, oc, ann, oann))
			return 1;
	}
	return 0;
}

static int fully_privileged(const struct podsec_policy *p)
{
	return p->enforce.level == PODSEC_PRIVILEGED && p->audit.level == PODSEC_PRIVILEGED &&
	       p->warn.level == PODSEC_PRIVILEGED;
}

/* ValidatePod: enforce refuses, warn warns */
static int admit_pod(const struct podsec_req *r, struct sim_err *err)
{
	struct podsec_policy p;
	int nerr = podsec_policy(r->ns_labels, &p, NULL);
	if (nerr == 0 && fully_privileged(&p))
		return 0;
	if (r->old && !significant_pod_update(r->obj, r->old))
		return 0;
	json_object *meta = sj_get(r->obj, "metadata"), *spec = sj_get(r->obj, "spec");
	struct podsec_result res;
	podsec_evaluate(&p.enforce, meta, spec, &res);
	int rc = 0;
	if (res.n) {
		char l[64];
		podsec_lv_string(&p.enforce, l, sizeof l);
		const char *name = sj_str(meta, "name", NULL);
		char *d = podsec_forbidden_detail(&res);
		char *m = name && *name ? xasprintf("pods \"%s\" is forbidden: violates PodSecurity \"%s\": %s", name, l, d)
					: xasprintf("pods is forbidden: violates PodSecurity \"%s\": %s", l, d);
		rc = seterr(err, 403, "Forbidden", m);
		free(m);
		free(d);
	} else {
		warn_violation(&p.warn, meta, spec);
	}
	podsec_result_cleanup(&res);
	return rc;
}

/* The pod template of a workload resource (DefaultPodSpecExtractor), or
 * NULL when the resource has none. *found = 1 for a pod controller. */
static json_object *pod_template(const char *group, const char *plural, json_object *obj, int *found)
{
	*found = 1;
	if (strcmp(group, "apps") == 0 &&
	    (strcmp(plural, "deployments") == 0 || strcmp(plural, "replicasets") == 0 ||
	     strcmp(plural, "statefulsets") == 0 || strcmp(plural, "daemonsets") == 0))
		return sj_get(sj_get(obj, "spec"), "template");
	if (strcmp(group, "batch") == 0 && strcmp(plural, "jobs") == 0)
		return sj_get(sj_get(obj, "spec"), "template");
	if (strcmp(group, "batch") == 0 && strcmp(plural, "cronjobs") == 0)
		return sj_get(sj_get(sj_get(sj_get(obj, "spec"), "jobTemplate"), "spec"), "template");
	if (strcmp(group, "") == 0 && strcmp(plural, "replicationcontrollers") == 0)
		return sj_get(sj_get(obj, "spec"), "template");
	if (strcmp(group, "") == 0 && strcmp(plural, "podtemplates") == 0)
		return sj_get(obj, "template");
	*found = 0;
	return NULL;
}

/* ValidatePodController: never refuses; the warn level warns */
static int admit_controller(const struct podsec_req *r, json_object *tmpl)
{
	struct podsec_policy p;
	int nerr = podsec_policy(r->ns_labels, &p, NULL);
	if (nerr == 0 && p.warn.level == PODSEC_PRIVILEGED && p.audit.level == PODSEC_PRIVILEGED)
		return 0;
	if (tmpl)
		warn_violation(&p.warn, sj_get(tmpl, "metadata"), sj_get(tmpl, "spec"));
	return 0;
}

struct pod_warning {
	char *reason;    /* ForbiddenReason of the pods */
	const char *first;   /* lexically first pod name */
	int count;
};

static int cmp_warning(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int controlled(json_object *pod, const char **uid)
{
	json_object *refs = sj_get(sj_get(pod, "metadata"), "ownerReferences");
	for (size_t i = 0; i < alen(refs); i++) {
		json_object *o = json_object_array_get_idx(refs, i);
		if (sj_bool(o, "controller")) {
			*uid = sj_str(o, "uid", NULL);
			return *uid != NULL;
		}
	}
	return 0;
}

/* EvaluatePodsInNamespace: warnings about the existing pods of a namespace
 * whose enforce level was tightened; one controller's pods are checked after
 * one of each controller (prioritizePods) and at most NS_MAX_PODS */
static void warn_existing_pods(const char *ns, json_object *pods, const struct podsec_lv *enforce)
{
	size_t total = alen(pods), nord = 0;
	json_object **order = xcalloc(total ? total : 1, sizeof *order);
	for (int pass = 0; pass < 2; pass++) {
		struct sl ctrls = {0};
		for (size_t i = 0; i < total; i++) {
			json_object *pod = json_object_array_get_idx(pods, i);
			const char *uid = NULL;
			int dup = controlled(pod, &uid) && sl_has(&ctrls, uid);
			if (uid && !dup)
				sl_add(&ctrls, uid);
			if ((pass == 0) != dup)
				order[nord++] = pod;
		}
		sl_free(&ctrls);
	}
	size_t checked = nord < NS_MAX_PODS ? nord : NS_MAX_PODS;
	struct pod_warning *pw = xcalloc(checked ? checked : 1, sizeof *pw);
	size_t npw = 0;
	for (size_t i = 0; i < checked; i++) {
		json_object *pod = order[i];
		struct podsec_result res;
		podsec_evaluate(enforce, sj_get(pod, "metadata"), sj_get(pod, "spec"), &res);
		if (res.n) {
			char *reason = podsec_forbidden_reason(&res);
			const char *name = sj_str(pod, "metadata", "name", NULL);
			if (!name)
				name = "";
			size_t k = 0;
			while (k < npw && strcmp(pw[k].reason, reason) != 0)
				k++;
			if (k == npw) {
				pw[npw].reason = reason;
				pw[npw].first = name;
				npw++;
			} else {
				free(reason);
				if (strcmp(name, pw[k].first) < 0)
					pw[k].first = name;
			}
			pw[k].count++;
		}
		podsec_result_cleanup(&res);
	}
	char l[64], w[200];
	podsec_lv_string(enforce, l, sizeof l);
	if (checked < total) {
		snprintf(w, sizeof w, "new PodSecurity enforce level only checked against the first %zu of %zu existing pods",
			 checked, total);
		admission_add_warning(w);
	}
	if (npw) {
		char *qn = quote(ns), *ql = quote(l);
		char *m = xasprintf("existing pods in namespace %s violate the new PodSecurity enforce level %s", qn, ql);
		admission_add_warning(m);
		free(m);
		free(qn);
		free(ql);
	}
	char **texts = xcalloc(npw ? npw : 1, sizeof *texts);
	for (size_t k = 0; k < npw; k++) {
		if (pw[k].count == 1)
			texts[k] = xasprintf("%s: %s", pw[k].first, pw[k].reason);
		else if (pw[k].count == 2)
			texts[k] = xasprintf("%s (and 1 other pod): %s", pw[k].first, pw[k].reason);
		else
			texts[k] = xasprintf("%s (and %d other pods): %s", pw[k].first, pw[k].count - 1, pw[k].reason);
		free(pw[k].reason);
	}
	if (npw > 1)
		qsort(texts, npw, sizeof *texts, cmp_warning);
	for (size_t k = 0; k < npw; k++) {
		admission_add_warning(texts[k]);
		free(texts[k]);
	}
	free(texts);
	free(pw);
	free(order);
}

/* ValidateNamespace: valid labels; warnings when enforce gets stricter */
static int admit_namespace(const struct podsec_req *r, struct sim_err *err)
{
	const char *name = sj_str(r->obj, "metadata", "name", NULL);
	json_object *labels = sj_get(sj_get(r->obj, "metadata"), "labels");
	struct podsec_policy np, op;
	struct verrs nv = {0}, ov = {0};
	podsec_policy(labels, &np, &nv);
	int rc = 0;
	if (!r->old) {
		rc = verrs_finish(&nv, "Namespace", name ? name : "", err);
		goto out;
	}
	podsec_policy(sj_get(sj_get(r->old, "metadata"), "labels"), &op, &ov);
	if (nv.causes && (!ov.causes || strcmp(nv.msg, ov.msg) != 0)) {
		rc = verrs_finish(&nv, "Namespace", name ? name : "", err);
		goto out;
	}
	if (np.enforce.level == op.enforce.level && np.enforce.minor == op.enforce.minor)
		goto out;
	if (np.enforce.level == PODSEC_PRIVILEGED)
		goto out;
	if (np.enforce.minor == op.enforce.minor && cmp_levels(np.enforce.level, op.enforce.level) < 1)
		goto out;
	warn_existing_pods(name ? name : "", r->ns_pods, &np.enforce);
out:
	verrs_finish(&nv, "", "", NULL);
	verrs_finish(&ov, "", "", NULL);
	return rc;
}

int podsec_admit(const struct podsec_req *r, struct sim_err *err)
{
	if (!json_object_is_type(r->obj, json_type_object))
		return 0;
	if (strcmp(r->group, "") == 0 && strcmp(r->plural, "namespaces") == 0)
		return admit_namespace(r, err);
	if (strcmp(r->group, "") == 0 && strcmp(r->plural, "pods") == 0)
		return admit_pod(r, err);
	int found;
	json_object *tmpl = pod_template(r->group, r->plural, r->obj, &found);
	return found ? admit_controller(r, tmpl) : 0;
}
