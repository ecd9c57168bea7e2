"""Objects that are being deleted but not gone yet.

Deleting a Namespace or a CustomResourceDefinition only starts it: the Namespace stays
`Terminating` until everything in it is deleted (finalizers included), the CRD until its
custom resources are. Meanwhile nothing new may be created in that namespace, and a CRD
re-applied during its deletion disappears afterwards with everything created from it. So
`member remove` waits for what it deleted to go, and `member join` waits for a previous
removal to finish before it applies anything.
"""

import time

from ..constants import TRANSIENT_STATUSES
from .client import ApiError, describe

CRD_API = "apiextensions.k8s.io/v1"
#: The cluster-scoped kinds whose deletion takes time: (api_version, plural, kind).
SLOW_KINDS = (("v1", "namespaces", "Namespace"),
              (CRD_API, "customresourcedefinitions", "CustomResourceDefinition"))
PROGRESS_INTERVAL = 10.0


def why_terminating(obj):
    """What an object being deleted still waits for, from its conditions and finalizers."""
    status = obj.get("status") or {}
    reasons = []
    for c in status.get("conditions") or []:
        if c.get("status") != "True" or not c.get("message"):
            continue
        if c.get("type") in ("NamespaceContentRemaining", "NamespaceFinalizersRemaining",
                             "NamespaceDeletionContentFailure",
                             "NamespaceDeletionDiscoveryFailure") or \
                (c.get("type") == "Terminating" and obj.get("kind") ==
                 "CustomResourceDefinition"):
            reasons.append(c["message"])
    if not reasons:
        fins = list((obj.get("metadata") or {}).get("finalizers") or []) + \
            list((obj.get("spec") or {}).get("finalizers") or [])
        if fins:
            reasons.append(f"finalizers {', '.join(fins)}")
    return "; ".join(reasons) or "deletion in progress"


def terminating(cluster, label_selector=None, names=None):
    """The Namespaces and CRDs that are being deleted, matching `label_selector` and, when
    given, named in `names` ({kind: {name, ...}})."""
    from .concurrent import gather
    out = []
    kinds = [(a, p, k) for a, p, k in SLOW_KINDS if names is None or names.get(k)]
    listed = gather([lambda a=a, p=p: cluster.list(a, p, label_selector=label_selector)
                     for a, p, _ in kinds])
    for (_, _, kind), objs in zip(kinds, listed):
        wanted = None if names is None else names.get(kind)
        for obj in objs:
            meta = obj.get("metadata") or {}
            if not meta.get("deletionTimestamp"):
                continue
            if wanted is not None and meta.get("name") not in wanted:
                continue
            out.append(obj)
    return out


def summary(keys):
    """'Namespace applink-system and 14 CustomResourceDefinitions' for (api, kind, name)s."""
    by_kind = {}
    for _, kind, name in keys:
        by_kind.setdefault(kind, []).append(name)
    parts = [f"{kind} {names[0]}" if len(names) == 1 else f"{len(names)} {kind}s"
             for kind, names in by_kind.items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def wait_gone(cluster, objects, timeout, progress=None, poll=1.0):
    """Wait until none of `objects` (live Namespaces/CRDs being deleted) exists any more.
    Returns {"Kind name": what it still waits for} for those left at `timeout` ({} when
    all went). Progress names what is awaited, then again every PROGRESS_INTERVAL."""
    say = progress or (lambda msg: None)
    left = {}
    for obj in objects:
        kind = obj.get("kind")
        api_version = next((a for a, _, k in SLOW_KINDS if k == kind), obj.get("apiVersion"))
        left[(api_version, kind, obj["metadata"]["name"])] = obj
    if not left:
        return {}
    awaited = summary(left)
    say(f"Waiting for {awaited} to finish terminating")
    start = time.monotonic()
    deadline, next_say = start + timeout, start + PROGRESS_INTERVAL
    interval = min(0.1, poll)          # most deletions take a moment: look again soon
    while left:
        for key in list(left):
            try:
                live = cluster.get(key[0], key[1], key[2])
            except ApiError as e:
                if e.status not in TRANSIENT_STATUSES:
                    raise
                continue
            if live is None or not (live.get("metadata") or {}).get("deletionTimestamp"):
                del left[key]           # gone (or gone and created anew by someone else)
            else:
                left[key] = live
        if not left:
            say(f"{awaited} {'is' if len(awaited.split(' ')) == 2 else 'are'} gone")
            break
        now = time.monotonic()
        if now >= deadline:
            break
        if now >= next_say:
            next_say = now + PROGRESS_INTERVAL
            for key, live in left.items():
                say(f"{describe(key[1], None, key[2])} is still terminating after {int(now - start)}s: "
                    f"{why_terminating(live)}")
        time.sleep(min(interval, max(0.0, deadline - now)))
        interval = min(poll, interval * 2)
    return {describe(k[1], None, k[2]): why_terminating(v) for k, v in left.items()}
