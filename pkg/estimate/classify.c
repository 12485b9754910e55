/* File selection: include/exclude, formats, GGUF variants and projectors,
 * safetensors vs pickles, diffusers components. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "estimate/classify.h"
#include "estimate/estimate.h"
#include "hub/filter.h"
#include "util/mem.h"

const char *est_format_name(enum est_format f)
{
	switch (f) {
	case EST_FMT_SAFETENSORS: return "safetensors";
	case EST_FMT_GGUF: return "gguf";
	case EST_FMT_DIFFUSION: return "diffusion";
	case EST_FMT_BIN: return "bin";
	default: return "unknown";
	}
}

/* The hydrator's rule (pkg/hub/filter.h), so that the estimator prices
 * exactly what the hydrator fetches. */
bool estimate_glob_match(const char *pattern, const char *path)
{
	return hub_glob_match(pattern, path);
}

bool estimate_path_selected(const char *path, const char *const *inc, size_t ninc,
			    const char *const *exc, size_t nexc)
{
	return hub_filter_selects(inc, ninc, exc, nexc, path);
}

void est_pick_cleanup(struct est_pick *p)
{
	free(p->weights);
	free(p->projectors);
	free(p->note);
	memset(p, 0, sizeof(*p));
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static bool has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcasecmp(s + a - b, suf) == 0;
}

bool classify_is_projector(const char *path)
{
	return strncasecmp(base(path), "mmproj", 6) == 0;
}

static const char *const tags[] = {
	"IQ2_XXS", "IQ3_XXS", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S",
	"Q5_K_M", "Q2_K_S", "IQ1_S", "IQ1_M", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XS", "IQ3_S",
	"IQ3_M", "IQ4_XS", "IQ4_NL", "TQ1_0", "TQ2_0", "MXFP4", "Q2_K", "Q3_K", "Q4_K",
	"Q5_K", "Q6_K", "Q8_K", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16", "F16", "F32",
};

bool classify_gguf_tag(const char *name, char *out, size_t cap)
{
	char up[256];
	size_t n = 0;
	for (const char *p = base(name); *p && n < sizeof(up) - 1; p++)
		up[n++] = (char)toupper((unsigned char)*p);
	up[n] = 0;
	size_t best = 0;
	const char *bt = NULL;
	for (size_t t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
		size_t tl = strlen(tags[t]);
		for (const char *h = strstr(up, tags[t]); h; h = strstr(h + 1, tags[t])) {
			char before = h == up ? '-' : h[-1];
			char after = h[tl];
			if (!isalnum((unsigned char)before) && !isalnum((unsigned char)after) &&
			    after != '_' && tl > best) {
				best = tl;
				bt = tags[t];
			}
		}
	}
	if (!bt)
		return false;
	snprintf(out, cap, "%s", bt);
	return true;
}

/* "x-00001-of-00003.gguf" -> length of "x" (the variant key), else the
 * length without ".gguf". */
static size_t variant_key_len(const char *p)
{
	size_t n = strlen(p);
	size_t stem = n - 5; /* ".gguf" */
	if (stem >= 15) {
		const char *s = p + stem - 15;   /* "-00001-of-00003" */
		if (s[0] == '-' && isdigit((unsigned char)s[1]) && memcmp(s + 6, "-of-", 4) == 0 &&
		    isdigit((unsigned char)s[10]))
			return stem - 15;
	}
	return stem;
}

static void push(size_t **arr, size_t *n, size_t v)
{
	if (*n % 16 == 0)
		*arr = xrealloc(*arr, (*n + 16) * sizeof(**arr));
	(*arr)[(*n)++] = v;
}

static bool excluded_safetensors(const char *path)
{
	return strncmp(path, "original/", 9) == 0 || strstr(path, "/original/") != NULL ||
	       strncmp(base(path), "consolidated.", 13) == 0;
}

static bool is_pickle(const char *path)
{
	return has_suffix(path, ".bin") || has_suffix(path, ".pt") || has_suffix(path, ".pth") ||
	       has_suffix(path, ".h5") || has_suffix(path, ".msgpack") || has_suffix(path, ".ot") ||
	       has_suffix(path, ".ckpt");
}

