#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estimate/ggml_types.h"
#include "estimate/safetensors.h"
#include "fixture.h"
#include "util/mem.h"

unsigned char *fx_safetensors(const struct fx_tensor *t, size_t n, size_t *len)
{
	struct buf h;
	buf_init(&h, 1 << 24);
	buf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
	uint64_t off = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t el = 1;
		buf_printf(&h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name, t[i].dtype);
		for (int d = 0; d < t[i].nd; d++) {
			buf_printf(&h, "%s%llu", d ? "," : "", (unsigned long long)t[i].shape[d]);
			el *= t[i].shape[d];
		}
		uint64_t bits = el * (uint64_t)safetensors_dtype_bits(t[i].dtype);
		uint64_t bytes = bits / 8 + (bits % 8 != 0);
		buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
			   (unsigned long long)(off + bytes));
		off += bytes;
	}
	buf_puts(&h, "}");
	while (h.len % 8)
		buf_putc(&h, ' ');
	*len = 8 + h.len + off;
	unsigned char *p = xcalloc(1, *len);
	uint64_t hl = h.len;
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(hl >> (8 * i));
	memcpy(p + 8, h.data, h.len);
	buf_cleanup(&h);
	return p;
}

static void put_le(struct buf *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		buf_putc(b, (char)(v >> (8 * i)));
}

static void put_str(struct buf *b, const char *s)
{
	put_le(b, strlen(s), 8);
	buf_append(b, s, strlen(s));
}

void fx_gguf_init(struct fx_gguf *g, uint32_t version)
{
	memset(g, 0, sizeof(*g));
	g->version = version;
	g->alignment = 32;
	buf_init(&g->kv, 1 << 26);
	buf_init(&g->ti, 1 << 26);
}

static void key(struct fx_gguf *g, const char *k, uint32_t type)
{
	put_str(&g->kv, k);
	put_le(&g->kv, type, 4);
	g->nkv++;
}

void fx_gguf_u32(struct fx_gguf *g, const char *k, uint32_t v)
{
	key(g, k, 4);
	put_le(&g->kv, v, 4);
	if (strcmp(k, "general.alignment") == 0)
		g->alignment = v;
}

void fx_gguf_u64(struct fx_gguf *g, const char *k, uint64_t v)
{
	key(g, k, 10);
	put_le(&g->kv, v, 8);
}

void fx_gguf_f32(struct fx_gguf *g, const char *k, float v)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	key(g, k, 6);
	put_le(&g->kv, u, 4);
}

void fx_gguf_bool(struct fx_gguf *g, const char *k, int v)
{
	key(g, k, 7);
	put_le(&g->kv, v != 0, 1);
}

void fx_gguf_str(struct fx_gguf *g, const char *k, const char *v)
{
	key(g, k, 8);
	put_str(&g->kv, v);
}

void fx_gguf_arr_i32(struct fx_gguf *g, const char *k, const int32_t *v, size_t n)
{
	key(g, k, 9);
	put_le(&g->kv, 5, 4);
	put_le(&g->kv, n, 8);
	for (size_t i = 0; i < n; i++)
		put_le(&g->kv, (uint32_t)v[i], 4);
}

void fx_gguf_arr_str(struct fx_gguf *g, const char *k, const char *const *v, size_t n)
{
	key(g, k, 9);
	put_le(&g->kv, 8, 4);
	put_le(&g->kv, n, 8);
	for (size_t i = 0; i < n; i++)
		put_str(&g->kv, v[i]);
}

void fx_gguf_arr_nested(struct fx_gguf *g, const char *k, size_t n, size_t m)
{
	key(g, k, 9);
	put_le(&g->kv, 9, 4);
	put_le(&g->kv, n, 8);
	for (size_t i = 0; i < n; i++) {
		put_le(&g->kv, 0, 4);
		put_le(&g->kv, m, 8);
		for (size_t j = 0; j < m; j++)
			put_le(&g->kv, j, 1);
	}
}

void fx_gguf_tensor(struct fx_gguf *g, const char *name, int nd, const uint64_t *ne, int type)
{
	uint64_t el = 1, bytes = 0;
	put_str(&g->ti, name);
	put_le(&g->ti, (uint64_t)nd, 4);
	for (int d = 0; d < nd; d++) {
		put_le(&g->ti, ne[d], 8);
		el *= ne[d];
	}
	put_le(&g->ti, (uint64_t)type, 4);
	put_le(&g->ti, g->data_off, 8);
	ggml_tensor_bytes((uint32_t)type, ne[0], el, &bytes);
	g->data_off += (bytes + g->alignment - 1) / g->alignment * g->alignment;
	g->ntensors++;
}

unsigned char *fx_gguf_finish(struct fx_gguf *g, int with_data, size_t *len, uint64_t *data_bytes)
{
	struct buf f;
	buf_init(&f, (size_t)1 << 30);
	buf_append(&f, "GGUF", 4);
	put_le(&f, g->version, 4);
	put_le(&f, g->ntensors, 8);
	put_le(&f, g->nkv, 8);
	buf_append(&f, g->kv.data, g->kv.len);
	buf_append(&f, g->ti.data, g->ti.len);
	while (f.len % g->alignment)
		buf_putc(&f, 0);
	if (data_bytes)
		*data_bytes = g->data_off;
	if (with_data)
		for (uint64_t i = 0; i < g->data_off; i++)
			buf_putc(&f, 0);
	buf_cleanup(&g->kv);
	buf_cleanup(&g->ti);
	return (unsigned char *)buf_take(&f, len);
}

static int mkdirs(const char *path)
{
	char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	free(p);
	return 0;
}

int fx_write(const char *dir, const char *rel, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s", dir, rel);
	mkdirs(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	free(path);
	if (fd < 0)
		return -errno;
	ssize_t w = write(fd, p, n);
	close(fd);
	return w == (ssize_t)n ? 0 : -EIO;
}

int fx_write_str(const char *dir, const char *rel, const char *s)
{
	return fx_write(dir, rel, s, strlen(s));
}

char *fx_tmpdir(void)
{
	char *t = xstrdup("/tmp/mc-estimate-test-XXXXXX");
	if (mkdtemp(t) == NULL)
		abort();
	return t;
}

void fx_rmrf(const char *dir)
{
	if (dir == NULL || strncmp(dir, "/tmp/mc-estimate-test-", 22) != 0)
		return;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	if (system(cmd) != 0) {
	}
	free(cmd);
}
