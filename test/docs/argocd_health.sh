#!/usr/bin/env bash
# The Argo CD health check shipped in docs/ (docs/gitops.md): run with Lua 5.1
# (Argo CD's gopher-lua speaks 5.1) against recorded statuses, and the
# argocd-cm example embeds exactly the tested script for each kind.
set -euo pipefail
SRC=${MC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
lua5.1 "$SRC/test/docs/argocd_health.lua" "$SRC/docs/argocd/health.lua" "$SRC/test/docs/argocd_cases.lua"
python3 - "$SRC/docs/argocd/health.lua" "$SRC/docs/argocd/argocd-cm.yaml" "$SRC/docs/gitops.md" <<'PY'
import sys
script = open(sys.argv[1]).read()
want = "".join("    " + l if l.strip() else l for l in script.splitlines(True))
for path in sys.argv[2:]:
    text = open(path).read()
    for kind in ("ModelCache", "InferenceCluster", "ModelDeployment"):
        key = f"  resource.customizations.health.modelcache.dev_{kind}: |\n"
        if key + want not in text:
            sys.exit(f"{path}: the {kind} check is not docs/argocd/health.lua")
print("argocd-cm.yaml and gitops.md embed docs/argocd/health.lua for the three kinds")
PY
