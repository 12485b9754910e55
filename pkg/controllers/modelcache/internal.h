/* The ModelCache reconciler's parts, shared by the files of this directory
 * (not a public header). One file per concern:
 *
 *   modelcache.c  setup and the top-level reconcile: a list of named steps
 *   watches.c     what maps InferenceCluster, Secret and ModelDeployment
 *                 events to the caches concerned; ModelDeployment lookups
 *   estimate.c    the estimate cache (one Hub estimate per source and token)
 *   source.c      steps "resolve auth" and "resolve size" (the authSecret,
 *                 the volume size, definitive source errors)
 *   cluster.c     step "per cluster": precheck, observe, compose, apply,
 *                 the hydration Job (its decisions: status_plan_job)
 *   capacity.c    step "admit" within it: a cluster's capacity budget, LRU
 *                 eviction, bring-back (its decision: capacity_admit)
 *   cleanup.c     steps "delete" and "clean up unmatched"
 *   publish.c     status writes, events, metrics, the finalizer
 *
 * Every step takes the reconcile's context (struct rec) and records what it
 * found there; the decisions themselves are pure functions in pkg/status
 * and pkg/compose, tested as tables. */
#ifndef MC_CONTROLLERS_MODELCACHE_INTERNAL_H
#define MC_CONTROLLERS_MODELCACHE_INTERNAL_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "controller/controller.h"
#include "kube/client.h"
#include "kube/errors.h"
#include "manager/manager.h"
#include "status/status.h"
#include "util/clock.h"
#include "util/hmap.h"
#include "util/names.h"

#define ESTIMATE_FAILURE_TTL_MS (5 * 60 * 1000)   /* a definitive source error is asked again after this */
#define ESTIMATE_RETRY_BASE_MS (10 * 1000)        /* a transient one after 10 s, 20 s, ... up to the above */
#define REQUEUE_NOT_SYNCED_MS 500
#define REQUEUE_BLOCKED_MS 5000
#define ESTIMATORS 4                     /* estimates running at once (estimate.c) */
#define ESTIMATE_TIMEOUT_MS (120 * 1000) /* then its caches proceed as for a Hub outage */

struct est_entry;
struct est_job;
struct ctrl_memo;
struct counted;
struct mc_capacity;

/* The reconciler: lives as long as the process (informer handlers and the
 * controller keep pointers to it until the manager has stopped them). */
struct mcr {
	struct manager *m;
	struct ctrl *c;
	const struct mclock *clock;
	struct informer *mcs, *ics, *secrets, *mds;   /* mds NULL when ModelDeployments are not served */
	char *image, *hf_endpoint;
	int64_t default_size;
	int64_t retry_base_ms;                        /* first backoff of a failed hydration */
	pthread_mutex_t mu;                           /* guards what follows */
	struct hmap ests;                             /* estimate key -> struct est_entry */
	struct est_job *est_queue;                    /* queued and running estimates */
	pthread_cond_t est_cv;
	bool est_stop;
	int est_alive;                                /* estimator threads running */
	struct ctrl_memo *memo;                       /* the status last written per cache */
	struct counted *counted;
	struct mc_capacity *cap;                      /* admission locks and evictions (capacity.c) */
	struct informer_handler ic_h, sec_h, md_h;
};

/* The estimate of one source, as cached (estimate.c). */
struct est_entry {
	char *key;
	int rc;                 /* 0 ok, else an estimate_err */
	char *msg;              /* failure reason */
	int64_t download_bytes, weight_bytes;
	int64_t files;
	char format[32], method[32], strategy[48];
	bool used_fallback;
	char *commit;
	uint64_t at_ms;
	unsigned failures;      /* consecutive transient failures of this source */
	struct est_entry *next;
};

/* One reconcile of one ModelCache: what the steps found and decided. */
struct rec {
	struct mcr *r;
	const char *key;
	json_object *mc;         /* the informer's copy (owned) */
	struct api_modelcache spec;   /* its typed view, parsed once (borrows from mc) */
	int spec_rc;             /* 0, or the spec is invalid: spec_msg says why */
	char *spec_msg;
	const char *ns, *name, *uid;
	char pvc_name[CHILD_NAME_MAX + 1], job_name[CHILD_NAME_MAX + 1], auth_name[CHILD_NAME_MAX + 1];
	int64_t now_ms, now_s;   /* wall clock (the reconciler's), read once per reconcile */
	json_object *memo;       /* the status we wrote last (owned) or NULL */
	json_object *prev;       /* previous status: memo, else observed (borrowed) */

	/* resolve auth */
	bool auth;               /* authSecret configured */
	const char *token_b64;   /* the source Secret's value (base64, borrowed from secret) or NULL */
	char *token;             /* the same in clear for the Hub (never logged) */
	char *auth_message;      /* authSecret configured but missing */
	json_object *secret;     /* the source Secret (owned) */

