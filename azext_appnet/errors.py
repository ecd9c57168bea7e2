"""Errors raised by the engine.

The engine must stay usable without az, so it raises these plain exceptions; the az layer
(`_exception_handler.py`) maps each kind to the matching `azure.cli.core.azclierror` class. Every
error carries a message that says what is wrong and, where there is one, how to fix it.
Messages must never contain key material or tokens: each is scrubbed (redact.py) when
the error is made, so neither az's output nor a Failed resource's saved error can hold one.
"""

from .redact import scrub


class AppNetError(Exception):
    """Base of every error the engine raises on purpose."""

    #: Short machine-readable code, stored in a failed resource's `error.code`.
    code = "AppNetError"

    def __init__(self, message, recommendation=None, code=None):
        message, recommendation = scrub(message), scrub(recommendation)
        super().__init__(message)
        self.message = message
        self.recommendation = recommendation
        if code:
            self.code = code

    def with_fix(self):
        """The message followed by the fix, for a warning or a report line that has no
        separate place for the recommendation."""
        if not self.recommendation:
            return self.message
        return f"{self.message.rstrip()} {self.recommendation}"

    def to_error(self):
        """The ARM-style error object kept on a Failed resource."""
        err = {"code": self.code, "message": self.message}
        if self.recommendation:
            err["recommendation"] = self.recommendation
        return err


class InvalidInputError(AppNetError):
    """A value given by the user is malformed or not allowed."""
    code = "InvalidInput"


class UsageError(AppNetError):
    """Arguments that cannot be used together, or a rule of the product broken."""
    code = "InvalidUsage"


class NotFoundError(AppNetError):
    """A resource the user named does not exist (az exits 3 on show)."""
    code = "NotFound"
    #: ARM's HTTP status for it, which az's show commands look for to exit with code 3.
    status_code = 404


class ConflictError(AppNetError):
    """The resource is busy (an operation is running) or in a state that forbids this."""
    code = "Conflict"


class ClusterError(AppNetError):
    """A member cluster failed a check, could not be reached, or refused a request."""
    code = "ClusterError"


class StateError(AppNetError):
    """The state store is unreadable, corrupted or was changed underneath us."""
    code = "StateError"


class KeyStoreError(AppNetError):
    """A private key could not be created, stored or read."""
    code = "KeyStoreError"


class OperationCanceledError(AppNetError):
    """A long-running operation was interrupted (Ctrl-C, SIGTERM); it is resumable."""
    code = "Canceled"


class OperationFailedError(AppNetError):
    """A long-running operation that was waited for ended Failed, or the wait timed out."""
    code = "OperationFailed"
