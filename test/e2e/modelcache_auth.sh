#!/usr/bin/env bash
# Issue 7, must show (authSecret): with the Secret missing the PVC is still
# composed but no Job, ArtifactReady=False/AuthSecretMissing and a Warning
# event; creating the Secret makes every cluster Ready (the gated fixture
# needs the token) and the token copy is removed from each cluster once it
# is Ready.
# Also: a repository the Hub cannot resolve gets SizeEstimated=False with the
# Hub's error, a Warning event, and a PVC of --default-cache-size.
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
sleep 2
mcp get job "$JOB" -n "$NS" >/dev/null 2>&1 && mc_fail "a Job was composed without the token (local)"
mcr get job "$JOB" -n modelcache >/dev/null 2>&1 && mc_fail "a Job was composed without the token (gpu-west)"
mc_log "no Secret: PVCs composed, no Job, AuthSecretMissing ($msg)"

mcp -n "$NS" create secret generic hf-token --from-literal=HF_TOKEN=hf_fixture_gated_token >/dev/null
mc_wait 30 "the Job on gpu-west reads the token from the copy" eval \
	'[ "$(mce_jp remote job '"$JOB"' modelcache "{.spec.template.spec.containers[0].env[?(@.name==\"HF_TOKEN\")].valueFrom.secretKeyRef.name}")" = '"$AUTH"' ]'
mce_wait_phase 90 "$NS" gated Ready local gpu-west
mc_wait 20 "ArtifactReady True/Staged" eval '[ "$(mce_cond '"$NS"' gated ArtifactReady)" = True/Staged ]'
n=$(mce_check_files fixtures/gated-model "$(mce_pvc_dir remote modelcache "$PVC")") || mc_fail "remote volume: $n"
mc_wait 20 "token copy removed from gpu-west" eval '! mcr get secret '"$AUTH"' -n modelcache'
mc_wait 20 "token copy removed from local" eval '! mcp get secret '"$AUTH"' -n '"$NS"
mc_log "Secret created: Ready on both clusters, $n files verified, token copies removed"

# --- an unknown repository: the estimate fails, the default size is used
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: ghost, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/does-not-exist}
  clusterSelector: {matchLabels: {region: east}}
YAML
mc_wait 30 "ghost: SizeEstimated=False/EstimateFailed" eval '[ "$(mce_cond '"$NS"' ghost SizeEstimated)" = False/EstimateFailed ]'
smsg=$(mce_jp cp mc ghost "$NS" '{.status.conditions[?(@.type=="SizeEstimated")].message}')
case "$smsg" in *does-not-exist*404*|*does-not-exist*not\ found*|*404*does-not-exist*) ;; *) mc_fail "SizeEstimated message lacks the Hub's error: $smsg" ;; esac
GPVC=modelcache-ml-team-ghost-$(printf 'modelcache-ml-team-ghost' | sha256sum | cut -c1-5)
mc_wait 20 "ghost PVC" mcp get pvc "$GPVC" -n "$NS"
[ "$(mce_jp cp pvc "$GPVC" "$NS" '{.spec.resources.requests.storage}')" = 5Gi ] || mc_fail "PVC not sized with --default-cache-size"
mc_wait 10 "Warning event EstimateFailed" eval '[ "$(mce_events '"$NS"' ghost EstimateFailed)" = 1 ]'
mc_log "unknown repo: SizeEstimated=False ($smsg), PVC 5Gi from --default-cache-size"
echo "PASS modelcache_auth"
