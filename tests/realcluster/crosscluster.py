"""Cross-cluster traffic on real clusters, checked with kubectl as a user would.

Shared by scripts/try-on-kind.sh and the opt-in real-cluster test, so both run the same
checks: in every member cluster, namespace `appnet-demo` (ambient) gets a `echo` service
labelled istio.io/global=true that answers "hello from <member>", a `client`, and a
PeerAuthentication that requires mTLS; namespace `appnet-outside` (not in the mesh) gets a
client too. Then:

- from each mesh client, requests to echo.appnet-demo are answered by every member;
- from the outside client, the same request is refused (STRICT mTLS is enforced, so the
  answers the mesh clients got came over mTLS).

    python -m tests.realcluster.crosscluster --kubeconfig FILE --context east=CTX1 --context west=CTX2
"""

import argparse
import json
import subprocess
import sys
import time

DEMO, OUTSIDE = "appnet-demo", "appnet-outside"
ECHO_IMAGE = "hashicorp/http-echo:1.0"
CURL_IMAGE = "curlimages/curl:8.11.1"


def _kubectl(kubeconfig, context, *args, stdin=None, check=True, timeout=300):
    proc = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "--context", context, *args],
                          input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args[:3])} on {context}: {proc.stderr.strip()}")
    return proc


def manifests(member):
    """The demo objects for one member cluster, as a list of dicts."""
    def deployment(name, namespace, container, labels=None):
        labels = dict(labels or {}, app=name)
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": labels},
                                      "spec": {"serviceAccountName": name if namespace == DEMO else "default",
                                               "containers": [container]}}}}
    sleeper = {"name": "curl", "image": CURL_IMAGE, "command": ["sleep", "infinity"]}
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": DEMO, "labels": {"istio.io/dataplane-mode": "ambient"}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OUTSIDE}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "echo", "namespace": DEMO}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "client", "namespace": DEMO}},
        deployment("echo", DEMO, {"name": "echo", "image": ECHO_IMAGE,
                                  "args": [f"-text=hello from {member}", "-listen=:8080"],
                                  "ports": [{"containerPort": 8080}]}),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "echo", "namespace": DEMO, "labels": {"istio.io/global": "true"}},
         "spec": {"selector": {"app": "echo"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        deployment("client", DEMO, dict(sleeper)),
        deployment("client", OUTSIDE, dict(sleeper)),
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
         "metadata": {"name": "default", "namespace": DEMO}, "spec": {"mtls": {"mode": "STRICT"}}},
    ]


def deploy(kubeconfig, contexts):
    """Apply the demo objects in every member cluster and wait for their rollout."""
    for member, context in contexts.items():
        text = "\n".join(json.dumps(o) for o in manifests(member))
        _kubectl(kubeconfig, context, "apply", "-f", "-", stdin=text)
    for member, context in contexts.items():
        for namespace, name in ((DEMO, "echo"), (DEMO, "client"), (OUTSIDE, "client")):
            _kubectl(kubeconfig, context, "rollout", "status", f"deployment/{name}", "-n", namespace,
                     "--timeout=300s", timeout=330)


def _ask(kubeconfig, context, namespace, count):
    script = ("for i in $(seq 1 %d); do curl -s --max-time 3 http://echo.%s.svc.cluster.local/ "
              "|| echo REFUSED; done" % (count, DEMO))
    proc = _kubectl(kubeconfig, context, "exec", "-n", namespace, "deploy/client", "--", "sh", "-c",
                    script, check=False, timeout=count * 5 + 60)
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def verify(kubeconfig, contexts, rounds=20, pause=15, requests=30, say=print):
    """True when every mesh client hears every member and the outside client is refused.
    Discovery across clusters takes a little while after a join: up to `rounds` tries."""
    members = set(contexts)
    ok = True
    for member, context in contexts.items():
        heard = set()
        for attempt in range(1, rounds + 1):
            answers = _ask(kubeconfig, context, DEMO, requests)
            heard |= {a[len("hello from "):] for a in answers if a.startswith("hello from ")}
            if heard >= members:
                break
            say(f"  {member}: heard {sorted(heard) or 'nothing'} so far (try {attempt}/{rounds})")
            time.sleep(pause)
        say(f"  {member}: the mesh client got answers from {sorted(heard) or 'nobody'}")
        ok &= heard >= members
        outside = _ask(kubeconfig, context, OUTSIDE, 3)
        refused = all(not a.startswith("hello from ") for a in outside)
        say(f"  {member}: a client outside the mesh was "
            f"{'refused (STRICT mTLS holds)' if refused else 'answered: mTLS is NOT enforced'}")
        ok &= refused
    return ok


def clean(kubeconfig, contexts):
    for context in contexts.values():
        _kubectl(kubeconfig, context, "delete", "namespace", DEMO, OUTSIDE, "--ignore-not-found",
                 "--wait=false", check=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--context", action="append", required=True, metavar="MEMBER=CONTEXT")
    parser.add_argument("--clean", action="store_true", help="delete the demo namespaces and exit")
    args = parser.parse_args(argv)
    contexts = dict(c.split("=", 1) for c in args.context)
    if args.clean:
        clean(args.kubeconfig, contexts)
        return 0
    print(f"Deploying the demo workloads in {', '.join(contexts)}")
    deploy(args.kubeconfig, contexts)
    print("Checking cross-cluster answers and mTLS")
    ok = verify(args.kubeconfig, contexts)
    print("PASSED: every member answered every member's clients over mTLS" if ok
          else "FAILED: see the lines above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
