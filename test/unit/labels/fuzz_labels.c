/* libFuzzer target (cmake -DFUZZ=ON, clang): the query-string and JSON
 * selector parsers on arbitrary input. Invariants: no crash or leak; a
 * parsed selector renders to text that parses again to the same rendering;
 * the JSON form of pkg/api validation never crashes either. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "api/api.h"
#include "labels/labels.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct labels_selector *sel = NULL, *again = NULL;
	char *err = NULL, *r1 = NULL, *r2 = NULL, *msg = NULL;
	json_object *o;

	if (labels_selector_parse(s, &sel, &err) == 0) {
		if (labels_selector_render(sel, &r1) == 0) {
			if (labels_selector_parse(r1, &again, NULL) != 0)
				abort();
			if (labels_selector_render(again, &r2) != 0 || strcmp(r1, r2) != 0)
				abort();
		}
	}
	o = json_tokener_parse(s);
	if (o) {
		struct labels_selector *js = NULL;
		char *jerr = NULL;

		if (labels_selector_from_json(o, &js, &jerr) == 0)
			(void)labels_selector_matches(js, o);
		api_validate_modelcache(o, &msg);
		free(msg);
		msg = NULL;
		api_validate_inferencecluster(o, &msg);
		free(msg);
		msg = NULL;
		api_validate_modeldeployment(o, &msg);
		free(msg);
		labels_selector_free(js);
		free(jerr);
		json_object_put(o);
	}
	labels_selector_free(sel);
	labels_selector_free(again);
	free(err);
	free(r1);
	free(r2);
	free(s);
	return 0;
}
