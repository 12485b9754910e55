#!/usr/bin/env bash
# End-to-end: `hydrate --layout hf-cache` writes the Hugging Face Hub cache
# (docs/concepts.md "Hydration"): models--ORG--NAME/blobs/<etag>,
# snapshots/<commit>/<path> as relative symlinks to the blob, refs/<revision>.
# A python3 stdlib check resolves every snapshot path through its symlink to
# the fixture's bytes; a rerun is "already hydrated".
#   MC_BIN=build/bin MC_SOURCE_DIR=. bash test/e2e/hydrate_layout.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:=$SRC/build/bin}
OP=$BIN/modelcache-operator
for b in "$OP" "$BIN/fakehub"; do
  [ -x "$b" ] || { echo "FAIL: $b is not built"; exit 1; }
done
mc_init_plain mc-hydrate-layout
TMP=$MC_TMP
fail() {
  echo "FAIL: $*" >&2
  for f in "$TMP"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; } >&2; done
  exit 1
}
pass() { echo "ok: $*"; }

ROOT=$TMP/hub
"$SRC/hack/make-fixture-model" --out "$ROOT" --only tinyllama >/dev/null
REPO=fixtures/tinyllama
FIX=$ROOT/$REPO
mc_start_fakehub_logged layout "$ROOT"
EP=http://127.0.0.1:$PORT
hydrate() { "$OP" hydrate --progress-interval 1 --endpoint "$EP" --repo "$REPO" "$@"; }
COMMIT=$(curl -sf "$EP/api/models/$REPO" | python3 -c 'import json, sys; print(json.load(sys.stdin)["sha"])')

# 1. the Hub cache layout, checked with the python3 standard library only
D=$TMP/cache
hydrate --dest "$D" --layout hf-cache 2>"$TMP/layout.err" || fail "hydrate --layout hf-cache"
grep -q 'layout hf-cache' "$TMP/layout.err" || fail "the run does not say its layout"
python3 - "$D" "$FIX" "$COMMIT" <<'EOF' || fail "the cache layout is wrong"
import hashlib, json, os, sys
dest, fix, commit = sys.argv[1:]
repo = os.path.join(dest, "models--fixtures--tinyllama")
assert open(os.path.join(repo, "refs", "main")).read() == commit, "refs/main must hold the commit, no newline"
snap = os.path.join(repo, "snapshots", commit)
want = []
for top, dirs, files in os.walk(fix):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    want += [os.path.relpath(os.path.join(top, f), fix) for f in files if not f.startswith(".")]
assert want, "empty fixture"
for rel in want:
    link = os.path.join(snap, rel)
    assert os.path.islink(link), link + " is not a symlink"
    target = os.readlink(link)
    assert not os.path.isabs(target), link + " -> " + target + " is absolute"
    blob = os.path.realpath(link)
    assert os.path.dirname(blob) == os.path.realpath(os.path.join(repo, "blobs")), link + " -> " + blob
    data = open(link, "rb").read()
    assert data == open(os.path.join(fix, rel), "rb").read(), rel + ": wrong bytes through the link"
    # the blob is named by the Hub's etag: sha256 (LFS) or the git blob sha1
    etag = os.path.basename(blob)
    sha256 = hashlib.sha256(data).hexdigest()
    gitsha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert etag in (sha256, gitsha), rel + ": blob " + etag
cfg = os.path.join(snap, "config.json")
assert json.load(open(cfg)) == json.load(open(os.path.join(fix, "config.json")))
m = json.load(open(os.path.join(dest, ".modelcache-hydrated")))
assert m["layout"] == "HuggingFaceCache" and m["commit"] == commit, m
print("checked %d files through snapshots/%s" % (len(want), commit[:12]))
EOF
ls "$D" | grep -q incomplete && fail "leftover .incomplete"
pass "hf-cache layout: blobs by etag, relative snapshot links with the right bytes, refs/main = $COMMIT"

# 2. a rerun is "already hydrated" and fetches nothing
: >"$LOG"
hydrate --dest "$D" --layout hf-cache 2>"$TMP/rerun.err" || fail "rerun"
grep -q 'already hydrated' "$TMP/rerun.err" || fail "the rerun is not 'already hydrated'"
if grep -Eq '/resolve/|^GET /lfs/' "$LOG"; then fail "the rerun fetched files"; fi
pass "rerun: already hydrated, no file fetched"

# 3. a missing link is put back without refetching the blob
rm "$D/models--fixtures--tinyllama/snapshots/$COMMIT/config.json"
: >"$LOG"
hydrate --dest "$D" --layout hf-cache 2>"$TMP/relink.err" || fail "relink run"
[ -L "$D/models--fixtures--tinyllama/snapshots/$COMMIT/config.json" ] || fail "config.json link not restored"
cmp -s "$D/models--fixtures--tinyllama/snapshots/$COMMIT/config.json" "$FIX/config.json" || fail "restored link"
if grep -Eq '/resolve/|^GET /lfs/' "$LOG"; then fail "the relink run fetched files"; fi
pass "a removed snapshot link is restored from the blob in place"

echo "PASS hydrate layout e2e"
