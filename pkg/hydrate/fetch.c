/* The parallel downloader of the hydrator: see fetch.h.
 *
 * Threads: the caller's thread runs the libcurl multi loop (scheduling,
 * write callbacks, completions, the stall watchdog, progress); a hasher
 * thread advances the digests and renames verified files into place; a
 * syncer thread fsyncs data and then records chunk progress in the maps.
 * Shared state is under run.mu, except the per-chunk byte counters (`got`
 * written by the loop, `durable` by the syncer), which are atomics. */
#include "hydrate/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hub/hub.h"
#include "hydrate/chunkmap.h"
#include "hydrate/fsutil.h"
#include "util/backoff.h"
#include "util/digest.h"
#include "util/log.h"
#include "util/mem.h"

#define SYNC_STEP (4ull << 20)       /* the syncer records a chunk every 4 MiB... */
#define KICK_STEP (1ull << 20)       /* ...and starts writeback every MiB before that */
#define MAX_OPEN_FILES 128           /* .incomplete files open at once */
#define HASH_BLOCK (1u << 20)
#define HASH_QUANTUM (16ull << 20)   /* then looks at the other files */
#define CURL_BUF (128L * 1024L)
#define MAX_REDIRECTS 5
#define ERR_BODY_CAP (64u << 10)

enum { CH_WAIT, CH_ACTIVE, CH_DONE };
enum { F_QUEUED, F_OPEN, F_FINAL, F_DONE };

struct chunk {
	uint64_t off, len;
	_Atomic uint64_t got;        /* bytes from off that are written */
	_Atomic uint64_t durable;    /* bytes from off the map records */
	uint64_t snap;               /* syncer: got before its fdatasync */
	uint64_t kicked;             /* syncer: bytes from off handed to writeback */
	int state;
	unsigned attempts;
	uint64_t not_before;         /* ms, for a retry's backoff */
};

struct file {
	const struct hydrate_fetch_file *in;
	size_t rank;                 /* position in the smallest-first order */
	int state;
	int pfd, fd;
	const char *base;            /* into in->dest */
	char *inc, *mapname;
	bool has_map;
	struct hydrate_chunkmap map;
	uint32_t n;
	struct chunk *ch;
	uint32_t pending, active, hint;
	uint64_t hashed;
	struct digest *d;
	bool resumed, syncing, hashing;
	int pass;
	char *url;                   /* redirect target reused for other chunks */
};

struct run;

struct xfer {
	struct run *r;
	CURL *h;
	struct file *f;
	uint32_t ci;
	uint64_t pos, end;           /* next byte, end of the range (absolute) */
	uint64_t last_ms;
	bool active, paused, first, discard, too_long, no_range, bad_range, enough, cached;
	long status;
	int werr, hops;
	size_t discarded;
	long retry_after_s;
	int64_t cr_start, cr_total;
	char *url;
	char *auth;
	struct curl_slist *hdrs;
	char errbuf[CURL_ERROR_SIZE];
};

