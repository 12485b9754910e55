/* Golden files for pkg/compose tests: the objects are emitted as a
 * multi-document YAML stream and compared with
 * test/unit/compose/golden/<name>.yaml ($MC_SOURCE_DIR); MC_UPDATE_GOLDEN=1
 * rewrites the file (review the diff). NULL objects are skipped. */
#ifndef MC_TEST_COMPOSE_GOLDEN_H
#define MC_TEST_COMPOSE_GOLDEN_H

#include <json-c/json.h>
#include <stddef.h>

void check_golden(const char *name, json_object *const objs[], size_t n);

#endif
