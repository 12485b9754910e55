/* InferenceCluster status from what the controller observed
 * (docs/concepts.md, "InferenceCluster"). PURE: no I/O; the time is passed
 * in (Unix seconds).
 *
 * status_ic_compute writes into `status` (the previous status, updated in
 * place): observedGeneration, the conditions Valid (only while invalid),
 * Connected and Ready, version, gpuPools and cache. Ready, first rule that
 * holds:
 *   False/Invalid             the spec is invalid (Connected Unknown)
 *   False/<Connected reason>  not connected
 *   False/NamespaceFailed     the target namespace could not be made
 *   False/Discovering         no GPU pools known yet, the Nodes are being listed
 *   False/StorageClassMissing the cache storage class does not exist there
 *   True/Ready                "<n> GPU pool(s)"
 * gpuPools and cache keep their previous value when the input is NULL (not
 * observed this time). */
#ifndef MC_STATUS_INFERENCECLUSTER_H
#define MC_STATUS_INFERENCECLUSTER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct api_inferencecluster;

struct status_ic_in {
	const char *cluster;          /* the InferenceCluster's name */
	const char *invalid;          /* NULL, or why the spec is invalid */
	const char *conn_status;      /* Connected: "True" / "False" / NULL (Unknown) */
	const char *conn_reason;      /* NULL = "Unknown" */
	const char *conn_message;     /* NULL = "" */
	const char *version;          /* the server's version, when connected */
	const char *namespace_error;  /* NULL, or why the target namespace failed */
	bool storage_class_missing;
	const char *storage_class;
	json_object *gpu_pools;       /* taken; NULL: not observed (keep the previous) */
	bool pools_pending;           /* the Nodes are still being listed */
	json_object *cache;           /* taken; NULL: not observed (keep the previous) */
};

void status_ic_compute(json_object *status, const struct status_ic_in *in, int64_t generation,
		       int64_t now_unix_sec);

/* The cache volumes of a cluster, summed one at a time. */
struct status_ic_usage {
	int64_t used_bytes;     /* requested sizes, saturating */
	int64_t caches;
};
/* Count one cache volume (a PVC); one being deleted is not counted. */
void status_ic_usage_add(struct status_ic_usage *u, json_object *pvc);

/* status.cache: {storageClassName, capacityBytes, reserveBytes, capacity,
 * maxCaches, usedBytes, used, caches}; u NULL = no volume known yet. */
json_object *status_ic_cache(const struct api_inferencecluster *ic, const struct status_ic_usage *u);

#endif
