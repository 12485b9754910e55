/* test/fakehub/repo.c: what fakehub computes from the files (blob ids,
 * commits, LFS rule, revisions, gating, tree) and its header readers on
 * valid and hostile input (no crash, no huge allocation, an error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo.h"
#include "util/mem.h"

struct tmp {
	char dir[64];
};

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	fclose(f);
}

static int setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/mc-fakehub-unit.XXXXXX");
	if (!mkdtemp(t->dir))
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tmp *t = *state;
	char *cmd = xasprintf("rm -rf '%s'", t->dir);
	int rc = system(cmd);
	(void)rc;
	free(cmd);
	free(t);
	return 0;
}

static void le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void test_repo(void **state)
{
	struct tmp *t = *state;
	char *org = xasprintf("%s/org", t->dir), *d = xasprintf("%s/org/m", t->dir),
	     *sub = xasprintf("%s/org/m/sub", t->dir), *p;
	assert_int_equal(mkdir(org, 0755), 0);
	free(org);
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(mkdir(sub, 0755), 0);
	p = xasprintf("%s/hello.txt", d);
	write_file(p, "hello\n", 6);
	free(p);
	/* a tiny safetensors file: LFS by name */
	const char hdr[] = "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
			   "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[12,28]}}";
	size_t hl = sizeof(hdr) - 1;
	unsigned char *st = xcalloc(1, 8 + hl + 28);
	le64(st, hl);
	memcpy(st + 8, hdr, hl);
	p = xasprintf("%s/sub/model.safetensors", d);
	write_file(p, st, 8 + hl + 28);
	free(p);
	p = xasprintf("%s/.fakehub.json", d);
	const char meta[] = "{\"gated\":true,\"token\":\"tok\",\"revisions\":{\"v1\":\"2222222222222222222222222222222222222222\"}}";
	write_file(p, meta, sizeof(meta) - 1);
	free(p);

	struct fh_repo r;
	assert_int_equal(fh_repo_load(t->dir, "org/m", &r), 0);
	assert_int_equal(r.nfiles, 2);   /* the dot-file is not a repo file */
	assert_string_equal(r.files[0].path, "hello.txt");
	assert_false(r.files[0].lfs);
	/* `echo hello | git hash-object --stdin` */
	assert_string_equal(r.files[0].blob, "ce013625030ba8dba906f756967f9e9ca394464a");
	assert_string_equal(r.files[1].path, "sub/model.safetensors");
	assert_true(r.files[1].lfs);
	assert_int_equal(strlen(r.files[1].sha256), 64);
	assert_int_equal(strlen(r.commit), 40);

	char c[41];
	assert_int_equal(fh_repo_resolve(&r, "main", c), 0);
	assert_string_equal(c, r.commit);
	assert_int_equal(fh_repo_resolve(&r, "v1", c), 0);
	assert_string_equal(c, "2222222222222222222222222222222222222222");
	assert_int_equal(fh_repo_resolve(&r, "2222222222222222222222222222222222222222", c), 0);
	assert_int_equal(fh_repo_resolve(&r, "v2", c), -ENOENT);

	assert_int_equal(fh_repo_check_auth(&r, NULL), 401);
	assert_int_equal(fh_repo_check_auth(&r, "Bearer nope"), 403);
	assert_int_equal(fh_repo_check_auth(&r, "Basic tok"), 401);
	assert_int_equal(fh_repo_check_auth(&r, "Bearer tok"), 0);

	json_object *info = fh_repo_info(&r, r.commit, true), *v, *x;
	assert_true(json_object_object_get_ex(info, "safetensors", &v));
	assert_true(json_object_object_get_ex(v, "total", &x));
	assert_int_equal(json_object_get_int64(x), 10);
	assert_true(json_object_object_get_ex(v, "parameters", &v));
	assert_true(json_object_object_get_ex(v, "BF16", &x));
	assert_int_equal(json_object_get_int64(x), 6);
	assert_true(json_object_object_get_ex(info, "usedStorage", &x));
	assert_int_equal(json_object_get_int64(x), 6 + 8 + (int64_t)hl + 28);
	json_object_put(info);

	json_object *tree = fh_repo_tree(&r, "", false, false, r.commit);
	assert_int_equal(json_object_array_length(tree), 2);   /* hello.txt + directory sub */
	json_object_put(tree);
	tree = fh_repo_tree(&r, "", true, false, r.commit);
	assert_int_equal(json_object_array_length(tree), 3);
	json_object_put(tree);
	tree = fh_repo_tree(&r, "sub", false, false, r.commit);
	assert_int_equal(json_object_array_length(tree), 1);
	json_object_put(tree);
	/* paths-info: existing paths (a folder, a file) once each, in the order
	 * asked; expand adds lastCommit and, for files, securityFileStatus */
	const char *asked[] = {"sub", "hello.txt", "missing", "hello.txt"};
	tree = fh_repo_paths_info(&r, asked, 4, true, r.commit);
	assert_int_equal(json_object_array_length(tree), 2);
	json_object *e0 = json_object_array_get_idx(tree, 0), *e1 = json_object_array_get_idx(tree, 1);
	assert_true(json_object_object_get_ex(e0, "type", &x));
	assert_string_equal(json_object_get_string(x), "directory");
	assert_false(json_object_object_get_ex(e0, "securityFileStatus", &x));
	assert_true(json_object_object_get_ex(e1, "path", &x));
	assert_string_equal(json_object_get_string(x), "hello.txt");
	assert_true(json_object_object_get_ex(e1, "lastCommit", &v) && json_object_object_get_ex(v, "id", &x));
	assert_string_equal(json_object_get_string(x), r.commit);
	assert_true(json_object_object_get_ex(e1, "securityFileStatus", &v) && json_object_object_get_ex(v, "status", &x));
	assert_string_equal(json_object_get_string(x), "safe");
	json_object_put(tree);
	tree = fh_repo_paths_info(&r, asked, 2, false, r.commit);
	assert_false(json_object_object_get_ex(json_object_array_get_idx(tree, 1), "lastCommit", &x));
	json_object_put(tree);

	/* the LFS object is found by its oid */
	int64_t size;
	assert_non_null(fh_lfs_lookup(r.files[1].sha256, &size));
	assert_int_equal(size, 8 + (int64_t)hl + 28);
	fh_repo_cleanup(&r);

	assert_int_equal(fh_repo_load(t->dir, "org/none", &r), -ENOENT);
	assert_int_equal(fh_repo_load(t->dir, "../org/m", &r), -EINVAL);
	assert_int_equal(fh_repo_load(t->dir, "org/m/x", &r), -EINVAL);
	assert_int_equal(fh_repo_load(t->dir, "org/.hidden", &r), -EINVAL);
	free(st);
	free(sub);
	free(d);
}

