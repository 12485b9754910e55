/* GGUF header reader. Format: ggml/docs/gguf.md (v2/v3: u64 counts and
 * string lengths, little-endian); consistency rules follow ggml/src/gguf.cpp
 * (alignment a power of two, tensor offsets contiguous in order, each padded
 * to the alignment, ne[0] a multiple of the block size). The header is read
 * incrementally: chunks double from 256 KiB, never past GGUF_MAX_HEADER. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/ggml_types.h"
#include "estimate/gguf.h"
#include "estimate/satmath.h"
#include "util/mem.h"

enum {
	T_U8 = 0, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STRING, T_ARRAY,
	T_U64, T_I64, T_F64, T_COUNT
};

static const uint8_t fixed_size[T_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Numeric metadata kept for the architecture lookup after the pass. */
struct kv {
	char *key;
	double value;       /* scalar, or for arrays the max */
	double sum;         /* arrays: sum; scalars: value */
	uint64_t count;     /* arrays: length; scalars: 1 */
	uint64_t nonzero;   /* arrays: elements != 0 */
	bool is_array;
};

#define MAX_KVS 4096
/* Reads go up to the end of what is needed or the least the header still
 * holds (min_end below), whichever is further, plus READ_SLACK: the header is
 * read in steps that grow with what the counts promise, and the bytes read
 * never pass the header's end by more than READ_SLACK. */
#define READ_SLACK (48u << 10)
/* The fewest bytes of a KV (key length + type + a 1-byte value) and of a
 * tensor info (name length + n_dims + one dim + type + offset). */
#define MIN_KV_BYTES 13u
#define MIN_TENSOR_INFO_BYTES 32u

struct reader {
	struct est_source *src;
	unsigned char *buf;     /* bytes [0, len) of the file */
	size_t len, cap;
	uint64_t pos;
	struct kv *kvs;
	size_t nkvs;
	const char **why;
	/* a lower bound of the header's end: the KVs and tensor infos still to
	 * come, and the elements left in the top-level array being read */
	uint64_t kvs_left, tensors_left, elems_left, elem_min;
};

static uint64_t min_end(const struct reader *r)
{
	uint64_t e = r->pos, add;
	if (!__builtin_mul_overflow(r->kvs_left, (uint64_t)MIN_KV_BYTES, &add))
		e = e + add < e ? UINT64_MAX : e + add;
	if (!__builtin_mul_overflow(r->tensors_left, (uint64_t)MIN_TENSOR_INFO_BYTES, &add))
		e = e + add < e ? UINT64_MAX : e + add;
	if (!__builtin_mul_overflow(r->elems_left, r->elem_min, &add))
		e = e + add < e ? UINT64_MAX : e + add;
	return e;
}

static int fail(struct reader *r, int rc, const char *text)
{
	if (r->why && *r->why == NULL)
		*r->why = text;
	return rc;
}

/* Make [pos, pos+n) available. */
static int need(struct reader *r, uint64_t n)
{
	if (n > r->src->size || r->pos > r->src->size - n)
		return fail(r, -EINVAL, "truncated: a length runs past the end of the file");
	uint64_t end = r->pos + n;
	if (end <= r->len)
		return 0;
	if (end > GGUF_MAX_HEADER)
		return fail(r, -E2BIG, "header larger than the 64 MiB cap");
	uint64_t want = min_end(r);
	if (want < end)
		want = end;
	want = want > UINT64_MAX - READ_SLACK ? UINT64_MAX : want + READ_SLACK;
	if (want > GGUF_MAX_HEADER)
		want = GGUF_MAX_HEADER;
	if (want > r->src->size)
		want = r->src->size;
	if (want > r->cap) {
		r->buf = xrealloc(r->buf, (size_t)want);
		r->cap = (size_t)want;
	}
	int rc = est_source_read(r->src, r->len, r->buf + r->len, (size_t)want - r->len);
	if (rc < 0)
		return fail(r, rc, "read failed");
	r->len = (size_t)want;
	return 0;
}

static int rd(struct reader *r, void *out, size_t n)
{
	int rc = need(r, n);
	if (rc < 0)
		return rc;
	memcpy(out, r->buf + r->pos, n);
	r->pos += n;
	return 0;
}

