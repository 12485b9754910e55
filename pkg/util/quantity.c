#include "util/quantity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef __int128 i128;

/* Significant digits kept: 10^38 - 1 < 2^127 - 1, so 38 digits always fit
 * an __int128; a 39th is out of range (the value could not be an int64 of
 * bytes after any suffix anyway). */
#define MAX_DIGITS 38

static const i128 I64MAX = INT64_MAX;
/* Binary suffixes double the mantissa at most 60 times; past 2^100 the
 * value is out of range whatever the scale, and the check comes before
 * each doubling so it never overflows. */
static const i128 E2_LIMIT = (i128)1 << 100;

/* Trailing zeros move into the scale so equal values compare equal. */
static void normalise(struct quantity *q)
{
	if (q->unscaled == 0) {
		q->scale = 0;
		return;
	}
	while (q->unscaled % 10 == 0) {
		q->unscaled /= 10;
		q->scale++;
	}
}

static int suffix_parse(const char *s, enum quantity_format *f, int *exp10, int *exp2)
{
	static const struct { const char *s; int e10; } dec[] = {
		{"n", -9}, {"u", -6}, {"m", -3}, {"", 0}, {"k", 3}, {"M", 6},
		{"G", 9}, {"T", 12}, {"P", 15}, {"E", 18},
	};
	static const struct { const char *s; int e2; } bin[] = {
		{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60},
	};
	*exp10 = 0;
	*exp2 = 0;
	for (size_t i = 0; i < sizeof(bin) / sizeof(bin[0]); i++) {
		if (strcmp(s, bin[i].s) == 0) {
			*f = QUANTITY_BINARY_SI;
			*exp2 = bin[i].e2;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		if (strcmp(s, dec[i].s) == 0) {
			*f = QUANTITY_DECIMAL_SI;
			*exp10 = dec[i].e10;
			return 0;
		}
	}
	if (s[0] == 'e' || s[0] == 'E') {
		const char *p = s + 1;
		int neg = 0;
		if (*p == '+' || *p == '-')
			neg = *p++ == '-';
		if (!*p)
			return -EINVAL;
		int v = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || v > 1000)
				return -EINVAL;
			v = v * 10 + (*p - '0');
		}
		*f = QUANTITY_DECIMAL_EXPONENT;
		*exp10 = neg ? -v : v;
		return 0;
	}
	return -EINVAL;
}

int quantity_parse(const char *s, struct quantity *q)
{
	if (!s || !*s)
		return -EINVAL;
	const char *p = s;
	int neg = 0;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	i128 mant = 0;
	int frac = 0, digits = 0, seen_dot = 0, sig = 0;
	for (;; p++) {
		if (*p >= '0' && *p <= '9') {
			digits++;
			if (mant == 0 && *p == '0' && !seen_dot)
				continue;
			if (mant != 0 || *p != '0')
				sig++;
			if (sig > MAX_DIGITS)
				return -ERANGE;
			mant = mant * 10 + (*p - '0');
			if (seen_dot)
				frac++;
		} else if (*p == '.' && !seen_dot) {
			seen_dot = 1;
		} else {
			break;
		}
	}
	if (digits == 0)
		return -EINVAL;
	enum quantity_format f;
	int e10, e2;
	if (suffix_parse(p, &f, &e10, &e2) != 0)
		return -EINVAL;
	int scale = e10 - frac;
	for (int i = 0; i < e2; i++) {
		if (mant > E2_LIMIT)
			return -ERANGE;
		mant *= 2;
	}
	while (mant != 0 && mant % 10 == 0) {
		mant /= 10;
		scale++;
	}
	/* Round up anything finer than 1n, as the apiserver does. */
	while (scale < -9) {
		i128 r = mant % 10;
		mant /= 10;
		if (r != 0)
			mant += 1;
		scale++;
	}
	if (mant > I64MAX)
		return -ERANGE;
	if (mant == 0)
		scale = 0;
	if (scale > 1000 || (mant != 0 && scale > 18 + 19))
		return -ERANGE;
	q->unscaled = (int64_t)(neg ? -mant : mant);
	q->scale = scale;
	q->format = f;
	normalise(q);
	return 0;
}

void quantity_from_int(int64_t v, enum quantity_format f, struct quantity *q)
{
	q->unscaled = v;
	q->scale = 0;
	q->format = f;
	normalise(q);
}

/* value x 10^shift as i128; -ERANGE when it would not fit in 120 bits. */
static int scaled(const struct quantity *q, int shift, i128 *out)
{
	i128 v = q->unscaled;
	int s = q->scale + shift;
	for (; s > 0; s--) {
		if (v > ((i128)1 << 110) || v < -((i128)1 << 110))
			return -ERANGE;
		v *= 10;
	}
	if (s < 0)
		return 1; /* not an integer at this shift */
	*out = v;
	return 0;
}

