/* safetensors header reader. Format: https://github.com/huggingface/safetensors
 * (u64 LE N, N bytes of UTF-8 JSON, then the byte buffer; tensors must cover
 * the buffer contiguously without overlap). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "estimate/safetensors.h"
#include "util/mem.h"

static const struct {
	const char *name;
	int bits;
} dtypes[] = {
	{"F64", 64}, {"F32", 32}, {"F16", 16}, {"BF16", 16},
	{"I64", 64}, {"I32", 32}, {"I16", 16}, {"I8", 8},
	{"U64", 64}, {"U32", 32}, {"U16", 16}, {"U8", 8},
	{"BOOL", 8}, {"C64", 64},
	{"F8_E4M3", 8}, {"F8_E5M2", 8}, {"F8_E8M0", 8},
	{"F6_E2M3", 6}, {"F6_E3M2", 6}, {"F4", 4},
};

int safetensors_dtype_bits(const char *dtype)
{
	for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
		if (strcmp(dtypes[i].name, dtype) == 0)
			return dtypes[i].bits;
	return 0;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && memcmp(s + a - b, suf, b) == 0;
}

static bool is_packed(const char *name, const char *dtype)
{
	return strcmp(dtype, "I32") == 0 &&
	       (ends_with(name, ".qweight") || ends_with(name, "weight_packed"));
}

static bool is_aux(const char *name)
{
	static const char *const sufs[] = {
		".qzeros", ".scales", ".g_idx", "weight_scale", "weight_zero_point",
		"weight_shape", "weight_g_idx", ".absmax", ".quant_map", ".nested_absmax",
		".nested_quant_map", "quant_state.bitsandbytes__nf4",
		"quant_state.bitsandbytes__fp4", "input_scale", "weight_scale_2",
	};
	for (size_t i = 0; i < sizeof(sufs) / sizeof(sufs[0]); i++)
		if (ends_with(name, sufs[i]))
			return true;
	return false;
}

struct span {
	uint64_t begin, end;
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int get_u64(json_object *o, uint64_t *v)
{
	if (!json_object_is_type(o, json_type_int))
		return -EINVAL;
	errno = 0;
	int64_t i = json_object_get_int64(o);
	if (i < 0 || errno == ERANGE)
		return -EINVAL;
	/* json-c saturates large values at INT64_MAX: refuse those too */
	if (i == INT64_MAX)
		return -EINVAL;
	*v = (uint64_t)i;
	return 0;
}

static void add_dtype(struct safetensors_summary *s, const char *dt, uint64_t el, uint64_t bytes)
{
	for (size_t i = 0; i < s->ndtypes; i++)
		if (strcmp(s->dtypes[i].name, dt) == 0) {
			s->dtypes[i].elements += el;
			s->dtypes[i].bytes += bytes;
			return;
		}
	if (s->ndtypes == SAFETENSORS_MAX_DTYPES)
		return;
	snprintf(s->dtypes[s->ndtypes].name, sizeof(s->dtypes[0].name), "%s", dt);
	s->dtypes[s->ndtypes].elements = el;
	s->dtypes[s->ndtypes].bytes = bytes;
	s->ndtypes++;
}

#define FAIL(code, text) do { rc = (code); if (why) *why = (text); goto out; } while (0)

