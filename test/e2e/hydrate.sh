#!/usr/bin/env bash
# End-to-end: `modelcache-operator hydrate` against test/fakehub on fixtures
# written by hack/make-fixture-model (issue 4, "Must show").
#   MC_BIN=build/bin MC_SOURCE_DIR=. bash test/e2e/hydrate.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:=$SRC/build/bin}
OP=$BIN/modelcache-operator
HUB=$BIN/fakehub
for b in "$OP" "$HUB"; do
  [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done

mc_init_plain mc-hydrate-e2e
TMP=$MC_TMP

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

ROOT=$TMP/hub
"$SRC/hack/make-fixture-model" --out "$ROOT" --only tinyllama --only gated-model --only llama-3.1-8b >/dev/null
# a hostile repository: its listing holds ../x and /etc/x
mkdir -p "$ROOT/fixtures/hostile"
echo '{"model_type":"llama"}' >"$ROOT/fixtures/hostile/config.json"
echo '{"inject_siblings": ["../x", "/etc/x"]}' >"$ROOT/fixtures/hostile/.fakehub.json"
TINY=$ROOT/fixtures/tinyllama
MODEL_SIZE=$(stat -c %s "$TINY/model.safetensors")

# start_hub NAME [fakehub flags...]: sets PORT and LOG
start_hub() {
  local name=$1; shift
  mc_start_fakehub_logged "$name" "$ROOT" "$@"
}

stop_last_hub() {
  local p=${MC_PIDS[-1]}
  kill "$p"; wait "$p" 2>/dev/null || true
  unset 'MC_PIDS[-1]'
}

# file bytes served (resolve + lfs lines) in a request log
file_bytes() { awk '$2 ~ /\/resolve\/|^\/lfs\// {s += $4} END {print s + 0}' "$1"; }

hydrate() { "$OP" hydrate --progress-interval 1 "$@"; }

# same files and bytes as the fixture (dot-files aside)
same_tree() {
  local src=$1 dst=$2
  (cd "$src" && find . -type f ! -name '.*' | sort | xargs sha256sum) >"$TMP/a.sum"
  (cd "$dst" && find . -type f ! -name '.*' | sort | xargs sha256sum) >"$TMP/b.sum"
  diff -u "$TMP/a.sum" "$TMP/b.sum"
}

start_hub main
EP=http://127.0.0.1:$PORT

# 1. hydrate a fixture: files and hashes match, marker written
D=$TMP/d1
hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "$EP" 2>"$TMP/h1.err" || { cat "$TMP/h1.err"; fail "first hydrate"; }
same_tree "$TINY" "$D" || fail "hydrated files differ from the fixture"
[ -f "$D/.modelcache-hydrated" ] || fail "no marker"
python3 - "$D/.modelcache-hydrated" "$TINY" <<'EOF' || fail "marker content"
import json, sys, os, hashlib
m = json.load(open(sys.argv[1]))
assert m["repo"] == "fixtures/tinyllama" and len(m["commit"]) == 40, m
files = {f["path"]: f for f in m["files"]}
want = sorted(os.path.relpath(os.path.join(r, n), sys.argv[2]) for r, _, ns in os.walk(sys.argv[2]) for n in ns if not n.startswith("."))
assert sorted(files) == want, (sorted(files), want)
st = files["model.safetensors"]
assert st["sha256"] == hashlib.sha256(open(os.path.join(sys.argv[2], "model.safetensors"), "rb").read()).hexdigest()
assert "gitSha1" in files["config.json"]
EOF
ls "$D" | grep -q incomplete && fail "leftover .incomplete files"
pass "hydrate: files, hashes and marker match"

# 2. second run downloads 0 bytes
before=$(wc -l <"$LOG")
out=$(hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "$EP" 2>/dev/null) || fail "second run"
[ "$out" = "already hydrated" ] || fail "second run said: $out"
tail -n +"$((before + 1))" "$LOG" >"$TMP/second.log"
[ "$(file_bytes "$TMP/second.log")" = 0 ] || fail "second run fetched file bytes: $(cat "$TMP/second.log")"
grep -qE '/resolve/|/lfs/' "$TMP/second.log" && fail "second run requested files"
pass "second run: already hydrated, 0 file bytes fetched"

# 2b. a stale partial (another version of the file) is fetched again from byte 0, not reported as corrupt
D=$TMP/d-stale
mkdir -p "$D"
head -c 1000 /dev/urandom >"$D/model.safetensors.incomplete"
before=$(wc -l <"$LOG")
hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "$EP" 2>"$TMP/stale.err" || { cat "$TMP/stale.err"; fail "stale partial run"; }
same_tree "$TINY" "$D" || fail "stale partial: files differ"
tail -n +"$((before + 1))" "$LOG" >"$TMP/stale.log"
got=$(awk '$2 ~ /^\/lfs\// {s += $4} END {print s + 0}' "$TMP/stale.log")
[ "$got" = $((2 * MODEL_SIZE - 1000)) ] || fail "stale partial: fetched $got bytes of the model"
pass "stale partial: resumed, failed verification, fetched again from 0, verified"

# 3. revision alias resolves to its commit, recorded in the marker
D=$TMP/d-rev
hydrate --repo fixtures/tinyllama --revision v1.0 --dest "$D" --endpoint "$EP" 2>/dev/null || fail "alias hydrate"
grep -q '"commit":"1111111111111111111111111111111111111111"' "$D/.modelcache-hydrated" || fail "alias commit not in marker"
grep -q '"revision":"v1.0"' "$D/.modelcache-hydrated" || fail "revision not in marker"
pass "revision alias v1.0 -> its commit in the marker"

# 3b. re-hydrating the same folder with narrower patterns drops the files no longer listed
hydrate --repo fixtures/tinyllama --revision v1.0 --include '*.json' --dest "$D" --endpoint "$EP" 2>/dev/null \
  || fail "narrowed re-hydrate"
[ ! -e "$D/model.safetensors" ] && [ -f "$D/config.json" ] || fail "stale files kept after narrowing"
grep -q model.safetensors "$D/.modelcache-hydrated" && fail "marker lists a dropped file"
pass "narrowed include: files of the previous hydration removed"

# 4. include/exclude
D=$TMP/d-inc
hydrate --repo fixtures/tinyllama --include '*.json' --exclude 'original/*' --exclude 'tokenizer*' \
  --dest "$D" --endpoint "$EP" 2>/dev/null || fail "include/exclude hydrate"
got=$(cd "$D" && find . -type f ! -name '.*' | sort | tr '\n' ' ')
[ "$got" = "./config.json ./generation_config.json " ] || fail "include/exclude selected: $got"
D=$TMP/d-inc2
hydrate --repo fixtures/tinyllama --include 'original/' --dest "$D" --endpoint "$EP" 2>/dev/null || fail "folder include"
got=$(cd "$D" && find . -type f ! -name '.*' | sort | tr '\n' ' ')
[ "$got" = "./original/params.json " ] || fail "folder include selected: $got"
D=$TMP/d-inc3
hydrate --repo fixtures/llama-3.1-8b --include 'model-0000[12]-*.safetensors' --dest "$D" --endpoint "$EP" 2>/dev/null || fail "class include"
got=$(cd "$D" && find . -type f ! -name '.*' | sort | tr '\n' ' ')
[ "$got" = "./model-00001-of-00004.safetensors ./model-00002-of-00004.safetensors " ] || fail "class include selected: $got"
set +e
hydrate --repo fixtures/tinyllama --include '*.gguf' --dest "$TMP/d-none" --endpoint "$EP" 2>/dev/null; rc=$?
set -e
[ $rc = 4 ] || fail "include matching nothing: exit $rc, want 4"
pass "include/exclude select the right files"

# 5. not found
set +e
hydrate --repo fixtures/nope --dest "$TMP/d-404" --endpoint "$EP" 2>/dev/null; rc1=$?
hydrate --repo fixtures/tinyllama --revision no-such-branch --dest "$TMP/d-404b" --endpoint "$EP" 2>/dev/null; rc2=$?
hydrate --repo fixtures/tinyllama --dest "$TMP/d-usage" --parallel 0 2>/dev/null; rc3=$?
set -e
[ $rc1 = 4 ] && [ $rc2 = 4 ] || fail "not found: exits $rc1 $rc2, want 4"
[ $rc3 = 2 ] || fail "usage: exit $rc3, want 2"
pass "missing repo/revision exit 4, usage exit 2"

# 6. gated: exit 3 without a token (and with a wrong one), ok with it; the token never printed
TOKEN=hf_fixture_gated_token
D=$TMP/d-gated
: >"$TMP/term"
set +e
env -u HF_TOKEN "$OP" hydrate --repo fixtures/gated-model --dest "$D" --endpoint "$EP" \
  --termination-log "$TMP/term" 2>"$TMP/g1.err"; rc1=$?
HF_TOKEN=hf_wrong_token_value "$OP" hydrate --repo fixtures/gated-model --dest "$D" --endpoint "$EP" 2>"$TMP/g2.err"; rc2=$?
set -e
[ $rc1 = 3 ] && [ $rc2 = 3 ] || fail "gated without/with wrong token: exits $rc1 $rc2, want 3"
grep -q 401 "$TMP/term" || fail "termination log lacks the cause: $(cat "$TMP/term")"
grep -q hf_wrong_token_value "$TMP/g2.err" && fail "token printed"
HF_TOKEN=$TOKEN hydrate --repo fixtures/gated-model --dest "$D" --endpoint "$EP" 2>"$TMP/g3.err" || fail "gated with token"
printf '%s\n' "$TOKEN" >"$TMP/token"
hydrate --repo fixtures/gated-model --dest "$TMP/d-gated2" --token-file "$TMP/token" --endpoint "$EP" 2>>"$TMP/g3.err" \
  || fail "gated with --token-file"
grep -rq "$TOKEN" "$TMP/g3.err" "$D" "$TMP/d-gated2" && fail "token leaked into logs or files"
[ -f "$D/.modelcache-hydrated" ] || fail "gated: no marker"
pass "gated: exit 3 without token, ok with HF_TOKEN and --token-file, token never written"

# 7. hostile listing and symlink escape are refused
set +e
hydrate --repo fixtures/hostile --dest "$TMP/d-host/inner" --endpoint "$EP" 2>"$TMP/host.err"; rc=$?
set -e
[ $rc = 1 ] || fail "hostile listing: exit $rc, want 1"
grep -q 'refusing unsafe path' "$TMP/host.err" || fail "hostile listing message: $(cat "$TMP/host.err")"
[ ! -e "$TMP/d-host/x" ] && [ -z "$(ls -A "$TMP/d-host/inner" 2>/dev/null)" ] || fail "hostile listing wrote files"
mkdir -p "$TMP/outside" "$TMP/d-link"
ln -s "$TMP/outside" "$TMP/d-link/original"
set +e
hydrate --repo fixtures/tinyllama --dest "$TMP/d-link" --endpoint "$EP" 2>"$TMP/link.err"; rc=$?
set -e
[ $rc = 1 ] || fail "symlink escape: exit $rc, want 1"
grep -q 'symlink' "$TMP/link.err" || fail "symlink message: $(cat "$TMP/link.err")"
[ -z "$(ls -A "$TMP/outside")" ] || fail "wrote through the symlink"
[ -f "$TMP/d-link/.modelcache-hydrated" ] && fail "marker despite refusal"
pass "hostile listing (../x, /etc/x) and symlink escape refused"

# 7b. one hydrator per folder: a held lock makes a second one fail fast
D=$TMP/d-lock
mkdir -p "$D"
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); open(sys.argv[2], "w").close(); time.sleep(30)' \
  "$D/.modelcache-hydrated.lock" "$TMP/locked" &
