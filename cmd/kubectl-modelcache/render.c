/* `kubectl modelcache render -f FILE [--cluster-file IC.yaml]... [--endpoint URL]`
 *
 * Prints, without any cluster, the objects the operator would compose for
 * the ModelCaches in FILE on each InferenceCluster given (the same
 * pkg/compose code the reconciler runs), so a GitOps change can be reviewed
 * as YAML. InferenceClusters are taken from --cluster-file and from FILE
 * itself; with none, a `local` cluster is assumed. The PVC size is
 * spec.size, else the estimate (download bytes x 1.15, rounded up to Gi)
 * fetched from the Hub at --endpoint, else --default-cache-size with a
 * note. The VRAM precheck runs when the weights are known. On a cluster
 * with a budget (spec.cache capacity or maxCaches) the capacity admission
 * is decided from the status the cluster files carry (the InferenceCluster's
 * status.cache, the ModelCaches' status.clusters[], the ModelDeployments'
 * status.placements[], e.g. `kubectl get ic,mc,md -A -o yaml`) with the
 * reconciler's own code (pkg/capacity/view.h) and printed as a comment:
 * admitted with the free space before and after, admitted after evicting
 * the caches named (least recently used first, each with its Evicted
 * message), or Pending (InsufficientCapacity) with the operator's message
 * and nothing composed. Notes go to stderr and as YAML comments; exit 0, 1
 * on a usage or input error. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "capacity/view.h"
#include "compose/compose.h"
#include "compose/emit.h"
#include "compose/precheck.h"
#include "compose/yamlload.h"
#include "labels/labels.h"
#include "plugin.h"
#include "util/buf.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/quantity.h"
#ifdef MC_HAVE_ESTIMATE
#include "estimate/estimate.h"
#include "hub/hub.h"
#endif

#define MAX_INPUT (16u << 20)
#define MAX_FILES 32

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: kubectl modelcache render -f FILE [--cluster-file IC.yaml]... [--endpoint URL]\n"
		"\n"
		"Print the objects the operator would compose for the ModelCaches in FILE on each\n"
		"InferenceCluster (from --cluster-file and FILE; a local cluster when none), without a cluster.\n"
		"\n"
		"Flags:\n"
		"  -f, --filename FILE        manifests with ModelCaches ('-' = stdin)\n"
		"      --cluster-file FILE    InferenceCluster manifests (repeatable); with their status and the\n"
		"                             ModelCaches and ModelDeployments there (kubectl get ic,mc,md -A -o yaml),\n"
		"                             the capacity admission on clusters with spec.cache.capacity/maxCaches\n"
		"      --endpoint URL         Hugging Face endpoint used to estimate sizes (no spec.size)\n"
		"      --hf-endpoint URL      HF_ENDPOINT given to hydration Jobs (operator --hf-endpoint)\n"
		"      --hydrator-image IMG   image of hydration Jobs (default modelcache-operator:%s)\n"
		"      --default-cache-size Q size when it cannot be estimated (default 100Gi)\n",
		MC_VERSION);
	return f == stdout ? 0 : 1;
}

static int read_all(const char *path, char **out, size_t *len, char **err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -errno;
	}
	struct buf b;
	buf_init(&b, MAX_INPUT);
	char chunk[8192];
	size_t n;
	int rc = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, n) != 0) {
			*err = xasprintf("%s: larger than %u MiB", path, MAX_INPUT >> 20);
			rc = -E2BIG;
			break;
		}
	}
	if (f != stdin)
		fclose(f);
	if (rc) {
		buf_cleanup(&b);
		return rc;
	}
	*out = buf_take(&b, len);
	return 0;
}

/* Append the documents of path (a List's items are flattened) to all. */
static int load_docs(const char *path, json_object *all, char **err)
{
	char *data = NULL, *perr = NULL;
	size_t len = 0;
	json_object *docs = NULL;
	int rc = read_all(path, &data, &len, err);
	if (rc)
		return rc;
	rc = compose_yaml_load(data, len, &docs, &perr);
	free(data);
	if (rc) {
		*err = xasprintf("%s: %s", path, perr ? perr : "invalid YAML");
		free(perr);
		return rc;
	}
	for (size_t i = 0; i < json_object_array_length(docs); i++) {
		json_object *d = json_object_array_get_idx(docs, i);
		json_object *items = jpath_child(d, "items");
		if (items && json_object_is_type(items, json_type_array)) {
			for (size_t j = 0; j < json_object_array_length(items); j++)
				json_object_array_add(all, json_object_get(json_object_array_get_idx(items, j)));
		} else if (d && json_object_is_type(d, json_type_object)) {
			json_object_array_add(all, json_object_get(d));
		}
	}
	json_object_put(docs);
	return 0;
}

