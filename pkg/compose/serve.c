/* Serving workloads (see serve.h). */
#include "compose/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "estimate/engine.h"
#include "util/jpath.h"
#include "util/mem.h"

#define SHM_LIMIT "16Gi"   /* cap on the /dev/shm tmpfs (NCCL / torch shared memory) */

static json_object *jstr(const char *s)
{
	return json_object_new_string(s ? s : "");
}

static void put(json_object *o, const char *k, json_object *v)
{
	json_object_object_add(o, k, v);
}

void compose_serve_name(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name)
{
	child_name(out, "modelcache", ns ? ns : "", name ? name : "", "serve", NULL);
}

const char *compose_serve_namespace(json_object *md, json_object *ic)
{
	if (compose_cluster_is_local(ic))
		return jpath_str_or(md, "metadata.namespace", "default");
	return jpath_str_or(ic, "spec.namespace", API_DEFAULT_REMOTE_NAMESPACE);
}

static bool byo_engine(json_object *md)
{
	json_object *c = jpath_get(md, "spec.engine.command");
	return c && json_object_is_type(c, json_type_array) && json_object_array_length(c) > 0;
}

static bool hf_cache_layout(json_object *mc)
{
	const char *l = jpath_str(mc, "spec.huggingFace.layout");
	return l && strcmp(l, "HuggingFaceCache") == 0;
}

static int check(const struct compose_serve_input *in)
{
	if (!in || !in->md || !in->ic || in->replicas < 0 || in->nodes < 1 || in->gpus_per_node < 1 ||
	    in->tensor < 1 || in->pipeline < 1)
		return -EINVAL;
	if (!jpath_str(in->md, "metadata.name") || !jpath_str(in->md, "metadata.namespace") ||
	    !jpath_str(in->md, "spec.engine.image"))
		return -EINVAL;
	return 0;
}

int compose_serve_args(const struct compose_serve_input *in, json_object **out)
{
	*out = NULL;
	int rc = check(in);
	if (rc)
		return rc;
	json_object *user = jpath_get(in->md, "spec.engine.args");
	size_t n = user && json_object_is_type(user, json_type_array) ? json_object_array_length(user) : 0;
	json_object *args = json_object_new_array();
	if (byo_engine(in->md)) {
		for (size_t i = 0; i < n; i++)
			json_object_array_add(args, json_object_get(json_object_array_get_idx(user, i)));
		*out = args;
		return 0;
	}
	const char **argv = xcalloc(n + 1, sizeof(char *));
	bool has_model = false;
	for (size_t i = 0; i < n; i++) {
		argv[i] = json_object_get_string(json_object_array_get_idx(user, i));
		if (argv[i] && (strcmp(argv[i], "--model") == 0 || strncmp(argv[i], "--model=", 8) == 0))
			has_model = true;
	}
	struct engine_args ea;
	engine_args_parse(argv, n, &ea);   /* an invalid value is the engine's to refuse */
	free(argv);
	if (!has_model) {
		char *m = NULL;
		if (in->mc && hf_cache_layout(in->mc))
			m = xasprintf("--model=%s", jpath_str_or(in->mc, "spec.huggingFace.repo", ""));
		else if (in->mc)
			m = xasprintf("--model=%s", COMPOSE_SERVE_MOUNT);
		else if (jpath_str(in->md, "spec.model.huggingFace.repo"))
			m = xasprintf("--model=%s", jpath_str(in->md, "spec.model.huggingFace.repo"));
		if (m)
			json_object_array_add(args, jstr(m));
		free(m);
	}
	for (size_t i = 0; i < n; i++)
		json_object_array_add(args, json_object_get(json_object_array_get_idx(user, i)));
	char buf[64];
	if (ea.tensor == 0) {
		snprintf(buf, sizeof buf, "--tensor-parallel-size=%d", in->tensor);
		json_object_array_add(args, jstr(buf));
	}
	if (ea.pipeline == 0) {
		snprintf(buf, sizeof buf, "--pipeline-parallel-size=%d", in->pipeline);
		json_object_array_add(args, jstr(buf));
	}
	*out = args;
	return 0;
}

