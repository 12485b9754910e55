#!/usr/bin/env bash
# Issue 7, must show (main path): a ModelCache matching two clusters is
# composed on each (PVC modelcache-<ns>-<name>-<hash>, RWX, the cluster's
# storage class, the estimated size; the Job), the real hydrator puts the
# fixture files with correct hashes in each PVC's host directory, phases
# reach Ready, summary 2/2, ArtifactReady=True/Staged, Events Staging and
# Staged exactly once; deleting the TTL'd Job keeps Ready; 60 s of steady
# state make zero write requests; clusterSelector narrows to one cluster
# (1/1) and changing a cluster's labels moves the cache; an invalid
# ModelCache gets Valid=False naming the field and nothing composed;
# deleting removes Job/PVC (Delete) or keeps the PVC (Retain) and drops the
# finalizer.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup

NS=ml-team
PVC=modelcache-ml-team-qwen-17db2
JOB=modelcache-ml-team-qwen-hydrate-256ec
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML

# --- composition on both clusters
mc_wait 40 "PVC $PVC on local (ns ml-team)" mcp get pvc "$PVC" -n "$NS"
mc_wait 40 "PVC $PVC on gpu-west (ns modelcache)" mcr get pvc "$PVC" -n modelcache
for ks in cp remote; do
	ns=$NS; [ "$ks" = remote ] && ns=modelcache
	mode=$(mce_jp "$ks" pvc "$PVC" "$ns" '{.spec.accessModes[0]}')
	sc=$(mce_jp "$ks" pvc "$PVC" "$ns" '{.spec.storageClassName}')
	size=$(mce_jp "$ks" pvc "$PVC" "$ns" '{.spec.resources.requests.storage}')
	[ "$mode" = ReadWriteMany ] || mc_fail "$ks: PVC access mode $mode"
	[ "$sc" = modelcache-rwx ] || mc_fail "$ks: PVC storage class $sc"
	# 3.4 MB of fixture x 1.15, rounded up to a whole GiB
	[ "$size" = 1Gi ] || mc_fail "$ks: PVC size $size, want the estimate rounded up (1Gi)"
	mce_jp "$ks" pvc "$PVC" "$ns" '{.metadata.annotations.modelcache\.dev/desired-hash}' | grep -Eq '^[0-9a-f]{64}$' ||
		mc_fail "$ks: PVC has no desired-hash"
done
mc_log "PVCs composed (RWX, modelcache-rwx, 1Gi)"
mc_wait 20 "SizeEstimated=True/Estimated" eval '[ "$(mce_cond '"$NS"' qwen SizeEstimated)" = True/Estimated ]'
mc_wait 20 "Event Staging" eval '[ "$(mce_events '"$NS"' qwen Staging)" -ge 1 ]'

# --- hydration and Ready
mce_wait_phase 90 "$NS" qwen Ready local gpu-west
mc_log "both clusters Ready"
# GitOps health: Ready (kstatus, kubectl wait), not Stalled
mcp wait --for=condition=Ready mc/qwen -n "$NS" --timeout=60s >/dev/null || mc_fail "kubectl wait --for=condition=Ready"
[ "$(mce_cond "$NS" qwen Ready)" = True/Staged ] || mc_fail "Ready: $(mce_cond "$NS" qwen Ready)"
[ "$(mce_cond "$NS" qwen Stalled)" = False/Staged ] || mc_fail "Stalled: $(mce_cond "$NS" qwen Stalled)"
n=$(mce_check_files fixtures/qwen3-0.6b "$(mce_pvc_dir cp "$NS" "$PVC")") || mc_fail "local volume: $n"
n=$(mce_check_files fixtures/qwen3-0.6b "$(mce_pvc_dir remote modelcache "$PVC")") || mc_fail "remote volume: $n"
mc_log "fixture files ($n) with the right sha256 in both volumes"
mc_wait 20 "summary 2/2" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.summary.ready}")" = 2/2 ]'
mc_wait 20 "ArtifactReady True/Staged" eval '[ "$(mce_cond '"$NS"' qwen ArtifactReady)" = True/Staged ]'
mc_wait 20 "Event Staged" eval '[ "$(mce_events '"$NS"' qwen Staged)" -ge 1 ]'

