/* Admission on one cluster as the objects' status describes it: what
 * `kubectl modelcache render` shows (docs/concepts.md, "Capacity and
 * eviction"; docs/operations.md, "Reviewing a change with render").
 *
 * PURE: no I/O, no clock. The reconciler decides from a live list of the
 * volumes on a cluster; a view decides from what the objects say about them,
 * with the same functions (admit.h) fed the same way:
 *   budget     the InferenceCluster's spec.cache {capacity, reserve, maxCaches}
 *   volumes    every ModelCache with a status.clusters[] entry for the
 *              cluster that holds a volume there (any phase but Skipped,
 *              Evicted and Pending/InsufficientCapacity), of size status.size
 *              (else spec.size); Ready, pinned, LRU time from that ModelCache
 *              (capacity_cache_of)
 *   in use     ModelDeployments with a status.placements[] entry there
 *              (capacity_md_placed)
 *   the rest   volumes counted in the InferenceCluster's status.cache.caches
 *              that no ModelCache given accounts for: counted, never evicted
 *              (as the operator treats a volume no ModelCache owns), with the
 *              bytes of usedBytes left over
 * Caches are admitted one after the other (capacity_view_admit): an
 * admitted cache holds its volume (not Ready: never evicted) and its victims
 * are gone for the next decision, as with the operator's serialized
 * admission. A cache not created yet (no creationTimestamp, here or in a
 * copy among the objects) is demanded after every time the objects carry. */
#ifndef MC_CAPACITY_VIEW_H
#define MC_CAPACITY_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "capacity/admit.h"
#include "util/buf.h"

struct capacity_view;

/* ic: the InferenceCluster; objs: an array of objects (ModelCaches and
 * ModelDeployments are read, other kinds ignored), or NULL. Both are
 * referenced, not copied. -EINVAL with *msg (owned) for an invalid
 * InferenceCluster. */
int capacity_view_new(json_object *ic, json_object *objs, struct capacity_view **out, char **msg);
void capacity_view_free(struct capacity_view *v);

/* Does the cluster have a budget (capacity or maxCaches)? */
bool capacity_view_limited(const struct capacity_view *v);

/* Remarks on the inputs ("" when none): how status.cache and the
 * ModelCaches given disagree. */
const char *capacity_view_notes(const struct capacity_view *v);

enum capacity_outcome {
	CAPACITY_UNLIMITED = 0,     /* no budget: admission does not apply */
	CAPACITY_FITS,              /* admitted, nothing evicted */
	CAPACITY_EVICTS,            /* admitted after evicting victims[] */
	CAPACITY_COMPOSED,          /* its volume is there at that size already */
	CAPACITY_NOT_GROWN,         /* composed there; its volume cannot grow: kept at size_bytes */
	CAPACITY_WAITS,             /* Pending/InsufficientCapacity: message; nothing composed */
	CAPACITY_STAYS_EVICTED,     /* Evicted there, not demanded since: message; nothing composed */
};

struct capacity_victim {
	char *key;                  /* namespace/name */
	int64_t size_bytes;
	int64_t last_used_s;
	char *message;              /* its Evicted message, as the operator writes it */
};

struct capacity_report {
	enum capacity_outcome outcome;
	int64_t size_bytes;         /* the volume to compose */
	struct capacity_decision d; /* the numbers (d.evict refers to the view's rows of that moment) */
	bool had_volume;            /* its volume was there before */
	struct capacity_victim *victims;
	size_t nvictims;
	char *message;              /* WAITS, NOT_GROWN: the decision's; STAYS_EVICTED: the entry's */
};

/* Decide for the ModelCache mc (namespace set) with a volume of size_bytes,
 * and, when admitted, record it in the view. 0, or -EINVAL (out is always
 * initialised; capacity_report_cleanup is safe). */
int capacity_view_admit(struct capacity_view *v, json_object *mc, int64_t size_bytes, struct capacity_report *out);
void capacity_report_cleanup(struct capacity_report *r);

/* The report as lines, each starting with prefix (render: "# "); nothing for
 * CAPACITY_UNLIMITED. */
int capacity_report_text(const struct capacity_view *v, const struct capacity_report *r, const char *prefix,
			 struct buf *out);

#endif
