#!/usr/bin/env bash
# End-to-end: the hydrator's parallel Range downloads, chunk-map resume,
# corruption, and the stall watchdog, against fakehub's link emulation and
# faults (docs/concepts.md "Hydration", test/fakehub/README.md).
#   MC_BIN=build/bin MC_SOURCE_DIR=. bash test/e2e/hydrate_parallel.sh
# Fixtures are sparse (random 4 KiB every MiB, zeros between), written in
# the run's temp dir and removed with it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:=$SRC/build/bin}
OP=$BIN/modelcache-operator
for b in "$OP" "$BIN/fakehub"; do
  [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done
mc_init_plain mc-hydrate-par
TMP=$MC_TMP
fail() {
  echo "FAIL: $*" >&2
  for f in "$TMP"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; } >&2; done
  exit 1
}
pass() { echo "ok: $*"; }
stop_hub() { kill "${MC_PIDS[-1]}"; wait "${MC_PIDS[-1]}" 2>/dev/null || true; unset 'MC_PIDS[-1]'; }

ROOT=$TMP/hub
R=$ROOT/fixtures/big
mkdir -p "$R"
MI=1048576
python3 - "$R" <<'EOF'
import os, sys
root = sys.argv[1]
def sparse(name, mib, seed):
    # zeros with 4 KiB of distinct bytes at every MiB: a chunk written at the
    # wrong offset changes the digest
    with open(os.path.join(root, name), "wb") as f:
        f.truncate(mib << 20)
        for i in range(mib):
            f.seek(i << 20)
            f.write(os.urandom(4096) if seed else bytes([(i * 7 + j) % 251 for j in range(4096)]))
sparse("big.bin", 512, 1)
sparse("mid.bin", 96, 1)
sparse("small.bin", 3, 1)
open(os.path.join(root, "config.json"), "w").write('{"model_type": "llama"}\n')
EOF
BIG=$((512 * MI)); MIDSZ=$((96 * MI))
sha() { sha256sum "$1" | cut -d' ' -f1; }

hydrate() { "$OP" hydrate --progress-interval 1 --endpoint "http://127.0.0.1:$PORT" --repo fixtures/big "$@"; }
lfs_bytes() { awk '$2 ~ /^\/lfs\// {s += $4} END {print s + 0}' "$1"; }

# most Range requests of one LFS object in flight at once (from START_MS/END_MS)
max_overlap() {
  python3 - "$1" "$2" <<'EOF'
import sys
oid, ev = sys.argv[2], []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 7 and f[1] == "/lfs/" + oid and f[2] == "206":
        ev += [(int(f[5]), 1), (int(f[6]), -1)]
cur = best = 0
for _, d in sorted(ev, key=lambda e: (e[0], e[1])):
    cur += d
    best = max(best, cur)
print(best)
EOF
}

# 1. a 512 MiB file over 20 MB/s per connection: parallel Range requests, right bytes
mc_start_fakehub_logged rate "$ROOT" --rate-per-connection 20000000
D=$TMP/d1
hydrate --dest "$D" --include big.bin --include config.json 2>"$TMP/rate.err" || fail "rate-limited hydrate"
[ "$(sha "$D/big.bin")" = "$(sha "$R/big.bin")" ] || fail "big.bin differs"
cmp -s "$D/config.json" "$R/config.json" || fail "config.json differs"
[ -f "$D/.modelcache-hydrated" ] || fail "no marker"
ls -A "$D" | grep -q incomplete && fail "leftover .incomplete / chunk map"
OID=$(sha "$R/big.bin")
ov=$(max_overlap "$LOG" "$OID")
[ "$ov" -ge 8 ] || fail "only $ov Range requests of big.bin overlapped (want >= 8)"
ranges=$(awk -v o="/lfs/$OID" '$2 == o && $3 == 206' "$LOG" | wc -l)
grep -q 'progress .* MB/s connections [0-9]*/16 .* eta ' "$TMP/rate.err" || fail "no progress line"
pass "512 MiB at 20 MB/s per connection: $ranges Range requests, up to $ov in flight, sha256 right"
stop_hub
rm -rf "$D"

