/* Prometheus metrics (see metrics.h). */
#include "metrics/metrics.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/mem.h"

const double METRICS_DEFAULT_BUCKETS[11] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

enum mtype { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

struct family;

static const char *const type_names[] = { "counter", "gauge", "histogram" };

struct series {
	char **values;
	char *labels;            /* rendered k="v",k2="v2" (no braces), "" if none */
	const struct family *fam;
	_Atomic uint64_t bits;   /* counter/gauge value as double bits */
	/* histogram */
	pthread_mutex_t mu;
	uint64_t *counts;        /* per finite bucket, NOT cumulative */
	uint64_t count;
	double sum;
};

struct family {
	char *name;
	char *help;
	enum mtype type;
	size_t nlabels;
	char **keys;
	double *buckets;
	size_t nbuckets;
	struct series **series;
	size_t nseries;
	bool warned_cap;
};

#define MAX_COLLECTORS 16

struct collector {
	metrics_collect_fn fn;
	void *arg;
};

struct metrics_registry {
	pthread_mutex_t mu;
	struct family **fams;
	size_t nfams;
	struct collector collectors[MAX_COLLECTORS];
	size_t ncollectors;
};

/* ---- registries ---- */

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *r = xcalloc(1, sizeof(*r));

	pthread_mutex_init(&r->mu, NULL);
	return r;
}

static struct metrics_registry *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
	default_registry = metrics_registry_new();
}

struct metrics_registry *metrics_default(void)
{
	pthread_once(&default_once, default_init);
	return default_registry;
}

static void series_free(struct series *s, const struct family *f)
{
	for (size_t i = 0; i < f->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->labels);
	if (f->type == MT_HISTOGRAM) {
		pthread_mutex_destroy(&s->mu);
		free(s->counts);
	}
	free(s);
}

static void family_free(struct family *f)
{
	for (size_t i = 0; i < f->nseries; i++)
		series_free(f->series[i], f);
	free(f->series);
	for (size_t i = 0; i < f->nlabels; i++)
		free(f->keys[i]);
	free(f->keys);
	free(f->buckets);
	free(f->name);
	free(f->help);
	free(f);
}

void metrics_registry_free(struct metrics_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nfams; i++)
		family_free(r->fams[i]);
	free(r->fams);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* ---- names and escaping ---- */

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	if (!(isalpha((unsigned char)s[0]) || s[0] == '_' || (colon && s[0] == ':')))
		return false;
	for (const char *p = s + 1; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || (colon && *p == ':')))
			return false;
	return true;
}

/* Append s escaped: backslash and newline always, double quote when quoted. */
static int put_escaped(struct buf *b, const char *s, bool quote)
{
	int rc = 0;

	for (; *s && rc == 0; s++) {
		if (*s == '\\')
			rc = buf_puts(b, "\\\\");
		else if (*s == '\n')
			rc = buf_puts(b, "\\n");
		else if (quote && *s == '"')
			rc = buf_puts(b, "\\\"");
		else
			rc = buf_putc(b, *s);
	}
	return rc;
}

void metrics_format_double(double v, char *out, size_t n)
{
	if (isnan(v)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Shortest digits that read back exactly; plain decimal notation unless
	 * the exponent is < -4 or >= 21 (then "1e+21", "1e-05"). */
	for (int prec = 1; prec <= 17; prec++) {
		char e[64];
		int exp, dec;

		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) != v && prec < 17)
			continue;
		exp = atoi(strchr(e, 'e') + 1);
		if (exp < -4 || exp >= 21) {
			snprintf(out, n, "%s", e);
			/* drop a trailing ".0..." mantissa: "1.0e+21" cannot occur
			 * (prec 1 has no point), so e is already the shortest. */
			return;
		}
		dec = prec - 1 - exp;
		snprintf(out, n, "%.*f", dec > 0 ? dec : 0, v);
		return;
	}
}

static double bits_to_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

static uint64_t double_to_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
	uint64_t old = atomic_load(a), upd;

	do {
		upd = double_to_bits(bits_to_double(old) + v);
	} while (!atomic_compare_exchange_weak(a, &old, upd));
}

/* ---- lookup / creation ---- */

static struct family *find_family(struct metrics_registry *r, const char *name)
{
	for (size_t i = 0; i < r->nfams; i++)
		if (strcmp(r->fams[i]->name, name) == 0)
			return r->fams[i];
	return NULL;
}

