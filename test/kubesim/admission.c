/* kubesim's mutating admission webhooks (see admission.h). */
#include "admission.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patch.h"
#include "simjson.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_ENDPOINTS 64
#define MAX_WARNINGS 64
#define MAX_RESPONSE (16u << 20)
#define MWC_GROUP "admissionregistration.k8s.io"

struct endpoint {
	char *ns, *name, *host;
	int port;
};

struct admission {
	struct sim *s;
	struct endpoint eps[MAX_ENDPOINTS];
	int neps;
};

static _Thread_local char *tl_user;
static _Thread_local json_object *tl_groups;
static _Thread_local char *tl_warn[MAX_WARNINGS];
static _Thread_local int tl_nwarn;

void admission_set_user(const char *username, json_object *groups)
{
	free(tl_user);
	tl_user = xstrdup(username);
	if (tl_groups)
		json_object_put(tl_groups);
	tl_groups = groups ? sj_copy(groups) : NULL;
}

void admission_thread_cleanup(void)
{
	free(tl_user);
	tl_user = NULL;
	if (tl_groups)
		json_object_put(tl_groups);
	tl_groups = NULL;
	free(admission_take_warnings());
}

void admission_add_warning(const char *w)
{
	if (tl_nwarn == MAX_WARNINGS) {   /* a thread nobody reads (a behaviour): keep the newest */
		free(tl_warn[0]);
		memmove(tl_warn, tl_warn + 1, (MAX_WARNINGS - 1) * sizeof tl_warn[0]);
		tl_nwarn--;
	}
	tl_warn[tl_nwarn++] = xstrdup(w);
}

char *admission_take_warnings(void)
{
	if (!tl_nwarn)
		return NULL;
	struct buf b;
	buf_init(&b, 1u << 20);
	for (int i = 0; i < tl_nwarn; i++) {
		/* RFC 7234 warn-text: a quoted string, \ and " escaped; control characters dropped */
		buf_puts(&b, "Warning: 299 - \"");
		for (const char *p = tl_warn[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_putc(&b, '\\');
			if ((unsigned char)*p >= 0x20)
				buf_putc(&b, *p);
		}
		buf_puts(&b, "\"\r\n");
		free(tl_warn[i]);
	}
	tl_nwarn = 0;
	return buf_take(&b, NULL);
}

int admission_new(struct sim *s, struct admission **out)
{
	struct admission *a = xcalloc(1, sizeof *a);
	a->s = s;
	*out = a;
	return 0;
}

int admission_add_endpoint(struct admission *a, const char *spec)
{
	const char *slash = strchr(spec, '/'), *eq = strchr(spec, '='), *colon = eq ? strrchr(eq, ':') : NULL;
	if (!slash || !eq || !colon || slash > eq || slash == spec || eq == slash + 1 || colon == eq + 1 ||
	    a->neps == MAX_ENDPOINTS)
		return -EINVAL;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -EINVAL;
	struct endpoint *e = &a->eps[a->neps++];
	e->ns = xstrndup(spec, (size_t)(slash - spec));
	e->name = xstrndup(slash + 1, (size_t)(eq - slash - 1));
	e->host = xstrndup(eq + 1, (size_t)(colon - eq - 1));
	e->port = (int)port;
	return 0;
}

void admission_free(struct admission *a)
{
	if (!a)
		return;
	for (int i = 0; i < a->neps; i++) {
		free(a->eps[i].ns);
		free(a->eps[i].name);
		free(a->eps[i].host);
	}
	free(a);
}

/* ---------------------------------------------------------------- matching */

static int in_list(json_object *arr, const char *v)
{
	for (size_t i = 0; json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
		const char *x = json_object_get_string(json_object_array_get_idx(arr, i));
		if (x && (strcmp(x, "*") == 0 || strcmp(x, v) == 0))
			return 1;
	}
	return 0;
}

/* resource entries: "pods", "pods/status", a star (any resource), "pods/" + star, star + "/status", star + "/" + star */
static int resource_matches(json_object *arr, const char *res, const char *sub)
{
	for (size_t i = 0; json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr); i++) {
		const char *x = json_object_get_string(json_object_array_get_idx(arr, i));
		if (!x)
			continue;
		const char *sl = strchr(x, '/');
		size_t rl = sl ? (size_t)(sl - x) : strlen(x);
		const char *xs = sl ? sl + 1 : "";
		int rok = (rl == 1 && x[0] == '*') || (strlen(res) == rl && strncmp(x, res, rl) == 0);
		int sok = strcmp(xs, "*") == 0 || strcmp(xs, sub) == 0;
		if (rok && sok)
			return 1;
	}
	return 0;
}

