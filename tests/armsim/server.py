"""ArmSim: the Azure Resource Manager subset that joining an AKS cluster uses, over HTTPS
on loopback, with a CA made at run time (tests/kvsim/tls.py).

- `GET  /subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/
  managedClusters/NAME?api-version=V` -> the managedCluster (location, kubernetesVersion,
  aadProfile, agentPoolProfiles[].osType, serviceMeshProfile, powerState);
- `POST .../managedClusters/NAME/listClusterUserCredential?api-version=V[&format=exec|azure]`
  -> `{"kubeconfigs": [{"name": "clusterUser", "value": base64(YAML)}]}`, the kubeconfig
  pointing at a running `tests.kubesim.KubeSim`: a token user for a cluster without Entra
  integration, a kubelogin exec-plugin user (or, with format=azure, the legacy `azure`
  auth-provider) for an Entra cluster.

Every request needs `Authorization: Bearer <arm.token>`: none gives 401 with ARM's
WWW-Authenticate challenge, a wrong one 401 InvalidAuthenticationToken. Ids match
case-insensitively, as in ARM. A missing api-version is 400, an unknown cluster 404
ResourceNotFound, an action in `forbidden` 403 AuthorizationFailed. `requests` records
(method, path, status, authorized) -- never a token.
"""

import base64
import json
import re
import secrets
import ssl
import threading
import urllib.request
from urllib.parse import parse_qs, urlsplit

import yaml

from tests.kvsim.https import LoopbackHandler, LoopbackHttpsServer

AKS_AAD_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"
#: The Azure CLI's public client id, which `az aks get-credentials` writes into kubelogin args.
AZURE_CLI_CLIENT_ID = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

_ID = re.compile(r"^(/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/"
                 r"Microsoft\.ContainerService/managedClusters/([^/]+))(/[^/]+)?$", re.I)


