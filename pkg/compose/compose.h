/* Desired objects for a ModelCache on one InferenceCluster (docs/concepts.md, "Composition").
 *
 * PURE functions: no I/O, no clock. Inputs are borrowed json-c objects (a
 * ModelCache and an InferenceCluster as read from the API); every object
 * returned through `out` is the caller's to json_object_put(). Each composed
 * object carries the labels of docs/concepts.md "Names" and the annotation
 * modelcache.dev/desired-hash = SHA-256 of its canonical JSON (sorted keys,
 * compact) computed without that annotation, so a reconciler writes only when
 * the observed annotation differs.
 *
 * The caller resolves everything that needs I/O or policy beforehand: the
 * PVC size (spec.size, the estimate or the default; never below what the
 * cluster already has), the hydrator image, whether the token copy exists. */
#ifndef MC_COMPOSE_COMPOSE_H
#define MC_COMPOSE_COMPOSE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#define COMPOSE_ANN_ATTEMPT "modelcache.dev/attempt"
#define COMPOSE_ANN_BACKOFF_FROM "modelcache.dev/backoff-from"
#define COMPOSE_ANN_SIZE_SOURCE "modelcache.dev/size-source"   /* "default": --default-cache-size */
#define COMPOSE_ANN_ARTIFACT "modelcache.dev/artifact"
#define COMPOSE_MOUNT "/mnt/artifact"
#define COMPOSE_JOB_BACKOFF_LIMIT 3
#define COMPOSE_JOB_TTL_S 180
#define COMPOSE_UID 65532

struct api_modelcache;

struct compose_input {
	json_object *mc;            /* ModelCache (borrowed) */
	const struct api_modelcache *spec;   /* its typed view (api_modelcache_from_json, parsed
	                             * once by the caller); NULL: compose parses mc */
	json_object *ic;            /* InferenceCluster (borrowed) */
	int64_t size_bytes;         /* PVC storage request, bytes (> 0) */
	const char *hydrator_image; /* required */
	const char *hf_endpoint;    /* NULL/"" = no HF_ENDPOINT env */
	bool with_auth;             /* the token Secret copy exists: Job env HF_TOKEN from it */
	unsigned attempt;           /* annotation modelcache.dev/attempt on the Job; 0 => 1 */
	bool size_default;          /* size_bytes is --default-cache-size (the estimate failed): the
	                             * PVC says so (modelcache.dev/size-source: default) */
	unsigned backoff_from;      /* modelcache.dev/backoff-from (the attempt the retry backoff
	                             * counts from), written when below attempt; 0 => attempt */
	const char *retry;          /* the ModelCache's modelcache.dev/retry value, copied onto the
	                             * Job (a new value => a new Job); NULL = none */
};

/* Is the cluster the one the operator runs in (spec.connection.local)? */
bool compose_cluster_is_local(json_object *ic);
/* Namespace of the cache's objects on that cluster: the ModelCache's own
 * namespace on a local cluster, else spec.namespace (default "modelcache").
 * Borrowed from mc or ic (or a static default). */
const char *compose_target_namespace(json_object *mc, json_object *ic);
/* The storage class for caches on that cluster (borrowed). */
const char *compose_storage_class(json_object *ic);

/* What the volume holds: the first 16 hex chars of SHA-256 over the
 * canonical {repo, revision, include, exclude}. Stamped on the PVC
 * (annotation modelcache.dev/artifact) so a changed source is hydrated
 * again instead of staying Ready. out >= 17 bytes. */
void compose_artifact_id(json_object *mc, char out[17]);
void compose_artifact_id_of(const struct api_modelcache *spec, char out[17]);   /* the typed view */

/* PVC size from estimated download bytes: x 1.15, rounded up to whole GiB
 * (at least 1 GiB). 0 or -ERANGE. */
int compose_size_from_download(int64_t download_bytes, int64_t *out);

/* spec.size in bytes: an integer or a quantity string. 0 with *bytes > 0;
 * -ENOENT with *bytes = 0 when absent, not positive or not a quantity. */
int compose_spec_size(json_object *mc, int64_t *bytes);

/* spec.huggingFace.include / .exclude as borrowed strings (at most max of
 * each; non-arrays count as empty), in the order the estimator takes them.
 * spec.huggingFace.files: All without include patterns gives the include
 * pattern "*" (every file); otherwise no include means the Auto selection. */
void compose_hf_filters(json_object *mc, const char **inc, size_t *ninc, const char **exc, size_t *nexc,
			size_t max);
void compose_hf_filters_of(const struct api_modelcache *spec, const char **inc, size_t *ninc, const char **exc,
			   size_t *nexc, size_t max);   /* the typed view */

/* Remote clusters only: *out = the Namespace; on a local cluster *out = NULL
 * (nothing to compose) and 0 is returned. */
int compose_namespace(const struct compose_input *in, json_object **out);
/* The Namespace a remote cluster's objects live in, by name (the one
 * composition of it: the ModelCache and InferenceCluster controllers both
 * use it). */
int compose_namespace_named(const char *name, json_object **out);
int compose_pvc(const struct compose_input *in, json_object **out);
/* Copy of the token: token_b64 is the base64 value as read from the source
 * Secret's data (non-empty); stored under key HF_TOKEN. */
int compose_auth_secret(const struct compose_input *in, const char *token_b64, json_object **out);
int compose_job(const struct compose_input *in, json_object **out);

/* Compute and set metadata.annotations[modelcache.dev/desired-hash] on obj;
 * the hash covers the object without that annotation. hex >= 65 bytes or NULL. */
int compose_set_hash(json_object *obj, char *hex);
/* Does `observed` carry the same desired-hash as `desired`? */
bool compose_hash_matches(json_object *desired, json_object *observed);

#endif
