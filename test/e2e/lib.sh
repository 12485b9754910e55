# Shared helpers for test/e2e scripts. Source it after `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#   mc_init                                   # temp dir $MC_TMP, cleanup trap, $MC_BIN
#   mc_start_kubesim cp [kubesim flags...]    # sets KS_cp_PID KS_cp_URL KS_cp_PORT KS_cp_KUBECONFIG
#   mc_kubectl cp get nodes                   # kubectl against that simulator
#   mc_storage_class cp                       # the modelcache-rwx StorageClass InferenceClusters expect
#   mc_apply_crds cp                          # crds/*.yaml (falls back to minimal CRDs of our kinds)
#   mc_start_fakehub [flags...]               # sets FAKEHUB_PID FAKEHUB_URL (fixtures in $MC_FAKEHUB_ROOT)
#   mc_start_operator op1 cp [operator flags...]   # sets OP_op1_PID OP_op1_LOG OP_op1_METRICS OP_op1_HEALTH
#   mc_wait 30 "what we wait for" cmd args...  # polls every 0.5 s; fails with the message on timeout
#   mc_stop PID [signal]                       # kill + wait (bounded); returns the exit code in MC_RC
#   mc_free_port                               # prints a free TCP port
#   mc_retry cmd args...                       # retries a failing command (20 x 0.3 s), then fails
#   mc_fail "message"                          # prints, dumps logs, exits 1
#   mc_log "message"
# Scripts that start no simulator (fakehub and our binaries only) use instead:
#   mc_init_plain PREFIX                      # $MC_TMP = new /tmp/PREFIX.XXXXXX; on EXIT: SIGTERM + wait
#                                             # for every pid in MC_PIDS, $MC_TMP removed (any exit code)
#   mc_start_fakehub_logged NAME ROOT [flags...]  # request log $MC_TMP/NAME.log; sets PORT and LOG
# Every process started through these helpers is killed by the EXIT trap;
# logs are kept in $MC_TMP (printed on failure), removed on success.

MC_PIDS=()
MC_TMP=""

mc_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Retry a command (kubectl does not retry 5xx; simulators may inject faults).
mc_retry() {
	local i
	for i in $(seq 1 20); do
		"$@" && return 0
		sleep 0.3
	done
	mc_fail "command kept failing: $*"
}

exec 3>&2
mc_dump_logs() {
	[ -n "$MC_TMP" ] || return 0
	local f
	for f in "$MC_TMP"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f (last 40 lines) -----" >&2
		tail -n 40 "$f" >&2 || true
	done
}

mc_fail() {
	# fd 3 is the script's original stderr (set by mc_init): the message is
	# seen even when mc_fail runs inside a redirected command
	{ echo "FAIL: $*"; mc_dump_logs; } >&3 2>&3
	MC_KEEP_TMP=1
	exit 1
}

mc_cleanup() {
	local rc=$?
	local p
	for p in "${MC_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
	for p in "${MC_PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] && [ "${MC_KEEP_TMP:-0}" != 1 ]; then
		mc_dump_logs
	fi
	if [ "$rc" -eq 0 ] && [ -n "$MC_TMP" ]; then
		rm -rf "$MC_TMP"
	elif [ -n "$MC_TMP" ]; then
		echo "logs kept in $MC_TMP" >&2
	fi
}

mc_init() {
	: "${MC_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
	: "${MC_BIN:=$MC_SOURCE_DIR/build/bin}"
	MC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mc-e2e.XXXXXX")
	export MC_TMP
	: "${MC_FAKEHUB_ROOT:=$MC_TMP/hub}"
	export MC_SOURCE_DIR MC_BIN MC_FAKEHUB_ROOT
	# kubectl caches discovery per server address; ports are reused between
	# runs, so each run gets its own cache
	export KUBECACHEDIR="$MC_TMP/kube-cache"
	trap mc_cleanup EXIT
	trap 'exit 130' INT TERM
	# a command that fails under set -e says which one it was
	trap '[[ $- == *e* ]] && mc_log "command failed (${BASH_SOURCE[0]##*/}:$LINENO): $BASH_COMMAND"' ERR
	[ -x "$MC_BIN/kubesim" ] || mc_fail "kubesim not built in $MC_BIN"
}

