#!/usr/bin/env bash
# bench/hydrate.sh: the hydrator (sha256/sha1 verification ON, fsync, rename)
# vs curl (one file after another) vs aria2c on the same >= 1 GiB fixture
# served by test/fakehub over loopback. Also measures the bytes fetched again
# after a transfer is cut. Not part of hack/test.sh (timing is never a test).
#
# Every tool is timed until its files are DURABLE: the hydrator fsyncs each
# file itself; curl and aria2c are followed by `sync -f` of their output
# folder (a download that sits in the page cache is not staged yet). The
# page-cache-only times of curl and aria2c are printed too. RUNS=N keeps the
# best of N runs per tool (the machine is shared; noise is large).
#
#   bench/hydrate.sh                      # build dir ./build, 1 GiB, --parallel 8
#   BUILD=build-hub SIZE=2Gi PARALLEL=8 bench/hydrate.sh
#   FIXTURE_ROOT=/tmp/keep bench/hydrate.sh   # reuse a generated fixture root
#   OUT=/dev/shm RUNS=3 bench/hydrate.sh       # write to tmpfs, best of 3
# Ends with:
#   RESULT hydrate hydrator_MBps=.. curl_MBps=.. aria2c_MBps=.. ratio_vs_best=..
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
BIN=${MC_BIN:-$BUILD/bin}
SIZE=${SIZE:-1Gi}
SHARD=${SHARD:-256Mi}
PARALLEL=${PARALLEL:-8}
RUNS=${RUNS:-1}
REPO=fixtures/tinyllama
for b in "$BIN/modelcache-operator" "$BIN/fakehub"; do
  [ -x "$b" ] || { echo "bench: $b not built (cmake --build $BUILD)"; exit 1; }
done

TMP=$(mktemp -d /tmp/mc-bench-hydrate.XXXXXX)
OUT=${OUT:-$TMP}   # where the tools write (OUT=/dev/shm takes the disk out of the picture)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP" "$OUT"/mc-bench-out-*
}
trap cleanup EXIT

ROOT=${FIXTURE_ROOT:-$TMP/hub}
if [ ! -f "$ROOT/$REPO/.fixture-truth.json" ]; then
  echo "== generating a $SIZE fixture ($SHARD shards) in $ROOT"
  "$SRC/hack/make-fixture-model" --out "$ROOT" --only tinyllama --target-bytes "$SIZE" --shard-bytes "$SHARD"
fi
TOTAL=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['download_bytes'])" "$ROOT/$REPO/.fixture-truth.json")
NFILES=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['file_sizes']))" "$ROOT/$REPO/.fixture-truth.json")
echo "fixture: $REPO, $NFILES files, $TOTAL bytes"

start_hub() {
  local name=$1; shift
  LOG=$TMP/$name.log
  "$BIN/fakehub" --root "$ROOT" --port 0 --port-file "$TMP/$name.port" --request-log "$LOG" "$@" 2>/dev/null &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  [ -s "$TMP/$name.port" ] || { echo "bench: fakehub did not start"; exit 1; }
  EP=http://127.0.0.1:$(cat "$TMP/$name.port")
}
stop_last_hub() { local p=${PIDS[-1]}; kill "$p"; wait "$p" 2>/dev/null || true; unset 'PIDS[-1]'; }

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) / 1e6 / float(sys.argv[2])))" "$1" "$2"; }

