#!/usr/bin/env bash
# hack/demo.sh: the whole product on one machine, no cluster and no internet.
#
# Starts two simulated Kubernetes clusters (kubesim): the control plane,
# which is also the `local` InferenceCluster, and a remote `gpu-west` with 2
# GPU nodes of 24 GiB; a simulated Hugging Face Hub (fakehub) serving
# generated fixture models; the operator. Applies the CRDs, the two
# InferenceClusters and examples/quickstart.yaml, then prints
# `kubectl get ic,mc` every time it changes while the caches go
# Pending -> Hydrating -> Ready, shows the files in a cache volume, and exits
# 0 once everything has converged (non-zero with the reason if it has not
# within 5 minutes). Every process it started is stopped on exit, unless
# --keep is given: then they keep running and the kubeconfig to use with
# kubectl is printed.
#
#   hack/demo.sh [--keep] [--timeout SECONDS]
# Environment: MC_BIN (default build/bin; built with cmake when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

KEEP=0
TIMEOUT=300
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) KEEP=1; shift ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "demo: unknown argument $1" >&2; exit 2 ;;
	esac
done

MC_BIN=${MC_BIN:-$ROOT/build/bin}
need=(modelcache-operator kubesim fakehub kubectl-modelcache)
missing=0
for b in "${need[@]}"; do [ -x "$MC_BIN/$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
	echo "== building the operator, kubesim and fakehub (first run)"
	hack/install-deps.sh
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j2 --target "${need[@]}"
	MC_BIN=$ROOT/build/bin
fi
command -v kubectl >/dev/null || { echo "demo: kubectl is required" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/modelcache-demo.XXXXXX")
PIDS=()
cleanup() {
	local rc=$?
	if [ "$KEEP" = 1 ] && [ "$rc" = 0 ]; then
		return
	fi
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" = 0 ]; then
		rm -rf "$W"
	else
		echo "demo: logs are in $W" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo >&2
	echo "demo: FAILED: $*" >&2
	for f in "$W"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f (last 15 lines)" >&2
		tail -n 15 "$f" >&2
	done
	exit 1
}

# wait_for SECONDS WHAT CMD...: poll every 0.5 s
wait_for() {
	local t=$1 what=$2
	shift 2
	local deadline=$((SECONDS + t))
	until "$@" >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${t}s waiting for $what"
		sleep 0.5
	done
}

start_kubesim() { # NAME
	"$MC_BIN/kubesim" --port 0 --kubeconfig-out "$W/$1.kubeconfig" --bind-pvcs --run-jobs \
		--data-dir "$W/$1-volumes" >"$W/kubesim-$1.log" 2>&1 &
	PIDS+=("$!")
	wait_for 10 "kubesim $1 to listen" test -s "$W/$1.kubeconfig"
}

CP="$W/cp.kubeconfig"
kc() { KUBECONFIG=$CP kubectl --request-timeout=20s "$@"; }
kr() { KUBECONFIG=$W/remote.kubeconfig kubectl --request-timeout=20s "$@"; }

echo "== fixture models (hack/make-fixture-model)"
# qwen grown to ~256 MiB so that hydration takes long enough to be seen
python3 hack/make-fixture-model --out "$W/hub" --only qwen3-0.6b --target-bytes qwen3-0.6b=256Mi | sed 's/^/   /'
python3 hack/make-fixture-model --out "$W/hub" --only gated-model | sed 's/^/   /'
# the "too large" model: real Llama shapes grown to ~26 GiB of weights, as sparse files
python3 hack/make-fixture-model --out "$W/hub" --only llama-3.1-8b --real-shapes --fill sparse \
	--target-bytes llama-3.1-8b=26Gi | sed 's/^/   /'

echo "== starting fakehub, two kubesim clusters and the operator"
# --fast-hash-above: files over 1 GiB (only the sparse "too large" model, which
# is never downloaded: it is Skipped) get a pseudo sha256 instead of hashing
# 28 GB of zeros; everything that is hydrated is hashed for real.
"$MC_BIN/fakehub" --root "$W/hub" --port 0 --port-file "$W/fakehub.port" --fast-hash-above 1073741824 \
	>"$W/fakehub.log" 2>&1 &
PIDS+=("$!")
wait_for 10 "fakehub to listen" test -s "$W/fakehub.port"
HUB="http://127.0.0.1:$(cat "$W/fakehub.port")"
# fakehub indexes a repository the first time it is asked about it: do it now,
# while the clusters start
curl -fsS -o /dev/null "$HUB/api/models/fixtures/llama-3.1-8b/revision/main?blobs=true" &
WARM=$!
PIDS+=("$WARM")
start_kubesim cp
start_kubesim remote
echo "   fakehub $HUB"
echo "   control plane $(sed -n 's/^ *server: //p' "$CP" | head -n1) (InferenceCluster local)"
echo "   remote        $(sed -n 's/^ *server: //p' "$W/remote.kubeconfig" | head -n1) (InferenceCluster gpu-west)"

for f in crds/*.yaml; do kc apply -f "$f" >/dev/null; done
wait_for 20 "the CRDs to be served" kc get modelcaches -A
sc='{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"modelcache-rwx"},"provisioner":"kubesim.dev/hostpath"}'
echo "$sc" | kc apply -f - >/dev/null
echo "$sc" | kr apply -f - >/dev/null
for n in 1 2; do
	kr apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Node
metadata:
  name: gpu-node-$n
  labels:
    nvidia.com/gpu.product: NVIDIA-A10G
    nvidia.com/gpu.memory: "24576"
    nvidia.com/gpu.count: "1"
YAML
done
kc create namespace modelcache-system >/dev/null
kc -n modelcache-system create secret generic gpu-west --from-file=kubeconfig="$W/remote.kubeconfig" >/dev/null
kc apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata:
  name: local
  labels: {region: east}
spec:
  connection: {local: {}}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata:
  name: gpu-west
  labels: {region: west, modelcache.dev/gpus: "true"}
spec:
  connection:
    kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-west, key: kubeconfig}
  namespace: modelcache
YAML

echo "== kubectl apply -f examples/quickstart.yaml"
kc apply -f examples/quickstart.yaml | sed 's/^/   /'
echo
echo "== before the operator runs"
kc get ic,mc -A
echo
wait "$WARM" || fail "fakehub could not index fixtures/llama-3.1-8b"
echo "== starting the operator"
PATH="$MC_BIN:$PATH" "$MC_BIN/modelcache-operator" run --kubeconfig "$CP" --hf-endpoint "$HUB" \
	--metrics-bind-address 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0 --webhook-port 0 \
	>"$W/operator.log" 2>&1 &
PIDS+=("$!")
OP_PID=$!
echo

# A ModelCache's "<ready summary> <ArtifactReady reason>".
mc_state() { kc get mc "$1" -n ml-team -o jsonpath='{.status.summary.ready} {.status.conditions[?(@.type=="ArtifactReady")].reason}' 2>/dev/null; }
converged() {
	[ "$(mc_state qwen)" = "2/2 Staged" ] && [ "$(mc_state gated)" = "2/2 Staged" ] &&
		[ "$(mc_state llama-big)" = "0/1 Skipped" ]
}
phases() {
	kc get mc -n ml-team -o jsonpath='{range .items[*]}{.metadata.name}:{range .status.clusters[*]} {.name}={.phase}{end}{"\n"}{end}' 2>/dev/null
}
# What is printed again when it changes (not the AGE column).
signature() {
	kc get ic -o jsonpath='{range .items[*]}{.metadata.name}{.status.conditions[*].status}{.status.cache.caches}{end}' 2>/dev/null
	kc get mc -A -o jsonpath='{range .items[*]}{.metadata.name}{.status.summary.ready}{.status.conditions[?(@.type=="ArtifactReady")].reason}{end}' 2>/dev/null
	phases
}

echo "== kubectl get ic,mc -A   (printed on every change; converging)"
last=""
deadline=$((SECONDS + TIMEOUT))
start=$SECONDS
while :; do
	kill -0 "$OP_PID" 2>/dev/null || fail "the operator exited"
	sig=$(signature || true)
	if [ "$sig" != "$last" ]; then
		echo "--- t=$((SECONDS - start))s"
		kc get ic,mc -A 2>&1 || true
		phases | sed 's/^/  phases /' || true
		last=$sig
	fi
	if converged; then
		break
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		fail "not converged within ${TIMEOUT}s: qwen=[$(mc_state qwen)] gated=[$(mc_state gated)] llama-big=[$(mc_state llama-big)] (want 2/2 Staged, 2/2 Staged, 0/1 Skipped)"
	fi
	sleep 0.2
done
echo "--- t=$((SECONDS - start))s: converged"
kc get ic,mc -A
phases | sed 's/^/  phases /' || true
echo
echo "== converged after $((SECONDS - start))s"
echo
echo "== why llama-big was not downloaded to gpu-west"
kc get mc llama-big -n ml-team -o jsonpath='{range .status.clusters[*]}  {.name}: {.phase}/{.reason}: {.message}{"\n"}    estimatedBytes={.estimatedBytes} availableBytes={.availableBytes}{"\n"}{end}'
echo
echo "== the cache volume of ml-team/qwen on gpu-west (the remote cluster)"
PVC=$(kc get mc qwen -n ml-team -o jsonpath='{.status.clusters[?(@.name=="gpu-west")].pvc}')
DIR=$(kr get pvc "$PVC" -n modelcache -o jsonpath='{.metadata.annotations.kubesim\.dev/host-path}')
echo "   PVC modelcache/$PVC -> $DIR"
(cd "$DIR" && find . -type f ! -name '.*' -printf '%s\t%P\n' | sort -k2 | while IFS=$'\t' read -r size path; do
	printf '   %10s  %s  %s\n' "$size" "$(sha256sum "$path" | cut -c1-16)" "$path"
done)
echo
echo "== events of ml-team/qwen"
kc get events -n ml-team --field-selector involvedObject.name=qwen 2>/dev/null | sed 's/^/   /' || true
echo

if [ "$KEEP" = 1 ]; then
	live=()
	for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && live+=("$p"); done
	metrics=$(sed -n 's/.*msg="metrics server listening".* port=\([0-9]*\).*/\1/p' "$W/operator.log" | head -n 1)
	echo "== --keep: everything keeps running (pids ${live[*]})"
	echo "   export KUBECONFIG=$CP"
	echo "   kubectl get ic,mc -A; kubectl describe mc -n ml-team qwen"
	echo "   remote cluster: KUBECONFIG=$W/remote.kubeconfig kubectl get pvc,jobs -n modelcache"
	echo "   operator log: $W/operator.log; metrics: curl -s http://127.0.0.1:${metrics:-?}/metrics"
	echo "   stop with: kill ${live[*]}; rm -rf $W"
else
	echo "== done: stopping every process"
fi
exit 0
