/* Saturating int64 arithmetic for sizes computed from untrusted headers and
 * configs (internal to pkg/estimate): a hostile value yields INT64_MAX, an
 * estimate that fits nothing, never undefined behaviour. Negative inputs
 * count as 0. */
#ifndef MC_ESTIMATE_SATMATH_H
#define MC_ESTIMATE_SATMATH_H

#include <stdint.h>

static inline int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (a < 0)
		a = 0;
	if (b < 0)
		b = 0;
	return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

static inline int64_t sat_mul(int64_t a, int64_t b)
{
	int64_t r;
	if (a <= 0 || b <= 0)
		return 0;
	return __builtin_mul_overflow(a, b, &r) ? INT64_MAX : r;
}

static inline int64_t sat_mul3(int64_t a, int64_t b, int64_t c)
{
	return sat_mul(sat_mul(a, b), c);
}

/* A double from a file (GGUF metadata) as a count: [0, 2^53], NaN -> 0. */
static inline int64_t count_of(double d)
{
	if (!(d > 0))
		return 0;
	if (d > 9007199254740992.0)
		return 9007199254740992LL;
	return (int64_t)d;
}

#endif
