"""Server-side printing: the meta.k8s.io/v1 Table kubectl asks for with `as=Table`.

Columns follow kubectl's usual output for the kinds we care about; every other kind gets
NAME and AGE, custom resources also their CRD's additionalPrinterColumns.
"""
import datetime


def _age(ts):
    if not ts:
        return "<unknown>"
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < 120:
        return "%ds" % max(s, 0)
    if s < 7200:
        return "%dm" % (s // 60)
    if s < 172800:
        return "%dh" % (s // 3600)
    return "%dd" % (s // 86400)


def _jsonpath(obj, path):
    cur = obj
    for p in path.lstrip(".").split("."):
        if isinstance(cur, dict):
            cur = cur.get(p)
        else:
            return None
    return cur


def _columns(rt):
    p = rt.plural
    if p == "deployments":
        return ["Ready", "Up-to-date", "Available"], lambda o: [
            "%d/%d" % ((o.get("status") or {}).get("readyReplicas", 0),
                       (o.get("spec") or {}).get("replicas", 1)),
            (o.get("status") or {}).get("updatedReplicas", 0),
            (o.get("status") or {}).get("availableReplicas", 0)]
    if p == "daemonsets":
        return ["Desired", "Current", "Ready", "Available"], lambda o: [
            (o.get("status") or {}).get(k, 0) for k in (
                "desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                "numberAvailable")]
    if p == "services":
        def svc(o):
            s = o.get("spec") or {}
            ing = ((o.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            ext = ",".join(i.get("ip") or i.get("hostname", "") for i in ing) or (
                "<pending>" if s.get("type") == "LoadBalancer" else "<none>")
            ports = ",".join("%s/%s" % (x.get("port"), x.get("protocol", "TCP"))
                             for x in s.get("ports") or [])
            return [s.get("type", ""), s.get("clusterIP", ""), ext, ports or "<none>"]
        return ["Type", "Cluster-IP", "External-IP", "Port(s)"], svc
    if p == "namespaces":
        return ["Status"], lambda o: [(o.get("status") or {}).get("phase", "")]
    if p == "nodes":
        return ["Status", "Version"], lambda o: [
            "Ready", ((o.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", "")]
    if p in ("configmaps", "secrets"):
        return ["Data"], lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})]
    if p == "serviceaccounts":
        return ["Secrets"], lambda o: [len(o.get("secrets") or [])]
    if rt.printer_columns:
        cols = rt.printer_columns
        return [c["name"] for c in cols], lambda o: [_jsonpath(o, c.get("jsonPath", ""))
                                                     for c in cols]
    return [], lambda o: []


def table(rt, objs, include_object=None):
    names, cells = _columns(rt)
    defs = [{"name": "Name", "type": "string", "format": "name", "description": "Name",
             "priority": 0}]
    defs += [{"name": n, "type": "string", "format": "", "description": n, "priority": 0}
             for n in names]
    defs.append({"name": "Age", "type": "string", "format": "", "description": "Age",
                 "priority": 0})
    rows = []
    for o in objs:
        m = o["metadata"]
        row = {"cells": [m["name"]] + cells(o) + [_age(m.get("creationTimestamp"))]}
        if include_object == "None":
            pass
        elif include_object == "Object":
            row["object"] = o
        else:
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": m}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": defs, "rows": rows}
