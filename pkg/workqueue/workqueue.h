/* Rate-limited, de-duplicating work queue (controller-runtime's workqueue).
 *
 * Items are C strings ("ns/name" or "name"), copied on add.
 *  - A key added while it is queued is queued once (dedup).
 *  - A key added while a worker processes it is NOT handed to a second
 *    worker: it is marked dirty and queued again when wq_done() is called.
 *  - wq_add_after() delays an add; wq_add_rate_limited() delays it by
 *    max(per-item exponential 5 ms * 2^n .. 1000 s, global token bucket
 *    10/s burst 100); wq_forget() resets the per-item count.
 *  - wq_shutdown(): adds are refused, wq_get() returns -ESHUTDOWN at once
 *    (queued items are dropped); wq_drain() then waits for in-flight items
 *    (wq_done) up to a deadline.
 * Thread-safe. Time comes from an injected clock (NULL = system clock); with
 * a fake clock wq_get polls it every few ms so a test can advance time. */
#ifndef MC_WORKQUEUE_WORKQUEUE_H
#define MC_WORKQUEUE_WORKQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "util/clock.h"

struct wq;

struct wq_opts {
	const char *name;            /* for metrics/logs; copied; default "queue" */
	const struct mclock *clock;  /* NULL = system */
	uint64_t base_delay_ms;      /* per-item exponential: 0 => 5 */
	uint64_t max_delay_ms;       /* 0 => 1000 s */
	double qps;                  /* global bucket: <= 0 => 10 */
	int burst;                   /* <= 0 => 100 */
};

/* Observation hooks (metrics). Any thread; must be quick. */
struct wq_hooks {
	void (*on_add)(void *ctx, const char *queue);
	void (*on_retry)(void *ctx, const char *queue);
	void (*on_depth)(void *ctx, const char *queue, size_t depth);
	void *ctx;
};

int wq_new(const struct wq_opts *o, struct wq **out);
/* Call after wq_shutdown + wq_drain and once no thread uses the queue. */
void wq_free(struct wq *q);
void wq_set_hooks(struct wq *q, const struct wq_hooks *h);

void wq_add(struct wq *q, const char *key);
void wq_add_after(struct wq *q, const char *key, uint64_t delay_ms);
void wq_add_rate_limited(struct wq *q, const char *key);
/* The delay wq_add_rate_limited would use now, and it consumes it (tests). */
uint64_t wq_rate_limit_when(struct wq *q, const char *key);
void wq_forget(struct wq *q, const char *key);
unsigned wq_num_requeues(struct wq *q, const char *key);

/* Blocks until a key is ready (*key malloc'd, the caller frees it after
 * wq_done) or the queue shuts down (-ESHUTDOWN). */
int wq_get(struct wq *q, char **key);
/* Non-blocking: -EAGAIN when nothing is ready. */
int wq_try_get(struct wq *q, char **key);
void wq_done(struct wq *q, const char *key);

size_t wq_len(struct wq *q);          /* ready keys */
size_t wq_delayed_len(struct wq *q);  /* waiting keys */
size_t wq_processing(struct wq *q);   /* keys handed out, not done */

void wq_shutdown(struct wq *q);
/* Wait until nothing is processing or timeout_ms passes (-ETIMEDOUT). */
int wq_drain(struct wq *q, uint64_t timeout_ms);

#endif
