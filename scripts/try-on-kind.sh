#!/usr/bin/env bash
# Try az appnet on two real clusters: two kind clusters on this machine's Docker.
#
#   scripts/setup.sh            # once: the venv with the real az, and the extension's wheel
#   scripts/try-on-kind.sh
#
# It creates kind clusters <prefix>-east and <prefix>-west (two nodes each, distinct pod and
# service ranges), installs the Gateway API CRDs of the AppNet version and MetalLB (the
# LoadBalancer for the east-west gateways) on both, joins both to one Application Network
# with the real az and --api-server-url set to each control plane's address on the kind
# network (the kubeconfig's 127.0.0.1 address is not reachable from the other cluster), runs
# 'az appnet check', and then checks from a client in each cluster that an
# istio.io/global=true service answers from both clusters, over mTLS (a client outside the
# mesh is refused). The clusters are deleted at the end unless APPNET_KIND_KEEP=1.
#
# Settings (environment):
#   APPNET_KIND_PREFIX   cluster name prefix (default: appnet)
#   APPNET_VERSION       AppNet version to join at (default: the catalog's N-1)
#   APPNET_KIND_FLAT=1   one flat network: routes between the clusters' pod ranges, both
#                        members with the same --network-name (no east-west hop)
#   APPNET_KIND_KEEP=1   keep the clusters (and print how to delete them)
#
# Where kind, docker (with a running engine) or kubectl is missing, it says so and exits 0
# having created and checked nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "==> $*" >&2; }
not_run() {
  echo "try-on-kind: $*; nothing was created and nothing was checked." >&2
  exit 0
}

missing=()
for tool in kind docker kubectl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  not_run "${missing[*]} not found on PATH (install kind, Docker and kubectl to try it)"
fi
if ! docker info >/dev/null 2>&1; then
  not_run "docker is installed but has no running engine ('docker info' fails)"
fi

PY=python3
[[ -x .venv/bin/python ]] && PY=.venv/bin/python
AZ=${AZ:-}
[[ -z "$AZ" && -x .venv/bin/az ]] && AZ=.venv/bin/az
[[ -z "$AZ" ]] && AZ=$(command -v az || true)
if [[ -z "$AZ" ]]; then
  echo "try-on-kind: no az found: run scripts/setup.sh first (it installs the real az in .venv)." >&2
  exit 1
fi

PREFIX=${APPNET_KIND_PREFIX:-appnet}
EAST=$PREFIX-east
WEST=$PREFIX-west
FLAT=${APPNET_KIND_FLAT:-0}
KEEP=${APPNET_KIND_KEEP:-0}
RG=kind-rg
NET=kindnet

read -r VERSION GATEWAY_API < <("$PY" - "${APPNET_VERSION:-}" <<'EOF'
import sys
from azext_appnet.versions import load_catalog
catalog = load_catalog()
v = catalog.get(sys.argv[1]) if sys.argv[1] else catalog.default_self_managed()
print(v.version, v.gateway_api)
EOF
) || true
if [[ -z "${GATEWAY_API:-}" ]]; then
  echo "try-on-kind: AppNet version '${APPNET_VERSION:-}' is not in the catalog ('az appnet list-versions -l westus2' lists them)." >&2
  exit 1
fi
METALLB=v0.14.9

for name in "$EAST" "$WEST"; do
  if kind get clusters 2>/dev/null | grep -qx "$name"; then
    echo "try-on-kind: a kind cluster named $name exists already. Delete it (kind delete cluster" \
         "--name $name) or set APPNET_KIND_PREFIX." >&2
    exit 1
  fi
done