static void pick_gguf(const struct est_file_entry *f, size_t n, const bool *sel, struct est_pick *o)
{
	/* variants: group by key; heaviest by bytes */
	size_t best_first = (size_t)-1, nvar = 0;
	int64_t best_bytes = -1;
	for (size_t i = 0; i < n; i++) {
		if (!sel[i] || !has_suffix(f[i].path, ".gguf") || classify_is_projector(f[i].path))
			continue;
		size_t kl = variant_key_len(f[i].path);
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = sel[j] && has_suffix(f[j].path, ".gguf") && !classify_is_projector(f[j].path) &&
			       variant_key_len(f[j].path) == kl && strncmp(f[i].path, f[j].path, kl) == 0;
		if (seen)
			continue;
		nvar++;
		int64_t bytes = 0;
		for (size_t j = i; j < n; j++)
			if (sel[j] && has_suffix(f[j].path, ".gguf") && variant_key_len(f[j].path) == kl &&
			    strncmp(f[i].path, f[j].path, kl) == 0)
				bytes += f[j].size;
		if (bytes > best_bytes) {
			best_bytes = bytes;
			best_first = i;
		}
	}
	o->nvariants = nvar;
	if (best_first != (size_t)-1) {
		size_t kl = variant_key_len(f[best_first].path);
		for (size_t j = 0; j < n; j++)
			if (sel[j] && has_suffix(f[j].path, ".gguf") && !classify_is_projector(f[j].path) &&
			    variant_key_len(f[j].path) == kl && strncmp(f[best_first].path, f[j].path, kl) == 0)
				push(&o->weights, &o->nweights, j);
		if (!classify_gguf_tag(f[best_first].path, o->tag, sizeof(o->tag)))
			o->tag[0] = 0;
		/* "-00001-of-00003": are all the shards there? */
		const char *p = f[best_first].path + kl;
		unsigned long of = 0;
		if (strncmp(p, "-", 1) == 0 && strlen(p) >= 15 && memcmp(p + 6, "-of-", 4) == 0)
			of = strtoul(p + 10, NULL, 10);
		if (of > o->nweights)
			o->note = xasprintf("GGUF quant %s: only %zu of %lu shards selected",
					    o->tag[0] ? o->tag : base(f[best_first].path), o->nweights, of);
	}
	/* projectors: the heaviest one (mmproj-F16 and mmproj-F32 are alternatives) */
	size_t bp = (size_t)-1;
	for (size_t i = 0; i < n; i++)
		if (sel[i] && has_suffix(f[i].path, ".gguf") && classify_is_projector(f[i].path) &&
		    (bp == (size_t)-1 || f[i].size > f[bp].size))
			bp = i;
	if (bp != (size_t)-1)
		push(&o->projectors, &o->nprojectors, bp);
	if (nvar > 1) {
		char *prev = o->note;
		o->note = xasprintf("heaviest of %zu GGUF quants priced: %s%s%s", nvar,
				    o->tag[0] ? o->tag : base(f[best_first].path), prev ? "; " : "",
				    prev ? prev : "");
		free(prev);
	}
}

/* diffusers variant preference: fp16, bf16, none, anything else */
static int variant_rank(const char *name)
{
	const char *b = base(name);
	if (strstr(b, ".fp16.") || strstr(b, ".fp16-"))
		return 0;
	if (strstr(b, ".bf16.") || strstr(b, ".bf16-"))
		return 1;
	/* "diffusion_pytorch_model.safetensors" or "...-00001-of-00002.safetensors" */
	const char *dot = strchr(b, '.');
	if (dot && (strcasecmp(dot, ".safetensors") == 0 || strcasecmp(dot, ".bin") == 0))
		return 2;
	return 3;
}

/* Is p a weight file directly in component directory comp (cl = strlen(comp)):
 * .safetensors when want_st, else .bin? */
static bool component_weight(const char *p, const char *comp, size_t cl, int want_st)
{
	if (strncmp(p, comp, cl) != 0 || p[cl] != '/' || strchr(p + cl + 1, '/'))
		return false;
	return has_suffix(p, want_st ? ".safetensors" : ".bin");
}

static bool pick_diffusers(const struct est_file_entry *f, size_t n, const bool *sel,
			   const char *model_index, struct est_pick *o)
{
	json_tokener *tok = json_tokener_new_ex(16);
	json_object *root = tok ? json_tokener_parse_ex(tok, model_index, (int)strlen(model_index)) : NULL;
	bool ok = false;
	if (root == NULL || !json_object_is_type(root, json_type_object))
		goto out;
	json_object_object_foreach(root, comp, val) {
		if (comp[0] == '_' || !json_object_is_type(val, json_type_array) ||
		    json_object_array_length(val) != 2 ||
		    json_object_get_type(json_object_array_get_idx(val, 0)) != json_type_string)
			continue;
		size_t cl = strlen(comp);
		for (int want_st = 1; want_st >= 0; want_st--) {
			int best = 4;
			for (size_t i = 0; i < n; i++) {
				if (!sel[i] || !component_weight(f[i].path, comp, cl, want_st))
					continue;
				int r = variant_rank(f[i].path);
				if (r < best)
					best = r;
			}
			if (best == 4)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (sel[i] && component_weight(f[i].path, comp, cl, want_st) && variant_rank(f[i].path) == best)
					push(&o->weights, &o->nweights, i);
			}
			ok = true;
			break;
		}
	}
