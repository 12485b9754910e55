/* pkg/hydrate: path safety, symlink-proof opens, marker round trip and
 * durability helpers, flag parsing (usage exit code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hydrate/fsutil.h"
#include "hydrate/hydrate.h"
#include "hydrate/marker.h"
#include "testserver/testserver.h"
#include "util/digest.h"
#include "util/mem.h"

static void test_path_ok(void **state)
{
	(void)state;
	assert_true(hydrate_path_ok("config.json"));
	assert_true(hydrate_path_ok("unet/diffusion_pytorch_model.fp16.safetensors"));
	assert_true(hydrate_path_ok("a/b/c/d.bin"));
	assert_true(hydrate_path_ok(".gitattributes"));
	assert_true(hydrate_path_ok("a..b"));
	assert_true(hydrate_path_ok("..a"));
	assert_false(hydrate_path_ok(NULL));
	assert_false(hydrate_path_ok(""));
	assert_false(hydrate_path_ok("/etc/x"));
	assert_false(hydrate_path_ok("../x"));
	assert_false(hydrate_path_ok("a/../../x"));
	assert_false(hydrate_path_ok("a/.."));
	assert_false(hydrate_path_ok(".."));
	assert_false(hydrate_path_ok("./x"));
	assert_false(hydrate_path_ok("a/./x"));
	assert_false(hydrate_path_ok("a//x"));
	assert_false(hydrate_path_ok("a/"));
	assert_false(hydrate_path_ok("a\\..\\x"));
	assert_false(hydrate_path_ok("a\nb"));
	assert_false(hydrate_path_ok("model.safetensors.incomplete"));
	assert_false(hydrate_path_ok(".modelcache-hydrated"));
	assert_false(hydrate_path_ok(".modelcache-hydrated.tmp"));
	char longseg[300];
	memset(longseg, 'a', sizeof(longseg) - 1);
	longseg[sizeof(longseg) - 1] = '\0';
	assert_false(hydrate_path_ok(longseg));
	char *longpath = xmalloc(HYDRATE_PATH_MAX + 10);
	for (size_t i = 0; i < HYDRATE_PATH_MAX + 8; i++)
		longpath[i] = i % 10 == 9 ? '/' : 'a';
	longpath[HYDRATE_PATH_MAX + 8] = '\0';
	assert_false(hydrate_path_ok(longpath));
	free(longpath);
}

struct tmp {
	char dir[64];
	int fd;
};

static int setup_tmp(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/mc-hydrate-unit.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	t->fd = open(t->dir, O_RDONLY | O_DIRECTORY);
	*state = t;
	return t->fd < 0 ? -1 : 0;
}

static int teardown_tmp(void **state)
{
	struct tmp *t = *state;
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	int rc = system(cmd);
	(void)rc;
	free(cmd);
	close(t->fd);
	free(t);
	return 0;
}

static void test_open_parent(void **state)
{
	struct tmp *t = *state;
	int pfd;
	const char *base;
	assert_int_equal(hydrate_open_parent(t->fd, "a/b/c.bin", true, &pfd, &base), 0);
	assert_string_equal(base, "c.bin");
	int fd;
	assert_int_equal(hydrate_openat_nofollow(pfd, base, O_WRONLY | O_CREAT, 0644, &fd), 0);
	assert_int_equal(hydrate_write_all(fd, "hello", 5), 0);
	close(fd);
	close(pfd);
	char *p = xasprintf("%s/a/b/c.bin", t->dir);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 5);
	free(p);
	/* without create, a missing folder is an error */
	assert_int_equal(hydrate_open_parent(t->fd, "zz/c.bin", false, &pfd, &base), -ENOENT);
	/* a top-level file needs no folder */
	assert_int_equal(hydrate_open_parent(t->fd, "top.json", false, &pfd, &base), 0);
	assert_string_equal(base, "top.json");
	close(pfd);
}