# 2. cut at 40 %: exit 1, no marker; the rerun fetches only what is missing
CUT=$((BIG * 4 / 10))
mc_start_fakehub_logged cut "$ROOT" --fault-cut-after-bytes "$CUT"
D=$TMP/d2
set +e
hydrate --dest "$D" --include big.bin --retries 1 --retry-base-ms 50 2>"$TMP/cut.err"; rc=$?
set -e
[ $rc = 1 ] || fail "cut run: exit $rc, want 1"
[ -f "$D/.modelcache-hydrated" ] && fail "marker after the cut"
[ -f "$D/big.bin.incomplete.chunks" ] || fail "no chunk map after the cut"
served1=$(lfs_bytes "$LOG")
stop_hub
mc_start_fakehub_logged resume "$ROOT"
hydrate --dest "$D" --include big.bin 2>"$TMP/resume.err" || fail "resume run"
served2=$(lfs_bytes "$LOG")
[ "$(sha "$D/big.bin")" = "$OID" ] || fail "resumed big.bin differs"
[ -f "$D/.modelcache-hydrated" ] || fail "no marker after the resume"
extra=$((served1 + served2 - BIG))
[ "$extra" -le $((8 * MI * 16)) ] || fail "re-fetched $extra bytes after a cut (> 8 MiB x 16 connections)"
grep -q 'resuming big.bin' "$TMP/resume.err" || fail "the rerun did not resume from the chunk map"
pass "cut at 40 %: exit 1, no marker; served $served1 + $served2 bytes, $extra re-fetched"

# 2b. a killed hydrator (no chance to record anything more): at most 8 MiB per transfer in flight
rm -rf "$D"
: >"$LOG"
stop_hub
mc_start_fakehub_logged kill "$ROOT" --rate-per-connection 20000000
"$OP" hydrate --progress-interval 1 --endpoint "http://127.0.0.1:$PORT" --repo fixtures/big \
  --dest "$D" --include big.bin --connections 8 2>"$TMP/kill.err" &
