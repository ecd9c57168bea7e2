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

import logging
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
                 server_hostname=None, auth=None, basic_auth=None, ca_fingerprint=None):
        self.server = server
        #: SHA-256 of the CA certificate the kubeconfig pins (openssl's format), or None
        #: when it names none (the system store is trusted then): the cluster's identity.
        self.ca_fingerprint = ca_fingerprint
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
                "The kubeconfig %s cannot be read: %s. Pass a valid kubeconfig file with "
                "--kubeconfig." % (path, getattr(e, "strerror", None) or type(e).__name__)) from None
        current = _collect_contexts(doc, path, names, current)
    return names, current


def _collect_contexts(doc, where, names, current):
    """Add the context names of one kubeconfig document to `names`; return the current
    context (the one already found wins)."""
    if doc is None:
        return current
    if not isinstance(doc, dict):
        raise InvalidInputError(
            "kubeconfig %s is not a kubeconfig (a YAML mapping with clusters, users and "
            "contexts). Pass a valid kubeconfig file with --kubeconfig." % where)
    for ctx in doc.get("contexts") or []:
        if isinstance(ctx, dict) and ctx.get("name") and ctx["name"] not in names:
            names.append(ctx["name"])
    if current is None and doc.get("current-context"):
        current = doc["current-context"]
    return current


def resolve(kubeconfig=None, context=None):
    """The kubeconfig file(s) that exist and the context to use (default: the current
    context), reading only names: no kubernetes import, no credential touched. This is what
    a join checks up front. InvalidInputError for a missing file or an unknown context."""
    paths = kubeconfig_paths(kubeconfig)
    existing = [p for p in paths if os.path.isfile(p)]
    if not existing:
        shown = ", ".join(paths)
        raise InvalidInputError(
            "kubeconfig file not found: %s does not exist. Pass the path of an existing "
            "kubeconfig with --kubeconfig (for AKS: az aks get-credentials --file FILE)." % shown)

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
            "The kubeconfig %s has no context named '%s'. Contexts defined: %s. Pass one of "
            "them with --context." % (", ".join(existing), context, ", ".join(names)))
    return existing, context


def load(kubeconfig=None, context=None):
    """Read the kubeconfig and return a `ClusterConfig` for `context` (default: the
    current context). InvalidInputError for a missing file or an unknown context."""
    existing, context = resolve(kubeconfig, context)

    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigMerger

    try:
        merged = KubeConfigMerger(os.pathsep.join(existing)).config
    except ConfigException as e:
        raise InvalidInputError(
            "kubeconfig %s, context '%s': %s. Fix the kubeconfig or pick another context with "
            "--context." % (", ".join(existing), context, _scrub(str(e)))) from None
    return _config_from(merged, context, ", ".join(existing))


def load_dict(config_dict, context=None, source="in-memory kubeconfig", auth=None):
    """A `ClusterConfig` from a kubeconfig document held in memory (e.g. one fetched from
    Azure Resource Manager for an AKS cluster): nothing is read from or written to disk but
    the short-lived copies of inline certificates, removed before this returns.

    `context`: default the document's current-context. `source` names the document in
    messages. `auth`, when given, replaces the credentials of the context's user: an object
    with the kubernetes `Configuration` method `get_api_key_with_prefix(identifier,
    alias=None)` returning the `Authorization` header value; the user entry's token, exec
    plugin or auth-provider is then neither loaded nor run."""
    import copy

    names = []
    current = _collect_contexts(config_dict, source, names, None)
    if not names:
        raise InvalidInputError("%s has no contexts." % source)
    if context is None:
        if not current:
            raise InvalidInputError("%s has no current-context; contexts defined: %s."
                                    % (source, ", ".join(names)))
        context = current
    if context not in names:
        raise InvalidInputError("context '%s' not found in %s. Contexts defined: %s."
                                % (context, source, ", ".join(names)))
    doc = copy.deepcopy(config_dict)
    if auth is not None:
        user_name = next((c.get("context") or {}).get("user") for c in doc.get("contexts")
                         if isinstance(c, dict) and c.get("name") == context)
        for user in doc.get("users") or []:
            if isinstance(user, dict) and user.get("name") == user_name:
                user["user"] = {k: v for k, v in (user.get("user") or {}).items()
                                if k in ("client-certificate", "client-certificate-data",
                                         "client-key", "client-key-data")}
    config = _config_from(doc, context, source)
    if auth is not None:
        config._auth = auth                 # pylint: disable=protected-access
    return config


def _config_from(config_dict, context, where):
    """Load `context` of a kubeconfig document (dict or the client's ConfigNode) into a
    private client Configuration and build the `ClusterConfig`. `where` names it in
    messages."""
    with _LOADER_LOCK:
        return _config_from_locked(config_dict, context, where)


# The client caches the temporary files it writes in a module-wide dict keyed by content;
# we delete ours right after loading, so loads must not interleave (threads connecting to
# the same cluster would be handed a path another thread just deleted) and our entries
# must leave the cache with the files.
_LOADER_LOCK = threading.Lock()