int admission_rule_matches(json_object *rule, const struct admission_attrs *a)
{
	if (!in_list(sj_get(rule, "operations"), a->operation) || !in_list(sj_get(rule, "apiGroups"), a->group) ||
	    !in_list(sj_get(rule, "apiVersions"), a->version) ||
	    !resource_matches(sj_get(rule, "resources"), a->resource, a->subresource ? a->subresource : ""))
		return 0;
	const char *scope = sj_str(rule, "scope", NULL);
	if (!scope || strcmp(scope, "*") == 0)
		return 1;
	if (strcmp(scope, "Namespaced") == 0)
		return a->namespaced;
	if (strcmp(scope, "Cluster") == 0)
		return !a->namespaced;
	return 0;
}

int admission_selector_matches(json_object *sel, json_object *labels)
{
	if (!sel)
		return 1;
	if (!json_object_is_type(sel, json_type_object))
		return 0;
	json_object *ml = sj_get(sel, "matchLabels");
	if (ml) {
		if (!json_object_is_type(ml, json_type_object))
			return 0;
		json_object_object_foreach(ml, k, v) {
			const char *have = sj_str(labels, k, NULL);
			if (!have || !json_object_is_type(v, json_type_string) || strcmp(have, json_object_get_string(v)) != 0)
				return 0;
		}
	}
	json_object *exprs = sj_get(sel, "matchExpressions");
	for (size_t i = 0; json_object_is_type(exprs, json_type_array) && i < json_object_array_length(exprs); i++) {
		json_object *e = json_object_array_get_idx(exprs, i);
		const char *key = sj_str(e, "key", NULL), *op = sj_str(e, "operator", NULL);
		if (!key || !op)
			return 0;
		const char *have = sj_str(labels, key, NULL);
		json_object *vals = sj_get(e, "values");
		int found = 0;
		for (size_t j = 0; have && json_object_is_type(vals, json_type_array) && j < json_object_array_length(vals); j++) {
			const char *v = json_object_get_string(json_object_array_get_idx(vals, j));
			if (v && strcmp(v, have) == 0)
				found = 1;
		}
		if (strcmp(op, "In") == 0) {
			if (!found)
				return 0;
		} else if (strcmp(op, "NotIn") == 0) {
			if (found)
				return 0;
		} else if (strcmp(op, "Exists") == 0) {
			if (!have)
				return 0;
		} else if (strcmp(op, "DoesNotExist") == 0) {
			if (have)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

static json_object *labels_of(json_object *o)
{
	return sj_get(sj_get(o, "metadata"), "labels");
}

static int is_webhook_config(const struct sim_admit_attrs *a)
{
	return strcmp(a->group, MWC_GROUP) == 0 && (strcmp(a->resource, "mutatingwebhookconfigurations") == 0 ||
						     strcmp(a->resource, "validatingwebhookconfigurations") == 0);
}

static int rules_match(json_object *wh, const struct admission_attrs *aa)
{
	json_object *rules = sj_get(wh, "rules");
	for (size_t i = 0; json_object_is_type(rules, json_type_array) && i < json_object_array_length(rules); i++)
		if (admission_rule_matches(json_object_array_get_idx(rules, i), aa))
			return 1;
	return 0;
}

/* Every configuration (a List's items, caller puts) or NULL. */
static json_object *configurations(struct admission *a)
{
	json_object *list = NULL;
	if (sim_list(a->s, MWC_GROUP, "v1", "mutatingwebhookconfigurations", NULL, NULL, NULL, &list, NULL) < 0)
		return NULL;
	json_object *items = json_object_get(sj_get(list, "items"));
	json_object_put(list);
	if (items && json_object_array_length(items) == 0) {
		json_object_put(items);
		return NULL;
	}
	return items;
}

static void attrs_of(struct admission *a, const struct sim_admit_attrs *sa, struct admission_attrs *aa)
{
	int namespaced = 0;
	sim_served(a->s, sa->group, sa->version, sa->resource, &namespaced);
	aa->operation = sa->operation;
	aa->group = sa->group;
	aa->version = sa->version;
	aa->resource = sa->resource;
	aa->subresource = sa->subresource ? sa->subresource : "";
	aa->namespaced = namespaced;
}

/* The configurations that may apply to this write (NULL: none), with aa filled. */
static json_object *candidates(struct admission *a, const struct sim_admit_attrs *sa, struct admission_attrs *aa)
{
	if (is_webhook_config(sa))
		return NULL;
	json_object *items = configurations(a);
	if (items)
		attrs_of(a, sa, aa);
	return items;
}

static int wants(void *ctx, const struct sim_admit_attrs *sa)
{
	struct admission_attrs aa;
	json_object *items = candidates(ctx, sa, &aa);
	if (!items)
		return 0;
	int w = 0;
	for (size_t i = 0; !w && i < json_object_array_length(items); i++) {
		json_object *whs = sj_get(json_object_array_get_idx(items, i), "webhooks");
		for (size_t j = 0; !w && json_object_is_type(whs, json_type_array) && j < json_object_array_length(whs); j++)
			w = rules_match(json_object_array_get_idx(whs, j), &aa);
	}
	json_object_put(items);
	return w;
}

/* ---------------------------------------------------------------- calling */

struct call {
	char *url;          /* what the error messages name (with ?timeout=) */
	char *connect_to;   /* curl CONNECT_TO for services, or NULL */
	char dial[300];     /* host:port connected to (Go's "dial tcp" text) */
	char reason[1200];  /* why the call failed */
	long status;
	struct buf body;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct call *c = ud;
	return buf_append(&c->body, p, sz * n) == 0 ? sz * n : 0;
}

/* Where the webhook is: 0 with c->url (and connect_to) or -1 with c->reason. */
static int resolve(struct admission *a, json_object *cc, long timeout_s, struct call *c)
{
	const char *url = sj_str(cc, "url", NULL);
	if (url) {
		c->url = xasprintf("%s%stimeout=%lds", url, strchr(url, '?') ? "&" : "?", timeout_s);
		CURLU *u = curl_url();
		char *host = NULL, *port = NULL;
		if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
			snprintf(c->dial, sizeof c->dial, "%s:%s", host, port);
		curl_free(host);
		curl_free(port);
		curl_url_cleanup(u);
		return 0;
	}
	json_object *svc = sj_get(cc, "service");
	const char *ns = sj_str(svc, "namespace", NULL), *name = sj_str(svc, "name", NULL);
	const char *path = sj_str(svc, "path", NULL);
	json_object *pj = sj_get(svc, "port");
	long port = pj ? json_object_get_int64(pj) : 443;
	if (!ns || !name) {
		snprintf(c->reason, sizeof c->reason, "failed to call webhook: neither url nor service is set");
		return -1;
	}
	c->url = xasprintf("https://%s.%s.svc:%ld%s?timeout=%lds", name, ns, port, path ? path : "", timeout_s);
	for (int i = 0; i < a->neps; i++) {
		if (strcmp(a->eps[i].ns, ns) == 0 && strcmp(a->eps[i].name, name) == 0) {
			c->connect_to = xasprintf("%s.%s.svc:%ld:%s:%d", name, ns, port, a->eps[i].host, a->eps[i].port);
			snprintf(c->dial, sizeof c->dial, "%s:%d", a->eps[i].host, a->eps[i].port);
			return 0;
		}
	}
	json_object *s = NULL;
	int exists = sim_get(a->s, "", "v1", "services", ns, name, &s, NULL) == 0;
	if (s)
		json_object_put(s);
	snprintf(c->reason, sizeof c->reason, "failed to call webhook: Post \"%s\": %s \"%s\"%s", c->url,
		 exists ? "no endpoints available for service" : "service", name, exists ? "" : " not found");
	return -1;
}

/* POST body; 0 with c->status and c->body, or -1 with c->reason. */
static int post(json_object *cc, const char *body, long timeout_s, struct call *c)
{
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(c->reason, sizeof c->reason, "failed to call webhook: cannot create an HTTP client");
		return -1;
	}
	char *ca = NULL;
	size_t calen = 0;
	const char *cab = sj_str(cc, "caBundle", NULL);
	if (cab && *cab) {
		ca = xmalloc(strlen(cab) + 1);
		int n = EVP_DecodeBlock((unsigned char *)ca, (const unsigned char *)cab, (int)strlen(cab));
		if (n < 0) {
			free(ca);
			curl_easy_cleanup(h);
			snprintf(c->reason, sizeof c->reason, "could not get REST client: caBundle is not base64");
			return -1;
		}
		calen = (size_t)n;
		while (calen && ca[calen - 1] == 0)   /* padding */
			calen--;
	}
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json, */*");
	struct curl_slist *ct = c->connect_to ? curl_slist_append(NULL, c->connect_to) : NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kube-apiserver-admission");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_s * 1000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (ct)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, ct);
	struct curl_blob blob = {.data = ca, .len = calen, .flags = CURL_BLOB_COPY};
	if (ca)
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	CURLcode rc = curl_easy_perform(h);
	int ret = 0;
	if (rc != CURLE_OK) {
		/* Go's wording where it is known (net/http, crypto/tls), else curl's */
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
		char dial[340];
		if (rc == CURLE_COULDNT_CONNECT) {
			if (c->dial[0])
				snprintf(dial, sizeof dial, "dial tcp %s: connect: connection refused", c->dial);
			else
				snprintf(dial, sizeof dial, "connect: connection refused");
			why = dial;
		} else if (rc == CURLE_OPERATION_TIMEDOUT) {
			why = "context deadline exceeded";
		} else if (rc == CURLE_PEER_FAILED_VERIFICATION &&
			   (strstr(errbuf, "unable to get local issuer") || strstr(errbuf, "self-signed") ||
			    strstr(errbuf, "self signed"))) {
			why = "tls: failed to verify certificate: x509: certificate signed by unknown authority";
		}
		snprintf(c->reason, sizeof c->reason, "failed to call webhook: Post \"%s\": %s", c->url, why);
		ret = -1;
	} else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	}
	curl_slist_free_all(hdrs);
	curl_slist_free_all(ct);
	curl_easy_cleanup(h);
	free(ca);
	return ret;
}

