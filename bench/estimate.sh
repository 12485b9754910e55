#!/usr/bin/env bash
# bench/estimate.sh: bytes read and time to estimate, and the error against
# the true tensor bytes, over the fixture set of hack/make-fixture-model in
# the REAL architectures' shapes (sparse files: 1.47 TB of models in ~16 MB
# of disk, DeepSeek-V3 671B included).
#   1. local: `kubectl modelcache estimate --file DIR` on every fixture;
#   2. HTTP: the same through test/fakehub (--fast-hash-above: no sha256 of
#      the sparse files); the bytes of file data served come from fakehub's
#      request log.
# Ends with: RESULT estimate max_error_pct=.. bytes_read_per_gb=.. ms_per_model=..
# (bytes_read_per_gb and ms_per_model from the HTTP runs).
#   BUILD=build bench/estimate.sh     (or MC_BIN=build/bin, like the other benches)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
. "$SRC/test/e2e/lib.sh"
BUILD=${BUILD:-$SRC/build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
BIN=${MC_BIN:=$BUILD/bin}
CLI=$BIN/kubectl-modelcache
HUB=$BIN/fakehub
[ -x "$CLI" ] || { echo "build kubectl-modelcache first ($CLI)"; exit 1; }

mc_init_plain mc-bench-estimate
TMP=$MC_TMP

"$SRC/hack/make-fixture-model" --out "$TMP/real" --real-shapes --fill sparse >/dev/null
HTTP_SET=$(cd "$TMP/real/fixtures" && echo *)

now_ms() { date +%s%3N; }

echo "== local files (every fixture, real shapes)"
: >"$TMP/local.tsv"
for d in "$TMP"/real/fixtures/*/; do
  n=$(basename "$d")
  t0=$(now_ms)
  "$CLI" estimate --file "$d" -o json >"$TMP/$n.local.json" || { echo "estimate of $n failed"; exit 1; }
  t1=$(now_ms)
  printf '%s\t%s\t%s\t%s\n' "$n" "$TMP/$n.local.json" "$d/.fixture-truth.json" $((t1 - t0)) >>"$TMP/local.tsv"
done

http_ok=0
: >"$TMP/http.tsv"
if [ -x "$HUB" ]; then
  echo "== HTTP through fakehub (every fixture)"
  mc_start_fakehub_logged hub "$TMP/real" --fast-hash-above 1073741824
  # warm fakehub's listing/hash cache so the timing is the estimator's, not fakehub's
  for n in $HTTP_SET; do
    curl -sf -o /dev/null --max-time 300 -H "Authorization: Bearer hf_fixture_gated_token" \
      "http://127.0.0.1:$PORT/api/models/fixtures/$n/revision/main?blobs=true" || true
  done
  for n in $HTTP_SET; do
    before=$(wc -l <"$LOG")
    t0=$(now_ms)
    HF_TOKEN=hf_fixture_gated_token "$CLI" estimate "fixtures/$n" --endpoint "http://127.0.0.1:$PORT" \
      -o json >"$TMP/$n.http.json" 2>>"$TMP/cli.err" || { echo "estimate of $n failed:"; cat "$TMP/cli.err"; exit 1; }
    t1=$(now_ms)
    served=$(tail -n +"$((before + 1))" "$LOG" | awk '$2 ~ /\/resolve\/|^\/lfs\// {s += $4} END {print s + 0}')
    reqs=$(tail -n +"$((before + 1))" "$LOG" | wc -l)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$TMP/$n.http.json" "$TMP/real/fixtures/$n/.fixture-truth.json" \
      $((t1 - t0)) "$served" "$reqs" >>"$TMP/http.tsv"
  done
  http_ok=1
fi

python3 - "$TMP/local.tsv" "$TMP/http.tsv" "$http_ok" <<'PY'
import json, sys

def load(path):
    rows = []
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        rows.append(f)
    return rows

def err_pct(o, t):
    w = o["weightBytes"] - o["projectorBytes"]
    return abs(w - t["weight_bytes"]) * 100.0 / t["weight_bytes"]

max_err = 0.0
print(f"{'fixture':22} {'download':>14} {'weights est':>14} {'weights true':>14} {'err%':>6} {'read B':>10} {'B/GB':>8} {'ms':>5}  strategy")
tot_read = tot_dl = 0
for n, oj, tj, ms in load(sys.argv[1]):
    o, t = json.load(open(oj)), json.load(open(tj))
    e = err_pct(o, t)
    max_err = max(max_err, e)
    tot_read += o["bytesRead"]; tot_dl += o["downloadBytes"]
    print(f"{n:22} {o['downloadBytes']:14d} {o['weightBytes'] - o['projectorBytes']:14d} {t['weight_bytes']:14d} "
          f"{e:6.3f} {o['bytesRead']:10d} {o['bytesRead'] / (o['downloadBytes'] / 1e9):8.0f} {int(ms):5d}  {o['strategy']}")
local_per_gb = tot_read / (tot_dl / 1e9)
print(f"local: {tot_dl / 1e12:.2f} TB of models, {tot_read / 1e6:.1f} MB read => {local_per_gb:.0f} B per GB")

per_gb, ms_per = local_per_gb, None
if sys.argv[3] == "1":
    print()
    print(f"{'fixture (HTTP)':22} {'download':>14} {'err%':>6} {'served B':>10} {'B/GB':>8} {'reqs':>5} {'ms':>5}")
    served_tot = dl_tot = ms_tot = 0
    rows = load(sys.argv[2])
    for n, oj, tj, ms, served, reqs in rows:
        o, t = json.load(open(oj)), json.load(open(tj))
        e = err_pct(o, t)
        max_err = max(max_err, e)
        served_tot += int(served); dl_tot += o["downloadBytes"]; ms_tot += int(ms)
        print(f"{n:22} {o['downloadBytes']:14d} {e:6.3f} {int(served):10d} "
              f"{int(served) / (o['downloadBytes'] / 1e9):8.0f} {int(reqs):5d} {int(ms):5d}")
    per_gb = served_tot / (dl_tot / 1e9)
    ms_per = ms_tot / len(rows)
    print(f"HTTP: {dl_tot / 1e9:.1f} GB of models, {served_tot / 1e6:.2f} MB of file data served => {per_gb:.0f} B per GB")
else:
    print("fakehub not built: HTTP figures skipped (local figures used)")
    rows = load(sys.argv[1])
    ms_per = sum(int(r[3]) for r in rows) / len(rows)
print(f"RESULT estimate max_error_pct={max_err:.3f} bytes_read_per_gb={per_gb:.0f} ms_per_model={ms_per:.0f}")
PY
