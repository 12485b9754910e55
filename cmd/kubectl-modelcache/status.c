/* kubectl modelcache status mc/NAME | md/NAME [-n NS] [-o json]
 *
 * Reads one ModelCache or ModelDeployment from the control-plane cluster and
 * prints a tree per cluster: for a ModelCache the phase, reason, message,
 * PVC, Job and attempts on every matched cluster (and the numbers of a VRAM
 * skip); for a ModelDeployment the placements per cluster and the workload
 * readiness. Exit 0 when the object is Ready (ModelCache) or Available
 * (ModelDeployment) for its current generation, 1 otherwise (also when it
 * cannot be read), 2 on a usage error, so scripts can wait on it. The
 * conditions and reasons are explained in docs/operations.md. */
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/client.h"
#include "kube/config.h"
#include "kube/resource.h"
#include "plugin.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/quantity.h"

#define EXIT_READY 0
#define EXIT_NOT_READY 1
#define EXIT_USAGE 2

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: kubectl modelcache status (mc|md)/NAME [FLAGS]\n"
		"\n"
		"Shows a ModelCache (mc, modelcache) or ModelDeployment (md, modeldeployment)\n"
		"per cluster. Exit 0 when it is Ready (ModelCache) or Available (ModelDeployment),\n"
		"1 otherwise, 2 on a usage error.\n"
		"\n"
		"Flags:\n"
		"  -n, --namespace NS   namespace (default: the kubeconfig context's)\n"
		"  -o, --output FORMAT  text (default) or json\n"
		"  --kubeconfig PATH    kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)\n"
		"  --context NAME       kubeconfig context\n"
		"  -h, --help           this help\n");
	return f == stdout ? 0 : EXIT_USAGE;
}

/* "mc/NAME" -> the resource; NULL when the type is not one of ours. */
static const struct kube_resource *parse_ref(const char *ref, const char **name)
{
	static const struct {
		const char *alias;
		const struct kube_resource *res;
	} kinds[] = {
		{"mc", &KUBE_RES_MODELCACHES},
		{"modelcache", &KUBE_RES_MODELCACHES},
		{"modelcaches", &KUBE_RES_MODELCACHES},
		{"modelcache.modelcache.dev", &KUBE_RES_MODELCACHES},
		{"modelcaches.modelcache.dev", &KUBE_RES_MODELCACHES},
		{"md", &KUBE_RES_MODELDEPLOYMENTS},
		{"modeldeployment", &KUBE_RES_MODELDEPLOYMENTS},
		{"modeldeployments", &KUBE_RES_MODELDEPLOYMENTS},
		{"modeldeployment.modelcache.dev", &KUBE_RES_MODELDEPLOYMENTS},
		{"modeldeployments.modelcache.dev", &KUBE_RES_MODELDEPLOYMENTS},
	};
	const char *slash = strchr(ref, '/');

	if (!slash || !slash[1] || strchr(slash + 1, '/'))
		return NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].alias) == (size_t)(slash - ref) &&
		    strncasecmp(ref, kinds[i].alias, (size_t)(slash - ref)) == 0) {
			*name = slash + 1;
			return kinds[i].res;
		}
	}
	return NULL;
}

static json_object *condition(json_object *obj, const char *type)
{
	return jpath_find_type(jpath_get(obj, "status.conditions"), type);
}

/* Ready for the current generation: condition `type` True and observed at
 * this generation (a condition without observedGeneration counts). */
static bool is_true_now(json_object *obj, const char *type)
{
	json_object *c = condition(obj, type);
	int64_t gen = jpath_int_or(obj, "metadata.generation", 0);

	if (!c || strcmp(jpath_str_or(c, "status", ""), "True") != 0)
		return false;
	return jpath_int_or(c, "observedGeneration", gen) == gen;
}

