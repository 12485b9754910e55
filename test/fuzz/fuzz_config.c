/* libFuzzer: config.json parsing and the KV arithmetic on what it yields. */
#include <stddef.h>
#include <stdint.h>

#include "estimate/config.h"
#include "estimate/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_arch a;
	if (model_config_parse((const char *)data, size, &a) == 0) {
		struct kv_dtype dt;
		kv_dtype_parse("auto", &a, &dt);
		(void)kv_bytes_per_token(&a, &dt);
		(void)kv_cache_bytes(&a, &dt, 8192, 4, 512);
	}
	return 0;
}