struct run {
	const struct hydrate_fetch_opts *o;
	int dirfd;
	char *origin;
	struct file *files;
	size_t nfiles;
	size_t *order;               /* file indexes, smallest first */
	CURLM *multi;
	struct xfer *x;
	unsigned nx, in_use;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	atomic_bool abort;
	bool failed;
	int code;
	char msg[512];
	size_t scan_from, files_done;
	unsigned open_files;
	atomic_uint_fast64_t fetched;
	uint64_t have0;              /* in place + claimed at start */
	_Atomic uint64_t reset_bytes;
	atomic_uint sync_waits;
	uint64_t total;
	struct hydrate_fetch_stats *st;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fail_locked(struct run *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail_locked(struct run *r, int code, const char *fmt, ...)
{
	if (!r->failed) {
		r->failed = true;
		r->code = code;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	atomic_store(&r->abort, true);
	pthread_cond_broadcast(&r->cv);
}

#define FAIL(r, ...)                                                                                   \
	do {                                                                                           \
		pthread_mutex_lock(&(r)->mu);                                                          \
		fail_locked((r), __VA_ARGS__);                                                         \
		pthread_mutex_unlock(&(r)->mu);                                                        \
		curl_multi_wakeup((r)->multi);                                                         \
	} while (0)

struct digest *hydrate_new_digest(bool lfs, int64_t size)
{
	if (lfs)
		return digest_new(DIGEST_SHA256);
	struct digest *d = digest_new(DIGEST_SHA1);
	char hdr[48];
	int n = snprintf(hdr, sizeof(hdr), "blob %" PRId64, size);
	digest_update(d, hdr, (size_t)n + 1);   /* git blob header with its NUL */
	return d;
}

static const char *hash_name(const struct hydrate_fetch_file *f)
{
	return f->lfs ? "sha256" : "git sha1";
}

/* ------------------------------------------------------------------ files */

/* Is the file already in place with the right size and hash? 1 yes, 0 no
 * (a wrong one is removed), <0 error. */
static int check_existing(int pfd, const char *base, const struct hydrate_fetch_file *f)
{
	struct stat st;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if (st.st_size == f->size) {
		int fd;
		int e = hydrate_openat_nofollow(pfd, base, O_RDONLY, 0, &fd);
		if (e < 0)
			return e;
		struct digest *d = hydrate_new_digest(f->lfs, f->size);
		char got[65];
		e = hydrate_hash_fd(fd, (uint64_t)f->size, d);
		digest_final_hex(d, got);
		digest_free(d);
		close(fd);
		if (e < 0)
			return e;
		if (strcmp(got, f->hash) == 0)
			return 1;
	}
	if (unlinkat(pfd, base, 0) < 0)
		return -errno;
	return 0;
}

static void close_file(struct file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->pfd >= 0)
		close(f->pfd);
	if (f->has_map)
		hydrate_chunkmap_close(&f->map);
	f->fd = f->pfd = -1;
	f->has_map = false;
	digest_free(f->d);
	f->d = NULL;
	free(f->ch);
	f->ch = NULL;
	free(f->inc);
	free(f->mapname);
	f->inc = f->mapname = NULL;
}

/* Open PATH.incomplete (and its map) and lay out the chunks. Under mu.
 * 0, or the run has failed. */
static int open_file(struct run *r, struct file *f)
{
	const struct hydrate_fetch_file *in = f->in;
	uint64_t size = (uint64_t)in->size;
	int e = hydrate_open_parent(r->dirfd, in->dest, true, &f->pfd, &f->base);
	if (e < 0) {
		fail_locked(r, 1, "cannot open the folder of %s: %s", in->path, strerror(-e));
		return -1;
	}
	f->inc = xasprintf("%s.incomplete", f->base);
	e = hydrate_openat_nofollow(f->pfd, f->inc, O_RDWR | O_CREAT, 0644, &f->fd);
	struct stat st;
	if (e == 0 && (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)))
		e = -EINVAL;
	if (e < 0) {
		fail_locked(r, 1, "cannot open %s.incomplete: %s", in->path, strerror(-e));
		return -1;
	}
	if (size > HYDRATE_SYNC_MAX) {
		bool resumed = false;
		f->mapname = xasprintf("%s" HYDRATE_MAP_SUFFIX, f->base);
		e = hydrate_chunkmap_open(f->pfd, f->mapname, size, r->o->chunk_size, in->hash, &f->map, &resumed);
		if (e < 0) {
			fail_locked(r, 1, "cannot open the chunk map of %s: %s", in->path, strerror(-e));
			return -1;
		}
		f->has_map = true;
		/* claims beyond the end of the data file are not believed */
		for (uint32_t i = 0; resumed && i < f->map.n; i++)
			if (hydrate_chunk_off(&f->map, i) + f->map.done[i] > (uint64_t)st.st_size) {
				LOG_WARN("chunk map claims more than the file holds, starting over", "file=%s", in->path);
				if ((e = hydrate_chunkmap_reset(&f->map)) < 0) {
					fail_locked(r, 1, "cannot reset the chunk map of %s: %s", in->path, strerror(-e));
					return -1;
				}
				resumed = false;
			}
		f->n = f->map.n;
		f->ch = xcalloc(f->n, sizeof(*f->ch));
		uint64_t claimed = 0;
		for (uint32_t i = 0; i < f->n; i++) {
			struct chunk *c = &f->ch[i];
			c->off = hydrate_chunk_off(&f->map, i);
			c->len = hydrate_chunk_len(&f->map, i);
			uint64_t d = resumed ? f->map.done[i] : 0;
			atomic_init(&c->got, d);
			atomic_init(&c->durable, d);
			c->state = d == c->len ? CH_DONE : CH_WAIT;
			claimed += d;
		}
		f->resumed = resumed;
		if (resumed) {
			r->have0 += claimed;
			r->st->resumed += claimed;
			fprintf(stderr, "hydrate: resuming %s: %" PRIu64 " of %" PRIu64 " bytes on disk (%u chunks)\n",
				in->path, claimed, size, f->n);
		}
	} else {
		/* one transfer wrote it from byte 0 on: what it holds is the
		 * resume point (the digest decides, see finalize) */
		uint64_t have = (uint64_t)st.st_size;
		if (have > size) {
			if (ftruncate(f->fd, 0) < 0) {
				fail_locked(r, 1, "cannot truncate %s.incomplete: %s", in->path, strerror(errno));
				return -1;
			}
			have = 0;
		}
		f->n = 1;
		f->ch = xcalloc(1, sizeof(*f->ch));
		f->ch[0].len = size;
		atomic_init(&f->ch[0].got, have);
		atomic_init(&f->ch[0].durable, have);
		f->ch[0].state = have == size ? CH_DONE : CH_WAIT;
		f->resumed = have > 0;
		r->have0 += have;
		r->st->resumed += have;
	}
	f->pending = 0;
	for (uint32_t i = 0; i < f->n; i++)
		if (f->ch[i].state == CH_WAIT)
			f->pending++;
	f->d = hydrate_new_digest(in->lfs, in->size);
	f->hashed = 0;
	f->state = F_OPEN;
	r->open_files++;
	pthread_cond_broadcast(&r->cv);
	return 0;
}

/* ------------------------------------------------------------------ transfers */

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	size_t n = sz * nm;
	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		x->cr_start = x->cr_total = -1;
		x->retry_after_s = -1;
	} else if (n > 14 && strncasecmp(p, "content-range:", 14) == 0) {
		char v[96];
		snprintf(v, sizeof(v), "%.*s", (int)(n - 14 < sizeof(v) - 1 ? n - 14 : sizeof(v) - 1), p + 14);
		unsigned long long a, b, t;
		if (sscanf(v, " bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
			x->cr_start = (int64_t)a;
			x->cr_total = (int64_t)t;
		}
	} else if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
		char v[32];
		snprintf(v, sizeof(v), "%.*s", (int)(n - 12 < sizeof(v) - 1 ? n - 12 : sizeof(v) - 1), p + 12);
		long s = strtol(v, NULL, 10);
		if (s >= 0 && s <= 3600)
			x->retry_after_s = s;
	}
	return n;
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
	struct xfer *x = ud;
	struct run *r = x->r;
	struct file *f = x->f;
	struct chunk *c = &f->ch[x->ci];
	size_t n = sz * nm;
	if (atomic_load(&r->abort))
		return 0;
	if (!x->first) {
		x->first = true;
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status < 200 || x->status >= 300) {
			x->discard = true;
		} else if (x->status == 206) {
			if (x->cr_start != (int64_t)x->pos || (x->cr_total >= 0 && x->cr_total != f->in->size)) {
				x->bad_range = true;
				return 0;
			}
		} else if (x->pos != 0) {
			x->no_range = true;   /* a whole body where a range was asked */
			return 0;
		}
	}
	if (x->discard) {
		x->discarded += n;
		return x->discarded > ERR_BODY_CAP ? 0 : n;
	}
	if (f->has_map && atomic_load(&c->got) - atomic_load(&c->durable) >= HYDRATE_SYNC_MAX) {
		x->paused = true;     /* the syncer catches up first */
		atomic_fetch_add(&r->sync_waits, 1);
		return CURL_WRITEFUNC_PAUSE;
	}
	size_t m = n;
	if (x->pos + m > x->end) {
		if (x->status == 200 && x->end < (uint64_t)f->in->size) {
			m = (size_t)(x->end - x->pos);   /* the rest of a whole body is not ours */
			x->enough = true;
		} else {
			x->too_long = true;
			return 0;
		}
	}
	int e = hydrate_pwrite_all(f->fd, p, m, x->pos);
	if (e < 0) {
		x->werr = e;
		return 0;
	}
	x->pos += m;
	atomic_fetch_add(&c->got, m);
	atomic_fetch_add(&r->fetched, m);
	x->last_ms = now_ms();
	return x->enough ? 0 : n;
}

