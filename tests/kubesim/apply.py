"""Server-side apply and managedFields.

Field sets are Python sets of paths; a path is a tuple of fieldsV1 path elements
("f:spec", 'k:{"name":"c"}', 'v:"x"'), so they serialise to and from the FieldsV1 JSON the
real server writes. List semantics come from the schema (schemas.Node.list_type): items of
map-lists are addressed by their keys, set-lists by value, atomic lists as one leaf.

What is modelled: ownership per (manager, operation, subresource); Apply conflicts (409)
when another manager owns a field the applier sets to a different value, and force taking
ownership; removal of fields an applier stops applying when nobody else owns them; and
Update managers (create/update/patch) taking ownership of the fields they change.
"""
import datetime
import functools
import json

from .errors import ApiError

MISSING = object()

# Never tracked: identity and server-owned metadata.
_META_SKIP = {"name", "namespace", "uid", "resourceVersion", "generation",
              "creationTimestamp", "managedFields", "deletionTimestamp",
              "deletionGracePeriodSeconds", "selfLink"}


def _key_elem(item, keys):
    return "k:" + json.dumps({k: item.get(k) for k in keys if k in item},
                             separators=(",", ":"))


def fieldset(obj, node, with_status=True):
    out = set()
    if not isinstance(obj, dict):
        return out
    for k, v in obj.items():
        if k in ("apiVersion", "kind") or (k == "status" and not with_status):
            continue
        if k == "metadata" and isinstance(v, dict):
            mnode = node.field("metadata")
            for mk, mv in v.items():
                if mk in _META_SKIP:
                    continue
                _walk(mv, mnode.field(mk), ("f:metadata", "f:" + mk), out)
            continue
        _walk(v, node.field(k), ("f:" + k,), out)
    return out


def _walk(v, node, path, out):
    if isinstance(v, dict) and v and not node.is_atomic_map():
        for k, x in v.items():
            _walk(x, node.field(k), path + ("f:" + k,), out)
    elif isinstance(v, list) and v:
        lt, keys = node.list_type()
        if lt == "map":
            inode = node.items()
            for item in v:
                if not isinstance(item, dict):
                    out.add(path)
                    return
                kp = path + (_key_elem(item, keys),)
                out.add(kp)
                for k, x in item.items():
                    _walk(x, inode.field(k), kp + ("f:" + k,), out)
        elif lt == "set":
            for item in v:
                out.add(path + ("v:" + json.dumps(item, separators=(",", ":")),))
        else:
            out.add(path)
    else:
        out.add(path)


@functools.lru_cache(maxsize=4096)
def _decoded(elem):
    # The same few keys are looked up on every write; the result is shared, only read.
    return json.loads(elem[2:])


def _match_key(item, elem):
    want = _decoded(elem)
    return isinstance(item, dict) and all(item.get(k) == x for k, x in want.items())


def _step(cur, el):
    """The value one path element below cur (MISSING if there is none)."""
    if el.startswith("f:"):
        if not isinstance(cur, dict) or el[2:] not in cur:
            return MISSING
        return cur[el[2:]]
    if el.startswith("k:"):
        if not isinstance(cur, list):
            return MISSING
        return next((x for x in cur if _match_key(x, el)), MISSING)
    if el.startswith("v:"):
        val = json.loads(el[2:])    # a copy: callers may change what they are given
        if not isinstance(cur, list) or val not in cur:
            return MISSING
        return val
    return MISSING


def value_at(obj, path):
    cur = obj
    for el in path:
        cur = _step(cur, el)
        if cur is MISSING:
            return MISSING
    return cur


class _Values:
    """value_at for many paths of one object (which must not change meanwhile): a path's
    parent is looked up once for all its children, and the items of a list by a table
    of their keys built once per list, not by a scan per item (quadratic in long lists)."""

    def __init__(self, obj):
        self.memo = {(): obj}
        self.tables = {}

    def at(self, path):
        v = self.memo.get(path, self)
        if v is self:
            parent = self.at(path[:-1])
            if parent is MISSING:
                v = MISSING
            elif path[-1].startswith("k:") and isinstance(parent, list):
                v = self._item(parent, path[-1])
            else:
                v = _step(parent, path[-1])
            self.memo[path] = v
        return v

    def _item(self, items, elem):
        # The first item whose values of the element's keys equal the element's, as
        # _match_key finds it; an item without a key has None there, as item.get gives.
        want = _decoded(elem)
        names = tuple(want)
        key = (id(items), names)
        table = self.tables.get(key)
        if table is None:
            table = {}
            try:
                for x in items:
                    if isinstance(x, dict):
                        table.setdefault(tuple(x.get(n) for n in names), x)
            except TypeError:       # a key whose value is a map or a list: scan
                table = False
            self.tables[key] = table
        if table is not False:
            try:
                return table.get(tuple(want[n] for n in names), MISSING)
            except TypeError:
                pass
        return _step(items, elem)


