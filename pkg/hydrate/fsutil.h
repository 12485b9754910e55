/* Filesystem helpers of the hydrator: path safety, opening files strictly
 * below a directory (never through a symlink), durable renames, hashing.
 * All functions return 0 or a negative errno. */
#ifndef MC_HYDRATE_FSUTIL_H
#define MC_HYDRATE_FSUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/digest.h"

#define HYDRATE_PATH_MAX 1024

/* Is `rel` a safe repository path? Refused: empty, absolute, a "." or ".."
 * segment, empty segments ("a//b", trailing '/'), backslashes, control
 * characters, segments over 255 bytes, paths over HYDRATE_PATH_MAX, and
 * names the hydrator uses itself (".modelcache-hydrated*", "*.incomplete",
 * "*.incomplete.chunks"). */
bool hydrate_path_ok(const char *rel);

/* Open (creating the parent directories, mode 0755) the directory that will
 * hold `rel` below dirfd, walking one component at a time with O_NOFOLLOW:
 * a symlink anywhere on the way is refused with -ELOOP. *base points into
 * rel at the last component. The returned fd is yours to close. */
int hydrate_open_parent(int dirfd, const char *rel, bool create, int *out_fd, const char **base);

/* openat(parent, name, flags | O_NOFOLLOW | O_CLOEXEC, mode); -ELOOP for a
 * symlink. */
int hydrate_openat_nofollow(int parent, const char *name, int flags, mode_t mode, int *out_fd);

/* fsync a directory fd / write a whole buffer. */
int hydrate_fsync_dir(int dirfd);
int hydrate_write_all(int fd, const void *p, size_t n);
/* pwrite a whole buffer at off. */
int hydrate_pwrite_all(int fd, const void *p, size_t n, uint64_t off);

/* Feed the first `len` bytes of fd into d (from offset 0). */
int hydrate_hash_fd(int fd, uint64_t len, struct digest *d);

/* Write data to dirfd/name atomically: name.tmp, fsync, rename, fsync dir. */
int hydrate_write_file_atomic(int dirfd, const char *name, const void *data, size_t len);

#endif
