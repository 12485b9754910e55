#!/usr/bin/env bash
# Issue 15, must show (through the real kubectl, kubesim calling the
# operator's pod webhook over TLS with the CA from caBundle):
#  - kubectl apply -k manifests/ --dry-run=server: the configuration with both selectors;
#  - a missing --webhook-cert-dir stops the operator at startup with a clear error;
#  - the hydration Job's pods run although the webhook is registered (the
#    objectSelector excludes managed-by) and the cache goes Ready;
#  - a labelled pod (two containers, one init container) gets the model-cache
#    volume claiming the cache PVC and /mnt/models in every container;
#  - an unknown cache is denied with the webhook's message and nothing is stored;
#  - a pod that already mounts /mnt/models is stored unchanged;
#  - a cache not Ready here: admitted with a Warning naming the phase;
#  - hostile requests get 4xx and the operator keeps serving;
#  - certificate rotation: the new serial is served within 10 s, no restart;
#  - a caBundle that does not match: "failed calling webhook";
#  - webhook down: Fail refuses labelled pods, unlabelled pods unaffected; Ignore admits unmutated.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
export MC_FAKEHUB_ROOT="$MC_TMP/hub"
python3 "$MC_SOURCE_DIR/hack/make-fixture-model" --out "$MC_FAKEHUB_ROOT" --only qwen3-0.6b >/dev/null
mc_start_fakehub

K() { mc_kubectl cp "$@"; }
not_stored() { # POD: kubectl get answers NotFound (not merely fails)
	local out
	out=$(K get pod "$1" -n "$NS" 2>&1 || true)
	grep -q "(NotFound): pods \"$1\" not found" <<<"$out"
}
NS=ml-team
SVC=modelcache-webhook.modelcache-system.svc
WP=$(mc_free_port)
CERTS=$MC_TMP/certs
mkdir -p "$CERTS"

# --- a CA and two serving certificates for the Service's DNS name
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=webhook-ca \
	-keyout "$MC_TMP/ca.key" -out "$MC_TMP/ca.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=other-ca \
	-keyout "$MC_TMP/other.key" -out "$MC_TMP/other.crt" 2>/dev/null
serving() { # OUT_DIR SERIAL_HEX
	mkdir -p "$1"
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$SVC" \
		-keyout "$1/tls.key" -out "$1/req.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s,DNS:%s.cluster.local\n' "$SVC" "$SVC" >"$1/ext"
	openssl x509 -req -in "$1/req.csr" -CA "$MC_TMP/ca.crt" -CAkey "$MC_TMP/ca.key" -set_serial "0x$2" \
		-days 1 -extfile "$1/ext" -out "$1/tls.crt" 2>/dev/null
}
serving "$MC_TMP/gen1" 1001
serving "$MC_TMP/gen2" 2002
cp "$MC_TMP/gen1/tls.crt" "$MC_TMP/gen1/tls.key" "$CERTS/"
CA_B64=$(base64 -w0 <"$MC_TMP/ca.crt")

mc_start_kubesim cp --bind-pvcs --run-jobs --data-dir "$MC_TMP/cp-data" --request-log "$MC_TMP/cp-requests.txt" \
	--service-endpoint "modelcache-system/modelcache-webhook=127.0.0.1:$WP"
mc_apply_crds cp
K apply -f - >/dev/null <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: modelcache-rwx}
provisioner: kubesim.dev/hostpath
---
apiVersion: v1
kind: Namespace
metadata: {name: ml-team}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: local}
spec:
  connection: {local: {}}
YAML

# --- 1. the shipped configuration, checked by the server (dry run; as on a
# real apiserver, a dry-run Namespace is not there for the namespaced objects)
K apply -f "$MC_SOURCE_DIR/manifests/namespace.yaml" >/dev/null
K apply -k "$MC_SOURCE_DIR/manifests" --dry-run=server -o json >"$MC_TMP/dry.json" ||
	mc_fail "kubectl apply -k manifests/ --dry-run=server failed"
python3 - "$MC_TMP/dry.json" <<'PY' || mc_fail "manifests/: the MutatingWebhookConfiguration lacks the selectors"
import json, sys
doc = json.load(open(sys.argv[1]))
items = doc.get("items", [doc])
mwc = [i for i in items if i.get("kind") == "MutatingWebhookConfiguration"]
assert len(mwc) == 1, "no MutatingWebhookConfiguration"
wh = mwc[0]["webhooks"][0]
ex = wh["objectSelector"]["matchExpressions"]
assert {"key": "modelcache.dev/cache", "operator": "Exists"} in ex, ex
assert {"key": "app.kubernetes.io/managed-by", "operator": "NotIn", "values": ["modelcache-operator"]} in ex, ex
assert wh["clientConfig"]["service"]["path"] == "/mutate-v1-pod"
assert wh["sideEffects"] == "None"
PY
K get mutatingwebhookconfigurations -o name 2>&1 | grep -q . && mc_fail "dry run stored a configuration"
mc_log "manifests/: objectSelector requires the cache label and excludes managed-by (server dry run, nothing stored)"