static void new_uid(char out[37])
{
	unsigned char r[16];
	if (RAND_bytes(r, 16) != 1)
		memset(r, 0x5a, 16);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
		 r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

static json_object *gvk(const char *g, const char *v, const char *k, const char *kkey)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "group", json_object_new_string(g));
	json_object_object_add(o, "version", json_object_new_string(v));
	json_object_object_add(o, kkey, json_object_new_string(k));
	return o;
}

static json_object *user_info(const struct sim_admit_attrs *sa)
{
	json_object *ui = json_object_new_object();
	json_object *groups;
	const char *user = tl_user;
	if (user) {
		groups = tl_groups ? sj_copy(tl_groups) : json_object_new_array();
	} else {
		/* kubesim's own controllers: the Job controller creates the pods */
		int pods = strcmp(sa->resource, "pods") == 0;
		user = pods ? "system:serviceaccount:kube-system:job-controller" : "system:kube-controller-manager";
		groups = json_object_new_array();
		if (pods) {
			json_object_array_add(groups, json_object_new_string("system:serviceaccounts"));
			json_object_array_add(groups, json_object_new_string("system:serviceaccounts:kube-system"));
		}
		json_object_array_add(groups, json_object_new_string("system:authenticated"));
	}
	json_object_object_add(ui, "username", json_object_new_string(user));
	json_object_object_add(ui, "groups", groups);
	return ui;
}

