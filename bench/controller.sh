#!/usr/bin/env bash
# bench/controller.sh: the controller benchmark (README.md, "Benchmarks").
#
# N ModelCaches x 3 simulated clusters (the control plane as the `local`
# InferenceCluster + 2 remote kubesims `gpu-west`, `gpu-east`), cold start:
#   - everything (CRDs, clusters, secrets, GPU nodes, the N ModelCaches) is
#     created BEFORE the operator starts; the clock starts with the operator;
#   - "composed" = a PVC and a hydration Job exist on every cluster for every
#     cache; "settled" = every cache's status lists the 3 clusters as
#     Hydrating (observedGeneration current). The simulators run with
#     --bind-pvcs and WITHOUT --run-jobs: PVCs bind, nothing downloads, the
#     Jobs stay running, so the steady state is "Hydrating" everywhere.
#     fakehub serves two tiny fixtures (tinyllama, qwen3-0.6b) for the
#     operator's size estimates. Leader election is off: Lease renewals are
#     writes by design (OP_FLAGS=--leader-elect shows them as steady writes).
# Figures:
#   - time to compose all / to settle, caches/s (= N / compose time);
#   - API requests per cache up to "settled", from the kubesim --request-log
#     files (operator requests only: setup happens before the operator starts
#     and the bench's own probes carry the query marker bench-probe=1), split
#     reads/writes, per cluster, with a per verb+resource breakdown;
#   - write requests during a steady-state window (default 45 s, longer than
#     the 30 s informer resync and the 30 s InferenceCluster re-check) that
#     starts 5 s after settling: MUST be 0, and the window must contain a
#     resync (at least N ModelCache reconciles, from the operator's
#     modelcache_reconcile_total);
#   - operator RSS (VmHWM peak and VmRSS from /proc/PID/status), and per
#     object the informers hold (counted with kubectl after the window);
#   - the simulator's raw capacity: 2000 sequential keep-alive GETs with curl
#     (sim_rps), next to the request rate the operator achieved.
# Ends with exactly one line:
#   RESULT controller caches=N clusters=3 compose_s=.. requests_per_cache=..
#          writes_per_cache=.. steady_writes=.. rss_mb=.. caches_per_s=.. sim_rps=..
# Exit 1 if steady_writes != 0, if the window saw no resync, if the caches
# are not composed/settled within the bound (the message says what is
# missing), or if the operator dies or does not exit 0 on SIGTERM.
#
# Usage: bench/controller.sh [-n N] [--steady-seconds S] [--timeout S] [--keep]
#   env: N (caches, default 100), STEADY_S (45), TIMEOUT (convergence bound,
#   default 120 + 2*N s), BUILD (build dir, default build; binaries in
#   $BUILD/bin), OP_FLAGS (extra operator flags, e.g. "--qps 100 --burst 150").
# Not part of hack/test.sh (timing never decides a test).
# shellcheck disable=SC2154 # URL_* and OFF*_* are set by printf -v or sourced from poll.env
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)

N=${N:-100}
STEADY_S=${STEADY_S:-45}
TIMEOUT=${TIMEOUT:-}
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	-n | --caches) N=$2; shift 2 ;;
	--steady-seconds) STEADY_S=$2; shift 2 ;;
	--timeout) TIMEOUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	-h | --help) sed -n '2,/^# Not part of hack/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/controller.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$N" in '' | *[!0-9]* | 0) echo "N must be a positive integer (got '$N')" >&2; exit 2 ;; esac
case "$STEADY_S" in '' | *[!0-9]*) echo "STEADY_S must be an integer (got '$STEADY_S')" >&2; exit 2 ;; esac
: "${TIMEOUT:=$((120 + 2 * N))}"

BUILD=${BUILD:-$SRC/build}
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
BIN=$BUILD/bin
[ -d "$BIN" ] || BIN=$BUILD
for b in kubesim fakehub modelcache-operator; do
	[ -x "$BIN/$b" ] || { echo "missing $BIN/$b (build it, or set BUILD=<build dir>)" >&2; exit 1; }
