#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>

#include "util/buf.h"
#include "util/digest.h"
#include "util/jcanon.h"

#define ANN "modelcache.dev/desired-hash"

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

/* moved from test_compose (compose_canonical_json) */
static void test_canonical_json(void **state)
{
	(void)state;
	json_object *o = parse("{\"b\":[2,{\"d\":1,\"c\":\"/\"}],\"a\":true}");
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(jcanon_json(o, &b), 0);
	assert_string_equal(buf_str(&b), "{\"a\":true,\"b\":[2,{\"c\":\"/\",\"d\":1}]}");
	buf_cleanup(&b);
	/* a capped buffer reports the overflow */
	buf_init(&b, 8);
	assert_int_equal(jcanon_json(o, &b), -E2BIG);
	buf_cleanup(&b);
	json_object_put(o);
}

static void hash_of(const char *json, const char *skip, char out[SHA256_HEX_LEN + 1])
{
	json_object *o = parse(json);
	assert_int_equal(jcanon_hash(o, skip, out), 0);
	json_object_put(o);
}

static void test_hash_skips_the_annotation(void **state)
{
	(void)state;
	char plain[SHA256_HEX_LEN + 1], h[SHA256_HEX_LEN + 1], whole[SHA256_HEX_LEN + 1];
	const char *bare = "{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"a\":[1,null,1.5,false]}}";
	hash_of(bare, ANN, plain);
	/* the hash of the bare object is SHA-256 of its canonical JSON */
	sha256_hex_str("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"a\":[1,null,1.5,false]}}", h);
	assert_string_equal(plain, h);
	/* an annotations map holding only the hash (or nothing) counts as absent */
	hash_of("{\"spec\":{\"a\":[1,null,1.5,false]},\"metadata\":{\"annotations\":{\"" ANN "\":\"old\"},\"name\":\"x\"},"
		"\"kind\":\"PVC\"}", ANN, h);
	assert_string_equal(plain, h);
	hash_of("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\",\"annotations\":{}},\"spec\":{\"a\":[1,null,1.5,false]}}",
		ANN, h);
	assert_string_equal(plain, h);
	/* other annotations count; the hash among them does not */
	char other[SHA256_HEX_LEN + 1];
	hash_of("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\",\"annotations\":{\"a\":\"1\"}},\"spec\":{\"a\":[1,null,1.5,false]}}",
		ANN, other);
	assert_string_not_equal(plain, other);
	hash_of("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\",\"annotations\":{\"a\":\"1\",\"" ANN "\":\"z\"}},"
		"\"spec\":{\"a\":[1,null,1.5,false]}}", ANN, h);
	assert_string_equal(other, h);
	/* only metadata.annotations is special: the same key elsewhere counts */
	hash_of("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\"},\"spec\":{\"a\":[1,null,1.5,false],"
		"\"annotations\":{\"" ANN "\":\"v\"}}}", ANN, h);
	assert_string_not_equal(plain, h);
	/* skip NULL hashes the whole object */
	hash_of("{\"kind\":\"PVC\",\"metadata\":{\"name\":\"x\",\"annotations\":{\"" ANN "\":\"old\"}},"
		"\"spec\":{\"a\":[1,null,1.5,false]}}", NULL, whole);
	assert_string_not_equal(plain, whole);
}

static void test_hash_leaves_input_alone(void **state)
{
	(void)state;
	const char *src = "{\"metadata\":{\"annotations\":{\"" ANN "\":\"old\"}}}";
	json_object *o = parse(src), *copy = parse(src);
	char h[SHA256_HEX_LEN + 1];
	assert_int_equal(jcanon_hash(o, ANN, h), 0);
	assert_true(json_object_equal(o, copy));
	json_object_put(o);
	json_object_put(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_json),
		cmocka_unit_test(test_hash_skips_the_annotation),
		cmocka_unit_test(test_hash_leaves_input_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
