/* safetensors / GGUF readers and the ggml type table, incl. hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "estimate/ggml_types.h"
#include "estimate/gguf.h"
#include "estimate/safetensors.h"
#include "fixture.h"
#include "util/mem.h"

/* Expected sizes derived from the block layouts in ggml-common.h (QK_K=256):
 * written as the sum of the struct fields, not copied from the table. */
static void test_ggml_type_sizes(void **state)
{
	const struct { const char *name; uint32_t id, blck, size; } want[] = {
		{"F32", 0, 1, 4}, {"F16", 1, 1, 2},
		{"Q4_0", 2, 32, 2 + 32 / 2}, {"Q4_1", 3, 32, 2 * 2 + 32 / 2},
		{"Q5_0", 6, 32, 2 + 4 + 32 / 2}, {"Q5_1", 7, 32, 2 * 2 + 4 + 32 / 2},
		{"Q8_0", 8, 32, 2 + 32}, {"Q8_1", 9, 32, 2 * 2 + 32},
		{"Q2_K", 10, 256, 256 / 16 + 256 / 4 + 2 * 2},
		{"Q3_K", 11, 256, 256 / 8 + 256 / 4 + 12 + 2},
		{"Q4_K", 12, 256, 2 * 2 + 12 + 256 / 2},
		{"Q5_K", 13, 256, 2 * 2 + 12 + 256 / 8 + 256 / 2},
		{"Q6_K", 14, 256, 256 / 2 + 256 / 4 + 256 / 16 + 2},
		{"Q8_K", 15, 256, 4 + 256 + 256 / 16 * 2},
		{"IQ2_XXS", 16, 256, 2 + 256 / 8 * 2},
		{"IQ2_XS", 17, 256, 2 + 256 / 8 * 2 + 256 / 32},
		{"IQ3_XXS", 18, 256, 2 + 3 * 256 / 8},
		{"IQ1_S", 19, 256, 2 + 256 / 8 + 256 / 32 * 2},
		{"IQ4_NL", 20, 32, 2 + 32 / 2},
		{"IQ3_S", 21, 256, 2 + 256 / 4 + 256 / 32 + 256 / 8 + 4},
		{"IQ2_S", 22, 256, 2 + 256 / 4 + 256 / 32 + 256 / 32},
		{"IQ4_XS", 23, 256, 2 + 2 + 256 / 64 + 256 / 2},
		{"I8", 24, 1, 1}, {"I16", 25, 1, 2}, {"I32", 26, 1, 4}, {"I64", 27, 1, 8},
		{"F64", 28, 1, 8},
		{"IQ1_M", 29, 256, 256 / 8 + 256 / 16 + 256 / 32},
		{"BF16", 30, 1, 2},
		{"TQ1_0", 34, 256, (256 - 4 * 256 / 64) / 5 + 256 / 64 + 2},
		{"TQ2_0", 35, 256, 256 / 4 + 2},
		{"MXFP4", 39, 32, 1 + 32 / 2},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct ggml_type_info *t = ggml_type_get(want[i].id);
		assert_non_null(t);
		assert_string_equal(t->name, want[i].name);
		assert_int_equal(t->block_size, want[i].blck);
		assert_int_equal(t->type_size, want[i].size);
		assert_int_equal(ggml_type_by_name(want[i].name), (int)want[i].id);
	}
	/* removed ids are unknown, not guessed */
	const uint32_t removed[] = {4, 5, 31, 32, 33, 36, 37, 38, 40, 1000};
	for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++)
		assert_null(ggml_type_get(removed[i]));
	uint64_t b;
	assert_int_equal(ggml_tensor_bytes(12, 4096, 4096ull * 4096, &b), 0);   /* Q4_K */
	assert_int_equal(b, 4096ull * 4096 / 256 * 144);
	assert_int_equal(ggml_tensor_bytes(8, 100, 100, &b), -EINVAL);          /* not a block multiple */
	assert_int_equal(ggml_tensor_bytes(0, 1, UINT64_MAX / 2, &b), -EOVERFLOW);
	assert_string_equal(gguf_file_type_name(15), "Q4_K_M");
	assert_string_equal(gguf_file_type_name(7), "Q8_0");
	assert_null(gguf_file_type_name(4));
}