static char *resolve_url(struct run *r, const struct hydrate_fetch_file *f)
{
	char *esc = hub_escape_path(f->path);
	char *u = xasprintf("%s/%s/resolve/%s/%s", r->o->endpoint, r->o->repo, r->o->commit, esc);
	free(esc);
	return u;
}

static void xfer_release(struct xfer *x)
{
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
	free_secret(x->auth);
	x->auth = NULL;
}

/* (Re)start transfer x at x->url. */
static int xfer_add(struct run *r, struct xfer *x)
{
	CURL *h = x->h;
	char range[64];
	xfer_release(x);
	curl_easy_reset(h);
	x->first = x->discard = x->too_long = x->no_range = x->bad_range = x->enough = x->paused = false;
	x->status = 0;
	x->discarded = 0;
	x->cr_start = x->cr_total = -1;
	x->retry_after_s = -1;
	x->errbuf[0] = '\0';
	x->last_ms = now_ms();
	curl_easy_setopt(h, CURLOPT_URL, x->url);
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	curl_easy_setopt(h, CURLOPT_USERAGENT, r->o->user_agent);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, r->o->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, CURL_BUF);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* one TCP connection per request in flight: against a link limited per
	 * connection, HTTP/2 multiplexing would put every range on one */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 0L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "identity");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, x->pos, x->end - 1);
	curl_easy_setopt(h, CURLOPT_RANGE, range);
	char *origin = hub_url_origin(x->url);
	if (r->o->token && origin && strcmp(origin, r->origin) == 0) {
		x->auth = xasprintf("Authorization: Bearer %s", r->o->token);
		x->hdrs = curl_slist_append(x->hdrs, x->auth);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
	}
	free(origin);
	if (curl_multi_add_handle(r->multi, h) != CURLM_OK)
		return -1;
	x->active = true;
	return 0;
}

