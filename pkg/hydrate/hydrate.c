/* `modelcache-operator hydrate`: download a Hugging Face repository into a
 * directory, resumable and verified, marker written last.
 *
 * 1. Resolve the revision to a commit and list the files (model info with
 *    blobs; the tree API when the info lacks sizes/hashes); refuse unsafe
 *    paths; apply --include/--exclude (pkg/hub/filter.h).
 * 2. A marker whose manifest matches (repo, commit, every path/size/hash) and
 *    files of the right sizes: "already hydrated", exit 0, nothing fetched.
 *    Otherwise the stale marker is removed before anything changes, and the
 *    files it listed that the new listing does not are deleted.
 * 3. A pool of --parallel threads downloads each missing file into
 *    PATH.incomplete, resuming from its size with Range, hashing while
 *    streaming (sha256 for LFS files, git blob sha1 otherwise), then checks
 *    size and hash, fsyncs and renames it into place. Files already in place
 *    are re-hashed, not re-fetched.
 * 4. The marker goes last: temp file + fsync + rename + fsync of the dir.
 * Exit codes: 0 ok, 2 usage, 3 auth, 4 not found, 5 integrity, 1 other. On
 * failure one line goes to stderr and to the termination log when writable.
 * The token (from --token-file or $HF_TOKEN) is never printed. */
#include "hydrate/hydrate.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hub/filter.h"
#include "hub/hub.h"
#include "hydrate/fsutil.h"
#include "hydrate/marker.h"
#include "util/digest.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

#define TOKEN_MAX 4096
#define MAX_PATTERNS 256
#define MAX_PARALLEL 64

struct opts {
	const char *repo;
	const char *revision;
	const char *dest;
	const char *include[MAX_PATTERNS];
	size_t ninclude;
	const char *exclude[MAX_PATTERNS];
	size_t nexclude;
	const char *endpoint;
	const char *token_file;
	const char *termination_log;
	unsigned parallel;
	unsigned retries;
	unsigned retry_base_ms;
	unsigned progress_s;
};