out:
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return ok;
}

void classify_pick(const struct est_file_entry *f, size_t n, const bool *sel,
		   const char *model_index, struct est_pick *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < n; i++)
		if (sel[i]) {
			o->download_bytes += f[i].size;
			o->nselected++;
		}
	if (model_index && pick_diffusers(f, n, sel, model_index, o)) {
		o->format = EST_FMT_DIFFUSION;
		return;
	}
	free(o->weights);
	o->weights = NULL;
	o->nweights = 0;
	bool any_gguf = false, any_st = false, any_pickle = false;
	for (size_t i = 0; i < n; i++) {
		if (!sel[i])
			continue;
		any_gguf |= has_suffix(f[i].path, ".gguf");
		any_st |= has_suffix(f[i].path, ".safetensors") && !excluded_safetensors(f[i].path);
		any_pickle |= is_pickle(f[i].path);
	}
	if (any_gguf && !any_st) {
		o->format = EST_FMT_GGUF;
		pick_gguf(f, n, sel, o);
		if (o->nweights > 0 || o->nprojectors > 0)
			return;
	}
	if (any_st) {
		o->format = EST_FMT_SAFETENSORS;
		for (size_t i = 0; i < n; i++)
			if (sel[i] && has_suffix(f[i].path, ".safetensors") && !excluded_safetensors(f[i].path))
				push(&o->weights, &o->nweights, i);
		return;
	}
	if (any_pickle) {
		o->format = EST_FMT_BIN;
		for (size_t i = 0; i < n; i++)
			if (sel[i] && is_pickle(f[i].path) && !excluded_safetensors(f[i].path))
				push(&o->weights, &o->nweights, i);
		if (o->nweights == 0)
			for (size_t i = 0; i < n; i++)
				if (sel[i] && is_pickle(f[i].path))
					push(&o->weights, &o->nweights, i);
		return;
	}
	o->format = EST_FMT_UNKNOWN;
}

bool classify_is_weight_file(const char *path)
{
	static const char *const ext[] = {".safetensors", ".gguf", ".onnx", ".onnx_data", ".npz", ".tflite", NULL};
	if (is_pickle(path))
		return true;
	for (size_t i = 0; ext[i]; i++)
		if (has_suffix(path, ext[i]))
			return true;
	return false;
}

/* The length of path's top-level folder ("original/x" -> 8), 0 at the root. */
static size_t top_folder(const char *path)
{
	const char *s = strchr(path, '/');
	return s ? (size_t)(s - path) : 0;
}

int64_t classify_auto_keep(const struct est_file_entry *f, size_t n, const bool *sel, const struct est_pick *pk,
			   bool *keep)
{
	int64_t bytes = 0;
	bool *picked = xcalloc(n ? n : 1, sizeof(*picked));
	for (size_t k = 0; k < pk->nweights; k++)
		picked[pk->weights[k]] = true;
	for (size_t k = 0; k < pk->nprojectors; k++)
		picked[pk->projectors[k]] = true;
	bool none = pk->nweights + pk->nprojectors == 0;
	for (size_t i = 0; i < n; i++) {
		keep[i] = false;
		if (!sel[i])
			continue;
		if (none || picked[i]) {
			keep[i] = true;
		} else if (!classify_is_weight_file(f[i].path)) {
			/* a folder holding weight files of which none loads is a
			 * copy of the weights (original/, metal/): its configs
			 * and tokenizers go with it; the root always stays */
			size_t tl = top_folder(f[i].path);
			bool has_weights = false, has_picked = false;
			for (size_t j = 0; tl && j < n; j++) {
				if (!sel[j] || top_folder(f[j].path) != tl || strncmp(f[j].path, f[i].path, tl) != 0)
					continue;
				has_weights |= classify_is_weight_file(f[j].path);
				has_picked |= picked[j];
			}
			keep[i] = !has_weights || has_picked;
		}
		if (keep[i])
			bytes += f[i].size;
	}
	free(picked);
	return bytes;
}
