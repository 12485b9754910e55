#include "hydrate/chunkmap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hydrate/fsutil.h"
#include "util/mem.h"

#define MAGIC "MCCHUNK1"
#define HASH_FIELD 72
#define HDR_LEN (8 + 8 + 8 + 4 + 4 + HASH_FIELD)

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t hydrate_chunk_size_for(uint64_t size, uint64_t want)
{
	if (want == 0)
		want = 1;
	uint64_t min = size / HYDRATE_MAP_MAX_CHUNKS + (size % HYDRATE_MAP_MAX_CHUNKS ? 1 : 0);
	return want < min ? min : want;
}

static uint32_t count_for(uint64_t size, uint64_t chunk)
{
	if (size == 0)
		return 1;
	return (uint32_t)(size / chunk + (size % chunk ? 1 : 0));
}

static int write_fresh(struct hydrate_chunkmap *m, const char *hash)
{
	size_t len = HDR_LEN + (size_t)m->n * 8;
	unsigned char *b = xcalloc(1, len);
	memcpy(b, MAGIC, 8);
	put64(b + 8, m->size);
	put64(b + 16, m->chunk);
	put64(b + 24, m->n);
	snprintf((char *)b + 32, HASH_FIELD, "%s", hash);
	int e = ftruncate(m->fd, 0) < 0 ? -errno : 0;
	if (!e)
		e = hydrate_pwrite_all(m->fd, b, len, 0);
	if (!e && fdatasync(m->fd) < 0)
		e = -errno;
	free(b);
	memset(m->done, 0, (size_t)m->n * sizeof(*m->done));
	return e;
}

/* Does the file hold a valid map of this file? Fills m->chunk, m->n, done. */
static bool read_existing(struct hydrate_chunkmap *m, const char *hash)
{
	struct stat st;
	unsigned char hdr[HDR_LEN];
	if (fstat(m->fd, &st) < 0 || st.st_size < HDR_LEN)
		return false;
	if (pread(m->fd, hdr, HDR_LEN, 0) != HDR_LEN || memcmp(hdr, MAGIC, 8) != 0)
		return false;
	uint64_t size = get64(hdr + 8), chunk = get64(hdr + 16), n = get64(hdr + 24);
	char h[HASH_FIELD];
	memcpy(h, hdr + 32, HASH_FIELD);
	h[HASH_FIELD - 1] = '\0';
	if (size != m->size || chunk == 0 || n > HYDRATE_MAP_MAX_CHUNKS || n != count_for(size, chunk) ||
	    strcmp(h, hash) != 0 || (uint64_t)st.st_size != HDR_LEN + n * 8)
		return false;
	m->chunk = chunk;
	m->n = (uint32_t)n;
	m->done = xcalloc(m->n, sizeof(*m->done));
	unsigned char *b = xmalloc((size_t)n * 8);
	bool ok = pread(m->fd, b, (size_t)n * 8, HDR_LEN) == (ssize_t)(n * 8);
	for (uint32_t i = 0; ok && i < m->n; i++) {
		m->done[i] = get64(b + (size_t)i * 8);
		if (m->done[i] > hydrate_chunk_len(m, i))
			ok = false;
	}
	free(b);
	if (!ok) {
		free(m->done);
		m->done = NULL;
	}
	return ok;
}

int hydrate_chunkmap_open(int parent, const char *name, uint64_t size, uint64_t chunk, const char *hash,
			  struct hydrate_chunkmap *m, bool *resumed)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	*resumed = false;
	if (strlen(hash) >= HASH_FIELD)
		return -EINVAL;
	int e = hydrate_openat_nofollow(parent, name, O_RDWR | O_CREAT, 0644, &m->fd);
	if (e < 0)
		return e;
	m->size = size;
	if (read_existing(m, hash)) {
		for (uint32_t i = 0; i < m->n; i++)
			if (m->done[i])
				*resumed = true;
		return 0;
	}
	m->chunk = hydrate_chunk_size_for(size, chunk);
	m->n = count_for(size, m->chunk);
	m->done = xcalloc(m->n, sizeof(*m->done));
	e = write_fresh(m, hash);
	if (e < 0)
		hydrate_chunkmap_close(m);
	return e;
}

int hydrate_chunkmap_set(struct hydrate_chunkmap *m, uint32_t i, uint64_t done)
{
	if (i >= m->n || done > hydrate_chunk_len(m, i))
		return -EINVAL;
	unsigned char b[8];
	put64(b, done);
	int e = hydrate_pwrite_all(m->fd, b, 8, HDR_LEN + (uint64_t)i * 8);
	if (!e)
		m->done[i] = done;
	return e;
}

int hydrate_chunkmap_reset(struct hydrate_chunkmap *m)
{
	size_t len = (size_t)m->n * 8;
	unsigned char *z = xcalloc(1, len);
	int e = hydrate_pwrite_all(m->fd, z, len, HDR_LEN);
	free(z);
	if (!e && fdatasync(m->fd) < 0)
		e = -errno;
	memset(m->done, 0, len);
	return e;
}

void hydrate_chunkmap_close(struct hydrate_chunkmap *m)
{
	if (m->fd >= 0)
		close(m->fd);
	free(m->done);
	m->fd = -1;
	m->done = NULL;
}
