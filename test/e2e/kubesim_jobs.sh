#!/usr/bin/env bash
# kubesim cluster behaviours driven with the real kubectl (issue 3):
#   --bind-pvcs: PVCs of an existing (or the default) StorageClass bind to a
#     host directory, a PVC of a missing class stays Pending, deleting the PVC
#     removes the directory.
#   --run-jobs: a Job writing into its PVC completes and the file is in the
#     PVC's host directory (nothing left on the host's /mnt); a failing Job
#     ends Failed (BackoffLimitExceeded) with its termination message; a
#     Secret volume + secretKeyRef/configMapKeyRef env reach a process running
#     as uid 65532 (fsGroup makes the volume writable); an unknown command is a
#     StartError; deleting a running Job kills its process; ttlSecondsAfterFinished
#     deletes a finished Job; BIN_DIR is first on PATH (modelcache-operator);
#     SIGTERM or even SIGKILL of kubesim leaves no container process behind.
#   --ready-deployments: a Deployment becomes Available and rollout status ends.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init

k() { mc_kubectl sim "$@"; }
jsonpath() { k get "$1" "$2" -n e2e -o "jsonpath=$3"; }
no_pods() { local out; out=$(k get pods -n e2e -l "job-name=$1" -o name) && [ -z "$out" ]; }
jp_is() { [ "$(jsonpath "$1" "$2" "$3")" = "$4" ]; } # for mc_wait: re-evaluated on every poll
# job_head JOB [SPEC_LINE]: the YAML of Job JOB in namespace e2e up to its pod
# spec's "restartPolicy: Never" (the pod spec's other fields follow, indented
# 6); SPEC_LINE (e.g. "backoffLimit: 0") goes into the Job's spec.
job_head() {
	cat <<YAML
apiVersion: batch/v1
kind: Job
metadata: {name: $1, namespace: e2e}
spec:
  ${2:-}
  template:
    spec:
      restartPolicy: Never
YAML
}
# simple_job KUBESIM JOB COMMAND [SPEC_LINE]: applies that Job with one
# container "main" running COMMAND (a YAML flow list).
simple_job() {
	{
		job_head "$2" "${4:-}"
		echo "      containers:"
		echo "      - {name: main, image: x, command: $3}"
	} | mc_kubectl "$1" apply -f - >/dev/null
}

DATA=$MC_TMP/data
mc_start_kubesim sim --bind-pvcs --run-jobs --ready-deployments --data-dir "$DATA"

MNT_OUT_EXISTED=0
[ -e /mnt/out ] && MNT_OUT_EXISTED=1
TERMLOG_EXISTED=0
[ -e /dev/termination-log ] && TERMLOG_EXISTED=1

k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: e2e}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubesim.dev/hostpath
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: modelcache-rwx}
provisioner: kubesim.dev/hostpath
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: out, namespace: e2e}
spec:
  storageClassName: modelcache-rwx
  accessModes: [ReadWriteMany]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: defaulted, namespace: e2e}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orphan, namespace: e2e}
