/* Byte sources and repos: memory, local files/directories, Hub (Range). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estimate/estimate.h"
#include "estimate/source.h"
#include "hub/hub.h"
#include "util/buf.h"
#include "util/mem.h"

int est_source_read(struct est_source *s, uint64_t off, void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (off > s->size || len > s->size - off)
		return -EIO;
	size_t done = 0;
	while (done < len) {
		size_t got = 0;
		int rc = s->read_at(s->ctx, off + done, (char *)buf + done, len - done, &got);
		s->reads++;
		if (rc < 0)
			return rc;
		if (got == 0 || got > len - done)
			return -EIO;
		done += got;
		s->bytes_read += got;
	}
	return 0;
}

/* ---- memory: ctx = the data; est_source_read has bounds-checked ---- */

static int mem_read_at(void *ctx, uint64_t off, void *buf, size_t len, size_t *got)
{
	memcpy(buf, (const char *)ctx + off, len);
	*got = len;
	return 0;
}

void est_source_mem(struct est_source *s, const void *data, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->read_at = mem_read_at;
	s->ctx = (void *)data;
	s->size = len;
}

/* ---- repo plumbing ---- */

struct repo_src {
	struct est_repo *repo;
	const char *path;
};

/* The context of an est_repo_source lives as long as the repo: a cell in a
 * list the repo frees. */
struct cell {
	struct repo_src rs;
	struct cell *next;
};

void est_repo_free(struct est_repo *r)
{
	if (r == NULL)
		return;
	if (r->ops != NULL && r->ops->free != NULL)
		r->ops->free(r->ctx);
	struct cell *c = r->priv_cells;
	while (c != NULL) {
		struct cell *n = c->next;
		free(c);
		c = n;
	}
	free(r);
}

static int repo_src_read_at(void *ctx, uint64_t off, void *buf, size_t len, size_t *got)
{
	struct repo_src *rs = ctx;
	int rc = rs->repo->ops->read_at(rs->repo->ctx, rs->path, off, buf, len, got);
	/* sources of one repo may be read from several threads (estimate.c) */
	__atomic_add_fetch(&rs->repo->reads, 1, __ATOMIC_RELAXED);
	if (rc == 0)
		__atomic_add_fetch(&rs->repo->bytes_read, *got, __ATOMIC_RELAXED);
	return rc;
}

void est_repo_source(struct est_repo *r, const char *path, int64_t size, struct est_source *s)
{
	struct cell *c = xcalloc(1, sizeof(*c));
	c->rs.repo = r;
	c->rs.path = path;
	c->next = r->priv_cells;
	r->priv_cells = c;
	memset(s, 0, sizeof(*s));
	s->read_at = repo_src_read_at;
	s->ctx = &c->rs;
	s->size = size < 0 ? 0 : (uint64_t)size;
}

int est_repo_read_small(struct est_repo *r, const char *path, int64_t size, size_t max,
			char **data, size_t *len)
{
	*data = NULL;
	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size > max)
		return -E2BIG;
	struct est_source s;
	est_repo_source(r, path, size, &s);
	char *p = xmalloc((size_t)size + 1);
	int rc = est_source_read(&s, 0, p, (size_t)size);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p[size] = 0;
	*data = p;
	if (len != NULL)
		*len = (size_t)size;
	return 0;
}

static void files_free(struct est_file_entry *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].path);
	free(f);
}

/* ---- local directory / files ---- */

struct local_ctx {
	char *root;                 /* directory, or NULL for a file list */
	struct est_file_entry *files;
	size_t n, cap;
	char **abs;                 /* absolute path per file */
};

static void local_add(struct local_ctx *c, const char *rel, const char *abs, int64_t size)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->files = xrealloc(c->files, c->cap * sizeof(*c->files));
		c->abs = xrealloc(c->abs, c->cap * sizeof(*c->abs));
	}
	c->files[c->n].path = xstrdup(rel);
	c->files[c->n].size = size;
	c->abs[c->n] = xstrdup(abs);
	c->n++;
}