done
for t in kubectl curl python3; do
	command -v "$t" >/dev/null || { echo "$t not found" >&2; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-controller.XXXXXX")
PIDS=()
FAILED=0
cleanup() {
	local rc=$? p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ] || [ "$FAILED" = 1 ] || [ "$KEEP" = 1 ]; then
		echo "logs kept in $TMP" >&2
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
fail() {
	FAILED=1
	echo "FAIL: $*" >&2
	if [ -f "$TMP/operator.log" ]; then
		echo "----- operator.log (last 30 lines) -----" >&2
		tail -n 30 "$TMP/operator.log" >&2 || true
	fi
	exit 1
}
now_ms() { date +%s%3N; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# ---------------------------------------------------------------- simulators
CLUSTERS=(cp west east)
start_kubesim() { # NAME
	local name=$1 out=$TMP/kubesim-$1.out i url=""
	"$BIN/kubesim" --port 0 --kubeconfig-out "$TMP/$name.kubeconfig" --bind-pvcs \
		--data-dir "$TMP/$name-data" --request-log "$TMP/$name-requests.txt" >"$out" 2>&1 &
	PIDS+=($!)
	for i in $(seq 100); do
		url=$(sed -n 's/^kubesim listening on \(http:\/\/[^ ]*\).*/\1/p' "$out" | head -n1)
		[ -n "$url" ] && [ -s "$TMP/$name.kubeconfig" ] && break
		sleep 0.1
	done
	[ -n "$url" ] || fail "kubesim $name did not start: $(cat "$out")"
	printf -v "URL_$name" '%s' "$url"
}
k() { # CLUSTER kubectl-args...
	local c=$1
	shift
	KUBECONFIG="$TMP/$c.kubeconfig" kubectl --cache-dir "$TMP/kubectl-cache" --request-timeout=30s "$@"
}

log "fixtures + fakehub"
python3 "$SRC/hack/make-fixture-model" --out "$TMP/hub" --only tinyllama --only qwen3-0.6b >/dev/null
"$BIN/fakehub" --root "$TMP/hub" --port 0 --port-file "$TMP/fakehub.port" \
	--request-log "$TMP/fakehub-requests.txt" >"$TMP/fakehub.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/fakehub.port" ] && break; sleep 0.1; done
[ -s "$TMP/fakehub.port" ] || fail "fakehub did not start: $(cat "$TMP/fakehub.out")"
HUB_URL="http://127.0.0.1:$(cat "$TMP/fakehub.port")"

log "3 kubesims (--bind-pvcs, no --run-jobs)"
for c in "${CLUSTERS[@]}"; do start_kubesim "$c"; done

log "setup: CRDs, storage classes, GPU nodes, InferenceClusters, $N ModelCaches"
for f in "$SRC"/crds/*.yaml; do k cp apply -f "$f" >/dev/null; done
for _ in $(seq 40); do k cp get inferenceclusters,modelcaches >/dev/null 2>&1 && break; sleep 0.25; done
for c in "${CLUSTERS[@]}"; do
	k "$c" apply -f - >/dev/null <<'YAML'
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: modelcache-rwx}
provisioner: kubesim.dev/hostpath
---
apiVersion: v1
kind: Node
metadata:
  name: gpu-1
  labels: {nvidia.com/gpu.product: NVIDIA-A10G, nvidia.com/gpu.memory: "24576", nvidia.com/gpu.count: "1"}
YAML
done
k cp create namespace modelcache-system >/dev/null
k cp create namespace bench >/dev/null
for c in west east; do
	k cp -n modelcache-system create secret generic "gpu-$c" --from-file=kubeconfig="$TMP/$c.kubeconfig" >/dev/null
done
k cp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: local}
spec: {connection: {local: {}}}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: gpu-west}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-west}}
---
apiVersion: modelcache.dev/v1alpha1
kind: InferenceCluster
metadata: {name: gpu-east}
spec:
  connection: {kubeconfigSecretRef: {namespace: modelcache-system, name: gpu-east}}
YAML
REPOS=(fixtures/tinyllama fixtures/qwen3-0.6b)
for i in $(seq 1 "$N"); do
	printf -- '---\napiVersion: modelcache.dev/v1alpha1\nkind: ModelCache\nmetadata: {name: cache-%04d, namespace: bench}\nspec:\n  source: HuggingFace\n  huggingFace: {repo: %s}\n' \
		"$i" "${REPOS[$((i % 2))]}"
done >"$TMP/caches.yaml"
k cp create -f "$TMP/caches.yaml" >/dev/null
have=$(k cp get modelcaches -n bench --no-headers | wc -l)
[ "$have" = "$N" ] || fail "created $have ModelCaches, want $N"

# ----------------------------------------------------------- cold start
for c in "${CLUSTERS[@]}"; do
	printf -v "OFF0_$c" '%s' "$(wc -l <"$TMP/$c-requests.txt")"
done
HUB0=$(wc -l <"$TMP/fakehub-requests.txt")
MPORT=$(free_port)
HPORT=$(free_port)
log "operator start (cold): $N caches x 3 clusters"
T0=$(now_ms)
# shellcheck disable=SC2086
"$BIN/modelcache-operator" run --kubeconfig "$TMP/cp.kubeconfig" --hf-endpoint "$HUB_URL" \
	--metrics-bind-address "127.0.0.1:$MPORT" --health-probe-bind-address "127.0.0.1:$HPORT" \
	--webhook-port 0 ${OP_FLAGS:-} >"$TMP/operator.log" 2>&1 &
OP_PID=$!
PIDS+=("$OP_PID")

# The poller: lists (marked bench-probe=1) every 0.25 s until every cluster has
# a PVC and a Job for every cache ("composed") and every cache's status shows
# the 3 clusters Hydrating ("settled"); records the times and the request-log
# line counts at both instants. Bounded by TIMEOUT; says what is missing.
python3 - "$N" "$T0" "$TIMEOUT" "$OP_PID" "$TMP/poll.env" \
	"cp=$URL_cp=$TMP/cp-requests.txt" "west=$URL_west=$TMP/west-requests.txt" \
	"east=$URL_east=$TMP/east-requests.txt" <<'PY' || fail "convergence: see above"
import json, os, sys, time, urllib.request

n, t0, timeout, op_pid, out = int(sys.argv[1]), int(sys.argv[2]) / 1000.0, float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
clusters = []
for a in sys.argv[6:]:
    name, rest = a.split("=", 1)
    url, logf = rest.rsplit("=", 1)
    clusters.append((name, url, logf))
ic_name = {"cp": "local", "west": "gpu-west", "east": "gpu-east"}
sel = "labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmodelcache-operator&bench-probe=1"

def get(url):
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.load(r)

def owners(items):
    s = set()
    for it in items:
        l = it.get("metadata", {}).get("labels") or {}
        s.add((l.get("modelcache.dev/cache-namespace"), l.get("modelcache.dev/cache")))
    return s

def lines(f):
    with open(f, "rb") as fh:
        return sum(1 for _ in fh)

want = {("bench", "cache-%04d" % i) for i in range(1, n + 1)}
t_comp = t_set = None
res = {}
last = ""
while True:
    now = time.time()
    try:
        os.kill(op_pid, 0)
    except OSError:
        sys.exit("the operator exited (pid %d)" % op_pid)
    missing = []
    try:
        if t_comp is None:
            ok = True
            for name, url, _ in clusters:
                p = owners(get(url + "/api/v1/persistentvolumeclaims?" + sel)["items"])
                j = owners(get(url + "/apis/batch/v1/jobs?" + sel)["items"])
                mp, mj = sorted(want - p), sorted(want - j)
                if mp or mj:
                    ok = False
                    missing.append("%s: %d PVCs and %d Jobs missing (e.g. %s)" % (ic_name[name], len(mp), len(mj),
                                   (mp or mj)[0][1]))
            if ok:
                t_comp = now
                for name, _, f in clusters:
                    res["OFFC_" + name] = lines(f)
        if t_comp is not None:
            items = get(clusters[0][1] + "/apis/modelcache.dev/v1alpha1/namespaces/bench/modelcaches?bench-probe=1")["items"]
            phases = {}
            bad = 0
            for it in items:
                st = it.get("status") or {}
                cl = {c.get("name"): c.get("phase") for c in st.get("clusters") or []}
                for v in cl.values():
                    phases[v] = phases.get(v, 0) + 1
                good = (st.get("observedGeneration") == it["metadata"].get("generation") and
                        set(cl) == set(ic_name.values()) and all(v == "Hydrating" for v in cl.values()))
                bad += not good
            if len(items) == n and bad == 0:
                t_set = now
                for name, _, f in clusters:
                    res["OFFS_" + name] = lines(f)
                break
            missing.append("%d of %d caches not settled (cluster phases seen: %s)" %
                           (bad + n - len(items), n, ", ".join("%s=%d" % kv for kv in sorted(phases.items())) or "none"))
    except Exception as e:  # a list failed: keep polling until the bound
        missing.append("probe error: %s" % e)
    last = "; ".join(missing)
    if now - t0 > timeout:
        sys.exit("not converged within %.0f s: %s" % (timeout, last))
    time.sleep(max(0.0, 0.25 - (time.time() - now)))
res["COMPOSE_MS"] = int((t_comp - t0) * 1000)
res["SETTLE_MS"] = int((t_set - t0) * 1000)
with open(out, "w") as f:
    for k, v in res.items():
        f.write("%s=%s\n" % (k, v))
PY
# shellcheck disable=SC1091
. "$TMP/poll.env"
HUBS=$(wc -l <"$TMP/fakehub-requests.txt")
log "composed in ${COMPOSE_MS} ms, settled in ${SETTLE_MS} ms"

metric_sum() { # REGEX-of-metric-line-prefix
	curl -fsS --max-time 10 "http://127.0.0.1:$MPORT/metrics" 2>/dev/null |
		awk -v re="$1" '$0 ~ re {s += $NF} END {printf "%d\n", s}'
}
OPREQ_SETTLED=$(metric_sum '^modelcache_api_requests_total')
RSS_SETTLED_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$OP_PID/status")

# -------------------------------------------------------- steady state
sleep 5
for c in "${CLUSTERS[@]}"; do
	printf -v "OFFW_$c" '%s' "$(wc -l <"$TMP/$c-requests.txt")"
done
R0=$(metric_sum '^modelcache_reconcile_total\{controller="modelcache"')
I0=$(metric_sum '^modelcache_reconcile_total\{controller="inferencecluster"')
log "steady-state window: ${STEADY_S} s (informer resync 30 s, InferenceCluster re-check 30 s)"
sleep "$STEADY_S"
for c in "${CLUSTERS[@]}"; do
	printf -v "OFFE_$c" '%s' "$(wc -l <"$TMP/$c-requests.txt")"
done
R1=$(metric_sum '^modelcache_reconcile_total\{controller="modelcache"')
I1=$(metric_sum '^modelcache_reconcile_total\{controller="inferencecluster"')
kill -0 "$OP_PID" 2>/dev/null || fail "the operator died during the steady-state window"
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$OP_PID/status")
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$OP_PID/status")
THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$OP_PID/status")
MRSS=$(curl -fsS --max-time 10 "http://127.0.0.1:$MPORT/metrics" | awk '/^process_resident_memory_bytes / {printf "%d", $2}' || true)
OPREQ_END=$(metric_sum '^modelcache_api_requests_total')
# what the operator's informers hold (counted after the window, so these
# kubectl requests are in no figure): the control plane's ModelCaches,
# InferenceClusters and Secrets, and per cluster the Nodes and the managed
# PVCs, Jobs, Secrets and Namespaces
count() { k "$@" --no-headers 2>/dev/null | wc -l; }
CACHED=$(($(count cp get modelcaches -A) + $(count cp get inferenceclusters) + $(count cp get secrets -A)))
for c in "${CLUSTERS[@]}"; do
	CACHED=$((CACHED + $(count "$c" get nodes) + $(count "$c" get pvc,jobs,secrets -A -l app.kubernetes.io/managed-by=modelcache-operator) +
		$(count "$c" get namespaces -l app.kubernetes.io/managed-by=modelcache-operator)))
done

# ------------------------------------------- simulator's raw request rate
SIM_GETS=2000
for _ in $(seq "$SIM_GETS"); do
	printf 'url = "%s/api/v1/namespaces/default?bench-probe=1"\noutput = "/dev/null"\n' "$URL_cp"
done >"$TMP/curl-gets.cfg"
s=$(now_ms)
curl -sf -K "$TMP/curl-gets.cfg" || fail "curl GET loop against kubesim failed"
e=$(now_ms)
SIM_MS=$((e - s))
[ "$SIM_MS" -gt 0 ] || SIM_MS=1

# --------------------------------------------------------- stop operator
kill -TERM "$OP_PID"
OP_RC=0
for _ in $(seq 300); do kill -0 "$OP_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$OP_PID" 2>/dev/null && fail "the operator did not exit within 30 s of SIGTERM"
wait "$OP_PID" || OP_RC=$?

# ---------------------------------------------------------------- figures
python3 - "$N" "$TMP" "$COMPOSE_MS" "$SETTLE_MS" "$STEADY_S" "$((R1 - R0))" "$((I1 - I0))" \
	"$HWM_KB" "$RSS_KB" "${MRSS:-0}" "$THREADS" "$SIM_GETS" "$SIM_MS" "$((HUBS - HUB0))" \
	"$OPREQ_SETTLED" "$OPREQ_END" "$OP_RC" "${OP_FLAGS:-}" "$RSS_SETTLED_KB" \
	"cp:$OFF0_cp:$OFFC_cp:$OFFS_cp:$OFFW_cp:$OFFE_cp" \
	"west:$OFF0_west:$OFFC_west:$OFFS_west:$OFFW_west:$OFFE_west" \
	"east:$OFF0_east:$OFFC_east:$OFFS_east:$OFFW_east:$OFFE_east" >"$TMP/figures.txt" <<'PY'
import re, sys

(n, tmp, comp_ms, set_ms, steady_s, rec_mc, rec_ic, hwm_kb, rss_kb, mrss, threads, sim_gets, sim_ms,
 hub_reqs, opreq_settled, opreq_end, op_rc, op_flags, rss_settled_kb) = sys.argv[1:20]
n = int(n); comp = int(comp_ms) / 1000.0; settle = int(set_ms) / 1000.0
names = {"cp": "local (control plane)", "west": "gpu-west (remote)", "east": "gpu-east (remote)"}
WRITES = ("POST", "PUT", "PATCH", "DELETE")

def kind(path):
    p = path.split("?", 1)[0]
    q = path.split("?", 1)[1] if "?" in path else ""
    parts = [x for x in p.split("/") if x]
    # /api/v1/[namespaces/NS/]RES[/NAME[/SUB]] ; /apis/G/V/[namespaces/NS/]RES[/NAME[/SUB]]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if not rest:
        return p
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    r = rest[0]
    if len(rest) >= 3:
        r += "/<name>/" + rest[2]
    elif len(rest) == 2:
        r += "/<name>"
    elif len(rest) == 1 and "watch=" in q:
        r += " (watch)"
    elif len(rest) == 1:
        r += " (list)"
    return r

out = []
tot = {"r": 0, "w": 0}
steady_w = 0
steady_r = 0
steady_lines = []
rows = []
for spec in sys.argv[20:]:
    c, o0, oc, os_, ow, oe = spec.split(":")
    o0, oc, os_, ow, oe = map(int, (o0, oc, os_, ow, oe))
    lines = [l.split() for l in open("%s/%s-requests.txt" % (tmp, c), encoding="utf-8", errors="replace")]
    ops = [l for l in lines[o0:os_] if len(l) >= 3 and "bench-probe=1" not in l[1]]
    r = sum(1 for l in ops if l[0] not in WRITES)
    w = len(ops) - r
    tot["r"] += r; tot["w"] += w
    br = {}
    for l in ops:
        key = (l[0], kind(l[1]))
        br[key] = br.get(key, 0) + 1
    errs = sum(1 for l in ops if not l[2].startswith("2"))
    win = [l for l in lines[ow:oe] if len(l) >= 3 and "bench-probe=1" not in l[1]]
    ww = [l for l in win if l[0] in WRITES]
    steady_w += len(ww); steady_r += len(win) - len(ww)
    steady_lines += ["%s: %s" % (names[c], " ".join(l)) for l in ww[:10]]
    rows.append((c, r, w, errs, br, len(win) - len(ww), len(ww)))

print("== controller benchmark: %d ModelCaches x 3 clusters (cold start; kubesim --bind-pvcs, no --run-jobs)" % n)
print("time to compose all (PVC + Job on every cluster) %8.2f s   -> %.2f caches/s (polled every 0.25 s)" % (comp, n / comp))
print("time until every status settled (3x Hydrating)   %8.2f s" % settle)
print()
print("API requests, operator start -> settled (per cache = / %d):" % n)
print("  %-24s %7s %7s %7s %9s %9s %6s" % ("cluster", "reads", "writes", "total", "reads/c", "writes/c", "non2xx"))
for c, r, w, errs, br, _, _ in rows:
    print("  %-24s %7d %7d %7d %9.2f %9.2f %6d" % (names[c], r, w, r + w, r / n, w / n, errs))
total = tot["r"] + tot["w"]
print("  %-24s %7d %7d %7d %9.2f %9.2f" % ("all", tot["r"], tot["w"], total, tot["r"] / n, tot["w"] / n))
print("  operator's own count (modelcache_api_requests_total): %s at settled, %s at the end of the window" % (opreq_settled, opreq_end))
print("  hub requests (fakehub, whole run): %s (%.2f per cache)" % (hub_reqs, int(hub_reqs) / n))
print("  breakdown (verb resource: count), largest first:")
for c, r, w, errs, br, _, _ in rows:
    items = sorted(br.items(), key=lambda kv: (-kv[1], kv[0]))
    print("    %-10s %s" % (c + ":", ", ".join("%s %s: %d" % (k[0], k[1], v) for k, v in items[:8]) +
                          (", ..." if len(items) > 8 else "")))
print()
print("steady state: %s s window starting 5 s after settled" % steady_s)
for c, _, _, _, _, sr, sw in rows:
    print("  %-24s %5d reads %3d writes" % (names[c], sr, sw))
print("  reconciles in the window: modelcache %s, inferencecluster %s" % (rec_mc, rec_ic))
for l in steady_lines:
    print("  WRITE " + l)
print()
hwm_mb = int(hwm_kb) / 1024.0
print("operator memory: VmHWM %.1f MB (peak), VmRSS %.1f MB at settled -> %.1f MB after the window; %s threads" %
      (hwm_mb, int(rss_settled_kb) / 1024.0, int(rss_kb) / 1024.0, threads))
print("  /metrics process_resident_memory_bytes: %s" % ("%.1f MB" % (int(mrss) / 1048576.0) if int(mrss) else "absent"))
sim_rps = int(sim_gets) * 1000.0 / int(sim_ms)
op_rps = total / settle if settle > 0 else 0.0
print("simulator raw capacity: %s sequential keep-alive GETs in %s ms = %.0f req/s (one kubesim)" % (sim_gets, sim_ms, sim_rps))
print("operator request rate until settled ~ %.0f req/s over 3 simulators (%.1f%% of one simulator's capacity);" %
      (op_rps, 100.0 * op_rps / sim_rps))
print("  at %.1f requests per cache the simulator alone would allow ~%.0f caches/s; measured %.2f caches/s" %
      (total / n, sim_rps / (total / n), n / comp))
print("  operator flags: %s (client-side limit default --qps 20 --burst 30 per cluster)" % (op_flags or "defaults"))
print("operator exit code on SIGTERM: %s" % op_rc)
print("RESULT controller caches=%d clusters=3 compose_s=%.2f requests_per_cache=%.2f writes_per_cache=%.2f "
      "steady_writes=%d rss_mb=%.1f caches_per_s=%.2f sim_rps=%.0f" %
      (n, comp, total / n, tot["w"] / n, steady_w, hwm_mb, n / comp, sim_rps))
PY
RESULT=$(tail -n 1 "$TMP/figures.txt")
sed '$d' "$TMP/figures.txt"
STEADY_WRITES=$(printf '%s\n' "$RESULT" | sed -n 's/.* steady_writes=\([0-9]*\).*/\1/p')
if [ "$STEADY_WRITES" != 0 ]; then
	FAILED=1
	echo "FAIL: $STEADY_WRITES write requests during the steady-state window (must be 0)" >&2
fi
# the window must have exercised a resync: every cache reconciled at least once
if [ "$((R1 - R0))" -lt "$N" ]; then
	FAILED=1
	echo "FAIL: only $((R1 - R0)) ModelCache reconciles in the ${STEADY_S} s window (< $N caches): no resync inside it" >&2
fi
if [ "$OP_RC" != 0 ]; then
	FAILED=1
	echo "FAIL: the operator exited $OP_RC on SIGTERM" >&2
fi
awk -v hwm="$HWM_KB" -v rss="$RSS_KB" -v n="$CACHED" 'BEGIN {
	printf "cached objects: %d; per cached object %.1f KB (VmHWM), %.1f KB (VmRSS after the window)\n",
		n, hwm / (n > 0 ? n : 1), rss / (n > 0 ? n : 1) }'
echo "$RESULT"
[ "$FAILED" = 0 ]