class ArmSim(LoopbackHttpsServer):
    """An HTTPS emulator of the ARM managedClusters subset. `with ArmSim() as arm:`."""

    name = "armsim"

    def __init__(self, token=None):
        super().__init__()
        self.token = token or secrets.token_urlsafe(32)
        self.clusters = {}            # lower-case id -> managedCluster dict
        self._kube = {}               # lower-case id -> kubeconfig settings
        #: (resource id, action) pairs refused with 403; action: "read" or
        #: "listClusterUserCredential" (any case in the id).
        self.forbidden = set()
        self.requests = []
        self._lock = threading.Lock()

    @property
    def scope(self):
        """The scope a client asks a credential for to call this ARM."""
        return self.url + "/.default"

    # -- lifecycle --------------------------------------------------------------------

    def handler_class(self):
        sim = self

        class Handler(_Handler):
            arm = sim
        return Handler

    def client_options(self):
        """Keyword arguments for the azure-core pipeline to trust this emulator."""
        return {"connection_verify": self.ca_file}

    # -- set-up -------------------------------------------------------------------------

    def add_cluster(self, resource_id, kubesim=None, aad=False, location="eastus",
                    kubernetes_version=None, agent_pools=None, istio_addon=False,
                    power_state="Running", azure_rbac=False, server_id=AKS_AAD_SERVER_APP_ID,
                    server=None, ca_pem=None, user_token=None):
        """Register an AKS cluster backed by `kubesim` (or by `server`/`ca_pem`/`user_token`).
        `agent_pools`: list of osType strings ("Linux", "Windows"), default one Linux
        pool. Returns the managedCluster resource."""
        m = _ID.match(resource_id)
        if not m or m.group(4):
            raise ValueError("not an AKS cluster id: %s" % resource_id)
        rg, name = m.group(2), m.group(3)
        version = kubernetes_version or (kubesim.version if kubesim else "1.33")
        if version.count(".") < 2:
            version += ".0"
        pools = [{"name": "nodepool%d" % (i + 1) if os_type == "Linux" else "win%d" % (i + 1),
                  "count": 3, "vmSize": "Standard_D4s_v5", "osType": os_type,
                  "osSKU": "Ubuntu" if os_type == "Linux" else "Windows2022",
                  "mode": "System" if i == 0 else "User", "type": "VirtualMachineScaleSets",
                  "provisioningState": "Succeeded", "powerState": {"code": power_state}}
                 for i, os_type in enumerate(agent_pools or ["Linux"])]
        props = {
            "provisioningState": "Succeeded", "powerState": {"code": power_state},
            "kubernetesVersion": version, "currentKubernetesVersion": version,
            "dnsPrefix": name + "-dns", "fqdn": "%s-dns-0a1b2c3d.hcp.%s.azmk8s.io"
                                                % (name, location),
            "agentPoolProfiles": pools, "enableRBAC": True,
            "nodeResourceGroup": "MC_%s_%s_%s" % (rg, name, location),
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay"},
            "serviceMeshProfile": ({"mode": "Istio", "istio": {"revisions": ["asm-1-25"]}}
                                   if istio_addon else {"mode": "Disabled"}),
        }
        if aad:
            props["aadProfile"] = {"managed": True, "enableAzureRBAC": azure_rbac,
                                   "tenantID": TENANT_ID, "adminGroupObjectIDs": []}
        cluster = {"id": resource_id, "name": name, "location": location,
                   "type": "Microsoft.ContainerService/ManagedClusters",
                   "sku": {"name": "Base", "tier": "Free"}, "properties": props}
        with self._lock:
            self.clusters[resource_id.lower()] = cluster
            self._kube[resource_id.lower()] = {
                "rg": rg, "name": name, "aad": aad, "server_id": server_id,
                "server": server or (kubesim.url if kubesim else None),
                "ca_pem": ca_pem or (kubesim.pki.ca_pem if kubesim else None),
                "token": user_token or (kubesim.admin_token if kubesim else None)}
        return cluster

    def forbid(self, resource_id, action="listClusterUserCredential"):
        self.forbidden.add((resource_id.lower(), action.lower()))

    def kubeconfig(self, resource_id, fmt=None):
        """The kubeconfig document listClusterUserCredential returns (a dict)."""
        k = self._kube[resource_id.lower()]
        user_name = "clusterUser_%s_%s" % (k["rg"], k["name"])
        cluster = {"server": k["server"]}
        if k["ca_pem"]:
            cluster["certificate-authority-data"] = base64.b64encode(k["ca_pem"]).decode()
        if not k["aad"]:
            user = {"token": k["token"]}
        elif fmt == "azure":
            user = {"auth-provider": {"name": "azure", "config": {
                "apiserver-id": k["server_id"], "client-id": AZURE_CLI_CLIENT_ID,
                "config-mode": "1", "environment": "AzurePublicCloud",
                "tenant-id": TENANT_ID}}}
        else:
            user = {"exec": {
                "apiVersion": "client.authentication.k8s.io/v1beta1",
                "command": "kubelogin",
                "args": ["get-token", "--environment", "AzurePublicCloud", "--server-id",
                         k["server_id"], "--client-id", AZURE_CLI_CLIENT_ID, "--tenant-id",
                         TENANT_ID, "--login", "devicecode"],
                "env": None, "provideClusterInfo": False, "interactiveMode": "IfAvailable",
                "installHint": "\nkubelogin is not installed which is required to connect "
                               "to AAD enabled cluster.\n\nTo learn more, please go to "
                               "https://aka.ms/aks/kubelogin\n"}}
        return {"apiVersion": "v1", "kind": "Config", "preferences": {},
                "clusters": [{"name": k["name"], "cluster": cluster}],
                "contexts": [{"name": k["name"],
                              "context": {"cluster": k["name"], "user": user_name}}],
                "current-context": k["name"],
                "users": [{"name": user_name, "user": user}]}

    # -- ARM ----------------------------------------------------------------------------

    def handle(self, method, target, headers):
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        auth = headers.get("Authorization") or ""
        authorized = auth == "Bearer " + self.token
        status, body, extra = self._route(method, parts.path, query, auth, authorized)
        with self._lock:
            self.requests.append((method, parts.path, status, authorized))
        return status, body, extra

    def _route(self, method, path, query, auth, authorized):
        if not auth:
            return 401, _error("AuthenticationFailed", "Authentication failed. The "
                               "'Authorization' header is missing."), {
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.'
                                    'com/%s", error="invalid_token", error_description="The '
                                    'authentication failed because of missing \'Authorization\' '
                                    'header."' % TENANT_ID}
        if not authorized:
            return 401, _error("InvalidAuthenticationToken",
                               "The access token is invalid."), {
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.'
                                    'com/%s", error="invalid_token", error_description="The '
                                    'access token is invalid."' % TENANT_ID}
        if not query.get("api-version"):
            return 400, _error("MissingApiVersionParameter", "The api-version query "
                               "parameter (?api-version=) is required for all requests."), {}
        m = _ID.match(path)
        if not m:
            return 404, _error("InvalidResourceType", "The resource type could not be found "
                               "in the namespace for api version '%s'."
                               % query["api-version"][0]), {}
        rid, rg, name, action = m.group(1), m.group(2), m.group(3), (m.group(4) or "")[1:]
        key = rid.lower()
        if method == "GET" and not action:
            op = "read"
        elif method == "POST" and action.lower() == "listclusterusercredential":
            op = "listclusterusercredential"
        else:
            return 405, _error("MethodNotAllowed", "%s %s is not emulated." % (method, path)), {}
        with self._lock:
            cluster = self.clusters.get(key)
        if cluster is None:
            return 404, _error("ResourceNotFound", "The Resource 'Microsoft.ContainerService/"
                               "managedClusters/%s' under resource group '%s' was not found. "
                               "For more details please go to https://aka.ms/"
                               "ARMResourceNotFoundFix" % (name, rg)), {}
        if (key, op) in self.forbidden:
            action_name = ("Microsoft.ContainerService/managedClusters/read" if op == "read"
                           else "Microsoft.ContainerService/managedClusters/"
                                "listClusterUserCredential/action")
            return 403, _error("AuthorizationFailed", "The client 'user@example.com' with "
                               "object id '00000000-0000-0000-0000-0000000000aa' does not "
                               "have authorization to perform action '%s' over scope '%s' "
                               "or the scope is invalid. If access was recently granted, "
                               "please refresh your credentials." % (action_name, rid)), {}
        if op == "read":
            return 200, cluster, {}
        fmt = (query.get("format") or [None])[0]
        doc = self.kubeconfig(rid, fmt)
        value = base64.b64encode(yaml.safe_dump(doc, sort_keys=False).encode()).decode()
        return 200, {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, {}


def entra_user_token(kubesim, name="entra-user", namespace="kube-system"):
    """A bearer token kubesim accepts for an identity other than its admin: a ServiceAccount
    bound to cluster-admin, token from the TokenRequest API. Stands in for the Entra token
    a real AKS API server accepts (kubesim knows no Entra)."""
    kubesim.put_object({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": name, "namespace": namespace}})
    kubesim.put_object({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name + "-cluster-admin"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
    ctx = ssl.create_default_context(cadata=kubesim.pki.ca_pem.decode())
    req = urllib.request.Request(
        "%s/api/v1/namespaces/%s/serviceaccounts/%s/token" % (kubesim.url, namespace, name),
        data=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                         "spec": {"expirationSeconds": 3600}}).encode(),
        headers={"Authorization": "Bearer " + kubesim.admin_token,
                 "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return json.loads(resp.read())["status"]["token"]


def _error(code, message):
    return {"error": {"code": code, "message": message}}


class _Handler(LoopbackHandler):
    arm = None  # set on the subclass made per emulator

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, body, extra = self.arm.handle(self.command, self.path, self.headers)
        payload = json.dumps(body).encode()
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", secrets.token_hex(16))
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    def log_message(self, *args):
        pass
