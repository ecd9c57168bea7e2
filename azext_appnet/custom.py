"""Command handlers: turn az arguments into calls of the backend az hands them as `client`.

Kept thin on purpose: the work is in the backend (backend.Backend; engine.AppNet, made by
_client_factory.py), which can be used and tested without az. Its errors become az's in
_exception_handler.py. What is left here is az's side of a command: progress on stderr,
SIGTERM, paging, and exiting non-zero after a report that names a failure.
"""

import threading
from contextlib import contextmanager

from knack.log import get_logger

from azext_appnet.constants import (
    DEFAULT_CA_KEY_TYPE, DEFAULT_GATEWAY_VISIBILITY, DEFAULT_IDENTITY_TYPE, DEFAULT_UPGRADE_MODE)

logger = get_logger(__name__)


# ---- plumbing ----------------------------------------------------------------------------

class _TermAsInterrupt:
    """SIGTERM (a CI runner cancelling the job, `kill`) ends a running operation as Ctrl-C
    does: Canceled on the resource, and a line naming the command that resumes it."""

    def __init__(self):
        self._old = None

    def __enter__(self):
        import signal
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGTERM, self._interrupt)
        return self

    @staticmethod
    def _interrupt(_signum, _frame):
        raise KeyboardInterrupt

    def __exit__(self, *_):
        if self._old is not None:
            import signal
            signal.signal(signal.SIGTERM, self._old)


@contextmanager
def _running(cmd, client, who=None, no_wait=False):
    """Around a backend call that may run an operation in this process: SIGTERM interrupts
    it as Ctrl-C does, and unless `no_wait` (or no `who`) its steps and warnings are shown on
    stderr under `who` (_progress.py)."""
    reporter, quiet = None, (client.progress, client.warn)
    if who and not no_wait:
        from azext_appnet._progress import Reporter
        reporter = Reporter(cmd.cli_ctx, who)
        client.progress, client.warn = reporter, reporter.warn
    try:
        with _TermAsInterrupt():
            yield
    finally:
        if reporter:
            client.progress, client.warn = quiet
            reporter.end()


class _Ticks:
    """What a wait shows while it polls, drawn once there is a first miss to show."""

    def __init__(self, cmd, who):
        self._cmd, self._who, self._reporter = cmd, who, None

    def __call__(self, state):
        if self._reporter is None:
            from azext_appnet._progress import Reporter
            self._reporter = Reporter(self._cmd.cli_ctx, self._who)
        self._reporter(f"waiting: provisioningState {state or 'absent'}")

    def __enter__(self):
        return self

    def __exit__(self, *_):
        if self._reporter is not None:
            self._reporter.end()


def _page(items, max_items, next_token):
    import base64
    import json
    from azure.cli.core.azclierror import InvalidArgumentValueError
    if max_items is None:
        return items
    if max_items < 1:
        raise InvalidArgumentValueError("--max-items must be a positive number.")
    offset = 0
    if next_token:
        try:
            offset = int(json.loads(base64.b64decode(next_token))["offset"])
        except (ValueError, KeyError, TypeError):
            raise InvalidArgumentValueError(
                "Invalid --next-token.", "Pass the token printed by the previous command.") from None
    page = items[offset:offset + max_items]
    if offset + max_items < len(items):
        token = json.dumps({"next_link": None, "offset": offset + max_items}).encode()
        logger.warning("Token of next page: %s", base64.b64encode(token).decode())
    return page


# ---- az appnet ---------------------------------------------------------------------------

def create_appnet(cmd, client, resource_group_name, appnet_name, location=None, tags=None,
                  identity_type=DEFAULT_IDENTITY_TYPE, key_vault=None, ca_key_type=DEFAULT_CA_KEY_TYPE, no_wait=False,
                  maintenance_window=None):
    if not location:
        from azure.cli.core.azclierror import RequiredArgumentMissingError
        raise RequiredArgumentMissingError(
            "No location was given for the Application Network.",
            "Pass --location/-l (for example westus2), or set a default with "
            "'az configure --defaults location=westus2'.")
    with _running(cmd, client, appnet_name, no_wait):
        return client.create_network(resource_group_name, appnet_name, location, tags=tags,
                                     identity_type=identity_type, key_vault=key_vault, ca_key_type=ca_key_type,
                                     no_wait=no_wait, maintenance_window=maintenance_window)


