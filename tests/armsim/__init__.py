"""armsim: the Azure Resource Manager subset appnet uses to join AKS clusters, over HTTPS.

    from tests.armsim import ArmSim, TestCredential
    with ArmSim() as arm:
        arm.add_cluster(AKS_ID, kubesim=sim)            # or aad=True
        cred = TestCredential({arm.scope: arm.token})
        connect_aks(AKS_ID, cred, arm.url, connection_verify=arm.ca_file)

See server.py for what is emulated.
"""
from .credential import NoLoginCredential, TestCredential
from .server import AKS_AAD_SERVER_APP_ID, ArmSim, entra_user_token

__all__ = ["ArmSim", "TestCredential", "NoLoginCredential", "entra_user_token",
           "AKS_AAD_SERVER_APP_ID"]
