"""Patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes
strategic merge patch (lists merged by the schema's x-kubernetes-patch-merge-key, with the
$patch / $retainKeys / $setElementOrder / $deleteFromPrimitiveList directives kubectl
sends).
"""
import copy

from .errors import ApiError, bad_request


def json_merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = json_merge_patch(result.get(k), v)
    return result


# ------------------------------------------------------------------------------ JSON patch

def _unescape(tok):
    return tok.replace("~1", "/").replace("~0", "~")


def _split(pointer):
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise bad_request("invalid JSON pointer %r" % pointer)
    return [_unescape(t) for t in pointer[1:].split("/")]


def _resolve_parent(doc, toks, pointer):
    cur = doc
    for t in toks[:-1]:
        if isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise _unprocessable("path %s not found" % pointer)
        elif isinstance(cur, dict) and t in cur:
            cur = cur[t]
        else:
            raise _unprocessable('doc is missing path: "%s"' % pointer)
    return cur


def _unprocessable(msg):
    return ApiError(422, "Invalid", "the server rejected our request due to an error in our "
                    "request: " + msg)


def _get(doc, pointer):
    toks = _split(pointer)
    if not toks:
        return doc
    parent = _resolve_parent(doc, toks, pointer)
    last = toks[-1]
    try:
        if isinstance(parent, list):
            return parent[int(last)]
        return parent[last]
    except (KeyError, ValueError, IndexError, TypeError):
        raise _unprocessable('doc is missing path: "%s"' % pointer)


def _remove(doc, pointer):
    toks = _split(pointer)
    parent = _resolve_parent(doc, toks, pointer)
    last = toks[-1]
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (KeyError, ValueError, IndexError, TypeError):
        raise _unprocessable('Unable to remove nonexistent key: %s: missing value' % last)


def _add(doc, pointer, value, replace=False):
    toks = _split(pointer)
    if not toks:
        return value
    parent = _resolve_parent(doc, toks, pointer)
    last = toks[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                i = int(last)
            except ValueError:
                raise _unprocessable("invalid index %r" % last)
            if replace:
                if not 0 <= i < len(parent):
                    raise _unprocessable('doc is missing path: "%s"' % pointer)
                parent[i] = value
            elif 0 <= i <= len(parent):
                parent.insert(i, value)
            else:
                raise _unprocessable("add operation does not apply: index out of range")
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable('doc is missing key: "%s"' % pointer)
        parent[last] = value
    else:
        raise _unprocessable('doc is missing path: "%s"' % pointer)
    return doc


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op.get("value")), replace=True)
        elif kind == "move":
            v = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, v)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _unprocessable("testing value %s failed" % path)
        else:
            raise bad_request("Unexpected kind: %s" % kind)
    return doc


# ------------------------------------------------------------------ strategic merge patch

_DELETE = object()


def _strip(v):
    """Drop directive keys from a value copied verbatim from a patch."""
    if isinstance(v, dict):
        return {k: _strip(x) for k, x in v.items() if not k.startswith("$")}
    if isinstance(v, list):
        return [_strip(x) for x in v if not (isinstance(x, dict) and "$patch" in x)]
    return v


def strategic_merge(orig, patch, node):
    """Apply strategic merge `patch` to `orig` (not modified); node: schemas.Node."""
    r = _smp_map(orig if isinstance(orig, dict) else {}, patch, node)
    return {} if r is _DELETE else r


def _smp_map(orig, patch, node):
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return _DELETE
    result = dict(orig)
    orders = {}
    for k, v in patch.items():
        if k in ("$patch", "$retainKeys"):
            continue
        if k.startswith("$setElementOrder/"):
            orders[k.split("/", 1)[1]] = v
            continue
        if k.startswith("$deleteFromPrimitiveList/"):
            f = k.split("/", 1)[1]
            if isinstance(result.get(f), list):
                result[f] = [x for x in result[f] if x not in (v or [])]
            continue
        if v is None:
            result.pop(k, None)
            continue
        child = node.field(k)
        if isinstance(v, dict):
            if child.is_atomic_map():
                result[k] = _strip(v)
                continue
            base = result.get(k) if isinstance(result.get(k), dict) else {}
            merged = _smp_map(base, v, child)
            if merged is _DELETE:
                result.pop(k, None)
            else:
                result[k] = merged
        elif isinstance(v, list):
            result[k] = _smp_list(result.get(k), v, child)
        else:
            result[k] = v
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for f, order in orders.items():
        if isinstance(result.get(f), list):
            result[f] = _reorder(result[f], order, node.field(f).patch_merge_key())
    return result


def _reorder(lst, order, key):
    def ident(x):
        return x.get(key) if key and isinstance(x, dict) else x
    pos = {repr(ident(o) if not (key and isinstance(o, dict)) else o.get(key)): i
           for i, o in enumerate(order)}
    return sorted(lst, key=lambda x: pos.get(repr(ident(x)), len(pos)))


def _smp_list(orig, patch, node):
    strategy = node.patch_strategy()
    key = node.patch_merge_key()
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [_strip(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    if "merge" not in strategy or not isinstance(orig, list):
        return [_strip(x) for x in patch if not (isinstance(x, dict) and
                                                 x.get("$patch") == "delete")]
    result = list(orig)
    if key:
        for item in patch:
            if not isinstance(item, dict):
                continue
            idx = next((i for i, o in enumerate(result)
                        if isinstance(o, dict) and o.get(key) == item.get(key)), None)
            if item.get("$patch") == "delete":
                if idx is not None:
                    result.pop(idx)
                continue
            if idx is None:
                result.append(_strip(item))
            else:
                merged = _smp_map(result[idx], item, node.items())
                if merged is _DELETE:
                    result.pop(idx)
                else:
                    result[idx] = merged
        return result
    for item in patch:
        if item not in result:
            result.append(item)
    return result