struct run {
	const struct opts *o;
	struct hub_client *hub;
	const char *token;            /* borrowed, only for redaction */
	int destfd;
	struct hydrate_manifest man;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next;                  /* next file index to take */
	bool failed;
	bool finished;
	int exit_code;
	char errmsg[512];
	atomic_bool abort;
	atomic_uint_fast64_t fetched; /* bytes received this run */
	atomic_uint_fast64_t verified_local; /* bytes found in place */
	atomic_uint files_done;
	uint64_t to_fetch;            /* estimate for the ETA */
	uint64_t start_ms;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fail(struct run *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct run *r, int code, const char *fmt, ...)
{
	pthread_mutex_lock(&r->mu);
	if (!r->failed) {
		r->failed = true;
		r->exit_code = code;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
		va_end(ap);
	}
	atomic_store(&r->abort, true);
	pthread_mutex_unlock(&r->mu);
}

/* ------------------------------------------------------------------ one file */

struct sink {
	struct run *r;
	int fd;
	struct digest *d;
	uint64_t have;
	uint64_t size;
	uint64_t flushed;   /* bytes handed to writeback so far */
	bool too_long;
	int werr;
};

/* Start writeback every WRITEBACK_STEP bytes so the fsync at the end of the
 * file finds little left to do: disk writes overlap the download. */
#define WRITEBACK_STEP (32u << 20)

static int sink_write(void *ud, const void *p, size_t n)
{
	struct sink *s = ud;
	if (atomic_load(&s->r->abort))
		return 1;
	if (s->have + n > s->size) {
		s->too_long = true;
		return 1;
	}
	int e = hydrate_write_all(s->fd, p, n);
	if (e < 0) {
		s->werr = e;
		return 1;
	}
	digest_update(s->d, p, n);
	s->have += n;
	atomic_fetch_add(&s->r->fetched, n);
	if (s->have - s->flushed >= WRITEBACK_STEP) {
		(void)sync_file_range(s->fd, (off_t)s->flushed, (off_t)(s->have - s->flushed),
				      SYNC_FILE_RANGE_WRITE);
		s->flushed = s->have;
	}
	return 0;
}

static struct digest *new_digest(const struct hydrate_file *f)
{
	if (f->lfs)
		return digest_new(DIGEST_SHA256);
	struct digest *d = digest_new(DIGEST_SHA1);
	char hdr[48];
	int n = snprintf(hdr, sizeof(hdr), "blob %" PRId64, f->size);
	digest_update(d, hdr, (size_t)n + 1);   /* git blob header with its NUL */
	return d;
}

static const char *hash_name(const struct hydrate_file *f)
{
	return f->lfs ? "sha256" : "git sha1";
}

/* Is the file already in place with the right size and hash? 1 yes, 0 no
 * (and it is removed), <0 error. */
static int check_existing(struct run *r, int pfd, const char *base, const struct hydrate_file *f)
{
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if (st.st_size == f->size) {
		int fd;
		int e = hydrate_openat_nofollow(pfd, base, O_RDONLY, 0, &fd);
		if (e < 0)
			return e;
		struct digest *d = new_digest(f);
		char got[65];
		e = hydrate_hash_fd(fd, (uint64_t)f->size, d);
		digest_final_hex(d, got);
		digest_free(d);
		close(fd);
		if (e < 0)
			return e;
		if (strcmp(got, f->hash) == 0) {
			atomic_fetch_add(&r->verified_local, (uint64_t)f->size);
			return 1;
		}
	}
	if (unlinkat(pfd, base, 0) < 0)
		return -errno;
	return 0;
}

static void process_file(struct run *r, const struct hydrate_file *f)
{
	int pfd = -1, fd = -1, e;
	const char *base;
	char *inc = NULL;
	struct digest *d = NULL;
	char got[65];

	e = hydrate_open_parent(r->destfd, f->path, true, &pfd, &base);
	if (e < 0) {
		if (e == -ELOOP || e == -ENOTDIR)
			fail(r, 1, "refusing %s: it would leave %s through a symlink", f->path, r->o->dest);
		else
			fail(r, 1, "cannot create the folder of %s: %s", f->path, strerror(-e));
		goto out;
	}
	e = check_existing(r, pfd, base, f);
	if (e == 1) {
		atomic_fetch_add(&r->files_done, 1);
		goto out;
	}
	if (e < 0) {
		if (e == -ELOOP)
			fail(r, 1, "refusing %s: it would leave %s through a symlink", f->path, r->o->dest);
		else
			fail(r, 1, "cannot check %s: %s", f->path, strerror(-e));
		goto out;
	}
	inc = xasprintf("%s.incomplete", base);
	e = hydrate_openat_nofollow(pfd, inc, O_RDWR | O_CREAT, 0644, &fd);
	if (e < 0) {
		fail(r, 1, "cannot open %s.incomplete: %s", f->path, strerror(-e));
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fail(r, 1, "%s.incomplete is not a regular file", f->path);
		goto out;
	}
	uint64_t have = (uint64_t)st.st_size;
	/* A partial left by an earlier run may belong to another version of the
	 * file: when a resumed file fails verification it is fetched once more
	 * from byte 0 before the mismatch counts. */
	for (int pass = 0;; pass++) {
		if (have > (uint64_t)f->size || pass > 0) {
			if (ftruncate(fd, 0) < 0) {
				fail(r, 1, "cannot truncate %s.incomplete: %s", f->path, strerror(errno));
				goto out;
			}
			have = 0;
		}
		uint64_t resumed_from = have;
		digest_free(d);
		d = new_digest(f);
		if (have > 0 && (e = hydrate_hash_fd(fd, have, d)) < 0) {
			fail(r, 1, "cannot read %s.incomplete: %s", f->path, strerror(-e));
			goto out;
		}
		if (lseek(fd, (off_t)have, SEEK_SET) < 0) {
			fail(r, 1, "cannot seek %s.incomplete: %s", f->path, strerror(errno));
			goto out;
		}
		if (have > 0)
			LOG_INFO("resuming", "file=%s offset=%" PRIu64 " size=%" PRId64, f->path, have, f->size);
		if (have < (uint64_t)f->size) {
			struct sink s = {.r = r, .fd = fd, .d = d, .have = have, .flushed = have,
					 .size = (uint64_t)f->size};
			struct hub_error herr;
			e = hub_download(r->hub, r->o->repo, r->man.commit, f->path, have, sink_write, &s, NULL,
					 &herr);
			have = s.have;
			if (s.werr) {
				fail(r, 1, "cannot write %s.incomplete: %s", f->path, strerror(-s.werr));
				goto out;
			}
			if (e < 0 && !s.too_long) {
				if (!atomic_load(&r->abort))
					fail(r, hub_error_exit_code(&herr), "%s", herr.msg);
				goto out;
			}
			if (s.too_long) {
				unlinkat(pfd, inc, 0);
				fail(r, 5, "integrity: %s is larger than the %" PRId64 " bytes listed", f->path,
				     f->size);
				goto out;
			}
		}
		if (have != (uint64_t)f->size) {
			unlinkat(pfd, inc, 0);
			fail(r, 5, "integrity: %s has %" PRIu64 " bytes, %" PRId64 " listed", f->path, have,
			     f->size);
			goto out;
		}
		digest_final_hex(d, got);
		if (strcmp(got, f->hash) == 0)
			break;
		if (resumed_from > 0 && pass == 0) {
			LOG_WARN("resumed file failed verification, fetching it again", "file=%s resumed_from=%" PRIu64,
				 f->path, resumed_from);
			continue;
		}
		unlinkat(pfd, inc, 0);
		fail(r, 5, "integrity: %s mismatch for %s: expected %s, got %s", hash_name(f), f->path, f->hash,
		     got);
		goto out;
	}
	if (fsync(fd) < 0) {
		fail(r, 1, "fsync %s: %s", f->path, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (renameat(pfd, inc, pfd, base) < 0) {
		fail(r, 1, "rename %s into place: %s", f->path, strerror(errno));
		goto out;
	}
	if ((e = hydrate_fsync_dir(pfd)) < 0) {
		fail(r, 1, "fsync the folder of %s: %s", f->path, strerror(-e));
		goto out;
	}
	atomic_fetch_add(&r->files_done, 1);
out:
	digest_free(d);
	if (fd >= 0)
		close(fd);
	if (pfd >= 0)
		close(pfd);
	free(inc);
}

static void *worker(void *arg)
{
	struct run *r = arg;
	for (;;) {
		pthread_mutex_lock(&r->mu);
		size_t i = r->next < r->man.nfiles && !r->failed ? r->next++ : r->man.nfiles;
		pthread_mutex_unlock(&r->mu);
		if (i >= r->man.nfiles)
			break;
		process_file(r, &r->man.files[i]);
	}
	return NULL;
}

static void human(uint64_t b, char *out, size_t n)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, "%.1f %s", v, u[i]);
}

static void print_progress(struct run *r)
{
	uint64_t got = atomic_load(&r->fetched);
	uint64_t el = now_ms() - r->start_ms;
	double rate = el ? (double)got / ((double)el / 1000.0) : 0;
	char a[32], b[32];
	human(got, a, sizeof(a));
	human(r->to_fetch, b, sizeof(b));
	char eta[32] = "?";
	if (rate > 0 && r->to_fetch >= got)
		snprintf(eta, sizeof(eta), "%.0fs", (double)(r->to_fetch - got) / rate);
	fprintf(stderr, "hydrate: progress files=%u/%zu fetched=%s/%s rate=%.1fMB/s eta=%s\n",
		atomic_load(&r->files_done), r->man.nfiles, a, b, rate / 1e6, eta);
}

static void *progress(void *arg)
{
	struct run *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->finished) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += r->o->progress_s;
		pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (r->finished)
			break;
		pthread_mutex_unlock(&r->mu);
		print_progress(r);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ------------------------------------------------------------------ listing */

static int add_file(struct hydrate_manifest *m, size_t *cap, const char *path, int64_t size,
		    const char *sha256, const char *blob)
{
	const char *h = sha256 && *sha256 ? sha256 : blob;
	if (!h || strlen(h) >= 65 || size < 0)
		return -EINVAL;
	if (m->nfiles == *cap) {
		*cap = *cap ? *cap * 2 : 32;
		m->files = xrealloc(m->files, *cap * sizeof(*m->files));
	}
	struct hydrate_file *f = &m->files[m->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = xstrdup(path);
	f->size = size;
	f->lfs = sha256 && *sha256;
	memcpy(f->hash, h, strlen(h) + 1);
	return 0;
}

static bool jint(json_object *o, const char *k, int64_t *out)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* Every listed path is checked (selected or not): a hostile listing is
 * refused as a whole. Returns 0, or fills the run's error. */
static int check_paths(struct run *r, json_object *entries, const char *key)
{
	for (size_t i = 0; i < json_object_array_length(entries); i++) {
		json_object *e = json_object_array_get_idx(entries, i);
		const char *p = jpath_child_str(e, key);
		const char *type = jpath_child_str(e, "type");
		if (type && strcmp(type, "file") != 0)
			continue;
		if (!p) {
			fail(r, 1, "listing of %s has an entry without a path", r->o->repo);
			return -1;
		}
		if (!hydrate_path_ok(p)) {
			fail(r, 1, "refusing unsafe path \"%.200s\" in the listing of %s", p, r->o->repo);
			return -1;
		}
	}
	return 0;
}

/* Build the manifest of selected files from the info's siblings, or from the
 * tree when the siblings lack sizes or hashes. */
static int list_files(struct run *r, json_object *info)
{
	const struct opts *o = r->o;
	json_object *sibs = NULL, *tree = NULL;
	size_t cap = 0;
	int ret = -1;
	bool complete = json_object_object_get_ex(info, "siblings", &sibs) &&
			json_object_is_type(sibs, json_type_array);
	for (size_t i = 0; complete && i < json_object_array_length(sibs); i++) {
		json_object *s = json_object_array_get_idx(sibs, i);
		int64_t sz;
		if (!jint(s, "size", &sz) || !jpath_child_str(s, "blobId"))
			complete = false;
	}
	if (complete) {
		if (check_paths(r, sibs, "rfilename") < 0)
			return -1;
		for (size_t i = 0; i < json_object_array_length(sibs); i++) {
			json_object *s = json_object_array_get_idx(sibs, i), *lfs = NULL;
			const char *p = jpath_child_str(s, "rfilename");
			if (!hub_filter_selects(o->include, o->ninclude, o->exclude, o->nexclude, p))
				continue;
			int64_t sz = 0;
			jint(s, "size", &sz);
			json_object_object_get_ex(s, "lfs", &lfs);
			if (add_file(&r->man, &cap, p, sz, jpath_child_str(lfs, "sha256"), jpath_child_str(s, "blobId")) < 0) {
				fail(r, 1, "listing of %s: no usable hash for %s", o->repo, p);
				return -1;
			}
		}
	} else {
		struct hub_error err;
		if (hub_tree(r->hub, o->repo, r->man.commit, true, &tree, &err) < 0) {
			fail(r, hub_error_exit_code(&err), "%s", err.msg);
			return -1;
		}
		if (check_paths(r, tree, "path") < 0)
			goto out;
		for (size_t i = 0; i < json_object_array_length(tree); i++) {
			json_object *e = json_object_array_get_idx(tree, i), *lfs = NULL;
			const char *type = jpath_child_str(e, "type"), *p = jpath_child_str(e, "path");
			if (!type || strcmp(type, "file") != 0)
				continue;
			if (!hub_filter_selects(o->include, o->ninclude, o->exclude, o->nexclude, p))
				continue;
			int64_t sz = -1;
			jint(e, "size", &sz);
			json_object_object_get_ex(e, "lfs", &lfs);
			if (add_file(&r->man, &cap, p, sz, jpath_child_str(lfs, "oid"), jpath_child_str(e, "oid")) < 0) {
				fail(r, 1, "listing of %s: no usable size/hash for %s", o->repo, p);
				goto out;
			}
		}
	}
	hydrate_manifest_sort(&r->man);
	ret = 0;
out:
	json_object_put(tree);
	return ret;
}

/* ------------------------------------------------------------------ main */

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: modelcache-operator hydrate --repo ORG/NAME --dest DIR [flags]\n"
		"\n"
		"Download a Hugging Face repository into DIR: resumable (PATH.incomplete + Range),\n"
		"verified (sha256 / git blob sha1), marker DIR/.modelcache-hydrated written last.\n"
		"\n"
		"Flags:\n"
		"  --repo ORG/NAME        repository (required)\n"
		"  --revision REV         branch, tag or commit (default main)\n"
		"  --dest DIR             target directory (required; created if missing)\n"
		"  --include GLOB         only files matching GLOB (repeatable; '*' also matches '/')\n"
		"  --exclude GLOB         skip files matching GLOB (repeatable; 'DIR/' = a whole folder)\n"
		"  --endpoint URL         Hub endpoint (default $HF_ENDPOINT, else https://huggingface.co)\n"
		"  --parallel N           concurrent downloads (default 8, max %d)\n"
		"  --token-file F         read the token from F (default: $HF_TOKEN)\n"
		"  --retries N            retries per request on 429/5xx/network errors (default 5)\n"
		"  --retry-base-ms MS     first retry delay (default 500; doubles, honours Retry-After)\n"
		"  --progress-interval S  seconds between progress lines on stderr (default 5)\n"
		"  --termination-log F    where the failure line goes too (default /dev/termination-log)\n"
		"\n"
		"Exit codes: 0 ok, 2 usage, 3 authentication/authorization, 4 repo/revision/file not\n"
		"found, 5 integrity (size or hash mismatch), 1 anything else after retries.\n",
		MAX_PARALLEL);
	return f == stdout ? 0 : 2;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{"repo", required_argument, NULL, 'r'},
		{"revision", required_argument, NULL, 'v'},
		{"dest", required_argument, NULL, 'd'},
		{"include", required_argument, NULL, 'i'},
		{"exclude", required_argument, NULL, 'x'},
		{"endpoint", required_argument, NULL, 'e'},
		{"parallel", required_argument, NULL, 'p'},
		{"token-file", required_argument, NULL, 't'},
		{"retries", required_argument, NULL, 'R'},
		{"retry-base-ms", required_argument, NULL, 'B'},
		{"progress-interval", required_argument, NULL, 'P'},
		{"termination-log", required_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->revision = "main";
	o->parallel = 8;
	o->retries = 5;
	o->retry_base_ms = 500;
	o->progress_s = 5;
	o->termination_log = "/dev/termination-log";
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->repo = optarg; break;
		case 'v': o->revision = optarg; break;
		case 'd': o->dest = optarg; break;
		case 'i':
			if (o->ninclude >= MAX_PATTERNS)
				return fprintf(stderr, "hydrate: too many --include\n"), -1;
			o->include[o->ninclude++] = optarg;
			break;
		case 'x':
			if (o->nexclude >= MAX_PATTERNS)
				return fprintf(stderr, "hydrate: too many --exclude\n"), -1;
			o->exclude[o->nexclude++] = optarg;
			break;
		case 'e': o->endpoint = optarg; break;
		case 'p':
			if (parse_uint(optarg, 1, MAX_PARALLEL, &o->parallel) < 0)
				return fprintf(stderr, "hydrate: --parallel must be 1..%d\n", MAX_PARALLEL), -1;
			break;
		case 't': o->token_file = optarg; break;
		case 'R':
			if (parse_uint(optarg, 0, 100, &o->retries) < 0)
				return fprintf(stderr, "hydrate: --retries must be 0..100\n"), -1;
			break;
		case 'B':
			if (parse_uint(optarg, 1, 600000, &o->retry_base_ms) < 0)
				return fprintf(stderr, "hydrate: bad --retry-base-ms\n"), -1;
			break;
		case 'P':
			if (parse_uint(optarg, 1, 3600, &o->progress_s) < 0)
				return fprintf(stderr, "hydrate: bad --progress-interval\n"), -1;
			break;
		case 'T': o->termination_log = optarg; break;
		case 'h': return 1;
		default:
			fprintf(stderr, "hydrate: unknown or incomplete flag %s\n", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc)
		return fprintf(stderr, "hydrate: unexpected argument %s\n", argv[optind]), -1;
	if (!o->repo || !*o->repo)
		return fprintf(stderr, "hydrate: --repo is required\n"), -1;
	if (!o->dest || !*o->dest)
		return fprintf(stderr, "hydrate: --dest is required\n"), -1;
	if (!*o->revision)
		return fprintf(stderr, "hydrate: --revision must not be empty\n"), -1;
	/* org/name or name: no '..', no leading '/', at most one '/' */
	const char *s1 = strchr(o->repo, '/');
	if (o->repo[0] == '/' || strstr(o->repo, "..") || (s1 && strchr(s1 + 1, '/')) || (s1 && !s1[1]))
		return fprintf(stderr, "hydrate: --repo must be ORG/NAME\n"), -1;
	return 0;
}

/* Trim surrounding white space; a token holding control characters (a
 * header injection) or longer than TOKEN_MAX is refused with -EINVAL. */
static char *clean_token(char *b, int *err)
{
	size_t n = strlen(b);
	while (n > 0 && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
		b[--n] = '\0';
	size_t skip = strspn(b, " \t\r\n");
	memmove(b, b + skip, n - skip + 1);
	n -= skip;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)b[i] < 0x20 || b[i] == 0x7f) {
			*err = EINVAL;
			free_secret(b);
			return NULL;
		}
	if (!n) {
		free(b);
		return NULL;
	}
	return b;
}

