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
#   3. dry-run persists nothing: create, apply, delete, deletecollection.
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

mc_log "kubesim fidelity: apply decoding, namespaces and dry-run as the apiserver"
