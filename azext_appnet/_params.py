"""Arguments of every command: names, aliases, defaults, enums, as the real `az appnet`."""

from azure.cli.core.commands.parameters import get_enum_type, get_location_type
from knack.arguments import CLIArgumentType

from azext_appnet._validators import (
    location_text, validate_appnet_name, validate_join_cluster, validate_member_name, validate_tags,
    validate_version)
from azext_appnet.constants import (
    CA_KEY_TYPES, CLUSTER_TYPES, GATEWAY_VISIBILITIES, IDENTITY_TYPES, RELEASE_CHANNELS, UPGRADE_MODES)

tags_type = CLIArgumentType(
    options_list=["--tags"], nargs="*", validator=validate_tags,
    help="Space-separated tags: key[=value] [key[=value] ...], or a dictionary such as "
         "\"{key1:value1,key2:value2}\". Use \"\" to clear existing tags.")


def load_arguments(self, _):  # pylint: disable=too-many-statements  # one table of declarations
    appnet_name = CLIArgumentType(
        options_list=["--appnet-name", "--name", "-n"], id_part="name", validator=validate_appnet_name,
        help="The name of the application network.")
    paging = {
        "max_items": CLIArgumentType(
            options_list=["--max-items"], type=int, arg_group="Pagination",
            help="Total number of items to return in the command's output. If the total number of "
                 "items available is more than the value specified, a token is provided in the "
                 "command's output. To resume pagination, provide the token value in --next-token."),
        "next_token": CLIArgumentType(
            options_list=["--next-token"], arg_group="Pagination",
            help="Token to specify where to start paginating: the token of a previous response."),
    }

    with self.argument_context("appnet") as c:
        c.argument("appnet_name", arg_type=appnet_name)
        c.argument("tags", arg_type=tags_type)

    with self.argument_context("appnet create") as c:
        c.argument("appnet_name", arg_type=appnet_name, id_part=None)
        c.argument("location", arg_type=get_location_type(self.cli_ctx), type=location_text,
                   help="The geo-location where the resource lives: an Azure region name such as "
                        "westus2, or its display name. Default: the location configured with "
                        "'az configure --defaults location=...'.")
        c.argument("identity_type", arg_group="Identity", arg_type=get_enum_type(list(IDENTITY_TYPES)),
                   help="Type of managed service identity (where both SystemAssigned and "
                        "UserAssigned types are allowed).")
        c.argument("key_vault", arg_group="Certificate Authority",
                   help="Name or URL of an Azure Key Vault that keeps the root CA key as a "
                        "non-exportable key. Default: the local key store under the az config dir.")
        c.argument("ca_key_type", arg_group="Certificate Authority", arg_type=get_enum_type(list(CA_KEY_TYPES)),
                   help="Key type of the root and intermediate CAs.")

    for scope in ("appnet create", "appnet update"):
        with self.argument_context(scope) as c:
            c.argument("maintenance_window", options_list=["--maintenance-window"], arg_group="Maintenance",
                       help="When 'az appnet reconcile' may upgrade members and rotate CAs, in UTC: "
                            "DAYS HH:MM-HH:MM, such as \"Sat,Sun 02:00-06:00\" or \"Mon-Fri 22:00-02:00\" "
                            "(an end before the start is on the next day). \"\" removes it. "
                            "Default: none, any time.")

    with self.argument_context("appnet reconcile") as c:
        c.argument("appnet_name", arg_type=appnet_name, id_part=None)
        c.argument("dry_run", options_list=["--dry-run"], action="store_true",
                   help="List what would be done, and change nothing anywhere (state, clusters, keys).")
        c.argument("members", options_list=["--member"], nargs="+",
                   help="Only these members (space-separated names). Network-wide CA actions are "
                        "left to a run without --member.")
        c.argument("ignore_maintenance_window", options_list=["--ignore-maintenance-window"],
                   action="store_true",
                   help="Upgrade, patch and rotate now, even outside the network's maintenance window.")

    with self.argument_context("appnet list") as c:
        c.argument("max_items", arg_type=paging["max_items"])
        c.argument("next_token", arg_type=paging["next_token"])

    with self.argument_context("appnet list-versions") as c:
        c.argument("location", arg_type=get_location_type(self.cli_ctx), type=location_text,
                   required=True)
        c.argument("kubernetes_version", options_list=["--kubernetes-version"],
                   help="Kubernetes version to filter profiles, such as 1.33.")
        c.argument("max_items", arg_type=paging["max_items"])
        c.argument("next_token", arg_type=paging["next_token"])

    for scope in ("appnet wait", "appnet member wait", "appnet ca wait"):
        with self.argument_context(scope, arg_group="Wait Condition") as c:
            c.argument("created", action="store_true",
                       help="Wait until created with 'provisioningState' at 'Succeeded'.")
            c.argument("updated", action="store_true",
                       help="Wait until updated with provisioningState at 'Succeeded'.")
            c.argument("deleted", action="store_true", help="Wait until deleted.")
            c.argument("exists", action="store_true", help="Wait until the resource exists.")
            c.argument("custom", help="Wait until the condition satisfies a custom JMESPath query. "
                                      "E.g. properties.provisioningState!='Accepted'.")
            c.argument("interval", type=int, help="Polling interval in seconds.")
            c.argument("timeout", type=int, help="Maximum wait in seconds.")

    with self.argument_context("appnet member") as c:
        c.argument("appnet_name", options_list=["--appnet-name"], id_part="name",
                   validator=validate_appnet_name, help="The name of the application network.")
        c.argument("member_name", options_list=["--member-name"], id_part="child_name_1",
                   validator=validate_member_name, help="The name of the application network member.")
        c.argument("tags", arg_type=tags_type)
        c.argument("release_channel", arg_group="Upgrade", arg_type=get_enum_type(list(RELEASE_CHANNELS)),
                   help="Release channel of a FullyManaged member: Rapid (newest version as soon "
                        "as available) or Stable (the version after extra validation).")
        c.argument("version", arg_group="Upgrade", validator=validate_version,
                   help="AppNet version of a SelfManaged member, such as 1.5 "
                        "('az appnet list-versions' lists them).")
        c.argument("east_west_gateway", arg_group="Connectivity", arg_type=get_enum_type(list(GATEWAY_VISIBILITIES)),
                   help="Visibility of the east-west gateway: Internal (an internal load balancer) "
                        "or External (a public one).")
        c.argument("network_name", arg_group="Connectivity",
                   help="Name of the network for the Application Network member "
                        "(topology.istio.io/network). Default: '<member-name>-network'. "
                        "Members given the same name are one flat network: their pods reach "
                        "each other directly, without the east-west gateway.")
        c.argument("api_server_url", options_list=["--api-server-url"], arg_group="Connectivity",
                   help="https URL at which the other members' clusters reach this cluster's "
                        "API server; written into their remote secrets. Default: the server "
                        "of the kubeconfig. Needed when that address only works from this "
                        "machine (kind, a loopback tunnel, a proxy).")

    with self.argument_context("appnet member join") as c:
        c.argument("cluster_type", arg_group="Cluster", arg_type=get_enum_type(list(CLUSTER_TYPES)),
                   help="Kind of cluster: AKS (with --member-resource-id) or Kubernetes (any "
                        "conformant cluster, with --kubeconfig). Default: AKS when "
                        "--member-resource-id is given, otherwise Kubernetes.")
        c.argument("member_resource_id", arg_group="Cluster", validator=validate_join_cluster,
                   help="ARM resource id of the AKS cluster to join.")
        c.argument("kubeconfig", arg_group="Cluster",
                   help="Path of the kubeconfig file of the cluster to join. It is read at each "
                        "operation; no credential from it is stored.")
        c.argument("context", arg_group="Cluster",
                   help="Context in the kubeconfig file. Default: its current context.")
        c.argument("member_location", arg_group="Resource",
                   help="Location of the member. Default: the location of the application network.")
        c.argument("upgrade_mode", arg_group="Upgrade", arg_type=get_enum_type(list(UPGRADE_MODES)),
                   help="Upgrade mode: SelfManaged (you pick the version) or FullyManaged (a "
                        "release channel picks it). It cannot be changed after joining.")
        c.argument("private_connect_subnet", arg_group="Connectivity",
                   help="Delegated Subnet to AppLink (AKS members).")

    with self.argument_context("appnet member update") as c:
        c.argument("accept_cluster_identity", arg_group="Cluster", action="store_true",
                   help="Accept the API server and CA the member's kubeconfig now reaches as the "
                        "member's cluster identity (after its API server or certificate changed). "
                        "Until then appnet sends the member no credential.")

    with self.argument_context("appnet member remove") as c:
        c.argument("rotate_root", action="store_true", arg_group="Certificate Authority",
                   help="For a compromised member: once it is removed, start a root CA rotation "
                        "('az appnet ca rotate'), so that nothing its intermediate CA could have "
                        "signed stays trusted after 'az appnet ca finish-rotation'. The removal "
                        "runs to its end first; --no-wait applies to the rotation.")

    with self.argument_context("appnet member list") as c:
        c.argument("appnet_name", id_part=None)
        c.argument("max_items", arg_type=paging["max_items"])
        c.argument("next_token", arg_type=paging["next_token"])

    # ---- network-wide declarations ----
    for scope in ("appnet namespace", "appnet global-service", "appnet waypoint"):
        with self.argument_context(scope) as c:
            c.argument("appnet_name", options_list=["--appnet-name"], id_part=None,
                       validator=validate_appnet_name, help="The name of the application network.")
            c.argument("namespace", options_list=["--namespace"],
                       help="The Kubernetes namespace, the same in every member.")
    with self.argument_context("appnet global-service") as c:
        c.argument("service", options_list=["--service"],
                   help="The name of the Kubernetes Service, the same in every member.")
    with self.argument_context("appnet global-service list") as c:
        c.argument("namespace", options_list=["--namespace"],
                   help="List only the global services of this namespace.")
    with self.argument_context("appnet waypoint") as c:
        c.argument("waypoint_name", options_list=["--name"],
                   help="The name of the waypoint (its Gateway), the same in every member.")
