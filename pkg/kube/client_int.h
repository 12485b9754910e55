/* Internals shared by client.c and watch.c (not for other modules). */
#ifndef MC_KUBE_CLIENT_INT_H
#define MC_KUBE_CLIENT_INT_H

#include <curl/curl.h>

#include "kube/client.h"
#include "util/buf.h"

/* Prepare an easy handle (already reset) for method + path (absolute path
 * with query) on c's server: URL, TLS material, credentials, headers.
 * *headers receives the list to free after the transfer (curl_slist_free_all).
 * No body or timeout is set. Returns 0 or -reason with err filled. */
int kube__easy_setup(struct kube_client *c, CURL *h, const char *method, const char *path,
		     const char *content_type, struct curl_slist **headers, struct kube_error *err);
/* Run the request hook, if any. */
void kube__hook(struct kube_client *c, const char *verb, const struct kube_resource *r, int code);
/* Take one request token (blocks while the bucket is empty). */
void kube__rate_wait(struct kube_client *c);
/* One-time libcurl global init. */
void kube__curl_global(void);
/* Append "&k=v" / "?k=v" with v percent-encoded. */
void kube__query(struct buf *b, const char *k, const char *v);

#endif
