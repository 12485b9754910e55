/* Status memo: the status a reconciler last wrote, per object key and uid.
 *
 * A reconciler compares its next status with what it last wrote (the
 * informer may not show its own write yet), so a repeated reconcile does
 * not write again, and lastTransitionTimes come from what was written.
 * A memo is only valid for the same uid (an object deleted and created
 * again starts afresh). Thread-safe; the memo keeps its own copies. */
#ifndef MC_CONTROLLER_MEMO_H
#define MC_CONTROLLER_MEMO_H

#include <json-c/json.h>

struct ctrl_memo;

struct ctrl_memo *ctrl_memo_new(void);
void ctrl_memo_free(struct ctrl_memo *m);
/* A deep copy of the status remembered for (key, uid), yours to put; NULL if none. */
json_object *ctrl_memo_get(struct ctrl_memo *m, const char *key, const char *uid);
/* Remember a copy of status for key (NULL status forgets the key). */
void ctrl_memo_put(struct ctrl_memo *m, const char *key, const char *uid, json_object *status);

#endif
