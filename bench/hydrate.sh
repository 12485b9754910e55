#!/usr/bin/env bash
# bench/hydrate.sh: the hydrator (sha256/sha1 verification ON, fsync, rename)
# vs curl (one file after another) vs aria2c on the same fixture served by
# test/fakehub. Also measures the bytes fetched again after a transfer is
# cut. Not part of hack/test.sh (timing is never a test).
#
# Every tool is timed until its files are DURABLE: the hydrator fsyncs each
# file itself; curl and aria2c are followed by `sync -f` of their output
# folder (a download that sits in the page cache is not staged yet). The
# page-cache-only times of curl and aria2c are printed too. RUNS=N keeps the
# best of N runs per tool (the machine is shared; noise is large).
#
# LINK=wan first runs the three tools over fakehub's link emulation
# (test/fakehub/README.md): 40 MB/s per TCP connection, 30 ms before the
# first byte of every response, on a 2 GiB fixture of two 1 GiB files:
# aria2c -x16 -s16 -j2 (16 connections per file, two files at once: 32),
# the hydrator with as many connections (WAN_CONNECTIONS=32, 64 MiB chunks)
# and once more with its default 16 (its peak RSS is rss_mb, the larger of
# the two runs), curl one file after another. Then a cut at 40 % of the fixture
# over the same link and a rerun: the bytes fakehub served in both runs
# minus the fixture's size are what the chunk maps did not save. The
# loopback run follows as without LINK.
#
#   bench/hydrate.sh                      # build dir ./build, 1 GiB, 16 connections
#   BUILD=build-hub SIZE=2Gi CONNECTIONS=8 bench/hydrate.sh
#   FIXTURE_ROOT=/tmp/keep bench/hydrate.sh   # reuse a generated fixture root
#   OUT=/dev/shm RUNS=3 bench/hydrate.sh       # write to tmpfs, best of 3
#   LINK=wan bench/hydrate.sh                  # the WAN comparison, then loopback
# Ends with (the first line only with LINK=wan; rss_mb is the hydrator's peak
# RSS in MiB, refetch_after_cut_mb MiB served twice after the cut):
#   RESULT hydrate_wan hydrator_MBps=.. aria2c_MBps=.. curl_MBps=.. ratio_vs_best=.. rss_mb=.. refetch_after_cut_mb=.. connections=..
#   RESULT hydrate hydrator_MBps=.. curl_MBps=.. aria2c_MBps=.. ratio_vs_best=..
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
BIN=${MC_BIN:-$BUILD/bin}
SIZE=${SIZE:-1Gi}
SHARD=${SHARD:-256Mi}
CONNECTIONS=${CONNECTIONS:-16}
ARIA_J=${ARIA_J:-8}     # loopback aria2c: -j ARIA_J -x 4 -s 4
RUNS=${RUNS:-1}
LINK=${LINK:-loopback}
case $LINK in loopback|wan) ;; *) echo "bench: LINK must be loopback or wan"; exit 2 ;; esac
WAN_RATE=40000000       # bytes per second per TCP connection
WAN_FIRST_BYTE_MS=30
WAN_CONNECTIONS=${WAN_CONNECTIONS:-32}   # the connections aria2c -x16 -j2 opens on two files
for b in "$BIN/modelcache-operator" "$BIN/fakehub"; do
  [ -x "$b" ] || { echo "bench: $b not built (cmake --build $BUILD)"; exit 1; }
done
if [ "$LINK" = wan ] && ! command -v aria2c >/dev/null; then
  echo "bench: LINK=wan compares with aria2c (INSTALL_OPTIONAL=1 hack/install-deps.sh)"; exit 1
fi

TMP=$(mktemp -d /tmp/mc-bench-hydrate.XXXXXX)
OUT=${OUT:-$TMP}   # where the tools write (OUT=/dev/shm takes the disk out of the picture)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP" "$OUT"/mc-bench-out-*
}
trap cleanup EXIT

