#include "manager/manager.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leader/leader.h"
#include "manager/factory.h"
#include "manager/probes.h"
#include "metrics/metrics.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_CONTROLLERS 8
#define DRAIN_MS 30000
#define MAX_CLEANUPS 16

struct mgr_hook {
	void (*fn)(void *);
	void *ctx;
};

struct manager {
	struct operator_options o;
	struct kube_config *cfg;
	struct kube_client *client;
	struct kube_watch_mux *mux;
	struct registry *reg;
	struct events *events;
	struct leader *leader;
	struct probes *probes;

	pthread_mutex_t mu;
	struct informer_factory *cp;   /* the control plane's informers */
	struct ctrl *ctrls[MAX_CONTROLLERS];
	int nctrls;
	struct mgr_hook cleanups[MAX_CLEANUPS], stoppers[MAX_CLEANUPS];
	int ncleanups, nstoppers;
	atomic_bool stop;
	atomic_int exit_code;
	atomic_bool leading;
	atomic_bool synced;
	atomic_bool controllers_started;
};

static void cp_request_hook(void *ctx, const char *verb, const char *resource, int code)
{
	(void)ctx;
	(void)resource;
	char codes[16];
	snprintf(codes, sizeof codes, "%d", code);
	static const char *k[] = {"cluster", "verb", "code"};
	const char *v[] = {"control-plane", verb, codes};
	metrics_counter_inc(metrics_counter_get("modelcache_api_requests_total",
		"Kubernetes API requests per cluster, verb and HTTP code (0 = no response).", 3, k, v));
}

static void cp_failure(void *ctx, const char *reason, int rc)
{
	(void)ctx;
	(void)rc;
	static const char *k[] = {"cluster", "reason"};
	const char *v[] = {"control-plane", reason};
	metrics_counter_inc(metrics_counter_get("modelcache_watch_restarts_total",
		"Watch restarts per cluster and reason.", 2, k, v));
}

static void set_leader_gauge(bool v)
{
	metrics_gauge_set(metrics_gauge_get("modelcache_leader_is_leader",
		"1 when this process holds the leader lease (or runs without election).", 0, NULL, NULL), v ? 1 : 0);
}

int mgr_new(const struct operator_options *o, struct manager **out, char **errmsg)
{
	struct manager *m = xcalloc(1, sizeof(*m));
	m->o = *o;
	pthread_mutex_init(&m->mu, NULL);
	int rc = kube_config_load(o->kubeconfig, NULL, &m->cfg, errmsg);
	if (rc)
		goto fail;
	if (!m->o.leader_election_namespace)
		m->o.leader_election_namespace = kube_config_namespace(m->cfg);
	struct kube_client_opts co = {.qps = o->qps, .burst = o->burst, .hook = cp_request_hook};
	struct kube_error err = {0};
	rc = kube_client_new(m->cfg, &co, &m->client, &err);
	if (rc) {
		*errmsg = xstrdup(err.message ? err.message : kube_reason_str(-rc));
		kube_error_clear(&err);
		goto fail;
	}
	rc = kube_watch_mux_new(&m->mux);
	if (rc) {
		*errmsg = xstrdup("cannot start the watch thread");
		goto fail;
	}
	struct informer_factory_opts fo = {
		.client = m->client,
		.mux = m->mux,
		.name = "control-plane",
		.resync_ms = (uint64_t)(o->resync_seconds > 0 ? o->resync_seconds : 30) * 1000,
		.on_failure = cp_failure,
	};
	informer_factory_new(&fo, &m->cp);
	/* Remote clusters: shorter timeouts and fewer retries than the control
	 * plane, so that a black-holed cluster cannot hold a worker (or the
	 * shutdown, which joins that cluster's list calls) for minutes. */
	struct kube_client_opts rco = {.qps = o->qps, .burst = o->burst, .timeout_s = 10, .max_retries = 2};
	struct registry_opts ro = {
		.mux = m->mux,
		.client_opts = &rco,
		.resync_ms = (uint64_t)(o->resync_seconds > 0 ? o->resync_seconds : 30) * 1000,
	};
	registry_new(&ro, &m->reg);
	events_new(m->client, o->identity, &m->events);
	set_leader_gauge(false);
	*out = m;
	return 0;
fail:
	kube_client_free(m->client);
	kube_config_free(m->cfg);
	pthread_mutex_destroy(&m->mu);
	free(m);
	return rc ? rc : -EINVAL;
}

static void run_stoppers(struct manager *m);

