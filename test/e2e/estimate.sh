#!/usr/bin/env bash
# End-to-end: `kubectl modelcache estimate` against test/fakehub on the
# fixtures of hack/make-fixture-model (issue 5, "Must show"):
#  - every fixture's estimate equals its .fixture-truth.json (weights,
#    download, projector), the priced files are the ones that load;
#  - a 10 GB sparse model (TinyLlama shapes grown to 111 layers) is estimated
#    from its headers only: the file bytes served (fakehub request log) stay
#    under 1 MiB and the weight bytes match the true tensor bytes exactly;
#  - verdict text and exit codes: 0 fits / no budget, 3 does not fit,
#    4 not found, 1 auth; gated repos with HF_TOKEN; --file on local files;
#  - a dead link on a repository of many shards costs the estimate's retry
#    budget, not retries per file.
#   MC_BIN=build/bin MC_SOURCE_DIR=. bash test/e2e/estimate.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:=$SRC/build/bin}
CLI=$BIN/kubectl-modelcache
HUB=$BIN/fakehub
for b in "$CLI" "$HUB"; do
  [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done

mc_init_plain mc-estimate-e2e
TMP=$MC_TMP
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
unset HF_TOKEN

SMALL=$TMP/small
BIG=$TMP/big
"$SRC/hack/make-fixture-model" --out "$SMALL" >/dev/null
"$SRC/hack/make-fixture-model" --out "$BIG" --only tinyllama --real-shapes --fill sparse \
  --target-bytes 10G --shard-bytes 4G >/dev/null

# start_hub NAME ROOT: sets PORT and LOG
# --fast-hash-above: no sha256 of the GB-sized sparse files (the estimator
# never needs it; hydrating them would fail verification, by design)
start_hub() { mc_start_fakehub_logged "$1" "$2" --fast-hash-above 1073741824; }

# check_truth JSON TRUTH [nobudget]: estimate == ground truth
check_truth() {
  python3 - "$@" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
name = t["repo"]
w = o["weightBytes"] - o["projectorBytes"]
assert w == t["weight_bytes"], f"{name}: weights {w} != truth {t['weight_bytes']}"
# no include patterns: the Auto selection (files: Auto, docs/estimation.md)
assert o["downloadBytes"] == t["auto_download_bytes"], f"{name}: download {o['downloadBytes']} != {t['auto_download_bytes']}"
assert o["projectorBytes"] == t.get("projector_bytes", 0), f"{name}: projector {o['projectorBytes']}"
if "weight_files" in t:
    got = sorted(f["path"] for f in o["files"] if f["role"] != "projector")
    assert got == sorted(t["weight_files"]), f"{name}: priced {got} != {sorted(t['weight_files'])}"
assert not o["usedFallback"], f"{name}: fell back"
if len(sys.argv) > 3:
    assert o["budgetBytes"] is None and o["fits"] is None, f"{name}: budget without --gpu-memory"
for k in ("format", "method", "strategy", "usedFallback", "parameters", "weightBytes", "downloadBytes",
          "kvCacheBytes", "overheadBytes", "totalBytes", "budgetBytes", "fits"):
    assert k in o, f"{name}: key {k} missing"
assert o["totalBytes"] == o["weightBytes"] + o["kvCacheBytes"] + o["overheadBytes"]
print(f"{name}: {o['format']}/{o['method']}/{o['strategy']} weights={o['weightBytes']}")
PY
}

# ---------------------------------------------------------------- every fixture
start_hub small "$SMALL"
SP=$PORT
SLOG=$LOG
export HF_TOKEN=hf_fixture_gated_token   # the gated fixture needs it; others ignore it
for d in "$SMALL"/fixtures/*/; do
  name=fixtures/$(basename "$d")
  "$CLI" estimate "$name" --endpoint "http://127.0.0.1:$SP" -o json >"$TMP/out.json" ||
    fail "$name: exit $?"
  check_truth "$TMP/out.json" "$d/.fixture-truth.json" nobudget || fail "$name: differs from the truth"
done
unset HF_TOKEN
pass "every fixture matches its .fixture-truth.json over fakehub"

# GGUF: include narrows to one quant (+ the projector kept only if included)
"$CLI" estimate fixtures/tinyllama-gguf --endpoint "http://127.0.0.1:$SP" --include '*Q4_K_M*' -o json >"$TMP/q4.json"
python3 - "$TMP/q4.json" "$SMALL/fixtures/tinyllama-gguf/.fixture-truth.json" <<'PY' || fail "include *Q4_K_M*"
import json, sys
o = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
assert o["weightBytes"] == t["quant_bytes"]["Q4_K_M"], (o["weightBytes"], t["quant_bytes"])
assert o["note"] is None and o["method"] == "Q4_K_M", o
PY
"$CLI" estimate fixtures/tinyllama-gguf --endpoint "http://127.0.0.1:$SP" >"$TMP/gg.txt"
grep -q "Note: heaviest of 3 GGUF quants priced: F16" "$TMP/gg.txt" || { cat "$TMP/gg.txt"; fail "heaviest-quant note"; }
"$CLI" estimate fixtures/tinyllama-gguf --endpoint "http://127.0.0.1:$SP" --engine llamacpp \
  --kv-cache-dtype q8_0 --context 2048 --sequences 2 -o json >"$TMP/llama.json"
python3 - "$TMP/llama.json" <<'PY' || fail "llama.cpp q8_0 KV cache"
import json, sys
o = json.load(open(sys.argv[1])); a = o["architecture"]
f16 = 2 * a["kvHeads"] * a["headDim"] * 2 * a["layers"]          # bytes per token in f16
assert o["engine"] == "llamacpp" and o["kvCacheDtype"] == "q8_0"
assert o["kvCacheBytes"] == f16 // 2 // 32 * 34 * 2048 * 2, o["kvCacheBytes"]
PY
"$CLI" estimate --help | grep -q "Exit: 0 fits" || fail "--help"
pass "GGUF: heaviest quant by default (and said so), --include picks one; llama.cpp q8_0 KV"

# ---------------------------------------------------------------- verdicts, exit codes
set +e
"$CLI" estimate fixtures/qwen3-0.6b --endpoint "http://127.0.0.1:$SP" --context 4096 --gpu-memory 24Gi >"$TMP/fit.txt"
rc=$?
set -e
[ $rc -eq 0 ] || fail "fits: exit $rc"
grep -q '^OK: fixtures/qwen3-0.6b (bf16) fits' "$TMP/fit.txt" || { cat "$TMP/fit.txt"; fail "fits text"; }
grep -q '  Available budget: 21.6 GiB (24 GiB x 0.9)' "$TMP/fit.txt" || { cat "$TMP/fit.txt"; fail "budget text"; }

set +e
"$CLI" estimate fixtures/qwen3-0.6b --endpoint "http://127.0.0.1:$SP" --context 40960 --sequences 64 --gpu-memory 2Gi --gpus 2 >"$TMP/nofit.txt"
rc=$?
set -e
[ $rc -eq 3 ] || { cat "$TMP/nofit.txt"; fail "does not fit: exit $rc (want 3)"; }
grep -q '^Error: insufficient memory for fixtures/qwen3-0.6b (bf16)' "$TMP/nofit.txt" || fail "no-fit text"
grep -Eq '^  Estimated requirement: ~[0-9.]+ GiB \(weights [0-9.]+ \+ KV cache [0-9.]+ \+ overhead [0-9.]+\)' "$TMP/nofit.txt" || fail "breakdown text"
grep -q '  Available budget: 3.6 GiB (2 x 2 GiB x 0.9)' "$TMP/nofit.txt" || { cat "$TMP/nofit.txt"; fail "2-GPU budget text"; }
grep -q '^  Suggestion: try a smaller quantization or reduce --context' "$TMP/nofit.txt" || fail "suggestion"
# KV per token from kv_heads x head_dim (qwen3: head_dim != hidden/heads), never hidden size
"$CLI" estimate fixtures/qwen3-0.6b --endpoint "http://127.0.0.1:$SP" -o json >"$TMP/kv.json"
python3 - "$SMALL/fixtures/qwen3-0.6b/config.json" "$TMP/kv.json" <<'PY' || fail "qwen3 KV bytes per token"
import json, sys
c = json.load(open(sys.argv[1])); o = json.load(open(sys.argv[2]))
assert c["head_dim"] != c["hidden_size"] // c["num_attention_heads"]
want = 2 * c["num_key_value_heads"] * c["head_dim"] * 2 * c["num_hidden_layers"]
assert o["architecture"]["kvBytesPerToken"] == want, (o["architecture"], want)
assert o["context"] == c["max_position_embeddings"]   # default: the model's maximum
assert o["kvCacheBytes"] == want * o["context"]
PY
set +e
"$CLI" estimate fixtures/qwen3-0.6b --endpoint "http://127.0.0.1:$SP" --unified-memory 1Gi -o json >"$TMP/uni.json"
rc=$?
set -e
[ $rc -eq 3 ] || fail "unified 1Gi: exit $rc (want 3)"
python3 -c "import json;o=json.load(open('$TMP/uni.json'));assert o['budgetBytes']==int(2**30*0.67) and o['fits'] is False, o" || fail "unified budget"
"$CLI" estimate fixtures/qwen3-0.6b --endpoint "http://127.0.0.1:$SP" --unified-memory 64Gi --memory-in-use 8Gi >"$TMP/uni.txt"
grep -q '  Available budget: 40.0 GiB (64 GiB unified x 0.75 - 8.0 GiB in use)' "$TMP/uni.txt" || { cat "$TMP/uni.txt"; fail "unified text"; }

set +e
"$CLI" estimate fixtures/does-not-exist --endpoint "http://127.0.0.1:$SP" 2>"$TMP/nf.err"
rc=$?
"$CLI" estimate fixtures/gated-model --endpoint "http://127.0.0.1:$SP" 2>"$TMP/auth.err" >/dev/null
rc2=$?
"$CLI" estimate fixtures/qwen3-0.6b --bogus-flag x 2>/dev/null
rc3=$?
set -e
[ $rc -eq 4 ] || fail "not found: exit $rc (want 4)"
grep -q "Error: cannot estimate fixtures/does-not-exist" "$TMP/nf.err" || fail "not-found message"
[ $rc2 -eq 1 ] || fail "gated without token: exit $rc2 (want 1)"
[ $rc3 -eq 1 ] || fail "bad flag: exit $rc3 (want 1)"
HF_TOKEN=hf_fixture_gated_token "$CLI" estimate fixtures/gated-model --endpoint "http://127.0.0.1:$SP" >/dev/null ||
  fail "gated with token"
grep -rq hf_fixture_gated_token "$TMP/auth.err" && fail "token leaked to stderr"
pass "verdicts and exit codes (0 fits, 3 no fit, 4 not found, 1 auth/usage)"

# --file: local files, no Hub
F=$SMALL/fixtures/qwen3-0.6b
"$CLI" estimate --file "$F/model.safetensors" -o json >"$TMP/file.json"
python3 - "$TMP/file.json" "$F/.fixture-truth.json" <<'PY' || fail "--file"
import json, sys
o = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
assert o["weightBytes"] == t["weight_bytes"] and o["strategy"] == "safetensors_header_exact", o
PY
"$CLI" estimate --file "$SMALL/fixtures/sd-diffusers" -o json >"$TMP/dir.json"
check_truth "$TMP/dir.json" "$SMALL/fixtures/sd-diffusers/.fixture-truth.json" >/dev/null || fail "--file DIR"
pass "--file on a local file and a local directory"

# ---------------------------------------------------------------- 10 GB, headers only
start_hub big "$BIG"
T=$BIG/fixtures/tinyllama
BYTES=$(python3 -c "import json;print(sum(json.load(open('$T/.fixture-truth.json'))['file_sizes'].values()))")
[ "$BYTES" -gt 10000000000 ] || fail "big fixture is only $BYTES bytes"
"$CLI" estimate fixtures/tinyllama --endpoint "http://127.0.0.1:$PORT" --context 8192 --gpu-memory 80Gi -o json >"$TMP/big.json"
check_truth "$TMP/big.json" "$T/.fixture-truth.json" >/dev/null || fail "10 GB fixture differs from truth"
served=$(awk '$2 ~ /\/resolve\/|^\/lfs\// {s += $4} END {print s + 0}' "$LOG")
python3 - "$TMP/big.json" "$served" "$T/config.json" <<'PY' || fail "headers-only read"
import json, sys
o = json.load(open(sys.argv[1])); served = int(sys.argv[2]); c = json.load(open(sys.argv[3]))
assert o["fits"] is True
# TinyLlama shapes: KV heads 4 x head_dim 64 (2048/32), K and V, 2 bytes, per layer
want = 2 * c["num_key_value_heads"] * (c["hidden_size"] // c["num_attention_heads"]) * 2 * c["num_hidden_layers"]
assert c["num_key_value_heads"] == 4 and want == 22528 // 22 * c["num_hidden_layers"]
assert o["architecture"]["kvBytesPerToken"] == want, (o["architecture"], want)
assert o["kvCacheBytes"] == want * 8192
assert not any(f["path"].startswith("original/") for f in o["files"])
assert served < (1 << 20), f"served {served} bytes of file data"
print(f"{o['downloadBytes'] / 1e9:.1f} GB model: {served} bytes of file data served "
      f"({served / (o['downloadBytes'] / 1e9):.0f} B per GB), weights {o['weightBytes']} exact")
PY
pass "10 GB sparse fixture estimated from headers only, exact"
# a revision alias resolves to its commit (the reads are pinned to it)
"$CLI" estimate fixtures/tinyllama --revision v1.0 --endpoint "http://127.0.0.1:$PORT" -o json >"$TMP/rev.json"
python3 -c "import json;o=json.load(open('$TMP/rev.json'));assert o['revision']=='1'*40, o['revision']" ||
  fail "revision alias"
grep -q "/resolve/1111111111111111111111111111111111111111/" "$LOG" || fail "reads not pinned to the commit"
pass "revision alias resolved and reads pinned to the commit"
# hostile local files (the estimator's fuzz corpus): an error naming the
# file and the defect, exit 1, never a price by file size
n=0
for f in "$SRC"/test/fuzz/corpus/gguf/hostile-* "$SRC"/test/fuzz/corpus/safetensors/hostile-*; do
  set +e
  "$CLI" estimate --file "$f" >"$TMP/hostile.out" 2>"$TMP/hostile.err"
  rc=$?
  set -e
  [ "$rc" = 1 ] || fail "$(basename "$f"): exit $rc, want 1 ($(cat "$TMP/hostile.out" "$TMP/hostile.err"))"
  grep -q "not a valid .* file: $(basename "$f"): " "$TMP/hostile.err" ||
    fail "$(basename "$f"): message does not name the file and defect: $(cat "$TMP/hostile.err")"
  n=$((n + 1))
done
[ "$n" -ge 6 ] || fail "only $n hostile files in the corpus"
"$CLI" estimate --file "$SRC/test/fuzz/corpus/safetensors/dense" >/dev/null || fail "a valid seed is refused"
pass "$n hostile GGUF/safetensors files refused by --file with exit 1"
# a dead link on a repository of many shards: every file transfer is cut
# after its headers. The retries are budgeted per estimate (12 in all,
# docs/estimation.md), not per file: each file gets its first attempt, the
# estimate falls back and says why.
DEAD=$TMP/dead
"$SRC/hack/make-fixture-model" --out "$DEAD" --only tinyllama --real-shapes --fill sparse \
  --target-bytes 2G --shard-bytes 100M >/dev/null
mc_start_fakehub_logged dead "$DEAD" --fast-hash-above 1073741824 --fault-cut-after-bytes 0
"$CLI" estimate fixtures/tinyllama --endpoint "http://127.0.0.1:$PORT" -o json >"$TMP/dead.json" ||
  fail "dead link: exit $?"
nfiles=$(find "$DEAD/fixtures/tinyllama" -type f ! -name '.*' | wc -l)
python3 - "$TMP/dead.json" "$LOG" "$nfiles" <<'PY' || fail "dead link: retries not budgeted per estimate"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["usedFallback"], o
assert "headers unreadable" in (o.get("note") or ""), o.get("note")
# an attempt at an LFS file is two requests (resolve 302 + /lfs/), others one
reqs = sum(1 for l in open(sys.argv[2]) if "/resolve/" in l or "/lfs/" in l)
n = int(sys.argv[3])
assert n >= 20, n
assert reqs <= 2 * (n + 12), (reqs, n)   # per-file retries would be 2 * 6 * n
print(f"dead link: {reqs} file requests for {n} files")
PY
pass "dead link on $nfiles files: retries budgeted per estimate, fallback with the reason"
echo "PASS estimate e2e"
