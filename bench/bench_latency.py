"""Benchmark (on demand, not a test): operations against API servers that are far away.

A real API server is 20-150 ms away; then an operation's cost is the number of round trips it
waits for one after another, not its request count. Each emulated cluster adds --latency
seconds to every answer, and twice that to every new connection (TCP's and TLS's
handshakes); workloads are ready at once, so readiness waits are excluded. Every operation
runs twice: at latency 0 (the baseline) and at --latency, and the report gives, per
operation, wall time, the client's CPU time, requests, wall / latency, and (wall - wall at 0 ms)
/ latency: the round trips waited for one after another, with the CPU time taken out.

Each emulated cluster runs in a process of its own (--in-process: all in this one), so the
client's CPU is not shared with 24 emulated API servers behind one interpreter lock.

    .venv/bin/python bench/bench_latency.py [--latency 0.1] [--members 6] [--check-members 6,24]
"""

import argparse
import bisect
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from azext_appnet.engine import AppNet  # noqa: E402

NET = ("rg1", "bench")
CHECK_RUNS = 3          # check changes nothing: its median of three is reported


class _InProcess:
    """A KubeSim in this process, with ProcessSim's interface."""

    def __init__(self, name, latency):
        from tests.fixtures import gateway_api
        from tests.kubesim import KubeSim
        self._sim = KubeSim(name=name, latency=latency).start()
        gateway_api.install(self._sim)
        self.name, self.kubeconfig_path, self.context = name, self._sim.kubeconfig_path, self._sim.context

    def wait_started(self):
        return self

    def set_latency(self, seconds):
        self._sim.faults.set(latency=seconds)

    @property
    def request_count(self):
        return len(self._sim.requests)

    @property
    def connection_count(self):
        return self._sim.connection_count

    def request_log(self, start=0):
        return [tuple(r) for r in self._sim.request_log[start:]]

    def stop(self):
        self._sim.stop()


def _start(count, latency, in_process):
    if in_process:
        return [_InProcess(f"c{i + 1}", latency) for i in range(count)]
    from bench.sim_processes import ProcessSim
    sims = [ProcessSim(f"c{i + 1}", latency) for i in range(count)]
    return [s.wait_started() for s in sims]


def chain(log):
    """The longest chain of requests in `log` ((method, path, status, started, answered)
    tuples, from every cluster: one clock) each sent after the one before it was answered:
    the round trips the operation waited for one after another, as the clusters saw them.
    Unlike wall time it does not grow with the client's CPU, unless that delays a request
    past the answer of one it did not wait for."""
    done = sorted(r[4] for r in log)
    best = []                               # best[i]: longest chain ending at or before done[i]
    for r in sorted(log, key=lambda r: r[4]):
        before = bisect.bisect_right(done, r[3])   # requests answered before r was sent
        length = 1 + (best[before - 1] if before else 0)
        best.append(max(length, best[-1] if best else 0))
    return best[-1] if best else 0


def _measure(sims, target, call):
    """(wall seconds, requests on every cluster, requests on `target`'s cluster, round trips
    in the longest chain, CPU seconds of this process: the client's, connections opened to
    every cluster)."""
    before = [s.request_count for s in sims]
    conns = sum(s.connection_count for s in sims)
    t0, cpu0 = time.perf_counter(), time.process_time()
    call()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    after = [s.request_count for s in sims]
    own = sum(a - b for s, a, b in zip(sims, after, before) if target is None or s is target)
    log = [r for s, n in zip(sims, before) for r in s.request_log(n)]
    return wall, sum(after) - sum(before), own, chain(log), cpu, sum(s.connection_count for s in sims) - conns


