"""Dynamic admission: Mutating- and ValidatingWebhookConfigurations, evaluated for every
API write they match, as the API server's admission chain does.

No webhook is ever called. What is modelled is whether a call *could* succeed: a webhook
backed by a Service with a ready endpoint and a caBundle is taken to allow the request
unchanged; one whose Service is missing, has no such port or no ready endpoint, or whose
clientConfig has no caBundle, fails the call. A failed call refuses the write (500
InternalError, the real server's message) when the webhook's failurePolicy is Fail -- the
default -- and is ignored when it is Ignore. That is the behaviour that matters to an
installer: a configuration registered before its backend is ready locks writes out.

Writes made through the control API (KubeSim.put_object...) and by the emulator's own
controllers are not admitted; only requests that arrive over HTTP are (opts.user is set).
"""
from .errors import ApiError
from .selectors import labels_match, selector_object_to_reqs

ADM = "admissionregistration.k8s.io"

# Never sent to webhooks, as in the real server: a bad webhook could otherwise make its
# own configuration impossible to fix.
_EXEMPT = {(ADM, "validatingwebhookconfigurations"), (ADM, "mutatingwebhookconfigurations"),
           (ADM, "validatingadmissionpolicies"), (ADM, "validatingadmissionpolicybindings"),
           (ADM, "mutatingadmissionpolicies"), (ADM, "mutatingadmissionpolicybindings")}


class Request:
    """What a webhook rule is matched against."""

    def __init__(self, rt, operation, namespace, name, obj, old, subresource=""):
        self.rt = rt
        self.operation = operation          # CREATE | UPDATE | DELETE
        self.namespace = namespace or ""
        self.name = name
        self.obj = obj
        self.old = old
        self.subresource = subresource or ""


# ----------------------------------------------------------------------------- matching

def _in(values, v):
    values = values or []
    return "*" in values or v in values


def _resource_matches(resources, plural, sub):
    # As the API server's matcher: "*" is every resource but no subresource, "x/*" x and
    # all its subresources, "*/*" everything.
    for r in resources or []:
        res, _, rsub = r.partition("/")
        if res in ("*", plural) and (rsub == "*" or rsub == sub):
            return True
    return False


def _rule_matches(rule, req, equivalent):
    if not _in(rule.get("operations"), req.operation):
        return False
    if not _in(rule.get("apiGroups"), req.rt.group):
        return False
    # matchPolicy Equivalent (the default) also matches the same resource reached through
    # another version of its group; every version here is the same stored resource.
    if not equivalent and not _in(rule.get("apiVersions"), req.rt.version):
        return False
    if not _resource_matches(rule.get("resources"), req.rt.plural, req.subresource):
        return False
    scope = rule.get("scope") or "*"
    if scope == "Cluster" and req.rt.namespaced:
        return False
    if scope == "Namespaced" and not req.rt.namespaced:
        return False
    return True


def _selector_matches(sel, labels):
    if not sel:
        return True
    reqs = selector_object_to_reqs(sel)
    return labels_match(reqs or [], labels)


def _labels(o):
    return ((o or {}).get("metadata") or {}).get("labels") or {}


def _namespace_selected(store, wh, req):
    sel = wh.get("namespaceSelector")
    if not sel:
        return True
    if req.rt.group == "" and req.rt.plural == "namespaces":
        return _selector_matches(sel, _labels(req.obj or req.old))
    if not req.rt.namespaced:
        return True         # cluster-scoped objects are never filtered by namespace
    ns = store.get(("", "namespaces"), "", req.namespace)
    return _selector_matches(sel, _labels(ns))


def _object_selected(wh, req):
    sel = wh.get("objectSelector")
    if not sel:
        return True
    return any(_selector_matches(sel, _labels(o)) for o in (req.obj, req.old) if o)


def webhook_matches(store, wh, req):
    equivalent = (wh.get("matchPolicy") or "Equivalent") == "Equivalent"
    if not any(_rule_matches(r, req, equivalent) for r in wh.get("rules") or []):
        return False
    return _namespace_selected(store, wh, req) and _object_selected(wh, req)


# ----------------------------------------------------------------------------- endpoints

def _pod_ready(pod):
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def ready_endpoints(store, namespace, svc):
    """Ready endpoints of a Service: the Pods its selector picks that are Ready (as the
    endpoints controller would list them); for a selector-less Service, the addresses of
    its manually managed Endpoints object."""
    sel = (svc.get("spec") or {}).get("selector")
    if sel:
        reqs = [(k, "=", (v,)) for k, v in sel.items()]
        return [p for p in store.list(("", "pods"), namespace)
                if labels_match(reqs, _labels(p)) and _pod_ready(p)]
    ep = store.get(("", "endpoints"), namespace, svc["metadata"]["name"])
    return [a for s in (ep or {}).get("subsets") or [] for a in s.get("addresses") or []]


def call_error(store, wh):
    """Why a call to this webhook would fail now, or None if it would be answered."""
    cc = wh.get("clientConfig") or {}
    svc_ref = cc.get("service")
    if not svc_ref:
        # A URL webhook is outside the cluster: nothing here tells whether it answers.
        return None
    ns, name = svc_ref.get("namespace", ""), svc_ref.get("name", "")
    port = svc_ref.get("port") or 443
    url = "https://%s.%s.svc:%d%s?timeout=%ds" % (name, ns, port, svc_ref.get("path") or "",
                                                  wh.get("timeoutSeconds") or 10)
    why = None
    svc = store.get(("", "services"), ns, name)
    if svc is None:
        why = 'service "%s" not found' % name
    elif not any(isinstance(p, dict) and p.get("port") == port
                 for p in (svc.get("spec") or {}).get("ports") or []):
        why = 'no service port %d found for service "%s"' % (port, name)
    elif not ready_endpoints(store, ns, svc):
        why = 'no endpoints available for service "%s"' % name
    elif not cc.get("caBundle"):
        why = "tls: failed to verify certificate: x509: certificate signed by unknown " \
              "authority"
    if why is None:
        return None
    return 'failed calling webhook "%s": failed to call webhook: Post "%s": %s' \
        % (wh.get("name", ""), url, why)


# ----------------------------------------------------------------------------- the chain

def _run(store, plural, req):
    configs = store.list((ADM, plural))
    for cfg in configs:
        for wh in cfg.get("webhooks") or []:
            if not webhook_matches(store, wh, req):
                continue
            err = call_error(store, wh)
            if err is None:
                continue
            if (wh.get("failurePolicy") or "Fail") == "Ignore":
                continue        # the real server logs it and lets the request through
            raise ApiError(500, "InternalError", "Internal error occurred: " + err,
                           {"causes": [{"message": err}]})


def admit(store, phase, rt, operation, namespace, name, obj, old, subresource=""):
    """Run the webhooks of one phase ("mutating", before schema validation, or
    "validating", after it) that match this write; raise the ApiError a failing
    Fail-policy webhook causes."""
    if (rt.group, rt.plural) in _EXEMPT or rt.virtual:
        return
    req = Request(rt, operation, namespace, name, obj, old, subresource)
    _run(store, phase + "webhookconfigurations", req)
