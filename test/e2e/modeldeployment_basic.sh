#!/usr/bin/env bash
# Issue 14, must show (serving from the cache): a 0.6B model on a 1-GPU node
# gets a Deployment with the cache PVC at /mnt/models, --model=/mnt/models,
# nvidia.com/gpu: 1 and the readiness probe, Available=True and `kubectl
# wait` returns; gating: nothing is created on a cluster while the cache is
# Hydrating there (CacheReady=False names it) and the workload appears once it
# is Ready; `command` passes args untouched, --model=x is not overridden,
# --tensor-parallel-size=2 is honoured, 5 on a 32-head model is
# InvalidTopology; kubectl scale adds a placement, 0 removes the workloads;
# 60 s of steady state make zero writes; deleting the ModelDeployment removes
# its workloads and then the ModelCache can be deleted.
set -euo pipefail
. "$(dirname "$0")/modeldeployment_env.sh"
mce_setup
NS=$MD_NS
SERVE=modelcache-ml-team-chat-serve-$(printf 'modelcache-ml-team-chat-serve' | sha256sum | cut -c1-5)
PVC=modelcache-ml-team-qwen-17db2

# a slow copy of the model, so that the cache stays Hydrating for a while
cp -r "$MC_FAKEHUB_ROOT/fixtures/qwen3-0.6b" "$MC_FAKEHUB_ROOT/fixtures/slow-qwen"
echo '{"delayMs": 2000}' >"$MC_FAKEHUB_ROOT/fixtures/slow-qwen/.fakehub.json"

mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/slow-qwen}
  clusterSelector: {matchLabels: {region: west}}
YAML
md_apply chat "  modelCacheRef: {name: qwen}" "  engine:" "    image: vllm/vllm-openai:v0.8.5" \
	"    args: [--max-model-len=4096]"

# --- gating: while gpu-west hydrates, CacheReady=False names it and nothing is created
seen=0
for i in $(seq 1 240); do
	p1=$(mce_phase "$NS" qwen gpu-west)
	[ "$p1" = Ready ] && break
	if [ "$(mdp_cond chat CacheReady)" = False/Hydrating ]; then
		mdp_jp chat '{.status.conditions[?(@.type=="CacheReady")].message}' | grep -q gpu-west ||
			mc_fail "CacheReady does not name gpu-west: $(mdp_jp chat '{.status.conditions[?(@.type=="CacheReady")].message}')"
		absent=0
		mc_not_found remote deploy "$SERVE" -n modelcache && absent=1
		p2=$(mce_phase "$NS" qwen gpu-west)
		if [ "$p2" != Ready ]; then
			[ "$absent" = 1 ] || mc_fail "a Deployment exists while the cache is $p2"
			seen=1
		fi
	fi
	sleep 0.25
done
[ "$seen" = 1 ] || mc_fail "never saw CacheReady=False/Hydrating with nothing created"
mc_log "gating: CacheReady=False/Hydrating names gpu-west, no Deployment while it hydrates"
mce_wait_phase 120 "$NS" qwen Ready gpu-west
mc_wait 60 "Deployment $SERVE on gpu-west once the cache is Ready" mcr get deploy "$SERVE" -n modelcache
mcp wait --for=condition=Available md/chat -n "$NS" --timeout=90s >/dev/null || mc_fail "kubectl wait Available: $(mdp_cond chat Available)"
mc_log "Available=True; kubectl wait returned"