static int walk(struct local_ctx *c, const char *abs, const char *rel, int depth)
{
	if (depth > 16)
		return 0;
	DIR *d = opendir(abs);
	if (d == NULL)
		return -errno;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (c->n >= EST_REPO_MAX_FILES) {
			rc = -E2BIG;
			break;
		}
		char *a = xasprintf("%s/%s", abs, e->d_name);
		char *r = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		struct stat lst, st;
		if (lstat(a, &lst) == 0) {
			if (S_ISDIR(lst.st_mode))
				rc = walk(c, a, r, depth + 1);
			else if (stat(a, &st) == 0 && S_ISREG(st.st_mode))
				local_add(c, r, a, (int64_t)st.st_size);
		}
		free(a);
		free(r);
		if (rc < 0)
			break;
	}
	closedir(d);
	return rc;
}

static int local_list(void *ctx, struct est_file_entry **files, size_t *n, char **errmsg)
{
	struct local_ctx *c = ctx;
	*files = c->files;
	*n = c->n;
	return 0;
}

static int local_read_at(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
			 size_t *got)
{
	struct local_ctx *c = ctx;
	size_t i;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->files[i].path, path) == 0)
			break;
	if (i == c->n)
		return -ENOENT;
	int fd = open(c->abs[i], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t r;
	do
		r = pread(fd, buf, len, (off_t)off);
	while (r < 0 && errno == EINTR);
	int err = r < 0 ? -errno : 0;
	close(fd);
	if (err < 0)
		return err;
	*got = (size_t)r;
	return 0;
}

static json_object *no_info(void *ctx)
{
	return NULL;
}

static void local_free(void *ctx)
{
	struct local_ctx *c = ctx;
	files_free(c->files, c->n);
	for (size_t i = 0; i < c->n; i++)
		free(c->abs[i]);
	free(c->abs);
	free(c->root);
	free(c);
}

static const struct est_repo_ops local_ops = {
	.list = local_list,
	.read_at = local_read_at,
	.info = no_info,
	.free = local_free,
};

struct est_repo *est_repo_new(const struct est_repo_ops *ops, void *ctx)
{
	struct est_repo *r = xcalloc(1, sizeof(*r));
	r->ops = ops;
	r->ctx = ctx;
	return r;
}

int est_repo_dir_new(const char *dir, struct est_repo **out, char **errmsg)
{
	*out = NULL;
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (errmsg)
			*errmsg = xasprintf("%s: not a directory", dir);
		return ESTIMATE_ERR_NOT_FOUND;
	}
	struct local_ctx *c = xcalloc(1, sizeof(*c));
	c->root = xstrdup(dir);
	int rc = walk(c, dir, "", 0);
	if (rc < 0) {
		if (errmsg)
			*errmsg = xasprintf("%s: cannot list: %s", dir, strerror(-rc));
		local_free(c);
		return ESTIMATE_ERR_OTHER;
	}
	*out = est_repo_new(&local_ops, c);
	return 0;
}

int est_repo_files_new(const char *const *paths, size_t n, struct est_repo **out, char **errmsg)
{
	*out = NULL;
	struct local_ctx *c = xcalloc(1, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (stat(paths[i], &st) != 0 || !S_ISREG(st.st_mode)) {
			if (errmsg)
				*errmsg = xasprintf("%s: no such file", paths[i]);
			local_free(c);
			return ESTIMATE_ERR_NOT_FOUND;
		}
		const char *base = strrchr(paths[i], '/');
		base = base ? base + 1 : paths[i];
		bool clash = false;
		for (size_t j = 0; j < c->n; j++)
			if (strcmp(c->files[j].path, base) == 0)
				clash = true;
		local_add(c, clash ? paths[i] : base, paths[i], (int64_t)st.st_size);
	}
	*out = est_repo_new(&local_ops, c);
	return 0;
}

/* ---- Hub ---- */

struct hub_ctx {
	struct hub_client *hub;
	char *repo;
	char *commit;
	json_object *info;
	struct est_file_entry *files;
	size_t n;
};

