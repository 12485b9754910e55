/* Kubeconfig parsing and its errors, $KUBECONFIG merging, file references,
 * token files, in-cluster configuration, exec credential plugins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>

#include "kube/config.h"
#include "util/clock.h"
#include "util/mem.h"
#include "util/timeutil.h"

static char dir[256];

static char *in_dir(const char *f)
{
	return xasprintf("%s/%s", dir, f);
}

static void write_file(const char *name, const char *content)
{
	char *p = in_dir(name);
	char *tmp = xasprintf("%s.tmp", p);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	assert_int_equal(rename(tmp, p), 0);   /* atomic, like a kubelet token swap */
	free(tmp);
	free(p);
}

static struct kube_config *parse_ok(const char *y, const char *ctx, bool allow_exec)
{
	struct kube_config *c = NULL;
	char *em = NULL;
	int rc = kube_config_from_bytes(y, strlen(y), ctx, allow_exec, &c, &em);
	if (rc != 0)
		fail_msg("unexpected error: %s", em);
	assert_null(em);
	return c;
}

static void parse_err(const char *y, bool allow_exec, const char *want)
{
	struct kube_config *c = NULL;
	char *em = NULL;
	int rc = kube_config_from_bytes(y, strlen(y), NULL, allow_exec, &c, &em);
	if (rc == 0)
		fail_msg("accepted, want error containing \"%s\"", want);
	assert_null(c);
	assert_non_null(em);
	if (!strstr(em, want))
		fail_msg("error \"%s\" does not contain \"%s\"", em, want);
	free(em);
}

static void get_token(struct kube_config *c, const char *want)
{
	struct kube_auth a;
	char *em = NULL;
	int rc = kube_config_auth(c, &a, &em);
	if (rc != 0)
		fail_msg("auth: %s", em);
	if (want)
		assert_string_equal(a.token, want);
	else
		assert_null(a.token);
	kube_auth_cleanup(&a);
}

/* ------------------------------------------------------------------ */

static const char *full =
	"apiVersion: v1\n"
	"kind: Config\n"
	"preferences: {}\n"
	"clusters:\n"
	"- name: prod\n"
	"  cluster:\n"
	"    server: https://prod.example:6443/\n"
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCmFiYwotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==\n"
	"- name: dev\n"
	"  cluster:\n"
	"    server: http://127.0.0.1:8080\n"
	"    insecure-skip-tls-verify: true\n"
	"users:\n"
	"- name: admin\n"
	"  user:\n"
	"    token: abc.def\n"
	"- name: certuser\n"
	"  user:\n"
	"    client-certificate-data: Y2VydA==\n"
	"    client-key-data: |\n"
	"      a2V5\n"
	"- name: basic\n"
	"  user: {username: bob, password: pw}\n"
	"contexts:\n"
	"- name: prod-admin\n"
	"  context: {cluster: prod, user: admin, namespace: team-a}\n"
	"- name: dev-cert\n"
	"  context:\n"
	"    cluster: dev\n"
	"    user: certuser\n"
	"- name: dev-basic\n"
	"  context: {cluster: dev, user: basic}\n"
	"current-context: prod-admin\n";

