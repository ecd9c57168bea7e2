"""KeyVaultSim: the subset of the Azure Key Vault REST API that appnet uses, over HTTPS.

Driven by the real azure-keyvault-keys / azure-keyvault-secrets SDK. What it emulates:

- the bearer challenge: a request without the expected token gets 401 with a
  `WWW-Authenticate: Bearer authorization=..., resource=...` challenge, as Key Vault does;
- keys: create (EC P-256, RSA), get, sign (ES256, RS256, PS256), delete, get deleted, purge;
- secrets: set, get, delete, get deleted, purge (soft delete on, like every vault today).

Key export, backup and release are refused (403) and recorded in `export_attempts`: the
tests use that, and `assert_no_private_key_returned()`, to prove that the root key's
private part never left the "vault". Like an HSM, the emulator keeps each key's private
part in memory to sign with, and has no route that returns it.
"""

import base64
import json
import re
import secrets
import threading
import time
import uuid
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from .https import LoopbackHandler, LoopbackHttpsServer

_JWK_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(n, length=None):
    return n.to_bytes(length or (n.bit_length() + 7) // 8, "big")


class _Key:
    """One version of a vault key. The private key is used to sign, and never serialised out."""

    def __init__(self, name, version, kty, private_key, key_ops, attributes, tags):
        self.name, self.version, self.kty = name, version, kty
        self._private_key = private_key
        self.key_ops = key_ops
        self.attributes = attributes
        self.tags = tags

    def jwk(self, base_url):
        jwk = {"kid": f"{base_url}/keys/{self.name}/{self.version}", "kty": self.kty, "key_ops": self.key_ops}
        pub = self._private_key.public_key().public_numbers()
        if self.kty.startswith("EC"):
            jwk.update(crv="P-256", x=_b64url(_int_bytes(pub.x, 32)), y=_b64url(_int_bytes(pub.y, 32)))
        else:
            jwk.update(n=_b64url(_int_bytes(pub.n)), e=_b64url(_int_bytes(pub.e)))
        return jwk

    def sign(self, alg, digest):
        if len(digest) != 32 or not alg.endswith("256"):
            raise ValueError("only SHA-256 digests are emulated")
        prehashed = utils.Prehashed(hashes.SHA256())
        if alg == "ES256" and self.kty.startswith("EC"):
            r, s = utils.decode_dss_signature(self._private_key.sign(digest, ec.ECDSA(prehashed)))
            return _int_bytes(r, 32) + _int_bytes(s, 32)  # JWS form, as Key Vault returns it
        if alg == "RS256" and self.kty.startswith("RSA"):
            return self._private_key.sign(digest, padding.PKCS1v15(), prehashed)
        if alg == "PS256" and self.kty.startswith("RSA"):
            return self._private_key.sign(digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), prehashed)
        raise ValueError(f"algorithm {alg} does not fit a {self.kty} key")

    def private_encodings(self):
        """Ways the private part could show up in a response body, for the leak check."""
        der = self._private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        numbers = self._private_key.private_numbers()
        scalar = _int_bytes(numbers.private_value if self.kty.startswith("EC") else numbers.d)
        found = []
        for blob in (der, scalar):
            found += [_b64url(blob), base64.b64encode(blob).decode(), blob.hex()]
        return found


