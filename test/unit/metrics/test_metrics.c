/* Metrics registry and the Prometheus text format, parsed back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics/metrics.h"
#include "util/mem.h"

/* ---- a small parser of the 0.0.4 text format ---- */

struct sample {
	char name[128];
	char labels[8][2][128];   /* unescaped key, value */
	int nlabels;
	double value;
};

struct parsed {
	struct sample s[256];
	int n;
	char help[32][2][256];    /* name, unescaped help */
	int nhelp;
	char type[32][2][64];     /* name, type */
	int ntype;
};

static void unescape(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (in[i] == '\\' && i + 1 < n) {
			i++;
			out[o++] = in[i] == 'n' ? '\n' : in[i];
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
}

/* Parses text into p; fails the test on any malformed line. */
static void parse_text(const char *text, struct parsed *p)
{
	const char *line = text;

	memset(p, 0, sizeof(*p));
	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t len;

		assert_non_null(eol);   /* every line ends with \n */
		len = (size_t)(eol - line);
		if (strncmp(line, "# HELP ", 7) == 0) {
			const char *sp = memchr(line + 7, ' ', len - 7);

			assert_non_null(sp);
			snprintf(p->help[p->nhelp][0], 256, "%.*s", (int)(sp - line - 7), line + 7);
			unescape(sp + 1, (size_t)(eol - sp - 1), p->help[p->nhelp][1], 256);
			p->nhelp++;
		} else if (strncmp(line, "# TYPE ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%63s %63s", p->type[p->ntype][0],
						p->type[p->ntype][1]), 2);
			p->ntype++;
		} else {
			struct sample *s = &p->s[p->n++];
			const char *c = line;
			char *end;

			while (c < eol && *c != '{' && *c != ' ')
				c++;
			snprintf(s->name, sizeof(s->name), "%.*s", (int)(c - line), line);
			if (*c == '{') {
				c++;
				while (*c != '}') {
					const char *eq = strchr(c, '=');
					const char *v;

					assert_non_null(eq);
					assert_true(eq < eol);
					snprintf(s->labels[s->nlabels][0], 128, "%.*s", (int)(eq - c), c);
					assert_int_equal(eq[1], '"');
					v = eq + 2;
					c = v;
					while (*c != '"') {
						if (*c == '\\')
							c++;
						c++;
						assert_true(c < eol);
					}
					unescape(v, (size_t)(c - v), s->labels[s->nlabels][1], 128);
					s->nlabels++;
					c++;
					if (*c == ',')
						c++;
				}
				c++;
			}
			assert_int_equal(*c, ' ');
			s->value = strtod(c + 1, &end);
			assert_ptr_equal(end, eol);
		}
		line = eol + 1;
	}
}

static const struct sample *find(const struct parsed *p, const char *name, const char *k1,
				 const char *v1)
{
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->s[i].name, name) != 0)
			continue;
		if (!k1)
			return &p->s[i];
		for (int j = 0; j < p->s[i].nlabels; j++)
			if (strcmp(p->s[i].labels[j][0], k1) == 0 && strcmp(p->s[i].labels[j][1], v1) == 0)
				return &p->s[i];
	}
	return NULL;
}

static const char *type_of(const struct parsed *p, const char *name)
{
	for (int i = 0; i < p->ntype; i++)
		if (strcmp(p->type[i][0], name) == 0)
			return p->type[i][1];
	return NULL;
}

static char *render(struct metrics_registry *r)
{
	char *out = NULL;

	assert_int_equal(metrics_render(r, &out), 0);
	return out;
}

static time_t main_began;   /* set first thing in main() */

/* ---- tests ---- */