static void test_hostile_headers(void **state)
{
	struct tmp *t = *state;
	char *p = xasprintf("%s/bad", t->dir);
	json_object *per = json_object_new_object(), *g = NULL;
	int64_t total = 0;
	unsigned char b[64];

	/* safetensors: length larger than the file, zero, truncated, not JSON */
	memset(b, 0, sizeof(b));
	le64(b, 1ull << 62);
	write_file(p, b, 16);
	assert_int_equal(fh_safetensors_counts(p, per, &total), -EINVAL);
	le64(b, 0);
	write_file(p, b, 16);
	assert_int_equal(fh_safetensors_counts(p, per, &total), -EINVAL);
	write_file(p, b, 4);
	assert_int_equal(fh_safetensors_counts(p, per, &total), -EINVAL);
	le64(b, 8);
	memcpy(b + 8, "not json", 8);
	write_file(p, b, 16);
	assert_int_equal(fh_safetensors_counts(p, per, &total), -EINVAL);
	assert_int_equal(total, 0);

	/* GGUF: bad magic, absurd counts, a string longer than the file */
	write_file(p, "GGUX\x03\0\0\0", 8);
	assert_int_equal(fh_gguf_summary(p, &g), -EINVAL);
	memcpy(b, "GGUF", 4);
	b[4] = 3; b[5] = b[6] = b[7] = 0;
	le64(b + 8, 1ull << 40);   /* tensors */
	le64(b + 16, 1);           /* kv */
	write_file(p, b, 24);
	assert_int_equal(fh_gguf_summary(p, &g), -EINVAL);
	le64(b + 8, 0);
	le64(b + 16, 1);
	le64(b + 24, 1ull << 50);  /* key length */
	write_file(p, b, 40);
	assert_int_equal(fh_gguf_summary(p, &g), -EINVAL);
	/* an array of 2^60 u32 in a small file */
	le64(b + 24, 1);
	b[32] = 'k';
	b[33] = 9; b[34] = b[35] = b[36] = 0;    /* type array */
	b[37] = 4; b[38] = b[39] = b[40] = 0;    /* of u32 */
	le64(b + 41, 1ull << 60);
	write_file(p, b, 49);
	assert_int_equal(fh_gguf_summary(p, &g), -EINVAL);
	/* a valid empty GGUF: 0 tensors, 1 kv general.architecture = "llama" */
	unsigned char ok[128];
	size_t n = 0;
	memcpy(ok, "GGUF", 4);
	n = 4;
	ok[n++] = 3; ok[n++] = 0; ok[n++] = 0; ok[n++] = 0;
	le64(ok + n, 0); n += 8;
	le64(ok + n, 1); n += 8;
	le64(ok + n, 20); n += 8;
	memcpy(ok + n, "general.architecture", 20); n += 20;
	ok[n++] = 8; ok[n++] = 0; ok[n++] = 0; ok[n++] = 0;
	le64(ok + n, 5); n += 8;
	memcpy(ok + n, "llama", 5); n += 5;
	write_file(p, ok, n);
	assert_int_equal(fh_gguf_summary(p, &g), 0);
	json_object *a;
	assert_true(json_object_object_get_ex(g, "architecture", &a));
	assert_string_equal(json_object_get_string(a), "llama");
	json_object_put(g);
	json_object_put(per);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_headers, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