static void test_safetensors_dtypes(void **state)
{
	const struct { const char *d; int bits; } w[] = {
		{"F64", 64}, {"F32", 32}, {"F16", 16}, {"BF16", 16}, {"I64", 64}, {"I32", 32},
		{"I16", 16}, {"I8", 8}, {"U8", 8}, {"U16", 16}, {"U32", 32}, {"U64", 64},
		{"BOOL", 8}, {"F8_E4M3", 8}, {"F8_E5M2", 8}, {"F8_E8M0", 8}, {"F6_E2M3", 6},
		{"F6_E3M2", 6}, {"F4", 4}, {"C64", 64}, {"bf16", 0}, {"Q4", 0},
	};
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
		assert_int_equal(safetensors_dtype_bits(w[i].d), w[i].bits);
	/* each dtype priced exactly in a real header */
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		if (w[i].bits == 0)
			continue;
		struct fx_tensor t = {"w", w[i].d, 2, {6, 10}};
		size_t len;
		unsigned char *p = fx_safetensors(&t, 1, &len);
		struct est_source s;
		struct safetensors_summary sum;
		est_source_mem(&s, p, len);
		assert_int_equal(safetensors_read(&s, &sum, NULL), 0);
		assert_int_equal(sum.data_bytes, (60 * (uint64_t)w[i].bits + 7) / 8);
		free(p);
	}
}

static void test_safetensors_valid(void **state)
{
	const struct fx_tensor t[] = {
		{"model.embed_tokens.weight", "BF16", 2, {151936, 16}},
		{"model.layers.0.self_attn.q_proj.weight", "BF16", 2, {16, 16}},
		{"model.norm.weight", "F32", 1, {16}},
	};
	size_t len;
	unsigned char *p = fx_safetensors(t, 3, &len);
	struct est_source s;
	struct safetensors_summary sum;
	est_source_mem(&s, p, len);
	assert_int_equal(safetensors_read(&s, &sum, NULL), 0);
	assert_int_equal(sum.tensors, 3);
	assert_int_equal(sum.data_bytes, 151936 * 16 * 2 + 16 * 16 * 2 + 16 * 4);
	assert_int_equal(sum.elements, 151936 * 16 + 256 + 16);
	assert_string_equal(safetensors_main_dtype(&sum), "BF16");
	/* a header within the first read: one read, the header + 64 KiB at most */
	assert_int_equal(s.reads, 1);
	assert_true(s.bytes_read <= sum.header_len + 8 + (64u << 10));
	free(p);
}

/* A header larger than the first read: one more read of exactly the rest. */
static void test_safetensors_big_header_exact(void **state)
{
	(void)state;
	enum { N = 2000 };
	struct fx_tensor *t = xcalloc(N, sizeof(*t));
	char (*names)[64] = xcalloc(N, 64);
	for (int i = 0; i < N; i++) {
		snprintf(names[i], 64, "model.layers.%d.mlp.experts.gate_proj.weight", i);
		t[i] = (struct fx_tensor){names[i], "BF16", 2, {4, 4}};
	}
	size_t len;
	unsigned char *p = fx_safetensors(t, N, &len);
	struct est_source s;
	struct safetensors_summary sum;
	est_source_mem(&s, p, len);
	assert_int_equal(safetensors_read(&s, &sum, NULL), 0);
	assert_int_equal(sum.tensors, N);
	assert_true(sum.header_len > SAFETENSORS_FIRST_READ);
	assert_int_equal(s.reads, 2);
	assert_int_equal(s.bytes_read, sum.header_len + 8);
	free(p);
	free(t);
	free(names);
}

/* Build a file from a raw header string. */
static unsigned char *raw_st(const char *hdr, uint64_t claimed_len, size_t data, size_t *len)
{
	size_t h = strlen(hdr);
	*len = 8 + h + data;
	unsigned char *p = xcalloc(1, *len);
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(claimed_len >> (8 * i));
	memcpy(p + 8, hdr, h);
	return p;
}

static int st_try(const char *hdr, uint64_t claimed, size_t data, const char **why)
{
	size_t len;
	unsigned char *p = raw_st(hdr, claimed, data, &len);
	struct est_source s;
	struct safetensors_summary sum;
	est_source_mem(&s, p, len);
	int rc = safetensors_read(&s, &sum, why);
	free(p);
	return rc;
}

