"""The version catalog: which AppNet versions exist, what each installs, what may follow.

The data is `catalog.json` beside this file, so a release of new Istio patches is a data
change. This module answers the questions the operations and `list-versions` ask.
"""

import json
import os

from ..errors import InvalidInputError, UsageError

_CATALOG_FILE = os.path.join(os.path.dirname(__file__), "catalog.json")
_IMAGES = {"pilot": "pilot", "ztunnel": "ztunnel", "cni": "install-cni", "proxy": "proxyv2"}


def _minor_tuple(text):
    parts = str(text).strip().lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise InvalidInputError(
            f"'{text}' is not a version of the form MAJOR.MINOR.",
            "Give a version such as 1.5; 'az appnet list-versions' lists them.") from None


class Version:  # pylint: disable=too-many-instance-attributes  # one catalog entry's fields
    """One AppNet minor version and what it installs."""

    def __init__(self, data, hub, variant, inherited=None):
        self.version = data["version"]
        # What this release changed in what we render, on top of what the versions before it
        # had: a new Istio release is one entry plus upstream's differences.
        self.features = dict(inherited or {}, **data.get("features", {}))
        self.istio = data["istio"]
        self.gateway_api = data["gatewayApi"]
        self.kubernetes_min = data["kubernetes"]["min"]
        self.kubernetes_max = data["kubernetes"]["max"]
        self.images = {key: f"{hub}/{name}:{self.istio}-{variant}" for key, name in _IMAGES.items()}
        self.hub = hub
        self.variant = variant

    def supports_kubernetes(self, kubernetes_version):
        k = _minor_tuple(kubernetes_version)
        return _minor_tuple(self.kubernetes_min) <= k <= _minor_tuple(self.kubernetes_max)

    def __repr__(self):
        return f"Version({self.version!r}, istio={self.istio!r})"


class Catalog:
    def __init__(self, data):
        hub, variant = data["hub"], data["variant"]
        self.versions = []
        features = {}
        for entry in sorted(data["versions"], key=lambda v: _minor_tuple(v["version"])):
            self.versions.append(Version(entry, hub, variant, features))
            features = self.versions[-1].features
        self.release_channels = dict(data["releaseChannels"])
        self._by_name = {v.version: v for v in self.versions}

    def get(self, version):
        """The catalog entry of `version`, or an error that lists what exists."""
        _minor_tuple(version)
        found = self._by_name.get(str(version).strip())
        if found is None:
            raise InvalidInputError(
                f"AppNet version '{version}' is not available. Available versions: "
                f"{', '.join(self.names())}.",
                "Run 'az appnet list-versions -l LOCATION' to see the versions and upgrades on offer.")
        return found

    def names(self):
        return [v.version for v in self.versions]

    def upgrades(self, version):
        """Versions a SelfManaged member at `version` may move to next (N -> N+1 only)."""
        names = self.names()
        i = names.index(self.get(version).version)
        return names[i + 1:i + 2]

    def default_self_managed(self, kubernetes_version=None):
        """N-1 of the available versions, as the product picks when --version is omitted."""
        usable = [v for v in self.versions
                  if kubernetes_version is None or v.supports_kubernetes(kubernetes_version)]
        if not usable:
            raise UsageError(
                f"No AppNet version supports Kubernetes {kubernetes_version}.",
                "Upgrade the cluster to a Kubernetes version that 'az appnet list-versions' lists.")
        return usable[-2] if len(usable) > 1 else usable[-1]

    def for_channel(self, channel):
        for name, version in self.release_channels.items():
            if name.lower() == str(channel).lower():
                return self.get(version)
        raise InvalidInputError(
            f"Release channel '{channel}' is unknown. Allowed values: "
            f"{', '.join(self.release_channels)}.")

    def check_upgrade(self, current, target, previous=None, rollbacks_used=0):
        """Raise unless a SelfManaged member may go from `current` to `target`.

        Upgrades go to the next minor only; a rollback goes back to the version installed
        before (`previous`), once.
        """
        current_v, target_v = self.get(current), self.get(target)
        if current_v.version == target_v.version:
            return "none"
        if target_v.version in self.upgrades(current_v.version):
            return "upgrade"
        if previous and target_v.version == previous:
            if rollbacks_used >= 1:
                raise UsageError(
                    f"The member was already rolled back once; it cannot roll back to {previous} again.",
                    f"Upgrade to {', '.join(self.upgrades(current_v.version)) or 'a newer version'} instead.")
            return "rollback"
        allowed = self.upgrades(current_v.version) + ([previous] if previous else [])
        raise UsageError(
            f"Cannot move from AppNet version {current_v.version} to {target_v.version}: "
            "SelfManaged members upgrade one minor version at a time and roll back only to "
            "the version installed before.",
            f"Allowed targets from {current_v.version}: {', '.join(allowed) or 'none'}.")

    def kubernetes_range(self):
        """(oldest, newest) Kubernetes minor any catalog version supports: what a cluster must
        run to join at all. Preflight, the version choice and their messages all use it."""
        lo = min((v.kubernetes_min for v in self.versions), key=_minor_tuple)
        hi = max((v.kubernetes_max for v in self.versions), key=_minor_tuple)
        return lo, hi

    def kubernetes_minors(self):
        lo = min(_minor_tuple(v.kubernetes_min) for v in self.versions)
        hi = max(_minor_tuple(v.kubernetes_max) for v in self.versions)
        return [f"{lo[0]}.{m}" for m in range(lo[1], hi[1] + 1)]

    def available_versions(self, kubernetes_version=None):
        """The `availableVersions` items of the ARM API: one per Kubernetes minor."""
        minors = self.kubernetes_minors()
        if kubernetes_version is not None:
            wanted = _minor_tuple(kubernetes_version)
            minors = [m for m in minors if _minor_tuple(m) == wanted]
        items = []
        for minor in minors:
            usable = [v for v in self.versions if v.supports_kubernetes(minor)]
            usable_names = {v.version for v in usable}
            channels = [{"releaseChannel": name, "version": version}
                        for name, version in self.release_channels.items() if version in usable_names]
            items.append({"properties": {
                "kubernetesVersion": minor,
                "fullyManagedVersions": {"releaseChannels": channels},
                "selfManagedVersions": {"versions": [
                    {"version": v.version,
                     "upgrades": [u for u in self.upgrades(v.version) if u in usable_names]}
                    for v in usable]},
                "provisioningState": "Succeeded",
            }})
        return items


_catalog = None


def load_catalog():
    """The packaged catalog (read once per process)."""
    global _catalog  # pylint: disable=global-statement
    if _catalog is None:
        with open(_CATALOG_FILE, encoding="utf-8") as f:
            _catalog = Catalog(json.load(f))
    return _catalog
