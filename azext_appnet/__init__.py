"""az appnet: Azure Kubernetes Application Network on your own clusters.

This module is imported on every command-index miss of az, for every installed extension:
it must stay cheap. Command and argument tables load lazily; nothing heavy is imported here.
"""

from azure.cli.core import AzCommandsLoader

# Imported for its side effect: it fills knack's help table.
from azext_appnet._help import helps  # noqa: F401  # pylint: disable=unused-import


class AppNetCommandsLoader(AzCommandsLoader):

    def __init__(self, cli_ctx=None):
        from azure.cli.core.commands import CliCommandType

        from azext_appnet._client_factory import cf_appnet
        from azext_appnet._exception_handler import appnet_exception_handler

        # Every handler gets the backend from cf_appnet as its `client`, and the backend's
        # errors become az's in appnet_exception_handler.
        custom = CliCommandType(operations_tmpl="azext_appnet.custom#{}", client_factory=cf_appnet,
                                exception_handler=appnet_exception_handler)
        super().__init__(cli_ctx=cli_ctx, custom_command_type=custom)

    def load_command_table(self, args):
        from azext_appnet.commands import load_command_table
        load_command_table(self, args)
        return self.command_table

    def load_arguments(self, command):
        from azext_appnet._params import load_arguments
        load_arguments(self, command)


COMMAND_LOADER_CLS = AppNetCommandsLoader
