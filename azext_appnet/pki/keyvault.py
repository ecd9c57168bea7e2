"""Azure Key Vault as the key store of a network (`az appnet create --key-vault`).

- The root CA key is a Key Vault **key**, created non-exportable: it never exists outside
  the vault, and certificates are signed with the vault's `sign` operation (signers.py).
- Member intermediate keys must end up in the member's `cacerts` Secret anyway, so they are
  generated here and kept as Key Vault **secrets** (PKCS#8 PEM).
- Public objects (the manifest, certificates) are secrets too, so that any machine with
  access to the vault (a CI runner, a colleague) sees the same PKI.

Permissions needed on the vault: keys create/get/sign/delete/purge and secrets
set/get/delete/purge ("Key Vault Crypto Officer" + "Key Vault Secrets Officer" with RBAC).
Purge is best effort: without it, deleted objects stay in the vault's recycle bin.
"""

import contextlib
import logging
import os
import re

from ..constants import VAULT_NAME_PATTERN
from ..errors import InvalidInputError, KeyStoreError
from .signers import Signer, key_type_of, raw_ecdsa_to_der

logger = logging.getLogger("azext_appnet.pki")

#: Tests point the SDK at a Key Vault emulator on https://127.0.0.1:PORT. The SDK checks
#: that the resource named in Key Vault's authentication challenge is a parent domain of
#: the vault's host, so no token for vault.azure.net is ever sent to another host; a
#: loopback address can never pass that check. Only tests set this variable (the
#: `key_vault_options` argument of NetworkPKI does the same for in-process tests).
SKIP_CHALLENGE_CHECK_ENV = "APPNET_TEST_KEYVAULT_SKIP_CHALLENGE_RESOURCE_CHECK"

_VAULT_NAME = re.compile(VAULT_NAME_PATTERN)


def vault_url(key_vault):
    """`NAME` -> https://NAME.vault.azure.net; an https URL is taken as it is."""
    value = key_vault.strip()
    if value.lower().startswith("https://"):
        return value.rstrip("/")
    if "://" in value:
        raise InvalidInputError(
            f"Key Vault URL {value!r} does not use https.",
            recommendation="Pass the vault name or its https URL, e.g. https://myvault.vault.azure.net.",
        )
    if not _VAULT_NAME.match(value) or "--" in value:
        raise InvalidInputError(
            f"{value!r} is not a valid Key Vault name.",
            recommendation="A vault name has 3-24 letters, digits and hyphens and starts with a letter; "
            "for a vault outside the public cloud pass its https URL.",
        )
    return f"https://{value.lower()}.vault.azure.net"


def _public_key_from_jwk(jwk):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def text(value):  # the SDK gives str-valued enums; str() of those is "KeyType.ec"
        return str(getattr(value, "value", value) or "").upper()

    if text(jwk.kty).startswith("EC"):
        if text(jwk.crv) != "P-256":
            raise KeyStoreError(f"Key Vault key {jwk.kid} uses curve {jwk.crv}; appnet expects P-256.")
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), ec.SECP256R1()).public_key()
    return rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()