# --- 2. a missing certificate directory is a clear startup error
set +e
timeout 60 "$MC_BIN/modelcache-operator" run --kubeconfig "$KS_cp_KUBECONFIG" --metrics-bind-address 0 \
	--health-probe-bind-address 0 --webhook-port "$(mc_free_port)" --webhook-cert-dir "$MC_TMP/no-such-dir" \
	>"$MC_TMP/nocert.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || mc_fail "operator without certificates exited $rc, want 1"
grep -q "cannot read the serving certificate.*file=$MC_TMP/no-such-dir/tls.crt" "$MC_TMP/nocert.log" ||
	mc_fail "no clear error naming tls.crt: $(cat "$MC_TMP/nocert.log")"
mc_log "missing --webhook-cert-dir: exit 1 naming $MC_TMP/no-such-dir/tls.crt"

# --- 3. the operator with its webhook; the configuration registered with our CA
mc_start_operator op cp --hf-endpoint "$FAKEHUB_URL" --webhook-port "$WP" --webhook-cert-dir "$CERTS"
metric() { # 'name{labels}'
	local v
	v=$(curl -fsS "http://127.0.0.1:$OP_op_METRICS/metrics" 2>/dev/null | grep -F "$1 " | awk '{print $NF}' | head -n1)
	echo "${v:-0}"
}
mc_wait 40 "webhook listening on :$WP" bash -c "</dev/tcp/127.0.0.1/$WP"
K apply -f "$MC_SOURCE_DIR/manifests/webhook.yaml" >/dev/null
set_ca() { K patch mutatingwebhookconfiguration modelcache-operator --type=json \
	-p "[{\"op\":\"add\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$1\"}]" >/dev/null; }
set_ca "$CA_B64"

# --- 4. hydration pods are not sent to the webhook; the cache goes Ready
K apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML
phase() { K get mc "$1" -n "$NS" -o jsonpath='{.status.clusters[?(@.name=="local")].phase}' 2>/dev/null; }
mc_wait 120 "qwen Ready on local (now: $(phase qwen))" eval '[ "$(phase qwen)" = Ready ]'
K get pods -n "$NS" -l app.kubernetes.io/managed-by=modelcache-operator -o json >"$MC_TMP/hp.json"
python3 - "$MC_TMP/hp.json" <<'PY' || mc_fail "hydration pods: not run, or mutated"
import json, sys
pods = json.load(open(sys.argv[1]))["items"]
assert pods, "no hydration pod"
for p in pods:
    assert p["metadata"]["labels"].get("modelcache.dev/cache") == "qwen"
    assert not any(v["name"] == "model-cache" for v in p["spec"].get("volumes", [])), "hydration pod mutated"
    assert p["status"].get("phase") == "Succeeded", p["status"].get("phase")
PY
# not even sent: no request reached the webhook yet
m=$(curl -fsS "http://127.0.0.1:$OP_op_METRICS/metrics") || mc_fail "no /metrics"
grep -q '^process_start_time_seconds ' <<<"$m" || mc_fail "/metrics has no process metrics"
n=$(grep -c '^modelcache_webhook_requests_total{' <<<"$m" || true)
[ "$n" = 0 ] || mc_fail "the webhook was called for hydration pods ($n series)"
mc_log "hydration pod Succeeded without being sent to the webhook; qwen Ready"

# --- 5. a labelled pod with two containers and an init container
pod() { # NAME CACHE [extra container yaml]
	cat <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: $NS
  labels: {modelcache.dev/cache: $2}
spec:
  initContainers:
  - {name: init, image: busybox}
  containers:
  - {name: server, image: vllm/vllm-openai}
  - name: sidecar
    image: busybox
    volumeMounts: [{name: scratch, mountPath: /scratch}]
  volumes:
  - {name: scratch, emptyDir: {}}
YAML
}
pod web qwen | K apply -f - >/dev/null 2>"$MC_TMP/web.err" || mc_fail "labelled pod refused: $(cat "$MC_TMP/web.err")"
[ -s "$MC_TMP/web.err" ] && mc_fail "unexpected warnings for a Ready cache: $(cat "$MC_TMP/web.err")"
K get pod web -n "$NS" -o json | python3 -c '
import json, sys
p = json.load(sys.stdin)["spec"]
vols = {v["name"]: v for v in p["volumes"]}
assert vols["model-cache"]["persistentVolumeClaim"]["claimName"] == "modelcache-ml-team-qwen-17db2", vols
assert "scratch" in vols
cs = p["initContainers"] + p["containers"]
assert len(cs) == 3
for c in cs:
    ms = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/mnt/models"]
    assert len(ms) == 1 and ms[0]["name"] == "model-cache", (c["name"], c.get("volumeMounts"))