static bool is_kind(json_object *o, const char *kind)
{
	const char *k = jpath_str(o, "kind");
	return k && strcmp(k, kind) == 0;
}

struct render_opts {
	const char *endpoint;
	const char *hf_endpoint;
	const char *image;
	int64_t default_size;
};

struct sizing {
	int64_t size_bytes;
	int64_t weight_bytes;   /* 0 unknown */
	char note[512];
};

static void size_for(json_object *mc, const struct render_opts *o, struct sizing *s)
{
	memset(s, 0, sizeof(*s));
	compose_spec_size(mc, &s->size_bytes);
#ifdef MC_HAVE_ESTIMATE
	if (o->endpoint) {
		struct hub_client *hub = NULL;
		struct estimate_result r;
		char *msg = NULL;
		const char *inc[64], *exc[64];
		size_t ninc = 0, nexc = 0;
		compose_hf_filters(mc, inc, &ninc, exc, &nexc, 64);
		estimate_result_init(&r);
		const char *token = getenv("HF_TOKEN");
		struct hub_opts hopts;
		estimate_hub_opts(&hopts);
		if (hub_client_new(o->endpoint, token, &hopts, &hub) == 0) {
			int rc = estimate_repo(hub, jpath_str_or(mc, "spec.huggingFace.repo", ""),
					       jpath_str_or(mc, "spec.huggingFace.revision", "main"), inc, ninc, exc, nexc, &r, &msg);
			if (rc == 0) {
				s->weight_bytes = r.weight_bytes;
				if (s->size_bytes == 0) {
					compose_size_from_download(r.download_bytes, &s->size_bytes);
					snprintf(s->note, sizeof(s->note), "size estimated: %lld download bytes x 1.15 (%s, %s)",
						 (long long)r.download_bytes, r.format, r.strategy);
				}
			} else if (s->size_bytes == 0) {
				snprintf(s->note, sizeof(s->note), "estimate failed (%s); using the default size",
					 msg ? msg : "unknown error");
			}
			hub_client_free(hub);
		}
		free(msg);
		estimate_result_cleanup(&r);
	}
#endif
	if (s->size_bytes == 0) {
		s->size_bytes = o->default_size;
		if (!s->note[0])
			snprintf(s->note, sizeof(s->note),
				 "no spec.size%s; using the default size (the operator estimates it from the Hub)",
				 o->endpoint ? " and no estimate" : " and no --endpoint to estimate it");
	}
}

static int print_doc(json_object *o, struct buf *out)
{
	int rc = buf_puts(out, "---\n");
	return rc ? rc : compose_emit_yaml(o, out);
}

/* The admission decision on a cluster with a budget (pkg/capacity/view.h:
 * the reconciler's capacity_admit, fed from the status in the cluster
 * files). 1: compose, with *size_bytes the volume (kept when it cannot
 * grow); 0: nothing is composed there (InsufficientCapacity, Evicted); <0:
 * an error. */
static int admission(struct capacity_view *view, json_object *mc, int64_t *size_bytes, struct buf *out)
{
	if (!capacity_view_limited(view))
		return 1;   /* no budget there: nothing to decide */
	struct capacity_report rep;
	int rc = capacity_view_admit(view, mc, *size_bytes, &rep);
	if (rc == 0) {
		capacity_report_text(view, &rep, "# ", out);
		*size_bytes = rep.size_bytes;
		rc = rep.outcome != CAPACITY_WAITS && rep.outcome != CAPACITY_STAYS_EVICTED;
	} else {
		fprintf(stderr, "render: %s/%s: cannot decide admission (%s)\n", jpath_str(mc, "metadata.namespace"),
			jpath_str(mc, "metadata.name"), strerror(-rc));
	}
	capacity_report_cleanup(&rep);
	return rc;
}

