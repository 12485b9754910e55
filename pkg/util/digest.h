/* Message digests (OpenSSL EVP): SHA-256 for hashes and names, SHA-1 for git
 * blob ids. Lowercase hex output. */
#ifndef MC_UTIL_DIGEST_H
#define MC_UTIL_DIGEST_H

#include <stddef.h>

enum digest_alg { DIGEST_SHA256, DIGEST_SHA1 };

#define SHA256_HEX_LEN 64
#define SHA1_HEX_LEN 40

struct digest;   /* opaque */

/* Streaming: digest_new, digest_update..., digest_final_hex, digest_free. */
struct digest *digest_new(enum digest_alg alg);
void digest_update(struct digest *d, const void *p, size_t n);
/* Writes the lowercase hex digest + NUL into out (>= 65 bytes); the digest
 * can not be updated afterwards. */
void digest_final_hex(struct digest *d, char *out);
void digest_free(struct digest *d);

/* One-shot SHA-256 of a buffer / a C string; out must hold 65 bytes. */
void sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1]);
void sha256_hex_str(const char *s, char out[SHA256_HEX_LEN + 1]);

#endif
