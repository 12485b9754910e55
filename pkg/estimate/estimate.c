/* Top level: list, select, classify, read headers, price (docs/estimation.md). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "estimate/classify.h"
#include "estimate/config.h"
#include "estimate/estimate.h"
#include "estimate/gguf.h"
#include "estimate/safetensors.h"
#include "estimate/source.h"
#include "hub/hub.h"
#include "util/mem.h"

#define MODEL_INDEX_MAX (1u << 20)
#define ST_INDEX_MAX (16u << 20)

void estimate_result_init(struct estimate_result *r)
{
	memset(r, 0, sizeof(*r));
	r->format = "unknown";
	r->method = "unknown";
	r->strategy = "siblings_byte_sum";
}

void estimate_result_cleanup(struct estimate_result *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	for (size_t i = 0; i < r->ndownload; i++)
		free(r->download_paths[i]);
	free(r->download_paths);
	free(r->note);
	free(r->commit);
	free(r->header_error);
	memset(r, 0, sizeof(*r));
}

static void add_file(struct estimate_result *r, const struct est_file_entry *f, int64_t wb,
		     const char *role)
{
	if (r->nfiles % 16 == 0)
		r->files = xrealloc(r->files, (r->nfiles + 16) * sizeof(*r->files));
	struct estimate_file *e = &r->files[r->nfiles++];
	e->path = xstrdup(f->path);
	e->size = f->size;
	e->weight_bytes = wb;
	e->role = role;
}

static void set_method(struct estimate_result *r, const char *m)
{
	snprintf(r->method_buf, sizeof(r->method_buf), "%s", m && *m ? m : "unknown");
	r->method = r->method_buf;
}

static const char *method_from_dtype(const char *dt)
{
	if (strcmp(dt, "BF16") == 0) return "bf16";
	if (strcmp(dt, "F16") == 0) return "fp16";
	if (strcmp(dt, "F32") == 0) return "fp32";
	if (strncmp(dt, "F8_", 3) == 0) return "fp8";
	if (strcmp(dt, "F4") == 0) return "mxfp4";
	return "unknown";
}

/* Method from quantization_config (AWQ, GPTQ, ...) */
static const char *method_from_quant(const struct model_arch *a, const char *json)
{
	const char *m = a->quant_method;
	if (!*m)
		return NULL;
	if (strcmp(m, "awq") == 0 || strcmp(m, "gptq") == 0 || strcmp(m, "bitsandbytes") == 0 ||
	    strcmp(m, "hqq") == 0 || strcmp(m, "fp8") == 0 || strcmp(m, "mxfp4") == 0)
		return m;
	if (strcmp(m, "compressed-tensors") == 0 || strcmp(m, "modelopt") == 0) {
		if (json && (strstr(json, "nvfp4") || strstr(json, "NVFP4")))
			return "nvfp4";
		if (strcmp(m, "modelopt") == 0 && json && strstr(json, "FP8"))
			return "fp8";
		return strcmp(m, "modelopt") == 0 ? "unknown" : "compressed-tensors";
	}
	if (strcmp(m, "gptq_marlin") == 0 || strcmp(m, "marlin") == 0)
		return "gptq";
	if (strcmp(m, "awq_marlin") == 0)
		return "awq";
	return NULL;
}

static const struct est_file_entry *find_file(const struct est_file_entry *f, size_t n,
					      const char *path, size_t *idx)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].path, path) == 0) {
			if (idx)
				*idx = i;
			return &f[i];
		}
	return NULL;
}

/* Keep only the shards a model.safetensors.index.json names (when present
 * and readable): stray *.safetensors beside them do not load. */
