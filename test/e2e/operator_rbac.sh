#!/usr/bin/env bash
# Issue 11, must show: the operator under manifests/rbac.yaml on a kubesim
# with --rbac. The control plane authorizes by RBAC; the operator runs with
# the token of its ServiceAccount (kubectl create token) bound by the
# manifest's ClusterRole, Role and bindings (applied unchanged), with leader
# election. The ModelCache flow reaches Ready on both clusters (the remote
# InferenceCluster's kubeconfig Secret stays the admin's) and the operator
# is refused nothing. Then a copy of the ClusterRole without `patch` on jobs:
# the operator's Job apply on the local cluster is refused with the
# apiserver's 403, which the operator reports, and that cache does not become
# Ready until the role is put back.
set -euo pipefail
. "$(dirname "$0")/modelcache_env.sh"
# (HTTPS: client-go sends bearer tokens only over TLS; the admin token is
# system:masters)
MCE_CP_FLAGS="--rbac --tls --token admin-$RANDOM$RANDOM" mce_setup --no-operator
NS=ml-team
SA_USER=system:serviceaccount:modelcache-system:modelcache-operator

mcp apply -f "$MC_SOURCE_DIR/manifests/serviceaccount.yaml" >/dev/null
mcp apply -f "$MC_SOURCE_DIR/manifests/rbac.yaml" >/dev/null
TOKEN=$(mcp create token modelcache-operator -n modelcache-system --duration=2h)
[ "$(printf '%s' "$TOKEN" | tr -cd . | wc -c)" = 2 ] || mc_fail "kubectl create token did not print a JWT"
# the operator's own kubeconfig: the simulator's address, the ServiceAccount's token
KS_opsa_KUBECONFIG=$MC_TMP/operator-sa.kubeconfig
CA=$(sed -n 's/^ *certificate-authority-data: //p' "$KS_cp_KUBECONFIG")
[ -n "$CA" ] || mc_fail "no CA in the control plane's kubeconfig"
(umask 077 && cat >"$KS_opsa_KUBECONFIG" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: cp
  cluster: {server: "$KS_cp_URL", certificate-authority-data: "$CA"}
users:
- name: modelcache-operator
  user: {token: "$TOKEN"}
contexts:
- name: cp
  context: {cluster: cp, user: modelcache-operator, namespace: modelcache-system}
current-context: cp
YAML
)
unset TOKEN
who=$(mc_kubectl opsa auth whoami)
[[ "$who" == *"$SA_USER"* ]] || mc_fail "the token is not the operator's ServiceAccount: $who"
# RBAC answers for that user (kubectl auth can-i asks kubesim's authorizer)
[ "$(mc_kubectl opsa auth can-i patch jobs.batch -n "$NS")" = yes ] || mc_fail "can-i patch jobs: no"
if out=$(mc_kubectl opsa auth can-i delete nodes 2>"$MC_TMP/can-i.err"); then mc_fail "can-i delete nodes: $out"; fi
[ "$out" = no ] || mc_fail "can-i delete nodes answered: $out"
out=$(mc_kubectl opsa get configmaps -n "$NS" 2>&1) && mc_fail "the operator's token may list ConfigMaps: $out"
[[ "$out" == *"configmaps is forbidden: User \"$SA_USER\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"$NS\""* ]] ||
	mc_fail "403 message for configmaps: $out"

# from here on, every 403 in the control plane's log is the operator's (this
# script's own requests carry the admin token)
from=$(($(wc -l <"$MC_TMP/cp-requests.txt") + 1))
mc_start_operator op opsa --hf-endpoint "$FAKEHUB_URL" --log-level debug \
	--leader-elect --leader-election-namespace modelcache-system
