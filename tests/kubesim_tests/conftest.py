import pytest

from tests.kubesim import KubeSim
from tests.kubesim.pytest_plugin import POD_TERMINATION_DELAY
from kubernetes import client

from .helpers import api_client


@pytest.fixture(scope="module")
def sim():
    """One cluster shared by the tests of a module (each test uses its own namespace)."""
    s = KubeSim(name="mod", pod_termination_delay=POD_TERMINATION_DELAY).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def api(sim):
    return api_client(sim)


@pytest.fixture(scope="module")
def v1(api):
    return client.CoreV1Api(api)


@pytest.fixture(scope="module")
def apps(api):
    return client.AppsV1Api(api)
