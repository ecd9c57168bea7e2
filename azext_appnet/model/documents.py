"""The shapes of the documents the engine hands out, for readers and type checkers.

They describe plain dicts, as the store keeps them and the commands print them (JSON), so
they are TypedDicts, not classes: nothing is converted on the way out. Every key is
optional (`total=False`) because a document grows as its operations run: a member has no
`installedVersion` before its join finishes, a resource has `error` only while Failed.
Keys named like the ARM API of Microsoft.AppLink mean what they mean there
(model/resources.py says what this tool adds beside them).
"""

from typing import Any, Dict, List, Optional, Tuple, TypedDict


class ErrorDocument(TypedDict, total=False):
    """Why the last operation failed (errors.AppNetError.to_error)."""
    code: str
    message: str
    recommendation: str


class OperationDocument(TypedDict, total=False):
    """A resource's long-running operation, in progress or last run (operations/runner.py).
    `show` prints name, status, step, completedSteps, startedAt, endedAt and warnings; the
    rest is the runner's bookkeeping (who runs it, with which parameters)."""
    id: str
    name: str               # join, update, remove, rotateCa, create, delete, rotateRoot, ...
    status: str             # InProgress, Succeeded, Failed, Canceled
    step: Optional[str]
    runningState: str       # the provisioningState while it runs
    completedSteps: List[str]
    parameters: Dict[str, Any]
    startedAt: str
    endedAt: str
    warnings: List[str]
    host: str
    pid: int
    runner: Dict[str, Any]
    heartbeat: float


class ResourceProperties(TypedDict, total=False):
    provisioningState: str  # Accepted, Provisioning, Updating, Deleting, Succeeded, Failed, Canceled
    operation: OperationDocument
    error: ErrorDocument
    # appLink (an Application Network)
    certificateAuthority: Dict[str, Any]
    maintenanceWindow: Dict[str, Any]
    declarations: Dict[str, List[Dict[str, Any]]]
    # appLinkMember (a member cluster)
    clusterType: str        # AKS, Kubernetes
    metadata: Dict[str, Any]
    upgradeProfile: Dict[str, Any]
    connectivityProfile: Dict[str, Any]
    cluster: Dict[str, Any]  # how the cluster is reached and what preflight found; no credential
    installedVersion: str
    previousVersion: str
    rollbacksUsed: int


class ResourceDocument(TypedDict, total=False):
    """An Application Network (type Microsoft.AppLink/appLinks) or one of its members
    (Microsoft.AppLink/appLinks/appLinkMembers), as `show` and `list` print it."""
    id: str
    name: str
    type: str
    location: str
    resourceGroup: str
    tags: Dict[str, str]
    identity: Dict[str, Any]
    systemData: Dict[str, str]
    properties: ResourceProperties


class CheckResult(TypedDict, total=False):
    """One live check (operations/diagnostics.py)."""
    name: str
    status: str             # Passed, Failed, Warning
    message: str
    recommendation: Optional[str]


class CheckSummary(TypedDict, total=False):
    passed: int
    failed: int
    warnings: int
    members: int            # network reports only
    membersFailed: int


class MemberCheckReport(TypedDict, total=False):
    """`az appnet member check`: every check of one member's cluster."""
    member: str
    cluster: Dict[str, Any]
    installedVersion: Optional[str]
    checks: List[CheckResult]
    summary: CheckSummary


class NetworkCheckReport(TypedDict, total=False):
    """`az appnet check`: each member's report plus the checks across members."""
    network: str
    resourceGroup: str
    members: List[MemberCheckReport]
    checks: List[CheckResult]
    summary: CheckSummary


class MemberDeclarationResult(TypedDict, total=False):
    """What one declaration command did on one member (operations/declarations.py)."""
    member: str
    result: str             # Created, Labelled, Updated, Unchanged, ..., Failed, Unreachable, Skipped
    message: str
    changes: List[Dict[str, Any]]


#: A member a declaration command did not converge: (member, result, message).
DeclarationProblem = Tuple[str, str, str]


class DeclarationReport(TypedDict, total=False):
    """A declaration command's report: the item it names, whether the network's record
    changed, and every member's result."""
    namespace: str
    service: str
    name: str
    ports: List[Any]
    declared: bool
    changed: bool
    members: List[MemberDeclarationResult]


class ReconcileAction(TypedDict, total=False):
    member: Optional[str]
    action: str
    reason: str
    status: str             # Planned, Done, Failed, Deferred
    error: str
    recommendation: str


class ReconcileReport(TypedDict, total=False):
    """`az appnet reconcile` (operations/reconcile.py)."""
    networkName: str
    dryRun: bool
    time: str
    maintenanceWindow: Optional[str]
    maintenanceWindowOpen: bool
    converged: bool
    actions: List[ReconcileAction]


class CaDescription(TypedDict, total=False):
    """`az appnet ca show`: public facts of the network's CAs, never a key (pki.NetworkPKI.describe)."""
    networkId: str
    networkName: str
    keyLocation: str        # local, keyvault
    vaultUrl: str
    keyDirectory: str
    missingKeys: List[str]
    rootRotationInProgress: bool
    roots: List[Dict[str, Any]]
    intermediates: List[Dict[str, Any]]
    revokedIntermediates: List[Dict[str, Any]]


class CredentialRotation(TypedDict):
    """What `rotate_due_credentials` found due ("issuer->reader") and whom it rotated."""
    due: List[str]
    rotated: List[str]
