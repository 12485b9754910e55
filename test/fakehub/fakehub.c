/* fakehub: a Hugging Face Hub simulator for tests and benchmarks.
 *
 *   fakehub --port 0 --port-file PATH --root DIR [--address 127.0.0.1]
 *           [--fault-cut-after-bytes N] [--fault-429-rate R] [--fault-retry-after S]
 *           [--fault-corrupt PATH-GLOB] [--request-log FILE] [--seed N]
 *           [--rate-per-connection BYTES] [--first-byte-ms N]
 *           [--fault-stall-after-bytes N [--fault-stall-count K]]
 *
 * Serves DIR/<org>/<name>/ (see repo.h) with the Hub's endpoints:
 *   GET /api/models/{repo}[/revision/{rev}][?blobs=true]
 *   GET /api/models/{repo}/tree/{rev}[/{path}][?recursive=true][&expand=true]
 *   POST /api/models/{repo}/paths-info/{rev}  (JSON or form: paths, expand)
 *   HEAD|GET /{repo}/resolve/{rev}/{path}   (302 to /lfs/<sha256> for LFS files)
 *   HEAD|GET /lfs/<sha256>
 * with Range, ETag, X-Repo-Commit, X-Linked-Size, X-Linked-Etag. Gated repos
 * answer 401 without the bearer token and 403 with a wrong one.
 *
 * Faults:
 *   --fault-cut-after-bytes N  after N file-body bytes in total the transfer
 *                              in flight is cut (connection closed) and every
 *                              later file transfer is cut right after its
 *                              headers: a link that died. Restart fakehub
 *                              without the flag to "repair" it.
 *   --fault-429-rate R         answer a fraction R (0..1) of requests 429 with
 *                              Retry-After: S (--fault-retry-after, default 1).
 *   --fault-corrupt GLOB       file bodies whose repo path (or org/name/path)
 *                              matches GLOB (fnmatch) are served with one byte
 *                              flipped; the metadata keeps the true hashes.
 *   --fault-stall-after-bytes N  a file response stops sending after N body
 *                              bytes and keeps the connection open (the
 *                              client must notice), once per file path
 *                              (--fault-stall-count K: K times, 0 = always).
 *
 * Link emulation (so the WAN regime is measurable on loopback):
 *   --rate-per-connection BYTES  file bodies leave each TCP connection at
 *                              most BYTES per second (token bucket, 20 ms of
 *                              burst); default unlimited.
 *   --first-byte-ms N          every response waits N ms before its first
 *                              byte (headers included), like a round trip.
 * --fast-hash-above BYTES: LFS files larger than BYTES get a pseudo sha256
 * (see repo.h) instead of a content hash: for header-only tests on huge
 * sparse fixtures. Hydrating such a file fails verification.
 * --request-log FILE appends one line per request:
 *   METHOD PATH?QUERY CODE BODY_BYTES_SENT RANGE START_MS END_MS
 * (RANGE is the Range header without "bytes=", or "-"; the times are ms since
 * fakehub started, from the request's arrival to its last byte or its end).
 * One lws event loop; SIGINT/SIGTERM stop it. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "repo.h"
#include "util/mem.h"

#define CHUNK (256u * 1024u)
#define URI_MAX 4096

static struct {
	const char *root;
	const char *address;
	int port;
	const char *port_file;
	int64_t cut_after;       /* -1: off */
	int64_t body_sent;       /* file-body bytes sent in total */
	bool dead;               /* the cut happened */
	double rate429;
	int retry_after;
	const char *corrupt;
	FILE *log;
	uint64_t rng;
	volatile sig_atomic_t stop;
	struct lws_context *ctx;
	int64_t rate;            /* bytes/s per connection, 0 = unlimited */
	int first_byte_ms;
	int64_t stall_after;     /* -1: off */
	int stall_count;         /* stalls per path, 0 = every response */
	struct stall_seen { char *key; int n; } *stalls;
	size_t nstalls;
	int64_t t0_us;
} g = {.cut_after = -1, .retry_after = 1, .rng = 42, .address = "127.0.0.1", .stall_after = -1,
       .stall_count = 1};

/* Per-connection state that outlives a transaction (keep-alive). */
struct link {
	double tokens;           /* token bucket of --rate-per-connection */
	int64_t last_us;
	bool started;
	int64_t req_us;          /* arrival of the current request */
};

struct pss {
	char method[8];
	char uri[URI_MAX];       /* PATH?QUERY as logged */
	int status;
	bool head;
	/* body: a file range or a memory buffer */
	int fd;
	bool fd_open;            /* fd is ours to close (the session memory starts zeroed) */
	uint64_t off, end;       /* [off, end) still to send */
	bool is_file;
	int64_t corrupt_at;      /* file offset of the flipped byte, -1 none */
	char *mem;
	size_t mem_len, mem_off;
	uint64_t sent;
	unsigned char *buf;      /* LWS_PRE + CHUNK */
	bool logged;
	int64_t stall_at;        /* file offset where the body stops, -1 none */
	char range[64];          /* the Range header as logged ("a-b"), "" none */
	int64_t start_us;        /* when the request arrived */
	bool stalled;
	bool rate_wait;          /* a timer is set to refill the bucket */
	bool delayed;            /* the request waits out --first-byte-ms */
	char pending[URI_MAX];   /* its path meanwhile */
	struct link link;
	/* a POST body, collected before the request is answered (kept across
	 * pss_reset until on_http takes it) */
	bool post_wait;
	char *post;
	size_t post_len;
	bool post_too_big;
};

