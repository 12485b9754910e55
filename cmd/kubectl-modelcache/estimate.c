/* kubectl modelcache estimate: how much GPU memory a model needs and whether
 * it fits (docs/estimation.md). Exit codes: 0 fits (or no budget given),
 * 3 does not fit, 4 not found, 1 any other error. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "plugin.h"

#ifdef MC_HAVE_ESTIMATE
#include "estimate/estimate.h"
#include "estimate/source.h"
#include "hub/hub.h"
#include "util/mem.h"
#include "util/quantity.h"

#define MAX_GLOBS 64

struct opts {
	const char *repo;
	const char *revision;
	const char *include[MAX_GLOBS];
	size_t ninclude;
	const char *exclude[MAX_GLOBS];
	size_t nexclude;
	const char *file[MAX_GLOBS];
	size_t nfile;
	int64_t context;          /* 0 = the model's maximum */
	int64_t sequences;
	enum estimate_engine engine;
	const char *kv_dtype;
	int64_t gpu_memory;       /* per GPU, 0 = none */
	int gpus;
	int64_t unified;          /* total, 0 = none */
	int64_t in_use;           /* unified memory already used by others */
	double util;
	const char *endpoint;
	bool json;
};

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: kubectl modelcache estimate REPO [flags]\n"
		"       kubectl modelcache estimate --file PATH... [flags]\n"
		"\n"
		"Estimate the memory a Hugging Face model needs to serve (weights from the\n"
		"safetensors/GGUF headers, KV cache, engine overhead) and whether it fits.\n"
		"\n"
		"Flags:\n"
		"      --revision R                 branch, tag or commit (default main)\n"
		"      --include GLOB               only these files (repeatable; hydrator semantics)\n"
		"      --exclude GLOB               not these files (repeatable)\n"
		"      --file PATH                  price local files (or a directory) instead of the Hub;\n"
		"                                   with REPO: only this path of the repo (repeatable)\n"
		"      --context N                  tokens per sequence (default: the model's maximum)\n"
		"      --sequences N                concurrent full-length sequences (default 1)\n"
		"      --engine vllm|llamacpp       overhead model (default vllm)\n"
		"      --kv-cache-dtype T           auto, fp16, bf16, fp8, q8_0, q4_0, ... (default auto)\n"
		"      --gpu-memory Q               memory per GPU, e.g. 80Gi\n"
		"      --gpus N                     number of GPUs (default 1)\n"
		"      --unified-memory Q           total unified memory (Apple silicon, GB10), e.g. 32Gi\n"
		"      --memory-in-use Q            unified memory already used by other processes\n"
		"      --gpu-memory-utilization F   fraction of each GPU usable (default 0.9)\n"
		"      --endpoint URL               Hub endpoint (default $HF_ENDPOINT or https://huggingface.co)\n"
		"  -o, --output text|json           output format (default text)\n"
		"\n"
		"The token for gated repos is read from $HF_TOKEN.\n"
		"Exit: 0 fits (or no budget given), 3 does not fit, 4 not found, 1 other error.\n");
	return f == stdout ? 0 : 1;
}

static int bad(const char *flag, const char *v)
{
	fprintf(stderr, "estimate: invalid value \"%s\" for %s\n", v ? v : "", flag);
	return -1;
}

