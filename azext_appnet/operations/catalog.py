"""Every long-running operation, by resource type and name: its steps, the provisioningState
the resource shows while it runs, and the store kind of the resource.

Callers name an operation; what follows from the name is looked up here, once.
"""

from dataclasses import dataclass
from typing import Tuple

from ..model import ids
from ..model import resources as res
from . import ca_ops, member_ops, network_ops
from .runner import Step

#: The kinds the store files resources under.
NETWORK_KIND, MEMBER_KIND = "appLink", "appLinkMember"


@dataclass(frozen=True)
class Operation:
    name: str
    kind: str
    #: provisioningState while it runs (ends Succeeded, Failed or Canceled)
    running_state: str
    steps: Tuple[Step, ...]


def _register(kind, table):
    return {name: Operation(name, kind, state, tuple(steps)) for name, (state, steps) in table.items()}


_OPERATIONS = {
    ids.NETWORK_TYPE: _register(NETWORK_KIND, {
        "create": (res.PROVISIONING, network_ops.CREATE),
        "update": (res.UPDATING, network_ops.UPDATE),
        "delete": (res.DELETING, network_ops.DELETE),
        "rotateRoot": (res.UPDATING, ca_ops.ROTATE_ROOT),
        "finishRootRotation": (res.UPDATING, ca_ops.FINISH_ROOT_ROTATION),
    }),
    ids.MEMBER_TYPE: _register(MEMBER_KIND, {
        "join": (res.PROVISIONING, member_ops.JOIN),
        "update": (res.UPDATING, member_ops.UPDATE_DATA_PLANE),
        "updateTags": (res.UPDATING, member_ops.UPDATE_TAGS),
        "remove": (res.DELETING, member_ops.REMOVE),
        "rotateCredentials": (res.UPDATING, member_ops.ROTATE_CREDENTIALS),
        "rotateCa": (res.UPDATING, ca_ops.ROTATE_CA),
        # started by reconcile when a member's links or declarations drifted
        "relink": (res.UPDATING, member_ops.RELINK),
        "reapplyDeclarations": (res.UPDATING, member_ops.REAPPLY_DECLARATIONS),
    }),
}


def lookup(resource, name):
    """The operation `name` of the resource's type (KeyError for one that does not exist)."""
    return _OPERATIONS[resource["type"]][name]
