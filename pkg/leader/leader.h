/* Leader election on a coordination.k8s.io/v1 Lease (client-go's
 * leaderelection): lease duration 15 s, renew deadline 10 s, retry 2 s.
 *
 * A candidate acquires the Lease when it is free (no holder), expired (its
 * record unchanged, as observed locally, for leaseDurationSeconds) or
 * already its own; the leader renews every retry period and gives up
 * (on_lost) when it could not renew within the renew deadline. Release
 * (leader_stop while leading) clears holderIdentity and sets
 * leaseDurationSeconds 1 so that another candidate takes over at once.
 * Optimistic concurrency: every write carries the resourceVersion read. */
#ifndef MC_LEADER_LEADER_H
#define MC_LEADER_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "kube/client.h"
#include "util/clock.h"

struct leader;

struct leader_opts {
	const char *ns;               /* copied */
	const char *name;             /* copied */
	const char *identity;         /* copied */
	uint64_t lease_duration_ms;   /* 0 => 15000 */
	uint64_t renew_deadline_ms;   /* 0 => 10000 */
	uint64_t retry_period_ms;     /* 0 => 2000 */
	const struct mclock *clock;   /* NULL = system */
	/* Called from the election thread. */
	void (*on_started_leading)(void *ctx);
	void (*on_lost)(void *ctx);
	void *ctx;
};

int leader_new(struct kube_client *c, const struct leader_opts *o, struct leader **out);
int leader_start(struct leader *l);
/* Stops the election thread; releases the lease when leading (one write). */
void leader_stop(struct leader *l);
void leader_free(struct leader *l);
bool leader_is_leader(struct leader *l);

/* One election step (the thread calls it every retry period; tests call
 * it directly): returns 1 when leading after the step, 0 when not. */
int leader_try_acquire_or_renew(struct leader *l);

#endif
