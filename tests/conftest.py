"""Fixtures shared by the integration and end-to-end tests."""

import pytest

from tests.fixtures import gateway_api, requires


@pytest.fixture
def clusters(kubesim):
    """Factory of started emulated clusters with Gateway API installed, as AKS's add-on does."""
    def make(n=1, gateway_api_crds=True, **kwargs):
        sims = kubesim(n, **kwargs)
        if gateway_api_crds:
            for sim in sims:
                gateway_api.install(sim)
        return sims
    return make


@pytest.fixture
def require_kubectl():
    """The path of the real kubectl; skips (fails with CI=true) where there is none."""
    return requires.kubectl()
