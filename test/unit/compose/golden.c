/* Golden YAML comparison shared by the pkg/compose tests (see golden.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/emit.h"
#include "unit/compose/golden.h"
#include "util/buf.h"
#include "util/mem.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct buf b;
	buf_init(&b, 1u << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return buf_take(&b, NULL);
}

/* Emit the objects as a multi-document YAML stream and compare with the golden file. */
void check_golden(const char *name, json_object *const objs[], size_t n)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	for (size_t i = 0; i < n; i++) {
		if (!objs[i])
			continue;
		assert_int_equal(buf_puts(&b, "---\n"), 0);
		assert_int_equal(compose_emit_yaml(objs[i], &b), 0);
	}
	const char *src = getenv("MC_SOURCE_DIR");
	assert_non_null(src);
	char *path = xasprintf("%s/test/unit/compose/golden/%s.yaml", src, name);
	if (getenv("MC_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fwrite(buf_str(&b), 1, b.len, f);
		fclose(f);
	}
	char *want = read_file(path);
	if (!want)
		fail_msg("missing golden file %s (run with MC_UPDATE_GOLDEN=1)", path);
	if (strcmp(want, buf_str(&b)) != 0)
		fail_msg("%s differs from the composed objects:\n%s", path, buf_str(&b));
	free(want);
	free(path);
	buf_cleanup(&b);
}