static int parse_int(const char *flag, const char *v, int64_t min, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < min)
		return bad(flag, v);
	*out = x;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->revision = "main";
	o->sequences = 1;
	o->gpus = 1;
	o->util = 0.9;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		if (a[0] != '-') {
			if (o->repo) {
				fprintf(stderr, "estimate: unexpected argument \"%s\"\n", a);
				return -1;
			}
			o->repo = a;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		char name[64];
		const char *eq = strchr(a, '=');
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - a), a);
			v = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
			if (i + 1 >= argc) {
				fprintf(stderr, "estimate: %s needs a value\n", a);
				return -1;
			}
			v = argv[++i];
		}
		int64_t n;
		if (strcmp(name, "--revision") == 0) {
			o->revision = v;
		} else if (strcmp(name, "--include") == 0) {
			if (o->ninclude == MAX_GLOBS)
				return bad(name, "too many");
			o->include[o->ninclude++] = v;
		} else if (strcmp(name, "--exclude") == 0) {
			if (o->nexclude == MAX_GLOBS)
				return bad(name, "too many");
			o->exclude[o->nexclude++] = v;
		} else if (strcmp(name, "--file") == 0) {
			if (o->nfile == MAX_GLOBS)
				return bad(name, "too many");
			o->file[o->nfile++] = v;
		} else if (strcmp(name, "--context") == 0) {
			if (parse_int(name, v, 1, &o->context) < 0)
				return -1;
		} else if (strcmp(name, "--sequences") == 0) {
			if (parse_int(name, v, 1, &o->sequences) < 0)
				return -1;
		} else if (strcmp(name, "--gpus") == 0) {
			if (parse_int(name, v, 1, &n) < 0 || n > 4096)
				return bad(name, v);
			o->gpus = (int)n;
		} else if (strcmp(name, "--engine") == 0) {
			if (estimate_engine_parse(v, &o->engine) < 0)
				return bad(name, v);
		} else if (strcmp(name, "--kv-cache-dtype") == 0 || strcmp(name, "--cache-type-k") == 0) {
			o->kv_dtype = v;
		} else if (strcmp(name, "--gpu-memory") == 0) {
			if (quantity_parse_bytes(v, &o->gpu_memory) < 0 || o->gpu_memory <= 0)
				return bad(name, v);
		} else if (strcmp(name, "--unified-memory") == 0) {
			if (quantity_parse_bytes(v, &o->unified) < 0 || o->unified <= 0)
				return bad(name, v);
		} else if (strcmp(name, "--memory-in-use") == 0) {
			if (quantity_parse_bytes(v, &o->in_use) < 0)
				return bad(name, v);
		} else if (strcmp(name, "--gpu-memory-utilization") == 0) {
			char *end;
			o->util = strtod(v, &end);
			if (end == v || *end || !(o->util > 0 && o->util <= 1))
				return bad(name, v);
		} else if (strcmp(name, "--endpoint") == 0) {
			o->endpoint = v;
		} else if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0) {
			if (strcmp(v, "json") == 0)
				o->json = true;
			else if (strcmp(v, "text") != 0)
				return bad(name, v);
		} else {
			fprintf(stderr, "estimate: unknown flag %s\n", name);
			return -1;
		}
	}
	if (!o->repo && o->nfile == 0) {
		fprintf(stderr, "estimate: give a REPO or --file PATH\n");
		return -1;
	}
	if (o->gpu_memory && o->unified) {
		fprintf(stderr, "estimate: --gpu-memory and --unified-memory exclude each other\n");
		return -1;
	}
	return 0;
}

static double gib(int64_t b)
{
	return (double)b / (double)GIB;
}

