"""Command handlers: turn az arguments into engine calls and engine errors into az errors.

Kept thin on purpose; the work is in the engine (azext_appnet.engine and below), which
can be used and tested without az.
"""

import sys
import threading

from knack.log import get_logger

logger = get_logger(__name__)


# ---- plumbing ----------------------------------------------------------------------------

def _subscription(cmd):
    sub = cmd.cli_ctx.data.get("subscription_id")
    if sub:
        return sub
    try:
        from azure.cli.core._profile import Profile
        return Profile(cli_ctx=cmd.cli_ctx).get_subscription_id()
    except Exception:  # pylint: disable=broad-except
        return None  # no Azure login: the engine uses its documented local subscription


def _az_error(ex):
    from azure.cli.core import azclierror as az
    from azext_appnet import errors
    if isinstance(ex, errors.NotFoundError):
        error = az.ResourceNotFoundError(ex.message, ex.recommendation)
        error.status_code = 404  # what az's show handler looks for to exit with code 3
        return error
    if ex.code == "RequiredArgumentMissing":
        return az.RequiredArgumentMissingError(ex.message, ex.recommendation)
    if isinstance(ex, errors.OperationCanceledError):
        return az.ManualInterrupt(ex.message, f"Run the same command again to resume it: {_this_command()}")
    kinds = [(errors.InvalidInputError, az.InvalidArgumentValueError),
             (errors.UsageError, az.ArgumentUsageError),
             (errors.ConflictError, az.BadRequestError),
             (errors.ClusterError, az.ValidationError),
             (errors.StateError, az.FileOperationError),
             (errors.KeyStoreError, az.FileOperationError),
             (errors.OperationFailedError, az.AzureResponseError)]
    for engine_kind, az_kind in kinds:
        if isinstance(ex, engine_kind):
            return az_kind(ex.message, ex.recommendation)
    return az.CLIInternalError(ex.message, ex.recommendation)


class _AzLoginCredential:
    """The az login as an azure-core TokenCredential, fetched only when a token is asked for
    (AKS members by resource id, Key Vault): joining a cluster by kubeconfig needs no login."""

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


def _engine(cmd, reporter=None):
    from azext_appnet.engine import AppNet
    return AppNet(cmd.cli_ctx.config.config_dir, _subscription(cmd), progress=reporter,
                  warn=reporter.warn if reporter else logger.warning,
                  credential=_AzLoginCredential(cmd.cli_ctx),
                  arm_endpoint=cmd.cli_ctx.cloud.endpoints.resource_manager)


def _this_command():
    import shlex
    return "az " + " ".join(shlex.quote(arg) for arg in sys.argv[1:])


class _TermAsInterrupt:
    """SIGTERM (a CI runner cancelling the job, `kill`) ends a running operation as Ctrl-C
    does: Canceled on the resource, and a line naming the command that resumes it."""

    def __enter__(self):
        import signal
        self._old = None
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


def _call(cmd, method, *args, who=None, **kwargs):
    """Run engine `method`; an operation run here (not --no-wait) shows its steps as `who`."""
    from azext_appnet.errors import AppNetError
    reporter = None
    if kwargs.pop("show_progress", False) or kwargs.get("no_wait") is False:
        from azext_appnet._progress import Reporter
        reporter = Reporter(cmd.cli_ctx, who or "appnet")
    try:
        with _TermAsInterrupt():
            engine = _engine(cmd, reporter)
            return getattr(engine, method)(*args, **kwargs)
    except AppNetError as ex:
        raise _az_error(ex) from None
    finally:
        if reporter:
            reporter.end()


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

def create_appnet(cmd, resource_group_name, appnet_name, location=None, tags=None,
                  identity_type="SystemAssigned", key_vault=None, ca_key_type="ec-p256", no_wait=False,
                  maintenance_window=None):
    if not location:
        from azure.cli.core.azclierror import RequiredArgumentMissingError
        raise RequiredArgumentMissingError(
            "No location was given for the Application Network.",
            "Pass --location/-l (for example westus2), or set a default with "
            "'az configure --defaults location=westus2'.")
    return _call(cmd, "create_network", resource_group_name, appnet_name, location, who=appnet_name, tags=tags,
                 identity_type=identity_type, key_vault=key_vault, ca_key_type=ca_key_type,
                 no_wait=no_wait, maintenance_window=maintenance_window)


def show_appnet(cmd, resource_group_name, appnet_name):
    return _call(cmd, "show_network", resource_group_name, appnet_name)


def list_appnet(cmd, resource_group_name=None, max_items=None, next_token=None):
    return _page(_call(cmd, "list_networks", resource_group_name), max_items, next_token)


def update_appnet(cmd, resource_group_name, appnet_name, tags=None, no_wait=False, maintenance_window=None):
    return _call(cmd, "update_network", resource_group_name, appnet_name, who=appnet_name, tags=tags,
                 no_wait=no_wait, maintenance_window=maintenance_window)