static bool family_compatible(const struct family *f, enum mtype type, size_t nlabels,
			      const char *const *keys, size_t nbuckets, const double *buckets)
{
	if (f->type != type || f->nlabels != nlabels)
		return false;
	for (size_t i = 0; i < nlabels; i++)
		if (strcmp(f->keys[i], keys[i]) != 0)
			return false;
	if (type == MT_HISTOGRAM) {
		if (f->nbuckets != nbuckets)
			return false;
		for (size_t i = 0; i < nbuckets; i++)
			if (f->buckets[i] != buckets[i])
				return false;
	}
	return true;
}

static void *get_series(struct metrics_registry *r, enum mtype type, const char *name,
			const char *help, size_t nbuckets, const double *buckets,
			size_t nlabels, const char *const *keys, const char *const *values)
{
	struct family *f;
	struct series *s = NULL;
	struct buf lb;

	if (!r)
		r = metrics_default();
	if (type == MT_HISTOGRAM && (!buckets || nbuckets == 0)) {
		buckets = METRICS_DEFAULT_BUCKETS;
		nbuckets = sizeof(METRICS_DEFAULT_BUCKETS) / sizeof(METRICS_DEFAULT_BUCKETS[0]);
	}
	if (!name_ok(name, true) || nlabels > METRICS_MAX_LABELS || (nlabels && (!keys || !values))) {
		LOG_WARN("metrics: bad metric", "name=%s", name ? name : "(null)");
		return NULL;
	}
	for (size_t i = 0; i < nlabels; i++) {
		if (!name_ok(keys[i], false) || strncmp(keys[i], "__", 2) == 0 || !values[i] ||
		    (type == MT_HISTOGRAM && strcmp(keys[i], "le") == 0)) {
			LOG_WARN("metrics: bad label", "name=%s label=%s", name, keys[i] ? keys[i] : "(null)");
			return NULL;
		}
	}
	if (type == MT_HISTOGRAM) {
		if (nbuckets > METRICS_MAX_BUCKETS)
			return NULL;
		for (size_t i = 0; i < nbuckets; i++)
			if (isnan(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])) || isinf(buckets[i])) {
				LOG_WARN("metrics: buckets must be finite and increasing", "name=%s", name);
				return NULL;
			}
	}

	pthread_mutex_lock(&r->mu);
	f = find_family(r, name);
	if (f && !family_compatible(f, type, nlabels, keys, nbuckets, buckets)) {
		LOG_WARN("metrics: conflicting registration", "name=%s type=%s", name, type_names[type]);
		goto out;
	}
	if (!f) {
		f = xcalloc(1, sizeof(*f));
		f->name = xstrdup(name);
		f->help = xstrdup(help ? help : "");
		f->type = type;
		f->nlabels = nlabels;
		f->keys = xcalloc(nlabels ? nlabels : 1, sizeof(char *));
		for (size_t i = 0; i < nlabels; i++)
			f->keys[i] = xstrdup(keys[i]);
		if (type == MT_HISTOGRAM) {
			f->nbuckets = nbuckets;
			f->buckets = xmalloc(nbuckets * sizeof(double));
			memcpy(f->buckets, buckets, nbuckets * sizeof(double));
		}
		r->fams = xrealloc(r->fams, (r->nfams + 1) * sizeof(*r->fams));
		r->fams[r->nfams++] = f;
	}
	for (size_t i = 0; i < f->nseries; i++) {
		size_t j;

		for (j = 0; j < nlabels; j++)
			if (strcmp(f->series[i]->values[j], values[j]) != 0)
				break;
		if (j == nlabels) {
			s = f->series[i];
			goto out;
		}
	}
	if (f->nseries >= METRICS_MAX_SERIES) {
		if (!f->warned_cap)
			LOG_WARN("metrics: too many series, dropping new ones", "name=%s max=%d",
				 name, METRICS_MAX_SERIES);
		f->warned_cap = true;
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->values = xcalloc(nlabels ? nlabels : 1, sizeof(char *));
	buf_init(&lb, 1u << 20);
	for (size_t i = 0; i < nlabels; i++) {
		s->values[i] = xstrdup(values[i]);
		buf_printf(&lb, "%s%s=\"", i ? "," : "", keys[i]);
		put_escaped(&lb, values[i], true);
		buf_putc(&lb, '"');
	}
	s->labels = buf_take(&lb, NULL);
	s->fam = f;
	atomic_init(&s->bits, double_to_bits(0.0));
	if (type == MT_HISTOGRAM) {
		pthread_mutex_init(&s->mu, NULL);
		s->counts = xcalloc(nbuckets, sizeof(uint64_t));
	}
	f->series = xrealloc(f->series, (f->nseries + 1) * sizeof(*f->series));
	f->series[f->nseries++] = s;
out:
	pthread_mutex_unlock(&r->mu);
	return s;
}