static void apply_st_index(struct est_repo *repo, const struct est_file_entry *f, size_t n,
			   const bool *sel, struct est_pick *pk)
{
	size_t ix;
	const struct est_file_entry *e = find_file(f, n, "model.safetensors.index.json", &ix);
	if (!e || !sel[ix])
		return;
	char *txt = NULL;
	size_t len;
	if (est_repo_read_small(repo, e->path, e->size, ST_INDEX_MAX, &txt, &len) < 0)
		return;
	json_tokener *tok = json_tokener_new_ex(8);
	json_object *root = tok ? json_tokener_parse_ex(tok, txt, (int)len) : NULL, *wm;
	if (root && json_object_object_get_ex(root, "weight_map", &wm) &&
	    json_object_is_type(wm, json_type_object)) {
		/* the distinct shard names (a few hundred at most; values come
		 * grouped, so checking the last one first keeps this linear) */
		const char **shards = NULL;
		size_t nsh = 0;
		json_object_object_foreach(wm, tensor, shard) {
			(void)tensor;
			if (!json_object_is_type(shard, json_type_string))
				continue;
			const char *v = json_object_get_string(shard);
			bool seen = nsh > 0 && strcmp(shards[nsh - 1], v) == 0;
			for (size_t i = 0; i + 1 < nsh && !seen; i++)
				seen = strcmp(shards[i], v) == 0;
			if (seen)
				continue;
			if (nsh % 64 == 0)
				shards = xrealloc(shards, (nsh + 64) * sizeof(*shards));
			shards[nsh++] = v;
			if (nsh > 100000)
				break;
		}
		size_t keep = 0;
		for (size_t k = 0; k < pk->nweights; k++) {
			const char *p = f[pk->weights[k]].path;
			bool named = strchr(p, '/') != NULL;   /* subfolders: not governed */
			for (size_t i = 0; i < nsh && !named; i++)
				named = strcmp(shards[i], p) == 0;
			if (named)
				pk->weights[keep++] = pk->weights[k];
		}
		if (keep > 0)
			pk->nweights = keep;
		free(shards);
	}
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	free(txt);
}

/* Hub's safetensors.parameters {dtype: count} x dtype size, capped by the
 * files' sizes (a hint, never more than what is downloaded). */
static int64_t dtype_count_bytes(json_object *info, int64_t cap)
{
	json_object *st, *params;
	if (!info || !json_object_object_get_ex(info, "safetensors", &st) ||
	    !json_object_object_get_ex(st, "parameters", &params) ||
	    !json_object_is_type(params, json_type_object))
		return -1;
	int64_t total = 0;
	json_object_object_foreach(params, dt, cnt) {
		int bits = safetensors_dtype_bits(dt);
		int64_t c = json_object_get_int64(cnt);
		if (bits == 0 || c < 0 || c > ((int64_t)1 << 50))
			continue;
		total += c * bits / 8;
	}
	if (total <= 0)
		return -1;
	return total < cap ? total : cap;
}

/* Headers of many shards are read by a few threads (each read is a round
 * trip or two over HTTP); results are combined in listing order. */
#define ST_THREADS 4

struct st_job {
	struct est_source *src;
	struct safetensors_summary *sums;
	const char **whys;
	int *rcs;
	size_t n;
	size_t next;            /* atomic */
};

static void *st_worker(void *arg)
{
	struct st_job *j = arg;
	/* shards of one checkpoint have headers of similar size: size the first
	 * read of the next shard from the last header (one request per shard) */
	size_t first_read = SAFETENSORS_FIRST_READ;
	for (;;) {
		size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (i >= j->n)
			break;
		j->rcs[i] = safetensors_read_ex(&j->src[i], first_read, &j->sums[i], &j->whys[i]);
		if (j->rcs[i] == 0) {
			/* the last header + 1/8 (at most 16 KiB) of slack: the read
			 * exceeds the header by more than 64 KiB only when this shard's
			 * header is over 48 KiB smaller than the last one */
			uint64_t h = j->sums[i].header_len, slack = h / 8;
			if (slack > (16u << 10))
				slack = 16u << 10;
			first_read = (size_t)(h + 8 + slack);
			if (first_read < 4096)
				first_read = 4096;
		}
	}
	return NULL;
}

