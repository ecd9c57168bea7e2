"""az appnet ca show / rotate / finish-rotation / wait and az appnet member rotate-ca through the real az."""

import re

import pytest

pytestmark = pytest.mark.e2e

PEM_KEY = "PRIVATE KEY-----"


def test_ca_show_has_fingerprints_and_no_key(az):
    created = az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2").json
    root = created["properties"]["certificateAuthority"]["root"]
    shown = az("appnet", "ca", "show", "-g", "rg1", "--appnet-name", "net-01")
    assert PEM_KEY not in shown.out + shown.err
    ca = shown.json
    assert ca["networkName"] == "net-01" and ca["rootRotationInProgress"] is False
    assert ca["intermediates"] == []
    (shown_root,) = ca["roots"]
    assert shown_root["sha256Fingerprint"] == root["sha256Fingerprint"]
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", shown_root["sha256Fingerprint"])
    assert shown_root["active"] is True and shown_root["rotationDue"] is False
    assert shown_root["notAfter"] > shown_root["rotateAfter"] > shown_root["notBefore"]
    assert shown_root["certificatePem"].startswith("-----BEGIN CERTIFICATE-----")

    table = az("appnet", "ca", "show", "-g", "rg1", "-n", "net-01", "-o", "table").out
    assert re.search(r"^Root \(active\)\s+N/A\s+\S+\s+\S+\s+False\s+ec-p256\s+" + re.escape(root["sha256Fingerprint"]),
                     table, re.M), table

    missing = az("appnet", "ca", "show", "-g", "rg1", "-n", "net-02", rc=3)
    assert "not found" in missing.err
    # Finishing a rotation that never started says how to start one.
    refused = az("appnet", "ca", "finish-rotation", "-g", "rg1", "-n", "net-01", "--yes", rc=1)
    assert "az appnet ca rotate" in refused.err
    # A missing member is a missing resource, as with the other member commands.
    nobody = az("appnet", "member", "rotate-ca", "-g", "rg1", "--appnet-name", "net-01", "--member-name", "nobody",
                rc=3)
    assert "Member 'nobody'" in nobody.err


def test_root_rotation_without_members_no_wait_then_wait(az):
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    out = az("appnet", "ca", "rotate", "-g", "rg1", "-n", "net-01", "--no-wait")
    assert out.out.strip() == ""
    az("appnet", "ca", "wait", "-g", "rg1", "-n", "net-01", "--updated", "--interval", "1", "--timeout", "60")
    ca = az("appnet", "ca", "show", "-g", "rg1", "-n", "net-01").json
    assert ca["rootRotationInProgress"] is True and [r["active"] for r in ca["roots"]] == [False, True]
    network = az("appnet", "show", "-g", "rg1", "-n", "net-01").json["properties"]
    assert network["operation"]["name"] == "rotateRoot"
    assert network["certificateAuthority"]["root"]["sha256Fingerprint"] == ca["roots"][1]["sha256Fingerprint"]
    assert network["certificateAuthority"]["previousRoot"]["sha256Fingerprint"] == ca["roots"][0]["sha256Fingerprint"]

    # It asks first (connections still using the old root's certificates fail): without a
    # terminal to ask on, az refuses and nothing changes.
    unconfirmed = az("appnet", "ca", "finish-rotation", "-g", "rg1", "-n", "net-01", rc=1)
    assert "--yes" in unconfirmed.err
    assert az("appnet", "ca", "show", "-g", "rg1", "-n", "net-01").json["rootRotationInProgress"] is True
    az("appnet", "ca", "finish-rotation", "-g", "rg1", "-n", "net-01", "--no-wait", "--yes")
    az("appnet", "wait", "-g", "rg1", "-n", "net-01", "--updated", "--interval", "1", "--timeout", "60")
    ca = az("appnet", "ca", "show", "-g", "rg1", "-n", "net-01").json
    assert ca["rootRotationInProgress"] is False
    assert [r["sha256Fingerprint"] for r in ca["roots"]] == [network["certificateAuthority"]["root"]["sha256Fingerprint"]]


def test_help_has_examples_for_every_ca_command(az):
    for command in ("ca show", "ca rotate", "ca finish-rotation", "ca wait", "member rotate-ca"):
        out = az("appnet", *command.split(), "--help").out
        assert "Examples" in out, command
    assert "--no-wait" in az("appnet", "member", "rotate-ca", "--help").out
    group = az("appnet", "ca", "--help").out
    for verb in ("show", "rotate", "finish-rotation", "wait"):
        assert re.search(rf"^\s+{verb}\s", group, re.M), group