/* ---- counters and gauges ---- */

struct metrics_counter *metrics_counter_get_in(struct metrics_registry *r, const char *name,
	const char *help, size_t nlabels, const char *const *keys, const char *const *values)
{
	return get_series(r, MT_COUNTER, name, help, 0, NULL, nlabels, keys, values);
}

void metrics_counter_inc(struct metrics_counter *c)
{
	metrics_counter_add(c, 1.0);
}

void metrics_counter_add(struct metrics_counter *c, double v)
{
	if (!c || !(v >= 0))
		return;
	atomic_add_double(&((struct series *)c)->bits, v);
}

double metrics_counter_value(const struct metrics_counter *c)
{
	if (!c)
		return 0;
	return bits_to_double(atomic_load(&((struct series *)c)->bits));
}

struct metrics_gauge *metrics_gauge_get_in(struct metrics_registry *r, const char *name,
	const char *help, size_t nlabels, const char *const *keys, const char *const *values)
{
	return get_series(r, MT_GAUGE, name, help, 0, NULL, nlabels, keys, values);
}

void metrics_gauge_set(struct metrics_gauge *g, double v)
{
	if (g)
		atomic_store(&((struct series *)g)->bits, double_to_bits(v));
}

void metrics_gauge_add(struct metrics_gauge *g, double v)
{
	if (g)
		atomic_add_double(&((struct series *)g)->bits, v);
}

void metrics_gauge_inc(struct metrics_gauge *g)
{
	metrics_gauge_add(g, 1.0);
}

void metrics_gauge_dec(struct metrics_gauge *g)
{
	metrics_gauge_add(g, -1.0);
}

double metrics_gauge_value(const struct metrics_gauge *g)
{
	if (!g)
		return 0;
	return bits_to_double(atomic_load(&((struct series *)g)->bits));
}

/* ---- histograms ---- */

struct metrics_histogram *metrics_histogram_get_in(struct metrics_registry *r, const char *name,
	const char *help, size_t nbuckets, const double *buckets,
	size_t nlabels, const char *const *keys, const char *const *values)
{
	return get_series(r, MT_HISTOGRAM, name, help, nbuckets, buckets, nlabels, keys, values);
}

void metrics_histogram_observe(struct metrics_histogram *h, double v)
{
	struct series *s = (struct series *)h;
	const struct family *f;
	size_t i;

	if (!h || isnan(v))
		return;
	f = s->fam;
	for (i = 0; i < f->nbuckets; i++)
		if (v <= f->buckets[i])
			break;
	pthread_mutex_lock(&s->mu);
	if (i < f->nbuckets)
		s->counts[i]++;
	s->count++;
	s->sum += v;
	pthread_mutex_unlock(&s->mu);
}

void metrics_histogram_read(const struct metrics_histogram *h, uint64_t *count, double *sum)
{
	struct series *s = (struct series *)h;

	if (!h) {
		if (count)
			*count = 0;
		if (sum)
			*sum = 0;
		return;
	}
	pthread_mutex_lock(&s->mu);
	if (count)
		*count = s->count;
	if (sum)
		*sum = s->sum;
	pthread_mutex_unlock(&s->mu);
}

/* ---- exposition ---- */

static int cmp_family(const void *a, const void *b)
{
	return strcmp((*(struct family *const *)a)->name, (*(struct family *const *)b)->name);
}

static int cmp_series(const void *a, const void *b)
{
	return strcmp((*(struct series *const *)a)->labels, (*(struct series *const *)b)->labels);
}

static int put_sample(struct buf *b, const char *name, const char *suffix, const char *labels,
		      const char *extra, double v)
{
	char num[64];
	bool braces = (labels && *labels) || extra;

	metrics_format_double(v, num, sizeof(num));
	return buf_printf(b, "%s%s%s%s%s%s%s %s\n", name, suffix, braces ? "{" : "",
			  labels ? labels : "", (labels && *labels && extra) ? "," : "",
			  extra ? extra : "", braces ? "}" : "", num);
}

