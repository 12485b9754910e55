#!/usr/bin/env bash
# `kubectl explain` documents the API: for every field path of the three CRDs
# (walked from the CRDs as kubesim serves them, so a field added without a
# description is caught), `kubectl explain KIND.PATH` against kubesim must
# print a non-empty DESCRIPTION equal to the CRD's description. metadata is
# ObjectMeta (the apiserver publishes its description; a CRD may not describe
# metadata), so only its own description is checked, not its children.
set -euo pipefail
. "$(dirname "$0")/../e2e/lib.sh"
mc_init
mc_start_kubesim cp
mc_apply_crds cp
export KUBECONFIG=$KS_cp_KUBECONFIG

# "kind<TAB>path<TAB>description" for every field, from the served CRDs
mc_retry kubectl --request-timeout=20s get crd -o json >"$MC_TMP/crds.json"
python3 - "$MC_TMP/crds.json" >"$MC_TMP/paths.tsv" <<'PY'
import json, sys
def walk(plural, s, path, out):
    for k, v in sorted((s.get("properties") or {}).items()):
        p = path + [k]
        out.append((plural, ".".join(p), " ".join((v.get("description") or "").split())))
        if p != ["metadata"]:
            walk(plural, v, p, out)
    if "items" in s:
        walk(plural, s["items"], path, out)
out = []
for crd in json.load(open(sys.argv[1]))["items"]:
    if crd["spec"]["group"] != "modelcache.dev":
        continue
    plural = crd["spec"]["names"]["plural"]
    for v in crd["spec"]["versions"]:
        walk(plural, v["schema"]["openAPIV3Schema"], [], out)
for row in out:
    print("\t".join(row))
PY
n=$(wc -l <"$MC_TMP/paths.tsv")
[ "$n" -ge 150 ] || mc_fail "only $n field paths found in the served CRDs"

# the DESCRIPTION block of `kubectl explain` output, joined on one line
explain_desc() {
	awk '/^DESCRIPTION:/ {d=1; next} d && /^(FIELDS:|[A-Z]+:)/ {exit} d {print}' | tr -s ' \n' '  ' |
		sed 's/^ *//; s/ *$//'
}

bad=0
while IFS=$'\t' read -r plural path want; do
	out=$(kubectl --request-timeout=20s explain "$plural.$path" 2>&1) ||
		{ echo "kubectl explain $plural.$path failed: $out" >&2; bad=$((bad + 1)); continue; }
	got=$(explain_desc <<<"$out")
	if [ -z "$got" ] || [ "$got" = "<empty>" ]; then
		echo "$plural.$path: empty description" >&2
		bad=$((bad + 1))
	elif [ "$path" != metadata ] && [ "$got" != "$want" ]; then
		echo "$plural.$path: kubectl explain says '$got', the CRD says '$want'" >&2
		bad=$((bad + 1))
	fi
done <"$MC_TMP/paths.tsv"
[ "$bad" = 0 ] || mc_fail "$bad of $n field paths have no (or a different) description in kubectl explain"

# the example from issue 18: the text says what the field does
out=$(kubectl --request-timeout=20s explain modelcache.spec.huggingFace.include)
grep -q 'only matching files are downloaded' <<<"$(explain_desc <<<"$out")" || mc_fail "explain include: $out"
echo "PASS crds_explain ($n field paths described)"
