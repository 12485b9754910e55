/* GGUF (v2, v3) header reader: magic, version, tensor and KV counts, every
 * metadata value (nested arrays included), tensor infos and alignment. Only
 * the header is read, incrementally (a 40 GB file costs a few MB at most);
 * every count and length is bounded by the bytes the file has left and by
 * GGUF_MAX_HEADER, nesting by GGUF_MAX_DEPTH. */
#ifndef MC_ESTIMATE_GGUF_H
#define MC_ESTIMATE_GGUF_H

#include <stdint.h>

#include "estimate/arch.h"
#include "estimate/ggml_types.h"
#include "estimate/source.h"

#define GGUF_MAX_HEADER (64u << 20)
#define GGUF_MAX_DEPTH 4
#define GGUF_MAX_STRING (16u << 20)
#define GGUF_MAX_TENSORS (1u << 20)
#define GGUF_MAX_DIMS 4

struct gguf_summary {
	uint32_t version;
	uint64_t tensor_count;
	uint64_t kv_count;
	uint32_t alignment;
	uint64_t header_bytes;     /* offset of the tensor data */
	uint64_t data_bytes;       /* sum of exact tensor bytes */
	uint64_t elements;         /* parameters */
	int64_t file_type;         /* general.file_type, -1 absent */
	uint64_t type_bytes[GGML_TYPE_COUNT];  /* bytes per ggml type */
	char architecture[64];     /* general.architecture */
	struct model_arch arch;    /* from {arch}.* keys */
	uint64_t split_count;      /* split.count, 0 absent */
};

/* 0 or -EINVAL / -E2BIG / -EIO; *why gets a static description. */
int gguf_read(struct est_source *src, struct gguf_summary *out, const char **why);

/* The name of the main quant: file type name, else the ggml type with most bytes. */
const char *gguf_main_type(const struct gguf_summary *g);

#endif
