/* Internals shared by the behave*.c files (not for the HTTP layer); cross-file
 * names carry the double prefix behave__. */
#ifndef KUBESIM_BEHAVE_INT_H
#define KUBESIM_BEHAVE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "behave.h"

enum bq_kind {
	BQ_PVC,        /* reconcile the PVC ns/name */
	BQ_PVC_GONE,   /* a PVC was deleted: arg = host dir, name = PV name */
	BQ_SC,         /* a StorageClass appeared: retry pending PVCs */
	BQ_JOB,        /* reconcile the Job ns/name */
	BQ_DEPLOY,     /* reconcile the Deployment ns/name */
	BQ_LWS,        /* reconcile the LeaderWorkerSet ns/name */
};

struct bq_item {
	enum bq_kind kind;
	char *ns, *name, *arg;
	uint64_t due_ms;       /* monotonic */
	struct bq_item *next;
};

struct pod_runner {
	struct behave *b;
	pthread_t th;
	char *ns, *name, *uid, *job_uid;
	json_object *pod;      /* the Pod as created (owned, runner thread only) */
	/* under b->mu: */
	int kill;              /* deletion requested */
	uint64_t kill_at_ms;   /* when kill was requested (monotonic) */
	pid_t pids[16];        /* running containers (process group leaders) */
	int npids;
	int done;              /* thread finished: join it */
	struct pod_runner *next;
};

struct behave {
	struct sim *s;
	int bind_pvcs, run_jobs, ready_deployments;
	char *data_dir, *bin_dir;
	int sub_id;
	pthread_mutex_t mu;
	pthread_cond_t cv;     /* CLOCK_MONOTONIC; queue changes and stop */
	int stop;
	struct bq_item *q;
	pthread_t worker;
	struct pod_runner *runners;
	struct job_seen *seen;  /* worker thread only */
};

/* when the Job controller last saw a Job's failed count grow (retry delay) */
struct job_seen {
	char *uid;
	int64_t failed;
	uint64_t at_ms;         /* monotonic */
	struct job_seen *next;
};

/* queue (behave.c) */
void behave__enqueue(struct behave *b, enum bq_kind kind, const char *ns, const char *name, const char *arg,
		    uint64_t delay_ms);
/* Sleep up to ms; returns 1 when the behaviours are stopping (or *flag, read
 * under b->mu, became non-zero), 0 otherwise. flag may be NULL. */
int behave__sleep(struct behave *b, uint64_t ms, const int *flag);

/* helpers (behave.c) */
json_object *behave__get(json_object *o, const char *key);          /* borrowed child or NULL */
const char *behave__str(json_object *o, const char *key);          /* string child or NULL */
json_object *behave__path(json_object *o, const char *dotted);   /* borrowed, "a.b.c" */
int64_t behave__now_sec(struct behave *b);                  /* the sim's wall clock */
void behave__now(struct behave *b, char out[32]);
/* merge-patch obj's subresource ("status" or NULL) with patch (borrowed) */
int behave__patch(struct behave *b, const char *group, const char *version, const char *resource, const char *ns,
		 const char *name, const char *subresource, json_object *patch, const char *manager);
int behave__mkdirs(const char *path, mode_t mode);          /* mkdir -p; 0 or -errno */
int behave__rmtree(const char *path);                       /* rm -rf; 0 or -errno */

/* behaviours */
void behave__pvc_reconcile(struct behave *b, const char *ns, const char *name);
void behave__pvc_gone(struct behave *b, const char *pv_name, const char *host_dir);
void behave__sc_changed(struct behave *b);
void behave__job_reconcile(struct behave *b, const char *ns, const char *name);
void behave__deploy_reconcile(struct behave *b, const char *ns, const char *name, int lws);

/* pods (behave_pod.c) */
int behave__pod_start(struct behave *b, json_object *pod /* borrowed, as created */, const char *job_uid);
void behave__pod_kill(struct behave *b, const char *pod_uid, const char *job_uid); /* either may be NULL */
void behave__pods_reap(struct behave *b, int all);          /* join finished runners (all: every runner) */

#endif
