/* Cache capacity of one cluster: the admission decision (docs/concepts.md,
 * "Capacity and LRU eviction").
 *
 * PURE: no I/O, no clock, no locks. The caller gathers what is on the
 * cluster (every cache volume composed there, with what makes it evictable)
 * and the cache asking to be composed; capacity_admit says whether it fits,
 * which caches to evict first (least recently used first) or, when even
 * evicting every evictable cache would not make room, InsufficientCapacity
 * with a message that carries the numbers:
 *   needs 40 GiB; gpu-west has 25 GiB free of 100 GiB (reserve 10 GiB) and
 *   nothing evictable: 3 caches in use, 1 pinned
 *
 * The rule: with a byte budget (capacity >= 0) the cache fits when
 * used + S <= capacity - reserve; with maxCaches > 0 when the count of caches
 * there (itself included) stays <= maxCaches. used = the sum of the requested
 * sizes of the volumes composed there. A cache already composed there only
 * needs the growth of its volume and no new slot. A cache is evictable when
 * it is Ready there, not pinned, not in use by a ModelDeployment placed
 * there, owned by a ModelCache, not the cache being admitted, and last used
 * strictly before the admitted cache was demanded (so that caches applied
 * together never evict each other in turn, and a cache being composed is
 * never evicted). Eviction order: last_used_s ascending, then key. Nothing
 * is evicted when the evictable caches together cannot make room.
 *
 * Serializing decisions per cluster is the caller's job (the decision is
 * only as good as the list of volumes it is given). */
#ifndef MC_CAPACITY_ADMIT_H
#define MC_CAPACITY_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define CAPACITY_MSG_MAX 512

/* A cluster's budget (InferenceCluster spec.cache). */
struct capacity_budget {
	const char *cluster;        /* its name, for the message */
	int64_t capacity_bytes;     /* < 0: no byte budget */
	int64_t reserve_bytes;      /* kept free inside capacity; 0 when unset */
	int64_t max_caches;         /* 0: no count limit */
};

/* One cache volume composed on the cluster. All pointers borrowed. */
struct capacity_cache {
	const char *key;            /* "namespace/name" of its ModelCache; NULL: no
	                             * ModelCache owns it (a Retained volume): counted, never evicted */
	int64_t size_bytes;         /* requested size of its volume */
	bool ready;                 /* phase Ready on this cluster */
	bool pinned;                /* annotation modelcache.dev/pinned: "true" */
	bool in_use;                /* referenced by a ModelDeployment placed on this cluster */
	int64_t last_used_s;        /* status.lastUsedTime, else Ready there since, else creation */
};

/* The cache asking to be composed. */
struct capacity_request {
	const char *key;            /* "namespace/name" */
	int64_t size_bytes;         /* its volume size S */
	int64_t demanded_s;         /* its creation, or the moment a ModelDeployment asked for it */
};

enum capacity_verdict {
	CAPACITY_ADMIT = 0,         /* fits, after evicting evict[0..nevict) */
	CAPACITY_INSUFFICIENT = 1,  /* does not fit: compose nothing, evict nothing */
};

/* Why the caches that were not chosen are not evictable. */
struct capacity_blockers {
	size_t in_use, pinned, not_ready, newer, unowned;
};

struct capacity_decision {
	enum capacity_verdict verdict;
	bool limited;               /* false: the cluster has neither capacity nor maxCaches */
	size_t *evict;              /* indices into caches[], eviction order; owned (cleanup) */
	size_t nevict;
	int64_t evict_bytes;        /* sum of the evicted volumes */
	int64_t used_bytes;         /* before evictions */
	int64_t free_bytes;         /* capacity - reserve - used, >= 0 (0 without a byte budget) */
	size_t count;               /* caches (volumes) on the cluster before evictions */
	int64_t needed_bytes;       /* what the admission needs: S, or the growth of its volume */
	struct capacity_blockers blockers;
	/* InsufficientCapacity: the message above. Admitted with evictions: the
	 * need in numbers ("ns/c needs 10 GiB; gpu-west has 5 GiB free of 25 GiB
	 * (reserve 0 GiB)"), for the Evicted events. Otherwise empty. */
	char message[CAPACITY_MSG_MAX];
};

/* Does the budget limit anything (capacity or maxCaches set)? */
bool capacity_limited(const struct capacity_budget *b);

/* Decide. caches[0..n) may include the requested cache (same key). Returns 0,
 * or -EINVAL on NULL arguments or negative sizes; out is always initialised
 * (capacity_decision_cleanup is safe after any return). */
int capacity_admit(const struct capacity_budget *b, const struct capacity_cache *caches, size_t n,
		   const struct capacity_request *req, struct capacity_decision *out);

void capacity_decision_cleanup(struct capacity_decision *d);

/* "40 GiB", "2.5 GiB", "0.5 GiB": the unit of every capacity message. */
void capacity_format_gib(int64_t bytes, char *out, size_t n);

/* ---- reading the inputs from our objects (borrowed json-c) ---- */

/* The LRU time of a ModelCache on a cluster: status.lastUsedTime, else the
 * lastTransitionTime of its Ready entry for that cluster, else its
 * creationTimestamp (Unix seconds; 0 when none parses). */
int64_t capacity_lru_time(json_object *mc, const char *cluster);

/* Is the ModelCache ns/name referenced (spec.modelCacheRef.name, same
 * namespace) by a live ModelDeployment with a status.placements[] entry on
 * cluster? *demanded_s (optional) = the newest creationTimestamp of such
 * ModelDeployments. mds: an array of ModelDeployments (or NULL). */
bool capacity_md_placed(json_object *mds, const char *ns, const char *name, const char *cluster,
			int64_t *demanded_s);

/* One volume's row from its ModelCache mc on cluster: Ready there (its
 * status.clusters[] entry), pinned (modelcache.dev/pinned), LRU time
 * (capacity_lru_time). in_use (capacity_md_placed) and the volume size come
 * from the caller. The reconciler feeds it the live volumes and the
 * informer's ModelCaches, render the ModelCaches' status (view.h). key and mc
 * borrowed. */
void capacity_cache_of(json_object *mc, const char *key, const char *cluster, bool in_use, int64_t size_bytes,
		       struct capacity_cache *out);

/* The moment a cache was demanded on a cluster (capacity_request.demanded_s):
 * the newest of created_s (its creation), md_demand_s (the newest
 * ModelDeployment placed there asking for it, capacity_md_placed) and, when
 * it is brought back after an eviction, the eviction (prev_entry's
 * lastTransitionTime when that entry says Evicted, else now_s). */
int64_t capacity_demand_time(int64_t created_s, int64_t md_demand_s, bool brought_back, json_object *prev_entry,
			     int64_t now_s);

/* The victim's Evicted message (its status and event): "evicted from
 * gpu-west (least recently used, 10Gi) to make room: <why>", why being the
 * decision's message. Owned by the caller. */
char *capacity_evicted_message(const char *cluster, int64_t size_bytes, const char *why);

#endif
