#!/usr/bin/env bash
# A volume sized from a failed estimate. The Hub is down when a ModelCache is
# applied: the estimate fails, the PVC is composed at --default-cache-size
# (5Gi here) with SizeEstimated=False, and the hydration fails. Once the Hub
# is back, the estimate is asked again (a transient failure backs off from
# 10 s) and says 1Gi: the volume, into which nothing was hydrated, is
# recreated at 1Gi, the cache becomes Ready, and SIZE shows the PVC's
# requested size at every step.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator
port=${FAKEHUB_URL##*:}
mc_stop "$FAKEHUB_PID" TERM
mce_start_operator --default-cache-size 5Gi

NS=ml-team
PVC=modelcache-ml-team-qwen-17db2
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  clusterSelector: {matchLabels: {region: east}}
YAML
mc_wait 60 "SizeEstimated=False while the Hub is down" eval '[ "$(mce_cond '"$NS"' qwen SizeEstimated)" = False/EstimateFailed ]'
mc_wait 60 "the PVC at the default size" eval '[ "$(mce_jp cp pvc '"$PVC"' '"$NS"' "{.spec.resources.requests.storage}")" = 5Gi ]'
mc_wait 30 "SIZE 5Gi" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.size}")" = 5Gi ]'
uid1=$(mce_jp cp pvc "$PVC" "$NS" '{.metadata.uid}')
mce_wait_phase 120 "$NS" qwen Failed local

# the Hub comes back on the same address
"$MC_BIN/fakehub" --root "$MC_FAKEHUB_ROOT" --port "$port" --port-file "$MC_TMP/fakehub2.port" \
	>"$MC_TMP/fakehub2.log" 2>&1 &
MC_PIDS+=("$!")
mc_wait 10 "fakehub restarted" test -s "$MC_TMP/fakehub2.port"
mc_wait 120 "the PVC recreated at 1Gi" eval \
	'[ "$(mce_jp cp pvc '"$PVC"' '"$NS"' "{.spec.resources.requests.storage}")" = 1Gi ]'
uid2=$(mce_jp cp pvc "$PVC" "$NS" '{.metadata.uid}')
[ "$uid1" != "$uid2" ] || mc_fail "the PVC was not recreated"
mce_wait_phase 120 "$NS" qwen Ready local
[ "$(mce_jp cp mc qwen "$NS" '{.status.size}')" = 1Gi ] || mc_fail "SIZE is not the PVC's size"
[ "$(mce_cond "$NS" qwen SizeEstimated)" = True/Estimated ] || mc_fail "SizeEstimated after the Hub came back"
mce_check_files fixtures/qwen3-0.6b "$(mce_pvc_dir cp "$NS" "$PVC")" >/dev/null || mc_fail "the recreated volume's files"
echo "PASS modelcache_resize"
