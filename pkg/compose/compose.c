#include "compose/compose.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/digest.h"
#include "util/jcanon.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/names.h"
#include "util/quantity.h"

#define GIB ((int64_t)1 << 30)

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, jstr(v));
}

bool compose_cluster_is_local(json_object *ic)
{
	return jpath_get(ic, "spec.connection.local") != NULL;
}

const char *compose_target_namespace(json_object *mc, json_object *ic)
{
	if (compose_cluster_is_local(ic))
		return jpath_str_or(mc, "metadata.namespace", "default");
	return jpath_str_or(ic, "spec.namespace", API_DEFAULT_REMOTE_NAMESPACE);
}

const char *compose_storage_class(json_object *ic)
{
	return jpath_str_or(ic, "spec.cache.storageClassName", API_DEFAULT_STORAGE_CLASS);
}

int compose_size_from_download(int64_t download_bytes, int64_t *out)
{
	if (download_bytes < 0)
		return -EINVAL;
	if (download_bytes > INT64_MAX / 115)
		return -ERANGE;
	int64_t scaled = (download_bytes * 115 + 99) / 100;
	int64_t gib = (scaled + GIB - 1) / GIB;
	if (gib < 1)
		gib = 1;
	*out = gib * GIB;
	return 0;
}

int compose_spec_size(json_object *mc, int64_t *bytes)
{
	json_object *sz = jpath_get(mc, "spec.size");
	int64_t v = 0;
	*bytes = 0;
	if (sz && json_object_is_type(sz, json_type_int))
		v = json_object_get_int64(sz);
	else if (sz && json_object_is_type(sz, json_type_string) &&
		 quantity_parse_bytes(json_object_get_string(sz), &v) != 0)
		v = 0;
	if (v <= 0)
		return -ENOENT;
	*bytes = v;
	return 0;
}

void compose_hf_filters_of(const struct api_modelcache *spec, const char **inc, size_t *ninc, const char **exc,
			   size_t *nexc, size_t max)
{
	*ninc = *nexc = 0;
	for (size_t i = 0; i < spec->ninclude && *ninc < max; i++)
		inc[(*ninc)++] = spec->include[i];
	for (size_t i = 0; i < spec->nexclude && *nexc < max; i++)
		exc[(*nexc)++] = spec->exclude[i];
	/* files: All without include patterns = every file: the pattern "*"
	 * (it crosses '/'); without include patterns the estimator downloads
	 * the Auto selection (docs/estimation.md) */
	if (*ninc == 0 && max > 0 && spec->files == API_FILES_ALL)
		inc[(*ninc)++] = "*";
}

void compose_hf_filters(json_object *mc, const char **inc, size_t *ninc, const char **exc, size_t *nexc, size_t max)
{
	struct api_modelcache spec;
	api_modelcache_from_json(mc, &spec, NULL);   /* an invalid spec: what could be read */
	compose_hf_filters_of(&spec, inc, ninc, exc, nexc, max);
}

/* The typed view of in->mc: the caller's, else parsed into *local. */
static const struct api_modelcache *view_of(const struct compose_input *in, struct api_modelcache *local)
{
	if (in->spec)
		return in->spec;
	api_modelcache_from_json(in->mc, local, NULL);
	return local;
}

