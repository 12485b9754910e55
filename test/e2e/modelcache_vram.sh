#!/usr/bin/env bash
# Issue 7, must show (VRAM precheck): a model larger than the remote
# cluster's largest node is Skipped/InsufficientVRAM there with both byte
# counts and the message of docs/concepts.md "VRAM precheck", nothing is composed there, and
# modelcache_hydrations_skipped_total counts it; with
# modelcache.dev/multi-node-sharded: "true" it hydrates and
# modelcache_precheck_bypass_total{reason="multi_node_sharded"} counts it.
# The remote's inventory is declared small (spec.gpus, 2 nodes x 1 x 2 MiB)
# so that a 3.4 MB fixture is "too large" without downloading gigabytes.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --remote-gpus '  gpus: [{product: NVIDIA-TINY, memory: 2Mi, perNode: 1, nodes: 2}]'

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
mce_wait_phase 60 "$NS" qwen Skipped gpu-west
reason=$(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="gpu-west")].reason}')
msg=$(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="gpu-west")].message}')
est=$(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="gpu-west")].estimatedBytes}')
avail=$(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="gpu-west")].availableBytes}')
[ "$reason" = InsufficientVRAM ] || mc_fail "reason $reason"
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["weight_bytes"])' \
	"$MC_FAKEHUB_ROOT/fixtures/qwen3-0.6b/.fixture-truth.json")
[ "$est" = "$want" ] || mc_fail "estimatedBytes $est, want the fixture's weight bytes $want"
[ "$avail" = 2097152 ] || mc_fail "availableBytes $avail, want 2 MiB"
want_msg=$(python3 -c 'import sys; print("model needs ~%.3g GiB of GPU memory for weights; the largest node in gpu-west has 0.00195 GiB (1 x 0.00195 GiB)" % (int(sys.argv[1]) / 2**30))' "$want")
[ "$msg" = "$want_msg" ] || mc_fail "message: $msg (want: $want_msg)"
mce_wait_phase 90 "$NS" qwen Ready local
# the reconciles that wrote Skipped and then Ready composed nothing on gpu-west
mc_not_found remote pvc "$PVC" -n modelcache || mc_fail "a PVC was composed on the Skipped cluster"
jobs=$(mcr get jobs -n modelcache -o name)
[ -z "$jobs" ] || mc_fail "a Job was composed on the Skipped cluster: $jobs"
mc_wait 20 "summary 1/2" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.summary.ready}")" = 1/2 ]'
mc_wait 20 "ArtifactReady False/Partial" eval '[ "$(mce_cond '"$NS"' qwen ArtifactReady)" = False/Partial ]'
mc_wait 10 "event InsufficientVRAM" eval '[ "$(mce_events '"$NS"' qwen InsufficientVRAM)" = 1 ]'
v=$(mce_metric 'modelcache_hydrations_skipped_total{cluster="gpu-west",reason="vram_insufficient"}')
[ "$v" = 1 ] || mc_fail "modelcache_hydrations_skipped_total = $v, want 1"
mc_log "Skipped on gpu-west: $msg; metric counted"
# a cache Skipped on every cluster it matches is Stalled (kstatus): only a
# user action changes anything, so kubectl wait for Ready would time out
mcp label ic gpu-west vram-test=west --overwrite >/dev/null
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: west-only, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  clusterSelector: {matchLabels: {vram-test: west}}
YAML
mce_wait_phase 60 "$NS" west-only Skipped gpu-west
mcp wait --for=condition=Stalled mc/west-only -n "$NS" --timeout=60s >/dev/null || mc_fail "west-only not Stalled: $(mce_cond "$NS" west-only Stalled)"
[ "$(mce_cond "$NS" west-only Stalled)" = True/Skipped ] || mc_fail "Stalled: $(mce_cond "$NS" west-only Stalled)"
[ "$(mce_cond "$NS" west-only Ready)" = False/Skipped ] || mc_fail "Ready: $(mce_cond "$NS" west-only Ready)"
[ "$(mce_cond "$NS" qwen Stalled)" = False/Partial ] || mc_fail "a Partial cache is Stalled: $(mce_cond "$NS" qwen Stalled)"
mcp delete mc west-only -n "$NS" --wait=true --timeout=60s >/dev/null
mc_log "Skipped everywhere: Stalled=True/Skipped, Ready=False"

mcp annotate mc qwen -n "$NS" modelcache.dev/multi-node-sharded=true >/dev/null
mce_wait_phase 90 "$NS" qwen Ready gpu-west
n=$(mce_check_files fixtures/qwen3-0.6b "$(mce_pvc_dir remote modelcache "$PVC")") || mc_fail "remote volume: $n"
v=$(mce_metric 'modelcache_precheck_bypass_total{reason="multi_node_sharded"}')
[ "$v" = 1 ] || mc_fail "modelcache_precheck_bypass_total{reason=multi_node_sharded} = $v, want 1"
mc_wait 20 "summary 2/2" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.summary.ready}")" = 2/2 ]'
mc_log "multi-node-sharded: hydrated on gpu-west, bypass counted"
echo "PASS modelcache_vram"
