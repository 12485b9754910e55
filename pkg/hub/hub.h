/* Hugging Face Hub client (libcurl): model info, tree, HEAD and Range reads
 * of `resolve` URLs, streaming downloads.
 *
 *   struct hub_client *c; struct hub_error err;
 *   hub_client_new(NULL, token, NULL, &c);        // endpoint: $HF_ENDPOINT or https://huggingface.co
 *   hub_model_info(c, "Qwen/Qwen3-0.6B", "main", true, &info, &err);
 *   hub_read_range(c, repo, commit, "model.safetensors", 0, 100000, &buf, &err);
 *   hub_client_free(c);
 *
 * A client is thread-safe: every call takes an idle curl easy handle from
 * the client's pool (connections are reused, each handle by one thread at a
 * time); DNS and TLS sessions are shared through a locked curl share.
 * Redirects are followed by hand (at most 5); the bearer token is sent only
 * to the endpoint's own scheme://host:port, never to another host (e.g. the
 * LFS CDN). 429 and 5xx answers and transport errors are retried with
 * exponential backoff that honours Retry-After; 401/403/404 are not retried.
 * Every JSON body is capped (opts.max_json_bytes). The token is never logged. */
#ifndef MC_HUB_HUB_H
#define MC_HUB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/buf.h"

#define HUB_DEFAULT_ENDPOINT "https://huggingface.co"

/* Error kinds; the values are the hydrator's exit codes. */
enum hub_err_kind {
	HUB_OK = 0,
	HUB_ERR_OTHER = 1,      /* network, 5xx/429 after retries, bad JSON, I/O */
	HUB_ERR_AUTH = 3,       /* 401 / 403 (gated, private, wrong token) */
	HUB_ERR_NOT_FOUND = 4,  /* repo, revision or file does not exist */
	HUB_ERR_INTEGRITY = 5,  /* size or hash mismatch, short body */
};

struct hub_error {
	enum hub_err_kind kind;
	long http_status;       /* last HTTP status seen, 0 if none */
	char msg[384];          /* one line naming the cause; never holds the token */
};

/* Functions return 0 or a negative errno-style value; on failure *err (when
 * not NULL) says why. Exit code for a process reporting this error: */
int hub_error_exit_code(const struct hub_error *err);
/* Map an HTTP status to a kind (2xx/3xx -> HUB_OK). */
enum hub_err_kind hub_error_kind_for_status(long status);
void hub_error_set(struct hub_error *err, enum hub_err_kind kind, long status,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

struct hub_opts {
	unsigned max_retries;       /* retries after the first attempt (default 5) */
	uint64_t retry_base_ms;     /* default 500 */
	uint64_t retry_max_ms;      /* default 30000; also caps Retry-After */
	long connect_timeout_s;     /* default 15 */
	long low_speed_time_s;      /* abort a transfer below 1 KiB/s for this long (default 60) */
	size_t max_json_bytes;      /* cap on JSON bodies (default 32 MiB) */
	const char *user_agent;     /* default "modelcache-operator/<version>"; copied */
	/* Budgets shared by every request of this client (0 = none), for a
	 * client that serves one task such as an estimate: a dead link on a
	 * repository of many shards costs retry_budget retries in all, not
	 * max_retries per file, and nothing is attempted or retried once
	 * time_budget_ms have passed since hub_client_new. */
	unsigned retry_budget;
	uint64_t time_budget_ms;
};

void hub_opts_default(struct hub_opts *o);

struct hub_client;   /* opaque */

/* endpoint NULL or "" => $HF_ENDPOINT, else HUB_DEFAULT_ENDPOINT (a trailing
 * '/' is dropped). token NULL or "" => anonymous. Both are copied; the copy of
 * the token is wiped on free. opts NULL => defaults. */
int hub_client_new(const char *endpoint, const char *token, const struct hub_opts *opts,
		   struct hub_client **out);
void hub_client_free(struct hub_client *c);
const char *hub_client_endpoint(const struct hub_client *c);   /* borrowed */

/* GET /api/models/{repo}[/revision/{rev}][?blobs=true]. revision NULL => the
 * default branch (no /revision/ segment). *out is yours (json_object_put). */
int hub_model_info(struct hub_client *c, const char *repo, const char *revision, bool blobs,
		   json_object **out, struct hub_error *err);

/* GET /api/models/{repo}/tree/{rev}[?recursive=true]: a JSON array of
 * {type: file|directory, path, size, oid, lfs{oid,size}}. *out is yours.
 * (Pagination through Link: rel="next" is followed and merged.) */
int hub_tree(struct hub_client *c, const char *repo, const char *revision, bool recursive,
	     json_object **out, struct hub_error *err);

struct hub_file_meta {
	int64_t size;           /* X-Linked-Size, else Content-Length; -1 unknown */
	char etag[80];          /* X-Linked-Etag else ETag, quotes removed */
	char commit[48];        /* X-Repo-Commit */
	bool lfs;               /* X-Linked-Etag present (file stored in LFS) */
};

/* HEAD /{repo}/resolve/{rev}/{path} without following the redirect. For LFS
 * files etag is the sha256, otherwise the git blob sha1. */
int hub_head(struct hub_client *c, const char *repo, const char *revision, const char *path,
	     struct hub_file_meta *out, struct hub_error *err);

/* GET resolve with "Range: bytes=offset-(offset+length-1)", appending the
 * bytes to out (capped by out->max). Fewer bytes than asked means the file
 * ends there. A server that ignores Range is handled (the unwanted part is
 * skipped and the read stops after length bytes). */
int hub_read_range(struct hub_client *c, const char *repo, const char *revision, const char *path,
		   uint64_t offset, uint64_t length, struct buf *out, struct hub_error *err);

/* Streaming download of resolve/{rev}/{path} from byte `offset` to the end.
 * write(ud, p, n) receives the bytes in order, each exactly once, starting at
 * `offset` (a transfer cut mid-way is resumed with Range and retried with
 * backoff); it returns 0, or non-zero to abort (=> -ECANCELED, kind OTHER).
 * *received (may be NULL) = bytes delivered to write. */
typedef int (*hub_write_fn)(void *ud, const void *p, size_t n);
int hub_download(struct hub_client *c, const char *repo, const char *revision, const char *path,
		 uint64_t offset, hub_write_fn write, void *ud, uint64_t *received,
		 struct hub_error *err);

/* "scheme://host:port" of a URL (lowercase, default port filled in), yours to
 * free; NULL when it does not parse. The token goes only to the endpoint's. */
char *hub_url_origin(const char *url);

/* The User-Agent every request of this client sends (borrowed). */
const char *hub_client_user_agent(const struct hub_client *c);

/* URL-escape a repo-relative path (keeps '/'); result is yours to free. */
char *hub_escape_path(const char *path);

#endif
