/* libFuzzer: Kubernetes quantity parsing and formatting (pkg/util/quantity).
 * A value that parses must format and parse back to the same value; byte
 * conversion must never overflow (UBSan catches signed overflow). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0;
	char s[257];
	memcpy(s, data, size);
	s[size] = 0;
	struct quantity q;
	if (quantity_parse(s, &q) == 0) {
		char out[128];
		if (quantity_format(&q, out, sizeof(out)) == 0) {
			struct quantity back;
			if (quantity_parse(out, &back) != 0 || quantity_cmp(&q, &back) != 0)
				abort(); /* a formatted quantity always parses back to itself */
		}
	}
	int64_t b;
	(void)quantity_parse_bytes(s, &b);
	return 0;
}
