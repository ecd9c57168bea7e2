"""The PKI of an Application Network: a root CA per network, an intermediate CA per member.

    from azext_appnet.pki import NetworkPKI

Importing this package is cheap: `NetworkPKI` (and with it cryptography and, for Key
Vault, the azure SDK) is loaded on first use, because az imports the extension's package
tree for every command.
"""

from .policy import DEFAULT_KEY_TYPE, KEY_TYPES  # noqa: F401  (plain data, no heavy imports)

__all__ = ["NetworkPKI", "KEY_TYPES", "DEFAULT_KEY_TYPE"]


def __getattr__(name):
    if name == "NetworkPKI":
        from .network import NetworkPKI

        return NetworkPKI
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
