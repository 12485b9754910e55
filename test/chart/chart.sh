#!/usr/bin/env bash
# charts/modelcache-operator rendered by Helm's template engine
# (tools/helm-template: Go text/template + sprig + Helm's template contract,
# built offline from Debian's packages), for four value sets; every object is
# accepted by `kubectl apply --dry-run=server` against kubesim with the CRDs
# (ours, and test copies of cert-manager's); the default render equals
# `kubectl kustomize manifests/` for the objects both ship (compare.py); the
# chart's values.schema.json rejects bad values with Helm's message.
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"
mc_init
SRC=$MC_SOURCE_DIR
HERE=$(cd "$(dirname "$0")" && pwd)
CHART=$SRC/charts/modelcache-operator
HT=$MC_TMP/helm-template
"$SRC/tools/helm-template/build.sh" "$HT" || mc_fail "tools/helm-template does not build"
render() { "$HT" "$CHART" --name modelcache-operator -n modelcache-system "$@"; }

mc_start_kubesim cp
mc_apply_crds cp
K() { mc_kubectl cp "$@"; }
mc_retry K apply -f "$HERE/testdata/cert-manager-crds.yaml" >/dev/null
mc_wait 20 "cert-manager CRDs served" K get issuers,certificates -A
K create namespace modelcache-system >/dev/null

# apply_set NAME ARGS...: render, then every object through --dry-run=server
apply_set() {
	local name=$1
	shift
	render "$@" >"$MC_TMP/$name.yaml" 2>"$MC_TMP/$name.err" || mc_fail "render ($name): $(cat "$MC_TMP/$name.err")"
	local n
	n=$(grep -c '^kind: ' "$MC_TMP/$name.yaml" || true)
	[ "$n" -ge 1 ] || mc_fail "render ($name): no objects"
	local out
	out=$(K apply --dry-run=server -f "$MC_TMP/$name.yaml" 2>&1) || mc_fail "kubesim refused the $name render: $out"
	local ok
	ok=$(grep -c '(server dry run)$' <<<"$out" || true)
	[ "$ok" = "$n" ] || mc_fail "$name: $n objects rendered, $ok accepted: $out"
	echo "   $name: $n objects accepted"
}

echo "== 1. four value sets, applied with --dry-run=server"
apply_set default
apply_set certmanager --set webhook.certManager.enabled=true
apply_set minimal --set webhook.enabled=false,rbac.create=false,metrics.service.enabled=false \
	--set serviceAccount.create=false --set-string serviceAccount.name=modelcache-sa
apply_set custom -f "$HERE/testdata/values-custom.yaml"

kinds() { grep '^kind: ' "$1" | awk '{print $2}' | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' '; }
k=$(kinds "$MC_TMP/default.yaml")
[ "$k" = "ClusterRole=3 ClusterRoleBinding=1 Deployment=1 MutatingWebhookConfiguration=1 Role=1 RoleBinding=1 Service=2 ServiceAccount=1 " ] ||
	mc_fail "default render: $k"
grep -q '^kind: Certificate$' "$MC_TMP/certmanager.yaml" || mc_fail "certManager: no Certificate"
grep -q 'cert-manager.io/inject-ca-from: modelcache-system/modelcache-webhook-cert' "$MC_TMP/certmanager.yaml" ||
	mc_fail "certManager: no CA injection"
k=$(kinds "$MC_TMP/minimal.yaml")
[ "$k" = "Deployment=1 " ] || mc_fail "minimal render: $k"
grep -q -- '- --webhook-port=0' "$MC_TMP/minimal.yaml" || mc_fail "minimal: the webhook is not disabled in the flags"
grep -q 'serviceAccountName: modelcache-sa' "$MC_TMP/minimal.yaml" || mc_fail "minimal: serviceAccount.name not used"
python3 - "$MC_TMP/custom.yaml" <<'PY' || mc_fail "custom values not applied"
import sys, yaml
docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
dep = docs[("Deployment", "modelcache-operator")]
spec = dep["spec"]["template"]["spec"]
c = spec["containers"][0]
assert dep["spec"]["replicas"] == 2
assert c["image"] == "registry.example/ml/modelcache-operator:0.1.0-rc1" and c["imagePullPolicy"] == "Always", c["image"]
for a in ("--log-format=text", "--log-level=debug", "--workers=4", "--qps=50", "--burst=80",
          "--hf-endpoint=https://hub-mirror.example", "--default-cache-size=200Gi", "--ic-recheck-seconds=10",
          "--hydrator-image=registry.example/ml/modelcache-operator:0.1.0-rc1"):
    assert a in c["args"], (a, c["args"])
