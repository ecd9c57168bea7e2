"""Decoding of the protobuf request bodies kubectl sends (`create namespace|configmap|
secret|serviceaccount|role|deployment|service|pdb|job|cronjob|ingress|priorityclass|quota`,
`run`, `create token`, `auth can-i`). Answers are always JSON, which kubectl accepts.

Envelope: magic b"k8s\\0" + runtime.Unknown {1 TypeMeta{1 apiVersion, 2 kind}, 2 raw,
3 contentEncoding, 4 contentType}; the raw bytes use the field numbers of the k8s.io/api
generated.proto files, tabled below for the kinds concerned.
"""
import base64
import datetime

from .errors import ApiError

MAGIC = b"k8s\x00"

# field number -> (json name, type, message table or None, repeated)
S, B, I, BOOL, M, MAP_SS, MAP_SB = "s", "b", "i", "bool", "m", "map_ss", "map_sb"
MAP_SQ = "map_sq"       # map<string, resource.Quantity>

TIME = {1: ("seconds", I, None, False), 2: ("nanos", I, None, False)}
OWNER_REF = {1: ("kind", S, None, False), 3: ("name", S, None, False),
             4: ("uid", S, None, False), 5: ("apiVersion", S, None, False),
             6: ("controller", BOOL, None, False), 7: ("blockOwnerDeletion", BOOL, None, False)}
OBJECT_META = {1: ("name", S, None, False), 2: ("generateName", S, None, False),
               3: ("namespace", S, None, False), 5: ("uid", S, None, False),
               6: ("resourceVersion", S, None, False), 7: ("generation", I, None, False),
               8: ("creationTimestamp", "time", TIME, False),
               11: ("labels", MAP_SS, None, False), 12: ("annotations", MAP_SS, None, False),
               13: ("ownerReferences", M, OWNER_REF, True),
               14: ("finalizers", S, None, True)}
LABEL_SELECTOR_REQ = {1: ("key", S, None, False), 2: ("operator", S, None, False),
                      3: ("values", S, None, True)}
LABEL_SELECTOR = {1: ("matchLabels", MAP_SS, None, False),
                  2: ("matchExpressions", M, LABEL_SELECTOR_REQ, True)}
OBJECT_REF = {1: ("kind", S, None, False), 2: ("namespace", S, None, False),
              3: ("name", S, None, False), 4: ("uid", S, None, False),
              5: ("apiVersion", S, None, False), 6: ("resourceVersion", S, None, False),
              7: ("fieldPath", S, None, False)}
POLICY_RULE = {1: ("verbs", S, None, True), 2: ("apiGroups", S, None, True),
               3: ("resources", S, None, True), 4: ("resourceNames", S, None, True),
               5: ("nonResourceURLs", S, None, True)}
SUBJECT = {1: ("kind", S, None, False), 2: ("apiGroup", S, None, False),
           3: ("name", S, None, False), 4: ("namespace", S, None, False)}
ROLE_REF = {1: ("apiGroup", S, None, False), 2: ("kind", S, None, False),
            3: ("name", S, None, False)}
RESOURCE_ATTRS = {1: ("namespace", S, None, False), 2: ("verb", S, None, False),
                  3: ("group", S, None, False), 4: ("version", S, None, False),
                  5: ("resource", S, None, False), 6: ("subresource", S, None, False),
                  7: ("name", S, None, False)}
NON_RESOURCE_ATTRS = {1: ("path", S, None, False), 2: ("verb", S, None, False)}

INT_OR_STRING = {1: ("type", I, None, False), 2: ("intVal", I, None, False),
                 3: ("strVal", S, None, False)}
RESOURCES = {1: ("limits", MAP_SQ, None, False), 2: ("requests", MAP_SQ, None, False)}
CONTAINER = {1: ("name", S, None, False), 2: ("image", S, None, False),
             3: ("command", S, None, True), 4: ("args", S, None, True),
             5: ("workingDir", S, None, False),
             6: ("ports", M, {1: ("name", S, None, False), 2: ("hostPort", I, None, False),
                              3: ("containerPort", I, None, False),
                              4: ("protocol", S, None, False)}, True),
             7: ("env", M, {1: ("name", S, None, False), 2: ("value", S, None, False)}, True),
             8: ("resources", M, RESOURCES, False),
             14: ("imagePullPolicy", S, None, False), 16: ("stdin", BOOL, None, False),
             17: ("stdinOnce", BOOL, None, False), 18: ("tty", BOOL, None, False)}
