/* libFuzzer: the GGUF header reader on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "estimate/gguf.h"
#include "estimate/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct est_source s;
	struct gguf_summary g;
	est_source_mem(&s, data, size);
	if (gguf_read(&s, &g, NULL) == 0) {
		if (g.data_bytes > size || s.bytes_read > size)
			__builtin_trap();
		struct kv_dtype dt;
		kv_dtype_parse(NULL, &g.arch, &dt);
		(void)kv_cache_bytes(&g.arch, &dt, 4096, 2, 0);
	}
	return 0;
}
