"""Authentication: bearer tokens -> users.

The admin token (in the kubeconfig) maps to a member of system:masters. ServiceAccount
tokens are ES256 JWTs signed with the cluster's service-account key, shaped like the real
ones (bound tokens from TokenRequest; legacy tokens in service-account-token Secrets). They
are checked statelessly plus against the store: the ServiceAccount must still exist with
the same uid, and a legacy token's Secret must still hold it -- so deleting either revokes
the token, and tokens survive a server restart but not a reset().
"""
import base64
import json
import time
import uuid

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, \
    encode_dss_signature

ISSUER = "https://kubernetes.default.svc.cluster.local"
# The audiences the API server accepts (--api-audiences; defaults to the issuer). A bound
# token minted for any other audience (istio-ca, a vault...) does not authenticate here.
API_AUDIENCES = (ISSUER,)


class User:
    def __init__(self, name, groups, uid="", sa=None):
        self.name = name
        self.groups = list(groups)
        self.uid = uid
        self.sa = sa            # (namespace, name) for ServiceAccounts

    def info(self):
        d = {"username": self.name, "groups": self.groups}
        if self.uid:
            d["uid"] = self.uid
        return d


def sa_user(ns, name, uid=""):
    return User("system:serviceaccount:%s:%s" % (ns, name),
                ["system:serviceaccounts", "system:serviceaccounts:" + ns,
                 "system:authenticated"], uid, (ns, name))


def user_from_name(name, groups=()):
    if name.startswith("system:serviceaccount:"):
        parts = name.split(":")
        if len(parts) == 4:
            return sa_user(parts[2], parts[3])
    return User(name, list(groups) + ["system:authenticated"])


def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def _unb64(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Authenticator:
    def __init__(self, pki, admin_token, store):
        self.key = pki.sa_key
        self.admin_token = admin_token
        self.store = store
        self.kid = _b64(uuid.uuid4().bytes)
        # Seconds the server's clock runs ahead of the machine's: tests age tokens with
        # Cluster.advance_clock instead of waiting out their lifetime.
        self.clock_skew = 0.0

    def now(self):
        return time.time() + self.clock_skew

    def _sign(self, payload):
        header = {"alg": "ES256", "kid": self.kid}
        signing_input = _b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            _b64(json.dumps(payload, separators=(",", ":")).encode())
        der = self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def bound_token(self, sa, expiration_seconds=3600, audiences=None, bound=None):
        """bound: {"kind": Pod|Secret|Node, "name", "uid"} the token dies with, or None."""
        ns, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
        now = int(self.now())
        exp = now + int(expiration_seconds or 3600)
        claims = {"namespace": ns, "serviceaccount": {"name": name,
                                                      "uid": sa["metadata"]["uid"]}}
        if bound:
            claims[bound["kind"].lower()] = {"name": bound["name"], "uid": bound["uid"]}
        payload = {"aud": list(audiences or API_AUDIENCES), "exp": exp, "iat": now,
                   "nbf": now, "iss": ISSUER, "jti": str(uuid.uuid4()),
                   "kubernetes.io": claims,
                   "sub": "system:serviceaccount:%s:%s" % (ns, name)}
        return self._sign(payload), exp

    def legacy_token(self, sa, secret_name):
        ns, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
        payload = {"iss": "kubernetes/serviceaccount",
                   "kubernetes.io/serviceaccount/namespace": ns,
                   "kubernetes.io/serviceaccount/secret.name": secret_name,
                   "kubernetes.io/serviceaccount/service-account.name": name,
                   "kubernetes.io/serviceaccount/service-account.uid": sa["metadata"]["uid"],
                   "sub": "system:serviceaccount:%s:%s" % (ns, name)}
        return self._sign(payload)

    def token_audiences(self, token, audiences):
        """The audiences of `audiences` a (valid) token is meant for."""
        try:
            aud = json.loads(_unb64(token.split(".")[1])).get("aud")
        except (ValueError, IndexError, AttributeError):
            return []
        if aud is None:
            return list(audiences)      # legacy tokens carry no audience
        aud = [aud] if isinstance(aud, str) else aud
        return [a for a in audiences if a in aud]

    def authenticate(self, token, audiences=API_AUDIENCES):
        """Return a User or None. A bound token must be meant for one of `audiences`."""
        if not token:
            return None
        if token == self.admin_token:
            return User("kubernetes-admin", ["system:masters", "system:authenticated"])
        parts = token.split(".")
        if len(parts) != 3:
            return None
        try:
            sig = _unb64(parts[2])
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                       int.from_bytes(sig[32:], "big"))
            self.key.public_key().verify(der, (parts[0] + "." + parts[1]).encode(),
                                         ec.ECDSA(hashes.SHA256()))
            payload = json.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError):
            return None
        if "kubernetes.io" in payload:
            t = self.now()
            if payload.get("exp", 0) < t or payload.get("nbf", 0) > t + 60:
                return None
            aud = payload.get("aud") or []
            if isinstance(aud, str):
                aud = [aud]
            if not set(aud) & set(audiences):
                return None
            k = payload["kubernetes.io"]
            ns, name, uid = k["namespace"], k["serviceaccount"]["name"], \
                k["serviceaccount"]["uid"]
            for kind, plural in (("pod", "pods"), ("secret", "secrets"), ("node", "nodes")):
                ref = k.get(kind)
                if ref:
                    obj = self.store.get(("", plural), "" if kind == "node" else ns,
                                         ref.get("name"))
                    if obj is None or obj["metadata"].get("uid") != ref.get("uid") or \
                            obj["metadata"].get("deletionTimestamp"):
                        return None
        else:
            ns = payload.get("kubernetes.io/serviceaccount/namespace")
            name = payload.get("kubernetes.io/serviceaccount/service-account.name")
            uid = payload.get("kubernetes.io/serviceaccount/service-account.uid")
            secret = self.store.get(("", "secrets"), ns,
                                    payload.get("kubernetes.io/serviceaccount/secret.name"))
            data = (secret or {}).get("data") or {}
            if not secret or _safe_b64decode(data.get("token")) != token:
                return None
        sa = self.store.get(("", "serviceaccounts"), ns, name)
        if sa is None or sa["metadata"]["uid"] != uid:
            return None
        return sa_user(ns, name, uid)


def _safe_b64decode(s):
    try:
        return base64.b64decode(s or "").decode()
    except ValueError:
        return None
