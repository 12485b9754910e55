#!/usr/bin/env bash
# docs/ cannot go stale:
#   1. docs/api.md is what hack/gen-api-docs makes of crds/;
#   2. docs/operations.md names every flag of `modelcache-operator run` and
#      `hydrate` (from their --help) and every metric the code registers;
#   3. README.md links the four guides, and nothing in the repository points
#      outside it (no design file or shared folder beside the repository; the
#      pattern is assembled below so that this file does not match itself).
set -euo pipefail
SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${MC_BIN:-$SRC/build/bin}
OPS=$SRC/docs/operations.md
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== 1. docs/api.md from crds/"
"$SRC/hack/gen-api-docs" --check || fail "docs/api.md is stale"

echo "== 2. every flag and metric in docs/operations.md"
[ -x "$BIN/modelcache-operator" ] || fail "$BIN/modelcache-operator is not built"
n=0
for cmd in run hydrate; do
	flags=$("$BIN/modelcache-operator" "$cmd" --help 2>&1 | grep -oE '^  +--[a-z][a-z-]*' | tr -d ' ' | sort -u)
	[ -n "$flags" ] || fail "no flags parsed from '$cmd --help'"
	for f in $flags; do
		grep -qE -- "\`$f[ =\`\[]" "$OPS" || fail "docs/operations.md does not document '$cmd $f'"
		n=$((n + 1))
	done
done
metrics=$(grep -rhoE '"(modelcache|process)_[a-z_]+"' "$SRC/pkg" "$SRC/cmd" | tr -d '"' | sort -u)
[ -n "$metrics" ] || fail "no metric names found in pkg/ and cmd/"
m=0
for x in $metrics; do
	grep -q "\`$x\`" "$OPS" || fail "docs/operations.md does not document the metric $x"
	m=$((m + 1))
done
echo "   $n flags, $m metrics documented"

echo "== 3. README links docs/; nothing points outside the repository"
for d in concepts api operations architecture; do
	grep -q "(docs/$d.md)" "$SRC/README.md" || fail "README.md does not link docs/$d.md"
	[ -s "$SRC/docs/$d.md" ] || fail "docs/$d.md is missing"
done
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
	files() { git -C "$SRC" grep -lE "$1" -- . || true; }
else
	files() { grep -rlE "$1" "$SRC" --exclude-dir=build --exclude-dir='build-*' --exclude-dir=.git |
		sed "s|^$SRC/||" || true; }
fi
outside='DESIGN'; outside+='\.md|\.\./'; outside+='shared'
out=$(files "$outside")
[ -z "$out" ] || fail "these files point outside the repository: $(echo $out)"
echo "PASS docs_check"
