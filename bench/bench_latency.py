"""Benchmark (on demand, not a test): operations against API servers that are far away.

A real API server is 20-150 ms away; then an operation's cost is the number of round trips it
waits for one after another, not its request count. Each emulated cluster adds --latency
seconds to every answer; workloads are ready at once, so readiness waits are excluded. Every
operation runs twice in this process: at latency 0 (the baseline) and at --latency, and the
report gives, per operation, wall time, requests, and wall / latency ("round trips in series").

    .venv/bin/python bench/bench_latency.py [--latency 0.1] [--members 6] [--check-members 6,24]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from azext_appnet.engine import AppNet  # noqa: E402
from tests.fixtures import gateway_api  # noqa: E402
from tests.kubesim import KubeSim  # noqa: E402

NET = ("rg1", "bench")


def _requests(sims):
    return sum(len(s.requests) for s in sims)


def _measure(sims, call):
    before, t0 = _requests(sims), time.perf_counter()
    call()
    return time.perf_counter() - t0, _requests(sims) - before


def _join(engine, sim, name):
    return engine.join_member(*NET, name, kubeconfig=sim.kubeconfig_path, context=sim.context)


def run(latency, members, check_sizes, workdir):
    """{operation: (wall seconds, requests)} at one latency."""
    most = max([members] + check_sizes)
    sims = []
    for i in range(most):
        sim = KubeSim(name=f"c{i + 1}", latency=latency).start()
        gateway_api.install(sim)
        sims.append(sim)
    try:
        engine = AppNet(os.path.join(workdir, f"azure-{latency}"))
        engine.create_network(*NET, "westus2")
        rows = {}
        for i, sim in enumerate(sims[:members]):
            label = {0: "join (member 1)", members - 1: f"join (member {members})"}.get(i)
            cost = _measure(sims, lambda s=sim, n=i: _join(engine, s, f"member-{n + 1:02d}"))
            if label:
                rows[label] = cost
        first = sims[0]
        rows["re-join (joined member)"] = _measure(sims, lambda: _join(engine, first, "member-01"))
        rows["update (re-apply)"] = _measure(sims, lambda: engine.update_member(
            *NET, "member-01", east_west_gateway="Internal"))
        for size in sorted(check_sizes):
            for i in range(members, size):
                for sim in sims:
                    sim.faults.set(latency=0)
                _join(engine, sims[i], f"member-{i + 1:02d}")
                for sim in sims:
                    sim.faults.set(latency=latency)
            rows[f"check ({size} members)"] = _measure(sims, lambda: engine.check_network(*NET))
        rows[f"remove (from {max([members] + check_sizes)})"] = _measure(
            sims, lambda: engine.remove_member(*NET, "member-01"))
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
    args = ap.parse_args()
    sizes = [int(s) for s in args.check_members.split(",") if s.strip()]
    workdir = tempfile.mkdtemp(prefix="bench-latency-")
    try:
        base = run(0.0, args.members, sizes, workdir)
        slow = run(args.latency, args.members, sizes, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ms = int(args.latency * 1000)
    print(f"latency {ms} ms per answer; baseline: the same operations at 0 ms, in this run")
    print(f"{'operation':<26}{'wall 0ms':>10}{f'wall {ms}ms':>12}{'requests':>10}{'wall/lat':>10}"
          f"{'in series':>11}")
    for name, (wall, requests) in slow.items():
        wall0 = base[name][0]
        ratio = wall / args.latency if args.latency else 0.0
        series = (wall - wall0) / args.latency if args.latency else 0.0
        print(f"{name:<26}{wall0:>10.2f}{wall:>12.2f}{requests:>10}{ratio:>10.1f}{series:>11.1f}")
    print("wall/lat: wall time / latency; in series: (wall - wall at 0 ms) / latency, the round "
          "trips waited for one after another")


if __name__ == "__main__":
    main()
