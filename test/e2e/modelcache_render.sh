#!/usr/bin/env bash
# `kubectl modelcache render`: without any cluster, prints the objects the
# operator composes (same pkg/compose code) for the ModelCaches of a file on
# each InferenceCluster given; sizes come from the Hub (--endpoint) when
# spec.size is absent; a model too large for a cluster is reported Skipped.
# With the clusters' status in the cluster file (InferenceClusters with
# spec.cache and status.cache, ModelCaches with status.clusters[],
# ModelDeployments with status.placements[]) it shows the capacity admission
# per cluster: fits (free before/after), evicts the least recently used
# (named, with the operator's Evicted message), InsufficientCapacity with the
# operator's message (pinned + in use: nothing composed), and nothing on a
# cluster without a budget. The wording is the operator's own code
# (pkg/capacity); capacity_lru/capacity_protect compare it with a live operator.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
export MC_FAKEHUB_ROOT="$MC_TMP/hub"
python3 "$MC_SOURCE_DIR/hack/make-fixture-model" --out "$MC_FAKEHUB_ROOT" --only qwen3-0.6b --only gated-model >/dev/null
mc_start_fakehub
cat >"$MC_TMP/ic.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: gpu-west, labels: {region: west}}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-west}}
  namespace: caches
  cache: {storageClassName: nfs-rwx}
  gpus: [{product: NVIDIA-TINY, memory: 3Mi, perNode: 1, nodes: 1}]
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: big, labels: {region: east}}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: big}}
  gpus: [{product: NVIDIA-H100-80GB-HBM3, memory: 80Gi, perNode: 8, nodes: 1}]
YAML
out=$("$MC_BIN/kubectl-modelcache" render -f "$MC_SOURCE_DIR/examples/quickstart.yaml" --cluster-file "$MC_TMP/ic.yaml" \
	--endpoint "$FAKEHUB_URL" --hf-endpoint http://hub.internal 2>"$MC_TMP/render.err") ||
	{ cat "$MC_TMP/render.err" >&2; mc_fail "render exited non-zero"; }
echo "$out" >"$MC_TMP/render.yaml"
# it is YAML kubectl understands (a client-side dry run; kubectl wants a server for discovery only)
mc_start_kubesim ks
mc_kubectl ks create --dry-run=client -o name -f "$MC_TMP/render.yaml" >"$MC_TMP/kinds.txt" 2>"$MC_TMP/kubectl.err" ||
	{ cat "$MC_TMP/kubectl.err" >&2; mc_fail "kubectl cannot read the rendered YAML"; }
grep -q '^persistentvolumeclaim/modelcache-ml-team-qwen-17db2$' "$MC_TMP/kinds.txt" || mc_fail "no qwen PVC in the output"
grep -q '^job.batch/modelcache-ml-team-qwen-hydrate-256ec$' "$MC_TMP/kinds.txt" || mc_fail "no qwen Job in the output"
grep -q '^namespace/caches$' "$MC_TMP/kinds.txt" || mc_fail "no Namespace for the remote cluster"
# the estimate sized the PVC: 3.4 MB x 1.15 -> 1Gi (not the 100Gi default)
grep -q 'storage: 1Gi' "$MC_TMP/render.yaml" || mc_fail "PVC not sized from the estimate"
grep -q 'storage: 100Gi' "$MC_TMP/render.yaml" && mc_fail "a PVC fell back to the default size"
grep -q 'storageClassName: nfs-rwx' "$MC_TMP/render.yaml" || mc_fail "the cluster's storage class is not used"
grep -q -- '- --repo=fixtures/qwen3-0.6b' "$MC_TMP/render.yaml" || mc_fail "hydrator argv missing"
grep -q 'value: http://hub.internal' "$MC_TMP/render.yaml" || mc_fail "HF_ENDPOINT missing"
# qwen (3.4 MB of weights) does not fit the 3 MiB GPU of gpu-west: Skipped there, composed on big
grep -Eq '^# Skipped \(InsufficientVRAM\): model needs ~0\.00[0-9]+ GiB of GPU memory for weights; the largest node in gpu-west has 0\.00293 GiB \(1 x 0\.00293 GiB\)$' \
	"$MC_TMP/render.yaml" || mc_fail "qwen not reported Skipped on gpu-west"
# the gated model's token copy is shown without the token
grep -q 'hf_fixture_gated_token' "$MC_TMP/render.yaml" && mc_fail "render printed the token"
grep -q '^secret/modelcache-ml-team-gated-auth-' "$MC_TMP/kinds.txt" || mc_fail "no token copy for the gated model"
# the same input twice gives the same bytes (GitOps diffs)
out2=$("$MC_BIN/kubectl-modelcache" render -f "$MC_SOURCE_DIR/examples/quickstart.yaml" --cluster-file "$MC_TMP/ic.yaml" \
	--endpoint "$FAKEHUB_URL" --hf-endpoint http://hub.internal 2>/dev/null)
[ "$out" = "$out2" ] || mc_fail "render is not deterministic"
# errors are clear
if "$MC_BIN/kubectl-modelcache" render -f "$MC_TMP/nope.yaml" 2>"$MC_TMP/err.txt"; then mc_fail "a missing file succeeded"; fi
grep -q 'nope.yaml' "$MC_TMP/err.txt" || mc_fail "the error does not name the file"
mc_log "render: $(wc -l <"$MC_TMP/kinds.txt") objects, sized from the Hub, Skipped where too large"

# ---- capacity admission from the status in the cluster file ----
cat >"$MC_TMP/new.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: c, namespace: ml-team}
spec: {source: HuggingFace, huggingFace: {repo: fixtures/qwen3-0.6b}, size: 10Gi}
YAML
state_mc() { # NAME PHASE REASON READY-SINCE [ANNOTATIONS] [LAST-USED] : a ModelCache on every cluster below
	cat <<YAML
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: $1, namespace: ml-team, creationTimestamp: "2026-12-01T00:00:00Z", annotations: {${5:-}}}
spec: {source: HuggingFace, huggingFace: {repo: fixtures/$1}, size: 10Gi}
status:
  size: 10Gi
  ${6:+lastUsedTime: "$6"}
  clusters:
YAML
	for cl in roomy lru protected plain; do
		echo "  - {name: $cl, phase: $2, reason: $3, lastTransitionTime: \"$4\"}"
	done
}
ic_yaml() { # NAME CACHE-SPEC USED-GIB COUNT
	cat <<YAML
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: $1}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: $1}}
  namespace: ns-$1
  cache: {storageClassName: nfs-rwx$2}
