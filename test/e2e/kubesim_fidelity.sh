#!/usr/bin/env bash
# kubesim refuses what a real kube-apiserver refuses, with the same code and
# message (test/kubesim/README.md, "Fidelity checklist"):
#   1. an application/apply-patch+yaml body with json-c's "\/" escape: 400
#      "error decoding YAML: error converting YAML to JSON: yaml: found unknown
#      escape character" (go-yaml v2 has no \/); the same body as a JSON
#      merge patch is fine (JSON has \/);
#   2. a namespaced create in a namespace that does not exist: 404
#      namespaces "x" not found, also for kubectl apply --dry-run=server of a
#      Namespace and objects in it (dry-run persists nothing);
#   3. dry-run persists nothing: create, apply, delete, deletecollection;
#   4. an events.k8s.io/v1 Event and its core/v1 view are one object (same
#      uid, name, resourceVersion), written, listed and watched through
#      either API; kubectl get events prints the apiserver's columns;
#   5. CRD CEL rules (x-kubernetes-validations) are evaluated: kubectl apply
#      -f examples/ succeeds, the rules' violations are refused with the
#      CRDs' messages, the old InferenceCluster CRD (spec.connection.local an
#      object without properties) makes its objects fail with the apiserver's
#      "invalid object type" error, and a CRD whose rule kubesim cannot
#      evaluate is refused ("unsupported CEL").
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
mc_start_kubesim cp
K() { mc_kubectl cp "$@"; }
URL=$KS_cp_URL

# --- 1. apply bodies are YAML with go-yaml v2's escapes
K create namespace fid >/dev/null
body='{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"slash","namespace":"fid","labels":{"app.kubernetes.io\/managed-by":"x"}}}'
code=$(curl -s -o "$MC_TMP/slash.json" -w '%{http_code}' -X PATCH \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary "$body" \
	"$URL/api/v1/namespaces/fid/configmaps/slash?fieldManager=fid")
[ "$code" = 400 ] || mc_fail "apply body with \\/: HTTP $code, want 400: $(cat "$MC_TMP/slash.json")"
msg=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["reason"]+"|"+d["message"])' "$MC_TMP/slash.json")
want='BadRequest|error decoding YAML: error converting YAML to JSON: yaml: found unknown escape character'
[ "$msg" = "$want" ] || mc_fail "apply body with \\/: got '$msg', want '$want'"
out=$(K get configmap slash -n fid 2>&1 || true)
grep -q 'NotFound\|not found' <<<"$out" || mc_fail "refused apply created the object: $out"
# on a later line go-yaml names it
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slash\n  labels: {a: "b\\/c"}\n' >"$MC_TMP/slash.yaml"
code=$(curl -s -o "$MC_TMP/slash2.json" -w '%{http_code}' -X PATCH \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary "@$MC_TMP/slash.yaml" \
	"$URL/api/v1/namespaces/fid/configmaps/slash?fieldManager=fid")
[ "$code" = 400 ] && grep -q 'yaml: line 5: found unknown escape character' "$MC_TMP/slash2.json" ||
	mc_fail "multi-line apply body: HTTP $code $(cat "$MC_TMP/slash2.json")"
# the same document without the escape is applied; JSON patches keep JSON's \/
good=${body//\\\//\/}
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
	--data-binary "$good" "$URL/api/v1/namespaces/fid/configmaps/slash?fieldManager=fid")
[ "$code" = 201 ] || mc_fail "apply without \\/: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'Content-Type: application/merge-patch+json' \
	--data-binary '{"metadata":{"labels":{"example.com\/k":"v"}}}' "$URL/api/v1/namespaces/fid/configmaps/slash")
[ "$code" = 200 ] || mc_fail "merge patch with \\/: HTTP $code"
[ "$(K get cm slash -n fid -o jsonpath='{.metadata.labels.example\.com/k}')" = v ] || mc_fail "merge patch label"
# kubectl's own server-side apply goes through (it sends JSON without \/)
K apply --server-side --field-manager=fid -f - >/dev/null <<'YAML' || mc_fail "kubectl apply --server-side"
apiVersion: v1
kind: ConfigMap
metadata: {name: ssa, namespace: fid, labels: {app.kubernetes.io/managed-by: kubectl}}
data: {path: /mnt/models}
YAML
[ "$(K get cm ssa -n fid -o jsonpath='{.data.path}')" = /mnt/models ] || mc_fail "ssa data"

# --- 2. namespaced create in a missing namespace
out=$(K create configmap x -n no-such-ns 2>&1 || true)
grep -q 'namespaces "no-such-ns" not found' <<<"$out" || mc_fail "create in a missing namespace: $out"
cat >"$MC_TMP/ns-and-cm.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: dry-ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: in-dry-ns, namespace: dry-ns}
YAML
out=$(K apply --dry-run=server -f "$MC_TMP/ns-and-cm.yaml" 2>&1 || true)
grep -q 'namespace/dry-ns created (server dry run)' <<<"$out" || mc_fail "dry-run namespace: $out"
grep -q 'namespaces "dry-ns" not found' <<<"$out" || mc_fail "dry-run object in a dry-run namespace: $out"
out=$(K get namespace dry-ns 2>&1 || true)
grep -q 'NotFound\|not found' <<<"$out" || mc_fail "dry-run persisted the namespace: $out"