static json_object *review_request(struct admission *a, const struct sim_admit_attrs *sa, const char *uid,
				   json_object *obj, json_object *old)
{
	json_object *desc = sim_resource(a->s, sa->group, sa->version, sa->resource);
	const char *kind = sj_str(desc, "kind", NULL);
	json_object *req = json_object_new_object();
	json_object_object_add(req, "uid", json_object_new_string(uid));
	json_object_object_add(req, "kind", gvk(sa->group, sa->version, kind ? kind : "", "kind"));
	json_object_object_add(req, "resource", gvk(sa->group, sa->version, sa->resource, "resource"));
	json_object_object_add(req, "requestKind", gvk(sa->group, sa->version, kind ? kind : "", "kind"));
	json_object_object_add(req, "requestResource", gvk(sa->group, sa->version, sa->resource, "resource"));
	const char *name = sj_str(obj, "metadata", "name", NULL);
	json_object_object_add(req, "name", json_object_new_string(name ? name : ""));
	if (sa->ns && *sa->ns)
		json_object_object_add(req, "namespace", json_object_new_string(sa->ns));
	json_object_object_add(req, "operation", json_object_new_string(sa->operation));
	json_object_object_add(req, "userInfo", user_info(sa));
	json_object_object_add(req, "object", sj_copy(obj));
	json_object_object_add(req, "oldObject", old ? sj_copy(old) : NULL);
	json_object_object_add(req, "dryRun", json_object_new_boolean(sa->dry_run));
	int create = strcmp(sa->operation, "CREATE") == 0;
	json_object *opts = json_object_new_object();
	json_object_object_add(opts, "kind", json_object_new_string(create ? "CreateOptions" : "UpdateOptions"));
	json_object_object_add(opts, "apiVersion", json_object_new_string("meta.k8s.io/v1"));
	if (sa->dry_run) {
		json_object *dr = json_object_new_array();
		json_object_array_add(dr, json_object_new_string("All"));
		json_object_object_add(opts, "dryRun", dr);
	}
	json_object_object_add(req, "options", opts);
	json_object *review = json_object_new_object();
	json_object_object_add(review, "kind", json_object_new_string("AdmissionReview"));
	json_object_object_add(review, "apiVersion", json_object_new_string("admission.k8s.io/v1"));
	json_object_object_add(review, "request", req);
	if (desc)
		json_object_put(desc);
	return review;
}

