/* --run-jobs, the kubelet half: runs a Pod's containers as host processes.
 *
 * Per container a child is forked that
 *   - starts a new session (its pid is the process group we kill),
 *   - unshares its mount (and UTS) namespace and makes / rprivate,
 *   - runs the command as PID 1 of a new PID namespace (nothing it starts
 *     outlives it, nor kubesim) with its own /proc,
 *   - bind-mounts every volume at its mountPath and a per-container file at
 *     terminationMessagePath (default /dev/termination-log),
 *   - sets the hostname, workingDir, groups, gid and uid,
 *   - execs command + args (no shell) with command[0] searched on a PATH
 *     that starts with BIN_DIR (so "modelcache-operator hydrate" runs the
 *     real hydrator).
 * A mountPath that does not exist on the host is not created on the host's
 * file system: its deepest existing ancestor is covered, inside the
 * container's namespace only, by a tmpfs that re-binds every original entry
 * (an overlay made of bind mounts), and the missing path is made there. The
 * one exception is a mountPath whose first component is missing under "/"
 * (e.g. /data/x): that top-level directory is created (empty) on the host.
 *
 * Volumes: persistentVolumeClaim (the PVC's host directory; waits until
 * Bound), emptyDir (fresh directory per pod), secret and configMap (one file
 * per key, items/defaultMode honoured), hostPath. Env: value, valueFrom
 * secretKeyRef / configMapKeyRef / fieldRef, envFrom, $(VAR) expansion.
 * A missing Secret/ConfigMap keeps the pod waiting (CreateContainerConfigError
 * or ContainerCreating), as on a real node. Images are ignored.
 * Container stdout+stderr go to DATA_DIR/pods/<ns>_<pod>_<uid>/logs/<c>.log
 * (annotation kubesim.dev/pod-dir names the directory). The termination
 * message is read after exit, capped at 4096 bytes like the kubelet's;
 * FallbackToLogsOnError takes the log's tail (80 lines / 2048 bytes).
 * restartPolicy OnFailure restarts a failed container in the same pod
 * (restartCount, lastState; CrashLoopBackOff 0.5 s doubling up to 8 s); with
 * Never a failed container fails the pod (the Job controller makes a new one).
 * Standalone Pods are not run: only Jobs' pods. */
#include "behave_int.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

#define MANAGER "kubelet"
#define TERM_MSG_MAX 4096
#define LOG_TAIL_BYTES 2048
#define LOG_TAIL_LINES 80
#define KILL_GRACE_MS 2000
#define RESTART_BASE_MS 500   /* the kubelet's CrashLoopBackOff starts at 10 s */
#define RESTART_MAX_MS 8000
#define MAX_MOUNTS 64
#define MAX_OVERLAYS 16

/* ---- plans (built in the parent, used by the forked child) ---------------- */

struct mnt {
	char *src, *dst;
	int ro, file;
};

struct cplan {
	char *cname;
	char **argv;          /* NULL-terminated */
	char **envp;          /* NULL-terminated, "K=V" */
	char *path;           /* PATH value for the exec search */
	char *exe_host;       /* argv[0] resolved on the host PATH before any mount, or NULL */
	char *workdir;
	char *hostname;
	int log_fd;
	int has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	gid_t groups[8];
	int ngroups;
	struct mnt m[MAX_MOUNTS];
	int nm;
	char *overlays[MAX_OVERLAYS];
	int no;
	char *term_file;      /* host file bound at the termination path */
	char *log_path;
	const char *policy;   /* terminationMessagePolicy */
	char *start_error;    /* set when the plan itself failed (StartError) */
};

static void plan_free(struct cplan *p)
{
	free(p->exe_host);
	for (char **a = p->argv; a && *a; a++)
		free(*a);
	free(p->argv);
	for (char **e = p->envp; e && *e; e++)
		free(*e);
	free(p->envp);
	for (int i = 0; i < p->nm; i++) {
		free(p->m[i].src);
		free(p->m[i].dst);
	}
	for (int i = 0; i < p->no; i++)
		free(p->overlays[i]);
	free(p->path);
	free(p->workdir);
	free(p->hostname);
	free(p->term_file);
	free(p->log_path);
	free(p->cname);
	free(p->start_error);
	if (p->log_fd >= 0)
		close(p->log_fd);
	memset(p, 0, sizeof(*p));
	p->log_fd = -1;
}

/* ---- small helpers ------------------------------------------------------- */

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+' || c == '-') return 62;
	if (c == '/' || c == '_') return 63;
	return -1;
}

/* base64 (std, padding optional) -> bytes; 0 or -1 */
static int b64_decode(const char *in, struct buf *out)
{
	unsigned acc = 0;
	int bits = 0;
	for (const char *p = in; *p; p++) {
		int v;
		if (*p == '=' || *p == '\n' || *p == '\r')
			continue;
		v = b64val((unsigned char)*p);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
				return -1;
		}
	}
	return 0;
}

static int write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;
	if (fd < 0)
		return -errno;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		p += w;
		n -= (size_t)w;
	}
	fchmod(fd, mode);
	close(fd);
	return 0;
}

static char *read_capped(const char *path, size_t cap, int tail)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *out;
	ssize_t r;
	size_t got = 0;
	if (fd < 0)
		return xstrdup("");
	if (tail && fstat(fd, &st) == 0 && (size_t)st.st_size > cap)
		lseek(fd, st.st_size - (off_t)cap, SEEK_SET);
	out = xmalloc(cap + 1);
	while (got < cap && (r = read(fd, out + got, cap - got)) > 0)
		got += (size_t)r;
	out[got] = 0;
	close(fd);
	return out;
}

static char *log_tail(const char *path)
{
	char *t = read_capped(path, LOG_TAIL_BYTES, 1);
	size_t len = strlen(t), lines = 0;
	/* at most the last 80 lines */
	for (size_t i = len; i-- > 0;) {
		if (t[i] == '\n' && i + 1 < len && ++lines >= LOG_TAIL_LINES) {
			memmove(t, t + i + 1, len - i);
			break;
		}
	}
	return t;
}

static bool path_exists(const char *p)
{
	struct stat st;
	return lstat(p, &st) == 0;
}

/* ---- the child ------------------------------------------------------------------ */

