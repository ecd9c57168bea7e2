"""TokenCredentials for tests: fixed tokens per scope, recording what was asked."""

import threading
import time

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError


class TestCredential:
    """Hands out `tokens[scope]` (valid `lifetime` seconds); any other scope fails as a
    credential without consent for it would. `requested_scopes` lists every call."""

    __test__ = False            # not a pytest test class

    def __init__(self, tokens, lifetime=3600):
        self.tokens = dict(tokens)
        self.lifetime = lifetime
        self.requested_scopes = []
        self._lock = threading.Lock()

    def get_token(self, *scopes, **kwargs):
        with self._lock:
            self.requested_scopes.extend(scopes)
        for scope in scopes:
            if scope in self.tokens:
                return AccessToken(self.tokens[scope], int(time.time()) + self.lifetime)
        raise ClientAuthenticationError(message="no token for scopes %s" % (scopes,))

    def count(self, scope):
        return sum(1 for s in self.requested_scopes if s == scope)

    def __repr__(self):
        return "TestCredential(<%d tokens hidden>)" % len(self.tokens)


class NoLoginCredential:
    """What azure-identity's AzureCliCredential raises when nobody ran `az login`."""

    def get_token(self, *scopes, **kwargs):
        from azure.identity import CredentialUnavailableError
        raise CredentialUnavailableError(message="Please run 'az login' to set up an account")
