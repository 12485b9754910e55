#include "kube/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jpath.h"
#include "util/mem.h"

void kube_error_clear(struct kube_error *e)
{
	if (!e)
		return;
	free(e->message);
	for (size_t i = 0; i < e->ncauses; i++) {
		free(e->causes[i].type);
		free(e->causes[i].field);
		free(e->causes[i].message);
	}
	free(e->causes);
	memset(e, 0, sizeof(*e));
}

static const char *const reason_names[] = {
	[KUBE_OK] = "OK",
	[KUBE_ERR_NOT_FOUND] = "NotFound",
	[KUBE_ERR_ALREADY_EXISTS] = "AlreadyExists",
	[KUBE_ERR_CONFLICT] = "Conflict",
	[KUBE_ERR_INVALID] = "Invalid",
	[KUBE_ERR_FORBIDDEN] = "Forbidden",
	[KUBE_ERR_UNAUTHORIZED] = "Unauthorized",
	[KUBE_ERR_GONE] = "Gone",
	[KUBE_ERR_TOO_MANY_REQUESTS] = "TooManyRequests",
	[KUBE_ERR_TIMEOUT] = "Timeout",
	[KUBE_ERR_INTERNAL] = "InternalError",
	[KUBE_ERR_BAD_REQUEST] = "BadRequest",
	[KUBE_ERR_METHOD_NOT_ALLOWED] = "MethodNotAllowed",
	[KUBE_ERR_UNAVAILABLE] = "ServiceUnavailable",
	[KUBE_ERR_CONFIG] = "ConfigError",
	[KUBE_ERR_DECODE] = "DecodeError",
	[KUBE_ERR_OTHER] = "Unknown",
};

const char *kube_reason_str(enum kube_reason r)
{
	if ((int)r < 0)
		r = (enum kube_reason)(-(int)r);
	if ((size_t)r >= sizeof(reason_names) / sizeof(reason_names[0]) || !reason_names[r])
		return "Unknown";
	return reason_names[r];
}

/* Status.reason (metav1.StatusReason) -> our reason; KUBE_OK when unknown. */
static enum kube_reason from_status_reason(const char *s)
{
	static const struct {
		const char *name;
		enum kube_reason r;
	} map[] = {
		{ "NotFound", KUBE_ERR_NOT_FOUND },
		{ "AlreadyExists", KUBE_ERR_ALREADY_EXISTS },
		{ "Conflict", KUBE_ERR_CONFLICT },
		{ "Invalid", KUBE_ERR_INVALID },
		{ "Forbidden", KUBE_ERR_FORBIDDEN },
		{ "Unauthorized", KUBE_ERR_UNAUTHORIZED },
		{ "Gone", KUBE_ERR_GONE },
		{ "Expired", KUBE_ERR_GONE },
		{ "TooManyRequests", KUBE_ERR_TOO_MANY_REQUESTS },
		{ "Timeout", KUBE_ERR_TIMEOUT },
		{ "ServerTimeout", KUBE_ERR_TIMEOUT },
		{ "InternalError", KUBE_ERR_INTERNAL },
		{ "BadRequest", KUBE_ERR_BAD_REQUEST },
		{ "MethodNotAllowed", KUBE_ERR_METHOD_NOT_ALLOWED },
		{ "ServiceUnavailable", KUBE_ERR_UNAVAILABLE },
	};
	if (!s)
		return KUBE_OK;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, s) == 0)
			return map[i].r;
	return KUBE_OK;
}

static enum kube_reason from_http(int code)
{
	switch (code) {
	case 400: return KUBE_ERR_BAD_REQUEST;
	case 401: return KUBE_ERR_UNAUTHORIZED;
	case 403: return KUBE_ERR_FORBIDDEN;
	case 404: return KUBE_ERR_NOT_FOUND;
	case 405: return KUBE_ERR_METHOD_NOT_ALLOWED;
	case 409: return KUBE_ERR_CONFLICT;
	case 410: return KUBE_ERR_GONE;
	case 422: return KUBE_ERR_INVALID;
	case 429: return KUBE_ERR_TOO_MANY_REQUESTS;
	case 500: return KUBE_ERR_INTERNAL;
	case 502:
	case 503: return KUBE_ERR_UNAVAILABLE;
	case 504: return KUBE_ERR_TIMEOUT;
	default: break;
	}
	if (code >= 500)
		return KUBE_ERR_INTERNAL;
	return KUBE_ERR_OTHER;
}

int kube_error_from_status(int http_code, json_object *status, struct kube_error *e)
{
	enum kube_reason r = KUBE_OK;
	const char *sreason = NULL;
	if (status && json_object_is_type(status, json_type_object)) {
		const char *kind = jpath_child_str(status, "kind");
		if (kind && strcmp(kind, "Status") != 0)
			status = NULL;
	} else {
		status = NULL;
	}
	if (status) {
		sreason = jpath_child_str(status, "reason");
		r = from_status_reason(sreason);
		/* 409 with reason Conflict vs AlreadyExists is decided by reason. */
	}
	if (r == KUBE_OK) {
		json_object *c;
		int code = http_code;
		if (code == 0 && status && json_object_object_get_ex(status, "code", &c))
			code = json_object_get_int(c);
		r = from_http(code);
	}
	if (!e)
		return -(int)r;
	kube_error_clear(e);
	e->reason = r;
	e->http_code = http_code;
	const char *msg = status ? jpath_child_str(status, "message") : NULL;
	if (msg)
		e->message = xstrndup(msg, 4096);
	else
		e->message = xasprintf("HTTP %d %s", http_code, kube_reason_str(r));
	json_object *details, *causes, *ra;
	if (status && json_object_object_get_ex(status, "details", &details) &&
	    json_object_is_type(details, json_type_object)) {
		if (json_object_object_get_ex(details, "retryAfterSeconds", &ra))
			e->retry_after_s = json_object_get_int(ra);
		if (json_object_object_get_ex(details, "causes", &causes) &&
		    json_object_is_type(causes, json_type_array)) {
			size_t n = json_object_array_length(causes);
			if (n > 256)
				n = 256;
			e->causes = n ? xcalloc(n, sizeof(*e->causes)) : NULL;
			for (size_t i = 0; i < n; i++) {
				json_object *ci = json_object_array_get_idx(causes, i);
				e->causes[e->ncauses].type = xstrdup(jpath_child_str(ci, "reason"));
				e->causes[e->ncauses].field = xstrdup(jpath_child_str(ci, "field"));
				e->causes[e->ncauses].message = xstrdup(jpath_child_str(ci, "message"));
				e->ncauses++;
			}
		}
	}
	if (e->retry_after_s < 0)
		e->retry_after_s = 0;
	return -(int)r;
}

int kube_error_set(struct kube_error *e, enum kube_reason r, const char *fmt, ...)
{
	if (!e)
		return -(int)r;
	kube_error_clear(e);
	e->reason = r;
	va_list ap;
	va_start(ap, fmt);
	e->message = xvasprintf(fmt, ap);
	va_end(ap);
	return -(int)r;
}