static int price_safetensors(struct est_repo *repo, const struct est_file_entry *f,
			     const size_t *idx, size_t n, const char *role,
			     const struct model_arch *arch, struct estimate_result *r,
			     char *main_dtype, size_t dtcap, char **why_out)
{
	uint64_t best = 0;
	int64_t params = 0;
	struct { char name[12]; uint64_t bytes; } dts[SAFETENSORS_MAX_DTYPES];
	size_t ndts = 0;
	int rc = 0;
	struct st_job j = {
		.src = xcalloc(n ? n : 1, sizeof(*j.src)),
		.sums = xcalloc(n ? n : 1, sizeof(*j.sums)),
		.whys = xcalloc(n ? n : 1, sizeof(*j.whys)),
		.rcs = xcalloc(n ? n : 1, sizeof(*j.rcs)),
		.n = n,
	};
	for (size_t k = 0; k < n; k++)
		est_repo_source(repo, f[idx[k]].path, f[idx[k]].size, &j.src[k]);
	pthread_t th[ST_THREADS];
	size_t nth = n < 2 ? 0 : n < ST_THREADS ? n : ST_THREADS, started = 0;
	for (; started < nth; started++)
		if (pthread_create(&th[started], NULL, st_worker, &j) != 0)
			break;
	st_worker(&j);   /* this thread works too (and alone when n < 2) */
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	for (size_t k = 0; k < n; k++) {
		const struct est_file_entry *e = &f[idx[k]];
		const struct safetensors_summary *sum = &j.sums[k];
		if (j.rcs[k] < 0) {
			if (why_out)
				*why_out = xasprintf("%s: %s", e->path, j.whys[k] ? j.whys[k] : "unreadable header");
			rc = j.rcs[k];
			goto out;
		}
		add_file(r, e, (int64_t)sum->data_bytes, role);
		r->weight_bytes += (int64_t)sum->data_bytes;
		int bits = arch && arch->quant_bits > 0 ? arch->quant_bits : 4;
		params += (int64_t)sum->elements + (int64_t)sum->packed_i32_elements * (32 / bits);
		/* MXFP4 (gpt-oss): a U8 *_blocks byte packs two fp4 parameters; the
		 * *_scales are block metadata, not parameters. Elsewhere U8 tensors
		 * count as stored. */
		if (arch && strcmp(arch->quant_method, "mxfp4") == 0)
			params += (int64_t)sum->u8_block_bytes * 2;
		else
			params += (int64_t)(sum->u8_block_bytes + sum->u8_scale_elements);
		for (size_t d = 0; d < sum->ndtypes; d++) {
			size_t x;
			for (x = 0; x < ndts; x++)
				if (strcmp(dts[x].name, sum->dtypes[d].name) == 0)
					break;
			if (x == ndts) {
				if (ndts == SAFETENSORS_MAX_DTYPES)
					continue;
				memcpy(dts[x].name, sum->dtypes[d].name, sizeof(dts[x].name));
				dts[x].bytes = 0;
				ndts++;
			}
			dts[x].bytes += sum->dtypes[d].bytes;
		}
	}
	for (size_t x = 0; x < ndts; x++)
		if (dts[x].bytes > best) {
			best = dts[x].bytes;
			snprintf(main_dtype, dtcap, "%s", dts[x].name);
		}
	r->parameters += params;
out:
	free(j.src);
	free(j.sums);
	free(j.whys);
	free(j.rcs);
	return rc;
}

static int price_gguf(struct est_repo *repo, const struct est_file_entry *f, const size_t *idx,
		      size_t n, const char *role, struct estimate_result *r,
		      struct gguf_summary *first, char **why_out)
{
	for (size_t k = 0; k < n; k++) {
		const struct est_file_entry *e = &f[idx[k]];
		struct est_source s;
		struct gguf_summary *g = xmalloc(sizeof(*g));
		const char *why = NULL;
		est_repo_source(repo, e->path, e->size, &s);
		int rc = gguf_read(&s, g, &why);
		if (rc < 0) {
			if (why_out)
				*why_out = xasprintf("%s: %s", e->path, why ? why : "unreadable header");
			free(g);
			return rc;
		}
		add_file(r, e, (int64_t)g->data_bytes, role);
		r->weight_bytes += (int64_t)g->data_bytes;
		if (strcmp(role, "weights") == 0) {
			r->parameters += (int64_t)g->elements;
			/* shard 1 carries the metadata */
			if (first && (k == 0 || !first->arch.known))
				if (g->arch.known || k == 0)
					*first = *g;
		} else {
			r->projector_bytes += (int64_t)g->data_bytes;
		}
		free(g);
	}
	return 0;
}

static void fallback_sum(const struct est_file_entry *f, const size_t *idx, size_t n,
			 const char *role, struct estimate_result *r)
{
	for (size_t k = 0; k < n; k++) {
		add_file(r, &f[idx[k]], f[idx[k]].size, role);
		r->weight_bytes += f[idx[k]].size;
	}
}

static void reset_priced(struct estimate_result *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	r->nfiles = 0;
	r->weight_bytes = 0;
	r->projector_bytes = 0;
	r->parameters = 0;
}

