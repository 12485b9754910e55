#!/usr/bin/env bash
# Issue 7, must show (authSecret): with the Secret missing the PVC is still
# composed but no Job, ArtifactReady=False/AuthSecretMissing and a Warning
# event; creating the Secret makes every cluster Ready (the gated fixture
# needs the token) and the token copy is removed from each cluster once it
# is Ready.
# Also: a repository the Hub cannot resolve is a definitive source error:
# nothing is composed on any cluster, ArtifactReady=False/SourceNotFound with
# the Hub's message, Stalled=True, one Warning event; fixing the repo in the
# spec makes it Ready at once (no backoff to wait out).
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator
mce_start_operator --default-cache-size 5Gi

NS=ml-team
PVC=modelcache-ml-team-gated-$(printf 'modelcache-ml-team-gated' | sha256sum | cut -c1-5)
JOB=modelcache-ml-team-gated-hydrate-$(printf 'modelcache-ml-team-gated-hydrate' | sha256sum | cut -c1-5)
AUTH=modelcache-ml-team-gated-auth-$(printf 'modelcache-ml-team-gated-auth' | sha256sum | cut -c1-5)
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: gated, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace:
    repo: fixtures/gated-model
    authSecret: {name: hf-token}
  size: 1Gi
YAML

mc_wait 40 "ArtifactReady=False/AuthSecretMissing" eval '[ "$(mce_cond '"$NS"' gated ArtifactReady)" = False/AuthSecretMissing ]'
msg=$(mce_jp cp mc gated "$NS" '{.status.conditions[?(@.type=="ArtifactReady")].message}')
[ "$msg" = 'authSecret ml-team/hf-token is missing or has no key "HF_TOKEN"' ] || mc_fail "message: $msg"
mc_wait 20 "PVC on local" mcp get pvc "$PVC" -n "$NS"
mc_wait 20 "PVC on gpu-west" mcr get pvc "$PVC" -n modelcache
mc_wait 20 "Warning event AuthSecretMissing" eval '[ "$(mce_events '"$NS"' gated AuthSecretMissing)" = 1 ]'
# the reconcile that wrote AuthSecretMissing composed the PVCs and no Job
mc_not_found cp job "$JOB" -n "$NS" || mc_fail "a Job was composed without the token (local)"
mc_not_found remote job "$JOB" -n modelcache || mc_fail "a Job was composed without the token (gpu-west)"
mc_log "no Secret: PVCs composed, no Job, AuthSecretMissing ($msg)"

mcp -n "$NS" create secret generic hf-token --from-literal=HF_TOKEN=hf_fixture_gated_token >/dev/null
mc_wait 30 "the Job on gpu-west reads the token from the copy" eval \
	'[ "$(mce_jp remote job '"$JOB"' modelcache "{.spec.template.spec.containers[0].env[?(@.name==\"HF_TOKEN\")].valueFrom.secretKeyRef.name}")" = '"$AUTH"' ]'
mce_wait_phase 90 "$NS" gated Ready local gpu-west
mc_wait 20 "ArtifactReady True/Staged" eval '[ "$(mce_cond '"$NS"' gated ArtifactReady)" = True/Staged ]'
n=$(mce_check_files fixtures/gated-model "$(mce_pvc_dir remote modelcache "$PVC")") || mc_fail "remote volume: $n"
mc_wait 60 "token copy removed from gpu-west" mc_not_found remote secret "$AUTH" -n modelcache
mc_wait 60 "token copy removed from local" mc_not_found cp secret "$AUTH" -n "$NS"
mc_log "Secret created: Ready on both clusters, $n files verified, token copies removed"

# --- an unknown repository: a definitive source error composes nothing
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: ghost, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/does-not-exist}
YAML
mc_wait 30 "ghost: ArtifactReady=False/SourceNotFound" eval '[ "$(mce_cond '"$NS"' ghost ArtifactReady)" = False/SourceNotFound ]'
amsg=$(mce_jp cp mc ghost "$NS" '{.status.conditions[?(@.type=="ArtifactReady")].message}')
case "$amsg" in *does-not-exist*) ;; *) mc_fail "ArtifactReady message lacks the Hub's error: $amsg" ;; esac
[ "$(mce_cond "$NS" ghost Stalled)" = True/SourceNotFound ] || mc_fail "ghost Stalled: $(mce_cond "$NS" ghost Stalled)"
[ "$(mce_cond "$NS" ghost SizeEstimated)" = False/EstimateFailed ] || mc_fail "ghost SizeEstimated: $(mce_cond "$NS" ghost SizeEstimated)"
mc_wait 10 "one Warning event SourceNotFound" eval '[ "$(mce_events '"$NS"' ghost SourceNotFound)" = 1 ]'
# nothing on any cluster (the reconcile that wrote the status composed nothing)
for k in cp remote; do
	ns=$NS; [ "$k" = remote ] && ns=modelcache
	n=$(mc_kubectl "$k" get pvc,jobs -n "$ns" -l modelcache.dev/cache=ghost -o name | wc -l)
	[ "$n" = 0 ] || mc_fail "$k: $n objects composed for an unknown repository"
done
[ "$(mce_events "$NS" ghost EstimateFailed)" = 0 ] || mc_fail "contradictory EstimateFailed event"
mc_log "unknown repo: nothing composed, SourceNotFound ($amsg), Stalled"
# the fix applies at once: a new generation re-checks the source
mcp patch mc ghost -n "$NS" --type merge -p '{"spec":{"huggingFace":{"repo":"fixtures/qwen3-0.6b"}}}' >/dev/null
mce_wait_phase 90 "$NS" ghost Ready local gpu-west
[ "$(mce_cond "$NS" ghost Stalled)" = False/Staged ] || mc_fail "ghost still Stalled: $(mce_cond "$NS" ghost Stalled)"
mc_log "repo fixed: Ready on both clusters without waiting for a backoff"
# --- waiting for storage says why: a class that does not exist on the cluster
mcp patch ic local --type merge -p '{"spec":{"cache":{"storageClassName":"no-such-class"}}}' >/dev/null
mcp label ic local sc-test=missing --overwrite >/dev/null
icready() { mcp get ic local -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}' 2>/dev/null; }
mc_wait 60 "InferenceCluster local: Ready=False/StorageClassMissing" eval '[ "$(icready)" = False/StorageClassMissing ]'
mcp get ic local | grep -q 'StorageClassMissing' || mc_fail "the STATUS column does not show StorageClassMissing: $(mcp get ic local)"
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: nosc, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
  clusterSelector: {matchLabels: {sc-test: missing}}
YAML
mc_wait 60 "nosc: local WaitingForVolume" eval '[ "$(mce_jp cp mc nosc '"$NS"' "{.status.clusters[?(@.name==\"local\")].reason}")" = WaitingForVolume ]'
cmsg=$(mce_jp cp mc nosc "$NS" '{.status.clusters[?(@.name=="local")].message}')
case "$cmsg" in "waiting for a volume of class no-such-class on local"*) ;; *) mc_fail "cluster message: $cmsg" ;; esac
amsg=$(mce_jp cp mc nosc "$NS" '{.status.conditions[?(@.type=="ArtifactReady")].message}')
case "$amsg" in *"waiting for a volume of class no-such-class on local"*) ;; *) mc_fail "ArtifactReady message: $amsg" ;; esac
mc_log "missing storage class: StorageClassMissing on the InferenceCluster, WaitingForVolume ($cmsg)"
echo "PASS modelcache_auth"
