/* The probe and metrics endpoints on pkg/httpd (libwebsockets): one server
 * (and service thread) per bind address. */
#include "manager/probes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "httpd/httpd.h"
#include "util/log.h"
#include "util/mem.h"

struct probes {
	struct httpd *metrics;
	struct httpd *health;
	bool (*ready)(void *);
	void *ctx;
};

static int healthz(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	(void)arg;
	(void)req;
	httpd_respond(resp, 200, "text/plain; charset=utf-8", "ok\n");
	return 0;
}

static int readyz(void *arg, const struct httpd_request *req, struct httpd_response *resp)
{
	struct probes *p = arg;
	(void)req;
	bool r = p->ready ? p->ready(p->ctx) : true;
	httpd_respond(resp, r ? 200 : 503, "text/plain; charset=utf-8", r ? "ok\n" : "caches not synced\n");
	return 0;
}

static bool disabled(const char *addr)
{
	return !addr || !*addr || strcmp(addr, "0") == 0;
}

static int make(const char *addr, const char *name, struct httpd **out, char **errmsg)
{
	struct httpd_opts o = {.listen = addr, .name = name};
	int rc = httpd_new(&o, out);
	if (rc)
		*errmsg = xasprintf("cannot listen on %s: %s", addr, strerror(-rc));
	return rc;
}

int probes_start(const struct probes_opts *o, struct probes **out, char **errmsg)
{
	struct probes *p = xcalloc(1, sizeof(*p));
	p->ready = o->ready;
	p->ctx = o->ctx;
	int rc = 0;
	if (!disabled(o->metrics_bind)) {
		rc = make(o->metrics_bind, "metrics", &p->metrics, errmsg);
		if (!rc)
			rc = httpd_route_metrics(p->metrics, "/metrics", NULL);
		if (!rc)
			rc = httpd_start(p->metrics);
		if (rc)
			goto fail;
		LOG_INFO("metrics server listening", "addr=%s port=%d", o->metrics_bind, httpd_port(p->metrics));
	}
	if (!disabled(o->health_bind)) {
		rc = make(o->health_bind, "probes", &p->health, errmsg);
		if (!rc)
			rc = httpd_route(p->health, "GET", "/healthz", healthz, p);
		if (!rc)
			rc = httpd_route(p->health, "GET", "/readyz", readyz, p);
		if (!rc)
			rc = httpd_start(p->health);
		if (rc)
			goto fail;
		LOG_INFO("health probe server listening", "addr=%s port=%d", o->health_bind, httpd_port(p->health));
	}
	*out = p;
	return 0;
fail:
	if (!*errmsg)
		*errmsg = xasprintf("HTTP server: %s", strerror(-rc));
	probes_free(p);
	return rc;
}

int probes_port(struct probes *p, bool metrics)
{
	struct httpd *h = p ? (metrics ? p->metrics : p->health) : NULL;
	return h ? httpd_port(h) : 0;
}

void probes_stop(struct probes *p)
{
	if (!p)
		return;
	httpd_stop(p->metrics);
	httpd_stop(p->health);
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	httpd_free(p->metrics);
	httpd_free(p->health);
	free(p);
}
