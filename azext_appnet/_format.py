"""Table transformers for -o table. Each turns command output into ordered rows."""

from collections import OrderedDict

from azext_appnet.constants import FULLY_MANAGED, SELF_MANAGED


def _na(value):
    return "N/A" if value in (None, "") else value


def _network_row(r):
    props = r.get("properties", {})
    return OrderedDict([
        ("Name", r.get("name")),
        ("ResourceGroup", r.get("resourceGroup")),
        ("Location", r.get("location")),
        ("ProvisioningState", props.get("provisioningState")),
    ])


def appnet_list_table(result):
    return [_network_row(r) for r in result]


def appnet_show_table(result):
    return _network_row(result)


def _member_row(r):
    props = r.get("properties", {})
    profile = props.get("upgradeProfile") or {}
    resource_id = (props.get("metadata") or {}).get("resourceId")
    cluster = props.get("cluster") or {}
    # The real extension reads a non-existent `properties.mode`, leaving this column empty;
    # we show the member's actual upgrade mode.
    return OrderedDict([
        ("Name", r.get("name")),
        ("Location", r.get("location")),
        ("ClusterType", props.get("clusterType")),
        ("Mode", _na(profile.get("mode"))),
        ("Version", _na(props.get("installedVersion"))),
        ("ProvisioningState", props.get("provisioningState")),
        ("ResourceGroup", _na(r.get("resourceGroup"))),
        ("ClusterName", _na(resource_id.rstrip("/").split("/")[-1] if resource_id else cluster.get("context"))),
    ])


def member_list_table(result):
    return [_member_row(r) for r in result]


def member_show_table(result):
    return _member_row(result)


def versions_table(result):
    rows = []
    for item in result:
        props = item.get("properties", {})
        kube = props.get("kubernetesVersion")
        for channel in (props.get("fullyManagedVersions") or {}).get("releaseChannels") or []:
            rows.append(OrderedDict([
                ("KubernetesVersion", _na(kube)), ("Mode", FULLY_MANAGED),
                ("ReleaseChannel", _na(channel.get("releaseChannel"))),
                ("Version", _na(channel.get("version"))), ("AvailableUpgrades", "N/A")]))
        for version in (props.get("selfManagedVersions") or {}).get("versions") or []:
            upgrades = version.get("upgrades") or []
            rows.append(OrderedDict([
                ("KubernetesVersion", _na(kube)), ("Mode", SELF_MANAGED), ("ReleaseChannel", "N/A"),
                ("Version", _na(version.get("version"))),
                ("AvailableUpgrades", ", ".join(upgrades) if upgrades else "None")]))
    return rows


def ca_show_table(result):
    """One row per CA certificate: the root(s), then each member's intermediate."""
    rows = []
    for cert in result.get("roots") or []:
        rows.append(_ca_row("Root (active)" if cert.get("active") else "Root (previous)", "", cert))
    for cert in result.get("intermediates") or []:
        rows.append(_ca_row("Intermediate", cert.get("member"), cert))
    for cert in result.get("revokedIntermediates") or []:
        rows.append(_ca_row("Intermediate (revoked)", cert.get("member"), cert))
    return rows


def _ca_row(kind, member, cert):
    return OrderedDict([
        ("Kind", kind),
        ("Member", _na(member)),
        ("NotAfter", cert.get("notAfter")),
        ("RotateAfter", cert.get("rotateAfter")),
        ("RotationDue", cert.get("rotationDue")),
        ("KeyType", cert.get("keyType")),
        ("Sha256Fingerprint", cert.get("sha256Fingerprint")),
    ])


def member_check_table(result):
    """One row per check of `az appnet member check` (with --ids naming several members: a
    list of reports, and a Member column)."""
    if isinstance(result, list):
        return [OrderedDict([("Member", r.get("member")), *row.items()])
                for r in result for row in member_check_table(r)]
    return [OrderedDict([("Check", c.get("name")), ("Status", c.get("status")), ("Message", c.get("message"))])
            for c in result.get("checks") or []]


def network_check_table(result):
    """One row per check of `az appnet check`: the network's own checks, then each member's."""
    rows = [OrderedDict([("Member", "(network)"), ("Check", c.get("name")), ("Status", c.get("status")),
                         ("Message", c.get("message"))]) for c in result.get("checks") or []]
    for member in result.get("members") or []:
        rows += [OrderedDict([("Member", member.get("member")), ("Check", c.get("name")),
                              ("Status", c.get("status")), ("Message", c.get("message"))])
                 for c in member.get("checks") or []]
    return rows


# ---- network-wide declarations ----

def declaration_report_table(result):
    """One row per member of a declaration command: what it changed there."""
    return [OrderedDict([("Member", m.get("member")), ("Result", m.get("result")), ("Message", m.get("message"))])
            for m in result.get("members") or []]


def _item_rows(result, head, columns):
    rows = []
    for item in result or []:
        for m in item.get("members") or []:
            row = OrderedDict(head(item))
            row["Declared"] = item.get("declared")
            row["Member"] = m.get("member")
            row["State"] = m.get("state")
            for title, key in columns:
                value = m.get(key)
                row[title] = "" if value is None else value
            row["Matches"] = m.get("matchesDeclaration", "")
            row["Message"] = m.get("message") or ""
            rows.append(row)
    return rows


def namespace_list_table(result):
    """One row per ambient namespace and member."""
    return _item_rows(result, lambda i: [("Namespace", i.get("namespace"))],
                      [("Ambient", "ambient"), ("UseWaypoint", "useWaypoint")])


def global_service_list_table(result):
    """One row per global Service and member."""
    return _item_rows(result, lambda i: [("Namespace", i.get("namespace")), ("Service", i.get("service"))],
                      [("Global", "global"), ("Stub", "stub"), ("Ports", "ports"),
                       ("EndpointsReady", "endpointsReady")])


def waypoint_list_table(result):
    """One row per waypoint and member."""
    return _item_rows(result, lambda i: [("Namespace", i.get("namespace")), ("Name", i.get("name"))],
                      [("Global", "global"), ("Programmed", "programmed"), ("NamespaceUsesIt", "namespaceUsesIt")])


def reconcile_table(result):
    """One row per action of `az appnet reconcile`."""
    return [OrderedDict([("Member", a.get("member") or "(network)"), ("Action", a.get("action")),
                         ("Status", a.get("status")),
                         ("Reason", a.get("reason") + (f" -- {a['error']}" if a.get("error") else ""))])
            for a in result.get("actions") or []]
