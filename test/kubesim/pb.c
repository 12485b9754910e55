#include "pb.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/mem.h"

#define PB_MAX_DEPTH 16

enum pbtype { PB_STR, PB_BYTES, PB_INT, PB_BOOL, PB_MSG, PB_MAP_SS, PB_MAP_SB, PB_REP_STR, PB_REP_MSG, PB_TIME };

struct pbmsg;
struct pbfield {
	int num;
	const char *name;
	enum pbtype type;
	const struct pbmsg *sub;
};
struct pbmsg {
	const struct pbfield *f;
	size_t n;
};

#define MSG(arr) {arr, sizeof(arr) / sizeof(arr[0])}

static const struct pbfield owner_ref_f[] = {
	{1, "kind", PB_STR, NULL}, {3, "name", PB_STR, NULL}, {4, "uid", PB_STR, NULL},
	{5, "apiVersion", PB_STR, NULL}, {6, "controller", PB_BOOL, NULL}, {7, "blockOwnerDeletion", PB_BOOL, NULL},
};
static const struct pbmsg owner_ref = MSG(owner_ref_f);
static const struct pbfield meta_f[] = {
	{1, "name", PB_STR, NULL}, {2, "generateName", PB_STR, NULL}, {3, "namespace", PB_STR, NULL},
	{5, "uid", PB_STR, NULL}, {6, "resourceVersion", PB_STR, NULL}, {7, "generation", PB_INT, NULL},
	{11, "labels", PB_MAP_SS, NULL}, {12, "annotations", PB_MAP_SS, NULL},
	{13, "ownerReferences", PB_REP_MSG, &owner_ref}, {14, "finalizers", PB_REP_STR, NULL},
};
static const struct pbmsg meta = MSG(meta_f);
static const struct pbfield ns_spec_f[] = {{1, "finalizers", PB_REP_STR, NULL}};
static const struct pbmsg ns_spec = MSG(ns_spec_f);
static const struct pbfield namespace_f[] = {{1, "metadata", PB_MSG, &meta}, {2, "spec", PB_MSG, &ns_spec}};
static const struct pbfield configmap_f[] = {
	{1, "metadata", PB_MSG, &meta}, {2, "data", PB_MAP_SS, NULL}, {3, "binaryData", PB_MAP_SB, NULL},
	{4, "immutable", PB_BOOL, NULL},
};
static const struct pbfield secret_f[] = {
	{1, "metadata", PB_MSG, &meta}, {2, "data", PB_MAP_SB, NULL}, {3, "type", PB_STR, NULL},
	{4, "stringData", PB_MAP_SS, NULL}, {5, "immutable", PB_BOOL, NULL},
};
static const struct pbfield sa_f[] = {{1, "metadata", PB_MSG, &meta}};
/* authentication.k8s.io/v1 TokenRequest (kubectl create token) */
static const struct pbfield bound_ref_f[] = {
	{1, "kind", PB_STR, NULL}, {2, "apiVersion", PB_STR, NULL}, {3, "name", PB_STR, NULL}, {4, "uid", PB_STR, NULL},
};
static const struct pbmsg bound_ref = MSG(bound_ref_f);
static const struct pbfield tr_spec_f[] = {
	{1, "audiences", PB_REP_STR, NULL}, {3, "boundObjectRef", PB_MSG, &bound_ref}, {4, "expirationSeconds", PB_INT, NULL},
};
static const struct pbmsg tr_spec = MSG(tr_spec_f);
/* rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|clusterrolebinding) */
static const struct pbfield policy_rule_f[] = {
	{1, "verbs", PB_REP_STR, NULL}, {2, "apiGroups", PB_REP_STR, NULL}, {3, "resources", PB_REP_STR, NULL},
	{4, "resourceNames", PB_REP_STR, NULL}, {5, "nonResourceURLs", PB_REP_STR, NULL},
};
static const struct pbmsg policy_rule = MSG(policy_rule_f);
static const struct pbfield role_f[] = {{1, "metadata", PB_MSG, &meta}, {2, "rules", PB_REP_MSG, &policy_rule}};
static const struct pbfield subject_f[] = {
	{1, "kind", PB_STR, NULL}, {2, "apiGroup", PB_STR, NULL}, {3, "name", PB_STR, NULL}, {4, "namespace", PB_STR, NULL},
};
static const struct pbmsg subject = MSG(subject_f);
static const struct pbfield role_ref_f[] = {{1, "apiGroup", PB_STR, NULL}, {2, "kind", PB_STR, NULL}, {3, "name", PB_STR, NULL}};
static const struct pbmsg role_ref = MSG(role_ref_f);
static const struct pbfield binding_f[] = {
	{1, "metadata", PB_MSG, &meta}, {2, "subjects", PB_REP_MSG, &subject}, {3, "roleRef", PB_MSG, &role_ref},
};
/* authorization.k8s.io/v1 SelfSubjectAccessReview (kubectl auth can-i) */
static const struct pbfield res_attrs_f[] = {
	{1, "namespace", PB_STR, NULL}, {2, "verb", PB_STR, NULL}, {3, "group", PB_STR, NULL}, {4, "version", PB_STR, NULL},
	{5, "resource", PB_STR, NULL}, {6, "subresource", PB_STR, NULL}, {7, "name", PB_STR, NULL},
};
static const struct pbmsg res_attrs = MSG(res_attrs_f);
static const struct pbfield nonres_attrs_f[] = {{1, "path", PB_STR, NULL}, {2, "verb", PB_STR, NULL}};
static const struct pbmsg nonres_attrs = MSG(nonres_attrs_f);
static const struct pbfield ssar_spec_f[] = {
	{1, "resourceAttributes", PB_MSG, &res_attrs}, {2, "nonResourceAttributes", PB_MSG, &nonres_attrs},
};
static const struct pbmsg ssar_spec = MSG(ssar_spec_f);
static const struct pbfield ssar_f[] = {{1, "metadata", PB_MSG, &meta}, {2, "spec", PB_MSG, &ssar_spec}};
static const struct pbfield token_request_f[] = {{1, "metadata", PB_MSG, &meta}, {2, "spec", PB_MSG, &tr_spec}};
static const struct pbfield unknown_type_f[] = {{1, "apiVersion", PB_STR, NULL}, {2, "kind", PB_STR, NULL}};
static const struct pbmsg unknown_type = MSG(unknown_type_f);
static const struct pbfield unknown_f[] = {
	{1, "typeMeta", PB_MSG, &unknown_type}, {2, "raw", PB_BYTES, NULL},
	{3, "contentEncoding", PB_STR, NULL}, {4, "contentType", PB_STR, NULL},
};
static const struct pbmsg unknown = MSG(unknown_f);

