"""Where resources are kept between commands.

`SqliteStore` is the default: one file under the az config dir, no set-up. The path can be
overridden with the environment variable APPNET_STATE_PATH (CI pipelines point it at a
workspace file). Only public data is stored: no credential, no private key.
"""

import os

STATE_PATH_ENV = "APPNET_STATE_PATH"


def default_state_path(config_dir):
    override = os.environ.get(STATE_PATH_ENV)
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(config_dir, "appnet", "state.db")


def open_store(path):
    from .sqlite import SqliteStore
    return SqliteStore(path)