static uint64_t le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static int rd_u32(struct reader *r, uint32_t *v)
{
	unsigned char b[4];
	int rc = rd(r, b, 4);
	if (rc == 0)
		*v = (uint32_t)le(b, 4);
	return rc;
}

static int rd_u64(struct reader *r, uint64_t *v)
{
	unsigned char b[8];
	int rc = rd(r, b, 8);
	if (rc == 0)
		*v = le(b, 8);
	return rc;
}

/* A string: returns a pointer into the buffer (valid until the next need())
 * and its length. */
static int rd_str(struct reader *r, uint64_t max, const char **s, uint64_t *n)
{
	int rc = rd_u64(r, n);
	if (rc < 0)
		return rc;
	if (*n > max)
		return fail(r, -EINVAL, "string length above the cap");
	rc = need(r, *n);
	if (rc < 0)
		return rc;
	*s = (const char *)r->buf + r->pos;
	r->pos += *n;
	return 0;
}

static double scalar(const unsigned char *p, uint32_t t)
{
	switch (t) {
	case T_U8: case T_BOOL: return p[0];
	case T_I8: return (int8_t)p[0];
	case T_U16: return (double)le(p, 2);
	case T_I16: return (int16_t)le(p, 2);
	case T_U32: return (double)le(p, 4);
	case T_I32: return (int32_t)le(p, 4);
	case T_U64: return (double)le(p, 8);
	case T_I64: return (double)(int64_t)le(p, 8);
	case T_F32: { uint32_t u = (uint32_t)le(p, 4); float f; memcpy(&f, &u, 4); return f; }
	case T_F64: { uint64_t u = le(p, 8); double d; memcpy(&d, &u, 8); return d; }
	}
	return 0;
}

static void keep(struct reader *r, const char *key, size_t keylen, const struct kv *v)
{
	if (r->nkvs >= MAX_KVS || keylen > 255)
		return;
	if (r->nkvs % 64 == 0)
		r->kvs = xrealloc(r->kvs, (r->nkvs + 64) * sizeof(*r->kvs));
	r->kvs[r->nkvs] = *v;
	r->kvs[r->nkvs].key = xstrndup(key, keylen);
	r->nkvs++;
}

/* Parse one value of type t. key/keylen name the top-level KV (NULL inside
 * nested arrays). Arrays of numbers are summarised; strings are skipped
 * except general.architecture (copied to arch_out). */
static int value(struct reader *r, uint32_t t, int depth, const char *key, size_t keylen,
		 char *arch_out, size_t arch_cap)
{
	int rc;
	if (t >= T_COUNT)
		return fail(r, -EINVAL, "unknown metadata value type");
	if (fixed_size[t]) {
		rc = need(r, fixed_size[t]);
		if (rc < 0)
			return rc;
		double d = scalar(r->buf + r->pos, t);
		r->pos += fixed_size[t];
		if (key) {
			struct kv v = {.value = d, .sum = d, .count = 1, .nonzero = d != 0};
			keep(r, key, keylen, &v);
		}
		return 0;
	}
	if (t == T_STRING) {
		const char *s;
		uint64_t n;
		rc = rd_str(r, GGUF_MAX_STRING, &s, &n);
		if (rc < 0)
			return rc;
		if (key && arch_out && keylen == 20 && memcmp(key, "general.architecture", 20) == 0) {
			size_t k = n < arch_cap - 1 ? (size_t)n : arch_cap - 1;
			memcpy(arch_out, s, k);
			arch_out[k] = 0;
		}
		return 0;
	}
	/* array */
	if (depth >= GGUF_MAX_DEPTH)
		return fail(r, -EINVAL, "arrays nested too deep");
	uint32_t et;
	uint64_t count;
	/* the key lives in the buffer, which need() may move: copy it first */
	char keybuf[256];
	if (key) {
		size_t k = keylen < sizeof(keybuf) - 1 ? keylen : sizeof(keybuf) - 1;
		memcpy(keybuf, key, k);
		keybuf[k] = 0;
		key = keybuf;
		keylen = k;
	}
	if ((rc = rd_u32(r, &et)) < 0 || (rc = rd_u64(r, &count)) < 0)
		return rc;
	if (et >= T_COUNT)
		return fail(r, -EINVAL, "unknown array element type");
	uint64_t min = fixed_size[et] ? fixed_size[et] : (et == T_STRING ? 8 : 12);
	uint64_t left = r->src->size - r->pos;
	if (count > left / min)
		return fail(r, -EINVAL, "array count larger than the bytes left in the file");
	if (fixed_size[et]) {
		rc = need(r, count * fixed_size[et]);
		if (rc < 0)
			return rc;
		struct kv v = {.count = count, .is_array = true};
		for (uint64_t i = 0; i < count; i++) {
			double d = scalar(r->buf + r->pos, et);
			r->pos += fixed_size[et];
			v.sum += d;
			if (i == 0 || d > v.value)
				v.value = d;
			v.nonzero += d != 0;
		}
		if (key)
			keep(r, key, keylen, &v);
		return 0;
	}
	for (uint64_t i = 0; i < count; i++) {
		if (depth == 0) {
			r->elems_left = count - i - 1;
			r->elem_min = min;
		}
		rc = value(r, et, depth + 1, NULL, 0, NULL, 0);
		if (rc < 0)
			return rc;
	}
	if (depth == 0)
		r->elems_left = 0;
	if (key) {
		struct kv v = {.count = count, .is_array = true};
		keep(r, key, keylen, &v);
	}
	return 0;
}

