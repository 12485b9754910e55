/* kubesim: ServiceAccounts (serviceaccount.h). The behaviours follow
 * kube-controller-manager's serviceaccount and root-ca-cert-publisher
 * controllers, the ServiceAccount admission plugin, the TokenRequest REST
 * storage (pkg/registry/core/serviceaccount/storage/token.go) and the
 * service account token authenticator of kube-apiserver v1.28. */
#include "serviceaccount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "simjson.h"
#include "util/clock.h"
#include "util/mem.h"

#define ROOT_CA_CM "kube-root-ca.crt"
#define ROOT_CA_DESC                                                                                          \
	"Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such " \
	"as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions " \
	"of Kubernetes clusters."
#define TOKEN_MAX 16384
#define JWT_LEEWAY_S 60

struct sa_ctl {
	struct sim *s;
	char *ca_pem;
	EVP_PKEY *key;
	char kid[64];
	int sub_id, subscribed;
};

/* ---------------------------------------------------------------- helpers */

#define fail sim_err_set

static const char *to_json(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static char *b64url(const unsigned char *p, size_t n)
{
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)o, p, (int)n);
	while (len > 0 && o[len - 1] == '=')
		len--;
	o[len] = 0;
	for (char *c = o; *c; c++)
		*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	return o;
}

/* base64url without padding; NULL when not valid. *n = decoded length. */
static unsigned char *b64url_dec(const char *s, size_t len, size_t *n)
{
	if (len == 0 || len > TOKEN_MAX || len % 4 == 1)
		return NULL;
	size_t padded = (len + 3) / 4 * 4;
	char *t = xmalloc(padded + 1);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			free(t);
			return NULL;
		}
		t[i] = c;
	}
	for (size_t i = len; i < padded; i++)
		t[i] = '=';
	t[padded] = 0;
	unsigned char *o = xmalloc(padded / 4 * 3 + 1);
	int r = EVP_DecodeBlock(o, (unsigned char *)t, (int)padded);
	free(t);
	if (r < 0) {
		free(o);
		return NULL;
	}
	*n = (size_t)r - (padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
	o[*n] = 0;
	return o;
}

static void rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int64_t now_s(void)
{
	return wall_ms() / 1000;
}

/* 1 active, 0 missing or terminating. */
static int ns_active(struct sim *s, const char *ns)
{
	json_object *o = NULL;
	if (sim_get(s, "", "v1", "namespaces", NULL, ns, &o, NULL) < 0)
		return 0;
	const char *phase = sj_str(o, "status", "phase", NULL);
	int active = !sj_get(sj_get(o, "metadata"), "deletionTimestamp") && !(phase && strcmp(phase, "Terminating") == 0);
	json_object_put(o);
	return active;
}

/* ---------------------------------------------------------------- controllers */

static json_object *root_ca_cm(struct sa_ctl *c)
{
	json_object *cm = json_object_new_object();
	json_object *m = json_object_new_object(), *ann = json_object_new_object(), *d = json_object_new_object();
	json_object_object_add(m, "name", json_object_new_string(ROOT_CA_CM));
	json_object_object_add(ann, "kubernetes.io/description", json_object_new_string(ROOT_CA_DESC));
	json_object_object_add(m, "annotations", ann);
	json_object_object_add(cm, "metadata", m);
	json_object_object_add(d, "ca.crt", json_object_new_string(c->ca_pem));
	json_object_object_add(cm, "data", d);
	return cm;
}

