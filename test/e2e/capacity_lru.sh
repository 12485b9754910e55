#!/usr/bin/env bash
# Issue 16, must show (LRU eviction, reserve, maxCaches): on gpu-west with
# capacity 25Gi, caches A and B (10Gi) Ready, C applied: the least recently
# used (A) is Evicted (PVC and Job gone there, event Evicted with the
# numbers, modelcache_evictions_total{cluster}), C becomes Ready and
# status.cache.usedBytes is 20Gi; capacity 30Gi with reserve 10Gi behaves
# like 20Gi (D evicts B); maxCaches 2 with plenty of bytes: E evicts C. The
# local cluster has no budget and is not involved. Gauges
# modelcache_cluster_cache_bytes follow; ArtifactReady of an Evicted cache
# is False/Evicted, its summary 0/1.
set -euo pipefail
. "$(dirname "$0")/capacity_env.sh"
cap_setup

cap_budget '{"capacity":"25Gi"}'
mc_wait 30 "status.cache.capacityBytes" eval '[ "$(mce_jp cp ic gpu-west "" "{.status.cache.capacityBytes}")" = '"$((25 * GI))"' ]'
hdr=$(mcp get ic gpu-west | head -n1)
row=$(mcp get ic gpu-west --no-headers)
grep -qw USED <<<"$hdr" && grep -qw CAPACITY <<<"$hdr" || mc_fail "ic columns: $hdr"
grep -q "25Gi" <<<"$row" || mc_fail "CAPACITY column does not show 25Gi: $row"

# A then B, each Ready a second apart, so that A is the least recently used
cap_cache a
mce_wait_phase 90 "$NS" a Ready gpu-west
sleep 1.5
cap_cache b
mce_wait_phase 90 "$NS" b Ready gpu-west
cap_wait_used 20
sleep 1.5   # C is demanded strictly after A and B became Ready (second resolution)
mcr get pvc "$(cap_pvc a)" -n modelcache >/dev/null || mc_fail "A's PVC is not on gpu-west"
# render, from the status, predicts the operator's decision in its own words (the same code)
predicted=$(cap_render c)
evicts=$(sed -n 's/^#   evicts \([^ ]*\) (10Gi, last used [^;]*; Ready, not pinned, not in use): /\1 /p' <<<"$predicted")
[ "$(wc -l <<<"$evicts")" = 1 ] && [ "${evicts%% *}" = ml-team/a ] || mc_fail "render predicted: $predicted"
cap_cache c
mce_wait_phase 90 "$NS" a Evicted gpu-west
mce_wait_phase 90 "$NS" c Ready gpu-west
[ "$(mce_phase "$NS" b gpu-west)" = Ready ] || mc_fail "B left Ready: $(mce_phase "$NS" b gpu-west)"
mc_wait 60 "A's PVC gone on gpu-west" mc_not_found remote pvc "$(cap_pvc a)" -n modelcache
mc_wait 60 "A's Job gone on gpu-west" mc_not_found remote job "$(cap_job a)" -n modelcache
msg=$(cap_message a)
want="evicted from gpu-west (least recently used, 10Gi) to make room: ml-team/c needs 10 GiB; gpu-west has 5 GiB free of 25 GiB (reserve 0 GiB)"
[ "$msg" = "$want" ] || mc_fail "A's message: $msg (want: $want)"
[ "$msg" = "${evicts#* }" ] || mc_fail "render predicted A's message as: ${evicts#* } (operator: $msg)"
mc_wait 30 "event Evicted on A" eval '[ "$(mce_events '"$NS"' a Evicted)" = 1 ]'
[ "$(mce_events "$NS" b Evicted)" = 0 ] || mc_fail "B got an Evicted event"
[ "$(mce_events "$NS" c Evicted)" = 0 ] || mc_fail "C got an Evicted event"
mc_wait 30 "A ArtifactReady False/Evicted" eval '[ "$(mce_cond '"$NS"' a ArtifactReady)" = False/Evicted ]'
[ "$(mce_jp cp mc a "$NS" '{.status.summary.ready}')" = 0/1 ] || mc_fail "A summary $(mce_jp cp mc a "$NS" '{.status.summary.ready}')"
v=$(mce_metric 'modelcache_evictions_total{cluster="gpu-west"}')
[ "$v" = 1 ] || mc_fail "modelcache_evictions_total{gpu-west} = $v, want 1"
cap_wait_used 20
[ "$(mce_jp cp ic gpu-west "" '{.status.cache.caches}')" = 2 ] || mc_fail "status.cache.caches $(mce_jp cp ic gpu-west "" '{.status.cache.caches}')"
mc_wait 30 "gauge used = 20Gi" eval '[ "$(mce_metric "modelcache_cluster_cache_bytes{cluster=\"gpu-west\",kind=\"used\"}")" = '"$((20 * GI))"' ]'
v=$(mce_metric 'modelcache_cluster_cache_bytes{cluster="gpu-west",kind="capacity"}')
[ "$v" = "$((25 * GI))" ] || mc_fail "gauge capacity = $v"
grep -q "20Gi" <<<"$(mcp get ic gpu-west --no-headers)" || mc_fail "USED column: $(mcp get ic gpu-west --no-headers)"
# A stays Evicted: nothing is composed for it again
mc_not_found remote pvc "$(cap_pvc a)" -n modelcache || mc_fail "A's PVC came back"
[ "$(mce_phase "$NS" a gpu-west)" = Evicted ] || mc_fail "A left Evicted"
mc_log "C evicted A (least recently used): $msg"