static int seterr(struct sim_err *e, int code, const char *reason, const char *msg)
{
	if (e) {
		e->code = code;
		snprintf(e->reason, sizeof e->reason, "%s", reason);
		snprintf(e->message, sizeof e->message, "%s", msg);
	}
	return -code;
}

/* NewInternalError(ErrCallingWebhook): 500 with the error as the cause. */
static int calling_error(struct sim_err *e, const char *hook, const char *reason)
{
	char msg[1600];
	snprintf(msg, sizeof msg, "Internal error occurred: failed calling webhook \"%s\": %s", hook, reason);
	if (e) {
		json_object *cause = json_object_new_object();
		char inner[1500];
		snprintf(inner, sizeof inner, "failed calling webhook \"%s\": %s", hook, reason);
		json_object_object_add(cause, "message", json_object_new_string(inner));
		if (!e->causes)
			e->causes = json_object_new_array();
		json_object_array_add(e->causes, cause);
	}
	return seterr(e, 500, "InternalError", msg);
}

/* The response of an HTTP status other than 200, as client-go words it. */
static void status_reason(struct call *c)
{
	json_object *st = sj_parse(buf_str(&c->body), c->body.len);
	const char *m = sj_str(st, "message", NULL);
	if (m && *m)
		snprintf(c->reason, sizeof c->reason, "failed to call webhook: %s", m);
	else if (c->status == 500 && c->body.len)
		snprintf(c->reason, sizeof c->reason,
			 "failed to call webhook: an error on the server (\"%.200s\") has prevented the request from succeeding",
			 buf_str(&c->body));
	else
		snprintf(c->reason, sizeof c->reason,
			 "failed to call webhook: the server responded with the status code %ld but did not return more information",
			 c->status);
	c->reason[strcspn(c->reason, "\r\n")] = 0;
	if (st)
		json_object_put(st);
}

enum outcome { CALL_OK, CALL_FAILED, CALL_REFUSED };

/* One webhook: 0 (maybe *obj patched), or the call failed (reason in
 * c->reason), or it refused (err filled). */
