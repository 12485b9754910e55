#!/usr/bin/env bash
# Deleting an InferenceCluster takes the caches' objects on that cluster with
# it (finalizer modelcache.dev/cleanup): the volume of a cache with
# deletionPolicy Delete and every hydration Job are removed there, the volume
# of a Retain cache stays, and the caches drop the cluster from their status.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup

NS=ml-team
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: tiny, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama}
  deletionPolicy: Retain
YAML
for c in qwen tiny; do mce_wait_phase 120 "$NS" "$c" Ready local gpu-west; done
fin=$(mc_kubectl cp get ic gpu-west -o jsonpath='{.metadata.finalizers}')
[[ "$fin" == *modelcache.dev/cleanup* ]] || mc_fail "gpu-west has no finalizer ($fin)"
pvc_of() { mce_jp cp mc "$1" "$NS" '{.status.clusters[?(@.name=="gpu-west")].pvc}'; }
job_of() { mce_jp cp mc "$1" "$NS" '{.status.clusters[?(@.name=="gpu-west")].job}'; }
QPVC=$(pvc_of qwen) TPVC=$(pvc_of tiny) QJOB=$(job_of qwen) TJOB=$(job_of tiny)
[ -n "$QPVC" ] && [ -n "$TPVC" ] || mc_fail "no PVC names in status"
mcr get pvc "$QPVC" "$TPVC" -n modelcache >/dev/null

mcp delete ic gpu-west --wait=false >/dev/null
mc_wait 60 "InferenceCluster gpu-west gone" mc_not_found cp ic gpu-west
mc_wait 30 "qwen's volume deleted on gpu-west" mc_not_found remote pvc "$QPVC" -n modelcache
for j in "$QJOB" "$TJOB"; do
	[ -z "$j" ] || mc_wait 30 "Job $j deleted on gpu-west" mc_not_found remote job "$j" -n modelcache
done
mcr get pvc "$TPVC" -n modelcache >/dev/null || mc_fail "the Retain cache's volume was deleted"
for c in qwen tiny; do
	mc_wait 30 "$c without gpu-west in status" eval \
		'[ "$(mce_jp cp mc '"$c"' '"$NS"' "{.status.clusters[*].name}")" = local ]'
	[ "$(mce_jp cp mc "$c" "$NS" '{.status.summary.ready}')" = 1/1 ] || mc_fail "$c summary after the deletion"
done
mcp get pvc -n "$NS" "$QPVC" >/dev/null || mc_fail "the local volume went too"
echo "PASS modelcache_ic_delete"
