#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/digest.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define MAX_FILES 100000
#define MAX_DEPTH 16
#define ST_HEADER_MAX (100u << 20)
#define GGUF_MAX_STR (16u << 20)
#define GGUF_MAX_DIMS 8

/* ------------------------------------------------------------------ hash cache */

struct hentry {
	char *abs;
	int64_t size, mtime_ns;
	char sha256[65];
	char sha1[41];      /* git blob sha1 of the content, "" if not computed */
};

static struct hentry *cache;
static size_t ncache, capcache;
static char *cache_file;   /* persistent copy, NULL = none */
static int64_t fast_hash_above;

void fh_set_fast_hash_above(int64_t bytes)
{
	fast_hash_above = bytes > 0 ? bytes : 0;
}

static struct hentry *cache_get(const char *abs, int64_t size, int64_t mtime)
{
	for (size_t i = 0; i < ncache; i++)
		if (strcmp(cache[i].abs, abs) == 0) {
			if (cache[i].size == size && cache[i].mtime_ns == mtime)
				return &cache[i];
			cache[i].size = size;
			cache[i].mtime_ns = mtime;
			cache[i].sha256[0] = cache[i].sha1[0] = '\0';
			return &cache[i];
		}
	if (ncache == capcache) {
		capcache = capcache ? capcache * 2 : 64;
		cache = xrealloc(cache, capcache * sizeof(*cache));
	}
	struct hentry *e = &cache[ncache++];
	memset(e, 0, sizeof(*e));
	e->abs = xstrdup(abs);
	e->size = size;
	e->mtime_ns = mtime;
	return e;
}

void fh_cache_persist(const char *root)
{
	free(cache_file);
	cache_file = xasprintf("%s/.fakehub-hashcache", root);
	FILE *f = fopen(cache_file, "r");
	if (!f)
		return;
	char line[8192];
	while (fgets(line, sizeof(line), f)) {
		char sha256[65], sha1[41], path[4096];
		long long size, mtime;
		if (sscanf(line, "%64s %40s %lld %lld %4095[^\n]", sha256, sha1, &size, &mtime, path) != 5 ||
		    strlen(sha256) != 64)
			continue;
		struct hentry *e = cache_get(path, size, mtime);
		memcpy(e->sha256, sha256, 65);
		if (strlen(sha1) == 40)
			memcpy(e->sha1, sha1, 41);
		else
			e->sha1[0] = '\0';
	}
	fclose(f);
}

static void cache_save(const struct hentry *e)
{
	if (!cache_file)
		return;
	FILE *f = fopen(cache_file, "a");
	if (!f)
		return;
	fprintf(f, "%s %s %" PRId64 " %" PRId64 " %s\n", e->sha256, e->sha1[0] ? e->sha1 : "-", e->size,
		e->mtime_ns, e->abs);
	fclose(f);
}

/* Hash a file: sha256 always, git blob sha1 when want_sha1. */
static int hash_file(const char *abs, int64_t size, bool want_sha1, char sha256[65], char sha1[41])
{
	int fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct digest *d256 = digest_new(DIGEST_SHA256), *d1 = NULL;
	if (want_sha1) {
		char hdr[64];
		int n = snprintf(hdr, sizeof(hdr), "blob %" PRId64, size);
		d1 = digest_new(DIGEST_SHA1);
		digest_update(d1, hdr, (size_t)n + 1);   /* with the NUL */
	}
	size_t cap = 1u << 20;
	char *b = xmalloc(cap);
	int ret = 0;
	for (;;) {
		ssize_t r = read(fd, b, cap);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (r == 0)
			break;
		digest_update(d256, b, (size_t)r);
		if (d1)
			digest_update(d1, b, (size_t)r);
	}
	free(b);
	close(fd);
	char tmp[65];
	digest_final_hex(d256, sha256);
	digest_free(d256);
	if (d1) {
		digest_final_hex(d1, tmp);
		memcpy(sha1, tmp, 41);
		digest_free(d1);
	}
	return ret;
}