POD_SPEC = {2: ("containers", M, CONTAINER, True), 3: ("restartPolicy", S, None, False),
            6: ("dnsPolicy", S, None, False), 7: ("nodeSelector", MAP_SS, None, False),
            8: ("serviceAccountName", S, None, False),
            15: ("imagePullSecrets", M, {1: ("name", S, None, False)}, True)}
POD_TEMPLATE = {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, POD_SPEC, False)}
JOB_SPEC = {1: ("parallelism", I, None, False), 2: ("completions", I, None, False),
            3: ("activeDeadlineSeconds", I, None, False), 4: ("selector", M, LABEL_SELECTOR, False),
            5: ("manualSelector", BOOL, None, False), 6: ("template", M, POD_TEMPLATE, False),
            7: ("backoffLimit", I, None, False), 8: ("ttlSecondsAfterFinished", I, None, False),
            9: ("completionMode", S, None, False), 10: ("suspend", BOOL, None, False)}
SCALE_TARGET = {1: ("kind", S, None, False), 2: ("name", S, None, False),
                3: ("apiVersion", S, None, False)}
INGRESS_BACKEND = {4: ("service", M, {1: ("name", S, None, False), 2: ("port", M, {
    1: ("name", S, None, False), 2: ("number", I, None, False)}, False)}, False)}

