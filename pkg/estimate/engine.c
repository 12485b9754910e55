/* Engine argument scan (see engine.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/engine.h"

enum which { W_NONE, W_LEN, W_TP, W_PP, W_UTIL, W_SEQS, W_KV };

static const struct {
	const char *flag;
	enum which w;
} flags[] = {
	{"--max-model-len", W_LEN}, {"-c", W_LEN}, {"--ctx-size", W_LEN},
	{"--tensor-parallel-size", W_TP}, {"-tp", W_TP},
	{"--pipeline-parallel-size", W_PP}, {"-pp", W_PP},
	{"--gpu-memory-utilization", W_UTIL},
	{"--max-num-seqs", W_SEQS}, {"-np", W_SEQS}, {"--parallel", W_SEQS},
	{"--kv-cache-dtype", W_KV}, {"-ctk", W_KV}, {"--cache-type-k", W_KV},
};

static int int_val(const char *v, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || end == v || *end || x < 0 || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

/* vLLM also accepts "32k"/"1M" style lengths (since v0.10); plain integers
 * everywhere else. */
static int len_val(const char *v, int64_t *out)
{
	size_t n = strlen(v);
	if (n > 1 && (v[n - 1] == 'k' || v[n - 1] == 'K' || v[n - 1] == 'm' || v[n - 1] == 'M')) {
		char tmp[32];
		if (n >= sizeof(tmp))
			return -EINVAL;
		memcpy(tmp, v, n - 1);
		tmp[n - 1] = 0;
		int64_t x;
		if (int_val(tmp, (int64_t)1 << 30, &x) < 0)
			return -EINVAL;
		*out = x * (v[n - 1] == 'k' || v[n - 1] == 'K' ? 1024 : 1024 * 1024);
		return 0;
	}
	return int_val(v, (int64_t)1 << 40, out);
}

int engine_args_parse(const char *const *args, size_t n, struct engine_args *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < n; i++) {
		const char *a = args[i];
		if (a == NULL || a[0] != '-')
			continue;
		const char *eq = strchr(a, '=');
		size_t fl = eq ? (size_t)(eq - a) : strlen(a);
		enum which w = W_NONE;
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (strlen(flags[k].flag) == fl && strncmp(flags[k].flag, a, fl) == 0)
				w = flags[k].w;
		if (w == W_NONE)
			continue;
		const char *v = eq ? eq + 1 : (i + 1 < n ? args[++i] : NULL);
		int64_t x = 0;
		int rc = 0;
		if (v == NULL) {
			rc = -EINVAL;
		} else if (w == W_LEN) {
			rc = len_val(v, &x);
			o->max_model_len = x;
		} else if (w == W_TP || w == W_PP) {
			rc = int_val(v, 4096, &x);
			if (rc == 0 && x < 1)
				rc = -EINVAL;
			if (w == W_TP)
				o->tensor = (int)x;
			else
				o->pipeline = (int)x;
		} else if (w == W_SEQS) {
			rc = int_val(v, 1 << 20, &x);
			o->max_num_seqs = x;
		} else if (w == W_UTIL) {
			char *end;
			double d = strtod(v, &end);
			if (end == v || *end || !(d > 0 && d <= 1))
				rc = -EINVAL;
			else
				o->gpu_memory_utilization = d;
		} else if (w == W_KV) {
			if (strlen(v) >= sizeof(o->kv_cache_dtype) || !*v)
				rc = -EINVAL;
			else
				snprintf(o->kv_cache_dtype, sizeof(o->kv_cache_dtype), "%s", v);
		}
		if (rc < 0) {
			o->bad_flag = a;
			return -EINVAL;
		}
	}
	return 0;
}