/* Under mu: the next chunk to fetch, opening files as needed. */
static bool pick(struct run *r, struct file **fo, uint32_t *co)
{
	uint64_t now = now_ms();
	bool advancing = true;
	for (size_t k = r->scan_from; k < r->nfiles && !r->failed; k++) {
		struct file *f = &r->files[r->order[k]];
		if (f->state == F_QUEUED) {
			if (r->open_files >= MAX_OPEN_FILES || open_file(r, f) < 0)
				return false;
		}
		if (f->state != F_OPEN || f->pending == 0) {
			if (advancing && f->state != F_QUEUED)
				r->scan_from = k + 1;
			continue;
		}
		advancing = false;
		for (uint32_t i = f->hint; i < f->n; i++) {
			struct chunk *c = &f->ch[i];
			if (c->state != CH_WAIT || c->not_before > now)
				continue;
			if (i == f->hint)
				f->hint++;
			*fo = f;
			*co = i;
			return true;
		}
	}
	return false;
}

static void schedule(struct run *r)
{
	pthread_mutex_lock(&r->mu);
	for (unsigned s = 0; s < r->nx && !r->failed; s++) {
		struct xfer *x = &r->x[s];
		if (x->active)
			continue;
		struct file *f;
		uint32_t ci;
		if (!pick(r, &f, &ci))
			break;
		struct chunk *c = &f->ch[ci];
		c->state = CH_ACTIVE;
		f->pending--;
		f->active++;
		x->f = f;
		x->ci = ci;
		x->pos = c->off + atomic_load(&c->got);
		x->end = c->off + c->len;
		x->hops = 0;
		x->cached = f->url != NULL;
		free(x->url);
		x->url = f->url ? xstrdup(f->url) : resolve_url(r, f->in);
		if (xfer_add(r, x) < 0) {
			fail_locked(r, 1, "cannot start a transfer of %s", f->in->path);
			break;
		}
		r->in_use++;
		if (r->in_use > r->st->max_in_use)
			r->st->max_in_use = r->in_use;
	}
	pthread_mutex_unlock(&r->mu);
}

/* Under mu: chunk of x goes back to the queue; false when out of retries. */
static bool requeue(struct run *r, struct xfer *x, bool count)
{
	struct file *f = x->f;
	struct chunk *c = &f->ch[x->ci];
	c->state = CH_WAIT;
	f->active--;
	f->pending++;
	if (x->ci < f->hint)
		f->hint = x->ci;
	if (f->rank < r->scan_from)
		r->scan_from = f->rank;
	if (!count)
		return true;
	r->st->retries++;
	if (++c->attempts > r->o->retries)
		return false;
	uint64_t delay = backoff_delay(r->o->retry_base_ms, 30000, 2.0, c->attempts - 1);
	if (x->retry_after_s >= 0)
		delay = (uint64_t)x->retry_after_s * 1000u;
	c->not_before = now_ms() + delay;
	return true;
}

static void detach(struct run *r, struct xfer *x)
{
	curl_multi_remove_handle(r->multi, x->h);
	xfer_release(x);
	x->active = false;
	r->in_use--;
}

