#!/usr/bin/env bash
# Issue 6, must show: in steady state (nothing changing, informer resyncs and
# the 30 s InferenceCluster re-checks included) the operator performs ZERO
# write requests during 60 s, on either cluster (kubesim --request-log).
# Leader election is off here: lease renewals are writes by design (they are
# covered by operator_leader.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
WINDOW=${MC_STEADY_SECONDS:-60}

mc_start_kubesim cp --request-log "$MC_TMP/cp-requests.txt"
mc_start_kubesim remote --request-log "$MC_TMP/remote-requests.txt"
mc_apply_crds cp
mc_storage_class cp
mc_storage_class remote
for n in 1 2 3; do
	mc_kubectl remote apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: gpu-$n
  labels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3, nvidia.com/gpu.memory: "81559", nvidia.com/gpu.count: "8"}
YAML
done
mc_kubectl cp create namespace modelcache-system >/dev/null
mc_kubectl cp -n modelcache-system create secret generic gpu-remote --from-file=kubeconfig="$KS_remote_KUBECONFIG" >/dev/null
mc_kubectl cp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: local}
spec: {connection: {local: {}}}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: remote}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-remote}}
YAML

ready() { [ "$(mc_cond cp ic "$1" Ready)" = True ]; }
mc_start_operator op cp
mc_wait 30 "local Ready" ready local
mc_wait 30 "remote Ready" ready remote
# let the first round of reconciles settle
sleep 3

is_write() { grep -cE '^(POST|PUT|PATCH|DELETE) ' || true; }
cp0=$(wc -l <"$MC_TMP/cp-requests.txt")
rm0=$(wc -l <"$MC_TMP/remote-requests.txt")
r0=$(curl -sf "http://127.0.0.1:$OP_op_METRICS/metrics" | awk '/^modelcache_reconcile_total\{controller="inferencecluster"/ {s+=$2} END {print s+0}')
mc_log "steady-state window: ${WINDOW}s"
sleep "$WINDOW"
tail -n +"$((cp0 + 1))" "$MC_TMP/cp-requests.txt" >"$MC_TMP/cp-window.txt"
tail -n +"$((rm0 + 1))" "$MC_TMP/remote-requests.txt" >"$MC_TMP/remote-window.txt"
r1=$(curl -sf "http://127.0.0.1:$OP_op_METRICS/metrics" | awk '/^modelcache_reconcile_total\{controller="inferencecluster"/ {s+=$2} END {print s+0}')
wcp=$(is_write <"$MC_TMP/cp-window.txt")
wrm=$(is_write <"$MC_TMP/remote-window.txt")
mc_log "window: control plane $(wc -l <"$MC_TMP/cp-window.txt") requests ($wcp writes), remote $(wc -l <"$MC_TMP/remote-window.txt") requests ($wrm writes), reconciles $((r1 - r0))"
if [ "$wcp" != 0 ] || [ "$wrm" != 0 ]; then
	grep -E '^(POST|PUT|PATCH|DELETE) ' "$MC_TMP/cp-window.txt" "$MC_TMP/remote-window.txt" >&2 || true
	mc_fail "writes during the steady-state window"
fi
# the window really was exercised: the re-checks ran (reconciles and reads happened)
[ "$((r1 - r0))" -ge 2 ] || mc_fail "no reconcile during the window (re-checks not running?)"
grep -q '^GET /version' "$MC_TMP/remote-window.txt" || mc_fail "no connection re-check of remote in the window"
mc_stop "$OP_op_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "operator exited $MC_RC on SIGTERM"
echo "PASS operator_steady"