static void test_counter_and_labels(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *keys[] = { "cluster", "reason" };
	struct metrics_counter *a = metrics_counter_get_in(r, "modelcache_hydrations_skipped_total",
		"Hydrations skipped.", 2, keys, (const char *[]){ "west", "vram_insufficient" });
	struct metrics_counter *b = metrics_counter_get_in(r, "modelcache_hydrations_skipped_total",
		"Hydrations skipped.", 2, keys, (const char *[]){ "east", "vram_insufficient" });
	struct metrics_counter *a2 = metrics_counter_get_in(r, "modelcache_hydrations_skipped_total",
		"Hydrations skipped.", 2, keys, (const char *[]){ "west", "vram_insufficient" });
	struct parsed *p = xcalloc(1, sizeof(*p));
	const struct sample *s;
	char *text;

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_equal(a, a2);
	assert_ptr_not_equal(a, b);
	metrics_counter_inc(a);
	metrics_counter_inc(a2);
	metrics_counter_add(b, 2.5);
	metrics_counter_add(b, -1);      /* ignored: counters never go down */
	metrics_counter_add(b, NAN);     /* ignored */
	assert_true(metrics_counter_value(a) == 2.0);
	assert_true(metrics_counter_value(b) == 2.5);

	text = render(r);
	parse_text(text, p);
	assert_int_equal(p->ntype, 1);
	assert_string_equal(type_of(p, "modelcache_hydrations_skipped_total"), "counter");
	assert_string_equal(p->help[0][1], "Hydrations skipped.");
	assert_int_equal(p->n, 2);
	s = find(p, "modelcache_hydrations_skipped_total", "cluster", "west");
	assert_non_null(s);
	assert_true(s->value == 2.0);
	assert_int_equal(s->nlabels, 2);
	assert_string_equal(s->labels[1][0], "reason");
	assert_string_equal(s->labels[1][1], "vram_insufficient");
	s = find(p, "modelcache_hydrations_skipped_total", "cluster", "east");
	assert_true(s->value == 2.5);
	/* series sorted by label values: east before west */
	assert_true(strstr(text, "cluster=\"east\"") < strstr(text, "cluster=\"west\""));
	/* HELP and TYPE come before the samples */
	assert_true(strstr(text, "# HELP") == text);
	free(text);
	free(p);
	metrics_registry_free(r);
}

static void test_gauge_and_unlabelled(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_gauge *g = metrics_gauge_get_in(r, "workqueue_depth", "Depth.", 0, NULL, NULL);
	struct parsed *p = xcalloc(1, sizeof(*p));
	char *text;

	metrics_gauge_set(g, 10);
	metrics_gauge_inc(g);
	metrics_gauge_dec(g);
	metrics_gauge_dec(g);
	metrics_gauge_add(g, -0.5);
	assert_true(metrics_gauge_value(g) == 8.5);
	text = render(r);
	assert_string_equal(text, "# HELP workqueue_depth Depth.\n# TYPE workqueue_depth gauge\nworkqueue_depth 8.5\n");
	parse_text(text, p);
	assert_true(find(p, "workqueue_depth", NULL, NULL)->value == 8.5);
	free(text);
	free(p);
	metrics_registry_free(r);
}

static void test_escaping(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *k[] = { "path" };
	struct metrics_counter *c = metrics_counter_get_in(r, "odd_total", "Help with \\ and\nnewline \"q\".",
		1, k, (const char *[]){ "a\"b\\c\nd" });
	struct parsed *p = xcalloc(1, sizeof(*p));
	char *text;

	metrics_counter_inc(c);
	text = render(r);
	/* help: backslash and newline escaped, quotes kept */
	assert_non_null(strstr(text, "# HELP odd_total Help with \\\\ and\\nnewline \"q\".\n"));
	/* label value: quote, backslash and newline escaped */
	assert_non_null(strstr(text, "odd_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"));
	parse_text(text, p);
	assert_string_equal(p->help[0][1], "Help with \\ and\nnewline \"q\".");
	assert_string_equal(p->s[0].labels[0][1], "a\"b\\c\nd");
	free(text);
	free(p);
	metrics_registry_free(r);
}

