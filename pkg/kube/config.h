/* Client configuration: kubeconfig files, in-cluster service accounts, exec
 * credential plugins.
 *
 * Search order for kube_config_load(): the explicit path (--kubeconfig), then
 * $KUBECONFIG (colon-separated, merged first-wins like kubectl), then
 * ~/.kube/config; without any file, the in-cluster configuration.
 * Key material is kept in memory and handed to libcurl as blobs; nothing is
 * written to temporary files. Errors name the offending field, e.g.
 * "users[0].user.client-key-data: not valid base64". */
#ifndef MC_KUBE_CONFIG_H
#define MC_KUBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct kube_config;   /* opaque; thread-safe to read, credentials refresh inside */

/* context may be NULL (current-context). *errmsg (malloc'd) on failure. */
int kube_config_load(const char *explicit_path, const char *context, struct kube_config **out,
		     char **errmsg);
/* From kubeconfig bytes (e.g. a Secret's value); exec plugins allowed only
 * when allow_exec (remote-cluster Secrets should not run programs). */
int kube_config_from_bytes(const char *data, size_t len, const char *context, bool allow_exec,
			   struct kube_config **out, char **errmsg);
/* In-cluster: KUBERNETES_SERVICE_HOST/PORT, the service-account CA and token
 * (root directory overridable for tests; NULL = /var/run/secrets/kubernetes.io/serviceaccount). */
int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, char **errmsg);
void kube_config_free(struct kube_config *c);

const char *kube_config_server(const struct kube_config *c);      /* borrowed */
const char *kube_config_namespace(const struct kube_config *c);   /* "default" when unset */

#endif