def show_appnet(cmd, client, resource_group_name, appnet_name):
    return client.show_network(resource_group_name, appnet_name)


def list_appnet(cmd, client, resource_group_name=None, max_items=None, next_token=None):
    return _page(client.list_networks(resource_group_name), max_items, next_token)


def update_appnet(cmd, client, resource_group_name, appnet_name, tags=None, no_wait=False, maintenance_window=None):
    with _running(cmd, client, appnet_name, no_wait):
        return client.update_network(resource_group_name, appnet_name, tags=tags, no_wait=no_wait,
                                     maintenance_window=maintenance_window)


def delete_appnet(cmd, client, resource_group_name, appnet_name, no_wait=False):
    with _running(cmd, client, appnet_name, no_wait):
        return client.delete_network(resource_group_name, appnet_name, no_wait=no_wait)


def wait_appnet(cmd, client, resource_group_name, appnet_name, created=False, updated=False, deleted=False,
                exists=False, custom=None, interval=30, timeout=3600):
    with _Ticks(cmd, appnet_name) as tick:
        client.wait_network(resource_group_name, appnet_name, created=created, updated=updated, deleted=deleted,
                            exists=exists, custom=custom, interval=interval, timeout=timeout, tick=tick)


def list_versions(cmd, client, location, kubernetes_version=None, max_items=None, next_token=None):
    return _page(client.list_versions(location, kubernetes_version), max_items, next_token)


# ---- az appnet member --------------------------------------------------------------------

def join_member(cmd, client, resource_group_name, appnet_name, member_name, kubeconfig=None, context=None,
                member_resource_id=None, cluster_type=None, member_location=None, tags=None,
                upgrade_mode=DEFAULT_UPGRADE_MODE, release_channel=None, version=None,
                east_west_gateway=DEFAULT_GATEWAY_VISIBILITY, network_name=None, private_connect_subnet=None,
                no_wait=False, api_server_url=None):
    with _running(cmd, client, member_name, no_wait):
        return client.join_member(resource_group_name, appnet_name, member_name,
                                  kubeconfig=kubeconfig, context=context, member_resource_id=member_resource_id,
                                  cluster_type=cluster_type, member_location=member_location, tags=tags,
                                  upgrade_mode=upgrade_mode, release_channel=release_channel, version=version,
                                  east_west_gateway=east_west_gateway, network_name=network_name,
                                  private_connect_subnet=private_connect_subnet, no_wait=no_wait,
                                  api_server_url=api_server_url)


def show_member(cmd, client, resource_group_name, appnet_name, member_name):
    return client.show_member(resource_group_name, appnet_name, member_name)


def list_member(cmd, client, resource_group_name, appnet_name, max_items=None, next_token=None):
    return _page(client.list_members(resource_group_name, appnet_name), max_items, next_token)


def update_member(cmd, client, resource_group_name, appnet_name, member_name, release_channel=None,
                  version=None, east_west_gateway=None, network_name=None, tags=None, no_wait=False,
                  accept_cluster_identity=False, api_server_url=None):
    with _running(cmd, client, member_name, no_wait):
        return client.update_member(resource_group_name, appnet_name, member_name,
                                    release_channel=release_channel, version=version,
                                    east_west_gateway=east_west_gateway, network_name=network_name, tags=tags,
                                    no_wait=no_wait, accept_cluster_identity=bool(accept_cluster_identity),
                                    api_server_url=api_server_url)


def remove_member(cmd, client, resource_group_name, appnet_name, member_name, no_wait=False, rotate_root=False):
    with _running(cmd, client, member_name, no_wait):
        return client.remove_member(resource_group_name, appnet_name, member_name, no_wait=no_wait,
                                    rotate_root=rotate_root)


def rotate_member_credentials(cmd, client, resource_group_name, appnet_name, member_name, no_wait=False):
    with _running(cmd, client, member_name, no_wait):
        return client.rotate_member_credentials(resource_group_name, appnet_name, member_name, no_wait=no_wait)


def wait_member(cmd, client, resource_group_name, appnet_name, member_name, created=False, updated=False,
                deleted=False, exists=False, custom=None, interval=30, timeout=3600):
    with _Ticks(cmd, member_name) as tick:
        client.wait_member(resource_group_name, appnet_name, member_name, created=created, updated=updated,
                           deleted=deleted, exists=exists, custom=custom, interval=interval, timeout=timeout,
                           tick=tick)