spec:
  storageClassName: no-such-class
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Secret
metadata: {name: tok, namespace: e2e}
type: Opaque
stringData: {HF_TOKEN: s3cret-value}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: e2e}
data: {endpoint: http://hub.example}
YAML

# ---- PVC binding ----------------------------------------------------------
mc_wait 20 "PVC out Bound" jp_is pvc out '{.status.phase}' Bound
mc_wait 20 "PVC defaulted Bound" jp_is pvc defaulted '{.status.phase}' Bound
uid=$(jsonpath pvc out '{.metadata.uid}')
[ "$(jsonpath pvc out '{.spec.volumeName}')" = "pvc-$uid" ] || mc_fail "volumeName is not pvc-<uid>"
[ "$(jsonpath pvc out '{.status.capacity.storage}')" = 1Gi ] || mc_fail "capacity not reported"
[ "$(jsonpath pvc out '{.status.accessModes[0]}')" = ReadWriteMany ] || mc_fail "accessModes not reported"
OUT_DIR=$(jsonpath pvc out '{.metadata.annotations.kubesim\.dev/host-path}')
[ "$OUT_DIR" = "$DATA/pvs/e2e/out-$uid" ] || mc_fail "host path annotation is '$OUT_DIR'"
[ -d "$OUT_DIR" ] || mc_fail "PVC host directory $OUT_DIR missing"
[ "$(jsonpath pvc defaulted '{.spec.storageClassName}')" = standard ] || mc_fail "default class not applied"
k get pv "pvc-$uid" >/dev/null || mc_fail "no PersistentVolume for the PVC"
sleep 1
[ "$(jsonpath pvc orphan '{.status.phase}')" = Pending ] || mc_fail "PVC of a missing class is not Pending"
mc_log "PVCs bound: $OUT_DIR"

# ---- a Job writes into its PVC ---------------------------------------------
{ job_head hi "backoffLimit: 0"; cat <<'YAML'; } | k apply -f - >/dev/null
      containers:
      - name: main
        image: busybox
        command: ["/bin/sh", "-c", "echo hi > /mnt/out/x"]
        volumeMounts: [{name: out, mountPath: /mnt/out}]
      volumes:
      - name: out
        persistentVolumeClaim: {claimName: out}
YAML
k wait -n e2e --for=condition=Complete job/hi --timeout=30s >/dev/null || mc_fail "job hi did not complete"
[ "$(cat "$OUT_DIR/x")" = hi ] || mc_fail "the Job's file is not in the PVC directory"
[ "$(jsonpath job hi '{.status.succeeded}')" = 1 ] || mc_fail "job hi status.succeeded != 1"
[ -n "$(jsonpath job hi '{.status.completionTime}')" ] || mc_fail "job hi has no completionTime"
pod=$(k get pods -n e2e -l job-name=hi -o 'jsonpath={.items[0].metadata.name}')
[ "$(jsonpath pod "$pod" '{.status.phase}')" = Succeeded ] || mc_fail "pod $pod not Succeeded"
[ "$(jsonpath pod "$pod" '{.status.containerStatuses[0].state.terminated.reason}')" = Completed ] ||
	mc_fail "pod $pod not terminated/Completed"
[ "$(jsonpath pod "$pod" '{.metadata.ownerReferences[0].kind}')" = Job ] || mc_fail "pod has no Job owner"
if [ "$MNT_OUT_EXISTED" = 0 ] && [ -e /mnt/out ]; then
	mc_fail "the mountPath /mnt/out was created on the host"
fi
if [ "$TERMLOG_EXISTED" = 0 ] && [ -e /dev/termination-log ]; then
	mc_fail "/dev/termination-log was created on the host"
fi
mc_log "job hi complete, file in the PVC"

# ---- a failing Job ends Failed with its termination message -----------------
{ job_head boom "backoffLimit: 1"; cat <<'YAML'; } | k apply -f - >/dev/null
      containers:
      - name: main
        image: busybox
        command: ["/bin/sh", "-c", "echo 'model too big: 80 GiB > 24 GiB' > /dev/termination-log; echo to-the-log; exit 3"]
YAML
k wait -n e2e --for=condition=Failed job/boom --timeout=40s >/dev/null || mc_fail "job boom did not fail"
[ "$(jsonpath job boom '{.status.failed}')" = 2 ] || mc_fail "job boom: expected 2 failed pods (backoffLimit 1)"
[ "$(jsonpath job boom '{.status.conditions[?(@.type=="Failed")].reason}')" = BackoffLimitExceeded ] ||
	mc_fail "job boom: Failed reason is not BackoffLimitExceeded"
msgs=$(k get pods -n e2e -l job-name=boom -o 'jsonpath={range .items[*]}{.status.containerStatuses[0].state.terminated.message}|{.status.containerStatuses[0].state.terminated.exitCode}{"\n"}{end}')
# the message is the file's content (with its newline, as the kubelet reports it), exit code 3
[ "$(echo "$msgs" | grep -c '^model too big: 80 GiB > 24 GiB$')" = 2 ] || mc_fail "termination messages: $msgs"
[ "$(echo "$msgs" | grep -c '^|3$')" = 2 ] || mc_fail "exit codes: $msgs"
bpod=$(k get pods -n e2e -l job-name=boom -o 'jsonpath={.items[0].metadata.name}')
bdir=$(jsonpath pod "$bpod" '{.metadata.annotations.kubesim\.dev/pod-dir}')
grep -q to-the-log "$bdir/logs/main.log" || mc_fail "container output not in $bdir/logs/main.log"
mc_log "job boom failed with its termination message"

# ---- Secret volume, secretKeyRef, configMapKeyRef, runAsUser, fsGroup, an
# emptyDir over /tmp (where the data dir lives) next to a PVC: the hydrator's shape
{ job_head secrets "backoffLimit: 0"; cat <<'YAML'; } | k apply -f - >/dev/null
      securityContext: {runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532}
      containers:
      - name: main
        image: busybox
        workingDir: /mnt/out
        command: ["/bin/sh", "-c"]
        args:
        - |
          set -e
          test "$HF_TOKEN" = s3cret-value
          test "$(cat /etc/tok/HF_TOKEN)" = s3cret-value
          test "$HF_ENDPOINT" = http://hub.example
          test "$GREETING" = "hello secrets"
          id -u > uid
          echo scratch > /tmp/scratch && test "$(cat /tmp/scratch)" = scratch
          echo "all secrets seen" > /dev/termination-log
        env:
        - {name: JOB, valueFrom: {fieldRef: {fieldPath: "metadata.labels['job-name']"}}}
        - {name: GREETING, value: "hello $(JOB)"}
        - {name: HF_TOKEN, valueFrom: {secretKeyRef: {name: tok, key: HF_TOKEN}}}
        - {name: HF_ENDPOINT, valueFrom: {configMapKeyRef: {name: cfg, key: endpoint}}}
        volumeMounts:
        - {name: out, mountPath: /mnt/out}
        - {name: tok, mountPath: /etc/tok, readOnly: true}
        - {name: tmp, mountPath: /tmp}
      volumes:
      - {name: tmp, emptyDir: {}}
      - {name: out, persistentVolumeClaim: {claimName: out}}
      - {name: tok, secret: {secretName: tok}}
YAML
if ! k wait -n e2e --for=condition=Complete job/secrets --timeout=30s >/dev/null 2>&1; then
	spod=$(k get pods -n e2e -l job-name=secrets -o 'jsonpath={.items[0].metadata.name}')
	mc_fail "job secrets did not complete: $(jsonpath pod "$spod" '{.status.containerStatuses[0].state}')"
fi
[ "$(cat "$OUT_DIR/uid")" = 65532 ] || mc_fail "the container did not run as uid 65532"
[ "$(stat -c %u "$OUT_DIR/uid")" = 65532 ] || mc_fail "file not owned by 65532"
[ "$(stat -c %g "$OUT_DIR")" = 65532 ] || mc_fail "fsGroup not applied to the PVC directory"
spod=$(k get pods -n e2e -l job-name=secrets -o 'jsonpath={.items[0].metadata.name}')
[ "$(jsonpath pod "$spod" '{.status.containerStatuses[0].state.terminated.message}')" = "all secrets seen" ] ||
	mc_fail "job secrets: unexpected termination message"
mc_log "secret volume, secretKeyRef, configMapKeyRef, uid 65532 and fsGroup work"

# ---- an unknown command is a StartError ------------------------------------
simple_job sim nocmd '["no-such-binary-kubesim-e2e"]' "backoffLimit: 0"
k wait -n e2e --for=condition=Failed job/nocmd --timeout=30s >/dev/null || mc_fail "job nocmd did not fail"
npod=$(k get pods -n e2e -l job-name=nocmd -o 'jsonpath={.items[0].metadata.name}')
[ "$(jsonpath pod "$npod" '{.status.containerStatuses[0].state.terminated.reason}')" = StartError ] ||
	mc_fail "unknown command is not a StartError"
jsonpath pod "$npod" '{.status.containerStatuses[0].state.terminated.message}' |
	grep -q 'executable file not found in \$PATH' || mc_fail "StartError message does not say why"

# ---- BIN_DIR first on PATH: the project's own binaries run by name ---------
if [ -x "$MC_BIN/modelcache-operator" ]; then
	simple_job sim version '["modelcache-operator", "version"]' "backoffLimit: 0"
	k wait -n e2e --for=condition=Complete job/version --timeout=30s >/dev/null ||
		mc_fail "modelcache-operator version did not run from BIN_DIR"
	mc_log "modelcache-operator found on the container PATH"
fi

# ---- deleting a running Job kills its processes ------------------------------
MARK=$((4000 + RANDOM % 1000))
simple_job sim sleeper "[\"sleep\", \"$MARK.25\"]"
mc_wait 20 "the sleeper pod runs" pgrep -f "^sleep $MARK.25\$"
mc_wait 20 "job sleeper reports 1 ready pod" jp_is job sleeper '{.status.ready}' 1
k delete job sleeper -n e2e --cascade=background --wait=false >/dev/null
mc_wait 20 "the sleeper process is killed" bash -c "! pgrep -f '^sleep $MARK.25\$'"
mc_wait 60 "the sleeper pods are collected" no_pods sleeper
mc_log "deleting a running Job killed its process"

# ---- ttlSecondsAfterFinished -------------------------------------------------
simple_job sim ttl '["true"]' "ttlSecondsAfterFinished: 1"
mc_wait 60 "job ttl is deleted after it finished" mc_not_found sim job ttl -n e2e
mc_wait 60 "the ttl job's pods are collected" no_pods ttl

# ---- Deployments become Available --------------------------------------------
k apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: e2e}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
YAML
k wait -n e2e --for=condition=Available deployment/web --timeout=20s >/dev/null || mc_fail "deployment not Available"
k rollout status -n e2e deployment/web --timeout=20s >/dev/null || mc_fail "rollout status did not finish"
[ "$(jsonpath deployment web '{.status.readyReplicas}')" = 2 ] || mc_fail "readyReplicas != 2"
k scale -n e2e deployment/web --replicas=3 >/dev/null
mc_wait 20 "scaled deployment reports 3 ready" jp_is deployment web '{.status.readyReplicas}' 3
mc_log "deployment Available"

