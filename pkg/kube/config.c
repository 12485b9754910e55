/* Kubeconfig (libyaml), in-cluster configuration and exec credential plugins.
 *
 * The kubeconfig is read into a json-c tree (every scalar a string), merged
 * first-wins across files like kubectl, then the chosen context is resolved
 * into a struct kube_config holding everything in memory. */
#include "kube/config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include <json-c/json.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

extern char **environ;

#define MAX_FILE_BYTES (8u << 20)      /* kubeconfig, CA, cert, key files */
#define MAX_TOKEN_BYTES (64u << 10)
#define MAX_EXEC_OUTPUT (1u << 20)
#define MAX_YAML_NODES 100000
#define MAX_YAML_DEPTH 64
#define EXEC_TIMEOUT_MS 60000
#define EXPIRY_SKEW_NS (10LL * 1000000000LL)  /* refresh a little before expiry */
#define SA_DIR_DEFAULT "/var/run/secrets/kubernetes.io/serviceaccount"

/* A token read from a file, re-read whenever the file changes. */
struct file_token {
	char *path;
	char *token;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	bool loaded;
};

struct exec_plugin {
	char *where;          /* "users[0].user.exec" */
	char *api_version;
	char **argv;          /* NULL-terminated; argv[0] = command */
	char **env;           /* "NAME=value", NULL-terminated */
	char *install_hint;
	bool provide_cluster_info;
	bool interactive_always;
	/* cached credential */
	bool have;
	char *token;
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
	int64_t expiry_ns;    /* 0 = no expiry */
	unsigned runs;
};

struct kube_config {
	pthread_mutex_t mu;
	int refs;
	char *server;
	char *ns;
	char *ca;
	size_t ca_len;
	bool insecure;
	char *tls_server_name;
	char *cert;
	size_t cert_len;
	char *key;
	size_t key_len;
	char *token;
	char *username;
	char *password;
	struct file_token ft;   /* path NULL when unused */
	struct exec_plugin *exec;
	const struct mclock *clock;
};

/* ------------------------------------------------------------------ */
/* small helpers */

static int fail(char **errmsg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **errmsg, const char *fmt, ...)
{
	if (errmsg) {
		va_list ap;
		va_start(ap, fmt);
		free(*errmsg);
		*errmsg = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct buf b;
	buf_init(&b, max);
	char tmp[8192];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if (buf_append(&b, tmp, (size_t)n) < 0) {
			rc = -EFBIG;
			break;
		}
	}
	close(fd);
	if (rc < 0) {
		buf_cleanup(&b);
		return rc;
	}
	*out = buf_take(&b, len);
	return 0;
}

static char *trim_dup(const char *s, size_t n)
{
	while (n && (s[0] == ' ' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
		n--;
	return xstrndup(s, n);
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard base64 (whitespace ignored, padding optional). 0 or -EINVAL. */
static int b64_decode(const char *s, char **out, size_t *len)
{
	size_t n = strlen(s);
	char *o = xmalloc(n / 4 * 3 + 4);
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		int v = b64val(c);
		if (v < 0 || pad)
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits >= 6 || pad > 2)
		goto bad;
	o[k] = '\0';
	*out = o;
	*len = k;
	return 0;
bad:
	free(o);
	return -EINVAL;
}

static bool truthy(const char *s)
{
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0);
}

/* ------------------------------------------------------------------ */
/* YAML -> json-c (scalars as strings) */

struct yconv {
	yaml_document_t *doc;
	size_t nodes;
};

static json_object *yconv_node(struct yconv *y, yaml_node_t *n, int depth, bool *too_big)
{
	if (!n)
		return NULL;
	if (depth > MAX_YAML_DEPTH || ++y->nodes > MAX_YAML_NODES) {
		*too_big = true;
		return NULL;
	}
	switch (n->type) {
	case YAML_SCALAR_NODE: {
		const char *v = (const char *)n->data.scalar.value;
		size_t len = n->data.scalar.length;
		/* A plain "null" / "~" / empty value is no value. */
		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    (len == 0 || (len == 4 && memcmp(v, "null", 4) == 0) || (len == 1 && v[0] == '~')))
			return NULL;
		return json_object_new_string_len(v, (int)len);
	}
	case YAML_SEQUENCE_NODE: {
		json_object *a = json_object_new_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			json_object *c = yconv_node(y, yaml_document_get_node(y->doc, *it), depth + 1, too_big);
			if (*too_big) {
				json_object_put(a);
				return NULL;
			}
			json_object_array_add(a, c);
		}
		return a;
	}
	case YAML_MAPPING_NODE: {
		json_object *o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			json_object *c = yconv_node(y, yaml_document_get_node(y->doc, p->value), depth + 1, too_big);
			if (*too_big) {
				json_object_put(o);
				return NULL;
			}
			char *key = xstrndup((const char *)k->data.scalar.value, k->data.scalar.length);
			json_object_object_add(o, key, c);
			free(key);
		}
		return o;
	}
	default:
		return NULL;
	}
}

