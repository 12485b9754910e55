/* ggml type sizes. Source: ggml/src/ggml.c type_traits[] and
 * ggml/src/ggml-common.h block layouts (QK_K = 256). Removed ids (4, 5:
 * Q4_2/Q4_3; 31-33: Q4_0_4_4/4_8/8_8; 36-38: IQ4_NL_4_4/4_8/8_8) are
 * unknown: a file using them is rejected rather than guessed. */
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <strings.h>

#include "estimate/ggml_types.h"

static const struct ggml_type_info types[GGML_TYPE_COUNT] = {
	[0] = {"F32", 1, 4},
	[1] = {"F16", 1, 2},
	[2] = {"Q4_0", 32, 18},      /* d f16 + 16 nibbles */
	[3] = {"Q4_1", 32, 20},      /* d, m f16 + 16 */
	[6] = {"Q5_0", 32, 22},      /* d + qh[4] + 16 */
	[7] = {"Q5_1", 32, 24},      /* d, m + qh[4] + 16 */
	[8] = {"Q8_0", 32, 34},      /* d + 32 */
	[9] = {"Q8_1", 32, 36},      /* d, s + 32 */
	[10] = {"Q2_K", 256, 84},    /* scales[16] qs[64] d dmin */
	[11] = {"Q3_K", 256, 110},   /* hmask[32] qs[64] scales[12] d */
	[12] = {"Q4_K", 256, 144},   /* d dmin scales[12] qs[128] */
	[13] = {"Q5_K", 256, 176},   /* d dmin scales[12] qh[32] qs[128] */
	[14] = {"Q6_K", 256, 210},   /* ql[128] qh[64] scales[16] d */
	[15] = {"Q8_K", 256, 292},   /* d f32 qs[256] bsums[16] i16 */
	[16] = {"IQ2_XXS", 256, 66},
	[17] = {"IQ2_XS", 256, 74},
	[18] = {"IQ3_XXS", 256, 98},
	[19] = {"IQ1_S", 256, 50},
	[20] = {"IQ4_NL", 32, 18},
	[21] = {"IQ3_S", 256, 110},
	[22] = {"IQ2_S", 256, 82},
	[23] = {"IQ4_XS", 256, 136},
	[24] = {"I8", 1, 1},
	[25] = {"I16", 1, 2},
	[26] = {"I32", 1, 4},
	[27] = {"I64", 1, 8},
	[28] = {"F64", 1, 8},
	[29] = {"IQ1_M", 256, 56},
	[30] = {"BF16", 1, 2},
	[34] = {"TQ1_0", 256, 54},
	[35] = {"TQ2_0", 256, 66},
	[39] = {"MXFP4", 32, 17},    /* e8m0 scale + 16 bytes of fp4 pairs */
};

const struct ggml_type_info *ggml_type_get(uint32_t type)
{
	if (type >= GGML_TYPE_COUNT || types[type].name == NULL)
		return NULL;
	return &types[type];
}

int ggml_tensor_bytes(uint32_t type, uint64_t ne0, uint64_t nelements, uint64_t *bytes)
{
	const struct ggml_type_info *t = ggml_type_get(type);
	if (t == NULL)
		return -EINVAL;
	if (ne0 % t->block_size != 0 || nelements % t->block_size != 0)
		return -EINVAL;
	uint64_t blocks = nelements / t->block_size;
	if (__builtin_mul_overflow(blocks, (uint64_t)t->type_size, bytes))
		return -EOVERFLOW;
	return 0;
}

int ggml_type_by_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < GGML_TYPE_COUNT; i++)
		if (types[i].name != NULL && strcasecmp(types[i].name, name) == 0)
			return i;
	return -1;
}

/* llama.h enum llama_ftype (LLAMA_FTYPE_MOSTLY_*). */
static const char *const ftypes[] = {
	[0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1",
	[7] = "Q8_0", [8] = "Q5_0", [9] = "Q5_1", [10] = "Q2_K",
	[11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L", [14] = "Q4_K_S",
	[15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",
	[19] = "IQ2_XXS", [20] = "IQ2_XS", [21] = "Q2_K_S", [22] = "IQ3_XS",
	[23] = "IQ3_XXS", [24] = "IQ1_S", [25] = "IQ4_NL", [26] = "IQ3_S",
	[27] = "IQ3_M", [28] = "IQ2_S", [29] = "IQ2_M", [30] = "IQ4_XS",
	[31] = "IQ1_M", [32] = "BF16", [36] = "TQ1_0", [37] = "TQ2_0",
	[38] = "MXFP4_MOE",
};

const char *gguf_file_type_name(uint32_t ftype)
{
	if (ftype >= sizeof(ftypes) / sizeof(ftypes[0]))
		return NULL;
	return ftypes[ftype];
}