KINDS = {
    # kubectl create deployment / service (the fields those commands set).
    "Deployment": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("replicas", I, None, False), 2: ("selector", M, LABEL_SELECTOR, False),
        3: ("template", M, POD_TEMPLATE, False)}, False)},
    "Service": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("ports", M, {1: ("name", S, None, False), 2: ("protocol", S, None, False),
                         3: ("port", I, None, False),
                         4: ("targetPort", "intstr", INT_OR_STRING, False),
                         5: ("nodePort", I, None, False), 6: ("appProtocol", S, None, False)},
            True),
        2: ("selector", MAP_SS, None, False), 3: ("clusterIP", S, None, False),
        4: ("type", S, None, False), 5: ("externalIPs", S, None, True),
        7: ("sessionAffinity", S, None, False), 8: ("loadBalancerIP", S, None, False),
        9: ("loadBalancerSourceRanges", S, None, True), 10: ("externalName", S, None, False),
        11: ("externalTrafficPolicy", S, None, False),
        13: ("publishNotReadyAddresses", BOOL, None, False),
        17: ("ipFamilyPolicy", S, None, False), 18: ("clusterIPs", S, None, True),
        19: ("ipFamilies", S, None, True), 21: ("loadBalancerClass", S, None, False),
        22: ("internalTrafficPolicy", S, None, False)}, False)},
    # kubectl create poddisruptionbudget|job|cronjob|ingress|priorityclass|quota, run.
    "PodDisruptionBudget": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("minAvailable", "intstr", INT_OR_STRING, False),
        2: ("selector", M, LABEL_SELECTOR, False),
        3: ("maxUnavailable", "intstr", INT_OR_STRING, False),
        4: ("unhealthyPodEvictionPolicy", S, None, False)}, False)},
    "Pod": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, POD_SPEC, False)},
    "Job": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, JOB_SPEC, False)},
    "CronJob": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("schedule", S, None, False), 2: ("startingDeadlineSeconds", I, None, False),
        3: ("concurrencyPolicy", S, None, False), 4: ("suspend", BOOL, None, False),
        5: ("jobTemplate", M, {1: ("metadata", M, OBJECT_META, False),
                               2: ("spec", M, JOB_SPEC, False)}, False),
        6: ("successfulJobsHistoryLimit", I, None, False),
        7: ("failedJobsHistoryLimit", I, None, False), 8: ("timeZone", S, None, False)},
        False)},
    "Ingress": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("defaultBackend", M, INGRESS_BACKEND, False),
        2: ("tls", M, {1: ("hosts", S, None, True), 2: ("secretName", S, None, False)}, True),
        3: ("rules", M, {1: ("host", S, None, False), 2: ("http", "inline", {1: ("http", M, {
            1: ("paths", M, {1: ("path", S, None, False), 3: ("pathType", S, None, False),
                             2: ("backend", M, INGRESS_BACKEND, False)}, True)}, False)},
            False)}, True),
        4: ("ingressClassName", S, None, False)}, False)},
    "PriorityClass": {1: ("metadata", M, OBJECT_META, False), 2: ("value", I, None, False),
                      3: ("globalDefault", BOOL, None, False),
                      4: ("description", S, None, False),
                      5: ("preemptionPolicy", S, None, False)},
    "ResourceQuota": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("hard", MAP_SQ, None, False), 2: ("scopes", S, None, True),
        3: ("scopeSelector", M, {1: ("matchExpressions", M, {
            1: ("scopeName", S, None, False), 2: ("operator", S, None, False),
            3: ("values", S, None, True)}, True)}, False)}, False)},
    "autoscaling/v2 HorizontalPodAutoscaler": {1: ("metadata", M, OBJECT_META, False), 2: (
        "spec", M, {1: ("scaleTargetRef", M, SCALE_TARGET, False),
                    2: ("minReplicas", I, None, False), 3: ("maxReplicas", I, None, False),
                    4: ("metrics", M, {1: ("type", S, None, False), 4: ("resource", M, {
                        1: ("name", S, None, False), 2: ("target", M, {
                            1: ("type", S, None, False), 2: ("value", "quantity", None, False),
                            3: ("averageValue", "quantity", None, False),
                            4: ("averageUtilization", I, None, False)}, False)}, False)},
                        True)}, False)},
    "autoscaling/v1 HorizontalPodAutoscaler": {1: ("metadata", M, OBJECT_META, False), 2: (
        "spec", M, {1: ("scaleTargetRef", M, SCALE_TARGET, False),
                    2: ("minReplicas", I, None, False), 3: ("maxReplicas", I, None, False),
                    4: ("targetCPUUtilizationPercentage", I, None, False)}, False)},
    "Namespace": {1: ("metadata", M, OBJECT_META, False),
                  2: ("spec", M, {1: ("finalizers", S, None, True)}, False)},
    "ConfigMap": {1: ("metadata", M, OBJECT_META, False), 2: ("data", MAP_SS, None, False),
                  3: ("binaryData", MAP_SB, None, False), 4: ("immutable", BOOL, None, False)},
    "Secret": {1: ("metadata", M, OBJECT_META, False), 2: ("data", MAP_SB, None, False),
               3: ("type", S, None, False), 4: ("stringData", MAP_SS, None, False),
               5: ("immutable", BOOL, None, False)},
    "ServiceAccount": {1: ("metadata", M, OBJECT_META, False),
                       2: ("secrets", M, OBJECT_REF, True),
                       3: ("imagePullSecrets", M, {1: ("name", S, None, False)}, True),
                       4: ("automountServiceAccountToken", BOOL, None, False)},
    "TokenRequest": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("audiences", S, None, True), 4: ("expirationSeconds", I, None, False),
        3: ("boundObjectRef", M, {1: ("kind", S, None, False), 2: ("apiVersion", S, None, False),
                                  3: ("name", S, None, False), 4: ("uid", S, None, False)},
            False)}, False)},
    "SelfSubjectAccessReview": {1: ("metadata", M, OBJECT_META, False), 2: ("spec", M, {
        1: ("resourceAttributes", M, RESOURCE_ATTRS, False),
        2: ("nonResourceAttributes", M, NON_RESOURCE_ATTRS, False)}, False)},
    "SelfSubjectRulesReview": {1: ("metadata", M, OBJECT_META, False),
                               2: ("spec", M, {1: ("namespace", S, None, False)}, False)},
    "SelfSubjectReview": {1: ("metadata", M, OBJECT_META, False)},
    "Role": {1: ("metadata", M, OBJECT_META, False), 2: ("rules", M, POLICY_RULE, True)},
    "ClusterRole": {1: ("metadata", M, OBJECT_META, False), 2: ("rules", M, POLICY_RULE, True),
                    3: ("aggregationRule", M, {1: ("clusterRoleSelectors", M, LABEL_SELECTOR,
                                                   True)}, False)},
    "RoleBinding": {1: ("metadata", M, OBJECT_META, False), 2: ("subjects", M, SUBJECT, True),
                    3: ("roleRef", M, ROLE_REF, False)},
    "ClusterRoleBinding": {1: ("metadata", M, OBJECT_META, False),
                           2: ("subjects", M, SUBJECT, True), 3: ("roleRef", M, ROLE_REF, False)},
}