static int write_series(struct buf *b, const struct family *f, struct series *s)
{
	char le[96], num[64];
	uint64_t *counts = NULL, count, cum = 0;
	double sum;
	int rc = 0;

	if (f->type != MT_HISTOGRAM)
		return put_sample(b, f->name, "", s->labels, NULL,
				  bits_to_double(atomic_load(&s->bits)));
	counts = xmalloc((f->nbuckets ? f->nbuckets : 1) * sizeof(uint64_t));
	pthread_mutex_lock(&s->mu);
	memcpy(counts, s->counts, f->nbuckets * sizeof(uint64_t));
	count = s->count;
	sum = s->sum;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < f->nbuckets && rc == 0; i++) {
		cum += counts[i];
		metrics_format_double(f->buckets[i], num, sizeof(num));
		snprintf(le, sizeof(le), "le=\"%s\"", num);
		rc = put_sample(b, f->name, "_bucket", s->labels, le, (double)cum);
	}
	if (rc == 0)
		rc = put_sample(b, f->name, "_bucket", s->labels, "le=\"+Inf\"", (double)count);
	if (rc == 0)
		rc = put_sample(b, f->name, "_sum", s->labels, NULL, sum);
	if (rc == 0)
		rc = put_sample(b, f->name, "_count", s->labels, NULL, (double)count);
	free(counts);
	return rc;
}

int metrics_add_collector(struct metrics_registry *r, metrics_collect_fn fn, void *arg)
{
	int rc = 0;

	if (!r)
		r = metrics_default();
	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&r->mu);
	if (r->ncollectors >= MAX_COLLECTORS)
		rc = -ENOSPC;
	else
		r->collectors[r->ncollectors++] = (struct collector){ fn, arg };
	pthread_mutex_unlock(&r->mu);
	return rc;
}

void metrics_counter_set_total(struct metrics_counter *c, double v)
{
	struct series *s = (struct series *)c;
	uint64_t old, upd = double_to_bits(v);

	if (!c || !(v >= 0))
		return;
	old = atomic_load(&s->bits);
	do {
		if (!(v > bits_to_double(old)))
			return;   /* never backwards */
	} while (!atomic_compare_exchange_weak(&s->bits, &old, upd));
}

int metrics_write(struct metrics_registry *r, struct buf *out)
{
	struct family **fams = NULL;
	struct collector cs[MAX_COLLECTORS];
	size_t nc;
	int rc = 0;

	if (!r)
		r = metrics_default();
	/* collectors refresh their series first, without the registry lock
	 * (they call *_get_in and the update functions) */
	pthread_mutex_lock(&r->mu);
	nc = r->ncollectors;
	memcpy(cs, r->collectors, nc * sizeof(cs[0]));
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < nc; i++)
		cs[i].fn(r, cs[i].arg);
	pthread_mutex_lock(&r->mu);
	if (r->nfams == 0)
		goto out;
	fams = xmalloc(r->nfams * sizeof(*fams));
	memcpy(fams, r->fams, r->nfams * sizeof(*fams));
	qsort(fams, r->nfams, sizeof(*fams), cmp_family);
	for (size_t i = 0; i < r->nfams && rc == 0; i++) {
		struct family *f = fams[i];
		struct series **ss;

		if (f->nseries == 0)
			continue;
		rc = buf_printf(out, "# HELP %s ", f->name);
		if (rc == 0)
			rc = put_escaped(out, f->help, false);
		if (rc == 0)
			rc = buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
		ss = xmalloc(f->nseries * sizeof(*ss));
		memcpy(ss, f->series, f->nseries * sizeof(*ss));
		qsort(ss, f->nseries, sizeof(*ss), cmp_series);
		for (size_t j = 0; j < f->nseries && rc == 0; j++)
			rc = write_series(out, f, ss[j]);
		free(ss);
	}
out:
	pthread_mutex_unlock(&r->mu);
	free(fams);
	return rc;
}

int metrics_render(struct metrics_registry *r, char **out)
{
	struct buf b;
	int rc;

	buf_init(&b, BUF_DEFAULT_MAX);
	rc = metrics_write(r, &b);
	if (rc < 0) {
		buf_cleanup(&b);
		*out = NULL;
		return rc;
	}
	*out = buf_take(&b, NULL);
	return 0;
}