static json_object *strings_array(const char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *labels_for(json_object *mc)
{
	json_object *l = json_object_new_object();
	put_str(l, API_LABEL_MANAGED_BY, API_MANAGED_BY);
	put_str(l, API_LABEL_CACHE, jpath_str(mc, "metadata.name"));
	put_str(l, API_LABEL_CACHE_NAMESPACE, jpath_str(mc, "metadata.namespace"));
	return l;
}

/* apiVersion, kind and metadata {name, namespace?, labels}; returns the object
 * and hands back its metadata (borrowed). */
static json_object *new_object(const char *api_version, const char *kind, const char *name,
			       const char *ns, json_object *labels, json_object **meta_out)
{
	json_object *o = json_object_new_object();
	put_str(o, "apiVersion", api_version);
	put_str(o, "kind", kind);
	json_object *meta = json_object_new_object();
	put_str(meta, "name", name);
	if (ns)
		put_str(meta, "namespace", ns);
	json_object_object_add(meta, "labels", labels);
	json_object_object_add(o, "metadata", meta);
	if (meta_out)
		*meta_out = meta;
	return o;
}

static int check_input(const struct compose_input *in)
{
	if (!in || !in->mc || !in->ic)
		return -EINVAL;
	if (!jpath_str(in->mc, "metadata.name") || !jpath_str(in->mc, "metadata.namespace"))
		return -EINVAL;
	return 0;
}

int compose_set_hash(json_object *obj, char *hex_out)
{
	json_object *meta = jpath_child(obj, "metadata");
	if (!meta)
		return -EINVAL;
	char hex[SHA256_HEX_LEN + 1];
	int rc = jcanon_hash(obj, API_ANN_DESIRED_HASH, hex);
	if (rc)
		return rc;
	json_object *ann = jpath_child(meta, "annotations");
	if (!ann) {
		ann = json_object_new_object();
		json_object_object_add(meta, "annotations", ann);
	}
	put_str(ann, API_ANN_DESIRED_HASH, hex);
	if (hex_out)
		memcpy(hex_out, hex, sizeof(hex));
	return 0;
}

/* Stamp the desired-hash and hand o over through out (o is dropped on failure). */
static int hashed(json_object *o, json_object **out)
{
	int rc = compose_set_hash(o, NULL);
	if (rc) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return 0;
}

bool compose_hash_matches(json_object *desired, json_object *observed)
{
	const char *a = jpath_annotation(desired, API_ANN_DESIRED_HASH);
	const char *b = jpath_annotation(observed, API_ANN_DESIRED_HASH);
	return a && b && strcmp(a, b) == 0;
}

int compose_namespace(const struct compose_input *in, json_object **out)
{
	int rc = check_input(in);
	*out = NULL;
	if (rc)
		return rc;
	if (compose_cluster_is_local(in->ic))
		return 0;
	return compose_namespace_named(compose_target_namespace(in->mc, in->ic), out);
}

int compose_namespace_named(const char *name, json_object **out)
{
	*out = NULL;
	if (!name || !*name)
		return -EINVAL;
	/* shared by every cache on the cluster: only the managed-by label */
	json_object *l = json_object_new_object();
	put_str(l, API_LABEL_MANAGED_BY, API_MANAGED_BY);
	json_object *o = new_object("v1", "Namespace", name, NULL, l, NULL);
	return hashed(o, out);
}

void compose_artifact_id_of(const struct api_modelcache *spec, char out[17])
{
	json_object *a = json_object_new_object();
	put_str(a, "repo", spec->repo ? spec->repo : "");
	put_str(a, "revision", spec->revision);
	json_object_object_add(a, "include", strings_array(spec->include, spec->ninclude));
	json_object_object_add(a, "exclude", strings_array(spec->exclude, spec->nexclude));
	char hex[SHA256_HEX_LEN + 1];
	if (jcanon_hash(a, NULL, hex) != 0)
		memset(hex, '0', sizeof(hex) - 1);
	memcpy(out, hex, 16);
	out[16] = '\0';
	json_object_put(a);
}

void compose_artifact_id(json_object *mc, char out[17])
{
	struct api_modelcache spec;
	api_modelcache_from_json(mc, &spec, NULL);
	compose_artifact_id_of(&spec, out);
}

int compose_pvc(const struct compose_input *in, json_object **out)
{
	char name[CHILD_NAME_MAX + 1], qty[QUANTITY_STR_MAX];
	int rc = check_input(in);
	*out = NULL;
	if (rc)
		return rc;
	if (in->size_bytes <= 0)
		return -EINVAL;
	rc = quantity_format_bytes(in->size_bytes, qty, sizeof(qty));
	if (rc)
		return rc;
	const char *ns = jpath_str(in->mc, "metadata.namespace");
	name_cache_pvc(name, ns, jpath_str(in->mc, "metadata.name"));
	json_object *meta = NULL;
	json_object *o = new_object("v1", "PersistentVolumeClaim", name, compose_target_namespace(in->mc, in->ic),
				    labels_for(in->mc), &meta);
	char art[17];
	struct api_modelcache local;
	compose_artifact_id_of(view_of(in, &local), art);
	json_object *ann = json_object_new_object();
	put_str(ann, COMPOSE_ANN_ARTIFACT, art);
	if (in->size_default)
		put_str(ann, COMPOSE_ANN_SIZE_SOURCE, "default");
	json_object_object_add(meta, "annotations", ann);
	json_object *spec = json_object_new_object();
	json_object *modes = json_object_new_array();
	json_object_array_add(modes, jstr("ReadWriteMany"));
	json_object_object_add(spec, "accessModes", modes);
	put_str(spec, "storageClassName", compose_storage_class(in->ic));
	put_str(spec, "volumeMode", "Filesystem");
	json_object *req = json_object_new_object();
	put_str(req, "storage", qty);
	json_object *res = json_object_new_object();
	json_object_object_add(res, "requests", req);
	json_object_object_add(spec, "resources", res);
	json_object_object_add(o, "spec", spec);
	return hashed(o, out);
}

int compose_auth_secret(const struct compose_input *in, const char *token_b64, json_object **out)
{
	char name[CHILD_NAME_MAX + 1];
	int rc = check_input(in);
	*out = NULL;
	if (rc)
		return rc;
	if (!token_b64 || !*token_b64)
		return -EINVAL;
	name_cache_auth(name, jpath_str(in->mc, "metadata.namespace"), jpath_str(in->mc, "metadata.name"));
	json_object *o = new_object("v1", "Secret", name, compose_target_namespace(in->mc, in->ic),
				    labels_for(in->mc), NULL);
	put_str(o, "type", "Opaque");
	json_object *data = json_object_new_object();
	put_str(data, API_DEFAULT_AUTH_KEY, token_b64);
	json_object_object_add(o, "data", data);
	return hashed(o, out);
}

static void add_arg(json_object *args, const char *flag, const char *value)
{
	char *s = xasprintf("%s=%s", flag, value);
	json_object_array_add(args, json_object_new_string(s));
	free(s);
}

static json_object *env_value(const char *name, const char *value)
{
	json_object *e = json_object_new_object();
	put_str(e, "name", name);
	put_str(e, "value", value);
	return e;
}

static json_object *env_secret(const char *name, const char *secret, const char *key)
{
	json_object *ref = json_object_new_object();
	put_str(ref, "name", secret);
	put_str(ref, "key", key);
	json_object *from = json_object_new_object();
	json_object_object_add(from, "secretKeyRef", ref);
	json_object *e = json_object_new_object();
	put_str(e, "name", name);
	json_object_object_add(e, "valueFrom", from);
	return e;
}

static json_object *mount(const char *name, const char *path)
{
	json_object *m = json_object_new_object();
	put_str(m, "name", name);
	put_str(m, "mountPath", path);
	return m;
}

int compose_job(const struct compose_input *in, json_object **out)
{
	char name[CHILD_NAME_MAX + 1], pvc[CHILD_NAME_MAX + 1], auth[CHILD_NAME_MAX + 1], attempt[24];
	int rc = check_input(in);
	*out = NULL;
	if (rc)
		return rc;
	struct api_modelcache local;
	const struct api_modelcache *view = view_of(in, &local);
	const char *repo = view->repo;
	if (!repo || !*repo || !in->hydrator_image || !*in->hydrator_image)
		return -EINVAL;
	const char *ns = jpath_str(in->mc, "metadata.namespace"), *mcname = jpath_str(in->mc, "metadata.name");
	name_cache_job(name, ns, mcname);
	name_cache_pvc(pvc, ns, mcname);
	name_cache_auth(auth, ns, mcname);
	snprintf(attempt, sizeof(attempt), "%u", in->attempt ? in->attempt : 1);

	json_object *meta = NULL;
	json_object *o = new_object("batch/v1", "Job", name, compose_target_namespace(in->mc, in->ic),
				    labels_for(in->mc), &meta);
	json_object *ann = json_object_new_object();
	put_str(ann, COMPOSE_ANN_ATTEMPT, attempt);
	if (in->backoff_from && in->backoff_from < (in->attempt ? in->attempt : 1)) {
		char from[24];
		snprintf(from, sizeof(from), "%u", in->backoff_from);
		put_str(ann, COMPOSE_ANN_BACKOFF_FROM, from);
	}
	if (in->retry && *in->retry)
		put_str(ann, API_ANN_RETRY, in->retry);
	json_object_object_add(meta, "annotations", ann);

	json_object *args = json_object_new_array();
	add_arg(args, "--repo", repo);
	add_arg(args, "--revision", view->revision);
	add_arg(args, "--dest", COMPOSE_MOUNT);
	for (size_t i = 0; i < view->ninclude; i++)
		add_arg(args, "--include", view->include[i]);
	for (size_t i = 0; i < view->nexclude; i++)
		add_arg(args, "--exclude", view->exclude[i]);
	/* spec.huggingFace.files: Auto hydrates the estimator's selection (explicit
	 * include patterns choose the files themselves; the hydrator's default
	 * is every file) */
	if (view->files != API_FILES_ALL && view->ninclude == 0)
		add_arg(args, "--files", "auto");
	/* spec.huggingFace.layout (docs/concepts.md, "Hydration"); Flat is the
	 * hydrator's default */
	if (view->layout == API_LAYOUT_HF_CACHE)
		add_arg(args, "--layout", "hf-cache");

	json_object *cmd = json_object_new_array();
	json_object_array_add(cmd, jstr("modelcache-operator"));
	json_object_array_add(cmd, jstr("hydrate"));

	json_object *env = json_object_new_array();
	if (in->with_auth)
		json_object_array_add(env, env_secret("HF_TOKEN", auth, API_DEFAULT_AUTH_KEY));
	if (in->hf_endpoint && *in->hf_endpoint)
		json_object_array_add(env, env_value("HF_ENDPOINT", in->hf_endpoint));

	json_object *caps = json_object_new_object();
	json_object *drop = json_object_new_array();
	json_object_array_add(drop, jstr("ALL"));
	json_object_object_add(caps, "drop", drop);
	json_object *csc = json_object_new_object();
	json_object_object_add(csc, "allowPrivilegeEscalation", json_object_new_boolean(0));
	json_object_object_add(csc, "capabilities", caps);
	json_object_object_add(csc, "readOnlyRootFilesystem", json_object_new_boolean(1));
	json_object_object_add(csc, "runAsNonRoot", json_object_new_boolean(1));

	json_object *mounts = json_object_new_array();
	json_object_array_add(mounts, mount("artifact", COMPOSE_MOUNT));
	json_object_array_add(mounts, mount("tmp", "/tmp"));

	json_object *c = json_object_new_object();
	put_str(c, "name", "hydrate");
	put_str(c, "image", in->hydrator_image);
	put_str(c, "imagePullPolicy", "IfNotPresent");
	json_object_object_add(c, "command", cmd);
	json_object_object_add(c, "args", args);
	if (json_object_array_length(env) > 0)
		json_object_object_add(c, "env", env);
	else
		json_object_put(env);
	json_object_object_add(c, "securityContext", csc);
	put_str(c, "terminationMessagePolicy", "FallbackToLogsOnError");
	json_object_object_add(c, "volumeMounts", mounts);
	json_object *containers = json_object_new_array();
	json_object_array_add(containers, c);

	json_object *seccomp = json_object_new_object();
	put_str(seccomp, "type", "RuntimeDefault");
	json_object *psc = json_object_new_object();
	json_object_object_add(psc, "fsGroup", json_object_new_int64(COMPOSE_UID));
	json_object_object_add(psc, "runAsGroup", json_object_new_int64(COMPOSE_UID));
	json_object_object_add(psc, "runAsNonRoot", json_object_new_boolean(1));
	json_object_object_add(psc, "runAsUser", json_object_new_int64(COMPOSE_UID));
	json_object_object_add(psc, "seccompProfile", seccomp);

	json_object *claim = json_object_new_object();
	put_str(claim, "claimName", pvc);
	json_object *vol_art = json_object_new_object();
	put_str(vol_art, "name", "artifact");
	json_object_object_add(vol_art, "persistentVolumeClaim", claim);
	json_object *vol_tmp = json_object_new_object();
	put_str(vol_tmp, "name", "tmp");
	json_object_object_add(vol_tmp, "emptyDir", json_object_new_object());
	json_object *vols = json_object_new_array();
	json_object_array_add(vols, vol_art);
	json_object_array_add(vols, vol_tmp);

	json_object *pspec = json_object_new_object();
	put_str(pspec, "restartPolicy", "Never");
	json_object_object_add(pspec, "automountServiceAccountToken", json_object_new_boolean(0));
	json_object_object_add(pspec, "securityContext", psc);
	json_object_object_add(pspec, "containers", containers);
	json_object_object_add(pspec, "volumes", vols);

	json_object *tmeta = json_object_new_object();
	json_object_object_add(tmeta, "labels", labels_for(in->mc));
	json_object *tmpl = json_object_new_object();
	json_object_object_add(tmpl, "metadata", tmeta);
	json_object_object_add(tmpl, "spec", pspec);

	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "backoffLimit", json_object_new_int64(COMPOSE_JOB_BACKOFF_LIMIT));
	json_object_object_add(spec, "ttlSecondsAfterFinished", json_object_new_int64(COMPOSE_JOB_TTL_S));
	json_object_object_add(spec, "template", tmpl);
	json_object_object_add(o, "spec", spec);

	return hashed(o, out);
}
