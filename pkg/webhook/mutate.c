/* The pod webhook's decision (see mutate.h). */
#include "webhook/mutate.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cache/store.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/names.h"

#define JSON_DEPTH 64

const char *webhook_result_name(enum webhook_result r)
{
	switch (r) {
	case WEBHOOK_MUTATED: return "mutated";
	case WEBHOOK_ALLOWED: return "allowed";
	case WEBHOOK_DENIED: return "denied";
	case WEBHOOK_BAD_REQUEST: return "bad_request";
	}
	return "unknown";
}

static const char *to_json(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static enum webhook_result bad(int *status, char **out, const char *why)
{
	*status = 400;
	*out = xasprintf("%s\n", why);
	return WEBHOOK_BAD_REQUEST;
}

/* Does the container already mount /mnt/models (with or without a trailing '/')? */
static bool mounts_path(json_object *c)
{
	json_object *vms = jpath_child(c, "volumeMounts");
	size_t plen = strlen(WEBHOOK_MOUNT_PATH);
	if (!json_object_is_type(vms, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		const char *p = jpath_child_str(json_object_array_get_idx(vms, i), "mountPath");
		if (!p || strncmp(p, WEBHOOK_MOUNT_PATH, plen) != 0)
			continue;
		const char *rest = p + plen;
		while (*rest == '/')
			rest++;
		if (!*rest)
			return true;
	}
	return false;
}

static void add_op(json_object *ops, const char *path, json_object *value /* taken */)
{
	json_object *op = json_object_new_object();
	json_object_object_add(op, "op", json_object_new_string("add"));
	json_object_object_add(op, "path", json_object_new_string(path));
	json_object_object_add(op, "value", value);
	json_object_array_add(ops, op);
}

static json_object *mount_obj(void)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "name", json_object_new_string(WEBHOOK_VOLUME));
	json_object_object_add(m, "mountPath", json_object_new_string(WEBHOOK_MOUNT_PATH));
	json_object_object_add(m, "readOnly", json_object_new_boolean(1));
	return m;
}

/* Mount ops for spec.<field>[*] (containers or initContainers). */
static void mount_ops(json_object *ops, json_object *spec, const char *field)
{
	json_object *cs = jpath_child(spec, field);
	if (!json_object_is_type(cs, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		if (!json_object_is_type(c, json_type_object) || mounts_path(c))
			continue;
		char path[128];
		if (json_object_is_type(jpath_child(c, "volumeMounts"), json_type_array)) {
			snprintf(path, sizeof path, "/spec/%s/%zu/volumeMounts/-", field, i);
			add_op(ops, path, mount_obj());
		} else {
			json_object *arr = json_object_new_array();
			json_object_array_add(arr, mount_obj());
			snprintf(path, sizeof path, "/spec/%s/%zu/volumeMounts", field, i);
			add_op(ops, path, arr);
		}
	}
}

/* The JSONPatch for pod (an array, possibly empty). */
static json_object *pod_patch(json_object *pod, const char *ns, const char *cache)
{
	json_object *ops = json_object_new_array();
	json_object *spec = jpath_child(pod, "spec");
	if (!json_object_is_type(spec, json_type_object))
		return ops;   /* no spec: the apiserver's validation refuses the pod anyway */
	json_object *vols = jpath_child(spec, "volumes");
	bool has_vol = json_object_is_type(vols, json_type_array) && jpath_find_name(vols, WEBHOOK_VOLUME);
	if (!has_vol) {
		char pvc[CHILD_NAME_MAX + 1];
		name_cache_pvc(pvc, ns, cache);
		json_object *claim = json_object_new_object();
		json_object_object_add(claim, "claimName", json_object_new_string(pvc));
		json_object_object_add(claim, "readOnly", json_object_new_boolean(1));
		json_object *vol = json_object_new_object();
		json_object_object_add(vol, "name", json_object_new_string(WEBHOOK_VOLUME));
		json_object_object_add(vol, "persistentVolumeClaim", claim);
		if (json_object_is_type(vols, json_type_array)) {
			add_op(ops, "/spec/volumes/-", vol);
		} else {
			json_object *arr = json_object_new_array();
			json_object_array_add(arr, vol);
			add_op(ops, "/spec/volumes", arr);
		}
	}
	mount_ops(ops, spec, "initContainers");
	mount_ops(ops, spec, "containers");
	return ops;
}

/* The InferenceCluster with spec.connection.local, or NULL (the caller puts). */
static json_object *local_cluster(struct store *clusters)
{
	json_object *found = NULL;
	json_object *all = clusters ? store_list(clusters) : NULL;
	for (size_t i = 0; all && i < json_object_array_length(all); i++) {
		json_object *ic = json_object_array_get_idx(all, i);
		if (jpath_get(ic, "spec.connection.local")) {
			found = json_object_get(ic);
			break;
		}
	}
	if (all)
		json_object_put(all);
	return found;
}

/* A warning when the cache is not Ready on cluster ic_name, else NULL (malloc'd). */
static char *readiness_warning(json_object *mc, const char *ns, const char *name, const char *ic_name)
{
	if (!ic_name)
		return xasprintf("ModelCache %s/%s: no InferenceCluster has connection local, so the cache is not "
				 "staged on this cluster: %s stays empty",
				 ns, name, WEBHOOK_MOUNT_PATH);
	json_object *entry = jpath_find_name(jpath_get(mc, "status.clusters"), ic_name);
	const char *phase = entry ? jpath_child_str(entry, "phase") : NULL;
	if (phase && strcmp(phase, "Ready") == 0)
		return NULL;
	if (!entry && jpath_get(mc, "status.clusters"))
		return xasprintf("ModelCache %s/%s is not placed on this cluster (InferenceCluster %s; its "
				 "clusterSelector does not match): %s stays empty",
				 ns, name, ic_name, WEBHOOK_MOUNT_PATH);
	return xasprintf("ModelCache %s/%s is %s on this cluster (InferenceCluster %s): the pod stays Pending "
			 "or %s is incomplete until it is Ready",
			 ns, name, phase && *phase ? phase : "Pending", ic_name, WEBHOOK_MOUNT_PATH);
}

static json_object *denial(const char *msg)
{
	json_object *st = json_object_new_object();
	json_object_object_add(st, "status", json_object_new_string("Failure"));
	json_object_object_add(st, "message", json_object_new_string(msg));
	json_object_object_add(st, "reason", json_object_new_string("Forbidden"));
	json_object_object_add(st, "code", json_object_new_int(403));
	return st;
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)s, (int)n);
	return o;
}

