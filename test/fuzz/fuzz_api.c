/* libFuzzer: validation of our three kinds (pkg/api) on arbitrary JSON: an
 * error message or a view, never a crash, and the same verdict twice. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	struct json_tokener *tok = json_tokener_new_ex(64);
	json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!o)
		return 0;
	char *msg = NULL;
	struct api_modelcache mc;
	struct api_inferencecluster ic;
	struct api_modeldeployment md;
	int a = api_modelcache_from_json(o, &mc, &msg);
	free(msg);
	msg = NULL;
	if (api_validate_modelcache(o, &msg) != a)
		abort();
	free(msg);
	msg = NULL;
	(void)api_inferencecluster_from_json(o, &ic, &msg);
	free(msg);
	msg = NULL;
	(void)api_modeldeployment_from_json(o, &md, &msg);
	free(msg);
	json_object_put(o);
	return 0;
}
