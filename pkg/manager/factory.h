/* An informer factory: the shared informers of one API server, one per
 * (resource, namespace, label selector), as client-go's
 * SharedInformerFactory. The manager keeps one for the control plane and the
 * cluster registry one per member cluster; every controller asking for the
 * same triple gets the same informer, so each object is listed, watched and
 * held once per API server.
 *
 *   struct informer_factory *f;
 *   informer_factory_new(&(struct informer_factory_opts){.client = c, .mux = mux,
 *                        .name = "gpu-west", .resync_ms = 30000}, &f);
 *   struct informer *jobs = informer_factory_get(f, &KUBE_RES_JOBS, NULL, sel);
 *   informer_factory_start(f);          // later informers start when created
 *   while (!informer_factory_synced(f)) ...
 *   informer_factory_free(f);           // stops and frees every informer
 *
 * Thread-safety: every function may be called from any thread. Informers
 * are named "<name>/<resource>" in logs, and each gets the resource's
 * transform (watch/transform.h): only the fields the reconcilers read are
 * kept. */
#ifndef MC_MANAGER_FACTORY_H
#define MC_MANAGER_FACTORY_H

#include <stdbool.h>
#include <stdint.h>

struct informer;
struct kube_client;
struct kube_resource;
struct kube_watch_mux;

struct informer_factory_opts {
	struct kube_client *client;     /* borrowed; outlives the factory */
	struct kube_watch_mux *mux;     /* borrowed */
	const char *name;               /* copied: "control-plane" or the cluster's name */
	uint64_t resync_ms;
	/* each informer's list or watch failure (reflector_sink.failure); may be NULL */
	void (*on_failure)(void *ctx, const char *reason, int rc);
	void *failure_ctx;
	bool started;                   /* informers start as they are created */
};

struct informer_factory;

int informer_factory_new(const struct informer_factory_opts *o, struct informer_factory **out);
/* The informer for (res, ns, label_selector), created on first use (NULL on
 * failure or past the cap of 32 informers). Borrowed: the factory owns it. */
struct informer *informer_factory_get(struct informer_factory *f, const struct kube_resource *res,
				      const char *ns, const char *label_selector);
/* Start every informer created so far; those created later start at once. */
void informer_factory_start(struct informer_factory *f);
bool informer_factory_synced(struct informer_factory *f);
int informer_factory_count(struct informer_factory *f);
void informer_factory_stop(struct informer_factory *f);
void informer_factory_free(struct informer_factory *f);   /* stops first; NULL is a no-op */

#endif
