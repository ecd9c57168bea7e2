"""What differs between the Istio minors the catalog installs, in one place.

The reference (istio-ambient-multicluster.md, baseline 1.28) names the differences that
matter for what we render; a release that changes nothing we render needs no entry.
Everything else (images, tags) comes from the version catalog.
"""


def istio_minor(istio_version):
    major, minor = str(istio_version).split(".")[:2]
    return int(major), int(minor)


class Profile:
    """The features of one Istio release that change rendered objects."""

    def __init__(self, istio_version):
        self.istio = istio_version
        m = istio_minor(istio_version)
        # §1 and §4.2: AMBIENT_ENABLE_MULTI_NETWORK_INGRESS and AMBIENT_ENABLE_BAGGAGE exist
        # from 1.29. The code default of the former is false while the release note says
        # true, so it is set explicitly; baggage gives cross-network metrics right labels.
        self.multi_network_ingress_env = m >= (1, 29)
        self.baggage_env = m >= (1, 29)
        # §4.1: from 1.30 the reader ClusterRole may read ConfigMaps, so a remote istiod can
        # read this cluster's trust domain.
        self.reader_reads_configmaps = m >= (1, 30)
        # §5: native nftables arrived in 1.28; we keep iptables (NATIVE_NFTABLES false).
        self.native_nftables_setting = m >= (1, 28)
