#!/usr/bin/env bash
# pkg/kube against kubesim (a real HTTP/TLS API server) and kubectl:
#   1. HTTPS, kubeconfig variants written by `kubectl config`: bearer token only,
#      client certificate only, exec credential plugin, wrong token (=> Unauthorized).
#   2. CRUD, AlreadyExists/Conflict/NotFound, merge + JSON patch, server-side apply
#      with a field-manager conflict, paged list, delete preconditions, discovery,
#      and a watch that sees every change in order (kube-client-check crud).
#   3. kubectl sees what our client wrote.
#   4. Plain HTTP with 30% injected 429/500 faults: every read still succeeds
#      through retries (Retry-After honoured).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
mc_init
CHECK=$MC_BIN/kube-client-check
[ -x "$CHECK" ] || mc_fail "kube-client-check not built in $MC_BIN"
TOKEN=kcc-$RANDOM-token

mc_start_kubesim tls --tls --client-ca --token "$TOKEN"
KC=$KS_tls_KUBECONFIG
USER=$(KUBECONFIG=$KC kubectl config view -o jsonpath='{.users[0].name}')

variant() { # variant NAME kubectl-config-args... : a copy of the kubeconfig, edited by kubectl
	local out=$MC_TMP/$1.kubeconfig
	shift
	cp "$KC" "$out"
	while [ $# -gt 0 ]; do
		KUBECONFIG=$out kubectl config "$@" >/dev/null
		shift $#
	done
	echo "$out"
}
TOKEN_ONLY=$(variant token-only unset "users.$USER.client-certificate-data")
KUBECONFIG=$TOKEN_ONLY kubectl config unset "users.$USER.client-key-data" >/dev/null
CERT_ONLY=$(variant cert-only unset "users.$USER.token")
BAD_TOKEN=$(variant bad-token set-credentials "$USER" --token=not-the-token)
KUBECONFIG=$BAD_TOKEN kubectl config unset "users.$USER.client-certificate-data" >/dev/null
KUBECONFIG=$BAD_TOKEN kubectl config unset "users.$USER.client-key-data" >/dev/null
grep -q client-key-data "$TOKEN_ONLY" && mc_fail "token-only kubeconfig still has a key"
grep -q "token:" "$CERT_ONLY" && mc_fail "cert-only kubeconfig still has a token"

# exec plugin printing the token (counts its runs); kubectl writes its path
# relative to the kubeconfig ("plugins/cred.sh"), as the client must resolve it
mkdir -p "$MC_TMP/plugins"
cat >"$MC_TMP/plugins/cred.sh" <<SH
#!/bin/sh
echo run >> "$MC_TMP/cred.runs"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2200-01-01T00:00:00Z"}}' "$TOKEN"
SH
chmod +x "$MC_TMP/plugins/cred.sh"
EXEC=$(variant exec unset "users.$USER.token")
KUBECONFIG=$EXEC kubectl config unset "users.$USER.client-certificate-data" >/dev/null
KUBECONFIG=$EXEC kubectl config unset "users.$USER.client-key-data" >/dev/null
KUBECONFIG=$EXEC kubectl config set-credentials "$USER" --exec-api-version=client.authentication.k8s.io/v1 \
	--exec-command="$MC_TMP/plugins/cred.sh" --exec-interactive-mode=Never >/dev/null
mc_kubectl tls get namespaces >/dev/null 2>&1 || mc_fail "kubesim not answering"
KUBECONFIG=$EXEC kubectl get namespace default >/dev/null || mc_fail "kubectl rejects the exec kubeconfig"
rm -f "$MC_TMP/cred.runs"

mc_kubectl tls create namespace kcc-cert >/dev/null
mc_kubectl tls create namespace kcc-exec >/dev/null

mc_log "crud with a bearer token"
"$CHECK" crud "$TOKEN_ONLY" default >"$MC_TMP/crud-token.log" 2>&1 || mc_fail "crud (token): $(cat "$MC_TMP/crud-token.log")"
mc_log "crud with a client certificate"
"$CHECK" crud "$CERT_ONLY" kcc-cert >"$MC_TMP/crud-cert.log" 2>&1 || mc_fail "crud (cert): $(cat "$MC_TMP/crud-cert.log")"
mc_log "crud with an exec credential plugin"
"$CHECK" crud "$EXEC" kcc-exec >"$MC_TMP/crud-exec.log" 2>&1 || mc_fail "crud (exec): $(cat "$MC_TMP/crud-exec.log")"
RUNS=$(wc -l <"$MC_TMP/cred.runs")
[ "$RUNS" -eq 1 ] || mc_fail "exec plugin ran $RUNS times for one process, want 1 (cached until expiry)"
mc_log "wrong token => Unauthorized"
"$CHECK" auth "$BAD_TOKEN" >"$MC_TMP/auth.log" 2>&1 || mc_fail "wrong token: $(cat "$MC_TMP/auth.log")"

mc_log "kubectl sees what the client wrote"
for ns in default kcc-cert kcc-exec; do
	n=$(mc_kubectl tls get configmaps -n "$ns" -l kube-client-check=yes --no-headers | wc -l)
	[ "$n" -eq 8 ] || mc_fail "kubectl sees $n objects in $ns, want 8 (kcc-b + 7 pages; kcc-a deleted)"
	v=$(mc_kubectl tls get configmap kcc-b -n "$ns" -o jsonpath='{.data.owned}')
	[ "$v" = by-someone-else ] || mc_fail "kcc-b data.owned=$v in $ns"
	m=$(mc_kubectl tls get configmap kcc-b -n "$ns" -o jsonpath='{.metadata.managedFields[*].manager}')
	case " $m " in *" other-manager "*) ;; *) mc_fail "managedFields managers in $ns: $m" ;; esac
	mc_not_found tls configmap kcc-a -n "$ns" || mc_fail "kcc-a still exists in $ns"
done

mc_log "plain HTTP with injected 429/500 faults"
mc_start_kubesim faulty --fault-error-rate 0.3
"$CHECK" reads "$KS_faulty_KUBECONFIG" 30 >"$MC_TMP/reads.log" 2>&1 || mc_fail "reads under faults: $(cat "$MC_TMP/reads.log")"
grep -Eq 'reads: 30 calls, [0-9]+ exchanges, ([1-9][0-9]*) x 429|x 429, [1-9][0-9]* x 5xx' "$MC_TMP/reads.log" ||
	mc_fail "no faults were injected/retried: $(cat "$MC_TMP/reads.log")"
mc_log "$(cat "$MC_TMP/reads.log")"
mc_log "PASS"
