/* Levelled, structured logging to stderr.
 *
 *   LOG_INFO("reconciled", "key=%s/%s took_ms=%d", ns, name, ms);
 *
 * The first argument is a fixed message; the rest is a printf format of
 * key=value fields. Text output (default):
 *   ts=2026-11-23T16:00:00.123Z level=info msg=reconciled rid=7 key=ns/a took_ms=3
 * JSON output (--log-format=json): one object per line with the same keys.
 * A field's value runs to the next " key=" in the formatted text, so values
 * may contain spaces; they are quoted in text mode when needed.
 * The level is checked before the arguments are evaluated. A per-thread
 * context (e.g. a reconcile id) set with log_set_context() is added to every
 * line that thread writes. Lines are written whole (one write per line).
 * Never pass secrets. */
#ifndef MC_UTIL_LOG_H
#define MC_UTIL_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
	LOG_LEVEL_TRACE = 4,
};

extern enum log_level log__level;

void log_init(enum log_level level, bool json);
int log_level_parse(const char *s, enum log_level *out);   /* 0 or -EINVAL */
void log_set_context(const char *fields);  /* e.g. "controller=mc rid=12"; NULL clears; copied */
/* Redirect output (tests); NULL restores stderr. fd is not closed. */
void log_set_fd(int fd);

void log__write(enum log_level level, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define LOG_AT(lvl, msg, ...) \
	do { \
		if ((lvl) <= log__level) \
			log__write((lvl), (msg), __VA_ARGS__); \
	} while (0)

#define LOG_ERROR(msg, ...) LOG_AT(LOG_LEVEL_ERROR, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...)  LOG_AT(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...)  LOG_AT(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define LOG_DEBUG(msg, ...) LOG_AT(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)
#define LOG_TRACE(msg, ...) LOG_AT(LOG_LEVEL_TRACE, msg, __VA_ARGS__)

#endif
