/* Allocation wrappers. The project's out-of-memory policy is decided here,
 * once: every wrapper aborts the process when the allocator fails, so callers
 * never test for NULL. Everything returned is freed with free(). */
#ifndef MC_UTIL_MEM_H
#define MC_UTIL_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);               /* NULL in => NULL out */
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Overwrite a secret before freeing it (tokens, keys). NULL is fine. */
void free_secret(char *s);

#endif
