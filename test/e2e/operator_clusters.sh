#!/usr/bin/env bash
# Issue 6, must show: two simulators (control plane + remote); InferenceClusters
# `local` and `remote` become Connected=True with the GPU pools of labelled
# Nodes; `kubectl get ic` shows them; /readyz is 200 and /metrics parses as
# Prometheus text; killing the remote simulator turns `remote`
# Connected=False/Unreachable within 30 s while `local` stays True;
# restarting it turns it back True; SIGTERM exits 0.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init

mc_start_kubesim cp
mc_start_kubesim remote
mc_apply_crds cp
mc_storage_class cp
mc_storage_class remote
REMOTE_PORT=$KS_remote_PORT

node_yaml() { # name product memMiB count
	cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $1
  labels:
    nvidia.com/gpu.product: $2
    nvidia.com/gpu.memory: "$3"
    nvidia.com/gpu.count: "$4"
YAML
}
apply_remote_nodes() {
	{ node_yaml gpu-a NVIDIA-H100-80GB-HBM3 81559 8; echo ---; node_yaml gpu-b NVIDIA-H100-80GB-HBM3 81559 8; \
	  echo ---; node_yaml gpu-c NVIDIA-L4 23034 1; echo ---; \
	  printf 'apiVersion: v1\nkind: Node\nmetadata:\n  name: cpu-only\n'; } | mc_kubectl remote apply -f - >/dev/null
}
apply_remote_nodes
node_yaml local-gpu NVIDIA-A10G 23028 4 | mc_kubectl cp apply -f - >/dev/null

mc_kubectl cp create namespace modelcache-system >/dev/null
mc_kubectl cp -n modelcache-system create secret generic gpu-remote --from-file=kubeconfig="$KS_remote_KUBECONFIG" >/dev/null
mc_kubectl cp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: local}
spec:
  connection: {local: {}}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: remote, labels: {region: west}}
spec:
  connection:
    kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-remote, key: kubeconfig}
  namespace: modelcache
YAML

ic_cond_is() { # name type status [reason]
	local st
	st=$(mc_cond cp ic "$1" "$2")
	[ "$st" = "$3" ] || return 1
	[ -z "${4:-}" ] || [ "$(mc_kubectl cp get ic "$1" -o jsonpath="{.status.conditions[?(@.type==\"$2\")].reason}")" = "$4" ]
}
pools_of() { mc_kubectl cp get ic "$1" -o jsonpath='{range .status.gpuPools[*]}{.product}:{.memoryBytes}:{.perNode}:{.nodes}:{.source};{end}'; }

mc_start_operator op cp --log-level debug
mc_wait 30 "local Connected=True" ic_cond_is local Connected True Connected
mc_wait 30 "remote Connected=True" ic_cond_is remote Connected True Connected
mc_wait 30 "remote Ready=True" ic_cond_is remote Ready True

want_remote="NVIDIA-H100-80GB-HBM3:$((81559 * 1048576)):8:2:NodeLabels;NVIDIA-L4:$((23034 * 1048576)):1:1:NodeLabels;"
want_local="NVIDIA-A10G:$((23028 * 1048576)):4:1:NodeLabels;"
pools_match() { [ "$(pools_of "$1")" = "$2" ]; }
mc_wait 20 "remote GPU pools" pools_match remote "$want_remote"
mc_wait 20 "local GPU pools" pools_match local "$want_local"
[ "$(mc_kubectl cp get ic remote -o jsonpath='{.status.version}')" = "v1.32.0-kubesim" ] || mc_fail "remote status.version"
# the namespace was ensured on the remote cluster only
mc_kubectl remote get namespace modelcache >/dev/null || mc_fail "namespace modelcache not created on remote"
mc_not_found cp namespace modelcache || mc_fail "namespace modelcache created on the local cluster"
# kubectl get ic
out=$(mc_kubectl cp get ic)
echo "$out"
echo "$out" | grep -q '^local ' || mc_fail "kubectl get ic does not list local"
echo "$out" | grep -q '^remote ' || mc_fail "kubectl get ic does not list remote"

# probes and metrics
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OP_op_HEALTH/readyz")
[ "$code" = 200 ] || mc_fail "/readyz returned $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$OP_op_HEALTH/healthz")
[ "$code" = 200 ] || mc_fail "/healthz returned $code"
curl -sf "http://127.0.0.1:$OP_op_METRICS/metrics" >"$MC_TMP/metrics.txt" || mc_fail "GET /metrics"
python3 "$(dirname "$0")/prom_check.py" "$MC_TMP/metrics.txt" \
	modelcache_reconcile_total modelcache_reconcile_duration_seconds modelcache_workqueue_depth \
	modelcache_workqueue_adds_total modelcache_api_requests_total modelcache_leader_is_leader \
	process_resident_memory_bytes process_open_fds \
	|| mc_fail "/metrics is not valid Prometheus text"

# connection failures are told apart: a TLS + bearer-token simulator reached
# with the right token (True), a wrong token (Unauthorized), a Secret that is
# not a kubeconfig and a missing Secret (KubeconfigInvalid)
mc_start_kubesim secure --tls --token good-token
mc_storage_class secure
sed 's/token: good-token/token: wrong-token/' "$KS_secure_KUBECONFIG" >"$MC_TMP/wrong.kubeconfig"
printf 'this: [is not a kubeconfig\n' >"$MC_TMP/garbage.kubeconfig"
mc_kubectl cp -n modelcache-system create secret generic secure --from-file=kubeconfig="$KS_secure_KUBECONFIG" >/dev/null
mc_kubectl cp -n modelcache-system create secret generic wrong --from-file=kubeconfig="$MC_TMP/wrong.kubeconfig" >/dev/null
mc_kubectl cp -n modelcache-system create secret generic garbage --from-file=kubeconfig="$MC_TMP/garbage.kubeconfig" >/dev/null
for n in secure wrong garbage missing; do
	mc_kubectl cp apply -f - >/dev/null <<YAML
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: $n}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: $n}}
  gpus: [{product: NVIDIA-L4, memory: 24Gi, perNode: 2, nodes: 3}]
