#!/usr/bin/env bash
# One slow cluster must not stall the others. The remote simulator is frozen
# (SIGSTOP) for 45 s; a ModelCache matching both clusters is applied while it
# is frozen. Its LOCAL PVC and Job are composed while the remote is still
# frozen (the local cluster is worked first; a request to the frozen one that
# finds no answer marks it disconnected, so no other reconcile waits for it),
# and the remote InferenceCluster goes Connected=False/Unreachable within
# the freeze. After SIGCONT it is Connected again and the cache becomes Ready
# on both clusters without any other change. The order of events is checked,
# not durations.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator
mce_start_operator --ic-recheck-seconds 10

NS=ml-team
PVC=modelcache-ml-team-qwen-17db2
JOB=modelcache-ml-team-qwen-hydrate-256ec
frozen=1
thaw() { [ "$frozen" = 1 ] && kill -CONT "$KS_remote_PID" 2>/dev/null; frozen=0; }
trap 'thaw; mc_cleanup' EXIT
kill -STOP "$KS_remote_PID"
t0=$SECONDS
mc_log "remote simulator frozen (pid $KS_remote_PID)"
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML
mc_wait 40 "the local PVC and Job while the remote is frozen" eval \
	'mcp get pvc '"$PVC"' -n '"$NS"' >/dev/null 2>&1 && mcp get job '"$JOB"' -n '"$NS"' >/dev/null 2>&1'
composed=$((SECONDS - t0))
# a reconcile that waited on the frozen cluster could not be done before its
# 10 s request timeout: the local objects come before that
[ "$composed" -lt 10 ] || mc_fail "the local objects came only after ${composed}s: they waited for the frozen cluster"
mc_log "local PVC and Job composed ${composed}s into the freeze"
unreachable() {
	[ "$(mc_kubectl cp get ic gpu-west -o jsonpath='{.status.conditions[?(@.type=="Connected")].status}/{.status.conditions[?(@.type=="Connected")].reason}')" = False/Unreachable ]
}
mc_wait 44 "gpu-west Connected=False/Unreachable during the freeze" unreachable
[ $((SECONDS - t0)) -lt 45 ] || mc_fail "gpu-west went Unreachable only after the freeze"
mce_wait_phase 60 "$NS" qwen Ready local
mc_log "gpu-west Unreachable, local Ready $((SECONDS - t0))s into the freeze"
while [ $((SECONDS - t0)) -lt 45 ]; do sleep 1; done
thaw
mc_log "remote simulator resumed"
mc_wait 90 "gpu-west Connected again" eval '[ "$(mc_cond cp ic gpu-west Connected)" = True ]'
mce_wait_phase 120 "$NS" qwen Ready gpu-west
mc_kubectl cp wait --for=condition=Ready mc/qwen -n "$NS" --timeout=60s >/dev/null
echo "PASS modelcache_slow_cluster"
