"""What a running istiod does to its own webhook configurations: once a ready istiod Pod
backs the Service a webhook calls, istiod writes its CA bundle into every webhook of the
configurations labelled with its revision (`istio.io/rev`), and its validation controller
sets the validating webhooks' failurePolicy to Fail (it installs as Ignore, so an install
cannot lock itself out before istiod runs).

With this, an emulated cluster behaves as a real one after `member join`: Istio resources
are refused while istiod is not ready (for Fail webhooks) and admitted once it is. The CA
bundle written is the cluster's CA certificate, standing in for istiod's root.
"""
import base64

from . import admission
from .util import deep_copy

ADM = admission.ADM
_WATCHED = {(ADM, "mutatingwebhookconfigurations"), (ADM, "validatingwebhookconfigurations"),
            ("", "pods"), ("", "services"), ("", "endpoints")}


def _istiod_backend(store, svc_ref):
    name = svc_ref.get("name") or ""
    if name != "istiod" and not name.startswith("istiod-"):
        return False
    svc = store.get(("", "services"), svc_ref.get("namespace", ""), name)
    return svc is not None and bool(admission.ready_endpoints(store, svc_ref.get("namespace",
                                                                                 ""), svc))


def _stale(store, wh, plural, bundle):
    """Whether istiod would change this webhook now."""
    cc = wh.get("clientConfig") or {}
    if not cc.get("service"):
        return False
    if cc.get("caBundle") == bundle and (plural != "validatingwebhookconfigurations" or
                                         wh.get("failurePolicy") == "Fail"):
        return False
    return _istiod_backend(store, cc["service"])


def on_write(api, rt, obj):
    if (rt.group, rt.plural) not in _WATCHED or getattr(api, "_istiod_patching", False):
        return
    api._istiod_patching = True      # its own writes must not re-enter it
    try:
        bundle = base64.b64encode(api.sim.pki.ca_pem).decode()
        for plural in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            cfg_rt = api.registry.lookup_plural_any_version(ADM, plural)
            for cfg in api.store.list((ADM, plural)):
                if "istio.io/rev" not in (cfg["metadata"].get("labels") or {}):
                    continue
                # Called on every Pod, Service and Endpoints write: a configuration
                # already patched is not copied to find that out.
                if not any(_stale(api.store, wh, plural, bundle)
                           for wh in cfg.get("webhooks") or []):
                    continue
                new = deep_copy(cfg)
                for wh in new.get("webhooks") or []:
                    cc = wh.get("clientConfig") or {}
                    if not cc.get("service") or not _istiod_backend(api.store, cc["service"]):
                        continue
                    cc["caBundle"] = bundle
                    if plural == "validatingwebhookconfigurations":
                        wh["failurePolicy"] = "Fail"
                if new != cfg:
                    api.put_internal(cfg_rt, new, cfg)
    finally:
        api._istiod_patching = False