static void test_safetensors_hostile(void **state)
{
	const char *why;
	const char *ok = "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
	assert_int_equal(st_try(ok, strlen(ok), 4, &why), 0);
	/* header length past the end / above the cap / absurd */
	assert_int_equal(st_try(ok, strlen(ok) + 100, 4, &why), -EINVAL);
	assert_int_equal(st_try(ok, (uint64_t)1 << 62, 4, &why), -E2BIG);
	assert_int_equal(st_try(ok, UINT64_MAX, 4, &why), -E2BIG);
	/* data shorter than the offsets say (truncated file) */
	assert_int_equal(st_try(ok, strlen(ok), 2, &why), -EINVAL);
	/* 2^60 elements */
	const char *huge = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1073741824,1073741824],\"data_offsets\":[0,4]}}";
	assert_int_equal(st_try(huge, strlen(huge), 4, &why), -EINVAL);
	const char *ovf = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}";
	assert_int_equal(st_try(ovf, strlen(ovf), 4, &why), -EINVAL);
	assert_string_equal(why, "element count overflows");
	/* offsets that disagree, overlap, leave holes, go backwards, are negative */
	const char *bad[] = {
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[2,6]}}",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[2,4]}}",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,0]}}",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[-2],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}",
		"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[2]}}",
		"{\"a\":[1,2]}",
		"[1,2,3]",
		"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}} junk",
		"{\"a\":",
		"\xff\xfe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(st_try(bad[i], strlen(bad[i]), 4, &why), -EINVAL);
	/* deep nesting in __metadata__ is refused by the parser's depth cap */
	char deep[4200];
	size_t k = 0;
	k += (size_t)sprintf(deep, "{\"__metadata__\":");
	for (int i = 0; i < 2000; i++)
		deep[k++] = '[';
	for (int i = 0; i < 2000; i++)
		deep[k++] = ']';
	deep[k++] = '}';
	deep[k] = 0;
	assert_int_equal(st_try(deep, strlen(deep), 0, &why), -EINVAL);
	/* shorter than 8 bytes */
	struct est_source s;
	struct safetensors_summary sum;
	est_source_mem(&s, "abc", 3);
	assert_int_equal(safetensors_read(&s, &sum, &why), -EINVAL);
	/* every truncation of a valid file fails cleanly */
	const struct fx_tensor t[] = {{"x", "BF16", 2, {4, 4}}, {"y", "F32", 1, {3}}};
	size_t len;
	unsigned char *p = fx_safetensors(t, 2, &len);
	for (size_t cut = 0; cut < len; cut++) {
		est_source_mem(&s, p, cut);
		assert_true(safetensors_read(&s, &sum, NULL) < 0);
	}
	free(p);
}

/* ---- GGUF ---- */

static unsigned char *llama_gguf(uint32_t version, size_t *len, uint64_t *data_bytes, int with_data)
{
	struct fx_gguf g;
	fx_gguf_init(&g, version);
	fx_gguf_str(&g, "general.architecture", "llama");
	fx_gguf_str(&g, "general.name", "TinyLlama");
	fx_gguf_u32(&g, "general.file_type", 15);
	fx_gguf_u32(&g, "llama.block_count", 22);
	fx_gguf_u32(&g, "llama.context_length", 2048);
	fx_gguf_u32(&g, "llama.embedding_length", 2048);
	fx_gguf_u32(&g, "llama.feed_forward_length", 5632);
	fx_gguf_u32(&g, "llama.attention.head_count", 32);
	fx_gguf_u32(&g, "llama.attention.head_count_kv", 4);
	fx_gguf_f32(&g, "llama.rope.freq_base", 10000.0f);
	fx_gguf_bool(&g, "tokenizer.ggml.add_bos_token", 1);
	const char *toks[] = {"<unk>", "<s>", "</s>", "a", "b"};
	fx_gguf_arr_str(&g, "tokenizer.ggml.tokens", toks, 5);
	int32_t tt[] = {2, 3, 3, 1, 1};
	fx_gguf_arr_i32(&g, "tokenizer.ggml.token_type", tt, 5);
	fx_gguf_arr_nested(&g, "test.nested", 3, 4);
	fx_gguf_u64(&g, "test.u64", 1ull << 40);
	uint64_t emb[2] = {2048, 5}, q[2] = {2048, 2048}, n[1] = {2048};
	fx_gguf_tensor(&g, "token_embd.weight", 2, emb, 14);     /* Q6_K */
	fx_gguf_tensor(&g, "blk.0.attn_q.weight", 2, q, 12);     /* Q4_K */
	fx_gguf_tensor(&g, "blk.0.attn_norm.weight", 1, n, 0);   /* F32 */
	fx_gguf_tensor(&g, "blk.0.ffn_up.weight", 2, q, 8);      /* Q8_0 */
	return fx_gguf_finish(&g, with_data, len, data_bytes);
}

