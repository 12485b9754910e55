#include "evmirror.h"

#include <string.h>

#include "simjson.h"
#include "util/mem.h"

struct evmirror {
	struct sim *s;
	int sub;
};

static void copy_field(json_object *dst, const char *dk, json_object *src, const char *sk)
{
	json_object *v = sj_get(src, sk);
	if (v)
		json_object_object_add(dst, dk, sj_copy(v));
}

json_object *evmirror_to_core(json_object *ev)
{
	json_object *c = json_object_new_object();
	json_object_object_add(c, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(c, "kind", json_object_new_string("Event"));
	json_object *m = json_object_new_object();
	json_object *em = sj_get(ev, "metadata");
	copy_field(m, "name", em, "name");
	copy_field(m, "namespace", em, "namespace");
	copy_field(m, "labels", em, "labels");
	copy_field(m, "annotations", em, "annotations");
	json_object_object_add(c, "metadata", m);
	copy_field(c, "involvedObject", ev, "regarding");
	copy_field(c, "related", ev, "related");
	copy_field(c, "reason", ev, "reason");
	copy_field(c, "type", ev, "type");
	copy_field(c, "action", ev, "action");
	copy_field(c, "message", ev, "note");
	copy_field(c, "eventTime", ev, "eventTime");
	copy_field(c, "reportingComponent", ev, "reportingController");
	copy_field(c, "reportingInstance", ev, "reportingInstance");
	json_object *src = sj_get(ev, "deprecatedSource");
	if (src) {
		json_object_object_add(c, "source", sj_copy(src));
	} else if (sj_str(ev, "reportingController", NULL)) {
		json_object *s = json_object_new_object();
		copy_field(s, "component", ev, "reportingController");
		json_object_object_add(c, "source", s);
	}
	copy_field(c, "firstTimestamp", ev, "deprecatedFirstTimestamp");
	copy_field(c, "lastTimestamp", ev, "deprecatedLastTimestamp");
	copy_field(c, "count", ev, "deprecatedCount");
	json_object *series = sj_get(ev, "series");
	if (series) {
		json_object_object_add(c, "series", sj_copy(series));
		if (!sj_get(c, "count"))
			copy_field(c, "count", series, "count");
	}
	return c;
}

static void on_event(void *ctx, const char *type, const char *plural, json_object *obj)
{
	struct evmirror *m = ctx;
	if (strcmp(plural, "events") != 0)
		return;
	const char *av = sj_str(obj, "apiVersion", NULL);
	if (!av || strcmp(av, "events.k8s.io/v1") != 0)
		return;
	const char *ns = sj_str(obj, "metadata", "namespace", NULL);
	const char *name = sj_str(obj, "metadata", "name", NULL);
	if (!ns || !name)
		return;
	if (strcmp(type, "DELETED") == 0) {
		sim_delete(m->s, "", "v1", "events", ns, name, NULL, NULL, NULL);
		return;
	}
	json_object *core = evmirror_to_core(obj);
	if (sim_create(m->s, "", "v1", "events", ns, core, NULL, NULL) == -409)
		sim_update(m->s, "", "v1", "events", ns, core, NULL, NULL);
	json_object_put(core);
}

int evmirror_start(struct sim *s, struct evmirror **out)
{
	struct evmirror *m = xcalloc(1, sizeof(*m));
	m->s = s;
	int rc = sim_subscribe(s, on_event, m, &m->sub);
	if (rc < 0) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void evmirror_stop(struct evmirror *m)
{
	if (!m)
		return;
	sim_unsubscribe(m->s, m->sub);
	free(m);
}
