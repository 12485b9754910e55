#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "util/quantity.h"

static void roundtrip(const char *in, const char *canonical)
{
	struct quantity q;
	char out[QUANTITY_STR_MAX];
	int rc = quantity_parse(in, &q);
	if (rc != 0)
		fail_msg("parse(%s) = %d", in, rc);
	assert_int_equal(quantity_format(&q, out, sizeof(out)), 0);
	if (strcmp(out, canonical) != 0)
		fail_msg("format(parse(%s)) = %s, want %s", in, out, canonical);
	/* canonical text is a fixed point */
	struct quantity q2;
	assert_int_equal(quantity_parse(out, &q2), 0);
	assert_int_equal(quantity_cmp(&q, &q2), 0);
	char out2[QUANTITY_STR_MAX];
	assert_int_equal(quantity_format(&q2, out2, sizeof(out2)), 0);
	assert_string_equal(out, out2);
}

static void canonical_forms(void **state)
{
	(void)state;
	roundtrip("20Gi", "20Gi");
	roundtrip("1.5T", "1500G");
	roundtrip("500M", "500M");
	roundtrip("100m", "100m");
	roundtrip("1e3", "1e3");
	roundtrip("1E3", "1e3");
	roundtrip("1024Mi", "1Gi");
	roundtrip("1.5Gi", "1536Mi");
	roundtrip("0.5Ki", "512");
	roundtrip("1000", "1k");
	roundtrip("1536", "1536");
	roundtrip("0", "0");
	roundtrip("0Gi", "0");
	roundtrip("2Ti", "2Ti");
	roundtrip("100Gi", "100Gi");
	roundtrip("1Ki", "1Ki");
	roundtrip("-1Gi", "-1Gi");
	roundtrip("+5", "5");
	roundtrip("0.1", "100m");
	roundtrip("1n", "1n");
	roundtrip("1.5", "1500m");
	roundtrip("12e6", "12e6");
	roundtrip("1.0001Ki", "1024102400u");
	roundtrip("7Ei", "7Ei");
	struct quantity q;
	assert_int_equal(quantity_parse("8Ei", &q), -ERANGE);
}

static void values(void **state)
{
	(void)state;
	int64_t b;
	assert_int_equal(quantity_parse_bytes("20Gi", &b), 0);
	assert_int_equal(b, 21474836480LL);
	assert_int_equal(quantity_parse_bytes("1.5T", &b), 0);
	assert_int_equal(b, 1500000000000LL);
	assert_int_equal(quantity_parse_bytes("100m", &b), 0);
	assert_int_equal(b, 1); /* rounded up like Quantity.Value() */
	assert_int_equal(quantity_parse_bytes("1e3", &b), 0);
	assert_int_equal(b, 1000);
	struct quantity q;
	assert_int_equal(quantity_parse("100m", &q), 0);
	assert_int_equal(quantity_milli_value(&q), 100);
	assert_int_equal(quantity_parse("1.5", &q), 0);
	assert_int_equal(quantity_milli_value(&q), 1500);
	char out[QUANTITY_STR_MAX];
	assert_int_equal(quantity_format_bytes(21474836480LL, out, sizeof(out)), 0);
	assert_string_equal(out, "20Gi");
	assert_int_equal(quantity_format_bytes(1000, out, sizeof(out)), 0);
	assert_string_equal(out, "1k");  /* below 1024: decimal SI like the apiserver */
	assert_int_equal(quantity_format_bytes(3000000, out, sizeof(out)), 0);
	assert_string_equal(out, "3000000"); /* not a multiple of 1024: plain integer */
	struct quantity back;
	assert_int_equal(quantity_parse(out, &back), 0);
	assert_int_equal(quantity_value(&back), 3000000);
}

static void junk(void **state)
{
	(void)state;
	struct quantity q;
	const char *bad[] = {"", "Gi", "1GB", "1.2.3", "abc", "1 Gi", " 1", "1Gi ", "--1", "1e", "1e+", "0x10",
			     "1ki", "1.5Gii", "1e99999", ".", "+", "1K"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = quantity_parse(bad[i], &q);
		if (rc == 0)
			fail_msg("parse(\"%s\") accepted", bad[i]);
	}
	assert_int_equal(quantity_parse("99999999999999999999999Ei", &q), -ERANGE);
	/* Found by fuzzing: these overflowed the __int128 mantissa (signed
	 * overflow under UBSan) and, without sanitizers, wrapped to a small
	 * value: 2^128 + 20Gi was read as 20Gi, the second as 1Ki. */
	int64_t b;
	assert_int_equal(quantity_parse("340282366920938463463374607453243047936", &q), -ERANGE);
	assert_int_equal(quantity_parse_bytes("340282366920938463463374607453243047936", &b), -ERANGE);
	assert_int_equal(quantity_parse("85070591730234615865843651857942052865Ki", &q), -ERANGE);
	assert_int_equal(quantity_parse_bytes("85070591730234615865843651857942052865Ki", &b), -ERANGE);
	assert_int_equal(quantity_parse("9999999999999999999999999999999999999999", &q), -ERANGE);
	assert_int_equal(quantity_parse("1267650600228229401496703205377Ki", &q), -ERANGE);
	/* 38 significant digits still parse (then fail the int64 range). */
	assert_int_equal(quantity_parse("12345678901234567890123456789012345678", &q), -ERANGE);
	assert_int_equal(quantity_parse("0.00000000000000000000000000000000000001", &q), 0);
	assert_int_equal(quantity_parse_bytes("-1Gi", &b), -EINVAL);
	assert_int_equal(quantity_parse_bytes("16Ei", &b), -ERANGE);
	assert_int_not_equal(quantity_parse(NULL, &q), 0);
}

static void compare(void **state)
{
	(void)state;
	struct quantity a, b;
	assert_int_equal(quantity_parse("1Gi", &a), 0);
	assert_int_equal(quantity_parse("1024Mi", &b), 0);
	assert_int_equal(quantity_cmp(&a, &b), 0);
	assert_int_equal(quantity_parse("1G", &b), 0);
	assert_int_equal(quantity_cmp(&a, &b), 1);
	assert_int_equal(quantity_parse("1.5", &a), 0);
	assert_int_equal(quantity_parse("1500m", &b), 0);
	assert_int_equal(quantity_cmp(&a, &b), 0);
	assert_true(quantity_to_double(&a) == 1.5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canonical_forms),
		cmocka_unit_test(values),
		cmocka_unit_test(junk),
		cmocka_unit_test(compare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