const char *fh_lfs_lookup(const char *sha256, int64_t *size)
{
	for (size_t i = 0; i < ncache; i++)
		if (cache[i].sha256[0] && strcmp(cache[i].sha256, sha256) == 0) {
			if (size)
				*size = cache[i].size;
			return cache[i].abs;
		}
	return NULL;
}

static void sha1_of(const void *p, size_t n, char out[41])
{
	char tmp[65];
	struct digest *d = digest_new(DIGEST_SHA1);
	digest_update(d, p, n);
	digest_final_hex(d, tmp);
	digest_free(d);
	memcpy(out, tmp, 41);
}

static void git_blob_sha1(const void *p, size_t n, char out[41])
{
	char tmp[65], hdr[64];
	int h = snprintf(hdr, sizeof(hdr), "blob %zu", n);
	struct digest *d = digest_new(DIGEST_SHA1);
	digest_update(d, hdr, (size_t)h + 1);
	digest_update(d, p, n);
	digest_final_hex(d, tmp);
	digest_free(d);
	memcpy(out, tmp, 41);
}

/* ------------------------------------------------------------------ scan */

static bool ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

bool fh_is_lfs_name(const char *path, int64_t size)
{
	return size > (int64_t)FH_LFS_THRESHOLD || ends_with(path, ".safetensors") ||
	       ends_with(path, ".gguf") || ends_with(path, ".bin") || ends_with(path, ".pt");
}

static bool segment_ok(const char *s, size_t n)
{
	if (n == 0 || n > 96 || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

struct scan {
	struct fh_file *files;
	size_t n, cap;
};

static int scan_dir(const char *abs, const char *rel, int depth, struct scan *s)
{
	if (depth > MAX_DEPTH)
		return 0;
	DIR *d = opendir(abs);
	if (!d)
		return -errno;
	struct dirent *de;
	int ret = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;   /* dot-files are never repo files */
		char *a = xasprintf("%s/%s", abs, de->d_name);
		char *r = rel[0] ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		struct stat st;
		if (stat(a, &st) == 0 && S_ISDIR(st.st_mode)) {
			ret = scan_dir(a, r, depth + 1, s);
			free(a);
			free(r);
			if (ret < 0)
				break;
			continue;
		}
		if (stat(a, &st) != 0 || !S_ISREG(st.st_mode) || s->n >= MAX_FILES) {
			free(a);
			free(r);
			continue;
		}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 32;
			s->files = xrealloc(s->files, s->cap * sizeof(*s->files));
		}
		struct fh_file *f = &s->files[s->n++];
		memset(f, 0, sizeof(*f));
		f->path = r;
		f->abs = a;
		f->size = st.st_size;
		f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	}
	closedir(d);
	return ret;
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct fh_file *)a)->path, ((const struct fh_file *)b)->path);
}

/* blob id of an LFS file = git blob sha1 of its pointer file */
static void set_lfs_pointer(struct fh_file *f)
{
	char ptr[256];
	int n = snprintf(ptr, sizeof(ptr), "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %" PRId64 "\n",
			 f->sha256, f->size);
	f->pointer_size = n;
	git_blob_sha1(ptr, (size_t)n, f->blob);
}

static int hash_entry(struct fh_file *f)
{
	if (!f->abs) {
		/* injected (hostile) entry: a made-up blob id */
		sha1_of(f->path, strlen(f->path), f->blob);
		return 0;
	}
	f->lfs = fh_is_lfs_name(f->path, f->size);
	if (f->lfs && fast_hash_above > 0 && f->size > fast_hash_above) {
		char seed[4200];
		int n = snprintf(seed, sizeof(seed), "fakehub-fast-hash%c%" PRId64 " %" PRId64 " %s", 0, f->size,
				 f->mtime_ns, f->abs);
		if (n < 0 || n >= (int)sizeof(seed))
			n = (int)sizeof(seed) - 1;
		struct digest *d = digest_new(DIGEST_SHA256);
		digest_update(d, seed, (size_t)n);
		digest_final_hex(d, f->sha256);
		digest_free(d);
		/* kept in the in-memory cache so /lfs/<oid> finds the file */
		struct hentry *e = cache_get(f->abs, f->size, f->mtime_ns);
		memcpy(e->sha256, f->sha256, 65);
		set_lfs_pointer(f);
		return 0;
	}
	struct hentry *e = cache_get(f->abs, f->size, f->mtime_ns);
	if (!e->sha256[0] || (!f->lfs && !e->sha1[0])) {
		int r = hash_file(f->abs, f->size, !f->lfs, e->sha256, e->sha1);
		if (r < 0) {
			e->sha256[0] = e->sha1[0] = '\0';
			return r;
		}
		cache_save(e);
	}
	memcpy(f->sha256, e->sha256, 65);
	if (f->lfs)
		set_lfs_pointer(f);
	else
		memcpy(f->blob, e->sha1, 41);
	return 0;
}

