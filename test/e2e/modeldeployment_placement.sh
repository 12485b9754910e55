#!/usr/bin/env bash
# Issue 14, must show (placement, kubesim --ready-deployments on two clusters):
# a model that needs 4 GPUs of 24 GiB on a node of 8 gets tensor parallel 4
# (one pod with 4 GPUs); one with 6 attention heads that needs 4 GPUs gets 6;
# one that needs two whole nodes gets a LeaderWorkerSet of size 2 (cache
# mount and args in the leader AND worker templates) once the cluster serves
# LeaderWorkerSets (the CRD installed after the fact is picked up), while the
# other cluster's line says LeaderWorkerSetMissing; too big everywhere is
# Scheduled=False/InsufficientVRAM with the numbers and nothing created; pods
# holding GPUs push a replica to the other cluster, then InsufficientGPUs
# with the counts, and deleting them lets it schedule; a 32 GiB unified-memory
# cluster refuses a 22 GiB requirement with 32 GiB x 0.67; a cache in the
# HuggingFaceCache layout is served with --model=<repo> and HF_HUB_CACHE.
#
# Memory is driven through the KV cache of the small fixture model
# (tiny Qwen3 shapes: 2 layers x 4 KV heads x head_dim 64 in bf16 = 2 KiB per
# token, 80 MiB per sequence at its 40960-token maximum) with maxSequences.
set -euo pipefail
. "$(dirname "$0")/modeldeployment_env.sh"
mce_setup
NS=$MD_NS
PVC=modelcache-ml-team-qwen-17db2
serve() { echo "modelcache-ml-team-$1-serve-$(printf 'modelcache-ml-team-%s-serve' "$1" | sha256sum | cut -c1-5)"; }
pmsg() { mdp_jp "$1" '{.status.placements[0].message}'; }
smsg() { mdp_jp "$1" '{.status.conditions[?(@.type=="Scheduled")].message}'; }
gpus_of() { # KS KIND NAME NS
	mc_kubectl "$1" get "$2" "$3" -n "$4" -o jsonpath='{.spec.template.spec.containers[0].resources.limits.nvidia\.com/gpu}'
}

# a six-head variant of the fixture (6 query and 6 KV heads: 3 KiB per token)
cp -r "$MC_FAKEHUB_ROOT/fixtures/qwen3-0.6b" "$MC_FAKEHUB_ROOT/fixtures/six-heads"
python3 - "$MC_FAKEHUB_ROOT/fixtures/six-heads/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["num_attention_heads"] = 6; c["num_key_value_heads"] = 6
json.dump(c, open(sys.argv[1], "w"), indent=2)
PY

mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML
mce_wait_phase 120 "$NS" qwen Ready local gpu-west

# --- a node of 8 x 24 GiB: 60 GiB of KV cache needs 4 GPUs (2 would need 31 GiB each)
md_node remote big-8 NVIDIA-L4 24576 8
md_apply tp4 "  modelCacheRef: {name: qwen}" "  engine: {image: vllm/vllm-openai:v0.8.5}" \
	"  contextLength: 40960" "  maxSequences: 768"
S=$(serve tp4)
mc_wait 60 "Deployment $S on gpu-west" mcr get deploy "$S" -n modelcache
[ "$(mdp_jp tp4 '{.status.placements[0].tensor}')" = 4 ] || mc_fail "tensor: $(mdp_jp tp4 '{.status.placements}')"
[ "$(gpus_of remote deploy "$S" modelcache)" = 4 ] || mc_fail "GPUs per pod: $(gpus_of remote deploy "$S" modelcache)"
[ "$(mce_jp remote deploy "$S" modelcache '{.spec.replicas}')" = 1 ] || mc_fail "one pod"
mce_jp remote deploy "$S" modelcache '{.spec.template.spec.containers[0].args}' | grep -q -- '--tensor-parallel-size=4' ||
	mc_fail "args: $(mce_jp remote deploy "$S" modelcache '{.spec.template.spec.containers[0].args}')"
