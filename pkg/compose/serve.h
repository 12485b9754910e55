/* Serving workloads of a ModelDeployment on one InferenceCluster
 * (docs/concepts.md "ModelDeployment").
 *
 * PURE functions: no I/O, no clock. Inputs are borrowed json-c objects (the
 * ModelDeployment, its ModelCache or NULL, the InferenceCluster); every
 * object returned through `out` is the caller's to json_object_put(). Each
 * carries the labels of docs/concepts.md "Names" (managed-by, the cache and
 * the deployment labels) and modelcache.dev/desired-hash.
 *
 * Single-node replicas: one apps/v1 Deployment per cluster (replicas = the
 * replicas placed there). Multi-node replicas: one
 * leaderworkerset.x-k8s.io/v1 LeaderWorkerSet (size = nodes per replica).
 * Every pod (leader and workers): GPU limits nvidia.com/gpu, a memory
 * emptyDir at /dev/shm, the `model-cache` volume (the cache PVC) mounted
 * read-write at /mnt/models; the engine container (leader) has a readiness
 * probe GET /health on the port.
 *
 * Engine arguments (compose_serve_args): with spec.engine.command set, args
 * pass through untouched. Otherwise (turnkey vLLM) "--model=/mnt/models" is
 * put first when a cache is referenced and no arg is "--model" or starts
 * with "--model=" (a cache in the HuggingFaceCache layout: "--model=<repo>"
 * with env HF_HUB_CACHE=/mnt/models and HF_HUB_OFFLINE=1; no cache:
 * "--model=<spec.model repo>"), and --tensor-parallel-size /
 * --pipeline-parallel-size are appended when neither their long nor their
 * short (-tp / -pp) form is given. */
#ifndef MC_COMPOSE_SERVE_H
#define MC_COMPOSE_SERVE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "util/names.h"

#define COMPOSE_LABEL_DEPLOYMENT "modelcache.dev/deployment"
#define COMPOSE_LABEL_DEPLOYMENT_NS "modelcache.dev/deployment-namespace"
#define COMPOSE_SERVE_MOUNT "/mnt/models"
#define COMPOSE_SERVE_VOLUME "model-cache"
#define COMPOSE_SERVE_CONTAINER "engine"
#define COMPOSE_GPU_RESOURCE "nvidia.com/gpu"
#define COMPOSE_GPU_PRODUCT_LABEL "nvidia.com/gpu.product"

struct compose_serve_input {
	json_object *md;            /* ModelDeployment (borrowed, required) */
	json_object *mc;            /* its ModelCache (borrowed) or NULL */
	json_object *ic;            /* InferenceCluster (borrowed, required) */
	int replicas;               /* replicas of this shape on this cluster (>= 0) */
	int nodes;                  /* per replica: 1 => Deployment, > 1 => LeaderWorkerSet */
	int gpus_per_node;          /* >= 1 */
	int tensor, pipeline;       /* >= 1 */
	const char *gpu_product;    /* nodeSelector nvidia.com/gpu.product; NULL/"" = none */
};

/* child_name("modelcache", ns, name, "serve"). */
void compose_serve_name(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name);
/* Where the workload goes: the ModelDeployment's namespace on a local
 * cluster, else the cluster's spec.namespace (default "modelcache"). */
const char *compose_serve_namespace(json_object *md, json_object *ic);

/* The engine's argv after the image's entrypoint (see above); a new array. */
int compose_serve_args(const struct compose_serve_input *in, json_object **out);

int compose_serve_deployment(const struct compose_serve_input *in, json_object **out);
int compose_serve_lws(const struct compose_serve_input *in, json_object **out);

#endif
