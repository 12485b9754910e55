/* Owner-reference garbage collection for kubesim, run as a sim subscriber
 * (so asynchronously, like kube-controller-manager's GC):
 *  - an object whose owners are all gone is deleted (background), one with a
 *    remaining owner just loses the dangling ownerReference;
 *  - Foreground: an owner with the foregroundDeletion finalizer gets its
 *    dependents deleted and the finalizer removed once none remain;
 *  - Orphan: the orphan finalizer strips the ownerReferences from the
 *    dependents, then is removed;
 *  - a Terminating namespace is removed once it is empty. */
#ifndef KUBESIM_GC_H
#define KUBESIM_GC_H

#include "sim.h"

struct gc;

int gc_start(struct sim *s, struct gc **out);
void gc_stop(struct gc *g);

#endif