static void child_fail(int errfd, const char *fmt, const char *arg) __attribute__((noreturn));
static void child_fail(int errfd, const char *fmt, const char *arg)
{
	char msg[512];
	/* fmt is always one of this file's literals with two %s */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	int n = snprintf(msg, sizeof(msg), fmt, arg ? arg : "", strerror(errno));
#pragma GCC diagnostic pop
	if (n > 0 && write(errfd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0) {
		/* nothing left to tell */
	}
	_exit(127);
}

static int child_mkdirs(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* getdents64 record (the libc readdir would allocate: not in a forked child
 * of a threaded process, where another thread may have held the allocator) */
struct dent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Cover dir with a tmpfs that re-binds its original entries. */
static int child_overlay(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	char opts[32], tgt[PATH_MAX], src[PATH_MAX], lnk[PATH_MAX];
	char dbuf[8192] __attribute__((aligned(8)));
	long nread;

	if (dfd < 0 || fstat(dfd, &st) < 0)
		return -1;
	snprintf(opts, sizeof(opts), "mode=%o", (unsigned)(st.st_mode & 07777));
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID, opts) < 0)
		return -1;
	while ((nread = syscall(SYS_getdents64, dfd, dbuf, sizeof(dbuf))) > 0) {
		for (long off = 0; off < nread;) {
			struct dent64 *de = (struct dent64 *)(void *)(dbuf + off);
			struct stat es;
			off += de->d_reclen;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (fstatat(dfd, de->d_name, &es, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (snprintf(tgt, sizeof(tgt), "%s/%s", strcmp(dir, "/") ? dir : "", de->d_name) >= (int)sizeof(tgt) ||
			    snprintf(src, sizeof(src), "/proc/self/fd/%d/%s", dfd, de->d_name) >= (int)sizeof(src))
				continue;
			if (S_ISLNK(es.st_mode)) {
				ssize_t n = readlinkat(dfd, de->d_name, lnk, sizeof(lnk) - 1);
				if (n >= 0) {
					lnk[n] = 0;
					if (symlink(lnk, tgt) < 0) {
						/* best effort */
					}
				}
				continue;
			}
			if (S_ISDIR(es.st_mode)) {
				if (mkdir(tgt, es.st_mode & 07777) < 0)
					continue;
			} else {
				int fd = open(tgt, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
				if (fd < 0)
					continue;
				close(fd);
			}
			mount(src, tgt, NULL, MS_BIND | MS_REC, NULL);
		}
	}
	close(dfd);
	return 0;
}

/* command[0] searched on PATH as the host sees it, before the container's
 * mounts can hide the directory (NULL: not found there; the child searches
 * again inside its mount namespace). */
static char *resolve_on_host(const char *argv0, const char *path)
{
	if (!argv0 || !*argv0 || strchr(argv0, '/'))
		return NULL;
	for (const char *d = path; d && *d;) {
		const char *colon = strchr(d, ':');
		size_t len = colon ? (size_t)(colon - d) : strlen(d);
		if (len > 0) {
			char *cand = xasprintf("%.*s/%s", (int)len, d, argv0);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
				return cand;
			free(cand);
		}
		d = colon ? colon + 1 : NULL;
	}
	return NULL;
}

static void child_run(struct cplan *p, int errfd) __attribute__((noreturn));
static void child_run(struct cplan *p, int errfd)
{
	char exe[PATH_MAX];
	int saved = ENOENT;

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	int nul = open("/dev/null", O_RDONLY);
	if (nul >= 0) {
		dup2(nul, 0);
		if (nul > 2)
			close(nul);
	}
	if (p->log_fd >= 0) {
		dup2(p->log_fd, 1);
		dup2(p->log_fd, 2);
	}
	if (unshare(CLONE_NEWNS | CLONE_NEWUTS) < 0)
		child_fail(errfd, "unshare(CLONE_NEWNS)%s: %s", NULL);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(errfd, "make / rprivate%s: %s", NULL);
	if (p->hostname && sethostname(p->hostname, strlen(p->hostname)) < 0) {
		/* not fatal */
	}
	/* The program too: an emptyDir at /tmp must not hide build/bin when the
	 * checkout lives under /tmp (as CI clones may). */
	int exefd = p->exe_host ? open(p->exe_host, O_PATH | O_CLOEXEC) : -1;
	/* hold every source first: a volume mounted at /tmp must not hide the
	 * host directories of the others (the data dir often lives in /tmp) */
	int srcfd[MAX_MOUNTS];
	for (int i = 0; i < p->nm; i++) {
		srcfd[i] = open(p->m[i].src, O_PATH | O_CLOEXEC);
		if (srcfd[i] < 0)
			child_fail(errfd, "volume source %s: %s", p->m[i].src);
	}
	for (int i = 0; i < p->no; i++)
		if (child_overlay(p->overlays[i]) < 0)
			child_fail(errfd, "cannot prepare a place for mounts under %s: %s", p->overlays[i]);
	for (int i = 0; i < p->nm; i++) {
		struct mnt *m = &p->m[i];
		char src[64];
		snprintf(src, sizeof(src), "/proc/self/fd/%d", srcfd[i]);
		if (!path_exists(m->dst)) {
			if (m->file) {
				char dir[PATH_MAX];
				snprintf(dir, sizeof(dir), "%s", m->dst);
				char *slash = strrchr(dir, '/');
				if (slash && slash != dir) {
					*slash = 0;
					child_mkdirs(dir);
				}
				int fd = open(m->dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
				if (fd < 0)
					child_fail(errfd, "cannot create mount point %s: %s", m->dst);
				close(fd);
			} else if (child_mkdirs(m->dst) < 0) {
				child_fail(errfd, "cannot create mount point %s: %s", m->dst);
			}
		}
		if (mount(src, m->dst, NULL, MS_BIND | MS_REC, NULL) < 0)
			child_fail(errfd, "cannot mount a volume at %s: %s", m->dst);
		if (m->ro && mount(NULL, m->dst, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0)
			child_fail(errfd, "cannot make %s read-only: %s", m->dst);
	}
	if (chdir(p->workdir ? p->workdir : "/") < 0)
		child_fail(errfd, "chdir to working directory %s: %s", p->workdir);

	/* A PID namespace with the command as its init: when it ends, or when
	 * kubesim dies (PDEATHSIG down the chain), every process it started goes
	 * too. Like a container's PID 1 it ignores SIGTERM unless it handles it;
	 * the grace period then ends with SIGKILL. This process waits for it
	 * and exits with its status (128+signal when killed). */
	if (unshare(CLONE_NEWPID) < 0)
		child_fail(errfd, "unshare(CLONE_NEWPID)%s: %s", NULL);
	pid_t init = fork();
	if (init < 0)
		child_fail(errfd, "fork%s: %s", NULL);
	if (init > 0) {
		int st;
		close(errfd);
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		while (waitpid(init, &st, 0) < 0)
			if (errno != EINTR)
				_exit(127);
		if (WIFEXITED(st))
			_exit(WEXITSTATUS(st));
		_exit(128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0));
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* the container's own /proc */
	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (p->has_uid || p->has_gid || p->ngroups) {
		if (setgroups((size_t)p->ngroups, p->ngroups ? p->groups : NULL) < 0)
			child_fail(errfd, "setgroups%s: %s", NULL);
	}
	if (p->has_gid && setgid(p->gid) < 0)
		child_fail(errfd, "setgid%s: %s", NULL);
	if (p->has_uid && setuid(p->uid) < 0)
		child_fail(errfd, "setuid%s: %s", NULL);

	if (exefd >= 0) {
		execveat(exefd, "", p->argv, p->envp, AT_EMPTY_PATH);
		child_fail(errfd, "exec: \"%s\": %s", p->argv[0]);
	}
	if (strchr(p->argv[0], '/')) {
		execve(p->argv[0], p->argv, p->envp);
		child_fail(errfd, "exec: \"%s\": %s", p->argv[0]);
	}
	const char *dirs = p->path;
	while (dirs && *dirs) {
		const char *colon = strchr(dirs, ':');
		size_t len = colon ? (size_t)(colon - dirs) : strlen(dirs);
		if (len > 0 && len + 1 + strlen(p->argv[0]) < sizeof(exe)) {
			memcpy(exe, dirs, len);
			exe[len] = '/';
			strcpy(exe + len + 1, p->argv[0]);
			execve(exe, p->argv, p->envp);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = errno;
		}
		dirs = colon ? colon + 1 : NULL;
	}
	errno = saved;
	if (saved == ENOENT)
		child_fail(errfd, "exec: \"%s\": executable file not found in $PATH%.0s", p->argv[0]);
	child_fail(errfd, "exec: \"%s\": %s", p->argv[0]);
}

/* ---- the runner ------------------------------------------------------------ */

struct vol {
	char *name;
	char *dir;       /* host directory (or file for hostPath files) */
	int host;        /* a hostPath: never chgrp'ed */
};

struct runner_ctx {
	struct pod_runner *r;
	struct behave *b;
	char *poddir;
	struct vol *vols;
	size_t nvols;
	json_object *init_statuses, *statuses;
	char started[32];
};

static void vols_free(struct runner_ctx *c)
{
	for (size_t i = 0; i < c->nvols; i++) {
		free(c->vols[i].name);
		free(c->vols[i].dir);
	}
	free(c->vols);
	c->vols = NULL;
	c->nvols = 0;
}

static int killed(struct pod_runner *r)
{
	int k;
	pthread_mutex_lock(&r->b->mu);
	k = r->kill || r->b->stop;
	pthread_mutex_unlock(&r->b->mu);
	return k;
}

static void patch_status(struct runner_ctx *c, json_object *st /* owned */)
{
	json_object *patch = json_object_new_object();
	json_object_object_add(patch, "status", st);
	behave__patch(c->b, "", "v1", "pods", c->r->ns, c->r->name, "status", patch, MANAGER);
	json_object_put(patch);
}

static json_object *pod_condition(const char *type, int ok, const char *reason, const char *now)
{
	json_object *c = json_object_new_object();
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "status", json_object_new_string(ok ? "True" : "False"));
	json_object_object_add(c, "lastProbeTime", NULL);
	json_object_object_add(c, "lastTransitionTime", json_object_new_string(now));
	if (reason)
		json_object_object_add(c, "reason", json_object_new_string(reason));
	return c;
}

static void report(struct runner_ctx *c, const char *phase, int running, int finished)
{
	char now[32];
	json_object *st = json_object_new_object(), *conds = json_object_new_array();
	behave__now(c->b, now);
	json_object_object_add(st, "phase", json_object_new_string(phase));
	json_object_object_add(st, "hostIP", json_object_new_string("127.0.0.1"));
	json_object_object_add(st, "podIP", json_object_new_string("127.0.0.1"));
	json_object *ips = json_object_new_array(), *ip = json_object_new_object();
	json_object_object_add(ip, "ip", json_object_new_string("127.0.0.1"));
	json_object_array_add(ips, ip);
	json_object_object_add(st, "podIPs", ips);
	json_object_object_add(st, "startTime", json_object_new_string(c->started));
	json_object_object_add(st, "qosClass", json_object_new_string("BestEffort"));
	json_object_array_add(conds, pod_condition("PodReadyToStartContainers", 1, NULL, now));
	json_object_array_add(conds, pod_condition("Initialized", running || finished, NULL, now));
	json_object_array_add(conds, pod_condition("Ready", running && !finished, finished ? "PodCompleted" : NULL, now));
	json_object_array_add(conds, pod_condition("ContainersReady", running && !finished,
						   finished ? "PodCompleted" : NULL, now));
	json_object_array_add(conds, pod_condition("PodScheduled", 1, NULL, now));
	json_object_object_add(st, "conditions", conds);
	if (json_object_array_length(c->init_statuses) > 0)
		json_object_object_add(st, "initContainerStatuses", json_object_get(c->init_statuses));
	json_object_object_add(st, "containerStatuses", json_object_get(c->statuses));
	patch_status(c, st);
}

static json_object *cstatus(json_object *container, const char *state, json_object *detail /* owned */)
{
	json_object *cs = json_object_new_object(), *s = json_object_new_object();
	const char *img = behave__str(container, "image");
	json_object_object_add(cs, "name", json_object_new_string(behave__str(container, "name") ? behave__str(container, "name") : ""));
	json_object_object_add(cs, "image", json_object_new_string(img ? img : ""));
	json_object_object_add(cs, "imageID", json_object_new_string(""));
	json_object_object_add(cs, "ready", json_object_new_boolean(!strcmp(state, "running")));
	json_object_object_add(cs, "started", json_object_new_boolean(!strcmp(state, "running")));
	json_object_object_add(cs, "restartCount", json_object_new_int(0));
	json_object_object_add(s, state, detail);
	json_object_object_add(cs, "state", s);
	return cs;
}

static void set_waiting(struct runner_ctx *c, json_object *containers, json_object *arr, const char *reason,
			const char *message)
{
	size_t n = containers ? json_object_array_length(containers) : 0;
	json_object_array_del_idx(arr, 0, json_object_array_length(arr));
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "reason", json_object_new_string(reason));
		if (message)
			json_object_object_add(d, "message", json_object_new_string(message));
		json_object_array_add(arr, cstatus(json_object_array_get_idx(containers, i), "waiting", d));
	}
	(void)c;
}

/* Resolve every volume to a host directory. 0 ready, 1 wait (msg set), -1 fatal. */
static int resolve_volumes(struct runner_ctx *c, json_object *pod, char **msg)
{
	struct behave *b = c->b;
	json_object *vols = behave__path(pod, "spec.volumes");
	size_t n = vols && json_object_is_type(vols, json_type_array) ? json_object_array_length(vols) : 0;
	const char *ns = c->r->ns;

	vols_free(c);
	c->vols = xcalloc(n ? n : 1, sizeof(*c->vols));
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(vols, i), *src;
		const char *vname = behave__str(v, "name");
		char *dir = NULL;
		if (!vname)
			continue;
		if ((src = behave__get(v, "persistentVolumeClaim"))) {
			json_object *pvc = NULL;
			const char *claim = behave__str(src, "claimName"), *phase, *hp;
			if (!claim || sim_get(b->s, "", "v1", "persistentvolumeclaims", ns, claim, &pvc, NULL) < 0) {
				*msg = xasprintf("persistentvolumeclaim \"%s\" not found", claim ? claim : "");
				return 1;
			}
			phase = behave__str(behave__get(pvc, "status"), "phase");
			hp = behave__str(behave__path(pvc, "metadata.annotations"), "kubesim.dev/host-path");
			if (!phase || strcmp(phase, "Bound") || !hp) {
				*msg = xasprintf("pod has unbound immediate PersistentVolumeClaims (\"%s\")", claim);
				json_object_put(pvc);
				return 1;
			}
			dir = xstrdup(hp);
			json_object_put(pvc);
		} else if (behave__get(v, "emptyDir")) {
			dir = xasprintf("%s/volumes/%s", c->poddir, vname);
			if (behave__mkdirs(dir, 0777) < 0) {
				*msg = xasprintf("cannot create emptyDir %s", vname);
				free(dir);
				return -1;
			}
			chmod(dir, 0777);
		} else if ((src = behave__get(v, "secret")) || (src = behave__get(v, "configMap"))) {
			bool secret = behave__get(v, "secret") != NULL;
			const char *oname = secret ? behave__str(src, "secretName") : behave__str(src, "name");
			json_object *obj = NULL, *data, *items = behave__get(src, "items"), *opt = behave__get(src, "optional");
			json_object *dm = behave__get(src, "defaultMode");
			mode_t mode = dm ? (mode_t)json_object_get_int(dm) : 0644;
			dir = xasprintf("%s/volumes/%s", c->poddir, vname);
			behave__rmtree(dir);
			if (behave__mkdirs(dir, 0755) < 0) {
				free(dir);
				return -1;
			}
			if (!oname || sim_get(b->s, "", "v1", secret ? "secrets" : "configmaps", ns, oname, &obj, NULL) < 0) {
				if (opt && json_object_get_boolean(opt))
					goto add;
				*msg = xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap", oname ? oname : "");
				free(dir);
				return 1;
			}
			data = behave__get(obj, "data");
			json_object *bdata = secret ? NULL : behave__get(obj, "binaryData");
			for (int pass = 0; pass < 2; pass++) {
				json_object *src_data = pass == 0 ? data : bdata;
				if (!src_data || !json_object_is_type(src_data, json_type_object))
					continue;
				json_object_object_foreach(src_data, key, val) {
					const char *rel = key;
					mode_t m = mode;
					size_t ni = items ? json_object_array_length(items) : 0;
					if (items) {
						rel = NULL;
						for (size_t k = 0; k < ni; k++) {
							json_object *it = json_object_array_get_idx(items, k);
							if (behave__str(it, "key") && !strcmp(behave__str(it, "key"), key)) {
								rel = behave__str(it, "path");
								if (behave__get(it, "mode"))
									m = (mode_t)json_object_get_int(behave__get(it, "mode"));
							}
						}
						if (!rel)
							continue;
					}
					if (strstr(rel, "..") || rel[0] == '/')
						continue;
					struct buf content;
					buf_init(&content, 16u << 20);
					const char *s = json_object_get_string(val);
					if (secret || pass == 1) {
						if (b64_decode(s ? s : "", &content) < 0) {
							buf_cleanup(&content);
							continue;
						}
					} else {
						buf_puts(&content, s ? s : "");
					}
					char *fp = xasprintf("%s/%s", dir, rel);
					char *slash = strrchr(fp, '/');
					*slash = 0;
					behave__mkdirs(fp, 0755);
					*slash = '/';
					write_file(fp, content.data ? content.data : "", content.len, m & 0777);
					free(fp);
					buf_cleanup(&content);
				}
			}
			json_object_put(obj);
		} else if ((src = behave__get(v, "hostPath"))) {
			dir = xstrdup(behave__str(src, "path") ? behave__str(src, "path") : "/nonexistent");
		} else {
			/* projected, downwardAPI, ...: an empty directory */
			dir = xasprintf("%s/volumes/%s", c->poddir, vname);
			behave__mkdirs(dir, 0755);
		}
	add:
		c->vols[c->nvols].name = xstrdup(vname);
		c->vols[c->nvols].host = behave__get(v, "hostPath") != NULL;
		c->vols[c->nvols].dir = dir;
		c->nvols++;
	}
	return 0;
}

static const char *vol_dir(struct runner_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nvols; i++)
		if (!strcmp(c->vols[i].name, name))
			return c->vols[i].dir;
	return NULL;
}

