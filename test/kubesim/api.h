/* kubesim's REST layer: routes Kubernetes API requests (discovery, CRUD,
 * list, watch, patch, subresources, Tables) onto the store (sim.h), enforces
 * authentication, writes the request log and injects faults. */
#ifndef KUBESIM_API_H
#define KUBESIM_API_H

#include "http.h"
#include "serviceaccount.h"
#include "sim.h"

struct api_opts {
	struct sim *sim;
	const char *token;          /* required bearer token, NULL = none */
	int client_ca;              /* a verified client certificate also authenticates */
	const char *request_log;    /* path, appended: "METHOD PATH?QUERY CODE" */
	int fault_watch_drop_s;     /* end every watch after N s (0 = never) */
	double fault_error_rate;    /* share of requests answered 500/429 */
	int fault_latency_ms;       /* added to every request */
	struct sa_ctl *sa;          /* ServiceAccount tokens (TokenRequest, authentication); NULL = none */
	int rbac;                   /* --rbac: authorize with Roles/ClusterRoles and bindings (rbac.h) */
};

struct api;

int api_new(const struct api_opts *o, struct api **out);
void api_free(struct api *a);
/* The http_handler_fn; ctx is the struct api. */
void api_handle(void *ctx, struct http_req *r);

#endif
