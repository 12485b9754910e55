#!/usr/bin/env bash
# crds/ and examples/ against the real kubectl and the kubesim API server:
#   1. kubectl apply --dry-run=client -f crds/ parses all three CRDs;
#   2. kubectl apply -f crds/ serves the kinds (short names, category);
#   3. kubectl apply -f examples/ creates every example, schema defaults applied;
#   4. printer columns, invalid objects rejected naming the field (422),
#      status and scale subresources of ModelDeployment;
#   5. manifests/ renders with kustomize (also with the cert-manager
#      component) and applies; every operator flag it uses exists;
# The Helm chart is rendered by Helm's engine in test/chart/chart.sh.
# Needs build/bin/kubesim (built by the default build): a missing kubesim is a
# failure, not a skip.
set -euo pipefail

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:-$SRC/build/bin}
KUBESIM=$BIN/kubesim

fail() {
	echo "FAIL: $*" >&2
	if [ -n "${TMP:-}" ] && [ -f "$TMP/kubesim.log" ]; then
		echo "--- kubesim log (tail)" >&2
		tail -n 20 "$TMP/kubesim.log" >&2
	fi
	exit 1
}

[ -x "$KUBESIM" ] || fail "$KUBESIM is not built (cmake --build <dir> --target kubesim)"
command -v kubectl >/dev/null || fail "kubectl not found"

TMP=$(mktemp -d)
KS_PID=""
cleanup() {
	if [ -n "$KS_PID" ]; then
		kill "$KS_PID" 2>/dev/null || true
		wait "$KS_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

"$KUBESIM" --port 0 --kubeconfig-out "$TMP/kubeconfig" --data-dir "$TMP/data" >"$TMP/kubesim.log" 2>&1 &
KS_PID=$!
for _ in $(seq 100); do
	[ -s "$TMP/kubeconfig" ] && break
	kill -0 "$KS_PID" 2>/dev/null || fail "kubesim exited early"
	sleep 0.1
done
[ -s "$TMP/kubeconfig" ] || fail "kubesim wrote no kubeconfig within 10 s"
export KUBECONFIG=$TMP/kubeconfig
K() { kubectl --request-timeout=20s "$@"; }

echo "== 1. client dry-run parses the CRDs"
out=$(K apply --dry-run=client -f "$SRC/crds/" 2>&1) || fail "dry-run failed: $out"
for crd in inferenceclusters modelcaches modeldeployments; do
	grep -q "$crd.modelcache.dev created (dry run)" <<<"$out" || fail "dry-run did not accept $crd: $out"
done
crds=$(K get crd -o name) || fail "kubectl get crd failed"
if grep -q modelcache.dev <<<"$crds"; then fail "client dry-run created something: $crds"; fi

echo "== 2. the CRDs serve our kinds"
K apply -f "$SRC/crds/" >/dev/null || fail "kubectl apply -f crds/ failed"
res=$(K api-resources --api-group=modelcache.dev --no-headers) || fail "api-resources failed"
grep -Eq '^inferenceclusters +ic +modelcache.dev/v1alpha1 +false +InferenceCluster' <<<"$res" || fail "ic not served: $res"
grep -Eq '^modelcaches +mc +modelcache.dev/v1alpha1 +true +ModelCache' <<<"$res" || fail "mc not served: $res"
grep -Eq '^modeldeployments +md +modelcache.dev/v1alpha1 +true +ModelDeployment' <<<"$res" || fail "md not served: $res"
cats=$(K get crd modelcaches.modelcache.dev -o jsonpath='{.spec.names.categories[0]}')
[ "$cats" = modelcache-all ] || fail "category is '$cats'"

echo "== 3. examples apply, with schema defaults"
out=$(K apply -f "$SRC/examples/" 2>&1) || fail "kubectl apply -f examples/ failed: $out"
[ "$(K get ic --no-headers | wc -l)" -ge 2 ] || fail "expected >= 2 InferenceClusters"
[ "$(K get mc -n ml-team --no-headers | wc -l)" -ge 3 ] || fail "expected >= 3 ModelCaches"
K get md -n ml-team qwen-chat >/dev/null || fail "ModelDeployment qwen-chat missing"
v=$(K get mc -n ml-team qwen3-0-6b -o jsonpath='{.spec.precheck.vram}/{.spec.precheck.safetyFactor}/{.spec.deletionPolicy}')
[ "$v" = "Enabled/1.0/Delete" ] || fail "ModelCache defaults not applied: $v"
v=$(K get mc -n ml-team llama-3-2-1b -o jsonpath='{.spec.huggingFace.revision}')
[ "$v" = main ] || fail "revision default not applied: '$v'"
v=$(K get ic local -o jsonpath='{.spec.namespace}')
[ "$v" = modelcache ] || fail "InferenceCluster namespace default not applied: '$v'"
v=$(K get ic gpu-west -o jsonpath='{.spec.gpus[0].unifiedMemory}')
[ "$v" = false ] || fail "gpus[].unifiedMemory default not applied: '$v'"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.spec.engine.port}/{.spec.topology.tensor}/{.spec.contextLength}')
[ "$v" = "8000/0/0" ] || fail "ModelDeployment defaults not applied: $v"