pmsg tp4 | grep -q "gpu-west: tensor parallel 4 needs 16 GiB per GPU of 21.6 GiB: placed on big-8." || mc_fail "message: $(pmsg tp4)"
md_wait_cond 60 tp4 Available True/MinimumReplicasAvailable
mc_log "60 GiB of KV cache on a node of 8: tensor parallel 4, one pod with 4 GPUs"
mcp delete md tp4 -n "$NS" --timeout=60s >/dev/null
mc_wait 60 "tp4 removed" mc_not_found remote deploy "$S" -n modelcache

# --- 6 attention heads: 4 GPUs would do, 4 and 5 do not divide 6: 6
md_apply six "  model: {huggingFace: {repo: fixtures/six-heads}}" "  engine: {image: vllm/vllm-openai:v0.8.5}" \
	"  contextLength: 40960" "  maxSequences: 615"
S=$(serve six)
mc_wait 60 "Deployment $S" mcr get deploy "$S" -n modelcache
[ "$(mdp_jp six '{.status.placements[0].tensor}')" = 6 ] || mc_fail "six heads: $(mdp_jp six '{.status.placements}')"
[ "$(gpus_of remote deploy "$S" modelcache)" = 6 ] || mc_fail "GPUs per pod: $(gpus_of remote deploy "$S" modelcache)"
mce_jp remote deploy "$S" modelcache '{.spec.template.spec.containers[0].args}' | grep -q -- '--model=fixtures/six-heads' ||
	mc_fail "no cache: --model is the repo: $(mce_jp remote deploy "$S" modelcache '{.spec.template.spec.containers[0].args}')"
mc_log "6 attention heads needing 4 GPUs: tensor parallel 6"
mcp delete md six -n "$NS" --timeout=60s >/dev/null
mc_wait 60 "six removed" mc_not_found remote deploy "$S" -n modelcache

# --- two whole nodes of 2 x 24 GiB on each cluster; LeaderWorkerSets served nowhere yet
mcr delete node big-8 >/dev/null
for ks in cp remote; do md_node "$ks" pair-a NVIDIA-A10G 24576 2; md_node "$ks" pair-b NVIDIA-A10G 24576 2; done
md_apply wide "  modelCacheRef: {name: qwen}" "  engine: {image: vllm/vllm-openai:v0.8.5, args: [--max-model-len=40960]}" \
	"  maxSequences: 768"
S=$(serve wide)
md_wait_cond 60 wide Scheduled False/LeaderWorkerSetMissing
smsg wide | grep -q "gpu-west: 2 nodes x 2 GPUs (tensor 2, pipeline 2) needs 16 GiB per GPU of 21.6 GiB but the cluster does not serve leaderworkerset.x-k8s.io/v1" ||
	mc_fail "message: $(smsg wide)"
mc_log "no cluster serves LeaderWorkerSets: Scheduled=False/LeaderWorkerSetMissing"
md_lws_crd remote
mc_wait 150 "LeaderWorkerSet $S on gpu-west once its CRD is there" mcr get lws "$S" -n modelcache
mcr get lws "$S" -n modelcache -o json >"$MC_TMP/lws.json"
python3 - "$MC_TMP/lws.json" "$PVC" <<'PY' || mc_fail "LeaderWorkerSet shape"
import json, sys
l = json.load(open(sys.argv[1])); pvc = sys.argv[2]
t = l["spec"]["leaderWorkerTemplate"]
assert t["size"] == 2 and l["spec"]["replicas"] == 1, (t["size"], l["spec"]["replicas"])
for k in ("leaderTemplate", "workerTemplate"):
    s = t[k]["spec"]; c = s["containers"][0]
    assert c["args"][0] == "--model=/mnt/models", (k, c["args"])
    assert "--tensor-parallel-size=2" in c["args"] and "--pipeline-parallel-size=2" in c["args"], (k, c["args"])
    assert {"name": "model-cache", "mountPath": "/mnt/models"} in c["volumeMounts"], (k, c["volumeMounts"])
    assert {v["name"]: v for v in s["volumes"]}["model-cache"]["persistentVolumeClaim"]["claimName"] == pvc, k
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "2", (k, c["resources"])
PY
md_wait_cond 60 wide Scheduled True/Placed
pmsg wide | grep -q "local: 2 nodes x 2 GPUs (tensor 2, pipeline 2) needs 16 GiB per GPU of 21.6 GiB but the cluster does not serve leaderworkerset.x-k8s.io/v1 (LeaderWorkerSetMissing)." ||
	mc_fail "placement message: $(pmsg wide)"
