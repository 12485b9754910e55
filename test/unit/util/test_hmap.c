#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/mem.h"

static void put_get_del(void **state)
{
	(void)state;
	struct hmap m;
	hmap_init(&m);
	assert_null(hmap_get(&m, "a"));
	assert_null(hmap_put(&m, "a", HMAP_PTR(1)));
	assert_null(hmap_put(&m, "b", HMAP_PTR(2)));
	assert_int_equal(m.n, 2);
	assert_int_equal(HMAP_UINT(hmap_get(&m, "a")), 1);
	/* replacing returns the previous value and keeps the count */
	assert_int_equal(HMAP_UINT(hmap_put(&m, "a", HMAP_PTR(7))), 1);
	assert_int_equal(m.n, 2);
	assert_int_equal(HMAP_UINT(hmap_get(&m, "a")), 7);
	assert_int_equal(HMAP_UINT(hmap_del(&m, "a")), 7);
	assert_null(hmap_get(&m, "a"));
	assert_null(hmap_del(&m, "a"));
	assert_int_equal(m.n, 1);
	hmap_cleanup(&m, NULL);
	assert_null(m.b);
	assert_int_equal(m.n, 0);
}

static void grows_and_iterates_every_key_once(void **state)
{
	(void)state;
	enum { N = 1000 };
	struct hmap m;
	hmap_init(&m);
	char key[32];
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "ns/obj-%d", i);
		hmap_put(&m, key, xstrdup(key));
	}
	assert_int_equal(m.n, N);
	assert_true(m.nb > 64); /* grew past the initial 64 buckets */
	static char seen[N];
	memset(seen, 0, sizeof(seen));
	size_t b = 0, cnt = 0;
	for (struct hmap_ent *e = NULL; (e = hmap_next(&m, e, &b));) {
		int i = -1;
		assert_int_equal(sscanf(e->key, "ns/obj-%d", &i), 1);
		assert_true(i >= 0 && i < N);
		assert_string_equal(e->val, e->key);
		assert_int_equal(seen[i], 0);
		seen[i] = 1;
		cnt++;
	}
	assert_int_equal(cnt, N);
	for (int i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "ns/obj-%d", i);
		free(hmap_del(&m, key));
	}
	assert_int_equal(m.n, N / 2);
	snprintf(key, sizeof(key), "ns/obj-%d", 3);
	assert_string_equal(hmap_get(&m, key), key);
	/* values left are freed by the callback (ASan checks the leak) */
	hmap_cleanup(&m, free);
}

static void empty_iteration(void **state)
{
	(void)state;
	struct hmap m;
	hmap_init(&m);
	size_t b = 0;
	assert_null(hmap_next(&m, NULL, &b));
	hmap_cleanup(&m, free);
	/* cleanup twice is harmless */
	hmap_cleanup(&m, free);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(put_get_del),
		cmocka_unit_test(grows_and_iterates_every_key_once),
		cmocka_unit_test(empty_iteration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
