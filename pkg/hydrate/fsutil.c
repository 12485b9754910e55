#include "hydrate/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

#define MARKER_PREFIX ".modelcache-hydrated"
#define INCOMPLETE_SUFFIX ".incomplete"
#define MAP_SUFFIX ".incomplete.chunks"   /* chunkmap.h */

bool hydrate_path_ok(const char *rel)
{
	if (!rel || !*rel || rel[0] == '/')
		return false;
	size_t n = strlen(rel);
	if (n > HYDRATE_PATH_MAX)
		return false;
	if (n >= sizeof(INCOMPLETE_SUFFIX) - 1 &&
	    strcmp(rel + n - (sizeof(INCOMPLETE_SUFFIX) - 1), INCOMPLETE_SUFFIX) == 0)
		return false;
	if (strncmp(rel, MARKER_PREFIX, sizeof(MARKER_PREFIX) - 1) == 0)
		return false;
	if (n >= sizeof(MAP_SUFFIX) - 1 && strcmp(rel + n - (sizeof(MAP_SUFFIX) - 1), MAP_SUFFIX) == 0)
		return false;
	const char *seg = rel;
	for (const char *p = rel;; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '/' || c == '\0') {
			size_t len = (size_t)(p - seg);
			if (len == 0 || len > 255)
				return false;
			if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (c == '\0')
				break;
			seg = p + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
	}
	return true;
}

int hydrate_openat_nofollow(int parent, const char *name, int flags, mode_t mode, int *out_fd)
{
	int fd = openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;
		/* O_NOFOLLOW on a symlink gives ELOOP (or ENOTDIR with O_DIRECTORY) */
		if (e == ENOTDIR || e == ELOOP) {
			struct stat st;
			if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				return -ELOOP;
		}
		return -e;
	}
	*out_fd = fd;
	return 0;
}

int hydrate_open_parent(int dirfd, const char *rel, bool create, int *out_fd, const char **base)
{
	int cur = dup(dirfd);
	if (cur < 0)
		return -errno;
	const char *seg = rel;
	char name[256];
	for (;;) {
		const char *slash = strchr(seg, '/');
		if (!slash)
			break;
		size_t len = (size_t)(slash - seg);
		if (len == 0 || len >= sizeof(name)) {
			close(cur);
			return -EINVAL;
		}
		memcpy(name, seg, len);
		name[len] = '\0';
		if (create && mkdirat(cur, name, 0755) < 0 && errno != EEXIST) {
			int e = errno;
			close(cur);
			return -e;
		}
		int next = -1;
		int r = hydrate_openat_nofollow(cur, name, O_RDONLY | O_DIRECTORY, 0, &next);
		close(cur);
		if (r < 0)
			return r;
		cur = next;
		seg = slash + 1;
	}
	*out_fd = cur;
	*base = seg;
	return 0;
}

int hydrate_fsync_dir(int dirfd)
{
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return -errno;
	return 0;
}

/* write (off < 0) or pwrite at off, the whole buffer */
static int write_at(int fd, const void *p, size_t n, int64_t off)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int hydrate_write_all(int fd, const void *p, size_t n)
{
	return write_at(fd, p, n, -1);
}

int hydrate_pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	return off > INT64_MAX ? -EINVAL : write_at(fd, p, n, (int64_t)off);
}

int hydrate_hash_fd(int fd, uint64_t len, struct digest *d)
{
	size_t cap = 1u << 20;
	char *b = xmalloc(cap);
	uint64_t off = 0;
	int ret = 0;
	while (off < len) {
		size_t want = len - off < cap ? (size_t)(len - off) : cap;
		ssize_t r = pread(fd, b, want, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (r == 0) {
			ret = -EIO;
			break;
		}
		digest_update(d, b, (size_t)r);
		off += (uint64_t)r;
	}
	free(b);
	return ret;
}

int hydrate_write_file_atomic(int dirfd, const char *name, const void *data, size_t len)
{
	char *tmp = xasprintf("%s.tmp", name);
	int fd = -1, ret;
	unlinkat(dirfd, tmp, 0);
	ret = hydrate_openat_nofollow(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd);
	if (ret < 0)
		goto out;
	ret = hydrate_write_all(fd, data, len);
	if (ret == 0 && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	fd = -1;
	if (ret < 0)
		goto out;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		ret = -errno;
		goto out;
	}
	ret = hydrate_fsync_dir(dirfd);
out:
	if (ret < 0)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	return ret;
}
