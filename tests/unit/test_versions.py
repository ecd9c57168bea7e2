"""The version catalog: defaults, upgrade and rollback rules, list-versions items."""

import pytest

from azext_appnet.errors import InvalidInputError, UsageError
from azext_appnet.versions import load_catalog


def test_images_follow_the_istio_release_and_distroless_variant():
    catalog = load_catalog()
    for version in catalog.versions:
        for image in version.images.values():
            assert image.startswith("docker.io/istio/")
            assert image.endswith(f":{version.istio}-distroless")


def test_self_managed_default_is_n_minus_1():
    catalog = load_catalog()
    names = catalog.names()
    assert catalog.default_self_managed().version == names[-2]


def test_default_respects_kubernetes_compatibility():
    catalog = load_catalog()
    with pytest.raises(UsageError):
        catalog.default_self_managed("1.20")
    chosen = catalog.default_self_managed("1.31")
    assert chosen.supports_kubernetes("1.31")


def test_upgrade_one_minor_at_a_time_and_one_rollback():
    catalog = load_catalog()
    a, b, c = catalog.names()[:3]
    assert catalog.check_upgrade(a, b) == "upgrade"
    with pytest.raises(UsageError) as err:
        catalog.check_upgrade(a, c)
    assert f"Allowed targets from {a}: {b}" in err.value.recommendation
    assert catalog.check_upgrade(b, a, previous=a, rollbacks_used=0) == "rollback"
    with pytest.raises(UsageError):
        catalog.check_upgrade(b, a, previous=a, rollbacks_used=1)
    assert catalog.check_upgrade(b, b) == "none"


def test_unknown_and_malformed_versions():
    catalog = load_catalog()
    with pytest.raises(InvalidInputError) as err:
        catalog.get("1.99")
    assert "Available versions" in err.value.message
    with pytest.raises(InvalidInputError):
        catalog.get("latest")


def test_available_versions_shape():
    items = load_catalog().available_versions("1.33")
    assert len(items) == 1
    props = items[0]["properties"]
    assert props["kubernetesVersion"] == "1.33"
    channels = {c["releaseChannel"] for c in props["fullyManagedVersions"]["releaseChannels"]}
    assert channels == {"Stable", "Rapid"}
    for entry in props["selfManagedVersions"]["versions"]:
        assert isinstance(entry["upgrades"], list)