reconciles() { curl -fsS "http://127.0.0.1:$OP_op_METRICS/metrics" | awk '/^modelcache_reconcile_total\{controller="modelcache"/ {s+=$2} END {print s+0}'; }

# --- the TTL'd Job goes away: still Ready (the latch)
r0=$(reconciles)
mcr delete job "$JOB" -n modelcache --wait=false >/dev/null
mcp delete job "$JOB" -n "$NS" --wait=false >/dev/null
mc_wait 60 "the Job gone on gpu-west" mc_not_found remote job "$JOB" -n modelcache
mc_wait 60 "the Job gone on local" mc_not_found cp job "$JOB" -n "$NS"
# the deletions map back to qwen: a reconcile that saw them
mc_wait 60 "a reconcile after the Jobs were deleted" eval '[ "$(reconciles)" -gt '"$r0"' ]'
for c in local gpu-west; do
	[ "$(mce_phase "$NS" qwen "$c")" = Ready ] || mc_fail "$c left Ready after its Job was deleted"
done
mc_not_found remote job "$JOB" -n modelcache || mc_fail "the Job was composed again on a Ready cluster"
mc_not_found cp job "$JOB" -n "$NS" || mc_fail "the Job was composed again on a Ready cluster (local)"

# --- steady state: no writes from the operator for 60 s
sleep 2
w0=$(( $(mce_writes "$MC_TMP/cp-requests.txt") + $(mce_writes "$MC_TMP/remote-requests.txt") ))
h0=$(wc -l <"$MC_TMP/fakehub-requests.txt")
mc_log "steady state: watching writes for 60 s"
sleep 60
w1=$(( $(mce_writes "$MC_TMP/cp-requests.txt") + $(mce_writes "$MC_TMP/remote-requests.txt") ))
h1=$(wc -l <"$MC_TMP/fakehub-requests.txt")
# the estimate is cached per (repo, revision, include, exclude): resyncs do not ask the Hub again
[ "$h1" -eq "$h0" ] || mc_fail "$((h1 - h0)) Hub requests during 60 s of steady state (the estimate is not cached)"
[ "$w1" -eq "$w0" ] || {
	tail -n 20 "$MC_TMP/cp-requests.txt" "$MC_TMP/remote-requests.txt" >&2
	mc_fail "$((w1 - w0)) write requests during 60 s of steady state"
}
mc_log "steady state: 0 writes and 0 Hub requests in 60 s"
[ "$(mce_events "$NS" qwen Staging)" = 1 ] || mc_fail "Staging events: $(mce_events "$NS" qwen Staging), want 1"
[ "$(mce_events "$NS" qwen Staged)" = 1 ] || mc_fail "Staged events: $(mce_events "$NS" qwen Staged), want 1"
# the operator's events are one object each, seen through both event APIs
# (same uid, name and resourceVersion), as on the apiserver
mcp get events.events.k8s.io -n "$NS" -o json >"$MC_TMP/ev-v1.json"
mcp get --raw "/api/v1/namespaces/$NS/events" >"$MC_TMP/ev-core.json"
python3 - "$MC_TMP/ev-v1.json" "$MC_TMP/ev-core.json" <<'PY' || mc_fail "events differ between events.k8s.io/v1 and core/v1"
import json, sys
v1 = json.load(open(sys.argv[1]))["items"]
core = json.load(open(sys.argv[2]))["items"]
key = lambda e: (e["metadata"]["name"], e["metadata"]["uid"], e["metadata"]["resourceVersion"])
a, b = sorted(map(key, v1)), sorted(map(key, core))
if not a or a != b:
    sys.exit(f"events.k8s.io/v1: {a}\ncore/v1: {b}")
mine = [e for e in v1 if (e.get("regarding") or {}).get("kind") == "ModelCache"]
if not mine or any(not e.get("note") for e in mine):
    sys.exit("events.k8s.io/v1 view lacks note/regarding")
