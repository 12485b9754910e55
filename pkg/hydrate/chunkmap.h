/* The chunk map beside PATH.incomplete (PATH.incomplete.chunks): how many
 * bytes of each chunk of a file split into parallel Range requests are on
 * disk, so a rerun fetches only what is missing (docs/concepts.md,
 * "Hydration").
 *
 * A claim is only ever written after the data it covers was fsynced (the
 * caller's duty), and never claims more than the chunk holds; a map that
 * does not belong to this file (size, hash or shape differ) or is damaged
 * is reset to no progress. Layout (little endian):
 *   "MCCHUNK1" | u64 size | u64 chunk | u32 n | u32 0 | char hash[72] | u64 done[n]
 * Each claim is one aligned 8-byte pwrite: a crash leaves the old or the new
 * value. Losing the map only loses progress, never correctness (the file's
 * digest is checked before it is renamed). Functions return 0 or -errno. */
#ifndef MC_HYDRATE_CHUNKMAP_H
#define MC_HYDRATE_CHUNKMAP_H

#include <stdbool.h>
#include <stdint.h>

#define HYDRATE_MAP_SUFFIX ".incomplete.chunks"
#define HYDRATE_MAP_MAX_CHUNKS (1u << 20)   /* bigger files get bigger chunks */

struct hydrate_chunkmap {
	int fd;
	uint64_t size;      /* of the file */
	uint64_t chunk;     /* bytes per chunk (the last may be shorter) */
	uint32_t n;
	uint64_t *done;     /* per chunk, bytes from its start that are on disk */
};

/* The chunk size for a file: `want`, raised so that the file has at most
 * HYDRATE_MAP_MAX_CHUNKS chunks. */
uint64_t hydrate_chunk_size_for(uint64_t size, uint64_t want);

/* Open or create parent/name for a file of `size` bytes and digest `hash`.
 * An existing valid map keeps its chunk size and its claims (*resumed =
 * true when any claim is non-zero); anything else is rewritten with
 * `chunk` bytes per chunk and no claims. */
int hydrate_chunkmap_open(int parent, const char *name, uint64_t size, uint64_t chunk, const char *hash,
			  struct hydrate_chunkmap *m, bool *resumed);
/* Record that chunk i holds `done` bytes on disk (data already fsynced). */
int hydrate_chunkmap_set(struct hydrate_chunkmap *m, uint32_t i, uint64_t done);
/* Forget every claim (written through and fsynced). */
int hydrate_chunkmap_reset(struct hydrate_chunkmap *m);
void hydrate_chunkmap_close(struct hydrate_chunkmap *m);

/* Offset and length of chunk i. */
static inline uint64_t hydrate_chunk_off(const struct hydrate_chunkmap *m, uint32_t i)
{
	return (uint64_t)i * m->chunk;
}
static inline uint64_t hydrate_chunk_len(const struct hydrate_chunkmap *m, uint32_t i)
{
	uint64_t off = (uint64_t)i * m->chunk;
	return m->size - off < m->chunk ? m->size - off : m->chunk;
}

#endif