/* The default ServiceAccount and kube-root-ca.crt of an active namespace. */
static void ensure_ns(struct sa_ctl *c, const char *ns)
{
	if (!ns || !ns_active(c->s, ns))
		return;
	json_object *o = NULL;
	if (sim_get(c->s, "", "v1", "serviceaccounts", ns, "default", &o, NULL) == -404) {
		json_object *sa = json_object_new_object(), *m = json_object_new_object();
		json_object_object_add(m, "name", json_object_new_string("default"));
		json_object_object_add(sa, "metadata", m);
		struct sim_err e = {0};
		sim_create(c->s, "", "v1", "serviceaccounts", ns, sa, NULL, &e); /* 409/403 races: nothing to do */
		sim_err_cleanup(&e);
		json_object_put(sa);
	}
	if (o)
		json_object_put(o);
	o = NULL;
	int rc = sim_get(c->s, "", "v1", "configmaps", ns, ROOT_CA_CM, &o, NULL);
	if (rc == -404) {
		json_object *cm = root_ca_cm(c);
		struct sim_err e = {0};
		sim_create(c->s, "", "v1", "configmaps", ns, cm, NULL, &e);
		sim_err_cleanup(&e);
		json_object_put(cm);
	} else if (rc == 0) {
		const char *have = sj_str(o, "data", "ca.crt", NULL);
		const char *desc = sj_str(o, "metadata", "annotations", "kubernetes.io/description", NULL);
		if (!have || strcmp(have, c->ca_pem) != 0 || !desc || strcmp(desc, ROOT_CA_DESC) != 0 ||
		    json_object_object_length(sj_get(o, "data")) != 1) {
			/* the publisher puts data and the annotation back, keeping the rest */
			json_object *d = json_object_new_object();
			json_object_object_add(d, "ca.crt", json_object_new_string(c->ca_pem));
			json_object_object_add(o, "data", d);
			json_object_object_del(o, "binaryData");
			json_object *m = sj_meta(o), *ann = sj_get(m, "annotations");
			if (!ann || !json_object_is_type(ann, json_type_object)) {
				ann = json_object_new_object();
				json_object_object_add(m, "annotations", ann);
			}
			json_object_object_add(ann, "kubernetes.io/description", json_object_new_string(ROOT_CA_DESC));
			json_object_object_del(m, "resourceVersion");
			struct sim_err e = {0};
			sim_update(c->s, "", "v1", "configmaps", ns, o, NULL, &e);
			sim_err_cleanup(&e);
		}
	}
	if (o)
		json_object_put(o);
}

static void on_event(void *ctx, const char *type, const char *plural, json_object *obj)
{
	struct sa_ctl *c = ctx;
	const char *av = sj_str(obj, "apiVersion", NULL);
	if (av && strcmp(av, "v1") != 0)
		return;
	const char *name = sj_str(obj, "metadata", "name", NULL);
	const char *ns = sj_str(obj, "metadata", "namespace", NULL);
	if (!name)
		return;
	if (strcmp(plural, "namespaces") == 0 && strcmp(type, "DELETED") != 0)
		ensure_ns(c, name);
	else if (strcmp(plural, "serviceaccounts") == 0 && strcmp(type, "DELETED") == 0 && strcmp(name, "default") == 0)
		ensure_ns(c, ns);
	else if (strcmp(plural, "configmaps") == 0 && strcmp(type, "ADDED") != 0 && strcmp(name, ROOT_CA_CM) == 0)
		ensure_ns(c, ns);
}

/* ---------------------------------------------------------------- admission */

/* The ServiceAccount ns/name, looked up like the plugin's getServiceAccount:
 * the default one up to 10 times 100-200 ms apart (its controller may not
 * have created it yet). 0 with *out, or -404. */
static int lookup_sa(struct sa_ctl *c, const char *ns, const char *name, json_object **out)
{
	int attempts = strcmp(name, "default") == 0 ? 10 : 1;
	unsigned char r = 0;
	if (RAND_bytes(&r, 1) != 1)
		r = 50;
	useconds_t interval = (useconds_t)(100 + r % 100) * 1000;
	for (int i = 0; i < attempts; i++) {
		if (i)
			usleep(interval);
		if (sim_get(c->s, "", "v1", "serviceaccounts", ns, name, out, NULL) == 0)
			return 0;
	}
	return -404;
}

