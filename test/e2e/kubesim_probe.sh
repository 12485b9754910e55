#!/usr/bin/env bash
# A second real client against kubesim: the official Kubernetes Python client
# (Debian python3-kubernetes) runs test/kubesim/fidelity/probe.py against
# kubesim (HTTPS + token, like the recorded apiserver), and every probe listed
# in test/kubesim/fidelity/must-match.txt must give the answer the real
# kube-apiserver v1.28.7 gave (real-apiserver-v1.28.7.txt; compare.py masks
# resourceVersions and ages). A regression names the probe and both answers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
FID="$MC_SOURCE_DIR/test/kubesim/fidelity"
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null ||
	mc_fail "/usr/bin/python3 has no kubernetes module: run hack/install-deps.sh (python3-kubernetes)"
mc_start_kubesim ks --tls --token "probe-$RANDOM$RANDOM" "$@"

# every probe function except the "skip" lines
mapfile -t skip < <(sed -n 's/^skip[[:space:]]\+\([^[:space:]#]*\).*/\1/p' "$FID/must-match.txt")
mapfile -t all < <(sed -n "s/^@probe('\(.*\)')$/\1/p" "$FID/probe.py")
run=()
for p in "${all[@]}"; do
	s=0
	for k in "${skip[@]}"; do [ "$p" = "$k" ] && s=1; done
	[ "$s" = 1 ] || run+=("$p")
done
[ "${#run[@]}" -gt 50 ] || mc_fail "found only ${#run[@]} probes in probe.py"
mc_log "running ${#run[@]} of ${#all[@]} probes"
/usr/bin/python3 "$FID/probe.py" "$KS_ks_KUBECONFIG" "${run[@]}" >"$MC_TMP/probe.out" 2>"$MC_TMP/probe-stderr.log" ||
	mc_fail "probe.py exited $?"
/usr/bin/python3 "$FID/compare.py" "$FID/real-apiserver-v1.28.7.txt" "$MC_TMP/probe.out" >"$MC_TMP/compare.txt"
same=$(grep -c '^SAME ' "$MC_TMP/compare.txt" || true)
mc_log "$same answers the same as the real apiserver's"

bad=0 n=0
while IFS= read -r name; do
	case "$name" in '' | '#'* | skip\ * | skip$'\t'*) continue ;; esac
	n=$((n + 1))
	if ! grep -qxF "SAME $name" "$MC_TMP/compare.txt"; then
		bad=$((bad + 1))
		echo "REGRESSED: $name" >&2
		grep -A2 -xF "DIFF $name" "$MC_TMP/compare.txt" >&2 || echo "   (no answer from kubesim)" >&2
	fi
done <"$FID/must-match.txt"
[ "$n" -gt 40 ] || mc_fail "must-match.txt lists only $n probes"
[ "$bad" = 0 ] || mc_fail "$bad of $n must-match probes differ from the real apiserver"
mc_log "all $n must-match probes give the real apiserver's answer"
