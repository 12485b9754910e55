/* buf, log, backoff, clock, digest, base64, timeutil */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/backoff.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/digest.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

static void buf_cap(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 10);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_puts(&b, "hello"), 0);
	assert_int_equal(buf_printf(&b, "%d", 1234), 0);
	assert_string_equal(buf_str(&b), "hello1234");
	assert_int_equal(buf_puts(&b, "xy"), -E2BIG);       /* 11 > 10 */
	assert_string_equal(buf_str(&b), "hello1234");       /* unchanged */
	assert_int_equal(buf_putc(&b, '!'), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_putc(&b, '!'), -E2BIG);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), -E2BIG);  /* overflow-safe */
	buf_consume(&b, 5);
	assert_string_equal(buf_str(&b), "1234!");
	size_t len;
	char *s = buf_take(&b, &len);
	assert_string_equal(s, "1234!");
	assert_int_equal(len, 5);
	free(s);
	assert_int_equal(b.len, 0);
	s = buf_take(&b, NULL);
	assert_string_equal(s, "");
	free(s);
	buf_cleanup(&b);
}

static void buf_growth(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&b, "%05d", i), 0);
	assert_int_equal(b.len, 50000);
	assert_memory_equal(b.data + 49995, "09999", 5);
	buf_cleanup(&b);
}

static char *capture_log(bool json, const char *ctx)
{
	char path[] = "/tmp/mc-log-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	log_init(LOG_LEVEL_INFO, json);
	log_set_fd(fd);
	log_set_context(ctx);
	LOG_INFO("reconciled object", "key=%s/%s err=%s n=%d", "ns", "a", "connection refused: no route", 3);
	LOG_DEBUG("hidden", "x=%d", 1);
	log_set_context(NULL);
	log_set_fd(-1);
	off_t end = lseek(fd, 0, SEEK_END);
	char *out = xcalloc(1, (size_t)end + 1);
	assert_int_equal(pread(fd, out, (size_t)end, 0), end);
	close(fd);
	return out;
}

static void log_text_and_json(void **state)
{
	(void)state;
	char *t = capture_log(false, "controller=mc rid=7");
	assert_non_null(strstr(t, "level=info msg=\"reconciled object\" controller=mc rid=7 key=ns/a "
				  "err=\"connection refused: no route\" n=3\n"));
	assert_null(strstr(t, "hidden"));
	free(t);

	char *j = capture_log(true, NULL);
	json_object *o = json_tokener_parse(j);
	assert_non_null(o);
	json_object *v;
	assert_true(json_object_object_get_ex(o, "msg", &v));
	assert_string_equal(json_object_get_string(v), "reconciled object");
	assert_true(json_object_object_get_ex(o, "err", &v));
	assert_string_equal(json_object_get_string(v), "connection refused: no route");
	assert_true(json_object_object_get_ex(o, "n", &v));
	assert_string_equal(json_object_get_string(v), "3");
	assert_true(json_object_object_get_ex(o, "level", &v));
	assert_string_equal(json_object_get_string(v), "info");
	json_object_put(o);
	free(j);

	enum log_level l;
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("WARNING", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("loud", &l), -EINVAL);
}

static void backoff_sequence(void **state)
{
	(void)state;
	/* docs/concepts.md "Phases": 1m, 2m, 4m ... 1h */
	assert_int_equal(backoff_delay(60000, 3600000, 2.0, 0), 60000);
	assert_int_equal(backoff_delay(60000, 3600000, 2.0, 1), 120000);
	assert_int_equal(backoff_delay(60000, 3600000, 2.0, 5), 1920000);
	assert_int_equal(backoff_delay(60000, 3600000, 2.0, 6), 3600000);
	assert_int_equal(backoff_delay(60000, 3600000, 2.0, 1000), 3600000);
	struct backoff b;
	backoff_init(&b, 100, 1000, 2.0, 0.2);
	for (int i = 0; i < 50; i++) {
		uint64_t d = backoff_next(&b);
		uint64_t nominal = backoff_delay(100, 1000, 2.0, (unsigned)i);
		assert_true(d >= (uint64_t)((double)nominal * 0.8) - 1);
		assert_true(d <= 1000);
		assert_true(d <= (uint64_t)((double)nominal * 1.2) + 1);
	}
	backoff_reset(&b);
	assert_true(backoff_next(&b) <= 120);
}

