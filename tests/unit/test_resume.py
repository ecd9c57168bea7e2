"""The command a user is told to run to resume an operation left unfinished: the command that
starts that operation (operations/catalog.py), so running it continues it."""

import pytest

from azext_appnet.model import ids
from azext_appnet.model import resources as res
from azext_appnet.operations.resume import resume_command


def _network():
    return res.new_network(ids.LOCAL_SUBSCRIPTION, "rg1", "net-01", "westus2")


def _member(operation):
    member = res.new_member(_network(), "member-01", "westus2", {"type": "Kubernetes"},
                            res.upgrade_profile(res.SELF_MANAGED), res.connectivity_profile("Internal"))
    member["properties"]["operation"] = {"name": operation, "parameters": {}}
    return member


MEMBER = "-g rg1 --appnet-name net-01 --member-name member-01"


@pytest.mark.parametrize("operation, command", [
    ("rotateCredentials", f"az appnet member rotate-credentials {MEMBER}"),
    ("rotateCa", f"az appnet member rotate-ca {MEMBER}"),
    ("remove", f"az appnet member remove {MEMBER} --yes"),
    # Only reconcile starts these; it resumes them for the member.
    ("relink", "az appnet reconcile -g rg1 -n net-01 --member member-01"),
    ("reapplyDeclarations", "az appnet reconcile -g rg1 -n net-01 --member member-01"),
    # A record this version does not know: an update re-applies the member.
    ("somethingNewer", f"az appnet member update {MEMBER}"),
])
def test_a_member_operation_resumes_with_the_command_that_starts_it(operation, command):
    assert resume_command(_member(operation)) == command


def test_a_root_rotation_resumes_with_ca_rotate():
    network = _network()
    network["properties"]["operation"] = {"name": "rotateRoot", "parameters": {}}
    assert resume_command(network) == "az appnet ca rotate -g rg1 -n net-01"
