"""The demo mesh: three emulated clusters joined into one Application Network by `az`.

Everything runs on this machine: the clusters are tests/kubesim API servers on loopback,
`az` is azure-cli from PyPI with the extension installed from dist/, and its config, state
and keys live under .demo/ (AZURE_CONFIG_DIR), so the demo touches nothing of yours.
"""

import argparse
import base64
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fixtures import gateway_api  # noqa: E402
from tests.kubesim import KubeSim  # noqa: E402

AZ = pathlib.Path(sys.executable).parent / "az"
DEMO = ROOT / ".demo"


def say(text):
    print(f"\n\033[1m## {text}\033[0m", flush=True)


def run(*args, env, check=True, stdin=None):
    print(f"$ {' '.join(shlex.quote(str(a)) for a in args)}", flush=True)
    proc = subprocess.run([str(a) for a in args], env=env, text=True, stdout=subprocess.PIPE, input=stdin)
    print(proc.stdout, end="", flush=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"command failed with exit code {proc.returncode}")
    return proc


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="leave the mesh running until Ctrl-C")
    args = parser.parse_args()

    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir()
    env = dict(os.environ, AZURE_CONFIG_DIR=str(DEMO / "azure"), AZURE_EXTENSION_DIR=str(DEMO / "extensions"),
               AZURE_CORE_COLLECT_TELEMETRY="no", AZURE_CORE_ONLY_SHOW_ERRORS="true")
    env.pop("APPNET_STATE_PATH", None)
    az = lambda *a, **k: run(AZ, *a, env=env, **k)  # noqa: E731

    say("Install the extension from its wheel into an isolated az")
    wheel = sorted((ROOT / "dist").glob("appnet-*-py3-none-any.whl"))[-1]
    az("extension", "add", "--source", wheel, "-y")

    say("Start three emulated clusters (Kubernetes API servers on loopback)")
    kubeconfig = DEMO / "kubeconfig"
    sims = []
    for name, region in (("east", "eastus2"), ("west", "westus2"), ("central", "centralus")):
        sim = KubeSim(name=name, nodes=[{"os": "linux", "zone": f"{region}-{i}", "region": region}
                                        for i in (1, 2, 3)], ready_delay=0.5).start()
        gateway_api.install(sim)  # as AKS's managed Gateway API add-on would
        sim.write_kubeconfig(str(kubeconfig))
        sims.append(sim)
        print(f"  {name}: {sim.url}")
    try:
        say("What versions can members run?")
        az("appnet", "list-versions", "-l", "westus2", "--kubernetes-version", "1.33", "-o", "table")

        say("Create the Application Network (its root CA lives in the local key store)")
        az("appnet", "create", "-g", "demo-rg", "-n", "demo-net", "-l", "westus2", "--tags", "env=demo",
           "--query", "{name:name, state:properties.provisioningState, root:properties.certificateAuthority.root.subject}")

        say("Join east and west (west in the background, as a pipeline step would)")
        base = ["-g", "demo-rg", "--appnet-name", "demo-net", "--kubeconfig", kubeconfig]
        az("appnet", "member", "join", *base, "--member-name", "east", "--context", "east", "-o", "none")
        az("appnet", "member", "join", *base, "--member-name", "west", "--context", "west",
           "--east-west-gateway", "External", "--no-wait")
        az("appnet", "member", "wait", "-g", "demo-rg", "--appnet-name", "demo-net", "--member-name", "west",
           "--created", "--interval", "2")

        say("Join central at an older version, then upgrade it by one minor")
        from azext_appnet.versions import load_catalog
        oldest, next_one = load_catalog().names()[:2]
        az("appnet", "member", "join", *base, "--member-name", "central", "--context", "central",
           "--version", oldest, "-o", "none")
        az("appnet", "member", "update", "-g", "demo-rg", "--appnet-name", "demo-net", "--member-name", "central",
           "--version", next_one, "-o", "none")
        az("appnet", "member", "list", "-g", "demo-rg", "--appnet-name", "demo-net", "-o", "table")

        say("Check the whole network live: every member's data plane, CA and links")
        az("appnet", "check", "-g", "demo-rg", "-n", "demo-net", "-o", "table")

        say("Declare once for the whole network: an ambient namespace, a global service, a waypoint")
        net = ["-g", "demo-rg", "--appnet-name", "demo-net"]
        cart = ("apiVersion: v1\nkind: Service\nmetadata: {name: cart, namespace: shop, labels: {app: cart}}\n"
                "spec: {selector: {app: cart}, ports: [{name: http, port: 80, targetPort: 8080}]}\n")
        run("kubectl", "--kubeconfig", kubeconfig, "--context", "east", "create", "namespace", "shop", env=env)
        run("kubectl", "--kubeconfig", kubeconfig, "--context", "east", "apply", "-f", "-", env=env, stdin=cart)
        # The endpoint controller of a real cluster keeps this for cart's running pod.
        sims[0].put_object({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                            "metadata": {"name": "cart-x1", "namespace": "shop",
                                         "labels": {"kubernetes.io/service-name": "cart"}},
                            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
                            "endpoints": [{"addresses": ["10.244.0.17"], "conditions": {"ready": True}}]})
        az("appnet", "namespace", "enable", *net, "--namespace", "shop", "-o", "table")
        az("appnet", "global-service", "add", *net, "--namespace", "shop", "--service", "cart", "-o", "table")
        az("appnet", "waypoint", "create", *net, "--namespace", "shop", "-o", "table")
        az("appnet", "show", "-g", "demo-rg", "-n", "demo-net", "--query", "properties.declarations")
        az("appnet", "global-service", "list", *net, "-o", "table")
        az("appnet", "waypoint", "list", *net, "-o", "table")

        say("A fourth cluster joins and gets every declaration with its data plane")
        north = KubeSim(name="north", nodes=[{"os": "linux", "zone": f"northeurope-{i}", "region": "northeurope"}
                                             for i in (1, 2, 3)], ready_delay=0.5).start()
        gateway_api.install(north)
        north.write_kubeconfig(str(kubeconfig))
        sims.append(north)
        az("appnet", "member", "join", *base, "--member-name", "north", "--context", "north", "-o", "none")
        run("kubectl", "--kubeconfig", kubeconfig, "--context", "north", "get", "namespace", "shop",
            "--show-labels", env=env, check=False)
        run("kubectl", "--kubeconfig", kubeconfig, "--context", "north", "get", "services,gateways", "-n", "shop",
            "--show-labels", env=env, check=False)
        az("appnet", "namespace", "list", *net, "-o", "table")
        az("appnet", "check", "-g", "demo-rg", "-n", "demo-net", "--query",
           "checks[?contains(['globalServiceScope','globalServiceEndpoints','waypointsGlobal','useWaypoint',"
           "'ambientNamespaces'], name)].{check:name, status:status}", "-o", "table")

        say("kubectl sees the data plane in every cluster")
        for sim in sims:
            run("kubectl", "--kubeconfig", kubeconfig, "--context", sim.context, "get",
                "deployments,daemonsets,gateways", "-n", "applink-system", env=env, check=False)

        say("Every member's istiod reads the others' API servers through remote secrets")
        for sim in sims:
            run("kubectl", "--kubeconfig", kubeconfig, "--context", sim.context, "get", "secrets", "-n",
                "applink-system", "-l", "istio/multiCluster=true", env=env, check=False)

        say("Each member's intermediate CA chains to the one network root (openssl verify)")
        with tempfile.TemporaryDirectory() as tmp:
            for sim in sims:
                data = sim.get_object("v1", "secrets", "applink-system", "cacerts")["data"]
                root, ca = pathlib.Path(tmp, "root.pem"), pathlib.Path(tmp, f"{sim.name}.pem")
                root.write_bytes(base64.b64decode(data["root-cert.pem"]))
                ca.write_bytes(base64.b64decode(data["ca-cert.pem"]))
                run("openssl", "verify", "-CAfile", root, ca, env=env)

        say("The CA: one root, an intermediate per member (fingerprints and due dates, never a key)")
        az("appnet", "ca", "show", "-g", "demo-rg", "-n", "demo-net", "-o", "table")

        if args.keep:
            say(f"The mesh stays up. kubectl --kubeconfig {kubeconfig} --context east get pods -A; "
                f"AZURE_CONFIG_DIR={DEMO / 'azure'} AZURE_EXTENSION_DIR={DEMO / 'extensions'} {AZ} appnet ... "
                "Ctrl-C ends it.")
            try:
                while True:
                    import time
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass

        say("Remove the members and delete the network")
        for sim in sims:
            az("appnet", "member", "remove", "-g", "demo-rg", "--appnet-name", "demo-net",
               "--member-name", sim.name, "--yes")
        az("appnet", "delete", "-g", "demo-rg", "-n", "demo-net", "--yes")
        az("appnet", "list", "-o", "table")
        left = [o["metadata"]["name"] for sim in sims for o in
                sim.list_objects("v1", "namespaces", label_selector="app.kubernetes.io/managed-by=az-appnet")]
        print(f"objects of ours left on the clusters: {left or 'none'}")
    finally:
        for sim in sims:
            sim.stop()
    say("Demo finished")


if __name__ == "__main__":
    main()