class _Same:
    """same(path): value_at(old, path) == value_at(new, path). Where the values of a
    parent path are equal, so are all below it: a subtree a write left alone is compared
    once, whole, instead of field by field."""

    def __init__(self, old, new):
        self.old, self.new = _Values(old), _Values(new)
        self.memo = {}

    def __call__(self, path):
        r = self.memo.get(path)
        if r is None:
            r = (len(path) > 1 and self(path[:-1])) or \
                self.old.at(path) == self.new.at(path)
            self.memo[path] = r
        return r


def remove_path(obj, path):
    """Remove the field at path; then drop parent maps left empty by the removal."""
    chain = [obj]
    cur = obj
    for el in path[:-1]:
        nxt = value_at(cur, (el,))
        if nxt is MISSING:
            return
        chain.append(nxt)
        cur = nxt
    last = path[-1]
    if last.startswith("f:") and isinstance(cur, dict):
        cur.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(cur, list):
        cur[:] = [x for x in cur if not _match_key(x, last)]
    elif last.startswith("v:") and isinstance(cur, list):
        val = json.loads(last[2:])
        cur[:] = [x for x in cur if x != val]
    # Clean empty containers upward (not the root, not list items).
    for i in range(len(chain) - 1, 0, -1):
        c = chain[i]
        el = path[i - 1]
        if (isinstance(c, (dict, list)) and not c and el.startswith("f:")
                and isinstance(chain[i - 1], dict)):
            chain[i - 1].pop(el[2:], None)
        else:
            break


def merge_applied(live, applied, node):
    """SSA merge: maps granular, map-lists merged by key, sets unioned, the rest replaced."""
    if not isinstance(applied, dict) or not isinstance(live, dict) or node.is_atomic_map():
        return json.loads(json.dumps(applied))
    out = dict(live)
    for k, v in applied.items():
        child = node.field(k)
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_applied(out[k], v, child)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            lt, keys = child.list_type()
            if lt == "map":
                res = list(out[k])
                for item in v:
                    if not isinstance(item, dict):
                        res = json.loads(json.dumps(v))
                        break
                    el = _key_elem(item, keys)
                    idx = next((i for i, x in enumerate(res) if _match_key(x, el)), None)
                    if idx is None:
                        res.append(json.loads(json.dumps(item)))
                    else:
                        res[idx] = merge_applied(res[idx], item, child.items())
                out[k] = res
            elif lt == "set":
                out[k] = list(out[k]) + [x for x in v if x not in out[k]]
            else:
                out[k] = json.loads(json.dumps(v))
        else:
            out[k] = json.loads(json.dumps(v))
    return out


# --------------------------------------------------------------------- FieldsV1 encoding

def to_fields_v1(paths):
    root = {}
    for p in sorted(paths):
        cur = root
        for el in p:
            cur = cur.setdefault(el, {})
        cur["."] = cur.get(".", {})
    return _finish(root)


def _finish(d):
    # A member with children keeps "." ; a leaf member is {}.
    out = {}
    for k, v in d.items():
        if k == ".":
            continue
        children = {ck: cv for ck, cv in v.items() if ck != "."}
        if children:
            f = _finish(v)
            if "." in v:
                f["."] = {}
            out[k] = f
        else:
            out[k] = {}
    return out


