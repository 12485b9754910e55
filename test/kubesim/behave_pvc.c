/* --bind-pvcs: the PersistentVolume controller and a hostPath provisioner
 * in one (see behave.h). */
#include "behave_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim.h"
#include "util/log.h"
#include "util/mem.h"

#define MANAGER "kube-controller-manager"

/* The StorageClass a PVC binds with: its own, or the default one when it
 * names none. NULL when there is none (the PVC stays Pending). Caller frees. */
static char *pick_class(struct behave *b, json_object *pvc)
{
	json_object *cls = behave__path(pvc, "spec.storageClassName"), *sc = NULL, *list = NULL, *items;
	char *out = NULL;

	if (cls && json_object_is_type(cls, json_type_string)) {
		const char *name = json_object_get_string(cls);
		if (!*name)
			return NULL; /* "" = static binding only: never provisioned */
		if (sim_get(b->s, "storage.k8s.io", "v1", "storageclasses", NULL, name, &sc, NULL) == 0) {
			json_object_put(sc);
			return xstrdup(name);
		}
		return NULL;
	}
	if (sim_list(b->s, "storage.k8s.io", "v1", "storageclasses", NULL, NULL, NULL, &list, NULL) < 0)
		return NULL;
	items = behave__get(list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n && !out; i++) {
		json_object *it = json_object_array_get_idx(items, i);
		json_object *ann = behave__path(it, "metadata.annotations");
		const char *d = behave__str(ann, "storageclass.kubernetes.io/is-default-class");
		if (!d)
			d = behave__str(ann, "storageclass.beta.kubernetes.io/is-default-class");
		if (d && !strcmp(d, "true"))
			out = xstrdup(behave__str(behave__get(it, "metadata"), "name"));
	}
	json_object_put(list);
	return out;
}

static json_object *copy_or_empty(json_object *v, enum json_type t)
{
	json_object *out = NULL;
	if (v && json_object_is_type(v, t) && json_object_deep_copy(v, &out, NULL) == 0)
		return out;
	return t == json_type_array ? json_object_new_array() : json_object_new_object();
}

