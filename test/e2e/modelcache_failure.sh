#!/usr/bin/env bash
# Issue 7, must show (failure and retry): fakehub corrupts a file, the real
# hydrator detects it, the cluster goes Failed with the hydrator's message in
# status (and a HydrationFailed event); it is re-attempted automatically
# after the first backoff step (--hydration-retry-base 20: 20 s here, 1
# minute by default), the next one twice that; after the fault is removed, the
# modelcache.dev/retry annotation re-runs the hydration at once and the
# cluster becomes Ready.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator -- --fault-corrupt 'fixtures/tinyllama/*.safetensors'
mce_start_operator --hydration-retry-base 20

NS=ml-team
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: tiny, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama, include: ["*.safetensors", "*.json"]}
  clusterSelector: {matchLabels: {region: west}}
YAML
mce_wait_phase 120 "$NS" tiny Failed gpu-west
msg=$(mce_jp cp mc tiny "$NS" '{.status.clusters[?(@.name=="gpu-west")].message}')
[ -n "$msg" ] || mc_fail "Failed without the hydrator's message"
case "$msg" in *"the hydration job failed"*|*"backoff limit"*) mc_fail "message is not the hydrator's: $msg" ;; esac
mc_wait 20 "ArtifactReady=False/Failed" eval '[ "$(mce_cond '"$NS"' tiny ArtifactReady)" = False/Failed ]'
mc_wait 20 "event HydrationFailed" eval '[ "$(mce_events '"$NS"' tiny HydrationFailed)" -ge 1 ]'
attempts=$(mce_jp cp mc tiny "$NS" '{.status.clusters[?(@.name=="gpu-west")].attempts}')
mc_log "Failed (attempt $attempts): $msg"

# automatic retry with backoff: attempt 2 about 20 s later (still failing: the fault is on)
t0=$SECONDS
mc_wait 100 "automatic retry (attempt $((attempts + 1)))" eval \
	'[ "$(mce_jp cp mc tiny '"$NS"' "{.status.clusters[?(@.name==\"gpu-west\")].attempts}")" -gt '"$attempts"' ]'
waited=$((SECONDS - t0))
[ "$waited" -ge 12 ] || mc_fail "retried after ${waited}s, before the 20 s backoff"
mce_wait_phase 60 "$NS" tiny Failed gpu-west
attempts=$(mce_jp cp mc tiny "$NS" '{.status.clusters[?(@.name=="gpu-west")].attempts}')
mc_wait 20 "a second HydrationFailed event" eval '[ "$(mce_events '"$NS"' tiny HydrationFailed)" -ge 2 ]'
mc_log "automatic retry after ~${waited}s: attempt $attempts failed again"

# repair the Hub: restart fakehub on the same port without the fault
port=${FAKEHUB_URL##*:}
mc_stop "$FAKEHUB_PID" TERM
"$MC_BIN/fakehub" --root "$MC_FAKEHUB_ROOT" --port "$port" --port-file "$MC_TMP/fakehub2.port" \
	>"$MC_TMP/fakehub2.log" 2>&1 &
MC_PIDS+=("$!")
mc_wait 10 "fakehub restarted" test -s "$MC_TMP/fakehub2.port"
[ "$(mce_phase "$NS" tiny gpu-west)" = Failed ] || mc_fail "left Failed before the retry was asked (the backoff is 40 s now)"
mcp annotate mc tiny -n "$NS" modelcache.dev/retry=1 >/dev/null
mce_wait_phase 90 "$NS" tiny Ready gpu-west
a2=$(mce_jp cp mc tiny "$NS" '{.status.clusters[?(@.name=="gpu-west")].attempts}')
[ "$a2" -gt "$attempts" ] || mc_fail "attempts did not grow ($attempts -> $a2)"
PVC=modelcache-ml-team-tiny-$(printf 'modelcache-ml-team-tiny' | sha256sum | cut -c1-5)
n=$(mce_check_files fixtures/tinyllama "$(mce_pvc_dir remote modelcache "$PVC")" '*.safetensors' '*.json' 2>&1) ||
	mc_fail "the volume after the retry: $n"
mc_log "retry annotation: attempt $a2 Ready, $n files verified"
echo "PASS modelcache_failure"
