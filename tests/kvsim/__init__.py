"""Azure Key Vault emulator for tests: `from tests.kvsim import KeyVaultSim`."""

from .credential import StaticTokenCredential
from .server import KeyVaultSim

__all__ = ["KeyVaultSim", "StaticTokenCredential"]