static json_object *load_meta(const char *dir)
{
	char *p = xasprintf("%s/.fakehub.json", dir);
	json_object *j = NULL;
	if (access(p, R_OK) == 0) {
		j = json_object_from_file(p);
		if (j && !json_object_is_type(j, json_type_object)) {
			json_object_put(j);
			j = NULL;
		}
		if (!j)
			fprintf(stderr, "fakehub: ignoring invalid %s\n", p);
	}
	free(p);
	return j;
}

int fh_repo_delay_ms(const char *root, const char *id)
{
	const char *slash = strchr(id, '/');
	if (!slash || strchr(slash + 1, '/') || !segment_ok(id, (size_t)(slash - id)) ||
	    !segment_ok(slash + 1, strlen(slash + 1)))
		return 0;
	char *dir = xasprintf("%s/%s", root, id);
	json_object *meta = load_meta(dir), *d = NULL;
	int64_t v = 0;
	if (meta && json_object_object_get_ex(meta, "delayMs", &d) && json_object_is_type(d, json_type_int))
		v = json_object_get_int64(d);
	json_object_put(meta);
	free(dir);
	return v < 0 ? 0 : v > FH_DELAY_MAX_MS ? FH_DELAY_MAX_MS : (int)v;
}

int fh_repo_load(const char *root, const char *id, struct fh_repo *out)
{
	memset(out, 0, sizeof(*out));
	const char *slash = strchr(id, '/');
	if (!slash || strchr(slash + 1, '/') || !segment_ok(id, (size_t)(slash - id)) ||
	    !segment_ok(slash + 1, strlen(slash + 1)))
		return -EINVAL;
	char *dir = xasprintf("%s/%s", root, id);
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(dir);
		return -ENOENT;
	}
	struct scan s = {0};
	int ret = scan_dir(dir, "", 0, &s);
	out->id = xstrdup(id);
	out->dir = dir;
	out->meta = load_meta(dir);
	/* injected entries for hostile-listing tests */
	json_object *inj;
	if (out->meta && json_object_object_get_ex(out->meta, "inject_siblings", &inj) &&
	    json_object_is_type(inj, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(inj); i++) {
			const char *p = json_object_get_string(json_object_array_get_idx(inj, i));
			if (!p)
				continue;
			if (s.n == s.cap) {
				s.cap = s.cap ? s.cap * 2 : 32;
				s.files = xrealloc(s.files, s.cap * sizeof(*s.files));
			}
			struct fh_file *f = &s.files[s.n++];
			memset(f, 0, sizeof(*f));
			f->path = xstrdup(p);
			f->size = 3;
		}
	}
	out->files = s.files;
	out->nfiles = s.n;
	if (ret < 0)
		goto fail;
	qsort(out->files, out->nfiles, sizeof(*out->files), cmp_file);
	struct digest *d = digest_new(DIGEST_SHA1);
	digest_update(d, id, strlen(id) + 1);
	for (size_t i = 0; i < out->nfiles; i++) {
		struct fh_file *f = &out->files[i];
		ret = hash_entry(f);
		if (ret < 0) {
			digest_free(d);
			goto fail;
		}
		if (f->mtime_ns > out->last_mtime_ns)
			out->last_mtime_ns = f->mtime_ns;
		digest_update(d, f->path, strlen(f->path) + 1);
		digest_update(d, f->blob, 40);
	}
	char tmp[65];
	digest_final_hex(d, tmp);
	digest_free(d);
	memcpy(out->commit, tmp, 41);
	return 0;
