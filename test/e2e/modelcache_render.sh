#!/usr/bin/env bash
# `kubectl modelcache render`: without any cluster, prints the objects the
# operator composes (same pkg/compose code) for the ModelCaches of a file on
# each InferenceCluster given; sizes come from the Hub (--endpoint) when
# spec.size is absent; a model too large for a cluster is reported Skipped.
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
echo "PASS modelcache_render"
