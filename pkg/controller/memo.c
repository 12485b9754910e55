/* Status memo (see memo.h). */
#include "controller/memo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

struct entry {
	char *key, *uid;
	json_object *status;
	struct entry *next;
};

struct ctrl_memo {
	pthread_mutex_t mu;
	struct entry *head;
};

struct ctrl_memo *ctrl_memo_new(void)
{
	struct ctrl_memo *m = xcalloc(1, sizeof(*m));
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void entry_free(struct entry *e)
{
	free(e->key);
	free(e->uid);
	json_object_put(e->status);
	free(e);
}

void ctrl_memo_free(struct ctrl_memo *m)
{
	if (!m)
		return;
	while (m->head) {
		struct entry *e = m->head;
		m->head = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

json_object *ctrl_memo_get(struct ctrl_memo *m, const char *key, const char *uid)
{
	json_object *out = NULL;
	pthread_mutex_lock(&m->mu);
	for (struct entry *e = m->head; e && !out; e = e->next)
		if (strcmp(e->key, key) == 0 && uid && e->uid && strcmp(e->uid, uid) == 0)
			json_object_deep_copy(e->status, &out, NULL);
	pthread_mutex_unlock(&m->mu);
	return out;
}

void ctrl_memo_put(struct ctrl_memo *m, const char *key, const char *uid, json_object *status)
{
	json_object *copy = NULL;
	if (status)
		json_object_deep_copy(status, &copy, NULL);
	pthread_mutex_lock(&m->mu);
	struct entry **pp = &m->head;
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	struct entry *e = *pp;
	if (e && !copy) {
		*pp = e->next;
		entry_free(e);
	} else if (e) {
		free(e->uid);
		e->uid = xstrdup(uid);
		json_object_put(e->status);
		e->status = copy;
	} else if (copy) {
		e = xcalloc(1, sizeof(*e));
		e->key = xstrdup(key);
		e->uid = xstrdup(uid);
		e->status = copy;
		e->next = m->head;
		m->head = e;
	}
	pthread_mutex_unlock(&m->mu);
}
