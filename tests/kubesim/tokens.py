"""ServiceAccount tokens as the API server issues and revokes them.

- TokenRequest (POST serviceaccounts/NAME/token) validates spec as the real server does:
  expirationSeconds at least 600 and at most 2^32, a boundObjectRef only to an existing
  Pod, Secret or Node (its uid, when given, must match); no audiences means the API
  server's own.
- Deleting a ServiceAccount removes its legacy token Secrets (the tokens controller does
  that); bound tokens die with their ServiceAccount or bound object (checked when the
  token is presented, see auth.py).
"""
import datetime

from .auth import API_AUDIENCES
from .errors import bad_request, conflict, invalid, not_found

MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
DEFAULT_EXPIRATION = 3600

_BINDABLE = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}


def _bound_object(sim, ns, ref):
    api_version, kind, name = ref.get("apiVersion") or "v1", ref.get("kind"), ref.get("name")
    group = api_version.rpartition("/")[0]
    if group or kind not in _BINDABLE:
        raise bad_request("cannot bind token to object of type %s, Kind=%s"
                          % (api_version, kind))
    plural = _BINDABLE[kind]
    rt = sim.registry.lookup_plural_any_version("", plural)
    obj = sim.store.get(("", plural), "" if kind == "Node" else ns, name) \
        if rt is not None else None
    if obj is None:
        raise not_found(rt, name)
    uid = obj["metadata"]["uid"]
    if ref.get("uid") and ref["uid"] != uid:
        raise conflict(rt, name, "the UID in the bound object reference (%s) does not match "
                       "the UID in record. The object might have been deleted and then "
                       "recreated" % ref["uid"])
    return {"kind": kind, "name": name, "uid": uid}


def token_request(sim, sa, body):
    """Answer a TokenRequest for ServiceAccount `sa`: the TokenRequest object (201)."""
    if not isinstance(body, dict):
        raise bad_request("the object provided is not a TokenRequest")
    spec = dict(body.get("spec") or {})
    exp = spec.get("expirationSeconds")
    if exp is None:
        exp = DEFAULT_EXPIRATION
    causes = []
    if not isinstance(exp, int) or isinstance(exp, bool):
        causes.append(("spec.expirationSeconds", "FieldValueTypeInvalid",
                       "Invalid value: %r: must be an integer" % (exp,)))
    elif exp < MIN_EXPIRATION:
        causes.append(("spec.expirationSeconds", "FieldValueInvalid", "Invalid value: %d: "
                       "may not specify a duration less than 10 minutes" % exp))
    elif exp > MAX_EXPIRATION:
        causes.append(("spec.expirationSeconds", "FieldValueInvalid", "Invalid value: %d: "
                       "may not specify a duration larger than 2^32 seconds" % exp))
    audiences = spec.get("audiences") or list(API_AUDIENCES)
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a
                                                  for a in audiences):
        causes.append(("spec.audiences", "FieldValueInvalid",
                       "Invalid value: %r: audiences must be non-empty strings"
                       % (audiences,)))
    if causes:
        raise invalid("TokenRequest", "authentication.k8s.io", "", causes)
    ns = sa["metadata"]["namespace"]
    bound = None
    if spec.get("boundObjectRef"):
        bound = _bound_object(sim, ns, spec["boundObjectRef"])
    token, expires = sim.authn.bound_token(sa, exp, audiences, bound)
    spec.update(audiences=audiences, expirationSeconds=exp,
                boundObjectRef=spec.get("boundObjectRef"))
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": sa["metadata"]["name"], "namespace": ns,
                         "creationTimestamp": None},
            "spec": spec,
            "status": {"token": token, "expirationTimestamp": datetime.datetime.fromtimestamp(
                expires, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}}


def on_delete(api, rt, final):
    """A ServiceAccount is gone: its legacy token Secrets go too (tokens controller)."""
    if rt.group != "" or rt.plural != "serviceaccounts":
        return
    meta = final["metadata"]
    secrets_rt = api.registry.lookup_plural_any_version("", "secrets")
    for s in api.store.list(("", "secrets"), meta.get("namespace")):
        if s.get("type") != "kubernetes.io/service-account-token":
            continue
        ann = s["metadata"].get("annotations") or {}
        if ann.get("kubernetes.io/service-account.name") != meta["name"]:
            continue
        if ann.get("kubernetes.io/service-account.uid") not in (None, meta.get("uid")):
            continue
        cur = api.store.get(("", "secrets"), meta.get("namespace"), s["metadata"]["name"])
        if cur is not None:
            api.delete_object(secrets_rt, cur, "Background")
