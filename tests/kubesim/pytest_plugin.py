"""pytest fixtures of the Kubernetes API emulator.

Registered from the repository's root conftest.py, so every test can ask for `kubesim`.
"""
import pytest

NAMESPACE_DELETE_DELAY = 0.2
POD_TERMINATION_DELAY = 0.1


@pytest.fixture
def kubesim(tmp_path):
    """Factory: ``kubesim(n=1, names=None, **KubeSim kwargs) -> list[KubeSim]``.

    Starts n clusters (named c1..cn unless ``names`` is given), each on its own loopback
    port, and merges all their contexts into ``tmp_path/"kubeconfig"`` (each cluster also
    has its own ``sim.kubeconfig_path``). Every cluster started is stopped at teardown.
    Deleted namespaces stay Terminating for ``namespace_delete_delay`` seconds
    (NAMESPACE_DELETE_DELAY unless given) and deleted Pods Terminating for
    ``pod_termination_delay`` (POD_TERMINATION_DELAY): never instant, as on a real cluster,
    yet short.
    ``latency=SECONDS`` adds that much to every answer (an API server far away); every
    answered request is in ``sim.request_log`` with when it arrived and was answered.
    """
    # Imported lazily so that collecting tests never pays for (or breaks on) the emulator.
    from tests.kubesim import KubeSim

    started = []
    merged = tmp_path / "kubeconfig"

    def make(n=1, names=None, **kwargs):
        names = list(names) if names else ["c%d" % (len(started) + i + 1) for i in range(n)]
        sims = []
        kwargs.setdefault("namespace_delete_delay", NAMESPACE_DELETE_DELAY)
        kwargs.setdefault("pod_termination_delay", POD_TERMINATION_DELAY)
        for name in names:
            sim = KubeSim(name=name, **kwargs)
            sim.start()
            started.append(sim)
            sim.write_kubeconfig(str(merged))
            sims.append(sim)
        return sims

    make.kubeconfig_path = str(merged)
    try:
        yield make
    finally:
        for sim in started:
            sim.stop()
