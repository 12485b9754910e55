/* Which files of a repo load, and as what (docs/estimation.md, "Files that load"). Pure: works on a
 * listing (paths + sizes) and, for diffusers, model_index.json's text. */
#ifndef MC_ESTIMATE_CLASSIFY_H
#define MC_ESTIMATE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimate/source.h"

enum est_format { EST_FMT_UNKNOWN = 0, EST_FMT_SAFETENSORS, EST_FMT_GGUF, EST_FMT_DIFFUSION, EST_FMT_BIN };

const char *est_format_name(enum est_format f);

struct est_pick {
	enum est_format format;
	size_t *weights;        /* indices into the listing */
	size_t nweights;
	size_t *projectors;     /* GGUF mmproj-* (priced separately) */
	size_t nprojectors;
	size_t nvariants;       /* GGUF quants present after include/exclude */
	char tag[24];           /* GGUF quant tag of the chosen variant ("Q8_0"), "" unknown */
	int64_t download_bytes; /* every selected file */
	size_t nselected;
	char *note;             /* xmalloc'd or NULL */
};

void est_pick_cleanup(struct est_pick *p);

/* selected[i] says whether files[i] passed include/exclude. model_index is
 * the text of the root model_index.json (NULL if absent or not selected).
 * Always succeeds (format UNKNOWN when nothing loads); *out is yours. */
void classify_pick(const struct est_file_entry *files, size_t n, const bool *selected,
		   const char *model_index, struct est_pick *out);

/* The GGUF quant tag in a file name ("model-Q4_K_M.gguf" -> "Q4_K_M"), into
 * out (>= 24 bytes); false if none. */
bool classify_gguf_tag(const char *name, char *out, size_t cap);
bool classify_is_projector(const char *path);
/* A file that holds weights by its name (.safetensors, .gguf, pickles such
 * as .bin/.pt/.pth/.ckpt/.h5/.msgpack/.ot, .onnx, .npz, .tflite). */
bool classify_is_weight_file(const char *path);

/* spec.huggingFace.files: Auto (docs/estimation.md, "Download only what
 * loads"): keep[i] says whether selected file i is downloaded: the picked
 * weights and projectors, and every other selected file that is not a
 * weight file, except those in a top-level folder whose weight files were
 * all left out (original/, metal/: copies of the weights). When nothing was
 * picked every selected file is kept. Returns the bytes kept. */
int64_t classify_auto_keep(const struct est_file_entry *f, size_t n, const bool *sel, const struct est_pick *pk,
			   bool *keep);

#endif
