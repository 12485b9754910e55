/* pkg/hydrate/chunkmap: claims survive a reopen; a map of another file
 * (size, hash) or a damaged one is reset; claims are bounded by the chunk. */
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

#include "hydrate/chunkmap.h"

#define H1 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define H2 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define MI (1ull << 20)

static int setup(void **state)
{
	char tmpl[] = "/tmp/mc-chunkmap-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	int *fd = malloc(sizeof(int));
	*fd = open(d, O_RDONLY | O_DIRECTORY);
	assert_true(*fd >= 0);
	char *path = strdup(d);
	void **pair = malloc(2 * sizeof(void *));
	pair[0] = fd;
	pair[1] = path;
	*state = pair;
	return 0;
}

static int teardown(void **state)
{
	void **pair = *state;
	int *fd = pair[0];
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", (char *)pair[1]);
	close(*fd);
	assert_int_equal(system(cmd), 0);
	free(pair[0]);
	free(pair[1]);
	free(pair);
	return 0;
}

static int dir_of(void **state)
{
	return *(int *)((void **)*state)[0];
}

static void test_fresh_and_reopen(void **state)
{
	int d = dir_of(state);
	struct hydrate_chunkmap m;
	bool resumed = true;
	uint64_t size = 100 * MI + 5;
	assert_int_equal(hydrate_chunkmap_open(d, "f.incomplete.chunks", size, 32 * MI, H1, &m, &resumed), 0);
	assert_false(resumed);
	assert_int_equal(m.n, 4);
	assert_int_equal(hydrate_chunk_off(&m, 3), 96 * MI);
	assert_int_equal(hydrate_chunk_len(&m, 3), 4 * MI + 5);
	assert_int_equal(hydrate_chunkmap_set(&m, 1, 8 * MI), 0);
	assert_int_equal(hydrate_chunkmap_set(&m, 3, 4 * MI + 5), 0);
	/* a claim beyond the chunk is refused */
	assert_int_equal(hydrate_chunkmap_set(&m, 3, 4 * MI + 6), -EINVAL);
	assert_int_equal(hydrate_chunkmap_set(&m, 4, 1), -EINVAL);
	hydrate_chunkmap_close(&m);

	/* same file, another --chunk-size: the map keeps its own */
	assert_int_equal(hydrate_chunkmap_open(d, "f.incomplete.chunks", size, 64 * MI, H1, &m, &resumed), 0);
	assert_true(resumed);
	assert_int_equal(m.chunk, 32 * MI);
	assert_int_equal(m.done[0], 0);
	assert_int_equal(m.done[1], 8 * MI);
	assert_int_equal(m.done[3], 4 * MI + 5);
	hydrate_chunkmap_close(&m);

	/* another version of the file (hash): no claims, new chunk size */
	assert_int_equal(hydrate_chunkmap_open(d, "f.incomplete.chunks", size, 64 * MI, H2, &m, &resumed), 0);
	assert_false(resumed);
	assert_int_equal(m.chunk, 64 * MI);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.done[1], 0);
	assert_int_equal(hydrate_chunkmap_set(&m, 0, MI), 0);
	hydrate_chunkmap_close(&m);

	/* another size: reset too */
	assert_int_equal(hydrate_chunkmap_open(d, "f.incomplete.chunks", size + 1, 64 * MI, H2, &m, &resumed), 0);
	assert_false(resumed);
	hydrate_chunkmap_close(&m);
}

static void test_damaged_and_reset(void **state)
{
	int d = dir_of(state);
	struct hydrate_chunkmap m;
	bool resumed;
	uint64_t size = 10 * MI;
	assert_int_equal(hydrate_chunkmap_open(d, "g", size, MI, H1, &m, &resumed), 0);
	assert_int_equal(hydrate_chunkmap_set(&m, 9, MI), 0);
	assert_int_equal(hydrate_chunkmap_reset(&m), 0);
	assert_int_equal(m.done[9], 0);
	hydrate_chunkmap_close(&m);
	assert_int_equal(hydrate_chunkmap_open(d, "g", size, MI, H1, &m, &resumed), 0);
	assert_false(resumed);
	assert_int_equal(hydrate_chunkmap_set(&m, 2, 100), 0);
	hydrate_chunkmap_close(&m);

	/* truncated map: not believed */
	int fd = openat(d, "g", O_RDWR);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(ftruncate(fd, st.st_size - 3), 0);
	close(fd);
	assert_int_equal(hydrate_chunkmap_open(d, "g", size, MI, H1, &m, &resumed), 0);
	assert_false(resumed);
	hydrate_chunkmap_close(&m);

	/* a claim larger than its chunk (hand-edited): not believed */
	assert_int_equal(hydrate_chunkmap_open(d, "g", size, MI, H1, &m, &resumed), 0);
	hydrate_chunkmap_close(&m);
	fd = openat(d, "g", O_RDWR);
	assert_int_equal(fstat(fd, &st), 0);
	unsigned char big[8] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0};
	assert_int_equal(pwrite(fd, big, 8, st.st_size - 8), 8);
	close(fd);
	assert_int_equal(hydrate_chunkmap_open(d, "g", size, MI, H1, &m, &resumed), 0);
	assert_false(resumed);
	assert_int_equal(m.done[9], 0);
	hydrate_chunkmap_close(&m);

	/* a symlink is refused */
	assert_int_equal(symlinkat("g", d, "link"), 0);
	assert_int_equal(hydrate_chunkmap_open(d, "link", size, MI, H1, &m, &resumed), -ELOOP);
}

static void test_chunk_size_cap(void **state)
{
	(void)state;
	assert_int_equal(hydrate_chunk_size_for(100 * MI, 64 * MI), 64 * MI);
	/* 64 TiB at 1 MiB chunks would be 2^26 chunks: raised to 2^20 chunks */
	uint64_t c = hydrate_chunk_size_for(64ull << 40, MI);
	assert_true(c >= (64ull << 40) / HYDRATE_MAP_MAX_CHUNKS);
	assert_true((64ull << 40) / c <= HYDRATE_MAP_MAX_CHUNKS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fresh_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_and_reset, setup, teardown),
		cmocka_unit_test(test_chunk_size_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
