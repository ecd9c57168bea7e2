"""Kubeconfig -> connection settings (server URL, TLS context, credential source).

The kubeconfig is read at each call and nothing it holds is kept by us beyond the life of
the returned object: the az extension must never store a cluster credential.

Authentication is delegated to the kubernetes client's `KubeConfigLoader` (bearer token,
token file, client certificate/key, exec plugins, oidc/gcp auth-providers, basic auth), but
loaded into a private `Configuration` — never the client's global default — so two
clusters in one process never share credentials. We then build our own `ssl.SSLContext`
from it, once, which lets us delete the temporary files the client writes for inline
`*-data` certificates and keys right away instead of leaving them until process exit.
"""

import os
import shutil
import ssl
import tempfile
import threading

from ..errors import InvalidInputError

DEFAULT_KUBECONFIG = "~/.kube/config"


class ClusterConfig:
    """What a `Cluster` needs to talk to one API server.

    `auth_header()` returns the current `Authorization` header value (or None); it may run
    an exec plugin again when the credential it produced has expired, which is why the
    header is not cached here.
    """

    def __init__(self, server, ssl_context, context, kubeconfig, proxy=None,
                 server_hostname=None, auth=None, basic_auth=None):
        self.server = server
        self.ssl_context = ssl_context
        self.context = context
        self.kubeconfig = kubeconfig
        self.proxy = proxy
        self.server_hostname = server_hostname
        self._auth = auth                  # kubernetes Configuration, or None
        self._lock = threading.Lock()       # the refresh hook is not thread-safe

    def auth_header(self):
        if self._auth is None:
            return None
        with self._lock:
            return self._auth.get_api_key_with_prefix("BearerToken", alias="authorization")

    def __repr__(self):                     # never show the credential
        return "ClusterConfig(server=%r, context=%r)" % (self.server, self.context)


def kubeconfig_paths(kubeconfig=None):
    """The kubeconfig file(s) to read, as kubectl would: the argument, else $KUBECONFIG
    (a list separated by os.pathsep), else ~/.kube/config."""
    if kubeconfig:
        return [os.path.expanduser(kubeconfig)]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [os.path.expanduser(p) for p in env.split(os.pathsep) if p]
    return [os.path.expanduser(DEFAULT_KUBECONFIG)]


def _read_contexts(paths):
    """Context names and the current context of the merged kubeconfig files (first file
    wins, as kubectl merges), validating just enough to give a clear error."""
    import yaml

    names, current = [], None
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError) as e:
            raise InvalidInputError(
                "cannot read kubeconfig %s: %s. Pass a valid kubeconfig file with --kubeconfig."
                % (path, getattr(e, "strerror", None) or type(e).__name__)) from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidInputError(
                "kubeconfig %s is not a kubeconfig (a YAML mapping with clusters, users and "
                "contexts). Pass a valid kubeconfig file with --kubeconfig." % path)
        for ctx in doc.get("contexts") or []:
            if isinstance(ctx, dict) and ctx.get("name") and ctx["name"] not in names:
                names.append(ctx["name"])
        if current is None and doc.get("current-context"):
            current = doc["current-context"]
    return names, current


def load(kubeconfig=None, context=None):
    """Read the kubeconfig and return a `ClusterConfig` for `context` (default: the
    current context). InvalidInputError for a missing file or an unknown context."""
    paths = kubeconfig_paths(kubeconfig)
    existing = [p for p in paths if os.path.isfile(p)]
    if not existing:
        shown = ", ".join(paths)
        raise InvalidInputError(
            "kubeconfig file not found: %s. Pass the path of an existing kubeconfig with "
            "--kubeconfig (for AKS: az aks get-credentials --file FILE)." % shown)

    names, current = _read_contexts(existing)
    if not names:
        raise InvalidInputError(
            "kubeconfig %s has no contexts. Pass a kubeconfig that defines the cluster's "
            "context." % ", ".join(existing))
    if context is None:
        if not current:
            raise InvalidInputError(
                "kubeconfig %s has no current-context. Name one with --context; contexts "
                "defined: %s." % (", ".join(existing), ", ".join(names)))
        context = current
    if context not in names:
        raise InvalidInputError(
            "context '%s' not found in kubeconfig %s. Contexts defined: %s. Pass one of them "
            "with --context." % (context, ", ".join(existing), ", ".join(names)))

    # Imported here: the kubernetes package is slow to import and az loads us lazily.
    from kubernetes.client import Configuration
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    tmpdir = tempfile.mkdtemp(prefix="appnet-kube-")   # 0700, removed below
    try:
        merged = KubeConfigMerger(os.pathsep.join(existing))
        # config_persister=None: a refreshed token is never written back to the file.
        loader = KubeConfigLoader(config_dict=merged.config, active_context=context,
                                  config_base_path=None, temp_file_path=tmpdir)
        cfg = Configuration()
        loader.load_and_set(cfg)
        server = (cfg.host or "").rstrip("/")
        if not server or server == "http://localhost":
            raise InvalidInputError(
                "context '%s' of kubeconfig %s names no cluster server. Fix the cluster entry "
                "of that context." % (context, ", ".join(existing)))
        ssl_context = _ssl_context(cfg) if server.startswith("https") else None
    except ConfigException as e:
        raise InvalidInputError(
            "kubeconfig %s, context '%s': %s. Fix the kubeconfig or pick another context with "
            "--context." % (", ".join(existing), context, _scrub(str(e)))) from None
    except (OSError, ssl.SSLError) as e:
        raise InvalidInputError(
            "kubeconfig %s, context '%s': cannot load its TLS certificates (%s). Fix the "
            "certificate-authority / client-certificate / client-key entries."
            % (", ".join(existing), context, getattr(e, "strerror", None) or type(e).__name__)
        ) from None
    finally:
        # The client wrote inline certificates/keys here; they are in the SSL context now.
        shutil.rmtree(tmpdir, ignore_errors=True)

    has_auth = bool(cfg.api_key) or cfg.refresh_api_key_hook is not None
    return ClusterConfig(
        server=server, ssl_context=ssl_context, context=context,
        kubeconfig=", ".join(existing), proxy=cfg.proxy or None,
        server_hostname=cfg.tls_server_name or None,
        auth=cfg if has_auth else None)


def _ssl_context(cfg):
    """One SSLContext per cluster, holding the CA and client certificate in memory."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if cfg.ssl_ca_cert:
        ctx.load_verify_locations(cafile=cfg.ssl_ca_cert)
    if cfg.cert_file and cfg.key_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    if not cfg.verify_ssl:                       # insecure-skip-tls-verify: true
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _scrub(text):
    """Config errors quote kubeconfig fragments; cut anything that looks like a secret."""
    import re
    return re.sub(r"(?i)(token|password|key|secret)([\"']?\s*[:=]\s*)\S+", r"\1\2***", text)
