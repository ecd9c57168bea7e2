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


def _st(o):
    return o.get("status") or {}


def _sp(o):
    return o.get("spec") or {}


def _tmpl_containers(o):
    return ((_sp(o).get("template") or {}).get("spec") or {}).get("containers") or []


def _containers(o):
    return ",".join(c.get("name", "") for c in _tmpl_containers(o)) or "<none>"


def _images(o):
    return ",".join(c.get("image", "") for c in _tmpl_containers(o)) or "<none>"


def _selector(sel):
    if not sel:
        return "<none>"
    if "matchLabels" not in sel and "matchExpressions" not in sel:
        return ",".join("%s=%s" % kv for kv in sorted(sel.items()))     # a map (RC, Service)
    parts = ["%s=%s" % kv for kv in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op == "Exists":
            parts.append(e.get("key"))
        elif op == "DoesNotExist":
            parts.append("!" + e.get("key"))
        else:
            parts.append("%s %s (%s)" % (e.get("key"), op.lower(), ",".join(e.get("values") or [])))
    return ",".join(parts) or "<none>"


def _pod_status(o):
    if o["metadata"].get("deletionTimestamp"):
        return "Terminating"
    st = _st(o)
    phase = st.get("phase") or "Pending"
    for cs in st.get("containerStatuses") or []:
        state = cs.get("state") or {}
        if "waiting" in state and state["waiting"].get("reason"):
            return state["waiting"]["reason"]
        if "terminated" in state and phase != "Running":
            return state["terminated"].get("reason") or "Completed"
    return phase


def _pod_ready(o):
    cs = _st(o).get("containerStatuses") or []
    n = len(_sp(o).get("containers") or [])
    return "%d/%d" % (sum(1 for c in cs if c.get("ready")), n)


def _node_ip(o, kind):
    for a in _st(o).get("addresses") or []:
        if a.get("type") == kind:
            return a.get("address")
    return "<none>"


def _node_status(o):
    ready = next((c for c in _st(o).get("conditions") or [] if c.get("type") == "Ready"), None)
    out = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if _sp(o).get("unschedulable"):
        out += ",SchedulingDisabled"
    return out


def _node_roles(o):
    roles = sorted(k.split("/", 1)[1] for k in (o["metadata"].get("labels") or {})
                   if k.startswith("node-role.kubernetes.io/") and "/" in k)
    return ",".join(r for r in roles if r) or "<none>"


def _job_status(o):
    for c in _st(o).get("conditions") or []:
        if c.get("status") == "True" and c.get("type") in ("Complete", "Failed", "Suspended"):
            return c["type"]
    return "Running"


def _duration(start, end):
    if not start:
        return ""
    try:
        a = datetime.datetime.strptime(start, "%Y-%m-%dT%H:%M:%SZ")
        b = datetime.datetime.strptime(end, "%Y-%m-%dT%H:%M:%SZ") if end else \
            datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    except ValueError:
        return ""
    s = max(int((b - a).total_seconds()), 0)
    return "%ds" % s if s < 120 else "%dm" % (s // 60)


def _svc_external(o):
    s = _sp(o)
    ing = (_st(o).get("loadBalancer") or {}).get("ingress") or []
    ext = ",".join(i.get("ip") or i.get("hostname", "") for i in ing)
    if ext:
        return ext
    if s.get("externalIPs"):
        return ",".join(s["externalIPs"])
    if s.get("type") == "ExternalName":
        return s.get("externalName", "")
    return "<pending>" if s.get("type") == "LoadBalancer" else "<none>"


def _svc_ports(o):
    out = []
    for x in _sp(o).get("ports") or []:
        port = str(x.get("port"))
        if x.get("nodePort"):
            port += ":%s" % x["nodePort"]
        out.append("%s/%s" % (port, x.get("protocol", "TCP")))
    return ",".join(out) or "<none>"


def _event_object(o):
    io = o.get("involvedObject") or {}
    return "%s/%s" % ((io.get("kind") or "").lower(), io.get("name", ""))


N = ("Name", 0, lambda o: o["metadata"]["name"])
AGE = ("Age", 0, lambda o: _age(o["metadata"].get("creationTimestamp")))
WIDE_WORKLOAD = [("Containers", 1, _containers), ("Images", 1, _images),
                 ("Selector", 1, lambda o: _selector(_sp(o).get("selector")))]


def _columns(rt):
    """[(name, priority, cell function)]: priority 1 columns are kubectl's -o wide ones."""
    p = rt.plural
    if rt.group == "" and p == "pods":
        return [N, ("Ready", 0, _pod_ready), ("Status", 0, _pod_status),
                ("Restarts", 0, lambda o: sum(c.get("restartCount", 0)
                                              for c in _st(o).get("containerStatuses") or [])),
                AGE, ("IP", 1, lambda o: _st(o).get("podIP") or "<none>"),
                ("Node", 1, lambda o: _sp(o).get("nodeName") or "<none>"),
                ("Nominated Node", 1, lambda o: _st(o).get("nominatedNodeName") or "<none>"),
                ("Readiness Gates", 1, lambda o: "<none>")]
    if p == "deployments":
        return [N, ("Ready", 0, lambda o: "%d/%d" % (_st(o).get("readyReplicas", 0),
                                                     _sp(o).get("replicas", 1))),
                ("Up-to-date", 0, lambda o: _st(o).get("updatedReplicas", 0)),
                ("Available", 0, lambda o: _st(o).get("availableReplicas", 0)),
                AGE] + WIDE_WORKLOAD
    if p in ("replicasets", "replicationcontrollers"):
        return [N, ("Desired", 0, lambda o: _sp(o).get("replicas", 1)),
                ("Current", 0, lambda o: _st(o).get("replicas", 0)),
                ("Ready", 0, lambda o: _st(o).get("readyReplicas", 0)), AGE] + WIDE_WORKLOAD
    if p == "daemonsets":
        return [N] + [(label, 0, (lambda k: lambda o: _st(o).get(k, 0))(k)) for label, k in (
            ("Desired", "desiredNumberScheduled"), ("Current", "currentNumberScheduled"),
            ("Ready", "numberReady"), ("Up-to-date", "updatedNumberScheduled"),
            ("Available", "numberAvailable"))] + [
            ("Node Selector", 0, lambda o: _selector(((_sp(o).get("template") or {})
                                                      .get("spec") or {}).get("nodeSelector"))),
            AGE] + WIDE_WORKLOAD
    if p == "statefulsets":
        return [N, ("Ready", 0, lambda o: "%d/%d" % (_st(o).get("readyReplicas", 0),
                                                     _sp(o).get("replicas", 1))),
                AGE] + WIDE_WORKLOAD[:2]
    if p == "jobs":
        return [N, ("Status", 0, _job_status),
                ("Completions", 0, lambda o: "%d/%d" % (_st(o).get("succeeded", 0),
                                                        _sp(o).get("completions", 1))),
                ("Duration", 0, lambda o: _duration(_st(o).get("startTime"),
                                                    _st(o).get("completionTime"))),
                AGE] + WIDE_WORKLOAD
    if p == "cronjobs":
        def jt(o):
            return (_sp(o).get("jobTemplate") or {}).get("spec") or {}
        return [N, ("Schedule", 0, lambda o: _sp(o).get("schedule", "")),
                ("Timezone", 0, lambda o: _sp(o).get("timeZone") or "<none>"),
                ("Suspend", 0, lambda o: "True" if _sp(o).get("suspend") else "False"),
                ("Active", 0, lambda o: len(_st(o).get("active") or [])),
                ("Last Schedule", 0, lambda o: _age(_st(o).get("lastScheduleTime"))
                 if _st(o).get("lastScheduleTime") else "<none>"), AGE,
                ("Containers", 1, lambda o: _containers({"spec": jt(o)})),
                ("Images", 1, lambda o: _images({"spec": jt(o)})),
                ("Selector", 1, lambda o: _selector(jt(o).get("selector")))]
    if p == "services":
        return [N, ("Type", 0, lambda o: _sp(o).get("type", "")),
                ("Cluster-IP", 0, lambda o: _sp(o).get("clusterIP") or "<none>"),
                ("External-IP", 0, _svc_external), ("Port(s)", 0, _svc_ports), AGE,
                ("Selector", 1, lambda o: _selector(_sp(o).get("selector")))]
    if p == "namespaces":
        return [N, ("Status", 0, lambda o: _st(o).get("phase", "")), AGE]
    if p == "nodes":
        def info(o):
            return _st(o).get("nodeInfo") or {}
        return [N, ("Status", 0, _node_status), ("Roles", 0, _node_roles), AGE,
                ("Version", 0, lambda o: info(o).get("kubeletVersion", "")),
                ("Internal-IP", 1, lambda o: _node_ip(o, "InternalIP")),
                ("External-IP", 1, lambda o: _node_ip(o, "ExternalIP")),
                ("OS-Image", 1, lambda o: info(o).get("osImage", "")),
                ("Kernel-Version", 1, lambda o: info(o).get("kernelVersion", "")),
                ("Container-Runtime", 1, lambda o: info(o).get("containerRuntimeVersion", ""))]
    if rt.group == "" and p == "events":
        return [("Last Seen", 0, lambda o: _age(o.get("lastTimestamp") or
                                                o["metadata"].get("creationTimestamp"))),
                ("Type", 0, lambda o: o.get("type", "")),
                ("Reason", 0, lambda o: o.get("reason", "")),
                ("Object", 0, _event_object),
                ("Subobject", 1, lambda o: (o.get("involvedObject") or {}).get("fieldPath", "")),
                ("Source", 1, lambda o: (o.get("source") or {}).get("component", "")),
                ("Message", 0, lambda o: o.get("message", "")),
                ("First Seen", 1, lambda o: _age(o.get("firstTimestamp"))),
                ("Count", 1, lambda o: o.get("count", 1)),
                ("Name", 1, lambda o: o["metadata"]["name"])]
    if p == "configmaps":
        return [N, ("Data", 0, lambda o: len(o.get("data") or {}) +
                    len(o.get("binaryData") or {})), AGE]
    if p == "secrets":
        return [N, ("Type", 0, lambda o: o.get("type", "")),
                ("Data", 0, lambda o: len(o.get("data") or {})), AGE]
    if p == "serviceaccounts":
        return [N, ("Secrets", 0, lambda o: len(o.get("secrets") or [])), AGE]
    if p == "persistentvolumeclaims":
        return [N, ("Status", 0, lambda o: _st(o).get("phase", "Pending")),
                ("Volume", 0, lambda o: _sp(o).get("volumeName", "")),
                ("Capacity", 0, lambda o: (_st(o).get("capacity") or {}).get("storage", "")),
                ("Access Modes", 0, lambda o: ",".join(
                    {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                     "ReadWriteOncePod": "RWOP"}.get(m, m)
                    for m in _st(o).get("accessModes") or [])),
                ("StorageClass", 0, lambda o: _sp(o).get("storageClassName") or "<unset>"),
                ("VolumeAttributesClass", 0,
                 lambda o: _sp(o).get("volumeAttributesClassName") or "<unset>"), AGE]
    if p == "ingresses":
        def rules(o):
            return _sp(o).get("rules") or []
        return [N, ("Class", 0, lambda o: _sp(o).get("ingressClassName") or "<none>"),
                ("Hosts", 0, lambda o: ",".join(r.get("host") or "*" for r in rules(o)) or "*"),
                ("Address", 0, lambda o: ",".join(
                    i.get("ip") or i.get("hostname", "") for i in
                    (_st(o).get("loadBalancer") or {}).get("ingress") or [])),
                ("Ports", 0, lambda o: "80, 443" if _sp(o).get("tls") else "80"), AGE]
    if p == "networkpolicies":
        return [N, ("Pod-Selector", 0, lambda o: _selector(_sp(o).get("podSelector"))
                    .replace("<none>", "<none>")), AGE]
    if p == "priorityclasses":
        return [N, ("Value", 0, lambda o: o.get("value", 0)),
                ("Global-Default", 0, lambda o: "true" if o.get("globalDefault") else "false"),
                AGE, ("PreemptionPolicy", 0, lambda o: o.get("preemptionPolicy",
                                                             "PreemptLowerPriority"))]
    if p == "horizontalpodautoscalers":
        def ref(o):
            return _sp(o).get("scaleTargetRef") or {}
        return [N, ("Reference", 0, lambda o: "%s/%s" % (ref(o).get("kind"), ref(o).get("name"))),
                ("Targets", 0, lambda o: "<unknown>"),
                ("MinPods", 0, lambda o: _sp(o).get("minReplicas", 1)),
                ("MaxPods", 0, lambda o: _sp(o).get("maxReplicas", 0)),
                ("Replicas", 0, lambda o: _st(o).get("currentReplicas", 0)), AGE]
    if p == "poddisruptionbudgets":
        return [N, ("Min Available", 0, lambda o: _sp(o).get("minAvailable", "N/A")),
                ("Max Unavailable", 0, lambda o: _sp(o).get("maxUnavailable", "N/A")),
                ("Allowed Disruptions", 0, lambda o: _st(o).get("disruptionsAllowed", 0)),
                AGE]
    if p == "customresourcedefinitions":
        return [N, ("Created At", 0, lambda o: o["metadata"].get("creationTimestamp"))]
    if p == "apiservices":
        def avail(o):
            c = next((c for c in _st(o).get("conditions") or []
                      if c.get("type") == "Available"), None)
            if not c:
                return "Unknown"
            return "True" if c.get("status") == "True" else "False (%s)" % c.get("reason")
        return [N, ("Service", 0, lambda o: "%s/%s" % (
            (_sp(o).get("service") or {}).get("namespace"),
            (_sp(o).get("service") or {}).get("name")) if _sp(o).get("service") else "Local"),
            ("Available", 0, avail), AGE]
    if rt.printer_columns:
        cols = rt.printer_columns
        return [N] + [(c["name"], c.get("priority", 0),
                       (lambda c: lambda o: _jsonpath(o, c.get("jsonPath", "")))(c))
                      for c in cols] + [AGE]
    return [N, AGE]


def table(rt, objs, include_object=None):
    cols = _columns(rt)
    defs = []
    for name, priority, _ in cols:
        d = {"name": name, "type": "string", "format": "", "description": name,
             "priority": priority}
        if name == "Name":
            d["format"] = "name"
        defs.append(d)
    rows = []
    for o in objs:
        m = o["metadata"]
        row = {"cells": [fn(o) for _, _, fn in cols]}
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