def rotate_member_ca(cmd, client, resource_group_name, appnet_name, member_name, no_wait=False):
    with _running(cmd, client, member_name, no_wait):
        return client.rotate_member_ca(resource_group_name, appnet_name, member_name, no_wait=no_wait)


# ---- az appnet ca ------------------------------------------------------------------------

def show_ca(cmd, client, resource_group_name, appnet_name):
    return client.show_ca(resource_group_name, appnet_name)


def rotate_ca(cmd, client, resource_group_name, appnet_name, no_wait=False):
    with _running(cmd, client, appnet_name, no_wait):
        return client.rotate_root_ca(resource_group_name, appnet_name, no_wait=no_wait)


def finish_ca_rotation(cmd, client, resource_group_name, appnet_name, no_wait=False):
    with _running(cmd, client, appnet_name, no_wait):
        return client.finish_root_rotation(resource_group_name, appnet_name, no_wait=no_wait)


# ---- az appnet check / az appnet member check ----------------------------------------------

_CHECK_FAILURES = "appnet_check_failures"  # key in the invocation's data
_CHECK_LOCK = threading.Lock()  # --ids with several members runs them in threads


def _fail_after_output(cmd, reports):
    """A report with a Failed check is printed (stdout, in the chosen -o/--query) and then the
    command exits 1 with an error naming the failed checks, so a CI step fails. az prints a
    result only when the command returns, so the error is raised from the event az fires after
    printing it (the same event az's own paging uses to print the next-page token).

    The failures are kept on the invocation (one per command run, shared by the jobs of
    --ids, which each get a copy of the CLI context) and the handler unregisters itself, so a
    reused CLI (az interactive, azure-cli's test harness) runs its next command unaffected."""
    failed = [(r.get("member"), c) for r in reports for c in r.get("checks") or [] if c.get("status") == "Failed"]
    _fail_after(cmd, failed)


def _fail_after(cmd, failed, noun="check"):
    """Exit 1 after the output naming `failed` ((who, {"name", "recommendation"}) pairs)."""
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
    if not failed:
        return
    cli_ctx = cmd.cli_ctx
    cli_ctx.invocation.data["appnet_failure_noun"] = noun
    with _CHECK_LOCK:
        pending = cli_ctx.invocation.data.setdefault(_CHECK_FAILURES, [])
        if not pending:
            cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _raise_check_failures)
        pending.extend(failed)


def _raise_check_failures(cli_ctx, **_):
    from azure.cli.core.azclierror import ValidationError
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
    with _CHECK_LOCK:
        found = cli_ctx.invocation.data.pop(_CHECK_FAILURES, None) or []
        noun = cli_ctx.invocation.data.pop("appnet_failure_noun", None) or "check"
        cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _raise_check_failures)
    if not found:
        return
    failed, fixes = {}, []
    for member, check in found:
        failed.setdefault(member or "network", []).append(check["name"])
        if check.get("recommendation") and check["recommendation"] not in fixes:
            fixes.append(check["recommendation"])
    names = "; ".join(f"{who}: {', '.join(checks)}" for who, checks in failed.items())
    count = sum(len(c) for c in failed.values())
    detail = ("each check's message and recommendation" if noun == "check"
              else f"each {noun}'s reason and error")
    error = ValidationError(f"{count} {noun}{'s' if count != 1 else ''} failed ({names}). "
                            f"The report above has {detail}.")
    error.set_recommendation(fixes[:5])
    raise error


def check_member(cmd, client, resource_group_name, appnet_name, member_name):
    report = client.check_member(resource_group_name, appnet_name, member_name)
    _fail_after_output(cmd, [report])
    return report


def check_appnet(cmd, client, resource_group_name, appnet_name):
    report = client.check_network(resource_group_name, appnet_name)
    _fail_after_output(cmd, [{"member": "network", "checks": report.get("checks")}] + report.get("members", []))
    return report


# ---- az appnet reconcile -------------------------------------------------------------------

def reconcile_appnet(cmd, client, resource_group_name, appnet_name, dry_run=False, members=None,
                     ignore_maintenance_window=False):
    """The report; then exit 1 (after printing it, as `check`) when an action Failed."""
    with _running(cmd, client, appnet_name):
        report = client.reconcile(resource_group_name, appnet_name, dry_run=dry_run, members=members,
                                  ignore_maintenance_window=ignore_maintenance_window)
    failed = [(a.get("member") or "network",
               {"name": a["action"], "recommendation": a.get("recommendation")})
              for a in report.get("actions") or [] if a.get("status") == "Failed"]
    _fail_after(cmd, failed, noun="action")
    return report