static void ensure_pv(struct behave *b, json_object *pvc, const char *cls, const char *dir)
{
	json_object *meta = behave__get(pvc, "metadata"), *pv, *pm, *spec, *ann, *ref, *cap, *existing = NULL;
	char name[128];
	snprintf(name, sizeof(name), "pvc-%s", behave__str(meta, "uid"));
	if (!sim_served(b->s, "", "v1", "persistentvolumes", NULL))
		return;
	if (sim_get(b->s, "", "v1", "persistentvolumes", NULL, name, &existing, NULL) == 0) {
		json_object_put(existing);
		return;
	}
	pv = json_object_new_object();
	json_object_object_add(pv, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(pv, "kind", json_object_new_string("PersistentVolume"));
	pm = json_object_new_object();
	json_object_object_add(pm, "name", json_object_new_string(name));
	ann = json_object_new_object();
	json_object_object_add(ann, "pv.kubernetes.io/provisioned-by", json_object_new_string("kubesim.dev/hostpath"));
	json_object_object_add(ann, "kubesim.dev/host-path", json_object_new_string(dir));
	json_object_object_add(pm, "annotations", ann);
	json_object_object_add(pv, "metadata", pm);
	spec = json_object_new_object();
	cap = json_object_new_object();
	json_object *req = behave__path(pvc, "spec.resources.requests.storage");
	json_object_object_add(cap, "storage", json_object_new_string(req ? json_object_get_string(req) : "1Gi"));
	json_object_object_add(spec, "capacity", cap);
	json_object_object_add(spec, "accessModes", copy_or_empty(behave__path(pvc, "spec.accessModes"), json_type_array));
	json_object_object_add(spec, "persistentVolumeReclaimPolicy", json_object_new_string("Delete"));
	json_object_object_add(spec, "storageClassName", json_object_new_string(cls));
	json_object_object_add(spec, "volumeMode", json_object_new_string("Filesystem"));
	json_object *hp = json_object_new_object();
	json_object_object_add(hp, "path", json_object_new_string(dir));
	json_object_object_add(spec, "hostPath", hp);
	ref = json_object_new_object();
	json_object_object_add(ref, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(ref, "kind", json_object_new_string("PersistentVolumeClaim"));
	json_object_object_add(ref, "namespace", json_object_new_string(behave__str(meta, "namespace")));
	json_object_object_add(ref, "name", json_object_new_string(behave__str(meta, "name")));
	json_object_object_add(ref, "uid", json_object_new_string(behave__str(meta, "uid")));
	json_object_object_add(spec, "claimRef", ref);
	json_object_object_add(pv, "spec", spec);
	json_object *st = json_object_new_object();
	json_object_object_add(st, "phase", json_object_new_string("Bound"));
	json_object_object_add(pv, "status", st);
	struct sim_err err = {0};
	if (sim_create(b->s, "", "v1", "persistentvolumes", NULL, pv, NULL, &err) < 0 && err.code != 409)
		LOG_WARN("kubesim behave: cannot create PV", "pv=%s msg=%s", name, err.message);
	sim_err_cleanup(&err);
	json_object_put(pv);
}

void behave__pvc_reconcile(struct behave *b, const char *ns, const char *name)
{
	json_object *pvc = NULL, *meta, *patch = NULL;
	const char *phase, *uid, *dir;
	char *cls = NULL, *hostdir = NULL;

	if (sim_get(b->s, "", "v1", "persistentvolumeclaims", ns, name, &pvc, NULL) < 0)
		return;
	meta = behave__get(pvc, "metadata");
	uid = behave__str(meta, "uid");
	if (!uid || behave__get(meta, "deletionTimestamp"))
		goto out;
	phase = behave__str(behave__get(pvc, "status"), "phase");
	dir = behave__str(behave__get(meta, "annotations"), "kubesim.dev/host-path");

	if (phase && !strcmp(phase, "Bound") && dir) {
		/* expansion: the volume grows to what is requested */
		json_object *req = behave__path(pvc, "spec.resources.requests.storage");
		json_object *have = behave__path(pvc, "status.capacity.storage");
		if (req && (!have || strcmp(json_object_get_string(req), json_object_get_string(have)))) {
			patch = json_object_new_object();
			json_object *st = json_object_new_object(), *cap = json_object_new_object();
			json_object_object_add(cap, "storage", json_object_new_string(json_object_get_string(req)));
			json_object_object_add(st, "capacity", cap);
			json_object_object_add(patch, "status", st);
			behave__patch(b, "", "v1", "persistentvolumeclaims", ns, name, "status", patch, MANAGER);
		}
		goto out;
	}

	cls = pick_class(b, pvc);
	if (!cls) {
		if (!phase) {
			patch = json_object_new_object();
			json_object *st = json_object_new_object();
			json_object_object_add(st, "phase", json_object_new_string("Pending"));
			json_object_object_add(patch, "status", st);
			behave__patch(b, "", "v1", "persistentvolumeclaims", ns, name, "status", patch, MANAGER);
		}
		goto out;
	}

	hostdir = xasprintf("%s/pvs/%s/%s-%s", b->data_dir, ns ? ns : "_", name, uid);
	if (behave__mkdirs(hostdir, 0755) < 0) {
		LOG_WARN("kubesim behave: cannot create PVC directory", "dir=%s err=%s", hostdir, strerror(errno));
		goto out;
	}
	chmod(hostdir, 0777); /* a fresh volume is writable by any container user, like most provisioners */
	ensure_pv(b, pvc, cls, hostdir);

	/* bind: spec.volumeName, class (DefaultStorageClass admission), annotations */
	char pvname[128];
	snprintf(pvname, sizeof(pvname), "pvc-%s", uid);
	patch = json_object_new_object();
	json_object *pm = json_object_new_object(), *ann = json_object_new_object(), *spec = json_object_new_object();
	json_object_object_add(ann, "kubesim.dev/host-path", json_object_new_string(hostdir));
	json_object_object_add(ann, "pv.kubernetes.io/bind-completed", json_object_new_string("yes"));
	json_object_object_add(ann, "pv.kubernetes.io/bound-by-controller", json_object_new_string("yes"));
	json_object_object_add(pm, "annotations", ann);
	json_object_object_add(patch, "metadata", pm);
	json_object_object_add(spec, "volumeName", json_object_new_string(pvname));
	if (!behave__path(pvc, "spec.storageClassName"))
		json_object_object_add(spec, "storageClassName", json_object_new_string(cls));
	json_object_object_add(patch, "spec", spec);
	if (behave__patch(b, "", "v1", "persistentvolumeclaims", ns, name, NULL, patch, MANAGER) < 0)
		goto out;
	json_object_put(patch);

	patch = json_object_new_object();
	json_object *st = json_object_new_object(), *cap = json_object_new_object();
	json_object *req = behave__path(pvc, "spec.resources.requests.storage");
	json_object_object_add(st, "phase", json_object_new_string("Bound"));
	json_object_object_add(st, "accessModes", copy_or_empty(behave__path(pvc, "spec.accessModes"), json_type_array));
	json_object_object_add(cap, "storage", json_object_new_string(req ? json_object_get_string(req) : "1Gi"));
	json_object_object_add(st, "capacity", cap);
	json_object_object_add(patch, "status", st);
	if (behave__patch(b, "", "v1", "persistentvolumeclaims", ns, name, "status", patch, MANAGER) == 0)
		LOG_INFO("kubesim: PVC bound", "key=%s/%s class=%s dir=%s", ns ? ns : "", name, cls, hostdir);
out:
	json_object_put(patch);
	free(cls);
	free(hostdir);
	json_object_put(pvc);
}

void behave__pvc_gone(struct behave *b, const char *pv_name, const char *host_dir)
{
	char *root = xasprintf("%s/pvs/", b->data_dir);
	/* only ever remove what we provisioned */
	if (host_dir && !strncmp(host_dir, root, strlen(root)) && !strstr(host_dir, "/../")) {
		int rc = behave__rmtree(host_dir);
		if (rc < 0)
			LOG_WARN("kubesim behave: cannot remove PVC directory", "dir=%s err=%s", host_dir, strerror(-rc));
	}
	free(root);
	if (pv_name && sim_served(b->s, "", "v1", "persistentvolumes", NULL))
		sim_delete(b->s, "", "v1", "persistentvolumes", NULL, pv_name, NULL, NULL, NULL);
}

void behave__sc_changed(struct behave *b)
{
	json_object *list = NULL, *items;
	if (sim_list(b->s, "", "v1", "persistentvolumeclaims", NULL, NULL, NULL, &list, NULL) < 0)
		return;
	items = behave__get(list, "items");
	size_t n = items ? json_object_array_length(items) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(items, i);
		const char *phase = behave__str(behave__get(it, "status"), "phase");
		if (phase && !strcmp(phase, "Bound"))
			continue;
		behave__enqueue(b, BQ_PVC, behave__str(behave__get(it, "metadata"), "namespace"), behave__str(behave__get(it, "metadata"), "name"), NULL, 0);
	}
	json_object_put(list);
}