/* A transfer ended (CURLMSG_DONE). */
static void finished(struct run *r, struct xfer *x, CURLcode res)
{
	struct file *f = x->f;
	struct chunk *c = &f->ch[x->ci];
	const char *path = f->in->path;
	long status = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	curl_multi_remove_handle(r->multi, x->h);
	pthread_mutex_lock(&r->mu);
	if (x->werr) {
		fail_locked(r, 1, "cannot write %s.incomplete: %s", path, strerror(-x->werr));
	} else if (x->too_long) {
		fail_locked(r, 5, "integrity: %s is larger than the %" PRId64 " bytes listed", path, f->in->size);
	} else if (x->bad_range) {
		fail_locked(r, 5, "integrity: %s: the answer to Range %" PRIu64 "- is bytes %" PRId64 "-/%" PRId64
			    ", %" PRId64 " bytes listed", path, x->pos, x->cr_start, x->cr_total, f->in->size);
	} else if (x->no_range) {
		fail_locked(r, 1, "%s: the server ignored a Range request (HTTP %ld)", path, status);
	} else if (res == CURLE_OK && status >= 300 && status < 400) {
		char *loc = NULL;
		curl_easy_getinfo(x->h, CURLINFO_REDIRECT_URL, &loc);
		if (!loc || ++x->hops > MAX_REDIRECTS) {
			fail_locked(r, 1, "%s: HTTP %ld %s", path, status, loc ? "redirects too often" : "without Location");
		} else {
			char *u = xstrdup(loc);
			free(x->url);
			x->url = u;
			xfer_release(x);
			x->active = false;
			if (xfer_add(r, x) < 0)
				fail_locked(r, 1, "cannot follow the redirect of %s", path);
			pthread_mutex_unlock(&r->mu);
			return;
		}
	} else if ((res == CURLE_OK && status >= 200 && status < 300) || (res == CURLE_WRITE_ERROR && x->enough)) {
		if (atomic_load(&c->got) == c->len) {
			c->state = CH_DONE;
			f->active--;
			if (x->hops > 0 && !f->url)
				f->url = xstrdup(x->url);
			pthread_cond_broadcast(&r->cv);
		} else if (!requeue(r, x, true)) {   /* a short body: the link was cut */
			fail_locked(r, 1, "%s: transfers keep ending early (%u retries)", path, r->o->retries);
		}
	} else if (x->cached && (status == 401 || status == 403 || status == 404 || status == 410)) {
		/* the redirect target expired: resolve again */
		free(f->url);
		f->url = NULL;
		requeue(r, x, false);
	} else if (status == 401 || status == 403) {
		fail_locked(r, 3, "%s: HTTP %ld: not authorized (gated or private repository, or a wrong token)", path,
			    status);
	} else if (status == 404) {
		fail_locked(r, 4, "%s not found in %s@%s (HTTP 404)", path, r->o->repo, r->o->commit);
	} else if (status == 416) {
		fail_locked(r, 5, "integrity: %s is shorter than the %" PRId64 " bytes listed (HTTP 416)", path,
			    f->in->size);
	} else if (res == CURLE_OK && status >= 400 && status < 500 && status != 408 && status != 429) {
		fail_locked(r, 1, "%s: HTTP %ld", path, status);
	} else {
		char why[CURL_ERROR_SIZE + 32];
		if (res != CURLE_OK)
			snprintf(why, sizeof(why), "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
		else
			snprintf(why, sizeof(why), "HTTP %ld", status);
		if (!requeue(r, x, true))
			fail_locked(r, 1, "%s: %s (after %u retries)", path, why, r->o->retries);
		else
			fprintf(stderr, "hydrate: retrying %s at offset %" PRIu64 ": %s\n", path, x->pos, why);
	}
	xfer_release(x);
	x->active = false;
	r->in_use--;
	pthread_mutex_unlock(&r->mu);
}

/* Stalled transfers are aborted and resumed; paused ones resumed once the
 * syncer caught up. */
static void watchdog(struct run *r)
{
	uint64_t now = now_ms(), limit = (uint64_t)r->o->stall_timeout_s * 1000u;
	for (unsigned s = 0; s < r->nx; s++) {
		struct xfer *x = &r->x[s];
		if (!x->active)
			continue;
		struct chunk *c = &x->f->ch[x->ci];
		if (x->paused) {
			if (atomic_load(&c->got) - atomic_load(&c->durable) < HYDRATE_SYNC_MAX) {
				x->paused = false;
				x->last_ms = now;
				curl_easy_pause(x->h, CURLPAUSE_CONT);
			}
			continue;
		}
		if (now - x->last_ms <= limit)
			continue;
		pthread_mutex_lock(&r->mu);
		const char *path = x->f->in->path;
		r->st->stalls++;
		uint64_t at = x->pos;
		bool again = requeue(r, x, true);
		unsigned att = c->attempts;
		detach(r, x);
		if (!again)
			fail_locked(r, 1, "stalled: no byte of %s for %us at offset %" PRIu64 ", %u attempts", path,
				    r->o->stall_timeout_s, at, att);
		pthread_mutex_unlock(&r->mu);
		if (again)
			fprintf(stderr, "hydrate: stall: no byte of %s for %us, resuming at offset %" PRIu64
				" (retry %u of %u)\n", path, r->o->stall_timeout_s, at, att, r->o->retries);
	}
}

static void human(uint64_t b, char *out, size_t n)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(out, n, "%.1f %s", v, u[i]);
}

static void progress(struct run *r, uint64_t *last_fetched, uint64_t *last_ms)
{
	uint64_t now = now_ms(), got = atomic_load(&r->fetched);
	double secs = (double)(now - *last_ms) / 1000.0;
	double rate = secs > 0 ? (double)(got - *last_fetched) / secs : 0;
	uint64_t have = r->have0 + got - atomic_load(&r->reset_bytes);
	if (have > r->total)
		have = r->total;
	char a[32], b[32], eta[32] = "?";
	human(have, a, sizeof(a));
	human(r->total, b, sizeof(b));
	if (rate > 0)
		snprintf(eta, sizeof(eta), "%.0fs", (double)(r->total - have) / rate);
	pthread_mutex_lock(&r->mu);
	size_t done = r->files_done;
	unsigned used = r->in_use, stalls = r->st->stalls, retries = r->st->retries;
	pthread_mutex_unlock(&r->mu);
	fprintf(stderr,
		"hydrate: progress %s/%s (%.0f%%) %.1f MB/s connections %u/%u files %zu/%zu stalls %u retries %u "
		"eta %s\n",
		a, b, r->total ? 100.0 * (double)have / (double)r->total : 100.0, rate / 1e6, used, r->nx, done,
		r->nfiles, stalls, retries, eta);
	*last_fetched = got;
	*last_ms = now;
}

