"""The documents of appLink and appLinkMember resources, shaped like ARM returns them.

Properties named like the ARM API (`clusterType`, `metadata.resourceId`, `upgradeProfile`,
`connectivityProfile`, `provisioningState`) mean what they mean there. What this tool adds
because it does the provider's work itself sits beside them under `properties`:

- `cluster`: how the member's API server is reached (kubeconfig path and context, or the
  AKS id) and what preflight found; never a credential.
- `installedVersion`, `previousVersion`, `rollbacksUsed`: the data plane actually installed.
- `operation`: the long-running operation in progress or last run, with the step reached.
- `error`: why the last operation failed (only while `provisioningState` is `Failed`).
- `rootCertificate` (networks): public facts of the root CA; keys live in the key store.
"""

import datetime
import getpass

# The states of a resource document, named here for the engine (res.SUCCEEDED, ...).
from ..constants import (  # noqa: F401  # pylint: disable=unused-import
    ACCEPTED, CANCELED, DEFAULT_CA_KEY_TYPE, DEFAULT_IDENTITY_TYPE, DEFAULT_RELEASE_CHANNEL, DELETING,
    FAILED, FULLY_MANAGED, PROVISIONING, SELF_MANAGED, SUCCEEDED, UPDATING)
from . import ids


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _system_data(actor):
    stamp = now()
    return {"createdBy": actor, "createdByType": "User", "createdAt": stamp,
            "lastModifiedBy": actor, "lastModifiedByType": "User", "lastModifiedAt": stamp}


def current_actor():
    try:
        return getpass.getuser()
    except Exception:  # pylint: disable=broad-except
        return "unknown"


def touch(resource, actor=None):
    """Record a modification in systemData, as ARM does on every write."""
    system = resource.setdefault("systemData", _system_data(actor or current_actor()))
    system["lastModifiedBy"] = actor or current_actor()
    system["lastModifiedByType"] = "User"
    system["lastModifiedAt"] = now()
    return resource


def new_network(subscription, resource_group, name, location, tags=None,
                identity_type=DEFAULT_IDENTITY_TYPE, key_vault=None, ca_key_type=DEFAULT_CA_KEY_TYPE,
                actor=None):
    resource_id = ids.network_id(subscription, resource_group, name)
    return {
        "id": resource_id,
        "name": name,
        "type": ids.NETWORK_TYPE,
        "location": location,
        "resourceGroup": resource_group,
        "tags": dict(tags or {}),
        "identity": {"type": identity_type},
        "systemData": _system_data(actor or current_actor()),
        "properties": {
            "provisioningState": ACCEPTED,
            "certificateAuthority": {"keyType": ca_key_type,
                                     "keyVault": key_vault,
                                     "keyLocation": "keyvault" if key_vault else "local"},
        },
    }


def new_member(network, member_name, location, cluster, upgrade,
               connectivity, tags=None, actor=None):
    """A member record; `upgrade` and `connectivity` as upgrade_profile() and
    connectivity_profile() make them."""
    parts = ids.parse_id(network["id"])
    resource_id = ids.member_id(parts["subscription"], parts["resource_group"],
                                network["name"], member_name)
    return {
        "id": resource_id,
        "name": member_name,
        "type": ids.MEMBER_TYPE,
        "location": location,
        "resourceGroup": parts["resource_group"],
        "tags": dict(tags or {}),
        "systemData": _system_data(actor or current_actor()),
        "properties": {
            "clusterType": cluster["type"],
            "metadata": {"resourceId": cluster.get("resourceId")},
            "upgradeProfile": upgrade,
            "connectivityProfile": connectivity,
            "provisioningState": ACCEPTED,
            "cluster": {k: v for k, v in cluster.items() if k not in ("type", "resourceId")},
        },
    }


def upgrade_profile(mode, version=None, release_channel=None):
    if mode == FULLY_MANAGED:
        channel = release_channel or DEFAULT_RELEASE_CHANNEL
        return {"mode": mode, "fullyManagedUpgradeProfile": {"releaseChannel": channel}}
    profile = {"mode": mode}
    if version:
        profile["selfManagedUpgradeProfile"] = {"version": version}
    return profile


def connectivity_profile(visibility, network=None):
    profile = {"eastWestGateway": {"visibility": visibility}}
    if network:
        profile["network"] = network
    return profile


def state_of(resource):
    return resource.get("properties", {}).get("provisioningState")