class KeyVaultSim(LoopbackHttpsServer):
    """An HTTPS Key Vault emulator on loopback. Use `with KeyVaultSim() as kv:` or start()/stop()."""

    name = "kvsim"

    def __init__(self, token=None, tenant_id="00000000-0000-0000-0000-000000000000",
                 challenge_resource="https://vault.azure.net", soft_delete=True):
        super().__init__()
        self.token = token or secrets.token_urlsafe(24)
        self.tenant_id = tenant_id
        self.challenge_resource = challenge_resource
        self.soft_delete = soft_delete
        #: (method, path) of every request, in order.
        self.requests = []
        #: Every exchange: method, path, status, authorized, request/response JSON bodies.
        self.log = []
        #: (method, path) of every attempt to export, back up or release a key or secret.
        self.export_attempts = []
        #: Requests the emulator does not implement (a test should fail if any shows up).
        self.unsupported = []
        #: Operations to refuse with 403, as a vault without the permission would:
        #: "keys/create", "keys/get", "keys/sign", "keys/delete", "secrets/set",
        #: "secrets/get", "secrets/delete", "purge".
        self.forbidden_operations = set()
        self.keys = {}          # name -> [ _Key, ... ] (versions, newest last)
        self.deleted_keys = {}
        self.secrets = {}       # name -> [ dict(version, value, contentType, tags, attributes) ]
        self.deleted_secrets = {}
        self._lock = threading.RLock()

    # -- lifecycle ------------------------------------------------------------------------

    def handler_class(self):
        sim = self

        class Handler(_Handler):
            vault = sim
        return Handler

    # -- what tests look at ---------------------------------------------------------------

    def client_options(self):
        """Keyword arguments for the SDK clients (or NetworkPKI's key_vault_options)."""
        # The challenge names vault.azure.net, which a loopback host can never be a
        # subdomain of, so the SDK's challenge resource check must be off against the emulator.
        return {"connection_verify": self.ca_file, "verify_challenge_resource": False}

    def key_attributes(self, name):
        with self._lock:
            return dict(self.keys[name][-1].attributes)

    def assert_no_private_key_returned(self):
        """Fail if any key's private part was requested or appeared in any response."""
        assert not self.export_attempts, f"key export/backup/release attempted: {self.export_attempts}"
        with self._lock:
            encodings = [e for versions in list(self.keys.values()) + list(self.deleted_keys.values())
                         for key in versions for e in key.private_encodings()]
        for entry in self.log:
            body = entry["response"]
            key = body.get("key") if isinstance(body, dict) else None
            if isinstance(key, dict):
                leaked = [m for m in _JWK_PRIVATE_MEMBERS if m in key]
                assert not leaked, f"{entry['method']} {entry['path']} returned private JWK members {leaked}"
            text = json.dumps(body)
            for encoded in encodings:
                assert encoded not in text, f"{entry['method']} {entry['path']} returned a key's private part"

    # -- request handling (called from the handler threads) -------------------------------

    def handle(self, method, path, headers, body):
        authorized = headers.get("Authorization") == f"Bearer {self.token}"
        with self._lock:
            self.requests.append((method, path))
        if not authorized:
            challenge = (f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", '
                         f'resource="{self.challenge_resource}"')
            status, response, extra = 401, {"error": {"code": "Unauthorized",
                                                      "message": "AKV10000: Request is missing a Bearer or PoP token."}}, \
                {"WWW-Authenticate": challenge}
        else:
            extra = {}
            try:
                with self._lock:
                    status, response = self._route(method, path, body)
            except _Reply as reply:
                status, response = reply.status, reply.body
        with self._lock:
            self.log.append({"method": method, "path": path, "status": status, "authorized": authorized,
                             "request": body, "response": response})
        return status, response, extra

    def _route(self, method, path, body):
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2:
            raise self._unsupported(method, path)
        collection, name, rest = parts[0], parts[1], parts[2:]
        last = rest[-1] if rest else None
        if _operation(method, collection, last) in self.forbidden_operations:
            raise _Reply(403, _error("Forbidden", f"The user, group or application does not have "
                                                  f"{_operation(method, collection, last)} permission."))
        if last in ("export", "backup", "release") or (method == "POST" and collection == "secrets" and last == "backup"):
            self.export_attempts.append((method, path))
            raise _Reply(403, _error("Forbidden", "Operation not allowed: the key is not exportable."))
        if collection == "keys":
            if method == "POST" and rest == ["create"]:
                return 200, self._create_key(name, body)
            if method == "GET" and len(rest) <= 1:
                return 200, self._key_bundle(self._key(name, rest[0] if rest else None))
            if method == "POST" and len(rest) == 2 and rest[1] == "sign":
                return 200, self._sign(self._key(name, rest[0]), body)
            if method == "DELETE" and not rest:
                return 200, self._delete(self.keys, self.deleted_keys, name, "keys", "KeyNotFound")
        if collection == "deletedkeys" and not rest:
            return self._deleted(method, self.deleted_keys, name, "keys", "KeyNotFound")
        if collection == "secrets":
            if method == "PUT" and not rest:
                return 200, self._set_secret(name, body)
            if method == "GET" and len(rest) <= 1:
                return 200, self._secret_bundle(name, self._secret(name, rest[0] if rest else None))
            if method == "DELETE" and not rest:
                return 200, self._delete(self.secrets, self.deleted_secrets, name, "secrets", "SecretNotFound")
        if collection == "deletedsecrets" and not rest:
            return self._deleted(method, self.deleted_secrets, name, "secrets", "SecretNotFound")
        raise self._unsupported(method, path)

    def _unsupported(self, method, path):
        self.unsupported.append((method, path))
        return _Reply(400, _error("BadParameter", f"kvsim does not emulate {method} {path}"))

    # -- keys -----------------------------------------------------------------------------

    def _create_key(self, name, body):
        if name in self.deleted_keys:
            raise _Reply(409, _error("Conflict", f"Key {name} is currently in a deleted but recoverable state."))
        kty = body.get("kty", "")
        if kty in ("EC", "EC-HSM"):
            if body.get("crv", "P-256") != "P-256":
                raise _Reply(400, _error("BadParameter", "kvsim emulates P-256 only"))
            private = ec.generate_private_key(ec.SECP256R1())
        elif kty in ("RSA", "RSA-HSM"):
            private = rsa.generate_private_key(65537, body.get("key_size") or 2048)
        else:
            raise _Reply(400, _error("BadParameter", f"unsupported kty {kty!r}"))
        now = int(time.time())
        requested = body.get("attributes") or {}
        attributes = {"enabled": requested.get("enabled", True), "created": now, "updated": now,
                      "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
                      "exportable": bool(requested.get("exportable", False))}
        key = _Key(name, uuid.uuid4().hex, kty, private, body.get("key_ops") or ["sign", "verify"],
                   attributes, body.get("tags") or {})
        self.keys.setdefault(name, []).append(key)
        return self._key_bundle(key)

    def _key(self, name, version):
        for key in reversed(self.keys.get(name, [])):
            if not version or key.version == version:
                return key
        raise _Reply(404, _error("KeyNotFound", f"A key with (name/id) {name} was not found in this key vault."))

    def _key_bundle(self, key):
        return {"key": key.jwk(self.url), "attributes": key.attributes, "tags": key.tags}

    def _sign(self, key, body):
        if "sign" not in key.key_ops:
            raise _Reply(403, _error("Forbidden", "Operation sign is not permitted on this key."))
        try:
            signature = key.sign(body.get("alg"), _unb64url(body.get("value", "")))
        except ValueError as exc:
            raise _Reply(400, _error("BadParameter", str(exc))) from None
        return {"kid": key.jwk(self.url)["kid"], "value": _b64url(signature)}

    # -- secrets --------------------------------------------------------------------------

    def _set_secret(self, name, body):
        if name in self.deleted_secrets:
            raise _Reply(409, _error("Conflict", f"Secret {name} is currently in a deleted but recoverable state."))
        if not re.fullmatch(r"[0-9a-zA-Z-]{1,127}", name):
            raise _Reply(400, _error("BadParameter", "The request URI contains an invalid name"))
        now = int(time.time())
        secret = {"version": uuid.uuid4().hex, "value": body.get("value"), "contentType": body.get("contentType"),
                  "tags": body.get("tags") or {}, "attributes": {"enabled": True, "created": now, "updated": now,
                                                                 "recoveryLevel": "Recoverable+Purgeable"}}
        self.secrets.setdefault(name, []).append(secret)
        return self._secret_bundle(name, secret)

    def _secret(self, name, version):
        for secret in reversed(self.secrets.get(name, [])):
            if not version or secret["version"] == version:
                return secret
        raise _Reply(404, _error("SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault."))

    def _secret_bundle(self, name, secret):
        bundle = {"id": f"{self.url}/secrets/{name}/{secret['version']}", "attributes": secret["attributes"],
                  "tags": secret["tags"]}
        if secret["value"] is not None:
            bundle["value"] = secret["value"]
        if secret["contentType"]:
            bundle["contentType"] = secret["contentType"]
        return bundle

    # -- soft delete ----------------------------------------------------------------------

    def _bundle(self, store, name, kind):
        latest = store[name][-1]
        return self._key_bundle(latest) if kind == "keys" else self._secret_bundle(name, latest)

    def _delete(self, live, deleted, name, kind, not_found):
        if name not in live:
            raise _Reply(404, _error(not_found, f"{name} was not found in this key vault."))
        bundle = self._bundle(live, name, kind)
        versions = live.pop(name)
        if self.soft_delete:
            deleted[name] = versions
            now = int(time.time())
            bundle.update(recoveryId=f"{self.url}/deleted{kind}/{name}", deletedDate=now,
                          scheduledPurgeDate=now + 90 * 86400)
        return bundle

    def _deleted(self, method, deleted, name, kind, not_found):
        if name not in deleted:
            raise _Reply(404, _error(not_found, f"Deleted {name} was not found in this key vault."))
        if method == "GET":
            bundle = self._bundle(deleted, name, kind)
            bundle["recoveryId"] = f"{self.url}/deleted{kind}/{name}"
            return 200, bundle
        if method == "DELETE":
            del deleted[name]
            return 204, None
        raise self._unsupported(method, f"/deleted{kind}/{name}")


class _Reply(Exception):
    def __init__(self, status, body):
        super().__init__(status)
        self.status, self.body = status, body


def _operation(method, collection, last):
    if collection.startswith("deleted"):
        return "purge" if method == "DELETE" else f"{collection[7:]}/get"
    verbs = {"GET": "get", "PUT": "set", "DELETE": "delete"}
    if method == "POST":
        return f"{collection}/{last}"
    return f"{collection}/{verbs.get(method, method.lower())}"


def _error(code, message):
    return {"error": {"code": code, "message": message}}


class _Handler(LoopbackHandler):
    vault = None  # set on the subclass made per emulator

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        path = urlsplit(self.path).path
        status, response, extra = self.vault.handle(self.command, path, self.headers, body)
        payload = b"" if response is None else json.dumps(response).encode()
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _serve

    def log_message(self, *args):
        pass  # keep test output clean; the emulator keeps its own log
