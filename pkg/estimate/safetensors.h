/* safetensors header reader: 8-byte little-endian header length + JSON
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"}.
 * Every tensor is checked: known dtype, shape product x dtype size ==
 * end - begin, end within the file. The header length is capped
 * (SAFETENSORS_MAX_HEADER) and by the file size. */
#ifndef MC_ESTIMATE_SAFETENSORS_H
#define MC_ESTIMATE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "estimate/source.h"

#define SAFETENSORS_MAX_HEADER (100u << 20)   /* the reference library's limit */
/* The first read of a file whose header size is unknown: it covers most
 * headers in one request and never reads more than the header + 64 KiB
 * (a larger header costs one more read of exactly the rest). */
#define SAFETENSORS_FIRST_READ (64u << 10)
#define SAFETENSORS_MAX_DTYPES 24

/* Bits per element of a safetensors dtype ("BF16" -> 16, "F4" -> 4), 0 unknown. */
int safetensors_dtype_bits(const char *dtype);

struct safetensors_summary {
	uint64_t header_len;
	uint64_t tensors;
	uint64_t data_bytes;      /* sum of tensor bytes */
	uint64_t elements;        /* sum of element counts (as stored) */
	uint64_t packed_i32_elements;   /* elements of I32 "*.qweight"/"*weight_packed" tensors */
	uint64_t aux_elements;    /* scales, zeros, g_idx of packed formats */
	uint64_t u8_block_bytes;  /* U8 "*_blocks" tensors (MXFP4: two 4-bit values a byte) */
	uint64_t u8_scale_elements;   /* U8 "*_scales" beside them (MXFP4 e8m0 scales) */
	struct { char name[12]; uint64_t elements; uint64_t bytes; } dtypes[SAFETENSORS_MAX_DTYPES];
	size_t ndtypes;
};

/* Read and check the header of one file. 0 or -EINVAL (corrupt / hostile)
 * / -E2BIG (header too large) / -EIO (read failed); *why (may be NULL) gets a
 * static description. */
int safetensors_read(struct est_source *src, struct safetensors_summary *out, const char **why);
/* The same with the size of the first read (sharded checkpoints: the previous
 * shard's header length, so each shard costs one request). Capped at
 * SAFETENSORS_MAX_HEADER + 8 and by the file size. */
int safetensors_read_ex(struct est_source *src, size_t first_read, struct safetensors_summary *out,
			const char **why);

/* The dtype with most bytes ("BF16"), "" if none. */
const char *safetensors_main_dtype(const struct safetensors_summary *s);

#endif