static int print_i128(char *out, size_t n, i128 v, const char *suffix)
{
	char tmp[64];
	int pos = 63;
	tmp[pos] = '\0';
	int neg = v < 0;
	if (neg)
		v = -v;
	do {
		tmp[--pos] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	if (neg)
		tmp[--pos] = '-';
	int w = snprintf(out, n, "%s%s", tmp + pos, suffix);
	return (w < 0 || (size_t)w >= n) ? -ENOSPC : 0;
}

int quantity_format(const struct quantity *q, char *out, size_t n)
{
	if (q->unscaled == 0)
		return snprintf(out, n, "0") >= (int)n ? -ENOSPC : 0;
	enum quantity_format f = q->format;
	if (f == QUANTITY_BINARY_SI) {
		i128 v;
		if (scaled(q, 0, &v) == 0 && (v >= 1024 || v <= -1024)) {
			static const char *const sfx[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
			int k = 0;
			while (k < 6 && v % 1024 == 0) {
				v /= 1024;
				k++;
			}
			return print_i128(out, n, v, sfx[k]);
		}
		f = QUANTITY_DECIMAL_SI;
	}
	/* Largest exponent that is a multiple of 3 and keeps the mantissa integral. */
	int e = q->scale >= 0 ? (q->scale / 3) * 3 : -((-q->scale + 2) / 3) * 3;
	if (f == QUANTITY_DECIMAL_SI) {
		if (e > 18)
			e = 18;
		if (e < -9)
			e = -9;
	}
	i128 m;
	if (scaled(q, -e, &m) != 0)
		return -ERANGE;
	if (f == QUANTITY_DECIMAL_EXPONENT) {
		char sfx[16] = "";
		if (e != 0)
			snprintf(sfx, sizeof(sfx), "e%d", e);
		return print_i128(out, n, m, sfx);
	}
	static const char *const dsfx[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
	return print_i128(out, n, m, dsfx[(e + 9) / 3]);
}

static int64_t ceil_at(const struct quantity *q, int shift)
{
	i128 v = q->unscaled;
	int s = q->scale + shift;
	for (; s > 0; s--) {
		v *= 10;
		if (v > I64MAX)
			return INT64_MAX;
		if (v < -I64MAX)
			return INT64_MIN;
	}
	for (; s < 0; s++) {
		i128 r = v % 10;
		v /= 10;
		if (r > 0)
			v += 1;
	}
	return (int64_t)v;
}

int64_t quantity_value(const struct quantity *q)
{
	return ceil_at(q, 0);
}

int64_t quantity_milli_value(const struct quantity *q)
{
	return ceil_at(q, 3);
}

double quantity_to_double(const struct quantity *q)
{
	double v = (double)q->unscaled;
	for (int s = q->scale; s > 0; s--)
		v *= 10;
	for (int s = q->scale; s < 0; s++)
		v /= 10;
	return v;
}

int quantity_cmp(const struct quantity *a, const struct quantity *b)
{
	/* Bring both to the smaller scale; beyond range fall back to doubles. */
	int s = a->scale < b->scale ? a->scale : b->scale;
	i128 x = a->unscaled, y = b->unscaled;
	int ok = 1;
	for (int i = a->scale; i > s && ok; i--) {
		if (x > ((i128)1 << 110) || x < -((i128)1 << 110))
			ok = 0;
		else
			x *= 10;
	}
	for (int i = b->scale; i > s && ok; i--) {
		if (y > ((i128)1 << 110) || y < -((i128)1 << 110))
			ok = 0;
		else
			y *= 10;
	}
	if (!ok) {
		double da = quantity_to_double(a), db = quantity_to_double(b);
		return da < db ? -1 : da > db;
	}
	return x < y ? -1 : x > y;
}

int quantity_parse_bytes(const char *s, int64_t *bytes)
{
	struct quantity q;
	int rc = quantity_parse(s, &q);
	if (rc)
		return rc;
	if (q.unscaled < 0)
		return -EINVAL;
	int64_t v = quantity_value(&q);
	if (v == INT64_MAX && quantity_cmp(&q, &(struct quantity){INT64_MAX, 0, 0}) > 0)
		return -ERANGE;
	*bytes = v;
	return 0;
}

int quantity_format_bytes(int64_t bytes, char *out, size_t n)
{
	struct quantity q;
	quantity_from_int(bytes, QUANTITY_BINARY_SI, &q);
	return quantity_format(&q, out, n);
}
