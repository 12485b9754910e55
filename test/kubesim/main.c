/* kubesim: a Kubernetes API simulator for tests (test/kubesim/README.md).
 *
 *   kubesim --port 0 --kubeconfig-out PATH [--data-dir DIR] [--bind-pvcs]
 *           [--run-jobs] [--ready-deployments] [--tls] [--token TOKEN]
 *           [--client-ca] [--request-log FILE] [--fault-watch-drop-seconds N]
 *           [--fault-error-rate R] [--fault-latency-ms N] [--compact-seconds N]
 *           [--service-endpoint NS/NAME=HOST:PORT]... [--rbac]
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "admission.h"
#include "api.h"
#include "certs.h"
#include "gc.h"
#include "http.h"
#include "rbac.h"
#include "serviceaccount.h"
#include "sim.h"
#include "util/log.h"
#include "util/mem.h"
#ifdef KUBESIM_HAVE_BEHAVE
#include "behave.h"
#endif

struct flags {
	int port;
	const char *kubeconfig_out;
	const char *data_dir;
	int bind_pvcs, run_jobs, ready_deployments;
	int tls, client_ca, rbac;
	const char *token;
	const char *request_log;
	int watch_drop_s;
	double error_rate;
	int latency_ms;
	int compact_s;
	const char *log_level;
	const char *endpoints[64];   /* --service-endpoint NS/NAME=HOST:PORT */
	int nendpoints;
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_sigpipe(int sig)
{
	(void)sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kubesim --port N --kubeconfig-out PATH [--data-dir DIR] [--bind-pvcs] [--run-jobs]\n"
		"               [--ready-deployments] [--tls] [--token TOKEN] [--client-ca]\n"
		"               [--request-log FILE] [--fault-watch-drop-seconds N] [--fault-error-rate R]\n"
		"               [--fault-latency-ms N] [--compact-seconds N] [--log-level LEVEL]\n"
		"               [--service-endpoint NS/NAME=HOST:PORT]... [--rbac]\n");
}

static int parse_flags(int argc, char **argv, struct flags *f)
{
	enum { O_PORT = 1, O_KC, O_DATA, O_BIND, O_JOBS, O_DEPLOY, O_TLS, O_TOKEN, O_CLIENTCA, O_RLOG,
	       O_DROP, O_ERR, O_LAT, O_COMPACT, O_LOGLEVEL, O_SVCEP, O_RBAC, O_HELP };
	static const struct option opts[] = {
		{"port", required_argument, NULL, O_PORT},
		{"kubeconfig-out", required_argument, NULL, O_KC},
		{"data-dir", required_argument, NULL, O_DATA},
		{"bind-pvcs", no_argument, NULL, O_BIND},
		{"run-jobs", no_argument, NULL, O_JOBS},
		{"ready-deployments", no_argument, NULL, O_DEPLOY},
		{"tls", no_argument, NULL, O_TLS},
		{"token", required_argument, NULL, O_TOKEN},
		{"client-ca", no_argument, NULL, O_CLIENTCA},
		{"request-log", required_argument, NULL, O_RLOG},
		{"fault-watch-drop-seconds", required_argument, NULL, O_DROP},
		{"fault-error-rate", required_argument, NULL, O_ERR},
		{"fault-latency-ms", required_argument, NULL, O_LAT},
		{"compact-seconds", required_argument, NULL, O_COMPACT},
		{"log-level", required_argument, NULL, O_LOGLEVEL},
		{"service-endpoint", required_argument, NULL, O_SVCEP},
		{"rbac", no_argument, NULL, O_RBAC},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_PORT: f->port = atoi(optarg); break;
		case O_KC: f->kubeconfig_out = optarg; break;
		case O_DATA: f->data_dir = optarg; break;
		case O_BIND: f->bind_pvcs = 1; break;
		case O_JOBS: f->run_jobs = 1; break;
		case O_DEPLOY: f->ready_deployments = 1; break;
		case O_TLS: f->tls = 1; break;
		case O_TOKEN: f->token = optarg; break;
		case O_CLIENTCA: f->client_ca = 1; f->tls = 1; break;
		case O_RLOG: f->request_log = optarg; break;
		case O_DROP: f->watch_drop_s = atoi(optarg); break;
		case O_ERR: f->error_rate = atof(optarg); break;
		case O_LAT: f->latency_ms = atoi(optarg); break;
		case O_COMPACT: f->compact_s = atoi(optarg); break;
		case O_LOGLEVEL: f->log_level = optarg; break;
		case O_SVCEP:
			if (f->nendpoints == 64) {
				fprintf(stderr, "kubesim: at most 64 --service-endpoint flags\n");
				return -1;
			}
			f->endpoints[f->nendpoints++] = optarg;
			break;
		case O_RBAC: f->rbac = 1; break;
		case O_HELP: usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc || f->port < 0 || f->port > 65535 || f->error_rate < 0 || f->error_rate > 1) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static char *b64(const char *s)
{
	size_t n = strlen(s);
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)s, (int)n);
	return o;
}

