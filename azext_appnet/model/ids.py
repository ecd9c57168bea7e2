"""ARM resource ids and names of Application Networks and their members.

Ids look like ARM's so scripts can pass them to `--ids` unchanged:
/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.AppLink/appLinks/{name}[/appLinkMembers/{member}]
ARM compares ids case-insensitively; so does `key()`.
"""

import re

from ..constants import NAME_PATTERN
from ..errors import InvalidInputError
from . import regions

PROVIDER = "Microsoft.AppLink"
NETWORK_TYPE = "microsoft.applink/applinks"
MEMBER_TYPE = "microsoft.applink/applinks/applinkmembers"

#: Used in ids when no Azure login supplies a subscription. Documented in README.md.
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"

_NAME = re.compile(NAME_PATTERN)
_GROUP = re.compile(r"^[-\w._()]{1,90}$")
_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.AppLink/"
    r"appLinks/(?P<network>[^/]+)(?:/appLinkMembers/(?P<member>[^/]+))?/?$", re.IGNORECASE)


def check_name(value, option):
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInputError(
            f"Invalid value '{value}' for {option}: names are 3 to 24 characters long and may "
            "contain only letters, digits and hyphens.",
            f"Choose a name that matches {NAME_PATTERN}, for example 'appnet-01'.")
    return value


def check_resource_group(value):
    if not value or not _GROUP.match(value) or value.endswith("."):
        raise InvalidInputError(
            f"Invalid resource group name '{value}': 1 to 90 letters, digits, underscores, "
            "hyphens, periods or parentheses, not ending in a period.",
            "Pass a valid name with --resource-group/-g.")
    return value


def check_location(value, option="--location"):
    """The region name of `value` ('West US 2' -> 'westus2'), or InvalidInputError listing them."""
    name = regions.normalize(value)
    if name is None:
        raise InvalidInputError(
            f"Invalid {option} '{value}': it is not an Azure region.",
            f"Pass a region name such as 'westus2' (or its display name, 'West US 2'). "
            f"Regions: {', '.join(sorted(regions.REGIONS))}.")
    return name


def network_id(subscription, resource_group, name):
    return (f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/{PROVIDER}/appLinks/{name}")


def member_id(subscription, resource_group, network, member):
    return f"{network_id(subscription, resource_group, network)}/appLinkMembers/{member}"


def parse_id(resource_id):
    """Split an appLink or appLinkMember id into its parts, or raise InvalidInputError."""
    match = _ID.match(resource_id or "")
    if not match:
        raise InvalidInputError(
            f"'{resource_id}' is not an Application Network or member resource id.",
            "Ids look like /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.AppLink/"
            "appLinks/NAME[/appLinkMembers/MEMBER]; 'az appnet show' prints them.")
    parts = {"subscription": match["sub"], "resource_group": match["rg"],
             "network": match["network"], "member": match["member"]}
    check_resource_group(parts["resource_group"])
    check_name(parts["network"], "the appLinks segment of the id")
    if parts["member"]:
        check_name(parts["member"], "the appLinkMembers segment of the id")
    return parts


def key(resource_id):
    """The lookup key of an id: ARM ids are case-insensitive."""
    return resource_id.rstrip("/").lower()
