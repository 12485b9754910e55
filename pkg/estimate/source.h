/* Byte sources for the readers: one file's bytes at an offset, from a local
 * file or by HTTP Range through pkg/hub; and a "repo" = a file listing plus
 * ranged reads of those files (a local directory or a Hub repo).
 *
 * Every source counts the bytes and reads it served so a caller (tests,
 * bench/estimate.sh) can prove that only headers were read. */
#ifndef MC_ESTIMATE_SOURCE_H
#define MC_ESTIMATE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct hub_client;

/* One file. read_at returns 0 and *got (< len only at end of file), or a
 * negative errno. size is the file's size (known up front). */
struct est_source {
	int (*read_at)(void *ctx, uint64_t off, void *buf, size_t len, size_t *got);
	void *ctx;
	uint64_t size;
	uint64_t bytes_read;    /* counters, updated by est_source_read */
	uint64_t reads;
};

/* Reads exactly len bytes (fewer => -EIO "truncated"); bounds-checked
 * against size; counts bytes. */
int est_source_read(struct est_source *s, uint64_t off, void *buf, size_t len);

/* A source over memory (tests, fuzzers). The memory is borrowed. */
void est_source_mem(struct est_source *s, const void *data, size_t len);

#define EST_REPO_MAX_FILES 100000

struct est_file_entry {
	char *path;
	int64_t size;
};

/* Thread-safety: read_at may be called from several threads at once (the
 * estimator reads shard headers in parallel); list/info/free are called from
 * one thread. */
struct est_repo_ops {
	/* List every file (recursive). *files is an xmalloc'd array the repo
	 * owns until est_repo_free. 0 or an enum estimate_err. */
	int (*list)(void *ctx, struct est_file_entry **files, size_t *n, char **errmsg);
	/* Read from one listed file (see est_source.read_at). */
	int (*read_at)(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
		       size_t *got);
	/* Hub model info (hints) or NULL; borrowed. */
	json_object *(*info)(void *ctx);
	void (*free)(void *ctx);
};

struct est_repo {
	const struct est_repo_ops *ops;
	void *ctx;
	const char *commit;     /* resolved commit if known (borrowed from ctx) */
	uint64_t bytes_read;    /* total over every est_repo_source */
	uint64_t reads;
	void *priv_cells;       /* internal: per-source contexts, freed with the repo */
};

/* Wrap any implementation (ctx is passed to ops and freed by ops->free). */
struct est_repo *est_repo_new(const struct est_repo_ops *ops, void *ctx);

/* A local directory as a repo (hidden entries skipped; symlinked files are
 * read, as in the Hugging Face cache layout; symlinked directories are not
 * descended; at most EST_REPO_MAX_FILES files, depth 16). 0 or
 * ESTIMATE_ERR_NOT_FOUND. Free with est_repo_free. */
int est_repo_dir_new(const char *dir, struct est_repo **out, char **errmsg);
/* A list of local files as a repo; each file's path is its basename unless
 * the names clash. */
int est_repo_files_new(const char *const *paths, size_t n, struct est_repo **out, char **errmsg);
/* A Hub repo at a revision: model info (blobs=true) gives the listing and the
 * commit; reads are Range requests. The hub client is borrowed. */
int est_repo_hub_new(struct hub_client *hub, const char *repo, const char *revision,
		     struct est_repo **out, char **errmsg);
void est_repo_free(struct est_repo *r);

/* A source reading one file of the repo (counts into the repo too). */
void est_repo_source(struct est_repo *r, const char *path, int64_t size, struct est_source *s);

/* Read a whole small file (config.json, model_index.json) up to max bytes;
 * *data is NUL-terminated, yours. -E2BIG past max. */
int est_repo_read_small(struct est_repo *r, const char *path, int64_t size, size_t max,
			char **data, size_t *len);

#endif