int estimate_from_repo(struct est_repo *repo, const char *const *include, size_t ninclude,
		       const char *const *exclude, size_t nexclude, struct estimate_result *r,
		       char **errmsg)
{
	struct est_file_entry *f = NULL;
	size_t n = 0;
	bool *sel = NULL;
	char *cfg = NULL, *mi = NULL, *why = NULL;
	struct est_pick pk = {0};
	int rc;
	estimate_result_init(r);
	if (errmsg)
		*errmsg = NULL;
	rc = repo->ops->list(repo->ctx, &f, &n, errmsg);
	if (rc < 0)
		return rc;
	if (repo->commit)
		r->commit = xstrdup(repo->commit);
	sel = xcalloc(n ? n : 1, sizeof(*sel));
	size_t nsel = 0;
	for (size_t i = 0; i < n; i++)
		nsel += sel[i] = estimate_path_selected(f[i].path, include, ninclude, exclude, nexclude);
	if (nsel == 0) {
		if (errmsg)
			*errmsg = xstrdup(n ? "no file matches the include/exclude patterns"
					    : "the repository has no files");
		rc = ESTIMATE_ERR_NOT_FOUND;
		goto out;
	}
	/* config.json / model_index.json at the root (read even when the
	 * patterns leave them out: they describe the model, cost nothing) */
	size_t ix;
	const struct est_file_entry *e;
	if ((e = find_file(f, n, "config.json", &ix)) != NULL &&
	    est_repo_read_small(repo, e->path, e->size, MODEL_CONFIG_MAX_BYTES, &cfg, NULL) == 0)
		model_config_parse(cfg, strlen(cfg), &r->arch);
	if ((e = find_file(f, n, "model_index.json", &ix)) != NULL && sel[ix])
		est_repo_read_small(repo, e->path, e->size, MODEL_INDEX_MAX, &mi, NULL);

	classify_pick(f, n, sel, mi, &pk);
	r->download_bytes = pk.download_bytes;
	r->format = est_format_name(pk.format);
	if (pk.note)
		r->note = xstrdup(pk.note);
	char dtype[12] = "";
	json_object *info = repo->ops->info ? repo->ops->info(repo->ctx) : NULL;

	switch (pk.format) {
	case EST_FMT_SAFETENSORS: {
		apply_st_index(repo, f, n, sel, &pk);
		rc = price_safetensors(repo, f, pk.weights, pk.nweights, "weights", &r->arch, r, dtype,
				       sizeof(dtype), &why);
		const char *qm = method_from_quant(&r->arch, cfg);
		set_method(r, qm ? qm : method_from_dtype(dtype));
		if (rc == 0) {
			r->strategy = "safetensors_header_exact";
			break;
		}
		reset_priced(r);
		int64_t cap = 0;
		for (size_t k = 0; k < pk.nweights; k++)
			cap += f[pk.weights[k]].size;
		int64_t b = dtype_count_bytes(info, cap);
		fallback_sum(f, pk.weights, pk.nweights, "weights", r);
		if (b > 0) {
			r->weight_bytes = b;
			r->strategy = "safetensors_dtype_count";
		} else {
			r->strategy = "siblings_byte_sum";
			r->used_fallback = true;
		}
		free(r->note);
		r->note = xasprintf("headers unreadable (%s); priced by %s", why, r->strategy);
		r->header_error = xstrdup(why ? why : "unreadable header");
		r->used_fallback = true;
		rc = 0;
		break;
	}
	case EST_FMT_GGUF: {
		struct gguf_summary *g = xcalloc(1, sizeof(*g));
		rc = price_gguf(repo, f, pk.weights, pk.nweights, "weights", r, g, &why);
		if (rc == 0)
			rc = price_gguf(repo, f, pk.projectors, pk.nprojectors, "projector", r, NULL, &why);
		if (rc == 0) {
			r->strategy = "gguf_header_exact";
			set_method(r, gguf_main_type(g));
			if (!r->arch.known && g->arch.known)
				r->arch = g->arch;
		} else {
			reset_priced(r);
			fallback_sum(f, pk.weights, pk.nweights, "weights", r);
			int64_t w = r->weight_bytes;
			fallback_sum(f, pk.projectors, pk.nprojectors, "projector", r);
			r->projector_bytes = r->weight_bytes - w;
			r->strategy = "gguf_variant_max";
			set_method(r, pk.tag);
			char *old = r->note;
			r->note = xasprintf("%s%sheaders unreadable (%s); priced by file size",
					    old ? old : "", old ? "; " : "", why);
			free(old);
			r->header_error = xstrdup(why ? why : "unreadable header");
			r->used_fallback = true;
			rc = 0;
		}
		free(g);
		break;
	}
	case EST_FMT_DIFFUSION: {
		/* safetensors components by header; a component that only ships
		 * .bin pickles costs its file size */
		size_t *st = xcalloc(pk.nweights ? pk.nweights : 1, sizeof(*st));
		size_t *pk_bin = xcalloc(pk.nweights ? pk.nweights : 1, sizeof(*pk_bin));
		size_t nst = 0, nbin = 0;
		for (size_t k = 0; k < pk.nweights; k++) {
			const char *p = f[pk.weights[k]].path;
			size_t l = strlen(p);
			if (l > 12 && strcmp(p + l - 12, ".safetensors") == 0)
				st[nst++] = pk.weights[k];
			else
				pk_bin[nbin++] = pk.weights[k];
		}
		rc = price_safetensors(repo, f, st, nst, "component", NULL, r, dtype, sizeof(dtype), &why);
		set_method(r, method_from_dtype(dtype));
		if (rc == 0) {
			fallback_sum(f, pk_bin, nbin, "component", r);
			r->strategy = "diffusion_component_sum";
			if (nbin > 0) {
				free(r->note);
				r->note = xasprintf("%zu component file%s priced by size (.bin)", nbin,
						    nbin > 1 ? "s" : "");
			}
		} else {
			reset_priced(r);
			fallback_sum(f, pk.weights, pk.nweights, "component", r);
			r->strategy = "siblings_byte_sum";
			r->used_fallback = true;
			free(r->note);
			r->note = xasprintf("headers unreadable (%s); priced by file size", why);
			r->header_error = xstrdup(why ? why : "unreadable header");
			rc = 0;
		}
		free(st);
		free(pk_bin);
		break;
	}
	case EST_FMT_BIN:
		fallback_sum(f, pk.weights, pk.nweights, "weights", r);
		set_method(r, method_from_quant(&r->arch, cfg) ? method_from_quant(&r->arch, cfg)
			   : r->arch.dtype_bytes == 4 ? "fp32"
			   : strstr(r->arch.dtype, "bfloat") ? "bf16"
			   : r->arch.dtype_bytes == 2 ? "fp16" : "unknown");
		r->strategy = "siblings_byte_sum";
		r->used_fallback = true;
		break;
	default: {
		/* nothing we know loads: every selected file is the price */
		size_t *all = xcalloc(n ? n : 1, sizeof(*all));
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (sel[i])
				all[k++] = i;
		fallback_sum(f, all, k, "weights", r);
		free(all);
		r->strategy = "siblings_byte_sum";
		r->used_fallback = true;
		break;
	}
	}
	if (r->strategy && strcmp(r->strategy, "siblings_byte_sum") == 0)
		r->used_fallback = true;
	if (rc == 0) {
		/* what the hydrator downloads: the Auto selection unless include
		 * patterns chose the files (docs/estimation.md) */
		bool *keep = xcalloc(n ? n : 1, sizeof(*keep));
		r->auto_selection = ninclude == 0;
		if (r->auto_selection) {
			r->download_bytes = classify_auto_keep(f, n, sel, &pk, keep);
		} else {
			memcpy(keep, sel, n * sizeof(*keep));
		}
		r->download_paths = xcalloc(n ? n : 1, sizeof(*r->download_paths));
		for (size_t i = 0; i < n; i++)
			if (keep[i])
				r->download_paths[r->ndownload++] = xstrdup(f[i].path);
		free(keep);
	}
out:
	est_pick_cleanup(&pk);
	free(sel);
	free(cfg);
	free(mi);
	free(why);
	return rc;
}

