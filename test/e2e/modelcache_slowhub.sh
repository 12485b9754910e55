#!/usr/bin/env bash
# A slow Hub for one repository stalls only the caches of that repository:
# estimates run off the reconcile workers. fakehub answers every request for
# fixtures/tinyllama after 30 s (.fakehub.json delayMs); with ONE reconcile
# worker, a cache of that repository is applied first and a cache of another
# repository right after it. The second reaches Ready while the first is
# still Estimating (with the estimate inside the worker, the only worker
# would wait out the slow repository's requests first, so the second cache
# could not be Ready before the first was estimated). The causal order is
# what is checked; no duration is asserted.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator
set_delay() { # MS: fakehub reads .fakehub.json on every request
	python3 - "$MC_FAKEHUB_ROOT/fixtures/tinyllama/.fakehub.json" "$1" <<'PY'
import json, os, sys
p = sys.argv[1]
meta = json.load(open(p)) if os.path.exists(p) else {}
meta["delayMs"] = int(sys.argv[2])
json.dump(meta, open(p + ".tmp", "w"))
os.replace(p + ".tmp", p)
PY
}
set_delay 30000
mce_start_operator --workers 1

NS=ml-team
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: slow, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama}
  clusterSelector: {matchLabels: {region: east}}
YAML
mc_wait 60 "the slow cache Estimating" eval '[ "$(mce_cond '"$NS"' slow ArtifactReady)" = False/Estimating ]'
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: fast, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  clusterSelector: {matchLabels: {region: east}}
YAML
t0=$SECONDS
mce_wait_phase 120 "$NS" fast Ready local
took=$((SECONDS - t0))
slow=$(mce_cond "$NS" slow ArtifactReady)
[ "$slow" = False/Estimating ] || mc_fail "the slow cache is $slow when the fast one is Ready: it did not wait for the slow Hub"
mc_kubectl cp wait --for=condition=Ready mc/fast -n "$NS" --timeout=10s >/dev/null
mc_log "fast Ready after ${took}s while slow is still Estimating"
# the Hub recovers: the slow cache gets there without any other change
# (its estimate's request in flight still takes its 30 s)
set_delay 0
mce_wait_phase 180 "$NS" slow Ready local
echo "PASS modelcache_slowhub"
