#!/usr/bin/env bash
# End-to-end: spec.huggingFace.files (docs/estimation.md, "Download only
# what loads"). A repository with safetensors weights plus copies of them
# (original/consolidated.00.pth, metal/model.bin, pytorch_model.bin): with
# files: Auto (the default) status.estimate.downloadBytes counts only the
# files that load and the small files beside them, the PVC is sized from
# that, the Job passes --files=auto and the volume holds exactly those
# files; files: All counts and hydrates every file. The hydrator alone
# (--files auto / all) is checked first.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup

NS=ml-team
FIX=$MC_FAKEHUB_ROOT/fixtures/dup
cp -r "$MC_FAKEHUB_ROOT/fixtures/tinyllama" "$FIX"
rm -f "$FIX/.fakehub.json"
python3 - "$FIX" <<'EOF'
import os, sys
root = sys.argv[1]
for rel in ("original/consolidated.00.pth", "metal/model.bin", "pytorch_model.bin"):
    os.makedirs(os.path.dirname(os.path.join(root, rel)) or root, exist_ok=True)
    open(os.path.join(root, rel), "wb").write(os.urandom(3 << 20))
EOF
# the expected selections: Auto drops the copies (and original/'s params.json
# with them, a folder whose weights do not load); All is every file
read -r AUTO_BYTES ALL_BYTES < <(python3 - "$FIX" <<'EOF'
import os, sys
root = sys.argv[1]
files = {}
for top, dirs, names in os.walk(root):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for n in names:
        if not n.startswith("."):
            p = os.path.join(top, n)
            files[os.path.relpath(p, root)] = os.path.getsize(p)
dropped = [k for k in files if k.startswith(("original/", "metal/")) or k == "pytorch_model.bin"]
assert "model.safetensors" in files and len(dropped) == 4, dropped
print(sum(v for k, v in files.items() if k not in dropped), sum(files.values()))
EOF
)
EXPECT_AUTO=$(cd "$FIX" && find . -type f ! -name '.*' | sed 's|^\./||' | grep -Ev '^(original/|metal/|pytorch_model\.bin$)' | sort)
EXPECT_ALL=$(cd "$FIX" && find . -type f ! -name '.*' | sed 's|^\./||' | sort)
listing() { (cd "$1" && find . -type f ! -name '.*' | sed 's|^\./||' | sort); }

# 1. the hydrator alone
OP=$MC_BIN/modelcache-operator
"$OP" hydrate --repo fixtures/dup --dest "$MC_TMP/h-auto" --endpoint "$FAKEHUB_URL" --files auto \
	2>"$MC_TMP/h-auto.err" || mc_fail "hydrate --files auto: $(tail -2 "$MC_TMP/h-auto.err")"
[ "$(listing "$MC_TMP/h-auto")" = "$EXPECT_AUTO" ] || mc_fail "--files auto hydrated: $(listing "$MC_TMP/h-auto")"
grep -q "files auto: .* $AUTO_BYTES of $ALL_BYTES bytes" "$MC_TMP/h-auto.err" || mc_fail "no files auto line"
"$OP" hydrate --repo fixtures/dup --dest "$MC_TMP/h-all" --endpoint "$FAKEHUB_URL" --files all \
	2>"$MC_TMP/h-all.err" || mc_fail "hydrate --files all"
[ "$(listing "$MC_TMP/h-all")" = "$EXPECT_ALL" ] || mc_fail "--files all hydrated: $(listing "$MC_TMP/h-all")"
# explicit include patterns choose the files, whatever --files says
"$OP" hydrate --repo fixtures/dup --dest "$MC_TMP/h-inc" --endpoint "$FAKEHUB_URL" --files auto \
	--include 'metal/*' 2>"$MC_TMP/h-inc.err" || mc_fail "hydrate --files auto --include"
[ "$(listing "$MC_TMP/h-inc")" = metal/model.bin ] || mc_fail "--include with --files auto: $(listing "$MC_TMP/h-inc")"
mc_log "hydrator: --files auto = $AUTO_BYTES bytes without the copies, all = $ALL_BYTES bytes, --include wins"

# 2. through the operator: Auto (the default) and All, on the local cluster.
# All goes to a copy of the repository: the operator caches estimates per
# repo, revision, include and exclude (pkg/controllers/modelcache est_key),
# and that key does not hold spec.huggingFace.files yet.
cp -r "$FIX" "$MC_FAKEHUB_ROOT/fixtures/dup-all"
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: dup-auto, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/dup}
  clusterSelector: {matchLabels: {region: east}}
---
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: dup-all, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/dup-all, files: All}
  clusterSelector: {matchLabels: {region: east}}
YAML
[ "$(mce_jp cp mc dup-auto "$NS" '{.spec.huggingFace.files}')" = Auto ] || mc_fail "files does not default to Auto"
mce_wait_phase 120 "$NS" dup-auto Ready local
mce_wait_phase 120 "$NS" dup-all Ready local
for mc in dup-auto dup-all; do
	want=$AUTO_BYTES; files=$EXPECT_AUTO; arg=1
	[ "$mc" = dup-all ] && { want=$ALL_BYTES; files=$EXPECT_ALL; arg=0; }
	got=$(mce_jp cp mc "$mc" "$NS" '{.status.estimate.downloadBytes}')
	[ "$got" = "$want" ] || mc_fail "$mc: status.estimate.downloadBytes $got, want $want"
	pvc=$(mcp get pvc -n "$NS" -l "modelcache.dev/cache=$mc" -o jsonpath='{.items[0].metadata.name}')
	[ -n "$pvc" ] || mc_fail "$mc: no PVC"
	size=$(mce_jp cp pvc "$pvc" "$NS" '{.spec.resources.requests.storage}')
	# downloadBytes x 1.15 rounded up to a whole GiB (compose_size_from_download)
	[ "$size" = "$(python3 -c "import math; print('%dGi' % max(1, math.ceil($want * 1.15 / 2**30)))")" ] ||
		mc_fail "$mc: PVC size $size for $want bytes"
	[ "$(listing "$(mce_pvc_dir cp "$NS" "$pvc")")" = "$files" ] ||
		mc_fail "$mc: the volume holds $(listing "$(mce_pvc_dir cp "$NS" "$pvc")")"
	job=$(mcp get jobs -n "$NS" -l "modelcache.dev/cache=$mc" -o jsonpath='{.items[0].spec.template.spec.containers[0].args}' 2>/dev/null || true)
	if [ -n "$job" ]; then
		has=0; case $job in *--files=auto*) has=1 ;; esac
		[ "$has" = "$arg" ] || mc_fail "$mc: Job args $job"
	fi
	mc_log "$mc: downloadBytes $got, PVC $size, the volume holds $(echo "$files" | wc -l) files"
done
mc_log "files: Auto hydrates and sizes only what loads; files: All everything"
echo "PASS hydrate_files"
