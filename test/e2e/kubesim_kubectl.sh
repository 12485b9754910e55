#!/usr/bin/env bash
# kubesim against the real kubectl (issue 3 "must show"):
#   1. HTTPS + bearer token: 401/403, apply -f crds/ and examples/, api-resources
#      short names, printer columns, get -w, patch --subresource=status,
#      apply --server-side (+ conflict), delete waiting on a finalizer,
#      wait --for=condition, --chunk-size, -l selectors, 422 naming the field,
#      request-log format, SIGTERM exits 0.
#   2. HTTPS + client certificate: the same kubectl path authenticates with the
#      generated cert; no cert => 403; a compacted watch => ERROR 410 Expired.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
# kubectl caches discovery per host:port under ~/.kube/cache; ports are reused
# between runs with different CRDs, so keep this run's cache private
export KUBECACHEDIR=$MC_TMP/kube-cache

SRC=$MC_SOURCE_DIR
TOKEN=e2e-$RANDOM-token

check() { # check "what" cmd... : fail with the message unless cmd succeeds
	local what=$1
	shift
	"$@" >/dev/null 2>&1 || mc_fail "$what"
}

# CRDs: the project's when present, else a ModelCache CRD of the same shape.
CRD_DIR=$SRC/crds
if ! ls "$CRD_DIR"/*.yaml >/dev/null 2>&1; then
	CRD_DIR=$MC_TMP/crds
	mkdir -p "$CRD_DIR"
	cat >"$CRD_DIR/modelcaches.yaml" <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: modelcaches.modelcache.dev
spec:
  group: modelcache.dev
  names: {kind: ModelCache, listKind: ModelCacheList, plural: modelcaches, singular: modelcache, shortNames: [mc], categories: [modelcache]}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Source, type: string, jsonPath: .spec.huggingFace.repo}
    - {name: Ready, type: string, jsonPath: .status.summary.ready}
    - {name: Status, type: string, jsonPath: '.status.conditions[?(@.type=="ArtifactReady")].reason'}
    - {name: Size, type: string, jsonPath: .spec.size}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [source]
            properties:
              source: {type: string, enum: [HuggingFace]}
              size: {type: string}
              huggingFace:
                type: object
                required: [repo]
                properties:
                  repo: {type: string}
                  revision: {type: string, default: main}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
YAML
fi

# ------------------------------------------------------------------ part 1
RLOG=$MC_TMP/requests-token.txt
# (pre-create the log: lib.sh may read it before the child opened it)
: >"$MC_TMP/kubesim-tok.log"
mc_start_kubesim tok --tls --token "$TOKEN" --request-log "$RLOG"
K() { mc_kubectl tok "$@"; }
URL=$KS_tok_URL
CA=$MC_TMP/ca.crt
sed -n 's/^ *certificate-authority-data: //p' "$KS_tok_KUBECONFIG" | base64 -d >"$CA"

code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer wrong" "$URL/api/v1/namespaces")
[ "$code" = 401 ] || mc_fail "wrong token: want 401, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" "$URL/api/v1/namespaces")
[ "$code" = 403 ] || mc_fail "anonymous: want 403, got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/namespaces")
[ "$code" = 200 ] || mc_fail "good token: want 200, got $code"
mc_log "auth: 401 wrong token, 403 anonymous, 200 with the token"

K apply -f "$CRD_DIR" >/dev/null || mc_fail "kubectl apply -f $CRD_DIR"
mc_wait 10 "modelcaches served" K get modelcaches
ar=$(K api-resources --api-group=modelcache.dev)
grep -Eq '^modelcaches +mc +modelcache.dev/v1alpha1 +true +ModelCache' <<<"$ar" ||
	mc_fail "api-resources does not show modelcaches with short name mc: $ar"
for crd in "$CRD_DIR"/*.yaml; do
	kind=$(sed -n 's/^ *kind: *\([A-Za-z]*\).*/\1/p' "$crd" | sed -n 2p)
	short=$(grep -m1 -o 'shortNames: *\[[a-z, ]*\]' "$crd" | sed 's/.*\[\([a-z]*\).*/\1/')
	if [ -n "$short" ] && [ -n "$kind" ]; then
		grep -Eq " $short +modelcache.dev/v1alpha1 +(true|false) +$kind\$" <<<"$ar" ||
			mc_fail "api-resources lacks $kind with short name $short"
	fi
