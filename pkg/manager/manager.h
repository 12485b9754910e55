/* Manager: owns the control-plane client, the process's watch thread, the
 * shared informers, the cluster registry, the event recorder, the HTTP
 * servers, leader election and the controllers (controller-runtime's
 * Manager).
 *
 * Start order (mgr_run): HTTP servers (/healthz, /readyz, /metrics) ->
 * control-plane informers (wait until synced; /readyz turns 200) -> leader
 * election (when enabled; blocks until leading) -> controllers' workers.
 * SIGTERM/SIGINT: stop taking work, finish in-flight reconciles (30 s),
 * release the lease, stop informers and clusters, join every thread,
 * return 0. Losing the lease: stop the controllers and return 1.
 *
 * Setup (before mgr_run, from the main thread): a reconciler package
 * exposes `int X_controller_setup(struct manager *m, const struct
 * operator_options *o)` that creates its struct ctrl, registers it with
 * mgr_add_controller, and wires its watches with mgr_informer +
 * informer_add_handler (control plane) and mgr_watch_clusters (every
 * InferenceCluster). */
#ifndef MC_MANAGER_MANAGER_H
#define MC_MANAGER_MANAGER_H

#include <stdbool.h>

#include "cache/informer.h"
#include "controller/controller.h"
#include "controller/events.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/watch.h"
#include "manager/options.h"
#include "manager/registry.h"

struct manager;

/* Loads the kubeconfig (o->kubeconfig, $KUBECONFIG, ~/.kube/config,
 * in-cluster) and builds the client; *errmsg (malloc'd) on failure. o is
 * copied (its strings are borrowed: keep argv alive). */
int mgr_new(const struct operator_options *o, struct manager **out, char **errmsg);
void mgr_free(struct manager *m);

const struct operator_options *mgr_options(struct manager *m);
struct kube_client *mgr_client(struct manager *m);         /* the control plane */
const struct kube_config *mgr_config(struct manager *m);
struct kube_watch_mux *mgr_watch_mux(struct manager *m);
struct registry *mgr_clusters(struct manager *m);
struct events *mgr_events(struct manager *m);              /* control-plane events */

/* Shared control-plane informer for (resource, ns (NULL = all), label
 * selector (NULL = all)); created on first call, started by mgr_run (or at
 * once when already running). Borrowed; lives as long as the manager. */
struct informer *mgr_informer(struct manager *m, const struct kube_resource *res,
			      const char *ns, const char *label_selector);
/* The manager owns c from now on (starts it when leading, stops, frees). */
int mgr_add_controller(struct manager *m, struct ctrl *c);
/* fn(ctx) is called by mgr_free after every controller, informer and
 * cluster is gone (free a reconciler's context here). LIFO order. */
int mgr_add_cleanup(struct manager *m, void (*fn)(void *ctx), void *ctx);
/* fn(ctx) is called first when mgr_run shuts down (or by mgr_free when
 * mgr_run never ran), before controllers, informers and clusters stop:
 * stop servers that read the informer caches here. LIFO order, once. */
int mgr_add_stopper(struct manager *m, void (*fn)(void *ctx), void *ctx);
/* registry_add_watch on the manager's registry. */
int mgr_watch_clusters(struct manager *m, const struct kube_resource *res,
		       const char *label_selector, ctrl_map_fn map, void *mctx, struct ctrl *c);

/* Blocks until SIGTERM/SIGINT (returns 0) or a fatal condition such as a
 * lost lease (returns 1). Signals must be blocked in every thread: call
 * mgr_block_signals() first thing in main, before any thread exists. */
int mgr_run(struct manager *m);
void mgr_block_signals(void);
/* Ask mgr_run to stop as if SIGTERM arrived (tests, fatal errors). */
void mgr_request_stop(struct manager *m, int exit_code);

bool mgr_is_leader(struct manager *m);
bool mgr_caches_synced(struct manager *m);

#endif
