/* Kubernetes API errors.
 *
 * Every pkg/kube call returns 0 or a negative `enum kube_reason` value
 * (e.g. -KUBE_ERR_NOT_FOUND) and, when the caller passes a struct kube_error,
 * fills it with the details of the Status body (message, field causes,
 * Retry-After). A kube_error must be cleaned with kube_error_clear() after a
 * failed call; it is left zeroed by a successful one. */
#ifndef MC_KUBE_ERRORS_H
#define MC_KUBE_ERRORS_H

#include <json-c/json.h>
#include <stddef.h>

enum kube_reason {
	KUBE_OK = 0,
	KUBE_ERR_NOT_FOUND = 1,         /* 404 NotFound */
	KUBE_ERR_ALREADY_EXISTS = 2,    /* 409 AlreadyExists */
	KUBE_ERR_CONFLICT = 3,          /* 409 Conflict (stale resourceVersion) */
	KUBE_ERR_INVALID = 4,           /* 422 Invalid; causes name the fields */
	KUBE_ERR_FORBIDDEN = 5,         /* 403 */
	KUBE_ERR_UNAUTHORIZED = 6,      /* 401 */
	KUBE_ERR_GONE = 7,              /* 410 Expired/Gone (watch, continue token) */
	KUBE_ERR_TOO_MANY_REQUESTS = 8, /* 429 */
	KUBE_ERR_TIMEOUT = 9,           /* 504 / Timeout / curl timeout */
	KUBE_ERR_INTERNAL = 10,         /* 500 */
	KUBE_ERR_BAD_REQUEST = 11,      /* 400 */
	KUBE_ERR_METHOD_NOT_ALLOWED = 12, /* 405 */
	KUBE_ERR_UNAVAILABLE = 13,      /* 503, connection refused / reset, DNS */
	KUBE_ERR_CONFIG = 14,           /* bad kubeconfig / credentials plugin */
	KUBE_ERR_DECODE = 15,           /* the server's body is not what the API promises */
	KUBE_ERR_OTHER = 16,
};

struct kube_cause {
	char *type;     /* e.g. "FieldValueRequired" */
	char *field;    /* e.g. "spec.huggingFace" */
	char *message;
};

struct kube_error {
	enum kube_reason reason;
	int http_code;          /* 0 when no response was received */
	char *message;          /* Status.message or a transport error; never a secret */
	struct kube_cause *causes;
	size_t ncauses;
	int retry_after_s;      /* from Retry-After or details.retryAfterSeconds; 0 if none */
};

void kube_error_clear(struct kube_error *e);
const char *kube_reason_str(enum kube_reason r);      /* "NotFound", ... */
/* Map an HTTP code and optional Status body (borrowed) into e; returns -reason. */
int kube_error_from_status(int http_code, json_object *status, struct kube_error *e);
/* Set a transport-level error (no response). Returns -reason. */
int kube_error_set(struct kube_error *e, enum kube_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