assert c["resources"]["limits"]["memory"] == "1Gi"
assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"} and spec["tolerations"][0]["key"] == "dedicated"
assert spec["imagePullSecrets"] == [{"name": "regcred"}] and spec["priorityClassName"] == "system-cluster-critical"
assert dep["spec"]["template"]["metadata"]["labels"]["team"] == "ml-platform"
wh = docs[("MutatingWebhookConfiguration", "modelcache-operator")]["webhooks"][0]
assert wh["failurePolicy"] == "Ignore" and wh["timeoutSeconds"] == 5 and wh["clientConfig"]["caBundle"] == "Y2EtYnVuZGxl"
assert "monitoring" in wh["namespaceSelector"]["matchExpressions"][0]["values"]
print("   custom: every value reached its object")
PY

echo "== 2. the default render == kubectl kustomize manifests/ (objects both ship)"
kubectl kustomize "$SRC/manifests" >"$MC_TMP/kustomize.yaml" || mc_fail "kustomize manifests/"
"$MC_BIN/modelcache-operator" run --help >"$MC_TMP/run-help.txt" 2>&1 || true
python3 "$HERE/compare.py" "$MC_TMP/default.yaml" "$MC_TMP/kustomize.yaml" "$MC_TMP/run-help.txt" ||
	mc_fail "the chart and manifests/ ship different objects"

echo "== 3. values.schema.json"
if out=$(render --set operator.logFormat=yaml 2>&1); then
	mc_fail "logFormat=yaml was accepted"
fi
grep -q 'operator.logFormat: operator.logFormat must be one of the following: "text", "json"' <<<"$out" ||
	mc_fail "unclear schema message: $out"
if out=$(render --set replicaCount=two --set webhok.enabled=false 2>&1); then
	mc_fail "a string replicaCount and an unknown key were accepted"
fi
grep -q "values don't meet the specifications of the schema(s) in the following chart(s):" <<<"$out" || mc_fail "message: $out"
grep -q 'replicaCount: Invalid type. Expected: integer, given: string' <<<"$out" || mc_fail "message: $out"
grep -q 'Additional property webhok is not allowed' <<<"$out" || mc_fail "message: $out"
for f in "$HERE/testdata/values-custom.yaml" "$CHART/values.yaml"; do
	render -f "$f" >/dev/null 2>"$MC_TMP/err" || mc_fail "$(basename "$f") rejected by the schema: $(cat "$MC_TMP/err")"
done
echo "   bad values rejected with Helm's message: $(head -n 3 <<<"$out" | tail -n 1)"

echo "== 4. the engine's contract: required, tpl, include, toYaml/fromYaml, lookup"
T=$MC_TMP/contract
mkdir -p "$T/templates"
printf 'apiVersion: v2\nname: contract\nversion: 1.2.3\nappVersion: "9"\n' >"$T/Chart.yaml"
printf 'greeting: hello\nlist: [b, a]\nnested: {k: v}\ntext: "{{ .Values.greeting }} {{ .Release.Name }}"\n' >"$T/values.yaml"
cat >"$T/templates/_h.tpl" <<'TPL'
{{- define "contract.name" -}}{{ .Chart.Name }}-{{ .Chart.Version }}{{- end -}}
TPL
cat >"$T/templates/cm.yaml" <<'TPL'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "contract.name" . }}
  namespace: {{ .Release.Namespace }}
data:
  tpl: {{ tpl .Values.text . | quote }}
  yaml: {{ toYaml .Values.nested | quote }}
  roundtrip: {{ (fromYaml (toYaml .Values.nested)).k | quote }}
  sorted: {{ sortAlpha .Values.list | join "," | quote }}
  lookup: {{ lookup "v1" "Secret" "default" "x" | len | quote }}
  service: {{ .Release.Service | quote }}
  missing: "{{ .Values.nope }}"
  template: {{ .Template.Name | quote }}
  app: {{ .Chart.AppVersion | quote }}
TPL
out=$("$HT" "$T" --name rel -n ns --set greeting=hi) || mc_fail "contract chart: $out"
for want in 'name: contract-1.2.3' 'namespace: ns' 'tpl: "hi rel"' 'yaml: "k: v"' 'roundtrip: "v"' \
	'sorted: "a,b"' 'lookup: "0"' 'service: "Helm"' 'missing: ""' 'template: "contract/templates/cm.yaml"' 'app: "9"' \
	'# Source: contract/templates/cm.yaml'; do
	grep -qF -- "$want" <<<"$out" || mc_fail "contract: '$want' not in: $out"
done
printf '{{ required "image.repository is required" .Values.image }}\n' >"$T/templates/req.yaml"
if out=$("$HT" "$T" 2>&1); then mc_fail "required accepted a missing value: $out"; fi
grep -q 'image.repository is required' <<<"$out" || mc_fail "required: $out"
echo "PASS chart (4 value sets, manifests/ parity, schema, engine contract)"
