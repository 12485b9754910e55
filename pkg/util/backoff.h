/* Exponential backoff with jitter.
 *
 *   delay(n) = min(max, base * factor^n), then spread by +/- jitter
 *   (jitter 0.2 => uniformly within [0.8, 1.2] x delay, never above max).
 * Plain value type; not shared between threads. */
#ifndef MC_UTIL_BACKOFF_H
#define MC_UTIL_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint64_t base_ms;
	uint64_t max_ms;
	double factor;
	double jitter;     /* 0..1 */
	unsigned attempt;  /* delays handed out since the last reset */
	uint64_t rng;      /* xorshift state */
};

void backoff_init(struct backoff *b, uint64_t base_ms, uint64_t max_ms, double factor, double jitter);
/* The next delay; advances the attempt count. */
uint64_t backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);
/* The un-jittered delay for attempt n (0-based): min(max, base * factor^n). */
uint64_t backoff_delay(uint64_t base_ms, uint64_t max_ms, double factor, unsigned attempt);

#endif
