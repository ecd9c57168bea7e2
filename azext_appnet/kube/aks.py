"""AKS clusters by ARM resource id: facts and credentials from Azure Resource Manager.

    fetch_kubeconfig(resource_id, credential)  -> Kubeconfig (a kubeconfig dict, in memory)
    connect_aks(resource_id, credential)       -> Cluster, as kube.connect() returns

Two ARM calls through azure-mgmt-core's `ARMPipelineClient` with an azure-core
`TokenCredential` (scope `<arm_endpoint>/.default` unless told otherwise):

1. `GET .../managedClusters/NAME` -- the facts a join checks before it touches the cluster:
   the Istio service mesh add-on (serviceMeshProfile.mode Istio), Windows-only agent pools,
   a stopped cluster; plus location, Kubernetes version, Entra (AAD) integration.
2. `POST .../listClusterUserCredential` -- `kubeconfigs[0].value`, a base64 kubeconfig.

A cluster with Entra integration answers with a kubeconfig whose user runs the `kubelogin`
exec plugin. We do not need that binary: the user's credentials are replaced by a bearer
token for the AKS AAD server application (`--server-id` of the plugin, by default the
well-known `6dae42f8-4368-4678-94ff-3960e28e3630`), taken from the same credential. The
token expires (about an hour); a `Cluster` from `connect_aks` asks the credential again
shortly before that, and every operation calls `connect_aks` anew, so nothing outlives it.

The kubeconfig is never written to disk or to the state store, and no token ever appears in
a message or a log line of ours.
"""

import base64
import logging
import re
import threading
import time

from ..constants import AKS_CLUSTER_ID_PATTERN, PUBLIC_ARM_ENDPOINT, USER_AGENT
from ..errors import ClusterError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

#: managedClusters API version: GA, has serviceMeshProfile and listClusterUserCredential.
API_VERSION = "2024-10-01"
#: The well-known application id of the Azure Kubernetes Service AAD Server.
AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
CLUSTER_USER_ROLE = "Azure Kubernetes Service Cluster User Role"
#: Ask the credential for a new AKS token this many seconds before the old one expires.
TOKEN_REFRESH_MARGIN = 300

_ID_RE = re.compile(AKS_CLUSTER_ID_PATTERN, re.I)


class Kubeconfig(dict):
    """A kubeconfig document (a plain mapping) plus what came with it:
    `facts` (see `cluster_facts`), `expires_on` (epoch seconds when the bearer token put in
    for an Entra user expires; None when the kubeconfig holds no token of ours) and
    `aad_server_id` (None for a cluster without Entra integration). Never write it to disk:
    the YAML safe dumper refuses this type, on purpose."""

    facts = None
    expires_on = None
    aad_server_id = None


def parse_cluster_id(resource_id):
    """(subscription, resource group, name) of an AKS cluster id; InvalidInputError else."""
    m = _ID_RE.match(str(resource_id or "").strip())
    if not m:
        raise InvalidInputError(
            f"Invalid AKS cluster resource id '{resource_id}'.",
            "Give the id of an AKS cluster: /subscriptions/SUB/resourceGroups/RG/providers/"
            "Microsoft.ContainerService/managedClusters/NAME ('az aks show --query id').")
    return m.group(1), m.group(2), m.group(3)


# ----------------------------------------------------------------------------- facts

def cluster_facts(managed_cluster):
    """What a join needs to know from the managedCluster resource."""
    props = managed_cluster.get("properties") or {}
    pools = {"linux": 0, "windows": 0}
    for pool in props.get("agentPoolProfiles") or []:
        os_type = str(pool.get("osType") or "Linux").lower()
        pools[os_type] = pools.get(os_type, 0) + 1
    aad = props.get("aadProfile") or None
    mesh = props.get("serviceMeshProfile") or {}
    return {
        "location": managed_cluster.get("location"),
        "kubernetesVersion": props.get("currentKubernetesVersion")
        or props.get("kubernetesVersion"),
        "aad": aad is not None,
        "azureRbac": bool((aad or {}).get("enableAzureRBAC")),
        "agentPools": pools,
        "istioAddon": str(mesh.get("mode") or "").lower() == "istio",
        "powerState": (props.get("powerState") or {}).get("code"),
        "provisioningState": props.get("provisioningState"),
        "fqdn": props.get("fqdn") or props.get("privateFQDN"),
    }