# --- the Deployment: the cache at /mnt/models, --model, 1 GPU, readiness probe
mcr get deploy "$SERVE" -n modelcache -o json >"$MC_TMP/deploy.json"
python3 - "$MC_TMP/deploy.json" "$PVC" <<'PY' || mc_fail "Deployment shape"
import json, sys
d = json.load(open(sys.argv[1])); pvc = sys.argv[2]
s = d["spec"]["template"]["spec"]; c = s["containers"][0]
assert d["spec"]["replicas"] == 1, d["spec"]["replicas"]
assert c["args"][0] == "--model=/mnt/models", c["args"]
assert "--max-model-len=4096" in c["args"] and "--tensor-parallel-size=1" in c["args"], c["args"]
assert c["resources"]["limits"]["nvidia.com/gpu"] == "1", c["resources"]
assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}, c["readinessProbe"]
assert {"name": "model-cache", "mountPath": "/mnt/models"} in c["volumeMounts"], c["volumeMounts"]
vols = {v["name"]: v for v in s["volumes"]}
assert vols["model-cache"]["persistentVolumeClaim"]["claimName"] == pvc, vols
assert vols["dshm"]["emptyDir"]["medium"] == "Memory", vols
lab = d["metadata"]["labels"]
assert lab["modelcache.dev/deployment"] == "chat" and lab["modelcache.dev/deployment-namespace"] == "ml-team", lab
PY
[ "$(mdp_jp chat '{.status.placements[0].cluster}')" = gpu-west ] || mc_fail "placement: $(mdp_jp chat '{.status.placements}')"
mdp_jp chat '{.status.conditions[?(@.type=="Scheduled")].message}' | grep -q "The model requires approximately" ||
	mc_fail "Scheduled message: $(mdp_jp chat '{.status.conditions[?(@.type=="Scheduled")].message}')"
[ "$(mdp_jp chat '{.status.replicas.ready}')" = 1 ] || mc_fail "replicas.ready $(mdp_jp chat '{.status.replicas}')"
mc_wait 20 "the cache's lastUsedTime" eval '[ -n "$(mce_jp cp mc qwen '"$NS"' "{.status.lastUsedTime}")" ]'
mc_log "Deployment: PVC at /mnt/models, --model=/mnt/models, 1 GPU, readiness /health; lastUsedTime set"

# --- steady state: no writes from the operator for 60 s
sleep 3
w0=$(( $(mce_writes "$MC_TMP/cp-requests.txt") + $(mce_writes "$MC_TMP/remote-requests.txt") ))
mc_log "steady state: watching writes for 60 s"
sleep 60
w1=$(( $(mce_writes "$MC_TMP/cp-requests.txt") + $(mce_writes "$MC_TMP/remote-requests.txt") ))
[ "$w1" -eq "$w0" ] || {
	tail -n 20 "$MC_TMP/cp-requests.txt" "$MC_TMP/remote-requests.txt" >&2
	mc_fail "$((w1 - w0)) write requests during 60 s of steady state"
}
mc_log "steady state: 0 writes in 60 s"

# --- kubectl scale: 2 replicas on the two 1-GPU nodes, the third cannot fit
mcp scale md/chat -n "$NS" --replicas=3 >/dev/null
mc_wait 30 "Deployment scaled to 2" eval '[ "$(mce_jp remote deploy '"$SERVE"' modelcache "{.spec.replicas}")" = 2 ]'
md_wait_cond 30 chat Scheduled False/InsufficientGPUs
mdp_jp chat '{.status.conditions[?(@.type=="Scheduled")].message}' | grep -q "0 of 2 GPUs free" ||
	mc_fail "InsufficientGPUs message: $(mdp_jp chat '{.status.conditions[?(@.type=="Scheduled")].message}')"
[ "$(mdp_jp chat '{.status.placements[1].nodeNames[0]}')" != "$(mdp_jp chat '{.status.placements[0].nodeNames[0]}')" ] ||
	mc_fail "two replicas on one 1-GPU node: $(mdp_jp chat '{.status.placements}')"
mc_log "scale 3: a second placement on the other node, the third InsufficientGPUs (0 of 2 GPUs free)"
mcp scale md/chat -n "$NS" --replicas=0 >/dev/null
mc_wait 60 "Deployment removed at 0 replicas" mc_not_found remote deploy "$SERVE" -n modelcache
md_wait_cond 30 chat Available True/ScaledToZero
mc_log "scale 0: the Deployment is removed"
mcp scale md/chat -n "$NS" --replicas=1 >/dev/null
mc_wait 30 "Deployment back at 1 replica" eval '[ "$(mce_jp remote deploy '"$SERVE"' modelcache "{.spec.replicas}")" = 1 ]'

