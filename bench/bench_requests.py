"""Client CPU per Kubernetes request: N GETs and N LISTs against one emulated cluster.

The cluster runs in a child process (bench/sim_processes.py), so the parent's CPU time
(time.process_time) is the client's alone: URL handling, urllib3, TLS and JSON decoding.
Compare runs of two commits on the same quiet machine; the numbers are absolute.

    .venv/bin/python bench/bench_requests.py --requests 1000 --runs 3
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from azext_appnet.kube import connect  # noqa: E402


def _measure(cluster, n):
    """(µs of client CPU per GET, per LIST) over n of each."""
    start = time.process_time()
    for _ in range(n):
        cluster.request("GET", "/api/v1/namespaces/default")
    get = time.process_time() - start
    start = time.process_time()
    for _ in range(n):
        cluster.list("v1", "namespaces")
    listed = time.process_time() - start
    return get / n * 1e6, listed / n * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="GETs (and LISTs) per run")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from bench.sim_processes import ProcessSim
    sim = ProcessSim("bench").wait_started()
    try:
        cluster = connect(sim.kubeconfig_path, sim.context)
        _measure(cluster, 20)            # warm: discovery, first TLS handshakes, imports
        gets, lists = [], []
        for _ in range(args.runs):
            before = cluster.request_count
            get, listed = _measure(cluster, args.requests)
            assert cluster.request_count - before == 2 * args.requests
            gets.append(get)
            lists.append(listed)
        cluster.close()
    finally:
        sim.stop()
    print(f"client CPU per request, µs (median of {args.runs} runs of {args.requests}):")
    print(f"  GET  {statistics.median(gets):7.0f}   runs: " + " ".join(f"{g:.0f}" for g in gets))
    print(f"  LIST {statistics.median(lists):7.0f}   runs: " + " ".join(f"{v:.0f}" for v in lists))


if __name__ == "__main__":
    main()