# reserve: capacity 30Gi with 10Gi kept free is a 20Gi budget
cap_budget '{"capacity":"30Gi","reserve":"10Gi"}'
mc_wait 30 "status.cache.reserveBytes" eval '[ "$(mce_jp cp ic gpu-west "" "{.status.cache.reserveBytes}")" = '"$((10 * GI))"' ]'
sleep 1.5
cap_cache d
mce_wait_phase 90 "$NS" b Evicted gpu-west
mce_wait_phase 90 "$NS" d Ready gpu-west
[ "$(mce_phase "$NS" c gpu-west)" = Ready ] || mc_fail "C left Ready"
msg=$(cap_message b)
grep -qF "ml-team/d needs 10 GiB; gpu-west has 0 GiB free of 30 GiB (reserve 10 GiB)" <<<"$msg" || mc_fail "B's message: $msg"
cap_wait_used 20
v=$(mce_metric 'modelcache_cluster_cache_bytes{cluster="gpu-west",kind="reserve"}')
[ "$v" = "$((10 * GI))" ] || mc_fail "gauge reserve = $v"
mc_log "reserve 10Gi of 30Gi: D evicted B"

# maxCaches 2 with plenty of bytes: the third cache evicts the LRU one (C)
cap_budget '{"capacity":"1000Gi","reserve":null,"maxCaches":2}'
mc_wait 30 "status.cache.maxCaches" eval '[ "$(mce_jp cp ic gpu-west "" "{.status.cache.maxCaches}")" = 2 ]'
sleep 1.5
cap_cache e
mce_wait_phase 90 "$NS" c Evicted gpu-west
mce_wait_phase 90 "$NS" e Ready gpu-west
[ "$(mce_phase "$NS" d gpu-west)" = Ready ] || mc_fail "D left Ready"
msg=$(cap_message c)
grep -qF "ml-team/e needs a cache slot; gpu-west holds 2 of maxCaches 2" <<<"$msg" || mc_fail "C's message: $msg"
v=$(mce_metric 'modelcache_evictions_total{cluster="gpu-west"}')
[ "$v" = 3 ] || mc_fail "modelcache_evictions_total{gpu-west} = $v, want 3"
# the local cluster has no budget: every cache there... none was sent there
pvcs=$(mcp get pvc -n "$NS" -o name)
[ -z "$pvcs" ] || mc_fail "caches composed on local: $pvcs"
mc_log "maxCaches 2: E evicted C"
mc_log "PASS capacity_lru"