static void test_gguf_valid(void **state)
{
	for (uint32_t v = 2; v <= 3; v++) {
		size_t len;
		uint64_t db;
		unsigned char *p = llama_gguf(v, &len, &db, 1);
		struct est_source s;
		struct gguf_summary g;
		const char *why = NULL;
		est_source_mem(&s, p, len);
		assert_int_equal(gguf_read(&s, &g, &why), 0);
		assert_int_equal(g.version, v);
		assert_int_equal(g.tensor_count, 4);
		uint64_t want = 2048 * 5 / 256 * 210 + 2048 * 2048 / 256 * 144 + 2048 * 4 +
				2048 * 2048 / 32 * 34;
		assert_int_equal(g.data_bytes, want);
		assert_int_equal(g.elements, 2048 * 5 + 2048 * 2048 * 2 + 2048);
		assert_string_equal(g.architecture, "llama");
		assert_string_equal(gguf_main_type(&g), "Q4_K_M");
		assert_true(g.arch.known);
		assert_int_equal(g.arch.layers, 22);
		assert_int_equal(g.arch.kv_heads, 4);
		assert_int_equal(g.arch.head_dim, 64);   /* 2048 / 32: no key_length given */
		assert_int_equal(g.arch.vocab, 5);
		assert_int_equal(g.arch.max_context, 2048);
		free(p);
	}
}

/* A source of a given (huge) size: the header bytes then zeros. */
struct big {
	const unsigned char *hdr;
	size_t hlen;
};

static int big_read(void *ctx, uint64_t off, void *buf, size_t len, size_t *got)
{
	struct big *b = ctx;
	memset(buf, 0, len);
	if (off < b->hlen) {
		size_t k = b->hlen - off < len ? b->hlen - (size_t)off : len;
		memcpy(buf, b->hdr + off, k);
	}
	*got = len;
	return 0;
}

static void test_gguf_big_file_reads_header_only(void **state)
{
	/* a 40 GB-class GGUF: one 40 GB tensor plus a large vocabulary */
	struct fx_gguf g;
	fx_gguf_init(&g, 3);
	fx_gguf_str(&g, "general.architecture", "llama");
	enum { NTOK = 50000 };
	char **toks = xcalloc(NTOK, sizeof(*toks));
	for (int i = 0; i < NTOK; i++)
		toks[i] = xasprintf("token-%05d", i);
	fx_gguf_arr_str(&g, "tokenizer.ggml.tokens", (const char *const *)toks, NTOK);
	for (int i = 0; i < NTOK; i++)
		free(toks[i]);
	free(toks);
	uint64_t ne[2] = {16384, 1310720};   /* 21.5 G elements in Q8_0 ~ 22.8 GB */
	fx_gguf_tensor(&g, "w", 2, ne, 8);
	uint64_t ne2[2] = {16384, 1048576};
	fx_gguf_tensor(&g, "w2", 2, ne2, 1); /* F16, 34 GB */
	size_t hlen;
	uint64_t db;
	unsigned char *h = fx_gguf_finish(&g, 0, &hlen, &db);
	struct big b = {h, hlen};
	struct est_source s = {.read_at = big_read, .ctx = &b, .size = hlen + db};
	struct gguf_summary sum;
	assert_true(s.size > 40ull * 1000 * 1000 * 1000);
	assert_int_equal(gguf_read(&s, &sum, NULL), 0);
	assert_int_equal(sum.data_bytes, 16384ull * 1310720 / 32 * 34 + 16384ull * 1048576 * 2);
	assert_int_equal(sum.arch.vocab, NTOK);
	/* header ~1 MB, read in steps that grow with what the counts promise:
	 * never more than the header + 64 KiB, in a few round trips */
	assert_true(sum.header_bytes > 900u << 10);
	assert_true(s.bytes_read >= sum.header_bytes - 32);
	assert_true(s.bytes_read <= sum.header_bytes + (64u << 10));
	assert_true(s.reads <= 16);
	free(h);
}

static int gguf_try(const unsigned char *p, size_t len, const char **why)
{
	struct est_source s;
	struct gguf_summary g;
	est_source_mem(&s, p, len);
	return gguf_read(&s, &g, why);
}