# --- 3. dry-run persists nothing
K create configmap dc-1 -n fid --from-literal=a=1 >/dev/null
K create configmap dc-2 -n fid --from-literal=a=2 >/dev/null
K label cm dc-1 dc-2 -n fid group=dc >/dev/null
K create configmap dry -n fid --dry-run=server >/dev/null
out=$(K get cm dry -n fid 2>&1 || true)
grep -q 'NotFound\|not found' <<<"$out" || mc_fail "create --dry-run=server persisted: $out"
K delete cm dc-1 -n fid --dry-run=server >/dev/null
K get cm dc-1 -n fid >/dev/null || mc_fail "delete --dry-run=server deleted"
code=$(curl -s -o "$MC_TMP/dc.json" -w '%{http_code}' -X DELETE \
	"$URL/api/v1/namespaces/fid/configmaps?labelSelector=group%3Ddc&dryRun=All")
[ "$code" = 200 ] || mc_fail "deletecollection dry-run: HTTP $code $(cat "$MC_TMP/dc.json")"
n=$(K get cm -n fid -l group=dc -o name | wc -l)
[ "$n" = 2 ] || mc_fail "deletecollection dry-run removed objects: $n of 2 remain"

# --- 4. one Event, two APIs
K create -f - >/dev/null <<'YAML' || mc_fail "create events.k8s.io/v1 Event"
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: ev-1, namespace: fid}
eventTime: "2026-12-03T10:00:00.000000Z"
reportingController: example.com/fid
reportingInstance: fid-1
action: Probe
reason: Probing
type: Normal
note: hello from fid
regarding: {kind: ConfigMap, name: ssa, namespace: fid, apiVersion: v1}
YAML
v1=$(K get --raw /apis/events.k8s.io/v1/namespaces/fid/events/ev-1)
core=$(K get --raw /api/v1/namespaces/fid/events/ev-1)
python3 - "$v1" "$core" <<'PY' || mc_fail "one Event through both APIs"
import json, sys
v1, core = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for k in ("uid", "name", "resourceVersion", "creationTimestamp"):
    assert v1["metadata"][k] == core["metadata"][k], (k, v1["metadata"][k], core["metadata"][k])
assert v1["apiVersion"] == "events.k8s.io/v1" and core["apiVersion"] == "v1", (v1["apiVersion"], core["apiVersion"])
assert v1["note"] == core["message"] == "hello from fid"
assert v1["regarding"]["name"] == core["involvedObject"]["name"] == "ssa"
assert core["reportingComponent"] == "example.com/fid" and "source" not in core or core["source"] == {}, core.get("source")
assert "message" not in v1 and "involvedObject" not in v1
PY
[ "$(K get --raw /api/v1/namespaces/fid/events | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')" = 1 ] ||
	mc_fail "core/v1 list does not hold exactly the one Event"
[ "$(K get --raw /apis/events.k8s.io/v1/namespaces/fid/events | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["kind"], len(d["items"]))')" = "EventList 1" ] ||
	mc_fail "events.k8s.io/v1 list does not hold exactly the one Event"
# a write through core/v1 is seen through events.k8s.io/v1 (same object, new resourceVersion), also by a watch
rv=$(K get --raw /apis/events.k8s.io/v1/namespaces/fid/events/ev-1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])')
curl -s -N --max-time 5 "$URL/apis/events.k8s.io/v1/namespaces/fid/events?watch=true&resourceVersion=$rv" >"$MC_TMP/ev-watch.txt" &
wpid=$!
sleep 1
K patch --type merge events ev-1 -n fid -p '{"message":"patched through core"}' >/dev/null
wait "$wpid" || true
grep -q '"note":"patched through core"' "$MC_TMP/ev-watch.txt" || mc_fail "events.k8s.io/v1 watch missed the core write: $(cat "$MC_TMP/ev-watch.txt")"
grep -q '"type":"MODIFIED"' "$MC_TMP/ev-watch.txt" || mc_fail "watch event type: $(cat "$MC_TMP/ev-watch.txt")"
[ "$(K get --raw /apis/events.k8s.io/v1/namespaces/fid/events/ev-1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["note"])')" = "patched through core" ] ||
	mc_fail "events.k8s.io/v1 does not see the core write"
# kubectl get events: the apiserver's columns
# (the first line taken without head: a closed pipe fails kubectl under pipefail)
hdr=$(K get events -n fid)
hdr=${hdr%%$'\n'*}
[ "$(echo $hdr)" = "LAST SEEN TYPE REASON OBJECT MESSAGE" ] || mc_fail "kubectl get events header: '$hdr'"
K get events -n fid | grep -q 'Normal *Probing *configmap/ssa *patched through core' || mc_fail "kubectl get events row: $(K get events -n fid)"
K delete events.events.k8s.io ev-1 -n fid >/dev/null
out=$(K get --raw /api/v1/namespaces/fid/events/ev-1 2>&1 || true)
grep -q 'NotFound\|not found' <<<"$out" || mc_fail "deleted through events.k8s.io, still in core: $out"