static int hub_err_to_est(const struct hub_error *e)
{
	switch (e->kind) {
	case HUB_ERR_AUTH:
		return ESTIMATE_ERR_AUTH;
	case HUB_ERR_NOT_FOUND:
		return ESTIMATE_ERR_NOT_FOUND;
	default:
		return ESTIMATE_ERR_OTHER;
	}
}

static int hub_list(void *ctx, struct est_file_entry **files, size_t *n, char **errmsg)
{
	struct hub_ctx *c = ctx;
	*files = c->files;
	*n = c->n;
	return 0;
}

static int hub_read_at_cb(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
			  size_t *got)
{
	struct hub_ctx *c = ctx;
	struct buf b;
	struct hub_error err;
	buf_init(&b, len + 1);
	int rc = hub_read_range(c->hub, c->repo, c->commit, path, off, len, &b, &err);
	if (rc == 0) {
		size_t k = b.len < len ? b.len : len;
		memcpy(buf, b.data, k);
		*got = k;
	} else {
		rc = err.kind == HUB_ERR_NOT_FOUND ? -ENOENT
		     : err.kind == HUB_ERR_AUTH   ? -EACCES
						  : -EIO;
	}
	buf_cleanup(&b);
	return rc;
}

static json_object *hub_info(void *ctx)
{
	return ((struct hub_ctx *)ctx)->info;
}

static void hub_free_ctx(void *ctx)
{
	struct hub_ctx *c = ctx;
	files_free(c->files, c->n);
	json_object_put(c->info);
	free(c->repo);
	free(c->commit);
	free(c);
}

static const struct est_repo_ops hub_ops = {
	.list = hub_list,
	.read_at = hub_read_at_cb,
	.info = hub_info,
	.free = hub_free_ctx,
};

int est_repo_hub_new(struct hub_client *hub, const char *repo, const char *revision,
		     struct est_repo **out, char **errmsg)
{
	*out = NULL;
	struct hub_error err;
	json_object *info = NULL;
	int rc = hub_model_info(hub, repo, revision ? revision : "main", true, &info, &err);
	if (rc < 0) {
		if (errmsg)
			*errmsg = xasprintf("%s", err.msg);
		return hub_err_to_est(&err);
	}
	struct hub_ctx *c = xcalloc(1, sizeof(*c));
	c->hub = hub;
	c->repo = xstrdup(repo);
	c->info = info;
	json_object *v, *sib;
	if (json_object_object_get_ex(info, "sha", &v) && json_object_is_type(v, json_type_string))
		c->commit = xstrdup(json_object_get_string(v));
	else
		c->commit = xstrdup(revision ? revision : "main");
	if (!json_object_object_get_ex(info, "siblings", &sib) ||
	    !json_object_is_type(sib, json_type_array)) {
		if (errmsg)
			*errmsg = xasprintf("%s: model info has no file list", repo);
		hub_free_ctx(c);
		return ESTIMATE_ERR_OTHER;
	}
	size_t n = json_object_array_length(sib);
	if (n > EST_REPO_MAX_FILES)
		n = EST_REPO_MAX_FILES;
	c->files = xcalloc(n ? n : 1, sizeof(*c->files));
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(sib, i), *name, *size, *lfs;
		if (!json_object_object_get_ex(s, "rfilename", &name) ||
		    !json_object_is_type(name, json_type_string))
			continue;
		int64_t sz = -1;
		if (json_object_object_get_ex(s, "size", &size) && json_object_is_type(size, json_type_int))
			sz = json_object_get_int64(size);
		else if (json_object_object_get_ex(s, "lfs", &lfs) &&
			 json_object_object_get_ex(lfs, "size", &size))
			sz = json_object_get_int64(size);
		if (sz < 0)
			continue;   /* size unknown: blobs=true should always give it */
		c->files[c->n].path = xstrdup(json_object_get_string(name));
		c->files[c->n].size = sz;
		c->n++;
	}
	struct est_repo *r = est_repo_new(&hub_ops, c);
	r->commit = c->commit;
	*out = r;
	return 0;
}
