#include "compose/precheck.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "compose/compose.h"
#include "util/jpath.h"
#include "util/quantity.h"

#define GIB_D 1073741824.0

static double safety_factor(json_object *mc)
{
	json_object *v = jpath_get(mc, "spec.precheck.safetyFactor");
	double f = 1.0;
	if (v && json_object_is_type(v, json_type_string)) {
		char *end = NULL;
		f = strtod(json_object_get_string(v), &end);
		if (!end || *end)
			f = 1.0;
	} else if (v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
		f = json_object_get_double(v);
	}
	return f > 0 ? f : 1.0;
}

static int64_t pool_gpu_bytes(json_object *pool)
{
	json_object *mb = jpath_child(pool, "memoryBytes");
	if (mb && json_object_is_type(mb, json_type_int))
		return json_object_get_int64(mb);
	const char *m = jpath_str(pool, "memory");
	int64_t b = 0;
	if (m && quantity_parse_bytes(m, &b) == 0)
		return b;
	return 0;
}

/* "24", "23.5" or, below 1 GiB, three significant digits ("0.00195") */
static void gib(char *out, size_t n, double bytes, bool whole_ok)
{
	double g = bytes / GIB_D;
	if (g >= 1 || g == 0) {
		if (whole_ok && g == (double)(int64_t)g)
			snprintf(out, n, "%.0f", g);
		else
			snprintf(out, n, "%.1f", g);
	} else {
		snprintf(out, n, "%.3g", g);
	}
}

int compose_precheck(json_object *mc, json_object *ic, int64_t weight_bytes, struct precheck_result *out)
{
	memset(out, 0, sizeof(*out));
	const char *vram = jpath_str_or(mc, "spec.precheck.vram", "Enabled");
	const char *sharded = jpath_annotation(mc, API_ANN_MULTI_NODE_SHARDED);
	if (strcmp(vram, "Disabled") == 0) {
		out->verdict = PRECHECK_BYPASS;
		out->bypass_reason = "disabled";
		return 0;
	}
	if (weight_bytes <= 0) {
		out->verdict = PRECHECK_BYPASS;
		out->bypass_reason = "size_unknown";
		return 0;
	}
	json_object *pools = jpath_get(ic, "status.gpuPools");
	if (!pools || !json_object_is_type(pools, json_type_array) || json_object_array_length(pools) == 0)
		pools = jpath_get(ic, "spec.gpus");
	size_t n = pools && json_object_is_type(pools, json_type_array) ? json_object_array_length(pools) : 0;
	double need = (double)weight_bytes * safety_factor(mc);
	out->needed_bytes = need > 9.0e18 ? INT64_MAX : (int64_t)need;
	if (n == 0) {
		out->verdict = PRECHECK_BYPASS;
		out->bypass_reason = "gpu_inventory_unknown";
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *p = json_object_array_get_idx(pools, i);
		int64_t gpu = pool_gpu_bytes(p);
		int64_t per = jpath_int_or(p, "perNode", 1);
		if (gpu <= 0 || per <= 0) {
			out->verdict = PRECHECK_BYPASS;   /* fails open */
			out->bypass_reason = "gpu_inventory_unknown";
			return 0;
		}
		int64_t node = gpu * per;
		if (node > out->available_bytes) {
			out->available_bytes = node;
			out->per_node = (int)per;
			out->gpu_bytes = gpu;
		}
	}
	if (need <= (double)out->available_bytes) {
		out->verdict = PRECHECK_FITS;
		return 0;
	}
	if (sharded && strcmp(sharded, "true") == 0) {
		out->verdict = PRECHECK_BYPASS;
		out->bypass_reason = "multi_node_sharded";
		return 0;
	}
	out->verdict = PRECHECK_SKIP;
	char needs[32], node[32], per[32];
	gib(needs, sizeof(needs), need, false);
	gib(node, sizeof(node), (double)out->available_bytes, true);
	gib(per, sizeof(per), (double)out->gpu_bytes, true);
	snprintf(out->message, sizeof(out->message),
		 "model needs ~%s GiB of GPU memory for weights; the largest node in %s has %s GiB (%d x %s GiB)",
		 needs, jpath_str_or(ic, "metadata.name", "?"), node, out->per_node, per);
	return 0;
}
