"""The command table. Declarative only: handlers live in custom.py, imported on use; the
loader's command type (__init__.py) gives each its `client` and maps its errors."""

from azext_appnet._format import (
    appnet_list_table, member_list_table, member_show_table, appnet_show_table, ca_show_table,
    versions_table, member_check_table, network_check_table)
from azext_appnet._format import reconcile_table
from azext_appnet._format import declaration_report_table, namespace_list_table, \
    global_service_list_table, waypoint_list_table


def load_command_table(self, _):
    with self.command_group("appnet", is_preview=True) as g:
        g.custom_command("create", "create_appnet", supports_no_wait=True)
        g.custom_show_command("show", "show_appnet", table_transformer=appnet_show_table)
        g.custom_command("list", "list_appnet", table_transformer=appnet_list_table)
        g.custom_command("update", "update_appnet", supports_no_wait=True)
        g.custom_command("delete", "delete_appnet", supports_no_wait=True, confirmation=True)
        g.custom_command("wait", "wait_appnet")
        g.custom_command("list-versions", "list_versions", table_transformer=versions_table)
        # Read-only live diagnostics; exits 1 after printing the report when a check Failed.
        g.custom_command("check", "check_appnet", table_transformer=network_check_table)
        # The managed service's duties; exits 1 after printing the report when an action Failed.
        g.custom_command("reconcile", "reconcile_appnet", table_transformer=reconcile_table)

    with self.command_group("appnet member", is_preview=True) as g:
        g.custom_command("join", "join_member", supports_no_wait=True)
        g.custom_show_command("show", "show_member", table_transformer=member_show_table)
        g.custom_command("list", "list_member", table_transformer=member_list_table)
        g.custom_command("update", "update_member", supports_no_wait=True)
        g.custom_command("remove", "remove_member", supports_no_wait=True, confirmation=True)
        g.custom_command("wait", "wait_member")
        # A long-running operation on the member: `az appnet member wait` follows it.
        g.custom_command("rotate-ca", "rotate_member_ca", supports_no_wait=True)
        g.custom_command("rotate-credentials", "rotate_member_credentials", supports_no_wait=True)
        g.custom_command("check", "check_member", table_transformer=member_check_table)

    with self.command_group("appnet ca", is_preview=True) as g:
        g.custom_show_command("show", "show_ca", table_transformer=ca_show_table)
        # Long-running operations on the network resource: `az appnet wait` follows them.
        g.custom_command("rotate", "rotate_ca", supports_no_wait=True)
        # Confirms: connections still using the old root's certificates fail once it runs.
        g.custom_command("finish-rotation", "finish_ca_rotation", supports_no_wait=True, confirmation=True)
        g.custom_command("wait", "wait_appnet")  # the same as `az appnet wait`: one resource

    # Network-wide declarations: recorded on the network, applied to every member (each
    # command prints a report per member and exits non-zero naming a member it could not reach).
    with self.command_group("appnet namespace", is_preview=True) as g:
        g.custom_command("enable", "enable_namespace", table_transformer=declaration_report_table)
        g.custom_command("disable", "disable_namespace", table_transformer=declaration_report_table,
                         confirmation=True)
        g.custom_command("list", "list_namespaces", table_transformer=namespace_list_table)

    with self.command_group("appnet global-service", is_preview=True) as g:
        g.custom_command("add", "add_global_service", table_transformer=declaration_report_table)
        g.custom_command("remove", "remove_global_service", table_transformer=declaration_report_table,
                         confirmation=True)
        g.custom_command("list", "list_global_services", table_transformer=global_service_list_table)

    with self.command_group("appnet waypoint", is_preview=True) as g:
        g.custom_command("create", "create_waypoint", table_transformer=declaration_report_table)
        g.custom_command("delete", "delete_waypoint", table_transformer=declaration_report_table,
                         confirmation=True)
        g.custom_command("list", "list_waypoints", table_transformer=waypoint_list_table)
