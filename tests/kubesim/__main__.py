"""python -m tests.kubesim --name c1 --kubeconfig out.yaml [--port 0] [--nodes 3]
[--windows-nodes 0] [--version 1.33] [--ready-delay 0] [--namespace-delete-delay 2]
[--latency 0] [--pod-termination-delay 1]:
serve one cluster until SIGINT/SIGTERM."""
import argparse
import signal
import sys
import threading

from .cluster import KubeSim


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tests.kubesim", description=__doc__)
    p.add_argument("--name", default="c1", help="cluster and kubeconfig context name")
    p.add_argument("--kubeconfig", required=True, help="kubeconfig file to write or merge")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--nodes", type=int, default=3, help="linux nodes")
    p.add_argument("--windows-nodes", type=int, default=0, help="windows nodes")
    p.add_argument("--version", default="1.33", help="Kubernetes version reported")
    p.add_argument("--ready-delay", type=float, default=0.0,
                   help="seconds before workloads become ready")
    p.add_argument("--namespace-delete-delay", type=float, default=2.0, metavar="SECONDS",
                   help="seconds a deleted namespace stays Terminating (default 2)")
    p.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                   help="seconds added to every answer, and twice that to every new "
                        "connection (TCP's and TLS's handshakes), as for an API server far "
                        "away (default 0)")
    p.add_argument("--pod-termination-delay", type=float, default=1.0, metavar="SECONDS",
                   help="seconds a deleted Pod stays Terminating while its containers stop, "
                        "at most its grace period (default 1)")
    a = p.parse_args(argv)
    nodes = [{"os": "linux", "zone": "eastus-%d" % (i % 3 + 1), "region": "eastus"}
             for i in range(a.nodes)]
    nodes += [{"os": "windows", "zone": "eastus-%d" % (i % 3 + 1), "region": "eastus"}
              for i in range(a.windows_nodes)]
    sim = KubeSim(name=a.name, version=a.version, nodes=nodes, ready_delay=a.ready_delay,
                  namespace_delete_delay=a.namespace_delete_delay, latency=a.latency,
                  pod_termination_delay=a.pod_termination_delay)
    sim.start(port=a.port)
    sim.write_kubeconfig(a.kubeconfig)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    print("kubesim %s serving %s (context %s, kubeconfig %s)"
          % (a.name, sim.url, sim.context, a.kubeconfig), file=sys.stderr, flush=True)
    print("%s %s" % (sim.url, sim.context), flush=True)
    while not done.wait(0.5):
        pass
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
