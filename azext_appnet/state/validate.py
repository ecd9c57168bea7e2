"""Every document read from a store is checked here before the engine sees it.

The state is a trust root that anyone with write access to the file or container can edit;
a row that is not JSON, not a resource, or has fields of the wrong type must give a clear
StateError naming the store and the resource, never a traceback deep in a step. Only the
fields the engine relies on are checked (shape and type); fields it does not know are left
alone, so a newer extension's documents still read.
"""

import json

from ..errors import StateError

_STR, _INT, _NUM, _BOOL = (str,), (int,), (int, float), (bool,)
_OPT = type(None)
_OBJ = (dict,)

# field -> allowed types, for the top level, properties, and their objects.
_TOP = {"id": _STR, "name": _STR, "type": _STR + (_OPT,), "location": _STR + (_OPT,),
        "resourceGroup": _STR + (_OPT,), "tags": _OBJ + (_OPT,), "systemData": _OBJ + (_OPT,),
        "identity": _OBJ + (_OPT,), "properties": _OBJ}
_PROPERTIES = {"provisioningState": _STR + (_OPT,), "operation": _OBJ + (_OPT,), "error": _OBJ + (_OPT,),
               "certificateAuthority": _OBJ + (_OPT,), "cluster": _OBJ + (_OPT,),
               "clusterType": _STR + (_OPT,), "metadata": _OBJ + (_OPT,),
               "upgradeProfile": _OBJ + (_OPT,), "connectivityProfile": _OBJ + (_OPT,),
               "installedVersion": _STR + (_OPT,), "previousVersion": _STR + (_OPT,),
               "targetVersion": _STR + (_OPT,), "rollbacksUsed": _INT + (_OPT,)}
_OPERATION = {"name": _STR, "id": _STR, "status": _STR, "step": _STR + (_OPT,),
              "completedSteps": (list,), "parameters": _OBJ + (_OPT,), "runningState": _STR + (_OPT,),
              "startedAt": _STR + (_OPT,), "endedAt": _STR + (_OPT,), "host": _STR + (_OPT,),
              "pid": _INT + (_OPT,), "heartbeat": _NUM + (_OPT,), "runner": _OBJ + (_OPT,),
              "warnings": (list, _OPT)}
_CLUSTER = {"kubeconfig": _STR + (_OPT,), "context": _STR + (_OPT,), "server": _STR + (_OPT,),
            "kubernetesVersion": _STR + (_OPT,), "identity": _OBJ + (_OPT,)}
_UPGRADE = {"mode": _STR}
_CONNECTIVITY = {"eastWestGateway": _OBJ}
_ERROR = {"code": _STR + (_OPT,), "message": _STR + (_OPT,)}


def _type_name(value):
    return {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number",
            bool: "true/false", type(None): "null"}.get(type(value), type(value).__name__)


def _expected(types):
    names = []
    for t in types:
        name = {dict: "an object", list: "a list", str: "a string", int: "an integer",
                float: "a number", bool: "true/false", type(None): "null"}[t]
        if name not in names:
            names.append(name)
    return " or ".join(names)


def _check(doc, schema, path, required=()):
    for field in required:
        if field not in doc:
            return f"{path}{field} is missing"
    for field, types in schema.items():
        if field in doc:
            value = doc[field]
            # bool is an int in Python; a count or pid of `true` is still wrong.
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return f"{path}{field} is {_type_name(value)}, not {_expected(types)}"
    return None


def problem(doc, key=None):
    """What is wrong with a resource document, or None."""
    if not isinstance(doc, dict):
        return f"the record is {_type_name(doc)}, not a resource object"
    found = _check(doc, _TOP, "", required=("id", "name", "properties"))
    if not found and key is not None and doc["id"].rstrip("/").lower() != key:
        found = f"its id {doc['id']} is not the one it is stored under ({key})"
    if not found:
        found = _properties_problem(doc["properties"])
    if not found and not all(isinstance(v, str) for v in (doc.get("tags") or {}).values()):
        found = "tags holds a value that is not a string"
    return found


def _properties_problem(props):
    found = _check(props, _PROPERTIES, "properties.")
    for field, schema, required in (("operation", _OPERATION, ("name", "id", "status", "completedSteps")),
                                    ("cluster", _CLUSTER, ()), ("upgradeProfile", _UPGRADE, ("mode",)),
                                    ("connectivityProfile", _CONNECTIVITY, ()), ("error", _ERROR, ())):
        if found:
            return found
        if isinstance(props.get(field), dict):
            found = _check(props[field], schema, f"properties.{field}.", required)
    if found:
        return found
    op = props.get("operation")
    if isinstance(op, dict) and not all(isinstance(s, str) for s in op["completedSteps"]):
        return "properties.operation.completedSteps holds something other than step names"
    return None


def decode(text, where, key):
    """The document stored as `text` under `key` in the store `where`, checked; StateError
    naming both when it is not JSON or not a well-formed resource."""
    try:
        doc = json.loads(text)
    except (TypeError, ValueError, RecursionError) as ex:
        raise damaged(where, key, f"it is not valid JSON ({type(ex).__name__})") from None
    found = problem(doc, key)
    if found:
        rid = doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else key
        raise damaged(where, rid, found)
    return doc


def damaged(where, resource, what):
    return StateError(
        f"The state store {where} holds a damaged record for {resource}: {what}.",
        "Restore the store from a backup, or correct or delete that record (it was not "
        "written by this extension). No command changed it.")