status:
  cache: {storageClassName: nfs-rwx, usedBytes: $(($3 << 30)), caches: $4}
YAML
}
{
	ic_yaml roomy ", capacity: 100Gi" 20 2
	ic_yaml lru ", capacity: 25Gi" 20 2
	ic_yaml protected ", capacity: 25Gi" 20 2
	ic_yaml plain "" 20 2
} >"$MC_TMP/clusters.yaml"
# on roomy and lru: a (Ready since 11:00) and b (used at 12:00): a is the least recently used;
# on protected the same two, a pinned and b used by a ModelDeployment placed there
{
	cat "$MC_TMP/clusters.yaml"
	state_mc a Ready Staged 2026-12-01T11:00:00Z
	state_mc b Ready Staged 2026-12-01T10:00:00Z "" 2026-12-01T12:00:00Z
} >"$MC_TMP/state-lru.yaml"
{
	ic_yaml protected ", capacity: 25Gi" 20 2
	state_mc a Ready Staged 2026-12-01T11:00:00Z '"modelcache.dev/pinned": "true"'
	state_mc b Ready Staged 2026-12-01T10:00:00Z
	cat <<'YAML'
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: serve-b, namespace: ml-team, creationTimestamp: "2026-12-01T00:00:00Z"}
spec: {replicas: 1, modelCacheRef: {name: b}, engine: {image: vllm/vllm-openai:v0.8.5}}
status:
  placements: [{replica: 0, cluster: protected, nodes: 1, gpusPerNode: 1, tensor: 1, pipeline: 1}]
