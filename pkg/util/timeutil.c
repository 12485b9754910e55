#include "util/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void rfc3339_format(int64_t unix_sec, char *out)
{
	time_t t = (time_t)unix_sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02dZ", (tm.tm_year + 1900) % 10000,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	memcpy(out, tmp, RFC3339_LEN);
	out[RFC3339_LEN] = '\0';
}

void rfc3339_format_micro(int64_t unix_ns, char *out)
{
	int64_t sec = unix_ns / 1000000000;
	int64_t ns = unix_ns % 1000000000;
	if (ns < 0) {
		ns += 1000000000;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
		 (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		 tm.tm_sec, (int)(ns / 1000));
	memcpy(out, tmp, RFC3339_MICRO_LEN);
	out[RFC3339_MICRO_LEN] = '\0';
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -EINVAL;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *set)
{
	for (const char *s = set; *s; s++) {
		if (**p == *s) {
			(*p)++;
			return 0;
		}
	}
	return -EINVAL;
}

int rfc3339_parse(const char *s, int64_t *unix_ns)
{
	if (!s)
		return -EINVAL;
	const char *p = s;
	int y, mo, d, h, mi, se;
	if (digits(&p, 4, &y) || expect(&p, "-") || digits(&p, 2, &mo) || expect(&p, "-") ||
	    digits(&p, 2, &d) || expect(&p, "Tt ") || digits(&p, 2, &h) || expect(&p, ":") ||
	    digits(&p, 2, &mi) || expect(&p, ":") || digits(&p, 2, &se))
		return -EINVAL;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	int64_t frac_ns = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		int64_t scale = 100000000;
		while (*p >= '0' && *p <= '9') {
			if (n < 9) {
				frac_ns += (*p - '0') * scale;
				scale /= 10;
			}
			n++;
			p++;
		}
		if (n == 0)
			return -EINVAL;
	}
	int offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int oh, om;
		if (digits(&p, 2, &oh) || expect(&p, ":") || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
		offset = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	int64_t sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - offset;
	/* Unix nanoseconds in int64 cover 1677-09-21 .. 2262-04-11. */
	if (sec > INT64_MAX / 1000000000 - 1 || sec < INT64_MIN / 1000000000 + 1)
		return -ERANGE;
	*unix_ns = sec * 1000000000 + frac_ns;
	return 0;
}