static const struct kv *find(const struct reader *r, const char *prefix, const char *suffix)
{
	char k[320];
	if (snprintf(k, sizeof(k), "%s%s", prefix, suffix) >= (int)sizeof(k))
		return NULL;
	for (size_t i = 0; i < r->nkvs; i++)
		if (strcmp(r->kvs[i].key, k) == 0)
			return &r->kvs[i];
	return NULL;
}

static int64_t num(const struct reader *r, const char *arch, const char *suffix)
{
	const struct kv *v = find(r, arch, suffix);
	if (v == NULL || !(v->value >= 0) || v->value > 9e15)
		return 0;
	return (int64_t)v->value;
}

static void fill_arch(const struct reader *r, struct gguf_summary *g)
{
	struct model_arch *a = &g->arch;
	char p[80];
	snprintf(p, sizeof(p), "%s.", g->architecture);
	snprintf(a->name, sizeof(a->name), "%s", g->architecture);
	a->layers = num(r, p, "block_count");
	a->hidden = num(r, p, "embedding_length");
	a->intermediate = num(r, p, "feed_forward_length");
	a->heads = num(r, p, "attention.head_count");
	a->kv_heads = num(r, p, "attention.head_count_kv");
	const struct kv *kvh = find(r, p, "attention.head_count_kv");
	if (kvh && kvh->is_array) {
		a->kv_heads_sum = count_of(kvh->sum);
		/* hybrid models: layers with 0 KV heads are recurrent */
		if (kvh->count == (uint64_t)a->layers)
			a->recurrent_layers = a->layers - count_of((double)kvh->nonzero);
	}
	if (a->kv_heads == 0 && kvh == NULL)
		a->kv_heads = a->heads;
	a->head_dim = num(r, p, "attention.key_length");
	a->v_head_dim = num(r, p, "attention.value_length");
	if (a->head_dim == 0 && a->heads > 0)
		a->head_dim = a->hidden / a->heads;
	a->max_context = num(r, p, "context_length");
	a->sliding_window = num(r, p, "attention.sliding_window");
	if (a->sliding_window > 0) {
		const struct kv *pat = find(r, p, "attention.sliding_window_pattern");
		if (pat && pat->is_array)
			a->swa_layers = count_of((double)pat->nonzero);
		else if (strcmp(g->architecture, "gemma3") == 0 || strcmp(g->architecture, "gemma3n") == 0)
			a->swa_layers = a->layers - a->layers / 6;   /* llama.cpp: swa pattern 6 */
		else if (strcmp(g->architecture, "gemma2") == 0)
			a->swa_layers = a->layers - a->layers / 2;   /* alternating */
		else if (strcmp(g->architecture, "cohere2") == 0)
			a->swa_layers = a->layers - a->layers / 4;
		/* unknown pattern: priced as full attention (an over-estimate) */
	}
	a->kv_lora_rank = num(r, p, "attention.kv_lora_rank");
	if (a->kv_lora_rank > 0)
		a->qk_rope_head_dim = num(r, p, "rope.dimension_count");
	a->experts = num(r, p, "expert_count");
	a->experts_per_tok = num(r, p, "expert_used_count");
	int64_t d_conv = num(r, p, "ssm.conv_kernel"), d_inner = num(r, p, "ssm.inner_size");
	int64_t d_state = num(r, p, "ssm.state_size"), groups = num(r, p, "ssm.group_count");
	if (d_inner > 0 && d_state > 0) {
		/* llama.cpp recurrent cache, f32: conv (d_conv-1) x (d_inner + 2 groups
		 * d_state) + ssm d_state x d_inner, per layer per sequence */
		a->recurrent_state_bytes =
			sat_mul(sat_add(sat_mul(d_conv > 0 ? d_conv - 1 : 0,
						sat_add(d_inner, sat_mul3(2, groups, d_state))),
					sat_mul(d_state, d_inner)), 4);
		if (kvh == NULL || a->heads == 0) {
			a->recurrent_layers = a->layers;   /* pure SSM (mamba) */
			a->kv_heads = 0;
		}
	}
	const struct kv *tokens = find(r, "", "tokenizer.ggml.tokens");
	a->vocab = tokens ? count_of((double)tokens->count) : num(r, p, "vocab_size");
	a->dtype_bytes = 2;
	snprintf(a->dtype, sizeof(a->dtype), "f16");
	a->known = a->layers > 0 && (a->heads > 0 || a->recurrent_layers > 0);
}