static char *read_token(const char *path, int *err)
{
	*err = 0;
	if (!path) {
		const char *t = getenv("HF_TOKEN");
		if (!t || !*t)
			return NULL;
		if (strlen(t) > TOKEN_MAX) {
			*err = E2BIG;
			return NULL;
		}
		return clean_token(xstrdup(t), err);
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	char *b = xcalloc(1, TOKEN_MAX + 2);
	size_t got = 0;
	for (;;) {
		ssize_t n = read(fd, b + got, TOKEN_MAX + 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got > TOKEN_MAX)
			break;
	}
	close(fd);
	if (got > TOKEN_MAX || memchr(b, '\0', got)) {
		*err = got > TOKEN_MAX ? E2BIG : EINVAL;
		free_secret(b);
		return NULL;
	}
	return clean_token(b, err);
}

static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*s = '/';
	}
	if (ret == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
		ret = -errno;
	free(p);
	return ret;
}

/* Remove any occurrence of the token from a message. */
static void redact(char *msg, const char *token)
{
	if (!token || strlen(token) < 4)
		return;
	size_t tl = strlen(token);
	char *p;
	while ((p = strstr(msg, token)) != NULL) {
		memcpy(p, "[redacted]", tl < 10 ? tl : 10);
		memmove(p + (tl < 10 ? tl : 10), p + tl, strlen(p + tl) + 1);
	}
}

