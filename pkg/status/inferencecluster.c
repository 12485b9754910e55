#include "status/inferencecluster.h"

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "util/jpath.h"
#include "util/quantity.h"

static void cond(json_object *status, const char *type, const char *st, const char *reason, const char *msg,
		 int64_t gen, int64_t now)
{
	struct api_condition c = {type, st, reason, msg ? msg : "", gen};
	api_condition_set(status, &c, now);
}

static void put_or_keep(json_object *status, const char *key, json_object *v)
{
	if (v)
		json_object_object_add(status, key, v);
}

void status_ic_compute(json_object *status, const struct status_ic_in *in, int64_t gen, int64_t now)
{
	json_object_object_add(status, "observedGeneration", json_object_new_int64(gen));
	if (in->invalid) {
		cond(status, "Valid", "False", "Invalid", in->invalid, gen, now);
		cond(status, "Connected", "Unknown", "Invalid", "the spec is invalid", gen, now);
		cond(status, "Ready", "False", "Invalid", in->invalid, gen, now);
		json_object_put(in->gpu_pools);
		json_object_put(in->cache);
		return;
	}
	api_condition_remove(status, "Valid");
	const char *reason = in->conn_reason ? in->conn_reason : "Unknown";
	cond(status, "Connected", in->conn_status ? in->conn_status : "Unknown", reason, in->conn_message, gen,
	     now);
	bool ready = in->conn_status && strcmp(in->conn_status, "True") == 0;
	char msg[1024];
	snprintf(msg, sizeof msg, "%s", in->conn_message ? in->conn_message : "");
	if (ready) {
		if (in->version)
			json_object_object_add(status, "version", json_object_new_string(in->version));
		put_or_keep(status, "gpuPools", in->gpu_pools);
		put_or_keep(status, "cache", in->cache);
		if (in->namespace_error) {
			ready = false;
			reason = "NamespaceFailed";
			snprintf(msg, sizeof msg, "%s", in->namespace_error);
		} else if (in->pools_pending && !json_object_object_get_ex(status, "gpuPools", NULL)) {
			ready = false;
			reason = "Discovering";
			snprintf(msg, sizeof msg, "listing Nodes");
		}
	} else {
		json_object_put(in->gpu_pools);
		json_object_put(in->cache);
	}
	if (ready && in->storage_class_missing) {
		ready = false;
		reason = "StorageClassMissing";
		snprintf(msg, sizeof msg,
			 "storage class %s does not exist on %s: cache volumes there stay Pending until it does "
			 "(spec.cache.storageClassName)",
			 in->storage_class ? in->storage_class : "", in->cluster ? in->cluster : "");
	} else if (ready) {
		json_object *pools = NULL;
		json_object_object_get_ex(status, "gpuPools", &pools);
		size_t np = pools ? json_object_array_length(pools) : 0;
		snprintf(msg, sizeof msg, "%zu GPU pool%s", np, np == 1 ? "" : "s");
		reason = "Ready";
	}
	cond(status, "Ready", ready ? "True" : "False", reason, msg, gen, now);
}

void status_ic_usage_add(struct status_ic_usage *u, json_object *pvc)
{
	if (jpath_get(pvc, "metadata.deletionTimestamp"))
		return;
	json_object *rq = jpath_get(pvc, "spec.resources.requests.storage");
	int64_t b = 0;
	if (rq && quantity_parse_bytes(json_object_get_string(rq), &b) == 0 &&
	    __builtin_add_overflow(u->used_bytes, b, &u->used_bytes))
		u->used_bytes = b < 0 ? INT64_MIN : INT64_MAX;   /* saturate */
	u->caches++;
}

json_object *status_ic_cache(const struct api_inferencecluster *ic, const struct status_ic_usage *u)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "storageClassName", json_object_new_string(ic->storage_class));
	char q[QUANTITY_STR_MAX];
	if (ic->capacity_bytes >= 0) {
		json_object_object_add(o, "capacityBytes", json_object_new_int64(ic->capacity_bytes));
		json_object_object_add(o, "reserveBytes", json_object_new_int64(ic->reserve_bytes));
		if (quantity_format_bytes(ic->capacity_bytes, q, sizeof q) == 0)
			json_object_object_add(o, "capacity", json_object_new_string(q));
	}
	if (ic->max_caches > 0)
		json_object_object_add(o, "maxCaches", json_object_new_int64(ic->max_caches));
	int64_t used = u ? u->used_bytes : 0;
	json_object_object_add(o, "usedBytes", json_object_new_int64(used));
	if (quantity_format_bytes(used, q, sizeof q) == 0)
		json_object_object_add(o, "used", json_object_new_string(q));
	json_object_object_add(o, "caches", json_object_new_int64(u ? u->caches : 0));
	return o;
}
