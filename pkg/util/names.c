#include "util/names.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/digest.h"

void child_namev(char out[CHILD_NAME_MAX + 1], size_t nparts, const char *const parts[])
{
	struct buf full;
	buf_init(&full, 1u << 20);
	for (size_t i = 0; i < nparts; i++) {
		if (i)
			buf_putc(&full, '-');
		buf_puts(&full, parts[i] ? parts[i] : "");
	}
	char hex[SHA256_HEX_LEN + 1];
	sha256_hex(full.data ? full.data : "", full.len, hex);
	size_t plen = full.len < 57 ? full.len : 57;
	const char *s = buf_str(&full);
	while (plen > 0 && s[plen - 1] == '-')
		plen--;
	memcpy(out, s, plen);
	out[plen] = '-';
	memcpy(out + plen + 1, hex, 5);
	out[plen + 6] = '\0';
	buf_cleanup(&full);
}

void child_name(char out[CHILD_NAME_MAX + 1], ...)
{
	const char *parts[32];
	size_t n = 0;
	va_list ap;
	va_start(ap, out);
	const char *p;
	while ((p = va_arg(ap, const char *)) != NULL && n < 32)
		parts[n++] = p;
	va_end(ap);
	child_namev(out, n, parts);
}

void name_cache_pvc(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name)
{
	child_name(out, "modelcache", ns, name, (const char *)NULL);
}

void name_cache_job(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name)
{
	child_name(out, "modelcache", ns, name, "hydrate", (const char *)NULL);
}

void name_cache_auth(char out[CHILD_NAME_MAX + 1], const char *ns, const char *name)
{
	child_name(out, "modelcache", ns, name, "auth", (const char *)NULL);
}

static int alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int label_ok(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!alnum_lower(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int dns1123_label_ok(const char *s)
{
	return s && label_ok(s, strlen(s));
}

int dns1123_subdomain_ok(const char *s)
{
	if (!s)
		return 0;
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return 0;
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_ok(p, len))
			return 0;
		if (!dot)
			return 1;
		p = dot + 1;
	}
}