# ---- LeaderWorkerSets (once their CRD is applied) become Available too, and
# our status write settles (the CRD's status schema has no observedGeneration)
k apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: leaderworkersets.leaderworkerset.x-k8s.io}
spec:
  group: leaderworkerset.x-k8s.io
  names: {kind: LeaderWorkerSet, listKind: LeaderWorkerSetList, plural: leaderworkersets, singular: leaderworkerset, shortNames: [lws]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              readyReplicas: {type: integer}
              replicas: {type: integer}
              updatedReplicas: {type: integer}
              conditions:
                type: array
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: {type: string}
                    status: {type: string}
                    reason: {type: string}
                    message: {type: string}
                    lastTransitionTime: {type: string, format: date-time}
YAML
mc_wait 20 "the LeaderWorkerSet kind is served" k get lws -n e2e
k apply -f - >/dev/null <<'YAML'
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: big, namespace: e2e}
spec:
  replicas: 2
  leaderWorkerTemplate: {size: 2}
YAML
mc_wait 20 "the LeaderWorkerSet reports 2 ready" jp_is lws big '{.status.readyReplicas}' 2
[ "$(jsonpath lws big '{.status.conditions[?(@.type=="Available")].status}')" = True ] || mc_fail "LWS not Available"
rv1=$(jsonpath lws big '{.metadata.resourceVersion}')
sleep 1
[ "$(jsonpath lws big '{.metadata.resourceVersion}')" = "$rv1" ] || mc_fail "the LWS status keeps being rewritten"
mc_log "leaderworkerset Available, status settled"