static const struct {
	const char *kind;
	struct pbmsg msg;
} kinds[] = {
	{"Namespace", MSG(namespace_f)},
	{"ConfigMap", MSG(configmap_f)},
	{"Secret", MSG(secret_f)},
	{"ServiceAccount", MSG(sa_f)},
	{"TokenRequest", MSG(token_request_f)},
	{"SelfSubjectAccessReview", MSG(ssar_f)},
	{"Role", MSG(role_f)},
	{"ClusterRole", MSG(role_f)},
	{"RoleBinding", MSG(binding_f)},
	{"ClusterRoleBinding", MSG(binding_f)},
};

static int varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -EINVAL;
		unsigned char b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -EINVAL;
}

static json_object *b64(const unsigned char *p, size_t n)
{
	char *o = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)o, p, (int)n);
	json_object *j = json_object_new_string(o);
	free(o);
	return j;
}

static int decode(const unsigned char *p, size_t n, const struct pbmsg *m, json_object *out, int depth);

/* map entry: key=1 (string), value=2 */
static int map_entry(const unsigned char *p, size_t n, json_object *map, int bytes_val)
{
	const unsigned char *end = p + n;
	char *key = NULL;
	json_object *val = NULL;
	while (p < end) {
		uint64_t tag, len;
		if (varint(&p, end, &tag) < 0 || (tag & 7) != 2 || varint(&p, end, &len) < 0 ||
		    len > (uint64_t)(end - p))
			goto fail;
		if ((tag >> 3) == 1) {
			free(key);
			key = xstrndup((const char *)p, (size_t)len);
		} else if ((tag >> 3) == 2) {
			if (val)
				json_object_put(val);
			val = bytes_val ? b64(p, (size_t)len) : json_object_new_string_len((const char *)p, (int)len);
		}
		p += len;
	}
	if (!key)
		goto fail;
	json_object_object_add(map, key, val ? val : json_object_new_string(""));
	free(key);
	return 0;
fail:
	free(key);
	if (val)
		json_object_put(val);
	return -EINVAL;
}

static const struct pbfield *field(const struct pbmsg *m, int num)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->f[i].num == num)
			return &m->f[i];
	return NULL;
}

