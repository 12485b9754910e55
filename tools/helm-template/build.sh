#!/usr/bin/env bash
# Builds tools/helm-template offline from Debian's Go packages
# (golang-go, golang-github-masterminds-sprig-dev,
# golang-github-xeipuuv-gojsonschema-dev; hack/install-deps.sh): GOPATH mode
# over /usr/share/gocode, no module download.
# usage: tools/helm-template/build.sh OUT_BINARY
set -euo pipefail
out=${1:?usage: build.sh OUT_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "helm-template: go is not installed (hack/install-deps.sh)" >&2; exit 1; }
for d in github.com/Masterminds/sprig github.com/xeipuuv/gojsonschema gopkg.in/yaml.v2; do
	[ -d "/usr/share/gocode/src/$d" ] || { echo "helm-template: /usr/share/gocode/src/$d missing (hack/install-deps.sh)" >&2; exit 1; }
done
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
work=$(dirname "$out")/helm-template.go
# Debian installs sprig v3 and semver v3 in unversioned folders; GOPATH mode
# finds their /v3 import paths through links in a GOPATH of our own.
mkdir -p "$work/cache" "$work/gopath/src/github.com/Masterminds/sprig" "$work/gopath/src/github.com/Masterminds/semver"
ln -sfn /usr/share/gocode/src/github.com/Masterminds/sprig "$work/gopath/src/github.com/Masterminds/sprig/v3"
ln -sfn /usr/share/gocode/src/github.com/Masterminds/semver "$work/gopath/src/github.com/Masterminds/semver/v3"
cd "$here"
GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/cache" GOFLAGS= GOPROXY=off \
	go build -o "$out" .