/* ------------------------------------------------------------------ hasher */

/* Under mu: wait for news or 20 ms (the hasher and syncer poll). */
static void nap(struct run *r)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

/* Under mu: the end of the contiguous written prefix of f. */
static uint64_t prefix_end(struct file *f)
{
	for (uint32_t i = 0; i < f->n; i++) {
		uint64_t g = atomic_load(&f->ch[i].got);
		if (g < f->ch[i].len)
			return f->ch[i].off + g;
	}
	return (uint64_t)f->in->size;
}

/* Outside mu, f in F_FINAL: compare, then rename into place or start over. */
static void finalize(struct run *r, struct file *f)
{
	const struct hydrate_fetch_file *in = f->in;
	char got[65];
	int e;
	digest_final_hex(f->d, got);
	digest_free(f->d);
	f->d = NULL;
	if (strcmp(got, in->hash) != 0) {
		if (f->resumed && f->pass == 0) {
			/* the claimed part may come from another run gone wrong:
			 * fetch the whole file once more before it counts */
			LOG_WARN("resumed file failed verification, fetching it again", "file=%s", in->path);
			fprintf(stderr, "hydrate: %s failed verification after a resume, fetching it again\n", in->path);
			if (f->has_map && (e = hydrate_chunkmap_reset(&f->map)) < 0) {
				FAIL(r, 1, "cannot reset the chunk map of %s: %s", in->path, strerror(-e));
				return;
			}
			pthread_mutex_lock(&r->mu);
			for (uint32_t i = 0; i < f->n; i++) {
				atomic_fetch_add(&r->reset_bytes, atomic_load(&f->ch[i].got));
				atomic_store(&f->ch[i].got, 0);
				atomic_store(&f->ch[i].durable, 0);
				f->ch[i].state = f->ch[i].len ? CH_WAIT : CH_DONE;
				f->ch[i].attempts = 0;
			}
			f->pending = f->n;
			f->hint = 0;
			f->hashed = 0;
			f->d = hydrate_new_digest(in->lfs, in->size);
			f->resumed = false;
			f->pass = 1;
			f->state = F_OPEN;
			if (f->rank < r->scan_from)
				r->scan_from = f->rank;
			pthread_mutex_unlock(&r->mu);
			curl_multi_wakeup(r->multi);
			return;
		}
		unlinkat(f->pfd, f->inc, 0);
		if (f->has_map)
			unlinkat(f->pfd, f->mapname, 0);
		FAIL(r, 5, "integrity: %s mismatch for %s: expected %s, got %s", hash_name(in), in->path, in->hash, got);
		return;
	}
	if (fsync(f->fd) < 0) {
		FAIL(r, 1, "fsync %s: %s", in->path, strerror(errno));
		return;
	}
	if (renameat(f->pfd, f->inc, f->pfd, f->base) < 0) {
		FAIL(r, 1, "rename %s into place: %s", in->path, strerror(errno));
		return;
	}
	if (f->has_map)
		unlinkat(f->pfd, f->mapname, 0);
	if ((e = hydrate_fsync_dir(f->pfd)) < 0) {
		FAIL(r, 1, "fsync the folder of %s: %s", in->path, strerror(-e));
		return;
	}
	pthread_mutex_lock(&r->mu);
	close_file(f);
	f->state = F_DONE;
	r->files_done++;
	r->open_files--;
	pthread_mutex_unlock(&r->mu);
	curl_multi_wakeup(r->multi);
}

static void *hasher(void *arg)
{
	struct run *r = arg;
	unsigned char *buf = xmalloc(HASH_BLOCK);
	pthread_mutex_lock(&r->mu);
	while (!r->stop && !r->failed) {
		bool worked = false;
		for (size_t k = 0; k < r->nfiles && !r->failed && !r->stop; k++) {
			struct file *f = &r->files[r->order[k]];
			if (f->state != F_OPEN)
				continue;
			uint64_t end = prefix_end(f);
			if (end > f->hashed) {
				uint64_t from = f->hashed, to = end - from > HASH_QUANTUM ? from + HASH_QUANTUM : end;
				int fd = f->fd;
				struct digest *d = f->d;
				f->hashing = true;
				pthread_mutex_unlock(&r->mu);
				int err = 0;
				for (uint64_t o = from; o < to && !err;) {
					size_t want = to - o > HASH_BLOCK ? HASH_BLOCK : (size_t)(to - o);
					ssize_t n = pread(fd, buf, want, (off_t)o);
					if (n < 0 && errno == EINTR)
						continue;
					if (n <= 0) {
						err = n < 0 ? errno : EIO;
						break;
					}
					digest_update(d, buf, (size_t)n);
					o += (uint64_t)n;
				}
				pthread_mutex_lock(&r->mu);
				f->hashing = false;
				if (err) {
					fail_locked(r, 1, "cannot read back %s.incomplete: %s", f->in->path, strerror(err));
					break;
				}
				f->hashed = to;
				worked = true;
			}
			if (f->hashed == (uint64_t)f->in->size && f->active == 0 && f->pending == 0 && !f->syncing) {
				f->state = F_FINAL;
				pthread_mutex_unlock(&r->mu);
				finalize(r, f);
				pthread_mutex_lock(&r->mu);
				worked = true;
			}
		}
		if (!worked)
			nap(r);
	}
	pthread_mutex_unlock(&r->mu);
	free(buf);
	return NULL;
}

