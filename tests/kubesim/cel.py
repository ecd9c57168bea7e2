"""CEL validation rules of CRD schemas (`x-kubernetes-validations`), evaluated with
cel-python (celpy) plus the Kubernetes CEL libraries CRDs use (strings, lists, regex,
URLs, IPs/CIDRs): the API server's rule semantics -- `self` the value at the rule's node,
`oldSelf` the correlated old value (transition rules run on update only), `message` /
`messageExpression` / `reason` / `fieldPath` -- are modelled here; the expression language
itself is celpy's.

Not supported: CEL optionals (`?.`, `optionalOldSelf`), cost budgets, `quantity()`.
"""
import functools
import ipaddress
import json
import re
import urllib.parse

import celpy
from celpy import celtypes
from celpy.evaluation import CELEvalError

_env = celpy.Environment()


# --------------------------------------------------------------------- Kubernetes libraries

def _s(v):
    return celtypes.StringType(v)


def _index_of(x, sub, start=0):
    if isinstance(x, (list, celtypes.ListType)):
        return celtypes.IntType(next((i for i, v in enumerate(x) if v == sub), -1))
    return celtypes.IntType(str(x).find(str(sub), int(start)))


def _last_index_of(x, sub):
    if isinstance(x, (list, celtypes.ListType)):
        idx = [i for i, v in enumerate(x) if v == sub]
        return celtypes.IntType(idx[-1] if idx else -1)
    return celtypes.IntType(str(x).rfind(str(sub)))


def _substring(s, start, end=None):
    s, start = str(s), int(start)
    end = len(s) if end is None else int(end)
    if not 0 <= start <= end <= len(s):
        raise ValueError("index out of range: %d" % (end if end > len(s) else start))
    return _s(s[start:end])


def _split(s, sep, n=None):
    parts = str(s).split(str(sep)) if n is None or int(n) < 0 else \
        str(s).split(str(sep), max(int(n) - 1, 0))
    return celtypes.ListType([_s(p) for p in parts])


def _join(lst, sep=""):
    return _s(str(sep).join(str(x) for x in lst))


class URL(celtypes.StringType):
    """url(string): what getScheme()/getHost()... are called on."""


def _url(s):
    u = urllib.parse.urlsplit(str(s))
    if not u.scheme and not str(s).startswith("/"):
        raise ValueError("URL parse error during conversion from string: %s" % s)
    return URL(str(s))


def _is_url(s):
    try:
        _url(s)
        return celtypes.BoolType(True)
    except ValueError:
        return celtypes.BoolType(False)


def _part(fn):
    return lambda u: _s(fn(urllib.parse.urlsplit(str(u))) or "")


def _is_ip(s):
    try:
        ipaddress.ip_address(str(s))
        return celtypes.BoolType("%" not in str(s))
    except ValueError:
        return celtypes.BoolType(False)


def _ip(s):
    if not _is_ip(s):
        raise ValueError("IP Address '%s' parse error during conversion from string" % s)
    return _s(str(s))


def _is_cidr(s):
    try:
        ipaddress.ip_network(str(s), strict=False)
        return celtypes.BoolType("/" in str(s))
    except ValueError:
        return celtypes.BoolType(False)


def _find(s, pattern):
    m = re.search(str(pattern), str(s))
    return _s(m.group(0) if m else "")


def _find_all(s, pattern, n=-1):
    found = [m.group(0) for m in re.finditer(str(pattern), str(s))]
    return celtypes.ListType([_s(x) for x in (found if int(n) < 0 else found[:int(n)])])


EXTENSIONS = {
    "charAt": lambda s, i: _s(str(s)[int(i)] if int(i) < len(str(s)) else ""),
    "indexOf": _index_of, "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: _s(str(s).lower()), "upperAscii": lambda s: _s(str(s).upper()),
    "replace": lambda s, a, b, n=-1: _s(str(s).replace(str(a), str(b), int(n))),
    "split": _split, "substring": _substring, "trim": lambda s: _s(str(s).strip()),
    "join": _join, "find": _find, "findAll": _find_all,
    "isSorted": lambda lst: celtypes.BoolType(list(lst) == sorted(lst)),
    "sum": lambda lst: sum(lst[1:], lst[0]) if lst else celtypes.IntType(0),
    "min": lambda lst: min(lst), "max": lambda lst: max(lst),
    "url": _url, "isURL": _is_url,
    "getScheme": _part(lambda u: u.scheme), "getHost": _part(lambda u: u.netloc),
    "getHostname": _part(lambda u: u.hostname), "getPort": _part(lambda u: str(u.port or "")),
    "getEscapedPath": _part(lambda u: u.path), "getQuery": lambda u: celtypes.MapType({
        _s(k): celtypes.ListType([_s(x) for x in v])
        for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(str(u)).query).items()}),
    "isIP": _is_ip, "ip": _ip, "isCIDR": _is_cidr,
}


class RuleError(Exception):
    """A rule that does not compile (reported on CRD creation)."""


@functools.lru_cache(maxsize=4096)
def program(expr):
    try:
        return _env.program(_env.compile(expr), functions=EXTENSIONS)
    except Exception as e:      # celpy's parse errors are of several types
        raise RuleError(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))


def uses_old_self(expr):
    return re.search(r"\boldSelf\b", expr) is not None


# ----------------------------------------------------------------------------- values