static void test_histogram(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const double b[] = { 0.1, 1, 10 };
	const char *k[] = { "controller" };
	struct metrics_histogram *h = metrics_histogram_get_in(r, "reconcile_seconds", "Reconcile time.",
		3, b, 1, k, (const char *[]){ "modelcache" });
	struct parsed *p = xcalloc(1, sizeof(*p));
	double obs[] = { 0.05, 0.1, 0.5, 2, 20, 30 };
	double sum = 0;
	uint64_t count;
	char *text;
	struct { const char *le; double want; } want[] = {
		{ "0.1", 2 }, { "1", 3 }, { "10", 4 }, { "+Inf", 6 },
	};

	for (size_t i = 0; i < 6; i++) {
		metrics_histogram_observe(h, obs[i]);
		sum += obs[i];
	}
	metrics_histogram_observe(h, NAN);   /* ignored */
	metrics_histogram_read(h, &count, NULL);
	assert_int_equal(count, 6);
	text = render(r);
	parse_text(text, p);
	assert_string_equal(type_of(p, "reconcile_seconds"), "histogram");
	assert_int_equal(p->n, 6);   /* 4 buckets + sum + count */
	for (size_t i = 0; i < 4; i++) {
		const struct sample *s = find(p, "reconcile_seconds_bucket", "le", want[i].le);

		assert_non_null(s);
		assert_true(s->value == want[i].want);
		assert_string_equal(s->labels[0][0], "controller");   /* le comes last */
		assert_string_equal(s->labels[1][0], "le");
	}
	assert_true(fabs(find(p, "reconcile_seconds_sum", NULL, NULL)->value - sum) < 1e-9);
	assert_true(find(p, "reconcile_seconds_count", NULL, NULL)->value == 6);
	free(text);

	/* default buckets */
	h = metrics_histogram_get_in(r, "other_seconds", "x", 0, NULL, 0, NULL, NULL);
	metrics_histogram_observe(h, 0.3);
	text = render(r);
	assert_non_null(strstr(text, "other_seconds_bucket{le=\"0.25\"} 0\n"));
	assert_non_null(strstr(text, "other_seconds_bucket{le=\"0.5\"} 1\n"));
	assert_non_null(strstr(text, "other_seconds_bucket{le=\"0.005\"} 0\n"));
	assert_non_null(strstr(text, "other_seconds_count 1\n"));
	/* families sorted by name */
	assert_true(strstr(text, "# TYPE other_seconds") < strstr(text, "# TYPE reconcile_seconds"));
	free(text);
	free(p);
	metrics_registry_free(r);
}

static void test_misuse_returns_null(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	const char *k1[] = { "a" }, *k2[] = { "b" }, *v[] = { "x" };
	const double bad[] = { 1, 1 };
	char *text;

	assert_non_null(metrics_counter_get_in(r, "m_total", "h", 1, k1, v));
	/* other type, other labels for an existing name */
	assert_null(metrics_gauge_get_in(r, "m_total", "h", 1, k1, v));
	assert_null(metrics_counter_get_in(r, "m_total", "h", 1, k2, v));
	assert_null(metrics_counter_get_in(r, "m_total", "h", 0, NULL, NULL));
	/* bad names */
	assert_null(metrics_counter_get_in(r, "1bad", "h", 0, NULL, NULL));
	assert_null(metrics_counter_get_in(r, "bad-name", "h", 0, NULL, NULL));
	assert_null(metrics_counter_get_in(r, "ok", "h", 1, (const char *[]){ "__reserved" }, v));
	assert_null(metrics_counter_get_in(r, "ok", "h", 1, (const char *[]){ "a:b" }, v));
	assert_null(metrics_histogram_get_in(r, "hh", "h", 0, NULL, 1, (const char *[]){ "le" }, v));
	assert_null(metrics_histogram_get_in(r, "hh", "h", 2, bad, 0, NULL, NULL));
	assert_non_null(metrics_counter_get_in(r, "ns:sub_total", "h", 0, NULL, NULL));
	/* NULL handles are harmless */
	metrics_counter_inc(NULL);
	metrics_gauge_set(NULL, 1);
	metrics_histogram_observe(NULL, 1);
	assert_true(metrics_counter_value(NULL) == 0);
	text = render(r);
	assert_null(strstr(text, "1bad"));
	assert_null(strstr(text, "hh"));
	free(text);
	metrics_registry_free(r);
}