/* ------------------------------------------------------------------ syncer */

static bool needs_sync(const struct file *f)
{
	for (uint32_t i = 0; i < f->n; i++) {
		const struct chunk *c = &f->ch[i];
		uint64_t g = atomic_load(&c->got), d = atomic_load(&c->durable);
		if (g - d >= SYNC_STEP || (g == c->len && d < g))
			return true;
	}
	return false;
}

/* Under mu (dropped while it works): start writeback of what each chunk
 * received since the last kick. SYNC_FILE_RANGE_WRITE does not wait for
 * the disk, so the fdatasync before a claim finds little left to write and
 * transfers rarely wait for the syncer. True when anything was kicked. */
static bool kick_writeback(struct run *r)
{
	bool any = false;
	for (size_t k = 0; k < r->nfiles && !r->failed && !r->stop; k++) {
		struct file *f = &r->files[r->order[k]];
		if (f->state != F_OPEN || !f->has_map)
			continue;
		f->syncing = true;
		pthread_mutex_unlock(&r->mu);
		for (uint32_t i = 0; i < f->n; i++) {
			struct chunk *c = &f->ch[i];
			uint64_t g = atomic_load(&c->got);
			if (g < c->kicked)   /* the chunk started over */
				c->kicked = g;
			if (g - c->kicked >= KICK_STEP) {
				(void)sync_file_range(f->fd, (off_t)(c->off + c->kicked), (off_t)(g - c->kicked),
						      SYNC_FILE_RANGE_WRITE);
				c->kicked = g;
				any = true;
			}
		}
		pthread_mutex_lock(&r->mu);
		f->syncing = false;
	}
	return any;
}

