"""The credential the az layer hands the engine: the user's `az login`, in this process.

The engine needs an azure-core TokenCredential only to reach ARM (AKS members joined by
resource id), Key Vault (a root CA key kept there) and a shared state store named by URL.
Most commands need none of them, so the login is looked up when a token is first asked for:
joining a cluster by kubeconfig works without `az login`.

A detached --no-wait worker has no az context; it signs in through the Azure CLI as a
subprocess instead (operations.services.Services.azure_credential).
"""


class AzLoginCredential:
    """The az login of `cli_ctx` as an azure-core TokenCredential, fetched on first use."""

    def __init__(self, cli_ctx):
        self._cli_ctx, self._credential = cli_ctx, None

    def get_token(self, *scopes, **kwargs):
        if self._credential is None:
            from azure.cli.core._profile import Profile
            from azure.core.exceptions import ClientAuthenticationError
            try:
                self._credential = Profile(cli_ctx=self._cli_ctx).get_login_credentials()[0]
            except Exception:  # pylint: disable=broad-except
                raise ClientAuthenticationError(message="not logged in to Azure") from None
        return self._credential.get_token(*scopes, **kwargs)

    def __repr__(self):
        return "AzLoginCredential()"
