#include "kube/resource.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"

#define RES(var, g, v, res, k, nsd) \
	const struct kube_resource var = { .group = g, .version = v, .resource = res, .kind = k, .namespaced = nsd }

RES(KUBE_RES_NAMESPACES, "", "v1", "namespaces", "Namespace", false);
RES(KUBE_RES_NODES, "", "v1", "nodes", "Node", false);
RES(KUBE_RES_PODS, "", "v1", "pods", "Pod", true);
RES(KUBE_RES_SECRETS, "", "v1", "secrets", "Secret", true);
RES(KUBE_RES_CONFIGMAPS, "", "v1", "configmaps", "ConfigMap", true);
RES(KUBE_RES_PVCS, "", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true);
RES(KUBE_RES_STORAGECLASSES, "storage.k8s.io", "v1", "storageclasses", "StorageClass", false);
RES(KUBE_RES_EVENTS, "events.k8s.io", "v1", "events", "Event", true);
RES(KUBE_RES_CORE_EVENTS, "", "v1", "events", "Event", true);
RES(KUBE_RES_JOBS, "batch", "v1", "jobs", "Job", true);
RES(KUBE_RES_DEPLOYMENTS, "apps", "v1", "deployments", "Deployment", true);
RES(KUBE_RES_LEASES, "coordination.k8s.io", "v1", "leases", "Lease", true);
RES(KUBE_RES_CRDS, "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false);
RES(KUBE_RES_LEADERWORKERSETS, "leaderworkerset.x-k8s.io", "v1", "leaderworkersets", "LeaderWorkerSet", true);
RES(KUBE_RES_MUTATINGWEBHOOKS, "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
    "MutatingWebhookConfiguration", false);
RES(KUBE_RES_INFERENCECLUSTERS, "modelcache.dev", "v1alpha1", "inferenceclusters", "InferenceCluster", false);
RES(KUBE_RES_MODELCACHES, "modelcache.dev", "v1alpha1", "modelcaches", "ModelCache", true);
RES(KUBE_RES_MODELDEPLOYMENTS, "modelcache.dev", "v1alpha1", "modeldeployments", "ModelDeployment", true);

void kube_resource_api_version(const struct kube_resource *r, char *out, size_t n)
{
	int k;
	if (r->group && r->group[0])
		k = snprintf(out, n, "%s/%s", r->group, r->version);
	else
		k = snprintf(out, n, "%s", r->version);
	if (k < 0 && n)
		out[0] = '\0';
}

/* Path segments are percent-encoded except for unreserved characters. */
static void put_seg(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~' || c == ':' || c == '@') {
			buf_putc(b, (char)c);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 15]);
		}
	}
}

char *kube_resource_path(const struct kube_resource *r, const char *ns, const char *name, const char *sub)
{
	struct buf b;
	buf_init(&b, 0);
	if (r->group && r->group[0]) {
		buf_puts(&b, "/apis/");
		put_seg(&b, r->group);
		buf_putc(&b, '/');
	} else {
		buf_puts(&b, "/api/");
	}
	put_seg(&b, r->version);
	if (r->namespaced && ns && ns[0]) {
		buf_puts(&b, "/namespaces/");
		put_seg(&b, ns);
	}
	buf_putc(&b, '/');
	put_seg(&b, r->resource);
	if (name && name[0]) {
		buf_putc(&b, '/');
		put_seg(&b, name);
		if (sub && sub[0]) {
			buf_putc(&b, '/');
			put_seg(&b, sub);
		}
	}
	return buf_take(&b, NULL);
}
