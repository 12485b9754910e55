/* kubesim cluster behaviours: what the controllers and the kubelet of a real
 * cluster would do to the objects in the store.
 *
 *   --bind-pvcs          a PVC whose StorageClass exists (or, without a class,
 *                        a default class annotated
 *                        storageclass.kubernetes.io/is-default-class=true) is
 *                        bound: a PersistentVolume pvc-<uid> is created,
 *                        spec.volumeName set, status Bound with capacity and
 *                        accessModes, and a host directory
 *                        DATA_DIR/pvs/<ns>/<name>-<uid> made (its path is in the
 *                        annotation kubesim.dev/host-path). Deleting the PVC
 *                        removes the directory and the PV. Growing
 *                        spec.resources.requests.storage grows status.capacity.
 *   --run-jobs           the Job controller + a kubelet: each batch/v1 Job gets
 *                        Pods (generateName <job>-, labels job-name,
 *                        controller-uid, owner reference) whose containers run
 *                        as host processes in a private mount namespace with
 *                        their volumes bind-mounted (see behave_pod.c); Pod
 *                        and Job status as the real controllers report them.
 *   --ready-deployments  Deployments (and LeaderWorkerSets when served) report
 *                        all replicas ready and Available=True shortly after
 *                        each create/update.
 *
 * Threads: one reconcile worker plus one thread per running Pod; all joined
 * by behave_stop, which also kills (SIGKILL) and reaps every running process
 * group. */
#ifndef KUBESIM_BEHAVE_H
#define KUBESIM_BEHAVE_H

struct sim;

struct behave_opts {
	int bind_pvcs, run_jobs, ready_deployments;
	const char *data_dir;  /* host directories for volumes, pod logs (created if missing) */
	const char *bin_dir;   /* first on the PATH of every container (build/bin) */
};

struct behave;

/* Subscribes to s and starts the worker. 0 or negative errno. */
int behave_start(struct sim *s, const struct behave_opts *o, struct behave **out);
/* Unsubscribes, kills and reaps running pods, joins every thread, frees b. NULL ok. */
void behave_stop(struct behave *b);

#endif