#define POST_MAX (1u << 20)   /* bytes of a POST body; beyond: 413 */

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Refill the connection's bucket; the bytes it may send now. */
static uint64_t link_budget(struct pss *p)
{
	if (g.rate <= 0)
		return UINT64_MAX;
	double burst = (double)g.rate / 50.0;
	if (burst < 65536)
		burst = 65536;
	int64_t now = mono_us();
	if (!p->link.started) {
		p->link.started = true;
		p->link.tokens = burst;
	} else {
		p->link.tokens += (double)(now - p->link.last_us) * (double)g.rate / 1e6;
		if (p->link.tokens > burst)
			p->link.tokens = burst;
	}
	p->link.last_us = now;
	return p->link.tokens > 0 ? (uint64_t)p->link.tokens : 0;
}

static void link_spend(struct pss *p, uint64_t n)
{
	if (g.rate > 0)
		p->link.tokens -= (double)n;
}

/* Should this response (file key) stall? Counts it. */
static bool stall_take(const char *key)
{
	if (g.stall_after < 0)
		return false;
	for (size_t i = 0; i < g.nstalls; i++)
		if (strcmp(g.stalls[i].key, key) == 0) {
			if (g.stall_count > 0 && g.stalls[i].n >= g.stall_count)
				return false;
			g.stalls[i].n++;
			return true;
		}
	g.stalls = xrealloc(g.stalls, (g.nstalls + 1) * sizeof(*g.stalls));
	g.stalls[g.nstalls].key = xstrdup(key);
	g.stalls[g.nstalls].n = 1;
	g.nstalls++;
	return true;
}

static int64_t mono_us(void);

static double rnd(void)
{
	uint64_t x = g.rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	g.rng = x;
	return (double)(x >> 11) / (double)(1ull << 53);
}

static void log_req(struct pss *p)
{
	if (p->logged)
		return;
	p->logged = true;
	if (!g.log)
		return;
	fprintf(g.log, "%s %s %d %" PRIu64 " %s %" PRId64 " %" PRId64 "\n", p->method, p->uri, p->status, p->sent,
		p->range[0] ? p->range : "-", (p->start_us - g.t0_us) / 1000, (mono_us() - g.t0_us) / 1000);
	fflush(g.log);
}

static void pss_reset(struct pss *p)
{
	if (p->fd_open)
		close(p->fd);
	free(p->mem);
	free(p->buf);
	struct link keep = p->link;
	memset(p, 0, offsetof(struct pss, pending));
	p->link = keep;
	p->fd = -1;
	p->corrupt_at = -1;
	p->stall_at = -1;
}

/* ------------------------------------------------------------------ responses */

struct hdr {
	const char *name;   /* "x-repo-commit:" */
	char value[160];
};

static int send_headers(struct lws *wsi, int status, const char *ctype, int64_t len,
			const struct hdr *h, size_t nh)
{
	unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
	/* hashing a big fixture may have blocked the loop for a while: do not
	 * let a stale pending timeout cut this answer */
	lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	if (lws_add_http_common_headers(wsi, (unsigned)status, ctype,
					len < 0 ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)len, &p, end))
		return -1;
	for (size_t i = 0; i < nh; i++)
		if (h[i].value[0] &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)h[i].name,
						(const unsigned char *)h[i].value, (int)strlen(h[i].value), &p, end))
			return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	return 0;
}