mc_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# mc_wait TIMEOUT_S "description" cmd...
mc_wait() {
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			mc_fail "timed out after ${timeout}s waiting for: $what"
		fi
		sleep 0.5
	done
}

# mc_stop PID [SIGNAL] : signal (default TERM), wait up to 40 s, MC_RC = exit code.
mc_stop() {
	local pid=$1 sig=${2:-TERM} i
	MC_RC=0
	kill -"$sig" "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || MC_RC=$?; return 0; }
	for i in $(seq 1 400); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		mc_fail "process $pid did not exit within 40 s of SIG$sig"
	fi
	wait "$pid" 2>/dev/null || MC_RC=$?
}

# mc_start_kubesim NAME [flags...]; --port N may be given (default 0 = free port).
mc_start_kubesim() {
	local name=$1
	shift
	local kc="$MC_TMP/$name.kubeconfig" log="$MC_TMP/kubesim-$name.log"
	local args=("$@") has_port=0 a
	for a in "${args[@]}"; do [ "$a" = "--port" ] && has_port=1; done
	[ "$has_port" = 1 ] || args=(--port 0 "${args[@]}")
	rm -f "$kc"
	: >"$log"
	"$MC_BIN/kubesim" --kubeconfig-out "$kc" "${args[@]}" >"$log" 2>&1 &
	local pid=$!
	MC_PIDS+=("$pid")
	local i url=""
	for i in $(seq 1 100); do
		url=$(sed -n 's/^kubesim listening on \(http[s]*:\/\/[^ ]*\).*/\1/p' "$log" 2>/dev/null | head -n1 || true)
		[ -n "$url" ] && [ -s "$kc" ] && break
		kill -0 "$pid" 2>/dev/null || mc_fail "kubesim $name exited at start"
		sleep 0.1
	done
	[ -n "$url" ] || mc_fail "kubesim $name did not print its address"
	printf -v "KS_${name}_PID" '%s' "$pid"
	printf -v "KS_${name}_URL" '%s' "$url"
	printf -v "KS_${name}_PORT" '%s' "${url##*:}"
	printf -v "KS_${name}_KUBECONFIG" '%s' "$kc"
	printf -v "KS_${name}_LOG" '%s' "$log"
	mc_log "kubesim $name at $url (pid $pid)"
}

# mc_storage_class KS [NAME]: the RWX class InferenceClusters expect
# (spec.cache.storageClassName, default modelcache-rwx); without it an
# InferenceCluster is Ready=False/StorageClassMissing, as on a real cluster.
mc_storage_class() {
	mc_kubectl "$1" apply -f - >/dev/null <<YAML
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${2:-modelcache-rwx}}
provisioner: kubesim.dev/hostpath
YAML
}

# mc_not_found KS ARGS...: `kubectl get ARGS` answers NotFound (any other
# failure, such as an unreachable server, is not an absence)
mc_not_found() {
	local ks=$1 out
	shift
	if out=$(mc_kubectl "$ks" get "$@" 2>&1); then
		return 1
	fi
	[[ "$out" == *NotFound* || "$out" == *"not found"* ]]
}

mc_kubectl() {
	local name=$1
	shift
	local v="KS_${name}_KUBECONFIG"
	KUBECONFIG="${!v}" kubectl --request-timeout=20s "$@"
}

# Minimal CRDs for our three kinds (used only when crds/ has none yet).
mc_minimal_crd() { # plural kind short scope
	cat <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $1.modelcache.dev
spec:
  group: modelcache.dev
  names: {kind: $2, listKind: $2List, plural: $1, singular: $(echo "$2" | tr 'A-Z' 'a-z'), shortNames: [$3], categories: [modelcache]}
  scope: $4
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
YAML
}
mc_minimal_crds() {
	mc_minimal_crd inferenceclusters InferenceCluster ic Cluster
	echo ---
	mc_minimal_crd modelcaches ModelCache mc Namespaced
	echo ---
	mc_minimal_crd modeldeployments ModelDeployment md Namespaced
}

