#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "util/digest.h"
#include "util/names.h"

static void vectors(void **state)
{
	(void)state;
	char out[CHILD_NAME_MAX + 1];
	name_cache_pvc(out, "ml-team", "qwen");
	assert_string_equal(out, "modelcache-ml-team-qwen-17db2");
	name_cache_job(out, "ml-team", "qwen");
	assert_string_equal(out, "modelcache-ml-team-qwen-hydrate-256ec");
	name_cache_auth(out, "ml-team", "qwen");
	assert_string_equal(out, "modelcache-ml-team-qwen-auth-ae01b");
	child_name(out, "modelcache", "ml-team", "qwen", (const char *)NULL);
	assert_string_equal(out, "modelcache-ml-team-qwen-17db2");
}

static void truncation(void **state)
{
	(void)state;
	char out[CHILD_NAME_MAX + 1];
	char longname[254];
	memset(longname, 'a', 253);
	longname[253] = '\0';
	name_cache_pvc(out, "ns", longname);
	assert_int_equal(strlen(out), 63);
	assert_true(dns1123_label_ok(out));
	/* prefix = first 57 chars of the full name */
	assert_memory_equal(out, "modelcache-ns-aaaa", 18);
	assert_int_equal(out[57], '-');

	/* A cut landing on '-': the 57th char of the full name is '-', which is stripped. */
	/* "modelcache-" (11) + 45 chars + "-" = 57 chars ending with '-'. */
	char name[128];
	memset(name, 'b', 45);
	strcpy(name + 45, "-tail");
	name_cache_pvc(out, "", name);
	/* full = "modelcache--bbbb...b-tail"; count: 11 + 1 ("-" after empty ns) ... compute below */
	char full[256];
	snprintf(full, sizeof(full), "modelcache--%s", name);
	char hex[65];
	sha256_hex_str(full, hex);
	size_t plen = 57;
	while (plen > 0 && full[plen - 1] == '-')
		plen--;
	char expect[80];
	snprintf(expect, sizeof(expect), "%.*s-%.5s", (int)plen, full, hex);
	assert_string_equal(out, expect);
	assert_true(strlen(out) <= 63);
	assert_int_not_equal(out[plen - 1], '-');
}

static void cut_on_dash_explicit(void **state)
{
	(void)state;
	/* Build a full name whose 57th character is '-' and whose 56th is '-' too. */
	char a[64];
	memset(a, 'x', 44);
	a[44] = '\0';
	char out[CHILD_NAME_MAX + 1];
	/* "modelcache-" (11) + 44 x = 55, then "--y..." from an empty part */
	child_name(out, "modelcache", a, "", "yyyy", (const char *)NULL);
	/* full = modelcache-xxxx(44)--yyyy; first 57 = "modelcache-" + 44x + "--" -> stripped to 55 */
	assert_int_equal(strlen(out), 55 + 6);
	assert_int_equal(out[54], 'x');
	assert_int_equal(out[55], '-');
}

static void short_names(void **state)
{
	(void)state;
	char out[CHILD_NAME_MAX + 1];
	child_name(out, "a", (const char *)NULL);
	char hex[65];
	sha256_hex_str("a", hex);
	char expect[16];
	snprintf(expect, sizeof(expect), "a-%.5s", hex);
	assert_string_equal(out, expect);
}

static void dns(void **state)
{
	(void)state;
	assert_true(dns1123_label_ok("abc-1"));
	assert_false(dns1123_label_ok("-abc"));
	assert_false(dns1123_label_ok("abc-"));
	assert_false(dns1123_label_ok("Abc"));
	assert_false(dns1123_label_ok(""));
	assert_false(dns1123_label_ok("a.b"));
	assert_true(dns1123_subdomain_ok("a.b-c.d"));
	assert_false(dns1123_subdomain_ok("a..b"));
	assert_false(dns1123_subdomain_ok(".a"));
	char big[80];
	memset(big, 'a', 64);
	big[64] = '\0';
	assert_false(dns1123_label_ok(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors),
		cmocka_unit_test(truncation),
		cmocka_unit_test(cut_on_dash_explicit),
		cmocka_unit_test(short_names),
		cmocka_unit_test(dns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
