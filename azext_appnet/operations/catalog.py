"""Which steps make up each operation, by resource type and operation name."""

from ..model import ids
from . import member_ops, network_ops


def steps_for(resource, operation_name):
    table = member_ops.STEPS if resource["type"] == ids.MEMBER_TYPE else network_ops.STEPS
    return table[operation_name]
