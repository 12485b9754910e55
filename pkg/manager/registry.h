/* Multi-cluster registry: one kube client (and its informers) per
 * InferenceCluster, keyed by the InferenceCluster's name.
 *
 * The InferenceCluster reconciler owns the lifecycle (registry_ensure when
 * the connection config is known, registry_remove when the InferenceCluster
 * is gone); other reconcilers only acquire/release clusters and read from
 * their informers. A cluster is rebuilt (new client, informers restarted)
 * when its config hash changes (the kubeconfig Secret changed).
 *
 * Cluster watches (registry_add_watch / mgr_watch_clusters): a (resource,
 * label selector, map, controller) registered once is applied to every
 * cluster, present and future: an informer on that cluster whose events
 * are mapped to a key and enqueued into the controller (e.g. PVCs and Jobs
 * with app.kubernetes.io/managed-by=modelcache-operator mapped to the owning
 * ModelCache with ctrl_map_by_label_keys).
 *
 * Lifetime: registry_acquire returns a reference that stays valid (client
 * and informers usable) until cluster_release, even if the cluster is
 * removed or rebuilt meanwhile. Thread-safe. */
#ifndef MC_MANAGER_REGISTRY_H
#define MC_MANAGER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

#include "cache/informer.h"
#include "controller/controller.h"
#include "kube/client.h"
#include "kube/watch.h"

struct registry;
struct cluster;

/* Called (on watch threads) when a list or watch on a cluster fails; the
 * InferenceCluster controller uses it to re-check the connection. */
typedef void (*registry_failure_fn)(void *ctx, const char *cluster, const char *reason);

struct registry_opts {
	struct kube_watch_mux *mux;         /* borrowed: the process's one watch thread */
	const struct kube_client_opts *client_opts;   /* borrowed template (qps, hooks) */
	uint64_t resync_ms;
	registry_failure_fn on_failure;
	void *failure_ctx;
};

int registry_new(const struct registry_opts *o, struct registry **out);
/* Set (before clusters exist) the hook called when a watch fails. */
void registry_set_failure_hook(struct registry *r, registry_failure_fn fn, void *ctx);
void registry_free(struct registry *r);      /* stops every cluster */

/* Create or rebuild cluster `name`: takes cfg (kube_config_free'd by the
 * registry). config_hash identifies the config (e.g. SHA-256 of the Secret
 * value; "local" for the local cluster): when equal to the current one,
 * cfg is freed and nothing changes. local: the operator's own cluster
 * (objects go in the ModelCache's namespace); otherwise remote_namespace
 * (copied) is where objects go. *rebuilt tells whether a client was made. */
int registry_ensure(struct registry *r, const char *name, struct kube_config *cfg,
		    const char *config_hash, bool local, const char *remote_namespace,
		    bool *rebuilt, char **errmsg);
/* Stop and forget cluster `name` (no-op when absent). */
void registry_remove(struct registry *r, const char *name);
/* Names of the known clusters (sorted; free with store_keys_free). */
char **registry_names(struct registry *r, size_t *n);

/* NULL when unknown. */
struct cluster *registry_acquire(struct registry *r, const char *name);
void cluster_release(struct cluster *c);

const char *cluster_name(const struct cluster *c);
struct kube_client *cluster_client(struct cluster *c);
bool cluster_is_local(const struct cluster *c);
/* Where composed objects go on this cluster: NULL for local clusters
 * (use the ModelCache's namespace), the InferenceCluster's spec.namespace
 * (default "modelcache") for remote ones. */
const char *cluster_target_namespace(const struct cluster *c);

/* Connection state, as last set by the InferenceCluster reconciler. */
void cluster_set_connected(struct cluster *c, bool connected);
/* Connected and not draining: reconcilers may write there. */
bool cluster_connected(struct cluster *c);
/* Its InferenceCluster is being deleted: from now on cluster_connected is
 * false, so no reconciler composes there while the finalizer removes what
 * was composed (it uses cluster_answering: the last check answered). */
void cluster_set_draining(struct cluster *c);
bool cluster_answering(struct cluster *c);
/* Was it connected at any time since the process started? */
bool cluster_ever_connected(struct cluster *c);
/* A request to the cluster timed out or found no server: the cluster counts
 * as disconnected at once (reconcilers skip it instead of each waiting out
 * its own timeout) and the failure hook is called with reason
 * REGISTRY_UNANSWERED + what; the InferenceCluster controller's next
 * successful check connects it again. */
#define REGISTRY_UNANSWERED "unanswered: "
void cluster_report_unanswered(struct cluster *c, const char *what);

/* Shared informer on this cluster for (resource, ns, label selector),
 * created and started on first use (not necessarily synced yet: check
 * informer_has_synced). Borrowed: valid while the reference is held. */
struct informer *cluster_informer(struct cluster *c, const struct kube_resource *res,
				  const char *ns, const char *label_selector);

/* Apply a watch to every cluster, present and future (see above).
 * resource and label_selector must stay valid (static strings). */
int registry_add_watch(struct registry *r, const struct kube_resource *res,
		       const char *label_selector, ctrl_map_fn map, void *mctx, struct ctrl *c);
/* Watch every cluster's resource and enqueue `key` (fixed) into c (e.g. the
 * InferenceCluster's own name) - used for Nodes. */
int registry_add_cluster_self_watch(struct registry *r, const struct kube_resource *res,
				    const char *label_selector, struct ctrl *c);

#endif
