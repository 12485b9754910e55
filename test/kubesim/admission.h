/* kubesim's mutating admission: calls the MutatingWebhookConfigurations'
 * webhooks on create and update as kube-apiserver's MutatingAdmissionWebhook
 * plugin does (README.md "Admission webhooks"):
 *
 *   - configurations in name order, webhooks in their order; a webhook is
 *     called when one of its rules matches (operations, apiGroups,
 *     apiVersions, resources incl. "*" and "x/sub" forms, scope), its
 *     namespaceSelector matches the namespace's labels (cluster-scoped
 *     objects other than Namespaces always match) and its objectSelector
 *     matches the object's (or the old object's) labels; never for the
 *     webhook configuration kinds themselves;
 *   - an admission.k8s.io/v1 AdmissionReview POSTed to clientConfig.url, or
 *     to https://NAME.NS.svc:PORT/PATH for clientConfig.service, connected
 *     to where --service-endpoint NS/NAME=HOST:PORT says the Service lives;
 *     TLS verified against caBundle (the host name checked is the URL's /
 *     the service DNS name); ?timeout=Ns and timeoutSeconds (default 10);
 *   - a JSONPatch answer is applied before validation and storage; a denial
 *     becomes the webhook's Status ("admission webhook \"NAME\" denied the
 *     request: MSG", code >= 400); a failed call is refused with 500
 *     "Internal error occurred: failed calling webhook \"NAME\": ..." under
 *     failurePolicy Fail (the default) and skipped under Ignore;
 *   - warnings are collected per thread for the HTTP layer's Warning headers.
 *
 * Not done: subresource writes and DELETE are not admitted,
 * reinvocationPolicy IfNeeded (every webhook is called once),
 * matchConditions (treated as matching), admissionReviewVersions other than
 * v1, webhook client authentication. */
#ifndef KUBESIM_ADMISSION_H
#define KUBESIM_ADMISSION_H

#include <json-c/json.h>

#include "sim.h"

struct admission;

int admission_new(struct sim *s, struct admission **out);
/* "NS/NAME=HOST:PORT": where Service NS/NAME is reached. 0 or -EINVAL. */
int admission_add_endpoint(struct admission *a, const char *spec);
/* Install as the sim's admission hook (sim_set_admission). */
void admission_install(struct admission *a);
void admission_free(struct admission *a);

/* The user of the CALLING THREAD's requests (userInfo of the review):
 * username and groups (a JSON array, copied; NULL = none). NULL username
 * resets to the in-process default (kubesim's own controllers). */
void admission_set_user(const char *username, json_object *groups);
/* The warnings the webhooks returned on this thread since the last call, as
 * HTTP header lines ("Warning: 299 - \"text\"\r\n"...), malloc'd; NULL when
 * none. Clears them. */
char *admission_take_warnings(void);
/* Queue a warning for the calling thread's response (kept: the newest 64). */
void admission_add_warning(const char *text);
/* Frees this thread's user and pending warnings (end of a request: the
 * values are thread-local, and a connection thread that exits would leak
 * them). */
void admission_thread_cleanup(void);

/* ---- exposed for unit tests ---- */
struct admission_attrs {
	const char *operation, *group, *version, *resource, *subresource;
	int namespaced;
};
/* Does one RuleWithOperations match? 1/0. */
int admission_rule_matches(json_object *rule, const struct admission_attrs *a);
/* Does a metav1.LabelSelector match labels (NULL = none)? 1/0; a selector
 * that cannot be parsed matches nothing (the apiserver refuses it on write). */
int admission_selector_matches(json_object *sel, json_object *labels);

#endif