/* --- env ------------------------------------------------------------------ */

struct env {
	char **kv;
	size_t n, cap;
};

static const char *env_get(struct env *e, const char *k, size_t klen)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->kv[i], k, klen) && e->kv[i][klen] == '=')
			return e->kv[i] + klen + 1;
	return NULL;
}

static void env_set(struct env *e, const char *k, const char *v)
{
	size_t klen = strlen(k);
	char *kv = xasprintf("%s=%s", k, v);
	for (size_t i = 0; i < e->n; i++) {
		if (!strncmp(e->kv[i], k, klen) && e->kv[i][klen] == '=') {
			free(e->kv[i]);
			e->kv[i] = kv;
			return;
		}
	}
	if (e->n + 2 > e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->kv = xrealloc(e->kv, e->cap * sizeof(*e->kv));
	}
	e->kv[e->n++] = kv;
	e->kv[e->n] = NULL;
}

/* $(VAR) expansion as the kubelet does it: $$ escapes, unknown stays literal */
static char *expand(const char *s, struct env *e)
{
	struct buf b;
	buf_init(&b, 1u << 20);
	for (const char *p = s; *p; p++) {
		if (p[0] == '$' && p[1] == '$') {
			buf_putc(&b, '$');
			p++;
			continue;
		}
		if (p[0] == '$' && p[1] == '(') {
			const char *end = strchr(p + 2, ')');
			if (end) {
				const char *v = env_get(e, p + 2, (size_t)(end - p - 2));
				if (v) {
					buf_puts(&b, v);
					p = end;
					continue;
				}
			}
		}
		buf_putc(&b, *p);
	}
	return buf_take(&b, NULL);
}

