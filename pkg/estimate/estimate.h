/* Model memory estimation (docs/estimation.md): what a Hugging Face repo
 * costs to download and to hold in GPU memory, whether it fits, and where.
 *
 * This header is the public API used by the ModelCache precheck, the
 * ModelDeployment placement and `kubectl modelcache estimate`. It pulls in
 * the pieces (architecture, KV cache, fit, placement); the readers
 * (safetensors.h, gguf.h, config.h, ...) are internal to pkg/estimate.
 *
 *   struct estimate_result r; char *msg = NULL;
 *   int rc = estimate_repo(hub, "Qwen/Qwen3-0.6B", "main", inc, ninc, exc, nexc, &r, &msg);
 *   if (rc == ESTIMATE_ERR_NOT_FOUND) ...   // msg says which
 *   ... r.weight_bytes, r.download_bytes, r.strategy ...
 *   estimate_result_cleanup(&r); free(msg);
 *
 * Nothing here trusts the Hub's hints: weight bytes come from the headers of
 * the files that will actually load (safetensors / GGUF), with file sizes as
 * the fallback. Every reader bounds lengths by the bytes available and caps
 * its allocations. Thread-safety: functions are reentrant (no global state);
 * one estimate_result belongs to one thread at a time. */
#ifndef MC_ESTIMATE_ESTIMATE_H
#define MC_ESTIMATE_ESTIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimate/arch.h"
#include "estimate/engine.h"
#include "estimate/fit.h"
#include "estimate/kv.h"
#include "estimate/place.h"

struct hub_client;   /* pkg/hub/hub.h */
struct hub_opts;

/* Budgets of one estimate over the Hub, shared by all its requests (the
 * model info and every header read): a repository of many shards with a
 * dead link gives up after ESTIMATE_HUB_RETRY_BUDGET retries in all, or
 * ESTIMATE_HUB_TIME_BUDGET_MS, and the estimate falls back
 * (usedFallback: true). The operator bounds a run at 120 s; the time budget
 * ends it before that. */
#define ESTIMATE_HUB_RETRY_BUDGET 12
#define ESTIMATE_HUB_TIME_BUDGET_MS 100000
/* hub_opts_default with the budgets above: the client of one estimate. */
void estimate_hub_opts(struct hub_opts *o);
struct est_repo;     /* estimate/source.h: a listing + ranged reads */

/* Error kinds returned (negated) by estimate_repo / estimate_from_repo. */
enum estimate_err {
	ESTIMATE_OK = 0,
	ESTIMATE_ERR_OTHER = -1,        /* network, I/O, nothing priceable */
	ESTIMATE_ERR_AUTH = -3,         /* 401/403: gated or private repo */
	ESTIMATE_ERR_NOT_FOUND = -4,    /* repo, revision or file does not exist */
	ESTIMATE_ERR_INVALID = -22,     /* bad arguments, hostile/corrupt headers everywhere */
};

/* One file that was priced. */
struct estimate_file {
	char *path;             /* repo-relative */
	int64_t size;           /* bytes on the Hub / on disk */
	int64_t weight_bytes;   /* tensor bytes from its header (size when not read) */
	const char *role;       /* static: "weights", "projector", "component", "config" */
};

struct estimate_result {
	int64_t weight_bytes;   /* bytes the engine loads: sum of tensor bytes */
	int64_t download_bytes; /* bytes the hydrator downloads: without include
	                         * patterns the files that load plus the small
	                         * files beside them (files: Auto, see
	                         * download_paths), else every selected file */
	char **download_paths;  /* those files, repo-relative */
	size_t ndownload;
	bool auto_selection;    /* download_paths is the Auto selection */
	int64_t parameters;     /* parameter count (0 unknown); packed int4 unpacked */
	int64_t projector_bytes;/* part of weight_bytes that is an mmproj projector */
	const char *format;     /* static: safetensors | gguf | diffusion | bin | unknown */
	const char *method;     /* awq, gptq, bitsandbytes, hqq, compressed-tensors, nvfp4,
	                         * mxfp4, fp8, bf16, fp16, fp32, a GGUF tag (Q4_K_M), unknown;
	                         * points into the result or static storage */
	const char *strategy;   /* static: safetensors_header_exact | gguf_header_exact |
	                         * diffusion_component_sum | safetensors_dtype_count |
	                         * gguf_variant_max | siblings_byte_sum */
	bool used_fallback;     /* the exact readers did not price it: the last resort
	                         * (siblings_byte_sum), or file sizes / Hub counts after
	                         * an unreadable header */
	char *header_error;     /* NULL, or why a weight file's header is unreadable
	                         * (names the file): not a valid GGUF/safetensors file */
	struct estimate_file *files;   /* the files priced */
	size_t nfiles;
	char *note;             /* NULL or e.g. "heaviest of 3 GGUF quants priced: Q8_0" */
	char *commit;           /* resolved commit (Hub), NULL if unknown */
	struct model_arch arch; /* from config.json / GGUF metadata; arch.known says if any */
	char method_buf[32];
};

void estimate_result_init(struct estimate_result *r);
void estimate_result_cleanup(struct estimate_result *r);

/* Estimate a Hub repo. revision NULL => "main". include/exclude are the
 * hydrator's globs (hub_filter_selects); without include patterns the
 * download is the Auto selection (spec.huggingFace.files: Auto; All is the
 * include pattern "*", see compose_hf_filters). Returns 0 or an enum estimate_err; on failure
 * *errmsg (when errmsg != NULL) is a one-line reason you free(). */
int estimate_repo(struct hub_client *hub, const char *repo, const char *revision,
		  const char *const *include, size_t ninclude,
		  const char *const *exclude, size_t nexclude,
		  struct estimate_result *out, char **errmsg);

/* The same over any struct est_repo (a local directory, a Hub repo). */
int estimate_from_repo(struct est_repo *repo,
		       const char *const *include, size_t ninclude,
		       const char *const *exclude, size_t nexclude,
		       struct estimate_result *out, char **errmsg);

/* Memory to serve the estimated model (docs/concepts.md "ModelDeployment", step 2): weights + KV
 * cache for context x sequences (context 0 => the model's maximum, 4096 if
 * unknown; kv_dtype NULL/"auto" => the model's) + the engine's overhead per
 * GPU x gpus. *context_out (may be NULL) gets the context used.
 * 0 or -EINVAL (unknown kv_dtype). */
int estimate_serving_memory(const struct estimate_result *r, enum estimate_engine engine,
			    const char *kv_dtype, int64_t context, int64_t sequences, int gpus,
			    struct estimate_memory *out, int64_t *context_out);

/* The hydrator's include/exclude rule (pkg/hub/filter.h: huggingface_hub
 * fnmatch, '*' crosses '/', "dir/" selects the folder). */
bool estimate_glob_match(const char *pattern, const char *path);
bool estimate_path_selected(const char *path, const char *const *include, size_t ninclude,
			    const char *const *exclude, size_t nexclude);

#endif