def check_facts(resource_id, facts):
    """Refuse a cluster that ARM already shows cannot join; every problem at once, each
    with its fix. ClusterError."""
    _, rg, name = parse_cluster_id(resource_id)
    problems, fixes = [], []
    if facts.get("powerState") == "Stopped":
        problems.append("the cluster is stopped")
        fixes.append(f"az aks start --resource-group {rg} --name {name}")
    if facts.get("istioAddon"):
        problems.append("the AKS Istio service mesh add-on is enabled "
                        "(serviceMeshProfile.mode Istio); it owns Istio's namespaces and CRDs")
        fixes.append(f"az aks mesh disable --resource-group {rg} --name {name}")
    pools = facts.get("agentPools") or {}
    if pools.get("windows") and not pools.get("linux"):
        problems.append(f"every agent pool runs Windows ({pools['windows']}); the mesh data plane "
                        "runs on Linux nodes")
        fixes.append(f"az aks nodepool add --resource-group {rg} --cluster-name {name} --name "
                     "linuxpool --os-type Linux")
    if problems:
        raise ClusterError(
            f"AKS cluster {resource_id} cannot join: {'; '.join(problems)}.",
            "Run: " + ", then ".join(fixes) + "; then run the command again.",
            code="ClusterNotEligible")


# ----------------------------------------------------------------------------- ARM

class _Credential:  # pylint: disable=too-few-public-methods  # a TokenCredential: get_token is all
    """Passes get_token through, turning whatever a credential raises (azure-identity's
    CredentialUnavailableError, azure-cli's AuthenticationError, ...) into azure-core's
    ClientAuthenticationError, so one handler gives the 'az login' advice."""

    def __init__(self, credential):
        self._credential = credential

    def get_token(self, *scopes, **kwargs):
        from azure.core.exceptions import ClientAuthenticationError
        try:
            return self._credential.get_token(*scopes, **kwargs)
        except ClientAuthenticationError:
            raise
        except Exception as e:                   # pylint: disable=broad-except
            raise ClientAuthenticationError(message=_scrub(str(e)) or type(e).__name__) from None


def _pipeline(credential, arm_endpoint, credential_scopes=None, **kwargs):
    from azure.core.configuration import Configuration
    from azure.core.pipeline import policies
    from azure.mgmt.core import ARMPipelineClient
    from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

    scopes = list(credential_scopes or [arm_endpoint.rstrip("/") + "/.default"])
    kwargs.setdefault("retry_total", 3)        # fail in seconds, not a minute, when ARM is down
    config = Configuration(**kwargs)
    config.user_agent_policy = policies.UserAgentPolicy(base_user_agent=USER_AGENT, **kwargs)
    config.headers_policy = policies.HeadersPolicy(**kwargs)
    config.proxy_policy = policies.ProxyPolicy(**kwargs)
    config.logging_policy = policies.NetworkTraceLoggingPolicy(**kwargs)
    config.http_logging_policy = ARMHttpLoggingPolicy(**kwargs)   # redacts Authorization
    config.retry_policy = policies.RetryPolicy(**kwargs)
    config.custom_hook_policy = policies.CustomHookPolicy(**kwargs)
    config.redirect_policy = policies.RedirectPolicy(**kwargs)
    config.authentication_policy = ARMChallengeAuthenticationPolicy(
        _Credential(credential), *scopes, **kwargs)
    return ARMPipelineClient(base_url=arm_endpoint.rstrip("/"), config=config, **kwargs)