/* value of key in a Secret (decoded) or ConfigMap; 0, 1 = wait (msg), 2 = optional and missing */
static int ref_value(struct behave *b, const char *ns, json_object *ref, bool secret, char **out, char **msg)
{
	const char *name = behave__str(ref, "name"), *key = behave__str(ref, "key");
	json_object *opt = behave__get(ref, "optional"), *obj = NULL, *v;
	bool optional = opt && json_object_get_boolean(opt);
	if (!name || sim_get(b->s, "", "v1", secret ? "secrets" : "configmaps", ns, name, &obj, NULL) < 0) {
		if (optional)
			return 2;
		*msg = xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap", name ? name : "");
		return 1;
	}
	v = key ? behave__get(behave__get(obj, "data"), key) : NULL;
	if (!v) {
		json_object_put(obj);
		if (optional)
			return 2;
		*msg = xasprintf("couldn't find key %s in %s %s/%s", key ? key : "", secret ? "Secret" : "ConfigMap", ns,
				 name);
		return 1;
	}
	if (secret) {
		struct buf d;
		buf_init(&d, 1u << 20);
		if (b64_decode(json_object_get_string(v), &d) < 0) {
			buf_cleanup(&d);
			json_object_put(obj);
			*msg = xasprintf("secret %s/%s key %s is not base64", ns, name, key);
			return 1;
		}
		*out = buf_take(&d, NULL);
	} else {
		*out = xstrdup(json_object_get_string(v));
	}
	json_object_put(obj);
	return 0;
}

static char *field_value(json_object *pod, const char *path)
{
	json_object *meta = behave__get(pod, "metadata");
	char key[256];
	if (!strcmp(path, "metadata.name")) return xstrdup(behave__str(meta, "name"));
	if (!strcmp(path, "metadata.namespace")) return xstrdup(behave__str(meta, "namespace"));
	if (!strcmp(path, "metadata.uid")) return xstrdup(behave__str(meta, "uid"));
	if (!strcmp(path, "spec.nodeName")) return xstrdup("kubesim");
	if (!strcmp(path, "spec.serviceAccountName"))
		return xstrdup(behave__str(behave__get(pod, "spec"), "serviceAccountName") ? behave__str(behave__get(pod, "spec"), "serviceAccountName") : "default");
	if (!strcmp(path, "status.podIP") || !strcmp(path, "status.hostIP") || !strcmp(path, "status.podIPs"))
		return xstrdup("127.0.0.1");
	if (sscanf(path, "metadata.labels['%255[^']']", key) == 1)
		return xstrdup(behave__str(behave__get(meta, "labels"), key) ? behave__str(behave__get(meta, "labels"), key) : "");
	if (sscanf(path, "metadata.annotations['%255[^']']", key) == 1)
		return xstrdup(behave__str(behave__get(meta, "annotations"), key) ? behave__str(behave__get(meta, "annotations"), key) : "");
	return xstrdup("");
}