int sa_admit_pod(struct sa_ctl *c, const char *ns, json_object *pod, struct sim_err *err)
{
	/* NamespaceLifecycle runs first: a missing or terminating namespace is
	 * the store's 404/403 */
	if (!ns || !ns_active(c->s, ns))
		return 0;
	/* admission.NewForbidden names the object by name, else generateName */
	const char *pname = sj_str(pod, "metadata", "name", NULL);
	if (!pname || !*pname)
		pname = sj_str(pod, "metadata", "generateName", NULL);
	if (!pname || !*pname)
		pname = "Unknown";
	json_object *spec = sj_get(pod, "spec");
	const char *san = sj_str(spec, "serviceAccountName", NULL);
	if (sj_str(pod, "metadata", "annotations", "kubernetes.io/config.mirror", NULL)) {
		if (san && *san)
			return fail(err, 403, "Forbidden", "pods \"%s\" is forbidden: a mirror pod may not reference service accounts",
				    pname);
		return 0;
	}
	if (!san || !*san) {
		if (spec && json_object_is_type(spec, json_type_object))
			json_object_object_add(spec, "serviceAccountName", json_object_new_string("default"));
		san = "default";
	}
	json_object *sa = NULL;
	if (lookup_sa(c, ns, san, &sa) < 0)
		return fail(err, 403, "Forbidden",
			    "pods \"%s\" is forbidden: error looking up service account %s/%s: serviceaccount \"%s\" not found",
			    pname, ns, san, san);
	json_object_put(sa);
	return 0;
}

static int plugin_wants(void *ctx, const struct sim_admit_attrs *a)
{
	(void)ctx;
	return strcmp(a->operation, "CREATE") == 0 && !a->group[0] && strcmp(a->resource, "pods") == 0 &&
	       (!a->subresource || !a->subresource[0]);
}

static int plugin_admit(void *ctx, const struct sim_admit_attrs *a, json_object **obj, struct sim_err *err)
{
	return sa_admit_pod(ctx, a->ns, *obj, err);
}

/* ---------------------------------------------------------------- tokens */

static char *sign_jwt(struct sa_ctl *c, json_object *claims)
{
	json_object *h = json_object_new_object();
	json_object_object_add(h, "alg", json_object_new_string("RS256"));
	json_object_object_add(h, "kid", json_object_new_string(c->kid));
	const char *hs = to_json(h), *cs = to_json(claims);
	char *h64 = b64url((const unsigned char *)hs, strlen(hs));
	char *c64 = b64url((const unsigned char *)cs, strlen(cs));
	json_object_put(h);
	char *input = xasprintf("%s.%s", h64, c64);
	free(h64);
	free(c64);
	char *out = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t siglen = 0;
	unsigned char *sig = NULL;
	if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) == 1) {
		sig = xmalloc(siglen);
		if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1) {
			char *s64 = b64url(sig, siglen);
			out = xasprintf("%s.%s", input, s64);
			free(s64);
		}
	}
	EVP_MD_CTX_free(md);
	free(sig);
	free_secret(input);
	return out;
}

static int verify_jwt(struct sa_ctl *c, const char *tok, json_object **claims)
{
	const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d1 || !d2 || strchr(d2 + 1, '.'))
		return 0;
	size_t hn = 0, cn = 0, sn = 0;
	unsigned char *hj = b64url_dec(tok, (size_t)(d1 - tok), &hn);
	unsigned char *cj = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), &cn);
	unsigned char *sig = b64url_dec(d2 + 1, strlen(d2 + 1), &sn);
	json_object *h = hj ? sj_parse((const char *)hj, hn) : NULL;
	json_object *cl = cj ? sj_parse((const char *)cj, cn) : NULL;
	int ok = 0;
	const char *alg = sj_str(h, "alg", NULL), *kid = sj_str(h, "kid", NULL);
	if (h && cl && sig && alg && strcmp(alg, "RS256") == 0 && kid && strcmp(kid, c->kid) == 0 &&
	    json_object_is_type(cl, json_type_object)) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, c->key) == 1 &&
		     EVP_DigestVerify(md, sig, sn, (const unsigned char *)tok, (size_t)(d2 - tok)) == 1;
		EVP_MD_CTX_free(md);
	}
	free(hj);
	free(cj);
	free(sig);
	if (h)
		json_object_put(h);
	if (ok)
		*claims = cl;
	else if (cl)
		json_object_put(cl);
	return ok;
}

static json_object *ref_obj(const char *name, const char *uid)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "uid", json_object_new_string(uid));
	return o;
}

static int invalid_tr(struct sim_err *err, const char *name, const char *field, const char *detail)
{
	if (err) {
		json_object *causes = json_object_new_array(), *cz = json_object_new_object();
		json_object_object_add(cz, "reason", json_object_new_string("FieldValueInvalid"));
		json_object_object_add(cz, "message", json_object_new_string(detail));
		json_object_object_add(cz, "field", json_object_new_string(field));
		json_object_array_add(causes, cz);
		err->causes = causes;
	}
	return fail(err, 422, "Invalid", "TokenRequest.authentication.k8s.io \"%s\" is invalid: %s: %s", name, field,
		    detail);
}

