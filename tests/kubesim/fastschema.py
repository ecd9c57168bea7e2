"""A compiled yes/no check of an object against a built-in kind's JSON Schema.

jsonschema walks the schema anew on every call (a validator object per subschema, a
registry lookup per $ref), which made validation most of the emulator's CPU per write.
Nearly every write is valid, so the question asked first is only "any error at all?",
answered here by plain Python closures built once per schema. When the answer is "yes"
(or could be), validation.py asks jsonschema for the errors, so every message a client
sees still comes from jsonschema itself.

The check is exact for the keywords the kubernetes-validate schemas use (type, enum,
properties, additionalProperties, required, items, oneOf, $ref into _definitions.json,
annotations). A schema using anything else is not compiled (compile_check returns None)
and is always left to jsonschema: an unknown keyword must never make a bad write pass.
"""
import numbers
import threading

_DEFS_ID = "https://kubernetes.io/api/_definitions.json"
_DEFS_REF = "/api/_definitions.json#/$defs/"
_LOCAL_REF = "#/$defs/"
# Keywords that never produce an error (format too: the validator has no format checker).
_ANNOTATIONS = {"description", "format", "title", "default", "examples", "deprecated",
                "readOnly", "writeOnly", "$comment"}
_ASSERTING = {"$ref", "type", "enum", "oneOf", "properties", "additionalProperties",
              "required", "items"}
_SIMPLE_TYPES = {"string": str, "object": dict, "array": list, "boolean": bool,
                 "null": type(None)}


class _Unsupported(Exception):
    pass


def _always(_):
    return True


def _never(_):
    return False


def _is_integer(x):
    # As the 2020-12 type checker: 1.0 is an integer, True is not.
    if isinstance(x, bool):
        return False
    return isinstance(x, int) or (isinstance(x, float) and x.is_integer())


def _is_number(x):
    return isinstance(x, numbers.Number) and not isinstance(x, bool)


def _type_check(t):
    names = t if isinstance(t, list) else [t]
    if not all(isinstance(n, str) for n in names):
        raise _Unsupported()
    if all(n in _SIMPLE_TYPES for n in names):
        pytypes = tuple(_SIMPLE_TYPES[n] for n in names)
        return lambda x: isinstance(x, pytypes)
    preds = []
    for n in names:
        if n in _SIMPLE_TYPES:
            py = _SIMPLE_TYPES[n]
            preds.append(lambda x, py=py: isinstance(x, py))
        elif n == "integer":
            preds.append(_is_integer)
        elif n == "number":
            preds.append(_is_number)
        else:
            raise _Unsupported()
    return lambda x: any(p(x) for p in preds)


def _enum_check(values):
    if not isinstance(values, list):
        raise _Unsupported()
    if any(v is not None and not isinstance(v, str) for v in values):
        # jsonschema compares numbers and containers with bool-aware equality; the
        # built-in schemas have none of those, so none is reimplemented here.
        raise _Unsupported()
    strings = frozenset(v for v in values if isinstance(v, str))
    has_null = None in values

    def check(x):
        if isinstance(x, str):
            return x in strings
        return x is None and has_null
    return check


def _all_of(checks):
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check(x):
        for c in checks:
            if not c(x):
                return False
        return True
    return check


def _one_of(alts):
    def check(x):
        n = 0
        for a in alts:
            if a(x):
                n += 1
        return n == 1
    return check


def _items(item):
    def check(x):
        if isinstance(x, list):
            for i in x:
                if not item(i):
                    return False
        return True
    return check


