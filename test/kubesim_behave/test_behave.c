/* kubesim cluster behaviours against the in-process store (no HTTP):
 * PVC binding (own class, default class, a class that appears later,
 * deletion), Deployment readiness, and a failing Job whose container runs as
 * a host process and reports its termination message. Waits are bounded polls
 * on the store, never timing assertions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "behave.h"
#include "sim.h"

struct fx {
	struct sim *s;
	struct behave *b;
	char dir[64];
};

static void rm_rf(const char *dir)
{
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct behave_opts o = {.bind_pvcs = 1, .run_jobs = 1, .ready_deployments = 1, .bin_dir = "/nonexistent"};
	strcpy(f->dir, "/tmp/kubesim-behave-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	o.data_dir = f->dir;
	assert_int_equal(sim_new(NULL, &f->s), 0);
	assert_int_equal(behave_start(f->s, &o, &f->b), 0);
	json_object *ns = json_tokener_parse("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"ns\"}}");
	assert_int_equal(sim_create(f->s, "", "v1", "namespaces", NULL, ns, NULL, NULL), 0);
	json_object_put(ns);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	behave_stop(f->b);
	sim_free(f->s);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	return o;
}

static void create(struct sim *s, const char *group, const char *res, const char *ns, const char *json)
{
	json_object *o = parse(json);
	struct sim_err err = {0};
	if (sim_create(s, group, "v1", res, ns, o, NULL, &err) != 0)
		fail_msg("create %s: %s", res, err.message);
	sim_err_cleanup(&err);
	json_object_put(o);
}

static json_object *at(json_object *o, const char *path)
{
	char buf[256], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) {
		json_object *n = NULL;
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(t));
		else
			o = json_object_object_get_ex(o, t, &n) ? n : NULL;
	}
	return o;
}

/* Poll until the object's field equals want (bounded: 15 s). Returns the object. */
static json_object *wait_field(struct sim *s, const char *group, const char *res, const char *ns, const char *name,
			       const char *path, const char *want)
{
	for (int i = 0; i < 300; i++) {
		json_object *o = NULL;
		if (sim_get(s, group, "v1", res, ns, name, &o, NULL) == 0) {
			json_object *v = at(o, path);
			if (v && !strcmp(json_object_get_string(v), want))
				return o;
			json_object_put(o);
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	fail_msg("%s %s/%s: %s never became %s", res, ns ? ns : "", name, path, want);
	return NULL;
}

#define PVC_FMT \
	"{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\"}," \
	"\"spec\":{%s\"accessModes\":[\"ReadWriteMany\"],\"resources\":{\"requests\":{\"storage\":\"3Gi\"}}}}"

static void create_pvc(struct sim *s, const char *name, const char *cls)
{
	char spec[128] = "", buf[512];
	if (cls)
		snprintf(spec, sizeof(spec), "\"storageClassName\":\"%s\",", cls);
	snprintf(buf, sizeof(buf), PVC_FMT, name, spec);
	create(s, "", "persistentvolumeclaims", "ns", buf);
}

static void test_pvc_binding(void **state)
{
	struct fx *f = *state;
	char want[256];
	create(f->s, "storage.k8s.io", "storageclasses", NULL,
	       "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"rwx\"},"
	       "\"provisioner\":\"x\"}");
	create_pvc(f->s, "a", "rwx");
	create_pvc(f->s, "later", "late-class");
	create_pvc(f->s, "nocls", NULL);

	json_object *pvc = wait_field(f->s, "", "persistentvolumeclaims", "ns", "a", "status.phase", "Bound");
	const char *uid = json_object_get_string(at(pvc, "metadata.uid"));
	snprintf(want, sizeof(want), "pvc-%s", uid);
	assert_string_equal(json_object_get_string(at(pvc, "spec.volumeName")), want);
	assert_string_equal(json_object_get_string(at(pvc, "status.capacity.storage")), "3Gi");
	assert_string_equal(json_object_get_string(at(pvc, "status.accessModes.0")), "ReadWriteMany");
	snprintf(want, sizeof(want), "%s/pvs/ns/a-%s", f->dir, uid);
	json_object *ann = at(pvc, "metadata.annotations");
	json_object *hp = NULL;
	assert_true(json_object_object_get_ex(ann, "kubesim.dev/host-path", &hp));
	assert_string_equal(json_object_get_string(hp), want);
	struct stat st;
	assert_int_equal(stat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	char pvname[128];
	snprintf(pvname, sizeof(pvname), "pvc-%s", uid);
	json_object *pv = wait_field(f->s, "", "persistentvolumes", NULL, pvname, "spec.claimRef.name", "a");
	json_object_put(pv);
	json_object_put(pvc);

	/* the class appears later: the waiting PVC binds then */
	json_object_put(wait_field(f->s, "", "persistentvolumeclaims", "ns", "later", "status.phase", "Pending"));
	create(f->s, "storage.k8s.io", "storageclasses", NULL,
	       "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"late-class\"},"
	       "\"provisioner\":\"x\"}");
	json_object_put(wait_field(f->s, "", "persistentvolumeclaims", "ns", "later", "status.phase", "Bound"));

	/* no class: waits for a default class, then gets it written into its spec */
	create(f->s, "storage.k8s.io", "storageclasses", NULL,
	       "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"dflt\","
	       "\"annotations\":{\"storageclass.kubernetes.io/is-default-class\":\"true\"}},\"provisioner\":\"x\"}");
	pvc = wait_field(f->s, "", "persistentvolumeclaims", "ns", "nocls", "status.phase", "Bound");
	assert_string_equal(json_object_get_string(at(pvc, "spec.storageClassName")), "dflt");
	json_object_put(pvc);

	/* expansion: growing the request grows the capacity */
	json_object *grow = parse("{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"5Gi\"}}}}");
	assert_int_equal(sim_patch(f->s, "", "v1", "persistentvolumeclaims", "ns", "a", NULL, SIM_PATCH_MERGE, grow,
				   "test", 0, NULL, NULL), 0);
	json_object_put(grow);
	json_object_put(wait_field(f->s, "", "persistentvolumeclaims", "ns", "a", "status.capacity.storage", "5Gi"));

	/* deleting the PVC removes its directory */
	assert_int_equal(sim_delete(f->s, "", "v1", "persistentvolumeclaims", "ns", "a", NULL, NULL, NULL), 0);
	int gone = 0;
	for (int i = 0; i < 300 && !gone; i++) {
		gone = stat(want, &st) != 0;
		if (!gone)
			usleep(50000);
	}
	assert_true(gone);
}

static void test_deployment_available(void **state)
{
	struct fx *f = *state;
	create(f->s, "apps", "deployments", "ns",
	       "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
	       "\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
	json_object *d = wait_field(f->s, "apps", "deployments", "ns", "web", "status.readyReplicas", "3");
	assert_int_equal(json_object_get_int(at(d, "status.availableReplicas")), 3);
	assert_int_equal(json_object_get_int(at(d, "status.updatedReplicas")), 3);
	assert_int_equal(json_object_get_int64(at(d, "status.observedGeneration")),
			 json_object_get_int64(at(d, "metadata.generation")));
	assert_string_equal(json_object_get_string(at(d, "status.conditions.0.type")), "Available");
	assert_string_equal(json_object_get_string(at(d, "status.conditions.0.status")), "True");
	assert_string_equal(json_object_get_string(at(d, "status.conditions.1.type")), "Progressing");
	json_object_put(d);
}

static void test_failing_job(void **state)
{
	struct fx *f = *state;
	create(f->s, "", "secrets", "ns",
	       "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s\",\"namespace\":\"ns\"},"
	       "\"data\":{\"why\":\"b3V0IG9mIHNwYWNl\"}}"); /* "out of space" */
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"backoffLimit\":0,\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{"
	       "\"name\":\"main\",\"image\":\"x\",\"command\":[\"/bin/sh\",\"-c\",\"printf %s \\\"$WHY\\\" > /dev/termination-log; exit 4\"],"
	       "\"env\":[{\"name\":\"WHY\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\",\"key\":\"why\"}}}]}]}}}}");
	json_object *job = wait_field(f->s, "batch", "jobs", "ns", "j", "status.failed", "1");
	json_object *conds = at(job, "status.conditions");
	int failed = 0;
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (!strcmp(json_object_get_string(at(c, "type")), "Failed")) {
			failed = 1;
			assert_string_equal(json_object_get_string(at(c, "status")), "True");
			assert_string_equal(json_object_get_string(at(c, "reason")), "BackoffLimitExceeded");
		}
	}
	assert_true(failed);
	json_object_put(job);

	json_object *pods = NULL;
	assert_int_equal(sim_list(f->s, "", "v1", "pods", "ns", "job-name=j", NULL, &pods, NULL), 0);
	assert_int_equal(json_object_array_length(at(pods, "items")), 1);
	json_object *term = at(pods, "items.0.status.containerStatuses.0.state.terminated");
	assert_non_null(term);
	assert_int_equal(json_object_get_int(at(term, "exitCode")), 4);
	assert_string_equal(json_object_get_string(at(term, "reason")), "Error");
	assert_string_equal(json_object_get_string(at(term, "message")), "out of space");
	assert_string_equal(json_object_get_string(at(pods, "items.0.status.phase")), "Failed");
	json_object_put(pods);
}

static int has_condition(json_object *obj, const char *type, const char *reason)
{
	json_object *conds = at(obj, "status.conditions");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (!strcmp(json_object_get_string(at(c, "type")), type) &&
		    !strcmp(json_object_get_string(at(c, "status")), "True") &&
		    (!reason || !strcmp(json_object_get_string(at(c, "reason")), reason)))
			return 1;
	}
	return 0;
}

static void test_job_init_containers_and_completions(void **state)
{
	struct fx *f = *state;
	/* the init container leaves a file in an emptyDir that the main container
	 * needs; two completions run one after the other (parallelism 1) */
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"two\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"completions\":2,\"backoffLimit\":0,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
	       "\"volumes\":[{\"name\":\"work\",\"emptyDir\":{}}],"
	       "\"initContainers\":[{\"name\":\"prep\",\"image\":\"x\",\"command\":[\"/bin/sh\",\"-c\",\"echo ready > /work/flag\"],"
	       "  \"volumeMounts\":[{\"name\":\"work\",\"mountPath\":\"/work\"}]}],"
	       "\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"workingDir\":\"/work\","
	       "  \"command\":[\"/bin/sh\",\"-c\",\"test \\\"$(cat flag)\\\" = ready && test \\\"$(pwd)\\\" = /work\"],"
	       "  \"volumeMounts\":[{\"name\":\"work\",\"mountPath\":\"/work\"}]}]}}}}");
	json_object *job = wait_field(f->s, "batch", "jobs", "ns", "two", "status.succeeded", "2");
	assert_true(has_condition(job, "Complete", "CompletionsReached"));
	assert_true(has_condition(job, "SuccessCriteriaMet", NULL));
	assert_non_null(at(job, "status.completionTime"));
	assert_null(at(job, "status.failed"));
	json_object_put(job);
	json_object *pods = NULL;
	assert_int_equal(sim_list(f->s, "", "v1", "pods", "ns", "job-name=two", NULL, &pods, NULL), 0);
	assert_int_equal(json_object_array_length(at(pods, "items")), 2);
	json_object *init = at(pods, "items.0.status.initContainerStatuses.0.state.terminated");
	assert_non_null(init);
	assert_string_equal(json_object_get_string(at(init, "reason")), "Completed");
	json_object_put(pods);
}

