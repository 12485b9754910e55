/* Growable byte buffer with a hard size cap (curl's dynbuf in miniature).
 *
 * Every buffer fed from the network, a file or a user has a cap: an append
 * that would take it past `max` fails with -E2BIG and leaves the buffer as it
 * was. The data is always NUL-terminated (data[len] == 0) so text can be used
 * in place. After buf_init, call buf_cleanup (or buf_take) exactly once. */
#ifndef MC_UTIL_BUF_H
#define MC_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;     /* NULL until the first append */
	size_t len;
	size_t alloc;
	size_t max;     /* cap on len */
};

#define BUF_DEFAULT_MAX (64u << 20) /* 64 MiB */

void buf_init(struct buf *b, size_t max);
void buf_cleanup(struct buf *b);
void buf_reset(struct buf *b);             /* len = 0, memory kept */
int buf_append(struct buf *b, const void *p, size_t n);   /* 0 or -E2BIG */
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Drop the first n bytes (n > len drops everything). */
void buf_consume(struct buf *b, size_t n);
/* Hand the NUL-terminated data to the caller (free() it); the buffer is
 * left empty and may be reused. Never NULL. */
char *buf_take(struct buf *b, size_t *len);
/* Data as a C string; "" for an empty buffer. Borrowed. */
const char *buf_str(const struct buf *b);

#endif
