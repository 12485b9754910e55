/* Process metrics from /proc/self (see metrics_register_process_collector). */
#include "metrics/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Read a small /proc file into b (NUL-terminated). 0 or -errno. */
static int read_proc(const char *path, char *b, size_t n)
{
	FILE *f = fopen(path, "r");
	size_t got;

	if (!f)
		return -errno;
	got = fread(b, 1, n - 1, f);
	b[got] = 0;
	fclose(f);
	return 0;
}

static double boot_time(void)
{
	char b[16384];
	const char *p;

	if (read_proc("/proc/stat", b, sizeof(b)) < 0 || !(p = strstr(b, "\nbtime ")))
		return 0;
	return strtod(p + 7, NULL);
}

static void collect(struct metrics_registry *r, void *arg)
{
	char b[4096];
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	DIR *d;

	(void)arg;
	if (read_proc("/proc/self/stat", b, sizeof(b)) == 0) {
		/* fields after the ")" that ends comm: state(3) ... utime(14) stime(15)
		 * num_threads(20) starttime(22) vsize(23) rss(24) */
		const char *p = strrchr(b, ')');
		unsigned long long v[24] = { 0 };
		int i = 3;

		for (p = p ? p + 2 : b; *p && i < 25; i++) {
			while (*p == ' ')
				p++;
			if (i >= 4 && i - 1 < 24)
				v[i - 1] = strtoull(p, NULL, 10);
			while (*p && *p != ' ')
				p++;
		}
		if (tick > 0) {
			metrics_counter_set_total(metrics_counter_get_in(r, "process_cpu_seconds_total",
				"Total user and system CPU time spent in seconds.", 0, NULL, NULL),
				(double)(v[13] + v[14]) / (double)tick);
			metrics_gauge_set(metrics_gauge_get_in(r, "process_start_time_seconds",
				"Start time of the process since unix epoch in seconds.", 0, NULL, NULL),
				boot_time() + (double)v[21] / (double)tick);
		}
		metrics_gauge_set(metrics_gauge_get_in(r, "process_threads", "Number of OS threads in the process.",
			0, NULL, NULL), (double)v[19]);
		metrics_gauge_set(metrics_gauge_get_in(r, "process_virtual_memory_bytes",
			"Virtual memory size in bytes.", 0, NULL, NULL), (double)v[22]);
		metrics_gauge_set(metrics_gauge_get_in(r, "process_resident_memory_bytes",
			"Resident memory size in bytes.", 0, NULL, NULL), (double)v[23] * (double)page);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;
		long n = 0;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				n++;
		closedir(d);
		metrics_gauge_set(metrics_gauge_get_in(r, "process_open_fds", "Number of open file descriptors.",
			0, NULL, NULL), (double)(n > 0 ? n - 1 : 0));   /* minus the one opendir holds */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		metrics_gauge_set(metrics_gauge_get_in(r, "process_max_fds",
			"Maximum number of open file descriptors.", 0, NULL, NULL),
			rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur);
}

int metrics_register_process_collector(struct metrics_registry *r)
{
	return metrics_add_collector(r, collect, NULL);
}
