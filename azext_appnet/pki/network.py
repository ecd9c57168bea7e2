"""NetworkPKI: the CAs of one Application Network, behind one small facade.

State lives next to the keys, in the network's key store (a local directory, or the Key
Vault), as a small JSON manifest plus one PEM per certificate:

    manifest.json            {"roots": [{"ref", "keyId"}...], "intermediates": {member: {...}}}
    root-<id>.crt.pem        one per root; two during a root rotation (old first)
    member-<slug>-<id>.crt.pem

Every change writes the new key and certificate under fresh names first and the manifest
last, so the manifest is the commit point: a crash leaves at worst an unreferenced file,
never a manifest naming a key that is not there. Callers serialise operations on one
network (the operations layer holds a per-network lock); this class does not lock.
"""

import datetime
import json
import logging
import secrets

from cryptography.hazmat.primitives import serialization

from ..errors import ConflictError, InvalidInputError, KeyStoreError, NotFoundError
from . import certs, policy
from .keystore import LocalKeyStore
from .signers import generate_private_key

logger = logging.getLogger("azext_appnet.pki")

_MANIFEST = "manifest.json"
_SCHEMA = 1


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _same_key(a, b):
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


class NetworkPKI:
    """Root CA of a network and one intermediate CA per member cluster.

    :param network_id: ARM id of the Application Network.
    :param keys_dir: `<az config dir>/appnet/keys`; the network gets its own directory in it
        (not used with Key Vault).
    :param key_vault: None for the local key store, or a vault name or https URL.
    :param credential: azure-core TokenCredential for Key Vault; None -> DefaultAzureCredential.
    :param key_vault_options: extra keyword arguments for the Key Vault SDK clients
        (tests: `connection_verify`, `verify_challenge_resource`).
    :param clock: returns the current UTC time (tests move it to make certificates due).
    :param recorded_root: the SHA-256 fingerprint of the root CA the network's state records,
        if it has one. A key store that has no root then is a lost or foreign key store,
        refused rather than filled with a new root the members would not trust.
    """

    def __init__(self, network_id, keys_dir, key_vault=None, credential=None, *,
                 key_vault_options=None, clock=None, recorded_root=None):
        if not isinstance(network_id, str) or not network_id.strip("/ "):
            raise InvalidInputError(
                "The network id is empty.", recommendation="Pass the ARM id of the Application Network.")
        self.network_id = network_id
        self.network_name = policy.network_name(network_id)
        self._clock = clock or _utcnow
        self._recorded_root = recorded_root
        storage_name = policy.slug(network_id, readable_from=self.network_name)
        if key_vault:
            from .keyvault import KeyVaultStore, vault_url

            self._store = KeyVaultStore(vault_url(key_vault), credential, f"appnet-{storage_name}",
                                        self.network_name, network_id, key_vault_options)
        else:
            if not keys_dir:
                raise InvalidInputError("No directory was given for the local key store.")
            self._store = LocalKeyStore(keys_dir, storage_name, self.network_name)

    def __repr__(self):
        return f"NetworkPKI({self.network_id!r}, store={self._store!r})"

    @property
    def key_location(self):
        return self._store.location

    # -- root -----------------------------------------------------------------------------

    def create_root(self, common_name, key_type=policy.DEFAULT_KEY_TYPE):
        """Create the network's root CA, or return the existing one (idempotent)."""
        policy.check_key_type(key_type)
        if not isinstance(common_name, str) or not common_name.strip():
            raise InvalidInputError("The root CA common name is empty.",
                                    recommendation="Pass a name such as '<network> root CA'.")
        manifest = self._manifest()
        if manifest["roots"]:
            entry = manifest["roots"][-1]
            info = self._root_info(entry)
            if info["keyType"] != key_type:
                raise ConflictError(
                    f"Network {self.network_name} already has a root CA with key type {info['keyType']}; "
                    f"it cannot be changed to {key_type} in place.",
                    recommendation="Keep the existing key type, or rotate the root CA with the new key type.",
                )
            return info
        entry = self._new_root(common_name.strip(), key_type)
        manifest["roots"] = [entry]
        self._save_manifest(manifest)
        return self._root_info(entry)

    def root_pem(self):
        """The trust bundle: the root, or old root then new root during a root rotation."""
        roots = self._manifest()["roots"]
        if not roots:
            raise self._no_root()
        return "".join(self._cert_pem(entry["ref"]) for entry in roots)

    def rotate_root(self, common_name=None, key_type=None):
        """Step 1 of Istio's multi-root procedure (reference §9.5): add a new root.

        The trust bundle then holds the old and the new root; existing intermediates are
        left alone, because every cluster must trust both roots before any of them switches.
        Then rotate every member's intermediate (they are signed by the new root), then
        `finish_root_rotation()`. Called again while a rotation is open, it returns the new
        root, so a resumed operation does not start a second rotation.
        """
        manifest = self._manifest()
        if not manifest["roots"]:
            raise self._no_root()
        current = manifest["roots"][-1]
        current_cert = self._cert(current["ref"])
        if len(manifest["roots"]) > 1:
            return self._root_info(current)
        key_type = policy.check_key_type(key_type) if key_type else certs.key_type_of(current_cert.public_key())
        if not common_name:
            from cryptography.x509.oid import NameOID

            names = current_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            common_name = names[0].value if names else f"{self.network_name} root CA"
        entry = self._new_root(common_name, key_type)
        manifest["roots"].append(entry)
        self._save_manifest(manifest)
        return self._root_info(entry)

    def finish_root_rotation(self):
        """Step 3: drop the old root from the trust bundle and delete its key."""
        manifest = self._manifest()
        if not manifest["roots"]:
            raise self._no_root()
        active = manifest["roots"][-1]
        stale = sorted(i["member"] for i in manifest["intermediates"].values() if i["rootRef"] != active["ref"])
        if stale:
            raise ConflictError(
                f"Cannot finish the root rotation of network {self.network_name}: the intermediate CA of "
                f"{', '.join(stale)} is still signed by the old root.",
                recommendation="Rotate the CA of those members first (`az appnet member rotate-ca`).",
            )
        old = manifest["roots"][:-1]
        manifest["roots"] = [active]
        # What the old root revoked goes with it: nothing it signed is trusted any more.
        manifest["revoked"] = [r for r in manifest.get("revoked") or [] if r["rootRef"] == active["ref"]]
        self._save_manifest(manifest)
        for entry in old:
            self._store.delete_root_key(entry["ref"])
            self._store.delete_text(f"{entry['ref']}.crt.pem")
            self._store.delete_text(f"crl-{entry['ref']}.pem")
        return self._root_info(active)

    # -- intermediates --------------------------------------------------------------------

    def ensure_intermediate(self, member_name):
        """The member's intermediate CA; minted if it has none, or if the current one is due."""
        member = self._check_member(member_name)
        manifest = self._manifest()
        entry = manifest["intermediates"].get(member.lower())
        if entry and any(r["ref"] == entry["rootRef"] for r in manifest["roots"]):
            cert = self._cert(entry["ref"])
            if self._clock() < policy.rotate_after(cert.not_valid_before_utc, cert.not_valid_after_utc):
                return self._intermediate_info(entry, cert)
        return self._mint(manifest, member)

    def rotate_intermediate(self, member_name):
        """A new intermediate for the member, signed by the active root.

        Leaves issued by the old intermediate keep verifying: they chain to a root the mesh
        still trusts, and carry their intermediate in their own chain.
        """
        member = self._check_member(member_name)
        manifest = self._manifest()
        if member.lower() not in manifest["intermediates"]:
            raise self._no_intermediate(member)
        return self._mint(manifest, member)

    def retire_intermediate(self, member_name, revoke=False):
        """Forget the member's intermediate and delete its key (idempotent).

        With `revoke`, the intermediate is first added to the revocation list of the root that
        signed it (`crl_pem()`), signed by that root's key wherever it lives, so that the
        members refuse certificates it issued, and `describe()` lists it as revoked."""
        member = self._check_member(member_name)
        manifest = self._manifest(lost_ok=True)     # a remove must finish even then
        entry = manifest["intermediates"].get(member.lower())
        if entry is None:
            return
        if revoke:
            cert = self._cert(entry["ref"])
            revoked = manifest.setdefault("revoked", [])
            if not any(r["serialNumber"] == format(cert.serial_number, "X") for r in revoked):
                revoked.append({"member": entry["member"], "rootRef": entry["rootRef"],
                                "serialNumber": format(cert.serial_number, "X"),
                                "sha256Fingerprint": certs.fingerprint(cert),
                                "notAfter": certs.describe(cert, None, None)["notAfter"],
                                "revokedAt": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")})
            self._write_crl(manifest, entry["rootRef"])
        del manifest["intermediates"][member.lower()]
        self._save_manifest(manifest)
        self._store.delete_private_key(entry["ref"])
        self._store.delete_text(f"{entry['ref']}.crt.pem")

    def crl_pem(self):
        """The revocation lists of the roots in the trust bundle that revoked an intermediate
        (PEM, one after the other), or "" when none did. Read from the key store as written at
        revocation, so the same list renders the same `cacerts` on every apply."""
        manifest = self._manifest()
        refs = {r["rootRef"] for r in manifest.get("revoked") or []}
        return "".join(self._store.read_text(f"crl-{root['ref']}.pem") or ""
                       for root in manifest["roots"] if root["ref"] in refs)

    def _write_crl(self, manifest, root_ref):
        root_entry = next((r for r in manifest["roots"] if r["ref"] == root_ref), None)
        if root_entry is None:
            return  # its root left the trust bundle: nothing it signed is trusted any more
        root_cert = self._cert(root_ref)
        listed = [r for r in manifest["revoked"] if r["rootRef"] == root_ref]
        when = [datetime.datetime.strptime(r["revokedAt"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc) for r in listed]
        crl = certs.build_crl(self._root_signer(root_entry, root_cert), root_cert,
                              [(int(r["serialNumber"], 16), t) for r, t in zip(listed, when)],
                              number=len(listed), last_update=max(when))
        self._store.write_text(f"crl-{root_ref}.pem",
                               crl.public_bytes(serialization.Encoding.PEM).decode("ascii"))

    def cacerts(self, member_name):
        """The member's Istio plug-in CA material (Secret `cacerts`). Holds the private key."""
        member = self._check_member(member_name)
        manifest = self._manifest()
        entry = manifest["intermediates"].get(member.lower())
        if entry is None:
            raise self._no_intermediate(member)
        cert_pem = self._cert_pem(entry["ref"])
        key = self._store.load_private_key(entry["ref"])
        if not _same_key(key.public_key(), certs.load_pem_chain(cert_pem)[0].public_key()):
            raise KeyStoreError(
                f"The intermediate CA key of member {member} does not match its certificate.",
                recommendation="Rotate the member's CA (`az appnet member rotate-ca`).",
            )
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode("ascii")
        out = {
            "ca-cert.pem": cert_pem,
            "ca-key.pem": key_pem,
            "root-cert.pem": "".join(self._cert_pem(r["ref"]) for r in manifest["roots"]),
            # What istiod appends to every leaf: the intermediate, then the root it chains to.
            "cert-chain.pem": cert_pem + self._cert_pem(entry["rootRef"]),
        }
        crl = self.crl_pem()
        if crl:
            out["ca-crl.pem"] = crl
        return out

    # -- overview and teardown ------------------------------------------------------------

    def describe(self):
        """Public facts for `az appnet ca show`: every root and intermediate, never a key."""
        manifest = self._manifest()
        now = self._clock()
        active_ref = manifest["roots"][-1]["ref"] if manifest["roots"] else None
        roots = []
        for entry in manifest["roots"]:
            info = self._root_info(entry, now)
            info["active"] = entry["ref"] == active_ref
            roots.append(info)
        fingerprints = {r["ref"]: info["sha256Fingerprint"] for r, info in zip(manifest["roots"], roots)}
        intermediates = []
        for entry in sorted(manifest["intermediates"].values(), key=lambda e: e["member"].lower()):
            info = self._intermediate_info(entry, self._cert(entry["ref"]), now)
            info["issuerSha256Fingerprint"] = fingerprints.get(entry["rootRef"])
            info["signedByActiveRoot"] = entry["rootRef"] == active_ref
            intermediates.append(info)
        live_roots = {r["ref"] for r in manifest["roots"]}
        revoked = [dict({k: v for k, v in r.items() if k != "rootRef"},
                        issuerSha256Fingerprint=fingerprints.get(r["rootRef"]))
                   for r in manifest.get("revoked") or [] if r["rootRef"] in live_roots]
        result = {
            "networkId": self.network_id,
            "keyLocation": self._store.location,
            "rootRotationInProgress": len(roots) > 1,
            "roots": roots,
            "intermediates": intermediates,
            # Removed members' intermediates, refused by every member until their root goes.
            "revokedIntermediates": revoked,
        }
        if self._store.location == "keyvault":
            result["vaultUrl"] = self._store.vault_url
        has_key = getattr(self._store, "has_private_key", None)
        if has_key is not None:
            result["keyDirectory"] = self._store.directory
            entries = manifest["roots"] + list(manifest["intermediates"].values())
            missing = [e["keyId"] for e in entries if not has_key(e["ref"])]
            if missing:
                result["missingKeys"] = missing
        return result

    def delete(self):
        """Delete every key and certificate of this network (best effort).

        Returns the ids of objects that could not be deleted (empty when all went).
        """
        left = []
        manifest = self._manifest(lost_ok=True)
        work = [(self._store.delete_private_key, e["ref"], e["keyId"]) for e in manifest["intermediates"].values()]
        work += [(self._store.delete_root_key, e["ref"], e["keyId"]) for e in manifest["roots"]]
        for delete_key, ref, key_id in work:
            for step, what in ((delete_key, ref), (self._store.delete_text, f"{ref}.crt.pem")):
                try:
                    step(what)
                except KeyStoreError as exc:
                    logger.warning("Could not delete %s: %s", what, exc.message)
                    left.append(key_id if step is delete_key else what)
        for entry in manifest["roots"]:
            if any(r["rootRef"] == entry["ref"] for r in manifest.get("revoked") or []):
                try:
                    self._store.delete_text(f"crl-{entry['ref']}.pem")
                except KeyStoreError as exc:
                    logger.warning("Could not delete the revocation list of %s: %s", entry["ref"], exc.message)
                    left.append(f"crl-{entry['ref']}.pem")
        try:
            self._store.delete_text(_MANIFEST)
        except KeyStoreError as exc:
            logger.warning("Could not delete the PKI manifest: %s", exc.message)
            left.append(_MANIFEST)
        self._store.destroy()
        return left

    # -- internals ------------------------------------------------------------------------

    def _manifest(self, lost_ok=False):
        text = self._store.read_text(_MANIFEST)
        if text is None:
            if self._recorded_root and not lost_ok:
                raise self._lost_store("has no PKI manifest")
            return {"schema": _SCHEMA, "networkId": self.network_id, "roots": [], "intermediates": {}}
        try:
            manifest = json.loads(text)
            if manifest.get("schema") != _SCHEMA:
                raise ValueError("schema")
            if not isinstance(manifest["roots"], list) or not isinstance(manifest["intermediates"], dict):
                raise TypeError("shape")
            for entry in manifest["roots"] + list(manifest["intermediates"].values()):
                if not isinstance(entry, dict) or "ref" not in entry or "keyId" not in entry:
                    raise KeyError("entry")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise KeyStoreError(
                f"The PKI manifest {self._where(_MANIFEST)} of network {self.network_name} is damaged "
                "or from another appnet version.",
                recommendation="Upgrade the appnet extension, or restore the key store from a backup.",
            ) from None
        if self._recorded_root and not manifest["roots"] and not lost_ok:
            raise self._lost_store("holds no root CA")
        return manifest

    def _where(self, name=None):
        """Where the key store keeps `name` (or itself), for messages."""
        directory = getattr(self._store, "directory", None)
        if directory:
            import os
            return os.path.join(directory, name) if name else directory
        vault = getattr(self._store, "vault_url", None) or "the Key Vault"
        return f"{name} in {vault}" if name else vault

    def _lost_store(self, what):
        return KeyStoreError(
            f"The key store of network {self.network_name} ({self._where()}) {what}, but the "
            f"network's state records its root CA (SHA-256 {self._recorded_root}): the key store was "
            "deleted, or this is not the machine or vault that holds it. appnet will not create a "
            "new root CA, which the members would not trust.",
            recommendation="Restore the key store from a backup (or run az where it is). If the "
            "root CA key is lost for good, remove the members ('az appnet member remove') and "
            "delete and re-create the network; if only the root key file is gone while the "
            "manifest and certificates remain, 'az appnet ca rotate' moves the members to a new "
            "root while the mesh trusts both.")

    def preflight(self, member_name=None, sign=False):
        """Check, before an operation is recorded, that the keys it will use are there:
        the manifest, the active root certificate, the root key when `sign` (or when the
        member's intermediate would be minted), and the member's intermediate key.
        Raises KeyStoreError / NotFoundError naming what is missing; returns None."""
        manifest = self._manifest()
        if not manifest["roots"]:
            raise self._no_root()
        active = manifest["roots"][-1]
        root_cert = self._cert(active["ref"])
        if member_name is None:
            if sign:
                self._root_signer(active, root_cert)
            return
        member = self._check_member(member_name)
        entry = manifest["intermediates"].get(member.lower())
        due = True
        if entry and any(r["ref"] == entry["rootRef"] for r in manifest["roots"]):
            cert = self._cert(entry["ref"])
            due = self._clock() >= policy.rotate_after(cert.not_valid_before_utc, cert.not_valid_after_utc)
        if sign or due:
            self._root_signer(active, root_cert)
        if entry and not sign and not due:
            self.cacerts(member)

    def _save_manifest(self, manifest):
        self._store.write_text(_MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    def _cert_pem(self, ref):
        text = self._store.read_text(f"{ref}.crt.pem")
        if text is None:
            raise KeyStoreError(
                f"The certificate {ref} of network {self.network_name} is missing from its key store.",
                recommendation="Restore the key store from a backup, or rotate the CA it belongs to.",
            )
        return text

    def _cert(self, ref):
        return certs.load_pem_chain(self._cert_pem(ref))[0]

    def _new_root(self, common_name, key_type):
        ref = f"root-{secrets.token_hex(4)}"
        signer = self._store.new_root_signer(ref, key_type)
        cert = certs.build_root(signer, self.network_name, common_name, self._clock())
        self._store.write_text(f"{ref}.crt.pem", certs.pem(cert))
        return {"ref": ref, "keyId": signer.key_id}

    def _root_signer(self, entry, root_cert):
        try:
            signer = self._store.root_signer(entry["ref"])
        except KeyStoreError as exc:
            if "missing" not in exc.message:
                raise
            raise KeyStoreError(
                f"{exc.message} It is the key of the network's root CA; appnet will not create a "
                "new root in its place.",
                recommendation="Restore the key store from a backup (or run az where it is); if the "
                "root key is lost for good, 'az appnet ca rotate' moves every member to a new root "
                "while the mesh trusts both.") from None
        if not _same_key(signer.public_key(), root_cert.public_key()):
            raise KeyStoreError(
                f"The root CA key {signer.key_id} does not match the root certificate of network "
                f"{self.network_name}.",
                recommendation="The key was replaced outside appnet; restore it, or rotate the root CA.",
            )
        return signer

    def _mint(self, manifest, member):
        if not manifest["roots"]:
            raise self._no_root()
        root_entry = manifest["roots"][-1]
        root_cert = self._cert(root_entry["ref"])
        now = self._clock()
        if now >= root_cert.not_valid_after_utc:
            raise ConflictError(
                f"The root CA of network {self.network_name} expired on "
                f"{root_cert.not_valid_after_utc:%Y-%m-%d}; no intermediate can be signed with it.",
                recommendation="Rotate the root CA (`az appnet ca rotate`).",
            )
        signer = self._root_signer(root_entry, root_cert)
        ref = f"member-{policy.slug(member)}-{secrets.token_hex(4)}"
        key = generate_private_key(certs.key_type_of(root_cert.public_key()))
        self._store.save_private_key(ref, key)
        cert = certs.build_intermediate(signer, root_cert, key.public_key(), self.network_name, member, now)
        self._store.write_text(f"{ref}.crt.pem", certs.pem(cert))
        old = manifest["intermediates"].get(member.lower())
        entry = {"member": member, "ref": ref, "rootRef": root_entry["ref"],
                 "keyId": self._store.private_key_id(ref)}
        manifest["intermediates"][member.lower()] = entry
        self._save_manifest(manifest)
        if old:
            # istiod only ever uses the newest key; the old one is no longer needed.
            self._store.delete_private_key(old["ref"])
            self._store.delete_text(f"{old['ref']}.crt.pem")
        return self._intermediate_info(entry, cert)

    def _root_info(self, entry, now=None):
        return certs.describe(self._cert(entry["ref"]), self._store.location, entry["keyId"], now)

    def _intermediate_info(self, entry, cert, now=None):
        # The intermediate's key is wherever the store keeps private keys: a file, or a vault secret.
        info = certs.describe(cert, self._store.location, entry["keyId"], now)
        info["member"] = entry["member"]
        return info

    @staticmethod
    def _check_member(member_name):
        if not isinstance(member_name, str) or not member_name.strip():
            raise InvalidInputError("The member name is empty.", recommendation="Pass the member's name.")
        return member_name.strip()

    def _no_root(self):
        if self._recorded_root:
            return self._lost_store("holds no root CA")
        return NotFoundError(
            f"Network {self.network_name} has no root CA yet.",
            recommendation="Create it first (`az appnet create`).",
        )

    def _no_intermediate(self, member):
        return NotFoundError(
            f"Member {member} of network {self.network_name} has no intermediate CA.",
            recommendation="Join the member first (`az appnet member join`).",
        )
