#include "util/backoff.h"

#include <time.h>

void backoff_init(struct backoff *b, uint64_t base_ms, uint64_t max_ms, double factor, double jitter)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	b->base_ms = base_ms;
	b->max_ms = max_ms < base_ms ? base_ms : max_ms;
	b->factor = factor < 1.0 ? 1.0 : factor;
	b->jitter = jitter < 0 ? 0 : (jitter > 1 ? 1 : jitter);
	b->attempt = 0;
	b->rng = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)b;
	if (!b->rng)
		b->rng = 0x9e3779b97f4a7c15ull;
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}

uint64_t backoff_delay(uint64_t base_ms, uint64_t max_ms, double factor, unsigned attempt)
{
	double d = (double)base_ms;
	for (unsigned i = 0; i < attempt && d < (double)max_ms; i++)
		d *= factor;
	if (d > (double)max_ms)
		d = (double)max_ms;
	return (uint64_t)d;
}

static double uniform(struct backoff *b)
{
	uint64_t x = b->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return (double)(x >> 11) / (double)(1ull << 53);
}

uint64_t backoff_next(struct backoff *b)
{
	uint64_t d = backoff_delay(b->base_ms, b->max_ms, b->factor, b->attempt);
	if (b->attempt < 64)
		b->attempt++;
	if (b->jitter > 0) {
		double spread = 1.0 - b->jitter + 2.0 * b->jitter * uniform(b);
		double j = (double)d * spread;
		if (j > (double)b->max_ms)
			j = (double)b->max_ms;
		d = (uint64_t)j;
	}
	return d;
}
