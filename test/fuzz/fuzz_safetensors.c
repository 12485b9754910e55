/* libFuzzer: the safetensors header reader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "estimate/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_source s;
	struct safetensors_summary sum;
	est_source_mem(&s, data, size);
	if (safetensors_read(&s, &sum, NULL) == 0 && sum.data_bytes > size)
		__builtin_trap();   /* priced more bytes than the file holds */
	return 0;
}
