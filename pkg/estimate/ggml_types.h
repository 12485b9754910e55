/* The ggml tensor type table (ggml/src/ggml.c type_traits: block size and
 * bytes per block) and the GGUF file-type names (llama.h llama_ftype).
 * Exact tensor bytes = elements / block_size x type_size. */
#ifndef MC_ESTIMATE_GGML_TYPES_H
#define MC_ESTIMATE_GGML_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#define GGML_TYPE_COUNT 40

struct ggml_type_info {
	const char *name;       /* "Q4_K", NULL for removed ids */
	uint32_t block_size;    /* elements per block */
	uint32_t type_size;     /* bytes per block */
};

/* NULL for an unknown or removed type id. */
const struct ggml_type_info *ggml_type_get(uint32_t type);
/* Exact bytes of a tensor of n elements whose first dimension is ne0:
 * 0 and *bytes, or -EINVAL (unknown type, ne0 not a multiple of the block
 * size) / -EOVERFLOW. */
int ggml_tensor_bytes(uint32_t type, uint64_t ne0, uint64_t nelements, uint64_t *bytes);
/* Type id by name (case-insensitive), -1 unknown. */
int ggml_type_by_name(const char *name);
/* llama_ftype -> "Q4_K_M" etc.; NULL unknown. */
const char *gguf_file_type_name(uint32_t ftype);

#endif