/* Write the kubeconfig to path.tmp, then rename (atomic for readers). */
static int write_kubeconfig(const char *path, const char *server, const struct certs *c, const char *token,
			    int client_cert)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "we");
	if (!f) {
		int e = -errno;
		free(tmp);
		return e;
	}
	fchmod(fileno(f), 0600);
	fprintf(f, "apiVersion: v1\nkind: Config\nclusters:\n- name: kubesim\n  cluster:\n    server: %s\n", server);
	if (c && c->ca_pem) {
		char *ca = b64(c->ca_pem);
		fprintf(f, "    certificate-authority-data: %s\n", ca);
		free(ca);
	}
	fprintf(f, "users:\n- name: kubesim\n  user:");
	if (!token && !client_cert)
		fprintf(f, " {}\n");
	else
		fprintf(f, "\n");
	if (token)
		fprintf(f, "    token: %s\n", token);
	if (client_cert) {
		char *cc = b64(c->client_cert_pem), *ck = b64(c->client_key_pem);
		fprintf(f, "    client-certificate-data: %s\n    client-key-data: %s\n", cc, ck);
		free(cc);
		free_secret(ck);
	}
	fprintf(f, "contexts:\n- name: kubesim\n  context:\n    cluster: kubesim\n    user: kubesim\n"
		   "    namespace: default\ncurrent-context: kubesim\n");
	int rc = 0;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

static char *bin_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return xstrdup(".");
	exe[n] = 0;
	return xstrdup(dirname(exe));
}