# --- 5. CEL
SRC=$MC_SOURCE_DIR
K apply -f "$SRC/crds/" >/dev/null
mc_wait 30 "CRDs served" K get modelcaches.modelcache.dev -A
K apply -f "$SRC/examples/00-namespaces.yaml" >/dev/null
K apply -f "$SRC/examples/" >"$MC_TMP/examples.out" 2>&1 || mc_fail "kubectl apply -f examples/: $(cat "$MC_TMP/examples.out")"
K get ic local >/dev/null || mc_fail "examples: InferenceCluster local not stored"
refused() { # WANT (grep -F) < manifest
	local out
	out=$(K apply -f - 2>&1) && mc_fail "accepted, want refusal '$1': $out"
	grep -qF -- "$1" <<<"$out" || mc_fail "refusal lacks '$1': $out"
}
refused 'The InferenceCluster "two" is invalid: spec.connection: Invalid value: "object": exactly one of local or kubeconfigSecretRef must be set' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: two}
spec:
  connection:
    local: {}
    kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-west}
YAML
refused 'The ModelCache "nohf" is invalid: spec.huggingFace: Required value: spec.huggingFace is required when spec.source is HuggingFace' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: nohf, namespace: ml-team}
spec: {source: HuggingFace}
YAML
refused 'reserve requires capacity' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: resv}
spec:
  connection: {local: {}}
  cache: {reserve: 10Gi}
YAML
# readable messages instead of raw patterns (the rules work on 1.28: no quantity())
refused 'spec.huggingFace.repo: Invalid value: "string": must be "org/name" or "name"' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: badrepo, namespace: ml-team}
spec: {source: HuggingFace, huggingFace: {repo: "not a repo!"}}
YAML
refused 'spec.size: Invalid value: "": not a quantity (e.g. 20Gi, 500Mi, 2Ti)' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: badsize, namespace: ml-team}
spec: {source: HuggingFace, huggingFace: {repo: a/b}, size: "20 GB"}
YAML
out=$(K apply -f - 2>&1 <<'YAML') && mc_fail "negative size accepted: $out"
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: negsize, namespace: ml-team}
spec: {source: HuggingFace, huggingFace: {repo: a/b}, size: "-1Gi"}
YAML
grep -qF 'spec.size: Invalid value: "": must not be negative' <<<"$out" || mc_fail "negative size: $out"
grep -q 'not a quantity' <<<"$out" && mc_fail "negative size reported twice: $out"
refused 'spec.cache.capacity: Invalid value: "": not a quantity' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: badcap}
spec:
  connection: {local: {}}
  cache: {capacity: 2 TB}
YAML
refused 'spec.huggingFace.revision: Invalid value: "string": must be a branch, tag or commit' <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: badrev, namespace: ml-team}
spec: {source: HuggingFace, huggingFace: {repo: a/b, revision: "../etc"}}
YAML
# the CRD before the fix: its objects fail as on a real v1.28 apiserver
K delete crd inferenceclusters.modelcache.dev >/dev/null
python3 - "$SRC/crds/modelcache.dev_inferenceclusters.yaml" >"$MC_TMP/old-ic-crd.yaml" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
out = [l for l in lines if "x-kubernetes-preserve-unknown-fields: true" not in l or "local" in l and False]
# drop the preserve-unknown-fields line of spec.connection.local only
res, in_local = [], False
for l in lines:
    s = l.strip()
    if s == "local:":
        in_local = True
    elif in_local and s.startswith("x-kubernetes-preserve-unknown-fields"):
        in_local = False
        continue
    elif in_local and s.endswith(":") and not s.startswith(("description", "type")) and not s.startswith("#"):
        in_local = s == "local:"
    res.append(l)
print("\n".join(res))
PY
grep -A4 ' local:' "$MC_TMP/old-ic-crd.yaml" | grep -q preserve-unknown && mc_fail "old CRD copy still keeps unknown fields"
K apply -f "$MC_TMP/old-ic-crd.yaml" >/dev/null
mc_wait 30 "old CRD served" K get inferenceclusters.modelcache.dev
refused 'spec.connection: Invalid value: "object": invalid object type, expected either Properties or AdditionalProperties with Allows=true and non-empty Schema evaluating rule: exactly one of local or kubeconfigSecretRef must be set' <"$SRC/examples/inferencecluster-local.yaml"
K delete crd inferenceclusters.modelcache.dev >/dev/null
# a rule outside kubesim's subset refuses the CRD, never skipped silently
out=$(K apply -f - 2>&1 <<'YAML') && mc_fail "CRD with an unsupported rule accepted: $out"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.fid.example.com}
spec:
  group: fid.example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties: {size: {type: string}}
            x-kubernetes-validations:
            - rule: "quantity(self.size).isGreaterThan(quantity('1Gi'))"
YAML
grep -q 'unsupported CEL: function quantity()' <<<"$out" || mc_fail "unsupported rule: $out"

mc_log "kubesim fidelity: apply decoding, namespaces, dry-run, events and CEL as the apiserver"
