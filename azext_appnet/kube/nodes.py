"""What a Node object says about itself, read the same way by preflight and by `check`."""


def node_os(node):
    """The operating system of a Node, lower-case ("linux", "windows"): its
    kubernetes.io/os label (or the beta label older clusters set), else status.nodeInfo.
    A Node that says nothing is taken as Linux, as the scheduler's default pools are."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    os_name = labels.get("kubernetes.io/os") or labels.get("beta.kubernetes.io/os")
    if not os_name:
        os_name = ((node.get("status") or {}).get("nodeInfo") or {}).get("operatingSystem")
    return (os_name or "linux").lower()
