"""Benchmark (on demand, not a test): apply_phases vs `kubectl apply --server-side`.

Applies the same objects, in the same phases, to the same emulated cluster (reset
between runs), once with `azext_appnet.kube.apply.apply_phases` and once with kubectl
(one `kubectl apply --server-side` per phase, plus `kubectl wait --for=condition=
Established` after the CRD phase, which is what apply_phases does itself). Each is run
twice: a first apply (creates) and a second one (no change). Prints wall time, the ratio
kubectl / ours, and the API requests each sent.

    .venv/bin/python bench/bench_apply.py [--objects 60] [--rounds 3] [--latency 0.0]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from azext_appnet.kube import connect  # noqa: E402
from azext_appnet.kube.apply import apply_phases  # noqa: E402
from tests.kubesim import KubeSim  # noqa: E402

NS = "applink-system"
LABELS = {"app.kubernetes.io/managed-by": "az-appnet", "appnet.azure.com/member": "bench"}


class Phase:
    def __init__(self, name, objects):
        self.name, self.objects = name, objects


def make_phases(n):
    """About n objects shaped like a join: CRDs, namespace + config, RBAC, workloads."""
    def meta(name, ns=None):
        return dict({"name": name, "labels": dict(LABELS)}, **({"namespace": ns} if ns else {}))
    n_crd = max(1, n // 10)
    crds = [{
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": meta("things%d.bench.appnet.io" % i),
        "spec": {"group": "bench.appnet.io", "scope": "Namespaced",
                 "names": {"kind": "Thing%d" % i, "plural": "things%d" % i},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": True}}}]},
    } for i in range(n_crd)]
    config = [{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(NS)}]
    rest = n - n_crd - 1
    n_cm = max(1, rest // 3)
    n_rbac = max(1, rest // 3)
    n_dep = max(1, rest - n_cm - n_rbac)
    config += [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("cm%d" % i, NS),
                "data": {"mesh": "x" * 200}} for i in range(n_cm)]
    rbac = [{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("sa%d" % i, NS)}
            for i in range(n_rbac)]
    for i in range(n_crd):
        rbac.append({"apiVersion": "bench.appnet.io/v1", "kind": "Thing%d" % i,
                     "metadata": meta("t%d" % i, NS), "spec": {"x": i}})
    workloads = [{
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("d%d" % i, NS),
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d%d" % i}},
                 "template": {"metadata": {"labels": {"app": "d%d" % i}},
                              "spec": {"containers": [{"name": "c",
                                                       "image": "docker.io/istio/pilot:1"}]}}},
    } for i in range(n_dep)]
    return [Phase("CRDs", crds), Phase("config", config), Phase("rbac", rbac),
            Phase("workloads", workloads)]


def run_ours(sim, phases):
    cluster = connect(kubeconfig=sim.kubeconfig_path, context=sim.context)
    t0 = time.perf_counter()
    apply_phases(cluster, phases)
    return time.perf_counter() - t0, cluster.request_count


def run_kubectl(sim, phases, workdir):
    files = []
    for i, phase in enumerate(phases):
        path = os.path.join(workdir, "%02d-%s.yaml" % (i, phase.name))
        with open(path, "w") as f:
            yaml.safe_dump_all(phase.objects, f)
        files.append((path, phase))
    base = ["kubectl", "--kubeconfig", sim.kubeconfig_path, "--context", sim.context]
    before = len(sim.requests)
    t0 = time.perf_counter()
    for path, phase in files:
        subprocess.run(base + ["apply", "--server-side", "--field-manager", "az-appnet",
                               "--force-conflicts", "-f", path],
                       check=True, capture_output=True)
        crds = [o["metadata"]["name"] for o in phase.objects
                if o["kind"] == "CustomResourceDefinition"]
        if crds:
            subprocess.run(base + ["wait", "--for=condition=Established", "--timeout=60s"]
                           + ["crd/" + c for c in crds], check=True, capture_output=True)
    return time.perf_counter() - t0, len(sim.requests) - before


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--objects", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency", type=float, default=0.0,
                    help="seconds of latency the emulator adds to every request")
    args = ap.parse_args()
    if not shutil.which("kubectl"):
        sys.exit("kubectl not found on PATH")

    phases = make_phases(args.objects)
    total = sum(len(p.objects) for p in phases)
    sim = KubeSim(name="bench")
    sim.start()
    workdir = tempfile.mkdtemp(prefix="bench-apply-")
    results = {}
    try:
        for tool in ("ours", "kubectl"):
            for r in range(args.rounds):
                sim.reset()
                if args.latency:
                    sim.faults.set(latency=args.latency)
                for label in ("create", "no-change"):
                    if tool == "ours":
                        secs, reqs = run_ours(sim, phases)
                    else:
                        secs, reqs = run_kubectl(sim, phases, workdir)
                    results.setdefault((tool, label), []).append((secs, reqs))
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    print("%d objects in %d phases, %d rounds, latency %.3fs per request"
          % (total, len(phases), args.rounds, args.latency))
    print("%-10s %-10s %10s %10s" % ("tool", "apply", "median s", "requests"))
    for (tool, label), rows in sorted(results.items()):
        print("%-10s %-10s %10.3f %10d" % (tool, label,
                                           statistics.median(s for s, _ in rows),
                                           statistics.median(q for _, q in rows)))
    for label in ("create", "no-change"):
        ours = statistics.median(s for s, _ in results[("ours", label)])
        kubectl = statistics.median(s for s, _ in results[("kubectl", label)])
        print("%s: kubectl / apply_phases = %.2fx" % (label, kubectl / ours))


if __name__ == "__main__":
    main()