# start_hub NAME ROOT [fakehub flags]: sets EP and LOG
start_hub() {
  local name=$1 root=$2; shift 2
  LOG=$TMP/$name.log
  "$BIN/fakehub" --root "$root" --port 0 --port-file "$TMP/$name.port" --request-log "$LOG" "$@" 2>/dev/null &
  PIDS+=($!)
  for _ in $(seq 200); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
  [ -s "$TMP/$name.port" ] || { echo "bench: fakehub did not start"; exit 1; }
  EP=http://127.0.0.1:$(cat "$TMP/$name.port")
}
stop_last_hub() { local p=${PIDS[-1]}; kill "$p"; wait "$p" 2>/dev/null || true; unset 'PIDS[-1]'; }

now() { date +%s.%N; }
mbps() { python3 -c "import sys; print('%.1f' % (float(sys.argv[1]) / 1e6 / float(sys.argv[2])))" "$1" "$2"; }
best() { python3 -c "import sys; print(min(float(x) for x in sys.argv[1:]))" "$@"; }
file_bytes() { awk '$2 ~ /\/resolve\/|^\/lfs\// {s += $4} END {print s + 0}' "$1"; }

# list_files REPO: the repository's files in $TMP/files.txt, their bytes in TOTAL;
# fakehub hashes them once (cached by size+mtime) and the page cache is filled
list_files() {
  curl -sf "$EP/api/models/$1?blobs=true" -o "$TMP/info.json"
  python3 - "$TMP/info.json" "$TMP/files.txt" <<'PY'
import json, sys
sib = json.load(open(sys.argv[1]))["siblings"]
open(sys.argv[2], "w").write("".join(s["rfilename"] + "\n" for s in sib))
PY
  TOTAL=$(python3 -c "import json,sys; print(sum(s['size'] for s in json.load(open(sys.argv[1]))['siblings']))" "$TMP/info.json")
  NFILES=$(wc -l <"$TMP/files.txt")
  cat "$TMP/files.txt" | (cd "$2" && xargs cat >/dev/null 2>&1) || true
}

# run_hydrator REPO [flags]: prints seconds; its stderr in $TMP/hydrate.err
run_hydrator() {
  local repo=$1 d=$OUT/mc-bench-out-hydrate; shift
  rm -rf "$d"; sync
  local t0 t1; t0=$(now)
  "$BIN/modelcache-operator" hydrate --repo "$repo" --dest "$d" --endpoint "$EP" --progress-interval 2 "$@" \
    2>"$TMP/hydrate.err"
  t1=$(now)
  rm -rf "$d"
  python3 -c "print($t1 - $t0)"
}

run_curl() {   # REPO; prints "durable_seconds cache_seconds"
  local d=$OUT/mc-bench-out-curl
  rm -rf "$d"; mkdir -p "$d"; sync
  local t0 t1 t2; t0=$(now)
  while read -r f; do
    mkdir -p "$d/$(dirname "$f")"
    curl -sfL -o "$d/$f" "$EP/$1/resolve/main/$f"
  done <"$TMP/files.txt"
  t1=$(now)
  sync -f "$d"
  t2=$(now)
  rm -rf "$d"
  python3 -c "print($t2 - $t0, $t1 - $t0)"
}

run_aria2c() {   # REPO aria2c-flags...; prints "durable_seconds cache_seconds"
  local d=$OUT/mc-bench-out-aria2c repo=$1; shift
  rm -rf "$d"; mkdir -p "$d"; sync
  while read -r f; do
    printf '%s\n  out=%s\n' "$EP/$repo/resolve/main/$f" "$f"
  done <"$TMP/files.txt" >"$TMP/aria2.txt"
  local t0 t1 t2; t0=$(now)
  aria2c -q -i "$TMP/aria2.txt" -d "$d" "$@" --file-allocation=none \
    --allow-overwrite=true --auto-file-renaming=false --console-log-level=error
  t1=$(now)
  sync -f "$d"
  t2=$(now)
  rm -rf "$d"
  python3 -c "print($t2 - $t0, $t1 - $t0)"
}

# the hydrator's own peak RSS (getrusage, printed on its last line), MiB
peak_rss_mb() { sed -n 's/.*peak RSS \([0-9]*\) KiB.*/\1/p' "$TMP/hydrate.err" | awk '{printf "%.1f", $1 / 1024}'; }

if [ "$LINK" = wan ]; then
  WROOT=${WAN_FIXTURE_ROOT:-$TMP/wanhub}
  WREPO=fixtures/wan
  if [ ! -f "$WROOT/$WREPO/weights-2.bin" ]; then
    echo "== generating the WAN fixture: two 1 GiB files of random bytes in $WROOT/$WREPO"
    mkdir -p "$WROOT/$WREPO"
    python3 - "$WROOT/$WREPO" <<'PY'