' || mc_fail "the stored pod lacks the model-cache volume or a /mnt/models mount"
[ "$(metric 'modelcache_webhook_requests_total{result="mutated"}')" = 1 ] || mc_fail "mutated counter is not 1"
mc_log "labelled pod: volume claims modelcache-ml-team-qwen-17db2, /mnt/models in init + 2 containers (over TLS, CA from caBundle)"

# server-side apply (a PATCH that creates) is admitted the same way
pod ssa qwen | K apply --server-side -f - >/dev/null || mc_fail "server-side apply of a labelled pod refused"
v=$(K get pod ssa -n "$NS" -o jsonpath='{.spec.volumes[?(@.name=="model-cache")].persistentVolumeClaim.claimName}/{.spec.containers[0].volumeMounts[0].mountPath}')
[ "$v" = modelcache-ml-team-qwen-17db2//mnt/models ] || mc_fail "server-side applied pod not mutated: $v"
pod ssa qwen | K apply --server-side -f - >/dev/null || mc_fail "re-applying the pod (an UPDATE, not mutated) failed"
mc_log "server-side apply: mutated on create, re-apply accepted"

# --- 6. unknown cache: denied, nothing stored
if pod stray nope | K apply -f - >"$MC_TMP/stray.out" 2>&1; then mc_fail "pod with an unknown cache was admitted"; fi
grep -qF 'admission webhook "pods.modelcache.dev" denied the request: ModelCache ml-team/nope not found: create it or remove the modelcache.dev/cache label' \
	"$MC_TMP/stray.out" || mc_fail "denial message: $(cat "$MC_TMP/stray.out")"
not_stored stray || mc_fail "the denied pod was stored"
mc_log "unknown cache: $(head -n1 "$MC_TMP/stray.out")"

# --- 7. already mounted: stored unchanged
cat >"$MC_TMP/mounted.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: mounted
  namespace: $NS
  labels: {modelcache.dev/cache: qwen}
spec:
  containers:
  - name: server
    image: vllm/vllm-openai
    volumeMounts: [{name: model-cache, mountPath: /mnt/models}]
  volumes:
  - name: model-cache
    persistentVolumeClaim: {claimName: modelcache-ml-team-qwen-17db2}
YAML
K apply -f "$MC_TMP/mounted.yaml" >/dev/null
got=$(K get pod mounted -n "$NS" -o jsonpath='{.spec.volumes}{"|"}{.spec.containers[0].volumeMounts}')
[ "$got" = '[{"name":"model-cache","persistentVolumeClaim":{"claimName":"modelcache-ml-team-qwen-17db2"}}]|[{"mountPath":"/mnt/models","name":"model-cache"}]' ] ||
	mc_fail "already-mounted pod changed: $got"
[ "$(metric 'modelcache_webhook_requests_total{result="allowed"}')" = 1 ] ||
	mc_fail "allowed counter is $(metric 'modelcache_webhook_requests_total{result="allowed"}'), want 1"
mc_log "already-mounted pod stored unchanged"

# --- 8. a cache that is not Ready here: admitted, mounted, a Warning naming the phase
K apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: absent, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/does-not-exist}
  # composed without asking the Hub (a definitive source error would compose
  # nothing): its Job fails, so the cache is not Ready here
  size: 1Gi
  precheck: {vram: Disabled}
YAML
mc_wait 60 "ModelCache absent has a phase on local" eval '[ -n "$(phase absent)" ]'
pod early absent | K apply -f - >/dev/null 2>"$MC_TMP/early.err" || mc_fail "pod of a not-Ready cache refused: $(cat "$MC_TMP/early.err")"
grep -qE "^Warning: ModelCache ml-team/absent is (Pending|Failed|Hydrating) on this cluster \(InferenceCluster local\)" \
	"$MC_TMP/early.err" || mc_fail "no Warning naming the phase: $(cat "$MC_TMP/early.err")"
K get pod early -n "$NS" -o jsonpath='{.spec.volumes[?(@.name=="model-cache")].persistentVolumeClaim.claimName}' |
	grep -qx 'modelcache-ml-team-absent-[0-9a-f]\{5\}' || mc_fail "pod of a not-Ready cache not mounted"
mc_log "not-Ready cache: $(head -n1 "$MC_TMP/early.err")"

