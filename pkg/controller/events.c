#include "controller/events.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/hmap.h"
#include "util/jpath.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define NOTE_MAX 1024

struct events {
	struct kube_client *c;
	char *instance;
	pthread_mutex_t mu;
	struct hmap last;   /* "uid\x1freason" -> malloc'd note */
	unsigned long created;
	unsigned long seq;
};

int events_new(struct kube_client *client, const char *instance, struct events **out)
{
	struct events *e = xcalloc(1, sizeof(*e));
	e->c = client;
	e->instance = xstrdup(instance ? instance : "modelcache-operator");
	pthread_mutex_init(&e->mu, NULL);
	hmap_init(&e->last);
	*out = e;
	return 0;
}

void events_free(struct events *e)
{
	if (!e)
		return;
	hmap_cleanup(&e->last, free);
	pthread_mutex_destroy(&e->mu);
	free(e->instance);
	free(e);
}

/* "uid\x1fns/name\x1freason": what events_emit remembers the last note of. */
static char *dedup_key(const char *uid, const char *ns, const char *name, const char *reason)
{
	return xasprintf("%s\x1f%s/%s\x1f%s", uid ? uid : "", ns ? ns : "", name, reason);
}

void events_forget_reason(struct events *e, json_object *regarding, const char *reason)
{
	const char *name = jpath_str(regarding, "metadata.name");
	if (!name || !reason)
		return;
	char *dkey = dedup_key(jpath_str(regarding, "metadata.uid"), jpath_str(regarding, "metadata.namespace"), name,
			       reason);
	pthread_mutex_lock(&e->mu);
	free(hmap_del(&e->last, dkey));
	pthread_mutex_unlock(&e->mu);
	free(dkey);
}

static void add_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

int events_emit(struct events *e, json_object *regarding, const char *type, const char *reason,
		const char *action, const char *note)
{
	const char *uid = jpath_str(regarding, "metadata.uid");
	const char *name = jpath_str(regarding, "metadata.name");
	const char *ns = jpath_str(regarding, "metadata.namespace");
	if (!name || !reason)
		return -1;
	char notebuf[NOTE_MAX + 1];
	snprintf(notebuf, sizeof notebuf, "%s", note ? note : "");
	char *dkey = dedup_key(uid, ns, name, reason);
	pthread_mutex_lock(&e->mu);
	const char *prev = hmap_get(&e->last, dkey);
	bool dup = prev && strcmp(prev, notebuf) == 0;
	unsigned long seq = ++e->seq;
	pthread_mutex_unlock(&e->mu);
	if (dup) {
		free(dkey);
		return 0;
	}
	int64_t now = mclock_wall_ns(mclock_system());
	char ts[RFC3339_MICRO_LEN + 1];
	rfc3339_format_micro(now, ts);
	json_object *ev = json_object_new_object();
	add_str(ev, "apiVersion", "events.k8s.io/v1");
	add_str(ev, "kind", "Event");
	json_object *md = json_object_new_object();
	char *evname = xasprintf("%.200s.%llx%04lx", name, (unsigned long long)now, seq & 0xffff);
	add_str(md, "name", evname);
	free(evname);
	add_str(md, "namespace", ns && *ns ? ns : "default");
	json_object_object_add(ev, "metadata", md);
	add_str(ev, "eventTime", ts);
	add_str(ev, "reportingController", "modelcache-operator");
	add_str(ev, "reportingInstance", e->instance);
	add_str(ev, "action", action ? action : reason);
	add_str(ev, "reason", reason);
	add_str(ev, "note", notebuf);
	add_str(ev, "type", type ? type : EVENT_NORMAL);
	json_object *reg = json_object_new_object();
	add_str(reg, "apiVersion", jpath_child_str(regarding, "apiVersion"));
	add_str(reg, "kind", jpath_child_str(regarding, "kind"));
	add_str(reg, "name", name);
	add_str(reg, "namespace", ns);
	add_str(reg, "uid", uid);
	add_str(reg, "resourceVersion", jpath_str(regarding, "metadata.resourceVersion"));
	json_object_object_add(ev, "regarding", reg);
	struct kube_error err = {0};
	int rc = kube_create(e->c, &KUBE_RES_EVENTS, ns && *ns ? ns : "default", ev, NULL, &err);
	json_object_put(ev);
	if (rc) {
		LOG_WARN("event not recorded", "object=%s/%s reason=%s error=%s", ns ? ns : "", name, reason,
			 err.message ? err.message : kube_reason_str(-rc));
		kube_error_clear(&err);
		free(dkey);
		return rc;
	}
	LOG_INFO("event", "object=%s/%s type=%s reason=%s note=%s", ns ? ns : "", name, type ? type : EVENT_NORMAL,
		 reason, notebuf);
	pthread_mutex_lock(&e->mu);
	free(hmap_put(&e->last, dkey, xstrdup(notebuf)));
	e->created++;
	pthread_mutex_unlock(&e->mu);
	free(dkey);
	return 1;
}

void events_forget(struct events *e, const char *uid)
{
	if (!uid)
		return;
	size_t ul = strlen(uid);
	pthread_mutex_lock(&e->mu);
	for (;;) {
		size_t b = 0;
		struct hmap_ent *hit = NULL;
		for (struct hmap_ent *it = NULL; (it = hmap_next(&e->last, it, &b));) {
			if (strncmp(it->key, uid, ul) == 0 && it->key[ul] == '\x1f') {
				hit = it;
				break;
			}
		}
		if (!hit)
			break;
		char *k = xstrdup(hit->key);
		free(hmap_del(&e->last, k));
		free(k);
	}
	pthread_mutex_unlock(&e->mu);
}

unsigned long events_created(struct events *e)
{
	pthread_mutex_lock(&e->mu);
	unsigned long n = e->created;
	pthread_mutex_unlock(&e->mu);
	return n;
}
