"""What differs between the Istio releases the catalog installs, in one place.

The differences are data: each catalog entry's `features` (versions/catalog.json), which
an entry inherits from the one before it. This class gives them names the renderers read;
everything else of a version (images, tags) comes from the catalog entry itself.
"""


def istio_minor(istio_version):
    major, minor = str(istio_version).split(".")[:2]
    return int(major), int(minor)


class Profile:  # pylint: disable=too-few-public-methods  # named flags, read as attributes
    """The features of one catalog version that change rendered objects."""

    def __init__(self, version):
        self.istio = version.istio
        f = version.features
        # AMBIENT_ENABLE_MULTI_NETWORK_INGRESS and AMBIENT_ENABLE_BAGGAGE (from Istio 1.29).
        # The code default of the former is false while the release note says true, so it
        # is set explicitly; baggage gives cross-network metrics the right labels.
        self.multi_network_ingress_env = bool(f.get("multiNetworkIngressEnv"))
        self.baggage_env = bool(f.get("baggageEnv"))
        # Native nftables arrived in 1.28; we keep iptables (NATIVE_NFTABLES false).
        self.native_nftables_setting = bool(f.get("nativeNftablesSetting"))
        # Istio 1.30 added the TrafficExtension CRD (extensions.istio.io) to its base chart.
        self.traffic_extensions_crd = bool(f.get("trafficExtensionsCrd"))
        # Istio 1.31 added PILOT_ENABLE_REMOTE_CREDENTIALS_CONTROLLER: with it false, istiod
        # reads no Secrets of remote clusters, so their reader role needs no `secrets` access.
        self.remote_credentials_opt_out = bool(f.get("remoteCredentialsOptOut"))