mc_not_found cp deploy "$S" -n "$NS" || mc_fail "a Deployment on local"
md_wait_cond 60 wide Available True/MinimumReplicasAvailable
mc_log "two whole nodes: LeaderWorkerSet of size 2 on gpu-west (mount and args on leader and workers); local: LeaderWorkerSetMissing"
mcp delete md wide -n "$NS" --timeout=60s >/dev/null
mc_wait 60 "wide removed" mc_not_found remote lws "$S" -n modelcache

# --- too big everywhere: nothing created, the numbers said
md_apply huge "  modelCacheRef: {name: qwen}" "  engine: {image: vllm/vllm-openai:v0.8.5}" \
	"  contextLength: 40960" "  maxSequences: 60000"
S=$(serve huge)
md_wait_cond 60 huge Scheduled False/InsufficientVRAM
m=$(smsg huge)
for want in "The model requires approximately 4688.5 GiB of VRAM" "all GPUs combined need to provide at least 5209.5 GiB" \
	"gpu-west: the largest node has 48 GiB (2 x 24 GiB)" "local: the largest node has 48 GiB (2 x 24 GiB)"; do
	echo "$m" | grep -qF "$want" || mc_fail "InsufficientVRAM message lacks \"$want\": $m"
done
mc_not_found remote deploy "$S" -n modelcache && mc_not_found remote lws "$S" -n modelcache && mc_not_found cp deploy "$S" -n "$NS" ||
	mc_fail "something was created for a model that fits nowhere"