mc_wait 40 "InferenceCluster local Connected" eval '[ "$(mc_cond cp ic local Connected)" = True ]'
mc_wait 40 "InferenceCluster gpu-west Connected" eval '[ "$(mc_cond cp ic gpu-west Connected)" = True ]'
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: qwen, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/qwen3-0.6b}
YAML
mce_wait_phase 120 "$NS" qwen Ready local gpu-west
mc_wait 20 "summary 2/2" eval '[ "$(mce_jp cp mc qwen '"$NS"' "{.status.summary.ready}")" = 2/2 ]'
# nothing the operator asked for was refused by manifests/rbac.yaml
if tail -n +"$from" "$MC_TMP/cp-requests.txt" | grep -E ' 403$' >"$MC_TMP/denied.txt"; then
	cat "$MC_TMP/denied.txt" >&2
	mc_fail "requests refused under manifests/rbac.yaml (a verb the operator needs is missing)"
fi
grep -q 'forbidden' "$OP_op_LOG" && mc_fail "the operator logged a refusal under manifests/rbac.yaml"
mc_log "qwen Ready on both clusters under manifests/rbac.yaml, no request refused"

# --- a copy of the ClusterRole without patch on jobs
mcp get clusterrole modelcache-operator -o json | python3 -c '
import json, sys
r = json.load(sys.stdin)
for rule in r["rules"]:
    if "batch" in rule.get("apiGroups", []) and "jobs" in rule.get("resources", []):
        rule["verbs"] = [v for v in rule["verbs"] if v != "patch"]
for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
    r["metadata"].pop(k, None)
json.dump(r, sys.stdout)' >"$MC_TMP/role-nopatch.json"
grep -q '"patch"' <(python3 -c 'import json,sys; [print(r["verbs"]) for r in json.load(open(sys.argv[1]))["rules"] if "jobs" in r.get("resources",[])]' "$MC_TMP/role-nopatch.json") &&
	mc_fail "the copy still grants patch on jobs"
mcp replace -f "$MC_TMP/role-nopatch.json" >/dev/null
[ "$(mc_kubectl opsa auth can-i patch jobs.batch -n "$NS")" = no ] || mc_fail "can-i patch jobs after the change: yes"
# a cache on the local cluster only (the remote one has its own credentials)
mcp apply -f - >/dev/null <<'YAML'
apiVersion: modelcache.dev/v1alpha1
kind: ModelCache
metadata: {name: tiny, namespace: ml-team}
spec:
  source: HuggingFace
  huggingFace: {repo: fixtures/tinyllama}
  clusterSelector: {matchLabels: {region: east}}
YAML
JOB_RE="PATCH /apis/batch/v1/namespaces/$NS/jobs/modelcache-$NS-tiny-hydrate-[0-9a-f]+\\?.* 403\$"
mc_wait 90 "the operator's Job apply refused with 403" grep -Eq "$JOB_RE" "$MC_TMP/cp-requests.txt"
JOB=$(grep -Eo "jobs/modelcache-$NS-tiny-hydrate-[0-9a-f]+" "$MC_TMP/cp-requests.txt" | head -n1)
JOB=${JOB#jobs/}
# the apiserver's message, as the operator's log quotes it (\" escapes)
q='\"'
WANT="jobs.batch ${q}$JOB${q} is forbidden: User ${q}$SA_USER${q} cannot patch resource ${q}jobs${q} in API group ${q}batch${q} in the namespace ${q}$NS${q}"
mc_wait 30 "the operator reports the apiserver's 403" grep -qF "$WANT" "$OP_op_LOG"
phase=$(mce_phase "$NS" tiny local)
[ "$phase" != Ready ] || mc_fail "tiny is Ready on local without a Job"
mc_not_found cp job "$JOB" -n "$NS" || mc_fail "the Job $JOB exists without patch on jobs"
mc_log "without patch on jobs: 403 seen by the operator ($(grep -Ec "$JOB_RE" "$MC_TMP/cp-requests.txt") refused applies), tiny $phase"

# --- the role put back: the cache gets its Job and becomes Ready
mcp apply -f "$MC_SOURCE_DIR/manifests/rbac.yaml" >/dev/null
mce_wait_phase 120 "$NS" tiny Ready local
mc_log "role restored: tiny Ready"
mc_stop "$OP_op_PID" TERM
[ "$MC_RC" = 0 ] || mc_fail "operator exit code $MC_RC on SIGTERM"
echo "PASS operator_rbac"
