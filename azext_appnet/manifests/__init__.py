"""Every Kubernetes object the mesh needs on one member, for one AppNet version.

    phases = render(MemberSpec(...))

gives the objects as plain dicts, grouped in phases to apply in order (reference §0,
§13.2, §11): CRDs (the applier then waits for Established), the namespace, configuration
(trust material, identities, RBAC, ConfigMaps), istiod, the CNI agent, ztunnel, and the
east-west gateway. Objects within a phase are independent of each other.

Every object carries OWNER_LABELS(spec) and the network-id annotation, so remove and
upgrade can prune exactly what we own (`owner_selector()` for one member,
`MANAGED_BY_SELECTOR` for all of ours, `kinds_for_prune()`).
Plain Python: no Kubernetes client, no YAML library.
"""

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from ..constants import DEFAULT_GATEWAY_VISIBILITY, DNS1123_LABEL_PATTERN
from ..errors import InvalidInputError
from ..versions import load_catalog
from . import cni, config, crds, gateway, istiod, ztunnel
from .meta import (MANAGED_BY_SELECTOR, NAMESPACE, kinds_for_prune, owner_labels,
                   owner_selector, stamp)
from .profile import Profile

__all__ = ["MemberSpec", "Phase", "render", "OWNER_LABELS", "MANAGED_BY_SELECTOR",
           "kinds_for_prune", "owner_selector", "NAMESPACE", "PHASES"]

PHASES = ("crds", "namespace", "config", "istiod", "cni", "ztunnel", "gateway")

_DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


@dataclass
class MemberSpec:  # pylint: disable=too-many-instance-attributes  # a record of inputs
    """What one member's objects depend on. `cluster_id`, `network` and `mesh_id` default
    to the member name, "<member>-network" and the network name."""

    network_name: str
    network_id: str
    member_name: str
    version: str
    cacerts: Dict[str, str]
    root_cert_pem: str
    cluster_id: Optional[str] = None
    network: Optional[str] = None
    mesh_id: Optional[str] = None
    east_west_gateway: str = DEFAULT_GATEWAY_VISIBILITY

    def __post_init__(self):
        self.cluster_id = self.cluster_id or self.member_name
        self.network = self.network or f"{self.member_name}-network"
        self.mesh_id = self.mesh_id or self.network_name
        self.version = str(self.version).strip()
        mode = {m.lower(): m for m in gateway.EAST_WEST_MODES}.get(
            str(self.east_west_gateway).strip().lower())
        if mode is None:
            raise InvalidInputError(
                f"'{self.east_west_gateway}' is not an east-west gateway mode.",
                f"Use one of: {', '.join(gateway.EAST_WEST_MODES)}.")
        self.east_west_gateway = mode
        for what, value in (("network name", self.network_name),
                            ("member name", self.member_name), ("network", self.network)):
            if not value or not _LABEL_VALUE.match(value):
                raise InvalidInputError(
                    f"The {what} '{value}' cannot be a Kubernetes label value.",
                    "Use at most 63 letters, digits, '-', '_' or '.', starting and ending "
                    "with a letter or digit.")
        # §4.2: CLUSTER_ID must be a DNS-1123 label (it is also the remote-secret key).
        if not _DNS1123_LABEL.match(self.cluster_id):
            raise InvalidInputError(
                f"The cluster id '{self.cluster_id}' is not a DNS-1123 label.",
                "Use at most 63 lower-case letters, digits or '-', starting and ending with "
                "a letter or digit.")
        missing = [k for k in config.CACERTS_KEYS if not (self.cacerts or {}).get(k)]
        if missing:
            # §9.1: istiod fails on an incomplete bundle.
            raise InvalidInputError(f"The CA bundle lacks {', '.join(missing)}.")


@dataclass
class Phase:
    name: str
    objects: List[dict] = field(default_factory=list)


def OWNER_LABELS(spec):  # pylint: disable=invalid-name
    """The labels every object we apply carries."""
    return owner_labels(spec)


def render(spec):
    """The phases of objects for `spec`, in apply order."""
    version = load_catalog().get(spec.version)
    profile = Profile(version)
    args = (spec, version, profile)
    phases = [
        Phase("crds", crds.render(*args)),
        Phase("namespace", [config.namespace(spec)]),
        Phase("config", [config.cacerts(spec), config.root_cert(spec)]
              + istiod.config_objects(*args) + cni.config_objects(*args)
              + ztunnel.config_objects(*args)),
        Phase("istiod", istiod.runtime_objects(*args)),
        Phase("cni", [cni.daemonset(*args)]),
        Phase("ztunnel", [ztunnel.daemonset(*args)]),
        Phase("gateway", [gateway.east_west_gateway(spec)]),
    ]
    for phase in phases:
        for o in phase.objects:
            stamp(o, spec)
    return phases