/* 0 ok, 1 wait (msg) */
static int build_env(struct runner_ctx *c, json_object *pod, json_object *ctr, struct env *e, char **msg)
{
	struct behave *b = c->b;
	const char *ns = c->r->ns;
	json_object *ef = behave__get(ctr, "envFrom"), *env = behave__get(ctr, "env");
	char *path = xasprintf("%s%s/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", b->bin_dir,
			       *b->bin_dir ? ":" : "");
	env_set(e, "PATH", path);
	free(path);
	env_set(e, "HOSTNAME", c->r->name);
	env_set(e, "HOME", "/");
	env_set(e, "KUBESIM_POD_DIR", c->poddir);
	for (size_t i = 0; ef && i < json_object_array_length(ef); i++) {
		json_object *f = json_object_array_get_idx(ef, i), *ref, *obj = NULL;
		bool secret = (ref = behave__get(f, "secretRef")) != NULL;
		const char *prefix = behave__str(f, "prefix") ? behave__str(f, "prefix") : "";
		if (!ref && !(ref = behave__get(f, "configMapRef")))
			continue;
		const char *name = behave__str(ref, "name");
		if (!name || sim_get(b->s, "", "v1", secret ? "secrets" : "configmaps", ns, name, &obj, NULL) < 0) {
			if (behave__get(ref, "optional") && json_object_get_boolean(behave__get(ref, "optional")))
				continue;
			*msg = xasprintf("%s \"%s\" not found", secret ? "secret" : "configmap", name ? name : "");
			return 1;
		}
		json_object *data = behave__get(obj, "data");
		if (data && json_object_is_type(data, json_type_object)) {
			json_object_object_foreach(data, k, v) {
				char *key = xasprintf("%s%s", prefix, k);
				if (secret) {
					struct buf d;
					buf_init(&d, 1u << 20);
					if (b64_decode(json_object_get_string(v), &d) == 0)
						env_set(e, key, buf_str(&d));
					buf_cleanup(&d);
				} else {
					env_set(e, key, json_object_get_string(v));
				}
				free(key);
			}
		}
		json_object_put(obj);
	}
	for (size_t i = 0; env && i < json_object_array_length(env); i++) {
		json_object *ev = json_object_array_get_idx(env, i), *vf = behave__get(ev, "valueFrom");
		const char *name = behave__str(ev, "name");
		char *val = NULL;
		if (!name)
			continue;
		if (vf) {
			int rc = 0;
			if (behave__get(vf, "secretKeyRef"))
				rc = ref_value(b, ns, behave__get(vf, "secretKeyRef"), true, &val, msg);
			else if (behave__get(vf, "configMapKeyRef"))
				rc = ref_value(b, ns, behave__get(vf, "configMapKeyRef"), false, &val, msg);
			else if (behave__get(vf, "fieldRef"))
				val = field_value(pod, behave__str(behave__get(vf, "fieldRef"), "fieldPath") ? behave__str(behave__get(vf, "fieldRef"), "fieldPath") : "");
			else
				val = xstrdup("");
			if (rc == 1)
				return 1;
			if (rc == 2)
				continue;
		} else {
			val = expand(behave__str(ev, "value") ? behave__str(ev, "value") : "", e);
		}
		env_set(e, name, val ? val : "");
		free(val);
	}
	return 0;
}

static void sec_id(json_object *pod_sc, json_object *ctr_sc, const char *key, int *has, unsigned *out)
{
	json_object *v = behave__get(ctr_sc, key);
	if (!v)
		v = behave__get(pod_sc, key);
	if (v) {
		*has = 1;
		*out = (unsigned)json_object_get_int64(v);
	}
}

static int mnt_cmp(const void *a, const void *b)
{
	const struct mnt *x = a, *y = b;
	size_t lx = strlen(x->dst), ly = strlen(y->dst);
	return lx < ly ? -1 : lx > ly ? 1 : strcmp(x->dst, y->dst);
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && (path[n] == '/' || (n > 0 && dir[n - 1] == '/'));
}

/* Where the child must overlay so that dst can be created without touching the host. */
static int plan_overlay(struct cplan *p, const char *dst, char **err)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", dst);
	for (;;) {
		char *slash = strrchr(buf, '/');
		if (!slash)
			return 0;
		if (slash == buf) {
			/* the top-level component is missing: create it on the host (empty) */
			char top[PATH_MAX];
			const char *rest = dst + 1, *s2 = strchr(rest, '/');
			size_t len = s2 ? (size_t)(s2 - dst) : strlen(dst);
			memcpy(top, dst, len);
			top[len] = 0;
			if (!s2) {
				/* the mountPath itself is top-level (e.g. /data): a directory we must make */
				if (mkdir(top, 0755) < 0 && errno != EEXIST) {
					*err = xasprintf("cannot create mount point %s: %s", top, strerror(errno));
					return -1;
				}
				LOG_WARN("kubesim: created a top-level mount point on the host", "dir=%s", top);
				return 0;
			}
			if (mkdir(top, 0755) < 0 && errno != EEXIST) {
				*err = xasprintf("cannot create %s: %s", top, strerror(errno));
				return -1;
			}
			LOG_WARN("kubesim: created a top-level directory on the host", "dir=%s", top);
			snprintf(buf, sizeof(buf), "%s", top);
			break;
		}
		*slash = 0;
		struct stat st;
		if (stat(buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode)) {
				*err = xasprintf("cannot mount at %s: %s is not a directory", dst, buf);
				return -1;
			}
			break;
		}
	}
	for (int i = 0; i < p->no; i++)
		if (!strcmp(p->overlays[i], buf))
			return 0;
	if (p->no >= MAX_OVERLAYS) {
		*err = xasprintf("too many missing mount points");
		return -1;
	}
	p->overlays[p->no++] = xstrdup(buf);
	return 0;
}

static int ovl_cmp(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? -1 : la > lb;
}

/* Build a container's plan. 0 ok, 1 wait (msg), -1 start error (msg). */
static int plan_container(struct runner_ctx *c, json_object *pod, json_object *ctr, struct cplan *p, char **msg)
{
	struct env e = {0};
	json_object *cmd = behave__get(ctr, "command"), *args = behave__get(ctr, "args"), *mounts = behave__get(ctr, "volumeMounts");
	json_object *psc = behave__path(pod, "spec.securityContext"), *csc = behave__get(ctr, "securityContext");
	const char *cname = behave__str(ctr, "name") ? behave__str(ctr, "name") : "c";
	size_t ncmd = cmd ? json_object_array_length(cmd) : 0, nargs = args ? json_object_array_length(args) : 0;
	int rc;

	memset(p, 0, sizeof(*p));
	p->log_fd = -1;
	p->cname = xstrdup(cname);
	rc = build_env(c, pod, ctr, &e, msg);
	if (rc != 0)
		goto out;
	p->envp = e.kv;
	p->path = xstrdup(env_get(&e, "PATH", 4));
	e.kv = NULL;
	if (ncmd + nargs == 0) {
		*msg = xstrdup("kubesim runs no images: the container needs a command");
		rc = -1;
		goto out;
	}
	p->argv = xcalloc(ncmd + nargs + 1, sizeof(char *));
	{
		struct env view = {.kv = p->envp, .n = 0};
		while (p->envp[view.n])
			view.n++;
		for (size_t i = 0; i < ncmd; i++)
			p->argv[i] = expand(json_object_get_string(json_object_array_get_idx(cmd, i)), &view);
		for (size_t i = 0; i < nargs; i++)
			p->argv[ncmd + i] = expand(json_object_get_string(json_object_array_get_idx(args, i)), &view);
	}
	p->exe_host = resolve_on_host(p->argv[0], p->path);
	p->workdir = xstrdup(behave__str(ctr, "workingDir"));
	p->hostname = xstrdup(c->r->name);

	unsigned v = 0;
	sec_id(psc, csc, "runAsUser", &p->has_uid, &v);
	p->uid = (uid_t)v;
	sec_id(psc, csc, "runAsGroup", &p->has_gid, &v);
	p->gid = (gid_t)v;
	if (p->has_uid && !p->has_gid) {
		p->has_gid = 1; /* the image's user would decide; without one, the uid's own group */
		p->gid = (gid_t)p->uid;
	}
	json_object *fsg = behave__get(psc, "fsGroup"), *sup = behave__get(psc, "supplementalGroups");
	if (fsg)
		p->groups[p->ngroups++] = (gid_t)json_object_get_int64(fsg);
	for (size_t i = 0; sup && i < json_object_array_length(sup) && p->ngroups < 8; i++)
		p->groups[p->ngroups++] = (gid_t)json_object_get_int64(json_object_array_get_idx(sup, i));

	/* volume mounts */
	for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++) {
		json_object *m = json_object_array_get_idx(mounts, i);
		const char *vname = behave__str(m, "name"), *mp = behave__str(m, "mountPath"), *sub = behave__str(m, "subPath");
		const char *dir = vname ? vol_dir(c, vname) : NULL;
		if (!dir || !mp || mp[0] != '/') {
			*msg = xasprintf("volume mount %s: no volume \"%s\"", mp ? mp : "", vname ? vname : "");
			rc = -1;
			goto out;
		}
		if (p->nm >= MAX_MOUNTS - 1) {
			*msg = xstrdup("too many volume mounts");
			rc = -1;
			goto out;
		}
		if (sub && *sub) {
			if (strstr(sub, "..") || sub[0] == '/') {
				*msg = xasprintf("invalid subPath %s", sub);
				rc = -1;
				goto out;
			}
			p->m[p->nm].src = xasprintf("%s/%s", dir, sub);
			if (!path_exists(p->m[p->nm].src))
				behave__mkdirs(p->m[p->nm].src, 0777);
		} else {
			p->m[p->nm].src = xstrdup(dir);
		}
		p->m[p->nm].dst = xstrdup(mp);
		p->m[p->nm].ro = behave__get(m, "readOnly") && json_object_get_boolean(behave__get(m, "readOnly"));
		struct stat st;
		p->m[p->nm].file = stat(p->m[p->nm].src, &st) == 0 && !S_ISDIR(st.st_mode);
		p->nm++;
	}
	/* termination message file */
	const char *tmp = behave__str(ctr, "terminationMessagePath");
	p->term_file = xasprintf("%s/termination/%s", c->poddir, cname);
	write_file(p->term_file, "", 0, 0666);
	chmod(p->term_file, 0666);
	if (p->has_uid)
		if (chown(p->term_file, p->uid, p->has_gid ? p->gid : (gid_t)-1) < 0) {
			/* 0666 still lets the container write it */
		}
	p->m[p->nm].src = xstrdup(p->term_file);
	p->m[p->nm].dst = xstrdup(tmp && *tmp ? tmp : "/dev/termination-log");
	p->m[p->nm].file = 1;
	p->nm++;
	p->policy = behave__str(ctr, "terminationMessagePolicy");

	qsort(p->m, (size_t)p->nm, sizeof(p->m[0]), mnt_cmp);
	for (int i = 0; i < p->nm; i++) {
		bool inside = false;
		for (int j = 0; j < i && !inside; j++)
			inside = under(p->m[i].dst, p->m[j].dst);
		if (inside || path_exists(p->m[i].dst))
			continue;
		if (plan_overlay(p, p->m[i].dst, msg) < 0) {
			rc = -1;
			goto out;
		}
	}
	qsort(p->overlays, (size_t)p->no, sizeof(p->overlays[0]), ovl_cmp);

	p->log_path = xasprintf("%s/logs/%s.log", c->poddir, cname);
	p->log_fd = open(p->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (p->log_fd < 0) {
		*msg = xasprintf("cannot open log %s: %s", p->log_path, strerror(errno));
		rc = -1;
		goto out;
	}
	rc = 0;
out:
	for (size_t i = 0; e.kv && i < e.n; i++)
		free(e.kv[i]);
	free(e.kv);
	return rc;
}

