#include "hub/filter.h"

#include <string.h>

/* Class at p (just after '['): sets *matched, returns the char after ']',
 * or NULL when the class is not closed (then '[' is a literal). */
static const char *match_class(const char *p, char c, bool *matched)
{
	bool neg = false, ok = false;
	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	const char *start = p;
	while (*p && (*p != ']' || p == start)) {
		char lo = *p, hi = *p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 3;
		} else {
			p++;
		}
		if (c >= lo && c <= hi)
			ok = true;
	}
	if (*p != ']')
		return NULL;
	*matched = ok != neg;
	return p + 1;
}

/* fnmatch without FNM_PATHNAME, iterative with one backtrack point. */
static bool match(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;
	while (*s) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			if (!*p)
				return true;
			star_p = p;
			star_s = s;
			continue;
		}
		bool ok = false;
		const char *next = p + 1;
		if (*p == '?') {
			ok = true;
		} else if (*p == '[') {
			bool m;
			const char *q = match_class(p + 1, *s, &m);
			if (q) {
				ok = m;
				next = q;
			} else {
				ok = *s == '[';
			}
		} else if (*p == '\\' && p[1]) {
			ok = p[1] == *s;
			next = p + 2;
		} else {
			ok = *p && *p == *s;
		}
		if (ok) {
			p = next;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
	while (*p == '*')
		p++;
	return !*p;
}

bool hub_glob_match(const char *pattern, const char *path)
{
	if (!pattern || !path)
		return false;
	size_t n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '/') {
		/* folder: everything under it */
		return strncmp(path, pattern, n) == 0 && path[n] != '\0';
	}
	if (match(pattern, path))
		return true;
	if (strncmp(pattern, "**/", 3) == 0 && match(pattern + 3, path))
		return true;
	return false;
}

bool hub_filter_selects(const char *const *include, size_t ninclude,
			const char *const *exclude, size_t nexclude, const char *path)
{
	bool in = ninclude == 0;
	for (size_t i = 0; i < ninclude && !in; i++)
		in = hub_glob_match(include[i], path);
	if (!in)
		return false;
	for (size_t i = 0; i < nexclude; i++)
		if (hub_glob_match(exclude[i], path))
			return false;
	return true;
}