static enum outcome call_hook(struct admission *a, const struct sim_admit_attrs *sa, json_object *wh,
			      json_object **obj, json_object *old, struct call *c, struct sim_err *err, int *rc)
{
	const char *name = sj_str(wh, "name", NULL);
	long timeout_s = json_object_get_int64(sj_get(wh, "timeoutSeconds"));
	if (timeout_s <= 0 || timeout_s > 30)
		timeout_s = 10;
	if (sa->dry_run) {
		const char *se = sj_str(wh, "sideEffects", NULL);
		if (!se) {
			snprintf(c->reason, sizeof c->reason, "Webhook SideEffects is nil");
			return CALL_FAILED;
		}
		if (strcmp(se, "None") != 0 && strcmp(se, "NoneOnDryRun") != 0) {
			char m[400];
			snprintf(m, sizeof m, "admission webhook \"%s\" does not support dry run", name);
			*rc = seterr(err, 400, "BadRequest", m);
			return CALL_REFUSED;
		}
	}
	if (resolve(a, sj_get(wh, "clientConfig"), timeout_s, c) < 0)
		return CALL_FAILED;
	char uid[37];
	new_uid(uid);
	json_object *review = review_request(a, sa, uid, *obj, old);
	const char *body = json_object_to_json_string_ext(review, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int prc = post(sj_get(wh, "clientConfig"), body, timeout_s, c);
	json_object_put(review);
	if (prc < 0)
		return CALL_FAILED;
	if (c->status != 200) {
		status_reason(c);
		return CALL_FAILED;
	}
	json_object *ans = sj_parse(buf_str(&c->body), c->body.len);
	enum outcome out = CALL_FAILED;
	json_object *resp = sj_get(ans, "response");
	const char *ak = sj_str(ans, "kind", NULL), *av = sj_str(ans, "apiVersion", NULL);
	if (!ans) {
		snprintf(c->reason, sizeof c->reason, "failed to call webhook: the response is not JSON");
		goto done;
	}
	if (!ak || !av || strcmp(ak, "AdmissionReview") != 0 || strcmp(av, "admission.k8s.io/v1") != 0) {
		snprintf(c->reason, sizeof c->reason,
			 "received invalid webhook response: expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got %s, Kind=%s",
			 av ? av : "", ak ? ak : "");
		goto done;
	}
	if (!json_object_is_type(resp, json_type_object)) {
		snprintf(c->reason, sizeof c->reason, "received invalid webhook response: webhook response was absent");
		goto done;
	}
	const char *ruid = sj_str(resp, "uid", NULL);
	if (!ruid || strcmp(ruid, uid) != 0) {
		snprintf(c->reason, sizeof c->reason,
			 "received invalid webhook response: expected response.uid=\"%s\", got \"%s\"", uid, ruid ? ruid : "");
		goto done;
	}
	const char *patch = sj_str(resp, "patch", NULL), *ptype = sj_str(resp, "patchType", NULL);
	if (patch && *patch && !ptype) {
		snprintf(c->reason, sizeof c->reason,
			 "received invalid webhook response: webhook returned response.patch but not response.patchType");
		goto done;
	}
	if (ptype && strcmp(ptype, "JSONPatch") != 0) {
		snprintf(c->reason, sizeof c->reason,
			 "received invalid webhook response: webhook returned invalid response.patchType of \"%s\"", ptype);
		goto done;
	}
	json_object *ws = sj_get(resp, "warnings");
	for (size_t i = 0; json_object_is_type(ws, json_type_array) && i < json_object_array_length(ws); i++) {
		const char *w = json_object_get_string(json_object_array_get_idx(ws, i));
		if (w && *w)
			admission_add_warning(w);
	}
	if (!sj_bool(resp, "allowed")) {
		/* ToStatusErr (1.32): code >= 400, the webhook's message prefixed */
		json_object *st = sj_get(resp, "status");
		long code = json_object_get_int64(sj_get(st, "code"));
		const char *m = sj_str(st, "message", NULL), *r = sj_str(st, "reason", NULL);
		char msg[1100];
		if (m && *m)
			snprintf(msg, sizeof msg, "admission webhook \"%s\" denied the request: %s", name, m);
		else if (r && *r)
			snprintf(msg, sizeof msg, "admission webhook \"%s\" denied the request: %s", name, r);
		else
			snprintf(msg, sizeof msg, "admission webhook \"%s\" denied the request without explanation", name);
		if (code < 400 || code > 599)
			code = 400;
		*rc = seterr(err, (int)code, r ? r : "", msg);
		out = CALL_REFUSED;
		goto done;
	}
	out = CALL_OK;
	if (!patch || !*patch)
		goto done;
	char *raw = xmalloc(strlen(patch) + 1);
	int n = EVP_DecodeBlock((unsigned char *)raw, (const unsigned char *)patch, (int)strlen(patch));
	if (n >= 0)
		raw[n] = 0;   /* the padding decodes to NULs: strlen is the text */
	json_object *ops = n > 0 ? sj_parse(raw, strlen(raw)) : NULL;
	free(raw);
	if (!json_object_is_type(ops, json_type_array)) {
		snprintf(c->reason, sizeof c->reason, "received undecodable patch in webhook response");
		if (ops)
			json_object_put(ops);
		out = CALL_FAILED;
		goto done;
	}
	char *emsg = NULL;
	if (json_object_array_length(ops) > 0 && patch_json(obj, ops, &emsg) < 0) {
		char m[1100];
		snprintf(m, sizeof m, "Internal error occurred: %s", emsg ? emsg : "the webhook's patch does not apply");
		*rc = seterr(err, 500, "InternalError", m);
		out = CALL_REFUSED;
	}
	free(emsg);
	json_object_put(ops);
done:
	if (ans)
		json_object_put(ans);
	return out;
}

static int admit(void *ctx, const struct sim_admit_attrs *sa, json_object **obj, struct sim_err *err)
{
	struct admission *a = ctx;
	struct admission_attrs aa;
	json_object *items = candidates(a, sa, &aa);
	if (!items)
		return 0;
	json_object *nsobj = NULL, *old = NULL;
	int rc = 0;
	if (aa.namespaced) {
		/* NamespaceLifecycle runs first: no namespace, no webhook (the store answers 404) */
		if (!sa->ns || !*sa->ns || sim_get(a->s, "", "v1", "namespaces", sa->ns, sa->ns, &nsobj, NULL) < 0)
			goto out;
	} else if (strcmp(sa->group, "") == 0 && strcmp(sa->resource, "namespaces") == 0) {
		nsobj = json_object_get(*obj);
	}
	if (strcmp(sa->operation, "UPDATE") == 0) {
		const char *name = sj_str(*obj, "metadata", "name", NULL);
		if (name)
			sim_get(a->s, sa->group, sa->version, sa->resource, sa->ns, name, &old, NULL);
	}
	for (size_t i = 0; rc == 0 && i < json_object_array_length(items); i++) {
		json_object *whs = sj_get(json_object_array_get_idx(items, i), "webhooks");
		for (size_t j = 0; rc == 0 && json_object_is_type(whs, json_type_array) && j < json_object_array_length(whs); j++) {
			json_object *wh = json_object_array_get_idx(whs, j);
			if (!rules_match(wh, &aa))
				continue;
			if ((aa.namespaced || nsobj) && !admission_selector_matches(sj_get(wh, "namespaceSelector"), labels_of(nsobj)))
				continue;
			json_object *osel = sj_get(wh, "objectSelector");
			if (!admission_selector_matches(osel, labels_of(*obj)) &&
			    !(old && admission_selector_matches(osel, labels_of(old))))
				continue;
			const char *name = sj_str(wh, "name", NULL);
			struct call c = {0};
			buf_init(&c.body, MAX_RESPONSE);
			enum outcome o = call_hook(a, sa, wh, obj, old, &c, err, &rc);
			if (o == CALL_FAILED) {
				const char *fp = sj_str(wh, "failurePolicy", NULL);
				if (fp && strcmp(fp, "Ignore") == 0) {
					LOG_INFO("admission: webhook failed, failing open", "webhook=%s error=%s", name ? name : "",
						 c.reason);
				} else {
					LOG_INFO("admission: webhook failed, failing closed", "webhook=%s error=%s",
						 name ? name : "", c.reason);
					rc = calling_error(err, name ? name : "", c.reason);
				}
			} else {
				LOG_DEBUG("admission: webhook called", "webhook=%s refused=%d", name ? name : "", o == CALL_REFUSED);
			}
			free(c.url);
			free(c.connect_to);
			buf_cleanup(&c.body);
		}
	}
out:
	if (nsobj)
		json_object_put(nsobj);
	if (old)
		json_object_put(old);
	json_object_put(items);
	return rc;
}

void admission_install(struct admission *a)
{
	struct sim_admission h = {.wants = wants, .admit = admit, .ctx = a};
	sim_set_admission(a->s, &h);
}