void mgr_free(struct manager *m)
{
	if (!m)
		return;
	run_stoppers(m);
	for (int i = 0; i < m->nctrls; i++)
		ctrl_free(m->ctrls[i]);
	registry_free(m->reg);
	informer_factory_free(m->cp);
	kube_watch_mux_free(m->mux);
	leader_free(m->leader);
	events_free(m->events);
	probes_free(m->probes);
	kube_client_free(m->client);
	kube_config_free(m->cfg);
	for (int i = m->ncleanups - 1; i >= 0; i--)
		m->cleanups[i].fn(m->cleanups[i].ctx);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static int add_hook(struct manager *m, struct mgr_hook *arr, int *n, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&m->mu);
	if (*n == MAX_CLEANUPS) {
		pthread_mutex_unlock(&m->mu);
		return -ENOSPC;
	}
	arr[*n].fn = fn;
	arr[*n].ctx = ctx;
	(*n)++;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

int mgr_add_cleanup(struct manager *m, void (*fn)(void *ctx), void *ctx)
{
	return add_hook(m, m->cleanups, &m->ncleanups, fn, ctx);
}

int mgr_add_stopper(struct manager *m, void (*fn)(void *ctx), void *ctx)
{
	return add_hook(m, m->stoppers, &m->nstoppers, fn, ctx);
}

static void run_stoppers(struct manager *m)
{
	for (int i = m->nstoppers - 1; i >= 0; i--)
		m->stoppers[i].fn(m->stoppers[i].ctx);
	m->nstoppers = 0;
}

const struct operator_options *mgr_options(struct manager *m) { return &m->o; }
struct kube_client *mgr_client(struct manager *m) { return m->client; }
const struct kube_config *mgr_config(struct manager *m) { return m->cfg; }
struct kube_watch_mux *mgr_watch_mux(struct manager *m) { return m->mux; }
struct registry *mgr_clusters(struct manager *m) { return m->reg; }
struct events *mgr_events(struct manager *m) { return m->events; }
bool mgr_is_leader(struct manager *m) { return atomic_load(&m->leading); }
bool mgr_caches_synced(struct manager *m) { return atomic_load(&m->synced); }

struct informer *mgr_informer(struct manager *m, const struct kube_resource *res, const char *ns,
			      const char *label_selector)
{
	return informer_factory_get(m->cp, res, ns, label_selector);
}

int mgr_add_controller(struct manager *m, struct ctrl *c)
{
	pthread_mutex_lock(&m->mu);
	if (m->nctrls == MAX_CONTROLLERS) {
		pthread_mutex_unlock(&m->mu);
		return -ENOSPC;
	}
	m->ctrls[m->nctrls++] = c;
	pthread_mutex_unlock(&m->mu);
	return 0;
}

int mgr_watch_clusters(struct manager *m, const struct kube_resource *res, const char *label_selector,
		       ctrl_map_fn map, void *mctx, struct ctrl *c)
{
	return registry_add_watch(m->reg, res, label_selector, map, mctx, c);
}

void mgr_block_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	signal(SIGPIPE, SIG_IGN);
}

void mgr_request_stop(struct manager *m, int exit_code)
{
	atomic_store(&m->exit_code, exit_code);
	atomic_store(&m->stop, true);
}

static void on_leading(void *ctx)
{
	struct manager *m = ctx;
	atomic_store(&m->leading, true);
	set_leader_gauge(true);
}

static void on_lost(void *ctx)
{
	struct manager *m = ctx;
	atomic_store(&m->leading, false);
	set_leader_gauge(false);
	mgr_request_stop(m, 1);
}

/* Wait up to ms for a signal or a stop request; true when stopping. */
static bool wait_stop(struct manager *m, int ms)
{
	if (atomic_load(&m->stop))
		return true;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	int sig = sigtimedwait(&s, NULL, &ts);
	if (sig == SIGTERM || sig == SIGINT) {
		LOG_INFO("signal received, shutting down", "signal=%s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		mgr_request_stop(m, 0);
	}
	return atomic_load(&m->stop);
}

static bool ready_fn(void *ctx)
{
	return mgr_caches_synced(ctx);
}

int mgr_run(struct manager *m)
{
	/* 1. HTTP servers */
	struct probes_opts po = {
		.metrics_bind = m->o.metrics_bind_address,
		.health_bind = m->o.health_probe_bind_address,
		.ready = ready_fn,
		.ctx = m,
	};
	char *perr = NULL;
	if (probes_start(&po, &m->probes, &perr)) {
		LOG_ERROR("cannot start the HTTP servers", "error=%s", perr ? perr : "");
		free(perr);
		return 1;
	}
	/* 2. caches */
	informer_factory_start(m->cp);
	LOG_INFO("waiting for caches to sync", "informers=%d", informer_factory_count(m->cp));
	while (!informer_factory_synced(m->cp))
		if (wait_stop(m, 50))
			goto shutdown;
	atomic_store(&m->synced, true);
	LOG_INFO("caches synced", "informers=%d", informer_factory_count(m->cp));
	/* 3. leader election */
	if (m->o.leader_elect) {
		struct leader_opts lo = {
			.ns = m->o.leader_election_namespace,
			.name = m->o.leader_election_id,
			.identity = m->o.identity,
			.on_started_leading = on_leading,
			.on_lost = on_lost,
			.ctx = m,
		};
		if (leader_new(m->client, &lo, &m->leader) || leader_start(m->leader)) {
			LOG_ERROR("cannot start leader election", "lease=%s/%s", lo.ns, lo.name);
			mgr_request_stop(m, 1);
			goto shutdown;
		}
		LOG_INFO("waiting for leadership", "lease=%s/%s identity=%s", lo.ns, lo.name, lo.identity);
		while (!atomic_load(&m->leading))
			if (wait_stop(m, 100))
				goto shutdown;
	} else {
		on_leading(m);
	}
	/* 4. controllers */
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < m->nctrls; i++)
		ctrl_start(m->ctrls[i]);
	pthread_mutex_unlock(&m->mu);
	atomic_store(&m->controllers_started, true);
	LOG_INFO("operator running", "controllers=%d leader_election=%s", m->nctrls, m->o.leader_elect ? "true" : "false");
	while (!wait_stop(m, 200))
		;
shutdown:
	LOG_INFO("stopping", "exit_code=%d", atomic_load(&m->exit_code));
	/* servers that read the caches (the pod webhook) */
	run_stoppers(m);
	/* stop taking work; finish in-flight reconciles */
	for (int i = 0; i < m->nctrls; i++)
		ctrl_stop(m->ctrls[i], DRAIN_MS);
	/* release the lease at once */
	if (m->leader)
		leader_stop(m->leader);
	set_leader_gauge(false);
	/* caches and clusters */
	registry_free(m->reg);
	m->reg = NULL;
	informer_factory_stop(m->cp);
	probes_stop(m->probes);
	LOG_INFO("stopped", "exit_code=%d", atomic_load(&m->exit_code));
	return atomic_load(&m->exit_code);
}