int main(int argc, char **argv)
{
	struct flags f = {0};
	struct sim *s = NULL;
	struct gc *gc = NULL;
	struct api *api = NULL;
	struct admission *adm = NULL;
	struct http_server *srv = NULL;
	struct certs certs = {0}, placeholder = {0};
	struct sa_ctl *sactl = NULL;
	SSL_CTX *ctx = NULL;
	char *bindir = NULL, *tmpdata = NULL;
	int rc = 1;
#ifdef KUBESIM_HAVE_BEHAVE
	struct behave *bh = NULL;
#endif
	if (parse_flags(argc, argv, &f) < 0)
		return 2;
	enum log_level lvl = LOG_LEVEL_INFO;
	if (f.log_level && log_level_parse(f.log_level, &lvl) < 0) {
		fprintf(stderr, "kubesim: bad --log-level\n");
		return 2;
	}
	log_init(lvl, false);
	if (!f.kubeconfig_out) {
		fprintf(stderr, "kubesim: --kubeconfig-out is required\n");
		return 2;
	}
#ifndef KUBESIM_HAVE_BEHAVE
	if (f.bind_pvcs || f.run_jobs || f.ready_deployments) {
		fprintf(stderr, "kubesim: cluster behaviours (behave.c) are not built into this binary\n");
		return 2;
	}
#endif
	/* Signals are CAUGHT (not blocked or ignored): the processes the Job
	 * behaviour starts inherit the signal mask and ignored dispositions but
	 * not handlers, so containers see SIGTERM/SIGPIPE as usual. SIGPIPE's
	 * empty handler turns a write to a closed peer into EPIPE. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART; /* other threads' blocking calls are not interrupted */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_sigpipe;
	sigaction(SIGPIPE, &sa, NULL);

	if (sim_new(NULL, &s) < 0 || gc_start(s, &gc) < 0) {
		fprintf(stderr, "kubesim: cannot start the store\n");
		goto out;
	}
	/* mutating admission webhooks (admission.c), also for the behaviours' pods */
	admission_new(s, &adm);
	for (int i = 0; i < f.nendpoints; i++) {
		if (admission_add_endpoint(adm, f.endpoints[i]) < 0) {
			fprintf(stderr, "kubesim: bad --service-endpoint \"%s\" (want NS/NAME=HOST:PORT)\n", f.endpoints[i]);
			rc = 2;
			goto out;
		}
	}
	admission_install(adm);
	if (f.tls) {
		if (certs_generate(&certs) < 0 || !(ctx = certs_server_ctx(&certs, f.client_ca))) {
			fprintf(stderr, "kubesim: cannot generate TLS certificates\n");
			goto out;
		}
	}
	/* the default ServiceAccounts, kube-root-ca.crt (kubesim's CA with --tls,
	 * else a generated CA nothing is signed with), SA admission and tokens */
	if (!f.tls && certs_generate(&placeholder) < 0) {
		fprintf(stderr, "kubesim: cannot generate the kube-root-ca.crt placeholder\n");
		goto out;
	}
	if (sa_start(s, f.tls ? certs.ca_pem : placeholder.ca_pem, &sactl) < 0) {
		fprintf(stderr, "kubesim: cannot start the ServiceAccount controllers\n");
		goto out;
	}
	/* the apiserver's bootstrap ClusterRoles and bindings (rbac.h) */
	json_object *boot = rbac_bootstrap();
	for (size_t i = 0; i < json_object_array_length(boot); i++) {
		json_object *e = json_object_array_get_idx(boot, i);
		struct sim_err se = {0};
		sim_create(s, "rbac.authorization.k8s.io", "v1", json_object_get_string(json_object_object_get(e, "resource")),
			   NULL, json_object_object_get(e, "object"), NULL, &se);
		sim_err_cleanup(&se);
	}
	json_object_put(boot);
	struct api_opts ao = {
		.rbac = f.rbac,
		.sa = sactl,
		.sim = s,
		.token = f.token,
		.client_ca = f.client_ca,
		.request_log = f.request_log,
		.fault_watch_drop_s = f.watch_drop_s,
		.fault_error_rate = f.error_rate,
		.fault_latency_ms = f.latency_ms,
	};
	if (api_new(&ao, &api) < 0) {
		fprintf(stderr, "kubesim: cannot open the request log %s\n", f.request_log);
		goto out;
	}
	bindir = bin_dir();
#ifdef KUBESIM_HAVE_BEHAVE
	if (f.bind_pvcs || f.run_jobs || f.ready_deployments) {
		const char *dd = f.data_dir;
		if (!dd) {
			tmpdata = xstrdup("/tmp/kubesim-data-XXXXXX");
			if (!mkdtemp(tmpdata)) {
				fprintf(stderr, "kubesim: mkdtemp failed\n");
				goto out;
			}
			dd = tmpdata;
		}
		mkdir(dd, 0755);
		struct behave_opts bo = {
			.bind_pvcs = f.bind_pvcs,
			.run_jobs = f.run_jobs,
			.ready_deployments = f.ready_deployments,
			.data_dir = dd,
			.bin_dir = bindir,
		};
		if (behave_start(s, &bo, &bh) < 0) {
			fprintf(stderr, "kubesim: cannot start the cluster behaviours\n");
			goto out;
		}
	}
#endif
	struct http_server_opts ho = {.port = f.port, .ssl_ctx = ctx, .handler = api_handle, .ctx = api};
	int hrc = http_server_start(&ho, &srv);
	if (hrc < 0) {
		fprintf(stderr, "kubesim: cannot listen on port %d: %s\n", f.port, strerror(-hrc));
		goto out;
	}
	char server[64];
	snprintf(server, sizeof(server), "%s://127.0.0.1:%d", f.tls ? "https" : "http", http_server_port(srv));
	if (write_kubeconfig(f.kubeconfig_out, server, f.tls ? &certs : NULL, f.token, f.client_ca) < 0) {
		fprintf(stderr, "kubesim: cannot write %s\n", f.kubeconfig_out);
		goto out;
	}
	printf("kubesim listening on %s\n", server);
	fflush(stdout);
	LOG_INFO("kubesim started", "server=%s tls=%d token=%d client_ca=%d rbac=%d", server, f.tls, f.token != NULL,
		 f.client_ca, f.rbac);

	uint64_t next_compact = f.compact_s > 0 ? (uint64_t)time(NULL) + (uint64_t)f.compact_s : 0;
	while (!stop_requested) {
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL); /* EINTR on a signal: the flag is checked at once */
		if (stop_requested)
			break;
		if (next_compact && (uint64_t)time(NULL) >= next_compact) {
			sim_compact(s);
			LOG_DEBUG("compacted", "rv=%llu", (unsigned long long)sim_current_rv(s));
			next_compact = (uint64_t)time(NULL) + (uint64_t)f.compact_s;
		}
	}
	LOG_INFO("kubesim stopping", "server=%s", server);
	rc = 0;
out:
#ifdef KUBESIM_HAVE_BEHAVE
	if (bh)
		behave_stop(bh);
#endif
	if (s)
		sim_shutdown(s);
	http_server_stop(srv);
	gc_stop(gc);
	sa_stop(sactl);
	api_free(api);
	sim_free(s);
	admission_free(adm);
	if (ctx)
		SSL_CTX_free(ctx);
	certs_cleanup(&certs);
	certs_cleanup(&placeholder);
	free(bindir);
	free(tmpdata);
	return rc;
}
