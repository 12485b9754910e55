/* Base64 as Kubernetes stores Secret data: the standard alphabet, padded,
 * no white space (OpenSSL EVP_DecodeBlock). */
#ifndef MC_UTIL_BASE64_H
#define MC_UTIL_BASE64_H

#include <stddef.h>

/* Decodes the NUL-terminated in (1..max characters, a multiple of 4).
 * 0 with *out (NUL-terminated, *len bytes, the caller's: free_secret or
 * free) or -EINVAL (empty, longer than max, not base64). */
int base64_decode(const char *in, size_t max, char **out, size_t *len);

#endif