def from_fields_v1(d, prefix=()):
    out = set()
    for k, v in (d or {}).items():
        if k == ".":
            out.add(prefix)
            continue
        p = prefix + (k,)
        if not v:
            out.add(p)
        else:
            out |= from_fields_v1(v, p)
    return out


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Managers:
    """The managedFields of one object, decoded."""

    def __init__(self, managed_fields):
        self.entries = []
        for e in managed_fields or []:
            self.entries.append({
                "manager": e.get("manager", ""), "operation": e.get("operation", "Update"),
                "apiVersion": e.get("apiVersion", ""), "time": e.get("time", _now()),
                "subresource": e.get("subresource", ""),
                "set": from_fields_v1(e.get("fieldsV1") or {})})

    def entry(self, manager, operation, subresource, api_version):
        for e in self.entries:
            if (e["manager"], e["operation"], e["subresource"]) == \
                    (manager, operation, subresource):
                e["apiVersion"], e["time"] = api_version, _now()
                return e
        e = {"manager": manager, "operation": operation, "apiVersion": api_version,
             "time": _now(), "subresource": subresource, "set": set()}
        self.entries.append(e)
        return e

    def encode(self):
        out = []
        for e in self.entries:
            if not e["set"]:
                continue
            m = {"manager": e["manager"], "operation": e["operation"],
                 "apiVersion": e["apiVersion"], "time": e["time"], "fieldsType": "FieldsV1",
                 "fieldsV1": to_fields_v1(e["set"])}
            if e["subresource"]:
                m["subresource"] = e["subresource"]
            out.append(m)
        return out


def path_str(p):
    out = ""
    for el in p:
        if el.startswith("f:"):
            out += "." + el[2:]
        elif el.startswith("k:"):
            out += "[" + ",".join("%s=%s" % (k, json.dumps(v))
                                  for k, v in json.loads(el[2:]).items()) + "]"
        else:
            out += "[=" + el[2:] + "]"
    return out


def server_side_apply(live, applied, manager, force, node, api_version, subresource="",
                      with_status=True):
    """Return the new object (live is not modified). live may be None (create)."""
    live = live or {}
    mgrs = Managers((live.get("metadata") or {}).get("managedFields"))
    new_set = fieldset(applied, node, with_status)
    conflicts = []
    for e in mgrs.entries:
        if (e["manager"], e["operation"], e["subresource"]) == (manager, "Apply", subresource):
            continue
        for p in new_set & e["set"]:
            # List-item markers are shared freely; only leaf values can conflict.
            if not p[-1].startswith("k:") and value_at(live, p) != value_at(applied, p):
                conflicts.append((e, p))
    if conflicts and not force:
        msgs = ['conflict with "%s"%s: %s' % (e["manager"],
                                              " using " + e["apiVersion"] if e["apiVersion"] != api_version else "",
                                              path_str(p)) for e, p in conflicts]
        head = "Apply failed with %d conflict%s: " % (len(msgs), "s" if len(msgs) > 1 else "")
        raise ApiError(409, "Conflict", head + "; ".join(msgs), {
            "causes": [{"reason": "FieldManagerConflict", "message": m,
                        "field": path_str(p)} for m, (_, p) in zip(msgs, conflicts)]})
    for e, p in conflicts:
        e["set"].discard(p)
    mine = mgrs.entry(manager, "Apply", subresource, api_version)
    removed = mine["set"] - new_set
    body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
    meta = dict(body.get("metadata") or {})
    for k in _META_SKIP:
        meta.pop(k, None)
    body["metadata"] = meta
    if not with_status:
        body.pop("status", None)
    result = merge_applied(live, body, node)
    others = [e["set"] for e in mgrs.entries if e is not mine]
    for p in sorted(removed, key=len, reverse=True):
        n = len(p)
        if any(q[:n] == p for s in others for q in s):
            continue
        remove_path(result, p)
    mine["set"] = new_set
    result.setdefault("metadata", {})["managedFields"] = mgrs.encode()
    return result


def track_update(old, new, manager, node, api_version, subresource="", with_status=True):
    """Record a non-apply write by `manager` in new.metadata.managedFields (in place)."""
    old = old or {}
    mgrs = Managers((new.get("metadata") or {}).get("managedFields")
                    if (new.get("metadata") or {}).get("managedFields") is not None
                    else (old.get("metadata") or {}).get("managedFields"))
    if subresource == "status":
        old_set = {p for p in fieldset(old, node) if p[:1] == ("f:status",)}
        new_set = {p for p in fieldset(new, node) if p[:1] == ("f:status",)}
    else:
        old_set = fieldset(old, node, with_status)
        new_set = fieldset(new, node, with_status)
    same = _Same(old, new)
    changed = {p for p in new_set if p not in old_set or (
        not p[-1].startswith("k:") and not same(p))}
    removed = old_set - new_set
    if changed or removed:
        mine = mgrs.entry(manager, "Update", subresource, api_version)
        for e in mgrs.entries:
            if e is not mine:
                e["set"] -= changed | removed
        mine["set"] = (mine["set"] | changed) - removed
    new.setdefault("metadata", {})["managedFields"] = mgrs.encode()
