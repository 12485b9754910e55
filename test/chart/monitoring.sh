#!/usr/bin/env bash
# manifests/monitoring (kustomize component): with the Prometheus Operator's
# CRDs (a small test copy in testdata/) applied to kubesim, the component
# rendered with manifests/ is accepted by `kubectl apply --dry-run=server`;
# the copy has teeth (a bad `for` duration is refused); the alerts in the
# PrometheusRule are exactly the ones docs/operations.md documents.
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"
mc_init
SRC=$MC_SOURCE_DIR
mc_start_kubesim cp
mc_apply_crds cp
K() { mc_kubectl cp "$@"; }
mc_retry K apply -f "$(dirname "$0")/testdata/prometheus-operator-crds.yaml" >/dev/null
mc_wait 20 "Prometheus Operator CRDs served" K get servicemonitors,prometheusrules -A

# manifests/ with the component, as a user enables it
mkdir -p "$MC_TMP/kust"
rel=$(realpath --relative-to="$MC_TMP/kust" "$SRC/manifests")
cat >"$MC_TMP/kust/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$rel]
components: [$rel/monitoring]
YAML
out=$(kubectl kustomize --load-restrictor LoadRestrictionsNone "$MC_TMP/kust") || mc_fail "kustomize: $out"
printf '%s\n' "$out" >"$MC_TMP/all.yaml"
for k in ServiceMonitor PrometheusRule; do
	grep -q "^kind: $k\$" "$MC_TMP/all.yaml" || mc_fail "no $k rendered"
done
K create namespace modelcache-system >/dev/null
res=$(K apply --dry-run=server -f "$MC_TMP/all.yaml" 2>&1) || mc_fail "dry-run=server refused: $res"
grep -q 'servicemonitor.monitoring.coreos.com/modelcache-operator created (server dry run)' <<<"$res" ||
	mc_fail "ServiceMonitor not accepted: $res"
grep -q 'prometheusrule.monitoring.coreos.com/modelcache-operator created (server dry run)' <<<"$res" ||
	mc_fail "PrometheusRule not accepted: $res"

# the ServiceMonitor selects the metrics Service by its labels and port name
python3 - "$MC_TMP/all.yaml" <<'PY' || mc_fail "ServiceMonitor does not select the metrics Service"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
svcs = [d for d in docs if d["kind"] == "Service" and d["metadata"]["namespace"] in sm["spec"]["namespaceSelector"]["matchNames"]
        and all(d["metadata"].get("labels", {}).get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items())]
assert len(svcs) == 1, [s["metadata"]["name"] for s in svcs]
ports = [p["name"] for p in svcs[0]["spec"]["ports"]]
assert all(e["port"] in ports for e in sm["spec"]["endpoints"]), ports
print("   ServiceMonitor -> Service %s port %s" % (svcs[0]["metadata"]["name"], sm["spec"]["endpoints"][0]["port"]))
PY

# the test copy of the schema refuses what the Prometheus Operator's refuses
sed 's/for: 15m/for: 15 minutes/' "$SRC/manifests/monitoring/prometheusrule.yaml" >"$MC_TMP/bad.yaml"
if res=$(K apply --dry-run=server -f "$MC_TMP/bad.yaml" 2>&1); then
	mc_fail "a PrometheusRule with for: '15 minutes' was accepted: $res"
fi
grep -q 'spec.groups\[0\].rules\[0\].for' <<<"$res" || mc_fail "bad duration refused without naming the field: $res"

# alerts in the rule == alerts in docs/operations.md
rule=$(grep -oE 'alert: [A-Za-z]+' "$SRC/manifests/monitoring/prometheusrule.yaml" | awk '{print $2}' | sort)
doc=$(sed -n '/^## Alerts/,/^## /p' "$SRC/docs/operations.md" | grep -oE '^\| `[A-Za-z]+`' | tr -d '|` ' | sort)
[ -n "$rule" ] && [ "$rule" = "$doc" ] || mc_fail "alerts differ: rule [$(echo $rule)] docs [$(echo $doc)]"
echo "PASS monitoring ($(echo "$rule" | wc -l) alerts)"
