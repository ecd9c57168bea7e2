"""The engine's front door: what each `az appnet` command asks for, in plain Python.

`AppNet` validates a request, records it on the resource as an operation (see
operations/runner.py) and either runs it here or hands it to a detached worker. It knows
nothing of az: the az layer's handlers (custom.py) get it as their `client` and turn
arguments into these calls, and _exception_handler.py maps the errors in errors.py to az's
error classes. The methods the az layer may call are declared in backend.py, which this
class implements. Everything it returns is a plain dict (shapes in model/documents.py).
"""

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import redact
from .constants import (
    AKS, AKS_CLUSTER_ID_PATTERN, CA_KEY_TYPES, DEFAULT_CA_KEY_TYPE, DEFAULT_GATEWAY_VISIBILITY,
    DEFAULT_IDENTITY_TYPE, KUBERNETES, MEMBER_KIND as MEMBER, NETWORK_KIND as NETWORK, VAULT_NAME_PATTERN)
from .errors import ConflictError, InvalidInputError, NotFoundError, UsageError
from .model import ids
from .model import resources as res
from .model.documents import (CaDescription, CredentialRotation, DeclarationProblem, DeclarationReport,
                              MemberCheckReport, NetworkCheckReport, ReconcileReport, ResourceDocument)
from .operations import catalog, runner
from .operations.services import Services, default_keys_dir
from .state import StaleWriteError, default_state_location, needs_credential, open_store

# What a resource shows of its operation record; the rest (pid, parameters, ...) is bookkeeping.
_OPERATION_VIEW = ("name", "status", "step", "completedSteps", "startedAt", "endedAt", "warnings")


def view(resource) -> Optional[ResourceDocument]:
    """The resource as commands print it."""
    if resource is None:
        return None
    out = {k: v for k, v in resource.items() if not k.startswith("_")}
    props = dict(out.get("properties", {}))
    if "operation" in props:
        props["operation"] = {k: v for k, v in props["operation"].items() if k in _OPERATION_VIEW}
    out["properties"] = props
    return out