enum webhook_result webhook_review(const struct webhook_view *v, const char *cluster, const char *body, size_t len,
				   int *status, char **out)
{
	enum webhook_result res;
	json_object *ic = NULL, *mc = NULL;
	*out = NULL;
	if (len > INT32_MAX)
		return bad(status, out, "request body too large");
	json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return bad(status, out, "out of memory");
	json_object *review = json_tokener_parse_ex(tok, body, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!review || jerr != json_tokener_success) {
		if (review)
			json_object_put(review);
		return bad(status, out, "malformed JSON: the body is not an AdmissionReview");
	}
	for (; used < len; used++) {
		char ch = body[used];
		if (ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n') {
			json_object_put(review);
			return bad(status, out, "malformed JSON: data after the AdmissionReview");
		}
	}
	if (!json_object_is_type(review, json_type_object)) {
		res = bad(status, out, "the body is not a JSON object");
		goto out;
	}
	const char *api_version = jpath_child_str(review, "apiVersion");
	if (api_version && strcmp(api_version, "admission.k8s.io/v1") != 0) {
		res = bad(status, out, "only admission.k8s.io/v1 AdmissionReviews are served");
		goto out;
	}
	json_object *req = jpath_child(review, "request");
	if (!json_object_is_type(req, json_type_object)) {
		res = bad(status, out, "the AdmissionReview has no request");
		goto out;
	}
	const char *uid = jpath_child_str(req, "uid");
	if (!uid || !*uid) {
		res = bad(status, out, "the AdmissionReview request has no uid");
		goto out;
	}
	json_object *pod = jpath_child(req, "object");
	const char *op = jpath_child_str(req, "operation");
	bool create = op && strcmp(op, "CREATE") == 0;
	if (create && !json_object_is_type(pod, json_type_object)) {
		res = bad(status, out, "request.object is not an object (a Pod)");
		goto out;
	}
	const char *kind = jpath_str(req, "kind.kind");
	if (kind && strcmp(kind, "Pod") != 0) {
		res = bad(status, out, "this webhook admits Pods only");
		goto out;
	}
	/* which cluster asks: /mutate-v1-pod is the local one, /mutate-v1-pod/<name> that InferenceCluster */
	if (cluster) {
		if (store_get(v->clusters, cluster, &ic) != 0) {
			*status = 404;
			*out = xasprintf("no InferenceCluster %s\n", cluster);
			res = WEBHOOK_BAD_REQUEST;
			goto out;
		}
	} else {
		ic = v->clusters ? local_cluster(v->clusters) : NULL;
	}
	const char *ic_name = ic ? jpath_str(ic, "metadata.name") : NULL;
	bool remote = ic && !jpath_get(ic, "spec.connection.local");

	json_object *resp = json_object_new_object();
	json_object_object_add(resp, "uid", json_object_new_string(uid));
	const char *cache = create ? jpath_label(pod, API_LABEL_CACHE) : NULL;
	const char *ns = jpath_child_str(req, "namespace");
	if (!ns || !*ns)
		ns = jpath_str(pod, "metadata.namespace");
	res = WEBHOOK_ALLOWED;
	/* the operator's own pods (hydration Jobs) are excluded by the objectSelector;
	 * should a configuration lack it, they still pass unchanged */
	const char *mb = create ? jpath_label(pod, API_LABEL_MANAGED_BY) : NULL;
	if (!cache || !*cache || !ns || !*ns || (mb && strcmp(mb, API_MANAGED_BY) == 0)) {
		json_object_object_add(resp, "allowed", json_object_new_boolean(1));
		goto answer;
	}
	/* the ModelCache's namespace: the cache-namespace label (remote clusters), else the pod's */
	const char *cache_ns = jpath_label(pod, API_LABEL_CACHE_NAMESPACE);
	if (!cache_ns || !*cache_ns)
		cache_ns = ns;
	char key[600];
	snprintf(key, sizeof key, "%s/%s", cache_ns, cache);
	if (store_get(v->caches, key, &mc) != 0) {
		char *msg = xasprintf("ModelCache %s/%s not found: create it or remove the %s label%s", cache_ns, cache,
				      API_LABEL_CACHE,
				      remote && cache_ns == ns ? " (on a remote cluster, label the pod "
								 API_LABEL_CACHE_NAMESPACE ": <the ModelCache's namespace>)" : "");
		json_object_object_add(resp, "allowed", json_object_new_boolean(0));
		json_object_object_add(resp, "status", denial(msg));
		free(msg);
		res = WEBHOOK_DENIED;
		goto answer;
	}
	/* the PVC is in the ModelCache's namespace here, in the cluster's namespace on a remote one */
	const char *pvc_ns = remote ? jpath_str_or(ic, "spec.namespace", API_DEFAULT_REMOTE_NAMESPACE) : cache_ns;
	if (strcmp(pvc_ns, ns) != 0) {
		char *msg = xasprintf("ModelCache %s/%s is staged in namespace %s on this cluster%s%s%s: create the pod "
				      "there to mount it",
				      cache_ns, cache, pvc_ns, ic_name ? " (InferenceCluster " : "", ic_name ? ic_name : "",
				      ic_name ? ")" : "");
		json_object_object_add(resp, "allowed", json_object_new_boolean(0));
		json_object_object_add(resp, "status", denial(msg));
		free(msg);
		res = WEBHOOK_DENIED;
		goto answer;
	}
	json_object_object_add(resp, "allowed", json_object_new_boolean(1));
	json_object *ops = pod_patch(pod, cache_ns, cache);
	if (json_object_array_length(ops) > 0) {
		char *p = b64(to_json(ops));
		json_object_object_add(resp, "patchType", json_object_new_string("JSONPatch"));
		json_object_object_add(resp, "patch", json_object_new_string(p));
		free(p);
		res = WEBHOOK_MUTATED;
	}
	json_object_put(ops);
	char *warn = readiness_warning(mc, cache_ns, cache, ic_name);
	if (warn) {
		json_object *ws = json_object_new_array();
		json_object_array_add(ws, json_object_new_string(warn));
		json_object_object_add(resp, "warnings", ws);
		free(warn);
	}
answer:;
	json_object *ans = json_object_new_object();
	json_object_object_add(ans, "apiVersion", json_object_new_string("admission.k8s.io/v1"));
	json_object_object_add(ans, "kind", json_object_new_string("AdmissionReview"));
	json_object_object_add(ans, "response", resp);
	*status = 200;
	*out = xstrdup(to_json(ans));
	json_object_put(ans);
out:
	if (mc)
		json_object_put(mc);
	if (ic)
		json_object_put(ic);
	json_object_put(review);
	return res;
}
