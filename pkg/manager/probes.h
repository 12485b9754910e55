/* The manager's HTTP endpoints: /healthz and /readyz on the health-probe
 * address, /metrics (Prometheus text) on the metrics address. Bind
 * addresses: ":8080" (all interfaces), "127.0.0.1:8080", port 0 = any free
 * port (see probes_port), "0" = disabled. One server thread, joined by
 * probes_stop. */
#ifndef MC_MANAGER_PROBES_H
#define MC_MANAGER_PROBES_H

#include <stdbool.h>

struct probes;

struct probes_opts {
	const char *metrics_bind;
	const char *health_bind;
	bool (*ready)(void *ctx);   /* /readyz 200 when true; any thread */
	void *ctx;
};

int probes_start(const struct probes_opts *o, struct probes **out, char **errmsg);
/* The bound ports (0 when disabled). */
int probes_port(struct probes *p, bool metrics);
void probes_stop(struct probes *p);
void probes_free(struct probes *p);

#endif
