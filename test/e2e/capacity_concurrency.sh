#!/usr/bin/env bash
# Issue 16, must show (serialized admission): on gpu-west with capacity 50Gi
# and reserve 0, ten 10Gi caches applied in one `kubectl apply` with nothing
# evictable (none Ready yet): exactly five are composed there and five are
# Pending/InsufficientCapacity, and it stays so after the five are Ready (a
# cache never evicts one applied with it: they were demanded together).
# Three rounds.
set -euo pipefail
. "$(dirname "$0")/capacity_env.sh"
cap_setup
cap_budget '{"capacity":"50Gi","reserve":"0"}'
mc_wait 30 "status.cache.capacityBytes" eval '[ "$(mce_jp cp ic gpu-west "" "{.status.cache.capacityBytes}")" = '"$((50 * GI))"' ]'

count_reason() { # REASON -> how many of the ten have it on gpu-west
	local n=0 i
	for i in $(seq 0 9); do [ "$(cap_reason "c$i")" = "$1" ] && n=$((n + 1)); done
	echo "$n"
}
count_volumes() { mcr get pvc -n modelcache -l modelcache.dev/cache-namespace="$NS" --no-headers 2>/dev/null | wc -l; }
all_decided() { [ "$(count_reason InsufficientCapacity)" = 5 ] && [ "$(count_volumes)" = 5 ]; }
all_ready_five() {
	local n=0 i
	for i in $(seq 0 9); do [ "$(mce_phase "$NS" "c$i" gpu-west)" = Ready ] && n=$((n + 1)); done
	[ "$n" = 5 ]
}

for round in 1 2 3; do
	for i in $(seq 0 9); do [ "$i" = 0 ] || echo ---; cap_cache_yaml "c$i" 10Gi; done >"$MC_TMP/ten.yaml"
	mcp apply -f "$MC_TMP/ten.yaml" >/dev/null
	mc_wait 90 "round $round: five composed, five InsufficientCapacity (now $(count_volumes) volumes, $(count_reason InsufficientCapacity) waiting)" all_decided
	mc_wait 120 "round $round: the five Ready" all_ready_five
	before=$(mcr get pvc -n modelcache -l modelcache.dev/cache-namespace="$NS" -o name | sort)
	# a resync later (the informers resync every 30 s) nothing has moved
	mcp annotate mc --all -n "$NS" touched="$round" --overwrite >/dev/null
	mc_wait 30 "round $round: still five waiting after the touch" eval '[ "$(count_reason InsufficientCapacity)" = 5 ]'
	after=$(mcr get pvc -n modelcache -l modelcache.dev/cache-namespace="$NS" -o name | sort)
	[ "$before" = "$after" ] || mc_fail "round $round: the volumes changed: $before -> $after"
	all_ready_five || mc_fail "round $round: a Ready cache was evicted by one applied with it"
	[ "$(cap_used)" = $((50 * GI)) ] || mc_fail "round $round: usedBytes $(cap_used)"
	mc_log "round $round: 5 composed, 5 InsufficientCapacity: $(cap_message "$(for i in $(seq 0 9); do [ "$(cap_reason "c$i")" = InsufficientCapacity ] && echo "c$i" && break; done)")"
	mcp delete mc --all -n "$NS" --wait=true --timeout=120s >/dev/null
	mc_wait 60 "round $round: the volumes gone" eval '[ "$(count_volumes)" = 0 ]'
done
echo "PASS capacity_concurrency"