static json_object *labels(const struct compose_serve_input *in, bool selector_only)
{
	json_object *l = json_object_new_object();
	if (!selector_only) {
		put(l, API_LABEL_MANAGED_BY, jstr(API_MANAGED_BY));
		if (in->mc) {
			put(l, API_LABEL_CACHE, jstr(jpath_str(in->mc, "metadata.name")));
			put(l, API_LABEL_CACHE_NAMESPACE, jstr(jpath_str(in->mc, "metadata.namespace")));
		}
	}
	put(l, COMPOSE_LABEL_DEPLOYMENT, jstr(jpath_str(in->md, "metadata.name")));
	put(l, COMPOSE_LABEL_DEPLOYMENT_NS, jstr(jpath_str(in->md, "metadata.namespace")));
	return l;
}

static json_object *mount(const char *name, const char *path)
{
	json_object *m = json_object_new_object();
	put(m, "name", jstr(name));
	put(m, "mountPath", jstr(path));
	return m;
}

static json_object *env_value(const char *name, const char *value)
{
	json_object *e = json_object_new_object();
	put(e, "name", jstr(name));
	put(e, "value", jstr(value));
	return e;
}

/* The engine container; leader = the pod that serves HTTP (readiness probe). */
static json_object *container(const struct compose_serve_input *in, json_object *args, bool leader)
{
	json_object *c = json_object_new_object();
	put(c, "name", jstr(COMPOSE_SERVE_CONTAINER));
	put(c, "image", jstr(jpath_str(in->md, "spec.engine.image")));
	if (byo_engine(in->md))
		put(c, "command", json_object_get(jpath_get(in->md, "spec.engine.command")));
	put(c, "args", json_object_get(args));

	json_object *env = json_object_new_array();
	json_object *user_env = jpath_get(in->md, "spec.engine.env");
	for (size_t i = 0; user_env && json_object_is_type(user_env, json_type_array) &&
			   i < json_object_array_length(user_env); i++)
		json_object_array_add(env, json_object_get(json_object_array_get_idx(user_env, i)));
	if (in->mc && hf_cache_layout(in->mc) && !byo_engine(in->md)) {
		json_object_array_add(env, env_value("HF_HUB_CACHE", COMPOSE_SERVE_MOUNT));
		json_object_array_add(env, env_value("HF_HUB_OFFLINE", "1"));
	}
	if (json_object_array_length(env))
		put(c, "env", env);
	else
		json_object_put(env);

	int64_t port = jpath_int_or(in->md, "spec.engine.port", 8000);
	json_object *ports = json_object_new_array(), *p = json_object_new_object();
	put(p, "name", jstr("http"));
	put(p, "containerPort", json_object_new_int64(port));
	put(p, "protocol", jstr("TCP"));
	json_object_array_add(ports, p);
	put(c, "ports", ports);

	char gpus[16];
	snprintf(gpus, sizeof gpus, "%d", in->gpus_per_node);
	json_object *lim = json_object_new_object(), *res = json_object_new_object();
	put(lim, COMPOSE_GPU_RESOURCE, jstr(gpus));
	put(res, "limits", lim);
	put(c, "resources", res);

	if (leader) {
		json_object *get = json_object_new_object(), *probe = json_object_new_object();
		put(get, "path", jstr("/health"));
		put(get, "port", json_object_new_int64(port));
		put(probe, "httpGet", get);
		put(probe, "periodSeconds", json_object_new_int64(10));
		put(probe, "failureThreshold", json_object_new_int64(3));
		put(c, "readinessProbe", probe);
	}
	json_object *mounts = json_object_new_array();
	if (in->mc)
		json_object_array_add(mounts, mount(COMPOSE_SERVE_VOLUME, COMPOSE_SERVE_MOUNT));
	json_object_array_add(mounts, mount("dshm", "/dev/shm"));
	put(c, "volumeMounts", mounts);
	return c;
}

