/* Typed, borrowed views of our three kinds (group modelcache.dev, version
 * v1alpha1) over json-c, their validation, and condition helpers.
 *
 * Views: api_*_from_json(obj, &view, &msg) VALIDATES the object with the same
 * rules as the CRD schemas + CEL (crds/) and, when valid, fills the view with
 * defaults applied. Every pointer in a view is BORROWED from obj: it stays
 * valid while obj lives and is not modified. Nothing in a view is freed.
 * On an invalid object it returns -EINVAL and *msg (malloc'd, caller frees)
 * lists every problem in apiserver style, joined with "; ", e.g.
 *   spec.huggingFace: Required value: spec.huggingFace is required when spec.source is HuggingFace
 *   spec.huggingFace.repo: Invalid value: "a/b/c": must be "org/name" or "name"
 *   spec.size: Invalid value: "20Gx": not a quantity
 * Use that text as the message of condition Valid=False (reason Invalid).
 * api_validate_*(obj, &msg) is the same check without a view.
 *
 * Quantities (size, capacity, reserve, gpus[].memory) accept a string
 * ("20Gi") or an integer (bytes), like Kubernetes int-or-string quantities.
 * Decimal fields (safetyFactor, gpuMemoryUtilization) are strings ("0.9"),
 * as in the CRDs.
 *
 * Annotations are read leniently: a flag is on only when its value is exactly
 * "true"; they are not validated (CEL cannot see annotations either). */
#ifndef MC_API_API_H
#define MC_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define API_GROUP "modelcache.dev"
#define API_VERSION "v1alpha1"
#define API_GROUP_VERSION "modelcache.dev/v1alpha1"
#define API_KIND_INFERENCECLUSTER "InferenceCluster"
#define API_KIND_MODELCACHE "ModelCache"
#define API_KIND_MODELDEPLOYMENT "ModelDeployment"

/* Annotations, labels, finalizer (docs/concepts.md: the kinds, "Names", "Deletion"). */
#define API_ANN_MULTI_NODE_SHARDED "modelcache.dev/multi-node-sharded"
#define API_ANN_PINNED "modelcache.dev/pinned"
#define API_ANN_RETRY "modelcache.dev/retry"
#define API_ANN_DESIRED_HASH "modelcache.dev/desired-hash"
#define API_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define API_MANAGED_BY "modelcache-operator"
#define API_SELECTOR_MANAGED API_LABEL_MANAGED_BY "=" API_MANAGED_BY   /* what every cluster informer lists */
#define API_LABEL_CACHE "modelcache.dev/cache"
#define API_LABEL_CACHE_NAMESPACE "modelcache.dev/cache-namespace"
#define API_FINALIZER "modelcache.dev/cleanup"
#define API_FIELD_MANAGER "modelcache-operator"

/* Defaults (kept identical to the CRD schema defaults). */
#define API_DEFAULT_REVISION "main"
#define API_DEFAULT_AUTH_KEY "HF_TOKEN"
#define API_DEFAULT_KUBECONFIG_KEY "kubeconfig"
#define API_DEFAULT_REMOTE_NAMESPACE "modelcache"
#define API_DEFAULT_STORAGE_CLASS "modelcache-rwx"
#define API_DEFAULT_SAFETY_FACTOR 1.0
#define API_DEFAULT_GPU_MEM_UTIL 0.9
#define API_DEFAULT_PORT 8000

/* Limits (identical to the CRDs' maxItems / maxLength). */
#define API_MAX_PATTERNS 64      /* include / exclude entries */
#define API_MAX_PATTERN_LEN 256
#define API_MAX_GPU_POOLS 32
#define API_MAX_REPO_LEN 96
#define API_MAX_REVISION_LEN 255
#define API_MAX_ARGS 256         /* engine.command / args / env entries */

/* metadata. Every string may be NULL when absent. */
struct api_meta {
	const char *name;
	const char *namespace;
	const char *uid;
	const char *resource_version;
	int64_t generation;
	json_object *labels;         /* borrowed object or NULL */
	json_object *annotations;    /* borrowed object or NULL */
	bool deleting;               /* deletionTimestamp set */
};

/* ---- InferenceCluster ---- */

enum api_connection_kind {
	API_CONN_LOCAL = 1,
	API_CONN_KUBECONFIG = 2,
};

struct api_gpu_pool {
	const char *product;
	int64_t memory_bytes;        /* per GPU, > 0 */
	int64_t per_node;            /* default 1 */
	int64_t nodes;               /* default 1 */
	bool unified_memory;         /* default false */
};

struct api_inferencecluster {
	struct api_meta meta;
	enum api_connection_kind connection;
	const char *kubeconfig_namespace;   /* API_CONN_KUBECONFIG only */
	const char *kubeconfig_name;
	const char *kubeconfig_key;         /* default "kubeconfig" */
	const char *namespace;              /* remote namespace, default "modelcache" */
	const char *storage_class;          /* default "modelcache-rwx" */
	int64_t capacity_bytes;             /* -1 = no capacity budget */
	int64_t reserve_bytes;              /* 0 when unset */
	int64_t max_caches;                 /* 0 = no count limit */
	size_t ngpus;                       /* 0 = discover from Nodes */
	struct api_gpu_pool gpus[API_MAX_GPU_POOLS];
};