/* "24" for whole GiB, else "23.5" */
static void fmt_gib(char *out, size_t n, int64_t b)
{
	if (b % GIB == 0)
		snprintf(out, n, "%lld", (long long)(b / GIB));
	else
		snprintf(out, n, "%.1f", gib(b));
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int open_repo(const struct opts *o, struct hub_client **hub, struct est_repo **repo,
		     const char *const **inc, size_t *ninc, char **msg)
{
	*inc = o->include;
	*ninc = o->ninclude;
	if (!o->repo) {
		if (o->nfile == 1 && is_dir(o->file[0]))
			return est_repo_dir_new(o->file[0], repo, msg);
		return est_repo_files_new(o->file, o->nfile, repo, msg);
	}
	if (is_dir(o->repo) && (strchr(o->repo, '/') == NULL || o->repo[0] == '/' || o->repo[0] == '.')) {
		/* a local directory laid out like a repo */
		if (o->nfile) {
			*inc = o->file;
			*ninc = o->nfile;
		}
		return est_repo_dir_new(o->repo, repo, msg);
	}
	const char *tok = getenv("HF_TOKEN");
	struct hub_opts hopts;
	estimate_hub_opts(&hopts);
	if (hub_client_new(o->endpoint, tok, &hopts, hub) < 0) {
		*msg = xstrdup("cannot create the Hub client");
		return ESTIMATE_ERR_OTHER;
	}
	if (o->nfile) {
		*inc = o->file;
		*ninc = o->nfile;
	}
	return est_repo_hub_new(*hub, o->repo, o->revision, repo, msg);
}

static json_object *jint(int64_t v)
{
	return json_object_new_int64(v);
}

static void print_json(const struct opts *o, const char *name, const struct estimate_result *r,
		       const struct est_repo *repo, int64_t context, const struct kv_dtype *dt,
		       const struct estimate_memory *m, int64_t budget, bool have_budget, bool fits)
{
	json_object *j = json_object_new_object();
	json_object_object_add(j, "model", json_object_new_string(name));
	json_object_object_add(j, "revision", r->commit ? json_object_new_string(r->commit) : NULL);
	json_object_object_add(j, "format", json_object_new_string(r->format));
	json_object_object_add(j, "method", json_object_new_string(r->method));
	json_object_object_add(j, "strategy", json_object_new_string(r->strategy));
	json_object_object_add(j, "usedFallback", json_object_new_boolean(r->used_fallback));
	json_object_object_add(j, "note", r->note ? json_object_new_string(r->note) : NULL);
	json_object_object_add(j, "parameters", jint(r->parameters));
	json_object_object_add(j, "weightBytes", jint(m->weight_bytes));
	json_object_object_add(j, "projectorBytes", jint(r->projector_bytes));
	json_object_object_add(j, "downloadBytes", jint(r->download_bytes));
	json_object_object_add(j, "kvCacheBytes", jint(m->kv_cache_bytes));
	json_object_object_add(j, "overheadBytes", jint(m->overhead_bytes));
	json_object_object_add(j, "totalBytes", jint(m->total_bytes));
	json_object_object_add(j, "budgetBytes", have_budget ? jint(budget) : NULL);
	json_object_object_add(j, "fits", have_budget ? json_object_new_boolean(fits) : NULL);
	json_object_object_add(j, "engine", json_object_new_string(estimate_engine_name(o->engine)));
	json_object_object_add(j, "context", jint(context));
	json_object_object_add(j, "sequences", jint(o->sequences));
	json_object_object_add(j, "kvCacheDtype", json_object_new_string(dt->name));
	json_object_object_add(j, "gpus", jint(o->unified ? 1 : o->gpus));
	if (r->arch.known) {
		json_object *a = json_object_new_object();
		json_object_object_add(a, "name", json_object_new_string(r->arch.name));
		json_object_object_add(a, "layers", jint(r->arch.layers));
		json_object_object_add(a, "attentionHeads", jint(r->arch.heads));
		json_object_object_add(a, "kvHeads", jint(r->arch.kv_heads));
		json_object_object_add(a, "headDim", jint(r->arch.head_dim));
		json_object_object_add(a, "maxContext", jint(r->arch.max_context));
		json_object_object_add(a, "kvBytesPerToken", jint(kv_bytes_per_token(&r->arch, dt)));
		json_object_object_add(j, "architecture", a);
	}
	json_object *files = json_object_new_array();
	for (size_t i = 0; i < r->nfiles; i++) {
		json_object *f = json_object_new_object();
		json_object_object_add(f, "path", json_object_new_string(r->files[i].path));
		json_object_object_add(f, "size", jint(r->files[i].size));
		json_object_object_add(f, "weightBytes", jint(r->files[i].weight_bytes));
		json_object_object_add(f, "role", json_object_new_string(r->files[i].role));
		json_object_array_add(files, f);
	}
	json_object_object_add(j, "files", files);
	json_object_object_add(j, "bytesRead", jint((int64_t)repo->bytes_read));
	json_object_object_add(j, "reads", jint((int64_t)repo->reads));
	printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
}

int cmd_estimate(int argc, char **argv)
{
	struct opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? usage(stdout) : 1;
	struct hub_client *hub = NULL;
	struct est_repo *repo = NULL;
	struct estimate_result r;
	char *msg = NULL;
	const char *const *inc;
	size_t ninc;
	int exit_code = 1;
	estimate_result_init(&r);
	const char *name = o.repo ? o.repo : o.file[0];
	rc = open_repo(&o, &hub, &repo, &inc, &ninc, &msg);
	if (rc == 0)
		rc = estimate_from_repo(repo, inc, ninc, o.exclude, o.nexclude, &r, &msg);
	if (rc < 0) {
		fprintf(stderr, "Error: cannot estimate %s: %s\n", name, msg ? msg : "failed");
		if (rc == ESTIMATE_ERR_AUTH)
			fprintf(stderr, "  Hint: %s is gated or private: accept its terms on the Hub and set "
					"HF_TOKEN to a token that may read it (HF_TOKEN=hf_... kubectl modelcache "
					"estimate ...)\n", name);
		exit_code = rc == ESTIMATE_ERR_NOT_FOUND ? 4 : 1;
		goto out;
	}
	if (!o.repo && r.header_error) {
		/* a local file is what the user gave us: a defect in it is an
		 * error, not a price by file size */
		fprintf(stderr, "Error: cannot estimate %s: not a valid %s file: %s\n", name,
			strcmp(r.format, "gguf") == 0 ? "GGUF" : "safetensors", r.header_error);
		exit_code = 1;
		goto out;
	}
	struct kv_dtype dt;
	int64_t context;
	int gpus = o.unified ? 1 : o.gpus;
	struct estimate_memory m;
	if (kv_dtype_parse(o.kv_dtype, &r.arch, &dt) < 0 ||
	    estimate_serving_memory(&r, o.engine, o.kv_dtype, o.context, o.sequences, gpus, &m,
				    &context) < 0) {
		bad("--kv-cache-dtype", o.kv_dtype);
		goto out;
	}
	int64_t kv = m.kv_cache_bytes;
	bool have_budget = o.gpu_memory > 0 || o.unified > 0;
	int64_t budget = o.unified ? estimate_budget_unified_free(o.unified, o.in_use)
				   : estimate_budget_discrete(o.gpu_memory, gpus, o.util);
	bool fits = have_budget && estimate_fits(&m, budget);
	exit_code = have_budget && !fits ? 3 : 0;
	if (o.json) {
		print_json(&o, name, &r, repo, context, &dt, &m, budget, have_budget, fits);
		goto out;
	}
	char label[160];
	snprintf(label, sizeof(label), "%s (%s)", name, r.method);
	if (!have_budget)
		printf("Estimate for %s\n", label);
	else if (fits)
		printf("OK: %s fits\n", label);
	else
		printf("Error: insufficient memory for %s\n", label);
	printf("  Estimated requirement: ~%.1f GiB (weights %.1f + KV cache %.1f + overhead %.1f)\n",
	       gib(m.total_bytes), gib(m.weight_bytes), gib(m.kv_cache_bytes), gib(m.overhead_bytes));
	if (have_budget) {
		char a[32], b[32];
		if (o.unified) {
			fmt_gib(a, sizeof(a), o.unified);
			char used[48] = "";
			if (o.in_use > 0)
				snprintf(used, sizeof(used), " - %.1f GiB in use", gib(o.in_use));
			printf("  Available budget: %.1f GiB (%s GiB unified x %.2f%s)\n", gib(budget), a,
			       o.unified <= 36 * GIB ? 0.67 : 0.75, used);
		} else {
			fmt_gib(a, sizeof(a), o.gpu_memory);
			snprintf(b, sizeof(b), "%d x ", gpus);
			printf("  Available budget: %.1f GiB (%s%s GiB x %g)\n", gib(budget),
			       gpus > 1 ? b : "", a, o.util);
		}
	}
	printf("  Context: %lld tokens%s x %lld sequence%s, KV cache %s (%s)\n", (long long)context,
	       o.context ? "" : " (the model's maximum)", (long long)o.sequences,
	       o.sequences > 1 ? "s" : "", dt.name,
	       r.arch.known ? "from the model's architecture" : "architecture unknown: not priced");
	if (r.projector_bytes > 0)
		printf("  Projector: %.1f MiB (mmproj, included in the weights)\n",
		       (double)r.projector_bytes / (double)MIB);
	printf("  Model: format %s, method %s, strategy %s%s; %.2f B parameters; download %.1f GiB\n",
	       r.format, r.method, r.strategy, r.used_fallback ? " (fallback)" : "",
	       (double)r.parameters / 1e9, gib(r.download_bytes));
	if (r.note)
		printf("  Note: %s\n", r.note);
	if (r.used_fallback)
		printf("  Warning: the weight files' headers were not read (%s); the weight bytes are an "
		       "approximation\n", r.strategy);
	if (have_budget && !fits) {
		int64_t room = budget - m.weight_bytes - m.overhead_bytes;
		double per_tok = kv > 0 ? (double)kv / ((double)context * (double)o.sequences) : 0;
		if (room <= 0 || per_tok <= 0)
			printf("  Suggestion: try a smaller quantization or more GPUs (the weights and the "
			       "engine's overhead alone need %.1f GiB)\n", gib(m.weight_bytes + m.overhead_bytes));
		else
			printf("  Suggestion: try a smaller quantization or reduce --context (about %lld tokens "
			       "fit)\n", (long long)((double)room / (per_tok * (double)o.sequences)));
	}
out:
	estimate_result_cleanup(&r);
	est_repo_free(repo);
	hub_client_free(hub);
	free(msg);
	return exit_code;
}

#else

int cmd_estimate(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "kubectl modelcache estimate: built without pkg/estimate\n");
	return 1;
}

#endif
