"""The APPNET_* environment settings, each read and validated here and nowhere else.

A setting with a value appnet cannot use is an InvalidInputError naming the variable, the
value (never for a secret) and what it should hold; `check_all()` runs every check when a
command starts, so a bad setting stops the command before it records anything, rather
than in the middle of an operation.
"""

import os
import re
from urllib.parse import urlsplit

from .constants import PUBLIC_ARM_ENDPOINT
from .errors import InvalidInputError

READY_TIMEOUT = "APPNET_READY_TIMEOUT"
TERMINATING_TIMEOUT = "APPNET_TERMINATING_TIMEOUT"
STATE_PATH = "APPNET_STATE_PATH"
STATE_URL = "APPNET_STATE_URL"
STATE_CONNECTION_STRING = "APPNET_STATE_CONNECTION_STRING"
STATE_CONTAINER = "APPNET_STATE_CONTAINER"
ARM_ENDPOINT = "APPNET_ARM_ENDPOINT"

#: A join or update waits this long (seconds) for the data plane unless APPNET_READY_TIMEOUT says.
DEFAULT_READY_TIMEOUT = 600
#: A remove waits this long (seconds) for its namespace and CRDs to go (APPNET_TERMINATING_TIMEOUT).
DEFAULT_TERMINATING_TIMEOUT = 300
_MAX_READY_TIMEOUT = 7 * 24 * 3600
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _raw(name):
    value = os.environ.get(name)
    return None if value is None or not value.strip() else value.strip()


def _bad(name, value, what, example):
    shown = f" '{value}'" if value is not None else ""
    return InvalidInputError(f"The environment variable {name}{shown} {what}.",
                             f"Set it to {example}, or unset it.")


def _seconds(name, default, minimum=1):
    value = _raw(name)
    if value is None:
        return default
    try:
        seconds = int(value)
    except ValueError:
        raise _bad(name, value[:40], "is not a whole number of seconds",
                   f"a number of seconds such as {default}") from None
    if not minimum <= seconds <= _MAX_READY_TIMEOUT:
        raise _bad(name, value[:40], f"is out of range ({minimum} to {_MAX_READY_TIMEOUT} seconds)",
                   f"a number of seconds such as {default}")
    return seconds


def ready_timeout():
    """Seconds a join or update waits for readiness (APPNET_READY_TIMEOUT, default 600)."""
    return _seconds(READY_TIMEOUT, DEFAULT_READY_TIMEOUT)


def terminating_timeout():
    """Seconds a remove (or a join after one) waits for terminating objects to go; 0: a remove
    reports what is still terminating at once, and a join refuses to wait."""
    return _seconds(TERMINATING_TIMEOUT, DEFAULT_TERMINATING_TIMEOUT, minimum=0)


def state_url():
    """APPNET_STATE_URL, checked to be an http(s) URL with a host (None when unset)."""
    value = _raw(STATE_URL)
    if value is None:
        return None
    parts = urlsplit(value)
    example = "https://ACCOUNT.blob.core.windows.net/CONTAINER[/PREFIX]"
    if parts.scheme not in ("https", "http"):
        raise _bad(STATE_URL, value[:200], "is not a Blob Storage URL (it must start with https://)",
                   example)
    if not parts.hostname:
        raise _bad(STATE_URL, value[:200], "names no storage account host", example)
    return value


def state_path():
    """APPNET_STATE_PATH as an absolute path (None when unset)."""
    value = _raw(STATE_PATH)
    if value is None:
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", value):
        raise _bad(STATE_PATH, value[:200], "is a URL, not a file path",
                   f"the path of a state file (a Blob Storage container goes in {STATE_URL})")
    if "\x00" in value:
        raise _bad(STATE_PATH, None, "holds a NUL character", "the path of a state file")
    return os.path.abspath(os.path.expanduser(value))


def state_container():
    """APPNET_STATE_CONTAINER as CONTAINER[/PREFIX] (None when unset); the container part
    follows Azure's naming rules."""
    value = _raw(STATE_CONTAINER)
    if value is None:
        return None
    value = value.strip("/")
    container = value.partition("/")[0]
    if not re.match(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$", container):
        raise _bad(STATE_CONTAINER, value[:200],
                   "does not start with a valid container name (3-63 lower-case letters, digits "
                   "and single hyphens)", "CONTAINER[/PREFIX], e.g. appnet-state")
    return value


def arm_endpoint():
    """APPNET_ARM_ENDPOINT (None when unset): an https URL, or http on loopback (emulators)."""
    value = _raw(ARM_ENDPOINT)
    if value is None:
        return None
    parts = urlsplit(value)
    if not parts.hostname or parts.scheme not in ("https", "http") or (
            parts.scheme == "http" and parts.hostname not in _LOOPBACK):
        raise _bad(ARM_ENDPOINT, value[:200], "is not an https URL",
                   f"the Azure Resource Manager endpoint, e.g. {PUBLIC_ARM_ENDPOINT}")
    return value.rstrip("/")


def check_all():
    """Every setting this command may read, checked now."""
    ready_timeout()
    terminating_timeout()
    state_url()
    state_path()
    if _raw(STATE_CONNECTION_STRING) is not None:
        state_container()
    arm_endpoint()