class _Compiler:
    """Compiles schemas whose $refs point into one _definitions.json; each definition is
    compiled once and shared by every kind of that schema set."""

    def __init__(self, defs):
        if not isinstance(defs, dict) or defs.get("$id") != _DEFS_ID:
            raise _Unsupported()
        self.defs = defs.get("$defs") or {}
        self.done = {}

    def ref(self, ref, in_defs):
        if ref.startswith(_DEFS_REF):
            name = ref[len(_DEFS_REF):]
        elif in_defs and ref.startswith(_LOCAL_REF):
            name = ref[len(_LOCAL_REF):]
        else:
            raise _Unsupported()
        if "/" in name or "~" in name or "%" in name or name not in self.defs:
            raise _Unsupported()
        if name not in self.done:
            # Recursive definitions (JSONSchemaProps) reach themselves before they are
            # compiled: they go through a cell filled in below.
            cell = []
            self.done[name] = lambda x: cell[0](x)
            fn = self.schema(self.defs[name], True)
            cell.append(fn)
            self.done[name] = fn
        return self.done[name]

    def schema(self, s, in_defs, root=False):
        if s is True:
            return _always
        if s is False:
            return _never
        if not isinstance(s, dict):
            raise _Unsupported()
        for k in s:
            if k in _ASSERTING or k in _ANNOTATIONS or k.startswith("x-"):
                continue
            if root and k in ("$schema", "$id"):
                continue
            raise _Unsupported()
        checks = []
        if "$ref" in s:
            if not isinstance(s["$ref"], str):
                raise _Unsupported()
            checks.append(self.ref(s["$ref"], in_defs))
        if "type" in s:
            checks.append(_type_check(s["type"]))
        if "enum" in s:
            checks.append(_enum_check(s["enum"]))
        if "oneOf" in s:
            if not isinstance(s["oneOf"], list) or not s["oneOf"]:
                raise _Unsupported()
            checks.append(_one_of([self.schema(a, in_defs) for a in s["oneOf"]]))
        if any(k in s for k in ("properties", "additionalProperties", "required")):
            checks.append(self._object(s, in_defs))
        if "items" in s:
            checks.append(_items(self.schema(s["items"], in_defs)))
        return _all_of(checks)

    def _object(self, s, in_defs):
        props = s.get("properties", {})
        required = s.get("required", [])
        ap = s.get("additionalProperties", True)
        if not isinstance(props, dict) or not isinstance(required, list) or \
                not all(isinstance(r, str) for r in required):
            raise _Unsupported()
        compiled = {k: self.schema(v, in_defs) for k, v in props.items()}
        closed = ap is False
        extra = None if ap is True or closed else self.schema(ap, in_defs)

        def check(x):
            if not isinstance(x, dict):
                return True
            for r in required:
                if r not in x:
                    return False
            for k, v in x.items():
                fn = compiled.get(k)
                if fn is None:
                    if closed or (extra is not None and not extra(v)):
                        return False
                elif not fn(v):
                    return False
            return True
        return check


class Checks:
    """Compiled checks of the kinds of one schema set (one _definitions.json)."""

    def __init__(self, defs):
        try:
            self._compiler = _Compiler(defs)
        except _Unsupported:
            self._compiler = None
        # Emulated clusters of one process validate on their own threads; a definition
        # being compiled must not be seen half-done by another.
        self._lock = threading.Lock()

    def compile(self, schema):
        """A function: object -> True when jsonschema (Draft 2020-12, no format checker)
        finds no error in it; None when the schema is not one this module compiles."""
        if self._compiler is None:
            return None
        sid = schema.get("$id") if isinstance(schema, dict) else None
        if not isinstance(sid, str) or not sid.startswith("https://kubernetes.io/api/"):
            return None     # its relative $refs would resolve elsewhere
        if schema.get("$schema", "https://json-schema.org/draft/2020-12/schema") != \
                "https://json-schema.org/draft/2020-12/schema":
            return None
        with self._lock:
            known = set(self._compiler.done)
            try:
                return self._compiler.schema(schema, False, root=True)
            except _Unsupported:
                # Definitions compiled on the way may hold a cell of one that failed:
                # none of them is kept.
                for name in set(self._compiler.done) - known:
                    del self._compiler.done[name]
                return None