static int parse_header(const char *json, size_t n, uint64_t data_len,
			struct safetensors_summary *out, const char **why)
{
	int rc = 0;
	json_tokener *tok = json_tokener_new_ex(8);
	json_object *root = NULL;
	struct span *spans = NULL;
	if (tok == NULL)
		FAIL(-ENOMEM, "out of memory");
	root = json_tokener_parse_ex(tok, json, (int)n);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success)
		FAIL(-EINVAL, "header is not valid JSON (or nested too deep)");
	/* Trailing bytes after the object may only be spaces (the format pads). */
	for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
		if (json[i] != ' ' && json[i] != '\0' && json[i] != '\n')
			FAIL(-EINVAL, "junk after the header JSON");
	if (!json_object_is_type(root, json_type_object))
		FAIL(-EINVAL, "header is not a JSON object");
	size_t count = (size_t)json_object_object_length(root);
	spans = xcalloc(count ? count : 1, sizeof(*spans));
	size_t ns = 0;
	json_object_object_foreach(root, key, val) {
		if (strcmp(key, "__metadata__") == 0)
			continue;
		json_object *dt, *shape, *offs;
		if (!json_object_is_type(val, json_type_object) ||
		    !json_object_object_get_ex(val, "dtype", &dt) ||
		    !json_object_object_get_ex(val, "shape", &shape) ||
		    !json_object_object_get_ex(val, "data_offsets", &offs) ||
		    !json_object_is_type(dt, json_type_string) ||
		    !json_object_is_type(shape, json_type_array) ||
		    !json_object_is_type(offs, json_type_array) ||
		    json_object_array_length(offs) != 2)
			FAIL(-EINVAL, "tensor entry lacks dtype, shape or data_offsets");
		const char *dts = json_object_get_string(dt);
		int bits = safetensors_dtype_bits(dts);
		if (bits == 0)
			FAIL(-EINVAL, "unknown dtype");
		size_t nd = json_object_array_length(shape);
		if (nd > 16)
			FAIL(-EINVAL, "too many dimensions");
		uint64_t el = 1;
		for (size_t d = 0; d < nd; d++) {
			uint64_t dim;
			if (get_u64(json_object_array_get_idx(shape, d), &dim) < 0)
				FAIL(-EINVAL, "bad shape");
			if (__builtin_mul_overflow(el, dim, &el))
				FAIL(-EINVAL, "element count overflows");
		}
		uint64_t bitsz, bytes;
		if (__builtin_mul_overflow(el, (uint64_t)bits, &bitsz))
			FAIL(-EINVAL, "tensor size overflows");
		bytes = bitsz / 8 + (bitsz % 8 != 0);
		uint64_t b, e;
		if (get_u64(json_object_array_get_idx(offs, 0), &b) < 0 ||
		    get_u64(json_object_array_get_idx(offs, 1), &e) < 0 || e < b)
			FAIL(-EINVAL, "bad data_offsets");
		if (e > data_len)
			FAIL(-EINVAL, "tensor data past the end of the file");
		if (e - b != bytes)
			FAIL(-EINVAL, "data_offsets disagree with dtype x shape");
		spans[ns].begin = b;
		spans[ns].end = e;
		ns++;
		out->tensors++;
		out->data_bytes += bytes;
		if (is_packed(key, dts))
			out->packed_i32_elements += el;
		else if (strcmp(dts, "U8") == 0 && ends_with(key, "_blocks"))
			out->u8_block_bytes += el;
		else if (strcmp(dts, "U8") == 0 && ends_with(key, "_scales"))
			out->u8_scale_elements += el;
		else if (is_aux(key))
			out->aux_elements += el;
		else
			out->elements += el;
		add_dtype(out, dts, el, bytes);
	}
	qsort(spans, ns, sizeof(*spans), cmp_span);
	uint64_t at = 0;
	for (size_t i = 0; i < ns; i++) {
		if (spans[i].begin != at)
			FAIL(-EINVAL, "tensor data overlaps or leaves holes");
		at = spans[i].end;
	}
	if (at != data_len)
		FAIL(-EINVAL, "tensor data does not cover the file");
out:
	free(spans);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

int safetensors_read(struct est_source *src, struct safetensors_summary *out, const char **why)
{
	return safetensors_read_ex(src, SAFETENSORS_FIRST_READ, out, why);
}

int safetensors_read_ex(struct est_source *src, size_t first_read, struct safetensors_summary *out,
			const char **why)
{
	int rc = 0;
	char *hdr = NULL;
	memset(out, 0, sizeof(*out));
	if (why)
		*why = NULL;
	if (src->size < 8)
		FAIL(-EINVAL, "file shorter than the 8-byte header length");
	if (first_read < 8)
		first_read = 8;
	if (first_read > SAFETENSORS_MAX_HEADER + 8)
		first_read = SAFETENSORS_MAX_HEADER + 8;
	size_t first = src->size < first_read ? (size_t)src->size : first_read;
	unsigned char *head = xmalloc(first);
	rc = est_source_read(src, 0, head, first);
	if (rc < 0) {
		free(head);
		FAIL(rc, "read failed");
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | head[i];
	if (n > SAFETENSORS_MAX_HEADER) {
		free(head);
		FAIL(-E2BIG, "header length above the 100 MiB limit");
	}
	if (n > src->size - 8 || n < 2) {
		free(head);
		FAIL(-EINVAL, "header length past the end of the file");
	}
	hdr = xmalloc((size_t)n + 1);
	size_t have = first - 8 < n ? first - 8 : (size_t)n;
	memcpy(hdr, head + 8, have);
	free(head);
	if (have < n) {
		rc = est_source_read(src, 8 + have, hdr + have, (size_t)n - have);
		if (rc < 0)
			FAIL(rc, "read failed");
	}
	hdr[n] = 0;
	out->header_len = n;
	rc = parse_header(hdr, (size_t)n, src->size - 8 - n, out, why);
out:
	free(hdr);
	return rc;
}

const char *safetensors_main_dtype(const struct safetensors_summary *s)
{
	const char *best = "";
	uint64_t max = 0;
	for (size_t i = 0; i < s->ndtypes; i++)
		if (s->dtypes[i].bytes > max) {
			max = s->dtypes[i].bytes;
			best = s->dtypes[i].name;
		}
	return best;
}
