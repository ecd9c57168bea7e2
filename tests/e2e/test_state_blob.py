"""Two CI machines (two AZURE_CONFIG_DIRs) sharing one state store in Blob Storage (Azurite),
through the real az: what one creates the other sees, and the account key shows up in no
output and no blob."""

import pytest

from tests.e2e.conftest import Az
from tests.fixtures.azurite import ACCOUNT_KEY, azurite  # noqa: F401  pylint: disable=unused-import

pytestmark = pytest.mark.e2e


@pytest.fixture
def machines(az_extension_dir, azurite, tmp_path):  # noqa: F811
    container = azurite.new_container()
    env = {"APPNET_STATE_CONNECTION_STRING": azurite.connection_string(),
           "APPNET_STATE_CONTAINER": f"{container}/ci"}
    one = Az(az_extension_dir, tmp_path / "machine-1", env)
    two = Az(az_extension_dir, tmp_path / "machine-2", env)
    one.container = container
    return one, two


def test_two_machines_share_networks_and_no_key_leaks(machines, azurite):  # noqa: F811
    one, two = machines
    outputs = []

    def run(machine, *args, **kwargs):
        result = machine(*args, **kwargs)
        outputs.append(result.out + result.err)
        return result

    created = run(one, "appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", "--tags", "by=one").json
    assert created["properties"]["provisioningState"] == "Succeeded"
    shown = run(two, "appnet", "show", "-g", "rg1", "-n", "net-01").json
    assert shown["id"] == created["id"] and shown["tags"] == {"by": "one"}
    assert shown["properties"]["certificateAuthority"] == created["properties"]["certificateAuthority"]

    updated = run(two, "appnet", "update", "-g", "rg1", "-n", "net-01", "--tags", "by=two").json
    assert updated["tags"] == {"by": "two"}
    assert run(one, "appnet", "show", "-g", "rg1", "-n", "net-01").json["tags"] == {"by": "two"}

    # --no-wait: the detached worker finds the store from the env: marker on its command line
    run(two, "appnet", "create", "-g", "rg2", "-n", "net-02", "-l", "eastus2", "--no-wait")
    run(one, "appnet", "wait", "-g", "rg2", "-n", "net-02", "--created", "--interval", "1", "--timeout", "90")
    assert sorted(n["name"] for n in run(one, "appnet", "list").json) == ["net-01", "net-02"]
    assert [n["name"] for n in run(two, "appnet", "list", "-g", "rg2").json] == ["net-02"]
    run(one, "appnet", "list", "--debug")
    run(two, "appnet", "show", "-g", "rg1", "-n", "net-01", "--debug")

    # a machine's own SQLite file is not used
    assert not one.state_path.exists() and not two.state_path.exists()

    for text in outputs:
        assert ACCOUNT_KEY not in text
    logs = list((two.config_dir / "appnet" / "logs").glob("*.log"))
    assert logs and all(ACCOUNT_KEY not in p.read_text() for p in logs)

    from azure.storage.blob import ContainerClient
    client = ContainerClient.from_connection_string(azurite.connection_string(), one.container)
    blobs = list(client.list_blobs(include=["metadata"]))
    assert len([b for b in blobs if "/resources/" in b.name]) == 2
    for blob in blobs:
        body = client.get_blob_client(blob.name).download_blob().readall().decode()
        assert ACCOUNT_KEY not in body and ACCOUNT_KEY not in str(blob.metadata)
        assert "PRIVATE KEY" not in body

    run(two, "appnet", "delete", "-g", "rg1", "-n", "net-01", "--yes")
    assert "not found" in one("appnet", "show", "-g", "rg1", "-n", "net-01", rc=3).err


def test_a_wrong_key_is_an_error_with_a_fix(az_extension_dir, azurite, tmp_path):  # noqa: F811
    wrong = "A" * 20 + ACCOUNT_KEY[20:]
    machine = Az(az_extension_dir, tmp_path / "machine",
                 {"APPNET_STATE_CONNECTION_STRING": azurite.connection_string(key=wrong),
                  "APPNET_STATE_CONTAINER": azurite.new_container()})
    result = machine("appnet", "list", rc=1)
    assert "refused access (403" in result.err and "APPNET_STATE_CONNECTION_STRING" in result.err
    assert wrong not in result.err + result.out


def _sas_connection_string(azurite):  # noqa: F811
    import datetime
    from azure.storage.blob import AccountSasPermissions, ResourceTypes, generate_account_sas
    from tests.fixtures.azurite import ACCOUNT
    sas = generate_account_sas(ACCOUNT, ACCOUNT_KEY, ResourceTypes(service=True, container=True, object=True),
                               AccountSasPermissions(read=True, write=True, delete=True, list=True,
                                                     add=True, create=True),
                               datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    return f"BlobEndpoint={azurite.blob_endpoint};SharedAccessSignature={sas}", sas


def test_debug_with_a_sas_store_prints_no_signature(az_extension_dir, azurite, tmp_path):  # noqa: F811
    connection_string, sas = _sas_connection_string(azurite)
    signature = next(p.split("=", 1)[1] for p in sas.split("&") if p.startswith("sig="))
    env = {"APPNET_STATE_CONNECTION_STRING": connection_string,
           "APPNET_STATE_CONTAINER": azurite.new_container()}
    az = Az(az_extension_dir, tmp_path / "azure", env)
    outputs = [az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", "--debug"),
               az("appnet", "list", "--debug"),
               az("appnet", "create", "-g", "rg2", "-n", "net-02", "-l", "westus2", "--no-wait", "--debug")]
    az("appnet", "wait", "-g", "rg2", "-n", "net-02", "--created", "--interval", "1", "--timeout", "90")
    text = "".join(r.out + r.err for r in outputs)
    text += "".join(p.read_text() for p in (az.config_dir / "appnet" / "logs").glob("*.log"))
    assert "urllib3" in text or "Request URL" in text   # the HTTP log lines are there...
    assert "sig=" not in text and signature not in text  # ...without their signature
    import urllib.parse
    assert urllib.parse.unquote(signature) not in text
