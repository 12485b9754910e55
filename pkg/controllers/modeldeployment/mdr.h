/* Internals shared by the ModelDeployment reconciler's files (md__ names). */
#ifndef MC_CONTROLLERS_MODELDEPLOYMENT_MDR_H
#define MC_CONTROLLERS_MODELDEPLOYMENT_MDR_H

#include <json-c/json.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "controllers/modeldeployment/decide.h"
#include "estimate/arch.h"
#include "manager/manager.h"
#include "util/clock.h"
#include "util/names.h"

#define MD_SEL_MANAGED "app.kubernetes.io/managed-by=modelcache-operator"
#define MD_REQUEUE_NOT_SYNCED_MS 500
#define MD_REQUEUE_BLOCKED_MS 5000
#define MD_LWS_RECHECK_MS 60000      /* discovery of LeaderWorkerSets per cluster */
#define MD_NOT_LISTED_REPORT_S 30    /* a cluster not listing for that long is reported */

struct md__estimator;
struct ctrl_memo;
struct md__lws_seen;
struct md__attached;
struct md__used;

struct mdr {
	struct manager *m;
	struct ctrl *c;
	const struct mclock *clock;
	struct informer *mds, *mcs, *ics, *secrets;
	char *hf_endpoint;
	pthread_mutex_t mu;          /* lws, attached, used */
	pthread_mutex_t place_mu;    /* one placement decision at a time (free GPUs are shared) */
	struct ctrl_memo *memos;     /* the status last written per key */
	struct md__lws_seen *lws;
	struct md__attached *attached;
	struct md__used *used;       /* lastUsedTime written per cache (reconcile.c) */
	struct md__used *unlisted;   /* since when a deployment waits for a cluster to list */
	struct md__estimator *est;
	struct informer_handler self_h, mc_h, ic_h;
};

/* ---- estimator.c: model facts from the Hub, off the workers ---- */
struct md__facts {
	int rc;                      /* 0, or an estimate_err */
	int64_t weight_bytes;
	struct model_arch arch;
	char msg[256];               /* failure reason */
};
int md__estimator_new(struct mdr *r, struct md__estimator **out);
void md__estimator_halt(void *est);     /* no new work (manager stopper) */
void md__estimator_free(void *est);     /* joins the thread; frees (manager cleanup) */
/* 0 with *out filled; -EAGAIN when the estimate runs now (md_key is
 * enqueued when it is done). token may be NULL (never logged). */
int md__estimator_get(struct md__estimator *e, const char *repo, const char *revision, json_object *include,
		      json_object *exclude, const char *token, const char *md_key, struct md__facts *out);

/* ---- clusters.c: observation and writes on one cluster ---- */
struct md__obs {
	struct cluster *cl;          /* acquired (NULL: unknown cluster) */
	bool synced;                 /* informers listed */
	bool lws;                    /* serves leaderworkerset.x-k8s.io/v1 */
	struct md_inventory inv;
	json_object *deploy, *lwsobj;   /* observed workloads (owned) */
	const char *ns;              /* target namespace (borrowed from md/ic) */
};
/* res: GPUs other deployments hold on this cluster's nodes. */
void md__observe(struct mdr *r, json_object *md, json_object *ic, const struct md_reservation *res, size_t nres,
		 struct md__obs *o);
void md__obs_cleanup(struct md__obs *o);
/* Apply a desired workload when its hash differs (NULL desired: delete the
 * observed one). 0 or negative; *msg names the failure. */
int md__apply(struct mdr *r, struct md__obs *o, const struct kube_resource *res, json_object *desired,
	      json_object *observed, const char *name, char *err, size_t errn);
/* Delete this deployment's workloads on cluster cname. 0 gone, 1 cluster
 * unreachable (retry), < 0 error. */
int md__cleanup_cluster(struct mdr *r, const char *cname, json_object *md);
/* Attach the owner map to this cluster's LeaderWorkerSet informer once. */
void md__watch_lws(struct mdr *r, struct informer *inf);
/* Discovery answers and LeaderWorkerSet handlers (after the informers stopped). */
void md__clusters_free(struct mdr *r);

/* ---- modeldeployment.c ---- */
json_object *md__memo_get(struct mdr *r, const char *key, const char *uid);
void md__memo_put(struct mdr *r, const char *key, const char *uid, json_object *status);
void md__enqueue_all(struct mdr *r);
int md__map_owner(void *mctx, json_object *obj, char *out, size_t n);

/* ---- reconcile.c ---- */
int md__reconcile(void *ctx, const char *key, struct ctrl_result *res);
void md__used_free(struct mdr *r);

#endif