LOCKPID=$!
MC_PIDS+=($LOCKPID)
for _ in $(seq 100); do [ -e "$TMP/locked" ] && break; sleep 0.05; done
[ -e "$TMP/locked" ] || fail "lock holder did not start"
{
  set +e
  hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "$EP" 2>"$TMP/lock.err"; rc=$?
  set -e
  [ $rc = 1 ] && grep -q 'another hydration' "$TMP/lock.err" || fail "locked folder: exit $rc: $(cat "$TMP/lock.err")"
  kill "$LOCKPID" 2>/dev/null || true; wait "$LOCKPID" 2>/dev/null || true
  unset 'MC_PIDS[-1]'
  hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "$EP" 2>/dev/null || fail "hydrate after the lock is released"
  pass "a second hydrator on a locked folder exits 1; runs once the lock is free"
}
stop_last_hub

# 8. a cut transfer: the first run fails with no marker, the rerun resumes
CUT=1000000
start_hub cut --fault-cut-after-bytes "$CUT"
D=$TMP/d-cut
set +e
hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "http://127.0.0.1:$PORT" --parallel 1 \
  --retries 1 --retry-base-ms 50 2>"$TMP/cut.err"; rc=$?
set -e
[ $rc = 1 ] || { cat "$TMP/cut.err"; fail "cut run: exit $rc, want 1"; }
[ -f "$D/.modelcache-hydrated" ] && fail "marker after a cut run"
[ -f "$D/model.safetensors" ] && fail "truncated weights in place after a cut run"
partial=$(stat -c %s "$D/model.safetensors.incomplete")
[ "$partial" -gt 0 ] && [ "$partial" -lt "$MODEL_SIZE" ] || fail "partial file has $partial bytes"
stop_last_hub
start_hub resume
hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "http://127.0.0.1:$PORT" 2>"$TMP/resume.err" \
  || { cat "$TMP/resume.err"; fail "resume run"; }
