#!/usr/bin/env bash
# Pod Security admission in kubesim, driven with the real kubectl (issue 11;
# test/kubesim/README.md "Pod Security admission"):
#   - in a namespace labelled enforce=restricted a pod with privileged: true
#     is refused 403 with the apiserver's PodSecurity message, a compliant pod
#     is admitted, a violating Deployment is stored and kubectl prints the
#     apiserver's "Warning: would violate PodSecurity ..."; a baseline
#     namespace refuses with its own checks only, a warn-only namespace
#     admits with a warning; an invalid label value is 422; tightening the
#     enforce level warns about the existing pods;
#   - a Job whose pod violates the level never gets a pod (the Job behaviour's
#     create is refused like the Job controller's);
#   - the ModelCache flow with the target namespaces labelled
#     enforce=restricted on both clusters: the operator's hydration Job pods
#     are admitted and the cache gets Ready.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
mce_setup --no-operator

RESTRICTED='pod-security.kubernetes.io/enforce=restricted'
pod() { # NAME [CONTAINER-SECURITY-CONTEXT] [POD-SECURITY-CONTEXT] (YAML flow maps)
	local csc=${2:-"{}"} psc=${3:-"{}"}
	cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  securityContext: $psc
  containers:
  - name: c
    image: busybox
    securityContext: $csc
YAML
}
OKSC='{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}'
OKPSC='{runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}'

# --- restricted: the privileged pod is refused with the apiserver's text
mcp create namespace psa-r >/dev/null
mcp label namespace psa-r "$RESTRICTED" >/dev/null
want='pods "priv" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
if out=$(pod priv '{privileged: true}' | mcp apply -n psa-r -f - 2>&1); then
	mc_fail "a privileged pod was admitted in a restricted namespace: $out"
fi
[ "$out" = "Error from server (Forbidden): error when creating \"STDIN\": $want" ] || mc_fail "refusal: $out"
mc_not_found cp pod priv -n psa-r || mc_fail "the refused pod was stored"
mc_log "restricted: privileged pod refused with the PodSecurity message"

out=$(pod good "$OKSC" "$OKPSC" | mcp apply -n psa-r -f - 2>&1) || mc_fail "compliant pod refused: $out"
[ "$out" = "pod/good created" ] || mc_fail "compliant pod: $out"
mcp get pod good -n psa-r >/dev/null || mc_fail "compliant pod not stored"
mc_log "restricted: compliant pod admitted without a warning"

out=$(mcp apply -n psa-r -f - 2>&1 <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, securityContext: {privileged: true}}]
YAML
) || mc_fail "a violating Deployment was refused: $out"
grep -qxF 'Warning: would violate PodSecurity "restricted:latest": privileged (container "web" must not set securityContext.privileged=true), allowPrivilegeEscalation != false (container "web" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "web" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "web" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "web" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")' <<<"$out" ||
	mc_fail "no PodSecurity warning for the Deployment: $out"
grep -qxF 'deployment.apps/web created' <<<"$out" || mc_fail "Deployment: $out"
mcp get deployment web -n psa-r >/dev/null || mc_fail "the violating Deployment was not stored"
mc_log "restricted: violating Deployment stored, kubectl printed the Warning"

# --- a Job whose pod violates the level gets no pod (the create is refused)
mcp apply -n psa-r -f - >/dev/null 2>&1 <<'YAML'
apiVersion: batch/v1
kind: Job
metadata: {name: rootjob}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox, command: ["true"], securityContext: {runAsUser: 0}}]
YAML
mc_wait 60 "the Job behaviour's pod create refused by PodSecurity" \
	grep -qE 'cannot create Job pod.*key=psa-r/rootjob.*violates PodSecurity \\?"restricted:latest' "$KS_cp_LOG"
[ -z "$(mcp get pods -n psa-r -l job-name=rootjob -o name)" ] || mc_fail "a violating Job pod was stored"
mc_log "restricted: the violating Job's pod is refused"

# --- baseline: only the baseline checks; warn-only: admitted with a warning
mcp create namespace psa-b >/dev/null
mcp label namespace psa-b pod-security.kubernetes.io/enforce=baseline >/dev/null
out=$(pod hostpid '{privileged: true}' '{runAsUser: 0}' | mcp apply -n psa-b -f - 2>&1) && mc_fail "baseline admitted a privileged pod"
grep -qF 'pods "hostpid" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)' <<<"$out" ||
	mc_fail "baseline refusal: $out"
out=$(pod plain | mcp apply -n psa-b -f - 2>&1) || mc_fail "baseline refused a plain pod: $out"
grep -q Warning <<<"$out" && mc_fail "baseline warned about a plain pod: $out"
mcp create namespace psa-w >/dev/null
mcp label namespace psa-w pod-security.kubernetes.io/warn=baseline >/dev/null
out=$(pod loud '{privileged: true}' | mcp apply -n psa-w -f - 2>&1) || mc_fail "warn-only namespace refused: $out"
grep -qxF 'Warning: would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)' <<<"$out" ||
	mc_fail "warn-only namespace: $out"
mc_log "baseline refuses its checks only; warn-only admits with a warning"

# --- labels: invalid values are 422; tightening warns about existing pods
out=$(mcp label namespace psa-w pod-security.kubernetes.io/enforce=strict 2>&1) && mc_fail "invalid level accepted"
grep -qF 'The Namespace "psa-w" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted' <<<"$out" ||
	mc_fail "invalid label: $out"
out=$(mcp label namespace psa-w pod-security.kubernetes.io/enforce=baseline 2>&1) || mc_fail "tightening refused: $out"
grep -qxF 'Warning: existing pods in namespace "psa-w" violate the new PodSecurity enforce level "baseline:latest"' <<<"$out" ||
	mc_fail "no existing-pods warning: $out"
grep -qxF 'Warning: loud: privileged' <<<"$out" || mc_fail "no per-pod warning: $out"
mc_log "labels: 422 for an invalid level, existing pods reported when enforce tightens"

# --- the operator's hydration Job in restricted namespaces on both clusters
mcp label namespace ml-team "$RESTRICTED" >/dev/null
mcr create namespace modelcache >/dev/null
mcr label namespace modelcache "$RESTRICTED" >/dev/null
mce_start_operator
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML
mce_wait_phase 120 ml-team qwen Ready local gpu-west
grep -q 'Job pod created.*key=ml-team/modelcache-ml-team-qwen-hydrate' "$KS_cp_LOG" || mc_fail "no hydration pod on local"
grep -q 'Job pod created.*key=modelcache/modelcache-ml-team-qwen-hydrate' "$KS_remote_LOG" || mc_fail "no hydration pod on gpu-west"
for l in "$KS_cp_LOG" "$KS_remote_LOG"; do
	if grep 'cannot create Job pod' "$l" | grep -v 'psa-r/rootjob'; then
		mc_fail "a hydration pod was refused ($l)"
	fi
done
mc_log "hydration pods admitted in restricted namespaces; qwen Ready on both clusters"
echo "PASS kubesim_podsecurity"
