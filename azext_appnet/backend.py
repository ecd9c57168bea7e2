"""What the az layer asks of a backend: the seam between the commands and what carries them out.

`engine.AppNet` is the backend this extension ships: it does the provider's work itself on
the user's clusters, with state in a local or shared store. Another backend (one driving
the real Microsoft.AppLink ARM provider, say) would implement the same methods with the
same arguments and documents, and `_client_factory.py` would hand it to the handlers
instead; custom.py calls nothing else (tests/unit/test_backend_seam.py holds both to it).

Errors are the classes in errors.py (message + recommendation), which the az layer maps to
az's. A method given `no_wait=True` starts its operation and returns None; `wait_*` follows it.
"""

from typing import Any, Callable, Dict, List, Optional, Protocol

from .model.documents import (CaDescription, DeclarationProblem, DeclarationReport, MemberCheckReport,
                              NetworkCheckReport, ReconcileReport, ResourceDocument)


class Backend(Protocol):  # pylint: disable=too-many-public-methods  # one method per command
    #: Hears each step of an operation run in this process and what it waits for (None: silent).
    progress: Optional[Callable[[str], None]]
    #: Hears what the user should know although the command goes on.
    warn: Optional[Callable[[str], None]]

    # ---- Application Networks (az appnet ...) -------------------------------------------

    def create_network(self, resource_group: str, name: str, location: str,
                       tags: Optional[Dict[str, str]] = None, identity_type: str = "SystemAssigned",
                       key_vault: Optional[str] = None, ca_key_type: str = "ec-p256", no_wait: bool = False,
                       maintenance_window: Optional[str] = None) -> Optional[ResourceDocument]:
        """Create the network, or converge it when it exists (PUT)."""

    def show_network(self, resource_group: str, name: str) -> ResourceDocument:
        """The network; NotFoundError when there is none."""

    def list_networks(self, resource_group: Optional[str] = None) -> List[ResourceDocument]:
        """The subscription's networks, or one resource group's."""

    def update_network(self, resource_group: str, name: str, tags: Optional[Dict[str, str]] = None,
                       no_wait: bool = False, maintenance_window: Optional[str] = None) -> Optional[ResourceDocument]:
        """Change tags or the maintenance window."""

    def delete_network(self, resource_group: str, name: str, no_wait: bool = False) -> None:
        """Delete a network without members; nothing to delete is success."""

    def wait_network(self, resource_group: str, name: str, created: bool = False, updated: bool = False,
                     deleted: bool = False, exists: bool = False, custom: Optional[str] = None,
                     interval: float = 30, timeout: float = 3600,
                     tick: Optional[Callable[[Optional[str]], None]] = None) -> Optional[ResourceDocument]:
        """Poll until the condition holds; `tick(provisioningState)` hears each miss."""

    def list_versions(self, location: str, kubernetes_version: Optional[str] = None) -> List[Dict[str, Any]]:
        """The AppNet versions available, per Kubernetes minor (ARM's availableVersions)."""

    def check_network(self, resource_group: str, name: str) -> NetworkCheckReport:
        """Live checks of every member and across members; read-only."""

    def reconcile(self, resource_group: str, name: str, dry_run: bool = False, members: Optional[List[str]] = None,
                  ignore_maintenance_window: bool = False, now: Any = None) -> ReconcileReport:
        """What the managed service would do now (rotations, upgrades, repairs), done unless `dry_run`."""

    # ---- members (az appnet member ...) -------------------------------------------------

    def join_member(self, resource_group: str, network: str, member: str, kubeconfig: Optional[str] = None,
                    context: Optional[str] = None, member_resource_id: Optional[str] = None,
                    cluster_type: Optional[str] = None, member_location: Optional[str] = None,
                    tags: Optional[Dict[str, str]] = None, upgrade_mode: Optional[str] = "SelfManaged",
                    release_channel: Optional[str] = None, version: Optional[str] = None,
                    east_west_gateway: Optional[str] = "Internal", network_name: Optional[str] = None,
                    private_connect_subnet: Optional[str] = None, no_wait: bool = False,
                    api_server_url: Optional[str] = None) -> Optional[ResourceDocument]:
        """Join a cluster (by kubeconfig and context, or an AKS resource id) to the network."""

    def show_member(self, resource_group: str, network: str, member: str) -> ResourceDocument:
        """The member; NotFoundError when there is none."""

    def list_members(self, resource_group: str, network: str) -> List[ResourceDocument]:
        """The network's members."""

    def update_member(self, resource_group: str, network: str, member: str, release_channel: Optional[str] = None,
                      version: Optional[str] = None, east_west_gateway: Optional[str] = None,
                      network_name: Optional[str] = None, tags: Optional[Dict[str, str]] = None,
                      no_wait: bool = False, accept_cluster_identity: bool = False,
                      api_server_url: Optional[str] = None) -> Optional[ResourceDocument]:
        """Upgrade, change settings, or with nothing given re-apply the member (drift repair)."""

    def remove_member(self, resource_group: str, network: str, member: str, no_wait: bool = False,
                      rotate_root: bool = False) -> Optional[ResourceDocument]:
        """Take the member out of the mesh and its cluster; nothing to remove is success."""

    def wait_member(self, resource_group: str, network: str, member: str, created: bool = False,
                    updated: bool = False, deleted: bool = False, exists: bool = False,
                    custom: Optional[str] = None, interval: float = 30, timeout: float = 3600,
                    tick: Optional[Callable[[Optional[str]], None]] = None) -> Optional[ResourceDocument]:
        """As wait_network, for a member."""

    def rotate_member_ca(self, resource_group: str, network: str, member: str,
                         no_wait: bool = False) -> Optional[ResourceDocument]:
        """A new intermediate CA for the member."""

    def rotate_member_credentials(self, resource_group: str, network: str, member: str,
                                  no_wait: bool = False) -> Optional[ResourceDocument]:
        """New reader identities and tokens for every link of the member."""

    def check_member(self, resource_group: str, network: str, member: str) -> MemberCheckReport:
        """Live checks of one member's cluster; read-only."""

    # ---- certificate authority (az appnet ca ...) ---------------------------------------

    def show_ca(self, resource_group: str, name: str) -> CaDescription:
        """Public facts of the network's root and intermediate CAs."""

    def rotate_root_ca(self, resource_group: str, name: str, no_wait: bool = False) -> Optional[ResourceDocument]:
        """Start a root CA rotation: both roots trusted, members re-issued by the new one."""

    def finish_root_rotation(self, resource_group: str, name: str,
                             no_wait: bool = False) -> Optional[ResourceDocument]:
        """End a root CA rotation: only the new root stays trusted."""

    # ---- declarations (az appnet namespace | global-service | waypoint ...) -------------
    # `problems`, when given, gets the members that did not converge.

    def enable_namespace(self, resource_group: str, name: str, namespace: str,
                         problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        """Declare an ambient namespace on every member."""

    def disable_namespace(self, resource_group: str, name: str, namespace: str,
                          problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        """Withdraw an ambient namespace."""

    def list_namespaces(self, resource_group: str, name: str,
                        problems: Optional[List[DeclarationProblem]] = None) -> List[Dict[str, Any]]:
        """The declared namespaces, each with every member's state."""

    def add_global_service(self, resource_group: str, name: str, namespace: str, service: str,
                           problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        """Make a Service reachable from every member."""

    def remove_global_service(self, resource_group: str, name: str, namespace: str, service: str,
                              problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        """Withdraw a global Service."""

    def list_global_services(self, resource_group: str, name: str, namespace: Optional[str] = None,
                             problems: Optional[List[DeclarationProblem]] = None) -> List[Dict[str, Any]]:
        """The declared global Services, each with every member's state."""

    def create_waypoint(self, resource_group: str, name: str, namespace: str, waypoint: str = "waypoint",
                        problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        """Declare a waypoint in a namespace on every member."""

    def delete_waypoint(self, resource_group: str, name: str, namespace: str, waypoint: str = "waypoint",
                        problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        """Withdraw a waypoint."""

    def list_waypoints(self, resource_group: str, name: str,
                       problems: Optional[List[DeclarationProblem]] = None) -> List[Dict[str, Any]]:
        """The declared waypoints, each with every member's state."""