def _config_from_locked(config_dict, context, where):
    # Imported here: the kubernetes package is slow to import and az loads us lazily.
    from kubernetes.client import Configuration
    from kubernetes.config import kube_config
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader

    _install_exec_env_filter(kube_config)
    tmpdir = tempfile.mkdtemp(prefix="appnet-kube-")   # 0700, removed below
    try:
        # config_persister=None: a refreshed token is never written back to the file.
        loader = KubeConfigLoader(config_dict=config_dict, active_context=context,
                                  config_base_path=None, temp_file_path=tmpdir)
        cfg = Configuration()
        loader.load_and_set(cfg)
        server = (cfg.host or "").rstrip("/")
        if not server or server == "http://localhost":
            raise InvalidInputError(
                "context '%s' of kubeconfig %s names no cluster server. Fix the cluster entry "
                "of that context." % (context, where))
        ssl_context = _ssl_context(cfg, context, where) if server.startswith("https") else None
        ca_fingerprint = _fingerprint(cfg.ssl_ca_cert) if cfg.ssl_ca_cert else None
    except ConfigException as e:
        raise InvalidInputError(
            "kubeconfig %s, context '%s': %s. Fix the kubeconfig or pick another context with "
            "--context." % (where, context, _scrub(str(e)))) from None
    except (OSError, ssl.SSLError) as e:
        raise InvalidInputError(
            "kubeconfig %s, context '%s': cannot load its TLS certificates (%s). Fix the "
            "certificate-authority / client-certificate / client-key entries."
            % (where, context, getattr(e, "strerror", None) or type(e).__name__)
        ) from None
    finally:
        # The client wrote inline certificates/keys here; they are in the SSL context now.
        shutil.rmtree(tmpdir, ignore_errors=True)
        cache = getattr(kube_config, "_temp_files", {})
        for key in [k for k, path in cache.items() if str(path).startswith(tmpdir)]:
            cache.pop(key, None)

    has_auth = bool(cfg.api_key) or cfg.refresh_api_key_hook is not None
    return ClusterConfig(
        server=server, ssl_context=ssl_context, context=context,
        kubeconfig=where, proxy=cfg.proxy or None,
        server_hostname=cfg.tls_server_name or None,
        auth=cfg if has_auth else None, ca_fingerprint=ca_fingerprint)


def _fingerprint(ca_file):
    """SHA-256 fingerprint of the first certificate of a PEM file, as `openssl x509
    -fingerprint -sha256` prints it."""
    import base64
    import hashlib
    import re
    with open(ca_file, "rb") as f:
        match = re.search(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", f.read(), re.S)
    if not match:
        return None
    digest = hashlib.sha256(base64.b64decode(b"".join(match.group(1).split()))).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def _install_exec_env_filter(kube_config):
    """Exec credential plugins (kubelogin, aws, gke-gcloud-auth-plugin, ...) are programs
    named by the kubeconfig: they get the environment as kubectl would give it, minus
    appnet's own secrets (key store passphrase, state connection string). The client builds
    its ExecProvider from os.environ on each (re)run; ours drops those before it starts."""
    from kubernetes.config.exec_provider import ExecProvider

    if getattr(kube_config.ExecProvider, "appnet_filtered", False):
        return

    class _SecretFreeExecProvider(ExecProvider):
        appnet_filtered = True

        def __init__(self, exec_config, cwd, cluster=None):
            super().__init__(exec_config, cwd, cluster)
            # What the kubeconfig's exec `env` sets on purpose is kept.
            wanted = {item.get("name") for item in (exec_config.safe_get("env") or [])
                      if hasattr(item, "get")}
            from ..redact import SECRET_ENV
            for name in SECRET_ENV:
                if name not in wanted:
                    self.env.pop(name, None)

    kube_config.ExecProvider = _SecretFreeExecProvider


def _ssl_context(cfg, context, where):
    """One SSLContext per cluster, holding the CA and client certificate in memory.

    As kubectl: a kubeconfig that names a CA trusts that CA alone, never the OS store (or
    SSL_CERT_FILE), which could let a public or TLS-inspecting CA receive the cluster's
    admin credential; the OS store is used only when the kubeconfig names no CA."""
    if not cfg.verify_ssl and cfg.ssl_ca_cert:
        # kubectl: "specifying a root certificates file with the insecure flag is not allowed"
        raise InvalidInputError(
            "kubeconfig %s, context '%s': the cluster sets both insecure-skip-tls-verify and a "
            "certificate authority; kubectl refuses that combination and so does appnet. Remove "
            "insecure-skip-tls-verify (keep the CA) from the cluster entry." % (where, context))
    if cfg.ssl_ca_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # verifies, checks the host name
        ctx.load_verify_locations(cafile=cfg.ssl_ca_cert)
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if cfg.cert_file and cfg.key_file:
        ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    if not cfg.verify_ssl:                       # insecure-skip-tls-verify: true
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        _warn_unverified(cfg.host, context, where)
    return ctx


_WARNED_UNVERIFIED = set()


def _warn_unverified(server, context, where):
    """Once per cluster and process: every request to it could be read or altered."""
    key = (server, context)
    if key in _WARNED_UNVERIFIED:
        return
    _WARNED_UNVERIFIED.add(key)
    logging.getLogger("azext_appnet.kube").warning(
        "The TLS certificate of %s (context '%s' of %s) is not verified "
        "(insecure-skip-tls-verify): anyone on the network path can read or change what is sent, "
        "including the cluster credential. Set certificate-authority-data for that cluster "
        "instead.", server, context, where)


def _scrub(text):
    """Config errors quote kubeconfig fragments; cut anything that looks like a secret."""
    from ..redact import scrub
    return scrub(text)