# One method per command, and what they share of the invocation.
class AppNet:  # pylint: disable=too-many-public-methods,too-many-instance-attributes
    def __init__(self, config_dir: str, subscription: Optional[str] = None,
                 progress: Optional[Callable[[str], None]] = None, credential: Any = None,
                 arm_endpoint: Optional[str] = None, warn: Optional[Callable[[str], None]] = None,
                 clock: Optional[Callable[[], Any]] = None,
                 retry_sleep: Optional[Callable[[float], None]] = None):
        """`progress(message)` hears each step and what it waits for; `warn(message)` hears
        what the user should know although the operation goes on (without it, warnings go
        to `progress` with a "Warning:" prefix). Both are optional."""
        from . import settings
        settings.check_all()            # a bad APPNET_* setting stops the command before any work
        self.subscription = subscription or ids.LOCAL_SUBSCRIPTION
        self.config_dir = config_dir
        self.store_path = default_state_location(config_dir)  # a path, URL or env: marker
        self.keys_dir = default_keys_dir(config_dir)
        self.progress = progress
        self.warn = warn
        self.credential = credential
        self.arm_endpoint = arm_endpoint
        #: returns the current UTC time (aware datetime) for the CA and reconcile; None: the
        #: real clock. Tests move it to make certificates and upgrades due.
        self.clock = clock
        #: how cluster clients wait before retrying (Services.retry_sleep; None: time.sleep)
        self.retry_sleep = retry_sleep
        self._store = None
        redact.install_log_filter()     # every log line scrubbed, --debug included

    def services(self) -> Services:
        return Services(self.keys_dir, self.credential, self.arm_endpoint, clock=self.clock,
                        retry_sleep=self.retry_sleep)

    def _check_cluster_now(self, services, cluster, network_id, member_name):
        """Preflight before anything is recorded, reaching the cluster as the join will.
        Returns its facts (kube.preflight; the operation has no preflight step of its own)
        and the client that reached it, for the operation to go on with."""
        from .operations.member_ops import check_cluster
        if self.progress:
            self.progress("Checking the cluster")
        from .kube.concurrent import OPERATION_CONNECTIONS
        client = services.connect_cluster(cluster["type"], cluster, cluster.get("resourceId"), check_aks=True)
        client.preconnect(OPERATION_CONNECTIONS)    # while the check reads, for the join's rounds
        return check_cluster(client, network_id, member_name), client

    def _check_keys(self, network, member=None, sign=False):
        """The CA keys an operation will use, checked before it is recorded: a command that
        cannot run (lost key store, missing root or intermediate key) leaves the resource as
        it was instead of ending Failed (pki.NetworkPKI.preflight)."""
        self.services().pki(network).preflight(member, sign=sign)

    @property
    def store(self):
        if self._store is None:
            # Only a store named by URL signs in; the others need no credential looked up.
            credential = self.services().azure_credential() if needs_credential(self.store_path) else None
            self._store = open_store(self.store_path, credential=credential)
        return self._store

    # ---- running operations -------------------------------------------------------------

    def _begin(self, resource, existing, name, parameters, no_wait, parent_id=None, services=None, client=None,
               memo=None):
        """Record the operation and run it (or hand it to a worker). `services` and `client`:
        what a join's check reached the cluster with, which the operation run here goes on with;
        `memo`: what that check found, for its steps (runner.Context.memo; a worker has none)."""
        registered = catalog.lookup(resource, name)
        if existing is not None:
            runner.ensure_idle(existing)
        previous = (existing or {}).get("properties", {}).get("operation")
        resource["properties"]["operation"] = runner.new_operation(name, parameters, registered.running_state,
                                                                   previous)
        resource["properties"]["provisioningState"] = res.ACCEPTED
        resource["properties"].pop("error", None)
        res.touch(resource)
        try:
            if existing is None:
                saved = self.store.create(resource, registered.kind, parent_id)
            else:
                resource["_version"] = existing["_version"]
                saved = self.store.update(resource)
        except StaleWriteError:
            # Another command started an operation on it between our read and our write
            # (two pipelines, a double click): tell this one what runs, not "already exists".
            now = self.store.get(resource["id"])
            if now is not None:
                runner.ensure_idle(now)
            raise ConflictError(
                f"{resource['id']} was changed by another command while this one started.",
                "Run this command again.") from None
        op_id = saved["properties"]["operation"]["id"]
        if no_wait:
            log = os.path.join(self.config_dir, "appnet", "logs", f"{op_id}.log")
            # The worker has no az context: it reaches ARM and Key Vault with the Azure CLI's
            # login, in the cloud the az layer named.
            env = {"APPNET_ARM_ENDPOINT": self.arm_endpoint} if self.arm_endpoint else {}
            pid = runner.spawn_worker(self.store_path, self.keys_dir, saved["id"], op_id, log, env)
            runner.hand_over(self.store, saved["id"], op_id, pid)
            return None
        services = services or self.services()
        if client is not None:
            services.adopt(saved, client)
        return view(runner.run(self.store, saved["id"], op_id, registered.steps, services, self.progress,
                               warn=self.warn, memo=memo))

    # ---- waiting and operations left behind -------------------------------------------------

    @staticmethod
    def stalled(resource: Mapping[str, Any]) -> Optional[Tuple[str, str]]:
        """(why, resume command) when the resource's operation has no live runner left (a
        --no-wait worker that died), else None. `resource` as the store or `show` gives it."""
        from .operations.resume import resume_command, stalled
        why = stalled(resource)
        return (why, resume_command(resource)) if why else None

    def wait_network(self, resource_group: str, name: str, created: bool = False, updated: bool = False,
                     deleted: bool = False, exists: bool = False, custom: Optional[str] = None,
                     interval: float = 30, timeout: float = 3600,
                     tick: Optional[Callable[[Optional[str]], None]] = None) -> Optional[ResourceDocument]:
        """Poll the network until it is created/updated (Succeeded), deleted, exists, or
        matches the JMESPath query `custom`; `tick(provisioningState)` hears each poll that
        did not match. OperationFailedError when it ends Failed, its runner died, or at the
        timeout."""
        condition = _condition(created, updated, deleted, exists, custom)
        return self._wait(self.network_id(resource_group, name), condition, interval, timeout, tick)

    def wait_member(self, resource_group: str, network: str, member: str, created: bool = False,
                    updated: bool = False, deleted: bool = False, exists: bool = False,
                    custom: Optional[str] = None, interval: float = 30, timeout: float = 3600,
                    tick: Optional[Callable[[Optional[str]], None]] = None) -> Optional[ResourceDocument]:
        """As wait_network, for a member."""
        condition = _condition(created, updated, deleted, exists, custom)
        return self._wait(self.member_id(resource_group, network, member), condition, interval, timeout, tick)

    def _wait(self, rid, condition, interval, timeout, tick):
        from .operations.wait import wait_for
        last = {}

        def get():
            last["raw"] = self.store.get(rid)
            return view(last["raw"])
        return wait_for(get, condition, interval=interval, timeout=timeout, tick=tick,
                        stalled=lambda _shown: self.stalled(last["raw"]))

    # ---- Application Networks -------------------------------------------------------------

    def network_id(self, resource_group: str, name: str) -> str:
        ids.check_resource_group(resource_group)
        ids.check_name(name, "--appnet-name")
        return ids.network_id(self.subscription, resource_group, name)

    def _get(self, resource_id, what):
        resource = self.store.get(resource_id)
        if resource is None:
            raise NotFoundError(f"{what} was not found.",
                                "Check the names and the resource group; 'az appnet list' lists "
                                "Application Networks and 'az appnet member list' their members.")
        return resource

    def show_network(self, resource_group: str, name: str) -> ResourceDocument:
        rid = self.network_id(resource_group, name)
        return self._show(self._get(rid, f"Application Network '{name}' in resource group '{resource_group}'"))

    def _show(self, resource):
        """The resource's view; a warning first when its operation has no runner left, since
        the view alone says it is still in progress."""
        gone = self.stalled(resource)
        if gone and self.warn:
            self.warn(f"{gone[0]} Run this to resume it where it stopped: {gone[1]}")
        return view(resource)

    def list_networks(self, resource_group: Optional[str] = None) -> List[ResourceDocument]:
        if resource_group:
            ids.check_resource_group(resource_group)
        return [view(r) for r in self.store.list(NETWORK, self.subscription, resource_group)]

    def create_network(self, resource_group: str, name: str, location: str,
                       tags: Optional[Dict[str, str]] = None, identity_type: str = DEFAULT_IDENTITY_TYPE,
                       key_vault: Optional[str] = None, ca_key_type: str = DEFAULT_CA_KEY_TYPE, no_wait: bool = False,
                       maintenance_window: Optional[str] = None) -> Optional[ResourceDocument]:
        rid = self.network_id(resource_group, name)
        window = _maintenance_window(maintenance_window)
        location = ids.check_location(location)
        if ca_key_type not in CA_KEY_TYPES:
            raise InvalidInputError(f"Invalid --ca-key-type '{ca_key_type}'. Allowed values: "
                                    f"{', '.join(CA_KEY_TYPES)}.")
        key_vault = _check_key_vault(key_vault)
        existing = self.store.get(rid)
        if existing is None:
            resource = res.new_network(self.subscription, resource_group, name, location, tags,
                                       identity_type, key_vault, ca_key_type)
        else:
            # PUT semantics: the same command again converges; what cannot change is refused.
            resource = dict(existing)
            ca = existing["properties"]["certificateAuthority"]
            if existing["location"] != location:
                raise UsageError(f"Application Network '{name}' exists in location '{existing['location']}'; "
                                 "the location of a resource cannot change.",
                                 f"Run the command with --location {existing['location']}.")
            if (ca.get("keyVault") or None) != key_vault or ca.get("keyType") != ca_key_type:
                raise UsageError(f"Application Network '{name}' already has its root CA "
                                 f"({ca.get('keyType')}, key in {ca.get('keyVault') or 'the local key store'}); "
                                 "the CA key settings cannot change.",
                                 "Run the command again with the settings the network was created with.")
            resource["tags"] = dict(tags or {})
            resource["identity"] = {"type": identity_type}
            if ca.get("root"):
                self._check_keys(existing)      # never a new root because the key store is gone
        if maintenance_window is not None:
            _set_window(resource, window)
        return self._begin(resource, existing, "create", {}, no_wait)

    def update_network(self, resource_group: str, name: str, tags: Optional[Dict[str, str]] = None,
                       no_wait: bool = False, maintenance_window: Optional[str] = None) -> Optional[ResourceDocument]:
        rid = self.network_id(resource_group, name)
        window = _maintenance_window(maintenance_window)
        existing = self._get(rid, f"Application Network '{name}' in resource group '{resource_group}'")
        if maintenance_window is None and res.state_of(existing) == res.SUCCEEDED:
            # Tags change nothing a member depends on: written in place, the network stays
            # Succeeded, so joins and updates running at the same time are not refused.
            updated = self._update_tags(rid, existing, tags)
            return None if no_wait else view(updated)
        resource = dict(existing)
        if tags is not None:
            resource["tags"] = dict(tags)
        if maintenance_window is not None:
            resource["properties"] = dict(existing["properties"])
            _set_window(resource, window)
        return self._begin(resource, existing, "update", {}, no_wait)

    def _update_tags(self, rid, existing, tags):
        for _ in range(20):
            runner.ensure_idle(existing)
            resource = dict(existing)
            if tags is not None:
                resource["tags"] = dict(tags)
            res.touch(resource)
            try:
                return self.store.update(resource)
            except StaleWriteError:     # a member's operation wrote the network meanwhile
                existing = self._get(rid, f"Application Network '{resource['name']}'")
                if res.state_of(existing) != res.SUCCEEDED:
                    break
        raise ConflictError(f"{rid} kept changing while its tags were written.", "Run this command again.")

    def delete_network(self, resource_group: str, name: str, no_wait: bool = False) -> None:
        rid = self.network_id(resource_group, name)
        existing = self.store.get(rid)
        if existing is None:
            return None  # as ARM: deleting what is not there succeeds
        members = self.store.list(MEMBER, parent_id=rid)
        if members:
            names = ", ".join(m["name"] for m in members)
            raise UsageError(
                f"Application Network '{name}' still has members: {names}. A network can be "
                "deleted only after all its members are removed.",
                f"Remove them first: az appnet member remove -g {resource_group} --appnet-name {name} "
                "--member-name NAME")
        self._begin(dict(existing), existing, "delete", {}, no_wait)
        return None

    # ---- members --------------------------------------------------------------------------

    def member_id(self, resource_group: str, network: str, member: str) -> str:
        ids.check_name(member, "--member-name")
        return f"{self.network_id(resource_group, network)}/appLinkMembers/{member}"

    def show_member(self, resource_group: str, network: str, member: str) -> ResourceDocument:
        rid = self.member_id(resource_group, network, member)
        return self._show(self._get(rid, f"Member '{member}' of Application Network '{network}'"))

    def list_members(self, resource_group: str, network: str) -> List[ResourceDocument]:
        rid = self.network_id(resource_group, network)
        self._get(rid, f"Application Network '{network}' in resource group '{resource_group}'")
        return [view(m) for m in self.store.list(MEMBER, parent_id=rid)]

    # pylint: disable-next=too-many-locals  # its 17 parameters are most of them
    def join_member(self, resource_group: str, network: str, member: str, kubeconfig: Optional[str] = None,
                    context: Optional[str] = None, member_resource_id: Optional[str] = None,
                    cluster_type: Optional[str] = None, member_location: Optional[str] = None,
                    tags: Optional[Dict[str, str]] = None, upgrade_mode: Optional[str] = res.SELF_MANAGED,
                    release_channel: Optional[str] = None, version: Optional[str] = None,
                    east_west_gateway: Optional[str] = DEFAULT_GATEWAY_VISIBILITY, network_name: Optional[str] = None,
                    private_connect_subnet: Optional[str] = None, no_wait: bool = False,
                    api_server_url: Optional[str] = None) -> Optional[ResourceDocument]:
        rid = self.member_id(resource_group, network, member)
        _check_token_ttl()
        upgrade_mode = upgrade_mode or res.SELF_MANAGED
        if upgrade_mode == res.SELF_MANAGED and release_channel:
            raise UsageError('Cannot use --release-channel when using "--upgrade-mode SelfManaged"')
        if upgrade_mode == res.FULLY_MANAGED and version:
            raise UsageError('Cannot use --version when using "--upgrade-mode FullyManaged"')
        if version:
            from .versions import load_catalog
            load_catalog().get(version)
        network_topology = _check_network_name(network_name)
        from .operations.api_address import check_url
        api_server_url = check_url(api_server_url)
        cluster = _resolve_cluster(kubeconfig, context, member_resource_id, cluster_type)

        parent = self._get(self.network_id(resource_group, network),
                           f"Application Network '{network}' in resource group '{resource_group}'")
        if res.state_of(parent) != res.SUCCEEDED or parent["properties"].get("operation", {}).get("name") == "delete":
            raise ConflictError(
                f"Application Network '{network}' is {res.state_of(parent)}; members can join only "
                "a network whose provisioningState is Succeeded.",
                f"Wait for it ('az appnet wait -g {resource_group} -n {network} --updated') or run "
                f"'{_last_command(parent)}' again to finish it.")
        location = ids.check_location(member_location, "--member-location") if member_location else parent["location"]
        parameters = {"cluster": cluster, "version": version, "upgradeMode": upgrade_mode,
                      "releaseChannel": release_channel, "eastWestGateway": east_west_gateway,
                      "network": network_topology}
        if api_server_url:
            parameters["apiServerUrl"] = api_server_url
        existing = self.store.get(rid)
        if existing is not None:
            runner.ensure_idle(existing)
            done = existing["properties"].get("operation", {})
            if res.state_of(existing) == res.SUCCEEDED:
                if done.get("name") == "join" and done.get("parameters") == parameters:
                    return view(existing)  # already joined as asked: nothing to do
                raise UsageError(
                    f"Member '{member}' has already joined with other settings.",
                    "Change a joined member with 'az appnet member update', or remove it and join again.")
        # As the real service validates a join up front, a cluster that cannot join is refused
        # before anything is recorded; this is the join's one preflight, on every run of the
        # command (a resumed join is checked again here), so the operation has none.
        self._check_keys(parent, member)
        services = self.services()
        facts, client = self._check_cluster_now(services, cluster, parent["id"], member)
        resource = res.new_member(
            parent, member, location, cluster,
            res.upgrade_profile(upgrade_mode, version, release_channel),
            res.connectivity_profile(east_west_gateway or DEFAULT_GATEWAY_VISIBILITY, network_topology),
            tags)
        if api_server_url:
            resource["properties"]["connectivityProfile"]["apiServerUrl"] = api_server_url
        if private_connect_subnet:
            resource["properties"]["connectivityProfile"]["privateConnect"] = {
                "subnetResourceId": private_connect_subnet}
        if existing is not None:
            # A failed or interrupted join resumes: keep what its completed steps recorded.
            kept = {k: v for k, v in existing["properties"].items() if k not in resource["properties"]}
            resource["properties"].update(kept)
            resource["properties"]["cluster"] = dict(existing["properties"].get("cluster", {}),
                                                     **resource["properties"]["cluster"])
            resource["systemData"] = existing.get("systemData", resource["systemData"])
        from .operations.member_ops import checked_facts, checked_memo
        resource["properties"]["cluster"] = dict(resource["properties"]["cluster"], **checked_facts(facts))
        return self._begin(resource, existing, "join", parameters, no_wait, parent_id=parent["id"],
                           services=services, client=client, memo=checked_memo(facts))

    def update_member(self, resource_group: str, network: str, member: str, release_channel: Optional[str] = None,
                      version: Optional[str] = None, east_west_gateway: Optional[str] = None,
                      network_name: Optional[str] = None, tags: Optional[Dict[str, str]] = None,
                      no_wait: bool = False, accept_cluster_identity: bool = False,
                      api_server_url: Optional[str] = None) -> Optional[ResourceDocument]:
        rid = self.member_id(resource_group, network, member)
        existing = self._get(rid, f"Member '{member}' of Application Network '{network}'")
        runner.ensure_idle(existing)
        resource = dict(existing)
        props = resource["properties"] = dict(existing["properties"])
        mode = props["upgradeProfile"]["mode"]
        switch_hint = ("The upgrade mode of a member cannot be switched: remove the member and join it "
                       "again with the other --upgrade-mode.")
        parameters = {}
        if release_channel:
            if mode != res.FULLY_MANAGED:
                raise UsageError(f"Cannot use --release-channel: member '{member}' uses the SelfManaged "
                                 "upgrade mode.", switch_hint)
            props["upgradeProfile"] = res.upgrade_profile(mode, release_channel=release_channel)
            parameters["releaseChannel"] = release_channel
        if version:
            if mode != res.SELF_MANAGED:
                raise UsageError(f"Cannot use --version: member '{member}' uses the FullyManaged "
                                 "upgrade mode; its release channel picks the version.", switch_hint)
            from .versions import load_catalog
            installed = props.get("installedVersion")
            move = "upgrade"
            if installed:
                move = load_catalog().check_upgrade(installed, version, props.get("previousVersion"),
                                                    props.get("rollbacksUsed", 0))
            else:
                load_catalog().get(version)
            props["upgradeProfile"] = res.upgrade_profile(mode, version=version)
            parameters.update(version=version, rollback=move == "rollback")
        if east_west_gateway:
            props["connectivityProfile"] = dict(props["connectivityProfile"],
                                                eastWestGateway={"visibility": east_west_gateway})
            parameters["eastWestGateway"] = east_west_gateway
        if network_name:
            props["connectivityProfile"] = dict(props["connectivityProfile"],
                                                network=_check_network_name(network_name))
            parameters["network"] = network_name
        if api_server_url:
            # Re-applied and re-linked: the remote secrets on every peer get the new address.
            from .operations.api_address import check_url
            props["connectivityProfile"] = dict(props["connectivityProfile"],
                                                apiServerUrl=check_url(api_server_url))
            parameters["apiServerUrl"] = props["connectivityProfile"]["apiServerUrl"]
        if tags is not None:
            resource["tags"] = dict(tags)
        if accept_cluster_identity:   # re-pins the identity (operations/identity.py)
            parameters["acceptClusterIdentity"] = True
        # Nothing at all given: re-apply the data plane, links and declarations (drift repair).
        operation = "update" if parameters or tags is None else "updateTags"
        if operation == "update":
            _check_token_ttl()  # an update re-links the member
        if operation == "update" and "version" not in parameters and props.get("installedVersion"):
            # Re-apply the installed version with the new settings, not a silently newer one.
            parameters["version"] = props["installedVersion"] if mode == res.SELF_MANAGED else None
        if operation == "update":
            network_rid = self.network_id(resource_group, network)
            self._check_keys(self._get(network_rid, f"Application Network '{network}'"), member)
        return self._begin(resource, existing, operation, parameters, no_wait)

    def remove_member(self, resource_group: str, network: str, member: str, no_wait: bool = False,
                      rotate_root: bool = False) -> Optional[ResourceDocument]:
        """Remove the member: revoke its access and the others' to it, delete its data plane,
        revoke its intermediate CA on every other member. With `rotate_root` (a compromised
        member), a root CA rotation then starts, so nothing the removed member's CA could have
        issued stays trusted once it is finished; the removal itself runs to its end first."""
        rid = self.member_id(resource_group, network, member)
        existing = self.store.get(rid)
        if existing is None:
            return None
        if rotate_root:
            parent = self._get(self.network_id(resource_group, network),
                               f"Application Network '{network}' in resource group '{resource_group}'")
            runner.ensure_idle(parent)
            if not _resuming(parent, "rotateRoot"):
                _check_network_settled(parent, resource_group)
            self._check_members_settled(parent, resource_group, exclude=rid)
            self._begin(dict(existing), existing, "remove", {}, False)
            return self.rotate_root_ca(resource_group, network, no_wait=no_wait)
        self._begin(dict(existing), existing, "remove", {}, no_wait)
        return None

    def rotate_member_credentials(self, resource_group: str, network: str, member: str,
                                  no_wait: bool = False) -> Optional[ResourceDocument]:
        """New reader identities and tokens for every link of the member, both ways, the old
        ones deleted (operation `rotateCredentials`)."""
        _check_token_ttl()
        rid = self.member_id(resource_group, network, member)
        existing = self._get(rid, f"Member '{member}' of Application Network '{network}'")
        runner.ensure_idle(existing)
        if not _resuming(existing, "rotateCredentials"):
            _check_member_settled(existing, resource_group, network, "its credentials can be rotated")
        return self._begin(dict(existing), existing, "rotateCredentials", {}, no_wait)

    def rotate_due_credentials(self, resource_group: str, network: str, rotate_at: Optional[float] = None,
                               now: Any = None) -> CredentialRotation:
        """For the network-wide reconcile: rotate the credentials of the fewest members that
        renew every link past `rotate_at` of its token lifetime (default: half), or linked
        before tokens were recorded. Members not Succeeded are left out. Returns
        {"due": ["issuer->reader", ...], "rotated": [member, ...]}."""
        from .operations.mesh_links import ROTATE_AT, due_links, members_to_rotate
        self._get(self.network_id(resource_group, network),
                  f"Application Network '{network}' in resource group '{resource_group}'")
        members = [m for m in self.store.list(MEMBER, parent_id=self.network_id(resource_group, network))
                   if res.state_of(m) == res.SUCCEEDED and m["properties"].get("installedVersion")]
        due = due_links(members, now=now, rotate_at=ROTATE_AT if rotate_at is None else rotate_at)
        names = {m["name"].lower(): m["name"] for m in members}
        rotated = []
        for name in members_to_rotate(due):
            self.rotate_member_credentials(resource_group, network, names[name])
            rotated.append(names[name])
        return {"due": [f"{names[i]}->{names[r]}" for i, r in due], "rotated": rotated}

    # ---- certificate authority -------------------------------------------------------------

    def show_ca(self, resource_group: str, name: str) -> CaDescription:
        """Roots and intermediates of the network: validity, due dates, fingerprints, never a key."""
        network = self._get(self.network_id(resource_group, name),
                            f"Application Network '{name}' in resource group '{resource_group}'")
        described = self.services().pki(network).describe()
        if described.get("missingKeys"):
            import logging
            logging.getLogger("azext_appnet").warning(
                "The key store %s lacks the private keys %s: commands that sign with them will "
                "fail. Restore the key store from a backup, or rotate the CA they belong to.",
                described.get("keyDirectory", described["keyLocation"]), ", ".join(described["missingKeys"]))
        return dict(described, networkName=network["name"])

    def rotate_member_ca(self, resource_group: str, network: str, member: str,
                         no_wait: bool = False) -> Optional[ResourceDocument]:
        """A new intermediate CA for the member, pushed to its cluster (operation `rotateCa`)."""
        rid = self.member_id(resource_group, network, member)
        existing = self._get(rid, f"Member '{member}' of Application Network '{network}'")
        runner.ensure_idle(existing)
        runner.ensure_idle(self._get(self.network_id(resource_group, network),
                                     f"Application Network '{network}' in resource group '{resource_group}'"))
        resuming = _resuming(existing, "rotateCa")
        if not resuming:
            _check_member_settled(existing, resource_group, network)
        self._check_keys(self._get(self.network_id(resource_group, network),
                                   f"Application Network '{network}'"), member, sign=not resuming)
        return self._begin(dict(existing), existing, "rotateCa", {}, no_wait)

    def rotate_root_ca(self, resource_group: str, name: str, no_wait: bool = False) -> Optional[ResourceDocument]:
        """Start a root rotation (operation `rotateRoot`): new root, both roots trusted by
        every member, then every member on an intermediate signed by the new root."""
        network = self._get(self.network_id(resource_group, name),
                            f"Application Network '{name}' in resource group '{resource_group}'")
        runner.ensure_idle(network)
        if not _resuming(network, "rotateRoot"):
            _check_network_settled(network, resource_group)
        self._check_members_settled(network, resource_group)
        self._check_keys(network)       # a new root needs the manifest and the old root's certificate
        return self._begin(dict(network), network, "rotateRoot", {}, no_wait)

    def finish_root_rotation(self, resource_group: str, name: str,
                             no_wait: bool = False) -> Optional[ResourceDocument]:
        """End a root rotation (operation `finishRootRotation`): only the new root is trusted."""
        network = self._get(self.network_id(resource_group, name),
                            f"Application Network '{name}' in resource group '{resource_group}'")
        runner.ensure_idle(network)
        if not _resuming(network, "finishRootRotation"):
            _check_network_settled(network, resource_group)
            from .operations.ca_ops import stale_members
            pki = self.services().pki(network)
            if not pki.describe()["rootRotationInProgress"]:
                raise UsageError(f"No root CA rotation is in progress on Application Network '{name}'.",
                                 f"Start one with 'az appnet ca rotate -g {resource_group} -n {name}'.")
            stale = stale_members(pki)
            if stale:
                raise ConflictError(
                    f"The intermediate CA of {', '.join(stale)} is still signed by the old root CA; "
                    "finishing the rotation now would leave those members untrusted.",
                    f"Run 'az appnet ca rotate -g {resource_group} -n {name}' again to re-issue them, "
                    "then finish the rotation.")
        self._check_members_settled(network, resource_group)
        return self._begin(dict(network), network, "finishRootRotation", {}, no_wait)

    def _check_members_settled(self, network, resource_group, exclude=None):
        """Every member cluster takes every step of a root rotation: none may be busy or half-done."""
        unsettled = []
        for member in self.store.list(MEMBER, parent_id=network["id"]):
            if exclude and ids.key(member["id"]) == ids.key(exclude):
                continue
            runner.ensure_idle(member)
            if res.state_of(member) != res.SUCCEEDED or not member["properties"].get("installedVersion"):
                last = (member["properties"].get("operation") or {}).get("name")
                unsettled.append(f"{member['name']} ({res.state_of(member)} after '{last}')")
        if unsettled:
            raise ConflictError(
                f"Cannot rotate the root CA of Application Network '{network['name']}': members "
                f"{', '.join(unsettled)} are not Succeeded, and every member must take each step of "
                "a root rotation.",
                "Run the last command of each of those members again (it resumes), or remove them "
                f"('az appnet member remove -g {resource_group} --appnet-name {network['name']} "
                "--member-name NAME'), then run this command again.")

    # ---- versions -------------------------------------------------------------------------

    @staticmethod
    def list_versions(location: str, kubernetes_version: Optional[str] = None) -> List[Dict[str, Any]]:
        from .versions import load_catalog
        ids.check_location(location)
        return load_catalog().available_versions(kubernetes_version)

    # ---- diagnostics (read-only) ------------------------------------------------------------

    def _check_targets(self, network, members):
        """What the diagnostics need from state and key store: public CA facts, never a key."""
        from .errors import AppNetError
        from .operations.diagnostics import Target
        ca, bundle, ca_error = None, None, None
        try:
            pki = self.services().pki(network)
            ca, bundle = pki.describe(), pki.root_pem()
        except AppNetError as ex:
            ca_error = ex.message
        everyone = self.store.list(MEMBER, parent_id=network["id"])
        targets = [Target(network, m, ca, bundle, [o for o in everyone if o["id"] != m["id"]], ca_error)
                   for m in members]
        return targets, ca, ca_error

    def check_member(self, resource_group: str, network: str, member: str) -> MemberCheckReport:
        """Live checks of one member's cluster: a report of checks, each Passed/Failed/Warning."""
        from .operations import diagnostics
        rid = self.member_id(resource_group, network, member)
        record = self._get(rid, f"Member '{member}' of Application Network '{network}'")
        parent = self._get(self.network_id(resource_group, network),
                           f"Application Network '{network}' in resource group '{resource_group}'")
        (target,), _, _ = self._check_targets(parent, [record])
        report, _ = diagnostics.check_member(target, self.services().connect)
        return report

    def check_network(self, resource_group: str, name: str) -> NetworkCheckReport:
        """The member checks of every member (in parallel) plus the checks across members."""
        from .operations import diagnostics
        network = self._get(self.network_id(resource_group, name),
                            f"Application Network '{name}' in resource group '{resource_group}'")
        members = sorted(self.store.list(MEMBER, parent_id=network["id"]), key=lambda m: m["name"].lower())
        targets, ca, ca_error = self._check_targets(network, members)
        return diagnostics.check_network(network, targets, self.services().connect, ca, ca_error)

    # ---- reconcile (operations/reconcile.py) ------------------------------------------------

    def reconcile(self, resource_group: str, name: str, dry_run: bool = False, members: Optional[List[str]] = None,
                  ignore_maintenance_window: bool = False, now: Any = None) -> ReconcileReport:
        """Plan, and unless `dry_run` carry out, what the network needs now: CA rotations,
        upgrades and patches (in the maintenance window), drift repair, links, declarations.
        A report: {"actions": [{member, action, reason, status, error?}], ...}."""
        from .operations import reconcile
        network = self._get(self.network_id(resource_group, name),
                            f"Application Network '{name}' in resource group '{resource_group}'")
        return reconcile.run(self, network, resource_group, members, dry_run, ignore_maintenance_window, now)

    def reconcile_member_operation(self, resource_group: str, network: str, member: str, operation: str,
                                   version: Optional[str] = None) -> Optional[ResourceDocument]:
        """Start (or resume, when the last one of that name did not finish) a member's `update`
        (at `version`, default the installed one), `relink` or `reapplyDeclarations`."""
        rid = self.member_id(resource_group, network, member)
        existing = self._get(rid, f"Member '{member}' of Application Network '{network}'")
        runner.ensure_idle(existing)
        if operation == "rotateCa":
            return self.rotate_member_ca(resource_group, network, member)
        if operation == "rotateCredentials":
            return self.rotate_member_credentials(resource_group, network, member)
        _check_token_ttl()      # each of these links the member
        props = existing["properties"]
        last = props.get("operation") or {}
        if operation == "update":
            if last.get("name") == "update" and last.get("status") != res.SUCCEEDED and version is None:
                parameters = dict(last.get("parameters") or {})   # the same parameters: it resumes
            else:
                parameters = {"version": version or props.get("installedVersion")}
        else:
            parameters = {}
        resource = dict(existing)
        if operation == "update" and parameters.get("version") and \
                props["upgradeProfile"]["mode"] == res.SELF_MANAGED:
            resource["properties"] = dict(props, upgradeProfile=res.upgrade_profile(
                res.SELF_MANAGED, version=parameters["version"]))
        return self._begin(resource, existing, operation, parameters, False)

    # ---- network-wide declarations (operations/declarations.py) -----------------------------
    # Ambient namespaces, global Services and waypoints, recorded on the network and applied to
    # every member; each mutating call returns a report per member. `problems`, when given, gets
    # the members that did not converge (unreachable, or an object that could not be applied).

    def _declarations(self, resource_group, name):
        from .operations.declarations import Declarations
        return Declarations(self.store, self.network_id(resource_group, name), self.services(),
                            resource_group, self.progress)

    def enable_namespace(self, resource_group: str, name: str, namespace: str,
                         problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        return _reported(self._declarations(resource_group, name).enable_namespace(namespace), problems)

    def disable_namespace(self, resource_group: str, name: str, namespace: str,
                          problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        return _reported(self._declarations(resource_group, name).disable_namespace(namespace), problems)

    def list_namespaces(self, resource_group: str, name: str,
                        problems: Optional[List[DeclarationProblem]] = None) -> List[Dict[str, Any]]:
        return self._declarations(resource_group, name).list_namespaces(problems)

    def add_global_service(self, resource_group: str, name: str, namespace: str, service: str,
                           problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        return _reported(self._declarations(resource_group, name).add_global_service(namespace, service), problems)

    def remove_global_service(self, resource_group: str, name: str, namespace: str, service: str,
                              problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        return _reported(self._declarations(resource_group, name).remove_global_service(namespace, service),
                         problems)

    def list_global_services(self, resource_group: str, name: str, namespace: Optional[str] = None,
                             problems: Optional[List[DeclarationProblem]] = None) -> List[Dict[str, Any]]:
        return self._declarations(resource_group, name).list_global_services(namespace, problems)

    def create_waypoint(self, resource_group: str, name: str, namespace: str, waypoint: str = "waypoint",
                        problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        return _reported(self._declarations(resource_group, name).create_waypoint(namespace, waypoint), problems)

    def delete_waypoint(self, resource_group: str, name: str, namespace: str, waypoint: str = "waypoint",
                        problems: Optional[List[DeclarationProblem]] = None) -> DeclarationReport:
        return _reported(self._declarations(resource_group, name).delete_waypoint(namespace, waypoint), problems)

    def list_waypoints(self, resource_group: str, name: str,
                       problems: Optional[List[DeclarationProblem]] = None) -> List[Dict[str, Any]]:
        return self._declarations(resource_group, name).list_waypoints(problems)


def _reported(report, problems):
    """The report; its members that did not converge appended to `problems` when given."""
    if problems is not None:
        from .operations.declarations import not_converged
        problems.extend(not_converged(report))
    return report


_COMMAND_OF = {"create": "az appnet create", "update": "az appnet update", "delete": "az appnet delete",
               "rotateRoot": "az appnet ca rotate", "finishRootRotation": "az appnet ca finish-rotation",
               "join": "az appnet member join", "updateTags": "az appnet member update",
               "remove": "az appnet member remove", "rotateCa": "az appnet member rotate-ca",
               "rotateCredentials": "az appnet member rotate-credentials",
               "relink": "az appnet reconcile", "reapplyDeclarations": "az appnet reconcile"}


def _condition(created, updated, deleted, exists, custom):
    """What a wait waits for; an invalid --custom query is an InvalidInputError before the first poll."""
    from .operations.wait import Condition
    if not any([created, updated, deleted, exists, custom]):
        raise InvalidInputError(
            "Name what to wait for: --created | --updated | --deleted | --exists | --custom JMESPATH")
    return Condition(created=created, updated=updated, deleted=deleted, exists=exists, custom=custom)


def _resuming(resource, operation_name):
    """Whether `operation_name` is the resource's last operation and did not succeed (a re-run resumes it)."""
    op = resource["properties"].get("operation") or {}
    return op.get("name") == operation_name and op.get("status") != res.SUCCEEDED


def _last_command(resource):
    name = (resource["properties"].get("operation") or {}).get("name")
    if resource["type"] == ids.MEMBER_TYPE and name == "update":
        return "az appnet member update"
    return _COMMAND_OF.get(name, name)


def _check_network_settled(network, resource_group):
    if res.state_of(network) != res.SUCCEEDED:
        raise ConflictError(
            f"Application Network '{network['name']}' is {res.state_of(network)} after "
            f"'{_last_command(network)}'; its CA can change only when it is Succeeded.",
            f"Run '{_last_command(network)} -g {resource_group} -n {network['name']}' again "
            "to finish it (it resumes), then run this command again.")


def _check_member_settled(member, resource_group, network, what="its CA can be rotated"):
    if res.state_of(member) != res.SUCCEEDED or not member["properties"].get("installedVersion"):
        raise ConflictError(
            f"Member '{member['name']}' is {res.state_of(member)} after '{_last_command(member)}'; "
            f"{what} only when the member has joined and is Succeeded.",
            f"Run '{_last_command(member)} -g {resource_group} --appnet-name {network} --member-name "
            f"{member['name']} ...' again to finish it (it resumes), then run this command again.")


def _check_token_ttl():
    """APPNET_LINK_TOKEN_TTL is read when links are made; a bad value fails before anything starts."""
    from .operations.mesh_links import token_ttl
    token_ttl()


def _maintenance_window(value):
    from .operations.maintenance import parse
    return parse(value) if value is not None else None


def _set_window(resource, window):
    if window:
        resource["properties"]["maintenanceWindow"] = window
    else:
        resource["properties"].pop("maintenanceWindow", None)


def _check_key_vault(value):
    import re
    if not value:
        return None
    if re.match(r"^https://[a-zA-Z0-9.-]+(:\d+)?/?$", value):
        return value.rstrip("/")
    if re.match(VAULT_NAME_PATTERN, value) and "--" not in value:
        return value
    raise InvalidInputError(
        f"Invalid --key-vault '{value}': give a vault name (3-24 letters, digits and hyphens) "
        "or its URL (https://NAME.vault.azure.net).")


def _check_network_name(value):
    import re
    if value is None:
        return None
    if not re.match(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$", value):
        raise InvalidInputError(
            f"Invalid --network-name '{value}': it becomes the Kubernetes label "
            "topology.istio.io/network, so it must be 1-63 lower-case letters, digits, '-' or '.', "
            "starting and ending with a letter or digit.")
    return value


def _resolve_cluster(kubeconfig, context, member_resource_id, cluster_type):
    """Which cluster to join, as recorded on the member (a path and a context, never a credential)."""
    if cluster_type == KUBERNETES and member_resource_id:
        raise UsageError("--member-resource-id names an AKS cluster; it cannot be used with "
                         "--cluster-type Kubernetes.",
                         "Drop --member-resource-id, or use --cluster-type AKS.")
    if not kubeconfig and not member_resource_id:
        raise InvalidInputError(
            "No cluster to join was given.",
            "Pass --kubeconfig FILE [--context NAME] for any cluster, or --member-resource-id "
            "with the resource id of an AKS cluster.", code="RequiredArgumentMissing")
    cluster = {"type": cluster_type or (AKS if member_resource_id else KUBERNETES)}
    if member_resource_id:
        import re
        if not re.match(AKS_CLUSTER_ID_PATTERN, member_resource_id, re.I):
            raise InvalidInputError(
                f"Invalid --member-resource-id '{member_resource_id}'.",
                "Give the id of an AKS cluster: /subscriptions/SUB/resourceGroups/RG/providers/"
                "Microsoft.ContainerService/managedClusters/NAME ('az aks show --query id').")
        cluster["resourceId"] = member_resource_id
    if kubeconfig:
        from .kube.config import resolve
        paths, context = resolve(kubeconfig, context)
        cluster.update(kubeconfig=os.path.abspath(paths[0]), context=context)
    return cluster