echo "== 3b. kubectl names: the kind's singular is not swallowed by the category"
# kubectl expands categories before kinds; with the category 'modelcache'
# these failed ("you must specify only one resource")
out=$(K get modelcache -n ml-team qwen3-0-6b --no-headers 2>&1) || fail "kubectl get modelcache NAME: $out"
grep -q '^qwen3-0-6b ' <<<"$out" || fail "kubectl get modelcache NAME printed: $out"
out=$(K describe modelcache -n ml-team qwen3-0-6b 2>&1) || fail "kubectl describe modelcache NAME: $out"
grep -q '^Kind: *ModelCache' <<<"$out" || fail "kubectl describe modelcache NAME printed: $out"
out=$(K get modelcache -A --no-headers 2>&1) || fail "kubectl get modelcache -A: $out"
grep -qi inferencecluster <<<"$out" && fail "kubectl get modelcache -A lists InferenceClusters: $out"
out=$(K get modelcache-all -A 2>&1) || fail "kubectl get modelcache-all -A: $out"
for kind in inferencecluster.modelcache.dev/local modelcache.modelcache.dev/qwen3-0-6b modeldeployment.modelcache.dev/qwen-chat; do
	grep -q "$kind" <<<"$out" || fail "kubectl get modelcache-all -A lacks $kind: $out"
done

echo "== 4. printer columns"
out=$(K get mc -n ml-team) || fail "kubectl get mc -n ml-team failed"
hdr=${out%%$'\n'*}
for col in NAME SOURCE READY STATUS SIZE AGE; do
	grep -qw "$col" <<<"$hdr" || fail "mc column $col missing: $hdr"
done
grep -q "Qwen/Qwen3-0.6B" <<<"$(K get mc -n ml-team qwen3-0-6b --no-headers)" || fail "SOURCE column empty"
out=$(K get md -n ml-team) || fail "kubectl get md -n ml-team failed"
hdr=${out%%$'\n'*}
for col in REPLICAS READY CACHE STATUS AGE; do
	grep -qw "$col" <<<"$hdr" || fail "md column $col missing: $hdr"
done
out=$(K get ic) || fail "kubectl get ic failed"
hdr=${out%%$'\n'*}
for col in CONNECTED VERSION GPUS CACHES USED CAPACITY AGE; do
	grep -qw "$col" <<<"$hdr" || fail "ic column $col missing: $hdr"
done

echo "== 5. invalid objects are rejected naming the field"
bad=$(cat <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: bad, namespace: ml-team}
spec:
  source: S3
  huggingFace: {repo: "a/b/c"}
  size: 20Gx
  deletionPolicy: Orphan
YAML
)
if out=$(K apply -f - <<<"$bad" 2>&1); then fail "an invalid ModelCache was accepted"; fi
# enum violations block the CEL rules, as on the apiserver (hasBlockingErr)
for field in 'spec.source: Unsupported value: "S3"' 'spec.deletionPolicy: Unsupported value: "Orphan"' \
	'<nil>: Invalid value: "null": some validation rules were not checked because the object was invalid'; do
	grep -qF "$field" <<<"$out" || fail "rejection does not name '$field': $out"
done
# without them the CEL rules speak, with readable messages
bad=${bad/source: S3/source: HuggingFace}
bad=${bad/deletionPolicy: Orphan/deletionPolicy: Delete}
if out=$(K apply -f - <<<"$bad" 2>&1); then fail "an invalid ModelCache was accepted"; fi
for field in 'spec.huggingFace.repo: Invalid value: "string": must be "org/name" or "name"' \
	'spec.size: Invalid value: "": not a quantity'; do
	grep -qF "$field" <<<"$out" || fail "rejection does not name '$field': $out"
done
if out=$(K apply -f - 2>&1 <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: bad, namespace: ml-team}
spec:
  modelCacheRef: {name: qwen3-0-6b}
  engine: {port: 70000}
