# Environment shared by the test/e2e/modelcache_*.sh scenarios (sourced, not a test).
#
#   . "$(dirname "$0")/modelcache_env.sh"
#   mce_setup [--remote-gpus YAML] [--fakehub-flag ...]
#       two kubesims with --bind-pvcs --run-jobs (cp = control plane with the
#       `local` InferenceCluster, remote = `gpu-west` with 2 GPU nodes of 24 GiB),
#       fakehub serving generated fixtures, CRDs, StorageClasses, the operator.
#   mcp / mcr KUBECTL-ARGS...    kubectl on the control plane / the remote
#   mce_phase NS NAME CLUSTER    phase of that cluster in status.clusters
#   mce_jp KS KIND NAME NS JSONPATH
#   mce_writes FILE              write requests (POST/PUT/PATCH/DELETE) in a kubesim request log
#   mce_metric NAME_AND_LABELS   value of a metric line from the operator's /metrics (0 if absent)
#   mce_events NS NAME REASON    how many Events with that reason regard ModelCache NAME
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mcp() { mc_kubectl cp "$@"; }
mcr() { mc_kubectl remote "$@"; }

mce_jp() { # KS KIND NAME NS JSONPATH
	mc_kubectl "$1" get "$2" "$3" -n "$4" -o jsonpath="$5" 2>/dev/null
}

mce_phase() { # NS NAME CLUSTER
	mce_jp cp mc "$2" "$1" "{.status.clusters[?(@.name==\"$3\")].phase}"
}

mce_cond() { # NS NAME TYPE -> "status/reason"
	local s r
	s=$(mce_jp cp mc "$2" "$1" "{.status.conditions[?(@.type==\"$3\")].status}")
	r=$(mce_jp cp mc "$2" "$1" "{.status.conditions[?(@.type==\"$3\")].reason}")
	echo "$s/$r"
}

mce_writes() { # FILE
	[ -f "$1" ] || { echo 0; return; }
	grep -cE '^(POST|PUT|PATCH|DELETE) ' "$1" || true
}

mce_metric() { # 'name{labels}'
	local v
	v=$(curl -fsS "http://127.0.0.1:$OP_op_METRICS/metrics" 2>/dev/null | grep -F "$1 " | awk '{print $NF}' | head -n1)
	echo "${v:-0}"
}

mce_events() { # NS NAME REASON
	mcp get events.events.k8s.io -n "$1" -o json 2>/dev/null | python3 -c '
import json, sys
name, reason = sys.argv[1], sys.argv[2]
items = json.load(sys.stdin).get("items", [])
print(sum(1 for e in items if e.get("reason") == reason and (e.get("regarding") or {}).get("name") == name
          and (e.get("regarding") or {}).get("kind") == "ModelCache"))' "$2" "$3"
}

# Wait until every listed cluster of NS/NAME has PHASE: mce_wait_phase T NS NAME PHASE CLUSTER...
mce_wait_phase() {
	local t=$1 ns=$2 name=$3 phase=$4
	shift 4
	local c
	for c in "$@"; do
		mc_wait "$t" "$ns/$name on $c to be $phase (now: $(mce_phase "$ns" "$name" "$c"))" \
			eval '[ "$(mce_phase '"$ns"' '"$name"' '"$c"')" = '"$phase"' ]'
	done
}

mce_node() { # name product memMiB count
	cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $1
  labels:
    nvidia.com/gpu.product: $2
    nvidia.com/gpu.memory: "$3"
    nvidia.com/gpu.count: "$4"
YAML
}

mce_storage_class() {
	cat <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: modelcache-rwx
provisioner: kubesim.dev/hostpath
YAML
}

# The host directory of a PVC (kubesim --bind-pvcs).
mce_pvc_dir() { # KS NS PVC
	mce_jp "$1" pvc "$3" "$2" '{.metadata.annotations.kubesim\.dev/host-path}'
}

# Check that every file of fixture REPO (matching the optional globs) is in
# DIR with the same sha256; prints the number of files checked.
mce_check_files() { # REPO DIR [GLOB...]
	python3 - "$MC_FAKEHUB_ROOT/$1" "$2" "${@:3}" <<'PY'
import fnmatch, hashlib, os, sys
src, dst, globs = sys.argv[1], sys.argv[2], sys.argv[3:]
n = 0
for root, dirs, files in os.walk(src):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for f in files:
        if f.startswith("."):
            continue
        rel = os.path.relpath(os.path.join(root, f), src)
        if globs and not any(fnmatch.fnmatch(rel, g) for g in globs):
            continue
        a = os.path.join(src, rel)
        b = os.path.join(dst, rel)
        if not os.path.isfile(b):
            sys.exit(f"missing {rel} in {dst}")
        ha = hashlib.sha256(open(a, "rb").read()).hexdigest()
        hb = hashlib.sha256(open(b, "rb").read()).hexdigest()
        if ha != hb:
            sys.exit(f"{rel}: sha256 {hb} != {ha}")
        n += 1
if n == 0:
    sys.exit("no fixture files")
print(n)
PY
}

# mce_setup [--remote-gpus YAML-LIST] [--no-operator] [-- fakehub flags...]
mce_setup() {
	local remote_gpus="" start_op=1
	while [ $# -gt 0 ]; do
		case "$1" in
		--remote-gpus) remote_gpus=$2; shift 2 ;;
		--no-operator) start_op=0; shift ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	mc_init
	export MC_FAKEHUB_ROOT="$MC_TMP/hub"
	python3 "$MC_SOURCE_DIR/hack/make-fixture-model" --out "$MC_FAKEHUB_ROOT" \
		--only qwen3-0.6b --only gated-model --only tinyllama >/dev/null
	mc_start_fakehub --request-log "$MC_TMP/fakehub-requests.txt" "$@"
	# MCE_BEHAVE="" runs the simulators without cluster behaviours (development only)
	local behave=${MCE_BEHAVE---bind-pvcs --run-jobs}
	# MCE_CP_FLAGS: more flags for the control plane's kubesim (e.g. --rbac)
	# shellcheck disable=SC2086
	mc_start_kubesim cp $behave ${MCE_CP_FLAGS:-} --data-dir "$MC_TMP/cp-data" --request-log "$MC_TMP/cp-requests.txt"
	# shellcheck disable=SC2086
	mc_start_kubesim remote $behave --data-dir "$MC_TMP/remote-data" --request-log "$MC_TMP/remote-requests.txt"
	mc_apply_crds cp
	mce_storage_class | mcp apply -f - >/dev/null
	mce_storage_class | mcr apply -f - >/dev/null
	{ mce_node gpu-1 NVIDIA-A10G 24576 1; echo ---; mce_node gpu-2 NVIDIA-A10G 24576 1; } | mcr apply -f - >/dev/null
	mcp create namespace modelcache-system >/dev/null
	mcp create namespace ml-team >/dev/null
	mcp -n modelcache-system create secret generic gpu-west --from-file=kubeconfig="$KS_remote_KUBECONFIG" >/dev/null
	mcp apply -f - >/dev/null <<YAML
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
${remote_gpus}
YAML
	if [ "$start_op" = 1 ]; then
		mce_start_operator
	fi
}

mce_start_operator() {
	mc_start_operator op cp --hf-endpoint "$FAKEHUB_URL" --log-level debug "$@"
	mc_wait 40 "InferenceCluster local Connected" eval '[ "$(mc_cond cp ic local Connected)" = True ]'
	mc_wait 40 "InferenceCluster gpu-west Connected" eval '[ "$(mc_cond cp ic gpu-west Connected)" = True ]'
}