static void gib(int64_t bytes, char *out, size_t n)
{
	snprintf(out, n, "%.3g GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
}

/* One "key: value" leaf of the tree; value may be NULL (skipped). */
static void leaf(const char *indent, bool last, const char *key, const char *value)
{
	printf("%s%s %s: %s\n", indent, last ? "└─" : "├─", key, value);
}

static void print_conditions(json_object *obj, const char *const *types, size_t n)
{
	printf("conditions:");
	for (size_t i = 0; i < n; i++) {
		json_object *c = condition(obj, types[i]);

		if (c)
			printf(" %s=%s/%s", types[i], jpath_str_or(c, "status", "Unknown"), jpath_str_or(c, "reason", "-"));
	}
	printf("\n");
}

static void print_modelcache(json_object *mc, bool ready)
{
	static const char *const types[] = {"Valid", "ClustersMatched", "SizeEstimated", "ArtifactReady",
					    "Ready", "Stalled", "InUse", "CleanupBlocked"};
	json_object *art = condition(mc, "ArtifactReady");
	json_object *clusters = jpath_get(mc, "status.clusters");
	size_t n = clusters && json_object_is_type(clusters, json_type_array) ? json_object_array_length(clusters) : 0;
	const char *rev = jpath_str(mc, "status.resolvedRevision");

	printf("ModelCache %s/%s: %s, %s clusters ready (%s: %s)\n", jpath_str_or(mc, "metadata.namespace", "?"),
	       jpath_str_or(mc, "metadata.name", "?"), ready ? "Ready" : "not Ready",
	       jpath_str_or(mc, "status.summary.ready", "0/0"), art ? jpath_str_or(art, "reason", "-") : "NoStatus",
	       art ? jpath_str_or(art, "message", "") : "the operator has not reported on it yet");
	printf("source: %s@%s%s%s%s  size: %s\n", jpath_str_or(mc, "spec.huggingFace.repo", "?"),
	       jpath_str_or(mc, "spec.huggingFace.revision", "main"), rev ? " (" : "", rev ? rev : "", rev ? ")" : "",
	       jpath_str_or(mc, "status.size", "-"));
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(clusters, i);
		bool last = i + 1 == n;
		const char *ind = last ? "   " : "│  ";
		const char *msg = jpath_str_or(c, "message", NULL);
		int64_t est = jpath_int_or(c, "estimatedBytes", 0), avail = jpath_int_or(c, "availableBytes", 0);
		char buf[128];

		printf("%s %s: %s (%s)\n", last ? "└─" : "├─", jpath_str_or(c, "name", "?"),
		       jpath_str_or(c, "phase", "Pending"), jpath_str_or(c, "reason", "-"));
		/* the leaves present, in a fixed order; the last one closes the branch */
		const char *keys[6], *vals[6];
		char attempts[32], numbers[160];
		size_t k = 0;
		if (msg) {
			keys[k] = "message";
			vals[k++] = msg;
		}
		if (jpath_str(c, "pvc")) {
			keys[k] = "pvc";
			vals[k++] = jpath_str(c, "pvc");
		}
		if (jpath_str(c, "job")) {
			keys[k] = "job";
			vals[k++] = jpath_str(c, "job");
		}
		if (jpath_get(c, "attempts")) {
			snprintf(attempts, sizeof(attempts), "%" PRId64, jpath_int_or(c, "attempts", 0));
			keys[k] = "attempts";
			vals[k++] = attempts;
		}
		if (est > 0 || avail > 0) {
			gib(est, buf, sizeof(buf));
			snprintf(numbers, sizeof(numbers), "needs %s, largest node has ", buf);
			gib(avail, buf, sizeof(buf));
			strncat(numbers, buf, sizeof(numbers) - strlen(numbers) - 1);
			keys[k] = "gpu memory";
			vals[k++] = numbers;
		}
		if (jpath_str(c, "lastTransitionTime")) {
			keys[k] = "since";
			vals[k++] = jpath_str(c, "lastTransitionTime");
		}
		for (size_t j = 0; j < k; j++)
			leaf(ind, j + 1 == k, keys[j], vals[j]);
	}
	if (n == 0)
		printf("└─ (no cluster matched)\n");
	print_conditions(mc, types, sizeof(types) / sizeof(types[0]));
}

