"""kubesim: a Kubernetes API server emulator over HTTPS, for tests, demos and benchmarks.

    from tests.kubesim import KubeSim
    sim = KubeSim(name="c1").start()     # sim.kubeconfig_path, sim.context
    ...
    sim.stop()

See cluster.py for the control API, pytest_plugin.py for the `kubesim` fixture, and
`python -m tests.kubesim --help` for the command line.
"""
from .cluster import KubeSim

__all__ = ["KubeSim"]
