# Environment of the test/e2e/modeldeployment_*.sh scenarios (sourced, not a
# test): modelcache_env.sh's two clusters with --ready-deployments, plus
#   mdp_cond NAME TYPE            "status/reason" of a ModelDeployment condition (ns ml-team)
#   mdp_jp NAME JSONPATH          jsonpath of md/NAME
#   md_node KS NAME PRODUCT MIB COUNT   a GPU Node (NVIDIA GPU Feature Discovery labels)
#   md_gpu_pod KS NS NAME NODE GPUS     a Pod bound to NODE holding GPUS nvidia.com/gpu
#   md_lws_crd KS                 the LeaderWorkerSet CRD (leaderworkerset.x-k8s.io/v1)
#   md_wait_cond T NAME TYPE WANT       poll until mdp_cond is WANT
set -euo pipefail
export MCE_BEHAVE="--bind-pvcs --run-jobs --ready-deployments"
. "$(dirname "${BASH_SOURCE[0]}")/modelcache_env.sh"

MD_NS=ml-team

mdp_jp() { mce_jp cp md "$1" "$MD_NS" "$2"; }

mdp_cond() {
	echo "$(mdp_jp "$1" "{.status.conditions[?(@.type==\"$2\")].status}")/$(mdp_jp "$1" "{.status.conditions[?(@.type==\"$2\")].reason}")"
}

md_wait_cond() { # T NAME TYPE WANT
	mc_wait "$1" "md/$2 $3=$4 (now $(mdp_cond "$2" "$3"))" eval '[ "$(mdp_cond '"$2"' '"$3"')" = '"$4"' ]'
}

md_node() { # KS NAME PRODUCT MIB COUNT
	mce_node "$2" "$3" "$4" "$5" | mc_kubectl "$1" apply -f - >/dev/null
}

md_gpu_pod() { # KS NS NAME NODE GPUS
	mc_kubectl "$1" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $3, namespace: $2}
spec:
  nodeName: $4
  containers:
  - name: c
    image: busybox
    resources:
      limits: {nvidia.com/gpu: "$5"}
YAML
}

md_lws_crd() { # KS
	mc_kubectl "$1" apply -f - >/dev/null <<'YAML'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: leaderworkersets.leaderworkerset.x-k8s.io}
spec:
  group: leaderworkerset.x-k8s.io
  names: {kind: LeaderWorkerSet, listKind: LeaderWorkerSetList, plural: leaderworkersets, singular: leaderworkerset, shortNames: [lws]}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status:
            type: object
            properties:
              readyReplicas: {type: integer}
              replicas: {type: integer}
              updatedReplicas: {type: integer}
              conditions:
                type: array
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: {type: string}
                    status: {type: string}
                    reason: {type: string}
                    message: {type: string}
                    lastTransitionTime: {type: string, format: date-time}
YAML
	mc_wait 20 "LeaderWorkerSets served on $1" mc_kubectl "$1" get lws -A
}

# md_apply NAME [extra spec YAML lines (2-space indented)...]: a ModelDeployment of cache qwen
md_apply() {
	local name=$1
	shift
	{
		cat <<YAML
apiVersion: modelcache.dev/v1alpha1
kind: ModelDeployment
metadata: {name: $name, namespace: $MD_NS}
spec:
YAML
		printf '%s\n' "$@"
	} | mcp apply -f - >/dev/null
}

