/* Status memo (see memo.h). Statuses are kept as compact JSON text (a
 * json-c tree costs ten times more) in a hash map by key. */
#include "controller/memo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/mem.h"

struct entry {
	char *uid;
	char *json;
};

struct ctrl_memo {
	pthread_mutex_t mu;
	struct hmap by_key;   /* key -> struct entry * */
};

struct ctrl_memo *ctrl_memo_new(void)
{
	struct ctrl_memo *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	hmap_init(&m->by_key);
	return m;
}

static void entry_free(void *p)
{
	struct entry *e = p;
	if (!e)
		return;
	free(e->uid);
	free(e->json);
	free(e);
}

void ctrl_memo_free(struct ctrl_memo *m)
{
	if (!m)
		return;
	hmap_cleanup(&m->by_key, entry_free);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

json_object *ctrl_memo_get(struct ctrl_memo *m, const char *key, const char *uid)
{
	char *json = NULL;
	pthread_mutex_lock(&m->mu);
	const struct entry *e = hmap_get(&m->by_key, key);
	if (e && uid && e->uid && strcmp(e->uid, uid) == 0)
		json = xstrdup(e->json);
	pthread_mutex_unlock(&m->mu);
	json_object *out = json ? json_tokener_parse(json) : NULL;
	free(json);
	return out;
}

void ctrl_memo_put(struct ctrl_memo *m, const char *key, const char *uid, json_object *status)
{
	struct entry *e = NULL;
	if (status) {
		e = xcalloc(1, sizeof(*e));
		e->uid = xstrdup(uid);
		/* a private copy is serialised: json-c caches the text in the object */
		json_object *copy = NULL;
		json_object_deep_copy(status, &copy, NULL);
		e->json = xstrdup(json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(copy);
	}
	pthread_mutex_lock(&m->mu);
	struct entry *old = e ? hmap_put(&m->by_key, key, e) : hmap_del(&m->by_key, key);
	pthread_mutex_unlock(&m->mu);
	entry_free(old);
}