fail:
	fh_repo_cleanup(out);
	return ret == -ENOENT ? -EIO : ret;
}

void fh_repo_cleanup(struct fh_repo *r)
{
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].abs);
	}
	free(r->files);
	free(r->id);
	free(r->dir);
	json_object_put(r->meta);
	memset(r, 0, sizeof(*r));
}

static bool is_hex40(const char *s)
{
	if (strlen(s) != 40)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int fh_repo_resolve(const struct fh_repo *r, const char *rev, char commit[41])
{
	if (!rev || !*rev || strcmp(rev, "main") == 0 || strcmp(rev, r->commit) == 0) {
		memcpy(commit, r->commit, 41);
		return 0;
	}
	json_object *revs;
	if (r->meta && json_object_object_get_ex(r->meta, "revisions", &revs) &&
	    json_object_is_type(revs, json_type_object)) {
		json_object_object_foreach(revs, k, v) {
			const char *c = json_object_get_string(v);
			if (!c || !is_hex40(c))
				continue;
			if (strcmp(k, rev) == 0 || strcmp(c, rev) == 0) {
				memcpy(commit, c, 41);
				return 0;
			}
		}
	}
	return -ENOENT;
}

int fh_repo_check_auth(const struct fh_repo *r, const char *auth)
{
	json_object *g, *t;
	if (!r->meta || !json_object_object_get_ex(r->meta, "gated", &g) || !json_object_get_boolean(g))
		return 0;
	if (!auth || !*auth)
		return 401;
	const char *tok = NULL;
	if (json_object_object_get_ex(r->meta, "token", &t))
		tok = json_object_get_string(t);
	if (strncmp(auth, "Bearer ", 7) != 0)
		return 401;
	if (tok && strcmp(auth + 7, tok) == 0)
		return 0;
	return 403;
}

const struct fh_file *fh_repo_find(const struct fh_repo *r, const char *path)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (r->files[i].abs && strcmp(r->files[i].path, path) == 0)
			return &r->files[i];
	return NULL;
}

/* ------------------------------------------------------------------ headers */

static int read_full(int fd, void *p, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)p + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		got += (size_t)r;
	}
	return 0;
}

int fh_safetensors_counts(const char *abs, json_object *per_dtype, int64_t *total)
{
	int fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	unsigned char lenb[8];
	char *hdr = NULL;
	json_object *j = NULL;
	int ret = -EINVAL;
	if (fstat(fd, &st) != 0 || st.st_size < 8 || read_full(fd, lenb, 8, 0) < 0)
		goto out;
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = (n << 8) | lenb[i];
	if (n == 0 || n > ST_HEADER_MAX || n > (uint64_t)st.st_size - 8)
		goto out;
	hdr = xmalloc(n + 1);
	if (read_full(fd, hdr, n, 8) < 0)
		goto out;
	hdr[n] = '\0';
	j = json_tokener_parse(hdr);
	if (!j || !json_object_is_type(j, json_type_object))
		goto out;
	json_object_object_foreach(j, k, v) {
		if (strcmp(k, "__metadata__") == 0)
			continue;
		json_object *dt, *shape;
		if (!json_object_object_get_ex(v, "dtype", &dt) || !json_object_object_get_ex(v, "shape", &shape))
			continue;
		int64_t el = 1;
		for (size_t i = 0; i < json_object_array_length(shape); i++)
			el *= json_object_get_int64(json_object_array_get_idx(shape, i));
		const char *dts = json_object_get_string(dt);
		json_object *cur;
		int64_t prev = json_object_object_get_ex(per_dtype, dts, &cur) ? json_object_get_int64(cur) : 0;
		json_object_object_add(per_dtype, dts, json_object_new_int64(prev + el));
		*total += el;
	}
	ret = 0;
out:
	json_object_put(j);
	free(hdr);
	close(fd);
	return ret;
}

/* A bounded sequential reader over a file. */
struct rd {
	int fd;
	uint64_t pos, size;
	unsigned char buf[65536];
	uint64_t bstart;
	size_t blen;
	bool err;
};