static int render_one(json_object *mc, json_object *ic, struct capacity_view *view, const struct render_opts *o,
		      const struct sizing *sz, struct buf *out)
{
	const char *cname = jpath_str_or(ic, "metadata.name", "local");
	char *err = NULL;
	struct labels_selector *sel = NULL;
	int rc = labels_selector_from_json(jpath_get(mc, "spec.clusterSelector"), &sel, &err);
	if (rc) {
		fprintf(stderr, "render: %s/%s: spec.clusterSelector: %s\n", jpath_str(mc, "metadata.namespace"),
			jpath_str(mc, "metadata.name"), err ? err : "invalid");
		free(err);
		return rc;
	}
	bool match = labels_selector_matches(sel, jpath_get(ic, "metadata.labels"));
	labels_selector_free(sel);
	buf_printf(out, "# ModelCache %s/%s on InferenceCluster %s\n", jpath_str(mc, "metadata.namespace"),
		   jpath_str(mc, "metadata.name"), cname);
	if (!match) {
		buf_puts(out, "# not matched by spec.clusterSelector: nothing composed\n");
		return 0;
	}
	struct precheck_result pr;
	compose_precheck(mc, ic, sz->weight_bytes, &pr);
	if (pr.verdict == PRECHECK_SKIP) {
		buf_printf(out, "# Skipped (InsufficientVRAM): %s\n", pr.message);
		return 0;
	}
	if (pr.verdict == PRECHECK_BYPASS && strcmp(pr.bypass_reason, "size_unknown") != 0)
		buf_printf(out, "# VRAM precheck bypassed: %s\n", pr.bypass_reason);
	if (sz->note[0])
		buf_printf(out, "# %s\n", sz->note);
	int64_t size_bytes = sz->size_bytes;
	rc = admission(view, mc, &size_bytes, out);
	if (rc <= 0)
		return rc;
	bool auth = jpath_str(mc, "spec.huggingFace.authSecret.name") != NULL;
	struct compose_input in = {.mc = mc, .ic = ic, .size_bytes = size_bytes, .hydrator_image = o->image,
				   .hf_endpoint = o->hf_endpoint, .with_auth = auth, .attempt = 1};
	json_object *ns = NULL, *pvc = NULL, *sec = NULL, *job = NULL;
	rc = compose_namespace(&in, &ns);
	if (rc == 0)
		rc = compose_pvc(&in, &pvc);
	if (rc == 0 && auth)
		/* the real token is never read: a placeholder shows the shape */
		rc = compose_auth_secret(&in, "PHRva2VuIGNvcGllZCBmcm9tIHRoZSBhdXRoU2VjcmV0Pg==", &sec);
	if (rc == 0)
		rc = compose_job(&in, &job);
	if (rc == 0) {
		if (ns)
			print_doc(ns, out);
		print_doc(pvc, out);
		if (sec) {
			buf_printf(out, "# copy of Secret %s/%s key %s (value not shown)\n", jpath_str(mc, "metadata.namespace"),
				   jpath_str(mc, "spec.huggingFace.authSecret.name"),
				   jpath_str_or(mc, "spec.huggingFace.authSecret.key", API_DEFAULT_AUTH_KEY));
			print_doc(sec, out);
		}
		print_doc(job, out);
	} else {
		fprintf(stderr, "render: %s/%s on %s: cannot compose (%s)\n", jpath_str(mc, "metadata.namespace"),
			jpath_str(mc, "metadata.name"), cname, strerror(-rc));
	}
	json_object_put(ns);
	json_object_put(pvc);
	json_object_put(sec);
	json_object_put(job);
	return rc;
}

/* A ModelCache without a namespace lands in "default", like kubectl apply. */
static void default_namespace(json_object *mc)
{
	json_object *meta = jpath_child(mc, "metadata");
	if (meta && !jpath_str(meta, "namespace"))
		json_object_object_add(meta, "namespace", json_object_new_string("default"));
}

static bool validate_mc(json_object *mc)
{
	char *msg = NULL;
	if (api_validate_modelcache(mc, &msg) != 0) {
		fprintf(stderr, "render: ModelCache %s/%s is invalid: %s\n", jpath_str_or(mc, "metadata.namespace", "?"),
			jpath_str_or(mc, "metadata.name", "?"), msg ? msg : "");
		free(msg);
		return false;
	}
	return true;
}

int cmd_render(int argc, char **argv)
{
	const char *file = NULL, *cluster_files[MAX_FILES];
	size_t ncf = 0;
	struct render_opts o = {.image = "modelcache-operator:" MC_VERSION, .default_size = (int64_t)100 << 30};
	int rc = 0, failures = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = NULL;
#define FLAG(name) \
	((strcmp(a, name) == 0 && i + 1 < argc && (v = argv[++i])) || \
	 (strncmp(a, name "=", strlen(name) + 1) == 0 && (v = a + strlen(name) + 1)))
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return usage(stdout);
		if (FLAG("-f") || FLAG("--filename")) {
			file = v;
		} else if (FLAG("--cluster-file")) {
			if (ncf == MAX_FILES) {
				fprintf(stderr, "render: at most %d --cluster-file\n", MAX_FILES);
				return 1;
			}
			cluster_files[ncf++] = v;
		} else if (FLAG("--endpoint")) {
			o.endpoint = v;
		} else if (FLAG("--hf-endpoint")) {
			o.hf_endpoint = v;
		} else if (FLAG("--hydrator-image")) {
			o.image = v;
		} else if (FLAG("--default-cache-size")) {
			if (quantity_parse_bytes(v, &o.default_size) != 0 || o.default_size <= 0) {
				fprintf(stderr, "render: --default-cache-size: not a size: %s\n", v);
				return 1;
			}
		} else {
			fprintf(stderr, "render: unknown flag %s\n\n", a);
			return usage(stderr);
		}
#undef FLAG
	}
	if (!file) {
		fprintf(stderr, "render: -f FILE is required\n\n");
		return usage(stderr);
	}