static void test_symlinks_refused(void **state)
{
	struct tmp *t = *state;
	char *outside = xasprintf("%s-outside", t->dir);
	assert_int_equal(mkdir(outside, 0755), 0);
	char *link = xasprintf("%s/original", t->dir);
	assert_int_equal(symlink(outside, link), 0);
	int pfd = -1, fd = -1;
	const char *base;
	/* a symlinked folder on the way */
	assert_int_equal(hydrate_open_parent(t->fd, "original/params.json", true, &pfd, &base), -ELOOP);
	/* a deeper one */
	char *sub = xasprintf("%s/sub", t->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(sub);
	char *link2 = xasprintf("%s/sub/inner", t->dir);
	assert_int_equal(symlink(outside, link2), 0);
	assert_int_equal(hydrate_open_parent(t->fd, "sub/inner/x/y.bin", true, &pfd, &base), -ELOOP);
	/* a symlinked file */
	char *flink = xasprintf("%s/model.safetensors", t->dir);
	char *target = xasprintf("%s/target", outside);
	assert_int_equal(symlink(target, flink), 0);
	assert_int_equal(hydrate_openat_nofollow(t->fd, "model.safetensors", O_WRONLY | O_CREAT, 0644, &fd), -ELOOP);
	/* nothing was created outside */
	struct stat st;
	assert_int_equal(stat(target, &st), -1);
	char *x = xasprintf("%s/x", outside);
	assert_int_equal(stat(x, &st), -1);
	char *cmd = xasprintf("rm -rf '%s'", outside);
	int rc = system(cmd);
	(void)rc;
	free(cmd);
	free(x);
	free(target);
	free(flink);
	free(link2);
	free(link);
	free(outside);
}

static void fill_manifest(struct hydrate_manifest *m)
{
	memset(m, 0, sizeof(*m));
	m->repo = xstrdup("org/name");
	m->revision = xstrdup("v1.0");
	strcpy(m->commit, "1111111111111111111111111111111111111111");
	m->nfiles = 3;
	m->files = xcalloc(3, sizeof(*m->files));
	m->files[0].path = xstrdup("model.safetensors");
	m->files[0].size = 2757296;
	m->files[0].lfs = true;
	strcpy(m->files[0].hash, "4614236affb702788d715aea28000c5594ad7d5dcfe8627f627c7dbcdddbaa32");
	m->files[1].path = xstrdup("config.json");
	m->files[1].size = 575;
	strcpy(m->files[1].hash, "0c51415a2507dba2390724531ffbc4ca8975478a");
	m->files[2].path = xstrdup("unet/a b.json");
	m->files[2].size = 0;
	strcpy(m->files[2].hash, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	hydrate_manifest_sort(m);
}

static void test_marker_round_trip(void **state)
{
	struct tmp *t = *state;
	struct hydrate_manifest a, b;
	fill_manifest(&a);
	assert_string_equal(a.files[0].path, "config.json");   /* sorted */
	char *text = hydrate_marker_render(&a, 1763913600);
	assert_non_null(strstr(text, "\"completedAt\":\"2025-11-23T16:00:00Z\""));
	assert_non_null(strstr(text, "\"gitSha1\":\"0c51415a2507dba2390724531ffbc4ca8975478a\""));
	assert_non_null(strstr(text, "\"totalBytes\":2757871"));
	assert_int_equal(hydrate_marker_parse(text, strlen(text), &b), 0);
	assert_true(hydrate_manifest_equal(&a, &b));
	assert_string_equal(b.revision, "v1.0");
	hydrate_manifest_cleanup(&b);
	free(text);

	/* on disk: atomic write, read back, no temp left over */
	assert_int_equal(hydrate_marker_read(t->fd, &b), -ENOENT);
	assert_int_equal(hydrate_marker_write(t->fd, &a, 1763913600), 0);
	assert_int_equal(faccessat(t->fd, HYDRATE_MARKER ".tmp", F_OK, 0), -1);
	assert_int_equal(hydrate_marker_read(t->fd, &b), 0);
	assert_true(hydrate_manifest_equal(&a, &b));

	/* any difference in repo, commit, size, hash or file set breaks equality */
	b.files[1].size++;
	assert_false(hydrate_manifest_equal(&a, &b));
	b.files[1].size--;
	b.files[2].hash[0] = b.files[2].hash[0] == 'e' ? 'f' : 'e';
	assert_false(hydrate_manifest_equal(&a, &b));
	b.files[2].hash[0] = a.files[2].hash[0];
	b.commit[0] = '2';
	assert_false(hydrate_manifest_equal(&a, &b));
	b.commit[0] = '1';
	assert_true(hydrate_manifest_equal(&a, &b));
	b.nfiles = 2;
	assert_false(hydrate_manifest_equal(&a, &b));
	b.nfiles = 3;
	b.files[0].lfs = !b.files[0].lfs;
	assert_false(hydrate_manifest_equal(&a, &b));
	b.files[0].lfs = !b.files[0].lfs;
	hydrate_manifest_cleanup(&b);

	assert_int_equal(hydrate_marker_remove(t->fd), 0);
	assert_int_equal(hydrate_marker_read(t->fd, &b), -ENOENT);
	assert_int_equal(hydrate_marker_remove(t->fd), 0);   /* missing is fine */
	hydrate_manifest_cleanup(&a);
}

static void test_marker_rejects_junk(void **state)
{
	(void)state;
	struct hydrate_manifest m;
	const char *bad[] = {
		"",
		"not json",
		"[]",
		"{\"version\":2,\"repo\":\"a/b\",\"commit\":\"c\",\"files\":[]}",
		"{\"version\":1,\"commit\":\"c\",\"files\":[]}",
		"{\"version\":1,\"repo\":\"a/b\",\"commit\":\"c\",\"files\":{}}",
		"{\"version\":1,\"repo\":\"a/b\",\"commit\":\"c\",\"files\":[{\"path\":\"x\",\"size\":1}]}",
		"{\"version\":1,\"repo\":\"a/b\",\"commit\":\"c\",\"files\":[{\"size\":1,\"sha256\":\"ab\"}]}",
		"{\"version\":1,\"repo\":\"a/b\",\"commit\":\"c\",\"files\":[]} trailing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(hydrate_marker_parse(bad[i], strlen(bad[i]), &m), -EINVAL);
	const char *ok = "{\"version\":1,\"repo\":\"a/b\",\"commit\":\"c\",\"files\":[]}";
	assert_int_equal(hydrate_marker_parse(ok, strlen(ok), &m), 0);
	assert_int_equal(m.nfiles, 0);
	hydrate_manifest_cleanup(&m);
}

static void test_marker_symlink_not_followed(void **state)
{
	struct tmp *t = *state;
	struct hydrate_manifest m;
	fill_manifest(&m);
	char *elsewhere = xasprintf("%s/elsewhere.json", t->dir);
	assert_int_equal(hydrate_marker_write(t->fd, &m, 0), 0);
	char *marker = xasprintf("%s/%s", t->dir, HYDRATE_MARKER);
	assert_int_equal(rename(marker, elsewhere), 0);
	assert_int_equal(symlink(elsewhere, marker), 0);
	struct hydrate_manifest r;
	assert_int_equal(hydrate_marker_read(t->fd, &r), -EINVAL);
	hydrate_manifest_cleanup(&m);
	free(marker);
	free(elsewhere);
}

static void test_hash_fd_git_blob(void **state)
{
	struct tmp *t = *state;
	int fd;
	assert_int_equal(hydrate_openat_nofollow(t->fd, "f", O_RDWR | O_CREAT, 0644, &fd), 0);
	assert_int_equal(hydrate_write_all(fd, "hello\n", 6), 0);
	struct digest *d = digest_new(DIGEST_SHA1);
	digest_update(d, "blob 6", 7);   /* git blob header incl. NUL */
	assert_int_equal(hydrate_hash_fd(fd, 6, d), 0);
	char hex[65];
	digest_final_hex(d, hex);
	digest_free(d);
	/* `echo hello | git hash-object --stdin` */
	assert_string_equal(hex, "ce013625030ba8dba906f756967f9e9ca394464a");
	/* asking for more than the file holds is an error */
	d = digest_new(DIGEST_SHA256);
	assert_int_equal(hydrate_hash_fd(fd, 7, d), -EIO);
	digest_free(d);
	close(fd);
}

static int run_main(const char *const *args, size_t n)
{
	char **argv = xcalloc(n + 1, sizeof(*argv));
	for (size_t i = 0; i < n; i++)
		argv[i] = xstrdup(args[i]);
	int rc = hydrate_main((int)n, argv);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	free(argv);
	return rc;
}

static void test_usage_exit_codes(void **state)
{
	(void)state;
	const char *no_repo[] = {"hydrate", "--dest", "/tmp/x"};
	assert_int_equal(run_main(no_repo, 3), 2);
	const char *no_dest[] = {"hydrate", "--repo", "a/b"};
	assert_int_equal(run_main(no_dest, 3), 2);
	const char *bad_par[] = {"hydrate", "--repo=a/b", "--dest=/tmp/x", "--parallel=0"};
	assert_int_equal(run_main(bad_par, 4), 2);
	const char *bad_repo[] = {"hydrate", "--repo=../b", "--dest=/tmp/x"};
	assert_int_equal(run_main(bad_repo, 3), 2);
	const char *bad_repo2[] = {"hydrate", "--repo=a/b/c", "--dest=/tmp/x"};
	assert_int_equal(run_main(bad_repo2, 3), 2);
	const char *unknown[] = {"hydrate", "--repo=a/b", "--dest=/tmp/x", "--frobnicate"};
	assert_int_equal(run_main(unknown, 4), 2);
	const char *extra[] = {"hydrate", "--repo=a/b", "--dest=/tmp/x", "stray"};
	assert_int_equal(run_main(extra, 4), 2);
	const char *bad_ep[] = {"hydrate", "--repo=a/b", "--dest=/tmp/x", "--endpoint=ftp://x",
				"--termination-log=/nonexistent/term"};
	assert_int_equal(run_main(bad_ep, 5), 2);
	const char *missing_token[] = {"hydrate", "--repo=a/b", "--dest=/tmp/x", "--token-file=/nonexistent/t",
				       "--termination-log=/nonexistent/term"};
	assert_int_equal(run_main(missing_token, 5), 3);
	/* a token with a control character inside is refused before any request */
	setenv("HF_TOKEN", "hf_abc\r\nX-Injected: 1", 1);
	const char *inj[] = {"hydrate", "--repo=a/b", "--dest=/tmp/x", "--endpoint=http://127.0.0.1:1",
			     "--termination-log=/nonexistent/term"};
	assert_int_equal(run_main(inj, 5), 3);
	unsetenv("HF_TOKEN");
}

/* ------------------------------------------------------------------ a run
 * hydrate_main against a loopback "hub" whose model info lacks sizes, so the
 * listing comes from the tree API; the weights file is verified by sha256,
 * the text file by git blob sha1. */

static const char W[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyzAB";
#define COMMIT "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"

struct hub {
	int mode;   /* 0 ok, 1 corrupt weights, 2 401, 3 404 */
	char sha[65];
};

static void hub_handler(void *ctx, const struct ts_request *req, struct ts_conn *c)
{
	struct hub *h = ctx;
	if (h->mode == 2) {
		ts_respond(c, 401, NULL, "application/json", "{\"error\":\"gated\"}", 17);
		return;
	}
	if (h->mode == 3) {
		ts_respond(c, 404, NULL, "application/json", "{\"error\":\"Repository not found\"}", 32);
		return;
	}
	if (strncmp(req->path, "/api/models/org/m/revision/main", 31) == 0) {
		ts_respond_json(c, 200, "{\"sha\":\"" COMMIT "\",\"siblings\":[{\"rfilename\":\"a.txt\"},"
				       "{\"rfilename\":\"sub/w.bin\"}]}");
	} else if (strcmp(req->path, "/api/models/org/m/tree/" COMMIT "?recursive=true") == 0) {
		char *j = xasprintf("[{\"type\":\"file\",\"path\":\"a.txt\",\"size\":6,"
				    "\"oid\":\"ce013625030ba8dba906f756967f9e9ca394464a\"},"
				    "{\"type\":\"directory\",\"path\":\"sub\",\"size\":0,\"oid\":\"00\"},"
				    "{\"type\":\"file\",\"path\":\"sub/w.bin\",\"size\":100,\"oid\":\"11\","
				    "\"lfs\":{\"oid\":\"%s\",\"size\":100}}]", h->sha);
		ts_respond_json(c, 200, j);
		free(j);
	} else if (strcmp(req->path, "/org/m/resolve/" COMMIT "/a.txt") == 0) {
		ts_respond(c, 200, NULL, "text/plain", "hello\n", 6);
	} else if (strcmp(req->path, "/org/m/resolve/" COMMIT "/sub/w.bin") == 0) {
		char body[100];
		memcpy(body, W, 100);
		if (h->mode == 1)
			body[50] ^= 1;
		ts_respond(c, 200, NULL, "application/octet-stream", body, 100);
	} else {
		ts_respond(c, 404, NULL, "application/json", "{}", 2);
	}
}

static int run_against(struct tmp *t, struct hub *h, const char *sub)
{
	struct ts_server *ts;
	assert_int_equal(ts_start(NULL, hub_handler, h, &ts), 0);
	char *dest = xasprintf("%s/%s", t->dir, sub), *ep = xasprintf("--endpoint=%s", ts_url(ts));
	char *d = xasprintf("--dest=%s", dest), *term = xasprintf("--termination-log=%s/term", t->dir);
	const char *args[] = {"hydrate", "--repo=org/m", d, ep, "--retries=0", term};
	int rc = run_main(args, 6);
	ts_stop(ts);
	free(dest);
	free(ep);
	free(d);
	free(term);
	return rc;
}

static void test_run_tree_fallback(void **state)
{
	struct tmp *t = *state;
	struct hub h = {0};
	sha256_hex(W, 100, h.sha);
	assert_int_equal(run_against(t, &h, "ok"), 0);
	char *p = xasprintf("%s/ok/sub/w.bin", t->dir);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 100);
	free(p);
	int dfd;
	p = xasprintf("%s/ok", t->dir);
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	free(p);
	struct hydrate_manifest m;
	assert_int_equal(hydrate_marker_read(dfd, &m), 0);
	assert_string_equal(m.commit, COMMIT);
	assert_int_equal(m.nfiles, 2);
	assert_true(m.files[1].lfs);
	assert_string_equal(m.files[1].hash, h.sha);
	hydrate_manifest_cleanup(&m);
	close(dfd);
	/* a second run: already hydrated */
	assert_int_equal(run_against(t, &h, "ok"), 0);

	h.mode = 1;   /* one flipped byte: integrity */
	assert_int_equal(run_against(t, &h, "bad"), 5);
	p = xasprintf("%s/bad/%s", t->dir, HYDRATE_MARKER);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	p = xasprintf("%s/bad/sub/w.bin", t->dir);
	assert_int_equal(stat(p, &st), -1);
	free(p);
	/* 401: exit 3, and the cause goes to the termination log when the file exists */
	h.mode = 2;
	p = xasprintf("%s/term", t->dir);
	FILE *f = fopen(p, "w");
	fclose(f);
	assert_int_equal(run_against(t, &h, "gated"), 3);
	char line[512] = "";
	f = fopen(p, "r");
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_non_null(strstr(line, "401"));
	free(p);
	h.mode = 3;
	assert_int_equal(run_against(t, &h, "missing"), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_ok),
		cmocka_unit_test_setup_teardown(test_open_parent, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_symlinks_refused, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_marker_round_trip, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_marker_rejects_junk),
		cmocka_unit_test_setup_teardown(test_marker_symlink_not_followed, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_hash_fd_git_blob, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_usage_exit_codes),
		cmocka_unit_test_setup_teardown(test_run_tree_fallback, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
