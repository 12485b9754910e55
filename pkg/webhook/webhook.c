/* The pod webhook server (see webhook.h). */
#include "webhook/webhook.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache/informer.h"
#include "httpd/httpd.h"
#include "kube/resource.h"
#include "metrics/metrics.h"
#include "util/log.h"
#include "util/mem.h"
#include "webhook/mutate.h"

struct webhook {
	struct httpd *h;
	struct informer *mcs;
	struct informer *ics;
	char *cert;
	char *key;
};

static const double LATENCY_BUCKETS[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};

static void count(const char *result, double seconds)
{
	static const char *k[] = {"result"};
	metrics_counter_inc(metrics_counter_get("modelcache_webhook_requests_total",
						"Pod webhook requests by result (mutated, allowed, denied, bad_request, unavailable).",
						1, k, (const char *[]){result}));
	metrics_histogram_observe(metrics_histogram_get("modelcache_webhook_request_duration_seconds",
							"Time to answer a pod webhook request.",
							sizeof LATENCY_BUCKETS / sizeof LATENCY_BUCKETS[0], LATENCY_BUCKETS,
							0, NULL, NULL),
				  seconds);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int handle(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	struct webhook *w = arg;
	double t0 = now_s();
	if (!informer_has_synced(w->mcs) || !informer_has_synced(w->ics)) {
		httpd_respond(resp, 503, NULL, "the operator's caches have not synced yet\n");
		count("unavailable", now_s() - t0);
		return 0;
	}
	struct webhook_view v = {
		.caches = informer_store(w->mcs),
		.clusters = informer_store(w->ics),
	};
	int status = 500;
	char *out = NULL;
	/* /mutate-v1-pod: this cluster; /mutate-v1-pod/<InferenceCluster>: a remote one */
	const char *cluster = NULL;
	if (strncmp(req->path, WEBHOOK_PATH "/", strlen(WEBHOOK_PATH) + 1) == 0)
		cluster = req->path + strlen(WEBHOOK_PATH) + 1;
	enum webhook_result r = webhook_review(&v, cluster, req->body, req->body_len, &status, &out);
	resp->status = status;
	resp->content_type = status == 200 ? "application/json" : "text/plain; charset=utf-8";
	resp->body = out;
	resp->body_len = 0;
	if (r == WEBHOOK_BAD_REQUEST)
		LOG_INFO("webhook: bad request", "status=%d reason=%s", status, out ? out : "");
	else
		LOG_DEBUG("webhook: pod admitted", "result=%s", webhook_result_name(r));
	count(webhook_result_name(r), now_s() - t0);
	return 0;
}

static void stop(void *ctx)
{
	struct webhook *w = ctx;
	httpd_free(w->h);
	w->h = NULL;
}

static void cleanup(void *ctx)
{
	struct webhook *w = ctx;
	httpd_free(w->h);
	free(w->cert);
	free(w->key);
	free(w);
}

static int check_file(const char *dir, const char *path)
{
	if (access(path, R_OK) == 0)
		return 0;
	int e = errno;
	LOG_ERROR("webhook: cannot read the serving certificate",
		  "file=%s error=%s hint=mount tls.crt and tls.key in --webhook-cert-dir=%s or pass --webhook-port=0",
		  path, strerror(e), dir);
	return -e;
}

int webhook_setup(struct manager *m, const struct operator_options *o)
{
	if (o->webhook_port <= 0) {
		LOG_INFO("webhook: disabled", "webhook_port=%d", o->webhook_port);
		return 0;
	}
	const char *dir = o->webhook_cert_dir && *o->webhook_cert_dir ? o->webhook_cert_dir : ".";
	struct webhook *w = xcalloc(1, sizeof *w);
	w->cert = xasprintf("%s/tls.crt", dir);
	w->key = xasprintf("%s/tls.key", dir);
	int rc = check_file(dir, w->cert);
	if (rc == 0)
		rc = check_file(dir, w->key);
	if (rc)
		goto fail;
	w->mcs = mgr_informer(m, &KUBE_RES_MODELCACHES, NULL, NULL);
	w->ics = mgr_informer(m, &KUBE_RES_INFERENCECLUSTERS, NULL, NULL);
	if (!w->mcs || !w->ics) {
		rc = -ENOMEM;
		goto fail;
	}
	char listen[32];
	snprintf(listen, sizeof listen, ":%d", o->webhook_port);
	struct httpd_opts ho = {
		.listen = listen,
		.name = "webhook",
		.tls_cert_file = w->cert,
		.tls_key_file = w->key,
		.reload_interval_ms = 1000,
		.max_body = WEBHOOK_MAX_BODY,
	};
	if ((rc = httpd_new(&ho, &w->h)) < 0) {
		LOG_ERROR("webhook: cannot serve", "port=%d error=%s", o->webhook_port, strerror(-rc));
		goto fail;
	}
	if ((rc = httpd_route(w->h, "POST", WEBHOOK_PATH, handle, w)) < 0 ||
	    (rc = httpd_route(w->h, "POST", WEBHOOK_PATH "/*", handle, w)) < 0 ||
	    (rc = mgr_add_cleanup(m, cleanup, w)) < 0)
		goto fail;
	if ((rc = mgr_add_stopper(m, stop, w)) < 0) {
		/* the cleanup owns w now */
		return rc;
	}
	if ((rc = httpd_start(w->h)) < 0) {
		LOG_ERROR("webhook: cannot start the server thread", "error=%s", strerror(-rc));
		return rc;
	}
	LOG_INFO("webhook: serving", "port=%d path=%s cert_dir=%s", httpd_port(w->h), WEBHOOK_PATH, dir);
	return 0;
fail:
	httpd_free(w->h);
	free(w->cert);
	free(w->key);
	free(w);
	return rc ? rc : -EINVAL;
}