start_hub main
# warm-up: fakehub hashes the files once (cached by size+mtime), page cache filled
curl -sf "$EP/api/models/$REPO?blobs=true" -o "$TMP/info.json"
cat "$ROOT/$REPO"/* >/dev/null 2>&1 || true
python3 - "$TMP/info.json" >"$TMP/files.txt" <<'EOF'
import json, sys
for s in json.load(open(sys.argv[1]))["siblings"]:
    print(s["rfilename"])
EOF

best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }

run_hydrator() {
  local d=$OUT/mc-bench-out-hydrate
  rm -rf "$d"; sync
  local t0 t1; t0=$(now)
  "$BIN/modelcache-operator" hydrate --repo "$REPO" --dest "$d" --endpoint "$EP" --parallel "$PARALLEL" \
    --progress-interval 2 2>"$TMP/hydrate.err"
  t1=$(now)
  rm -rf "$d"
  python3 -c "print($t1 - $t0)"
}

run_curl() {   # prints "durable_seconds cache_seconds"
  local d=$OUT/mc-bench-out-curl
  rm -rf "$d"; mkdir -p "$d"; sync
  local t0 t1 t2; t0=$(now)
  while read -r f; do
    mkdir -p "$d/$(dirname "$f")"
    curl -sfL -o "$d/$f" "$EP/$REPO/resolve/main/$f"
  done <"$TMP/files.txt"
  t1=$(now)
  sync -f "$d"
  t2=$(now)
  rm -rf "$d"
  python3 -c "print($t2 - $t0, $t1 - $t0)"
}

run_aria2c() {
  local d=$OUT/mc-bench-out-aria2c
  rm -rf "$d"; mkdir -p "$d"; sync
  while read -r f; do
    printf '%s\n  out=%s\n' "$EP/$REPO/resolve/main/$f" "$f"
  done <"$TMP/files.txt" >"$TMP/aria2.txt"
  local t0 t1 t2; t0=$(now)
  aria2c -q -i "$TMP/aria2.txt" -d "$d" -j "$PARALLEL" -x 4 -s 4 --file-allocation=none \
    --allow-overwrite=true --auto-file-renaming=false --console-log-level=error
  t1=$(now)
  sync -f "$d"
  t2=$(now)
  rm -rf "$d"
  python3 -c "print($t2 - $t0, $t1 - $t0)"
}

HTS=(); CTS=(); CCS=(); ATS=(); ACS=()
for i in $(seq "$RUNS"); do
  HTS+=("$(run_hydrator)")
  read -r a b <<<"$(run_curl)"; CTS+=("$a"); CCS+=("$b")
  if command -v aria2c >/dev/null; then
    read -r a b <<<"$(run_aria2c)"; ATS+=("$a"); ACS+=("$b")
  fi
done
tail -1 "$TMP/hydrate.err"
HT=$(best "${HTS[@]}"); H=$(mbps "$TOTAL" "$HT")
echo "hydrator: ${HT}s  ${H} MB/s  (parallel $PARALLEL, sha256/sha1 verified, fsync + rename per file)"
CT=$(best "${CTS[@]}"); C=$(mbps "$TOTAL" "$CT"); CC=$(mbps "$TOTAL" "$(best "${CCS[@]}")")
echo "curl:     ${CT}s  ${C} MB/s durable  (${CC} MB/s to the page cache; sequential, no verification)"
A=0
if [ ${#ATS[@]} -gt 0 ]; then
  AT=$(best "${ATS[@]}"); A=$(mbps "$TOTAL" "$AT"); AC=$(mbps "$TOTAL" "$(best "${ACS[@]}")")
  echo "aria2c:   ${AT}s  ${A} MB/s durable  (${AC} MB/s to the page cache; -j $PARALLEL -x 4, no verification)"
else
  echo "aria2c:   not installed"
fi
stop_last_hub

# bytes fetched again after a cut at ~40% of the fixture
CUT=$((TOTAL * 2 / 5))
start_hub cut --fault-cut-after-bytes "$CUT"
D=$TMP/out-cut
"$BIN/modelcache-operator" hydrate --repo "$REPO" --dest "$D" --endpoint "$EP" --parallel "$PARALLEL" \
  --retries 0 2>/dev/null && { echo "bench: the cut run unexpectedly succeeded"; exit 1; }
stop_last_hub
# what the cut run left on disk (complete files + PATH.incomplete)
ON_DISK=$(find "$D" -type f ! -name '.modelcache-hydrated*' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
start_hub resume
"$BIN/modelcache-operator" hydrate --repo "$REPO" --dest "$D" --endpoint "$EP" --parallel "$PARALLEL" 2>/dev/null
REFETCH=$(awk '$2 ~ /\/resolve\/|^\/lfs\// {s += $4} END {print s + 0}' "$LOG")
WASTE=$((REFETCH - (TOTAL - ON_DISK)))
echo "cut after $CUT bytes served: $ON_DISK bytes kept on disk; rerun fetched $REFETCH bytes (missing $((TOTAL - ON_DISK)), fetched again $WASTE)"
stop_last_hub

BEST=$(python3 -c "print(max(float('$C'), float('$A')))")
RATIO=$(python3 -c "print('%.2f' % (float('$H') / float('$BEST')))")
echo "RESULT hydrate hydrator_MBps=$H curl_MBps=$C aria2c_MBps=$A ratio_vs_best=$RATIO"