static void report_failure(struct run *r)
{
	redact(r->errmsg, r->token);
	fprintf(stderr, "hydrate: error: %s\n", r->errmsg);
	int fd = open(r->o->termination_log, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		char *line = xasprintf("%s\n", r->errmsg);
		(void)hydrate_write_all(fd, line, strlen(line));
		free(line);
		close(fd);
	}
}

static bool in_manifest(const struct hydrate_manifest *m, const char *path)
{
	for (size_t i = 0; i < m->nfiles; i++)
		if (strcmp(m->files[i].path, path) == 0)
			return true;
	return false;
}

/* Files a previous hydration put here that the new manifest does not list
 * (another revision, narrower include patterns) are removed, so the folder
 * holds exactly what the marker will list. Only regular files reached
 * without symlinks are touched. */
static void remove_stale(struct run *r, const struct hydrate_manifest *old)
{
	for (size_t i = 0; i < old->nfiles; i++) {
		const char *p = old->files[i].path;
		int pfd;
		const char *base;
		struct stat st;
		if (!hydrate_path_ok(p) || in_manifest(&r->man, p))
			continue;
		if (hydrate_open_parent(r->destfd, p, false, &pfd, &base) < 0)
			continue;
		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    unlinkat(pfd, base, 0) == 0)
			LOG_INFO("removed a file of the previous hydration", "file=%s", p);
		close(pfd);
	}
}