static void *syncer(void *arg)
{
	struct run *r = arg;
	pthread_mutex_lock(&r->mu);
	while (!r->stop && !r->failed) {
		bool kicked = kick_writeback(r);
		struct file *f = NULL;
		for (size_t k = 0; k < r->nfiles && !f; k++) {
			struct file *c = &r->files[r->order[k]];
			if (c->state == F_OPEN && c->has_map && needs_sync(c))
				f = c;
		}
		if (!f) {
			if (!kicked)
				nap(r);
			continue;
		}
		f->syncing = true;
		for (uint32_t i = 0; i < f->n; i++)
			f->ch[i].snap = atomic_load(&f->ch[i].got);
		pthread_mutex_unlock(&r->mu);
		int e = fdatasync(f->fd) < 0 ? -errno : 0;
		for (uint32_t i = 0; !e && i < f->n; i++) {
			struct chunk *c = &f->ch[i];
			if (c->snap > atomic_load(&c->durable)) {
				e = hydrate_chunkmap_set(&f->map, i, c->snap);
				if (!e)
					atomic_store(&c->durable, c->snap);
			}
		}
		pthread_mutex_lock(&r->mu);
		f->syncing = false;
		if (e)
			fail_locked(r, 1, "cannot sync %s.incomplete or its chunk map: %s", f->in->path, strerror(-e));
		pthread_cond_broadcast(&r->cv);
		curl_multi_wakeup(r->multi);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ------------------------------------------------------------------ run */

/* qsort_r order of file indexes: smallest first, then listing order. */
static int by_size(const void *a, const void *b, void *arg)
{
	const struct hydrate_fetch_file *files = arg;
	const struct hydrate_fetch_file *x = &files[*(const size_t *)a], *y = &files[*(const size_t *)b];
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

int hydrate_fetch_all(int dirfd, const struct hydrate_fetch_file *files, size_t n,
		      const struct hydrate_fetch_opts *o, struct hydrate_fetch_stats *st, char *msg,
		      size_t msgcap)
{
	struct run r;
	pthread_t th_hash, th_sync;
	bool hash_started = false, sync_started = false;
	memset(&r, 0, sizeof(r));
	memset(st, 0, sizeof(*st));
	r.o = o;
	r.st = st;
	r.dirfd = dirfd;
	r.nfiles = n;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	atomic_init(&r.abort, false);
	atomic_init(&r.fetched, 0);
	atomic_init(&r.reset_bytes, 0);
	atomic_init(&r.sync_waits, 0);
	r.origin = hub_url_origin(o->endpoint);
	r.files = xcalloc(n ? n : 1, sizeof(*r.files));
	r.order = xcalloc(n ? n : 1, sizeof(*r.order));
	for (size_t i = 0; i < n; i++)
		r.order[i] = i;
	qsort_r(r.order, n, sizeof(*r.order), by_size, (void *)files);
	r.multi = curl_multi_init();
	if (!r.origin || !r.multi) {
		FAIL(&r, 1, "cannot set up the downloads (endpoint %s)", o->endpoint);
		goto out;
	}
	curl_multi_setopt(r.multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
	curl_multi_setopt(r.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->connections);
	curl_multi_setopt(r.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)o->connections);
	curl_multi_setopt(r.multi, CURLMOPT_MAXCONNECTS, (long)o->connections);

	/* files already in place are verified, not fetched */
	for (size_t k = 0; k < n && !r.failed; k++) {
		size_t i = r.order[k];
		struct file *f = &r.files[i];
		f->in = &files[i];
		f->rank = k;
		f->fd = f->pfd = -1;
		r.total += (uint64_t)files[i].size;
		int pfd;
		const char *base;
		int e = hydrate_open_parent(dirfd, files[i].dest, true, &pfd, &base);
		if (e == 0) {
			e = check_existing(pfd, base, &files[i]);
			close(pfd);
		}
		if (e < 0) {
			if (e == -ELOOP || e == -ENOTDIR)
				FAIL(&r, 1, "refusing %s: it would leave the destination through a symlink", files[i].path);
			else
				FAIL(&r, 1, "cannot check %s: %s", files[i].path, strerror(-e));
		} else if (e == 1) {
			f->state = F_DONE;
			r.files_done++;
			st->in_place += (uint64_t)files[i].size;
		}
	}
	r.have0 = st->in_place;
	if (r.failed)
		goto out;
	r.nx = o->connections;
	r.x = xcalloc(r.nx, sizeof(*r.x));
	for (unsigned s = 0; s < r.nx; s++) {
		r.x[s].r = &r;
		r.x[s].h = curl_easy_init();
		if (!r.x[s].h) {
			FAIL(&r, 1, "cannot create a curl handle");
			goto out;
		}
	}
	if (pthread_create(&th_hash, NULL, hasher, &r) != 0 || !(hash_started = true) ||
	    pthread_create(&th_sync, NULL, syncer, &r) != 0 || !(sync_started = true)) {
		FAIL(&r, 1, "cannot start the hasher/syncer threads");
		goto out;
	}
	uint64_t last_prog = now_ms(), last_fetched = 0, prog_ms = (uint64_t)o->progress_s * 1000u;
	for (;;) {
		pthread_mutex_lock(&r.mu);
		bool end = r.failed || r.files_done == r.nfiles;
		pthread_mutex_unlock(&r.mu);
		if (end)
			break;
		schedule(&r);
		int running = 0;
		curl_multi_perform(r.multi, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(r.multi, &left)) != NULL) {
			if (m->msg != CURLMSG_DONE)
				continue;
			struct xfer *x = NULL;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			if (x)
				finished(&r, x, m->data.result);
		}
		watchdog(&r);
		if (now_ms() - last_prog >= prog_ms)
			progress(&r, &last_fetched, &last_prog);
		curl_multi_poll(r.multi, NULL, 0, 100, NULL);
	}
out:
	pthread_mutex_lock(&r.mu);
	r.stop = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	if (hash_started)
		pthread_join(th_hash, NULL);
	if (sync_started)
		pthread_join(th_sync, NULL);
	for (unsigned s = 0; s < r.nx; s++) {
		if (r.x[s].active)
			curl_multi_remove_handle(r.multi, r.x[s].h);
	}
	/* A failed run records everything it received, so the rerun fetches
	 * only what is missing (a killed one loses at most HYDRATE_SYNC_MAX per
	 * transfer in flight). */
	for (size_t i = 0; i < n; i++) {
		struct file *f = &r.files[i];
		if (f->state != F_OPEN || !f->has_map || fdatasync(f->fd) < 0)
			continue;
		for (uint32_t c = 0; c < f->n; c++) {
			uint64_t g = atomic_load(&f->ch[c].got);
			if (g > atomic_load(&f->ch[c].durable) && hydrate_chunkmap_set(&f->map, c, g) < 0)
				break;
		}
	}
	for (unsigned s = 0; s < r.nx; s++) {
		xfer_release(&r.x[s]);
		free(r.x[s].url);
		if (r.x[s].h)
			curl_easy_cleanup(r.x[s].h);
	}
	for (size_t i = 0; i < n; i++) {
		close_file(&r.files[i]);
		free(r.files[i].url);
	}
	if (r.multi)
		curl_multi_cleanup(r.multi);
	st->fetched = atomic_load(&r.fetched);
	st->sync_waits = atomic_load(&r.sync_waits);
	int code = r.failed ? r.code : 0;
	if (r.failed)
		snprintf(msg, msgcap, "%s", r.msg);
	free(r.x);
	free(r.files);
	free(r.order);
	free(r.origin);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	return code;
}