# --- engine arguments
mdargs() { mce_jp remote deploy "$SERVE" modelcache '{.spec.template.spec.containers[0].args}'; }
mcp patch md chat -n "$NS" --type merge -p '{"spec":{"engine":{"command":["llama-server"],"args":["-m","/mnt/models/x.gguf","--port","8000"]}}}' >/dev/null
mc_wait 30 "command: args untouched" eval '[ "$(mdargs)" = '"'"'["-m","/mnt/models/x.gguf","--port","8000"]'"'"' ]'
mcp patch md chat -n "$NS" --type json -p '[{"op":"remove","path":"/spec/engine/command"},{"op":"replace","path":"/spec/engine/args","value":["--model=x"]}]' >/dev/null
mc_wait 30 "--model=x kept, not added" eval '[ "$(mdargs)" = '"'"'["--model=x","--tensor-parallel-size=1","--pipeline-parallel-size=1"]'"'"' ]'
mc_log "command: args untouched; --model=x not overridden"

# --- explicit tensor parallel on a node of 8 (local has none: the cache matches gpu-west only)
md_node remote gpu-8 NVIDIA-L4 24576 8
mcp patch md chat -n "$NS" --type merge -p '{"spec":{"engine":{"args":["--tensor-parallel-size=2"]}}}' >/dev/null
mc_wait 30 "tensor 2 honoured" eval '[ "$(mdp_jp chat "{.status.placements[0].tensor}")" = 2 ]'
[ "$(mce_jp remote deploy "$SERVE" modelcache '{.spec.template.spec.containers[0].resources.limits.nvidia\.com/gpu}')" = 2 ] ||
	mc_fail "tensor 2: $(mce_jp remote deploy "$SERVE" modelcache '{.spec.template.spec.containers[0].resources}')"
mdargs | grep -q -- '"--tensor-parallel-size=2"' || mc_fail "args: $(mdargs)"
mdargs | grep -q -- '--tensor-parallel-size=1' && mc_fail "tensor parallel added twice: $(mdargs)"
mcp patch md chat -n "$NS" --type merge -p '{"spec":{"engine":{"args":["--tensor-parallel-size=5"]}}}' >/dev/null
md_wait_cond 30 chat Scheduled False/InvalidTopology
mdp_jp chat '{.status.conditions[?(@.type=="Scheduled")].message}' | grep -q "does not divide the 8 attention heads" ||
	mc_fail "InvalidTopology message: $(mdp_jp chat '{.status.conditions[?(@.type=="Scheduled")].message}')"
[ "$(mdp_cond chat Stalled)" = True/InvalidTopology ] || mc_fail "Stalled: $(mdp_cond chat Stalled)"
mc_log "--tensor-parallel-size=2 honoured (2 GPUs); 5 on 8 heads: InvalidTopology, Stalled"

# --- deletion: workloads go, then the cache can be deleted (InUse released)
mcp patch md chat -n "$NS" --type merge -p '{"spec":{"engine":{"args":[]}}}' >/dev/null
md_wait_cond 30 chat Available True/MinimumReplicasAvailable
mcp delete mc qwen -n "$NS" --wait=false >/dev/null
mc_wait 30 "the cache waits: InUse" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.conditions[?(@.type==\"InUse\")].status}")" = True ]'
mcr get pvc "$PVC" -n modelcache >/dev/null || mc_fail "the PVC went while in use"
mcp delete md chat -n "$NS" --timeout=60s >/dev/null || mc_fail "md/chat not deleted"
mc_wait 60 "Deployment removed with the ModelDeployment" mc_not_found remote deploy "$SERVE" -n modelcache
mc_wait 60 "the ModelCache is deleted once no ModelDeployment uses it" mc_not_found cp mc qwen -n "$NS"
mc_log "deleted: workloads removed, then the ModelCache went (InUse released)"
# --- a missing cache: ModelCacheResolved=False/NotFound, nothing placed or created
md_apply ghost "  modelCacheRef: {name: nosuch}" "  engine: {image: vllm/vllm-openai:v0.8.5}"
md_wait_cond 30 ghost ModelCacheResolved False/NotFound
md_wait_cond 30 ghost Scheduled Unknown/ModelCacheNotFound
G=modelcache-ml-team-ghost-serve-$(printf 'modelcache-ml-team-ghost-serve' | sha256sum | cut -c1-5)
mc_not_found remote deploy "$G" -n modelcache || mc_fail "a Deployment for a missing cache"
[ -z "$(mdp_jp ghost '{.status.placements[*].cluster}')" ] || mc_fail "placed without a cache: $(mdp_jp ghost '{.status.placements}')"
mc_log "missing cache: ModelCacheResolved=False/NotFound, placement held"
echo PASS