HP=$!
MC_PIDS+=($HP)
mc_wait_pct() {
  local i
  for i in $(seq 600); do
    grep -Eq 'progress .*\((4[0-9]|[5-9][0-9])%\)' "$TMP/kill.err" && return 0
    kill -0 "$HP" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
mc_wait_pct || fail "the hydrator never reported 40 %"
kill -9 "$HP"; wait "$HP" 2>/dev/null || true; unset 'MC_PIDS[-1]'
sleep 0.5   # fakehub logs the connections the kill closed
served1=$(lfs_bytes "$LOG")
stop_hub
mc_start_fakehub_logged kill2 "$ROOT"
hydrate --dest "$D" --include big.bin 2>"$TMP/kill2.err" || fail "run after the kill"
served2=$(lfs_bytes "$LOG")
[ "$(sha "$D/big.bin")" = "$OID" ] || fail "big.bin differs after kill + rerun"
extra=$((served1 + served2 - BIG))
[ "$extra" -le $((8 * MI * 8)) ] || fail "re-fetched $extra bytes after kill -9 with 8 connections (> 8 MiB each)"
pass "kill -9 at >= 40 %: rerun re-fetched $extra bytes (<= 8 MiB x 8 connections)"
rm -rf "$D"

# 2c. a claimed chunk damaged on disk: the digest catches it, the file is fetched again
D=$TMP/d2c
set +e
stop_hub
mc_start_fakehub_logged cut2 "$ROOT" --fault-cut-after-bytes $((MIDSZ / 2))
hydrate --dest "$D" --include mid.bin --chunk-size 16Mi --retries 0 2>"$TMP/cut2.err"; rc=$?
set -e
[ $rc = 1 ] || fail "cut of mid.bin: exit $rc"
printf 'X' | dd of="$D/mid.bin.incomplete" bs=1 seek=4096 conv=notrunc 2>/dev/null
stop_hub
mc_start_fakehub_logged again "$ROOT"
hydrate --dest "$D" --include mid.bin 2>"$TMP/again.err" || fail "rerun over a damaged partial"
grep -q 'failed verification after a resume, fetching it again' "$TMP/again.err" || fail "no refetch message"
[ "$(sha "$D/mid.bin")" = "$(sha "$R/mid.bin")" ] || fail "mid.bin differs"
pass "damaged claimed chunk: verification failed once, file fetched again, right bytes"
rm -rf "$D"
stop_hub

# 3. corruption in one chunk: exit 5, no marker, nothing claims the bad chunk
mc_start_fakehub_logged corrupt "$ROOT" --fault-corrupt big.bin
D=$TMP/d3
: >"$TMP/term"
set +e
hydrate --dest "$D" --include big.bin --termination-log "$TMP/term" 2>"$TMP/corrupt.err"; rc=$?
set -e
[ $rc = 5 ] || fail "corrupt: exit $rc, want 5"
[ -f "$D/.modelcache-hydrated" ] && fail "marker after corruption"
[ -e "$D/big.bin" ] && fail "corrupt big.bin in place"
# the flipped byte is at size/2: its chunk (64 MiB chunks: chunk 4) must not be claimed
if [ -f "$D/big.bin.incomplete.chunks" ]; then
  python3 - "$D/big.bin.incomplete.chunks" <<'EOF' || fail "the chunk map claims the corrupt chunk"
import struct, sys
b = open(sys.argv[1], "rb").read()
chunk = struct.unpack_from("<Q", b, 16)[0]
n = struct.unpack_from("<Q", b, 24)[0]
done = struct.unpack_from("<%dQ" % n, b, 112)
bad = (512 << 20) // 2 // chunk
assert done[bad] <= ((512 << 20) // 2) % chunk, done
EOF
fi
[ -e "$D/big.bin.incomplete" ] && fail ".incomplete kept after a digest mismatch"
grep -q 'sha256 mismatch for big.bin' "$TMP/term" || fail "termination log: $(cat "$TMP/term")"
pass "corrupt chunk: exit 5, no marker, no .incomplete or claim left"
stop_hub
rm -rf "$D"

# 4. stall: the watchdog notices within --stall-timeout and resumes by Range
mc_start_fakehub_logged stall "$ROOT" --fault-stall-after-bytes 1000000
D=$TMP/d4
hydrate --dest "$D" --include small.bin --stall-timeout 3 2>"$TMP/stall.err" || fail "stalled run did not complete"
[ "$(sha "$D/small.bin")" = "$(sha "$R/small.bin")" ] || fail "small.bin differs after the stall"
grep -q 'stall: no byte of small.bin for 3s, resuming at offset 1000000' "$TMP/stall.err" || fail "no stall line"
grep -Eq '^GET /lfs/[0-9a-f]+ 206 [0-9]+ 1000000-' "$LOG" || fail "no Range request from the stalled offset"
grep -q 'stalls 1' "$TMP/stall.err" || fail "stall not counted"
pass "stall after 1000000 bytes: noticed within 3 s, resumed by Range, verified"
stop_hub

mc_start_fakehub_logged stallall "$ROOT" --fault-stall-after-bytes 0 --fault-stall-count 0
set +e
hydrate --dest "$TMP/d5" --include small.bin --stall-timeout 3 --retries 1 --retry-base-ms 50 2>"$TMP/stallall.err"; rc=$?
set -e
[ $rc = 1 ] || fail "every attempt stalling: exit $rc, want 1"
grep -q 'error: stalled: no byte of small.bin for 3s' "$TMP/stallall.err" || fail "message: $(tail -1 "$TMP/stallall.err")"
[ -f "$TMP/d5/.modelcache-hydrated" ] && fail "marker after the stalls"
pass "every attempt stalling: exit 1 naming small.bin"

echo "PASS hydrate parallel e2e"
