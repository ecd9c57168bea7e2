"""Which steps make up each operation, by resource type and operation name."""

from ..model import ids
from . import ca_ops, member_ops, network_ops, reconcile

_MEMBER = dict(member_ops.STEPS, **ca_ops.MEMBER_STEPS, **reconcile.MEMBER_STEPS)
_NETWORK = dict(network_ops.STEPS, **ca_ops.NETWORK_STEPS)


def steps_for(resource, operation_name):
    table = _MEMBER if resource["type"] == ids.MEMBER_TYPE else _NETWORK
    return table[operation_name]