def _send(client, method, resource_id, path, api_version, arm_endpoint, action):
    from azure.core.exceptions import AzureError, ClientAuthenticationError
    from azure.core.rest import HttpRequest

    url = arm_endpoint.rstrip("/") + resource_id + path
    request = HttpRequest(method, url, params={"api-version": api_version},
                          headers={"Accept": "application/json"})
    try:
        response = client.send_request(request)
    except ClientAuthenticationError as e:
        raise ClusterError(
            f"No Azure credential is available to read AKS cluster {resource_id}: "
            f"{_scrub(e.message or str(e))}",
            "Run 'az login' (or sign in the identity this runs as) and retry.",
            code="AuthenticationFailed") from None
    except AzureError as e:
        raise ClusterError(
            f"Cannot reach Azure Resource Manager at {arm_endpoint} to {action} AKS cluster "
            f"{resource_id}: {_scrub(e.message or type(e).__name__)}",
            f"Check the network connection to {arm_endpoint} and retry.",
            code="ArmUnreachable") from None
    status = response.status_code
    if 200 <= status < 300:
        try:
            return response.json()
        except ValueError:
            raise ClusterError(f"Azure Resource Manager at {arm_endpoint} answered {method} "
                               f"{resource_id + path} with a body that is not JSON.",
                               "Retry later; if it persists, check that the endpoint is Azure "
                               "Resource Manager (APPNET_ARM_ENDPOINT, or az's cloud).") from None
    code, message = _arm_error(response)
    if status == 404:
        raise NotFoundError(
            f"AKS cluster {resource_id} was not found ({code or 'NotFound'}).",
            "Check --member-resource-id ('az aks list --query [].id') and that you are logged "
            "in to the subscription that holds it ('az account show').")
    if status == 401:
        raise ClusterError(
            f"Azure Resource Manager rejected the credentials used to {action} AKS cluster "
            f"{resource_id} (401 {code or 'Unauthorized'}).",
            "Run 'az login' again (the login may have expired) and retry.",
            code="AuthenticationFailed")
    if status == 403:
        raise ClusterError(
            f"Not allowed to {action} AKS cluster {resource_id} (403 {code or 'Forbidden'}): {message}",
            f"The signed-in identity needs the '{CLUSTER_USER_ROLE}' role (actions "
            "Microsoft.ContainerService/managedClusters/read and "
            "listClusterUserCredential/action) on the cluster: az role assignment create "
            f"--role \"{CLUSTER_USER_ROLE}\" --assignee <identity> --scope {resource_id}",
            code="AuthorizationFailed")
    raise ClusterError(
        f"Azure Resource Manager refused to {action} AKS cluster {resource_id} (HTTP {status} "
        f"{code or ''}): {message}",
        "Retry later; if it persists, check the cluster in the Azure portal.",
        code=code or "ArmError")


def _arm_error(response):
    try:
        err = (response.json() or {}).get("error") or {}
        return err.get("code"), _scrub(str(err.get("message") or "no message"))[:500]
    except (ValueError, AttributeError):
        return None, _scrub(response.text()[:300]) or "no message"


def _fetch(resource_id, credential, arm_endpoint, api_version, check, **kwargs):
    """(kubeconfig dict as ARM gave it, facts)."""
    parse_cluster_id(resource_id)
    if credential is None:
        raise ClusterError(
            f"No Azure credential to read AKS cluster {resource_id} from Azure Resource Manager.",
            "Run 'az login' and retry.", code="AuthenticationFailed")
    arm_endpoint = (arm_endpoint or PUBLIC_ARM_ENDPOINT).rstrip("/")
    client = _pipeline(credential, arm_endpoint, **kwargs)
    try:
        facts = cluster_facts(_send(client, "GET", resource_id, "", api_version, arm_endpoint,
                                    "read"))
        if check:
            check_facts(resource_id, facts)
        body = _send(client, "POST", resource_id, "/listClusterUserCredential", api_version,
                     arm_endpoint, "list the user credentials of")
    finally:
        client.close()
    return _decode_kubeconfig(resource_id, body), facts


