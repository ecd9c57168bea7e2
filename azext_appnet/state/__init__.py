"""Where resources are kept between commands.

`SqliteStore` is the default: one file under the az config dir, no set-up. The path can be
overridden with the environment variable APPNET_STATE_PATH (CI pipelines point it at a
workspace file). Teams and CI on throw-away machines share a `BlobStore` (blob.py) in Azure
Blob Storage instead:

* APPNET_STATE_URL=https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX], signed in with
  the az login; or
* APPNET_STATE_CONNECTION_STRING (account key or SAS; also Azurite) with
  APPNET_STATE_CONTAINER=CONTAINER[/PREFIX].

A store is named by a location string that carries no secret (it is passed to --no-wait
workers on their command line): a file path, the URL, or `env:APPNET_STATE_CONNECTION_STRING/
CONTAINER[/PREFIX]`, whose connection string a worker is handed on a pipe (processes.py).

No credential and no private key is stored, but the state is a trust root: whoever can
write it can add a member record and have the network send that cluster credentials (see
the README). Every document read is validated (validate.py) before the engine uses it.

This module stays light: the Azure SDK is imported only when a blob store is opened.
"""

import os

from .base import LOCK_TTL, StaleWriteError, Store, clean  # the package's contract

__all__ = ["LOCK_TTL", "StaleWriteError", "Store", "clean", "default_state_location", "default_state_path",
           "is_blob_location", "needs_credential", "open_store"]

STATE_PATH_ENV = "APPNET_STATE_PATH"
STATE_URL_ENV = "APPNET_STATE_URL"
STATE_CONNECTION_STRING_ENV = "APPNET_STATE_CONNECTION_STRING"
STATE_CONTAINER_ENV = "APPNET_STATE_CONTAINER"
_ENV_PREFIX = "env:"


def default_state_location(config_dir):
    """The store the environment selects: APPNET_STATE_URL, else
    APPNET_STATE_CONNECTION_STRING (+ APPNET_STATE_CONTAINER), else the SQLite file
    (APPNET_STATE_PATH or the az config dir's)."""
    from .. import settings

    url = settings.state_url()      # an ftp:// or other non-Blob URL is refused, not a file name
    if url:
        return url
    if os.environ.get(STATE_CONNECTION_STRING_ENV, "").strip():
        container = settings.state_container() or ""
        return f"{_ENV_PREFIX}{STATE_CONNECTION_STRING_ENV}/{container}"
    override = settings.state_path()
    if override:
        return override
    return os.path.join(config_dir, "appnet", "state.db")


#: Kept for callers that predate shared stores; returns a location, which may not be a path.
default_state_path = default_state_location


def is_blob_location(location):
    return location.startswith((_ENV_PREFIX, "https://", "http://"))


def needs_credential(location):
    """Whether opening `location` takes a credential: an APPNET_STATE_URL store signs its
    requests with an Entra token; a file or a connection string carries its own access."""
    return location.startswith(("https://", "http://"))


def open_store(location, credential=None):
    """Open the store a location names. `credential` (an azure-core TokenCredential) signs
    requests to an APPNET_STATE_URL store and is required for one (`needs_credential`); the
    caller chooses it (the az login, or the Azure CLI's for a --no-wait worker)."""
    if not is_blob_location(location):
        from .sqlite import SqliteStore
        return SqliteStore(location)
    from ..errors import StateError
    from .blob import BlobStore, parse_url
    if location.startswith(_ENV_PREFIX):
        variable, _, path = location[len(_ENV_PREFIX):].partition("/")
        from ..processes import secret_env
        connection_string = (secret_env(variable) or "").strip()
        if not connection_string:
            raise StateError(f"The shared state store's connection string is not set (${variable}).",
                             f"Set {variable} (and {STATE_CONTAINER_ENV}) in this environment.")
        container, _, prefix = path.partition("/")
        if not container:
            raise StateError(f"${variable} is set but {STATE_CONTAINER_ENV} is not.",
                             f"Set {STATE_CONTAINER_ENV}=CONTAINER[/PREFIX]: the blob container "
                             "that holds the shared state.")
        return BlobStore(container, prefix, connection_string=connection_string,
                         connection_string_env=variable)
    account_url, container, prefix = parse_url(location)
    if credential is None:
        raise ValueError(f"open_store({location!r}) needs a credential to sign in to Blob Storage.")
    return BlobStore(container, prefix, account_url=account_url, credential=credential,
                     description=f"{account_url}/{container}")