WORK=$(mktemp -d)
KCFG=$WORK/kubeconfig
created=()
cleanup() {
  if [[ "$KEEP" == 1 ]]; then
    say "kept: kubeconfig $KCFG; delete with: kind delete cluster --name $EAST; kind delete cluster --name $WEST"
    return
  fi
  for name in "${created[@]}"; do kind delete cluster --name "$name" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

k() { local ctx=$1; shift; kubectl --kubeconfig "$KCFG" --context "kind-$ctx" "$@"; }

kind_config() {
  cat <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking:
  podSubnet: "$1"
  serviceSubnet: "$2"
nodes:
- role: control-plane
- role: worker
EOF
}

say "creating kind clusters $EAST and $WEST (AppNet $VERSION, Gateway API $GATEWAY_API)"
kind_config 10.110.0.0/16 10.111.0.0/16 > "$WORK/east.yaml"
kind_config 10.120.0.0/16 10.121.0.0/16 > "$WORK/west.yaml"
created+=("$EAST")
kind create cluster --name "$EAST" --config "$WORK/east.yaml" --kubeconfig "$KCFG" --wait 180s
created+=("$WEST")
kind create cluster --name "$WEST" --config "$WORK/west.yaml" --kubeconfig "$KCFG" --wait 180s

api_url() {  # the control plane's address on the docker network "kind"
  local ip
  ip=$(docker inspect -f '{{ (index .NetworkSettings.Networks "kind").IPAddress }}' "$1-control-plane")
  echo "https://$ip:6443"
}
EAST_URL=$(api_url "$EAST")
WEST_URL=$(api_url "$WEST")
say "API servers on the kind network: $EAST $EAST_URL, $WEST $WEST_URL"

subnet=$(docker network inspect kind -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' | tr ' ' '\n' | grep -v ':' | head -1)
if [[ "$subnet" != *.0.0/16 ]]; then
  echo "try-on-kind: the docker network 'kind' has IPv4 subnet '$subnet'; this script carves" \
       "LoadBalancer addresses from a /16 (kind's default)." >&2
  exit 1
fi
base=${subnet%.0.0/16}
declare -A POOL=([$EAST]="$base.255.200-$base.255.219" [$WEST]="$base.255.220-$base.255.239")

for c in "$EAST" "$WEST"; do
  say "$c: Gateway API $GATEWAY_API (standard channel) and MetalLB $METALLB"
  k "$c" apply --server-side -f \
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/$GATEWAY_API/standard-install.yaml" >/dev/null
  k "$c" apply -f "https://raw.githubusercontent.com/metallb/metallb/$METALLB/config/manifests/metallb-native.yaml" >/dev/null
done
for c in "$EAST" "$WEST"; do
  k "$c" rollout status -n metallb-system deployment/controller --timeout=300s >/dev/null
  k "$c" rollout status -n metallb-system daemonset/speaker --timeout=300s >/dev/null
  pool="apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: kind, namespace: metallb-system}
spec: {addresses: [\"${POOL[$c]}\"]}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: kind, namespace: metallb-system}"
  # MetalLB's own webhook answers a little after its pods are ready.
  for attempt in $(seq 1 30); do
    if echo "$pool" | k "$c" apply -f - >/dev/null 2>&1; then break; fi
    [[ $attempt == 30 ]] && { echo "try-on-kind: MetalLB did not accept its address pool on $c." >&2; exit 1; }
    sleep 5
  done
done

EAST_NET=east-net
WEST_NET=west-net
if [[ "$FLAT" == 1 ]]; then
  EAST_NET=kind-flat
  WEST_NET=kind-flat
  say "flat network: routing each cluster's pod ranges to the other's nodes"
  for pair in "$EAST $WEST" "$WEST $EAST"; do
    read -r from to <<<"$pair"
    routes=$(k "$to" get nodes -o jsonpath='{range .items[*]}{.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}')
    for node in $(kind get nodes --name "$from"); do
      while read -r cidr via; do
        [[ -n "$cidr" ]] && docker exec "$node" ip route replace "$cidr" via "$via"
      done <<<"$routes"
    done
  done
fi

say "installing the extension into an isolated az (config and extensions under $WORK)"
export AZURE_CONFIG_DIR=$WORK/azure AZURE_EXTENSION_DIR=$WORK/extensions AZURE_CORE_COLLECT_TELEMETRY=no
"$PY" setup.py --quiet bdist_wheel --dist-dir "$WORK/dist" >/dev/null 2>&1
"$AZ" extension add --source "$(ls "$WORK"/dist/appnet-*-py3-none-any.whl)" -y >/dev/null

say "az appnet create and member join (east, west)"
"$AZ" appnet create -g "$RG" -n "$NET" -l westus2 -o none
"$AZ" appnet member join -g "$RG" --appnet-name "$NET" --member-name east --kubeconfig "$KCFG" \
  --context "kind-$EAST" --api-server-url "$EAST_URL" --east-west-gateway External \
  --network-name "$EAST_NET" --version "$VERSION" -o none
"$AZ" appnet member join -g "$RG" --appnet-name "$NET" --member-name west --kubeconfig "$KCFG" \
  --context "kind-$WEST" --api-server-url "$WEST_URL" --east-west-gateway External \
  --network-name "$WEST_NET" --version "$VERSION" -o none

say "az appnet check"
"$AZ" appnet check -g "$RG" -n "$NET" -o table

say "cross-cluster traffic"
"$PY" -m tests.realcluster.crosscluster --kubeconfig "$KCFG" \
  --context "east=kind-$EAST" --context "west=kind-$WEST"