def _decode_kubeconfig(resource_id, body):
    import yaml
    try:
        value = ((body or {}).get("kubeconfigs") or [])[0]["value"]
        doc = yaml.safe_load(base64.b64decode(value))
    except (IndexError, KeyError, TypeError, ValueError, yaml.YAMLError):
        doc = None
    if not isinstance(doc, dict) or not doc.get("contexts"):
        raise ClusterError("Azure Resource Manager returned no usable kubeconfig for AKS "
                           f"cluster {resource_id}.",
                           "Check the cluster with 'az aks get-credentials --file -' and retry.")
    return doc


# ----------------------------------------------------------------------------- Entra

def _context_user(doc, context=None):
    context = context or doc.get("current-context")
    for ctx in doc.get("contexts") or []:
        if isinstance(ctx, dict) and ctx.get("name") == context:
            name = (ctx.get("context") or {}).get("user")
            for user in doc.get("users") or []:
                if isinstance(user, dict) and user.get("name") == name:
                    return user
    return None


def aad_server_id(doc, context=None):
    """The AKS AAD server application id when the context's user authenticates with Entra
    (kubelogin exec plugin, or the legacy `azure` auth-provider); None otherwise."""
    user = (_context_user(doc, context) or {}).get("user") or {}
    exe = user.get("exec") or {}
    if exe:
        args = [str(a) for a in exe.get("args") or []]
        command = str(exe.get("command") or "").replace("\\", "/").rsplit("/", 1)[-1]
        if command.lower().startswith("kubelogin") or "get-token" in args:
            for i, arg in enumerate(args):
                if arg == "--server-id" and i + 1 < len(args):
                    return args[i + 1]
                if arg.startswith("--server-id="):
                    return arg.split("=", 1)[1]
            return AKS_AAD_SERVER_APP_ID
        return None
    provider = user.get("auth-provider") or {}
    if provider.get("name") == "azure":
        return (provider.get("config") or {}).get("apiserver-id") or AKS_AAD_SERVER_APP_ID
    return None


class AksToken:
    """A bearer token for the AKS AAD server app, from a TokenCredential, renewed
    `TOKEN_REFRESH_MARGIN` seconds before it expires. Quacks like the kubernetes client's
    Configuration for `ClusterConfig` (`get_api_key_with_prefix`)."""

    def __init__(self, credential, server_id=AKS_AAD_SERVER_APP_ID, resource_id=None):
        self._credential = credential
        self.scope = f"{server_id}/.default"
        self._resource_id = resource_id
        self._token = None
        self.expires_on = None
        self._lock = threading.Lock()

    def token(self):
        with self._lock:
            if self._token is None or self.expires_on - TOKEN_REFRESH_MARGIN < time.time():
                try:
                    access = _Credential(self._credential).get_token(self.scope)
                except Exception as e:               # pylint: disable=broad-except
                    raise ClusterError(
                        f"Cannot get an Entra token for AKS cluster {self._resource_id or ''} "
                        f"(scope {self.scope}): {_scrub(getattr(e, 'message', None) or str(e))}",
                        "Run 'az login' and retry.", code="AuthenticationFailed") from None
                self._token, self.expires_on = access.token, int(access.expires_on)
            return self._token

    # The kubernetes client's Configuration calls it so; the token is the same for any key.
    def get_api_key_with_prefix(self, identifier=None, alias=None):  # pylint: disable=unused-argument
        return "Bearer " + self.token()

    def __repr__(self):
        return f"AksToken(scope={self.scope!r}, expires_on={self.expires_on!r})"


