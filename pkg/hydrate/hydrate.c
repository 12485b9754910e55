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
 * 3. fetch.c downloads what is missing over --connections parallel HTTP
 *    transfers shared by all files (files above --chunk-size as parallel
 *    Range requests into PATH.incomplete, a chunk map beside it for resume,
 *    a stall watchdog), verifies each file's digest (sha256 for LFS files,
 *    git blob sha1 otherwise) over what is on disk, fsyncs and renames it
 *    into place. Files already in place are re-hashed, not re-fetched.
 *    --layout hf-cache stores the bytes as the Hugging Face cache does
 *    (models--ORG--NAME/blobs/<etag>, snapshots/<commit>/<path> relative
 *    symlinks, refs/<revision>).
 * 4. The marker goes last: temp file + fsync + rename + fsync of the dir.
 * Exit codes: 0 ok, 2 usage, 3 auth, 4 not found, 5 integrity, 1 other. On
 * failure one line goes to stderr and to the termination log when writable.
 * The token (from --token-file or $HF_TOKEN) is never printed. */
#include "hydrate/hydrate.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hub/filter.h"
#include "hub/hub.h"
#include "estimate/estimate.h"
#include "hydrate/fetch.h"
#include "hydrate/fsutil.h"
#include "hydrate/marker.h"
#include "util/digest.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"

#define TOKEN_MAX 4096
#define MAX_PATTERNS 256

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
	unsigned connections;
	uint64_t chunk_size;
	unsigned stall_timeout_s;
	enum hydrate_layout layout;
	bool files_auto;
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
	char *cache_dir;              /* HuggingFaceCache: models--ORG--NAME */
	bool failed;
	int exit_code;
	char errmsg[512];
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
	if (!r->failed) {
		r->failed = true;
		r->exit_code = code;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
		va_end(ap);
	}
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
		"  --connections N        HTTP transfers in flight, shared by all files (default 16, max %d)\n"
		"  --parallel N           the same as --connections (older name)\n"
		"  --chunk-size BYTES     files larger than this are fetched as parallel Range requests of\n"
		"                         this size (default 64Mi; suffixes Ki, Mi, Gi; at least 1Mi)\n"
		"  --stall-timeout S      a transfer with no byte for S seconds is aborted and resumed by\n"
		"                         Range (default 60)\n"
		"  --layout L             flat (default: files at their paths) or hf-cache (the Hugging\n"
		"                         Face cache: models--ORG--NAME/{blobs,snapshots,refs})\n"
		"  --files F              all (default) or auto: without --include, only the files that\n"
		"                         load (the estimator's selection) and the small files beside them\n"
		"  --token-file F         read the token from F (default: $HF_TOKEN)\n"
		"  --retries N            retries per chunk on 429/5xx/network errors/stalls (default 5)\n"
		"  --retry-base-ms MS     first retry delay (default 500; doubles, honours Retry-After)\n"
		"  --progress-interval S  seconds between progress lines on stderr (default 5)\n"
		"  --termination-log F    where the failure line goes too (default /dev/termination-log)\n"
		"\n"
		"Exit codes: 0 ok, 2 usage, 3 authentication/authorization, 4 repo/revision/file not\n"
		"found, 5 integrity (size or hash mismatch), 1 anything else after retries.\n",
		HYDRATE_MAX_CONNECTIONS);
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