static void print_modeldeployment(json_object *md, bool ready)
{
	static const char *const types[] = {"Valid", "ModelCacheResolved", "CacheReady", "Scheduled",
					    "Available", "Ready", "Stalled"};
	json_object *av = condition(md, "Available");
	json_object *pl = jpath_get(md, "status.placements");
	size_t n = pl && json_object_is_type(pl, json_type_array) ? json_object_array_length(pl) : 0;
	json_object *sched = condition(md, "Scheduled");

	printf("ModelDeployment %s/%s: %s, %" PRId64 "/%" PRId64 " replicas ready (%s: %s)\n",
	       jpath_str_or(md, "metadata.namespace", "?"), jpath_str_or(md, "metadata.name", "?"),
	       ready ? "Available" : "not Available", jpath_int_or(md, "status.replicas.ready", 0),
	       jpath_int_or(md, "spec.replicas", 1), av ? jpath_str_or(av, "reason", "-") : "NoStatus",
	       av ? jpath_str_or(av, "message", "") : "the operator has not reported on it yet");
	printf("cache: %s  engine: %s\n", jpath_str_or(md, "spec.modelCacheRef.name", "-"),
	       jpath_str_or(md, "spec.engine.image", "?"));
	/* placements grouped by cluster, in the order they first appear */
	bool *done = n ? xcalloc(n, sizeof(bool)) : NULL;
	size_t groups = 0, printed = 0;
	for (size_t i = 0; i < n; i++) {
		const char *ci = jpath_str_or(json_object_array_get_idx(pl, i), "cluster", "?");
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen = seen || strcmp(ci, jpath_str_or(json_object_array_get_idx(pl, j), "cluster", "?")) == 0;
		groups += !seen;
	}
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		const char *cl = jpath_str_or(json_object_array_get_idx(pl, i), "cluster", "?");
		bool last = ++printed == groups;
		const char *ind = last ? "   " : "│  ";
		size_t members = 0, seen = 0;

		for (size_t j = i; j < n; j++)
			members += strcmp(cl, jpath_str_or(json_object_array_get_idx(pl, j), "cluster", "?")) == 0;
		printf("%s %s: %zu replica%s\n", last ? "└─" : "├─", cl, members, members == 1 ? "" : "s");
		for (size_t j = i; j < n; j++) {
			json_object *p = json_object_array_get_idx(pl, j);
			char line[512];

			if (strcmp(cl, jpath_str_or(p, "cluster", "?")) != 0)
				continue;
			done[j] = true;
			snprintf(line, sizeof(line),
				 "%" PRId64 " node%s x %" PRId64 " GPU%s, tensor %" PRId64 ", pipeline %" PRId64 "%s%s",
				 jpath_int_or(p, "nodes", 1), jpath_int_or(p, "nodes", 1) == 1 ? "" : "s",
				 jpath_int_or(p, "gpusPerNode", 0), jpath_int_or(p, "gpusPerNode", 0) == 1 ? "" : "s",
				 jpath_int_or(p, "tensor", 1), jpath_int_or(p, "pipeline", 1),
				 jpath_str(p, "message") ? "; " : "", jpath_str_or(p, "message", ""));
			char key[32];
			snprintf(key, sizeof(key), "replica %" PRId64, jpath_int_or(p, "replica", 0));
			leaf(ind, ++seen == members, key, line);
		}
	}
	free(done);
	if (n == 0)
		printf("└─ (not placed%s%s)\n", sched ? ": " : "", sched ? jpath_str_or(sched, "message", "") : "");
	print_conditions(md, types, sizeof(types) / sizeof(types[0]));
}

