#include "util/digest.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

struct digest {
	EVP_MD_CTX *ctx;
};

struct digest *digest_new(enum digest_alg alg)
{
	struct digest *d = xcalloc(1, sizeof(*d));
	d->ctx = EVP_MD_CTX_new();
	if (!d->ctx)
		abort();
	const EVP_MD *md = alg == DIGEST_SHA1 ? EVP_sha1() : EVP_sha256();
	if (EVP_DigestInit_ex(d->ctx, md, NULL) != 1)
		abort();
	return d;
}

void digest_update(struct digest *d, const void *p, size_t n)
{
	if (n)
		EVP_DigestUpdate(d->ctx, p, n);
}

void digest_final_hex(struct digest *d, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_DigestFinal_ex(d->ctx, md, &len);
	for (unsigned i = 0; i < len; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * len] = '\0';
}

void digest_free(struct digest *d)
{
	if (!d)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

void sha256_hex(const void *p, size_t n, char out[SHA256_HEX_LEN + 1])
{
	struct digest *d = digest_new(DIGEST_SHA256);
	digest_update(d, p, n);
	digest_final_hex(d, out);
	digest_free(d);
}

void sha256_hex_str(const char *s, char out[SHA256_HEX_LEN + 1])
{
	sha256_hex(s, strlen(s), out);
}
