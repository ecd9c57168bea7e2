"""The read-only tokens that remote secrets carry appear nowhere but in those Secrets:
not in az output (--debug included), not in the state file, not in worker logs."""

import base64
import pathlib

import pytest

from tests.e2e.test_secrets_scan import Needles, _state_rows

pytestmark = pytest.mark.e2e

NS = "applink-system"


def _token(holder, of_member):
    import yaml
    secret = holder.get_object("v1", "secrets", NS, f"istio-remote-secret-{of_member}")
    (value,) = secret["data"].values()
    return yaml.safe_load(base64.b64decode(value))["users"][0]["user"]["token"]


def test_remote_secret_tokens_stay_in_the_clusters(az, clusters):
    east, west = clusters(2)
    net = ("-g", "rg1", "--appnet-name", "net-01")
    outputs = [az("appnet", "create", *net, "-l", "westus2", "--debug")]
    outputs.append(az("appnet", "member", "join", *net, "--member-name", "east", "--kubeconfig",
                      east.kubeconfig_path, "--context", east.context, "--debug"))
    outputs.append(az("appnet", "member", "join", *net, "--member-name", "west", "--kubeconfig",
                      west.kubeconfig_path, "--context", west.context, "--no-wait", "--debug"))
    outputs.append(az("appnet", "member", "wait", *net, "--member-name", "west", "--created",
                      "--interval", "1", "--timeout", "300", "--debug"))
    # the link happened: each holds the other's remote secret
    tokens = {"west's token for east": _token(west, "east"), "east's token for west": _token(east, "west")}
    outputs.append(az("appnet", "member", "rotate-credentials", *net, "--member-name", "east", "--debug"))
    tokens.update({"west's rotated token": _token(west, "east"), "east's rotated token": _token(east, "west")})
    outputs.append(az("appnet", "member", "check", *net, "--member-name", "east", "--debug"))
    outputs.append(az("appnet", "member", "remove", *net, "--member-name", "west", "--yes", "--debug"))

    needles = Needles()
    for sim in (east, west):
        needles.text[sim.admin_token] = f"{sim.name}'s admin token"
    for what, token in tokens.items():
        needles.text[token] = what
        needles.text[base64.b64encode(token.encode()).decode()] = f"{what} (base64)"
        needles.text[token.split(".")[2]] = f"the signature of {what}"

    leaks = []
    for result in outputs:
        leaks += [f"output: {what}" for what in needles.find_in_text(result.out + result.err)]
    for row in _state_rows(az.state_path):
        leaks += [f"state: {what}" for what in needles.find_in_text(row)]
    logs = list((pathlib.Path(az.config_dir) / "appnet" / "logs").glob("*.log"))
    assert logs
    for path in logs:
        leaks += [f"{path.name}: {what}" for what in needles.find_in_bytes(path.read_bytes())]
    assert not leaks, "\n".join(sorted(set(leaks)))
    assert any("DEBUG" in r.err for r in outputs)  # the scan covered real debug output