/* The -o json answer: what scripts need, in a stable shape. */
static json_object *summary(json_object *obj, bool is_mc, bool ready)
{
	json_object *s = json_object_new_object();
	json_object *conds = json_object_new_object();
	json_object *arr = jpath_get(obj, "status.conditions");

	json_object_object_add(s, "kind", json_object_new_string(is_mc ? "ModelCache" : "ModelDeployment"));
	json_object_object_add(s, "namespace", json_object_new_string(jpath_str_or(obj, "metadata.namespace", "")));
	json_object_object_add(s, "name", json_object_new_string(jpath_str_or(obj, "metadata.name", "")));
	json_object_object_add(s, "ready", json_object_new_boolean(ready));
	json_object_object_add(s, "generation", json_object_new_int64(jpath_int_or(obj, "metadata.generation", 0)));
	json_object_object_add(s, "observedGeneration",
			       json_object_new_int64(jpath_int_or(obj, "status.observedGeneration", 0)));
	for (size_t i = 0; arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
		json_object *c = json_object_array_get_idx(arr, i), *e = json_object_new_object();
		const char *keys[] = {"status", "reason", "message"};

		for (size_t k = 0; k < 3; k++)
			json_object_object_add(e, keys[k], json_object_new_string(jpath_str_or(c, keys[k], "")));
		json_object_object_add(conds, jpath_str_or(c, "type", "?"), e);
	}
	json_object_object_add(s, "conditions", conds);
	if (is_mc) {
		json_object *cl = jpath_get(obj, "status.clusters");
		json_object_object_add(s, "summary", json_object_new_string(jpath_str_or(obj, "status.summary.ready", "0/0")));
		json_object_object_add(s, "clusters", cl ? json_object_get(cl) : json_object_new_array());
	} else {
		json_object *pl = jpath_get(obj, "status.placements");
		json_object *rep = json_object_new_object();
		json_object_object_add(rep, "desired", json_object_new_int64(jpath_int_or(obj, "spec.replicas", 1)));
		json_object_object_add(rep, "ready", json_object_new_int64(jpath_int_or(obj, "status.replicas.ready", 0)));
		json_object_object_add(s, "replicas", rep);
		json_object_object_add(s, "placements", pl ? json_object_get(pl) : json_object_new_array());
	}
	return s;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{"namespace", required_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"kubeconfig", required_argument, NULL, 'k'},
		{"context", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *ns = NULL, *output = "text", *kubeconfig = NULL, *context = NULL, *name = NULL;
	const struct kube_resource *res;
	struct kube_config *cfg = NULL;
	struct kube_client *client = NULL;
	struct kube_error err = {0};
	json_object *obj = NULL;
	char *errmsg = NULL;
	int c, rc = EXIT_NOT_READY;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': ns = optarg; break;
		case 'o': output = optarg; break;
		case 'k': kubeconfig = optarg; break;
		case 'c': context = optarg; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "kubectl modelcache status: exactly one mc/NAME or md/NAME is required\n\n");
		return usage(stderr);
	}
	if (strcmp(output, "text") != 0 && strcmp(output, "json") != 0) {
		fprintf(stderr, "kubectl modelcache status: unknown output format \"%s\" (text or json)\n", output);
		return EXIT_USAGE;
	}
	res = parse_ref(argv[optind], &name);
	if (!res) {
		fprintf(stderr, "kubectl modelcache status: \"%s\" is not mc/NAME or md/NAME\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (kube_config_load(kubeconfig, context, &cfg, &errmsg) != 0) {
		fprintf(stderr, "kubectl modelcache status: %s\n", errmsg ? errmsg : "cannot load the kubeconfig");
		goto out;
	}
	if (!ns)
		ns = kube_config_namespace(cfg);
	struct kube_client_opts copts = {.user_agent = "kubectl-modelcache/" MC_VERSION, .timeout_s = 20,
					 .max_retries = 2};
	if (kube_client_new(cfg, &copts, &client, &err) != 0 ||
	    kube_get(client, res, ns, name, &obj, &err) != 0) {
		fprintf(stderr, "kubectl modelcache status: %s %s/%s: %s\n", res->kind, ns, name,
			err.message ? err.message : kube_reason_str(err.reason));
		goto out;
	}
	bool is_mc = res == &KUBE_RES_MODELCACHES;
	bool ready = is_true_now(obj, is_mc ? "Ready" : "Available");
	if (is_mc && !condition(obj, "Ready"))   /* operators before the Ready condition */
		ready = is_true_now(obj, "ArtifactReady");
	if (strcmp(output, "json") == 0) {
		json_object *s = summary(obj, is_mc, ready);
		printf("%s\n", json_object_to_json_string_ext(s, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(s);
	} else if (is_mc) {
		print_modelcache(obj, ready);
	} else {
		print_modeldeployment(obj, ready);
	}
	rc = ready ? EXIT_READY : EXIT_NOT_READY;
out:
	if (obj)
		json_object_put(obj);
	kube_error_clear(&err);
	kube_client_free(client);
	kube_config_free(cfg);
	free(errmsg);
	return rc;
}
