"""Every long-running operation, by resource type and name: its steps, the provisioningState
the resource shows while it runs, the store kind of the resource, and the az command that
starts it (run again, it resumes the operation: operations/resume.py).

Callers name an operation; what follows from the name is looked up here, once.
"""

from dataclasses import dataclass
from typing import Tuple

from ..constants import MEMBER_KIND, NETWORK_KIND
from ..model import ids
from ..model import resources as res
from . import ca_ops, member_ops, network_ops
from .runner import Step

#: The command of the operations only reconcile starts; it resumes them for the member.
RECONCILE = "az appnet reconcile"


@dataclass(frozen=True)
class Operation:
    name: str
    kind: str
    #: provisioningState while it runs (ends Succeeded, Failed or Canceled)
    running_state: str
    steps: Tuple[Step, ...]
    #: the az command that starts it, and so resumes it
    command: str


def _register(kind, table):
    return {name: Operation(name, kind, state, tuple(steps), command)
            for name, (state, steps, command) in table.items()}


_OPERATIONS = {
    ids.NETWORK_TYPE: _register(NETWORK_KIND, {
        "create": (res.PROVISIONING, network_ops.CREATE, "az appnet create"),
        "update": (res.UPDATING, network_ops.UPDATE, "az appnet update"),
        "delete": (res.DELETING, network_ops.DELETE, "az appnet delete"),
        "rotateRoot": (res.UPDATING, ca_ops.ROTATE_ROOT, "az appnet ca rotate"),
        "finishRootRotation": (res.UPDATING, ca_ops.FINISH_ROOT_ROTATION, "az appnet ca finish-rotation"),
    }),
    ids.MEMBER_TYPE: _register(MEMBER_KIND, {
        "join": (res.PROVISIONING, member_ops.JOIN, "az appnet member join"),
        "update": (res.UPDATING, member_ops.UPDATE_DATA_PLANE, "az appnet member update"),
        "updateTags": (res.UPDATING, member_ops.UPDATE_TAGS, "az appnet member update"),
        "remove": (res.DELETING, member_ops.REMOVE, "az appnet member remove"),
        "rotateCredentials": (res.UPDATING, member_ops.ROTATE_CREDENTIALS,
                              "az appnet member rotate-credentials"),
        "rotateCa": (res.UPDATING, ca_ops.ROTATE_CA, "az appnet member rotate-ca"),
        # started by reconcile when a member's links or declarations drifted
        "relink": (res.UPDATING, member_ops.RELINK, RECONCILE),
        "reapplyDeclarations": (res.UPDATING, member_ops.REAPPLY_DECLARATIONS, RECONCILE),
    }),
}


def lookup(resource, name):
    """The operation `name` of the resource's type (KeyError for one that does not exist)."""
    return _OPERATIONS[resource["type"]][name]
