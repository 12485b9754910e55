#!/usr/bin/env bash
# End-to-end: `hydrate --layout hf-cache` writes the Hugging Face Hub cache
# (docs/concepts.md "Hydration"): models--ORG--NAME/blobs/<etag>,
# snapshots/<commit>/<path> as relative symlinks to the blob, refs/<revision>.
# A python3 stdlib check resolves every snapshot path through its symlink to
# the fixture's bytes; a rerun is "already hydrated". Then the official JS
# client (@huggingface/hub 2.17, installed once with npm into
# $MC_BINARY_DIR/hfjs, or MC_HFJS_DIR) runs snapshotDownload against fakehub
# and scanCacheDir over its own cache and over the hydrator's volume: same
# repo id, commit, refs and files, and the two trees are identical (the same
# blobs, the same relative links).
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

# 4. the official JS client: snapshotDownload against fakehub, scanCacheDir of both caches
command -v node >/dev/null && command -v npm >/dev/null || fail "node and npm are needed (hack/install-deps.sh)"
HFJS=${MC_HFJS_DIR:-${MC_BINARY_DIR:-$SRC/build}/hfjs}
if ! node -e 'const v = require(process.argv[1]).version; process.exit(/^2\.17\./.test(v) ? 0 : 1)' \
    "$HFJS/node_modules/@huggingface/hub/package.json" 2>/dev/null; then
  mkdir -p "$HFJS"
  npm install --prefix "$HFJS" --no-audit --no-fund --loglevel=error '@huggingface/hub@~2.17.5' >"$TMP/npm.err" 2>&1 ||
    fail "npm install @huggingface/hub@2.17: $(tail -3 "$TMP/npm.err")"
fi
cp "$SRC/test/e2e/hfjs/check.mjs" "$HFJS/check.mjs"   # resolves @huggingface/hub from $HFJS/node_modules
: >"$LOG"
node "$HFJS/check.mjs" "$EP" "$REPO" main "$TMP/jscache" "$D" "$TMP/scan.json" >"$TMP/node.err" 2>&1 ||
  fail "the JS client failed: $(tail -5 "$TMP/node.err")"
grep -q '^POST /api/models/fixtures/tinyllama/paths-info/' "$LOG" || fail "the JS client did not ask paths-info"
refused=$(awk '$3 >= 400' "$LOG")
[ -z "$refused" ] || fail "fakehub refused the JS client: $(echo "$refused" | head -3)"
python3 - "$TMP/scan.json" "$COMMIT" "$TMP/jscache" "$D" <<'EOF' || fail "the JS client's view differs"
import json, os, sys
scan, commit, jsdir, hyd = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
assert scan["snapshot"] == os.path.join(jsdir, "models--fixtures--tinyllama", "snapshots", commit), scan["snapshot"]
js, hy = scan["js"], scan["hydrated"]
assert not js["warnings"] and not hy["warnings"], (js["warnings"], hy["warnings"])
assert len(hy["repos"]) == 1 and hy["repos"][0]["id"] == {"name": "fixtures/tinyllama", "type": "model"}, hy["repos"]
rev = hy["repos"][0]["revisions"]
assert len(rev) == 1 and rev[0]["commitOid"] == commit and rev[0]["refs"] == ["main"], rev
assert rev[0]["files"], "no files in the hydrated snapshot"
assert js == hy, "scanCacheDir differs:\n%s\n%s" % (json.dumps(js), json.dumps(hy))
def tree(root):
    out = {}
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(top, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                out[rel] = "-> " + os.readlink(p)
            elif os.path.isdir(p):
                out[rel] = "dir"
            else:
                out[rel] = "file %d" % os.path.getsize(p)
    return out
a, b = tree(os.path.join(jsdir, "models--fixtures--tinyllama")), tree(os.path.join(hyd, "models--fixtures--tinyllama"))
assert a == b, "the trees differ: only JS %s, only hydrator %s, different %s" % (
    sorted(set(a) - set(b)), sorted(set(b) - set(a)), sorted(k for k in a if k in b and a[k] != b[k]))
print("scanCacheDir: %d files at %s, refs main; %d entries identical in both caches" % (
    len(rev[0]["files"]), commit[:12], len(a)))
EOF
pass "@huggingface/hub snapshotDownload completed against fakehub; scanCacheDir reads the hydrator's volume as its own"

echo "PASS hydrate layout e2e"
