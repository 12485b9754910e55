/* Prometheus metrics: counters, gauges and histograms with labels, and the
 * text exposition format 0.0.4.
 *
 *   static const char *k[] = { "cluster", "reason" };
 *   struct metrics_counter *c = metrics_counter_get(
 *       "modelcache_hydrations_skipped_total", "Hydrations skipped by the VRAM precheck.",
 *       2, k, (const char *[]){ "west", "vram_insufficient" });
 *   metrics_counter_inc(c);
 *
 * A family (name) has one type, one help text and one fixed list of label
 * names; each distinct list of label values is one series. *_get creates the
 * family and/or series on first use and returns the same handle afterwards
 * (lookups take the registry mutex: cache the handle in hot paths). Handles
 * are owned by the registry and stay valid until it is freed (the default
 * registry is never freed), so they can be kept in statics.
 *
 * A bad name, bad label name, a mismatch with an existing family (other type,
 * other label names, other buckets) or more than METRICS_MAX_SERIES series in
 * a family returns NULL and logs one warning; every update function accepts
 * NULL and does nothing, so instrumentation can never crash the operator.
 *
 * Thread safety: everything may be called from any thread. Counter and gauge
 * updates are lock-free (C11 atomics); a histogram observation takes that
 * series' mutex so a scrape sees buckets, sum and count consistent.
 *
 * Output (metrics_write): families sorted by name, series by label values;
 *   # HELP name text   (help escapes \ and newline)
 *   # TYPE name counter|gauge|histogram
 *   name{k="v"} 3      (label values escape \, " and newline)
 *   name_bucket{k="v",le="0.5"} 1 ... name_bucket{k="v",le="+Inf"} 2
 *   name_sum{k="v"} 0.75   name_count{k="v"} 2
 * Numbers use the shortest digits that read back to the same double, in
 * plain notation unless the exponent is < -4 or >= 21
 * ("3", "10", "0.25", "1e+21", "1e-05", "+Inf", "-Inf", "NaN"). */
#ifndef MC_METRICS_METRICS_H
#define MC_METRICS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_MAX_SERIES 10000   /* per family: a cardinality guard */
#define METRICS_MAX_LABELS 16
#define METRICS_MAX_BUCKETS 64

struct metrics_registry;
struct metrics_counter;
struct metrics_gauge;
struct metrics_histogram;

/* Registries. The default one is created on first use and never freed. */
struct metrics_registry *metrics_default(void);
struct metrics_registry *metrics_registry_new(void);
void metrics_registry_free(struct metrics_registry *r);   /* invalidates its handles */

/* Counters: monotonic; add() ignores negative, NaN values. */
struct metrics_counter *metrics_counter_get_in(struct metrics_registry *r, const char *name,
	const char *help, size_t nlabels, const char *const *keys, const char *const *values);
void metrics_counter_inc(struct metrics_counter *c);
void metrics_counter_add(struct metrics_counter *c, double v);
double metrics_counter_value(const struct metrics_counter *c);   /* 0 for NULL */

/* Gauges. */
struct metrics_gauge *metrics_gauge_get_in(struct metrics_registry *r, const char *name,
	const char *help, size_t nlabels, const char *const *keys, const char *const *values);
void metrics_gauge_set(struct metrics_gauge *g, double v);
void metrics_gauge_add(struct metrics_gauge *g, double v);
void metrics_gauge_inc(struct metrics_gauge *g);
void metrics_gauge_dec(struct metrics_gauge *g);
double metrics_gauge_value(const struct metrics_gauge *g);

/* Histograms: `buckets` are the finite upper bounds, strictly increasing
 * (NULL/0 = METRICS_DEFAULT_BUCKETS); +Inf is implicit. */
extern const double METRICS_DEFAULT_BUCKETS[11];   /* .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 */
struct metrics_histogram *metrics_histogram_get_in(struct metrics_registry *r, const char *name,
	const char *help, size_t nbuckets, const double *buckets,
	size_t nlabels, const char *const *keys, const char *const *values);
void metrics_histogram_observe(struct metrics_histogram *h, double v);
/* Snapshot: count and sum (either pointer may be NULL). */
void metrics_histogram_read(const struct metrics_histogram *h, uint64_t *count, double *sum);

/* Shorthands on the default registry. */
#define metrics_counter_get(name, help, n, keys, values) \
	metrics_counter_get_in(metrics_default(), (name), (help), (n), (keys), (values))
#define metrics_gauge_get(name, help, n, keys, values) \
	metrics_gauge_get_in(metrics_default(), (name), (help), (n), (keys), (values))
#define metrics_histogram_get(name, help, nb, buckets, n, keys, values) \
	metrics_histogram_get_in(metrics_default(), (name), (help), (nb), (buckets), (n), (keys), (values))

/* Collectors: called at the start of every metrics_write (on the scraping
 * thread, without the registry lock) to refresh series that mirror state
 * read elsewhere (e.g. /proc). Up to 16 per registry; 0 or -ENOSPC. */
typedef void (*metrics_collect_fn)(struct metrics_registry *r, void *arg);
int metrics_add_collector(struct metrics_registry *r, metrics_collect_fn fn, void *arg);
/* For collectors mirroring an external monotonic total (CPU seconds): set the
 * counter to v; ignored when v is below the current value. */
void metrics_counter_set_total(struct metrics_counter *c, double v);

/* The standard process metrics from /proc/self (Linux), refreshed per
 * scrape: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds, process_threads. NULL = default registry.
 * Call once. */
int metrics_register_process_collector(struct metrics_registry *r);

/* Append the text exposition of r to out (NULL r = the default registry).
 * 0 or -E2BIG when out's cap is reached (out then holds a prefix). */
int metrics_write(struct metrics_registry *r, struct buf *out);
/* Same, into a malloc'd string (caller frees). 0 or -E2BIG. */
int metrics_render(struct metrics_registry *r, char **out);

/* Format a sample value as described above. out >= 32 bytes. */
void metrics_format_double(double v, char *out, size_t n);

#endif
