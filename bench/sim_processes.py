"""Emulated clusters in processes of their own, for benchmarks (not a test helper).

Twenty-four emulated API servers in the benchmark's own process would share its one
interpreter lock with the client: the client would wait for the emulators' CPU, and a
measurement meant to count round trips would measure that instead. Here each cluster runs
in a child process; the parent holds a small proxy with what a benchmark needs of a
KubeSim: its kubeconfig and context, its request and connection counts, and its latency
switch.
"""

import multiprocessing
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _serve(name, latency, conn):
    sys.path.insert(0, ROOT)
    from tests.fixtures import gateway_api
    from tests.kubesim import KubeSim
    sim = KubeSim(name=name, latency=latency).start()
    gateway_api.install(sim)
    conn.send((sim.kubeconfig_path, sim.context))
    try:
        while True:
            command, arg = conn.recv()
            if command == "latency":
                sim.faults.set(latency=arg)
                conn.send(None)
            elif command == "requests":
                conn.send(len(sim.requests))
            elif command == "connections":
                conn.send(sim.connection_count)
            elif command == "log":
                conn.send([tuple(r) for r in sim.request_log[arg:]])
            elif command == "stop":
                break
    except EOFError:
        pass  # the parent went away
    finally:
        sim.stop()
        conn.close()


class ProcessSim:
    """A KubeSim running in a child process (see the module docstring)."""

    def __init__(self, name, latency=0.0):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(name, latency, child), daemon=True,
                                 name="kubesim-" + name)
        self._proc.start()
        child.close()
        self.name = name
        self.kubeconfig_path = self.context = None

    def wait_started(self):
        """Block until the cluster serves (start many, then wait for each: they start in
        parallel)."""
        if self.kubeconfig_path is None:
            self.kubeconfig_path, self.context = self._conn.recv()
        return self

    def _ask(self, command, arg=None):
        self._conn.send((command, arg))
        return self._conn.recv()

    def set_latency(self, seconds):
        self._ask("latency", seconds)

    @property
    def request_count(self):
        return self._ask("requests")

    @property
    def connection_count(self):
        return self._ask("connections")

    def request_log(self, start=0):
        """sim.request_log[start:] as (method, path, status, started, answered) tuples
        (time.monotonic() of the child, which is this machine's clock)."""
        return self._ask("log", start)

    def stop(self):
        try:
            self._conn.send(("stop", None))
        except OSError:
            pass
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
