#!/usr/bin/env bash
# `kubectl modelcache status` (cmd/kubectl-modelcache/status.c) against
# kubesim + fakehub + the operator: a Ready cache (exit 0), a cache Skipped
# for VRAM (exit 1, the numbers), a Failed one (exit 1, the hydrator's
# message, attempts); -o json; a ModelDeployment's placements per cluster and
# workload readiness (its status written through the status subresource
# while no operator runs); usage errors exit 2, a missing object 1.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator --remote-gpus '  gpus: [{product: NVIDIA-TINY, memory: 2Mi, perNode: 1, nodes: 2}]' \
	-- --fault-corrupt 'fixtures/tinyllama/*.safetensors'
PLUGIN=$MC_BIN/kubectl-modelcache
[ -x "$PLUGIN" ] || mc_fail "$PLUGIN is not built"
export KUBECONFIG=$KS_cp_KUBECONFIG
NS=ml-team
# st ARGS...: runs the plugin; output in $out, exit code in $rc
st() { rc=0; out=$("$PLUGIN" status "$@" 2>&1) || rc=$?; }

echo "== ModelDeployment: placements per cluster, readiness"
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: chat, namespace: ml-team}
spec:
  replicas: 3
  modelCacheRef: {name: east-qwen}
  engine: {image: vllm/vllm-openai:v0.8.5}