/* Marker check: same manifest and every file present with its size. */
static bool already_hydrated(struct run *r, const struct hydrate_manifest *old)
{
	if (!old->repo || !hydrate_manifest_equal(old, &r->man))
		return false;
	for (size_t i = 0; i < r->man.nfiles; i++) {
		const struct hydrate_file *f = &r->man.files[i];
		int pfd;
		const char *base;
		struct stat st;
		if (hydrate_open_parent(r->destfd, f->path, false, &pfd, &base) < 0)
			return false;
		int e = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW);
		close(pfd);
		if (e < 0 || !S_ISREG(st.st_mode) || st.st_size != f->size)
			return false;
	}
	return true;
}

int hydrate_main(int argc, char **argv)
{
	struct opts o;
	struct run r;
	json_object *info = NULL;
	char *token = NULL;
	pthread_t threads[MAX_PARALLEL], prog;
	unsigned nthreads = 0;
	bool prog_started = false;
	int lockfd = -1;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc > 0)
		return usage(stdout);
	if (rc < 0) {
		usage(stderr);
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.destfd = -1;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	atomic_init(&r.abort, false);
	atomic_init(&r.fetched, 0);
	atomic_init(&r.verified_local, 0);
	atomic_init(&r.files_done, 0);
	r.start_ms = now_ms();

	int terr;
	token = read_token(o.token_file, &terr);
	if (terr) {
		if (o.token_file)
			fail(&r, 3, "cannot use --token-file %s: %s", o.token_file, strerror(terr));
		else
			fail(&r, 3, "cannot use $HF_TOKEN: %s", strerror(terr));
		goto done;
	}
	r.token = token;
	struct hub_opts hopts;
	hub_opts_default(&hopts);
	hopts.max_retries = o.retries;
	hopts.retry_base_ms = o.retry_base_ms;
	if (hub_client_new(o.endpoint, token, &hopts, &r.hub) < 0) {
		fail(&r, 2, "invalid endpoint %s", o.endpoint ? o.endpoint : getenv("HF_ENDPOINT"));
		goto done;
	}

	/* 1. resolve + list */
	struct hub_error herr;
	if (hub_model_info(r.hub, o.repo, o.revision, true, &info, &herr) < 0) {
		fail(&r, hub_error_exit_code(&herr), "%s", herr.msg);
		goto done;
	}
	const char *sha = jpath_child_str(info, "sha");
	if (!sha || strlen(sha) < 7 || strlen(sha) >= sizeof(r.man.commit)) {
		fail(&r, 1, "model info of %s@%s has no commit sha", o.repo, o.revision);
		goto done;
	}
	r.man.repo = xstrdup(o.repo);
	r.man.revision = xstrdup(o.revision);
	memcpy(r.man.commit, sha, strlen(sha) + 1);
	if (list_files(&r, info) < 0)
		goto done;
	if (r.man.nfiles == 0) {
		fail(&r, 4, "no file of %s@%s matches the include/exclude patterns", o.repo, o.revision);
		goto done;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < r.man.nfiles; i++)
		total += (uint64_t)r.man.files[i].size;
	r.to_fetch = total;
	fprintf(stderr, "hydrate: %s@%s -> commit %s: %zu files, %" PRIu64 " bytes\n", o.repo, o.revision,
		r.man.commit, r.man.nfiles, total);

	/* 2. marker */
	rc = mkdir_p(o.dest);
	if (rc == 0) {
		r.destfd = open(o.dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r.destfd < 0)
			rc = -errno;
	}
	if (rc < 0) {
		fail(&r, 1, "cannot open --dest %s: %s", o.dest, strerror(-rc));
		goto done;
	}
	/* one hydrator per folder at a time (a retried Job whose previous pod
	 * still runs, two caches pointed at one volume) */
	rc = hydrate_openat_nofollow(r.destfd, HYDRATE_MARKER ".lock", O_RDWR | O_CREAT, 0644, &lockfd);
	if (rc < 0) {
		fail(&r, 1, "cannot open the lock file in %s: %s", o.dest, strerror(-rc));
		goto done;
	}
	if (flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		fail(&r, 1, "another hydration holds the lock on %s", o.dest);
		goto done;
	}
	struct hydrate_manifest old;
	if (hydrate_marker_read(r.destfd, &old) < 0)
		memset(&old, 0, sizeof(old));
	if (already_hydrated(&r, &old)) {
		hydrate_manifest_cleanup(&old);
		printf("already hydrated\n");
		fflush(stdout);
		fprintf(stderr, "hydrate: already hydrated (%s at %s)\n", o.repo, r.man.commit);
		goto done;
	}
	if ((rc = hydrate_marker_remove(r.destfd)) < 0) {
		hydrate_manifest_cleanup(&old);
		fail(&r, 1, "cannot remove the stale marker: %s", strerror(-rc));
		goto done;
	}
	remove_stale(&r, &old);
	hydrate_manifest_cleanup(&old);

	/* 3. download */
	nthreads = o.parallel < r.man.nfiles ? o.parallel : (unsigned)r.man.nfiles;
	if (pthread_create(&prog, NULL, progress, &r) == 0)
		prog_started = true;
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, worker, &r) != 0) {
			fail(&r, 1, "cannot start a download thread");
			nthreads = i;
			break;
		}
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_lock(&r.mu);
	r.finished = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	if (prog_started)
		pthread_join(prog, NULL);
	if (r.failed)
		goto done;

	/* 4. marker last */
	if ((rc = hydrate_marker_write(r.destfd, &r.man, (int64_t)time(NULL))) < 0) {
		fail(&r, 1, "cannot write the marker: %s", strerror(-rc));
		goto done;
	}
	{
		uint64_t el = now_ms() - r.start_ms, got = atomic_load(&r.fetched);
		fprintf(stderr,
			"hydrate: done %zu files, fetched %" PRIu64 " bytes, verified in place %" PRIu64
			" bytes, %.2fs, %.1f MB/s\n",
			r.man.nfiles, got, (uint64_t)atomic_load(&r.verified_local), (double)el / 1000.0,
			el ? (double)got / 1e6 / ((double)el / 1000.0) : 0.0);
	}
done:
	if (r.failed)
		report_failure(&r);
	rc = r.failed ? r.exit_code : 0;
	json_object_put(info);
	hub_client_free(r.hub);
	hydrate_manifest_cleanup(&r.man);
	if (lockfd >= 0)
		close(lockfd);   /* releases the flock */
	if (r.destfd >= 0)
		close(r.destfd);
	free_secret(token);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	return rc;
}
