# Helpers shared by the test/e2e/capacity_*.sh scenarios (sourced, not a test).
# Caches go to gpu-west only (clusterSelector region=west), in ml-team.
#
#   cap_budget JSON              merge-patch gpu-west's spec.cache (e.g. '{"capacity":"25Gi"}')
#   cap_cache NAME [SIZE] [ANNOTATIONS-YAML]   apply a ModelCache of SIZE (default 10Gi)
#   cap_md NAME CACHE            a ModelDeployment referencing CACHE, placed on gpu-west
#   cap_reason NAME / cap_message NAME   reason / message of gpu-west's entry
#   cap_pvc NAME / cap_job NAME  the child names of ml-team/NAME
#   cap_used                     gpu-west's status.cache.usedBytes
#   cap_render NAME [SIZE]       `kubectl modelcache render` of that ModelCache against the live
#                                InferenceClusters, ModelCaches and ModelDeployments (their status):
#                                what admission would decide, before it is applied
. "$(dirname "${BASH_SOURCE[0]}")/modelcache_env.sh"

NS=ml-team
GI=1073741824

cap_budget() {
	mcp patch ic gpu-west --type merge -p "{\"spec\":{\"cache\":$1}}" >/dev/null
}

cap_cache_yaml() { # NAME SIZE ANNOTATIONS
	cat <<YAML
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata:
  name: $1
  namespace: $NS
  annotations: {${3:-}}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  size: ${2:-10Gi}
  clusterSelector: {matchLabels: {region: west}}
YAML
}

cap_cache() { cap_cache_yaml "$1" "${2:-10Gi}" "${3:-}" | mcp apply -f - >/dev/null; }

# A ModelDeployment that references CACHE with a replica placed on gpu-west
# (status.placements, the shape the ModelDeployment controller writes).
cap_md() { # NAME CACHE
	mcp apply -f - >/dev/null <<YAML
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: $1, namespace: $NS}
spec:
  replicas: 1
  modelCacheRef: {name: $2}
  clusterSelector: {matchLabels: {region: west}}
  engine: {image: vllm/vllm-openai:v0.8.5}
YAML
	mcp patch md "$1" -n "$NS" --subresource=status --type merge \
		-p '{"status":{"placements":[{"replica":0,"cluster":"gpu-west","nodes":1,"gpusPerNode":1,"tensor":1,"pipeline":1}]}}' >/dev/null
}

cap_reason() { mce_jp cp mc "$1" "$NS" '{.status.clusters[?(@.name=="gpu-west")].reason}'; }
cap_message() { mce_jp cp mc "$1" "$NS" '{.status.clusters[?(@.name=="gpu-west")].message}'; }
cap_pvc() { python3 - "$NS" "$1" "" <<'PY'
import hashlib, sys
parts = ["modelcache", sys.argv[1], sys.argv[2]] + ([sys.argv[3]] if sys.argv[3] else [])
full = "-".join(parts)
print(full[:57].rstrip("-") + "-" + hashlib.sha256(full.encode()).hexdigest()[:5])
PY
}
cap_job() { python3 - "$NS" "$1" <<'PY'
import hashlib, sys
full = "-".join(["modelcache", sys.argv[1], sys.argv[2], "hydrate"])
print(full[:57].rstrip("-") + "-" + hashlib.sha256(full.encode()).hexdigest()[:5])
PY
}

cap_render() { # NAME [SIZE]
	mcp get ic,mc,md -A -o yaml >"$MC_TMP/state.yaml"
	cap_cache_yaml "$1" "${2:-10Gi}" | "$MC_BIN/kubectl-modelcache" render -f - --cluster-file "$MC_TMP/state.yaml" \
		2>"$MC_TMP/render.err" || { cat "$MC_TMP/render.err" >&2; mc_fail "render of $1 failed"; }
}

cap_used() { mce_jp cp ic gpu-west "" '{.status.cache.usedBytes}'; }

cap_wait_used() { # GIB
	mc_wait 60 "gpu-west usedBytes = $1 GiB (now $(cap_used))" eval '[ "$(cap_used)" = '"$(($1 * GI))"' ]'
}

cap_setup() {
	mce_setup "$@"
}
