/* `modelcache-operator run`: flags, logging, the manager and its reconcilers. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <unistd.h>

#include "controllers/inferencecluster/inferencecluster.h"
#include "manager/manager.h"
#include "controllers/modelcache/modelcache.h"
#include "controllers/modeldeployment/modeldeployment.h"
#include "metrics/metrics.h"
#include "operator.h"
#include "util/log.h"
#include "util/mem.h"
#include "webhook/webhook.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: modelcache-operator run [FLAGS]\n"
		"\n"
		"Runs the operator: InferenceCluster and ModelCache reconcilers, leader election,\n"
		"health probes and metrics.\n"
		"\n"
		"Flags:\n"
		"  --kubeconfig PATH                   kubeconfig of the control-plane cluster\n"
		"                                      (default: $KUBECONFIG, ~/.kube/config, in-cluster)\n"
		"  --metrics-bind-address ADDR         Prometheus /metrics address (default \":8080\"; \"0\" disables)\n"
		"  --health-probe-bind-address ADDR    /healthz and /readyz address (default \":8081\"; \"0\" disables)\n"
		"  --leader-elect[=true|false]         elect a leader with a coordination.k8s.io/v1 Lease\n"
		"  --leader-election-namespace NS      namespace of the Lease (default: the kubeconfig namespace)\n"
		"  --leader-election-id NAME           name of the Lease (default \"modelcache-operator.modelcache.dev\")\n"
		"  --workers N                         concurrent reconciles per controller (default 2)\n"
		"  --qps Q                             client-side API rate limit per cluster (default 20)\n"
		"  --burst N                           client-side API burst per cluster (default 30)\n"
		"  --log-format text|json              log format (default text)\n"
		"  --log-level LEVEL                   error|warn|info|debug|trace (default info)\n"
		"  --hf-endpoint URL                   HF_ENDPOINT given to hydration Jobs\n"
		"  --hydrator-image IMAGE              image of hydration Jobs (default modelcache-operator:%s)\n"
		"  --webhook-port PORT                 pod webhook HTTPS port (default 9443; 0 disables)\n"
		"  --webhook-cert-dir DIR              tls.crt/tls.key of the webhook, reloaded when they change\n"
		"                                      (default /tmp/k8s-webhook-server/serving-certs; must exist\n"
		"                                      unless --webhook-port 0)\n"
		"  --default-cache-size SIZE           PVC size when the estimate fails (default 100Gi)\n"
		"  --ic-recheck-seconds N              InferenceCluster connection re-check period (default 30)\n"
		"  --hydration-retry-base SECONDS      first backoff of a failed hydration, doubled per failure\n"
		"                                      up to 1h (default 60)\n"
		"  -h, --help                          this help\n",
		MC_VERSION);
}

enum {
	OPT_KUBECONFIG = 1000, OPT_METRICS, OPT_HEALTH, OPT_LEADER, OPT_LEADER_NS, OPT_LEADER_ID, OPT_WORKERS,
	OPT_QPS, OPT_BURST, OPT_LOG_FORMAT, OPT_LOG_LEVEL, OPT_HF, OPT_IMAGE, OPT_WEBHOOK_PORT, OPT_WEBHOOK_DIR,
	OPT_CACHE_SIZE, OPT_IC_RECHECK, OPT_RETRY_BASE,
};

static int parse_int_flag(const char *name, const char *v, long lo, long hi, long *out)
{
	char *end;
	long x = strtol(v, &end, 10);
	if (!*v || *end || x < lo || x > hi) {
		fprintf(stderr, "modelcache-operator run: invalid value \"%s\" for --%s\n", v, name);
		return -1;
	}
	*out = x;
	return 0;
}

/* glibc gives every thread that allocates an arena of its own (up to 8 per
 * core), and memory freed in one is not reused by another: with ~40 threads
 * (watches, workers, estimators, servers) that alone doubled the resident
 * size for the same objects (bench/controller.sh). Two arenas cost nothing
 * measurable in throughput. MALLOC_ARENA_MAX in the environment wins. */
static void limit_malloc_arenas(void)
{
#ifdef __GLIBC__
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
#endif
}