static void test_job_volumes(void **state)
{
	struct fx *f = *state;
	char path[512];
	/* configMap items into a read-only mount, a PVC subPath, hostPath */
	create(f->s, "storage.k8s.io", "storageclasses", NULL,
	       "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"rwx\"},"
	       "\"provisioner\":\"x\"}");
	create_pvc(f->s, "data", "rwx");
	create(f->s, "", "configmaps", "ns",
	       "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm\",\"namespace\":\"ns\"},"
	       "\"data\":{\"app\":\"k: v\",\"other\":\"ignored\"}}");
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"vols\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"backoffLimit\":0,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
	       "\"volumes\":[{\"name\":\"cfg\",\"configMap\":{\"name\":\"cm\",\"items\":[{\"key\":\"app\",\"path\":\"conf/app.yaml\"}]}},"
	       "  {\"name\":\"d\",\"persistentVolumeClaim\":{\"claimName\":\"data\"}}],"
	       "\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"/bin/sh\",\"-c\","
	       "  \"test \\\"$(cat /etc/kubesim-app/conf/app.yaml)\\\" = 'k: v' && test ! -e /etc/kubesim-app/other && "
	       "   ! touch /etc/kubesim-app/new 2>/dev/null && echo sub > /mnt/kubesim-sub/f && test \\\"$$PPID\\\" = 0\"],"
	       "  \"volumeMounts\":[{\"name\":\"cfg\",\"mountPath\":\"/etc/kubesim-app\",\"readOnly\":true},"
	       "                    {\"name\":\"d\",\"mountPath\":\"/mnt/kubesim-sub\",\"subPath\":\"part/one\"}]}]}}}}");
	json_object *job = wait_field(f->s, "batch", "jobs", "ns", "vols", "status.conditions.0.status", "True");
	if (!has_condition(job, "Complete", NULL)) {
		json_object *pods = NULL;
		sim_list(f->s, "", "v1", "pods", "ns", "job-name=vols", NULL, &pods, NULL);
		fail_msg("job vols did not complete: %s", json_object_to_json_string(at(pods, "items.0.status")));
	}
	json_object_put(job);
	json_object *pvc = wait_field(f->s, "", "persistentvolumeclaims", "ns", "data", "status.phase", "Bound");
	json_object *hp = NULL;
	assert_true(json_object_object_get_ex(at(pvc, "metadata.annotations"), "kubesim.dev/host-path", &hp));
	snprintf(path, sizeof(path), "%s/part/one/f", json_object_get_string(hp));
	json_object_put(pvc);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char line[16] = "";
	assert_non_null(fgets(line, sizeof(line), fp));
	fclose(fp);
	assert_string_equal(line, "sub\n");
	/* nothing was created on the host for the missing mount points */
	struct stat st;
	assert_int_not_equal(stat("/etc/kubesim-app", &st), 0);
	assert_int_not_equal(stat("/mnt/kubesim-sub", &st), 0);
}