class AzureCliTokenCredential:
    """A TokenCredential backed by the Azure CLI's login: runs `az account get-access-token
    --scope SCOPE`, as azure-identity's AzureCliCredential does, for when that package is
    not installed (azure-cli from PyPI does not depend on it). For processes without an az
    context, e.g. a detached --no-wait worker; `az` must be on PATH (AZURE_CONFIG_DIR is
    inherited)."""

    def __init__(self, timeout=60):
        self.timeout = timeout

    def get_token(self, *scopes, **kwargs):  # pylint: disable=unused-argument  # TokenCredential's options
        import json
        import shutil
        import subprocess
        from azure.core.credentials import AccessToken
        from azure.core.exceptions import ClientAuthenticationError

        az = shutil.which("az")
        if not az:
            raise ClientAuthenticationError(message="the Azure CLI (az) is not on PATH")
        try:
            out = subprocess.run([az, "account", "get-access-token", "--output", "json",
                                  "--scope", scopes[0]], capture_output=True, text=True,
                                 timeout=self.timeout, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise ClientAuthenticationError(
                message=f"az account get-access-token failed: {type(e).__name__}") from None
        if out.returncode != 0:
            first = next((line for line in out.stderr.splitlines() if line.strip()), "")
            raise ClientAuthenticationError(message=_scrub(first.strip()[:300]) or
                                            "az account get-access-token failed")
        try:
            data = json.loads(out.stdout)
            expires = data.get("expires_on") or time.mktime(time.strptime(
                data["expiresOn"].split(".")[0], "%Y-%m-%d %H:%M:%S"))
            return AccessToken(data["accessToken"], int(expires))
        except (ValueError, KeyError, TypeError):
            raise ClientAuthenticationError(
                message="az account get-access-token gave no token") from None

    def __repr__(self):
        return "AzureCliTokenCredential()"


# ----------------------------------------------------------------------------- API

def fetch_kubeconfig(resource_id, credential, arm_endpoint=PUBLIC_ARM_ENDPOINT,
                     api_version=API_VERSION, check=True, **kwargs):
    """The user kubeconfig of AKS cluster `resource_id`, as a `Kubeconfig` (a dict held in
    memory only). For an Entra cluster the kubelogin user is replaced by a bearer token
    from `credential` for the AKS AAD server app; `.expires_on` says when it expires (fetch
    again for a new one). `check`: refuse clusters that cannot join (`check_facts`).
    `kwargs` go to the azure-core pipeline (e.g. connection_verify, retry_total).
    NotFoundError, ClusterError (403 names the role needed; no login says 'az login')."""
    doc, facts = _fetch(resource_id, credential, arm_endpoint, api_version, check, **kwargs)
    result = Kubeconfig(doc)
    result.facts = facts
    server_id = aad_server_id(doc)
    if server_id:
        token = AksToken(credential, server_id, resource_id)
        user = _context_user(result)
        user["user"] = {"token": token.token()}
        result.expires_on, result.aad_server_id = token.expires_on, server_id
    return result


def connect_aks(resource_id, credential, arm_endpoint=PUBLIC_ARM_ENDPOINT,
                api_version=API_VERSION, timeout=10, check=True, retry=None, **kwargs):
    """A `Cluster` (as `kube.connect()` returns) for AKS cluster `resource_id`, with its
    kubeconfig fetched from ARM now and kept in memory. An Entra cluster is reached with a
    bearer token from `credential`, renewed before it expires; no kubelogin is run.
    `cluster.aks` holds the ARM facts (see `cluster_facts`). `retry`: the Cluster's
    client.RetryPolicy. Errors as fetch_kubeconfig."""
    from .client import Cluster
    from .config import load_dict

    doc, facts = _fetch(resource_id, credential, arm_endpoint, api_version, check, **kwargs)
    server_id = aad_server_id(doc)
    auth = None
    if server_id:
        auth = AksToken(credential, server_id, resource_id)
        auth.token()                     # fail now, with a clear message, not mid-operation
    config = load_dict(doc, source=f"AKS cluster {resource_id}", auth=auth)
    cluster = Cluster(config, timeout=timeout, retry=retry)
    cluster.aks = dict(facts, resourceId=resource_id, aadServerId=server_id)
    return cluster


def _scrub(text):
    """Cut anything that looks like a bearer token or JWT out of a message."""
    from ..redact import scrub
    return scrub(str(text))
