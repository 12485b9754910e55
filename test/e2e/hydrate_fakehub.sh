#!/usr/bin/env bash
# End-to-end: test/fakehub answers like the Hub, and its numbers agree with
# the ground truth hack/make-fixture-model writes (.fixture-truth.json).
set -euo pipefail

SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:-$SRC/build/bin}
HUB=$BIN/fakehub
[ -x "$HUB" ] || { echo "FAIL: $HUB is not built"; exit 1; }

TMP=$(mktemp -d /tmp/mc-fakehub-e2e.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

ROOT=$TMP/hub
"$SRC/hack/make-fixture-model" --out "$ROOT" >/dev/null
"$HUB" --root "$ROOT" --port 0 --port-file "$TMP/port" --request-log "$TMP/log" 2>"$TMP/stderr" &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || fail "fakehub did not write its port file"
EP=http://127.0.0.1:$(cat "$TMP/port")

python3 - "$EP" "$ROOT" <<'EOF' || fail "fakehub API checks"
import hashlib, json, os, sys, urllib.request, urllib.error

ep, root = sys.argv[1], sys.argv[2]

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None

plain = urllib.request.build_opener(NoRedirect)

def get(path, method="GET", headers=None, follow=True):
    req = urllib.request.Request(ep + path, method=method, headers=headers or {})
    try:
        r = (urllib.request.urlopen(req) if follow else plain.open(req))
        return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()

def truth(name):
    return json.load(open(os.path.join(root, "fixtures", name, ".fixture-truth.json")))

# every fixture: siblings = files on disk (no dot-files), sizes, hashes, safetensors counts
for name in sorted(os.listdir(os.path.join(root, "fixtures"))):
    t = truth(name)
    st, _, body = get(f"/api/models/fixtures/{name}?blobs=true",
                      headers={"Authorization": "Bearer hf_fixture_gated_token"})
    assert st == 200, (name, st)
    info = json.loads(body)
    sib = {s["rfilename"]: s for s in info["siblings"]}
    assert sorted(sib) == sorted(t["file_sizes"]), (name, sorted(sib))
    assert not any(p.startswith(".") or "/." in p for p in sib), name
    for p, size in t["file_sizes"].items():
        s = sib[p]
        assert s["size"] == size, (name, p)
        data = open(os.path.join(root, "fixtures", name, p), "rb").read()
        if "lfs" in s:
            assert s["lfs"]["sha256"] == hashlib.sha256(data).hexdigest(), (name, p)
        else:
            git = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            assert s["blobId"] == git, (name, p)
    assert info["usedStorage"] == t["download_bytes"], name
    assert len(info["sha"]) == 40
    st_files = [p for p, f in t["files"].items() if f["format"] == "safetensors"]
    if st_files:
        assert info["safetensors"]["total"] == sum(t["files"][p]["elements"] for p in st_files), name
    print("ok: info", name)

# gguf summary: a parameter count and the architecture's keys
st, _, body = get("/api/models/fixtures/tinyllama-gguf")
g = json.loads(body)["gguf"]
assert g["architecture"] == "llama" and g["context_length"] == 2048 and g["total"] > 0, g

# tree: recursive lists folders and files with lfs oids; one level does not descend
st, _, body = get("/api/models/fixtures/sd-diffusers/tree/main?recursive=true")
tree = json.loads(body)
types = {e["path"]: e["type"] for e in tree}
assert types["unet"] == "directory" and types["unet/diffusion_pytorch_model.fp16.safetensors"] == "file"
lfs = [e for e in tree if e["path"] == "unet/diffusion_pytorch_model.safetensors"][0]["lfs"]
assert len(lfs["oid"]) == 64
st, _, body = get("/api/models/fixtures/sd-diffusers/tree/main")
assert all("/" not in e["path"] for e in json.loads(body))
st, _, body = get("/api/models/fixtures/sd-diffusers/tree/main/unet")
assert sorted(e["path"] for e in json.loads(body)) == ["unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors"]

# resolve: LFS files redirect with X-Linked-*; small files answer with the git blob ETag; Range
st, h, _ = get("/fixtures/tinyllama/resolve/main/model.safetensors", method="HEAD", follow=False)
h = {k.lower(): v for k, v in h.items()}
size = os.path.getsize(os.path.join(root, "fixtures/tinyllama/model.safetensors"))
assert st == 302 and h["location"].startswith("/lfs/") and int(h["x-linked-size"]) == size, (st, h)
assert h["x-linked-etag"].strip('"') == h["location"][5:] and len(h["x-repo-commit"]) == 40
st, h, body = get("/fixtures/tinyllama/resolve/main/model.safetensors", headers={"Range": "bytes=0-7"})
assert st == 206 and len(body) == 8
hdr_len = int.from_bytes(body, "little")
st, _, body = get("/fixtures/tinyllama/resolve/main/model.safetensors", headers={"Range": f"bytes=8-{7 + hdr_len}"})
assert st == 206 and json.loads(body)["model.embed_tokens.weight"]["dtype"] == "BF16"
st, h, body = get("/fixtures/tinyllama/resolve/main/config.json", headers={"Range": "bytes=-5"})
assert st == 206 and body == open(os.path.join(root, "fixtures/tinyllama/config.json"), "rb").read()[-5:]
st, h, _ = get("/fixtures/tinyllama/resolve/main/config.json", headers={"Range": "bytes=99999-"})
assert st == 416 and h.get("content-range", h.get("Content-Range")) .startswith("bytes */")

# revisions, gating, not found
st, _, body = get("/api/models/fixtures/tinyllama/revision/v1.0")
assert st == 200 and json.loads(body)["sha"] == "1" * 40
assert get("/api/models/fixtures/tinyllama/revision/nope")[0] == 404
assert get("/fixtures/tinyllama/resolve/main/nope.bin")[0] == 404
assert get("/api/models/fixtures/nope")[0] == 404
assert get("/api/models/fixtures/gated-model")[0] == 401
assert get("/fixtures/gated-model/resolve/main/config.json", headers={"Authorization": "Bearer x"})[0] == 403
assert get("/fixtures/gated-model/resolve/main/config.json",
           headers={"Authorization": "Bearer hf_fixture_gated_token"})[0] == 200
assert get("/fixtures/tinyllama/resolve/main/.fakehub.json")[0] == 404
print("ok: gguf, tree, resolve/Range/416, revisions, gating, dot-files hidden")
EOF

# the request log has one line per request: METHOD PATH?QUERY CODE BYTES RANGE START_MS END_MS
grep -qE '^GET /api/models/fixtures/tinyllama\?blobs=true 200 [0-9]+ - [0-9]+ [0-9]+$' "$TMP/log" || fail "request log format"
grep -qE '^GET /lfs/[0-9a-f]{64} 206 [0-9]+ [0-9]*-[0-9]* [0-9]+ [0-9]+$' "$TMP/log" || fail "request log: Range field"
grep -qE '^HEAD /fixtures/tinyllama/resolve/main/model.safetensors 302 0 - [0-9]+ [0-9]+$' "$TMP/log" || fail "request log HEAD line"
# --fast-hash-above: big LFS files get a pseudo oid (no hashing), bytes still served with Range
kill "$PID"; wait "$PID" 2>/dev/null || true
rm -f "$TMP/port"
"$HUB" --root "$ROOT" --port 0 --port-file "$TMP/port" --fast-hash-above 1048576 2>>"$TMP/stderr" &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || fail "fakehub (fast hash) did not start"
EP=http://127.0.0.1:$(cat "$TMP/port")
python3 - "$EP" "$ROOT" <<'EOF' || fail "fast-hash checks"
import hashlib, json, os, sys, urllib.request
ep, root = sys.argv[1], sys.argv[2]
info = json.load(urllib.request.urlopen(ep + "/api/models/fixtures/tinyllama?blobs=true"))
sib = {s["rfilename"]: s for s in info["siblings"]}
path = os.path.join(root, "fixtures/tinyllama/model.safetensors")
real = hashlib.sha256(open(path, "rb").read()).hexdigest()
assert sib["model.safetensors"]["lfs"]["sha256"] != real          # pseudo oid above 1 MiB
cfg = open(os.path.join(root, "fixtures/tinyllama/config.json"), "rb").read()
assert sib["config.json"]["blobId"] == hashlib.sha1(b"blob %d\0" % len(cfg) + cfg).hexdigest()
req = urllib.request.Request(ep + "/fixtures/tinyllama/resolve/main/model.safetensors", headers={"Range": "bytes=0-7"})
assert urllib.request.urlopen(req).read() == open(path, "rb").read(8)
print("ok: --fast-hash-above gives pseudo oids and still serves the bytes")
EOF

echo "PASS fakehub e2e"