PY

# --- clusterSelector narrows to one cluster; objects leave the other
mcp patch mc qwen -n "$NS" --type merge -p '{"spec":{"clusterSelector":{"matchLabels":{"region":"west"}}}}' >/dev/null
mc_wait 30 "summary 1/1 after narrowing" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.summary.ready}")" = 1/1 ]'
mc_wait 60 "PVC removed from local" mc_not_found cp pvc "$PVC" -n "$NS"
[ "$(mce_phase "$NS" qwen gpu-west)" = Ready ] || mc_fail "gpu-west not Ready after narrowing"
mc_log "clusterSelector region=west: 1/1, local cleaned up"

# --- relabel the clusters: the cache moves
mcp label ic gpu-west region=north --overwrite >/dev/null
mcp label ic local region=west --overwrite >/dev/null
mce_wait_phase 90 "$NS" qwen Ready local
mc_wait 60 "PVC removed from gpu-west" mc_not_found remote pvc "$PVC" -n modelcache
mc_wait 30 "summary 1/1 after the move" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.summary.ready}")" = 1/1 ]'
mc_log "relabelled: the cache moved to local, gpu-west cleaned up"

# --- a changed source is hydrated again (no stale Ready latch)
a1=$(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="local")].attempts}')
art1=$(mce_jp cp pvc "$PVC" "$NS" '{.metadata.annotations.modelcache\.dev/artifact}')
mcp patch mc qwen -n "$NS" --type merge -p '{"spec":{"huggingFace":{"include":["*.json","*.safetensors"]}}}' >/dev/null
mc_wait 60 "local hydrated again after the source changed" eval \
	'[ "$(mce_jp cp mc qwen '"$NS"' "{.status.clusters[?(@.name==\"local\")].attempts}")" -gt '"$a1"' ] && [ "$(mce_phase '"$NS"' qwen local)" = Ready ]'
art2=$(mce_jp cp pvc "$PVC" "$NS" '{.metadata.annotations.modelcache\.dev/artifact}')
[ -n "$art2" ] && [ "$art2" != "$art1" ] || mc_fail "the PVC's artifact annotation did not follow the source ($art1 -> $art2)"
mc_log "source changed: hydrated again (attempt $(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="local")].attempts}'))"

# --- a lost volume drops the cluster back to Pending and it is composed again
a2=$(mce_jp cp mc qwen "$NS" '{.status.clusters[?(@.name=="local")].attempts}')
uid1=$(mce_jp cp pvc "$PVC" "$NS" '{.metadata.uid}')
mcp delete pvc "$PVC" -n "$NS" --wait=false >/dev/null
mc_wait 60 "local Ready again on a new volume" eval \
	'[ "$(mce_jp cp mc qwen '"$NS"' "{.status.clusters[?(@.name==\"local\")].attempts}")" -gt '"$a2"' ] && [ "$(mce_phase '"$NS"' qwen local)" = Ready ]'
uid2=$(mce_jp cp pvc "$PVC" "$NS" '{.metadata.uid}')
[ -n "$uid2" ] && [ "$uid2" != "$uid1" ] || mc_fail "the lost PVC was not composed again"
n=$(mce_check_files fixtures/qwen3-0.6b "$(mce_pvc_dir cp "$NS" "$PVC")" '*.json' '*.safetensors') ||
	mc_fail "new local volume: $n"
mc_log "lost volume: recomposed and hydrated again"

# --- invalid ModelCache
cat >"$MC_TMP/broken.yaml" <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: broken, namespace: ml-team}
spec:
  source: HuggingFace
YAML
# the apiserver refuses it by the CRD's CEL rule ...
out=$(mcp apply -f "$MC_TMP/broken.yaml" 2>&1) && mc_fail "CEL did not refuse the ModelCache without huggingFace"
grep -q 'spec.huggingFace: Required value: spec.huggingFace is required when spec.source is HuggingFace' <<<"$out" ||
	mc_fail "CEL refusal: $out"
