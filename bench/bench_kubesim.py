"""Throughput of the kubesim API server emulator, with one client (run on demand):

    .venv/bin/python bench/bench_kubesim.py [--seconds 3]

Reports requests/second for GET /version (the baseline: TLS keep-alive, auth, routing, no
store work), GET of a ConfigMap, GET of a Deployment, and server-side apply of a
Deployment (validation, managedFields, controllers), each also as a ratio to the baseline,
so later benchmarks of `az appnet` can tell the emulator's own cost from theirs. Not a
test: numbers depend on the machine.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import yaml  # noqa: E402
from kubernetes import client, config  # noqa: E402

from tests.kubesim import KubeSim  # noqa: E402


def call(api, method, path, body=None, ctype=None):
    headers = {"Accept": "application/json"}
    if ctype:
        headers["Content-Type"] = ctype
    params = api.param_serialize(method=method, resource_path=path, header_params=headers,
                                 body=body, auth_settings=["BearerToken"])
    resp = api.call_api(*params)
    resp.read()
    if resp.status >= 300:
        raise RuntimeError("%s %s -> %d" % (method, path, resp.status))


def rate(fn, seconds):
    fn()                                   # warm-up (connection, caches)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="duration of each measure")
    a = ap.parse_args()
    with KubeSim(name="bench") as sim:
        api = config.new_client_from_config(config_file=sim.kubeconfig_path,
                                            context=sim.context)
        v1 = client.CoreV1Api(api)
        v1.create_namespaced_config_map("default", {"metadata": {"name": "cm"},
                                                    "data": {"k": "v"}})
        dep = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                            "containers": [{"name": "web", "image": "nginx:1", "ports": [
                                {"containerPort": 80}], "env": [{"name": "A", "value": "1"}]}]}}}}
        counter = [0]

        def apply():
            # Alternate a value so every apply is a real change (not a no-op).
            counter[0] += 1
            dep["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = \
                str(counter[0] % 2)
            call(api, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web"
                 "?fieldManager=bench&force=true", yaml.safe_dump(dep),
                 "application/apply-patch+yaml")

        apply()
        rows = [
            ("GET /version (baseline)", lambda: call(api, "GET", "/version")),
            ("GET configmap", lambda: call(api, "GET",
                                           "/api/v1/namespaces/default/configmaps/cm")),
            ("GET deployment", lambda: call(api, "GET",
                                            "/apis/apps/v1/namespaces/default/deployments/web")),
            ("server-side apply deployment", apply),
        ]
        results = [(name, rate(fn, a.seconds)) for name, fn in rows]
        base = results[0][1]
        print("kubesim throughput, one client, %.0fs each (%d requests answered)"
              % (a.seconds, len(sim.requests)))
        for name, r in results:
            print("  %-32s %8.0f req/s   %5.2fx baseline" % (name, r, r / base))


if __name__ == "__main__":
    main()