YAML
st md/chat -n "$NS"
[ "$rc" = 1 ] || mc_fail "md without status: exit $rc: $out"
grep -q 'ModelDeployment ml-team/chat: not Available, 0/3 replicas ready' <<<"$out" || mc_fail "md: $out"
gen=$(mcp get md chat -n "$NS" -o jsonpath='{.metadata.generation}')
mcp patch md chat -n "$NS" --subresource=status --type=merge -p "$(cat <<JSON
{"status": {"observedGeneration": $gen, "replicas": {"desired": 3, "ready": 3},
 "placements": [
  {"replica": 0, "cluster": "gpu-west", "nodes": 1, "gpusPerNode": 1, "tensor": 1, "pipeline": 1},
  {"replica": 1, "cluster": "local", "nodes": 2, "gpusPerNode": 8, "tensor": 8, "pipeline": 2, "message": "LeaderWorkerSet of 2 nodes"},
  {"replica": 2, "cluster": "gpu-west", "nodes": 1, "gpusPerNode": 1, "tensor": 1, "pipeline": 1}],
 "conditions": [
  {"type": "Scheduled", "status": "True", "reason": "Placed", "message": "3 replicas placed", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": $gen},
  {"type": "Available", "status": "True", "reason": "Available", "message": "3/3 replicas ready", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": $gen}]}}
JSON
)" >/dev/null
st md/chat -n "$NS"
[ "$rc" = 0 ] || mc_fail "Available md: exit $rc: $out"
printf '%s\n' "$out" >"$MC_TMP/md.txt"
python3 - "$MC_TMP/md.txt" <<'PY' || mc_fail "md tree: $(cat "$MC_TMP/md.txt")"
import sys
t = open(sys.argv[1]).read().splitlines()
assert t[0] == "ModelDeployment ml-team/chat: Available, 3/3 replicas ready (Available: 3/3 replicas ready)", t[0]
assert t[1] == "cache: east-qwen  engine: vllm/vllm-openai:v0.8.5", t[1]
assert t[2] == "├─ gpu-west: 2 replicas", t[2]
assert t[3] == "│  ├─ replica 0: 1 node x 1 GPU, tensor 1, pipeline 1", t[3]
assert t[4] == "│  └─ replica 2: 1 node x 1 GPU, tensor 1, pipeline 1", t[4]
assert t[5] == "└─ local: 1 replica", t[5]
assert t[6] == "   └─ replica 1: 2 nodes x 8 GPUs, tensor 8, pipeline 2; LeaderWorkerSet of 2 nodes", t[6]
assert t[7].startswith("conditions: Scheduled=True/Placed Available=True/Available"), t[7]
PY
st md/chat -n "$NS" -o json
[ "$rc" = 0 ] || mc_fail "md -o json exit $rc"
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["kind"]=="ModelDeployment" and d["ready"] is True and d["replicas"]=={"desired":3,"ready":3} and len(d["placements"])==3, d' "$out" ||
	mc_fail "md -o json: $out"
# a newer generation than the conditions observed is not Available yet
mcp patch md chat -n "$NS" --type=merge -p '{"spec":{"replicas":4}}' >/dev/null
st md/chat -n "$NS"
[ "$rc" = 1 ] || mc_fail "md with a newer generation: exit $rc"
mcp delete md chat -n "$NS" >/dev/null

echo "== ModelCaches: Ready, Skipped, Failed"
mce_start_operator --hydration-retry-base 3600
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: east-qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  clusterSelector: {matchLabels: {region: east}}
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: west-qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  clusterSelector: {matchLabels: {region: west}}
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: broken, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama, include: ["*.safetensors", "*.json"]}
  clusterSelector: {matchLabels: {region: east}}
YAML
mc_wait 120 "east-qwen Ready" "$PLUGIN" status mc/east-qwen -n "$NS"
st mc/east-qwen -n "$NS"
[ "$rc" = 0 ] || mc_fail "Ready cache: exit $rc: $out"
printf '%s\n' "$out" >"$MC_TMP/ready.txt"
grep -q '^ModelCache ml-team/east-qwen: Ready, 1/1 clusters ready (Staged: ' <<<"$out" || mc_fail "ready: $out"
grep -q '^└─ local: Ready (Staged)$' <<<"$out" || mc_fail "ready tree: $out"
grep -q '   ├─ pvc: modelcache-ml-team-east-qwen-' <<<"$out" || mc_fail "ready pvc: $out"
grep -qE '   ├─ attempts: 1$' <<<"$out" || mc_fail "ready attempts: $out"

mce_wait_phase 60 "$NS" west-qwen Skipped gpu-west
st mc/west-qwen -n "$NS"
[ "$rc" = 1 ] || mc_fail "Skipped cache: exit $rc: $out"
printf '%s\n' "$out" >"$MC_TMP/skipped.txt"
grep -q '^└─ gpu-west: Skipped (InsufficientVRAM)$' <<<"$out" || mc_fail "skipped: $out"
grep -q 'message: model needs ~.* GiB of GPU memory for weights; the largest node in gpu-west has' <<<"$out" || mc_fail "skipped message: $out"
grep -qE 'gpu memory: needs [0-9.]+ GiB, largest node has 0\.00195 GiB' <<<"$out" || mc_fail "skipped numbers: $out"

mce_wait_phase 120 "$NS" broken Failed local
mc_wait 30 "broken: ArtifactReady=False/Failed" eval '[ "$(mce_cond '"$NS"' broken ArtifactReady)" = False/Failed ]'
st mc/broken -n "$NS"
[ "$rc" = 1 ] || mc_fail "Failed cache: exit $rc: $out"
printf '%s\n' "$out" >"$MC_TMP/failed.txt"
grep -qE '^└─ local: Failed \([A-Za-z]+\)$' <<<"$out" || mc_fail "failed: $out"
msg=$(mce_jp cp mc broken "$NS" '{.status.clusters[?(@.name=="local")].message}')
[ -n "$msg" ] && grep -qF "message: $msg" <<<"$out" || mc_fail "failed: the hydrator's message is not shown: $out"
grep -q '   ├─ job: modelcache-ml-team-broken-hydrate-' <<<"$out" || mc_fail "failed job: $out"

st mc/broken -n "$NS" -o json
[ "$rc" = 1 ] || mc_fail "-o json exit $rc"
python3 - "$out" <<'PY' || mc_fail "mc -o json: $out"
import json, sys
d = json.loads(sys.argv[1])
assert d["kind"] == "ModelCache" and d["name"] == "broken" and d["ready"] is False, d
assert d["conditions"]["ArtifactReady"]["reason"] == "Failed", d["conditions"]
assert d["clusters"][0]["name"] == "local" and d["clusters"][0]["phase"] == "Failed", d["clusters"]
PY

echo "== errors"
st mc/nope -n "$NS"
[ "$rc" = 1 ] || mc_fail "missing object: exit $rc"
grep -q 'ModelCache ml-team/nope: .*not found' <<<"$out" || mc_fail "missing object: $out"
for bad in "pod/x" "mc" "mc/a/b"; do
	st "$bad"
	[ "$rc" = 2 ] || mc_fail "status $bad: exit $rc, want 2: $out"
done
st mc/east-qwen -o yaml
[ "$rc" = 2 ] || mc_fail "-o yaml: exit $rc"
# the context's namespace is the default (-n omitted)
kubectl config set-context --current --namespace="$NS" >/dev/null
st mc/east-qwen
[ "$rc" = 0 ] || mc_fail "context namespace: exit $rc: $out"

for f in ready skipped failed; do echo "--- $f"; cat "$MC_TMP/$f.txt"; done
echo "PASS kubectl_status"
