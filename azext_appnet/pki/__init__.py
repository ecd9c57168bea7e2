"""The PKI of an Application Network: a root CA per network, an intermediate CA per member.

    from azext_appnet.pki import NetworkPKI

Importing this package is cheap: `NetworkPKI` (and with it cryptography and, for Key
Vault, the azure SDK) is loaded on first use, because az imports the extension's package
tree for every command.
"""

from typing import TYPE_CHECKING

from .policy import DEFAULT_KEY_TYPE, KEY_TYPES  # noqa: F401  (plain data, no heavy imports)

if TYPE_CHECKING:  # for readers and tools; at run time __getattr__ loads it on first use
    from .network import NetworkPKI

__all__ = ["NetworkPKI", "KEY_TYPES", "DEFAULT_KEY_TYPE"]


def __getattr__(name):
    if name == "NetworkPKI":
        from .network import NetworkPKI

        return NetworkPKI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
