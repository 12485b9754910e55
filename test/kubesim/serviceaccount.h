/* kubesim: ServiceAccounts as kube-apiserver and kube-controller-manager
 * handle them (test/kubesim/README.md, "ServiceAccounts and tokens"):
 *
 *   - the serviceaccount controller: every active Namespace gets the
 *     `default` ServiceAccount (again when it is deleted);
 *   - the root-ca-cert-publisher: every active Namespace gets the
 *     `kube-root-ca.crt` ConfigMap (data `ca.crt`, the kubernetes.io/description
 *     annotation), recreated when deleted and restored when changed;
 *   - the ServiceAccount admission plugin: a Pod create names a ServiceAccount
 *     (`default` when none) that must exist, otherwise 403
 *     `pods "x" is forbidden: error looking up service account NS/SA:
 *     serviceaccount "SA" not found` (the `default` one is looked up 10
 *     times 100-200 ms apart, as its controller may lag behind the
 *     namespace); it applies to every create, also the pods of the Job
 *     behaviour, as it does to the real Job controller's;
 *   - TokenRequest (`POST .../serviceaccounts/NAME/token`,
 *     authentication.k8s.io/v1): an RS256 JWT with the apiserver's claims
 *     (iss, sub, aud, exp, iat, nbf, kubernetes.io), expirationSeconds
 *     default 3600, at least 600; boundObjectRef to a Pod or Secret;
 *   - authentication of those tokens: signature, issuer, audience (the
 *     apiserver's), time (60 s leeway), the ServiceAccount (and a bound
 *     object) still existing with the same uid.
 * Tokens are never logged. */
#ifndef KUBESIM_SERVICEACCOUNT_H
#define KUBESIM_SERVICEACCOUNT_H

#include <json-c/json.h>

#include "sim.h"

/* The apiserver's issuer and default audience (kubeadm's). */
#define SA_ISSUER "https://kubernetes.default.svc.cluster.local"

struct sa_ctl;

/* Starts the two controllers (existing namespaces handled before return)
 * and installs the admission plugin. ca_pem: the ca.crt to publish
 * (copied). 0 or a negative errno. */
int sa_start(struct sim *s, const char *ca_pem, struct sa_ctl **out);
/* Unsubscribes and frees; call before sim_free. NULL is fine. */
void sa_stop(struct sa_ctl *c);

/* TokenRequest for ServiceAccount ns/name; body may be NULL (all defaults).
 * 0 with *out (the TokenRequest with status.token, caller puts) or the
 * negative code with err filled (404, 400, 409, 422). */
int sa_token_request(struct sa_ctl *c, const char *ns, const char *name, json_object *body, json_object **out,
		     struct sim_err *err);

/* A bearer token: 1 = a valid ServiceAccount token, *user set to
 * {"username","uid","groups":[...]} (caller puts); 0 = not a token this
 * issuer signed; -1 = signed by us but no longer valid (expired, wrong
 * audience, ServiceAccount or bound object gone): 401. */
int sa_authenticate(struct sa_ctl *c, const char *token, json_object **user);

/* ---- exposed for unit tests ---- */
/* The ServiceAccount admission check of a Pod create in ns (0 or -403 with
 * err filled). */
int sa_admit_pod(struct sa_ctl *c, const char *ns, json_object *pod, struct sim_err *err);

#endif
