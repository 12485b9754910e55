/* Deleting an InferenceCluster (finalizer modelcache.dev/cleanup): what the
 * caches put on that cluster goes with it. Every hydration Job and token
 * Secret copy the operator composed there (labels managed-by +
 * modelcache.dev/cache) is deleted, and every cache volume whose ModelCache
 * has deletionPolicy Delete (or no longer exists); volumes of Retain caches
 * stay. The caches drop the cluster from their status (a terminating
 * InferenceCluster is matched by no cache). A cluster that was connected and
 * no longer answers keeps the finalizer, with condition CleanupBlocked
 * saying so; one this process never reached (wrong credentials) is let go
 * with a warning in the log. */
#ifndef MC_CONTROLLERS_INFERENCECLUSTER_FINALIZE_H
#define MC_CONTROLLERS_INFERENCECLUSTER_FINALIZE_H

#include <json-c/json.h>
#include <stddef.h>

#include "cache/informer.h"
#include "manager/manager.h"

enum ic_cleanup {
	IC_CLEANUP_DONE = 0,   /* nothing of the caches left there */
	IC_CLEANUP_WAIT,       /* informers not synced yet: requeue soon */
	IC_CLEANUP_BLOCKED,    /* the cluster does not answer: msg says so */
	IC_CLEANUP_ERROR,      /* a delete failed: msg says which */
};

/* Removes the caches' objects from cluster `name`; mcs: the ModelCache
 * informer (deletion policies). */
enum ic_cleanup ic_cleanup_cluster(struct manager *m, struct informer *mcs, const char *name, char *msg, size_t n);

#endif
