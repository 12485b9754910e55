/* --ready-deployments: Deployments (and LeaderWorkerSets, when their CRD is
 * served) report every replica ready and Available=True, as the deployment
 * controller does once its pods are up. No Pods or ReplicaSets are made. */
#include "behave_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "util/digest.h"
#include "util/mem.h"

static json_object *condition(const char *type, const char *reason, const char *message, const char *now,
			      json_object *old_conds)
{
	json_object *c = json_object_new_object();
	const char *since = now;
	size_t n = old_conds && json_object_is_type(old_conds, json_type_array) ? json_object_array_length(old_conds) : 0;
	/* lastTransitionTime only moves when the status flips */
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(old_conds, i);
		const char *t = behave__str(o, "type"), *s = behave__str(o, "status");
		if (t && !strcmp(t, type) && s && !strcmp(s, "True") && behave__str(o, "lastTransitionTime"))
			since = behave__str(o, "lastTransitionTime");
	}
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string("True"));
	json_object_object_add(c, "lastUpdateTime", json_object_new_string(now));
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(since));
	json_object_object_add(c, "reason", json_object_new_string(reason));
	json_object_object_add(c, "message", json_object_new_string(message));
	return c;
}

static int64_t int_at(json_object *o, const char *key, int64_t def)
{
	json_object *v = behave__get(o, key);
	return v ? json_object_get_int64(v) : def;
}

/* Is the status already what we would write? Compared field by field (not
 * timestamps), and only on fields the object's schema keeps: a
 * LeaderWorkerSet's status has no observedGeneration, so it is not asked
 * for (else our own write would bring us back here forever). */
static bool reported(json_object *st, int64_t want, int64_t gen, int lws)
{
	json_object *conds = behave__get(st, "conditions");
	bool available = false;
	for (size_t i = 0; conds && json_object_is_type(conds, json_type_array) && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		const char *t = behave__str(c, "type"), *s = behave__str(c, "status");
		if (t && s && !strcmp(t, "Available") && !strcmp(s, "True"))
			available = true;
	}
	if (!available || int_at(st, "replicas", -1) != want || int_at(st, "readyReplicas", 0) != want ||
	    int_at(st, "updatedReplicas", -1) != want)
		return false;
	if (lws)
		return true;
	return int_at(st, "observedGeneration", -1) == gen && int_at(st, "availableReplicas", 0) == want;
}

void behave__deploy_reconcile(struct behave *b, const char *ns, const char *name, int lws)
{
	const char *group = lws ? "leaderworkerset.x-k8s.io" : "apps";
	const char *resource = lws ? "leaderworkersets" : "deployments";
	json_object *obj = NULL, *st, *patch, *conds, *repl;
	int64_t want = 1, gen = 0;
	char now[32];

	if (lws && !sim_served(b->s, group, "v1", resource, NULL))
		return;
	if (sim_get(b->s, group, "v1", resource, ns, name, &obj, NULL) < 0)
		return;
	if (behave__path(obj, "metadata.deletionTimestamp"))
		goto out;
	repl = behave__path(obj, "spec.replicas");
	if (repl)
		want = json_object_get_int64(repl);
	if (behave__path(obj, "metadata.generation"))
		gen = json_object_get_int64(behave__path(obj, "metadata.generation"));
	st = behave__get(obj, "status");
	if (reported(st, want, gen, lws))
		goto out; /* already reported: our own status write comes back here */

	behave__now(b, now);
	patch = json_object_new_object();
	json_object *ns_st = json_object_new_object();
	json_object_object_add(ns_st, "observedGeneration", json_object_new_int64(gen));
	json_object_object_add(ns_st, "replicas", json_object_new_int64(want));
	json_object_object_add(ns_st, "updatedReplicas", json_object_new_int64(want));
	json_object_object_add(ns_st, "readyReplicas", want ? json_object_new_int64(want) : NULL);
	if (!lws) {
		json_object_object_add(ns_st, "availableReplicas", want ? json_object_new_int64(want) : NULL);
		json_object_object_add(ns_st, "unavailableReplicas", NULL);
	}
	conds = json_object_new_array();
	if (lws) {
		json_object_array_add(conds, condition("Available", "AllGroupsReady", "All replicas are ready", now,
						       behave__get(st, "conditions")));
	} else {
		/* the ReplicaSet name the deployment controller would use: <name>-<hash> */
		char hex[65], msg[256];
		json_object *tmpl = behave__path(obj, "spec.template");
		const char *t = tmpl ? json_object_to_json_string_ext(tmpl, JSON_C_TO_STRING_PLAIN) : "";
		sha256_hex(t, strlen(t), hex);
		hex[10] = 0;
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s-%s\" has successfully progressed.", name, hex);
		json_object_array_add(conds, condition("Available", "MinimumReplicasAvailable",
						       "Deployment has minimum availability.", now, behave__get(st, "conditions")));
		json_object_array_add(conds, condition("Progressing", "NewReplicaSetAvailable", msg, now,
						       behave__get(st, "conditions")));
	}
	json_object_object_add(ns_st, "conditions", conds);
	json_object_object_add(patch, "status", ns_st);
	behave__patch(b, group, "v1", resource, ns, name, "status", patch, "kube-controller-manager");
	json_object_put(patch);
out:
	json_object_put(obj);
}