def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """Yield (field number, wire type, value) of a message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        fno, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            v, i = buf[i:i + ln], i + ln
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield fno, wt, v


def _int(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def decode_message(buf, table):
    out = {}
    for fno, wt, v in _fields(buf):
        spec = table.get(fno)
        if spec is None:
            continue        # fields we do not table are dropped (status, etc.)
        name, typ, sub, repeated = spec
        if typ == S:
            val = bytes(v).decode()
        elif typ == B:
            val = base64.b64encode(bytes(v)).decode()
        elif typ == I:
            val = _int(v)
        elif typ == BOOL:
            val = bool(v)
        elif typ == M:
            val = decode_message(v, sub)
        elif typ == "intstr":
            t = decode_message(v, sub)
            val = t.get("strVal", "") if t.get("type") == 1 else t.get("intVal", 0)
        elif typ == "time":
            t = decode_message(v, sub)
            if not t.get("seconds"):
                continue        # the zero Time Go writes for an unset timestamp
            val = datetime.datetime.fromtimestamp(t.get("seconds", 0), datetime.timezone.utc) \
                .strftime("%Y-%m-%dT%H:%M:%SZ")
        elif typ == "quantity":     # resource.Quantity {1 string}
            val = bytes(dict((f, x) for f, _, x in _fields(v)).get(1, b"")).decode()
        elif typ == "inline":
            # A message whose fields JSON shows inline (IngressRule's IngressRuleValue).
            out.update(decode_message(v, sub))
            continue
        elif typ in (MAP_SS, MAP_SB, MAP_SQ):
            kv = {f: x for f, _, x in _fields(v)}
            k = bytes(kv.get(1, b"")).decode()
            raw = bytes(kv.get(2, b""))
            if typ == MAP_SQ:       # resource.Quantity {1 string}
                raw = bytes(dict((f, x) for f, _, x in _fields(raw)).get(1, b""))
            out.setdefault(name, {})[k] = raw.decode() if typ != MAP_SB \
                else base64.b64encode(raw).decode()
            continue
        else:
            continue
        if repeated:
            out.setdefault(name, []).append(val)
        elif val not in ("", 0, False, {}) or typ in (M, "intstr"):
            # Go's generated marshallers write zero values of non-pointer fields; JSON
            # would omit them, so drop them here.
            out[name] = val
    return out


def decode(body):
    """Protobuf request body -> JSON-shaped object (raises 415 for untabled kinds)."""
    if not body.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s magic prefix")
    unknown = {f: v for f, _, v in _fields(body[4:])}
    tm = {f: bytes(v).decode() for f, _, v in _fields(unknown.get(1, b""))}
    api_version, kind = tm.get(1, ""), tm.get(2, "")
    # Tables are by kind, or by "apiVersion kind" where versions differ in shape.
    table = KINDS.get("%s %s" % (api_version, kind)) or KINDS.get(kind)
    if table is None:
        raise ApiError(415, "UnsupportedMediaType", "kubesim cannot decode protobuf bodies "
                       "of kind %r (send JSON)" % kind)
    obj = decode_message(unknown.get(2, b""), table)
    obj["apiVersion"], obj["kind"] = api_version, kind
    obj.setdefault("metadata", {})
    return obj
