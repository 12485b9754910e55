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
/* Drops a reference: clients made from the config hold their own, so a
 * config may be freed right after kube_client_new(). */
void kube_config_free(struct kube_config *c);
struct kube_config *kube_config_ref(struct kube_config *c);

const char *kube_config_server(const struct kube_config *c);      /* borrowed */
const char *kube_config_namespace(const struct kube_config *c);   /* "default" when unset */

/* --- Used by the REST client (and tests). --- */

/* Credentials for one request, copied out of the config (clean with
 * kube_auth_cleanup; the strings are secrets: never log them). Static tokens,
 * tokenFile/service-account tokens (re-read when the file changes) and exec
 * plugin credentials (cached until expirationTimestamp) all arrive here. */
struct kube_auth {
	char *token;                      /* bearer token or NULL */
	char *username, *password;        /* basic auth or NULL */
	char *cert_pem;                   /* client certificate (PEM) or NULL */
	size_t cert_len;
	char *key_pem;
	size_t key_len;
};
int kube_config_auth(const struct kube_config *c, struct kube_auth *out, char **errmsg);
void kube_auth_cleanup(struct kube_auth *a);
/* The server answered 401 with credentials from kube_config_auth(): drop the
 * cached exec credential. True when a new attempt may get other credentials
 * (an exec plugin or a token file), i.e. a retry is worth it. */
bool kube_config_auth_invalidate(const struct kube_config *c);
/* How often the exec plugin has been run (tests, metrics). */
unsigned kube_config_exec_runs(const struct kube_config *c);

/* TLS trust: the CA bundle (PEM, borrowed; NULL = system roots), the
 * insecure-skip-tls-verify flag and tls-server-name (NULL when unset). */
const char *kube_config_ca(const struct kube_config *c, size_t *len);
bool kube_config_insecure(const struct kube_config *c);
const char *kube_config_tls_server_name(const struct kube_config *c);

/* Tests: the wall clock used for credential expiry (NULL = system). */
struct mclock;
void kube_config_set_clock(struct kube_config *c, const struct mclock *clock);

#endif
