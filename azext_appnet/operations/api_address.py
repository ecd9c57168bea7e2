"""The API server address a member publishes to the other members' istiods.

Remote secrets hold a kubeconfig that a peer's istiod uses, from inside the peer cluster,
to read this member's API server. By default it is the server of the operator's kubeconfig;
`--api-server-url` replaces it where that address is only reachable from the operator's
machine (kind clusters, loopback tunnels, proxies). `istioctl create-remote-secret
--server` is the upstream counterpart.
"""

import ipaddress
from urllib.parse import urlsplit

from ..errors import InvalidInputError

KEY = "apiServerUrl"  # in properties.connectivityProfile


def check_url(value):
    """The normalised https URL, or InvalidInputError saying what is wrong."""
    if value is None:
        return None
    text = str(value).strip()
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    extras = any((parts.query, parts.fragment, parts.username, parts.password))
    if parts.scheme != "https" or not parts.hostname or port == -1 or extras:
        raise InvalidInputError(
            f"Invalid --api-server-url '{value}': give the https URL of the cluster's API server "
            "as the other members' clusters reach it, such as https://10.0.0.4:6443 or "
            "https://k8s.example.com.",
            "For kind clusters use the control-plane container's address on the kind network: "
            "https://$(docker inspect -f '{{.NetworkSettings.Networks.kind.IPAddress}}' "
            "NAME-control-plane):6443.")
    return text.rstrip("/")


def published(member, cluster_server=None):
    """What the remote secrets of `member` (a member document) name as its server."""
    connectivity = member.get("properties", {}).get("connectivityProfile") or {}
    return connectivity.get(KEY) or cluster_server


def unreachable_from_peers(url):
    """Why peers' istiods cannot reach `url` (loopback, link-local), or None."""
    host = urlsplit(url or "").hostname or ""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return "a loopback name"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified:
        return "an unspecified address"
    return None


def warning(member_name, url, given):
    """The warning a join or update prints when peers could not use `url`, or None."""
    why = unreachable_from_peers(url)
    if why is None:
        return None
    where = "--api-server-url" if given else "the kubeconfig's server"
    return (f"Member '{member_name}' publishes {url} ({where}) to the other members' istiods, "
            f"which is {why}: pods in the other clusters cannot reach it, so they will not see "
            "this cluster's services. Pass the address they can reach with "
            "'az appnet member update ... --api-server-url https://HOST:PORT'.")