static bool rd_bytes(struct rd *r, void *out, size_t n)
{
	unsigned char *o = out;
	while (n > 0) {
		if (r->err || r->pos >= r->size) {
			r->err = true;
			return false;
		}
		if (r->pos < r->bstart || r->pos >= r->bstart + r->blen) {
			ssize_t k = pread(r->fd, r->buf, sizeof(r->buf), (off_t)r->pos);
			if (k <= 0) {
				r->err = true;
				return false;
			}
			r->bstart = r->pos;
			r->blen = (size_t)k;
		}
		size_t off = (size_t)(r->pos - r->bstart);
		size_t take = r->blen - off < n ? r->blen - off : n;
		if (o) {
			memcpy(o, r->buf + off, take);
			o += take;
		}
		r->pos += take;
		n -= take;
	}
	return true;
}

static uint64_t rd_u(struct rd *r, int bytes)
{
	unsigned char b[8] = {0};
	if (!rd_bytes(r, b, (size_t)bytes))
		return 0;
	uint64_t v = 0;
	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | b[i];
	return v;
}

/* Reads a string; returns a malloc'd copy when keep, else skips. */
static char *rd_str(struct rd *r, bool keep)
{
	uint64_t n = rd_u(r, 8);
	if (r->err || n > GGUF_MAX_STR || n > r->size - r->pos) {
		r->err = true;
		return NULL;
	}
	if (!keep) {
		rd_bytes(r, NULL, (size_t)n);
		return NULL;
	}
	char *s = xmalloc(n + 1);
	if (!rd_bytes(r, s, (size_t)n)) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}