def delete_appnet(cmd, resource_group_name, appnet_name, no_wait=False):
    return _call(cmd, "delete_network", resource_group_name, appnet_name, who=appnet_name, no_wait=no_wait)


def wait_appnet(cmd, resource_group_name, appnet_name, created=False, updated=False, deleted=False,
                exists=False, custom=None, interval=30, timeout=3600):
    return _wait(cmd, appnet_name,
                 lambda engine, *a, **kw: engine.wait_network(resource_group_name, appnet_name, *a, **kw),
                 created, updated, deleted, exists, custom, interval, timeout)


def list_versions(cmd, location, kubernetes_version=None, max_items=None, next_token=None):
    return _page(_call(cmd, "list_versions", location, kubernetes_version), max_items, next_token)


# ---- az appnet member --------------------------------------------------------------------

def join_member(cmd, resource_group_name, appnet_name, member_name, kubeconfig=None, context=None,
                member_resource_id=None, cluster_type=None, member_location=None, tags=None,
                upgrade_mode="SelfManaged", release_channel=None, version=None,
                east_west_gateway="Internal", network_name=None, private_connect_subnet=None,
                no_wait=False, api_server_url=None):
    return _call(cmd, "join_member", resource_group_name, appnet_name, member_name, who=member_name,
                 kubeconfig=kubeconfig, context=context, member_resource_id=member_resource_id,
                 cluster_type=cluster_type, member_location=member_location, tags=tags,
                 upgrade_mode=upgrade_mode, release_channel=release_channel, version=version,
                 east_west_gateway=east_west_gateway, network_name=network_name,
                 private_connect_subnet=private_connect_subnet, no_wait=no_wait,
                 api_server_url=api_server_url)


def show_member(cmd, resource_group_name, appnet_name, member_name):
    return _call(cmd, "show_member", resource_group_name, appnet_name, member_name)


def list_member(cmd, resource_group_name, appnet_name, max_items=None, next_token=None):
    return _page(_call(cmd, "list_members", resource_group_name, appnet_name), max_items, next_token)


def update_member(cmd, resource_group_name, appnet_name, member_name, release_channel=None,
                  version=None, east_west_gateway=None, network_name=None, tags=None, no_wait=False,
                  accept_cluster_identity=False, api_server_url=None):
    extra = {"accept_cluster_identity": True} if accept_cluster_identity else {}
    return _call(cmd, "update_member", resource_group_name, appnet_name, member_name, who=member_name,
                 release_channel=release_channel, version=version,
                 east_west_gateway=east_west_gateway, network_name=network_name, tags=tags,
                 no_wait=no_wait, api_server_url=api_server_url, **extra)


def remove_member(cmd, resource_group_name, appnet_name, member_name, no_wait=False, rotate_root=False):
    return _call(cmd, "remove_member", resource_group_name, appnet_name, member_name, who=member_name,
                 no_wait=no_wait, rotate_root=rotate_root)


def rotate_member_credentials(cmd, resource_group_name, appnet_name, member_name, no_wait=False):
    return _call(cmd, "rotate_member_credentials", resource_group_name, appnet_name, member_name,
                 who=member_name, no_wait=no_wait)


def wait_member(cmd, resource_group_name, appnet_name, member_name, created=False, updated=False,
                deleted=False, exists=False, custom=None, interval=30, timeout=3600):
    return _wait(cmd, member_name, lambda engine, *a, **kw: engine.wait_member(
        resource_group_name, appnet_name, member_name, *a, **kw),
        created, updated, deleted, exists, custom, interval, timeout)


def rotate_member_ca(cmd, resource_group_name, appnet_name, member_name, no_wait=False):
    return _call(cmd, "rotate_member_ca", resource_group_name, appnet_name, member_name, who=member_name,
                 no_wait=no_wait)


# ---- az appnet ca ------------------------------------------------------------------------

def show_ca(cmd, resource_group_name, appnet_name):
    return _call(cmd, "show_ca", resource_group_name, appnet_name)


def rotate_ca(cmd, resource_group_name, appnet_name, no_wait=False):
    return _call(cmd, "rotate_root_ca", resource_group_name, appnet_name, who=appnet_name, no_wait=no_wait)


def finish_ca_rotation(cmd, resource_group_name, appnet_name, no_wait=False):
    return _call(cmd, "finish_root_rotation", resource_group_name, appnet_name, who=appnet_name,
                 no_wait=no_wait)


def _wait(cmd, who, wait, created, updated, deleted, exists, custom, interval, timeout):
    from azure.cli.core.azclierror import InvalidArgumentValueError
    from azext_appnet.errors import AppNetError
    from azext_appnet.operations.wait import Condition
    if not any([created, updated, deleted, exists, custom]):
        raise InvalidArgumentValueError(
            "Name what to wait for: --created | --updated | --deleted | --exists | --custom JMESPATH")
    try:
        condition = Condition(created=created, updated=updated, deleted=deleted, exists=exists, custom=custom)
    except AppNetError as ex:        # an invalid --custom query
        raise _az_error(ex) from None
    from azext_appnet._progress import Reporter
    reporter = Reporter(cmd.cli_ctx, who)
    try:
        wait(_engine(cmd), condition, interval=interval, timeout=timeout,
             tick=lambda state: reporter(f"waiting: provisioningState {state or 'absent'}"))
    except AppNetError as ex:
        raise _az_error(ex) from None
    finally:
        reporter.end()


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


