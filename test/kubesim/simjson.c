#include "simjson.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

json_object *sj_get(json_object *o, const char *key)
{
	json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *sj_str(json_object *o, ...)
{
	va_list ap;
	va_start(ap, o);
	const char *k;
	while (o && (k = va_arg(ap, const char *)) != NULL)
		o = sj_get(o, k);
	va_end(ap);
	if (!o || !json_object_is_type(o, json_type_string))
		return NULL;
	return json_object_get_string(o);
}

int sj_bool(json_object *o, const char *key)
{
	json_object *v = sj_get(o, key);
	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

json_object *sj_meta(json_object *o)
{
	json_object *m = sj_get(o, "metadata");
	if (!m || !json_object_is_type(m, json_type_object)) {
		m = json_object_new_object();
		json_object_object_add(o, "metadata", m);
	}
	return m;
}

json_object *sj_parse(const char *s, size_t n)
{
	json_tokener *tok = json_tokener_new_ex(SJ_MAX_DEPTH);
	if (!tok)
		return NULL;
	json_object *o = json_tokener_parse_ex(tok, s, (int)n);
	int ended = 0;
	if (!o && json_tokener_get_error(tok) == json_tokener_continue) {
		o = json_tokener_parse_ex(tok, "", 1); /* a bare number needs the end (NUL) */
		ended = 1;
	}
	if (o && !ended && json_tokener_get_parse_end(tok) < n) {
		/* only whitespace may follow the value */
		for (size_t i = json_tokener_get_parse_end(tok); i < n; i++) {
			if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t') {
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	return o;
}

json_object *sj_copy(json_object *o)
{
	json_object *c = NULL;
	if (!o)
		return NULL;
	if (json_object_deep_copy(o, &c, NULL) != 0)
		abort();
	return c;
}

int sj_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *sj_urldecode(const char *s, size_t n, int plus_is_space)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && sj_hexval(s[i + 1]) >= 0 && sj_hexval(s[i + 2]) >= 0) {
			*o++ = (char)(sj_hexval(s[i + 1]) * 16 + sj_hexval(s[i + 2]));
			i += 2;
		} else if (plus_is_space && s[i] == '+') {
			*o++ = ' ';
		} else {
			*o++ = s[i];
		}
	}
	*o = 0;
	return out;
}

char *sj_qparam(const char *query, const char *key)
{
	size_t kl = strlen(key);
	const char *p = query;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len >= kl && strncmp(p, key, kl) == 0 && (len == kl || p[kl] == '=')) {
			if (len == kl)
				return xstrdup("");
			return sj_urldecode(p + kl + 1, len - kl - 1, 1);
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}