/* "N", "NKi", "NMi", "NGi" (also K/M/G = the same binary units). */
static int parse_bytes(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -1;
	uint64_t mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M')
		mul = 1ull << 20;
	else if (*end == 'G')
		mul = 1ull << 30;
	if (mul > 1) {
		end++;
		if (*end == 'i')
			end++;
	}
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = (uint64_t)v * mul;
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
		{"connections", required_argument, NULL, 'p'},
		{"chunk-size", required_argument, NULL, 'C'},
		{"stall-timeout", required_argument, NULL, 'S'},
		{"layout", required_argument, NULL, 'L'},
		{"files", required_argument, NULL, 'F'},
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
	o->connections = 16;
	o->chunk_size = HYDRATE_DEFAULT_CHUNK;
	o->stall_timeout_s = 60;
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
			if (parse_uint(optarg, 1, HYDRATE_MAX_CONNECTIONS, &o->connections) < 0)
				return fprintf(stderr, "hydrate: --connections must be 1..%d\n", HYDRATE_MAX_CONNECTIONS), -1;
			break;
		case 'C':
			if (parse_bytes(optarg, &o->chunk_size) < 0 || o->chunk_size < (1u << 20) ||
			    o->chunk_size > (1ull << 40))
				return fprintf(stderr, "hydrate: --chunk-size must be 1Mi..1Ti\n"), -1;
			break;
		case 'S':
			if (parse_uint(optarg, 1, 86400, &o->stall_timeout_s) < 0)
				return fprintf(stderr, "hydrate: --stall-timeout must be 1..86400 seconds\n"), -1;
			break;
		case 'L':
			if (strcmp(optarg, "flat") == 0)
				o->layout = HYDRATE_LAYOUT_FLAT;
			else if (strcmp(optarg, "hf-cache") == 0)
				o->layout = HYDRATE_LAYOUT_HF_CACHE;
			else
				return fprintf(stderr, "hydrate: --layout must be flat or hf-cache\n"), -1;
			break;
		case 'F':
			if (strcmp(optarg, "auto") == 0 || strcmp(optarg, "all") == 0)
				o->files_auto = optarg[1] == 'u';
			else
				return fprintf(stderr, "hydrate: --files must be auto or all\n"), -1;
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

/* ------------------------------------------------------------------ layouts */

/* Where a file's bytes go: its path (Flat) or the blob named by its etag
 * (HuggingFaceCache: sha256 for LFS files, the git blob sha1 otherwise),
 * as huggingface_hub names them. Yours to free. */
static char *storage_path(const struct run *r, const struct hydrate_file *f)
{
	if (r->o->layout == HYDRATE_LAYOUT_FLAT)
		return xstrdup(f->path);
	return xasprintf("%s/blobs/%s", r->cache_dir, f->hash);
}

/* models--ORG--NAME (huggingface_hub's repo folder name for a model). */
static char *hf_repo_folder(const char *repo)
{
	size_t n = strlen(repo);
	char *s = xmalloc(8 + 2 * n + 1), *o = s;
	memcpy(o, "models--", 8);
	o += 8;
	for (const char *p = repo; *p; p++) {
		if (*p == '/') {
			*o++ = '-';
			*o++ = '-';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return s;
}

static char *snapshot_path(const struct run *r, const struct hydrate_file *f)
{
	return xasprintf("%s/snapshots/%s/%s", r->cache_dir, r->man.commit, f->path);
}

/* The relative target of snapshots/<commit>/<path>: "../" once per folder
 * between the link and the repo folder, then blobs/<etag>. */
static char *snapshot_target(const struct hydrate_file *f)
{
	size_t depth = 2;   /* snapshots/<commit>/ */
	for (const char *p = f->path; *p; p++)
		depth += *p == '/';
	char *t = xmalloc(depth * 3 + 7 + strlen(f->hash) + 1), *o = t;
	for (size_t i = 0; i < depth; i++, o += 3)
		memcpy(o, "../", 3);
	sprintf(o, "blobs/%s", f->hash);
	return t;
}

/* Is parent/base a symlink to exactly target? */
static bool link_is(int pfd, const char *base, const char *target)
{
	char buf[HYDRATE_PATH_MAX + 1];
	ssize_t n = readlinkat(pfd, base, buf, sizeof(buf) - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strcmp(buf, target) == 0;
}

/* snapshots/<commit>/<path> -> ../../blobs/<etag> for every file, and
 * refs/<revision> = the commit (no newline) unless the revision is the
 * commit itself, as huggingface_hub writes them. */
static int write_hf_snapshot(struct run *r)
{
	for (size_t i = 0; i < r->man.nfiles; i++) {
		const struct hydrate_file *f = &r->man.files[i];
		char *lp = snapshot_path(r, f), *target = snapshot_target(f);
		int pfd = -1, e;
		const char *base;
		e = hydrate_open_parent(r->destfd, lp, true, &pfd, &base);
		if (e == 0 && !link_is(pfd, base, target)) {
			if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
				e = -errno;
			else if (symlinkat(target, pfd, base) < 0)
				e = -errno;
			else
				e = hydrate_fsync_dir(pfd);
		}
		if (pfd >= 0)
			close(pfd);
		free(target);
		if (e < 0) {
			fail(r, 1, "cannot link %s to its blob: %s", lp, strerror(-e));
			free(lp);
			return -1;
		}
		free(lp);
	}
	if (strcmp(r->o->revision, r->man.commit) != 0) {
		char *rp = xasprintf("%s/refs/%s", r->cache_dir, r->o->revision);
		int pfd = -1;
		const char *base;
		int e = hydrate_path_ok(rp) ? hydrate_open_parent(r->destfd, rp, true, &pfd, &base) : -EINVAL;
		if (e == 0)
			e = hydrate_write_file_atomic(pfd, base, r->man.commit, strlen(r->man.commit));
		if (pfd >= 0)
			close(pfd);
		if (e < 0) {
			fail(r, 1, "cannot write %s: %s", rp, strerror(-e));
			free(rp);
			return -1;
		}
		free(rp);
	}
	return 0;
}

/* Files a previous Flat hydration put here that the new manifest does not
 * list (another revision, narrower include patterns) are removed, so the
 * folder holds exactly what the marker will list. Only regular files
 * reached without symlinks are touched. In the HuggingFaceCache layout
 * other snapshots are left alone (the cache holds several commits, as
 * huggingface_hub's does). */
static void remove_stale(struct run *r, const struct hydrate_manifest *old)
{
	if (old->layout != HYDRATE_LAYOUT_FLAT || r->o->layout != HYDRATE_LAYOUT_FLAT)
		return;
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

/* Marker check: same manifest and every file present with its size (and,
 * in the HuggingFaceCache layout, its snapshot link). */
static bool already_hydrated(struct run *r, const struct hydrate_manifest *old)
{
	if (!old->repo || !hydrate_manifest_equal(old, &r->man))
		return false;
	for (size_t i = 0; i < r->man.nfiles; i++) {
		const struct hydrate_file *f = &r->man.files[i];
		int pfd;
		const char *base;
		struct stat st;
		char *sp = storage_path(r, f);
		int e = hydrate_open_parent(r->destfd, sp, false, &pfd, &base);
		if (e < 0) {
			free(sp);
			return false;
		}
		e = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW);   /* base points into sp */
		close(pfd);
		free(sp);
		if (e < 0 || !S_ISREG(st.st_mode) || st.st_size != f->size)
			return false;
		if (r->o->layout == HYDRATE_LAYOUT_HF_CACHE) {
			char *lp = snapshot_path(r, f), *t = snapshot_target(f);
			e = hydrate_open_parent(r->destfd, lp, false, &pfd, &base);
			bool ok = e == 0 && link_is(pfd, base, t);
			if (e == 0)
				close(pfd);
			free(lp);
			free(t);
			if (!ok)
				return false;
		}
	}
	return true;
}

/* --files auto (spec.huggingFace.files: Auto, docs/estimation.md): keep the
 * files the estimator says the hydrator downloads, the same selection that
 * sized the volume. Explicit --include patterns choose the files instead. */
static int auto_select(struct run *r)
{
	struct estimate_result res;
	char *msg = NULL;
	const struct opts *o = r->o;
	int rc = estimate_repo(r->hub, o->repo, r->man.commit, NULL, 0, o->exclude, o->nexclude, &res, &msg);
	if (rc < 0) {
		fail(r, rc == ESTIMATE_ERR_AUTH ? 3 : rc == ESTIMATE_ERR_NOT_FOUND ? 4 : 1,
		     "files auto: cannot tell which files of %s load: %s", o->repo, msg ? msg : "estimate failed");
		free(msg);
		return -1;
	}
	free(msg);
	size_t k = 0, before = r->man.nfiles;
	uint64_t kept = 0, all = 0;
	for (size_t i = 0; i < r->man.nfiles; i++) {
		struct hydrate_file *f = &r->man.files[i];
		bool keep = false;
		for (size_t j = 0; j < res.ndownload && !keep; j++)
			keep = strcmp(res.download_paths[j], f->path) == 0;
		all += (uint64_t)f->size;
		if (!keep) {
			free(f->path);
			continue;
		}
		kept += (uint64_t)f->size;
		r->man.files[k++] = *f;
	}
	r->man.nfiles = k;
	fprintf(stderr, "hydrate: files auto: %zu of %zu files, %" PRIu64 " of %" PRIu64 " bytes (%s, the files that load)\n",
		k, before, kept, all, res.format);
	estimate_result_cleanup(&res);
	if (k == 0) {
		fail(r, 4, "files auto: nothing of %s@%s loads", o->repo, o->revision);
		return -1;
	}
	return 0;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

int hydrate_main(int argc, char **argv)
{
	struct opts o;
	struct run r;
	json_object *info = NULL;
	char *token = NULL;
	int lockfd = -1;
	int rc;
	struct hydrate_fetch_file *jobs = NULL;
	char **dests = NULL;
	size_t njobs = 0;

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
	if (!sha || strlen(sha) < 7 || strlen(sha) >= sizeof(r.man.commit) || !hydrate_path_ok(sha) ||
	    strchr(sha, '/')) {
		fail(&r, 1, "model info of %s@%s has no usable commit sha", o.repo, o.revision);
		goto done;
	}
	r.man.layout = o.layout;
	r.man.repo = xstrdup(o.repo);
	r.man.revision = xstrdup(o.revision);
	memcpy(r.man.commit, sha, strlen(sha) + 1);
	r.cache_dir = hf_repo_folder(o.repo);
	if (list_files(&r, info) < 0)
		goto done;
	if (r.man.nfiles == 0) {
		fail(&r, 4, "no file of %s@%s matches the include/exclude patterns", o.repo, o.revision);
		goto done;
	}
	if (o.files_auto && o.ninclude == 0 && auto_select(&r) < 0)
		goto done;
	uint64_t total = 0;
	for (size_t i = 0; i < r.man.nfiles; i++)
		total += (uint64_t)r.man.files[i].size;
	fprintf(stderr, "hydrate: %s@%s -> commit %s: %zu files, %" PRIu64 " bytes, layout %s\n", o.repo,
		o.revision, r.man.commit, r.man.nfiles, total,
		o.layout == HYDRATE_LAYOUT_HF_CACHE ? "hf-cache" : "flat");

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

	/* 3. download: one job per storage path (a blob shared by two paths of
	 * the HuggingFaceCache layout is fetched once) */
	jobs = xcalloc(r.man.nfiles, sizeof(*jobs));
	dests = xcalloc(r.man.nfiles, sizeof(*dests));
	for (size_t i = 0; i < r.man.nfiles; i++) {
		const struct hydrate_file *f = &r.man.files[i];
		char *sp = storage_path(&r, f);
		bool dup = false;
		for (size_t j = 0; j < njobs && o.layout == HYDRATE_LAYOUT_HF_CACHE && !dup; j++)
			dup = strcmp(dests[j], sp) == 0;
		if (dup) {
			free(sp);
			continue;
		}
		dests[njobs] = sp;
		jobs[njobs++] = (struct hydrate_fetch_file){.path = f->path, .dest = sp, .size = f->size,
							    .lfs = f->lfs, .hash = f->hash};
	}
	struct hydrate_fetch_opts fo = {
		.endpoint = hub_client_endpoint(r.hub), .token = token, .user_agent = hub_client_user_agent(r.hub),
		.repo = o.repo, .commit = r.man.commit, .connections = o.connections, .chunk_size = o.chunk_size,
		.stall_timeout_s = o.stall_timeout_s, .retries = o.retries, .retry_base_ms = o.retry_base_ms,
		.progress_s = o.progress_s, .connect_timeout_s = 15,
	};
	struct hydrate_fetch_stats st;
	rc = hydrate_fetch_all(r.destfd, jobs, njobs, &fo, &st, r.errmsg, sizeof(r.errmsg));
	if (rc) {
		r.failed = true;
		r.exit_code = rc;
		goto done;
	}
	if (o.layout == HYDRATE_LAYOUT_HF_CACHE && write_hf_snapshot(&r) < 0)
		goto done;

	/* 4. marker last */
	if ((rc = hydrate_marker_write(r.destfd, &r.man, (int64_t)time(NULL))) < 0) {
		fail(&r, 1, "cannot write the marker: %s", strerror(-rc));
		goto done;
	}
	{
		uint64_t el = now_ms() - r.start_ms;
		fprintf(stderr,
			"hydrate: done %zu files, fetched %" PRIu64 " bytes, verified in place %" PRIu64
			" bytes, resumed %" PRIu64 " bytes, %.2fs, %.1f MB/s, connections up to %u, stalls %u, "
			"retries %u, waits for the disk %u, peak RSS %ld KiB\n",
			r.man.nfiles, st.fetched, st.in_place, st.resumed, (double)el / 1000.0,
			el ? (double)st.fetched / 1e6 / ((double)el / 1000.0) : 0.0, st.max_in_use, st.stalls,
			st.retries, st.sync_waits, peak_rss_kib());
	}
done:
	if (r.failed)
		report_failure(&r);
	rc = r.failed ? r.exit_code : 0;
	for (size_t i = 0; i < njobs; i++)
		free(dests[i]);
	free(dests);
	free(jobs);
	json_object_put(info);
	hub_client_free(r.hub);
	hydrate_manifest_cleanup(&r.man);
	free(r.cache_dir);
	if (lockfd >= 0)
		close(lockfd);   /* releases the flock */
	if (r.destfd >= 0)
		close(r.destfd);
	free_secret(token);
	return rc;
}