# ---- deleting the PVC removes its directory ------------------------------------
k delete pvc out -n e2e --wait=false >/dev/null
mc_wait 20 "the PVC directory is removed" test ! -e "$OUT_DIR"
mc_wait 60 "the PV is removed" mc_not_found sim pv "pvc-$uid"

# ---- SIGTERM while a container runs: kubesim exits 0 and leaves no process --
simple_job sim orphan-check "[\"sleep\", \"$MARK.75\"]"
mc_wait 20 "the orphan-check pod runs" pgrep -f "^sleep $MARK.75\$"
mc_stop "$KS_sim_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "kubesim exited with $MC_RC on SIGTERM"
mc_wait 10 "no container survives kubesim" bash -c "! pgrep -f '^sleep $MARK.75\$'"

# ---- even SIGKILL: a container's whole process tree (PID namespace) goes ----
mc_start_kubesim k2 --run-jobs --data-dir "$MC_TMP/data2"
mc_kubectl k2 create namespace e2e >/dev/null
simple_job k2 tree "[\"/bin/sh\", \"-c\", \"sleep $MARK.5; echo never\"]"
mc_wait 20 "the tree pod's grandchild runs" pgrep -f "^sleep $MARK.5\$"
mc_stop "$KS_k2_PID" KILL
mc_wait 10 "no grandchild survives a killed kubesim" bash -c "! pgrep -f '^sleep $MARK.5\$'"
mc_log "kubesim_jobs: all checks passed"