def check_member(cmd, resource_group_name, appnet_name, member_name):
    report = _call(cmd, "check_member", resource_group_name, appnet_name, member_name)
    _fail_after_output(cmd, [report])
    return report


def check_appnet(cmd, resource_group_name, appnet_name):
    report = _call(cmd, "check_network", resource_group_name, appnet_name)
    _fail_after_output(cmd, [{"member": "network", "checks": report.get("checks")}] + report.get("members", []))
    return report


# ---- az appnet reconcile -------------------------------------------------------------------

def reconcile_appnet(cmd, resource_group_name, appnet_name, dry_run=False, members=None,
                     ignore_maintenance_window=False):
    """The report; then exit 1 (after printing it, as `check`) when an action Failed."""
    report = _call(cmd, "reconcile", resource_group_name, appnet_name, who=appnet_name, show_progress=True,
                   dry_run=dry_run, members=members, ignore_maintenance_window=ignore_maintenance_window)
    failed = [(a.get("member") or "network",
               {"name": a["action"], "recommendation": a.get("recommendation")})
              for a in report.get("actions") or [] if a.get("status") == "Failed"]
    _fail_after(cmd, failed, noun="action")
    return report


# ---- az appnet namespace / global-service / waypoint ---------------------------------------
# Network-wide declarations. Each command prints its report per member, then exits non-zero
# (after the output, as `check` does) naming any member that was unreachable or did not match.

_DECLARATION_PROBLEMS = []


def _declared(cmd, method, *args):
    """A mutating declaration command: its report, with the members that did not converge."""
    from azext_appnet.operations.declarations import problems
    report = _call(cmd, method, *args)
    _fail_after_declarations(cmd, problems(report))
    return report


def _listed(cmd, method, *args):
    """A list command: the items, each with every member's state; unreachable members fail it."""
    found = []
    items = _call(cmd, method, *args, problems=found)
    _fail_after_declarations(cmd, found)
    return items


def _fail_after_declarations(cmd, found):
    if not found:
        return
    from knack.events import EVENT_CLI_SUCCESSFUL_EXECUTE
    with _CHECK_LOCK:
        if not _DECLARATION_PROBLEMS:
            cmd.cli_ctx.register_event(EVENT_CLI_SUCCESSFUL_EXECUTE, _raise_declaration_problems)
        _DECLARATION_PROBLEMS.extend(found)


def _raise_declaration_problems(_cli_ctx, **_):
    from azure.cli.core.azclierror import AzureResponseError
    with _CHECK_LOCK:
        found = list(dict.fromkeys(_DECLARATION_PROBLEMS))
        del _DECLARATION_PROBLEMS[:]
    results = dict((member, result) for member, result, _ in found)
    first = found[0]
    error = AzureResponseError(
        f"{len(results)} member{'s' if len(results) != 1 else ''} did not converge: "
        + ", ".join(f"{member} ({result})" for member, result in results.items())
        + f". {first[0]}: {first[2]}")
    error.set_recommendation("The declaration stays recorded: once the member is reachable, run the same "
                             "command again, or 'az appnet member update', to converge it.")
    raise error


def enable_namespace(cmd, resource_group_name, appnet_name, namespace):
    return _declared(cmd, "enable_namespace", resource_group_name, appnet_name, namespace)


def disable_namespace(cmd, resource_group_name, appnet_name, namespace):
    return _declared(cmd, "disable_namespace", resource_group_name, appnet_name, namespace)


def list_namespaces(cmd, resource_group_name, appnet_name):
    return _listed(cmd, "list_namespaces", resource_group_name, appnet_name)


def add_global_service(cmd, resource_group_name, appnet_name, namespace, service):
    return _declared(cmd, "add_global_service", resource_group_name, appnet_name, namespace, service)


def remove_global_service(cmd, resource_group_name, appnet_name, namespace, service):
    return _declared(cmd, "remove_global_service", resource_group_name, appnet_name, namespace, service)


def list_global_services(cmd, resource_group_name, appnet_name, namespace=None):
    return _listed(cmd, "list_global_services", resource_group_name, appnet_name, namespace)


def create_waypoint(cmd, resource_group_name, appnet_name, namespace, waypoint_name="waypoint"):
    return _declared(cmd, "create_waypoint", resource_group_name, appnet_name, namespace, waypoint_name)


def delete_waypoint(cmd, resource_group_name, appnet_name, namespace, waypoint_name="waypoint"):
    return _declared(cmd, "delete_waypoint", resource_group_name, appnet_name, namespace, waypoint_name)


def list_waypoints(cmd, resource_group_name, appnet_name):
    return _listed(cmd, "list_waypoints", resource_group_name, appnet_name)