int estimate_serving_memory(const struct estimate_result *r, enum estimate_engine engine,
			    const char *kv_dtype, int64_t context, int64_t sequences, int gpus,
			    struct estimate_memory *out, int64_t *context_out)
{
	struct kv_dtype dt;
	if (kv_dtype_parse(kv_dtype, &r->arch, &dt) < 0)
		return -EINVAL;
	if (context <= 0)
		context = r->arch.max_context > 0 ? r->arch.max_context : 4096;
	if (context_out)
		*context_out = context;
	int64_t kv = r->arch.known ? kv_cache_bytes(&r->arch, &dt, context, sequences, 0) : 0;
	estimate_memory_compute(r->weight_bytes, kv, estimate_overhead_bytes(engine, &r->arch), gpus, out);
	return 0;
}

int estimate_repo(struct hub_client *hub, const char *repo, const char *revision,
		  const char *const *include, size_t ninclude, const char *const *exclude,
		  size_t nexclude, struct estimate_result *out, char **errmsg)
{
	struct est_repo *r = NULL;
	estimate_result_init(out);
	int rc = est_repo_hub_new(hub, repo, revision, &r, errmsg);
	if (rc < 0)
		return rc;
	rc = estimate_from_repo(r, include, ninclude, exclude, nexclude, out, errmsg);
	est_repo_free(r);
	return rc;
}

void estimate_hub_opts(struct hub_opts *o)
{
	hub_opts_default(o);
	o->retry_budget = ESTIMATE_HUB_RETRY_BUDGET;
	o->time_budget_ms = ESTIMATE_HUB_TIME_BUDGET_MS;
}