static void fake_clock(void **state)
{
	(void)state;
	struct mclock_fake f;
	mclock_fake_init(&f, 1700000000LL * 1000000000LL);
	uint64_t m0 = mclock_mono_ns(&f.base);
	mclock_fake_advance(&f, 5000000000ull);
	assert_int_equal(mclock_mono_ns(&f.base) - m0, 5000000000ull);
	assert_int_equal(mclock_wall_ns(&f.base), 1700000005LL * 1000000000LL);
	mclock_fake_cleanup(&f);
	const struct mclock *s = mclock_system();
	uint64_t a = mclock_mono_ns(s), b = mclock_mono_ns(s);
	assert_true(b >= a);
}

static void digests(void **state)
{
	(void)state;
	char hex[65];
	sha256_hex_str("", hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex_str("abc", hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	struct digest *d = digest_new(DIGEST_SHA1);
	/* git blob id of "hello\n": sha1("blob 6\0hello\n") */
	digest_update(d, "blob 6", 7);
	digest_update(d, "hello\n", 6);
	digest_final_hex(d, hex);
	digest_free(d);
	assert_string_equal(hex, "ce013625030ba8dba906f756967f9e9ca394464a");
}

static void times(void **state)
{
	(void)state;
	char out[RFC3339_MICRO_LEN + 1];
	rfc3339_format(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	rfc3339_format(1795392000, out);
	assert_string_equal(out, "2026-11-23T00:00:00Z");
	rfc3339_format_micro(1795392000123456789LL, out);
	assert_string_equal(out, "2026-11-23T00:00:00.123456Z");
	int64_t ns;
	assert_int_equal(rfc3339_parse("2026-11-23T00:00:00Z", &ns), 0);
	assert_int_equal(ns, 1795392000LL * 1000000000LL);
	assert_int_equal(rfc3339_parse("2026-11-23T01:30:00+01:30", &ns), 0);
	assert_int_equal(ns, 1795392000LL * 1000000000LL);
	assert_int_equal(rfc3339_parse("2026-11-23T00:00:00.5Z", &ns), 0);
	assert_int_equal(ns, 1795392000LL * 1000000000LL + 500000000);
	assert_int_equal(rfc3339_parse("2024-02-29T12:00:00Z", &ns), 0);
	assert_int_equal(rfc3339_parse("2999-01-01T00:00:00Z", &ns), -ERANGE);
	assert_int_equal(rfc3339_parse("1000-01-01T00:00:00Z", &ns), -ERANGE);
	assert_int_equal(rfc3339_parse("2262-01-01T00:00:00Z", &ns), 0);
	assert_true(ns > 0);
	const char *bad[] = {"", "2026-13-01T00:00:00Z", "2026-11-23 00:00:00", "2026-11-23T00:00:00",
			     "2026-11-23T00:00:00Zjunk", "2026-11-32T00:00:00Z", "2026-11-23T24:00:00Z",
			     "2026-11-23T00:00:00.Z", "2026-11-23T00:00:00+1:00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (rfc3339_parse(bad[i], &ns) == 0)
			fail_msg("accepted %s", bad[i]);
}

static void base64(void **state)
{
	(void)state;
	char *out = NULL;
	size_t len = 9;
	assert_int_equal(base64_decode("aGVsbG8=", 64, &out, &len), 0);   /* one pad */
	assert_int_equal(len, 5);
	assert_string_equal(out, "hello");
	free(out);
	assert_int_equal(base64_decode("aGk=", 64, &out, &len), 0);
	assert_int_equal(len, 2);
	assert_string_equal(out, "hi");
	free(out);
	assert_int_equal(base64_decode("aA==", 64, &out, &len), 0);       /* two pads */
	assert_int_equal(len, 1);
	assert_string_equal(out, "h");
	free(out);
	assert_int_equal(base64_decode("AAEC", 64, &out, &len), 0);       /* binary, embedded NUL */
	assert_int_equal(len, 3);
	assert_memory_equal(out, "\0\1\2", 3);
	free_secret(out);
	const char *bad[] = {"", "aGk", "a*==", "aGVsbG8="};
	for (size_t i = 0; i < 4; i++) {
		out = (char *)1;
		/* the last one is valid but longer than max */
		assert_int_equal(base64_decode(bad[i], 7, &out, &len), -EINVAL);
		assert_null(out);
		assert_int_equal(len, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_cap),
		cmocka_unit_test(buf_growth),
		cmocka_unit_test(log_text_and_json),
		cmocka_unit_test(backoff_sequence),
		cmocka_unit_test(fake_clock),
		cmocka_unit_test(digests),
		cmocka_unit_test(base64),
		cmocka_unit_test(times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