int sa_token_request(struct sa_ctl *c, const char *ns, const char *name, json_object *body, json_object **out,
		     struct sim_err *err)
{
	json_object *sa = NULL, *bound = NULL, *claims = NULL, *res = NULL;
	char *tok = NULL, *detail = NULL;
	int rc;
	if (body && !json_object_is_type(body, json_type_object))
		return fail(err, 400, "BadRequest", "the body of the request was not a JSON object");
	const char *bname = sj_str(body, "metadata", "name", NULL), *bns = sj_str(body, "metadata", "namespace", NULL);
	if (bname && *bname && strcmp(bname, name) != 0) {
		detail = xasprintf("Invalid value: \"%s\": must match the service account name if specified", bname);
		rc = invalid_tr(err, name, "metadata.name", detail);
		goto out;
	}
	if (bns && *bns && strcmp(bns, ns) != 0) {
		detail = xasprintf("Invalid value: \"%s\": must match the service account namespace if specified", bns);
		rc = invalid_tr(err, name, "metadata.namespace", detail);
		goto out;
	}
	if ((rc = sim_get(c->s, "", "v1", "serviceaccounts", ns, name, &sa, err)) < 0)
		goto out;
	json_object *spec = sj_get(body, "spec");
	json_object *auds = sj_get(spec, "audiences");
	json_object *aud = json_object_new_array();
	for (size_t i = 0; auds && json_object_is_type(auds, json_type_array) && i < json_object_array_length(auds); i++) {
		json_object *v = json_object_array_get_idx(auds, i);
		if (json_object_is_type(v, json_type_string))
			json_object_array_add(aud, json_object_get(v));
	}
	if (json_object_array_length(aud) == 0)
		json_object_array_add(aud, json_object_new_string(SA_ISSUER));
	json_object *es = sj_get(spec, "expirationSeconds");
	int64_t exp_s = es && !json_object_is_type(es, json_type_null) ? json_object_get_int64(es) : 3600;
	if (exp_s < 600 || exp_s > (int64_t)1 << 32) {
		json_object_put(aud);
		detail = xasprintf("Invalid value: %lld: may not specify a duration %s", (long long)exp_s,
				   exp_s < 600 ? "less than 10 minutes" : "larger than 2^32 seconds");
		rc = invalid_tr(err, "", "spec.expirationSeconds", detail);
		goto out;
	}
	json_object *ref = sj_get(spec, "boundObjectRef");
	const char *rkind = sj_str(ref, "kind", NULL), *rav = sj_str(ref, "apiVersion", NULL);
	const char *rname = sj_str(ref, "name", NULL), *ruid = sj_str(ref, "uid", NULL);
	const char *bound_key = NULL;
	if (ref && !json_object_is_type(ref, json_type_null)) {
		const char *plural = NULL;
		if (rav && strcmp(rav, "v1") == 0 && rkind && strcmp(rkind, "Pod") == 0)
			plural = "pods", bound_key = "pod";
		else if (rav && strcmp(rav, "v1") == 0 && rkind && strcmp(rkind, "Secret") == 0)
			plural = "secrets", bound_key = "secret";
		if (!plural) {
			/* schema.GroupVersionKind.String() of the reference */
			const char *sl = rav ? strchr(rav, '/') : NULL;
			char gv[256];
			if (sl)
				snprintf(gv, sizeof(gv), "%.*s/%s", (int)(sl - rav), rav, sl + 1);
			else
				snprintf(gv, sizeof(gv), "/%s", rav ? rav : "");
			json_object_put(aud);
			rc = fail(err, 400, "BadRequest", "cannot bind token to object of type %s, Kind=%s", gv,
				  rkind ? rkind : "");
			goto out;
		}
		if ((rc = sim_get(c->s, "", "v1", plural, ns, rname ? rname : "", &bound, err)) < 0) {
			json_object_put(aud);
			goto out;
		}
		const char *san = sj_str(bound, "spec", "serviceAccountName", NULL);
		if (strcmp(plural, "pods") == 0 && (!san || strcmp(san, name) != 0)) {
			json_object_put(aud);
			rc = fail(err, 400, "BadRequest",
				  "cannot bind token for serviceaccount \"%s\" to pod running with different serviceaccount name.",
				  name);
			goto out;
		}
		const char *uid = sj_str(bound, "metadata", "uid", NULL);
		if (ruid && *ruid && strcmp(ruid, uid) != 0) {
			json_object_put(aud);
			rc = fail(err, 409, "Conflict",
				  "Operation cannot be fulfilled on %s \"%s\": the UID in the bound object reference (%s) does not "
				  "match the UID in record. The object might have been deleted and then recreated",
				  rkind, rname, ruid);
			goto out;
		}
	}
	int64_t now = now_s();
	/* claims in the order go-jose writes them (sorted keys) */
	claims = json_object_new_object();
	json_object_object_add(claims, "aud", aud);
	json_object_object_add(claims, "exp", json_object_new_int64(now + exp_s));
	json_object_object_add(claims, "iat", json_object_new_int64(now));
	json_object_object_add(claims, "iss", json_object_new_string(SA_ISSUER));
	json_object *k8s = json_object_new_object();
	json_object_object_add(k8s, "namespace", json_object_new_string(ns));
	if (bound_key)
		json_object_object_add(k8s, bound_key, ref_obj(rname, sj_str(bound, "metadata", "uid", NULL)));
	json_object_object_add(k8s, "serviceaccount", ref_obj(name, sj_str(sa, "metadata", "uid", NULL)));
	json_object_object_add(claims, "kubernetes.io", k8s);
	json_object_object_add(claims, "nbf", json_object_new_int64(now));
	char sub[600];
	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", ns, name);
	json_object_object_add(claims, "sub", json_object_new_string(sub));
	if (!(tok = sign_jwt(c, claims))) {
		rc = fail(err, 500, "InternalError", "Internal error occurred: failed to generate token: signing failed");
		goto out;
	}
	char ts[32], ets[32];
	rfc3339(now, ts);
	rfc3339(now + exp_s, ets);
	res = json_object_new_object();
	json_object_object_add(res, "kind", json_object_new_string("TokenRequest"));
	json_object_object_add(res, "apiVersion", json_object_new_string("authentication.k8s.io/v1"));
	json_object *m = json_object_new_object();
	json_object_object_add(m, "name", json_object_new_string(name));
	json_object_object_add(m, "namespace", json_object_new_string(ns));
	json_object_object_add(m, "creationTimestamp", json_object_new_string(ts));
	json_object_object_add(res, "metadata", m);
	json_object *rs = json_object_new_object();
	json_object_object_add(rs, "audiences", json_object_get(aud));
	json_object_object_add(rs, "expirationSeconds", json_object_new_int64(exp_s));
	if (bound_key)
		json_object_object_add(rs, "boundObjectRef", sj_copy(ref));
	json_object_object_add(res, "spec", rs);
	json_object *st = json_object_new_object();
	json_object_object_add(st, "token", json_object_new_string(tok));
	json_object_object_add(st, "expirationTimestamp", json_object_new_string(ets));
	json_object_object_add(res, "status", st);
	*out = res;
	rc = 0;
out:
	if (sa)
		json_object_put(sa);
	if (bound)
		json_object_put(bound);
	if (claims)
		json_object_put(claims);
	free_secret(tok);
	free(detail);
	return rc;
}

