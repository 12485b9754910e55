/* Pure decisions of the ModelDeployment reconciler (docs/concepts.md
 * "ModelDeployment"): the GPU inventory of a cluster from its Nodes and
 * Pods, the memory inputs from the spec and the engine arguments, the
 * status with its conditions, and when the cache's lastUsedTime is due.
 * No I/O, no clock (the time is passed in). Borrowed json-c inputs. */
#ifndef MC_CONTROLLERS_MODELDEPLOYMENT_DECIDE_H
#define MC_CONTROLLERS_MODELDEPLOYMENT_DECIDE_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimate/arch.h"
#include "placement/placement.h"

/* GPUs held on a node by something other than its pods (e.g. another
 * ModelDeployment's placements whose pods may not exist yet). */
struct md_reservation {
	const char *node;   /* borrowed */
	int gpus;
};

/* The GPU nodes of one cluster. Owns the strings its nodes point to. */
struct md_inventory {
	struct placement_node *nodes;
	size_t n;
	char **strs;        /* owned strings (names, products) */
	size_t nstrs;
	int64_t total_gpus, free_gpus;
};

/* nvidia.com/gpu requested by a pod (requests, else limits; the larger of
 * the containers' sum and any init container). */
int md_pod_gpus(json_object *pod);
/* Does the pod hold its node's resources (bound, not Succeeded/Failed)? */
bool md_pod_active(json_object *pod);

/* Nodes: Nodes with allocatable nvidia.com/gpu (or nvidia.com/gpu.count), GPU
 * memory from nvidia.com/gpu.memory (MiB); a node that is unschedulable or
 * not Ready offers none. When the InferenceCluster declares spec.gpus, the
 * declared memory / unifiedMemory override the labels for nodes of that
 * product (the only pool: every GPU node), and a cluster without GPU Nodes
 * gets the declared nodes (named "<product>-<i>", all GPUs free).
 * Free = allocatable - GPUs of the active pods on the node that do NOT carry
 * the modelcache.dev/deployment label - reservations. Unified memory in use
 * = memory requests of those pods. Limit: PLACEMENT_MAX_NODES. 0 / -E2BIG. */
int md_inventory_build(json_object *ic, json_object *nodes, json_object *pods, const struct md_reservation *res,
		       size_t nres, struct md_inventory *out);
void md_inventory_cleanup(struct md_inventory *inv);

/* What the spec and the engine arguments say about memory and topology. */
struct md_sizing {
	int64_t context;            /* tokens used for the KV cache */
	int64_t sequences;
	int tensor, pipeline, nodes;   /* explicit (0 = decide) */
	double utilization;
	char kv_dtype[24];          /* "" = the model's */
	bool llamacpp;              /* engine: llama.cpp (command or image says so) */
};
/* 0, or -EINVAL with *msg (malloc'd) for an invalid engine argument value or
 * a topology that contradicts the arguments (InvalidTopology). */
int md_sizing_from_spec(json_object *md, const struct model_arch *arch, struct md_sizing *out, char **msg);

/* Is a lastUsedTime update due (absent, unparsable, or older than an hour)? */
bool md_last_used_due(json_object *mc, int64_t now_s);

/* Inputs of the status (docs/concepts.md "ModelDeployment"). */
struct md_status_in {
	json_object *md;              /* generation and the previous status */
	int64_t now_s;
	const char *invalid;          /* non-NULL: Valid=False/Invalid, nothing else */
	/* ModelCacheResolved: status True/False, reason, message */
	const char *cache_status, *cache_reason, *cache_message;
	/* CacheReady */
	const char *ready_status, *ready_reason, *ready_message;
	/* Scheduled */
	const char *sched_status, *sched_reason, *sched_message;
	json_object *estimate;        /* borrowed or NULL */
	json_object *placements;      /* borrowed array or NULL */
	int64_t desired, ready;       /* replicas */
	/* a workload that cannot make progress (md_workload_failure), or NULL:
	 * its reason and message explain Available=False */
	const char *workload_reason, *workload_message;
};
/* Conditions Valid, ModelCacheResolved, CacheReady, Scheduled, Available,
 * Ready (= Available), Stalled (True when only a user action helps: an
 * invalid spec or an InvalidTopology). lastTransitionTime moves only when a
 * condition's status changes. */
int md_status_compute(const struct md_status_in *in, json_object **out);
/* Why a Deployment cannot make progress, as its controller reports it:
 * ReplicaFailure=True (its ReplicaSet cannot create or delete pods, e.g.
 * reason FailedCreate with the apiserver's refusal: PodSecurity, a quota, a
 * missing ServiceAccount) or Progressing=False (ProgressDeadlineExceeded).
 * Only for the Deployment's current generation. Returns the reason (borrowed
 * from deploy) and sets *message, or NULL. */
const char *md_workload_failure(json_object *deploy, const char **message);
/* The status keys the reconciler owns (NULL-terminated). */
extern const char *const md_status_keys[];
/* Are the owned keys of two status objects equal? */
bool md_status_equal(json_object *a, json_object *b);

/* status.placements <-> slots: slots borrow from the json (free the array
 * with md_slots_free; the strings stay the json's). */
struct placement_slot *md_slots_from_status(json_object *placements, size_t *n);
void md_slots_free(struct placement_slot *s, size_t n);
/* A new status.placements array from a result. */
json_object *md_placements_json(const struct placement_result *r);

#endif