@contextlib.contextmanager
def _kv_errors(vault, action):
    """Turn SDK exceptions into KeyStoreError with what went wrong and what to do."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    try:
        yield
    except ClientAuthenticationError as exc:
        raise KeyStoreError(
            f"Cannot {action} in Key Vault {vault}: authentication failed ({_reason(exc)}).",
            recommendation="Sign in with `az login` (or set up the identity the pipeline uses) and check that "
            "the vault is in the tenant of that identity.",
        ) from None
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise KeyStoreError(
                f"Cannot {action} in Key Vault {vault}: access denied ({_reason(exc)}).",
                recommendation="Grant the identity 'Key Vault Crypto Officer' and 'Key Vault Secrets Officer' on "
                "the vault (RBAC), or key create/get/sign/delete and secret set/get/delete permissions "
                "(access policies), and check the vault's network rules.",
            ) from None
        raise KeyStoreError(
            f"Cannot {action} in Key Vault {vault}: HTTP {exc.status_code} ({_reason(exc)}).",
            recommendation="Retry; if it persists check the vault in the Azure portal.",
        ) from None
    except ServiceRequestError as exc:
        raise KeyStoreError(
            f"Cannot reach Key Vault {vault} to {action} ({type(exc).__name__}).",
            recommendation="Check the vault name or URL, DNS and the network path (private endpoint, firewall).",
        ) from None


def _reason(exc):
    # The service's error code and first message line; never headers or bodies.
    error = getattr(exc, "error", None)
    if error is not None and getattr(error, "code", None):
        return f"{error.code}: {(error.message or '').splitlines()[0][:300]}"
    text = str(getattr(exc, "message", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


class KeyVaultSigner(Signer):
    """A Key Vault key used through the `sign` operation; the private key never leaves the vault."""

    location = "keyvault"

    def __init__(self, key_client, kv_key, vault):
        self._vault = vault
        self._public_key = _public_key_from_jwk(kv_key.key)
        self.key_type = key_type_of(self._public_key)
        self.key_id = kv_key.id
        # Pinned to this version: a new version added to the key outside appnet must not
        # silently start signing with a key the root certificate does not carry.
        self._crypto = key_client.get_cryptography_client(kv_key.name, key_version=kv_key.properties.version)

    def public_key(self):
        return self._public_key

    def sign_digest(self, digest):
        from azure.keyvault.keys.crypto import SignatureAlgorithm

        algorithm = SignatureAlgorithm.es256 if self.key_type.startswith("ec-") else SignatureAlgorithm.rs256
        with _kv_errors(self._vault, f"sign with key {self.key_id}"):
            signature = self._crypto.sign(algorithm, digest).signature
        # ES256 comes back as raw r||s (JWS); X.509 wants an ECDSA-Sig-Value. RS256 is as is.
        return raw_ecdsa_to_der(signature) if self.key_type.startswith("ec-") else signature


class KeyVaultStore:  # pylint: disable=too-many-instance-attributes  # settings of one vault
    """Keys and public objects of one network, as keys and secrets in one vault."""

    location = "keyvault"

    def __init__(self, url, credential, prefix, label, network_id, client_options=None):
        self.vault_url = url
        self._credential = credential
        self._prefix = prefix
        self._label = label
        self._network_id = network_id
        self._options = dict(client_options or {})
        if os.environ.get(SKIP_CHALLENGE_CHECK_ENV) == "1":
            self._options.setdefault("verify_challenge_resource", False)
        self._keys = None
        self._secrets = None

    def __repr__(self):
        return f"KeyVaultStore({self.vault_url!r}, prefix={self._prefix!r})"

    # -- clients, built on first use so that a local-only run never imports azure.* ---------

    def _credential_or_default(self):
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    @property
    def keys(self):
        if self._keys is None:
            from azure.keyvault.keys import KeyClient

            self._keys = KeyClient(self.vault_url, self._credential_or_default(), **self._options)
        return self._keys

    @property
    def secrets(self):
        if self._secrets is None:
            from azure.keyvault.secrets import SecretClient

            self._secrets = SecretClient(self.vault_url, self._credential_or_default(), **self._options)
        return self._secrets

    def _name(self, name):
        # Vault object names allow only letters, digits and hyphens.
        return re.sub(r"[^0-9a-zA-Z-]", "-", f"{self._prefix}-{name}")

    def _tags(self, role):
        return {"appnet-role": role, "appnet-network": self._network_id[:256]}

    # -- public objects -------------------------------------------------------------------

    def read_text(self, name):
        from azure.core.exceptions import ResourceNotFoundError

        with _kv_errors(self.vault_url, f"read secret {self._name(name)}"):
            try:
                return self.secrets.get_secret(self._name(name)).value
            except ResourceNotFoundError:
                return None

    def write_text(self, name, text):
        content_type = "application/json" if name.endswith(".json") else "application/x-pem-file"
        self._set_secret(name, text, content_type, "public")

    def delete_text(self, name):
        self._delete_secret(self._name(name))

    # -- private keys (intermediates) ------------------------------------------------------

    def private_key_id(self, name):
        return f"{self.vault_url}/secrets/{self._name(name + '-key')}"

    def save_private_key(self, name, key):
        from cryptography.hazmat.primitives import serialization

        data = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        self._set_secret(name + "-key", data.decode("ascii"), "application/x-pem-file", "intermediate-ca-key")

    def load_private_key(self, name):
        from cryptography.hazmat.primitives import serialization

        value = self.read_text(name + "-key")
        if value is None:
            raise KeyStoreError(
                f"The intermediate CA key secret {self._name(name + '-key')} of network {self._label} is missing "
                f"from {self.vault_url}.",
                recommendation="Rotate the member's CA (`az appnet member rotate-ca`) to mint a new one.",
            )
        try:
            return serialization.load_pem_private_key(value.encode("ascii"), password=None)
        except (ValueError, TypeError):
            raise KeyStoreError(
                f"The secret {self._name(name + '-key')} in {self.vault_url} does not hold a PEM private key.",
                recommendation="Rotate the member's CA to replace it.",
            ) from None

    def delete_private_key(self, name):
        self._delete_secret(self._name(name + "-key"))

    # -- root keys ------------------------------------------------------------------------

    def new_root_signer(self, name, key_type):
        kv_name = self._name(name)
        common = {"exportable": False, "key_operations": ["sign", "verify"], "tags": self._tags("root-ca-key")}
        with _kv_errors(self.vault_url, f"create key {kv_name}"):
            if key_type == "ec-p256":
                kv_key = self.keys.create_ec_key(kv_name, curve="P-256", **common)
            else:
                kv_key = self.keys.create_rsa_key(kv_name, size=int(key_type[4:]), **common)
        return KeyVaultSigner(self.keys, kv_key, self.vault_url)

    def root_signer(self, name):
        from azure.core.exceptions import ResourceNotFoundError

        kv_name = self._name(name)
        with _kv_errors(self.vault_url, f"read key {kv_name}"):
            try:
                kv_key = self.keys.get_key(kv_name)
            except ResourceNotFoundError:
                raise KeyStoreError(
                    f"The root CA key {kv_name} of network {self._label} is missing from {self.vault_url}.",
                    recommendation="Recover it from the vault's deleted keys if it was deleted, or rotate the "
                    "root CA (`az appnet ca rotate`).",
                ) from None
        return KeyVaultSigner(self.keys, kv_key, self.vault_url)

    def delete_root_key(self, name):
        kv_name = self._name(name)
        self._delete(self.keys.begin_delete_key, self.keys.purge_deleted_key, kv_name, "key")

    def destroy(self):
        """Objects are deleted one by one by the caller, from the manifest; nothing is left here."""

    # -- helpers --------------------------------------------------------------------------

    def _set_secret(self, name, value, content_type, role):
        kv_name = self._name(name)
        with _kv_errors(self.vault_url, f"write secret {kv_name}"):
            self.secrets.set_secret(kv_name, value, content_type=content_type, tags=self._tags(role))

    def _delete_secret(self, kv_name):
        self._delete(self.secrets.begin_delete_secret, self.secrets.purge_deleted_secret, kv_name, "secret")

    def _delete(self, begin_delete, purge, kv_name, kind):
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        with _kv_errors(self.vault_url, f"delete {kind} {kv_name}"):
            try:
                begin_delete(kv_name).wait()
            except ResourceNotFoundError:
                return
        try:
            # With soft delete the object stays in the recycle bin and blocks its name; purge
            # when allowed, otherwise leave it (purge protection, or no purge permission).
            purge(kv_name)
        except HttpResponseError as exc:
            logger.debug("Could not purge deleted %s %s: HTTP %s.", kind, kv_name, exc.status_code)