/* The object named in a claim (kubernetes.io.pod / .secret / .serviceaccount)
 * still exists in ns with that uid. */
static int still_there(struct sa_ctl *c, const char *plural, const char *ns, json_object *ref)
{
	const char *name = sj_str(ref, "name", NULL), *uid = sj_str(ref, "uid", NULL);
	json_object *o = NULL;
	if (!name || !uid || sim_get(c->s, "", "v1", plural, ns, name, &o, NULL) < 0)
		return 0;
	const char *have = sj_str(o, "metadata", "uid", NULL);
	int ok = have && strcmp(have, uid) == 0 && !sj_get(sj_get(o, "metadata"), "deletionTimestamp");
	json_object_put(o);
	return ok;
}

int sa_authenticate(struct sa_ctl *c, const char *token, json_object **user)
{
	json_object *cl = NULL;
	if (!c || !token || strlen(token) > TOKEN_MAX || !verify_jwt(c, token, &cl))
		return 0;
	int rc = -1;
	int64_t now = now_s();
	json_object *exp = sj_get(cl, "exp"), *nbf = sj_get(cl, "nbf"), *aud = sj_get(cl, "aud");
	const char *iss = sj_str(cl, "iss", NULL), *ns = sj_str(cl, "kubernetes.io", "namespace", NULL);
	json_object *k8s = sj_get(cl, "kubernetes.io");
	json_object *saref = sj_get(k8s, "serviceaccount");
	if (!iss || strcmp(iss, SA_ISSUER) != 0 || !exp || json_object_get_int64(exp) + JWT_LEEWAY_S < now ||
	    (nbf && json_object_get_int64(nbf) - JWT_LEEWAY_S > now) || !ns || !saref)
		goto out;
	int aud_ok = 0;
	for (size_t i = 0; aud && json_object_is_type(aud, json_type_array) && i < json_object_array_length(aud); i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(aud, i));
		aud_ok |= a && strcmp(a, SA_ISSUER) == 0;
	}
	if (!aud_ok || !still_there(c, "serviceaccounts", ns, saref))
		goto out;
	if (sj_get(k8s, "pod") && !still_there(c, "pods", ns, sj_get(k8s, "pod")))
		goto out;
	if (sj_get(k8s, "secret") && !still_there(c, "secrets", ns, sj_get(k8s, "secret")))
		goto out;
	const char *name = sj_str(saref, "name", NULL);
	json_object *u = json_object_new_object();
	char *un = xasprintf("system:serviceaccount:%s:%s", ns, name), *g = xasprintf("system:serviceaccounts:%s", ns);
	json_object_object_add(u, "username", json_object_new_string(un));
	json_object_object_add(u, "uid", json_object_new_string(sj_str(saref, "uid", NULL)));
	json_object *groups = json_object_new_array();
	json_object_array_add(groups, json_object_new_string("system:serviceaccounts"));
	json_object_array_add(groups, json_object_new_string(g));
	json_object_array_add(groups, json_object_new_string("system:authenticated"));
	json_object_object_add(u, "groups", groups);
	free(un);
	free(g);
	*user = u;
	rc = 1;
