"""Kubernetes `Status` error objects.

Every failure the emulator answers is an ApiError raised somewhere in the request path and
turned into a `Status` body at the HTTP layer, so clients that parse `reason`/`code`
(kubectl, the Python client, our kube layer) see what a real API server would send.
"""


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(rt, name):
    d = {"kind": rt.plural if rt else ""}
    if name:
        d["name"] = name
    if rt is not None and rt.group:
        d["group"] = rt.group
    return d


def _qual(rt):
    # The API server names a resource "plural.group" in messages (core group: "plural").
    if rt is None:
        return "resource"
    return rt.plural + ("." + rt.group if rt.group else "")


def not_found(rt, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (_qual(rt), name), _details(rt, name))


def already_exists(rt, name):
    return ApiError(409, "AlreadyExists", '%s "%s" already exists' % (_qual(rt), name),
                    _details(rt, name))


def conflict(rt, name, why):
    return ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": %s'
                    % (_qual(rt), name, why), _details(rt, name))


def invalid(kind, group, name, causes):
    """422 Invalid. causes: list of (field, reason, message)."""
    qual = kind + ("." + group if group else "")
    parts = ["%s: %s" % (f, m) if f else m for f, _, m in causes]
    listed = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    msg = '%s "%s" is invalid: %s' % (qual, name, listed)
    details = {"name": name, "kind": kind,
               "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", msg, details)


def bad_request(message, causes=None):
    details = None
    if causes:
        details = {"causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]}
    return ApiError(400, "BadRequest", message, details)


def forbidden(user, verb, rt_name, group, name, namespace):
    what = 'User "%s" cannot %s resource "%s" in API group "%s"' % (user, verb, rt_name, group)
    if namespace:
        what += ' in the namespace "%s"' % namespace
    else:
        what += " at the cluster scope"
    subject = rt_name + ("." + group if group else "")
    if name:
        subject += ' "%s"' % name
    return ApiError(403, "Forbidden", "%s is forbidden: %s" % (subject, what),
                    {"name": name or "", "group": group, "kind": rt_name.split("/")[0]})


def unauthorized():
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(msg="the server does not allow this method on the requested resource"):
    return ApiError(405, "MethodNotAllowed", msg)


def unsupported_media_type(ctype):
    return ApiError(415, "UnsupportedMediaType",
                    'the body of the request was in an unknown format - accepted media types '
                    'include: application/json, application/yaml, application/vnd.kubernetes.'
                    'protobuf (got "%s")' % ctype)


def patch_type_unsupported(ctype, custom=False):
    """PATCH with a Content-Type that is no patch format (application/json among them:
    the API server never guesses which patch a plain JSON body meant)."""
    types = ["application/json-patch+json", "application/merge-patch+json",
             "application/apply-patch+yaml"]
    if not custom:
        types.append("application/strategic-merge-patch+json")
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                    "format - accepted media types include: " + ", ".join(types))


def gone(message):
    return ApiError(410, "Expired", message)