/* Finish a transaction: 0 keep-alive, -1 close. */
static int complete(struct lws *wsi, struct pss *p)
{
	log_req(p);
	char method[8];
	memcpy(method, p->method, sizeof(method));
	pss_reset(p);
	memcpy(p->method, method, sizeof(method));
	p->logged = true;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A memory body (JSON or error). Takes ownership of body. */
static int respond_mem(struct lws *wsi, struct pss *p, int status, const char *ctype, char *body,
		       const struct hdr *h, size_t nh)
{
	size_t len = body ? strlen(body) : 0;
	p->status = status;
	if (send_headers(wsi, status, ctype, (int64_t)len, h, nh)) {
		free(body);
		return -1;
	}
	if (p->head || len == 0) {
		free(body);
		return complete(wsi, p);
	}
	p->mem = body;
	p->mem_len = len;
	p->mem_off = 0;
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_json(struct lws *wsi, struct pss *p, int status, json_object *j,
			const struct hdr *h, size_t nh)
{
	char *s = xstrdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return respond_mem(wsi, p, status, "application/json", s, h, nh);
}

static int respond_error(struct lws *wsi, struct pss *p, int status, const char *code, const char *msg)
{
	struct hdr h[3] = {{"x-error-code:", ""}, {"x-error-message:", ""}, {"www-authenticate:", ""}};
	snprintf(h[0].value, sizeof(h[0].value), "%s", code);
	snprintf(h[1].value, sizeof(h[1].value), "%s", msg);
	if (status == 401)
		snprintf(h[2].value, sizeof(h[2].value), "Bearer realm=\"Authentication required\"");
	json_object *j = json_object_new_object();
	json_object_object_add(j, "error", json_object_new_string(msg));
	return respond_json(wsi, p, status, j, h, 3);
}

static bool corrupt_match(const char *repo_id, const char *path)
{
	if (!g.corrupt)
		return false;
	if (fnmatch(g.corrupt, path, 0) == 0)
		return true;
	char *full = xasprintf("%s/%s", repo_id, path);
	bool m = fnmatch(g.corrupt, full, 0) == 0;
	free(full);
	return m;
}

/* Range: "bytes=a-b" | "bytes=a-" | "bytes=-n". 0 ok (sets [*s,*e)), 1 no
 * range, -1 unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *s, uint64_t *e)
{
	if (!h || !*h)
		return 1;
	if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 1;   /* unsupported forms: whole body, like many servers */
	const char *p = h + 6;
	char *end;
	if (*p == '-') {
		unsigned long long n = strtoull(p + 1, &end, 10);
		if (end == p + 1 || n == 0)
			return -1;
		*s = n >= size ? 0 : size - n;
		*e = size;
		return size ? 0 : -1;
	}
	unsigned long long a = strtoull(p, &end, 10);
	if (end == p || *end != '-')
		return 1;
	p = end + 1;
	unsigned long long b = size ? size - 1 : 0;
	if (*p) {
		b = strtoull(p, &end, 10);
		if (*end)
			return 1;
		if (b >= size)
			b = size ? size - 1 : 0;
	}
	if (a >= size || b < a)
		return -1;
	*s = a;
	*e = (uint64_t)b + 1;
	return 0;
}

static int serve_file(struct lws *wsi, struct pss *p, const char *abs, uint64_t size,
		      const char *etag, const char *commit, bool corrupt, const char *key)
{
	char range[128] = "";
	lws_hdr_copy(wsi, range, sizeof(range), WSI_TOKEN_HTTP_RANGE);
	uint64_t s = 0, e = size;
	int rr = parse_range(range, size, &s, &e);
	struct hdr h[5] = {{"etag:", ""}, {"x-repo-commit:", ""}, {"accept-ranges:", "bytes"},
			   {"content-range:", ""}, {"connection:", ""}};
	/* the sendfile path closes the connection after the body */
	if (!p->head && g.cut_after < 0 && !corrupt)
		snprintf(h[4].value, sizeof(h[4].value), "close");
	snprintf(h[0].value, sizeof(h[0].value), "\"%s\"", etag);
	snprintf(h[1].value, sizeof(h[1].value), "%s", commit ? commit : "");
	if (rr < 0) {
		snprintf(h[3].value, sizeof(h[3].value), "bytes */%" PRIu64, size);
		p->status = 416;
		if (send_headers(wsi, 416, "text/plain", 0, h, 4))
			return -1;
		return complete(wsi, p);
	}
	int status = rr == 0 ? 206 : 200;
	if (rr == 0)
		snprintf(h[3].value, sizeof(h[3].value), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, s, e - 1, size);
	int fd = -1;
	if (!p->head) {
		fd = open(abs, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return respond_error(wsi, p, 404, "EntryNotFound", "file vanished");
	}
	p->status = status;
	if (send_headers(wsi, status, "application/octet-stream", (int64_t)(e - s), h, 5)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (p->head || e == s) {
		if (fd >= 0)
			close(fd);
		return complete(wsi, p);
	}
	p->fd = fd;
	p->fd_open = true;
	p->is_file = true;
	p->off = s;
	p->end = e;
	p->corrupt_at = corrupt ? (int64_t)(size / 2) : -1;
	if (g.stall_after >= 0 && (uint64_t)g.stall_after < e - s && stall_take(key))
		p->stall_at = (int64_t)(s + (uint64_t)g.stall_after);
	p->buf = xmalloc(LWS_PRE + CHUNK);
	lws_callback_on_writable(wsi);
	return 0;
}

/* ------------------------------------------------------------------ routing */

static char *query_get(struct lws *wsi, const char *name, char *out, size_t cap)
{
	char frag[512];
	size_t nl = strlen(name);
	for (int i = 0; i < 32; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		if (strncmp(frag, name, nl) == 0 && frag[nl] == '=') {
			snprintf(out, cap, "%s", frag + nl + 1);
			return out;
		}
	}
	return NULL;
}

/* Every value of a repeated query parameter (expand=a&expand=b), at most
 * max of them, each capped at 64 bytes. Returns how many. */
static size_t query_all(struct lws *wsi, const char *name, char (*out)[64], size_t max)
{
	char frag[512];
	size_t nl = strlen(name), n = 0;
	for (int i = 0; i < 64 && n < max; i++) {
		int len = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		if (len < 0)
			break;
		if (strncmp(frag, name, nl) == 0 && frag[nl] == '=')
			snprintf(out[n++], 64, "%s", frag + nl + 1);
	}
	return n;
}

static bool query_true(struct lws *wsi, const char *name)
{
	char v[16];
	return query_get(wsi, name, v, sizeof(v)) && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* Split "org/name/rest" -> id "org/name" and rest (may be ""). */
static int split_repo(const char *s, char *id, size_t idcap, const char **rest)
{
	const char *a = strchr(s, '/');
	if (!a)
		return -1;
	const char *b = strchr(a + 1, '/');
	size_t n = b ? (size_t)(b - s) : strlen(s);
	if (n + 1 > idcap)
		return -1;
	memcpy(id, s, n);
	id[n] = '\0';
	*rest = b ? b + 1 : "";
	return 0;
}

static int load_repo(struct lws *wsi, struct pss *p, const char *id, struct fh_repo *r)
{
	int rc = fh_repo_load(g.root, id, r);
	if (rc == -ENOENT || rc == -EINVAL)
		return respond_error(wsi, p, 404, "RepoNotFound", "Repository not found"), 1;
	if (rc < 0)
		return respond_error(wsi, p, 500, "Internal", "cannot read the repository"), 1;
	char auth[1024] = "";
	lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION);
	int a = fh_repo_check_auth(r, auth);
	if (a) {
		fh_repo_cleanup(r);
		respond_error(wsi, p, a, a == 401 ? "GatedRepo" : "Forbidden",
			      a == 401 ? "Access to this repository is restricted: authentication required"
				       : "Access to this repository is restricted: invalid token");
		return 1;
	}
	return 0;
}

/* ?expand=KEY (repeatable): the model info holds only _id, id and the keys
 * asked for, as the Hub answers huggingface_hub's and @huggingface/hub's
 * model_info(expand=...) (keys fakehub does not compute are left out).
 * Takes info. */
static json_object *info_expand(struct lws *wsi, json_object *info)
{
	char keys[48][64];
	size_t n = query_all(wsi, "expand", keys, 48);
	if (n == 0)
		n = query_all(wsi, "expand[]", keys, 48);
	if (n == 0)
		return info;
	json_object *o = json_object_new_object(), *v;
	const char *always[] = {"_id", "id"};
	for (size_t i = 0; i < 2; i++)
		if (json_object_object_get_ex(info, always[i], &v))
			json_object_object_add(o, always[i], json_object_get(v));
	for (size_t i = 0; i < n; i++)
		if (!json_object_object_get_ex(o, keys[i], &v) && json_object_object_get_ex(info, keys[i], &v))
			json_object_object_add(o, keys[i], json_object_get(v));
	json_object_put(info);
	return o;
}

/* Decode one x-www-form-urlencoded component ('+' = space, %XX) in place. */
static void form_decode(char *s)
{
	char *o = s;
	for (char *c = s; *c; c++) {
		if (*c == '+') {
			*o++ = ' ';
		} else if (*c == '%' && isxdigit((unsigned char)c[1]) && isxdigit((unsigned char)c[2])) {
			char h[3] = {c[1], c[2], 0};
			*o++ = (char)strtol(h, NULL, 16);
			c += 2;
		} else {
			*o++ = *c;
		}
	}
	*o = '\0';
}

#define PATHS_MAX 1000   /* paths in one paths-info request */

/* POST /api/models/{id}/paths-info/{rev}: body {"paths": [..] | "p", "expand":
 * bool} (@huggingface/hub) or form-encoded paths=a&paths=b&expand=true
 * (both are accepted by the Hub). */
static int route_paths_info(struct lws *wsi, struct pss *p, struct fh_repo *r, const char *rev, char *body,
			    size_t len)
{
	char commit[41];
	if (fh_repo_resolve(r, rev, commit) < 0)
		return respond_error(wsi, p, 404, "RevisionNotFound", "Invalid rev id");
	char ctype[128] = "";
	lws_hdr_copy(wsi, ctype, sizeof(ctype), WSI_TOKEN_HTTP_CONTENT_TYPE);
	const char **paths = xcalloc(PATHS_MAX, sizeof(*paths));
	size_t n = 0;
	bool expand = false, bad = false;
	json_object *j = NULL;
	if (strncmp(ctype, "application/json", 16) == 0) {
		j = json_tokener_parse(body ? body : "");
		json_object *v;
		if (!j || !json_object_is_type(j, json_type_object) || !json_object_object_get_ex(j, "paths", &v)) {
			bad = true;
		} else if (json_object_is_type(v, json_type_string)) {
			paths[n++] = json_object_get_string(v);
		} else if (json_object_is_type(v, json_type_array)) {
			for (size_t i = 0; i < json_object_array_length(v) && !bad; i++) {
				json_object *e = json_object_array_get_idx(v, i);
				if (!json_object_is_type(e, json_type_string) || n == PATHS_MAX)
					bad = true;
				else
					paths[n++] = json_object_get_string(e);
			}
		} else {
			bad = true;
		}
		if (j && json_object_object_get_ex(j, "expand", &v))
			expand = json_object_get_boolean(v);
	} else {
		(void)len;
		for (char *save = NULL, *kv = strtok_r(body ? body : "", "&", &save); kv && !bad;
		     kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			if (!eq)
				continue;
			*eq = '\0';
			form_decode(kv);
			form_decode(eq + 1);
			if (strcmp(kv, "paths") == 0 || strcmp(kv, "paths[]") == 0) {
				if (n == PATHS_MAX)
					bad = true;
				else
					paths[n++] = eq + 1;
			} else if (strcmp(kv, "expand") == 0) {
				expand = strcasecmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0;
			}
		}
	}
	int ret;
	if (bad)
		ret = respond_error(wsi, p, 400, "BadRequest", "paths must be a string or a list of strings");
	else
		ret = respond_json(wsi, p, 200, fh_repo_paths_info(r, paths, n, expand, commit), NULL, 0);
	free(paths);
	json_object_put(j);
	return ret;
}

/* /api/models/{org}/{name}[/revision/{rev}] | /tree/{rev}[/{path}] */
static int route_api(struct lws *wsi, struct pss *p, const char *rest, char *body, size_t body_len)
{
	char id[256];
	const char *tail;
	struct fh_repo r;
	if (split_repo(rest, id, sizeof(id), &tail) < 0)
		return respond_error(wsi, p, 404, "RepoNotFound", "Repository not found");
	if (load_repo(wsi, p, id, &r))
		return 0;
	int ret;
	char commit[41];
	bool post = strcmp(p->method, "POST") == 0;
	if (strncmp(tail, "paths-info/", 11) == 0 && tail[11]) {
		if (!post)
			ret = respond_error(wsi, p, 405, "MethodNotAllowed", "paths-info is POST");
		else if (p->post_too_big)
			ret = respond_error(wsi, p, 413, "PayloadTooLarge", "request body too large");
		else
			ret = route_paths_info(wsi, p, &r, tail + 11, body, body_len);
	} else if (post) {
		ret = respond_error(wsi, p, 405, "MethodNotAllowed", "only paths-info takes POST");
	} else if (!*tail || strncmp(tail, "revision/", 9) == 0) {
		const char *rev = *tail ? tail + 9 : "main";
		if (fh_repo_resolve(&r, rev, commit) < 0) {
			ret = respond_error(wsi, p, 404, "RevisionNotFound", "Invalid rev id");
		} else {
			json_object *j = fh_repo_info(&r, commit, query_true(wsi, "blobs"));
			ret = respond_json(wsi, p, 200, info_expand(wsi, j), NULL, 0);
		}
	} else if (strncmp(tail, "tree/", 5) == 0) {
		char rev[128];
		const char *slash = strchr(tail + 5, '/');
		size_t n = slash ? (size_t)(slash - tail - 5) : strlen(tail + 5);
		snprintf(rev, sizeof(rev), "%.*s", (int)(n < sizeof(rev) - 1 ? n : sizeof(rev) - 1), tail + 5);
		const char *path = slash ? slash + 1 : "";
		if (fh_repo_resolve(&r, rev, commit) < 0) {
			ret = respond_error(wsi, p, 404, "RevisionNotFound", "Invalid rev id");
		} else {
			json_object *j = fh_repo_tree(&r, path, query_true(wsi, "recursive"), query_true(wsi, "expand"),
						      commit);
			if (path[0] && json_object_array_length(j) == 0) {
				json_object_put(j);
				ret = respond_error(wsi, p, 404, "EntryNotFound", "path not found");
			} else {
				ret = respond_json(wsi, p, 200, j, NULL, 0);
			}
		}
	} else {
		ret = respond_error(wsi, p, 404, "NotFound", "unknown endpoint");
	}
	fh_repo_cleanup(&r);
	return ret;
}

/* /{org}/{name}/resolve/{rev}/{path} */
static int route_resolve(struct lws *wsi, struct pss *p, const char *uri)
{
	char id[256];
	const char *tail;
	struct fh_repo r;
	if (split_repo(uri, id, sizeof(id), &tail) < 0 || strncmp(tail, "resolve/", 8) != 0)
		return respond_error(wsi, p, 404, "NotFound", "unknown endpoint");
	if (load_repo(wsi, p, id, &r))
		return 0;
	const char *revp = tail + 8, *slash = strchr(revp, '/');
	char rev[128], commit[41];
	int ret;
	if (!slash) {
		ret = respond_error(wsi, p, 404, "EntryNotFound", "no file path");
		goto out;
	}
	snprintf(rev, sizeof(rev), "%.*s", (int)((size_t)(slash - revp) < sizeof(rev) - 1 ? (size_t)(slash - revp) : sizeof(rev) - 1), revp);
	if (fh_repo_resolve(&r, rev, commit) < 0) {
		ret = respond_error(wsi, p, 404, "RevisionNotFound", "Invalid rev id");
		goto out;
	}
	const struct fh_file *f = fh_repo_find(&r, slash + 1);
	if (!f) {
		ret = respond_error(wsi, p, 404, "EntryNotFound", "Entry not found");
		goto out;
	}
	if (f->lfs) {
		struct hdr h[5] = {{"location:", ""}, {"x-linked-size:", ""}, {"x-linked-etag:", ""},
				   {"x-repo-commit:", ""}, {"etag:", ""}};
		snprintf(h[0].value, sizeof(h[0].value), "/lfs/%s", f->sha256);
		snprintf(h[1].value, sizeof(h[1].value), "%" PRId64, f->size);
		snprintf(h[2].value, sizeof(h[2].value), "\"%s\"", f->sha256);
		snprintf(h[3].value, sizeof(h[3].value), "%s", commit);
		snprintf(h[4].value, sizeof(h[4].value), "\"%s\"", f->blob);
		p->status = 302;
		if (send_headers(wsi, 302, "text/plain", 0, h, 5))
			ret = -1;
		else
			ret = complete(wsi, p);
		goto out;
	}
	char *key = xasprintf("%s/%s", id, f->path);
	ret = serve_file(wsi, p, f->abs, (uint64_t)f->size, f->blob, commit, corrupt_match(id, f->path), key);
	free(key);
out:
	fh_repo_cleanup(&r);
	return ret;
}

static int route_lfs(struct lws *wsi, struct pss *p, const char *sha)
{
	int64_t size = 0;
	const char *abs = fh_lfs_lookup(sha, &size);
	struct stat st;
	if (!abs || stat(abs, &st) != 0 || st.st_size != size)
		return respond_error(wsi, p, 404, "EntryNotFound", "unknown LFS object");
	/* the repo path, for --fault-corrupt */
	size_t rl = strlen(g.root);
	const char *rel = strncmp(abs, g.root, rl) == 0 && abs[rl] == '/' ? abs + rl + 1 : abs;
	char id[256];
	const char *path = "";
	bool corrupt = false;
	if (split_repo(rel, id, sizeof(id), &path) == 0)
		corrupt = corrupt_match(id, path);
	/* the same key as the resolve URL of that file */
	return serve_file(wsi, p, abs, (uint64_t)size, sha, NULL, corrupt, rel);
}

static int on_request(struct lws *wsi, struct pss *p, const char *in, char *body, size_t body_len);

static int on_http(struct lws *wsi, struct pss *p, const char *in)
{
	/* the POST body collected before (callback), ours until we answer */
	char *body = p->post;
	size_t body_len = p->post_len;
	p->post = NULL;
	p->post_len = 0;
	int ret = on_request(wsi, p, in, body, body_len);   /* p may be gone now */
	free(body);
	return ret;
}

static int on_request(struct lws *wsi, struct pss *p, const char *in, char *body, size_t body_len)
{
	pss_reset(p);
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
		strcpy(p->method, "POST");
	} else if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
		strcpy(p->method, "GET");
	} else if (lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0) {
		strcpy(p->method, "HEAD");
		p->head = true;
	} else {
		strcpy(p->method, "OTHER");
	}
	char q[1024] = "", rg[128] = "";
	lws_hdr_copy(wsi, q, sizeof(q), WSI_TOKEN_HTTP_URI_ARGS);
	if (lws_hdr_copy(wsi, rg, sizeof(rg), WSI_TOKEN_HTTP_RANGE) > 0) {
		const char *v = strncmp(rg, "bytes=", 6) == 0 ? rg + 6 : rg;
		size_t o2 = 0;
		for (; *v && o2 + 1 < sizeof(p->range); v++)   /* one log field: no blanks */
			p->range[o2++] = *v > 0x20 && *v < 0x7f ? *v : '_';
		p->range[o2] = '\0';
	}
	/* lws hands over the decoded path: escape it again for the log so a
	 * line always has exactly four space-separated fields */
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)in; *c && o + 4 < sizeof(p->uri); c++) {
		if (*c <= 0x20 || *c >= 0x7f || *c == '%')
			o += (size_t)snprintf(p->uri + o, sizeof(p->uri) - o, "%%%02X", *c);
		else
			p->uri[o++] = (char)*c;
	}
	p->uri[o] = '\0';
	p->start_us = p->link.req_us ? p->link.req_us : mono_us();
	if (q[0] && o + 2 + strlen(q) < sizeof(p->uri))
		snprintf(p->uri + o, sizeof(p->uri) - o, "?%s", q);

	if (strcmp(p->method, "OTHER") == 0)
		return respond_error(wsi, p, 405, "MethodNotAllowed", "only GET, HEAD and POST (paths-info)");
	if (g.rate429 > 0 && rnd() < g.rate429) {
		struct hdr h[1] = {{"retry-after:", ""}};
		snprintf(h[0].value, sizeof(h[0].value), "%d", g.retry_after);
		json_object *j = json_object_new_object();
		json_object_object_add(j, "error", json_object_new_string("Too Many Requests"));
		return respond_json(wsi, p, 429, j, h, 1);
	}
	const char *u = in;
	while (*u == '/')
		u++;
	if (strncmp(u, "api/models/", 11) == 0)
		return route_api(wsi, p, u + 11, body, body_len);
	if (strcmp(p->method, "POST") == 0)
		return respond_error(wsi, p, 405, "MethodNotAllowed", "only paths-info takes POST");
	if (strncmp(u, "lfs/", 4) == 0)
		return route_lfs(wsi, p, u + 4);
	if (strcmp(u, "healthz") == 0)
		return respond_mem(wsi, p, 200, "text/plain", xstrdup("ok\n"), NULL, 0);
	return route_resolve(wsi, p, u);
}