static json_object *child(json_object *out, const char *name, json_type t)
{
	json_object *c = NULL;
	if (json_object_object_get_ex(out, name, &c))
		return c;
	c = t == json_type_array ? json_object_new_array() : json_object_new_object();
	json_object_object_add(out, name, c);
	return c;
}

static int decode(const unsigned char *p, size_t n, const struct pbmsg *m, json_object *out, int depth)
{
	const unsigned char *end = p + n;
	if (depth > PB_MAX_DEPTH)
		return -EINVAL;
	while (p < end) {
		uint64_t tag, v = 0, len = 0;
		if (varint(&p, end, &tag) < 0)
			return -EINVAL;
		int wt = (int)(tag & 7);
		const unsigned char *data = NULL;
		if (wt == 0) {
			if (varint(&p, end, &v) < 0)
				return -EINVAL;
		} else if (wt == 2) {
			if (varint(&p, end, &len) < 0 || len > (uint64_t)(end - p))
				return -EINVAL;
			data = p;
			p += len;
		} else if (wt == 1) {
			if (end - p < 8)
				return -EINVAL;
			p += 8;
			continue;
		} else if (wt == 5) {
			if (end - p < 4)
				return -EINVAL;
			p += 4;
			continue;
		} else {
			return -EINVAL;
		}
		const struct pbfield *f = field(m, (int)(tag >> 3));
		if (!f)
			continue;
		switch (f->type) {
		case PB_STR:
			if (!data)
				return -EINVAL;
			if (len == 0)
				break; /* proto2 writes empty optionals; JSON omits them */
			json_object_object_add(out, f->name, json_object_new_string_len((const char *)data, (int)len));
			break;
		case PB_BYTES:
			if (!data)
				return -EINVAL;
			json_object_object_add(out, f->name, json_object_new_string_len((const char *)data, (int)len));
			break;
		case PB_INT:
			if (v == 0)
				break;
			json_object_object_add(out, f->name, json_object_new_int64((int64_t)v));
			break;
		case PB_BOOL:
			json_object_object_add(out, f->name, json_object_new_boolean(v != 0));
			break;
		case PB_MSG:
			if (!data || decode(data, (size_t)len, f->sub, child(out, f->name, json_type_object), depth + 1) < 0)
				return -EINVAL;
			break;
		case PB_MAP_SS:
		case PB_MAP_SB:
			if (!data || map_entry(data, (size_t)len, child(out, f->name, json_type_object), f->type == PB_MAP_SB) < 0)
				return -EINVAL;
			break;
		case PB_REP_STR:
			if (!data)
				return -EINVAL;
			json_object_array_add(child(out, f->name, json_type_array),
					      json_object_new_string_len((const char *)data, (int)len));
			break;
		case PB_REP_MSG: {
			if (!data)
				return -EINVAL;
			json_object *e = json_object_new_object();
			json_object_array_add(child(out, f->name, json_type_array), e);
			if (decode(data, (size_t)len, f->sub, e, depth + 1) < 0)
				return -EINVAL;
			break;
		}
		case PB_TIME:
			break;
		}
	}
	return 0;
}

int pb_decode_object(const unsigned char *p, size_t n, json_object **out)
{
	if (n < 4 || memcmp(p, "k8s\0", 4) != 0)
		return -EINVAL;
	json_object *env = json_object_new_object();
	int rc = decode(p + 4, n - 4, &unknown, env, 0);
	json_object *tm = NULL, *raw = NULL, *av = NULL, *kind = NULL;
	if (rc < 0 || !json_object_object_get_ex(env, "typeMeta", &tm) || !json_object_object_get_ex(env, "raw", &raw) ||
	    !json_object_object_get_ex(tm, "kind", &kind)) {
		json_object_put(env);
		return -EINVAL;
	}
	json_object_object_get_ex(tm, "apiVersion", &av);
	rc = -ENOTSUP;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].kind, json_object_get_string(kind)) != 0)
			continue;
		json_object *obj = json_object_new_object();
		json_object_object_add(obj, "apiVersion", json_object_new_string(av ? json_object_get_string(av) : "v1"));
		json_object_object_add(obj, "kind", json_object_new_string(kinds[i].kind));
		rc = decode((const unsigned char *)json_object_get_string(raw), (size_t)json_object_get_string_len(raw),
			    &kinds[i].msg, obj, 0);
		if (rc == 0)
			*out = obj;
		else
			json_object_put(obj);
		break;
	}
	json_object_put(env);
	return rc;
}