static void test_parse(void **state)
{
	(void)state;
	struct kube_config *c = parse_ok(full, NULL, false);
	assert_string_equal(kube_config_server(c), "https://prod.example:6443");
	assert_string_equal(kube_config_namespace(c), "team-a");
	size_t n = 0;
	const char *ca = kube_config_ca(c, &n);
	assert_non_null(ca);
	assert_int_equal(n, strlen("-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"));
	assert_memory_equal(ca, "-----BEGIN CERTIFICATE-----\nabc\n", 32);
	assert_false(kube_config_insecure(c));
	get_token(c, "abc.def");
	kube_config_free(c);

	c = parse_ok(full, "dev-cert", false);
	assert_string_equal(kube_config_server(c), "http://127.0.0.1:8080");
	assert_string_equal(kube_config_namespace(c), "default");
	assert_true(kube_config_insecure(c));
	assert_null(kube_config_ca(c, NULL));
	struct kube_auth a;
	assert_int_equal(kube_config_auth(c, &a, NULL), 0);
	assert_null(a.token);
	assert_int_equal(a.cert_len, 4);
	assert_memory_equal(a.cert_pem, "cert", 4);
	assert_int_equal(a.key_len, 3);
	assert_memory_equal(a.key_pem, "key", 3);
	kube_auth_cleanup(&a);
	/* the client holds references: the last free destroys */
	struct kube_config *r = kube_config_ref(c);
	kube_config_free(c);
	assert_string_equal(kube_config_server(r), "http://127.0.0.1:8080");
	kube_config_free(r);

	c = parse_ok(full, "dev-basic", false);
	assert_int_equal(kube_config_auth(c, &a, NULL), 0);
	assert_string_equal(a.username, "bob");
	assert_string_equal(a.password, "pw");
	kube_auth_cleanup(&a);
	kube_config_free(c);

	/* JSON is YAML too */
	c = parse_ok("{\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://[::1]:6443\","
		     "\"insecure-skip-tls-verify\":true}}],\"users\":[{\"name\":\"u\",\"user\":{}}],"
		     "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
		     "\"current-context\":\"x\"}", NULL, false);
	assert_string_equal(kube_config_server(c), "https://[::1]:6443");
	assert_true(kube_config_insecure(c));
	get_token(c, NULL);
	kube_config_free(c);
}

#define CL(extra) "clusters:\n- name: c\n  cluster:\n    server: https://k:6443\n" extra
#define US(body) "users:\n- name: u\n  user:\n" body
#define CX "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"

