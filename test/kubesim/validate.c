/* kubesim: validation of built-in kinds (validate.h). The rules and their
 * messages are kube-apiserver's (pkg/apis/core/validation,
 * pkg/apis/apps/validation, pkg/apis/batch/validation, apimachinery's
 * ValidateObjectMetaUpdate and its field.Error texts). */
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "simjson.h"
#include "util/mem.h"

#define LABEL_VALUE_MSG                                                                                        \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must " \
	"start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used " \
	"for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define NAME_PART_MSG                                                                                          \
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "      \
	"'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define PREFIX_PART_MSG                                                                                        \
	"prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or " \
	"'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "         \
	"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define CONFIG_KEY_MSG                                                                                         \
	"a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "     \
	"'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
#define POD_UPDATE_MSG                                                                                         \
	"pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`," \
	"`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),"               \
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

/* ---------------------------------------------------------------- error lists */

void go_quote(const char *s, char *out, size_t n)
{
	size_t o = 0;
	if (n < 3) {
		if (n)
			out[0] = 0;
		return;
	}
	out[o++] = '"';
	for (; s && *s && o + 5 < n; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (c == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = 0;
}

void verrs_add(struct verrs *v, const char *reason, const char *field, const char *body)
{
	if (!v->causes)
		v->causes = json_object_new_array();
	/* the message lists each distinct error once (an aggregate of unique texts) */
	int dup = 0;
	for (size_t i = 0; i < json_object_array_length(v->causes); i++) {
		json_object *c = json_object_array_get_idx(v->causes, i);
		if (strcmp(sj_str(c, "field", NULL), field) == 0 && strcmp(sj_str(c, "message", NULL), body) == 0)
			dup = 1;
	}
	json_object *c = json_object_new_object();
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(body));
	json_object_object_add(c, "field", json_object_new_string(field));
	json_object_array_add(v->causes, c);
	if (dup)
		return;
	size_t ml = strlen(v->msg);
	if (ml + 4 < sizeof(v->msg))
		snprintf(v->msg + ml, sizeof(v->msg) - ml, "%s%s: %s", ml ? ", " : "", field, body);
	v->n++;
}

int verrs_finish(struct verrs *v, const char *qualkind, const char *name, struct sim_err *err)
{
	if (!v->causes) {
		return 0;
	}
	if (err) {
		err->code = 422;
		snprintf(err->reason, sizeof(err->reason), "Invalid");
		if (v->n > 1)
			snprintf(err->message, sizeof(err->message), "%s \"%s\" is invalid: [%s]", qualkind, name, v->msg);
		else
			snprintf(err->message, sizeof(err->message), "%s \"%s\" is invalid: %s", qualkind, name, v->msg);
		if (err->causes)
			json_object_put(err->causes);
		err->causes = v->causes;
	} else {
		json_object_put(v->causes);
	}
	v->causes = NULL;
	v->n = 0;
	v->msg[0] = 0;
	return -422;
}

/* field.Invalid(path, value-as-Go-string, detail) */
static void add_invalid_str(struct verrs *v, const char *field, const char *value, const char *detail)
{
	char q[512], body[1024];
	go_quote(value, q, sizeof(q));
	snprintf(body, sizeof(body), "Invalid value: %s: %s", q, detail);
	verrs_add(v, "FieldValueInvalid", field, body);
}

static void add_required(struct verrs *v, const char *field, const char *detail)
{
	char body[512];
	snprintf(body, sizeof(body), "Required value%s%s", detail && *detail ? ": " : "", detail ? detail : "");
	verrs_add(v, "FieldValueRequired", field, body);
}

static void add_forbidden(struct verrs *v, const char *field, const char *detail)
{
	char body[1024];
	snprintf(body, sizeof(body), "Forbidden: %s", detail);
	verrs_add(v, "FieldValueForbidden", field, body);
}

/* field.NotSupported(path, value, supported) */
static void add_unsupported(struct verrs *v, const char *field, const char *value, const char *const *ok, size_t nok)
{
	char q[256], body[1024];
	go_quote(value, q, sizeof(q));
	int o = snprintf(body, sizeof(body), "Unsupported value: %s: supported values: ", q);
	for (size_t i = 0; i < nok && o > 0 && (size_t)o < sizeof(body); i++)
		o += snprintf(body + o, sizeof(body) - (size_t)o, "%s\"%s\"", i ? ", " : "", ok[i]);
	verrs_add(v, "FieldValueNotSupported", field, body);
}

/* ---------------------------------------------------------------- name checks */

static int alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static int name_part_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

static int dns_subdomain_ok(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			size_t l = i - start;
			if (l == 0)
				return 0;
			for (size_t j = start; j < i; j++) {
				char c = s[j];
				if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
					return 0;
			}
			if (s[start] == '-' || s[i - 1] == '-')
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

/* validation.IsQualifiedName: messages appended to v at field. */
static void check_qualified_name(struct verrs *v, const char *field, const char *key)
{
	const char *slash = strchr(key, '/');
	const char *name = key;
	if (slash) {
		name = slash + 1;
		size_t pl = (size_t)(slash - key);
		if (pl == 0)
			add_invalid_str(v, field, key, "prefix part must be non-empty");
		else if (!dns_subdomain_ok(key, pl))
			add_invalid_str(v, field, key, PREFIX_PART_MSG);
		if (strchr(name, '/')) {
			add_invalid_str(v, field, key,
					"a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
					"start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
					"'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') "
					"with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
			return;
		}
	}
	if (!*name)
		add_invalid_str(v, field, key, "name part must be non-empty");
	else if (strlen(name) > 63)
		add_invalid_str(v, field, key, "name part must be no more than 63 characters");
	else if (!name_part_ok(name))
		add_invalid_str(v, field, key, NAME_PART_MSG);
}

static void check_labels(struct verrs *v, const char *field, json_object *labels)
{
	if (!labels || !json_object_is_type(labels, json_type_object))
		return;
	json_object_object_foreach(labels, k, val) {
		check_qualified_name(v, field, k);
		const char *s = json_object_is_type(val, json_type_string) ? json_object_get_string(val) : "";
		if (strlen(s) > 63)
			add_invalid_str(v, field, s, "must be no more than 63 characters");
		else if (*s && !name_part_ok(s))
			add_invalid_str(v, field, s, LABEL_VALUE_MSG);
	}
}

/* ValidateConfigMap / ValidateSecret: data keys */
static void check_config_keys(struct verrs *v, const char *fieldname, json_object *data)
{
	if (!data || !json_object_is_type(data, json_type_object))
		return;
	json_object_object_foreach(data, k, val) {
		(void)val;
		char field[512];
		snprintf(field, sizeof(field), "%s[%s]", fieldname, k);
		size_t n = strlen(k);
		int ok = n > 0;
		for (size_t i = 0; i < n; i++)
			if (!alnum(k[i]) && k[i] != '-' && k[i] != '_' && k[i] != '.')
				ok = 0;
		if (n > 253)
			add_invalid_str(v, field, k, "must be no more than 253 characters");
		if (!ok)
			add_invalid_str(v, field, k, CONFIG_KEY_MSG);
		if (strcmp(k, ".") == 0)
			add_invalid_str(v, field, k, "must not be '.'");
		else if (strcmp(k, "..") == 0)
			add_invalid_str(v, field, k, "must not be '..'");
		else if (strncmp(k, "..", 2) == 0)
			add_invalid_str(v, field, k, "must not start with '..'");
	}
}

/* ---------------------------------------------------------------- helpers */

static json_object *at(json_object *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	for (char *seg = strtok_r(buf, ".", &save); seg && o; seg = strtok_r(NULL, ".", &save))
		o = sj_get(o, seg);
	return o;
}

static int jequal(json_object *a, json_object *b)
{
	return json_object_equal(a, b);
}

/* Go's %#v of a map[string]string (keys sorted) into out. */
static void go_map(json_object *m, char *out, size_t n)
{
	int o = snprintf(out, n, "map[string]string{");
	size_t cnt = m && json_object_is_type(m, json_type_object) ? (size_t)json_object_object_length(m) : 0;
	const char **keys = cnt ? xcalloc(cnt, sizeof(*keys)) : NULL;
	size_t k = 0;
	if (cnt) {
		json_object_object_foreach(m, key, val) {
			(void)val;
			keys[k++] = key;
		}
	}
	for (size_t i = 1; i < k; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (size_t i = 0; i < k && o > 0 && (size_t)o < n; i++) {
		char qk[300], qv[300];
		go_quote(keys[i], qk, sizeof(qk));
		go_quote(sj_str(m, keys[i], NULL) ? sj_str(m, keys[i], NULL) : "", qv, sizeof(qv));
		o += snprintf(out + o, n - (size_t)o, "%s%s:%s", i ? ", " : "", qk, qv);
	}
	if (o > 0 && (size_t)o < n)
		snprintf(out + o, n - (size_t)o, "}");
	free(keys);
}

/* The JSON of o as the value of an Invalid error (the apiserver prints the
 * Go struct; kubesim prints the JSON: test/kubesim/README.md). */
static void add_immutable(struct verrs *v, const char *field, json_object *val)
{
	char body[900];
	const char *j = val ? json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN) : "null";
	snprintf(body, sizeof(body), "Invalid value: %.700s: field is immutable", j);
	verrs_add(v, "FieldValueInvalid", field, body);
}

/* ---------------------------------------------------------------- pods */

static void check_containers(struct verrs *v, const char *path, json_object *spec, const char *key, int required)
{
	json_object *cs = sj_get(spec, key);
	char f[300];
	snprintf(f, sizeof(f), "%s.%s", path, key);
	if (!cs || !json_object_is_type(cs, json_type_array) || json_object_array_length(cs) == 0) {
		if (required)
			add_required(v, f, "");
		return;
	}
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		char cf[350];
		const char *name = sj_str(c, "name", NULL);
		snprintf(cf, sizeof(cf), "%s[%zu].name", f, i);
		if (!name || !*name)
			add_required(v, cf, "");
		const char *image = sj_str(c, "image", NULL);
		snprintf(cf, sizeof(cf), "%s[%zu].image", f, i);
		if (!image || !*image)
			add_required(v, cf, "");
		for (size_t j = 0; name && *name && j < i; j++) {
			const char *other = sj_str(json_object_array_get_idx(cs, j), "name", NULL);
			if (other && strcmp(other, name) == 0) {
				char q[300], body[400];
				go_quote(name, q, sizeof(q));
				snprintf(body, sizeof(body), "Duplicate value: %s", q);
				snprintf(cf, sizeof(cf), "%s[%zu].name", f, i);
				verrs_add(v, "FieldValueDuplicate", cf, body);
			}
		}
	}
}

/* ValidatePodSpec (the parts kubesim checks); path "spec" or "spec.template.spec". */
static void check_pod_spec(struct verrs *v, const char *path, json_object *spec)
{
	check_containers(v, path, spec, "containers", 1);
	check_containers(v, path, spec, "initContainers", 0);
	const char *rp = sj_str(spec, "restartPolicy", NULL);
	static const char *const policies[] = {"Always", "OnFailure", "Never"};
	char f[300];
	snprintf(f, sizeof(f), "%s.restartPolicy", path);
	if (rp && strcmp(rp, "Always") && strcmp(rp, "OnFailure") && strcmp(rp, "Never"))
		add_unsupported(v, f, rp, policies, 3);
	const char *dp = sj_str(spec, "dnsPolicy", NULL);
	static const char *const dns[] = {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"};
	snprintf(f, sizeof(f), "%s.dnsPolicy", path);
	if (dp && strcmp(dp, "ClusterFirst") && strcmp(dp, "ClusterFirstWithHostNet") && strcmp(dp, "Default") &&
	    strcmp(dp, "None"))
		add_unsupported(v, f, dp, dns, 4);
}

static void copy_images(json_object *to, json_object *from, const char *key)
{
	json_object *a = sj_get(to, key), *b = sj_get(from, key);
	if (!a || !b || !json_object_is_type(a, json_type_array) || !json_object_is_type(b, json_type_array) ||
	    json_object_array_length(a) != json_object_array_length(b))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		json_object *img = sj_get(json_object_array_get_idx(b, i), "image");
		json_object *c = json_object_array_get_idx(a, i);
		if (img && json_object_is_type(c, json_type_object))
			json_object_object_add(c, "image", json_object_get(img));
	}
}

/* ValidatePodUpdate: the spec may change only in the allowed places. */
static void check_pod_update(struct verrs *v, json_object *obj, json_object *old)
{
	json_object *ns = sj_copy(sj_get(obj, "spec")), *os = sj_get(old, "spec");
	if (!ns)
		ns = json_object_new_object();
	copy_images(ns, os, "containers");
	copy_images(ns, os, "initContainers");
	const char *same[] = {"activeDeadlineSeconds", "terminationGracePeriodSeconds"};
	for (size_t i = 0; i < 2; i++) {
		json_object *ov = sj_get(os, same[i]);
		if (ov)
			json_object_object_add(ns, same[i], json_object_get(ov));
		else
			json_object_object_del(ns, same[i]);
	}
	/* tolerations: only additions */
	json_object *nt = sj_get(ns, "tolerations"), *ot = sj_get(os, "tolerations");
	int superset = 1;
	for (size_t i = 0; ot && json_object_is_type(ot, json_type_array) && i < json_object_array_length(ot); i++) {
		int found = 0;
		for (size_t j = 0; nt && json_object_is_type(nt, json_type_array) && j < json_object_array_length(nt); j++)
			if (jequal(json_object_array_get_idx(ot, i), json_object_array_get_idx(nt, j)))
				found = 1;
		superset &= found;
	}
	if (superset) {
		if (ot)
			json_object_object_add(ns, "tolerations", json_object_get(ot));
		else
			json_object_object_del(ns, "tolerations");
	}
	if (!jequal(ns, os)) {
		/* the apiserver appends a Go diff of the two specs; kubesim names the fields */
		char detail[1000];
		int o = snprintf(detail, sizeof(detail), "%s\n", POD_UPDATE_MSG);
		json_object_object_foreach(ns, k, nv) {
			if (!jequal(nv, sj_get(os, k)) && o > 0 && (size_t)o < sizeof(detail))
				o += snprintf(detail + o, sizeof(detail) - (size_t)o, "  spec.%s changed\n", k);
		}
		if (os && json_object_is_type(os, json_type_object)) {
			json_object_object_foreach(os, k2, ov2) {
				(void)ov2;
				if (!sj_get(ns, k2) && o > 0 && (size_t)o < sizeof(detail))
					o += snprintf(detail + o, sizeof(detail) - (size_t)o, "  spec.%s removed\n", k2);
			}
		}
		add_forbidden(v, "spec", detail);
	}
	json_object_put(ns);
}

/* ---------------------------------------------------------------- workloads */

static void check_selector_matches(struct verrs *v, json_object *spec)
{
	json_object *sel = sj_get(spec, "selector");
	json_object *labels = at(spec, "template.metadata.labels");
	if (!sel) {
		add_required(v, "spec.selector", "");
		return;
	}
	if (json_object_is_type(sel, json_type_object) && json_object_object_length(sel) == 0) {
		add_invalid_str(v, "spec.selector", "", "empty selector is invalid for deployment");
		return;
	}
	if (!admission_selector_matches(sel, labels)) {
		char m[900], body[1000];
		go_map(labels, m, sizeof(m));
		snprintf(body, sizeof(body), "Invalid value: %s: `selector` does not match template `labels`", m);
		verrs_add(v, "FieldValueInvalid", "spec.template.metadata.labels", body);
	}
}

static void check_deployment(struct verrs *v, json_object *obj, json_object *old)
{
	json_object *spec = sj_get(obj, "spec");
	json_object *r = sj_get(spec, "replicas");
	if (r && json_object_get_int64(r) < 0) {
		char body[200];
		snprintf(body, sizeof(body), "Invalid value: %lld: must be greater than or equal to 0",
			 (long long)json_object_get_int64(r));
		verrs_add(v, "FieldValueInvalid", "spec.replicas", body);
	}
	check_selector_matches(v, spec);
	json_object *pspec = at(spec, "template.spec");
	check_pod_spec(v, "spec.template.spec", pspec);
	const char *rp = sj_str(pspec, "restartPolicy", NULL);
	static const char *const always[] = {"Always"};
	if (rp && strcmp(rp, "Always") != 0)
		add_unsupported(v, "spec.template.spec.restartPolicy", rp, always, 1);
	if (old && !jequal(sj_get(spec, "selector"), at(old, "spec.selector")))
		add_immutable(v, "spec.selector", sj_get(spec, "selector"));
}

static void check_job(struct verrs *v, json_object *obj, json_object *old)
{
	json_object *spec = sj_get(obj, "spec");
	json_object *pspec = at(spec, "template.spec");
	check_pod_spec(v, "spec.template.spec", pspec);
	const char *rp = sj_str(pspec, "restartPolicy", NULL);
	if (!rp || (strcmp(rp, "OnFailure") && strcmp(rp, "Never")))
		add_required(v, "spec.template.spec.restartPolicy", "valid values: \"OnFailure\", \"Never\"");
	const char *nonneg[] = {"parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"};
	for (size_t i = 0; i < 4; i++) {
		json_object *x = sj_get(spec, nonneg[i]);
		if (x && json_object_get_int64(x) < (i == 3 ? 1 : 0)) {
			char f[64], body[200];
			snprintf(f, sizeof(f), "spec.%s", nonneg[i]);
			snprintf(body, sizeof(body), "Invalid value: %lld: must be greater than or equal to %d",
				 (long long)json_object_get_int64(x), i == 3 ? 1 : 0);
			verrs_add(v, "FieldValueInvalid", f, body);
		}
	}
	if (!old)
		return;
	json_object *ospec = sj_get(old, "spec");
	if (!jequal(sj_get(spec, "selector"), sj_get(ospec, "selector")))
		add_immutable(v, "spec.selector", sj_get(spec, "selector"));
	if (!jequal(sj_get(spec, "template"), sj_get(ospec, "template")))
		add_immutable(v, "spec.template", sj_get(spec, "template"));
	if (!jequal(sj_get(spec, "completions"), sj_get(ospec, "completions")))
		add_immutable(v, "spec.completions", sj_get(spec, "completions"));
}

static void check_pvc(struct verrs *v, json_object *obj, json_object *old)
{
	json_object *spec = sj_get(obj, "spec");
	json_object *am = sj_get(spec, "accessModes");
	if (!am || !json_object_is_type(am, json_type_array) || json_object_array_length(am) == 0)
		add_required(v, "spec.accessModes", "at least 1 access mode is required");
	static const char *const modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"};
	for (size_t i = 0; am && json_object_is_type(am, json_type_array) && i < json_object_array_length(am); i++) {
		const char *m = json_object_get_string(json_object_array_get_idx(am, i));
		int ok = 0;
		for (size_t j = 0; j < 4; j++)
			ok |= m && strcmp(m, modes[j]) == 0;
		if (!ok)
			add_unsupported(v, "spec.accessModes", m ? m : "", modes, 4);
	}
	if (!at(spec, "resources.requests.storage"))
		add_required(v, "spec.resources[storage]", "");
	if (!old)
		return;
	/* binding (volumeName set once) and a larger request on a bound claim are allowed */
	json_object *ns = sj_copy(spec), *os = sj_get(old, "spec");
	if (!sj_str(os, "volumeName", NULL) || !*sj_str(os, "volumeName", NULL)) {
		json_object *vn = sj_get(os, "volumeName");
		if (vn)
			json_object_object_add(ns, "volumeName", json_object_get(vn));
		else
			json_object_object_del(ns, "volumeName");
	}
	/* a class may be set on a claim that had none (retroactive default class) */
	if (!sj_get(os, "storageClassName") && sj_get(ns, "storageClassName"))
		json_object_object_del(ns, "storageClassName");
	const char *phase = sj_str(old, "status", "phase", NULL);
	json_object *req = at(ns, "resources.requests");
	if (phase && strcmp(phase, "Bound") == 0 && req && json_object_is_type(req, json_type_object)) {
		json_object *os_storage = at(os, "resources.requests.storage");
		if (os_storage)
			json_object_object_add(req, "storage", json_object_get(os_storage));
	}
	if (!jequal(ns, os))
		add_forbidden(v, "spec",
			      "spec is immutable after creation except resources.requests and volumeAttributesClassName "
			      "for bound claims");
	json_object_put(ns);
}

/* ConfigMap and Secret: keys, and the `immutable` rule. */
static void check_config(struct verrs *v, json_object *obj, json_object *old, int secret)
{
	check_config_keys(v, "data", sj_get(obj, "data"));
	if (!secret)
		check_config_keys(v, "binaryData", sj_get(obj, "binaryData"));
	if (!old)
		return;
	if (secret && !jequal(sj_get(obj, "type"), sj_get(old, "type"))) {
		const char *t = sj_str(obj, "type", NULL);
		add_invalid_str(v, "type", t ? t : "", "field is immutable");
	}
	if (!sj_bool(old, "immutable"))
		return;
	if (!sj_bool(obj, "immutable"))
		add_forbidden(v, "immutable", "field is immutable when `immutable` is set");
	if (!jequal(sj_get(obj, "data"), sj_get(old, "data")))
		add_forbidden(v, "data", "field is immutable when `immutable` is set");
	if (!secret && !jequal(sj_get(obj, "binaryData"), sj_get(old, "binaryData")))
		add_forbidden(v, "binaryData", "field is immutable when `immutable` is set");
}

/* ---------------------------------------------------------------- metadata */

static void check_finalizers_while_deleting(struct verrs *v, json_object *obj, json_object *old)
{
	if (!sj_get(sj_get(old, "metadata"), "deletionTimestamp"))
		return;
	json_object *nf = sj_get(sj_get(obj, "metadata"), "finalizers");
	json_object *of = sj_get(sj_get(old, "metadata"), "finalizers");
	char list[700];
	int o = snprintf(list, sizeof(list), "[]string{");
	int added = 0;
	for (size_t i = 0; nf && json_object_is_type(nf, json_type_array) && i < json_object_array_length(nf); i++) {
		const char *f = json_object_get_string(json_object_array_get_idx(nf, i));
		int found = 0;
		for (size_t j = 0; of && json_object_is_type(of, json_type_array) && j < json_object_array_length(of); j++)
			if (f && strcmp(f, json_object_get_string(json_object_array_get_idx(of, j))) == 0)
				found = 1;
		if (found || !f)
			continue;
		char q[300];
		go_quote(f, q, sizeof(q));
		if (o > 0 && (size_t)o < sizeof(list))
			o += snprintf(list + o, sizeof(list) - (size_t)o, "%s%s", added ? ", " : "", q);
		added++;
	}
	if (!added)
		return;
	if (o > 0 && (size_t)o < sizeof(list))
		snprintf(list + o, sizeof(list) - (size_t)o, "}");
	char detail[900];
	snprintf(detail, sizeof(detail),
		 "no new finalizers can be added if the object is being deleted, found new finalizers %s", list);
	/* the registry checks object metadata twice on an update (the generic
	 * BeforeUpdate and the kind's ValidateUpdate): two causes, one message */
	add_forbidden(v, "metadata.finalizers", detail);
	add_forbidden(v, "metadata.finalizers", detail);
}

int validate_write(const char *group, const char *plural, const char *kind, int crd, int status,
		   json_object *obj, json_object *old, struct sim_err *err)
{
	struct verrs v = {0};
	char qual[300];
	const char *name = sj_str(obj, "metadata", "name", NULL);
	if (!name)
		name = "";
	if (group && *group)
		snprintf(qual, sizeof(qual), "%s.%s", kind, group);
	else
		snprintf(qual, sizeof(qual), "%s", kind);
	/* a custom resource's update must name the resourceVersion it replaces */
	if (crd && old) {
		const char *rv = sj_str(obj, "metadata", "resourceVersion", NULL);
		if (!rv || !*rv) {
			char rq[300];
			snprintf(rq, sizeof(rq), "%s.%s", plural, group);
			verrs_add(&v, "FieldValueInvalid", "metadata.resourceVersion",
				  "Invalid value: 0x0: must be specified for an update");
			return verrs_finish(&v, rq, name, err);
		}
	}
	check_labels(&v, "metadata.labels", sj_get(sj_get(obj, "metadata"), "labels"));
	if (old)
		check_finalizers_while_deleting(&v, obj, old);
	if (!status && !crd) {
		int core = !group || !*group;
		if (core && strcmp(plural, "pods") == 0) {
			if (!old)
				check_pod_spec(&v, "spec", sj_get(obj, "spec"));
			else
				check_pod_update(&v, obj, old);
		} else if (strcmp(group, "apps") == 0 && strcmp(plural, "deployments") == 0) {
			check_deployment(&v, obj, old);
			check_labels(&v, "spec.template.metadata.labels", at(obj, "spec.template.metadata.labels"));
		} else if (strcmp(group, "batch") == 0 && strcmp(plural, "jobs") == 0) {
			check_job(&v, obj, old);
			check_labels(&v, "spec.template.metadata.labels", at(obj, "spec.template.metadata.labels"));
		} else if (core && strcmp(plural, "persistentvolumeclaims") == 0) {
			check_pvc(&v, obj, old);
		} else if (core && strcmp(plural, "configmaps") == 0) {
			check_config(&v, obj, old, 0);
		} else if (core && strcmp(plural, "secrets") == 0) {
			check_config(&v, obj, old, 1);
		}
	}
	return verrs_finish(&v, qual, name, err);
}

/* ---------------------------------------------------------------- field selectors */

static const char *const POD_FIELDS[] = {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
					 "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
					 "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
					 "spec.host", NULL};
static const char *const NODE_FIELDS[] = {"metadata.name", "spec.unschedulable", NULL};
static const char *const EVENT_FIELDS[] = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
					   "involvedObject.uid", "involvedObject.apiVersion",
					   "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
					   "reportingComponent", "source", "type", "metadata.namespace",
					   "metadata.name", NULL};
static const char *const NS_FIELDS[] = {"status.phase", "metadata.name", NULL};
static const char *const SECRET_FIELDS[] = {"type", "metadata.namespace", "metadata.name", NULL};
static const char *const SVC_FIELDS[] = {"metadata.namespace", "metadata.name", "spec.clusterIP", "spec.type", NULL};
static const char *const JOB_FIELDS[] = {"metadata.name", "metadata.namespace", "status.successful", NULL};
static const char *const META_FIELDS[] = {"metadata.name", "metadata.namespace", NULL};

int validate_field_selector(const char *group, const char *plural, int crd, const char *sel, struct sim_err *err)
{
	if (!sel || !*sel)
		return 0;
	const char *const *ok = NULL;
	int core = !group || !*group;
	if (crd)
		ok = META_FIELDS;
	else if (core && !strcmp(plural, "pods"))
		ok = POD_FIELDS;
	else if (core && !strcmp(plural, "nodes"))
		ok = NODE_FIELDS;
	else if ((core || !strcmp(group, "events.k8s.io")) && !strcmp(plural, "events"))
		ok = EVENT_FIELDS;
	else if (core && !strcmp(plural, "namespaces"))
		ok = NS_FIELDS;
	else if (core && !strcmp(plural, "secrets"))
		ok = SECRET_FIELDS;
	else if (core && !strcmp(plural, "services"))
		ok = SVC_FIELDS;
	else if (!strcmp(group, "batch") && !strcmp(plural, "jobs"))
		ok = JOB_FIELDS;
	int specific = ok != NULL;
	if (!ok)
		ok = META_FIELDS;
	char *buf = xstrdup(sel), *save = NULL;
	int rc = 0;
	for (char *term = strtok_r(buf, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
		char *op = strstr(term, "!=");
		if (!op)
			op = strchr(term, '=');
		if (!op) {
			if (err) {
				err->code = 400;
				snprintf(err->reason, sizeof(err->reason), "BadRequest");
				snprintf(err->message, sizeof(err->message), "invalid selector: '%s'; can't understand '%s'",
					 sel, term);
			}
			rc = -400;
			break;
		}
		char field[256];
		snprintf(field, sizeof(field), "%.*s", (int)(op - term), term);
		int found = 0;
		for (size_t i = 0; ok[i]; i++)
			found |= strcmp(ok[i], field) == 0;
		if (found)
			continue;
		if (err) {
			err->code = 400;
			snprintf(err->reason, sizeof(err->reason), "BadRequest");
			if (specific || crd)
				snprintf(err->message, sizeof(err->message), "field label not supported: %s", field);
			else
				snprintf(err->message, sizeof(err->message),
					 "\"%s\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
					 field);
		}
		rc = -400;
		break;
	}
	free(buf);
	return rc;
}
