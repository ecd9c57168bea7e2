"""az appnet create/show/list/update/delete/wait/list-versions through the real az."""

import re

import pytest

pytestmark = pytest.mark.e2e

LOCAL_SUB = "00000000-0000-0000-0000-000000000000"


def test_create_show_list_update_delete(az):
    created = az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", "--tags", "env=dev").json
    assert created["id"] == f"/subscriptions/{LOCAL_SUB}/resourceGroups/rg1/providers/Microsoft.AppLink/appLinks/net-01"
    assert created["type"] == "microsoft.applink/applinks"
    assert created["properties"]["provisioningState"] == "Succeeded"
    assert created["tags"] == {"env": "dev"}
    assert created["identity"] == {"type": "SystemAssigned"}
    assert created["location"] == "westus2" and created["resourceGroup"] == "rg1"
    assert created["systemData"]["createdByType"] == "User"

    shown = az("appnet", "show", "--resource-group", "rg1", "--appnet-name", "net-01").json
    assert shown["id"] == created["id"]
    assert az("appnet", "show", "--ids", created["id"], "--query", "name", "-o", "tsv").out.strip() == "net-01"

    az("appnet", "create", "-g", "rg2", "-n", "net-02", "-l", "eastus2")
    assert sorted(n["name"] for n in az("appnet", "list").json) == ["net-01", "net-02"]
    assert [n["name"] for n in az("appnet", "list", "-g", "rg2").json] == ["net-02"]
    assert az("appnet", "list", "-g", "empty-rg").json == []
    table = az("appnet", "list", "-o", "table").out
    assert re.search(r"^net-01\s+rg1\s+westus2\s+Succeeded$", table, re.M), table
    assert az("appnet", "list", "--query", "[?location=='eastus2'].name", "-o", "tsv").out.split() == ["net-02"]

    updated = az("appnet", "update", "-g", "rg1", "-n", "net-01", "--tags", "{key2913:test_tag}").json
    assert updated["tags"] == {"key2913": "test_tag"}
    assert updated["properties"]["provisioningState"] == "Succeeded"
    assert updated["systemData"]["lastModifiedAt"] >= created["systemData"]["lastModifiedAt"]

    assert az("appnet", "delete", "-g", "rg1", "-n", "net-01", "--yes").out.strip() == ""
    missing = az("appnet", "show", "-g", "rg1", "-n", "net-01", rc=3)
    assert "not found" in missing.err
    assert [n["name"] for n in az("appnet", "list").json] == ["net-02"]


def test_create_again_converges_and_keeps_the_root(az):
    first = az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2").json
    again = az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2").json
    root = lambda r: r["properties"]["certificateAuthority"]["root"]["sha256Fingerprint"]
    assert root(first) == root(again)
    assert again["properties"]["provisioningState"] == "Succeeded"


def test_no_wait_then_wait_created(az):
    out = az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", "--no-wait")
    assert out.out.strip() == ""
    az("appnet", "wait", "-g", "rg1", "-n", "net-01", "--created", "--interval", "1", "--timeout", "60")
    assert az("appnet", "show", "-g", "rg1", "-n", "net-01").json["properties"]["provisioningState"] == "Succeeded"
    az("appnet", "delete", "-g", "rg1", "-n", "net-01", "--yes", "--no-wait")
    az("appnet", "wait", "-g", "rg1", "-n", "net-01", "--deleted", "--interval", "1", "--timeout", "60")
    az("appnet", "show", "-g", "rg1", "-n", "net-01", rc=3)


def test_wait_custom_and_timeout(az):
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    az("appnet", "wait", "-g", "rg1", "-n", "net-01", "--custom", "properties.provisioningState=='Succeeded'",
       "--interval", "1")
    # The subprocess bound turns a wait that ignored --timeout into a failure, not a hang.
    timed_out = az("appnet", "wait", "-g", "rg1", "-n", "net-02", "--created", "--interval", "1",
                   "--timeout", "2", rc=1, timeout=120)
    assert "timed out" in timed_out.err
    no_condition = az("appnet", "wait", "-g", "rg1", "-n", "net-01", rc=1)
    assert "--created" in no_condition.err


def test_delete_confirms(az):
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    # Without --yes and without a terminal the command must refuse, and delete nothing.
    refused = az("appnet", "delete", "-g", "rg1", "-n", "net-01", rc=None, stdin="")
    assert refused.rc != 0
    assert az("appnet", "show", "-g", "rg1", "-n", "net-01").json["name"] == "net-01"


def test_list_paging(az):
    for name in ("net-01", "net-02", "net-03"):
        az("appnet", "create", "-g", "rg1", "-n", name, "-l", "westus2")
    first = az("appnet", "list", "--max-items", "2")
    assert [n["name"] for n in first.json] == ["net-01", "net-02"]
    token = re.search(r"Token of next page: (\S+)", first.err).group(1)
    rest = az("appnet", "list", "--max-items", "2", "--next-token", token).json
    assert [n["name"] for n in rest] == ["net-03"]


def test_list_versions(az):
    items = az("appnet", "list-versions", "--location", "westus2").json
    by_k8s = {i["properties"]["kubernetesVersion"]: i["properties"] for i in items}
    assert "1.33" in by_k8s
    channels = {c["releaseChannel"]: c["version"] for c in by_k8s["1.33"]["fullyManagedVersions"]["releaseChannels"]}
    assert set(channels) == {"Stable", "Rapid"}
    versions = {v["version"]: v["upgrades"] for v in by_k8s["1.33"]["selfManagedVersions"]["versions"]}
    # Upgrades go one minor at a time; the newest has none.
    for version, upgrades in versions.items():
        major, minor = map(int, version.split("."))
        assert upgrades in ([], [f"{major}.{minor + 1}"])
    filtered = az("appnet", "list-versions", "-l", "westus2", "--kubernetes-version", "1.33").json
    assert [i["properties"]["kubernetesVersion"] for i in filtered] == ["1.33"]
    table = az("appnet", "list-versions", "-l", "westus2", "--kubernetes-version", "1.33", "-o", "table").out
    assert re.search(r"1\.33\s+FullyManaged\s+Stable\s+\S+\s+N/A", table), table
    assert re.search(r"1\.33\s+SelfManaged\s+N/A\s+\S+\s+(None|\d+\.\d+)", table), table


def test_help_has_examples_for_every_command(az):
    commands = ["create", "show", "list", "update", "delete", "wait", "list-versions",
                "member join", "member show", "member list", "member update", "member remove", "member wait"]
    for command in commands:
        out = az("appnet", *command.split(), "--help").out
        assert "Examples" in out, command
    assert "member" in az("appnet", "--help").out
