"""Benchmark (on demand, not a test): a member join's objects and requests.

1. The join's apply phase: the objects `manifests.render` produces for one member, applied
   to an emulated cluster by `apply_phases` and by `kubectl apply --server-side` (one per
   phase, plus `kubectl wait` for the CRDs), reported as the ratio kubectl / ours.
2. A whole join, re-apply and remove through the engine: API requests each sends and wall
   time, with the kubectl apply of the same objects as the baseline measured in this run.

    .venv/bin/python bench/bench_join.py [--rounds 3] [--version 1.5]
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

from bench_apply import run_kubectl, run_ours  # noqa: E402

from azext_appnet.engine import AppNet  # noqa: E402
from azext_appnet.manifests import MemberSpec, render  # noqa: E402
from azext_appnet.pki import NetworkPKI  # noqa: E402
from tests.fixtures import gateway_api  # noqa: E402
from tests.kubesim import KubeSim  # noqa: E402


def member_phases(workdir, version):
    pki = NetworkPKI("/subscriptions/0/resourceGroups/rg/providers/Microsoft.AppLink/appLinks/bench",
                     os.path.join(workdir, "keys"))
    pki.create_root("bench root CA")
    pki.ensure_intermediate("member-01")
    return render(MemberSpec(
        network_name="bench", network_id="/subscriptions/0/resourceGroups/rg/providers/Microsoft.AppLink/appLinks/bench",
        member_name="member-01", version=version, cacerts=pki.cacerts("member-01"), root_cert_pem=pki.root_pem()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--version", default="1.5")
    args = ap.parse_args()
    if not shutil.which("kubectl"):
        sys.exit("kubectl not found on PATH")
    workdir = tempfile.mkdtemp(prefix="bench-join-")
    sim = KubeSim(name="bench").start()
    apply_runs, join_runs = {}, {}
    try:
        phases = member_phases(workdir, args.version)
        total = sum(len(p.objects) for p in phases)
        for r in range(args.rounds):
            for tool, runner in (("ours", lambda: run_ours(sim, phases)),
                                 ("kubectl", lambda: run_kubectl(sim, phases, workdir))):
                sim.reset()
                gateway_api.install(sim)
                apply_runs.setdefault(tool, []).append(runner())

            sim.reset()
            gateway_api.install(sim)
            engine = AppNet(os.path.join(workdir, f"azure-{r}"))
            engine.create_network("rg1", "bench", "westus2")
            for label, call in (
                    ("join", lambda: engine.join_member("rg1", "bench", "member-01", kubeconfig=sim.kubeconfig_path,
                                                        context=sim.context, version=args.version)),
                    ("re-apply", lambda: engine.update_member("rg1", "bench", "member-01", east_west_gateway="Internal")),
                    ("remove", lambda: engine.remove_member("rg1", "bench", "member-01"))):
                before = len(sim.requests)
                t0 = time.perf_counter()
                call()
                join_runs.setdefault(label, []).append((time.perf_counter() - t0, len(sim.requests) - before))
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    med = lambda rows, i: statistics.median(row[i] for row in rows)  # noqa: E731
    print(f"member objects: {total} in {len(phases)} phases (AppNet {args.version}), {args.rounds} rounds")
    print(f"{'what':<22}{'median s':>10}{'requests':>10}")
    for tool, rows in apply_runs.items():
        print(f"{'apply: ' + tool:<22}{med(rows, 0):>10.3f}{med(rows, 1):>10.0f}")
    for label, rows in join_runs.items():
        print(f"{'engine: ' + label:<22}{med(rows, 0):>10.3f}{med(rows, 1):>10.0f}")
    baseline = med(apply_runs["kubectl"], 0)
    print(f"apply phase: kubectl / apply_phases = {baseline / med(apply_runs['ours'], 0):.2f}x")
    print(f"whole join / kubectl apply of its objects = {med(join_runs['join'], 0) / baseline:.2f}x")


if __name__ == "__main__":
    main()
