#!/usr/bin/env bash
# Issue 6, must show: with --fault-watch-drop-seconds 3 --fault-error-rate 0.05
# on both simulators, 50 label changes on Nodes all end up reflected in the
# InferenceCluster status (no lost update). The remote simulator also
# compacts its history every 2 s, so resumed watches meet 410 Gone and the
# reflector must relist and deliver the difference.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
FAULTS=(--fault-watch-drop-seconds 3 --fault-error-rate 0.05)

mc_start_kubesim cp "${FAULTS[@]}"
mc_start_kubesim remote "${FAULTS[@]}" --compact-seconds 2
# kubectl does not retry 5xx: retry our own setup calls
retry() { mc_retry "$@" >/dev/null 2>&1; }
mc_apply_crds cp
NODES=10
# (manifests go through files: a retried `apply -f -` would read an empty stdin)
for n in $(seq 0 $((NODES - 1))); do
	[ "$n" = 0 ] || echo ---
	cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: gpu-$n
  labels: {nvidia.com/gpu.product: NVIDIA-L40S, nvidia.com/gpu.memory: "46068", nvidia.com/gpu.count: "1"}
YAML
done >"$MC_TMP/nodes.yaml"
retry mc_kubectl remote apply -f "$MC_TMP/nodes.yaml"
# idempotent: create manifests client-side, apply them (a retried create could hit AlreadyExists)
mc_kubectl cp create namespace modelcache-system --dry-run=client -o yaml >"$MC_TMP/ns.yaml"
mc_kubectl cp -n modelcache-system create secret generic gpu-remote --from-file=kubeconfig="$KS_remote_KUBECONFIG" \
	--dry-run=client -o yaml >"$MC_TMP/secret.yaml"
retry mc_kubectl cp apply -f "$MC_TMP/ns.yaml"
retry mc_kubectl cp apply -f "$MC_TMP/secret.yaml"
cat >"$MC_TMP/ics.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: remote}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-remote}}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: local}
spec: {connection: {local: {}}}
YAML
retry mc_kubectl cp apply -f "$MC_TMP/ics.yaml"

mc_start_operator op cp
pools() { mc_kubectl cp get ic remote -o jsonpath='{range .status.gpuPools[*]}{.product}:{.perNode}:{.nodes};{end}' 2>/dev/null; }
pools_are() { [ "$(pools)" = "$1" ]; }
mc_wait 60 "initial pools" pools_are "NVIDIA-L40S:1:$NODES;"

# 50 label changes: change i sets gpu.count=i+1 on node i % 10, so node k
# ends with count 41+k: ten distinct pools of one node each.
t0=$SECONDS
for i in $(seq 0 49); do
	retry mc_kubectl remote label --overwrite node "gpu-$((i % NODES))" "nvidia.com/gpu.count=$((i + 1))"
done
want=""
for k in $(seq 0 $((NODES - 1))); do want="${want}NVIDIA-L40S:$((41 + k)):1;"; done
mc_wait 90 "all 50 label changes reflected in status" pools_are "$want"
mc_log "all label changes reflected $((SECONDS - t0)) s after the first one"
# the watches really were dropped and resumed meanwhile
curl -sf "http://127.0.0.1:$OP_op_METRICS/metrics" >"$MC_TMP/metrics.txt" || mc_fail "GET /metrics"
restarts=$(awk '/^modelcache_watch_restarts_total\{cluster="remote"/ {s+=$2} END {print s+0}' "$MC_TMP/metrics.txt")
gone=$(awk '/^modelcache_watch_restarts_total\{cluster="remote",reason="gone"/ {s+=$2} END {print s+0}' "$MC_TMP/metrics.txt")
mc_log "remote watch restarts: $restarts (410 relists: $gone)"
[ "$restarts" -ge 2 ] || mc_fail "expected watch restarts under --fault-watch-drop-seconds (got $restarts)"
[ "$gone" -ge 1 ] || mc_fail "expected 410 relists under --compact-seconds (got $gone)"
# (reads through kubectl may hit an injected error themselves: poll)
local_connected() { [ "$(mc_cond cp ic local Connected)" = True ]; }
mc_wait 20 "local Connected" local_connected
mc_stop "$OP_op_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "operator exited $MC_RC on SIGTERM"
echo "PASS operator_faults"
