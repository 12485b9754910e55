#!/usr/bin/env bash
# The image hack/build-image.sh saved (build/image/*.oci.tar), loaded back and run:
#   1. its config: USER 65532:65532, ENTRYPOINT ["modelcache-operator"];
#   2. `podman run --read-only --user 65532 IMAGE version` prints the version;
#   3. `IMAGE hydrate` in the container, against fakehub on the host's
#      loopback (--network host), fills a bind-mounted directory with the
#      fixture's files, byte for byte, and the marker;
#   4. it holds no compiler, no shell beyond bookworm-slim's, no test programs,
#      and the operator is the only program added;
#   5. it is smaller than 120 MB.
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"
mc_init_plain mc-image-test
: "${MC_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${MC_BINARY_DIR:=$MC_SOURCE_DIR/build}"
: "${MC_BIN:=$MC_BINARY_DIR/bin}"
: "${MC_VERSION:=$(sed -n 's/^project(modelcache-operator VERSION \([0-9.]*\).*/\1/p' "$MC_SOURCE_DIR/CMakeLists.txt")}"
ARCHIVE=${MC_IMAGE_ARCHIVE:-$MC_BINARY_DIR/image/modelcache-operator-$MC_VERSION.oci.tar}
IMAGE=localhost/modelcache-operator:$MC_VERSION
MAX_BYTES=$((120 * 1000 * 1000))

command -v podman >/dev/null || mc_fail "podman is not installed (hack/install-deps.sh)"
[ -s "$ARCHIVE" ] || mc_fail "$ARCHIVE missing: run hack/build-image.sh first"
P() { podman --runtime runc "$@"; }
RUN=(run --rm --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

echo "== 0. podman load $ARCHIVE"
loaded=$(P load -i "$ARCHIVE" 2>&1) || mc_fail "podman load: $loaded"
id=$(P image inspect --format '{{.Id}}' "$IMAGE") || mc_fail "$IMAGE not in storage after load: $loaded"

echo "== 1. image config"
user=$(P image inspect --format '{{.Config.User}}' "$id")
[ "$user" = "65532:65532" ] || mc_fail "USER is '$user', want 65532:65532"
ep=$(P image inspect --format '{{json .Config.Entrypoint}}' "$id")
[ "$ep" = '["modelcache-operator"]' ] || mc_fail "ENTRYPOINT is $ep"

echo "== 2. version, read-only, as 65532"
out=$(P "${RUN[@]}" --read-only --user 65532 "$id" version 2>&1) || mc_fail "version: $out"
[ "$out" = "modelcache-operator $MC_VERSION" ] || mc_fail "version printed '$out'"

echo "== 3. hydrate inside the container against fakehub on the host"
HUB=$MC_TMP/hub
"$MC_SOURCE_DIR/hack/make-fixture-model" --out "$HUB" --only tinyllama >/dev/null
MC_BIN=$MC_BIN mc_start_fakehub_logged hub "$HUB"
DEST=$MC_TMP/dest
mkdir -p "$DEST"
chown 65532:65532 "$DEST"
out=$(P "${RUN[@]}" --read-only --user 65532:65532 --network host --tmpfs /tmp \
	-v "$DEST:/mnt/artifact" "$id" hydrate --repo fixtures/tinyllama \
	--dest /mnt/artifact --endpoint "http://127.0.0.1:$PORT" --termination-log /tmp/term 2>&1) ||
	mc_fail "hydrate in the container failed: $out"
python3 - "$HUB/fixtures/tinyllama" "$DEST" <<'PY' || mc_fail "hydrated files differ from the fixture"
import hashlib, os, sys
src, dst = sys.argv[1], sys.argv[2]
def tree(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for f in files:
            p = os.path.relpath(os.path.join(d, f), root)
            if p.startswith(".") or "/." in p:
                continue
            h = hashlib.sha256()
            with open(os.path.join(d, f), "rb") as fh:
                for b in iter(lambda: fh.read(1 << 20), b""):
                    h.update(b)
            out[p] = h.hexdigest()
    return out
a, b = tree(src), tree(dst)
if not a or a != b:
    sys.exit("fixture %s\nhydrated %s" % (sorted(a), sorted(b)))
print("   %d files, sha256 equal to the fixture's" % len(a))
PY
[ -f "$DEST/.modelcache-hydrated" ] || mc_fail "no marker .modelcache-hydrated"
owner=$(stat -c %u "$DEST/.modelcache-hydrated")
[ "$owner" = 65532 ] || mc_fail "files written as uid $owner, not 65532"
grep -q '^GET /api/models/fixtures/tinyllama' "$LOG" || mc_fail "fakehub saw no request from the container"

echo "== 4. contents: no compiler, no extra shell, no test programs"
cid=$(P create "$id")
P export "$cid" | tar -t | sed 's|^\./||; s|^/||' | sort >"$MC_TMP/files"
P rm "$cid" >/dev/null
base=localhost/debian:bookworm-slim
if P image exists "$base"; then
	bid=$(P create "$base")
	P export "$bid" | tar -t | sed 's|^\./||; s|^/||' | sort >"$MC_TMP/base-files"
	P rm "$bid" >/dev/null
	shells() { grep -E '^(usr/)?bin/[a-z]*sh$' "$1" | sed 's|^usr/||' | sort -u; }
	extra=$(comm -13 <(shells "$MC_TMP/base-files") <(shells "$MC_TMP/files"))
	[ -z "$extra" ] || mc_fail "shells not in bookworm-slim: $extra"
	# programs added to the base: ours, and the CA bundle's tools (ca-certificates
	# needs openssl); the rest are the shared libraries
	progs=$(comm -13 "$MC_TMP/base-files" "$MC_TMP/files" | grep -E '^(usr/)?(local/)?s?bin/.' |
		grep -vxE 'usr/local/bin/modelcache-operator|usr/bin/(openssl|c_rehash)|usr/sbin/update-ca-certificates' || true)
	[ -z "$progs" ] || mc_fail "programs added to the base image: $progs"
fi
grep -q '^usr/local/bin/modelcache-operator$' "$MC_TMP/files" || mc_fail "no /usr/local/bin/modelcache-operator"
bad=$(grep -E '(^|/)(gcc|cc|c\+\+|g\+\+|clang|cpp|ld|as|make|cmake|kubesim|fakehub|test_[a-z_]+|kube-client-check)(-[0-9.]+)?$' \
	"$MC_TMP/files" | grep -E '(^|/)s?bin/' || true)
[ -z "$bad" ] || mc_fail "compiler or test programs in the image: $bad"
grep -qE '^usr/(lib/gcc|include)/.' "$MC_TMP/files" && mc_fail "compiler files or headers in the image"
for lib in libcurl.so.4 libjson-c.so.5 libyaml-0.so.2 libwebsockets.so.17 libssl.so.3; do
	grep -q "/$lib\$" "$MC_TMP/files" || mc_fail "runtime library $lib missing"
done
grep -q '^etc/ssl/certs/ca-certificates.crt$' "$MC_TMP/files" || mc_fail "no CA bundle"

echo "== 5. size"
size=$(P image inspect --format '{{.Size}}' "$id")
[ "$size" -lt "$MAX_BYTES" ] || mc_fail "image is $size bytes, more than $MAX_BYTES"
echo "PASS image_run: $IMAGE is $((size / 1000000)) MB ($size bytes)"