static const int gguf_scalar_size[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Reads a value of type t; returns it as json when it is a scalar/string and
 * keep, else skips it. */
static json_object *rd_value(struct rd *r, uint32_t t, bool keep, int depth)
{
	if (t > 12 || depth > 2) {
		r->err = true;
		return NULL;
	}
	if (t == 8) {
		char *s = rd_str(r, keep);
		json_object *j = s ? json_object_new_string(s) : NULL;
		free(s);
		return j;
	}
	if (t == 9) {
		uint32_t et = (uint32_t)rd_u(r, 4);
		uint64_t n = rd_u(r, 8);
		if (r->err || et > 12)
			return (r->err = true), NULL;
		if (et != 8 && et != 9) {
			uint64_t bytes = n * (uint64_t)gguf_scalar_size[et];
			if (n > r->size || bytes > r->size - r->pos)
				return (r->err = true), NULL;
			rd_bytes(r, NULL, (size_t)bytes);
			return NULL;
		}
		for (uint64_t i = 0; i < n && !r->err; i++)
			rd_value(r, et, false, depth + 1);
		return NULL;
	}
	uint64_t v = rd_u(r, gguf_scalar_size[t]);
	if (!keep || r->err)
		return NULL;
	switch (t) {
	case 1: return json_object_new_int64((int8_t)v);
	case 3: return json_object_new_int64((int16_t)v);
	case 5: return json_object_new_int64((int32_t)v);
	case 11: return json_object_new_int64((int64_t)v);
	case 6: { float f; uint32_t u = (uint32_t)v; memcpy(&f, &u, 4); return json_object_new_double(f); }
	case 12: { double f; memcpy(&f, &v, 8); return json_object_new_double(f); }
	case 7: return json_object_new_boolean(v != 0);
	default: return json_object_new_int64((int64_t)v);
	}
}

int fh_gguf_summary(const char *abs, json_object **out)
{
	struct rd *r = xcalloc(1, sizeof(*r));
	struct stat st;
	json_object *kv = json_object_new_object(), *res = NULL;
	int ret = -EINVAL;
	r->fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	r->size = (uint64_t)st.st_size;
	char magic[4];
	if (!rd_bytes(r, magic, 4) || memcmp(magic, "GGUF", 4) != 0)
		goto out;
	uint32_t version = (uint32_t)rd_u(r, 4);
	uint64_t ntensors = rd_u(r, 8), nkv = rd_u(r, 8);
	if (r->err || version < 2 || ntensors > 10000000 || nkv > 10000000)
		goto out;
	for (uint64_t i = 0; i < nkv && !r->err; i++) {
		char *k = rd_str(r, true);
		uint32_t t = (uint32_t)rd_u(r, 4);
		json_object *v = rd_value(r, t, k != NULL, 0);
		if (k && v)
			json_object_object_add(kv, k, v);
		else
			json_object_put(v);
		free(k);
	}
	int64_t total = 0;
	for (uint64_t i = 0; i < ntensors && !r->err; i++) {
		rd_str(r, false);
		uint32_t nd = (uint32_t)rd_u(r, 4);
		if (nd > GGUF_MAX_DIMS) {
			r->err = true;
			break;
		}
		int64_t el = 1;
		for (uint32_t d = 0; d < nd; d++)
			el *= (int64_t)rd_u(r, 8);
		rd_u(r, 4);
		rd_u(r, 8);
		total += el;
	}
	if (r->err)
		goto out;
	res = json_object_new_object();
	json_object_object_add(res, "total", json_object_new_int64(total));
	json_object *arch = NULL;
	if (json_object_object_get_ex(kv, "general.architecture", &arch)) {
		const char *a = json_object_get_string(arch);
		json_object_object_add(res, "architecture", json_object_new_string(a));
		static const char *const keys[] = {"context_length", "block_count", "embedding_length",
						   "attention.head_count", "attention.head_count_kv"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			char *k = xasprintf("%s.%s", a, keys[i]);
			json_object *v;
			if (json_object_object_get_ex(kv, k, &v)) {
				const char *name = strrchr(keys[i], '.') ? keys[i] : keys[i];
				char *jk = xstrdup(name);
				for (char *p = jk; *p; p++)
					if (*p == '.')
						*p = '_';
				json_object_object_add(res, jk, json_object_get(v));
				free(jk);
			}
			free(k);
		}
	}
	json_object_object_add(res, "totalFileSize", json_object_new_int64((int64_t)r->size));
	*out = res;
	ret = 0;
out:
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	json_object_put(kv);
	return ret;
}

/* ------------------------------------------------------------------ JSON */

static json_object *file_sibling(const struct fh_file *f, bool blobs)
{
	json_object *s = json_object_new_object();
	json_object_object_add(s, "rfilename", json_object_new_string(f->path));
	if (!blobs)
		return s;
	json_object_object_add(s, "blobId", json_object_new_string(f->blob));
	json_object_object_add(s, "size", json_object_new_int64(f->size));
	if (f->lfs) {
		json_object *l = json_object_new_object();
		json_object_object_add(l, "sha256", json_object_new_string(f->sha256));
		json_object_object_add(l, "size", json_object_new_int64(f->size));
		json_object_object_add(l, "pointerSize", json_object_new_int(f->pointer_size));
		json_object_object_add(s, "lfs", l);
	}
	return s;
}

json_object *fh_repo_info(const struct fh_repo *r, const char *commit, bool blobs)
{
	json_object *o = json_object_new_object();
	const char *slash = strchr(r->id, '/');
	char ts[RFC3339_MICRO_LEN + 1];
	char idbuf[41];
	sha1_of(r->id, strlen(r->id), idbuf);
	idbuf[24] = '\0';
	json_object_object_add(o, "_id", json_object_new_string(idbuf));
	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "modelId", json_object_new_string(r->id));
	json_object_object_add(o, "author", json_object_new_string_len(r->id, (int)(slash - r->id)));
	json_object_object_add(o, "sha", json_object_new_string(commit));
	rfc3339_format(r->last_mtime_ns / 1000000000LL, ts);
	json_object_object_add(o, "lastModified", json_object_new_string(ts));
	json_object_object_add(o, "private", json_object_new_boolean(0));
	json_object *g;
	bool gated = r->meta && json_object_object_get_ex(r->meta, "gated", &g) && json_object_get_boolean(g);
	json_object_object_add(o, "gated", gated ? json_object_new_string("auto") : json_object_new_boolean(0));
	json_object_object_add(o, "disabled", json_object_new_boolean(0));
	json_object *tags = json_object_new_array();
	json_object_object_add(o, "tags", tags);

	/* config: architectures/model_type (+ tokenizer_config), like the Hub */
	const struct fh_file *cf = fh_repo_find(r, "config.json");
	if (cf && cf->size < (8 << 20)) {
		json_object *c = json_object_from_file(cf->abs), *v;
		if (c && json_object_is_type(c, json_type_object)) {
			json_object *cfg = json_object_new_object();
			if (json_object_object_get_ex(c, "architectures", &v))
				json_object_object_add(cfg, "architectures", json_object_get(v));
			if (json_object_object_get_ex(c, "model_type", &v)) {
				json_object_object_add(cfg, "model_type", json_object_get(v));
				json_object_array_add(tags, json_object_new_string(json_object_get_string(v)));
			}
			if (json_object_object_get_ex(c, "quantization_config", &v))
				json_object_object_add(cfg, "quantization_config", json_object_get(v));
			json_object_object_add(o, "config", cfg);
			json_object_object_add(o, "library_name", json_object_new_string("transformers"));
		}
		json_object_put(c);
	} else if (fh_repo_find(r, "model_index.json")) {
		json_object_object_add(o, "library_name", json_object_new_string("diffusers"));
	}

	json_object *sib = json_object_new_array();
	int64_t used = 0;
	json_object *per_dtype = json_object_new_object();
	int64_t st_total = 0;
	bool have_st = false;
	const struct fh_file *first_gguf = NULL;
	for (size_t i = 0; i < r->nfiles; i++) {
		const struct fh_file *f = &r->files[i];
		json_object_array_add(sib, file_sibling(f, blobs));
		used += f->size;
		if (f->abs && ends_with(f->path, ".safetensors")) {
			if (fh_safetensors_counts(f->abs, per_dtype, &st_total) == 0)
				have_st = true;
		}
		if (f->abs && ends_with(f->path, ".gguf") && !first_gguf) {
			const char *base = strrchr(f->path, '/');
			base = base ? base + 1 : f->path;
			if (strncmp(base, "mmproj", 6) != 0)
				first_gguf = f;
		}
	}
	json_object_object_add(o, "siblings", sib);
	if (blobs)
		json_object_object_add(o, "usedStorage", json_object_new_int64(used));
	if (have_st) {
		json_object *s = json_object_new_object();
		json_object_object_add(s, "parameters", per_dtype);
		json_object_object_add(s, "total", json_object_new_int64(st_total));
		json_object_object_add(o, "safetensors", s);
		json_object_array_add(tags, json_object_new_string("safetensors"));
	} else {
		json_object_put(per_dtype);
	}
	if (first_gguf) {
		json_object *gg = NULL;
		if (fh_gguf_summary(first_gguf->abs, &gg) == 0)
			json_object_object_add(o, "gguf", gg);
		json_object_array_add(tags, json_object_new_string("gguf"));
	}
	/* extra fields from .fakehub.json "info" win */
	json_object *info;
	if (r->meta && json_object_object_get_ex(r->meta, "info", &info) &&
	    json_object_is_type(info, json_type_object)) {
		json_object_object_foreach(info, k, v)
			json_object_object_add(o, k, json_object_get(v));
	}
	return o;
}

