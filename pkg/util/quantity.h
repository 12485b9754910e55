/* Kubernetes resource.Quantity: parse and canonical format.
 *
 * A quantity is an exact decimal value = unscaled x 10^scale plus the format
 * its suffix implies. Suffixes: binary Ki Mi Gi Ti Pi Ei, decimal n u m k M G
 * T P E, or an exponent e3 / E3. Formatting is canonical as in Kubernetes:
 * "1.5T" -> "1500G", "1.5Gi" -> "1536Mi", "1024Mi" -> "1Gi", "1e3" -> "1e3",
 * binary values below 1024 or with fractions print in decimal SI ("0.5Ki" ->
 * "512"). Precision finer than 1n is rounded up, like the apiserver does. */
#ifndef MC_UTIL_QUANTITY_H
#define MC_UTIL_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

enum quantity_format {
	QUANTITY_DECIMAL_SI = 0,
	QUANTITY_BINARY_SI,
	QUANTITY_DECIMAL_EXPONENT,
};

struct quantity {
	int64_t unscaled;     /* normalised: no trailing decimal zeros */
	int32_t scale;        /* value = unscaled x 10^scale */
	enum quantity_format format;
};

#define QUANTITY_STR_MAX 32

/* 0, -EINVAL (junk, empty, bad suffix) or -ERANGE (does not fit). */
int quantity_parse(const char *s, struct quantity *q);
/* Canonical text; 0 or -ERANGE / -ENOSPC. */
int quantity_format(const struct quantity *q, char *out, size_t n);
void quantity_from_int(int64_t v, enum quantity_format f, struct quantity *q);
/* Value rounded up to an integer (Quantity.Value()); saturates at INT64. */
int64_t quantity_value(const struct quantity *q);
/* Value x 1000 rounded up (Quantity.MilliValue()); saturates. */
int64_t quantity_milli_value(const struct quantity *q);
double quantity_to_double(const struct quantity *q);
int quantity_cmp(const struct quantity *a, const struct quantity *b);

/* Convenience for byte sizes: parse to a byte count (rounded up; negative
 * values are -EINVAL), and format a byte count in canonical binary SI. */
int quantity_parse_bytes(const char *s, int64_t *bytes);
int quantity_format_bytes(int64_t bytes, char *out, size_t n);

#endif
