#include "util/log.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/mem.h"

enum log_level log__level = LOG_LEVEL_INFO;
static bool log_json;
static int log_fd = STDERR_FILENO;
static _Thread_local char *log_ctx;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void log_init(enum log_level level, bool json)
{
	log__level = level;
	log_json = json;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -EINVAL;
}

void log_set_context(const char *fields)
{
	free(log_ctx);
	log_ctx = fields ? xstrdup(fields) : NULL;
}

void log_set_fd(int fd)
{
	log_fd = fd < 0 ? STDERR_FILENO : fd;
}

/* Is s (at a field boundary) the start of "key="? Returns the key length. */
static size_t key_at(const char *s)
{
	size_t n = 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '.' || s[n] == '-' || s[n] == '/')
		n++;
	return (n > 0 && s[n] == '=') ? n : 0;
}

static void put_json_string(struct buf *b, const char *s, size_t n)
{
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_puts(b, "\\\""); break;
		case '\\': buf_puts(b, "\\\\"); break;
		case '\n': buf_puts(b, "\\n"); break;
		case '\r': buf_puts(b, "\\r"); break;
		case '\t': buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20)
				buf_printf(b, "\\u%04x", c);
			else
				buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void put_text_value(struct buf *b, const char *s, size_t n)
{
	bool quote = n == 0;
	for (size_t i = 0; i < n && !quote; i++)
		if (s[i] == ' ' || s[i] == '"' || s[i] == '=' || (unsigned char)s[i] < 0x20)
			quote = true;
	if (!quote) {
		buf_append(b, s, n);
		return;
	}
	put_json_string(b, s, n);  /* JSON escaping is a fine quoting for logfmt */
}

static void put_field(struct buf *b, const char *k, size_t kn, const char *v, size_t vn)
{
	if (log_json) {
		buf_putc(b, ',');
		put_json_string(b, k, kn);
		buf_putc(b, ':');
		put_json_string(b, v, vn);
	} else {
		buf_putc(b, ' ');
		buf_append(b, k, kn);
		buf_putc(b, '=');
		put_text_value(b, v, vn);
	}
}

/* Split "a=1 b=two words c=3" into fields and emit each. Text that does not
 * start with a key is emitted under "fields". */
static void put_fields(struct buf *b, const char *s)
{
	while (*s == ' ')
		s++;
	if (!*s)
		return;
	size_t kn = key_at(s);
	if (!kn) {
		put_field(b, "fields", 6, s, strlen(s));
		return;
	}
	while (*s) {
		const char *k = s;
		const char *v = s + kn + 1;
		const char *e = v;
		size_t next = 0;
		for (;;) {
			e = strchr(e, ' ');
			if (!e) {
				e = v + strlen(v);
				break;
			}
			if ((next = key_at(e + 1)) != 0)
				break;
			e++;
		}
		put_field(b, k, kn, v, (size_t)(e - v));
		if (!*e)
			break;
		s = e + 1;
		kn = next;
	}
}

void log__write(enum log_level level, const char *msg, const char *fmt, ...)
{
	int saved_errno = errno;
	char ts[80];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", (tm.tm_year + 1900) % 10000,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)(now.tv_nsec / 1000000) % 1000);

	struct buf b;
	buf_init(&b, 1u << 20);
	const char *lv = level_names[level <= LOG_LEVEL_TRACE ? level : LOG_LEVEL_TRACE];
	if (log_json) {
		buf_printf(&b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, lv);
		put_json_string(&b, msg, strlen(msg));
	} else {
		buf_printf(&b, "ts=%s level=%s msg=", ts, lv);
		put_text_value(&b, msg, strlen(msg));
	}
	if (log_ctx)
		put_fields(&b, log_ctx);
	if (fmt && *fmt) {
		va_list ap;
		va_start(ap, fmt);
		char *f = xvasprintf(fmt, ap);
		va_end(ap);
		put_fields(&b, f);
		free(f);
	}
	if (log_json)
		buf_putc(&b, '}');
	buf_putc(&b, '\n');
	/* One write per line keeps lines whole across threads. */
	const char *p = buf_str(&b);
	size_t left = b.len;
	while (left > 0) {
		ssize_t w = write(log_fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	buf_cleanup(&b);
	errno = saved_errno;
}