static void test_errors_name_the_field(void **state)
{
	(void)state;
	parse_err(CL("") US("    client-certificate-data: Y2VydA==\n    client-key-data: '%%%not base64'\n") CX, false,
		  "kubeconfig: users[0].user.client-key-data: not valid base64");
	parse_err(CL("    certificate-authority-data: '@@'\n") US("    token: t\n") CX, false,
		  "clusters[0].cluster.certificate-authority-data: not valid base64");
	parse_err("clusters:\n- name: c\n  cluster: {}\n" US("    token: t\n") CX, false,
		  "clusters[0].cluster.server: required");
	parse_err("clusters:\n- name: c\n  cluster: {server: 'k8s:6443'}\n" US("    token: t\n") CX, false,
		  "clusters[0].cluster.server: \"k8s:6443\" must start with https:// or http://");
	parse_err(CL("") US("    token: t\n") "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: y\n",
		  false, "current-context: context \"y\" not found");
	parse_err(CL("") US("    token: t\n") "contexts:\n- name: x\n  context: {cluster: nope, user: u}\ncurrent-context: x\n",
		  false, "contexts[0].context.cluster: cluster \"nope\" not found");
	parse_err(CL("") US("    token: t\n") "contexts:\n- name: x\n  context: {cluster: c, user: who}\ncurrent-context: x\n",
		  false, "contexts[0].context.user: user \"who\" not found");
	parse_err(CL("") US("    token: t\n") "contexts:\n- name: x\n  context: {cluster: c}\n", false,
		  "current-context: not set");
	parse_err(CL("") US("    token: t\n") "contexts:\n- context: {cluster: c}\n", false, "contexts[0].name: required");
	parse_err("clusters: {a: b}\n", false, "clusters: must be a list");
	parse_err("clusters:\n- name: c\n  cluster: [1]\n", false, "clusters[0].cluster: must be a mapping");
	parse_err("clusters:\n  - name: c\n   bad indent: [\n", false, "invalid YAML at line");
	parse_err("- a\n- b\n", false, "top level must be a mapping");
	parse_err(CL("    insecure-skip-tls-verify: maybe\n") US("") CX, false,
		  "clusters[0].cluster.insecure-skip-tls-verify: must be true or false");
	parse_err(CL("    insecure-skip-tls-verify: true\n    certificate-authority-data: Y2E=\n") US("") CX, false,
		  "mutually exclusive");
	parse_err(CL("") US("    client-certificate-data: Y2VydA==\n") CX, false,
		  "users[0].user.client-key-data: required with client-certificate");
	parse_err(CL("") US("    auth-provider: {name: gcp}\n") CX, false, "users[0].user.auth-provider: not supported");
	/* a kubeconfig from a Secret may not run programs or read the operator's files */
	parse_err(CL("") US("    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true}\n") CX, false,
		  "users[0].user.exec: exec credential plugins are not allowed");
	parse_err(CL("") US("    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n") CX, false,
		  "users[0].user.tokenFile: file references are not allowed");
	parse_err(CL("    certificate-authority: /etc/ssl/ca.pem\n") US("") CX, false,
		  "clusters[0].cluster.certificate-authority: file references are not allowed");
	/* exec plugin fields */
	parse_err(CL("") US("    exec: {command: x}\n") CX, true, "users[0].user.exec.apiVersion: required");
	parse_err(CL("") US("    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}\n") CX, true,
		  "users[0].user.exec.apiVersion: client.authentication.k8s.io/v1alpha1 is not supported");
	parse_err(CL("") US("    exec: {apiVersion: client.authentication.k8s.io/v1}\n") CX, true,
		  "users[0].user.exec.command: required");
	parse_err(CL("") US("    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, args: [a, [b]]}\n") CX, true,
		  "users[0].user.exec.args[1]: must be a string");
	parse_err(CL("") US("    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, env: [{value: v}]}\n") CX, true,
		  "users[0].user.exec.env[0].name: required");
	parse_err(CL("") US("    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, interactiveMode: Always}\n") CX,
		  true, "users[0].user.exec.interactiveMode: Always needs a terminal");
	parse_err(CL("    certificate-authority: nonexistent-ca.pem\n") US("") CX, true,
		  "clusters[0].cluster.certificate-authority: cannot read nonexistent-ca.pem");
	/* hostile input: deep nesting and alias bombs are refused, not expanded */
	char *deepy = xmalloc(1024);
	strcpy(deepy, "x: ");
	for (int i = 0; i < 100; i++)
		strcat(deepy, "[");
	for (int i = 0; i < 100; i++)
		strcat(deepy, "]");
	strcat(deepy, "\n");
	parse_err(deepy, false, "too large or too deeply nested");
	free(deepy);
	parse_err("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		  "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		  "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
		  false, "too large or too deeply nested");
}

