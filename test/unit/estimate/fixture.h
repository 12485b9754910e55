/* Test helpers: write safetensors and GGUF files with real headers (data
 * zero-filled) into memory or a directory. */
#ifndef MC_TEST_ESTIMATE_FIXTURE_H
#define MC_TEST_ESTIMATE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct fx_tensor {
	const char *name;
	const char *dtype;      /* safetensors dtype, or ggml type name for GGUF */
	int nd;
	uint64_t shape[4];      /* safetensors order (outermost first) / GGUF ne order */
};

/* A safetensors file: header + zeroed data. *len set; free() the result. */
unsigned char *fx_safetensors(const struct fx_tensor *t, size_t n, size_t *len);

/* GGUF builder. */
struct fx_gguf {
	uint32_t version;
	uint32_t alignment;
	uint64_t nkv, ntensors, data_off;
	struct buf kv, ti;
};
void fx_gguf_init(struct fx_gguf *g, uint32_t version);
void fx_gguf_u32(struct fx_gguf *g, const char *key, uint32_t v);
void fx_gguf_u64(struct fx_gguf *g, const char *key, uint64_t v);
void fx_gguf_f32(struct fx_gguf *g, const char *key, float v);
void fx_gguf_bool(struct fx_gguf *g, const char *key, int v);
void fx_gguf_str(struct fx_gguf *g, const char *key, const char *v);
void fx_gguf_arr_i32(struct fx_gguf *g, const char *key, const int32_t *v, size_t n);
void fx_gguf_arr_str(struct fx_gguf *g, const char *key, const char *const *v, size_t n);
/* an array of n arrays of m u8 (nested) */
void fx_gguf_arr_nested(struct fx_gguf *g, const char *key, size_t n, size_t m);
void fx_gguf_tensor(struct fx_gguf *g, const char *name, int nd, const uint64_t *ne, int type);
/* The whole file; with_data 0 => only the header (+ padding). *data_bytes =
 * padded data size that should follow. free() the result. */
unsigned char *fx_gguf_finish(struct fx_gguf *g, int with_data, size_t *len, uint64_t *data_bytes);

/* Write bytes to dir/rel (creating folders); 0 or -errno. */
int fx_write(const char *dir, const char *rel, const void *p, size_t n);
int fx_write_str(const char *dir, const char *rel, const char *s);
/* A new temporary directory (free() the path) and its recursive removal. */
char *fx_tmpdir(void);
void fx_rmrf(const char *dir);

#endif
