/* The completion marker DEST/.modelcache-hydrated: JSON written last (temp
 * file + fsync + rename) once every file is in place and verified.
 *
 *   {"version": 1, "repo": "org/name", "revision": "main", "commit": "<40 hex>",
 *    "completedAt": "2026-11-23T16:00:00Z", "totalBytes": N, "layout": "Flat",
 *    "files": [{"path": "config.json", "size": 575, "gitSha1": "..."},
 *              {"path": "model.safetensors", "size": 2757296, "sha256": "..."}]}
 *
 * LFS files carry their sha256, the others their git blob sha1. "layout" is
 * Flat (files at their paths) or HuggingFaceCache (hydrate.c); a marker
 * without it is Flat. The token
 * never goes in the marker. */
#ifndef MC_HYDRATE_MARKER_H
#define MC_HYDRATE_MARKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define HYDRATE_MARKER ".modelcache-hydrated"
#define HYDRATE_MARKER_MAX (64u << 20)

struct hydrate_file {
	char *path;
	int64_t size;
	bool lfs;        /* hash is a sha256; else a git blob sha1 */
	char hash[65];
};

enum hydrate_layout { HYDRATE_LAYOUT_FLAT = 0, HYDRATE_LAYOUT_HF_CACHE = 1 };

struct hydrate_manifest {
	enum hydrate_layout layout;
	char *repo;
	char *revision;
	char commit[65];
	struct hydrate_file *files;   /* sorted by path (hydrate_manifest_sort) */
	size_t nfiles;
};

void hydrate_manifest_sort(struct hydrate_manifest *m);
void hydrate_manifest_cleanup(struct hydrate_manifest *m);
/* Same layout, repo, commit and files (path, size, kind of hash, hash)? The revision
 * name is not compared: an alias and its commit are the same content. */
bool hydrate_manifest_equal(const struct hydrate_manifest *a, const struct hydrate_manifest *b);

/* JSON text of the marker (yours to free). */
char *hydrate_marker_render(const struct hydrate_manifest *m, int64_t completed_unix);
/* Parse marker text; -EINVAL for anything malformed. */
int hydrate_marker_parse(const char *text, size_t len, struct hydrate_manifest *out);

/* Read DEST/.modelcache-hydrated (no symlink, capped): 0, -ENOENT or -EINVAL. */
int hydrate_marker_read(int dirfd, struct hydrate_manifest *out);
/* Write it atomically (temp + fsync + rename + fsync dir). */
int hydrate_marker_write(int dirfd, const struct hydrate_manifest *m, int64_t completed_unix);
/* Remove it (and fsync the directory); a missing marker is fine. */
int hydrate_marker_remove(int dirfd);

#endif
