/* The pod webhook server (docs/webhook.md): HTTPS on --webhook-port
 * (default 9443; 0 disables it) with tls.crt / tls.key from
 * --webhook-cert-dir, TLS 1.2 or newer, the certificate reloaded within a
 * second of the files changing (cert-manager rotates the Secret, the kubelet
 * updates the mounted files). Routes: POST /mutate-v1-pod (this cluster: the
 * InferenceCluster with connection local) and POST /mutate-v1-pod/<name>
 * (the InferenceCluster <name>, for an admin who registers the webhook on a
 * remote cluster); mutate.h decides. Bodies over 3 MiB get 413; until the
 * ModelCache and InferenceCluster informers have synced it answers 503 (the
 * apiserver then applies the webhook's failurePolicy).
 *
 * It serves on every replica (leader or not): it only reads the shared
 * informer caches of the control plane.
 *
 * Metrics: modelcache_webhook_requests_total{result} (mutated, allowed,
 * denied, bad_request, unavailable; the 413s are answered before the
 * handler and not counted) and modelcache_webhook_request_duration_seconds
 * (histogram). */
#ifndef MC_WEBHOOK_WEBHOOK_H
#define MC_WEBHOOK_WEBHOOK_H

#include "manager/manager.h"
#include "manager/options.h"

#define WEBHOOK_PATH "/mutate-v1-pod"
#define WEBHOOK_MAX_BODY (3u << 20)

/* With o->webhook_port > 0: checks that o->webhook_cert_dir holds readable
 * tls.crt and tls.key (a clear error naming the file otherwise), binds the
 * port (fails at startup when it is taken), starts serving and registers a
 * stopper with the manager. With port 0: does nothing. 0 or negative errno
 * (logged). */
int webhook_setup(struct manager *m, const struct operator_options *o);

#endif
