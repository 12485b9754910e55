#!/usr/bin/env bash
# Issue 16, must show (what is never evicted, waiting, bring-back): on
# gpu-west with capacity 25Gi, A pinned and B Ready: C evicts B, not the
# older pinned A. With A pinned and C used by a ModelDeployment placed
# there, D is Pending/InsufficientCapacity with the numbers and nothing is
# composed for it; raising the capacity admits D without touching it. A
# ModelDeployment referencing the Evicted B brings it back (hydrated again,
# evicting the least recently used evictable cache, D). Deleting a cache
# (A) admits a waiting one (E) without touching it.
set -euo pipefail
. "$(dirname "$0")/capacity_env.sh"
cap_setup

cap_budget '{"capacity":"25Gi"}'
mc_wait 30 "status.cache.capacityBytes" eval '[ "$(mce_jp cp ic gpu-west "" "{.status.cache.capacityBytes}")" = '"$((25 * GI))"' ]'
cap_cache a 10Gi '"modelcache.dev/pinned": "true"'
mce_wait_phase 90 "$NS" a Ready gpu-west
sleep 1.5
cap_cache b
mce_wait_phase 90 "$NS" b Ready gpu-west
sleep 1.5
cap_cache c
mce_wait_phase 90 "$NS" b Evicted gpu-west
mce_wait_phase 90 "$NS" c Ready gpu-west
[ "$(mce_phase "$NS" a gpu-west)" = Ready ] || mc_fail "the pinned A left Ready"
mc_wait 60 "B's PVC gone on gpu-west" mc_not_found remote pvc "$(cap_pvc b)" -n modelcache
mc_log "A pinned: C evicted B"

# A pinned, C in use: nothing evictable for D
cap_md serve-c c
sleep 1.5
cap_cache d
mc_wait 60 "D InsufficientCapacity (now $(cap_reason d))" eval '[ "$(cap_reason d)" = InsufficientCapacity ]'
[ "$(mce_phase "$NS" d gpu-west)" = Pending ] || mc_fail "D phase $(mce_phase "$NS" d gpu-west)"
msg=$(cap_message d)
want="needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing evictable: 1 cache in use, 1 pinned"
[ "$msg" = "$want" ] || mc_fail "D's message: $msg (want: $want)"
# render from the live status says the same (the same code decides and words it)
line=$(cap_render d | sed -n 's/^# Pending (InsufficientCapacity): //p')
[ "$line" = "$msg" ] || mc_fail "render says: $line (operator: $msg)"
mc_wait 30 "event InsufficientCapacity on D" eval '[ "$(mce_events '"$NS"' d InsufficientCapacity)" = 1 ]'
mc_not_found remote pvc "$(cap_pvc d)" -n modelcache || mc_fail "a PVC was composed for D"
mc_not_found remote job "$(cap_job d)" -n modelcache || mc_fail "a Job was composed for D"
for x in a c; do [ "$(mce_phase "$NS" "$x" gpu-west)" = Ready ] || mc_fail "$x left Ready"; done
mc_log "D waits: $msg"

# raising the capacity admits D without any change to it
gen=$(mce_jp cp mc d "$NS" '{.metadata.generation}')
cap_budget '{"capacity":"35Gi"}'
mce_wait_phase 90 "$NS" d Ready gpu-west
[ "$(mce_jp cp mc d "$NS" '{.metadata.generation}')" = "$gen" ] || mc_fail "D's spec changed"
for x in a c; do [ "$(mce_phase "$NS" "$x" gpu-west)" = Ready ] || mc_fail "$x left Ready"; done
[ "$(mce_phase "$NS" b gpu-west)" = Evicted ] || mc_fail "B left Evicted without a demand"
cap_wait_used 30
mc_log "capacity 35Gi: D admitted"

# bring-back: a ModelDeployment placed on gpu-west asks for the Evicted B
sleep 1.5
cap_md serve-b b
mce_wait_phase 120 "$NS" b Ready gpu-west
mce_wait_phase 60 "$NS" d Evicted gpu-west
mcr get pvc "$(cap_pvc b)" -n modelcache >/dev/null || mc_fail "B's PVC is not back"
n=$(mce_check_files fixtures/qwen3-0.6b "$(mce_pvc_dir remote modelcache "$(cap_pvc b)")") || mc_fail "B's volume: $n"
for x in a c; do [ "$(mce_phase "$NS" "$x" gpu-west)" = Ready ] || mc_fail "$x left Ready"; done
mc_log "bring-back: B hydrated again ($n files), D evicted for it"

# deleting a cache frees space: a waiting cache is admitted without a change
sleep 1.5
cap_cache e
mc_wait 60 "E InsufficientCapacity (now $(cap_reason e))" eval '[ "$(cap_reason e)" = InsufficientCapacity ]'
msg=$(cap_message e)
want="needs 10 GiB; gpu-west has 5 GiB free of 35 GiB (reserve 0 GiB) and nothing evictable: 2 caches in use, 1 pinned"
[ "$msg" = "$want" ] || mc_fail "E's message: $msg (want: $want)"
gen=$(mce_jp cp mc e "$NS" '{.metadata.generation}')
mcp delete mc a -n "$NS" --wait=false >/dev/null
mce_wait_phase 90 "$NS" e Ready gpu-west
[ "$(mce_jp cp mc e "$NS" '{.metadata.generation}')" = "$gen" ] || mc_fail "E's spec changed"
for x in b c; do [ "$(mce_phase "$NS" "$x" gpu-west)" = Ready ] || mc_fail "$x left Ready"; done
cap_wait_used 30
v=$(mce_metric 'modelcache_evictions_total{cluster="gpu-west"}')
[ "$v" = 2 ] || mc_fail "modelcache_evictions_total{gpu-west} = $v, want 2 (B, then D)"
mc_log "deleting A admitted E"
mc_log "PASS capacity_protect"