/* fork the container; 0 with *pid and *errfd (read end) or -1 */
static int spawn(struct cplan *p, pid_t *pid, int *errfd)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid_t c = fork();
	if (c < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (c == 0) {
		close(fds[0]);
		child_run(p, fds[1]);
	}
	close(fds[1]);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	*pid = c;
	*errfd = fds[0];
	return 0;
}

static void track_pid(struct pod_runner *r, pid_t pid, int add)
{
	pthread_mutex_lock(&r->b->mu);
	if (add) {
		if (r->npids < (int)(sizeof(r->pids) / sizeof(r->pids[0])))
			r->pids[r->npids++] = pid;
		if (r->kill)
			kill(-pid, SIGTERM);
	} else {
		for (int i = 0; i < r->npids; i++)
			if (r->pids[i] == pid)
				r->pids[i] = r->pids[--r->npids];
	}
	pthread_mutex_unlock(&r->b->mu);
}

struct running {
	struct cplan plan;
	json_object *ctr;
	pid_t pid;
	int errfd;
	int status;
	int done;
	int pidfd;            /* wait_all only */
	char started[32], finished[32];
	char *start_error;
	int restarts;         /* restartPolicy OnFailure */
	json_object *last;    /* the previous run's terminated state (owned) */
};

/* restartCount and lastState of a main container's status */
static json_object *decorate(json_object *cs, struct running *x)
{
	json_object_object_add(cs, "restartCount", json_object_new_int(x->restarts));
	if (x->last) {
		json_object *ls = json_object_new_object();
		json_object_object_add(ls, "terminated", json_object_get(x->last));
		json_object_object_add(cs, "lastState", ls);
	}
	return cs;
}

