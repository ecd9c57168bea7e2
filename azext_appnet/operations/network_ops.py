"""The steps of the Application Network operations: create, update, delete."""

from .runner import Finished, Step


def _create_root(ctx):
    ca = ctx.props["certificateAuthority"]
    info = ctx.services.pki(ctx.resource).create_root(
        f"{ctx.resource['name']} root CA", key_type=ca["keyType"])
    ca["root"] = public_certificate(info)


def public_certificate(info):
    """What of a certificate's description goes into state: facts, never the PEM of a key."""
    keep = ("subject", "serialNumber", "notBefore", "notAfter", "rotateAfter",
            "sha256Fingerprint", "keyType", "keyLocation", "keyId")
    return {k: info[k] for k in keep if k in info}


def _noop(ctx):
    del ctx  # tags and identity were recorded when the operation began


def _delete_keys(ctx):
    ctx.services.pki(ctx.resource).delete()


def _delete_record(ctx):
    ctx.store.delete(ctx.resource["id"])
    raise Finished()


CREATE = [Step("certificates", "Creating the network's root CA", _create_root)]
UPDATE = [Step("update", "Updating the Application Network", _noop)]
DELETE = [Step("certificates", "Deleting the network's CA keys", _delete_keys),
          Step("delete", "Deleting the Application Network", _delete_record)]
