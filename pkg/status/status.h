/* ModelCache status from observed objects (docs/concepts.md, "Phases", "Conditions and events").
 *
 * PURE functions: no I/O; the time is passed in (Unix seconds). Borrowed
 * json-c inputs; objects returned through `out` are the caller's to put.
 *
 * Per cluster (status_cluster), first rule that holds:
 *   Skipped   VRAM precheck failed (reason InsufficientVRAM, byte counts)
 *   Evicted   removed for capacity (message: why, with the numbers)
 *   Pending   reason InsufficientCapacity: the cache does not fit the
 *             cluster's budget and nothing is composed there
 *   Failed    Job condition Failed=True (message = hydrator's termination message)
 *   Ready     PVC Bound and (Job Complete=True or previously Ready: a latch)
 *   Hydrating PVC Bound
 *   Pending   otherwise (a Ready cluster whose PVC is gone or Lost comes back here,
 *             reason VolumeLost, and the latch is released)
 * lastTransitionTime changes only when the phase changes; attempts comes from
 * the Job's modelcache.dev/attempt annotation, else the previous entry.
 *
 * Whole status (status_compute): observedGeneration, resolvedRevision,
 * size (the volume size, shown in the SIZE column), estimate, summary.ready "<Ready>/<matched>", clusters and the conditions
 * Valid, ClustersMatched, SizeEstimated, ArtifactReady (reason Evicted when
 * every cluster that is not Ready is Evicted or Skipped, at least one Evicted) (+ CleanupBlocked while
 * a deletion waits for a cluster), and Ready (= ArtifactReady) and Stalled
 * (True when only a user action can change anything: invalid spec, every
 * matched cluster Skipped, a definitive source error) for GitOps tools
 * (kstatus conventions). A condition's lastTransitionTime changes
 * only when its status changes. */
#ifndef MC_STATUS_STATUS_H
#define MC_STATUS_STATUS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

enum status_phase {
	STATUS_PENDING = 0,
	STATUS_HYDRATING,
	STATUS_READY,
	STATUS_FAILED,
	STATUS_SKIPPED,
	STATUS_EVICTED,
};

const char *status_phase_str(enum status_phase p);
/* -EINVAL for an unknown name. */
int status_phase_parse(const char *s, enum status_phase *out);

struct status_cluster_in {
	const char *name;            /* InferenceCluster name */
	const char *pvc_name;        /* composed names, for the entry */
	const char *job_name;
	bool skipped;                /* VRAM precheck failed */
	int64_t estimated_bytes;     /* with skipped */
	int64_t available_bytes;
	const char *skip_message;
	bool evicted;                /* removed for capacity and not demanded since */
	const char *evicted_message; /* why, with the numbers; NULL: a generic message */
	const char *capacity_message;/* non-NULL: not admitted (Pending/InsufficientCapacity), nothing composed */
	json_object *pvc;            /* observed PVC or NULL */
	json_object *job;            /* observed Job or NULL */
	const char *failure_message; /* termination message; NULL: the Job's Failed condition message */
	const char *failure_reason;  /* from the hydrator's exit code (Unauthorized, SourceNotFound,
	                              * IntegrityError); NULL: HydrationFailed */
	bool auth_missing;           /* authSecret missing: no Job composed */
	const char *auth_message;
	json_object *prev;           /* previous status.clusters[] entry or NULL */
};

int status_cluster(const struct status_cluster_in *in, int64_t now_s, json_object **out,
		   enum status_phase *phase);
/* Phase of an existing status.clusters[] entry (Pending when unknown). */
enum status_phase status_entry_phase(json_object *entry);

/* Failed retry backoff: 1m, 2m, 4m ... capped at 1h, by attempts (>= 1). */
int64_t status_retry_delay_s(unsigned attempts);
/* For a Failed entry: is the automatic retry due at now_s? *wait_s = seconds
 * left when not (0 when due). */
bool status_retry_due(json_object *entry, int64_t now_s, int64_t *wait_s);

enum status_size {
	STATUS_SIZE_SPEC = 0,     /* spec.size: SizeEstimated True/SpecSize */
	STATUS_SIZE_ESTIMATED,    /* True/Estimated */
	STATUS_SIZE_FAILED,       /* False/EstimateFailed, message = the hub's error */
	STATUS_SIZE_PENDING,      /* Unknown/Estimating */
};

struct status_in {
	json_object *mc;               /* the ModelCache: generation, previous status */
	int64_t now_s;
	const char *invalid_message;   /* non-NULL => Valid=False/Invalid, nothing else computed */
	json_object *clusters;         /* array of status_cluster entries, matched clusters (borrowed) */
	enum status_size size;
	const char *size_message;
	json_object *estimate;         /* status.estimate (borrowed, copied) or NULL */
	const char *resolved_revision; /* or NULL */
	const char *volume_size;       /* status.size: the PVC size as a quantity, or NULL */
	const char *auth_message;      /* non-NULL: authSecret missing */
	const char *source_reason;     /* non-NULL: a definitive source error (SourceNotFound,
	                                * Unauthorized, NoFilesSelected): nothing composed */
	const char *source_message;    /* the Hub's message for it */
	const char *cleanup_blocked;   /* non-NULL: deletion waits (message names the cluster) */
};

/* The status object the operator owns. */
int status_compute(const struct status_in *in, json_object **out);

/* Are the owned fields of two status objects equal (canonical compare)? */
bool status_equal(json_object *a, json_object *b);

/* The keys of status the ModelCache controller owns (NULL-terminated). */
extern const char *const status_owned_keys[];

/* Events for the transition prev -> next (each once per transition):
 * array of {type: Normal|Warning, reason, message}. repo names the model. */
int status_events(json_object *prev, json_object *next, const char *repo, json_object **out);

/* Set condition `type` in the array conds (created when NULL in *conds),
 * keeping lastTransitionTime from prev_conds when the status is unchanged. */
void status_set_condition(json_object *conds, json_object *prev_conds, const char *type,
			  const char *status, const char *reason, const char *message,
			  int64_t generation, int64_t now_s);

#endif