/* wait for all; SIGTERM then SIGKILL on deletion, SIGKILL at shutdown */
static void wait_all(struct runner_ctx *c, struct running *rs, size_t n, void (*on_exit)(struct runner_ctx *, struct running *))
{
	struct pod_runner *r = c->r;
	bool termed = false;
	uint64_t term_at = 0;
	for (size_t i = 0; i < n; i++)
		rs[i].pidfd = rs[i].done ? -1 : (int)syscall(SYS_pidfd_open, rs[i].pid, 0);
	for (;;) {
		size_t left = 0;
		for (size_t i = 0; i < n; i++) {
			if (rs[i].done)
				continue;
			int st;
			pid_t w = waitpid(rs[i].pid, &st, WNOHANG);
			if (w == rs[i].pid) {
				/* anything still in the container's group goes too */
				kill(-rs[i].pid, SIGKILL);
				rs[i].status = st;
				rs[i].done = 1;
				if (rs[i].pidfd >= 0)
					close(rs[i].pidfd);
				rs[i].pidfd = -1;
				track_pid(r, rs[i].pid, 0);
				behave__now(c->b, rs[i].finished);
				char msg[600];
				ssize_t m = read(rs[i].errfd, msg, sizeof(msg) - 1);
				if (m > 0) {
					msg[m] = 0;
					rs[i].start_error = xstrdup(msg);
				}
				close(rs[i].errfd);
				rs[i].errfd = -1;
				on_exit(c, &rs[i]);
				continue;
			}
			left++;
		}
		if (!left)
			return;
		int stop, k;
		pthread_mutex_lock(&c->b->mu);
		stop = c->b->stop;
		k = r->kill;
		pthread_mutex_unlock(&c->b->mu);
		if ((stop || k) && !termed) {
			termed = true;
			term_at = mono_ms();
			for (size_t i = 0; i < n; i++)
				if (!rs[i].done)
					kill(-rs[i].pid, stop ? SIGKILL : SIGTERM);
		} else if (termed && mono_ms() - term_at > KILL_GRACE_MS) {
			for (size_t i = 0; i < n; i++)
				if (!rs[i].done)
					kill(-rs[i].pid, SIGKILL);
		}
		/* sleep until a child exits (pidfds) or 100 ms pass (kill flags) */
		struct pollfd pfd[16];
		nfds_t np = 0;
		for (size_t i = 0; i < n && np < 16; i++) {
			if (rs[i].done)
				continue;
			if (rs[i].pidfd < 0) {
				np = 0;
				break; /* no pidfd (old kernel): short sleeps instead */
			}
			pfd[np].fd = rs[i].pidfd;
			pfd[np].events = POLLIN;
			np++;
		}
		if (np > 0) {
			poll(pfd, np, 100);
		} else {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
}

static json_object *terminated_status(struct runner_ctx *c, struct running *x)
{
	json_object *d = json_object_new_object();
	int code;
	const char *reason;
	char *msg = NULL, cid[64];
	if (x->start_error) {
		code = 128;
		reason = "StartError";
		msg = xstrdup(x->start_error);
	} else {
		if (WIFEXITED(x->status))
			code = WEXITSTATUS(x->status);
		else
			code = 128 + (WIFSIGNALED(x->status) ? WTERMSIG(x->status) : 0);
		reason = code == 0 ? "Completed" : "Error";
		msg = read_capped(x->plan.term_file, TERM_MSG_MAX, 0);
		if (!*msg && code != 0 && x->plan.policy && !strcmp(x->plan.policy, "FallbackToLogsOnError")) {
			free(msg);
			msg = log_tail(x->plan.log_path);
		}
	}
	snprintf(cid, sizeof(cid), "kubesim://%d", (int)x->pid);
	json_object_object_add(d, "exitCode", json_object_new_int(code));
	json_object_object_add(d, "reason", json_object_new_string(reason));
	if (msg && *msg)
		json_object_object_add(d, "message", json_object_new_string(msg));
	json_object_object_add(d, "startedAt", json_object_new_string(x->started));
	json_object_object_add(d, "finishedAt", json_object_new_string(x->finished));
	json_object_object_add(d, "containerID", json_object_new_string(cid));
	free(msg);
	(void)c;
	return cstatus(x->ctr, "terminated", d);
}

static int exit_ok(struct running *x)
{
	return !x->start_error && WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0;
}

static void init_exited(struct runner_ctx *c, struct running *x)
{
	json_object_array_put_idx(c->init_statuses, json_object_array_length(c->init_statuses) - 1,
				  terminated_status(c, x));
}

static size_t main_index(struct runner_ctx *c, struct running *x)
{
	size_t n = json_object_array_length(c->statuses);
	for (size_t i = 0; i < n; i++) {
		const char *nm = behave__str(json_object_array_get_idx(c->statuses, i), "name");
		if (nm && !strcmp(nm, x->plan.cname))
			return i;
	}
	return 0;
}

static void main_exited(struct runner_ctx *c, struct running *x)
{
	json_object_array_put_idx(c->statuses, main_index(c, x), decorate(terminated_status(c, x), x));
	report(c, "Running", 1, 0);
}

/* chgrp -R fsGroup + g+rw(x) so that the container's user can write its volumes */
static gid_t fs_gid;
static int chgrp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (lchown(path, (uid_t)-1, fs_gid) < 0)
		return 0;
	if (!S_ISLNK(st->st_mode))
		chmod(path, (st->st_mode & 07777) | S_IRGRP | S_IWGRP | (S_ISDIR(st->st_mode) ? (S_IXGRP | S_ISGID) : 0));
	return 0;
}

static pthread_mutex_t fs_mu = PTHREAD_MUTEX_INITIALIZER;

static void apply_fs_group(struct runner_ctx *c, json_object *pod)
{
	json_object *fsg = behave__path(pod, "spec.securityContext.fsGroup");
	if (!fsg)
		return;
	pthread_mutex_lock(&fs_mu);
	fs_gid = (gid_t)json_object_get_int64(fsg);
	for (size_t i = 0; i < c->nvols; i++) {
		if (c->vols[i].host)
			continue; /* never chgrp the host's own directories */
		nftw(c->vols[i].dir, chgrp_one, 16, FTW_PHYS);
	}
	pthread_mutex_unlock(&fs_mu);
}

/* Plan a main container, waiting (like a kubelet) for missing config.
 * 0 planned (x->start_error set when it cannot start), -2 pod killed. */
static int plan_main(struct runner_ctx *c, json_object *pod, struct running *x, size_t i, char **msg)
{
	for (;;) {
		int rc;
		free(*msg);
		*msg = NULL;
		rc = plan_container(c, pod, x->ctr, &x->plan, msg);
		if (rc < 0) {
			x->start_error = *msg;
			*msg = NULL;
			return 0;
		}
		if (rc == 0)
			return 0;
		plan_free(&x->plan);
		json_object *d = json_object_new_object();
		json_object_object_add(d, "reason", json_object_new_string("CreateContainerConfigError"));
		json_object_object_add(d, "message", json_object_new_string(*msg));
		json_object_array_put_idx(c->statuses, i, decorate(cstatus(x->ctr, "waiting", d), x));
		report(c, "Pending", 0, 0);
		if (behave__sleep(c->b, 250, &c->r->kill))
			return -2;
	}
}

static void *runner_main(void *arg)
{
	struct pod_runner *r = arg;
	struct behave *b = r->b;
	struct runner_ctx c = {.r = r, .b = b};
	json_object *pod = r->pod, *inits = behave__path(pod, "spec.initContainers"), *mains = behave__path(pod, "spec.containers");
	size_t ninit = inits ? json_object_array_length(inits) : 0, nmain = mains ? json_object_array_length(mains) : 0;
	char *msg = NULL, *last_wait = NULL;
	struct running *rs = NULL;
	int failed = 0, rc;

	c.poddir = xasprintf("%s/pods/%s_%s_%s", b->data_dir, r->ns, r->name, r->uid);
	c.init_statuses = json_object_new_array();
	c.statuses = json_object_new_array();
	behave__now(b, c.started);
	for (const char *sub = "logs"; sub; sub = !strcmp(sub, "logs") ? "termination" : !strcmp(sub, "termination") ? "volumes" : NULL) {
		char *d = xasprintf("%s/%s", c.poddir, sub);
		behave__mkdirs(d, 0755);
		free(d);
	}
	{
		json_object *patch = json_object_new_object(), *meta = json_object_new_object(), *ann = json_object_new_object();
		json_object_object_add(ann, "kubesim.dev/pod-dir", json_object_new_string(c.poddir));
		json_object_object_add(meta, "annotations", ann);
		json_object_object_add(patch, "metadata", meta);
		behave__patch(b, "", "v1", "pods", r->ns, r->name, NULL, patch, MANAGER);
		json_object_put(patch);
	}

	/* volumes, waiting like a kubelet for what is not there yet */
	for (;;) {
		if (killed(r))
			goto done;
		free(msg);
		msg = NULL;
		rc = resolve_volumes(&c, pod, &msg);
		if (rc == 0)
			break;
		if (rc < 0) {
			failed = 1;
			break;
		}
		if (!last_wait || strcmp(last_wait, msg)) {
			set_waiting(&c, mains, c.statuses, "ContainerCreating", NULL);
			report(&c, "Pending", 0, 0);
			free(last_wait);
			last_wait = xstrdup(msg);
		}
		if (behave__sleep(b, 250, &r->kill))
			goto done;
	}
	if (failed) {
		set_waiting(&c, mains, c.statuses, "CreateContainerError", msg);
		report(&c, "Failed", 0, 1);
		goto done;
	}
	apply_fs_group(&c, pod);

	/* init containers, one after the other */
	for (size_t i = 0; i < ninit && !failed; i++) {
		json_object *ctr = json_object_array_get_idx(inits, i);
		struct running x = {.ctr = ctr, .errfd = -1};
		for (;;) {
			free(msg);
			msg = NULL;
			rc = plan_container(&c, pod, ctr, &x.plan, &msg);
			if (rc != 1)
				break;
			plan_free(&x.plan);
			json_object *d = json_object_new_object();
			json_object_object_add(d, "reason", json_object_new_string("CreateContainerConfigError"));
			json_object_object_add(d, "message", json_object_new_string(msg));
			json_object_array_put_idx(c.init_statuses, i, cstatus(ctr, "waiting", d));
			report(&c, "Pending", 0, 0);
			if (behave__sleep(b, 250, &r->kill))
				goto done;
		}
		behave__now(b, x.started);
		json_object *d = json_object_new_object();
		json_object_object_add(d, "startedAt", json_object_new_string(x.started));
		json_object_array_put_idx(c.init_statuses, i, cstatus(ctr, "running", d));
		if (rc < 0) {
			x.start_error = msg;
			msg = NULL;
			strcpy(x.finished, x.started);
			init_exited(&c, &x);
		} else {
			report(&c, "Pending", 0, 0);
			if (spawn(&x.plan, &x.pid, &x.errfd) < 0) {
				x.start_error = xasprintf("fork: %s", strerror(errno));
				strcpy(x.finished, x.started);
				init_exited(&c, &x);
			} else {
				track_pid(r, x.pid, 1);
				wait_all(&c, &x, 1, init_exited);
			}
		}
		failed = !exit_ok(&x);
		free(x.start_error);
		plan_free(&x.plan);
		if (killed(r))
			goto done;
	}
	if (failed) {
		set_waiting(&c, mains, c.statuses, "PodInitializing", NULL);
		report(&c, "Failed", 0, 1);
		goto done;
	}

	/* main containers, together; with restartPolicy OnFailure the failed
	 * ones run again (restartCount, lastState, CrashLoopBackOff in between) */
	const char *policy = behave__str(behave__get(pod, "spec"), "restartPolicy");
	bool on_failure = policy && !strcmp(policy, "OnFailure");
	rs = xcalloc(nmain ? nmain : 1, sizeof(*rs));
	set_waiting(&c, mains, c.statuses, "ContainerCreating", NULL);
	for (size_t i = 0; i < nmain; i++) {
		rs[i].ctr = json_object_array_get_idx(mains, i);
		rs[i].errfd = -1;
	}
	for (;;) {
		for (size_t i = 0; i < nmain; i++) {
			if (rs[i].done)
				continue;
			rc = plan_main(&c, pod, &rs[i], i, &msg);
			if (rc == -2)
				goto main_out;
		}
		for (size_t i = 0; i < nmain; i++) {
			if (rs[i].done)
				continue;
			behave__now(b, rs[i].started);
			if (!rs[i].start_error && spawn(&rs[i].plan, &rs[i].pid, &rs[i].errfd) < 0)
				rs[i].start_error = xasprintf("fork: %s", strerror(errno));
			if (rs[i].start_error) {
				strcpy(rs[i].finished, rs[i].started);
				rs[i].done = 1;
				json_object_array_put_idx(c.statuses, i, decorate(terminated_status(&c, &rs[i]), &rs[i]));
				continue;
			}
			track_pid(r, rs[i].pid, 1);
			json_object *d = json_object_new_object();
			json_object_object_add(d, "startedAt", json_object_new_string(rs[i].started));
			json_object_array_put_idx(c.statuses, i, decorate(cstatus(rs[i].ctr, "running", d), &rs[i]));
		}
		report(&c, "Running", 1, 0);
		wait_all(&c, rs, nmain, main_exited);
		if (killed(r) || !on_failure)
			break;
		int again = 0, most = 0;
		for (size_t i = 0; i < nmain; i++) {
			if (exit_ok(&rs[i]))
				continue;
			/* run it again: keep what this run ended with as lastState */
			json_object *term = behave__path(json_object_array_get_idx(c.statuses, i), "state.terminated");
			json_object_put(rs[i].last);
			rs[i].last = term ? json_object_get(term) : NULL;
			rs[i].restarts++;
			if (rs[i].restarts > most)
				most = rs[i].restarts;
			rs[i].done = 0;
			free(rs[i].start_error);
			rs[i].start_error = NULL;
			if (rs[i].errfd >= 0)
				close(rs[i].errfd);
			rs[i].errfd = -1;
			plan_free(&rs[i].plan);
			json_object *d = json_object_new_object();
			json_object_object_add(d, "reason", json_object_new_string("CrashLoopBackOff"));
			json_object_object_add(d, "message", json_object_new_string("back-off restarting failed container"));
			json_object_array_put_idx(c.statuses, i, decorate(cstatus(rs[i].ctr, "waiting", d), &rs[i]));
			again = 1;
		}
		if (!again)
			break;
		report(&c, "Running", 1, 0);
		uint64_t delay = RESTART_BASE_MS;
		for (int k = 1; k < most && delay < RESTART_MAX_MS; k++)
			delay *= 2;
		if (behave__sleep(b, delay < RESTART_MAX_MS ? delay : RESTART_MAX_MS, &r->kill))
			break;
	}
	if (!killed(r)) {
		int ok = 1;
		for (size_t i = 0; i < nmain; i++)
			ok = ok && exit_ok(&rs[i]);
		report(&c, ok ? "Succeeded" : "Failed", 1, 1);
		LOG_INFO("kubesim: pod finished", "key=%s/%s phase=%s", r->ns, r->name, ok ? "Succeeded" : "Failed");
	}
main_out:
	for (size_t i = 0; i < nmain; i++) {
		free(rs[i].start_error);
		if (rs[i].errfd >= 0)
			close(rs[i].errfd);
		plan_free(&rs[i].plan);
		json_object_put(rs[i].last);
	}
done:
	free(rs);
	/* scratch volumes go with the pod; logs and termination files stay */
	{
		char *v = xasprintf("%s/volumes", c.poddir);
		behave__rmtree(v);
		free(v);
	}
	vols_free(&c);
	free(msg);
	free(last_wait);
	free(c.poddir);
	json_object_put(c.init_statuses);
	json_object_put(c.statuses);
	pthread_mutex_lock(&b->mu);
	r->done = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int behave__pod_start(struct behave *b, json_object *pod, const char *job_uid)
{
	struct pod_runner *r;
	json_object *meta = behave__get(pod, "metadata");
	if (!behave__str(meta, "name") || !behave__str(meta, "uid"))
		return -EINVAL;
	r = xcalloc(1, sizeof(*r));
	r->b = b;
	r->ns = xstrdup(behave__str(meta, "namespace") ? behave__str(meta, "namespace") : "default");
	r->name = xstrdup(behave__str(meta, "name"));
	r->uid = xstrdup(behave__str(meta, "uid"));
	r->job_uid = xstrdup(job_uid);
	json_object_deep_copy(pod, &r->pod, NULL);
	pthread_mutex_lock(&b->mu);
	if (b->stop) {
		pthread_mutex_unlock(&b->mu);
		goto fail;
	}
	if (pthread_create(&r->th, NULL, runner_main, r) != 0) {
		pthread_mutex_unlock(&b->mu);
		goto fail;
	}
	r->next = b->runners;
	b->runners = r;
	pthread_mutex_unlock(&b->mu);
	return 0;
fail:
	json_object_put(r->pod);
	free(r->ns);
	free(r->name);
	free(r->uid);
	free(r->job_uid);
	free(r);
	return -EAGAIN;
}

void behave__pod_kill(struct behave *b, const char *pod_uid, const char *job_uid)
{
	pthread_mutex_lock(&b->mu);
	for (struct pod_runner *r = b->runners; r; r = r->next) {
		if ((pod_uid && !strcmp(r->uid, pod_uid)) || (job_uid && r->job_uid && !strcmp(r->job_uid, job_uid))) {
			if (!r->kill) {
				r->kill = 1;
				r->kill_at_ms = mono_ms();
				for (int i = 0; i < r->npids; i++)
					kill(-r->pids[i], SIGTERM);
			}
		}
	}
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

void behave__pods_reap(struct behave *b, int all)
{
	for (;;) {
		struct pod_runner *found = NULL;
		pthread_mutex_lock(&b->mu);
		for (struct pod_runner **pp = &b->runners; *pp; pp = &(*pp)->next) {
			if ((*pp)->done || all) {
				found = *pp;
				*pp = found->next;
				break;
			}
		}
		if (found && all && !found->done) {
			found->kill = 1;
			for (int i = 0; i < found->npids; i++)
				kill(-found->pids[i], SIGKILL);
		}
		pthread_mutex_unlock(&b->mu);
		if (!found)
			return;
		pthread_join(found->th, NULL);
		json_object_put(found->pod);
		free(found->ns);
		free(found->name);
		free(found->uid);
		free(found->job_uid);
		free(found);
	}
}
