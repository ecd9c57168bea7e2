"""The client the handlers get: the backend (backend.Backend), made for the invocation.

az calls `cf_appnet` before a handler runs and passes its result as the handler's `client`
argument. Imported by commands.py when the command table loads, so it imports nothing at
module level: the engine loads when a command runs.
"""

from knack.log import get_logger

logger = get_logger(__name__)


def cf_appnet(cli_ctx, *_):
    """The engine, in the az config dir, signed in as the az login, in its cloud. Warnings
    go to az's logger; a handler that runs an operation here shows its steps (custom.py)."""
    from azext_appnet.credentials import AzLoginCredential
    from azext_appnet.engine import AppNet
    return AppNet(cli_ctx.config.config_dir, _subscription(cli_ctx), warn=logger.warning,
                  credential=AzLoginCredential(cli_ctx), arm_endpoint=cli_ctx.cloud.endpoints.resource_manager)


def _subscription(cli_ctx):
    sub = cli_ctx.data.get("subscription_id")
    if sub:
        return sub
    try:
        from azure.cli.core._profile import Profile
        return Profile(cli_ctx=cli_ctx).get_subscription_id()
    except Exception:  # pylint: disable=broad-except
        return None  # no Azure login: the engine uses its documented local subscription