# ---- az appnet namespace / global-service / waypoint ---------------------------------------
# Network-wide declarations. Each command prints its report per member, then exits non-zero
# (after the output, as `check` does) naming any member that was unreachable or did not match.

_DECLARATION_PROBLEMS = "appnet_declaration_problems"  # key in the invocation's data


def _fail_after_declarations(cmd, found, result):
    """`result`; the command exits non-zero after printing it when `found` names members that
    did not converge. Kept on the invocation, the handler unregistering itself, as for checks."""
    if found:
        from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
        cli_ctx = cmd.cli_ctx
        with _CHECK_LOCK:
            pending = cli_ctx.invocation.data.setdefault(_DECLARATION_PROBLEMS, [])
            if not pending:
                cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _raise_declaration_problems)
            pending.extend(found)
    return result


def _raise_declaration_problems(cli_ctx, **_):
    from azure.cli.core.azclierror import AzureResponseError
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
    with _CHECK_LOCK:
        found = list(dict.fromkeys(cli_ctx.invocation.data.pop(_DECLARATION_PROBLEMS, None) or []))
        cli_ctx.unregister_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _raise_declaration_problems)
    if not found:
        return
    results = dict((member, result) for member, result, _ in found)
    first = found[0]
    error = AzureResponseError(
        f"{len(results)} member{'s' if len(results) != 1 else ''} did not converge: "
        + ", ".join(f"{member} ({result})" for member, result in results.items())
        + f". {first[0]}: {first[2]}")
    error.set_recommendation("The declaration stays recorded: once the member is reachable, run the same "
                             "command again, or 'az appnet member update', to converge it.")
    raise error


def enable_namespace(cmd, client, resource_group_name, appnet_name, namespace):
    found = []
    with _running(cmd, client):
        report = client.enable_namespace(resource_group_name, appnet_name, namespace, problems=found)
    return _fail_after_declarations(cmd, found, report)


def disable_namespace(cmd, client, resource_group_name, appnet_name, namespace):
    found = []
    with _running(cmd, client):
        report = client.disable_namespace(resource_group_name, appnet_name, namespace, problems=found)
    return _fail_after_declarations(cmd, found, report)


def list_namespaces(cmd, client, resource_group_name, appnet_name):
    found = []
    items = client.list_namespaces(resource_group_name, appnet_name, problems=found)
    return _fail_after_declarations(cmd, found, items)


def add_global_service(cmd, client, resource_group_name, appnet_name, namespace, service):
    found = []
    with _running(cmd, client):
        report = client.add_global_service(resource_group_name, appnet_name, namespace, service, problems=found)
    return _fail_after_declarations(cmd, found, report)


def remove_global_service(cmd, client, resource_group_name, appnet_name, namespace, service):
    found = []
    with _running(cmd, client):
        report = client.remove_global_service(resource_group_name, appnet_name, namespace, service,
                                              problems=found)
    return _fail_after_declarations(cmd, found, report)


def list_global_services(cmd, client, resource_group_name, appnet_name, namespace=None):
    found = []
    items = client.list_global_services(resource_group_name, appnet_name, namespace, problems=found)
    return _fail_after_declarations(cmd, found, items)


def create_waypoint(cmd, client, resource_group_name, appnet_name, namespace, waypoint_name="waypoint"):
    found = []
    with _running(cmd, client):
        report = client.create_waypoint(resource_group_name, appnet_name, namespace, waypoint_name, problems=found)
    return _fail_after_declarations(cmd, found, report)


def delete_waypoint(cmd, client, resource_group_name, appnet_name, namespace, waypoint_name="waypoint"):
    found = []
    with _running(cmd, client):
        report = client.delete_waypoint(resource_group_name, appnet_name, namespace, waypoint_name, problems=found)
    return _fail_after_declarations(cmd, found, report)


def list_waypoints(cmd, client, resource_group_name, appnet_name):
    found = []
    items = client.list_waypoints(resource_group_name, appnet_name, problems=found)
    return _fail_after_declarations(cmd, found, items)