[ "$(mdp_cond huge Available)" = False/InsufficientVRAM ] || mc_fail "Available: $(mdp_cond huge Available)"
mc_wait 20 "a Warning event InsufficientVRAM on md/huge" eval '[ "$(mcp get events.events.k8s.io -n '"$NS"' -o json | python3 -c "
import json, sys
print(sum(1 for e in json.load(sys.stdin)[\"items\"] if e.get(\"reason\") == \"InsufficientVRAM\" and e.get(\"type\") == \"Warning\"
          and (e.get(\"regarding\") or {}).get(\"kind\") == \"ModelDeployment\" and (e.get(\"regarding\") or {}).get(\"name\") == \"huge\"))")" = 1 ]'
mc_log "too big everywhere: InsufficientVRAM with the required GiB, the budget and each cluster's largest node"
mcp delete md huge -n "$NS" --timeout=60s >/dev/null

# --- free GPUs: pods take every GPU of gpu-west; the replica goes to local
mcr create namespace busy >/dev/null
for n in gpu-1 gpu-2; do md_gpu_pod remote busy "hold-$n" "$n" 1; done
for n in pair-a pair-b; do md_gpu_pod remote busy "hold-$n" "$n" 2; done
md_apply small "  modelCacheRef: {name: qwen}" "  engine: {image: vllm/vllm-openai:v0.8.5, args: [--max-model-len=4096]}"
S=$(serve small)
mc_wait 60 "Deployment $S on local" mcp get deploy "$S" -n "$NS"
[ "$(mdp_jp small '{.status.placements[0].cluster}')" = local ] || mc_fail "placed on $(mdp_jp small '{.status.placements}')"
pmsg small | grep -q "gpu-west: 1 GPU needs .* but no node has 1 GPU free (0 of 6 GPUs free)." || mc_fail "message: $(pmsg small)"
# local: our replica holds 1 GPU of pair-a, pods take the 3 others; a second replica fits nowhere
[ "$(mdp_jp small '{.status.placements[0].nodeNames[0]}')" = pair-a ] || mc_fail "best fit: $(mdp_jp small '{.status.placements}')"
md_gpu_pod cp "$NS" hold-a pair-a 1
md_gpu_pod cp "$NS" hold-b pair-b 2
mcp scale md/small -n "$NS" --replicas=2 >/dev/null
md_wait_cond 60 small Scheduled False/InsufficientGPUs
m=$(smsg small)
echo "$m" | grep -q "gpu-west: .*(0 of 6 GPUs free)" && echo "$m" | grep -q "local: .*(0 of 4 GPUs free)" ||
	mc_fail "InsufficientGPUs message: $m"
[ "$(mce_jp cp deploy "$S" "$NS" '{.spec.replicas}')" = 1 ] || mc_fail "the first replica moved"
mc_log "pods hold the GPUs: the replica went to local, the next one is InsufficientGPUs (0 of 6, 0 of 4 free)"
mcr delete pod -n busy hold-gpu-1 hold-gpu-2 --wait=false >/dev/null
mc_wait 60 "the second replica on gpu-west once the pods are gone" mcr get deploy "$S" -n modelcache
md_wait_cond 60 small Scheduled True/Placed
[ "$(mce_jp cp deploy "$S" "$NS" '{.spec.replicas}')" = 1 ] || mc_fail "replica 0 left local"
mc_log "pods deleted: the second replica is placed on gpu-west"
mcp delete md small -n "$NS" --timeout=60s >/dev/null
mc_wait 60 "small removed from local" mc_not_found cp deploy "$S" -n "$NS"
mc_wait 60 "small removed from gpu-west" mc_not_found remote deploy "$S" -n modelcache

# --- a cache in the Hugging Face cache layout: the repo id and the offline cache env
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen-hf, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b, layout: HuggingFaceCache}
  clusterSelector: {matchLabels: {region: west}}
YAML
md_apply hfc "  modelCacheRef: {name: qwen-hf}" "  engine: {image: vllm/vllm-openai:v0.8.5}"
S=$(serve hfc)
mc_wait 120 "Deployment $S once the hf-cache volume is Ready" mcr get deploy "$S" -n modelcache
c='{.spec.template.spec.containers[0]'
[ "$(mce_jp remote deploy "$S" modelcache "$c.args[0]}")" = --model=fixtures/qwen3-0.6b ] ||
	mc_fail "args: $(mce_jp remote deploy "$S" modelcache "$c.args}")"
[ "$(mce_jp remote deploy "$S" modelcache "$c.env[?(@.name==\"HF_HUB_CACHE\")].value}")" = /mnt/models ] &&
	[ "$(mce_jp remote deploy "$S" modelcache "$c.env[?(@.name==\"HF_HUB_OFFLINE\")].value}")" = 1 ] ||
	mc_fail "env: $(mce_jp remote deploy "$S" modelcache "$c.env}")"
mc_log "HuggingFaceCache layout: --model=<repo>, HF_HUB_CACHE=/mnt/models, HF_HUB_OFFLINE=1"
mcp delete md hfc -n "$NS" --timeout=60s >/dev/null

# --- unified memory: 32 GiB x 0.67 = 21.4 GiB cannot hold 22 GiB
mc_start_kubesim mac --request-log "$MC_TMP/mac-requests.txt"
mc_storage_class mac
mcp -n modelcache-system create secret generic mac --from-file=kubeconfig="$KS_mac_KUBECONFIG" >/dev/null
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata:
  name: mac
  labels: {kind: unified}
spec:
  connection:
    kubeconfigSecretRef: {namespace: modelcache-system, name: mac}
  gpus:
  - {product: Apple-M2-Max, memory: 32Gi, perNode: 1, nodes: 1, unifiedMemory: true}
YAML
mc_wait 60 "InferenceCluster mac Connected" eval '[ "$(mc_cond cp ic mac Connected)" = True ]'
md_apply mac "  model: {huggingFace: {repo: fixtures/qwen3-0.6b}}" "  clusterSelector: {matchLabels: {kind: unified}}" \
	"  engine: {image: vllm/vllm-openai:v0.8.5}" "  contextLength: 40960" "  maxSequences: 268"
md_wait_cond 60 mac Scheduled False/InsufficientVRAM
m=$(smsg mac)
for want in "The model requires approximately 22.0 GiB of VRAM" \
	"mac: unified memory 32 GiB: budget 21.4 GiB (32 GiB x 0.67 - 0 GiB in use) but the model needs 22 GiB: does not fit."; do
	echo "$m" | grep -qF "$want" || mc_fail "unified message lacks \"$want\": $m"
done
mc_log "unified memory: 32 GiB x 0.67 - 0 in use = 21.4 GiB refuses 22 GiB"
echo PASS