same_tree "$TINY" "$D" || fail "resumed files differ"
refetched=$(awk '$2 ~ /^\/lfs\// {s += $4} END {print s + 0}' "$LOG")
[ "$refetched" -lt "$MODEL_SIZE" ] || fail "rerun fetched $refetched bytes of a $MODEL_SIZE-byte file"
[ "$refetched" = $((MODEL_SIZE - partial)) ] || fail "rerun fetched $refetched, expected $((MODEL_SIZE - partial))"
grep -q '^GET /lfs/.* 206 ' "$LOG" || fail "rerun did not use Range (206)"
pass "cut after $CUT bytes: exit 1, no marker; rerun fetched $refetched of $MODEL_SIZE bytes"
stop_last_hub

# 9. corruption: exit 5, no marker, nothing in place
start_hub corrupt --fault-corrupt 'model.safetensors'
D=$TMP/d-corrupt
: >"$TMP/term2"
set +e
hydrate --repo fixtures/tinyllama --dest "$D" --endpoint "http://127.0.0.1:$PORT" --termination-log "$TMP/term2" \
  2>"$TMP/corrupt.err"; rc=$?
set -e
[ $rc = 5 ] || { cat "$TMP/corrupt.err"; fail "corrupt: exit $rc, want 5"; }
[ -f "$D/.modelcache-hydrated" ] && fail "marker after corruption"
[ -e "$D/model.safetensors" ] || [ -e "$D/model.safetensors.incomplete" ] && fail "corrupt file kept"
grep -q 'sha256 mismatch for model.safetensors' "$TMP/term2" || fail "termination log: $(cat "$TMP/term2")"
pass "corrupted body: exit 5, no marker, cause in the termination log"
stop_last_hub

# 10. 429s with Retry-After are retried
start_hub busy --fault-429-rate 0.3 --fault-retry-after 0 --seed 7
hydrate --repo fixtures/llama-3.1-8b --dest "$TMP/d-429" --endpoint "http://127.0.0.1:$PORT" --retries 10 \
  --retry-base-ms 10 2>"$TMP/429.err" || { cat "$TMP/429.err"; fail "429 run"; }
grep -q ' 429 ' "$LOG" || fail "no 429 was served"
same_tree "$ROOT/fixtures/llama-3.1-8b" "$TMP/d-429" || fail "429 run files differ"
pass "429s retried: $(grep -c ' 429 ' "$LOG") answered 429, all files verified"
stop_last_hub

echo "PASS hydrate e2e"