done
mc_log "api-resources shows the kinds with short names"

if ls "$SRC"/examples/*.yaml >/dev/null 2>&1; then
	K apply -f "$SRC/examples/" >"$MC_TMP/examples.out" 2>&1 || mc_fail "kubectl apply -f examples/: $(cat "$MC_TMP/examples.out")"
	mc_log "applied examples/ ($(grep -c . "$MC_TMP/examples.out") objects)"
fi

K create namespace e2e >/dev/null
cat >"$MC_TMP/mc.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata:
  name: qwen
  namespace: e2e
  labels: {team: a}
spec:
  source: HuggingFace
  size: 20Gi
  huggingFace: {repo: Qwen/Qwen3-0.6B}
YAML
K apply -f "$MC_TMP/mc.yaml" >/dev/null
[ "$(K get mc qwen -n e2e -o jsonpath='{.spec.huggingFace.revision}')" = main ] || mc_fail "schema default revision=main not applied"

# printer columns: the header is NAME + the CRD's columns, the row has the repo
cols=$(K get crd modelcaches.modelcache.dev -o json | python3 -c '
import json, sys
v = json.load(sys.stdin)["spec"]["versions"][0]
print(" ".join(c["name"].upper() for c in v.get("additionalPrinterColumns", []) if not c.get("priority")))')
out=$(K get mc -n e2e)
header=$(sed -n 1p <<<"$out" | tr -s ' ')
[ "$header" = "NAME $cols" ] || mc_fail "get mc header '$header' != 'NAME $cols'"
out=$(K get mc -n e2e)
grep -q '^qwen  *Qwen/Qwen3-0.6B' <<<"$out" || mc_fail "get mc row lacks the repo column"
mc_log "get mc columns: $header"

# get -w sees a status update made with patch --subresource=status
K get mc -n e2e -w --output-watch-events >"$MC_TMP/watch.out" 2>&1 &
WPID=$!
MC_PIDS+=("$WPID")
mc_wait 10 "get -w printed the initial row" grep -q qwen "$MC_TMP/watch.out"
gen1=$(K get mc qwen -n e2e -o jsonpath='{.metadata.generation}')
K patch mc qwen -n e2e --subresource=status --type=merge \
	-p '{"status":{"summary":{"ready":"1/1"},"conditions":[{"type":"ArtifactReady","status":"True","reason":"Staged","message":"staged","lastTransitionTime":"2026-01-01T00:00:00Z"}]},"spec":{"size":"99Gi"}}' >/dev/null
mc_wait 10 "get -w saw the MODIFIED row" grep -Eq '^MODIFIED +qwen +Qwen/Qwen3-0.6B +1/1 +Staged' "$MC_TMP/watch.out"
kill "$WPID" 2>/dev/null || true
[ "$(K get mc qwen -n e2e -o jsonpath='{.spec.size}')" = 20Gi ] || mc_fail "spec changed through /status"
[ "$(K get mc qwen -n e2e -o jsonpath='{.metadata.generation}')" = "$gen1" ] || mc_fail "status patch bumped generation"
mc_log "status patch seen by get -w; spec ignored on /status; generation unchanged"

# status is ignored on the main resource
K patch mc qwen -n e2e --type=merge -p '{"status":{"summary":{"ready":"0/9"}}}' >/dev/null
[ "$(K get mc qwen -n e2e -o jsonpath='{.status.summary.ready}')" = 1/1 ] || mc_fail "status changed through the main resource"

# server-side apply: another manager takes a field, a conflict, then force
cat >"$MC_TMP/ssa.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: ssa, namespace: e2e, labels: {team: b}}
spec: {source: HuggingFace, size: 1Gi, huggingFace: {repo: org/one}}
YAML
K apply --server-side --field-manager=alice -f "$MC_TMP/ssa.yaml" >/dev/null || mc_fail "apply --server-side (create)"
sed -i 's/size: 1Gi/size: 2Gi/' "$MC_TMP/ssa.yaml"
if K apply --server-side --field-manager=bob -f "$MC_TMP/ssa.yaml" >"$MC_TMP/ssa.out" 2>&1; then
	mc_fail "apply --server-side by another manager did not conflict"
fi
grep -q 'conflict' "$MC_TMP/ssa.out" || mc_fail "conflict message: $(cat "$MC_TMP/ssa.out")"
K apply --server-side --field-manager=bob --force-conflicts -f "$MC_TMP/ssa.yaml" >/dev/null || mc_fail "apply --force-conflicts"
[ "$(K get mc ssa -n e2e -o jsonpath='{.spec.size}')" = 2Gi ] || mc_fail "forced apply not stored"
[ "$(K get mc ssa -n e2e -o jsonpath='{.metadata.generation}')" = 2 ] || mc_fail "spec change did not bump generation"
out=$(K get mc ssa -n e2e -o jsonpath='{.metadata.managedFields[*].manager}')
grep -q bob <<<"$out" || mc_fail "managedFields lack bob"
grep -q 'PATCH /apis/modelcache.dev/v1alpha1/namespaces/e2e/modelcaches/ssa?fieldManager=bob&force=true 200' "$RLOG" ||
	grep -Eq 'PATCH /apis/modelcache.dev/v1alpha1/namespaces/e2e/modelcaches/ssa\?.*force=true.* 200' "$RLOG" ||
	mc_fail "request log lacks the forced apply"
# an Update manager (kubectl patch) owns what it changed: applying it elsewhere conflicts
K patch mc ssa -n e2e --type=merge -p '{"spec":{"size":"3Gi"}}' >/dev/null
if K apply --server-side --field-manager=bob -f "$MC_TMP/ssa.yaml" >"$MC_TMP/ssa2.out" 2>&1; then
	mc_fail "apply over a field set by kubectl patch did not conflict"
fi
grep -q 'kubectl-patch' "$MC_TMP/ssa2.out" || mc_fail "conflict does not name kubectl-patch: $(cat "$MC_TMP/ssa2.out")"
K apply --server-side --field-manager=bob --force-conflicts -f "$MC_TMP/ssa.yaml" >/dev/null
# client-side apply -> server-side apply migrates without conflicts (last-applied manager)
sed 's/Qwen3-0.6B/Qwen3-1.7B/' "$MC_TMP/mc.yaml" >"$MC_TMP/mc-ssa.yaml"
K apply --server-side -f "$MC_TMP/mc-ssa.yaml" >/dev/null || mc_fail "client-side -> server-side apply conflicted"
[ "$(K get mc qwen -n e2e -o jsonpath='{.spec.huggingFace.repo}')" = Qwen/Qwen3-1.7B ] || mc_fail "server-side apply after client-side apply not stored"
mc_log "server-side apply: conflict (409) without force, taken over with --force-conflicts; Update managers own fields; CSA->SSA migrates"

# delete waits on a finalizer
# watches of e2e's ModelCaches opened so far (kubesim logs a watch when it opens)
mc_watches() { grep -cE '^GET /apis/modelcache.dev/v1alpha1/namespaces/e2e/modelcaches\?.*watch=(true|1).* 200$' "$RLOG" || true; }
watch_opened() { [ "$(mc_watches)" -gt "$1" ]; }
K patch mc ssa -n e2e --type=merge -p '{"metadata":{"finalizers":["modelcache.dev/cleanup"]}}' >/dev/null
w0=$(mc_watches)
K delete mc ssa -n e2e --timeout=30s >"$MC_TMP/delete.out" 2>&1 &
DPID=$!
MC_PIDS+=("$DPID")
terminating() { [ -n "$(K get mc ssa -n e2e -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
mc_wait 60 "deletionTimestamp set" terminating
# kubectl is waiting (its watch is open), not merely slow to return
mc_wait 60 "kubectl delete watches the object" watch_opened "$w0"
kill -0 "$DPID" 2>/dev/null || mc_fail "kubectl delete returned while the finalizer was still there"
K patch mc ssa -n e2e --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
mc_stop "$DPID" TERM 2>/dev/null || true
wait "$DPID" 2>/dev/null || true
grep -q 'deleted' "$MC_TMP/delete.out" || mc_fail "kubectl delete: $(cat "$MC_TMP/delete.out")"
mc_not_found tok mc ssa -n e2e || mc_fail "object still there after the finalizer went"
mc_log "delete waited for the finalizer"

# wait --for=condition
w0=$(mc_watches)
K wait --for=condition=Available=True mc/qwen -n e2e --timeout=20s >"$MC_TMP/wait.out" 2>&1 &
WAITPID=$!
MC_PIDS+=("$WAITPID")
mc_wait 60 "kubectl wait watches the object" watch_opened "$w0"
kill -0 "$WAITPID" 2>/dev/null || mc_fail "kubectl wait returned before the condition: $(cat "$MC_TMP/wait.out")"
K patch mc qwen -n e2e --subresource=status --type=json \
	-p '[{"op":"add","path":"/status/conditions/-","value":{"type":"Available","status":"True","reason":"Done","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}}]' >/dev/null
wait "$WAITPID" || mc_fail "kubectl wait failed: $(cat "$MC_TMP/wait.out")"
grep -q 'condition met' "$MC_TMP/wait.out" || mc_fail "kubectl wait: $(cat "$MC_TMP/wait.out")"
mc_log "wait --for=condition met"

# --chunk-size and label selectors
for i in 1 2 3 4 5; do
	t=a
	[ $i -gt 3 ] && t=b
	K create configmap "cm$i" -n e2e --from-literal=i=$i >/dev/null
	K label configmap "cm$i" -n e2e chunk=yes "team=$t" >/dev/null
done
n=$(K get cm -n e2e -l chunk=yes --chunk-size=2 -o name | wc -l)
[ "$n" = 5 ] || mc_fail "--chunk-size=2 listed $n of 5"
grep -Eq 'GET /api/v1/namespaces/e2e/configmaps\?.*continue=.*limit=2.* 200' "$RLOG" || mc_fail "no continue request in the log"
[ "$(K get cm -n e2e -l team=a -o name | wc -l)" = 3 ] || mc_fail "-l team=a"
[ "$(K get cm -n e2e -l 'team in (a,b),chunk' -o name | wc -l)" = 5 ] || mc_fail "-l 'team in (a,b),chunk'"
[ "$(K get cm -n e2e -l 'team!=a,chunk=yes' -o name | wc -l)" = 2 ] || mc_fail "-l team!=a"
# (the namespace's kube-root-ca.crt, published as by the root-ca-cert-publisher, has no labels)
out=$(K get cm -n e2e -l '!chunk' -o name)
[ "$out" = configmap/kube-root-ca.crt ] || mc_fail "-l !chunk: $out"
out=$(K get mc -A -l 'team notin (b)' --no-headers -o custom-columns=NS:.metadata.namespace,N:.metadata.name)
grep -Eq '^e2e +qwen$' <<<"$out" || mc_fail "-l notin across namespaces: $out"
out=$(K get mc -A -l 'team=b' -o name)
[ -z "$out" ] || mc_fail "-l team=b across namespaces: $out"
[ "$(K get cm -n e2e --field-selector metadata.name=cm2 -o name)" = configmap/cm2 ] || mc_fail "--field-selector"
# a label-selector watch sees an object leave (DELETED) and enter (ADDED) the selection
K get cm -n e2e -l team=a -w --output-watch-events >"$MC_TMP/selwatch.out" 2>&1 &
SPID=$!
MC_PIDS+=("$SPID")
mc_wait 10 "selector watch started" grep -Eq '^ADDED +cm3 ' "$MC_TMP/selwatch.out"
K label cm cm3 -n e2e team=b --overwrite >/dev/null
K label cm cm4 -n e2e team=a --overwrite >/dev/null
mc_wait 10 "cm3 left the selection" grep -Eq '^DELETED +cm3 ' "$MC_TMP/selwatch.out"
mc_wait 10 "cm4 entered the selection" grep -Eq '^ADDED +cm4 ' "$MC_TMP/selwatch.out"
kill "$SPID" 2>/dev/null || true
mc_log "--chunk-size=2 pages with continue; -l =, !=, in, notin, exists, !exists; field selector; selector watch ADDED/DELETED on label changes"

# an invalid resource is refused with 422 naming the field
cat >"$MC_TMP/bad.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: bad, namespace: e2e}
spec: {source: Foo, huggingFace: {repo: a/b}}
YAML
if K apply -f "$MC_TMP/bad.yaml" >"$MC_TMP/bad.out" 2>&1; then mc_fail "invalid ModelCache accepted"; fi
grep -q 'spec.source' "$MC_TMP/bad.out" || mc_fail "422 message does not name spec.source: $(cat "$MC_TMP/bad.out")"
grep -q 'is invalid' "$MC_TMP/bad.out" || mc_fail "not an Invalid error: $(cat "$MC_TMP/bad.out")"
grep -Eq '^POST /apis/modelcache.dev/v1alpha1/namespaces/e2e/modelcaches\?.* 422$' "$RLOG" || mc_fail "no 422 in the request log"
mc_log "invalid resource refused: $(head -1 "$MC_TMP/bad.out")"
# a typo is refused by kubectl's strict field validation, pruned with --validate=false
cat >"$MC_TMP/typo.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: typo, namespace: e2e}
spec: {source: HuggingFace, hugginFace: {repo: a/b}, huggingFace: {repo: a/b}}
YAML
if K apply -f "$MC_TMP/typo.yaml" >"$MC_TMP/typo.out" 2>&1; then mc_fail "unknown field accepted under Strict validation"; fi
grep -q 'strict decoding error: unknown field "spec.hugginFace"' "$MC_TMP/typo.out" || mc_fail "typo: $(cat "$MC_TMP/typo.out")"
K apply --validate=false -f "$MC_TMP/typo.yaml" >/dev/null || mc_fail "--validate=false apply failed"
[ -z "$(K get mc typo -n e2e -o jsonpath='{.spec.hugginFace}')" ] || mc_fail "unknown field not pruned"
K delete mc typo -n e2e >/dev/null
mc_log "unknown fields: 400 strict decoding error with kubectl's default validation, pruned with --validate=false"

# server-side dry run: kubectl diff / apply / delete --dry-run=server change nothing
rv=$(K get mc qwen -n e2e -o jsonpath='{.metadata.resourceVersion}')
sed 's/size: 20Gi/size: 30Gi/' "$MC_TMP/mc.yaml" >"$MC_TMP/mc-big.yaml"
set +e
K diff -f "$MC_TMP/mc-big.yaml" >"$MC_TMP/diff.out" 2>&1
drc=$?
set -e
[ "$drc" = 1 ] && grep -q '^+  size: 30Gi' "$MC_TMP/diff.out" || mc_fail "kubectl diff (rc $drc): $(cat "$MC_TMP/diff.out")"
out=$(K apply --dry-run=server -f "$MC_TMP/mc-big.yaml")
grep -q 'configured (server dry run)' <<<"$out" || mc_fail "apply --dry-run=server: $out"
K delete mc qwen -n e2e --dry-run=server >/dev/null
[ "$(K get mc qwen -n e2e -o jsonpath='{.spec.size}/{.metadata.resourceVersion}')" = "20Gi/$rv" ] ||
	mc_fail "a server dry run changed the object"
mc_log "kubectl diff, apply/delete --dry-run=server change nothing"

# kubectl explain reads the CRD schema from /openapi/v3; describe shows events.k8s.io/v1 events
out=$(K explain modelcaches.spec)
grep -q 'huggingFace' <<<"$out" || mc_fail "kubectl explain modelcaches.spec: $out"
uid=$(K get mc qwen -n e2e -o jsonpath='{.metadata.uid}')
K create -f - >/dev/null <<YAML
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: qwen.e2e1, namespace: e2e}
eventTime: "2026-01-01T00:00:00.000000Z"
reportingController: modelcache.dev/e2e
reportingInstance: e2e-1
action: Compose
reason: Staging
type: Normal
note: Staging Qwen/Qwen3-0.6B to 1 clusters
regarding: {apiVersion: modelcache.dev/v1alpha1, kind: ModelCache, name: qwen, namespace: e2e, uid: "$uid"}
YAML
described() {
	local d
	d=$(K describe mc qwen -n e2e) && grep -Eq 'Normal +Staging .*Staging Qwen/Qwen3-0.6B to 1 clusters' <<<"$d"
}
mc_wait 10 "kubectl describe shows the event" described
mc_log "kubectl explain (CRD schema) and describe (events.k8s.io events) work"

# stale update => 409
rv=$(K get cm cm1 -n e2e -o jsonpath='{.metadata.resourceVersion}')
K label cm cm1 -n e2e touched=1 >/dev/null
code=$(curl -s -o "$MC_TMP/409.json" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -X PUT \
	-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm1\",\"namespace\":\"e2e\",\"resourceVersion\":\"$rv\"}}" \
	"$URL/api/v1/namespaces/e2e/configmaps/cm1")
[ "$code" = 409 ] || mc_fail "stale update: want 409, got $code"
grep -q '"reason":"Conflict"' "$MC_TMP/409.json" || mc_fail "409 body: $(cat "$MC_TMP/409.json")"

# request log: one "METHOD PATH?QUERY CODE" line per request
bad=$(grep -Evc '^(GET|POST|PUT|PATCH|DELETE) /[^ ]* [0-9]{3}$' "$RLOG" || true)
[ "$bad" = 0 ] || mc_fail "$bad malformed request-log lines"
mc_log "request log: $(wc -l <"$RLOG") well-formed lines"

mc_stop "$KS_tok_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "kubesim exit code $MC_RC after SIGTERM"
mc_log "SIGTERM: exit 0"

# ------------------------------------------------------------------ part 2
: >"$MC_TMP/kubesim-cert.log"
mc_start_kubesim cert --client-ca --compact-seconds 1
C() { mc_kubectl cert "$@"; }
grep -q 'client-certificate-data' "$KS_cert_KUBECONFIG" || mc_fail "no client certificate in the kubeconfig"
if grep -q 'token:' "$KS_cert_KUBECONFIG"; then mc_fail "unexpected token in the client-cert kubeconfig"; fi
C apply -f "$CRD_DIR" >/dev/null || mc_fail "apply crds with a client certificate"
mc_wait 10 "modelcaches served (cert)" C get modelcaches
C create namespace e2e >/dev/null
C apply -f "$MC_TMP/mc.yaml" >/dev/null
out=$(C get mc -n e2e)
grep -q '^qwen ' <<<"$out" || mc_fail "get mc with a client certificate"
CA2=$MC_TMP/ca2.crt
sed -n 's/^ *certificate-authority-data: //p' "$KS_cert_KUBECONFIG" | base64 -d >"$CA2"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA2" "$KS_cert_URL/api/v1/namespaces")
[ "$code" = 403 ] || mc_fail "no client cert: want 403, got $code"
out=$(C auth whoami)
grep -Eq 'Username +kubesim-admin' <<<"$out" || mc_fail "auth whoami with the client certificate: $out"
[ "$(C auth can-i create modelcaches -n e2e)" = yes ] || mc_fail "auth can-i"
mc_log "client certificate authenticates kubectl (whoami: kubesim-admin); none => 403"

# compaction: a watch from an old resourceVersion gets ERROR 410 Expired
sleep 2.5
C get --raw '/api/v1/namespaces?watch=true&resourceVersion=1&timeoutSeconds=2' >"$MC_TMP/410.out" 2>&1 || true
grep -q '"type":"ERROR"' "$MC_TMP/410.out" && grep -q '"code":410' "$MC_TMP/410.out" && grep -q '"reason":"Expired"' "$MC_TMP/410.out" ||
	mc_fail "compacted watch: $(head -c 400 "$MC_TMP/410.out")"
# a list continuation from before the compaction => 410 Expired
for i in 1 2 3; do C create configmap "page$i" -n e2e >/dev/null; done
page=$(C get --raw '/api/v1/namespaces/e2e/configmaps?limit=1')
cont=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["metadata"]["continue"])' "$page")
C create configmap page4 -n e2e >/dev/null # history moves past the list's resourceVersion
sleep 2.5
C get --raw "/api/v1/namespaces/e2e/configmaps?limit=1&continue=$cont" >"$MC_TMP/410c.out" 2>&1 && mc_fail "stale continue accepted"
grep -q 'Expired\|410\|too old' "$MC_TMP/410c.out" || mc_fail "stale continue: $(cat "$MC_TMP/410c.out")"
mc_log "compacted watch => ERROR 410 Expired; stale continue token => 410"

# deleting a CRD waits for its objects' finalizers, then stops serving the kind
C patch mc qwen -n e2e --type=merge -p '{"metadata":{"finalizers":["modelcache.dev/cleanup"]}}' >/dev/null
C delete crd modelcaches.modelcache.dev --wait=false >/dev/null
mc_term() { [ -n "$(C get mc qwen -n e2e -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
mc_wait 10 "ModelCache Terminating after its CRD was deleted" mc_term
[ -n "$(C get crd modelcaches.modelcache.dev -o jsonpath='{.metadata.deletionTimestamp}')" ] || mc_fail "CRD not Terminating"
C patch mc qwen -n e2e --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
mc_wait 60 "CRD removed after its last object" mc_not_found cert crd modelcaches.modelcache.dev
out=$(C api-resources --api-group=modelcache.dev)
if grep -q modelcaches <<<"$out"; then mc_fail "modelcaches still served: $out"; fi
mc_log "CRD deletion waited for the ModelCache's finalizer, then the kind was no longer served"

mc_stop "$KS_cert_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "kubesim (cert) exit code $MC_RC after SIGTERM"

# ------------------------------------------------------------------ part 3: faults (plain HTTP)
: >"$MC_TMP/kubesim-drop.log"
mc_start_kubesim drop --fault-watch-drop-seconds 1
set +e
curl -s --max-time 15 -o "$MC_TMP/drop.out" "$KS_drop_URL/api/v1/namespaces?watch=true"
crc=$?
set -e
[ "$crc" = 0 ] || mc_fail "--fault-watch-drop-seconds 1: the watch did not end by itself (curl rc $crc)"
[ "$(grep -c '"type":"ADDED"' "$MC_TMP/drop.out")" = 4 ] || mc_fail "dropped watch lacks the initial events"
# a watch from a resourceVersion the server has not reached: 504 ResourceVersionTooLarge (client-go relists)
code=$(curl -s -o "$MC_TMP/504.json" -w '%{http_code}' --max-time 10 "$KS_drop_URL/api/v1/namespaces?watch=true&resourceVersion=999999")
[ "$code" = 504 ] && grep -q '"reason":"ResourceVersionTooLarge"' "$MC_TMP/504.json" || mc_fail "too large rv: $code $(cat "$MC_TMP/504.json")"
mc_stop "$KS_drop_PID" TERM
: >"$MC_TMP/kubesim-err.log"
mc_start_kubesim err --fault-error-rate 0.5 --fault-latency-ms 5
ok=0 failed=0
for i in $(seq 1 40); do
	code=$(curl -s -D "$MC_TMP/h.txt" -o /dev/null -w '%{http_code}' "$KS_err_URL/api/v1/namespaces")
	case $code in
	200) ok=$((ok + 1)) ;;
	500) failed=$((failed + 1)) ;;
	429) failed=$((failed + 1)); grep -qi '^Retry-After: 1' "$MC_TMP/h.txt" || mc_fail "429 without Retry-After" ;;
	*) mc_fail "fault injection answered $code" ;;
	esac
done
[ "$ok" -gt 0 ] && [ "$failed" -gt 0 ] || mc_fail "--fault-error-rate 0.5: $ok ok, $failed failed of 40"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$KS_err_URL/version")" = 200 ] || mc_fail "/version must not be faulted"
mc_stop "$KS_err_PID" TERM
mc_log "too large watch resourceVersion => 504; faults: watch dropped after 1 s; error rate 0.5 => $ok ok / $failed 500|429 (Retry-After)"
# ------------------------------------------------------------------ part 4: kubectl logs (needs root: --run-jobs)
if [ "$(id -u)" = 0 ]; then
	: >"$MC_TMP/kubesim-jobs.log"
	mc_start_kubesim jobs --run-jobs --data-dir "$MC_TMP/jobs-data"
	mc_kubectl jobs apply -f - >/dev/null <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: hello}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: ["/bin/sh", "-c", "for i in 1 2 3; do echo line $i; done"]}
YAML
	done_ok() { [ "$(mc_kubectl jobs get job hello -o jsonpath='{.status.succeeded}')" = 1 ]; }
	mc_wait 30 "Job hello succeeded" done_ok
	[ "$(mc_kubectl jobs logs job/hello | tr '\n' ,)" = "line 1,line 2,line 3," ] || mc_fail "kubectl logs: $(mc_kubectl jobs logs job/hello)"
	[ "$(mc_kubectl jobs logs job/hello --tail=1)" = "line 3" ] || mc_fail "kubectl logs --tail=1"
	mc_stop "$KS_jobs_PID" TERM
	mc_log "kubectl logs job/hello reads the pod's output (--tail too)"
fi
echo "PASS kubesim_kubectl"