/* ---- ModelCache ---- */

enum api_deletion_policy {
	API_DELETION_DELETE = 0,     /* default */
	API_DELETION_RETAIN = 1,
};

/* spec.huggingFace.layout: files at their paths, or the Hugging Face Hub
 * cache (docs/concepts.md, "Hydration"). */
enum api_hf_layout { API_LAYOUT_FLAT = 0, API_LAYOUT_HF_CACHE = 1 };
/* spec.huggingFace.files: the files that load, or every file
 * (docs/estimation.md, "Download only what loads"). */
enum api_hf_files { API_FILES_AUTO = 0, API_FILES_ALL = 1 };

struct api_modelcache {
	struct api_meta meta;
	const char *source;                 /* "HuggingFace" */
	const char *repo;                   /* "Qwen/Qwen3-0.6B" */
	const char *revision;               /* default "main" */
	const char *include[API_MAX_PATTERNS];
	size_t ninclude;
	const char *exclude[API_MAX_PATTERNS];
	size_t nexclude;
	enum api_hf_layout layout;          /* spec.huggingFace.layout, default Flat */
	enum api_hf_files files;            /* spec.huggingFace.files, default Auto */
	const char *auth_secret_name;       /* NULL = no authSecret */
	const char *auth_secret_key;        /* default "HF_TOKEN" (when name set) */
	int64_t size_bytes;                 /* 0 = unset: use the estimate x 1.15 */
	json_object *cluster_selector;      /* borrowed; NULL = all clusters */
	enum api_deletion_policy deletion_policy;
	bool precheck_vram;                 /* default true (Enabled) */
	double safety_factor;               /* default 1.0 */
	/* annotations */
	bool multi_node_sharded;
	bool pinned;
	const char *retry;                  /* NULL when absent */
};

/* ---- ModelDeployment ---- */

struct api_modeldeployment {
	struct api_meta meta;
	int64_t replicas;                   /* default 1 */
	const char *cache_ref;              /* spec.modelCacheRef.name or NULL */
	const char *model_repo;             /* spec.model.huggingFace.repo or NULL */
	const char *model_revision;         /* default "main" when model_repo set */
	json_object *cluster_selector;      /* borrowed; NULL = all */
	const char *image;
	json_object *command;               /* borrowed array of strings or NULL */
	json_object *args;                  /* borrowed array of strings or NULL */
	json_object *env;                   /* borrowed array of core/v1 EnvVar or NULL */
	bool byo_engine;                    /* command set and non-empty */
	int64_t port;                       /* default 8000 */
	int64_t tensor, pipeline, nodes;    /* 0 = automatic */
	int64_t context_length;             /* 0 = from args / model */
	int64_t max_sequences;              /* default 1 */
	double gpu_memory_utilization;      /* default 0.9 */
};

int api_meta_from_json(json_object *obj, struct api_meta *m);

int api_inferencecluster_from_json(json_object *obj, struct api_inferencecluster *ic, char **msg);
int api_modelcache_from_json(json_object *obj, struct api_modelcache *mc, char **msg);
int api_modeldeployment_from_json(json_object *obj, struct api_modeldeployment *md, char **msg);

int api_validate_inferencecluster(json_object *obj, char **msg);
int api_validate_modelcache(json_object *obj, char **msg);
int api_validate_modeldeployment(json_object *obj, char **msg);

/* Repo syntax check shared with the CLI: "org/name" or "name". */
bool api_repo_ok(const char *repo);

/* ---- generic accessors (util/jpath.h underneath) ---- */

/* Follow a dotted path ("spec.huggingFace.repo"); borrowed or NULL. */
json_object *api_path(json_object *obj, const char *dotted);
/* The string at a dotted path, or def when absent / not a string. */
const char *api_path_str(json_object *obj, const char *dotted, const char *def);
/* Annotation / label value or NULL. */
const char *api_annotation(json_object *obj, const char *key);
/* True only when the annotation is exactly "true". */
bool api_annotation_true(json_object *obj, const char *key);
const char *api_label(json_object *obj, const char *key);

/* ---- conditions (status.conditions, metav1.Condition) ---- */

struct api_condition {
	const char *type;
	const char *status;                 /* "True" | "False" | "Unknown" */
	const char *reason;                 /* CamelCase */
	const char *message;                /* may be NULL = "" */
	int64_t observed_generation;
};

/* The condition of that type in status.conditions, borrowed, or NULL.
 * `status` is the object's status (may be NULL). */
json_object *api_condition_find(json_object *status, const char *type);
/* Its "status" string, or NULL when the condition is absent. */
const char *api_condition_status(json_object *status, const char *type);
bool api_condition_is_true(json_object *status, const char *type);
/* Set or add the condition in status.conditions (creating the array).
 * lastTransitionTime (RFC 3339 from now_unix_sec) is set on a new condition
 * and changed only when status changes; reason, message and
 * observedGeneration are updated in place. Returns 1 when something
 * changed, 0 when the condition was already exactly so, -EINVAL on bad
 * arguments. Order of existing conditions is kept; new ones are appended. */
int api_condition_set(json_object *status, const struct api_condition *c, int64_t now_unix_sec);
/* Remove the condition of that type: 1 removed, 0 absent. */
int api_condition_remove(json_object *status, const char *type);

#endif