int gguf_read(struct est_source *src, struct gguf_summary *g, const char **why)
{
	struct reader r = {.src = src, .why = why};
	uint64_t *offs = NULL, *sizes = NULL;
	int rc;
	memset(g, 0, sizeof(*g));
	g->file_type = -1;
	g->alignment = 32;
	if (why)
		*why = NULL;
	unsigned char magic[4];
	uint64_t nt, nkv;
	if ((rc = rd(&r, magic, 4)) < 0)
		goto out;
	if (memcmp(magic, "GGUF", 4) != 0) {
		rc = fail(&r, -EINVAL, "not a GGUF file (bad magic)");
		goto out;
	}
	if ((rc = rd_u32(&r, &g->version)) < 0)
		goto out;
	if (g->version != 2 && g->version != 3) {
		rc = fail(&r, -EINVAL, "unsupported GGUF version (2 and 3 are read)");
		goto out;
	}
	if ((rc = rd_u64(&r, &nt)) < 0 || (rc = rd_u64(&r, &nkv)) < 0)
		goto out;
	/* a KV is at least key length (8) + type (4) + 1 byte; a tensor info at
	 * least name length (8) + n_dims (4) + type (4) + offset (8) */
	uint64_t left = src->size - r.pos;
	if (nkv > left / 13 || nt > left / 24 || nt > GGUF_MAX_TENSORS) {
		rc = fail(&r, -EINVAL, "counts larger than the bytes left in the file");
		goto out;
	}
	g->tensor_count = nt;
	g->kv_count = nkv;
	r.tensors_left = nt;
	for (uint64_t i = 0; i < nkv; i++) {
		r.kvs_left = nkv - i - 1;
		const char *k;
		uint64_t kl;
		uint32_t t;
		if ((rc = rd_str(&r, 65535, &k, &kl)) < 0)
			goto out;
		char key[256];
		size_t kk = kl < sizeof(key) - 1 ? (size_t)kl : sizeof(key) - 1;
		memcpy(key, k, kk);
		key[kk] = 0;
		if ((rc = rd_u32(&r, &t)) < 0)
			goto out;
		rc = value(&r, t, 0, key, kl > 255 ? 256 : kk, g->architecture, sizeof(g->architecture));
		if (rc < 0)
			goto out;
	}
	const struct kv *al = find(&r, "", "general.alignment");
	if (al) {
		uint64_t a = (uint64_t)count_of(al->value);
		if (al->is_array || a == 0 || a > (1u << 20) || (a & (a - 1)) != 0) {
			rc = fail(&r, -EINVAL, "general.alignment is not a power of two");
			goto out;
		}
		g->alignment = (uint32_t)a;
	}
	const struct kv *ft = find(&r, "", "general.file_type");
	if (ft && !ft->is_array)
		g->file_type = ft->value >= 0 && ft->value < 1000 ? (int64_t)ft->value : -1;
	const struct kv *sc = find(&r, "", "split.count");
	if (sc && !sc->is_array)
		g->split_count = (uint64_t)count_of(sc->value);
	offs = xcalloc(nt ? nt : 1, sizeof(*offs));
	sizes = xcalloc(nt ? nt : 1, sizeof(*sizes));
	for (uint64_t i = 0; i < nt; i++) {
		r.tensors_left = nt - i - 1;
		const char *name;
		uint64_t nl, ne[GGUF_MAX_DIMS] = {1, 1, 1, 1}, nel = 1, off;
		uint32_t nd, type;
		if ((rc = rd_str(&r, 4096, &name, &nl)) < 0 || (rc = rd_u32(&r, &nd)) < 0)
			goto out;
		if (nd == 0 || nd > GGUF_MAX_DIMS) {
			rc = fail(&r, -EINVAL, "tensor has an invalid number of dimensions");
			goto out;
		}
		for (uint32_t d = 0; d < nd; d++) {
			if ((rc = rd_u64(&r, &ne[d])) < 0)
				goto out;
			if (ne[d] > INT64_MAX || __builtin_mul_overflow(nel, ne[d], &nel) || nel > INT64_MAX) {
				rc = fail(&r, -EINVAL, "tensor element count overflows");
				goto out;
			}
		}
		if ((rc = rd_u32(&r, &type)) < 0 || (rc = rd_u64(&r, &off)) < 0)
			goto out;
		uint64_t bytes;
		if (ggml_type_get(type) == NULL) {
			rc = fail(&r, -EINVAL, "tensor has an unknown ggml type");
			goto out;
		}
		if (ggml_tensor_bytes(type, ne[0], nel, &bytes) < 0) {
			rc = fail(&r, -EINVAL, "tensor shape does not fit its type's block size");
			goto out;
		}
		offs[i] = off;
		sizes[i] = bytes;
		g->data_bytes += bytes;
		g->elements += nel;
		g->type_bytes[type] += bytes;
	}
	uint64_t start = (r.pos + g->alignment - 1) / g->alignment * g->alignment;
	if (start > src->size) {
		rc = fail(&r, -EINVAL, "truncated before the tensor data");
		goto out;
	}
	g->header_bytes = start;
	uint64_t expect = 0, room = src->size - start;
	for (uint64_t i = 0; i < nt; i++) {
		if (offs[i] != expect) {
			rc = fail(&r, -EINVAL, "tensor offsets are not contiguous");
			goto out;
		}
		if (sizes[i] > room || offs[i] > room - sizes[i]) {
			rc = fail(&r, -EINVAL, "tensor data past the end of the file");
			goto out;
		}
		uint64_t padded = (sizes[i] + g->alignment - 1) / g->alignment * g->alignment;
		if (__builtin_add_overflow(expect, padded, &expect)) {
			rc = fail(&r, -EINVAL, "tensor offsets overflow");
			goto out;
		}
	}
	if (g->architecture[0])
		fill_arch(&r, g);
	rc = 0;
out:
	free(offs);
	free(sizes);
	for (size_t i = 0; i < r.nkvs; i++)
		free(r.kvs[i].key);
	free(r.kvs);
	free(r.buf);
	return rc;
}

const char *gguf_main_type(const struct gguf_summary *g)
{
	if (g->file_type >= 0) {
		const char *n = gguf_file_type_name((uint32_t)g->file_type);
		if (n)
			return n;
	}
	uint64_t max = 0;
	const char *best = "unknown";
	for (int t = 0; t < GGML_TYPE_COUNT; t++)
		if (g->type_bytes[t] > max && ggml_type_get((uint32_t)t)) {
			max = g->type_bytes[t];
			best = ggml_type_get((uint32_t)t)->name;
		}
	return best;
}
