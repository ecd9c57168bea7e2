"""The handlers in custom.py over a fake backend: what reaches the backend, what the user sees
on stderr, and the exit after a report that names a failure, in a CLI reused for several
commands (az interactive, azure-cli's test harness)."""

import types

import pytest
from azure.cli.core.azclierror import AzureResponseError, ValidationError
from azure.cli.core.mock import DummyCli
from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE

from azext_appnet import custom


class FakeBackend:
    """Records each call; declaration and check commands answer with `problems` / `failed`."""

    def __init__(self):
        self.progress, self.warn = None, print
        self.calls, self.problems, self.failed = [], [], []
        self.heard = []

    def join_member(self, *args, **kwargs):
        self.calls.append(("join_member", args, kwargs))
        if self.progress:
            self.progress("Connecting to the cluster")
            self.heard.append(self.progress)
        return {"name": args[2]}

    def enable_namespace(self, resource_group, name, namespace, problems=None):
        self.calls.append(("enable_namespace", (resource_group, name, namespace), {}))
        problems.extend(self.problems)
        return {"namespace": namespace, "members": []}

    def list_namespaces(self, resource_group, name, problems=None):
        problems.extend(self.problems)
        return []

    def check_member(self, resource_group, network, member):
        return {"member": member, "checks": [{"name": n, "status": "Failed", "recommendation": "Fix it."}
                                             for n in self.failed]}


@pytest.fixture
def cli():
    cli = DummyCli()
    cli.only_show_errors = False
    return cli


def _next_command(cli):
    """What az does at the start of each command: a fresh invocation on the same CLI object."""
    cli.invocation = types.SimpleNamespace(data={})


def test_a_join_shows_its_steps_and_hands_the_arguments_over(cli, capsys):
    _next_command(cli)
    client = FakeBackend()
    result = custom.join_member(types.SimpleNamespace(cli_ctx=cli), client, "rg1", "net-01", "member-01",
                                kubeconfig="kc.yaml", context="c1")
    assert result == {"name": "member-01"}
    (name, args, kwargs), = client.calls
    assert name == "join_member" and args == ("rg1", "net-01", "member-01")
    assert kwargs["kubeconfig"] == "kc.yaml" and kwargs["context"] == "c1" and kwargs["no_wait"] is False
    assert client.heard, "the join ran without a progress reporter"
    assert "member-01: Connecting to the cluster" in capsys.readouterr().err
    assert client.progress is None and client.warn is print  # the client as the factory made it


def test_a_join_with_no_wait_shows_nothing(cli, capsys):
    _next_command(cli)
    client = FakeBackend()
    custom.join_member(types.SimpleNamespace(cli_ctx=cli), client, "rg1", "net-01", "member-01",
                       kubeconfig="kc.yaml", no_wait=True)
    assert not client.heard and "Connecting" not in capsys.readouterr().err


def test_an_unconverged_declaration_fails_its_own_command_and_not_the_next(cli):
    cmd, client = types.SimpleNamespace(cli_ctx=cli), FakeBackend()
    _next_command(cli)
    client.problems = [("member-02", "Unreachable", "Could not reach the cluster.")]
    report = custom.enable_namespace(cmd, client, "rg1", "net-01", "shop")
    assert report["namespace"] == "shop"
    with pytest.raises(AzureResponseError, match=r"1 member did not converge: member-02 \(Unreachable\)"):
        cli.raise_event(EVENT_CLI_SUCCESSFUL_EXECUTE)

    _next_command(cli)
    client.problems = []
    assert custom.list_namespaces(cmd, client, "rg1", "net-01") == []
    cli.raise_event(EVENT_CLI_SUCCESSFUL_EXECUTE)   # the next command succeeds


def test_a_failed_check_fails_its_own_command_and_not_the_next(cli):
    cmd, client = types.SimpleNamespace(cli_ctx=cli), FakeBackend()
    _next_command(cli)
    client.failed = ["ztunnel"]
    custom.check_member(cmd, client, "rg1", "net-01", "member-01")
    with pytest.raises(ValidationError, match=r"1 check failed \(member-01: ztunnel\)"):
        cli.raise_event(EVENT_CLI_SUCCESSFUL_EXECUTE)

    _next_command(cli)
    client.failed = []
    custom.check_member(cmd, client, "rg1", "net-01", "member-01")
    cli.raise_event(EVENT_CLI_SUCCESSFUL_EXECUTE)