static void test_number_format(void **state)
{
	char b[64];
	struct { double v; const char *s; } cases[] = {
		{ 0, "0" }, { 3, "3" }, { -2, "-2" }, { 0.25, "0.25" }, { 0.1, "0.1" },
		{ 1e21, "1e+21" }, { 10, "10" }, { 1e20, "100000000000000000000" }, { 1e-5, "1e-05" }, { 0.0001, "0.0001" }, { 1.5e-7, "1.5e-07" }, { 2.5e22, "2.5e+22" }, { 123456789, "123456789" }, { 1.0 / 3, "0.3333333333333333" },
		{ INFINITY, "+Inf" }, { -INFINITY, "-Inf" }, { NAN, "NaN" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		metrics_format_double(cases[i].v, b, sizeof(b));
		assert_string_equal(b, cases[i].s);
	}
}

static void test_buffer_cap(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct buf b;

	metrics_counter_inc(metrics_counter_get_in(r, "a_total", "a long help text", 0, NULL, NULL));
	buf_init(&b, 10);
	assert_int_equal(metrics_write(r, &b), -E2BIG);
	buf_cleanup(&b);
	metrics_registry_free(r);
}

static void *hammer(void *arg)
{
	struct metrics_registry *r = arg;
	const char *k[] = { "w" };

	for (int i = 0; i < 20000; i++) {
		/* lookups and updates race with each other and with scrapes */
		metrics_counter_inc(metrics_counter_get_in(r, "race_total", "h", 1, k,
			(const char *[]){ i % 2 ? "odd" : "even" }));
		metrics_histogram_observe(metrics_histogram_get_in(r, "race_seconds", "h", 0, NULL,
			0, NULL, NULL), 0.01);
		if (i % 5000 == 0) {
			char *t = render(r);

			free(t);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	pthread_t t[4];
	const char *k[] = { "w" };
	uint64_t count;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, r), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_true(metrics_counter_value(metrics_counter_get_in(r, "race_total", "h", 1, k,
		(const char *[]){ "odd" })) == 40000);
	assert_true(metrics_counter_value(metrics_counter_get_in(r, "race_total", "h", 1, k,
		(const char *[]){ "even" })) == 40000);
	metrics_histogram_read(metrics_histogram_get_in(r, "race_seconds", "h", 0, NULL, 0, NULL, NULL),
			       &count, NULL);
	assert_int_equal(count, 80000);
	metrics_registry_free(r);
}

static void test_default_registry(void **state)
{
	struct metrics_counter *c = metrics_counter_get("test_default_total", "d", 0, NULL, NULL);
	char *text = NULL;

	assert_ptr_equal(metrics_default(), metrics_default());
	metrics_counter_inc(c);
	assert_int_equal(metrics_render(NULL, &text), 0);
	assert_non_null(strstr(text, "test_default_total 1\n"));
	free(text);
}

static void bump(struct metrics_registry *r, void *arg)
{
	int *calls = arg;

	(*calls)++;
	metrics_gauge_set(metrics_gauge_get_in(r, "collected", "Set by a collector.", 0, NULL, NULL), *calls * 10);
}

static void test_collectors(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct metrics_counter *c = metrics_counter_get_in(r, "ext_total", "h", 0, NULL, NULL);
	int calls = 0;
	char *text;

	assert_int_equal(metrics_add_collector(r, bump, &calls), 0);
	assert_int_equal(metrics_add_collector(r, NULL, NULL), -EINVAL);
	text = render(r);
	assert_int_equal(calls, 1);
	assert_non_null(strstr(text, "collected 10\n"));
	free(text);
	text = render(r);
	assert_int_equal(calls, 2);
	assert_non_null(strstr(text, "collected 20\n"));
	free(text);

	metrics_counter_set_total(c, 5);
	assert_true(metrics_counter_value(c) == 5);
	metrics_counter_set_total(c, 3);     /* never backwards */
	assert_true(metrics_counter_value(c) == 5);
	metrics_counter_set_total(c, 7.5);
	assert_true(metrics_counter_value(c) == 7.5);
	metrics_registry_free(r);
}

/* One scrape of r parsed into p (p is overwritten). */
static double scrape(struct metrics_registry *r, struct parsed *p, const char *name)
{
	char *text = render(r);
	const struct sample *s;

	parse_text(text, p);
	free(text);
	s = find(p, name, NULL, NULL);
	if (!s)
		fail_msg("no sample %s", name);
	return s->value;
}

/* user + system CPU seconds (or only system when sys_only) */
static double rusage_cpu(bool sys_only)
{
	struct rusage ru;
	double sys;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	return sys_only ? sys : sys + (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

/* Open descriptors counted another way than the collector: by probing. */
static double probe_open_fds(void)
{
	struct rlimit rl;
	double n = 0;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	for (int fd = 0; fd < (int)rl.rlim_cur && fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

/* Threads counted another way: the entries of /proc/self/task. */
static double task_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	double n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

struct parked {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool release;
};

static void *park(void *arg)
{
	struct parked *pk = arg;

	pthread_mutex_lock(&pk->mu);
	while (!pk->release)
		pthread_cond_wait(&pk->cv, &pk->mu);
	pthread_mutex_unlock(&pk->mu);
	return NULL;
}

/* Every process metric moves by exactly what the test did to the process. */
static void test_process_collector(void **state)
{
	struct metrics_registry *r = metrics_registry_new();
	struct parsed *p = xcalloc(1, sizeof(*p));
	struct parked pk = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
	const size_t big = 64u << 20;
	struct rlimit saved, lowered;
	pthread_t t[3];
	int fds[5];
	double v0, v1, before, after, start;
	volatile unsigned long spin = 0;
	unsigned char *m;
	long tick = sysconf(_SC_CLK_TCK);

	assert_int_equal(metrics_register_process_collector(r), 0);
	/* open fds: five more descriptors are exactly five more, and gone again */
	v0 = scrape(r, p, "process_open_fds");
	assert_true(v0 == probe_open_fds());
	assert_string_equal(type_of(p, "process_cpu_seconds_total"), "counter");
	assert_string_equal(type_of(p, "process_resident_memory_bytes"), "gauge");
	for (int i = 0; i < 5; i++)
		assert_true((fds[i] = dup(2)) >= 0);
	assert_true(scrape(r, p, "process_open_fds") == v0 + 5);
	for (int i = 0; i < 5; i++)
		close(fds[i]);
	assert_true(scrape(r, p, "process_open_fds") == v0);

	/* max fds: the soft RLIMIT_NOFILE, lowered to a known value */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	lowered = saved;
	lowered.rlim_cur = saved.rlim_max != RLIM_INFINITY && saved.rlim_max < 1000 ? saved.rlim_max : 1000;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &lowered), 0);
	assert_true(scrape(r, p, "process_max_fds") == (double)lowered.rlim_cur);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

	/* threads: three parked threads are exactly three more */
	/* a joined thread leaves the thread group a moment after pthread_join
	 * returns (earlier tests joined some): wait until the counts settle */
	for (int i = 0; i < 500 && scrape(r, p, "process_threads") != task_count(); i++)
		usleep(10000);
	v0 = scrape(r, p, "process_threads");
	assert_true(v0 == task_count());
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, park, &pk), 0);
	assert_true(scrape(r, p, "process_threads") == v0 + 3);
	pthread_mutex_lock(&pk.mu);
	pk.release = true;
	pthread_cond_broadcast(&pk.cv);
	pthread_mutex_unlock(&pk.mu);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 500 && scrape(r, p, "process_threads") != v0; i++)
		usleep(10000);
	assert_true(scrape(r, p, "process_threads") == v0);

	/* resident and virtual memory: 64 MiB mapped and touched, then unmapped */
	v0 = scrape(r, p, "process_resident_memory_bytes");
	before = find(p, "process_virtual_memory_bytes", NULL, NULL)->value;
	m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(m != MAP_FAILED);
	memset(m, 1, big);
	v1 = scrape(r, p, "process_resident_memory_bytes");
	after = find(p, "process_virtual_memory_bytes", NULL, NULL)->value;
	/* exactly 64 MiB more, give or take what malloc trims or grows meanwhile */
	if (fabs(v1 - v0 - (double)big) > (double)(1 << 20))
		fail_msg("resident grew by %.0f bytes, want %zu +- 1 MiB", v1 - v0, big);
	if (fabs(after - before - (double)big) > (double)(1 << 20))
		fail_msg("virtual grew by %.0f bytes, want %zu +- 1 MiB", after - before, big);
	assert_true(after >= v1);
	assert_int_equal(munmap(m, big), 0);
	assert_true(scrape(r, p, "process_resident_memory_bytes") <= v1 - (double)big + (1 << 20));

	/* cpu: the kernel's utime+stime in ticks, between getrusage before and
	 * after the scrape (each of utime and stime truncated to a tick) */
	while (rusage_cpu(false) - rusage_cpu(true) < 0.2)
		for (int i = 0; i < 1000000; i++)
			spin++;
	while (rusage_cpu(true) < 0.2)
		for (int i = 0; i < 10000; i++)
			(void)getppid();   /* a system call: system time */
	before = rusage_cpu(false);
	v1 = scrape(r, p, "process_cpu_seconds_total");
	after = rusage_cpu(false);
	assert_true(v1 >= before - 2.0 / (double)tick && v1 <= after);

	/* start time: fixed, and just before main() ran (btime has 1 s resolution) */
	start = scrape(r, p, "process_start_time_seconds");
	assert_true(scrape(r, p, "process_start_time_seconds") == start);
	assert_true(start <= (double)main_began + 1 && start > (double)main_began - 300);
	free(p);
	metrics_registry_free(r);
}

int main(void)
{
	main_began = time(NULL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_and_labels),
		cmocka_unit_test(test_gauge_and_unlabelled),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_misuse_returns_null),
		cmocka_unit_test(test_number_format),
		cmocka_unit_test(test_buffer_cap),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_default_registry),
		cmocka_unit_test(test_collectors),
		cmocka_unit_test(test_process_collector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