static void le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void test_gguf_hostile(void **state)
{
	size_t len;
	uint64_t db;
	const char *why;
	unsigned char *p = llama_gguf(3, &len, &db, 1);
	/* every truncation fails: each cut inside the header, then cuts through
	 * the tensor data */
	size_t hlen = len - (size_t)db;
	for (size_t cut = 0; cut < len; cut += cut < hlen + 64 ? 1 : 4093)
		assert_true(gguf_try(p, cut, NULL) < 0);
	assert_true(gguf_try(p, len - 1, NULL) < 0);
	assert_int_equal(gguf_try(p, len, NULL), 0);
	/* bad magic, version 1 and 4 */
	unsigned char *q = xmalloc(len);
	memcpy(q, p, len);
	q[0] = 'X';
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	q[4] = 1;
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	q[4] = 4;
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	/* 2^60 tensors / KVs */
	memcpy(q, p, len);
	le64(q + 8, 1ull << 60);
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	le64(q + 16, 1ull << 60);
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	/* huge key length (first KV's key length at offset 24) */
	memcpy(q, p, len);
	le64(q + 24, 1ull << 62);
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	le64(q + 24, len);   /* a length past the end */
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	free(q);
	free(p);

	/* a string value of 2^60 bytes, an array of 2^60 elements */
	unsigned char hdr[64] = "GGUF";
	hdr[4] = 3;
	le64(hdr + 8, 0);
	le64(hdr + 16, 1);
	le64(hdr + 24, 1);
	hdr[32] = 'k';
	hdr[33] = 8;             /* string */
	le64(hdr + 37, 1ull << 60);
	assert_int_equal(gguf_try(hdr, 64, &why), -EINVAL);
	hdr[33] = 9;             /* array of u8 */
	memset(hdr + 37, 0, 4);
	le64(hdr + 41, 1ull << 60);
	assert_int_equal(gguf_try(hdr, 64, &why), -EINVAL);
	assert_string_equal(why, "array count larger than the bytes left in the file");
	hdr[33] = 77;            /* unknown type */
	assert_int_equal(gguf_try(hdr, 64, &why), -EINVAL);

	/* arrays nested deeper than the cap */
	struct buf b;
	buf_init(&b, 1 << 20);
	buf_append(&b, hdr, 24);
	unsigned char kk[13] = {1, 0, 0, 0, 0, 0, 0, 0, 'k', 9, 0, 0, 0};
	buf_append(&b, kk, 13);
	for (int d = 0; d < 100; d++) {
		unsigned char a[12] = {9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
		buf_append(&b, a, 12);
	}
	unsigned char leaf[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	buf_append(&b, leaf, 12);
	assert_int_equal(gguf_try((unsigned char *)b.data, b.len, &why), -EINVAL);
	assert_string_equal(why, "arrays nested too deep");
	buf_cleanup(&b);

	/* tensor infos: bad dims, unknown type, misaligned/overlapping offsets,
	 * data past the end, bad alignment */
	struct fx_gguf g;
	uint64_t ne[2] = {32, 4};
	fx_gguf_init(&g, 3);
	fx_gguf_tensor(&g, "a", 2, ne, 8);
	fx_gguf_tensor(&g, "b", 2, ne, 8);
	p = fx_gguf_finish(&g, 1, &len, &db);
	assert_int_equal(gguf_try(p, len, &why), 0);
	/* a's 136 bytes are padded to 160; b's data ends 24 bytes before the end */
	assert_int_equal(db, 320);
	assert_int_equal(gguf_try(p, len - 24, &why), 0);
	assert_int_equal(gguf_try(p, len - 25, &why), -EINVAL);   /* data truncated */
	/* layout: 24 header; tensor "a": 8+1 name, 4 nd, 16 ne, 4 type, 8 off */
	size_t a_type = 24 + 9 + 4 + 16, a_off = a_type + 4, b_off = a_off + 8 + 9 + 4 + 16 + 4;
	q = xmalloc(len);
	memcpy(q, p, len);
	q[a_type] = 4;    /* removed Q4_2 */
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	q[a_type] = 12;   /* Q4_K needs ne0 % 256 */
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	le64(q + b_off, 0);   /* b overlaps a */
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	le64(q + b_off, 1ull << 62);
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	q[24 + 9] = 9;    /* n_dims 9 */
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	memcpy(q, p, len);
	le64(q + 24 + 9 + 4, 1ull << 62);   /* ne0 2^62 x ne1 4 overflows */
	assert_int_equal(gguf_try(q, len, &why), -EINVAL);
	free(q);
	free(p);
	fx_gguf_init(&g, 3);
	fx_gguf_u32(&g, "general.alignment", 48);
	p = fx_gguf_finish(&g, 1, &len, &db);
	assert_int_equal(gguf_try(p, len, &why), -EINVAL);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ggml_type_sizes),
		cmocka_unit_test(test_safetensors_dtypes),
		cmocka_unit_test(test_safetensors_valid),
		cmocka_unit_test(test_safetensors_hostile),
		cmocka_unit_test(test_gguf_valid),
		cmocka_unit_test(test_gguf_big_file_reads_header_only),
		cmocka_unit_test(test_safetensors_big_header_exact),
		cmocka_unit_test(test_gguf_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