out:
	json_object_put(cl);
	return rc;
}

/* ---------------------------------------------------------------- lifecycle */

int sa_start(struct sim *s, const char *ca_pem, struct sa_ctl **out)
{
	struct sa_ctl *c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->ca_pem = xstrdup(ca_pem ? ca_pem : "");
	c->key = EVP_RSA_gen(2048);
	unsigned char *der = NULL;
	int dn = c->key ? i2d_PUBKEY(c->key, &der) : -1;
	if (dn <= 0) {
		sa_stop(c);
		return -ENOMEM;
	}
	/* the apiserver's key id: base64url(sha256(DER of the public key)) */
	unsigned char dg[32];
	unsigned int dl = 0;
	EVP_Digest(der, (size_t)dn, dg, &dl, EVP_sha256(), NULL);
	OPENSSL_free(der);
	char *kid = b64url(dg, dl);
	snprintf(c->kid, sizeof(c->kid), "%s", kid);
	free(kid);
	struct sim_admission p = {.wants = plugin_wants, .admit = plugin_admit, .ctx = c};
	sim_add_admission_plugin(s, &p);
	if (sim_subscribe(s, on_event, c, &c->sub_id) < 0) {
		sa_stop(c);
		return -ENOMEM;
	}
	c->subscribed = 1;
	json_object *l = NULL;
	if (sim_list(s, "", "v1", "namespaces", NULL, NULL, NULL, &l, NULL) == 0) {
		json_object *items = sj_get(l, "items");
		for (size_t i = 0; i < json_object_array_length(items); i++)
			ensure_ns(c, sj_str(json_object_array_get_idx(items, i), "metadata", "name", NULL));
		json_object_put(l);
	}
	*out = c;
	return 0;
}

void sa_stop(struct sa_ctl *c)
{
	if (!c)
		return;
	if (c->subscribed)
		sim_unsubscribe(c->s, c->sub_id);
	EVP_PKEY_free(c->key);
	free(c->ca_pem);
	free(c);
}
