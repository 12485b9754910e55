/* The operator's command-line options (`modelcache-operator run`), shared
 * with the reconcilers' setup functions. Plain value type; strings are
 * borrowed from argv / literals. */
#ifndef MC_MANAGER_OPTIONS_H
#define MC_MANAGER_OPTIONS_H

#include <stdbool.h>

struct mclock;

struct operator_options {
	const char *kubeconfig;                /* --kubeconfig (NULL: $KUBECONFIG, ~/.kube/config, in-cluster) */
	const char *metrics_bind_address;      /* --metrics-bind-address, default ":8080"; "0" disables */
	const char *health_probe_bind_address; /* --health-probe-bind-address, default ":8081"; "0" disables */
	bool leader_elect;                     /* --leader-elect */
	const char *leader_election_namespace; /* default: the kubeconfig namespace, else "modelcache-system" */
	const char *leader_election_id;        /* default "modelcache-operator.modelcache.dev" */
	int workers;                           /* --workers per controller, default 2 */
	double qps;                            /* --qps, default 20 */
	int burst;                             /* --burst, default 30 */
	const char *log_format;                /* text | json */
	const char *log_level;                 /* error|warn|info|debug|trace */
	const char *hf_endpoint;               /* --hf-endpoint (HF_ENDPOINT for hydration Jobs) */
	const char *hydrator_image;            /* --hydrator-image */
	int webhook_port;                      /* --webhook-port, default 9443; 0 disables */
	const char *webhook_cert_dir;          /* --webhook-cert-dir */
	const char *default_cache_size;        /* --default-cache-size, default "100Gi" (PVC size when the estimate fails) */
	const char *identity;                  /* leader identity: $POD_NAME or hostname_pid */
	int ic_recheck_seconds;                /* InferenceCluster re-check period (30) */
	int resync_seconds;                    /* informer resync period (default 30) */
	int hydration_retry_base_seconds;      /* --hydration-retry-base: first backoff of a failed hydration (60) */
	const struct mclock *clock;            /* the reconcilers' clock; NULL = the system's (tests inject one) */
};

void operator_options_defaults(struct operator_options *o);

#endif
