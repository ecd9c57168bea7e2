"""The engine's errors (errors.py: message + recommendation) as az's error classes, so az
prints them its way and exits with its codes. Set on every command group (commands.py):
az hands it whatever a handler or the client factory raised."""

import shlex
import sys


def appnet_exception_handler(ex):
    from azext_appnet.errors import AppNetError
    if isinstance(ex, AppNetError):
        raise az_error(ex) from None
    raise ex


def az_error(ex):
    from azure.cli.core import azclierror as az
    from azext_appnet import errors
    if isinstance(ex, errors.NotFoundError):
        error = az.ResourceNotFoundError(ex.message, ex.recommendation)
        error.status_code = 404  # what az's show handler looks for to exit with code 3
        return error
    if ex.code == "RequiredArgumentMissing":
        return az.RequiredArgumentMissingError(ex.message, ex.recommendation)
    if isinstance(ex, errors.OperationCanceledError):
        return az.ManualInterrupt(ex.message, f"Run the same command again to resume it: {_this_command()}")
    kinds = [(errors.InvalidInputError, az.InvalidArgumentValueError),
             (errors.UsageError, az.ArgumentUsageError),
             (errors.ConflictError, az.BadRequestError),
             (errors.ClusterError, az.ValidationError),
             (errors.StateError, az.FileOperationError),
             (errors.KeyStoreError, az.FileOperationError),
             (errors.OperationFailedError, az.AzureResponseError)]
    for engine_kind, az_kind in kinds:
        if isinstance(ex, engine_kind):
            return az_kind(ex.message, ex.recommendation)
    return az.CLIInternalError(ex.message, ex.recommendation)


def _this_command():
    return "az " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])