def _to_cel(value, s):
    """JSON value -> CEL value, typed by its schema (numbers are doubles, as in the API
    server; integers stay ints)."""
    s = s or {}
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, (int, float)):
        if s.get("type") == "number":
            return celtypes.DoubleType(float(value))
        return celtypes.IntType(int(value)) if float(value).is_integer() else \
            celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, list):
        return celtypes.ListType([_to_cel(v, s.get("items")) for v in value])
    if isinstance(value, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties") if isinstance(s.get("additionalProperties"),
                                                         dict) else {}
        return celtypes.MapType({celtypes.StringType(k): _to_cel(v, props.get(k, ap))
                                 for k, v in value.items() if v is not None})
    return celpy.json_to_cel(value)


def _type_name(s):
    # What the API server shows as the "value" of a failed rule: the node's type ("" for
    # int-or-string nodes, which have none).
    return s.get("type") or ""


def _path(parts):
    out = ""
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else ("." + p if out else p)
    return out


# ----------------------------------------------------------------------------- evaluation

def _message(rule, activation):
    me = rule.get("messageExpression")
    if me:
        try:
            m = program(me).evaluate(activation)
            if isinstance(m, str) and m.strip():
                return str(m)
        except (CELEvalError, RuleError, Exception):
            pass
    return rule.get("message") or "failed rule: %s" % rule.get("rule", "")


def _check_rules(value, old, s, path, causes, has_old):
    for rule in s.get("x-kubernetes-validations") or []:
        expr = rule.get("rule", "")
        transition = uses_old_self(expr)
        if transition and not has_old:
            continue
        activation = {"self": _to_cel(value, s)}
        if transition:
            activation["oldSelf"] = _to_cel(old, s)
        field = _path(path)
        if rule.get("fieldPath"):
            field = (field + rule["fieldPath"]) if field else rule["fieldPath"].lstrip(".")
        try:
            ok = program(expr).evaluate(activation)
        except RuleError as e:
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: compilation "
                           "failed: %s" % (json.dumps(_type_name(s)), e)))
            continue
        except (CELEvalError, Exception) as e:
            detail = e.args[0] if isinstance(e, CELEvalError) and e.args else str(e)
            causes.append((field, "FieldValueInvalid", "Invalid value: %s: %s evaluating rule: "
                           "%s" % (json.dumps(_type_name(s)), detail, expr)))
            continue
        if ok is True or (isinstance(ok, celtypes.BoolType) and bool(ok)):
            continue
        msg = _message(rule, activation)
        reason = rule.get("reason") or "FieldValueInvalid"
        if reason == "FieldValueForbidden":
            text = "Forbidden: " + msg
        elif reason == "FieldValueRequired":
            text = "Required value: " + msg
        elif reason == "FieldValueDuplicate":
            text = "Duplicate value: %s" % json.dumps(msg)
        else:
            reason, text = "FieldValueInvalid", "Invalid value: %s: %s" % (
                json.dumps(_type_name(s)), msg)
        causes.append((field, reason, text))


def _list_keys(s):
    if s.get("x-kubernetes-list-type") == "map":
        return s.get("x-kubernetes-list-map-keys") or []
    return None


def validate(value, s, old=None, has_old=False, path=None, causes=None):
    """All CEL rule failures of `value` against structural schema `s` as (field, reason,
    message) causes. `old`/`has_old`: the previous object on update, for transition rules."""
    causes = [] if causes is None else causes
    path = path or []
    if not isinstance(s, dict) or value is None:
        return causes
    _check_rules(value, old, s, path, causes, has_old)
    if isinstance(value, dict):
        props = s.get("properties") or {}
        ap = s.get("additionalProperties")
        old_map = old if has_old and isinstance(old, dict) else {}
        for k, v in value.items():
            ps = props.get(k) if k in props else (ap if isinstance(ap, dict) else None)
            if ps is not None:
                validate(v, ps, old_map.get(k), k in old_map, path + [k], causes)
    elif isinstance(value, list) and isinstance(s.get("items"), dict):
        keys = _list_keys(s)
        olds = {}
        if keys and has_old and isinstance(old, list):
            for o in old:
                if isinstance(o, dict):
                    olds[tuple(json.dumps(o.get(k)) for k in keys)] = o
        for i, v in enumerate(value):
            key = tuple(json.dumps(v.get(k)) for k in keys) if keys and isinstance(v, dict) \
                else None
            validate(v, s["items"], olds.get(key), key in olds, path + [i], causes)
    return causes


def compile_errors(s, path):
    """Rules of a schema that do not compile: (field, reason, message) causes."""
    out = []
    if not isinstance(s, dict):
        return out
    for i, rule in enumerate(s.get("x-kubernetes-validations") or []):
        f = "%s.x-kubernetes-validations[%d]" % (path, i)
        if not isinstance(rule, dict) or not rule.get("rule"):
            out.append((f + ".rule", "FieldValueRequired", "Required value"))
            continue
        for key in ("rule", "messageExpression"):
            if rule.get(key):
                try:
                    program(rule[key])
                except RuleError as e:
                    out.append(("%s.%s" % (f, key), "FieldValueInvalid",
                                "Invalid value: %s: compilation failed: %s"
                                % (json.dumps(rule[key]), e)))
    for k, sub in (s.get("properties") or {}).items():
        out.extend(compile_errors(sub, "%s.properties[%s]" % (path, k)))
    for key in ("items", "additionalProperties"):
        if isinstance(s.get(key), dict):
            out.extend(compile_errors(s[key], "%s.%s" % (path, key)))
    return out
