#include "hydrate/marker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hydrate/fsutil.h"
#include "util/jpath.h"
#include "util/mem.h"
#include "util/timeutil.h"

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct hydrate_file *)a)->path, ((const struct hydrate_file *)b)->path);
}

void hydrate_manifest_sort(struct hydrate_manifest *m)
{
	if (m->nfiles > 1)
		qsort(m->files, m->nfiles, sizeof(*m->files), cmp_file);
}

void hydrate_manifest_cleanup(struct hydrate_manifest *m)
{
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i].path);
	free(m->files);
	free(m->repo);
	free(m->revision);
	memset(m, 0, sizeof(*m));
}

bool hydrate_manifest_equal(const struct hydrate_manifest *a, const struct hydrate_manifest *b)
{
	if (!a->repo || !b->repo || a->layout != b->layout || strcmp(a->repo, b->repo) != 0 || strcmp(a->commit, b->commit) != 0 ||
	    a->nfiles != b->nfiles)
		return false;
	for (size_t i = 0; i < a->nfiles; i++) {
		const struct hydrate_file *x = &a->files[i], *y = &b->files[i];
		if (strcmp(x->path, y->path) != 0 || x->size != y->size || x->lfs != y->lfs ||
		    strcmp(x->hash, y->hash) != 0)
			return false;
	}
	return true;
}

char *hydrate_marker_render(const struct hydrate_manifest *m, int64_t completed_unix)
{
	json_object *o = json_object_new_object(), *files = json_object_new_array();
	char ts[RFC3339_LEN + 1];
	int64_t total = 0;
	rfc3339_format(completed_unix, ts);
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "repo", json_object_new_string(m->repo));
	json_object_object_add(o, "revision", json_object_new_string(m->revision ? m->revision : ""));
	json_object_object_add(o, "commit", json_object_new_string(m->commit));
	json_object_object_add(o, "completedAt", json_object_new_string(ts));
	for (size_t i = 0; i < m->nfiles; i++) {
		const struct hydrate_file *f = &m->files[i];
		json_object *e = json_object_new_object();
		json_object_object_add(e, "path", json_object_new_string(f->path));
		json_object_object_add(e, "size", json_object_new_int64(f->size));
		json_object_object_add(e, f->lfs ? "sha256" : "gitSha1", json_object_new_string(f->hash));
		json_object_array_add(files, e);
		total += f->size;
	}
	json_object_object_add(o, "totalBytes", json_object_new_int64(total));
	json_object_object_add(o, "layout", json_object_new_string(m->layout == HYDRATE_LAYOUT_HF_CACHE
								   ? "HuggingFaceCache" : "Flat"));
	json_object_object_add(o, "files", files);
	char *s = xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

int hydrate_marker_parse(const char *text, size_t len, struct hydrate_manifest *out)
{
	memset(out, 0, sizeof(*out));
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, text, (int)len);
	bool ok = o && json_tokener_get_error(tok) == json_tokener_success;
	if (ok) {
		/* nothing but white space after the object */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (text[i] != ' ' && text[i] != '\n' && text[i] != '\r' && text[i] != '\t')
				ok = false;
	}
	json_tokener_free(tok);
	json_object *files, *ver;
	const char *repo, *commit, *rev;
	if (!ok || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "version", &ver) ||
	    json_object_get_int(ver) != 1 || !(repo = jpath_child_str(o, "repo")) || !(commit = jpath_child_str(o, "commit")) ||
	    strlen(commit) >= sizeof(out->commit) || !json_object_object_get_ex(o, "files", &files) ||
	    !json_object_is_type(files, json_type_array))
		goto bad;
	rev = jpath_child_str(o, "revision");
	const char *layout = jpath_child_str(o, "layout");
	if (!layout || strcmp(layout, "Flat") == 0)
		out->layout = HYDRATE_LAYOUT_FLAT;
	else if (strcmp(layout, "HuggingFaceCache") == 0)
		out->layout = HYDRATE_LAYOUT_HF_CACHE;
	else
		goto bad;
	out->repo = xstrdup(repo);
	out->revision = xstrdup(rev ? rev : "");
	memcpy(out->commit, commit, strlen(commit) + 1);
	size_t n = json_object_array_length(files);
	out->files = xcalloc(n ? n : 1, sizeof(*out->files));
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(files, i), *sz;
		const char *path = jpath_child_str(e, "path"), *h256 = jpath_child_str(e, "sha256"), *h1 = jpath_child_str(e, "gitSha1");
		const char *h = h256 ? h256 : h1;
		if (!path || !h || strlen(h) >= 65 || !json_object_object_get_ex(e, "size", &sz))
			goto bad;
		struct hydrate_file *f = &out->files[out->nfiles++];
		f->path = xstrdup(path);
		f->size = json_object_get_int64(sz);
		f->lfs = h256 != NULL;
		memcpy(f->hash, h, strlen(h) + 1);
	}
	hydrate_manifest_sort(out);
	json_object_put(o);
	return 0;
bad:
	json_object_put(o);
	hydrate_manifest_cleanup(out);
	return -EINVAL;
}

int hydrate_marker_read(int dirfd, struct hydrate_manifest *out)
{
	int fd = -1, ret;
	char *text = NULL;
	struct stat st;
	memset(out, 0, sizeof(*out));
	ret = hydrate_openat_nofollow(dirfd, HYDRATE_MARKER, O_RDONLY, 0, &fd);
	if (ret < 0)
		return ret == -ENOENT ? -ENOENT : -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)HYDRATE_MARKER_MAX) {
		ret = -EINVAL;
		goto out;
	}
	text = xmalloc((size_t)st.st_size + 1);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, text + got, (size_t)st.st_size - got);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	text[got] = '\0';
	ret = hydrate_marker_parse(text, got, out);
out:
	free(text);
	close(fd);
	return ret;
}

int hydrate_marker_write(int dirfd, const struct hydrate_manifest *m, int64_t completed_unix)
{
	char *s = hydrate_marker_render(m, completed_unix);
	int ret = hydrate_write_file_atomic(dirfd, HYDRATE_MARKER, s, strlen(s));
	free(s);
	return ret;
}

int hydrate_marker_remove(int dirfd)
{
	if (unlinkat(dirfd, HYDRATE_MARKER, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return -errno;
	}
	return hydrate_fsync_dir(dirfd);
}
