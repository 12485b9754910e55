/* fakehub repositories: a folder DIR/<org>/<name>/ holding the files of the
 * default revision, plus an optional .fakehub.json. Everything the Hub
 * reports about the files (sizes, LFS sha256, git blob ids, the commit, the
 * safetensors parameter counts, the gguf summary) is computed here from the
 * files. Dot-files and dot-directories are never repository files.
 *
 * Hashes are cached per absolute path, size and mtime, so a large fixture is
 * hashed once per process, not per request. Not thread-safe (fakehub serves
 * from one lws loop). */
#ifndef FAKEHUB_REPO_H
#define FAKEHUB_REPO_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#define FH_LFS_THRESHOLD (1u << 20)   /* larger files live in LFS */

struct fh_file {
	char *path;        /* repo-relative, '/'-separated */
	char *abs;         /* absolute path on disk; NULL for injected entries */
	int64_t size;
	int64_t mtime_ns;
	bool lfs;
	char sha256[65];   /* content sha256 (LFS oid) */
	char blob[41];     /* git blob sha1: of the content, or of the LFS pointer */
	int pointer_size;  /* LFS pointer file size */
};

struct fh_repo {
	char *id;          /* org/name */
	char *dir;
	struct fh_file *files;
	size_t nfiles;
	char commit[41];   /* of the default revision */
	int64_t last_mtime_ns;
	json_object *meta; /* .fakehub.json or NULL */
};

/* Keep the hash cache in ROOT/.fakehub-hashcache too (best effort: a
 * read-only root just means no persistence), so that restarting fakehub on
 * the same big fixture does not hash it again. Lines:
 *   <sha256> <git-sha1|-> <size> <mtime_ns> <absolute path> */
void fh_cache_persist(const char *root);

/* Files larger than `bytes` (0 = off) get a PSEUDO sha256 instead of hashing
 * their content: sha256("fakehub-fast-hash\0" size mtime path). Answers stay
 * instant on huge sparse fixtures used for header-only (Range) tests; a
 * hydrator fetching such a file fails verification, as it should. */
void fh_set_fast_hash_above(int64_t bytes);

/* Is this file stored in LFS (size > 1 MiB or a weight extension)? */
bool fh_is_lfs_name(const char *path, int64_t size);

/* Load DIR/<id>: scan, hash (cached), compute the commit. id must be
 * "org/name" of safe segments. 0, -ENOENT (no such repo), -EINVAL (bad id),
 * -EIO. */
int fh_repo_load(const char *root, const char *id, struct fh_repo *out);
void fh_repo_cleanup(struct fh_repo *r);
/* .fakehub.json "delayMs" of DIR/<id> (0 when absent, invalid or the id is
 * not "org/name"; capped at FH_DELAY_MAX_MS): every response for that
 * repository waits this long. Reads only the .fakehub.json. */
#define FH_DELAY_MAX_MS 600000
int fh_repo_delay_ms(const char *root, const char *id);

/* Resolve a revision: "main", the commit, an alias in .fakehub.json
 * "revisions" or an alias's commit. Writes the commit (41 bytes) or returns
 * -ENOENT. */
int fh_repo_resolve(const struct fh_repo *r, const char *rev, char commit[41]);

/* Gate: 0 allowed, 401 (no token) or 403 (wrong token). auth is the
 * Authorization header value or NULL. */
int fh_repo_check_auth(const struct fh_repo *r, const char *auth);

const struct fh_file *fh_repo_find(const struct fh_repo *r, const char *path);
/* A file by LFS sha256 across the cache of everything hashed so far:
 * the absolute path (borrowed) and size, or NULL. */
const char *fh_lfs_lookup(const char *sha256, int64_t *size);

/* Model info (GET /api/models/{id}[/revision/{rev}]); yours to put. */
json_object *fh_repo_info(const struct fh_repo *r, const char *commit, bool blobs);
/* Tree listing under `path` ("" = root), recursive or one level; expand adds
 * lastCommit (the revision's commit) and, for files, securityFileStatus. */
json_object *fh_repo_tree(const struct fh_repo *r, const char *path, bool recursive, bool expand,
			  const char *commit);
/* POST /api/models/{id}/paths-info/{rev}: the entries (tree shape) of the
 * paths that exist, files or folders, in the order asked, each once. */
json_object *fh_repo_paths_info(const struct fh_repo *r, const char *const *paths, size_t n, bool expand,
				const char *commit);

/* Header readers used for the info (exposed for tests). */
int fh_safetensors_counts(const char *abs, json_object *per_dtype, int64_t *total);
int fh_gguf_summary(const char *abs, json_object **out);

#endif