static int on_writable(struct lws *wsi, struct pss *p)
{
	if (p->mem) {
		size_t n = p->mem_len - p->mem_off;
		if (n > CHUNK)
			n = CHUNK;
		if (!p->buf)
			p->buf = xmalloc(LWS_PRE + CHUNK);
		memcpy(p->buf + LWS_PRE, p->mem + p->mem_off, n);
		bool last = p->mem_off + n == p->mem_len;
		if (lws_write(wsi, p->buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		p->mem_off += n;
		p->sent += n;
		if (last)
			return complete(wsi, p);
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (!p->is_file || p->stalled)
		return 0;
	uint64_t limit = p->end;
	if (p->stall_at >= 0 && (uint64_t)p->stall_at < limit)
		limit = (uint64_t)p->stall_at;
	if (p->off >= limit) {
		/* --fault-stall-after-bytes: send nothing more, keep the
		 * connection open until the client gives up */
		p->stalled = true;
		log_req(p);
		return 0;
	}
	uint64_t budget = link_budget(p);
	uint64_t min_send = limit - p->off < 16384 ? limit - p->off : 16384;
	if (budget < min_send) {
		int64_t wait = (int64_t)((double)(min_send - budget) * 1e6 / (double)g.rate) + 1;
		p->rate_wait = true;
		lws_set_timer_usecs(wsi, wait);
		return 0;
	}
	/* Fast path: no fault on this stream and nothing buffered in lws: hand
	 * the file to the kernel (sendfile, no copy through user space). lws's
	 * own content-length bookkeeping is bypassed, so the connection is
	 * closed after the body rather than kept alive. */
	if (g.cut_after < 0 && p->corrupt_at < 0 && !lws_partial_buffered(wsi)) {
		int sfd = (int)lws_get_socket_fd(wsi);
		for (int i = 0; i < 16 && p->off < limit && budget > 0; i++) {
			off_t off = (off_t)p->off;
			uint64_t w64 = limit - p->off;
			if (w64 > (8u << 20))
				w64 = 8u << 20;
			if (w64 > budget)
				w64 = budget;
			size_t want = (size_t)w64;
			ssize_t w = sendfile(sfd, p->fd, &off, want);
			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return -1;
			}
			if (w == 0)
				return -1;
			p->off += (uint64_t)w;
			p->sent += (uint64_t)w;
			g.body_sent += w;
			budget -= (uint64_t)w;
			link_spend(p, (uint64_t)w);
			if ((size_t)w < want)
				break;
		}
		if (p->off == p->end) {
			log_req(p);
			return -1;   /* body complete: close */
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	uint64_t n = limit - p->off;
	if (n > CHUNK)
		n = CHUNK;
	if (n > budget)
		n = budget;
	bool cut = false;
	if (g.cut_after >= 0) {
		if (g.dead) {
			n = 0;
			cut = true;
		} else if (g.body_sent + (int64_t)n >= g.cut_after) {
			n = (uint64_t)(g.cut_after - g.body_sent);
			cut = true;
		}
	}
	if (n > 0) {
		ssize_t r = pread(p->fd, p->buf + LWS_PRE, (size_t)n, (off_t)p->off);
		if (r <= 0)
			return -1;
		n = (uint64_t)r;
		if (p->corrupt_at >= 0 && (uint64_t)p->corrupt_at >= p->off && (uint64_t)p->corrupt_at < p->off + n)
			p->buf[LWS_PRE + (uint64_t)p->corrupt_at - p->off] ^= 0xff;
		bool last = !cut && p->off + n == p->end;
		if (lws_write(wsi, p->buf + LWS_PRE, (size_t)n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		p->off += n;
		p->sent += n;
		g.body_sent += (int64_t)n;
		link_spend(p, n);
	}
	if (cut) {
		g.dead = true;
		log_req(p);
		return -1;   /* close mid-body */
	}
	if (p->off == p->end)
		return complete(wsi, p);
	lws_callback_on_writable(wsi);
	return 0;
}

/* The .fakehub.json delayMs of the repository a request names
 * (/api/models/{org}/{name}... or /{org}/{name}/resolve/...); /lfs/ and
 * /healthz name none. */
static int repo_delay_ms(const char *uri)
{
	char id[256];
	const char *rest;
	while (*uri == '/')
		uri++;
	if (strncmp(uri, "api/models/", 11) == 0)
		uri += 11;
	else if (strncmp(uri, "lfs/", 4) == 0 || strcmp(uri, "healthz") == 0)
		return 0;
	if (split_repo(uri, id, sizeof(id), &rest) < 0)
		return 0;
	return fh_repo_delay_ms(g.root, id);
}

/* A request whose headers (and POST body) are in: answer now, or after
 * --first-byte-ms plus the repository's delayMs (the headers stay with the
 * connection until the transaction completes). */
static int start_request(struct lws *wsi, struct pss *p, const char *uri)
{
	int64_t delay_ms = g.first_byte_ms + repo_delay_ms(uri);
	if (delay_ms > 0) {
		if (p->pending != uri)
			snprintf(p->pending, sizeof(p->pending), "%s", uri);
		p->delayed = true;
		lws_set_timer_usecs(wsi, (lws_usec_t)delay_ms * 1000);
		return 0;
	}
	return on_http(wsi, p, uri);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
		if (p) {
			memset(p, 0, sizeof(*p));
			p->fd = -1;
			p->stall_at = -1;
			p->logged = true;
		}
		break;
	case LWS_CALLBACK_HTTP:
		if (p)
			p->link.req_us = mono_us();
		if (p && lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
			/* answered at LWS_CALLBACK_HTTP_BODY_COMPLETION */
			snprintf(p->pending, sizeof(p->pending), "%s", in ? (const char *)in : "/");
			free(p->post);
			p->post = NULL;
			p->post_len = 0;
			p->post_too_big = false;
			p->post_wait = true;
			return 0;
		}
		return start_request(wsi, p, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_BODY:
		if (p && p->post_wait && !p->post_too_big) {
			if (p->post_len + len > POST_MAX) {
				p->post_too_big = true;
			} else {
				p->post = xrealloc(p->post, p->post_len + len + 1);
				memcpy(p->post + p->post_len, in, len);
				p->post_len += len;
				p->post[p->post_len] = '\0';
			}
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (p && p->post_wait) {
			char uri[URI_MAX];
			p->post_wait = false;
			memcpy(uri, p->pending, sizeof(uri));
			return start_request(wsi, p, uri);
		}
		return 0;
	case LWS_CALLBACK_TIMER:
		if (p && p->delayed) {
			char uri[URI_MAX];
			memcpy(uri, p->pending, sizeof(uri));
			p->delayed = false;
			return on_http(wsi, p, uri);
		}
		if (p && p->rate_wait) {
			p->rate_wait = false;
			lws_callback_on_writable(wsi);
		}
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return on_writable(wsi, p);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (p) {
			free(p->post);
			p->post = NULL;
			p->post_len = 0;
			p->post_wait = false;
			if (!p->logged && p->method[0])
				log_req(p);
			pss_reset(p);
			p->logged = true;
		}
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"http", callback, sizeof(struct pss), 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
	(void)sig;
	g.stop = 1;
	if (g.ctx)
		lws_cancel_service(g.ctx);
}

static int usage(FILE *f)
{
	fprintf(f,
		"Usage: fakehub --root DIR [--port N] [--port-file PATH] [--address ADDR]\n"
		"               [--fault-cut-after-bytes N] [--fault-429-rate R] [--fault-retry-after S]\n"
		"               [--fault-corrupt PATH-GLOB] [--request-log FILE] [--seed N]\n"
		"               [--fast-hash-above BYTES] [--rate-per-connection BYTES] [--first-byte-ms N]\n"
		"               [--fault-stall-after-bytes N [--fault-stall-count K]]\n"
		"Serves DIR/<org>/<name>/ like the Hugging Face Hub (see test/fakehub/fakehub.c).\n");
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"root", required_argument, NULL, 'r'},
		{"port", required_argument, NULL, 'p'},
		{"port-file", required_argument, NULL, 'f'},
		{"address", required_argument, NULL, 'a'},
		{"fault-cut-after-bytes", required_argument, NULL, 'c'},
		{"fault-429-rate", required_argument, NULL, 'q'},
		{"fault-retry-after", required_argument, NULL, 'R'},
		{"fault-corrupt", required_argument, NULL, 'x'},
		{"request-log", required_argument, NULL, 'l'},
		{"seed", required_argument, NULL, 's'},
		{"fast-hash-above", required_argument, NULL, 'F'},
		{"rate-per-connection", required_argument, NULL, 'L'},
		{"first-byte-ms", required_argument, NULL, 'D'},
		{"fault-stall-after-bytes", required_argument, NULL, 'S'},
		{"fault-stall-count", required_argument, NULL, 'K'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': g.root = optarg; break;
		case 'p': g.port = atoi(optarg); break;
		case 'f': g.port_file = optarg; break;
		case 'a': g.address = optarg; break;
		case 'c': g.cut_after = strtoll(optarg, NULL, 10); break;
		case 'q': g.rate429 = strtod(optarg, NULL); break;
		case 'R': g.retry_after = atoi(optarg); break;
		case 'x': g.corrupt = optarg; break;
		case 'l':
			g.log = fopen(optarg, "a");
			if (!g.log) {
				fprintf(stderr, "fakehub: %s: %s\n", optarg, strerror(errno));
				return 1;
			}
			break;
		case 's': g.rng = strtoull(optarg, NULL, 10) | 1; break;
		case 'F': fh_set_fast_hash_above(strtoll(optarg, NULL, 10)); break;
		case 'L':
		case 'D':
		case 'S':
		case 'K': {
			char *end;
			errno = 0;
			long long v = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || (c == 'D' && v > 600000) ||
			    (c == 'K' && v > 1000000)) {
				fprintf(stderr, "fakehub: bad value %s for --%s\n", optarg,
					c == 'L' ? "rate-per-connection" : c == 'D' ? "first-byte-ms"
					: c == 'S' ? "fault-stall-after-bytes" : "fault-stall-count");
				return 2;
			}
			if (c == 'L') g.rate = v;
			else if (c == 'D') g.first_byte_ms = (int)v;
			else if (c == 'S') g.stall_after = v;
			else g.stall_count = (int)v;
			break;
		}
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (!g.root || optind != argc)
		return usage(stderr);
	char *root = realpath(g.root, NULL);
	if (!root) {
		fprintf(stderr, "fakehub: --root %s: %s\n", g.root, strerror(errno));
		return 1;
	}
	g.root = root;
	g.t0_us = mono_us();
	fh_cache_persist(root);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	lws_set_log_level(LLL_ERR, NULL);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = g.port;
	info.iface = g.address;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
	info.max_http_header_data = 8192;
	g.ctx = lws_create_context(&info);
	if (!g.ctx) {
		fprintf(stderr, "fakehub: cannot listen on %s:%d\n", g.address, g.port);
		free(root);
		return 1;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(g.ctx, "default");
	int port = vh ? lws_get_vhost_listen_port(vh) : g.port;
	if (g.port_file) {
		char *tmp = xasprintf("%s.tmp", g.port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, g.port_file) != 0) {
			fprintf(stderr, "fakehub: cannot write %s\n", g.port_file);
			free(tmp);
			lws_context_destroy(g.ctx);
			return 1;
		}
		free(tmp);
	}
	fprintf(stderr, "fakehub: serving %s on http://%s:%d\n", g.root, g.address, port);
	while (!g.stop)
		if (lws_service(g.ctx, 0) < 0)
			break;
	lws_context_destroy(g.ctx);
	if (g.log)
		fclose(g.log);
	free(root);
	return 0;
}
