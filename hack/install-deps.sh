#!/usr/bin/env bash
# Installs the build and test dependencies of modelcache-operator with apt-get.
# Idempotent: packages already present are left alone and nothing runs when
# everything is installed.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config git
  libcurl4-openssl-dev libjson-c-dev libyaml-dev libwebsockets-dev libssl-dev libcmocka-dev
  openssl curl python3 util-linux
  python3-kubernetes  # test/e2e/kubesim_probe.sh: the fidelity probe uses the official Python client
  clang   # hack/test.sh also builds with clang (warning-free on both compilers)
  lua5.1  # the Argo CD health check in docs/ is tested with Argo CD's Lua version
  python3-yaml  # hack/gen-api-docs (docs/api.md from crds/)
  podman runc debootstrap  # hack/build-image.sh and the image test (test/image)
  # the chart check's Helm-engine tool (tools/helm-template, built offline)
  golang-go golang-github-masterminds-sprig-dev golang-github-xeipuuv-gojsonschema-dev
  nodejs  # test/e2e/hydrate_layout.sh: the official JS client (@huggingface/hub, from npm) reads the hf-cache layout
)
# npm ships inside some nodejs builds (NodeSource); Debian packages it apart.
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
# Optional tools: aria2 for bench/hydrate.sh.
optional=(aria2)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
want_optional=()
if [ "${INSTALL_OPTIONAL:-0}" = 1 ]; then
  for p in "${optional[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || want_optional+=("$p")
  done
fi

if [ ${#missing[@]} -eq 0 ] && [ ${#want_optional[@]} -eq 0 ]; then
  echo "install-deps: all dependencies present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# apt's output goes to a log that is shown only when something fails.
log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX.log")
n=$(( ${#missing[@]} + ${#want_optional[@]} ))
echo "install-deps: installing $n packages (${missing[*]} ${want_optional[*]}); log: $log"
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "install-deps: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    return 1
  fi
}
run $SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  run $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ ${#want_optional[@]} -gt 0 ]; then
  run $SUDO apt-get install -y -qq --no-install-recommends "${want_optional[@]}" || \
    echo "install-deps: optional packages not installed: ${want_optional[*]}" >&2
fi
rm -f "$log"
echo "install-deps: done"

if ! command -v kubectl >/dev/null 2>&1; then
  echo "install-deps: kubectl is not on PATH; the end-to-end tests need it" >&2
fi