YAML
); then fail "an invalid ModelDeployment was accepted"; fi
grep -qF 'spec.engine.image: Required value' <<<"$out" || fail "missing image not reported: $out"
grep -qF 'spec.engine.port' <<<"$out" || fail "bad port not reported: $out"

echo "== 6. status and scale subresources"
K patch md -n ml-team qwen-chat --subresource=status --type=merge \
	-p '{"status":{"replicas":{"desired":2,"ready":1}}}' >/dev/null || fail "status patch failed"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.status.replicas.ready}')
[ "$v" = 1 ] || fail "status.replicas.ready is '$v'"
K scale md -n ml-team qwen-chat --replicas=3 >/dev/null || fail "kubectl scale failed"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.spec.replicas}')
[ "$v" = 3 ] || fail "spec.replicas after scale is '$v'"
# Scale.status.replicas comes from statusReplicasPath .status.replicas.ready
v=$(K get md -n ml-team qwen-chat --subresource=scale -o jsonpath='{.kind}/{.spec.replicas}/{.status.replicas}')
[ "$v" = "Scale/3/1" ] || fail "scale subresource reads '$v', want Scale/3/1"
# a spec write through /status is ignored, a status write through the object too
K patch md -n ml-team qwen-chat --type=merge -p '{"status":{"replicas":{"ready":9}}}' >/dev/null ||
	fail "main-resource patch failed"
v=$(K get md -n ml-team qwen-chat -o jsonpath='{.status.replicas.ready}')
[ "$v" = 1 ] || fail "status changed through the main resource: '$v'"

echo "== 7. manifests/ (kustomize) render and apply"
out=$(K kustomize "$SRC/manifests") || fail "kubectl kustomize manifests/ failed"
kinds=$(grep '^kind:' <<<"$out" | sort | uniq -c | awk '{print $3 "=" $1}' | tr '\n' ' ')
for want in ClusterRole=3 ClusterRoleBinding=1 CustomResourceDefinition=3 Deployment=1 \
	MutatingWebhookConfiguration=1 Namespace=1 Role=1 RoleBinding=1 Service=2 ServiceAccount=1; do
	grep -qw "$want" <<<"$kinds" || fail "manifests render: want $want, got $kinds"
done
grep -q 'image: modelcache-operator:0.1.0' <<<"$out" || fail "operator image not set"
grep -q 'path: /mutate-v1-pod' <<<"$out" || fail "webhook path missing"
out=$(K apply -k "$SRC/manifests" 2>&1) || fail "kubectl apply -k manifests/ failed: $out"
v=$(K get deploy -n modelcache-system modelcache-operator -o jsonpath='{.spec.template.spec.containers[0].livenessProbe.httpGet.path}{.spec.template.spec.containers[0].readinessProbe.httpGet.path}')
[ "$v" = "/healthz/readyz" ] || fail "probes: '$v'"
v=$(K get mutatingwebhookconfiguration modelcache-operator -o jsonpath='{.webhooks[0].clientConfig.service.namespace}/{.webhooks[0].clientConfig.service.name}')
[ "$v" = "modelcache-system/modelcache-webhook" ] || fail "webhook service: '$v'"
# the cert-manager component renders (cert-manager itself is not served here)
mkdir -p "$TMP/kz"
cp -r "$SRC/manifests" "$TMP/kz/manifests"
cp -r "$SRC/crds" "$TMP/kz/crds"
sed -i 's/^# components:/components:/; s/^# - certmanager/- certmanager/' "$TMP/kz/manifests/kustomization.yaml"
out=$(K kustomize "$TMP/kz/manifests") || fail "kustomize with the certmanager component failed"
grep -q '^kind: Certificate' <<<"$out" || fail "certmanager component: no Certificate"
grep -q 'cert-manager.io/inject-ca-from: modelcache-system/modelcache-webhook-cert' <<<"$out" ||
	fail "certmanager component: CA injection annotation missing"

echo "== 8. every operator flag in manifests/ and the chart exists"
OP=$BIN/modelcache-operator
[ -x "$OP" ] || fail "$OP is not built"
help=$("$OP" run --help 2>&1) || true
flags=$(grep -ohE -- '- --[a-z-]+' "$SRC/manifests/deployment.yaml" \
	"$SRC/charts/modelcache-operator/templates/deployment.yaml" | sed 's/^- //' | sort -u)
[ -n "$flags" ] || fail "no flags found in the deployments"
for f in $flags; do
	grep -qE -- "(^|[[:space:]])$f([[:space:]=\[]|$)" <<<"$help" || fail "operator has no flag $f (run --help)"
done

echo "PASS crds_kubectl"
