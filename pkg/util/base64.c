#include "util/base64.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

int base64_decode(const char *in, size_t max, char **out, size_t *len)
{
	size_t n = strlen(in);
	*out = NULL;
	*len = 0;
	if (n == 0 || n > max || n % 4)
		return -EINVAL;
	unsigned char *buf = xmalloc(n / 4 * 3 + 1);
	int l = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (l < 0) {
		free(buf);
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (in[n - 1] == '=')
		l--;
	if (in[n - 2] == '=')
		l--;
	buf[l] = '\0';
	*out = (char *)buf;
	*len = (size_t)l;
	return 0;
}
