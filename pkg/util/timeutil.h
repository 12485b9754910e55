/* RFC 3339 timestamps as Kubernetes writes them. */
#ifndef MC_UTIL_TIMEUTIL_H
#define MC_UTIL_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define RFC3339_LEN 20        /* "2006-01-02T15:04:05Z" */
#define RFC3339_MICRO_LEN 27  /* "2006-01-02T15:04:05.000000Z" (MicroTime) */

/* metav1.Time: seconds precision, UTC. out >= RFC3339_LEN + 1. */
void rfc3339_format(int64_t unix_sec, char *out);
/* metav1.MicroTime: microsecond precision. out >= RFC3339_MICRO_LEN + 1. */
void rfc3339_format_micro(int64_t unix_ns, char *out);
/* Accepts "Z" or "+hh:mm"/"-hh:mm" offsets and any fraction; -EINVAL on
 * anything else, -ERANGE outside what int64 nanoseconds hold (years
 * 1678..2261). Result: Unix nanoseconds. */
int rfc3339_parse(const char *s, int64_t *unix_ns);

#endif