static void test_kubeconfig_env_and_files(void **state)
{
	(void)state;
	/* file A: cluster "c" with a relative CA path, current-context "a" */
	write_file("ca.pem", "-----BEGIN CERTIFICATE-----\nfromfile\n-----END CERTIFICATE-----\n");
	write_file("tok", "  token-from-file\n");
	write_file("a.yaml", "clusters:\n- name: c\n  cluster: {server: 'https://a:1', certificate-authority: ca.pem}\n"
			     "users:\n- name: u\n  user: {tokenFile: tok}\n"
			     "contexts:\n- name: a\n  context: {cluster: c, user: u, namespace: from-a}\n"
			     "current-context: a\n");
	/* file B: a second "c" (ignored: first wins), context "b", its own current-context (ignored) */
	write_file("b.yaml", "clusters:\n- name: c\n  cluster: {server: 'https://b:2'}\n- name: c2\n  cluster: {server: 'https://b:3'}\n"
			     "users:\n- name: u2\n  user: {token: tb}\n"
			     "contexts:\n- name: b\n  context: {cluster: c2, user: u2}\n- name: mix\n  context: {cluster: c, user: u2}\n"
			     "current-context: b\n");
	char *a = in_dir("a.yaml"), *b = in_dir("b.yaml"), *missing = in_dir("missing.yaml");
	char *list = xasprintf("%s:%s:%s", missing, a, b);
	setenv("KUBECONFIG", list, 1);
	struct kube_config *c = NULL;
	char *em = NULL;
	assert_int_equal(kube_config_load(NULL, NULL, &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://a:1");
	assert_string_equal(kube_config_namespace(c), "from-a");
	size_t n;
	const char *ca = kube_config_ca(c, &n);
	assert_non_null(ca);
	assert_non_null(strstr(ca, "fromfile"));
	get_token(c, "token-from-file");
	/* the token file rotates: the next request reads the new one */
	write_file("tok", "rotated-token-longer\n");
	get_token(c, "rotated-token-longer");
	write_file("tok", "rotated-again-xxxxxxx\n");   /* same size, new inode */
	get_token(c, "rotated-again-xxxxxxx");
	kube_config_free(c);

	assert_int_equal(kube_config_load(NULL, "b", &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://b:3");
	get_token(c, "tb");
	kube_config_free(c);
	assert_int_equal(kube_config_load(NULL, "mix", &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://a:1");   /* "c" from the first file */
	kube_config_free(c);

	/* --kubeconfig wins over $KUBECONFIG */
	assert_int_equal(kube_config_load(b, NULL, &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://b:3");
	kube_config_free(c);
	/* errors name the file */
	write_file("bad.yaml", "clusters:\n- name: c\n  cluster: {server: 'https://a:1', certificate-authority-data: '!!'}\n"
			       "contexts:\n- name: a\n  context: {cluster: c}\ncurrent-context: a\n");
	char *bad = in_dir("bad.yaml");
	assert_int_not_equal(kube_config_load(bad, NULL, &c, &em), 0);
	char *want = xasprintf("%s: clusters[0].cluster.certificate-authority-data: not valid base64", bad);
	assert_string_equal(em, want);
	free(want);
	free(em);
	em = NULL;
	assert_int_not_equal(kube_config_load(missing, NULL, &c, &em), 0);
	assert_non_null(strstr(em, "No such file"));
	free(em);
	em = NULL;

	/* no $KUBECONFIG: ~/.kube/config */
	unsetenv("KUBECONFIG");
	char *home = in_dir("home"), *kd = in_dir("home/.kube");
	mkdir(home, 0700);
	mkdir(kd, 0700);
	write_file("home/.kube/config", "clusters:\n- name: c\n  cluster: {server: 'https://home:9'}\n"
					"contexts:\n- name: h\n  context: {cluster: c}\ncurrent-context: h\n");
	char *oldhome = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	setenv("HOME", home, 1);
	assert_int_equal(kube_config_load(NULL, NULL, &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://home:9");
	kube_config_free(c);
	/* nothing at all and not in a cluster: one error that says what was tried */
	char *empty = in_dir("emptyhome");
	mkdir(empty, 0700);
	setenv("HOME", empty, 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_not_equal(kube_config_load(NULL, NULL, &c, &em), 0);
	assert_null(c);
	assert_non_null(strstr(em, "no kubeconfig found (--kubeconfig, $KUBECONFIG, ~/.kube/config) and not in a cluster"));
	assert_non_null(strstr(em, "KUBERNETES_SERVICE_HOST"));
	free(em);
	em = NULL;
	free(empty);
	/* a relative exec command is relative to the kubeconfig's directory */
	write_file("rel.sh", "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
			     "\"status\":{\"token\":\"relative-ok\"}}'\n");
	char *rel = in_dir("rel.sh");
	chmod(rel, 0755);
	free(rel);
	write_file("rel.yaml", "clusters:\n- name: c\n  cluster: {server: 'https://a:1'}\n"
			       "users:\n- name: u\n  user:\n    exec: {apiVersion: client.authentication.k8s.io/v1, command: ./rel.sh}\n"
			       "contexts:\n- name: a\n  context: {cluster: c, user: u}\ncurrent-context: a\n");
	char *relcfg = in_dir("rel.yaml");
	assert_int_equal(kube_config_load(relcfg, NULL, &c, &em), 0);
	get_token(c, "relative-ok");
	kube_config_free(c);
	free(relcfg);
	if (oldhome)
		setenv("HOME", oldhome, 1);
	free(oldhome);
	free(home);
	free(kd);
	free(a);
	free(b);
	free(bad);
	free(missing);
	free(list);
}

static void test_in_cluster(void **state)
{
	(void)state;
	char *sa = in_dir("sa");
	mkdir(sa, 0700);
	write_file("sa/ca.crt", "-----BEGIN CERTIFICATE-----\nsa\n-----END CERTIFICATE-----\n");
	write_file("sa/token", "sa-token-1");
	write_file("sa/namespace", "modelcache-system\n");
	struct kube_config *c = NULL;
	char *em = NULL;

	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_int_not_equal(kube_config_in_cluster(sa, &c, &em), 0);
	assert_non_null(strstr(em, "KUBERNETES_SERVICE_HOST"));
	free(em);
	em = NULL;

	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(kube_config_in_cluster(sa, &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://[fd00:10:96::1]:443");
	assert_string_equal(kube_config_namespace(c), "modelcache-system");
	assert_non_null(kube_config_ca(c, NULL));
	get_token(c, "sa-token-1");
	get_token(c, "sa-token-1");
	write_file("sa/token", "sa-token-2-rotated");
	get_token(c, "sa-token-2-rotated");
	/* the file disappears for a moment during a swap: the last token is kept */
	char *tp = in_dir("sa/token");
	unlink(tp);
	get_token(c, "sa-token-2-rotated");
	write_file("sa/token", "sa-token-3");
	/* a 401 forces a re-read even if stat looked the same */
	assert_true(kube_config_auth_invalidate(c));
	get_token(c, "sa-token-3");
	kube_config_free(c);

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	assert_int_equal(kube_config_in_cluster(sa, &c, &em), 0);
	assert_string_equal(kube_config_server(c), "https://10.96.0.1:443");
	kube_config_free(c);
	setenv("KUBERNETES_SERVICE_PORT", "https", 1);
	assert_int_not_equal(kube_config_in_cluster(sa, &c, &em), 0);
	assert_non_null(strstr(em, "KUBERNETES_SERVICE_PORT"));
	free(em);
	em = NULL;
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	char *ca = in_dir("sa/ca.crt");
	unlink(ca);
	assert_int_not_equal(kube_config_in_cluster(sa, &c, &em), 0);
	assert_non_null(strstr(em, ca));
	free(em);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	free(ca);
	free(tp);
	free(sa);
}

/* ------------------------------------------------------------------ */
/* exec plugins */

static void write_plugin(const char *api, const char *expiry)
{
	char *count = in_dir("plugin.count"), *info = in_dir("plugin.info"), *args = in_dir("plugin.args");
	char *script = xasprintf(
		"#!/bin/sh\n"
		"n=$(cat '%s' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '%s'\n"
		"printf '%%s' \"$KUBERNETES_EXEC_INFO\" > '%s'\n"
		"echo \"$# $1 $2 $MY_VAR\" > '%s'\n"
		"ls -l /proc/$$/fd/ > '%s.fds'\n"
		/* read by the shell itself (no fork: a forking shell blocks signals meanwhile) */
		"while read -r k v; do case $k in SigBlk:|SigIgn:) echo \"$k\t$v\";; esac; done < /proc/$$/status > '%s.sig'\n"
		"if [ \"$FAIL\" = 1 ]; then echo oops >&2; exit 3; fi\n"
		"printf '{\"apiVersion\":\"%s\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%%s\"%s%s%s}}' $n\n",
		count, count, info, args, args, args, api, expiry ? ",\"expirationTimestamp\":\"" : "", expiry ? expiry : "",
		expiry ? "\"" : "");
	write_file("plugin.sh", script);
	char *p = in_dir("plugin.sh");
	chmod(p, 0755);
	free(p);
	free(script);
	free(count);
	free(info);
	free(args);
}

static void reset_runs(void)
{
	char *count = in_dir("plugin.count");
	unlink(count);
	free(count);
}

static int plugin_runs(void)
{
	char *count = in_dir("plugin.count");
	FILE *f = fopen(count, "r");
	free(count);
	if (!f)
		return 0;
	int n = 0;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

static char *exec_config(const char *api, const char *extra)
{
	char *p = in_dir("plugin.sh");
	char *y = xasprintf("clusters:\n- name: c\n  cluster: {server: 'https://k:6443', insecure-skip-tls-verify: true}\n"
			    "users:\n- name: u\n  user:\n    exec:\n      apiVersion: %s\n      command: %s\n"
			    "      args: [--flag, 'two words']\n      env:\n      - {name: MY_VAR, value: my-value}\n"
			    "      provideClusterInfo: true\n      installHint: install it with brew\n%s"
			    "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n",
			    api, p, extra ? extra : "");
	free(p);
	return y;
}

static void test_exec_plugin(void **state)
{
	(void)state;
	int64_t t0;
	assert_int_equal(rfc3339_parse("2030-01-01T00:00:00Z", &t0), 0);
	reset_runs();
	write_plugin("client.authentication.k8s.io/v1", "2030-01-01T01:00:00Z");
	char *y = exec_config("client.authentication.k8s.io/v1", NULL);
	struct kube_config *c = parse_ok(y, NULL, true);
	free(y);
	struct mclock_fake fk;
	mclock_fake_init(&fk, t0);
	kube_config_set_clock(c, &fk.base);

	/* a descriptor of ours without O_CLOEXEC must not reach the plugin */
	char *marker = in_dir("leak-marker");
	FILE *mf = fopen(marker, "w");
	assert_non_null(mf);
	int mfd = dup(fileno(mf));   /* dup() clears FD_CLOEXEC */
	assert_true(mfd > 2);

	/* the operator blocks SIGTERM and ignores SIGPIPE; the plugin must not inherit that */
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
	void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);

	/* called once while the credential is valid */
	get_token(c, "tok-1");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, old_pipe);
	{
		char *sigf = in_dir("plugin.args.sig");
		char sb[256] = "";
		FILE *sf = fopen(sigf, "r");
		assert_non_null(sf);
		size_t sn = fread(sb, 1, sizeof(sb) - 1, sf);
		sb[sn] = '\0';
		fclose(sf);
		free(sigf);
		if (!strstr(sb, "SigBlk:\t0000000000000000"))
			fail_msg("plugin signal state: %s", sb);
		const char *ign = strstr(sb, "SigIgn:\t");
		assert_non_null(ign);
		unsigned long long ignmask = strtoull(ign + 8, NULL, 16);
		assert_int_equal(ignmask & (1ull << (SIGPIPE - 1)), 0);
	}
	get_token(c, "tok-1");
	mclock_fake_advance(&fk, 30ull * 60 * 1000000000ull);   /* +30 min: still valid */
	get_token(c, "tok-1");
	assert_int_equal(plugin_runs(), 1);
	assert_int_equal(kube_config_exec_runs(c), 1);
	/* ... and again once it expired (the next credential lasts longer) */
	write_plugin("client.authentication.k8s.io/v1", "2030-01-01T02:00:00Z");
	mclock_fake_advance(&fk, 31ull * 60 * 1000000000ull);
	get_token(c, "tok-2");
	get_token(c, "tok-2");
	assert_int_equal(plugin_runs(), 2);
	assert_int_equal(kube_config_exec_runs(c), 2);
	/* refreshed a little before expiry, not after a request failed */
	mclock_fake_advance(&fk, 59ull * 60 * 1000000000ull + 55ull * 1000000000ull);   /* 01:59:55 */
	get_token(c, "tok-3");

	/* argv and env arrays reached the plugin unsplit; KUBERNETES_EXEC_INFO holds the spec */
	char *args = in_dir("plugin.args"), *info = in_dir("plugin.info");
	char buf[4096] = "";
	FILE *f = fopen(args, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "2 --flag two words my-value\n");
	char *fds = xasprintf("%s.fds", args);
	f = fopen(fds, "r");
	assert_non_null(f);
	size_t fn = fread(buf, 1, sizeof(buf) - 1, f);
	buf[fn] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "plugin.args"));   /* the listing is real */
	assert_null(strstr(buf, "leak-marker"));
	close(mfd);
	fclose(mf);
	free(marker);
	free(fds);
	f = fopen(info, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	json_object *j = json_tokener_parse(buf), *x, *spec, *cl;
	assert_non_null(j);
	assert_true(json_object_object_get_ex(j, "apiVersion", &x));
	assert_string_equal(json_object_get_string(x), "client.authentication.k8s.io/v1");
	assert_true(json_object_object_get_ex(j, "kind", &x));
	assert_string_equal(json_object_get_string(x), "ExecCredential");
	assert_true(json_object_object_get_ex(j, "spec", &spec));
	assert_true(json_object_object_get_ex(spec, "interactive", &x));
	assert_false(json_object_get_boolean(x));
	assert_true(json_object_object_get_ex(spec, "cluster", &cl));
	assert_true(json_object_object_get_ex(cl, "server", &x));
	assert_string_equal(json_object_get_string(x), "https://k:6443");
	json_object_put(j);
	free(args);
	free(info);
	mclock_fake_cleanup(&fk);
	kube_config_free(c);

	/* v1beta1 without expiry: cached until a 401 invalidates it */
	reset_runs();
	write_plugin("client.authentication.k8s.io/v1beta1", NULL);
	y = exec_config("client.authentication.k8s.io/v1beta1", NULL);
	c = parse_ok(y, NULL, true);
	free(y);
	get_token(c, "tok-1");
	get_token(c, "tok-1");
	assert_true(kube_config_auth_invalidate(c));
	get_token(c, "tok-2");
	assert_int_equal(plugin_runs(), 2);
	kube_config_free(c);

	/* the plugin answers with the wrong apiVersion */
	write_plugin("client.authentication.k8s.io/v1beta1", NULL);
	y = exec_config("client.authentication.k8s.io/v1", NULL);
	c = parse_ok(y, NULL, true);
	free(y);
	struct kube_auth a;
	char *em = NULL;
	assert_int_not_equal(kube_config_auth(c, &a, &em), 0);
	assert_non_null(strstr(em, "users[0].user.exec: plugin output apiVersion is \"client.authentication.k8s.io/v1beta1\""));
	free(em);
	em = NULL;
	kube_config_free(c);

	/* the plugin fails */
	y = exec_config("client.authentication.k8s.io/v1beta1", "      env: [{name: FAIL, value: '1'}]\n");
	/* (a second env key replaces the first list: YAML last-wins inside one mapping) */
	c = parse_ok(y, NULL, true);
	free(y);
	assert_int_not_equal(kube_config_auth(c, &a, &em), 0);
	assert_non_null(strstr(em, "exited with status 3"));
	free(em);
	em = NULL;
	kube_config_free(c);

	/* the plugin does not exist: the install hint is shown */
	y = xasprintf("clusters:\n- name: c\n  cluster: {server: 'https://k:6443'}\nusers:\n- name: u\n  user:\n"
		      "    exec: {apiVersion: client.authentication.k8s.io/v1, command: no-such-plugin-xyz, installHint: 'get it from example.com'}\n"
		      "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
	c = parse_ok(y, NULL, true);
	free(y);
	assert_int_not_equal(kube_config_auth(c, &a, &em), 0);
	assert_non_null(strstr(em, "users[0].user.exec"));
	assert_non_null(strstr(em, "get it from example.com"));
	free(em);
	kube_config_free(c);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kube-config-test-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", dir);
	int rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_errors_name_the_field),
		cmocka_unit_test(test_kubeconfig_env_and_files),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_exec_plugin),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
