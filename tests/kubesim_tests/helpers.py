"""Shared helpers of kubesim's own tests: clients for a KubeSim, and kubectl."""
import shutil
import subprocess
import tempfile
import uuid

import pytest
from kubernetes import client, config

# The 1.32 client itself where it exists: the `kubectl` on PATH may be a dispatcher.
KUBECTL = shutil.which("kubectl.1.32") or shutil.which("kubectl")
needs_kubectl = pytest.mark.usefixtures("require_kubectl")


def api_client(sim, retries=None):
    """A Python-client ApiClient built from the sim's kubeconfig, as a user would.
    retries=False turns off urllib3's own retries (of connection errors, and of 429/503
    answers carrying Retry-After); it must be set before the client is built."""
    if retries is None:
        return config.new_client_from_config(config_file=sim.kubeconfig_path,
                                             context=sim.context)
    cfg = client.Configuration()
    config.load_kube_config(config_file=sim.kubeconfig_path, context=sim.context,
                            client_configuration=cfg)
    cfg.retries = retries
    return client.ApiClient(cfg)


def token_client(sim, token):
    """An ApiClient authenticating with `token` (CA from the kubeconfig)."""
    cfg = client.Configuration()
    cfg.host = sim.url
    f = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")
    f.write(sim.pki.ca_pem)
    f.close()
    cfg.ssl_ca_cert = f.name
    cfg.api_key = {"authorization": "Bearer " + token}
    return client.ApiClient(cfg)


def kubectl(sim, *args, check=True, token=None, stdin=None, kubeconfig=None):
    cmd = [KUBECTL, "--kubeconfig", kubeconfig or sim.kubeconfig_path,
           "--context", sim.context]
    if token:
        cmd += ["--token", token]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60,
                       input=stdin)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s failed (%d):\n%s\n%s"
                             % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def unique(prefix="t"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def make_ns(v1, prefix="t"):
    name = unique(prefix)
    v1.create_namespace({"metadata": {"name": name}})
    return name


def deployment(name, ns, labels=None, replicas=1, **container):
    labels = labels or {"app": name}
    c = {"name": "main", "image": "registry.example/app:1"}
    c.update(container)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [c]}}}}


def daemonset(name, ns, node_selector=None):
    labels = {"app": name}
    spec = {"containers": [{"name": "main", "image": "registry.example/ds:1"}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}}


def raw(api, method, path, body=None, content_type="application/json", query=None):
    """A raw REST call through the Python client's transport: (status, decoded body)."""
    import json as _json
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    params = api.param_serialize(method=method, resource_path=path,
                                 query_params=list((query or {}).items()),
                                 header_params=headers, body=body,
                                 auth_settings=["BearerToken"])
    resp = api.call_api(*params)
    data = resp.read()
    try:
        return resp.status, _json.loads(data)
    except ValueError:
        return resp.status, data
