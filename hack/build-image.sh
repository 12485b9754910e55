#!/usr/bin/env bash
# Builds the modelcache-operator container image from the Dockerfile with
# Debian's podman, offline from any image registry:
#   1. makes the base images locally (once; kept in podman's storage):
#      `debootstrap --variant=minbase bookworm` imported as
#      localhost/debian:bookworm, and a copy slimmed the way the official
#      -slim images are (no docs, man pages, locales; dpkg told to keep it so)
#      as localhost/debian:bookworm-slim;
#   2. podman build with those as --build-arg BUILD_IMAGE / RUNTIME_IMAGE
#      (the build stages still apt-get from Debian's repository);
#   3. podman save: an OCI archive in the build folder; prints the image size.
# usage: hack/build-image.sh [OUT_DIR]   (default build/image)
#   MC_IMAGE=name:tag      the tag (default localhost/modelcache-operator:<version>)
#   MC_DEBIAN_MIRROR=URL   debootstrap's mirror (default: the first of apt's sources)
#   MC_REBUILD_BASE=1      make the base images again
# Podman on Debian bookworm (4.3) as root: --runtime runc (crun refuses a
# hybrid cgroup setup) and explicit ulimits (its defaults exceed the hard
# limits of these machines).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
OUT=${1:-build/image}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

version=$(sed -n 's/^project(modelcache-operator VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || { echo "build-image: no version in CMakeLists.txt" >&2; exit 1; }
IMAGE=${MC_IMAGE:-localhost/modelcache-operator:$version}
ARCHIVE=$OUT/modelcache-operator-$version.oci.tar

for t in podman debootstrap; do
	command -v "$t" >/dev/null || { echo "build-image: $t is not installed (hack/install-deps.sh)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "build-image: run as root (podman with runc, debootstrap)" >&2; exit 1; }

PODMAN=(podman --runtime runc)
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=4096:4096)

mirror=${MC_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
	mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

base_images() {
	if [ "${MC_REBUILD_BASE:-0}" != 1 ] &&
		"${PODMAN[@]}" image exists localhost/debian:bookworm &&
		"${PODMAN[@]}" image exists localhost/debian:bookworm-slim; then
		echo "== base images: localhost/debian:bookworm and :bookworm-slim already made"
		return 0
	fi
	local work=$OUT/rootfs
	rm -rf "$work"
	mkdir -p "$work"
	echo "== debootstrap --variant=minbase bookworm ($mirror)"
	if ! debootstrap --variant=minbase bookworm "$work/full" "$mirror" >"$OUT/debootstrap.log" 2>&1; then
		tail -n 20 "$OUT/debootstrap.log" >&2
		echo "build-image: debootstrap failed (log: $OUT/debootstrap.log)" >&2
		return 1
	fi
	rm -rf "$work/full/var/cache/apt/archives/"*.deb "$work/full/var/lib/apt/lists/"*
	tar -C "$work/full" -c . | "${PODMAN[@]}" import --change 'CMD ["bash"]' - localhost/debian:bookworm >/dev/null
	# -slim: what debuerreotype's slimify removes, and the dpkg config that
	# keeps later apt-get installs from putting it back
	cp -a "$work/full" "$work/slim"
	cat >"$work/slim/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
	find "$work/slim/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
	find "$work/slim/usr/share/doc" -mindepth 1 -type d -empty -delete
	rm -rf "$work/slim/usr/share/man/"* "$work/slim/usr/share/groff/"* "$work/slim/usr/share/info/"* \
		"$work/slim/usr/share/lintian/"* "$work/slim/usr/share/linda/"* "$work/slim/var/cache/man/"*
	find "$work/slim/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
	tar -C "$work/slim" -c . | "${PODMAN[@]}" import --change 'CMD ["bash"]' - localhost/debian:bookworm-slim >/dev/null
	rm -rf "$work"
	echo "== base images: localhost/debian:bookworm, localhost/debian:bookworm-slim"
}

base_images

echo "== podman build -t $IMAGE"
if ! "${PODMAN[@]}" build --network host "${ULIMITS[@]}" \
	--build-arg BUILD_IMAGE=localhost/debian:bookworm \
	--build-arg RUNTIME_IMAGE=localhost/debian:bookworm-slim \
	-t "$IMAGE" -f "$SRC/Dockerfile" "$SRC" >"$OUT/build.log" 2>&1; then
	tail -n 30 "$OUT/build.log" >&2
	echo "build-image: podman build failed (log: $OUT/build.log)" >&2
	exit 1
fi

rm -f "$ARCHIVE"
"${PODMAN[@]}" save --format oci-archive -o "$ARCHIVE" "$IMAGE" >/dev/null
size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
echo "image $IMAGE: $((size / 1000000)) MB ($size bytes); OCI archive $ARCHIVE ($(($(stat -c %s "$ARCHIVE") / 1000000)) MB)"