# --- 9. hostile requests: 4xx, the operator keeps serving
hook() { # BODY_FILE -> HTTP status
	curl -sS -o /dev/null -w '%{http_code}' --cacert "$MC_TMP/ca.crt" --resolve "$SVC:$WP:127.0.0.1" \
		-H 'Content-Type: application/json' --data-binary @"$1" "https://$SVC:$WP/mutate-v1-pod"
}
printf '{"request":' >"$MC_TMP/h1"
head -c $((10 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$MC_TMP/h2"
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}' >"$MC_TMP/h3"
printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":"pod"}}' >"$MC_TMP/h4"
for c in "h1 400" "h2 413" "h3 400" "h4 400"; do
	set -- $c
	got=$(hook "$MC_TMP/$1") || true
	[ "$got" = "$2" ] || mc_fail "hostile request $1: HTTP $got, want $2"
done
kill -0 "$OP_op_PID" || mc_fail "the operator died on hostile requests"
pod after qwen | K apply -f - >/dev/null || mc_fail "labelled pod refused after hostile requests"
mc_log "hostile requests: 400 (malformed), 413 (10 MiB), 400 (no request), 400 (object not an object); still serving"

# --- 10. certificate rotation: new files served within 10 s, no restart
serial() {
	openssl s_client -connect "127.0.0.1:$WP" -servername "$SVC" -CAfile "$MC_TMP/ca.crt" </dev/null 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null
}
[ "$(serial)" = serial=1001 ] || mc_fail "served serial $(serial), want 1001"
cp "$MC_TMP/gen2/tls.crt" "$CERTS/tls.crt.new"
cp "$MC_TMP/gen2/tls.key" "$CERTS/tls.key.new"
mv "$CERTS/tls.key.new" "$CERTS/tls.key"
mv "$CERTS/tls.crt.new" "$CERTS/tls.crt"
mc_wait 10 "rotated certificate (serial 2002) served" eval '[ "$(serial)" = serial=2002 ]'
kill -0 "$OP_op_PID" || mc_fail "operator restarted"
pod rotated qwen | K apply -f - >/dev/null || mc_fail "labelled pod refused after rotation"
mc_log "rotation: serial 1001 -> 2002 without a restart"

# --- 11. a caBundle that does not sign the serving certificate
set_ca "$(base64 -w0 <"$MC_TMP/other.crt")"
if pod badca qwen | K apply -f - >"$MC_TMP/badca.out" 2>&1; then mc_fail "admitted with a wrong caBundle"; fi
grep -qF 'Internal error occurred: failed calling webhook "pods.modelcache.dev": failed to call webhook: Post "https://modelcache-webhook.modelcache-system.svc:443/mutate-v1-pod?timeout=10s": tls: failed to verify certificate: x509: certificate signed by unknown authority' \
	"$MC_TMP/badca.out" || mc_fail "wrong caBundle: $(cat "$MC_TMP/badca.out")"
set_ca "$CA_B64"
mc_log "wrong caBundle refused: TLS is verified against caBundle"

# --- 12. webhook down: Fail refuses labelled pods only; Ignore admits unmutated
mc_stop "$OP_op_PID"
[ "$MC_RC" = 0 ] || mc_fail "the operator exited $MC_RC on SIGTERM"
if pod down qwen | K apply -f - >"$MC_TMP/down.out" 2>&1; then mc_fail "admitted while the webhook is down (Fail)"; fi
grep -qE '^Error from server \(InternalError\): .*Internal error occurred: failed calling webhook "pods.modelcache.dev": failed to call webhook: Post "https://modelcache-webhook.modelcache-system.svc:443/mutate-v1-pod\?timeout=10s": dial tcp 127.0.0.1:'"$WP"': connect: connection refused$' \
	"$MC_TMP/down.out" || mc_fail "webhook down: $(cat "$MC_TMP/down.out")"
not_stored down || mc_fail "the refused pod was stored"
K run plain -n "$NS" --image=busybox --restart=Never >/dev/null || mc_fail "unlabelled pod refused while the webhook is down"
K patch mutatingwebhookconfiguration modelcache-operator --type=json \
	-p '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]' >/dev/null
pod ignored qwen | K apply -f - >/dev/null || mc_fail "Ignore: labelled pod refused"
n=$(K get pod ignored -n "$NS" -o jsonpath='{.spec.volumes[?(@.name=="model-cache")].name}')
[ -z "$n" ] || mc_fail "Ignore: the pod was mutated"
mc_log "webhook down: Fail refuses ($(head -c 120 "$MC_TMP/down.out")...), unlabelled pods admitted, Ignore admits unmutated"
echo "PASS webhook"
