"""Writing kubeconfig files, merging several clusters into one file."""
import base64
import os

import yaml


def _upsert(items, name, key, value):
    for it in items:
        if it.get("name") == name:
            it[key] = value
            return
    items.append({"name": name, key: value})


def write_kubeconfig(path, context, server, ca_pem, token):
    """Create or merge `path` so it holds cluster/user/context all named `context`.

    The current-context is set only when the file has none, so a file built for several
    clusters keeps pointing at the first one.
    """
    cfg = None
    if os.path.exists(path):
        with open(path) as f:
            cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        cfg = {"apiVersion": "v1", "kind": "Config", "preferences": {}}
    for k in ("clusters", "users", "contexts"):
        if not isinstance(cfg.get(k), list):
            cfg[k] = []
    _upsert(cfg["clusters"], context, "cluster", {
        "server": server,
        "certificate-authority-data": base64.b64encode(ca_pem).decode()})
    _upsert(cfg["users"], context, "user", {"token": token})
    _upsert(cfg["contexts"], context, "context", {"cluster": context, "user": context})
    if not cfg.get("current-context"):
        cfg["current-context"] = context
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp%d" % os.getpid()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f, default_flow_style=False, sort_keys=False)
    os.replace(tmp, path)
    return path