YAML
done
mc_wait 30 "secure Connected=True (TLS + token)" ic_cond_is secure Connected True Connected
mc_wait 30 "wrong Connected=False/Unauthorized" ic_cond_is wrong Connected False Unauthorized
mc_wait 30 "garbage Connected=False/KubeconfigInvalid" ic_cond_is garbage Connected False KubeconfigInvalid
mc_wait 30 "missing Connected=False/KubeconfigInvalid" ic_cond_is missing Connected False KubeconfigInvalid
mc_wait 20 "spec.gpus pools" pools_match secure "NVIDIA-L4:$((24 * 1073741824)):2:3:Spec;"
# fixing the Secret rebuilds the client: missing -> Connected
mc_kubectl cp -n modelcache-system create secret generic missing --from-file=kubeconfig="$KS_secure_KUBECONFIG" >/dev/null
mc_wait 30 "missing Connected=True once its Secret exists" ic_cond_is missing Connected True Connected
# deleting an InferenceCluster stops its cluster client
mc_kubectl cp delete ic wrong >/dev/null
mc_wait 20 "cluster wrong stopped" grep -qE 'msg="cluster stopped".* cluster=wrong( |$)' "$OP_op_LOG"

# kill the remote simulator: remote Unreachable within 30 s, local undisturbed
t0=$SECONDS
mc_stop "$KS_remote_PID" KILL
mc_wait 30 "remote Connected=False/Unreachable" ic_cond_is remote Connected False Unreachable
mc_log "remote Unreachable after $((SECONDS - t0)) s"
ic_cond_is local Connected True Connected || mc_fail "local disturbed by the remote outage"
ic_cond_is remote Ready False || mc_fail "remote still Ready while unreachable"
# restart it on the same port: back to True
mc_start_kubesim remote --port "$REMOTE_PORT"
mc_storage_class remote
apply_remote_nodes
t0=$SECONDS
mc_wait 40 "remote Connected=True after restart" ic_cond_is remote Connected True Connected
mc_wait 40 "remote pools after restart" pools_match remote "$want_remote"
mc_log "remote Connected again after $((SECONDS - t0)) s"
ic_cond_is local Connected True Connected || mc_fail "local disturbed"
# the transitions were reported as events (events.k8s.io/v1, regarding the InferenceCluster)
evs=$(mc_kubectl cp get events.v1.events.k8s.io -n default -o jsonpath='{range .items[?(@.regarding.name=="remote")]}{.type}/{.reason};{end}')
mc_log "remote events: $evs"
case "$evs" in *Warning/Unreachable*) ;; *) mc_fail "no Warning/Unreachable event for remote: $evs" ;; esac
[ "$(echo "$evs" | grep -o 'Normal/Connected' | wc -l)" -ge 2 ] || mc_fail "expected two Normal/Connected events for remote: $evs"

mc_stop "$OP_op_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "operator exited $MC_RC on SIGTERM"
grep -q 'msg=stopped' "$OP_op_LOG" || mc_fail "no clean stop in the log"
echo "PASS operator_clusters"
