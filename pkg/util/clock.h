/* Clocks, injectable so that time-driven code (backoff, rate limiters,
 * resync, leases) can be driven from a test. */
#ifndef MC_UTIL_CLOCK_H
#define MC_UTIL_CLOCK_H

#include <pthread.h>
#include <stdint.h>

struct mclock {
	uint64_t (*mono_ns)(const struct mclock *c);   /* monotonic */
	int64_t (*wall_ns)(const struct mclock *c);    /* Unix time */
};

/* The real clocks (CLOCK_MONOTONIC, CLOCK_REALTIME). Never freed. */
const struct mclock *mclock_system(void);

static inline uint64_t mclock_mono_ns(const struct mclock *c) { return c->mono_ns(c); }
static inline int64_t mclock_wall_ns(const struct mclock *c) { return c->wall_ns(c); }
static inline uint64_t mclock_mono_ms(const struct mclock *c) { return c->mono_ns(c) / 1000000u; }

/* Shorthands for the system clock. */
uint64_t mono_ms(void);
int64_t wall_ms(void);

/* A clock that only moves when told to (thread-safe). */
struct mclock_fake {
	struct mclock base;
	pthread_mutex_t mu;
	uint64_t mono;
	int64_t wall;
};

void mclock_fake_init(struct mclock_fake *f, int64_t wall_ns);
void mclock_fake_advance(struct mclock_fake *f, uint64_t ns);
void mclock_fake_cleanup(struct mclock_fake *f);

#endif