/* Parse YAML (or JSON) bytes; `what` names the source in messages. */
static int yaml_to_json(const char *data, size_t len, const char *what, json_object **out, char **errmsg)
{
	yaml_parser_t p;
	yaml_document_t doc;
	int rc = 0;
	*out = NULL;
	if (!yaml_parser_initialize(&p))
		return fail(errmsg, "%s: cannot initialise the YAML parser", what);
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	if (!yaml_parser_load(&p, &doc)) {
		rc = fail(errmsg, "%s: invalid YAML at line %lu: %s", what, (unsigned long)p.problem_mark.line + 1,
			  p.problem ? p.problem : "parse error");
		yaml_parser_delete(&p);
		return rc;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	struct yconv y = { .doc = &doc };
	bool too_big = false;
	json_object *j = root ? yconv_node(&y, root, 0, &too_big) : NULL;
	if (too_big)
		rc = fail(errmsg, "%s: document too large or too deeply nested", what);
	else if (!j)
		j = json_object_new_object();   /* an empty file is an empty config */
	else if (!json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		j = NULL;
		rc = fail(errmsg, "%s: not a kubeconfig (the top level must be a mapping)", what);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	*out = j;
	return rc;
}

/* ------------------------------------------------------------------ */
/* merging */

/* merged: {"clusters": {name: {"e": entry, "where": "...", "dir": "..."}}, "users": ..,
 *          "contexts": .., "current-context": "...", "current-where": "..."} */
static int merge_file(json_object *merged, json_object *doc, const char *file, const char *dir, char **errmsg)
{
	static const char *const lists[] = { "clusters", "users", "contexts" };
	static const char *const inner[] = { "cluster", "user", "context" };
	for (size_t l = 0; l < 3; l++) {
		json_object *arr = jpath_child(doc, lists[l]);
		if (!arr)
			continue;
		if (!json_object_is_type(arr, json_type_array))
			return fail(errmsg, "%s: %s: must be a list", file, lists[l]);
		json_object *m = jpath_child(merged, lists[l]);
		size_t n = json_object_array_length(arr);
		for (size_t i = 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(arr, i);
			const char *name = jpath_child_str(e, "name");
			if (!e || !json_object_is_type(e, json_type_object))
				return fail(errmsg, "%s: %s[%zu]: must be a mapping", file, lists[l], i);
			if (!name || !name[0])
				return fail(errmsg, "%s: %s[%zu].name: required", file, lists[l], i);
			json_object *body = jpath_child(e, inner[l]);
			if (body && !json_object_is_type(body, json_type_object))
				return fail(errmsg, "%s: %s[%zu].%s: must be a mapping", file, lists[l], i, inner[l]);
			if (jpath_child(m, name))
				continue;   /* first wins */
			json_object *w = json_object_new_object();
			json_object_object_add(w, "e", body ? json_object_get(body) : json_object_new_object());
			char *where = xasprintf("%s: %s[%zu].%s", file, lists[l], i, inner[l]);
			json_object_object_add(w, "where", json_object_new_string(where));
			free(where);
			json_object_object_add(w, "dir", dir ? json_object_new_string(dir) : NULL);
			json_object_object_add(m, name, w);
		}
	}
	const char *cur = jpath_child_str(doc, "current-context");
	if (cur && cur[0] && !jpath_child_str(merged, "current-context"))
		json_object_object_add(merged, "current-context", json_object_new_string(cur));
	return 0;
}

static json_object *merged_new(void)
{
	json_object *m = json_object_new_object();
	json_object_object_add(m, "clusters", json_object_new_object());
	json_object_object_add(m, "users", json_object_new_object());
	json_object_object_add(m, "contexts", json_object_new_object());
	return m;
}

/* ------------------------------------------------------------------ */
/* building a config */

static struct kube_config *config_alloc(void)
{
	struct kube_config *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->refs = 1;
	c->clock = mclock_system();
	return c;
}

static void exec_free(struct exec_plugin *x)
{
	if (!x)
		return;
	free(x->where);
	free(x->api_version);
	for (char **p = x->argv; p && *p; p++)
		free(*p);
	free(x->argv);
	for (char **p = x->env; p && *p; p++)
		free_secret(*p);
	free(x->env);
	free(x->install_hint);
	free_secret(x->token);
	free_secret(x->cert);
	free_secret(x->key);
	free(x);
}

static void config_destroy(struct kube_config *c)
{
	free(c->server);
	free(c->ns);
	free(c->ca);
	free(c->tls_server_name);
	free(c->cert);
	free_secret(c->key);
	free_secret(c->token);
	free(c->username);
	free_secret(c->password);
	free(c->ft.path);
	free_secret(c->ft.token);
	exec_free(c->exec);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void kube_config_free(struct kube_config *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	int left = --c->refs;
	pthread_mutex_unlock(&c->mu);
	if (left == 0)
		config_destroy(c);
}

struct kube_config *kube_config_ref(struct kube_config *c)
{
	pthread_mutex_lock(&c->mu);
	c->refs++;
	pthread_mutex_unlock(&c->mu);
	return c;
}

static char *resolve_path(const char *dir, const char *p)
{
	if (p[0] == '/' || !dir)
		return xstrdup(p);
	return xasprintf("%s/%s", dir, p);
}

/* Read `<field>-data` (base64) or `<field>` (a file path) of entry e. */
static int load_blob(json_object *e, const char *where, const char *dir, const char *field, bool allow_files,
		     char **out, size_t *len, char **errmsg)
{
	char dkey[64];
	snprintf(dkey, sizeof(dkey), "%s-data", field);
	const char *data = jpath_child_str(e, dkey);
	const char *path = jpath_child_str(e, field);
	if (jpath_child(e, dkey) && !data)
		return fail(errmsg, "%s.%s: must be a string", where, dkey);
	if (data && data[0]) {
		if (b64_decode(data, out, len) < 0)
			return fail(errmsg, "%s.%s: not valid base64", where, dkey);
		if (*len == 0) {
			free(*out);
			*out = NULL;
			return fail(errmsg, "%s.%s: empty", where, dkey);
		}
		return 0;
	}
	if (path && path[0]) {
		if (!allow_files)
			return fail(errmsg, "%s.%s: file references are not allowed in this kubeconfig", where, field);
		char *full = resolve_path(dir, path);
		int rc = read_file(full, MAX_FILE_BYTES, out, len);
		if (rc < 0) {
			fail(errmsg, "%s.%s: cannot read %s: %s", where, field, full, strerror(-rc));
			free(full);
			return -EINVAL;
		}
		free(full);
		return 0;
	}
	return 0;
}

static int parse_exec(json_object *x, const char *where_user, const char *dir, struct kube_config *cfg,
		      char **errmsg)
{
	char *where = xasprintf("%s.exec", where_user);
	struct exec_plugin *p = xcalloc(1, sizeof(*p));
	int rc = 0;
	p->where = where;
	const char *api = jpath_child_str(x, "apiVersion");
	const char *cmd = jpath_child_str(x, "command");
	if (!api || !api[0]) {
		rc = fail(errmsg, "%s.apiVersion: required", where);
		goto out;
	}
	if (strcmp(api, "client.authentication.k8s.io/v1") != 0 &&
	    strcmp(api, "client.authentication.k8s.io/v1beta1") != 0) {
		rc = fail(errmsg, "%s.apiVersion: %s is not supported (use client.authentication.k8s.io/v1 or v1beta1)",
			  where, api);
		goto out;
	}
	if (!cmd || !cmd[0]) {
		rc = fail(errmsg, "%s.command: required", where);
		goto out;
	}
	p->api_version = xstrdup(api);
	json_object *args = jpath_child(x, "args");
	if (args && !json_object_is_type(args, json_type_array)) {
		rc = fail(errmsg, "%s.args: must be a list of strings", where);
		goto out;
	}
	size_t nargs = args ? json_object_array_length(args) : 0;
	p->argv = xcalloc(nargs + 2, sizeof(char *));
	/* A relative command with a slash is relative to the kubeconfig's directory. */
	p->argv[0] = (strchr(cmd, '/') && cmd[0] != '/') ? resolve_path(dir, cmd) : xstrdup(cmd);
	for (size_t i = 0; i < nargs; i++) {
		json_object *a = json_object_array_get_idx(args, i);
		if (!a || !json_object_is_type(a, json_type_string)) {
			rc = fail(errmsg, "%s.args[%zu]: must be a string", where, i);
			goto out;
		}
		p->argv[i + 1] = xstrdup(json_object_get_string(a));
	}
	json_object *env = jpath_child(x, "env");
	if (env && !json_object_is_type(env, json_type_array)) {
		rc = fail(errmsg, "%s.env: must be a list of {name, value}", where);
		goto out;
	}
	size_t nenv = env ? json_object_array_length(env) : 0;
	p->env = xcalloc(nenv + 1, sizeof(char *));
	for (size_t i = 0; i < nenv; i++) {
		json_object *e = json_object_array_get_idx(env, i);
		const char *n = jpath_child_str(e, "name");
		const char *v = jpath_child_str(e, "value");
		if (!n || !n[0] || strchr(n, '=')) {
			rc = fail(errmsg, "%s.env[%zu].name: required and must not contain '='", where, i);
			goto out;
		}
		p->env[i] = xasprintf("%s=%s", n, v ? v : "");
	}
	p->install_hint = xstrdup(jpath_child_str(x, "installHint"));
	p->provide_cluster_info = truthy(jpath_child_str(x, "provideClusterInfo"));
	const char *im = jpath_child_str(x, "interactiveMode");
	if (im && strcmp(im, "Never") != 0 && strcmp(im, "IfAvailable") != 0 && strcmp(im, "Always") != 0) {
		rc = fail(errmsg, "%s.interactiveMode: must be Never, IfAvailable or Always", where);
		goto out;
	}
	p->interactive_always = im && strcmp(im, "Always") == 0;
	if (p->interactive_always) {
		rc = fail(errmsg, "%s.interactiveMode: Always needs a terminal; the operator runs non-interactively",
			  where);
		goto out;
	}
	cfg->exec = p;
	p = NULL;
out:
	exec_free(p);
	return rc;
}

static bool server_ok(const char *s)
{
	return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0;
}

static int build_from_merged(json_object *m, const char *context, bool allow_exec, bool allow_files,
			     struct kube_config **out, char **errmsg)
{
	struct kube_config *c = NULL;
	int rc = 0;
	const char *ctxname = context && context[0] ? context : jpath_child_str(m, "current-context");
	if (!ctxname || !ctxname[0])
		return fail(errmsg, "current-context: not set and no context was given");
	json_object *cw = jpath_child(jpath_child(m, "contexts"), ctxname);
	if (!cw)
		return fail(errmsg, "%s: context \"%s\" not found",
			    context && context[0] ? "--context" : "current-context", ctxname);
	json_object *ctx = jpath_child(cw, "e");
	const char *cwhere = jpath_child_str(cw, "where");
	const char *clname = jpath_child_str(ctx, "cluster");
	const char *uname = jpath_child_str(ctx, "user");
	if (!clname || !clname[0])
		return fail(errmsg, "%s.cluster: required", cwhere);
	json_object *clw = jpath_child(jpath_child(m, "clusters"), clname);
	if (!clw)
		return fail(errmsg, "%s.cluster: cluster \"%s\" not found", cwhere, clname);
	json_object *uw = NULL;
	if (uname && uname[0]) {
		uw = jpath_child(jpath_child(m, "users"), uname);
		if (!uw)
			return fail(errmsg, "%s.user: user \"%s\" not found", cwhere, uname);
	}

	c = config_alloc();
	const char *ns = jpath_child_str(ctx, "namespace");
	c->ns = xstrdup(ns && ns[0] ? ns : "default");

	json_object *cl = jpath_child(clw, "e");
	const char *clwhere = jpath_child_str(clw, "where");
	const char *cldir = jpath_child_str(clw, "dir");
	const char *server = jpath_child_str(cl, "server");
	if (!server || !server[0]) {
		rc = fail(errmsg, "%s.server: required", clwhere);
		goto out;
	}
	if (!server_ok(server)) {
		rc = fail(errmsg, "%s.server: \"%s\" must start with https:// or http://", clwhere, server);
		goto out;
	}
	size_t sl = strlen(server);
	while (sl > 0 && server[sl - 1] == '/')
		sl--;
	c->server = xstrndup(server, sl);
	const char *ins = jpath_child_str(cl, "insecure-skip-tls-verify");
	if (ins && !truthy(ins) && strcmp(ins, "false") != 0) {
		rc = fail(errmsg, "%s.insecure-skip-tls-verify: must be true or false", clwhere);
		goto out;
	}
	c->insecure = truthy(ins);
	c->tls_server_name = xstrdup(jpath_child_str(cl, "tls-server-name"));
	if (load_blob(cl, clwhere, cldir, "certificate-authority", allow_files, &c->ca, &c->ca_len, errmsg) < 0) {
		rc = -EINVAL;
		goto out;
	}
	if (c->ca && c->insecure) {
		rc = fail(errmsg, "%s: certificate-authority and insecure-skip-tls-verify are mutually exclusive", clwhere);
		goto out;
	}

	if (uw) {
		json_object *u = jpath_child(uw, "e");
		const char *uwhere = jpath_child_str(uw, "where");
		const char *udir = jpath_child_str(uw, "dir");
		if (load_blob(u, uwhere, udir, "client-certificate", allow_files, &c->cert, &c->cert_len, errmsg) < 0 ||
		    load_blob(u, uwhere, udir, "client-key", allow_files, &c->key, &c->key_len, errmsg) < 0) {
			rc = -EINVAL;
			goto out;
		}
		if (!!c->cert != !!c->key) {
			rc = fail(errmsg, "%s.%s: required with %s", uwhere, c->cert ? "client-key-data" : "client-certificate-data",
				  c->cert ? "client-certificate" : "client-key");
			goto out;
		}
		const char *tok = jpath_child_str(u, "token");
		const char *tfile = jpath_child_str(u, "tokenFile");
		if (tok && tok[0])
			c->token = xstrdup(tok);
		else if (tfile && tfile[0]) {
			if (!allow_files) {
				rc = fail(errmsg, "%s.tokenFile: file references are not allowed in this kubeconfig", uwhere);
				goto out;
			}
			c->ft.path = resolve_path(udir, tfile);
			if (access(c->ft.path, R_OK) != 0) {
				rc = fail(errmsg, "%s.tokenFile: cannot read %s: %s", uwhere, c->ft.path, strerror(errno));
				goto out;
			}
		}
		const char *un = jpath_child_str(u, "username");
		const char *pw = jpath_child_str(u, "password");
		if (un && un[0]) {
			c->username = xstrdup(un);
			c->password = xstrdup(pw ? pw : "");
		}
		if (jpath_child(u, "auth-provider")) {
			rc = fail(errmsg, "%s.auth-provider: not supported (removed from Kubernetes); use exec", uwhere);
			goto out;
		}
		json_object *x = jpath_child(u, "exec");
		if (x) {
			if (!allow_exec) {
				rc = fail(errmsg, "%s.exec: exec credential plugins are not allowed in this kubeconfig", uwhere);
				goto out;
			}
			if (!json_object_is_type(x, json_type_object)) {
				rc = fail(errmsg, "%s.exec: must be a mapping", uwhere);
				goto out;
			}
			if (parse_exec(x, uwhere, udir, c, errmsg) < 0) {
				rc = -EINVAL;
				goto out;
			}
		}
	}
	*out = c;
	c = NULL;
out:
	if (c)
		config_destroy(c);
	return rc;
}

int kube_config_from_bytes(const char *data, size_t len, const char *context, bool allow_exec,
			   struct kube_config **out, char **errmsg)
{
	json_object *doc = NULL, *m = NULL;
	int rc;
	*out = NULL;
	if (len > MAX_FILE_BYTES)
		return fail(errmsg, "kubeconfig: larger than %u bytes", MAX_FILE_BYTES);
	rc = yaml_to_json(data, len, "kubeconfig", &doc, errmsg);
	if (rc < 0)
		goto out;
	m = merged_new();
	rc = merge_file(m, doc, "kubeconfig", NULL, errmsg);
	if (rc < 0)
		goto out;
	/* Bytes from a Secret may not reach into the operator's filesystem. */
	rc = build_from_merged(m, context, allow_exec, allow_exec, out, errmsg);
out:
	json_object_put(doc);
	json_object_put(m);
	return rc;
}

static int load_file_into(json_object *m, const char *path, char **errmsg)
{
	char *data = NULL;
	size_t len = 0;
	json_object *doc = NULL;
	int rc = read_file(path, MAX_FILE_BYTES, &data, &len);
	if (rc < 0)
		return fail(errmsg, "kubeconfig %s: %s", path, rc == -EFBIG ? "file too large" : strerror(-rc));
	rc = yaml_to_json(data, len, path, &doc, errmsg);
	free(data);
	if (rc < 0)
		return rc;
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else {
		free(dir);
		dir = xstrdup(".");
	}
	if (slash == dir)
		strcpy(dir, "/");
	rc = merge_file(m, doc, path, dir, errmsg);
	free(dir);
	json_object_put(doc);
	return rc;
}

int kube_config_load(const char *explicit_path, const char *context, struct kube_config **out, char **errmsg)
{
	json_object *m = merged_new();
	int rc = 0, loaded = 0;
	*out = NULL;
	if (explicit_path && explicit_path[0]) {
		rc = load_file_into(m, explicit_path, errmsg);
		if (rc < 0)
			goto out;
		loaded++;
	} else if (getenv("KUBECONFIG") && getenv("KUBECONFIG")[0]) {
		char *list = xstrdup(getenv("KUBECONFIG"));
		char *save = NULL;
		for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			if (access(p, F_OK) != 0)
				continue;   /* like kubectl: missing entries are skipped */
			rc = load_file_into(m, p, errmsg);
			if (rc < 0)
				break;
			loaded++;
		}
		free(list);
		if (rc < 0)
			goto out;
	} else if (getenv("HOME")) {
		char *p = xasprintf("%s/.kube/config", getenv("HOME"));
		if (access(p, F_OK) == 0) {
			rc = load_file_into(m, p, errmsg);
			loaded++;
		}
		free(p);
		if (rc < 0)
			goto out;
	}
	if (!loaded) {
		rc = kube_config_in_cluster(NULL, out, errmsg);
		if (rc < 0) {
			char *inner = errmsg ? *errmsg : NULL;
			if (errmsg)
				*errmsg = NULL;
			rc = fail(errmsg, "no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a cluster: %s",
				  inner ? inner : "in-cluster configuration unavailable");
			free(inner);
		}
		goto out;
	}
	rc = build_from_merged(m, context, true, true, out, errmsg);
out:
	json_object_put(m);
	return rc;
}

int kube_config_in_cluster(const char *sa_dir, struct kube_config **out, char **errmsg)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct kube_config *c = NULL;
	char *path = NULL, *data = NULL;
	size_t len = 0;
	int rc = 0;
	*out = NULL;
	if (!sa_dir)
		sa_dir = SA_DIR_DEFAULT;
	if (!host || !host[0] || !port || !port[0])
		return fail(errmsg, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
	for (const char *q = port; *q; q++)
		if (*q < '0' || *q > '9')
			return fail(errmsg, "in-cluster: KUBERNETES_SERVICE_PORT=\"%s\" is not a port", port);
	c = config_alloc();
	if (strchr(host, ':') && host[0] != '[')
		c->server = xasprintf("https://[%s]:%s", host, port);
	else
		c->server = xasprintf("https://%s:%s", host, port);
	path = xasprintf("%s/ca.crt", sa_dir);
	rc = read_file(path, MAX_FILE_BYTES, &c->ca, &c->ca_len);
	if (rc < 0) {
		rc = fail(errmsg, "in-cluster: cannot read %s: %s", path, strerror(-rc));
		goto out;
	}
	free(path);
	path = xasprintf("%s/token", sa_dir);
	if (access(path, R_OK) != 0) {
		rc = fail(errmsg, "in-cluster: cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	c->ft.path = path;
	path = xasprintf("%s/namespace", sa_dir);
	if (read_file(path, 4096, &data, &len) == 0) {
		c->ns = trim_dup(data, len);
		if (!c->ns[0]) {
			free(c->ns);
			c->ns = NULL;
		}
	}
	if (!c->ns)
		c->ns = xstrdup("default");
	*out = c;
	c = NULL;
out:
	free(path);
	free(data);
	if (c)
		config_destroy(c);
	return rc;
}

const char *kube_config_server(const struct kube_config *c)
{
	return c->server;
}

const char *kube_config_namespace(const struct kube_config *c)
{
	return c->ns ? c->ns : "default";
}

const char *kube_config_ca(const struct kube_config *c, size_t *len)
{
	if (len)
		*len = c->ca_len;
	return c->ca;
}

bool kube_config_insecure(const struct kube_config *c)
{
	return c->insecure;
}

const char *kube_config_tls_server_name(const struct kube_config *c)
{
	return c->tls_server_name;
}

void kube_config_set_clock(struct kube_config *c, const struct mclock *clock)
{
	pthread_mutex_lock(&c->mu);
	c->clock = clock ? clock : mclock_system();
	pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------------ */
/* credentials */

/* Re-read the token file when it changed (inode, size or mtime). Locked. */
static int file_token_refresh(struct file_token *ft, char **errmsg)
{
	struct stat st;
	if (stat(ft->path, &st) != 0) {
		if (ft->loaded)
			return 0;   /* keep the last token while the file is being swapped */
		return fail(errmsg, "token file %s: %s", ft->path, strerror(errno));
	}
	if (ft->loaded && st.st_dev == ft->dev && st.st_ino == ft->ino && st.st_size == ft->size &&
	    st.st_mtim.tv_sec == ft->mtime.tv_sec && st.st_mtim.tv_nsec == ft->mtime.tv_nsec)
		return 0;
	char *data = NULL;
	size_t len = 0;
	int rc = read_file(ft->path, MAX_TOKEN_BYTES, &data, &len);
	if (rc < 0) {
		if (ft->loaded)
			return 0;
		return fail(errmsg, "token file %s: %s", ft->path, strerror(-rc));
	}
	char *tok = trim_dup(data, len);
	free_secret(data);
	if (!tok[0]) {
		free(tok);
		if (ft->loaded)
			return 0;
		return fail(errmsg, "token file %s: empty", ft->path);
	}
	free_secret(ft->token);
	ft->token = tok;
	ft->dev = st.st_dev;
	ft->ino = st.st_ino;
	ft->size = st.st_size;
	ft->mtime = st.st_mtim;
	ft->loaded = true;
	return 0;
}

static char **build_env(struct kube_config *c, struct exec_plugin *x)
{
	size_t n = 0, k = 0;
	while (environ && environ[n])
		n++;
	size_t nx = 0;
	while (x->env[nx])
		nx++;
	char **env = xcalloc(n + nx + 2, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool overridden = nl == strlen("KUBERNETES_EXEC_INFO") && strncmp(environ[i], "KUBERNETES_EXEC_INFO", nl) == 0;
		for (size_t j = 0; j < nx && !overridden; j++)
			if (strncmp(x->env[j], environ[i], nl) == 0 && x->env[j][nl] == '=')
				overridden = true;
		if (!overridden)
			env[k++] = xstrdup(environ[i]);
	}
	for (size_t j = 0; j < nx; j++)
		env[k++] = xstrdup(x->env[j]);
	/* KUBERNETES_EXEC_INFO: an ExecCredential with the spec. */
	json_object *info = json_object_new_object();
	json_object_object_add(info, "apiVersion", json_object_new_string(x->api_version));
	json_object_object_add(info, "kind", json_object_new_string("ExecCredential"));
	json_object *spec = json_object_new_object();
	json_object_object_add(spec, "interactive", json_object_new_boolean(0));
	if (x->provide_cluster_info) {
		json_object *cl = json_object_new_object();
		json_object_object_add(cl, "server", json_object_new_string(c->server));
		if (c->tls_server_name)
			json_object_object_add(cl, "tls-server-name", json_object_new_string(c->tls_server_name));
		if (c->insecure)
			json_object_object_add(cl, "insecure-skip-tls-verify", json_object_new_boolean(1));
		if (c->ca) {
			/* base64 of the CA bundle */
			static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
			struct buf b;
			buf_init(&b, 0);
			const unsigned char *s = (const unsigned char *)c->ca;
			for (size_t i = 0; i < c->ca_len; i += 3) {
				uint32_t v = (uint32_t)s[i] << 16;
				if (i + 1 < c->ca_len)
					v |= (uint32_t)s[i + 1] << 8;
				if (i + 2 < c->ca_len)
					v |= s[i + 2];
				buf_putc(&b, tbl[(v >> 18) & 63]);
				buf_putc(&b, tbl[(v >> 12) & 63]);
				buf_putc(&b, i + 1 < c->ca_len ? tbl[(v >> 6) & 63] : '=');
				buf_putc(&b, i + 2 < c->ca_len ? tbl[v & 63] : '=');
			}
			json_object_object_add(cl, "certificate-authority-data", json_object_new_string(buf_str(&b)));
			buf_cleanup(&b);
		}
		json_object_object_add(spec, "cluster", cl);
	}
	json_object_object_add(info, "spec", spec);
	env[k++] = xasprintf("KUBERNETES_EXEC_INFO=%s", json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN));
	json_object_put(info);
	return env;
}

static void free_strv(char **v, bool secret)
{
	for (char **p = v; p && *p; p++) {
		if (secret)
			free_secret(*p);
		else
			free(*p);
	}
	free(v);
}

/* Run the plugin and cache its credential. Locked. */
static int exec_run(struct kube_config *c, struct exec_plugin *x, char **errmsg)
{
	int pfd[2] = { -1, -1 };
	char **env = NULL;
	posix_spawn_file_actions_t fa;
	bool fa_init = false;
	pid_t pid = -1;
	struct buf out;
	json_object *j = NULL;
	int rc = 0;
	const char *hint = x->install_hint ? x->install_hint : "";
	buf_init(&out, MAX_EXEC_OUTPUT);

	if (pipe2(pfd, O_CLOEXEC) != 0) {
		rc = fail(errmsg, "%s: pipe: %s", x->where, strerror(errno));
		goto out;
	}
	env = build_env(c, x);
	posix_spawn_file_actions_init(&fa);
	fa_init = true;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
#if defined(__GLIBC__) && __GLIBC_PREREQ(2, 34)
	/* the plugin gets stdin (/dev/null), stdout (the pipe) and stderr only:
	 * none of the operator's sockets or files */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
	/* The operator blocks SIGTERM/SIGINT in every thread and ignores
	 * SIGPIPE; the plugin starts with an empty mask and default actions. */
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGINT);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	x->runs++;
	int e = posix_spawnp(&pid, x->argv[0], &fa, &attr, x->argv, env);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	pfd[1] = -1;
	if (e != 0) {
		pid = -1;
		rc = fail(errmsg, "%s.command: cannot run \"%s\": %s%s%s", x->where, x->argv[0], strerror(e),
			  hint[0] ? "; " : "", hint);
		goto out;
	}
	uint64_t deadline = mono_ms() + EXEC_TIMEOUT_MS;
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline) {
			kill(pid, SIGKILL);
			rc = fail(errmsg, "%s: \"%s\" did not finish within %d s", x->where, x->argv[0], EXEC_TIMEOUT_MS / 1000);
			goto out;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			continue;
		char tmp[4096];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (buf_append(&out, tmp, (size_t)n) < 0) {
			kill(pid, SIGKILL);
			rc = fail(errmsg, "%s: \"%s\" wrote more than %u bytes", x->where, x->argv[0], MAX_EXEC_OUTPUT);
			goto out;
		}
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		rc = fail(errmsg, "%s: \"%s\" exited with status %d%s%s", x->where, x->argv[0], code,
			  code == 127 && hint[0] ? "; " : "", code == 127 ? hint : "");
		goto out;
	}
	j = json_tokener_parse(buf_str(&out));
	if (!j || !json_object_is_type(j, json_type_object)) {
		rc = fail(errmsg, "%s: \"%s\" did not print an ExecCredential (JSON)", x->where, x->argv[0]);
		goto out;
	}
	const char *kind = jpath_child_str(j, "kind"), *api = jpath_child_str(j, "apiVersion");
	if (!kind || strcmp(kind, "ExecCredential") != 0) {
		rc = fail(errmsg, "%s: plugin output kind is \"%s\", want ExecCredential", x->where, kind ? kind : "");
		goto out;
	}
	if (!api || strcmp(api, x->api_version) != 0) {
		rc = fail(errmsg, "%s: plugin output apiVersion is \"%s\", want %s", x->where, api ? api : "",
			  x->api_version);
		goto out;
	}
	json_object *st = jpath_child(j, "status");
	const char *tok = jpath_child_str(st, "token");
	const char *cert = jpath_child_str(st, "clientCertificateData");
	const char *key = jpath_child_str(st, "clientKeyData");
	const char *exp = jpath_child_str(st, "expirationTimestamp");
	if (!st || (!(tok && tok[0]) && !(cert && key))) {
		rc = fail(errmsg, "%s: plugin output has neither status.token nor status.clientCertificateData/clientKeyData",
			  x->where);
		goto out;
	}
	if (!!cert != !!key) {
		rc = fail(errmsg, "%s: plugin output must set both status.clientCertificateData and clientKeyData", x->where);
		goto out;
	}
	int64_t exp_ns = 0;
	int prc = exp && exp[0] ? rfc3339_parse(exp, &exp_ns) : 0;
	if (prc == -ERANGE) {
		/* beyond int64 nanoseconds (after 2262): never expires */
		exp_ns = 0;
		prc = 0;
	}
	if (prc < 0) {
		rc = fail(errmsg, "%s: plugin output status.expirationTimestamp \"%s\" is not RFC 3339", x->where, exp);
		goto out;
	}
	free_secret(x->token);
	free_secret(x->cert);
	free_secret(x->key);
	x->token = tok && tok[0] ? xstrdup(tok) : NULL;
	x->cert = cert ? xstrdup(cert) : NULL;
	x->cert_len = cert ? strlen(cert) : 0;
	x->key = key ? xstrdup(key) : NULL;
	x->key_len = key ? strlen(key) : 0;
	x->expiry_ns = exp_ns;
	x->have = true;
	LOG_DEBUG("exec credential obtained", "plugin=%s expires=%s", x->argv[0], exp ? exp : "never");
out:
	if (pid > 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (fa_init)
		posix_spawn_file_actions_destroy(&fa);
	free_strv(env, true);
	if (j) {
		/* the parsed output holds the token: the json strings are freed by put */
		json_object_put(j);
	}
	if (out.data)
		memset(out.data, 0, out.len);
	buf_cleanup(&out);
	return rc;
}

int kube_config_auth(const struct kube_config *cc, struct kube_auth *a, char **errmsg)
{
	struct kube_config *c = (struct kube_config *)cc;   /* credentials refresh inside */
	int rc = 0;
	memset(a, 0, sizeof(*a));
	pthread_mutex_lock(&c->mu);
	if (c->cert) {
		a->cert_pem = xstrndup(c->cert, c->cert_len);
		a->cert_len = c->cert_len;
		a->key_pem = xstrndup(c->key, c->key_len);
		a->key_len = c->key_len;
	}
	if (c->username) {
		a->username = xstrdup(c->username);
		a->password = xstrdup(c->password);
	}
	if (c->token) {
		a->token = xstrdup(c->token);
	} else if (c->ft.path) {
		rc = file_token_refresh(&c->ft, errmsg);
		if (rc < 0)
			goto out;
		a->token = xstrdup(c->ft.token);
	}
	if (c->exec) {
		struct exec_plugin *x = c->exec;
		int64_t now = mclock_wall_ns(c->clock);
		if (x->have && x->expiry_ns && now >= x->expiry_ns - EXPIRY_SKEW_NS)
			x->have = false;
		if (!x->have) {
			rc = exec_run(c, x, errmsg);
			if (rc < 0)
				goto out;
		}
		if (x->token) {
			free_secret(a->token);
			a->token = xstrdup(x->token);
		}
		if (x->cert) {
			free(a->cert_pem);
			free_secret(a->key_pem);
			a->cert_pem = xstrndup(x->cert, x->cert_len);
			a->cert_len = x->cert_len;
			a->key_pem = xstrndup(x->key, x->key_len);
			a->key_len = x->key_len;
		}
	}
out:
	pthread_mutex_unlock(&c->mu);
	if (rc < 0)
		kube_auth_cleanup(a);
	return rc;
}

void kube_auth_cleanup(struct kube_auth *a)
{
	if (!a)
		return;
	free_secret(a->token);
	free(a->username);
	free_secret(a->password);
	free(a->cert_pem);
	free_secret(a->key_pem);
	memset(a, 0, sizeof(*a));
}

bool kube_config_auth_invalidate(const struct kube_config *cc)
{
	struct kube_config *c = (struct kube_config *)cc;
	bool retry = false;
	pthread_mutex_lock(&c->mu);
	if (c->exec) {
		c->exec->have = false;
		retry = true;
	}
	if (c->ft.path && !c->token) {
		/* force a re-read on the next request */
		c->ft.size = -1;
		retry = true;
	}
	pthread_mutex_unlock(&c->mu);
	return retry;
}

unsigned kube_config_exec_runs(const struct kube_config *cc)
{
	struct kube_config *c = (struct kube_config *)cc;
	pthread_mutex_lock(&c->mu);
	unsigned n = c->exec ? c->exec->runs : 0;
	pthread_mutex_unlock(&c->mu);
	return n;
}