static bool under(const char *path, const char *dir)
{
	if (!dir[0])
		return true;
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* The expand=true extras of a tree / paths-info entry: the last commit
 * touching it (fakehub has one commit per revision) and, for files, the
 * security scan status, shaped as the Hub sends them. */
static void add_expanded(const struct fh_repo *r, const char *commit, json_object *e, bool file)
{
	char ts[RFC3339_MICRO_LEN + 1];
	rfc3339_format(r->last_mtime_ns / 1000000000LL, ts);
	json_object *lc = json_object_new_object();
	json_object_object_add(lc, "id", json_object_new_string(commit));
	json_object_object_add(lc, "title", json_object_new_string("fakehub: the files of the repository folder"));
	json_object_object_add(lc, "date", json_object_new_string(ts));
	json_object_object_add(e, "lastCommit", lc);
	if (!file)
		return;
	json_object *sec = json_object_new_object(), *av = json_object_new_object(), *pk = json_object_new_object();
	json_object_object_add(sec, "status", json_object_new_string("safe"));
	json_object_object_add(av, "status", json_object_new_string("safe"));
	json_object_object_add(pk, "status", json_object_new_string("unscanned"));
	json_object_object_add(sec, "avScan", av);
	json_object_object_add(sec, "pickleImportScan", pk);
	json_object_object_add(e, "securityFileStatus", sec);
}

static json_object *dir_entry(const struct fh_repo *r, const char *dir, size_t dl, bool expand, const char *commit)
{
	json_object *d = json_object_new_object();
	char oid[41];
	sha1_of(dir, dl, oid);
	json_object_object_add(d, "type", json_object_new_string("directory"));
	json_object_object_add(d, "oid", json_object_new_string(oid));
	json_object_object_add(d, "size", json_object_new_int(0));
	json_object_object_add(d, "path", json_object_new_string_len(dir, (int)dl));
	if (expand)
		add_expanded(r, commit, d, false);
	return d;
}

static json_object *file_entry(const struct fh_repo *r, const struct fh_file *f, bool expand, const char *commit)
{
	json_object *e = json_object_new_object();
	json_object_object_add(e, "type", json_object_new_string("file"));
	json_object_object_add(e, "oid", json_object_new_string(f->blob));
	json_object_object_add(e, "size", json_object_new_int64(f->size));
	if (f->lfs) {
		json_object *l = json_object_new_object();
		json_object_object_add(l, "oid", json_object_new_string(f->sha256));
		json_object_object_add(l, "size", json_object_new_int64(f->size));
		json_object_object_add(l, "pointerSize", json_object_new_int(f->pointer_size));
		json_object_object_add(e, "lfs", l);
	}
	json_object_object_add(e, "path", json_object_new_string(f->path));
	if (expand)
		add_expanded(r, commit, e, true);
	return e;
}

json_object *fh_repo_tree(const struct fh_repo *r, const char *path, bool recursive, bool expand,
			  const char *commit)
{
	json_object *arr = json_object_new_array();
	/* directories first seen, in path order */
	char **dirs = NULL;
	size_t nd = 0;
	size_t plen = strlen(path);
	for (size_t i = 0; i < r->nfiles; i++) {
		const struct fh_file *f = &r->files[i];
		if (!under(f->path, path))
			continue;
		const char *rest = f->path + (plen ? plen + 1 : 0);
		/* every directory level between path and the file */
		for (const char *p = strchr(rest, '/'); p; p = strchr(p + 1, '/')) {
			size_t dl = (size_t)(p - f->path);
			bool direct = strchr(rest, '/') == p;
			if (!recursive && !direct)
				break;
			bool seen = false;
			for (size_t k = 0; k < nd; k++)
				if (strlen(dirs[k]) == dl && strncmp(dirs[k], f->path, dl) == 0)
					seen = true;
			if (seen)
				continue;
			dirs = xrealloc(dirs, (nd + 1) * sizeof(*dirs));
			dirs[nd++] = xstrndup(f->path, dl);
			json_object_array_add(arr, dir_entry(r, f->path, dl, expand, commit));
		}
		if (!recursive && strchr(rest, '/'))
			continue;
		json_object_array_add(arr, file_entry(r, f, expand, commit));
	}
	for (size_t k = 0; k < nd; k++)
		free(dirs[k]);
	free(dirs);
	return arr;
}

json_object *fh_repo_paths_info(const struct fh_repo *r, const char *const *paths, size_t n, bool expand,
				const char *commit)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < n; i++) {
		const char *p = paths[i];
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = strcmp(paths[k], p) == 0;
		if (dup || !*p)
			continue;
		const struct fh_file *f = fh_repo_find(r, p);
		if (f) {
			json_object_array_add(arr, file_entry(r, f, expand, commit));
			continue;
		}
		for (size_t k = 0; k < r->nfiles; k++)
			if (under(r->files[k].path, p)) {
				json_object_array_add(arr, dir_entry(r, p, strlen(p), expand, commit));
				break;
			}
	}
	return arr;
}