# ... and the operator validates what it reads itself (a cluster may run
# without CEL): store it under a copy of the CRD without its rules, then put
# the CRD back
mcp get crd modelcaches.modelcache.dev -o json | python3 -c '
import json, sys
def strip(s):
    if isinstance(s, dict):
        s.pop("x-kubernetes-validations", None)
        for v in s.values(): strip(v)
    elif isinstance(s, list):
        for v in s: strip(v)
crd = json.load(sys.stdin)
strip(crd["spec"]["versions"])
json.dump(crd, sys.stdout)' | mcp replace -f - >/dev/null
mc_retry mcp apply -f "$MC_TMP/broken.yaml" >/dev/null
mcp apply -f "$MC_SOURCE_DIR/crds/modelcache.dev_modelcaches.yaml" >/dev/null
mc_wait 30 "broken: Valid=False" eval '[ "$(mce_cond '"$NS"' broken Valid)" = False/Invalid ]'
msg=$(mce_jp cp mc broken "$NS" '{.status.conditions[?(@.type=="Valid")].message}')
case "$msg" in *spec.huggingFace*) ;; *) mc_fail "Valid message does not name the field: $msg" ;; esac
BPVC=$(mcp get pvc -A -l modelcache.dev/cache=broken -o name | wc -l)
[ "$BPVC" = 0 ] || mc_fail "an invalid ModelCache got a PVC"
# reported once per generation: a reconcile of the same object logs no new warning
warned() { grep -c 'msg="invalid ModelCache".*broken' "$OP_op_LOG" || true; }
[ "$(warned)" = 1 ] || mc_fail "invalid ModelCache warned $(warned) times before any resync, want 1"
r0=$(reconciles)
# (an update of the object itself is refused by its CRD's rules, as on the
# apiserver: a change of the InferenceCluster reconciles every cache instead)
mcp label ic local touched-by-test=1 --overwrite >/dev/null
mc_wait 60 "the operator reconciled qwen and broken again" eval '[ "$(reconciles)" -ge $((r0 + 2)) ]'
[ "$(warned)" = 1 ] || mc_fail "invalid ModelCache warned $(warned) times for one generation, want 1"
mc_log "invalid ModelCache: Valid=False ($msg), nothing composed, warned once"

# --- deletion: Delete removes everything; Retain keeps the PVC
mcp label ic gpu-west region=west --overwrite >/dev/null
mce_wait_phase 90 "$NS" qwen Ready local gpu-west
mcp delete mc qwen -n "$NS" --wait=false >/dev/null
mc_wait 60 "qwen gone (finalizer removed)" mc_not_found cp mc qwen -n "$NS"
# the finalizer goes only after the clean-up
for ks in cp remote; do
	ns=$NS; [ "$ks" = remote ] && ns=modelcache
	mc_not_found "$ks" pvc "$PVC" -n "$ns" || mc_fail "$ks: PVC kept with deletionPolicy Delete"
	mc_not_found "$ks" job "$JOB" -n "$ns" || mc_fail "$ks: Job kept after deletion"
done
mc_log "deleted (policy Delete): PVCs and Jobs removed on both clusters"

mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: keep, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama}
  deletionPolicy: Retain
  clusterSelector: {matchLabels: {region: west}}
YAML
KPVC=modelcache-ml-team-keep-$(printf 'modelcache-ml-team-keep' | sha256sum | cut -c1-5)
mce_wait_phase 90 "$NS" keep Ready local gpu-west
mcp delete mc keep -n "$NS" --wait=false >/dev/null
mc_wait 60 "keep gone (finalizer removed)" mc_not_found cp mc keep -n "$NS"
mcp get pvc "$KPVC" -n "$NS" >/dev/null || mc_fail "local: PVC removed despite deletionPolicy Retain"
mcr get pvc "$KPVC" -n modelcache >/dev/null || mc_fail "gpu-west: PVC removed despite deletionPolicy Retain"
mc_log "deleted (policy Retain): PVCs kept"
mc_stop "$OP_op_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "operator exit code $MC_RC on SIGTERM"
echo "PASS modelcache_basic"
