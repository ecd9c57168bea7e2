"""A TokenCredential that hands out one fixed token and records what it was asked for."""

import time

from azure.core.credentials import AccessToken


class StaticTokenCredential:
    def __init__(self, token):
        self._token = token
        self.requested_scopes = []

    def get_token(self, *scopes, **kwargs):
        self.requested_scopes.extend(scopes)
        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self):
        return "StaticTokenCredential(<token hidden>)"
