"""The east-west gateway: a Gateway API `Gateway` that istiod turns into an Envoy
Deployment and a LoadBalancer Service (reference §8.3, §4.4).
"""

from ..constants import GATEWAY_VISIBILITIES, INTERNAL
from .meta import EAST_WEST_GATEWAY_NAME, TOPOLOGY_NETWORK, obj

GATEWAY_CLASS = "istio-east-west"  # created by istiod when AMBIENT_ENABLE_MULTI_NETWORK=true (§3)
AZURE_INTERNAL_LB = "service.beta.kubernetes.io/azure-load-balancer-internal"
EAST_WEST_MODES = GATEWAY_VISIBILITIES


def east_west_gateway(spec):
    # How istiod copies metadata onto what it generates (deployment controller,
    # extractInfrastructureMetadata): when `spec.infrastructure.labels` / `.annotations`
    # is set, exactly those are copied to the ServiceAccount, Deployment, Service, HPA and
    # PDB; when unset, *all* the Gateway's own labels / annotations are. So:
    # - infrastructure.labels is always set, to the network label only: our ownership
    #   labels must not spread onto objects istiod owns, or prune-by-label would delete
    #   them on every upgrade. The waypoint template reads the network from these labels
    #   (ISTIO_META_NETWORK of the gateway).
    # - Internal sets infrastructure.annotations to the AKS internal-LB annotation, which
    #   lands on the generated Service. External leaves it out: a public LB.
    infrastructure = {"labels": {TOPOLOGY_NETWORK: spec.network}}
    if spec.east_west_gateway == INTERNAL:
        infrastructure["annotations"] = {AZURE_INTERNAL_LB: "true"}
    return obj(
        "Gateway", EAST_WEST_GATEWAY_NAME,
        # §8.3: remote istiods accept a network gateway only with this label, this class,
        # an HBONE listener in TLS Terminate mode, and an address in status.
        labels={TOPOLOGY_NETWORK: spec.network},
        spec={
            "gatewayClassName": GATEWAY_CLASS,
            "infrastructure": infrastructure,
            "listeners": [{
                "name": "mesh",
                "port": 15008,
                "protocol": "HBONE",
                "tls": {"mode": "Terminate",
                        "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}},
            }],
        })