static void test_job_on_failure_restarts(void **state)
{
	struct fx *f = *state;
	/* fails once, then succeeds in the same pod (the emptyDir survives restarts) */
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"flaky\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"backoffLimit\":3,\"template\":{\"spec\":{\"restartPolicy\":\"OnFailure\","
	       "\"volumes\":[{\"name\":\"w\",\"emptyDir\":{}}],"
	       "\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"/bin/sh\",\"-c\","
	       "  \"if [ -e /mnt/kubesim-w/once ]; then exit 0; fi; touch /mnt/kubesim-w/once; exit 5\"],"
	       "  \"volumeMounts\":[{\"name\":\"w\",\"mountPath\":\"/mnt/kubesim-w\"}]}]}}}}");
	json_object *job = wait_field(f->s, "batch", "jobs", "ns", "flaky", "status.succeeded", "1");
	assert_true(has_condition(job, "Complete", NULL));
	json_object_put(job);
	json_object *pods = NULL;
	assert_int_equal(sim_list(f->s, "", "v1", "pods", "ns", "job-name=flaky", NULL, &pods, NULL), 0);
	assert_int_equal(json_object_array_length(at(pods, "items")), 1);
	json_object *cs = at(pods, "items.0.status.containerStatuses.0");
	assert_int_equal(json_object_get_int(at(cs, "restartCount")), 1);
	assert_int_equal(json_object_get_int(at(cs, "lastState.terminated.exitCode")), 5);
	assert_int_equal(json_object_get_int(at(cs, "state.terminated.exitCode")), 0);
	assert_string_equal(json_object_get_string(at(pods, "items.0.status.phase")), "Succeeded");
	json_object_put(pods);

	/* always failing: restarts count against backoffLimit */
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"broken\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"backoffLimit\":1,\"template\":{\"spec\":{\"restartPolicy\":\"OnFailure\","
	       "\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"false\"]}]}}}}");
	for (int i = 0; i < 300; i++) {
		json_object *j = NULL;
		assert_int_equal(sim_get(f->s, "batch", "v1", "jobs", "ns", "broken", &j, NULL), 0);
		int done = has_condition(j, "Failed", "BackoffLimitExceeded");
		json_object_put(j);
		if (done)
			return;
		usleep(50000);
	}
	fail_msg("job broken never failed with BackoffLimitExceeded");
}