def _median(sims, call, times):
    """_measure of `call` (an operation that changes nothing: check) `times` times, the run of
    median wall time: one run of a CPU-bound operation on a shared machine is noisy."""
    runs = sorted((_measure(sims, None, call) for _ in range(times)), key=lambda r: r[0])
    return runs[len(runs) // 2]


def _join(engine, sim, name):
    return engine.join_member(*NET, name, kubeconfig=sim.kubeconfig_path, context=sim.context)


def run(latency, members, check_sizes, workdir, in_process=False, label="run"):
    """{operation: _measure's tuple} at one latency. `label` names the run's own config directory (the baseline and the measured run
    may have the same latency: --latency 0)."""
    most = max([members] + check_sizes)
    sims = _start(most, latency, in_process)
    try:
        engine = AppNet(os.path.join(workdir, f"azure-{label}"))
        engine.create_network(*NET, "westus2")
        rows = {}
        for i, sim in enumerate(sims[:members]):
            label = {0: "join (member 1)", members - 1: f"join (member {members})"}.get(i)
            cost = _measure(sims, sim, lambda s=sim, n=i: _join(engine, s, f"member-{n + 1:02d}"))
            if label:
                rows[label] = cost
        first = sims[0]
        rows["re-join (joined member)"] = _measure(sims, first, lambda: _join(engine, first, "member-01"))
        rows["update (re-apply)"] = _measure(sims, first, lambda: engine.update_member(
            *NET, "member-01", east_west_gateway="Internal"))
        if members > 1:
            # The last member leaves a network of `members` and joins again (unmeasured).
            last = sims[members - 1]
            rows[f"remove (from {members})"] = _measure(
                sims, last, lambda: engine.remove_member(*NET, f"member-{members:02d}"))
            for sim in sims:
                sim.set_latency(0)
            _join(engine, last, f"member-{members:02d}")
            for sim in sims:
                sim.set_latency(latency)
        for size in sorted(check_sizes):
            for i in range(members, size):
                for sim in sims:
                    sim.set_latency(0)
                _join(engine, sims[i], f"member-{i + 1:02d}")
                for sim in sims:
                    sim.set_latency(latency)
            rows[f"check ({size} members)"] = _median(sims, lambda: engine.check_network(*NET), CHECK_RUNS)
        rows[f"remove (from {most})"] = _measure(sims, first, lambda: engine.remove_member(*NET, "member-01"))
        return rows
    finally:
        for sim in sims:
            sim.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every answer")
    ap.add_argument("--members", type=int, default=6, help="members joined (the last one is measured)")
    ap.add_argument("--check-members", default="6,24",
                    help="network sizes at which 'check' is measured, comma-separated")
    ap.add_argument("--in-process", action="store_true",
                    help="run the emulated clusters in this process (they then share its CPU)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.check_members.split(",") if s.strip()]
    workdir = tempfile.mkdtemp(prefix="bench-latency-")
    try:
        base = run(0.0, args.members, sizes, workdir, args.in_process, label="baseline")
        slow = run(args.latency, args.members, sizes, workdir, args.in_process, label="measured")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ms = int(args.latency * 1000)
    where = "this process" if args.in_process else "a process each"
    print(f"latency {ms} ms per answer; emulated clusters in {where}; baseline: the same "
          "operations at 0 ms, in this run")
    print(f"{'operation':<26}{'wall 0ms':>10}{f'wall {ms}ms':>12}{'cpu 0ms':>9}{'requests':>10}{'member':>8}"
          f"{'others':>8}{'conns':>7}{'wall/lat':>10}{'in series':>11}{'chain':>7}")
    for name, (wall, requests, own, rounds, _, conns) in slow.items():
        wall0 = base[name][0]
        ratio = wall / args.latency if args.latency else 0.0
        series = (wall - wall0) / args.latency if args.latency else 0.0
        others = "-" if name.startswith("check") else requests - own
        mine = "-" if name.startswith("check") else own
        print(f"{name:<26}{wall0:>10.2f}{wall:>12.2f}{base[name][4]:>9.2f}{requests:>10}{mine:>8}{others:>8}{conns:>7}{ratio:>10.1f}"
              f"{series:>11.1f}{rounds:>7}")
    print("requests: on every cluster; member: on the cluster of the member operated on; others: "
          "on the other members' clusters (remote secrets, reader identities, revocation lists); "
          "conns: TLS connections opened to every cluster, each two round trips before its first request")
    print("cpu 0ms: the client's CPU time in the baseline run (near wall 0ms: the operation is "
          "bound by the client's CPU there, not by round trips); check: median of "
          f"{CHECK_RUNS} runs")
    print("wall/lat: wall time / latency; in series: (wall - wall at 0 ms) / latency, the round "
          "trips waited for one after another; chain: the longest chain of requests each sent after "
          "the one before was answered, from the clusters' request logs")


if __name__ == "__main__":
    main()
