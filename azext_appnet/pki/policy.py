"""The rules of the network's PKI: key types, lifetimes and names.

Plain data only (no cryptography import), so the az layer can use it for validation and
help text without paying for the crypto stack at load time.
"""

import datetime
import hashlib
import re

from ..constants import CA_KEY_TYPES, DEFAULT_CA_KEY_TYPE, ISTIOD_HOST
# A rule of the PKI, named here too: the SPIFFE trust domain.
from ..constants import TRUST_DOMAIN  # noqa: F401  # pylint: disable=unused-import
from ..errors import InvalidInputError

#: Key types accepted by `--ca-key-type` (reference §9.2).
KEY_TYPES, DEFAULT_KEY_TYPE = CA_KEY_TYPES, DEFAULT_CA_KEY_TYPE

#: Lifetimes of the real product (design §5). A certificate is due for rotation at half
#: its lifetime: 6 of 12 months for the root, 45 of 90 days for an intermediate.
ROOT_LIFETIME = datetime.timedelta(days=365)
INTERMEDIATE_LIFETIME = datetime.timedelta(days=90)
WORKLOAD_LIFETIME = datetime.timedelta(hours=24)

#: notBefore is set this far in the past, so a cluster whose clock runs a little behind
#: ours accepts a CA the moment it is pushed (istiod does the same for leaves: 2 minutes).
CLOCK_SKEW = datetime.timedelta(minutes=5)

#: By convention (tools/certs uses istiod.istio-system.svc); istiod does not check it.
INTERMEDIATE_DNS_SAN = ISTIOD_HOST
SUBJECT_ORGANIZATION = "appnet"


def rotate_after(not_before, not_after):
    """The moment a CA certificate is due for rotation: half of its lifetime."""
    return not_before + (not_after - not_before) / 2


def check_key_type(key_type):
    if key_type not in KEY_TYPES:
        raise InvalidInputError(
            f"Unsupported CA key type {key_type!r}.",
            recommendation=f"Use one of: {', '.join(KEY_TYPES)}.",
        )
    return key_type


def slug(text, readable_from=None, max_len=24):
    """A short name safe for file names and Key Vault object names ([a-z0-9-]), unique per `text`.

    The readable part (from `readable_from`, default `text`) helps a human find the right
    directory or vault object; the hash makes it unique. ARM ids and names are
    case-insensitive, so the hash is of the lower-cased text: two spellings of one resource
    share a slug, two resources never do.
    """
    lowered = text.strip().lower()
    readable = (readable_from or text).strip().lower()
    readable = re.sub(r"[^a-z0-9]+", "-", readable).strip("-")[:max_len].strip("-") or "x"
    digest = hashlib.sha256(lowered.encode("utf-8")).hexdigest()[:10]
    return f"{readable}-{digest}"


def network_name(network_id):
    """The last segment of an ARM id (the network's own name), for subjects."""
    return network_id.rstrip("/").rsplit("/", 1)[-1]