mc_apply_minimal_crds() { mc_minimal_crds | mc_kubectl "$1" apply -f - >/dev/null; }

mc_apply_crds() {
	local name=$1 f found=0
	for f in "$MC_SOURCE_DIR"/crds/*.yaml; do
		[ -f "$f" ] || continue
		found=1
		mc_retry mc_kubectl "$name" apply -f "$f" >/dev/null
	done
	if [ "$found" = 0 ]; then
		mc_retry mc_apply_minimal_crds "$name"
	fi
	mc_wait 20 "CRDs served on $name" mc_kubectl "$name" get inferenceclusters,modelcaches
}

# mc_start_fakehub [flags...]
mc_start_fakehub() {
	local pf="$MC_TMP/fakehub.port" log="$MC_TMP/fakehub.log"
	rm -f "$pf"
	"$MC_BIN/fakehub" --root "$MC_FAKEHUB_ROOT" --port 0 --port-file "$pf" "$@" >"$log" 2>&1 &
	FAKEHUB_PID=$!
	MC_PIDS+=("$FAKEHUB_PID")
	mc_wait 10 "fakehub port file" test -s "$pf"
	FAKEHUB_URL="http://127.0.0.1:$(cat "$pf")"
	mc_log "fakehub at $FAKEHUB_URL (pid $FAKEHUB_PID)"
}

# mc_start_operator NAME KUBESIM_NAME [operator flags...]
mc_start_operator() {
	local name=$1 ks=$2
	shift 2
	local kcv="KS_${ks}_KUBECONFIG" log="$MC_TMP/operator-$name.log"
	local mport hport
	mport=$(mc_free_port)
	hport=$(mc_free_port)
	"$MC_BIN/modelcache-operator" run --kubeconfig "${!kcv}" \
		--metrics-bind-address "127.0.0.1:$mport" --health-probe-bind-address "127.0.0.1:$hport" \
		--webhook-port 0 "$@" >"$log" 2>&1 &
	local pid=$!
	MC_PIDS+=("$pid")
	printf -v "OP_${name}_PID" '%s' "$pid"
	printf -v "OP_${name}_LOG" '%s' "$log"
	printf -v "OP_${name}_METRICS" '%s' "$mport"
	printf -v "OP_${name}_HEALTH" '%s' "$hport"
	mc_log "operator $name (pid $pid) metrics :$mport health :$hport"
}

# The `status` of condition TYPE of cluster-scoped/namespaced object: mc_cond KS KIND NAME TYPE [-n NS]
mc_cond() {
	local ks=$1 kind=$2 name=$3 type=$4
	shift 4
	mc_kubectl "$ks" get "$kind" "$name" "$@" -o jsonpath="{.status.conditions[?(@.type==\"$type\")].status}"
}

# mc_init_plain PREFIX: temp dir and process cleanup without mc_init's
# kubesim check, kept logs or log dump (the caller reports its own failures).
mc_init_plain() {
	MC_TMP=$(mktemp -d "/tmp/$1.XXXXXX")
	trap mc_cleanup_plain EXIT
}

mc_cleanup_plain() {
	local p
	for p in "${MC_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${MC_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$MC_TMP"
}

# mc_start_fakehub_logged NAME ROOT [fakehub flags...]: fakehub serving ROOT on a
# free port, request log $MC_TMP/NAME.log (emptied first), stderr in
# $MC_TMP/NAME.stderr; sets PORT and LOG; fails if no port file within 10 s.
mc_start_fakehub_logged() {
	local name=$1 root=$2
	shift 2
	LOG=$MC_TMP/$name.log
	: >"$LOG"
	"$MC_BIN/fakehub" --root "$root" --port 0 --port-file "$MC_TMP/$name.port" --request-log "$LOG" "$@" \
		2>"$MC_TMP/$name.stderr" &
	MC_PIDS+=($!)
	local i
	for i in $(seq 200); do
		[ -s "$MC_TMP/$name.port" ] && break
		sleep 0.05
	done
	[ -s "$MC_TMP/$name.port" ] || mc_fail "fakehub $name did not write its port file"
	PORT=$(cat "$MC_TMP/$name.port")
}
