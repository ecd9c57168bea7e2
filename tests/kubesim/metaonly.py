"""The metadata-only answer forms: `Accept: application/json;as=PartialObjectMetadata;
g=meta.k8s.io;v=v1` (get, watch) and `as=PartialObjectMetadataList` (list), which the
metadata client, garbage collectors and `kubectl get -o name` style tools ask for."""


def wanted(accept):
    """The meta.k8s.io version asked for ("v1" | "v1beta1"), or None."""
    for part in (accept or "").split(","):
        params = dict(p.strip().partition("=")[::2] for p in part.split(";")[1:])
        if params.get("as") in ("PartialObjectMetadata", "PartialObjectMetadataList") and \
                params.get("g", "meta.k8s.io") == "meta.k8s.io":
            return params.get("v") or "v1"
    return None


def partial(obj, version="v1"):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + version,
            "metadata": obj.get("metadata") or {}}


def partial_list(lst, version="v1"):
    return {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/" + version,
            "metadata": lst.get("metadata") or {},
            "items": [partial(o, version) for o in lst.get("items") or []]}
