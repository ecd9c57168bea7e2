"""Label and field selectors: the query-string forms and the LabelSelector object form."""
import re

from .errors import bad_request

_REQ = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(==|=|!=|\s+in\s+|\s+notin\s+)\s*(.*?))?\s*$")


def _split_top(s):
    # Commas inside "in (a,b)" do not separate requirements.
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, "
              "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
              "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def _check_requirement(key, vals):
    """The API server refuses (400) selectors naming invalid keys or values."""
    prefix, _, name = key.rpartition("/")
    if (prefix and (len(prefix) > 253 or not _PREFIX.match(prefix))) or not name or \
            len(name) > 63 or not _NAME.match(name):
        raise bad_request('unable to parse requirement: key: Invalid value: "%s": name part '
                          "must consist of alphanumeric characters, '-', '_' or '.', and must "
                          "start and end with an alphanumeric character" % key)
    for i, v in enumerate(vals):
        if v and (len(v) > 63 or not _NAME.match(v)):
            raise bad_request('unable to parse requirement: values[%d][%s]: Invalid value: '
                              '"%s": %s' % (i, key, v, _VALUE_MSG))


def parse_label_selector(s):
    """Return a list of (key, op, values); op in =, !=, in, notin, exists, !exists."""
    reqs = []
    if not s:
        return reqs
    for part in _split_top(s):
        m = _REQ.match(part)
        if not m:
            raise bad_request("unable to parse requirement: %r" % part)
        neg, key, op, val = m.groups()
        if op is None:
            _check_requirement(key, ())
            reqs.append((key, "!exists" if neg else "exists", ()))
            continue
        if neg:
            raise bad_request("unable to parse requirement: %r" % part)
        op = op.strip()
        if op in ("in", "notin"):
            v = val.strip()
            if not (v.startswith("(") and v.endswith(")")):
                raise bad_request("unable to parse requirement: %r: expected (values)" % part)
            vals = tuple(x.strip() for x in v[1:-1].split(",") if x.strip())
            _check_requirement(key, vals)
            reqs.append((key, op, vals))
        else:
            _check_requirement(key, (val,))
            reqs.append((key, "!=" if op == "!=" else "=", (val,)))
    return reqs


def _match_req(labels, key, op, vals):
    has = key in labels
    if op == "=":
        return has and labels[key] == vals[0]
    if op == "!=":
        return not has or labels[key] != vals[0]
    if op == "in":
        return has and labels[key] in vals
    if op == "notin":
        return not has or labels[key] not in vals
    if op == "exists":
        return has
    if op == "!exists":
        return not has
    return False


def labels_match(reqs, labels):
    labels = labels or {}
    return all(_match_req(labels, k, op, v) for k, op, v in reqs)


def selector_object_to_reqs(sel):
    """metav1.LabelSelector {matchLabels, matchExpressions} -> requirements."""
    if sel is None:
        return None
    reqs = [(k, "=", (v,)) for k, v in (sel.get("matchLabels") or {}).items()]
    for e in sel.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists",
              "DoesNotExist": "!exists"}.get(e.get("operator"))
        if op:
            reqs.append((e.get("key"), op, tuple(e.get("values") or ())))
    return reqs


def parse_field_selector(s):
    """Return a list of (dotted.path, op, value)."""
    out = []
    if not s:
        return out
    for part in s.split(","):
        if not part.strip():
            continue
        if "!=" in part:
            k, v = part.split("!=", 1)
            out.append((k.strip(), "!=", v.strip()))
        elif "==" in part:
            k, v = part.split("==", 1)
            out.append((k.strip(), "=", v.strip()))
        elif "=" in part:
            k, v = part.split("=", 1)
            out.append((k.strip(), "=", v.strip()))
        else:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (s, part))
    return out


# Fields each kind can be selected by (the API server's per-kind field label conversion);
# metadata.name and, for namespaced kinds, metadata.namespace work everywhere.
SELECTABLE_FIELDS = {
    ("", "pods"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                   "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                   "status.podIP", "status.podIPs", "status.nominatedNodeName"},
    ("", "events"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                     "involvedObject.uid", "involvedObject.apiVersion",
                     "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                     "reportingComponent", "source", "type"},
    ("events.k8s.io", "events"): {"regarding.kind", "regarding.namespace", "regarding.name",
                                  "regarding.uid", "regarding.apiVersion",
                                  "regarding.resourceVersion", "regarding.fieldPath",
                                  "reason", "reportingController", "type"},
    ("", "secrets"): {"type"},
    ("", "namespaces"): {"status.phase"},
    ("", "nodes"): {"spec.unschedulable"},
    ("", "services"): {"spec.clusterIP", "spec.type"},
    ("", "replicationcontrollers"): {"status.replicas"},
    ("apps", "replicasets"): {"status.replicas"},
    ("batch", "jobs"): {"status.successful"},
    ("certificates.k8s.io", "certificatesigningrequests"): {"spec.signerName"},
}


def check_field_selector(rt, reqs, extra=()):
    """400 for a field the kind cannot be selected by, as the API server answers."""
    allowed = {"metadata.name"} | SELECTABLE_FIELDS.get((rt.group, rt.plural), set()) | \
        set(extra)
    if rt.namespaced:
        allowed.add("metadata.namespace")
    for path, _, _ in reqs:
        if path not in allowed:
            raise bad_request('field label not supported: %s' % path)


def _field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_match(reqs, obj):
    # The real server supports a per-kind set of fields; we evaluate any dotted path, which
    # covers metadata.name/namespace, involvedObject.* (events), spec.nodeName, type, ...
    for path, op, val in reqs:
        got = _field_value(obj, path)
        if (got == val) != (op == "="):
            return False
    return True
