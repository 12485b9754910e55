#include "util/clock.h"

#include <time.h>

static uint64_t sys_mono(const struct mclock *c)
{
	(void)c;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int64_t sys_wall(const struct mclock *c)
{
	(void)c;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const struct mclock system_clock = {sys_mono, sys_wall};

const struct mclock *mclock_system(void)
{
	return &system_clock;
}

uint64_t mono_ms(void)
{
	return sys_mono(NULL) / 1000000u;
}

int64_t wall_ms(void)
{
	return sys_wall(NULL) / 1000000;
}

static uint64_t fake_mono(const struct mclock *c)
{
	struct mclock_fake *f = (struct mclock_fake *)c;
	pthread_mutex_lock(&f->mu);
	uint64_t v = f->mono;
	pthread_mutex_unlock(&f->mu);
	return v;
}

static int64_t fake_wall(const struct mclock *c)
{
	struct mclock_fake *f = (struct mclock_fake *)c;
	pthread_mutex_lock(&f->mu);
	int64_t v = f->wall;
	pthread_mutex_unlock(&f->mu);
	return v;
}

void mclock_fake_init(struct mclock_fake *f, int64_t wall_ns)
{
	f->base.mono_ns = fake_mono;
	f->base.wall_ns = fake_wall;
	pthread_mutex_init(&f->mu, NULL);
	f->mono = 1000000000u;
	f->wall = wall_ns;
}

void mclock_fake_advance(struct mclock_fake *f, uint64_t ns)
{
	pthread_mutex_lock(&f->mu);
	f->mono += ns;
	f->wall += (int64_t)ns;
	pthread_mutex_unlock(&f->mu);
}

void mclock_fake_cleanup(struct mclock_fake *f)
{
	pthread_mutex_destroy(&f->mu);
}
