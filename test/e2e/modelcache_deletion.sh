#!/usr/bin/env bash
# docs/concepts.md "Deletion": a ModelCache referenced by a live ModelDeployment is not torn
# down (condition InUse, event) until the reference is gone.
# Issue 7, must show (deletion with a cluster down): deleting a ModelCache
# while the remote cluster is unreachable removes its objects on the local
# cluster but keeps the finalizer, and the status names the cluster that
# blocks (condition CleanupBlocked); when the cluster returns the clean-up
# completes and the ModelCache is gone.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup

NS=ml-team
PVC=modelcache-ml-team-qwen-17db2
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML
mce_wait_phase 90 "$NS" qwen Ready local gpu-west
fin=$(mce_jp cp mc qwen "$NS" '{.metadata.finalizers[*]}')
[ "$fin" = modelcache.dev/cleanup ] || mc_fail "finalizers: $fin"

# --- InUse: a ModelDeployment references the cache
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: used, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama}
  clusterSelector: {matchLabels: {region: east}}
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: server, namespace: ml-team}
spec:
  replicas: 1
  modelCacheRef: {name: used}
  engine: {image: vllm/vllm-openai:v0.8.5}
YAML
mce_wait_phase 90 "$NS" used Ready local
mcp delete mc used -n "$NS" --wait=false >/dev/null
mc_wait 30 "used: InUse=True" eval '[ "$(mce_cond '"$NS"' used InUse)" = True/ModelDeploymentsExist ]'
mc_wait 10 "event InUse" eval '[ "$(mce_events '"$NS"' used InUse)" = 1 ]'
UPVC=modelcache-ml-team-used-$(printf 'modelcache-ml-team-used' | sha256sum | cut -c1-5)
# the reconcile that wrote InUse kept the finalizer and the volume
mcp get mc used -n "$NS" >/dev/null || mc_fail "a ModelCache in use was deleted"
mcp get pvc "$UPVC" -n "$NS" >/dev/null || mc_fail "the PVC of a ModelCache in use was removed"
mc_log "in use: $(mce_jp cp mc used "$NS" '{.status.conditions[?(@.type=="InUse")].message}')"
mcp delete modeldeployment server -n "$NS" >/dev/null
mc_wait 60 "used gone once the ModelDeployment is" mc_not_found cp mc used -n "$NS"
mc_wait 60 "its PVC removed" mc_not_found cp pvc "$UPVC" -n "$NS"
mc_log "ModelDeployment deleted: the cache was torn down"

# --- a cluster down during deletion
port=$KS_remote_PORT
mc_stop "$KS_remote_PID" KILL
mc_log "remote cluster down"
mcp delete mc qwen -n "$NS" --wait=false >/dev/null
mc_wait 60 "CleanupBlocked naming gpu-west" eval \
	'mce_jp cp mc qwen '"$NS"' "{.status.conditions[?(@.type==\"CleanupBlocked\")].message}" | grep -q gpu-west'
mc_wait 60 "local PVC removed" mc_not_found cp pvc "$PVC" -n "$NS"
mcp get mc qwen -n "$NS" >/dev/null || mc_fail "the ModelCache went away while a cluster could not be cleaned"
mc_log "finalizer kept: $(mce_jp cp mc qwen "$NS" '{.status.conditions[?(@.type=="CleanupBlocked")].message}')"

mc_start_kubesim remote --port "$port" --bind-pvcs --run-jobs --data-dir "$MC_TMP/remote-data2"
mc_wait 90 "qwen gone once gpu-west is back" mc_not_found cp mc qwen -n "$NS"
mc_log "cluster back: clean-up completed, finalizer removed"
echo "PASS modelcache_deletion"