import os, sys
for n in (1, 2):
    with open(os.path.join(sys.argv[1], "weights-%d.bin" % n), "wb") as f:
        for _ in range(64):
            f.write(os.urandom(16 << 20))
open(os.path.join(sys.argv[1], "config.json"), "w").write('{"model_type": "llama"}\n')
PY
  fi
  LINKFLAGS=(--rate-per-connection "$WAN_RATE" --first-byte-ms "$WAN_FIRST_BYTE_MS")
  start_hub wan "$WROOT" "${LINKFLAGS[@]}"
  list_files "$WREPO" "$WROOT/$WREPO"
  echo "== LINK=wan: $WAN_RATE B/s per connection, first byte after $WAN_FIRST_BYTE_MS ms; $WREPO, $NFILES files, $TOTAL bytes"
  HTS=(); H16S=(); CTS=(); CCS=(); ATS=(); ACS=(); RSS=0
  for i in $(seq "$RUNS"); do
    HTS+=("$(run_hydrator "$WREPO" --connections "$WAN_CONNECTIONS")")
    r=$(peak_rss_mb); RSS=$(python3 -c "print(max(float('$RSS'), float('$r')))")
    H16S+=("$(run_hydrator "$WREPO")")
    r=$(peak_rss_mb); RSS=$(python3 -c "print(max(float('$RSS'), float('$r')))")
    read -r a b <<<"$(run_aria2c "$WREPO" -j 2 -x 16 -s 16)"; ATS+=("$a"); ACS+=("$b")
    read -r a b <<<"$(run_curl "$WREPO")"; CTS+=("$a"); CCS+=("$b")
  done
  tail -1 "$TMP/hydrate.err"
  HT=$(best "${HTS[@]}"); WH=$(mbps "$TOTAL" "$HT")
  echo "hydrator: ${HT}s  ${WH} MB/s  ($WAN_CONNECTIONS connections, 64 MiB chunks, sha256 verified, fsync + rename)"
  H16=$(best "${H16S[@]}")
  echo "hydrator: ${H16}s  $(mbps "$TOTAL" "$H16") MB/s  (its default 16 connections; peak RSS of both runs $RSS MiB)"
  AT=$(best "${ATS[@]}"); WA=$(mbps "$TOTAL" "$AT"); AC=$(mbps "$TOTAL" "$(best "${ACS[@]}")")
  echo "aria2c:   ${AT}s  ${WA} MB/s durable  (${AC} MB/s to the page cache; -x16 -s16 -j2, no verification)"
  CT=$(best "${CTS[@]}"); WC=$(mbps "$TOTAL" "$CT"); CC=$(mbps "$TOTAL" "$(best "${CCS[@]}")")
  echo "curl:     ${CT}s  ${WC} MB/s durable  (${CC} MB/s to the page cache; one file after another)"
  stop_last_hub

  # cut at 40 % over the same link, then a rerun: what was served twice
  CUT=$((TOTAL * 2 / 5))
  start_hub wancut "$WROOT" "${LINKFLAGS[@]}" --fault-cut-after-bytes "$CUT"
  D=$OUT/mc-bench-out-wancut
  rm -rf "$D"
  "$BIN/modelcache-operator" hydrate --repo "$WREPO" --dest "$D" --endpoint "$EP" --retries 0 2>/dev/null &&
    { echo "bench: the cut run unexpectedly succeeded"; exit 1; }
  stop_last_hub
  SERVED1=$(file_bytes "$TMP/wancut.log")
  start_hub wanresume "$WROOT" "${LINKFLAGS[@]}"
  "$BIN/modelcache-operator" hydrate --repo "$WREPO" --dest "$D" --endpoint "$EP" 2>"$TMP/wanresume.err" ||
    { echo "bench: the rerun after the cut failed"; tail -3 "$TMP/wanresume.err"; exit 1; }
  stop_last_hub
  SERVED2=$(file_bytes "$TMP/wanresume.log")
  rm -rf "$D"
  REFETCH=$(python3 -c "print('%.1f' % (($SERVED1 + $SERVED2 - $TOTAL) / 1048576))")
  echo "cut after $CUT bytes: served $SERVED1 then $SERVED2 bytes; $REFETCH MiB served twice"
  WBEST=$(python3 -c "print(max(float('$WA'), float('$WC')))")
  WRATIO=$(python3 -c "print('%.2f' % (float('$WH') / float('$WBEST')))")
  RESULT_WAN="RESULT hydrate_wan hydrator_MBps=$WH aria2c_MBps=$WA curl_MBps=$WC ratio_vs_best=$WRATIO rss_mb=$RSS refetch_after_cut_mb=$REFETCH connections=$WAN_CONNECTIONS"
  echo "$RESULT_WAN"
