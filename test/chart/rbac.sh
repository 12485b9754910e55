#!/usr/bin/env bash
# RBAC least privilege: the operator runs a scenario that exercises what it
# does (leader election; a local and a remote InferenceCluster, whose
# namespace the operator creates and later one an admin made, which it
# adopts; a gated
# ModelCache whose token is copied and removed; caches hydrated, a
# ModelDeployment served from one (a Deployment), one spanning two nodes (a
# LeaderWorkerSet), both deleted; a cache deleted through its finalizer); the (verb, group, resource) triples it issued, from kubesim's
# request logs minus this script's own kubectl requests, must be exactly
# what manifests/rbac.yaml grants the operator, except the triples listed
# with their reason in rbac_exceptions.txt (rbac_triples.py).
set -euo pipefail
. "$(dirname "$0")/../e2e/modeldeployment_env.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
# every kubectl request of this script is recorded (-v=6) to be told apart
# from the operator's in kubesim's logs
mc_kubectl() {
	local name=$1
	shift
	local v="KS_${name}_KUBECONFIG"
	KUBECONFIG="${!v}" kubectl -v=6 --request-timeout=20s "$@" 2> >(tee -a "$MC_TMP/kubectl-v6.log" |
		grep -v 'round_trippers.go' >&2)
}
mce_setup --no-operator
NS=ml-team
mcp create secret generic hf-token -n "$NS" --from-literal=HF_TOKEN=hf_fixture_gated_token >/dev/null
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: gated, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/gated-model, authSecret: {name: hf-token}}
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML

# from here on, the kubesim logs hold the operator's requests and ours
sleep 0.5
: >"$MC_TMP/kubectl-v6.log"
cp_from=$(($(wc -l <"$MC_TMP/cp-requests.txt") + 1))
remote_from=$(($(wc -l <"$MC_TMP/remote-requests.txt") + 1))
mce_start_operator --leader-elect --leader-election-namespace modelcache-system

mce_wait_phase 120 "$NS" gated Ready local gpu-west
mce_wait_phase 120 "$NS" qwen Ready local gpu-west
AUTH=modelcache-ml-team-gated-auth-$(printf 'modelcache-ml-team-gated-auth' | sha256sum | cut -c1-5)
mc_wait 60 "token copies removed once Ready" eval \
	'! mcr get secret '"$AUTH"' -n modelcache -o name 2>/dev/null | grep -q . && ! mcp get secret '"$AUTH"' -n '"$NS"' -o name 2>/dev/null | grep -q .'
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: chat, namespace: ml-team}
spec:
  replicas: 1
  modelCacheRef: {name: qwen}
  engine: {image: vllm/vllm-openai:v0.8.5, args: [--max-model-len=4096]}
YAML
mc_wait 120 "md/chat Available" eval '[ "$(mce_jp cp md chat '"$NS"' "{.status.conditions[?(@.type==\"Available\")].status}")" = True ]'
mcp delete md chat -n "$NS" --wait=false >/dev/null
mc_wait 60 "md/chat deleted" eval '! mcp get md chat -n '"$NS"' -o name 2>/dev/null | grep -q .'
# a replica that needs two whole nodes: a LeaderWorkerSet on gpu-west
md_lws_crd remote
md_node remote pair-a NVIDIA-A10G 24576 2
md_node remote pair-b NVIDIA-A10G 24576 2
md_apply wide "  modelCacheRef: {name: qwen}" "  engine: {image: vllm/vllm-openai:v0.8.5, args: [--max-model-len=40960]}" \
	"  maxSequences: 768"
mc_wait 150 "a LeaderWorkerSet for md/wide on gpu-west" eval '[ -n "$(mcr get lws -n modelcache -o name 2>/dev/null)" ]'
md_wait_cond 90 wide Available True/MinimumReplicasAvailable
mcp delete md wide -n "$NS" --wait=false >/dev/null
mc_wait 60 "md/wide and its LeaderWorkerSet deleted" eval \
	'! mcp get md wide -n '"$NS"' -o name 2>/dev/null | grep -q . && [ -z "$(mcr get lws -n modelcache -o name 2>/dev/null)" ]'
# The admin moves gpu-west's caches into a namespace they made, with a
# label of their own: the operator adopts it by a patch, keeping the label,
# and stages qwen there.
mcr create namespace models-west >/dev/null
mcr label namespace models-west example.com/team=ml-platform >/dev/null
mcp patch inferencecluster gpu-west --type merge -p '{"spec":{"namespace":"models-west"}}' >/dev/null
mc_wait 60 "models-west adopted (managed-by added, the admin's label kept)" eval \
	'[ "$(mcr get namespace models-west -o jsonpath="{.metadata.labels.app\.kubernetes\.io/managed-by}/{.metadata.labels.example\.com/team}")" = modelcache-operator/ml-platform ]'
mc_wait 60 "qwen's volume in models-west" eval '[ -n "$(mcr get pvc -n models-west -o name 2>/dev/null)" ]'
mce_wait_phase 120 "$NS" qwen Ready gpu-west
mcp delete mc qwen -n "$NS" --wait=false >/dev/null
mc_wait 60 "mc/qwen deleted (finalizer)" eval '! mcp get mc qwen -n '"$NS"' -o name 2>/dev/null | grep -q .'
mc_stop "$OP_op_PID" TERM

tail -n +"$cp_from" "$MC_TMP/cp-requests.txt" >"$MC_TMP/cp-op.txt"
tail -n +"$remote_from" "$MC_TMP/remote-requests.txt" >"$MC_TMP/remote-op.txt"
python3 "$HERE/rbac_triples.py" "$MC_SOURCE_DIR/manifests/rbac.yaml" "$HERE/rbac_exceptions.txt" \
	"$MC_TMP/cp-op.txt" "$MC_TMP/remote-op.txt" -- "$MC_TMP/kubectl-v6.log" ||
	mc_fail "the operator's ClusterRole is not least privilege (see above)"
echo "PASS rbac_least_privilege"
