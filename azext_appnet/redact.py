"""The one scrubber: what could be a secret is cut from a text before it is shown, logged or
saved to state.

`scrub()` runs on every AppNetError message (errors.py), every step's warning and progress
line, and, through `install_log_filter()`, on every log record az or a --no-wait worker
prints. It cuts PEM blocks, JWTs, `Bearer` values, kubeconfig `*-data` fields, SAS
signatures and account keys, and `token:`/`password=`-style assignments.

While a shared (blob) store is open, HTTP log lines (urllib3, azure-core) lose their whole
query string: a SAS's other fields (expiry, permissions) say too much about a credential.

Only `re` and `logging` here: errors.py imports this module, and az loads errors early.
"""

import logging
import re
import threading

#: Environment variables of appnet that hold a secret: never handed to a child process
#: (exec credential plugins, --no-wait workers) through its environment.
SECRET_ENV = ("APPNET_KEYSTORE_PASSPHRASE", "APPNET_STATE_CONNECTION_STRING")

_MASK = "***"
_PATTERNS = [
    (re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?(-----END \1-----|\Z)", re.S), "[PEM block redacted]"),
    # Kubernetes service-account tokens, Entra tokens: JWS compact form, header first.
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"), _MASK),
    # A credential after the scheme: long and token-like, so prose ("a bearer token") stays.
    (re.compile(r"(?i)\b(bearer\s+|authorization:\s*basic\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + _MASK),
    # kubeconfig fields: client-key-data, certificate-authority-data, token-data, ...
    (re.compile(r"(?i)([\w-]+-data[\"']?\s*[:=]\s*[\"']?)[^\s\"',;}]+"), r"\1" + _MASK),
    # SAS signature and connection-string secrets.
    (re.compile(r"(?i)\b(sig|signature|accountkey|sharedaccesssignature|sharedaccesskey)=[^&;\s\"']+"),
     r"\1=" + _MASK),
    (re.compile(r"(?i)\b(token|password|passphrase|secret|key)([\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"),
     r"\1\2" + _MASK),
]
_QUERY = re.compile(r"(https?://[^\s?\"']*|\s/[^\s?\"']*)\?[^\s\"']*")
_HTTP_LOGGERS = ("urllib3", "azure")


def scrub(text):
    """`text` with anything that looks like a secret replaced by ***."""
    if not text:
        return text
    text = str(text)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def strip_query_strings(text):
    """URLs and request lines without their query string."""
    return _QUERY.sub(lambda m: m.group(1) + "?" + _MASK, text)


def child_env(env):
    """A copy of `env` without appnet's secrets."""
    return {k: v for k, v in env.items() if k not in SECRET_ENV}


# ---- logging ------------------------------------------------------------------------------

_blob_stores_open = 0
_guard = threading.Lock()


# A process-wide count, as logging's filters are process-wide.
def blob_store_opened():
    global _blob_stores_open  # pylint: disable=global-statement
    with _guard:
        _blob_stores_open += 1
    install_log_filter()


def blob_store_closed():
    global _blob_stores_open  # pylint: disable=global-statement
    with _guard:
        _blob_stores_open = max(0, _blob_stores_open - 1)


class ScrubFilter(logging.Filter):  # pylint: disable=too-few-public-methods  # logging's interface
    """Rewrites each record's message, scrubbed, before any handler formats it."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # pylint: disable=broad-except
            return True    # a broken record is the logging module's to report
        clean = scrub(message)
        if _blob_stores_open and record.name.startswith(_HTTP_LOGGERS):
            clean = strip_query_strings(clean)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = ScrubFilter()


def install_log_filter():
    """Put the scrubber on every handler that exists now (az's, knack's, the last resort),
    on the loggers HTTP lines come from, and on our own. Idempotent."""
    handlers = list(logging.getLogger().handlers)
    for name in ("cli", "azure", "urllib3", "azext_appnet"):
        handlers += logging.getLogger(name).handlers
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    # Records logged on these loggers are scrubbed even if a handler is added later.
    for name in ("urllib3.connectionpool", "azure.core.pipeline.policies.http_logging_policy",
                 "azext_appnet"):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