fi

# ------------------------------------------------------------------ loopback
REPO=fixtures/tinyllama
ROOT=${FIXTURE_ROOT:-$TMP/hub}
if [ ! -f "$ROOT/$REPO/.fixture-truth.json" ]; then
  echo "== generating a $SIZE fixture ($SHARD shards) in $ROOT"
  "$SRC/hack/make-fixture-model" --out "$ROOT" --only tinyllama --target-bytes "$SIZE" --shard-bytes "$SHARD"
fi
start_hub main "$ROOT"
list_files "$REPO" "$ROOT/$REPO"
echo "== loopback: $REPO, $NFILES files, $TOTAL bytes"

HTS=(); CTS=(); CCS=(); ATS=(); ACS=()
for i in $(seq "$RUNS"); do
  HTS+=("$(run_hydrator "$REPO" --connections "$CONNECTIONS")")
  read -r a b <<<"$(run_curl "$REPO")"; CTS+=("$a"); CCS+=("$b")
  if command -v aria2c >/dev/null; then
    read -r a b <<<"$(run_aria2c "$REPO" -j "$ARIA_J" -x 4 -s 4)"; ATS+=("$a"); ACS+=("$b")
  fi
done
tail -1 "$TMP/hydrate.err"
HT=$(best "${HTS[@]}"); H=$(mbps "$TOTAL" "$HT")
echo "hydrator: ${HT}s  ${H} MB/s  ($CONNECTIONS connections, sha256/sha1 verified, fsync + rename per file)"
CT=$(best "${CTS[@]}"); C=$(mbps "$TOTAL" "$CT"); CC=$(mbps "$TOTAL" "$(best "${CCS[@]}")")
echo "curl:     ${CT}s  ${C} MB/s durable  (${CC} MB/s to the page cache; sequential, no verification)"
A=0
if [ ${#ATS[@]} -gt 0 ]; then
  AT=$(best "${ATS[@]}"); A=$(mbps "$TOTAL" "$AT"); AC=$(mbps "$TOTAL" "$(best "${ACS[@]}")")
  echo "aria2c:   ${AT}s  ${A} MB/s durable  (${AC} MB/s to the page cache; -j $ARIA_J -x 4, no verification)"
else
  echo "aria2c:   not installed"
fi
stop_last_hub

# bytes fetched again after a cut at ~40% of the fixture
CUT=$((TOTAL * 2 / 5))
start_hub cut "$ROOT" --fault-cut-after-bytes "$CUT"
D=$TMP/out-cut
"$BIN/modelcache-operator" hydrate --repo "$REPO" --dest "$D" --endpoint "$EP" --connections "$CONNECTIONS" \
  --retries 0 2>/dev/null && { echo "bench: the cut run unexpectedly succeeded"; exit 1; }
stop_last_hub
start_hub resume "$ROOT"
"$BIN/modelcache-operator" hydrate --repo "$REPO" --dest "$D" --endpoint "$EP" --connections "$CONNECTIONS" 2>/dev/null
REFETCH=$(file_bytes "$LOG")
SERVED1=$(file_bytes "$TMP/cut.log")
echo "cut after $CUT bytes: served $SERVED1 then $REFETCH bytes; $((SERVED1 + REFETCH - TOTAL)) bytes served twice"
stop_last_hub

BEST=$(python3 -c "print(max(float('$C'), float('$A')))")
RATIO=$(python3 -c "print('%.2f' % (float('$H') / float('$BEST')))")
[ -n "${RESULT_WAN:-}" ] && echo "$RESULT_WAN"
echo "RESULT hydrate hydrator_MBps=$H curl_MBps=$C aria2c_MBps=$A ratio_vs_best=$RATIO"