int operator_run(int argc, char **argv)
{
	limit_malloc_arenas();
	static const struct option opts[] = {
		{"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
		{"metrics-bind-address", required_argument, NULL, OPT_METRICS},
		{"health-probe-bind-address", required_argument, NULL, OPT_HEALTH},
		{"leader-elect", optional_argument, NULL, OPT_LEADER},
		{"leader-election-namespace", required_argument, NULL, OPT_LEADER_NS},
		{"leader-election-id", required_argument, NULL, OPT_LEADER_ID},
		{"workers", required_argument, NULL, OPT_WORKERS},
		{"qps", required_argument, NULL, OPT_QPS},
		{"burst", required_argument, NULL, OPT_BURST},
		{"log-format", required_argument, NULL, OPT_LOG_FORMAT},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"hf-endpoint", required_argument, NULL, OPT_HF},
		{"hydrator-image", required_argument, NULL, OPT_IMAGE},
		{"webhook-port", required_argument, NULL, OPT_WEBHOOK_PORT},
		{"webhook-cert-dir", required_argument, NULL, OPT_WEBHOOK_DIR},
		{"default-cache-size", required_argument, NULL, OPT_CACHE_SIZE},
		{"ic-recheck-seconds", required_argument, NULL, OPT_IC_RECHECK},
		{"hydration-retry-base", required_argument, NULL, OPT_RETRY_BASE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct operator_options o;
	operator_options_defaults(&o);
	long v;
	int c;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_KUBECONFIG: o.kubeconfig = optarg; break;
		case OPT_METRICS: o.metrics_bind_address = optarg; break;
		case OPT_HEALTH: o.health_probe_bind_address = optarg; break;
		case OPT_LEADER:
			if (!optarg || !strcmp(optarg, "true"))
				o.leader_elect = true;
			else if (!strcmp(optarg, "false"))
				o.leader_elect = false;
			else {
				fprintf(stderr, "modelcache-operator run: invalid value \"%s\" for --leader-elect\n", optarg);
				return 2;
			}
			break;
		case OPT_LEADER_NS: o.leader_election_namespace = optarg; break;
		case OPT_LEADER_ID: o.leader_election_id = optarg; break;
		case OPT_WORKERS:
			if (parse_int_flag("workers", optarg, 1, 64, &v))
				return 2;
			o.workers = (int)v;
			break;
		case OPT_QPS: {
			char *end;
			o.qps = strtod(optarg, &end);
			if (!*optarg || *end || o.qps <= 0) {
				fprintf(stderr, "modelcache-operator run: invalid value \"%s\" for --qps\n", optarg);
				return 2;
			}
			break;
		}
		case OPT_BURST:
			if (parse_int_flag("burst", optarg, 1, 100000, &v))
				return 2;
			o.burst = (int)v;
			break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
				fprintf(stderr, "modelcache-operator run: --log-format must be text or json\n");
				return 2;
			}
			o.log_format = optarg;
			break;
		case OPT_LOG_LEVEL: o.log_level = optarg; break;
		case OPT_HF: o.hf_endpoint = optarg; break;
		case OPT_IMAGE: o.hydrator_image = optarg; break;
		case OPT_WEBHOOK_PORT:
			if (parse_int_flag("webhook-port", optarg, 0, 65535, &v))
				return 2;
			o.webhook_port = (int)v;
			break;
		case OPT_WEBHOOK_DIR: o.webhook_cert_dir = optarg; break;
		case OPT_CACHE_SIZE: o.default_cache_size = optarg; break;
		case OPT_IC_RECHECK:
			if (parse_int_flag("ic-recheck-seconds", optarg, 1, 3600, &v))
				return 2;
			o.ic_recheck_seconds = (int)v;
			break;
		case OPT_RETRY_BASE:
			if (parse_int_flag("hydration-retry-base", optarg, 1, 3600, &v))
				return 2;
			o.hydration_retry_base_seconds = (int)v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "modelcache-operator run: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	enum log_level lvl;
	if (log_level_parse(o.log_level, &lvl)) {
		fprintf(stderr, "modelcache-operator run: invalid --log-level \"%s\"\n", o.log_level);
		return 2;
	}
	log_init(lvl, strcmp(o.log_format, "json") == 0);
	/* process_* metrics (RSS, CPU, open fds, threads, start time) on /metrics */
	metrics_register_process_collector(NULL);

	char *identity = NULL;
	const char *pod = getenv("POD_NAME");
	if (pod && *pod) {
		identity = xstrdup(pod);
	} else {
		char host[256] = "host";
		gethostname(host, sizeof host - 1);
		host[sizeof host - 1] = 0;
		identity = xasprintf("%s_%d", host, (int)getpid());
	}
	o.identity = identity;

	/* Before any thread exists: signals are taken with sigtimedwait by the manager. */
	mgr_block_signals();
	struct manager *m = NULL;
	char *err = NULL;
	if (mgr_new(&o, &m, &err)) {
		LOG_ERROR("cannot start", "error=%s", err ? err : "unknown");
		free(err);
		free(identity);
		return 1;
	}
	int rc = inferencecluster_controller_setup(m, &o);
	if (rc == 0)
		rc = modelcache_controller_setup(m, &o);
	if (rc == 0)
		rc = modeldeployment_controller_setup(m, &o);
	if (rc == 0)
		rc = webhook_setup(m, &o);   /* --webhook-port 0: nothing */
	if (rc) {
		LOG_ERROR("controller setup failed", "rc=%d", rc);
		mgr_free(m);
		free(identity);
		return 1;
	}
	LOG_INFO("starting", "version=%s identity=%s leader_elect=%s workers=%d", MC_VERSION, identity,
		 o.leader_elect ? "true" : "false", o.workers);
	rc = mgr_run(m);
	mgr_free(m);
	free(identity);
	return rc;
}