#ifndef MC_HAVE_ESTIMATE
	if (o.endpoint)
		fprintf(stderr, "render: note: this build has no estimator; --endpoint is ignored\n");
#endif
	json_object *docs = json_object_new_array(), *clusters = json_object_new_array(), *state = json_object_new_array();
	struct capacity_view **views = NULL;
	size_t nviews = 0;
	char *err = NULL;
	rc = load_docs(file, docs, &err);
	for (size_t i = 0; rc == 0 && i < ncf; i++) {
		json_object *cd = json_object_new_array();
		rc = load_docs(cluster_files[i], cd, &err);
		for (size_t j = 0; rc == 0 && j < json_object_array_length(cd); j++) {
			json_object *d = json_object_array_get_idx(cd, j);
			if (is_kind(d, "InferenceCluster"))
				json_object_array_add(clusters, json_object_get(d));
			else   /* ModelCaches and ModelDeployments with their status: what is on the clusters */
				json_object_array_add(state, json_object_get(d));
		}
		json_object_put(cd);
	}
	if (rc) {
		fprintf(stderr, "render: %s\n", err ? err : "cannot read input");
		free(err);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(docs); i++) {
		json_object *d = json_object_array_get_idx(docs, i);
		if (is_kind(d, "InferenceCluster"))
			json_object_array_add(clusters, json_object_get(d));
	}
	if (json_object_array_length(clusters) == 0)
		json_object_array_add(clusters, json_tokener_parse("{\"apiVersion\":\"modelcache.dev/v1alpha1\","
								   "\"kind\":\"InferenceCluster\",\"metadata\":{\"name\":\"local\"},"
								   "\"spec\":{\"connection\":{\"local\":{}}}}"));
	struct buf out;
	buf_init(&out, 64u << 20);
	/* one admission view per cluster: the caches of FILE are admitted one
	 * after the other, each seeing the volumes the previous ones took */
	nviews = json_object_array_length(clusters);
	views = xcalloc(nviews + 1, sizeof(*views));
	for (size_t c = 0; c < nviews; c++) {
		char *msg = NULL;
		if (capacity_view_new(json_object_array_get_idx(clusters, c), state, &views[c], &msg) != 0) {
			fprintf(stderr, "render: %s; its admission is not shown\n", msg ? msg : "invalid InferenceCluster");
			buf_printf(&out, "# %s; its admission is not shown\n", msg ? msg : "invalid InferenceCluster");
			free(msg);
			failures++;
			continue;
		}
		const char *notes = capacity_view_notes(views[c]);
		for (const char *l = notes, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			if (!nl)
				break;
			fprintf(stderr, "render: note: %.*s\n", (int)(nl - l), l);
			buf_printf(&out, "# note: %.*s\n", (int)(nl - l), l);
		}
	}
	size_t ncaches = 0;
	for (size_t i = 0; i < json_object_array_length(docs); i++) {
		json_object *mc = json_object_array_get_idx(docs, i);
		if (!is_kind(mc, "ModelCache"))
			continue;
		ncaches++;
		default_namespace(mc);
		if (!validate_mc(mc)) {
			failures++;
			continue;
		}
		struct sizing sz;
		size_for(mc, &o, &sz);
		if (sz.note[0])
			fprintf(stderr, "render: %s/%s: %s\n", jpath_str(mc, "metadata.namespace"), jpath_str(mc, "metadata.name"),
				sz.note);
		for (size_t c = 0; c < json_object_array_length(clusters); c++)
			if (render_one(mc, json_object_array_get_idx(clusters, c), views[c], &o, &sz, &out) != 0)
				failures++;
	}
	fwrite(buf_str(&out), 1, out.len, stdout);
	buf_cleanup(&out);
	if (ncaches == 0) {
		fprintf(stderr, "render: no ModelCache in %s\n", file);
		rc = 1;
	} else {
		rc = failures ? 1 : 0;
	}
out:
	for (size_t c = 0; c < nviews; c++)
		capacity_view_free(views[c]);
	free(views);
	json_object_put(docs);
	json_object_put(clusters);
	json_object_put(state);
	return rc ? 1 : 0;
}