static json_object *pod_template(const struct compose_serve_input *in, json_object *args, bool leader)
{
	json_object *spec = json_object_new_object();
	json_object *containers = json_object_new_array();
	json_object_array_add(containers, container(in, args, leader));
	put(spec, "containers", containers);
	if (in->gpu_product && *in->gpu_product) {
		json_object *sel = json_object_new_object();
		put(sel, COMPOSE_GPU_PRODUCT_LABEL, jstr(in->gpu_product));
		put(spec, "nodeSelector", sel);
	}
	json_object *vols = json_object_new_array();
	if (in->mc) {
		char pvc[CHILD_NAME_MAX + 1];
		name_cache_pvc(pvc, jpath_str(in->mc, "metadata.namespace"), jpath_str(in->mc, "metadata.name"));
		json_object *claim = json_object_new_object(), *v = json_object_new_object();
		put(claim, "claimName", jstr(pvc));
		put(v, "name", jstr(COMPOSE_SERVE_VOLUME));
		put(v, "persistentVolumeClaim", claim);
		json_object_array_add(vols, v);
	}
	json_object *ed = json_object_new_object(), *shm = json_object_new_object();
	put(ed, "medium", jstr("Memory"));
	put(ed, "sizeLimit", jstr(SHM_LIMIT));
	put(shm, "name", jstr("dshm"));
	put(shm, "emptyDir", ed);
	json_object_array_add(vols, shm);
	put(spec, "volumes", vols);

	json_object *meta = json_object_new_object();
	put(meta, "labels", labels(in, false));
	json_object *t = json_object_new_object();
	put(t, "metadata", meta);
	put(t, "spec", spec);
	return t;
}

static json_object *new_workload(const struct compose_serve_input *in, const char *api, const char *kind)
{
	char name[CHILD_NAME_MAX + 1];
	compose_serve_name(name, jpath_str(in->md, "metadata.namespace"), jpath_str(in->md, "metadata.name"));
	json_object *o = json_object_new_object(), *meta = json_object_new_object();
	put(o, "apiVersion", jstr(api));
	put(o, "kind", jstr(kind));
	put(meta, "name", jstr(name));
	put(meta, "namespace", jstr(compose_serve_namespace(in->md, in->ic)));
	put(meta, "labels", labels(in, false));
	put(o, "metadata", meta);
	return o;
}

static int finish(json_object *o, json_object **out)
{
	int rc = compose_set_hash(o, NULL);
	if (rc) {
		json_object_put(o);
		return rc;
	}
	*out = o;
	return 0;
}

int compose_serve_deployment(const struct compose_serve_input *in, json_object **out)
{
	json_object *args = NULL;
	*out = NULL;
	int rc = compose_serve_args(in, &args);
	if (rc)
		return rc;
	if (in->nodes != 1) {
		json_object_put(args);
		return -EINVAL;
	}
	json_object *o = new_workload(in, "apps/v1", "Deployment");
	json_object *spec = json_object_new_object(), *sel = json_object_new_object();
	put(spec, "replicas", json_object_new_int64(in->replicas));
	put(sel, "matchLabels", labels(in, true));
	put(spec, "selector", sel);
	/* GPUs are scarce: a new pod replaces the old one instead of waiting
	 * for GPUs a surge pod cannot get */
	json_object *strategy = json_object_new_object();
	put(strategy, "type", jstr("Recreate"));
	put(spec, "strategy", strategy);
	put(spec, "template", pod_template(in, args, true));
	put(o, "spec", spec);
	json_object_put(args);
	return finish(o, out);
}

int compose_serve_lws(const struct compose_serve_input *in, json_object **out)
{
	json_object *args = NULL;
	*out = NULL;
	int rc = compose_serve_args(in, &args);
	if (rc)
		return rc;
	if (in->nodes < 2) {
		json_object_put(args);
		return -EINVAL;
	}
	json_object *o = new_workload(in, "leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet");
	json_object *spec = json_object_new_object(), *lwt = json_object_new_object();
	put(spec, "replicas", json_object_new_int64(in->replicas));
	put(lwt, "size", json_object_new_int64(in->nodes));
	put(lwt, "restartPolicy", jstr("RecreateGroupOnPodRestart"));
	put(lwt, "leaderTemplate", pod_template(in, args, true));
	put(lwt, "workerTemplate", pod_template(in, args, false));
	put(spec, "leaderWorkerTemplate", lwt);
	put(spec, "startupPolicy", jstr("LeaderCreated"));
	put(o, "spec", spec);
	json_object_put(args);
	return finish(o, out);
}