static const char *cond_field(json_object *obj, const char *type, const char *field)
{
	json_object *conds = at(obj, "status.conditions");
	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *c = json_object_array_get_idx(conds, i);
		if (!strcmp(json_object_get_string(at(c, "type")), type))
			return json_object_get_string(at(c, field));
	}
	return NULL;
}

static void test_job_suspend_resume(void **state)
{
	struct fx *f = *state;
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"later\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"suspend\":true,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
	       "\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"true\"]}]}}}}");
	json_object *job = wait_field(f->s, "batch", "jobs", "ns", "later", "status.conditions.0.reason", "JobSuspended");
	assert_string_equal(cond_field(job, "Suspended", "status"), "True");
	assert_null(at(job, "status.startTime"));
	json_object_put(job);
	json_object *pods = NULL;
	assert_int_equal(sim_list(f->s, "", "v1", "pods", "ns", "job-name=later", NULL, &pods, NULL), 0);
	assert_int_equal(json_object_array_length(at(pods, "items")), 0);
	json_object_put(pods);

	json_object *resume = parse("{\"spec\":{\"suspend\":false}}");
	assert_int_equal(sim_patch(f->s, "batch", "v1", "jobs", "ns", "later", NULL, SIM_PATCH_MERGE, resume, "test", 0,
				   NULL, NULL), 0);
	json_object_put(resume);
	job = wait_field(f->s, "batch", "jobs", "ns", "later", "status.succeeded", "1");
	assert_string_equal(cond_field(job, "Suspended", "status"), "False");
	assert_string_equal(cond_field(job, "Suspended", "reason"), "JobResumed");
	assert_non_null(at(job, "status.startTime"));
	assert_true(has_condition(job, "Complete", NULL));
	json_object_put(job);
}

static void test_job_deadline(void **state)
{
	struct fx *f = *state;
	create(f->s, "batch", "jobs", "ns",
	       "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"slow\",\"namespace\":\"ns\"},"
	       "\"spec\":{\"activeDeadlineSeconds\":1,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
	       "\"containers\":[{\"name\":\"main\",\"image\":\"x\",\"command\":[\"sleep\",\"60\"]}]}}}}");
	for (int i = 0; i < 300; i++) {
		json_object *job = NULL;
		assert_int_equal(sim_get(f->s, "batch", "v1", "jobs", "ns", "slow", &job, NULL), 0);
		int done = has_condition(job, "Failed", "DeadlineExceeded");
		if (done) {
			assert_null(at(job, "status.active"));
			json_object_put(job);
			return;
		}
		json_object_put(job);
		usleep(50000);
	}
	fail_msg("job slow never failed with DeadlineExceeded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pvc_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deployment_available, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failing_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_init_containers_and_completions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_volumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_on_failure_restarts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_suspend_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_deadline, setup, teardown),
	};
	if (geteuid() != 0) {
		/* Jobs need mount namespaces; the project's CI runs as root */
		fprintf(stderr, "test_kubesim_behave must run as root\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