YAML
} >"$MC_TMP/state-protected.yaml"
render_state() { # OUT CLUSTER-FILES...
	local out=$1
	shift
	local args=()
	for f in "$@"; do args+=(--cluster-file "$f"); done
	"$MC_BIN/kubectl-modelcache" render -f "$MC_TMP/new.yaml" "${args[@]}" >"$out" 2>"$out.err" ||
		{ cat "$out.err" >&2; mc_fail "render with status exited non-zero"; }
}
# section CLUSTER FILE: the lines rendered for ml-team/c on that cluster
section() {
	awk -v h="# ModelCache ml-team/c on InferenceCluster $1" '/^# ModelCache /{on = ($0 == h)} on' "$2"
}
render_state "$MC_TMP/adm.yaml" "$MC_TMP/state-lru.yaml"
# fits: 80 GiB free on roomy before, 70 after; composed
want="# Admitted: needs 10 GiB; roomy has 80 GiB free of 100 GiB (reserve 0 GiB), 70 GiB after"
section roomy "$MC_TMP/adm.yaml" | grep -qxF "$want" || { section roomy "$MC_TMP/adm.yaml" >&2; mc_fail "roomy: not '$want'"; }
section roomy "$MC_TMP/adm.yaml" | grep -q '^kind: PersistentVolumeClaim$' || mc_fail "roomy: no PVC composed"
# evicts the LRU a (not b), names it with the operator's Evicted message, and composes c
sec=$(section lru "$MC_TMP/adm.yaml")
want="# Admitted after evicting 1 cache (least recently used first): needs 10 GiB; lru has 5 GiB free of 25 GiB (reserve 0 GiB), 5 GiB after"
grep -qxF "$want" <<<"$sec" || { echo "$sec" >&2; mc_fail "lru: not '$want'"; }
want="#   evicts ml-team/a (10Gi, last used 2026-12-01T11:00:00Z; Ready, not pinned, not in use): evicted from lru (least recently used, 10Gi) to make room: ml-team/c needs 10 GiB; lru has 5 GiB free of 25 GiB (reserve 0 GiB)"
grep -qxF "$want" <<<"$sec" || { echo "$sec" >&2; mc_fail "lru: the eviction of a is not named"; }
[ "$(grep -c '^#   evicts ' <<<"$sec")" = 1 ] || mc_fail "lru: more than one eviction"
grep -q '^kind: PersistentVolumeClaim$' <<<"$sec" || mc_fail "lru: no PVC composed after the eviction"
# protected (a pinned, b in use): InsufficientCapacity with the numbers, nothing composed
render_state "$MC_TMP/prot.yaml" "$MC_TMP/state-protected.yaml"
sec=$(section protected "$MC_TMP/prot.yaml")
want="# Pending (InsufficientCapacity): needs 10 GiB; protected has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing evictable: 1 cache in use, 1 pinned"
grep -qxF "$want" <<<"$sec" || { echo "$sec" >&2; mc_fail "protected: not '$want'"; }
grep -q '^kind: ' <<<"$sec" && { echo "$sec" >&2; mc_fail "protected: something was composed"; }
# status.cache counting volumes the ModelCaches given do not explain is said
render_state "$MC_TMP/bare.yaml" "$MC_TMP/clusters.yaml"
grep -qxF "# note: status.cache of lru counts 2 volumes, the ModelCaches given 0: 2 more (20Gi) counted as volumes no ModelCache owns (never evicted)" \
	"$MC_TMP/bare.yaml" || mc_fail "no note about the volumes status.cache counts"
want="# Pending (InsufficientCapacity): needs 10 GiB; lru has 5 GiB free of 25 GiB (reserve 0 GiB) and nothing evictable: 2 caches retained without a ModelCache"
section lru "$MC_TMP/bare.yaml" | grep -qxF "$want" || { section lru "$MC_TMP/bare.yaml" >&2; mc_fail "lru without ModelCaches: not '$want'"; }
# without a budget nothing changes: plain renders the same bytes as with no status at all
ic_yaml plain "" 0 0 | sed '/^status:/,$d' >"$MC_TMP/plain.yaml"
render_state "$MC_TMP/plain-only.yaml" "$MC_TMP/plain.yaml"
section plain "$MC_TMP/adm.yaml" >"$MC_TMP/plain-a.txt"
section plain "$MC_TMP/plain-only.yaml" >"$MC_TMP/plain-b.txt"
[ -s "$MC_TMP/plain-a.txt" ] || mc_fail "no section for plain"
cmp -s "$MC_TMP/plain-a.txt" "$MC_TMP/plain-b.txt" || { diff "$MC_TMP/plain-a.txt" "$MC_TMP/plain-b.txt" >&2; mc_fail "plain changed with status"; }
grep -Eq '^# (Admitted|Pending|note)' "$MC_TMP/plain-a.txt" && mc_fail "an admission line on plain"
# a budget that is not a quantity is a clear error, exit 1
ic_yaml broken ", capacity: lots" 0 0 >"$MC_TMP/broken.yaml"
if "$MC_BIN/kubectl-modelcache" render -f "$MC_TMP/new.yaml" --cluster-file "$MC_TMP/broken.yaml" >/dev/null 2>"$MC_TMP/broken.err"; then
	mc_fail "an invalid spec.cache.capacity rendered with exit 0"
fi
grep -qF 'InferenceCluster broken is invalid: spec.cache.capacity: Invalid value: "lots"' "$MC_TMP/broken.err" ||
	{ cat "$MC_TMP/broken.err" >&2; mc_fail "no clear error for an invalid capacity"; }
mc_log "render: admission shown (fits, evicts ml-team/a, InsufficientCapacity), plain unchanged"
echo "PASS modelcache_render"
