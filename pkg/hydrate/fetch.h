/* The hydrator's downloader: every file of a manifest into its place below
 * a directory, over --connections parallel HTTP/1.1 transfers (libcurl
 * multi, one TCP connection per request in flight) shared by all files.
 * docs/concepts.md "Hydration" describes the behaviour:
 *
 * - Files are taken smallest first. A file larger than the chunk size is
 *   split into chunks fetched as parallel Range requests written at their
 *   offsets (pwrite) into PATH.incomplete.
 * - Verification is exact and streaming: a hasher thread advances the
 *   file's digest (sha256 for LFS files, git blob sha1 otherwise) over the
 *   contiguous completed prefix, reading back what the page cache holds;
 *   the file is fsynced and renamed into place only when the digest
 *   matches, so memory does not grow with the file size.
 * - Resume: a file of one chunk resumes from the size of its .incomplete
 *   (one transfer wrote it in order). Files over HYDRATE_SYNC_MAX bytes keep
 *   a chunk map
 *   (chunkmap.h). A syncer thread fsyncs the data and then records each
 *   chunk's progress; a transfer that is HYDRATE_SYNC_MAX ahead of its
 *   chunk's record pauses until the record catches up, so an interrupted
 *   run re-fetches at most HYDRATE_SYNC_MAX bytes per transfer in flight
 *   (a run that fails records everything it received). A resumed file whose
 *   digest does not match is fetched once more from byte 0 before the
 *   mismatch counts; a mismatch removes PATH.incomplete and its map.
 * - Stall watchdog: a transfer with no byte for stall_timeout_s is
 *   aborted and resumed by Range from where it stopped; 429/5xx/transport
 *   errors are retried with backoff (Retry-After honoured); after `retries`
 *   retries of one chunk the run fails naming the file.
 * - The bearer token goes only to the endpoint's own origin (redirects are
 *   followed by hand; the redirect target of a file is reused for its other
 *   chunks and dropped when it stops working).
 * Progress lines go to stderr every progress_s seconds. */
#ifndef MC_HYDRATE_FETCH_H
#define MC_HYDRATE_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HYDRATE_DEFAULT_CHUNK (64ull << 20)
#define HYDRATE_MAX_CONNECTIONS 64
#define HYDRATE_SYNC_MAX (8ull << 20)

struct hydrate_fetch_opts {
	const char *endpoint;       /* without trailing '/' */
	const char *token;          /* NULL = anonymous; never printed */
	const char *user_agent;
	const char *repo;
	const char *commit;
	unsigned connections;       /* 1..HYDRATE_MAX_CONNECTIONS */
	uint64_t chunk_size;        /* >= 1 MiB */
	unsigned stall_timeout_s;
	unsigned retries;
	unsigned retry_base_ms;
	unsigned progress_s;
	long connect_timeout_s;
};

struct hydrate_fetch_file {
	const char *path;           /* repository path (the resolve URL) */
	const char *dest;           /* where it goes, relative to the directory */
	int64_t size;
	bool lfs;
	const char *hash;           /* sha256 (lfs) or git blob sha1, hex */
};

struct hydrate_fetch_stats {
	uint64_t fetched;           /* body bytes received */
	uint64_t in_place;          /* bytes found already in place and verified */
	unsigned stalls;            /* transfers aborted by the watchdog */
	unsigned retries;           /* transfers retried (stalls included) */
	unsigned max_in_use;        /* most transfers in flight at once */
	unsigned sync_waits;        /* times a transfer waited for the syncer */
	uint64_t resumed;           /* bytes claimed by chunk maps at start */
};

/* Download (or verify in place) every file. Returns the exit code: 0, 1
 * (network, stall, I/O after the retries), 3 (401/403), 4 (404), 5 (size or
 * digest mismatch); on failure msg holds one line naming the file. */
int hydrate_fetch_all(int dirfd, const struct hydrate_fetch_file *files, size_t n,
		      const struct hydrate_fetch_opts *o, struct hydrate_fetch_stats *st, char *msg,
		      size_t msgcap);

/* The digest of a file as the Hub lists it (git blob header included). */
struct digest *hydrate_new_digest(bool lfs, int64_t size);

#endif