	/* resolve size */
	struct est_entry *est;   /* the estimate (owned copy) or NULL */
	json_object *estimate;   /* status.estimate (owned) or NULL */
	enum status_size size_state;
	char *size_msg;
	int64_t size_bytes, weight_bytes;
	int64_t volume_bytes;        /* the largest volume request composed (status.size) */
	const char *source_reason;   /* a definitive source error, see source.c */
	bool estimating;             /* the estimate is running: nothing is decided yet */

	/* match clusters */
	json_object *ics;        /* every InferenceCluster (owned list) */
	json_object **matched;   /* borrowed from ics, sorted by name */
	size_t nmatched;

	/* per cluster */
	json_object *clusters;   /* the new status.clusters[] (owned) */

	uint64_t requeue_ms;     /* 0 = none */
	bool error;
	unsigned nerrors;
	char errbuf[256];
};

bool mc_streq(const char *a, const char *b);
void rec_want_requeue(struct rec *x, uint64_t ms);
void rec_set_error(struct rec *x, const char *what, const char *cluster, const struct kube_error *err);

/* watches.c */
int mc_watches_setup(struct mcr *r);   /* indexes and handlers; 0 or -1 */
char *md_users(struct mcr *r, const char *ns, const char *name);
bool md_serves_on(struct mcr *r, const char *ns, const char *name, const char *cluster);
/* A live ModelDeployment referencing ns/name has a placement on cluster;
 * *demanded_s (optional) = the newest creation time of those. */
bool md_placed_on(struct mcr *r, const char *ns, const char *name, const char *cluster, int64_t *demanded_s);

/* estimate.c: a copy of the cached entry for the spec; NULL with *pending
 * while it is being estimated (cache_key is enqueued when it is done). */
struct est_entry *estimate_for(struct mcr *r, const struct api_modelcache *spec, const char *token, const char *cache_key,
			       bool *pending);
void est_free(struct est_entry *e);
int estimators_start(struct mcr *r);
void estimators_stop(void *mcr);   /* a manager stopper */
/* After the stop: frees the estimate state once every estimator has
 * returned (waits up to 3 s); false when one still waits for the Hub. */
bool estimators_free(struct mcr *r);
void publish_state_free(struct mcr *r);

/* source.c */
void step_resolve_auth(struct rec *x);
void step_resolve_size(struct rec *x);

/* cluster.c: *entry = the cluster's status.clusters[] entry */
void step_cluster(struct rec *x, json_object *ic, json_object **entry);
/* The cluster informers of the composed kinds; false when one is not synced yet. */
struct cinf {
	struct informer *pvcs, *jobs, *secs, *nss;
};
bool cluster_informers(struct cluster *cl, bool remote, struct cinf *ci);
json_object *observe(struct informer *inf, const char *ns, const char *name);   /* owned copy or NULL */
/* DELETE with background propagation; a 404 is success. */
int delete_obj(struct kube_client *kc, const struct kube_resource *res, const char *ns, const char *name,
	       struct kube_error *err);

/* capacity.c: step "admit", run before anything is composed on a cluster.
 * False: compose nothing there; the entry is then computed from *st, which
 * says Evicted (evicted, evicted_message) or InsufficientCapacity
 * (capacity_message), or neither after a write error (x->error). True:
 * compose; when the decision was taken under the cluster's admission lock,
 * hold->mu is held and admit_release must follow the PVC apply. */
struct admit_in {
	json_object *ic;
	struct kube_client *kc;
	bool local;                 /* the operator's own cluster (volumes in every namespace) */
	const char *tns;            /* the target namespace there */
	json_object *pvc;           /* the cache's observed volume there, or NULL */
	json_object *prev_entry;    /* its previous status.clusters[] entry, or NULL */
	struct status_cluster_in *st;
	int64_t *size_bytes;        /* the volume size to compose (kept when it cannot grow) */
};
struct admit_hold {
	pthread_mutex_t *mu;        /* the cluster's admission lock, while held */
	char *message;              /* what st points at (owned) */
};
struct mc_capacity *mc_capacity_new(void);
void mc_capacity_free(struct mc_capacity *c);
bool step_admit(struct rec *x, const struct admit_in *in, struct admit_hold *hold);
void admit_release(struct admit_hold *hold);          /* unlock (idempotent) */
void admit_hold_cleanup(struct admit_hold *hold);     /* unlock and free */

/* cleanup.c: 0 = nothing of the cache left on the cluster, 1 = cannot be
 * reached (blocked), <0 a write error */
int cleanup_cluster(struct rec *x, const char *cname, bool keep_pvc);
int step_delete(struct rec *x, struct ctrl_result *res);
void step_cleanup_unmatched(struct rec *x);

/* publish.c */
bool count_once(struct mcr *r, const char *uid, const char *cluster, const char *reason);
void metric_bypass(const char *reason);
bool has_finalizer(json_object *mc);
int patch_finalizers(struct mcr *r, json_object *mc, bool add);
int publish(struct rec *x, json_object *st);
int publish_condition(struct rec *x, const char *type, const char *status, const char *reason, const char *message);
/* status_compute of si, then publish: 0 or -EIO */
int publish_status(struct rec *x, const struct status_in *si);

#endif
