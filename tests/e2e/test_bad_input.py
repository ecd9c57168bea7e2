"""Bad input through the real az: each case exits non-zero with an az error message that
says what was wrong, prints no traceback, and leaves the state store unchanged."""

import sqlite3

import pytest

from tests.e2e.conftest import Az
from tests.fixtures import gateway_api
from tests.kubesim import KubeSim

pytestmark = pytest.mark.e2e

AKS_ID = ("/subscriptions/bc7e0da9-5e4c-4a91-9252-9658837006cf/resourceGroups/test-rg/providers/"
          "Microsoft.ContainerService/managedClusters/test-member1")
NET = ["-g", "rg1", "--appnet-name", "net-01"]


@pytest.fixture(scope="module")
def world(az_extension_dir, tmp_path_factory):
    """One network with one joined member, and clusters that cannot join for various reasons."""
    tmp = tmp_path_factory.mktemp("bad-input")
    # No Azure login here; ARM is pointed at a closed loopback port so nothing leaves the machine.
    az = Az(az_extension_dir, tmp / "azure", extra_env={"APPNET_ARM_ENDPOINT": "https://127.0.0.1:9"})
    sims = {}
    for name, kwargs, gateway in [("good", {}, True), ("spare", {}, True), ("old", {"version": "1.29"}, True),
                                  ("older", {"version": "1.30"}, True),
                                  ("windows", {"nodes": [{"os": "windows"}]}, True),
                                  ("nogateway", {}, False), ("gone", {}, True)]:
        sim = KubeSim(name=name, **kwargs).start()
        if gateway:
            gateway_api.install(sim)
        sim.write_kubeconfig(str(tmp / "kubeconfig"))
        sims[name] = sim
    sims["gone"].stop()
    garbage = tmp / "garbage.yaml"
    garbage.write_text("{{{ this is : not [ yaml")
    az("appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2")
    az("appnet", "member", "join", *NET, "--member-name", "member-01", "--kubeconfig", tmp / "kubeconfig",
       "--context", "good", "--version", "1.4")
    yield {"az": az, "kubeconfig": str(tmp / "kubeconfig"), "garbage": str(garbage)}
    for sim in sims.values():
        sim.stop()


def _dump(az):
    with sqlite3.connect(az.state_path) as db:
        return sorted(db.execute("SELECT key, version, body FROM resources").fetchall())


def join(*extra, context="spare", kubeconfig=True):
    def args(w):
        base = ["appnet", "member", "join", *NET, "--member-name", "member-02"]
        if kubeconfig:
            base += ["--kubeconfig", w["kubeconfig"], "--context", context]
        return base + [a.format(**w) for a in extra]
    return args


CASES = [
    # (id, args (list or function of the world), text the error must contain)
    ("name-too-short", ["appnet", "create", "-g", "rg1", "-n", "ab", "-l", "westus2"], "3 to 24 characters"),
    ("name-underscore", ["appnet", "create", "-g", "rg1", "-n", "bad_name", "-l", "westus2"], "3 to 24 characters"),
    ("name-too-long", ["appnet", "create", "-g", "rg1", "-n", "a" * 25, "-l", "westus2"], "3 to 24 characters"),
    ("no-location", ["appnet", "create", "-g", "rg1", "-n", "net-02"], "--location"),
    ("bad-location", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "west/us"], "Invalid --location"),
    ("not-a-region", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "mars"],
     "Invalid --location 'mars': it is not an Azure region"),
    ("region-with-garbage", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "west us 2!!"],
     "it is not an Azure region"),
    ("versions-not-a-region", ["appnet", "list-versions", "-l", "atlantis"], "westus2"),
    ("member-location-not-a-region", join("--member-location", "moon"), "Invalid --member-location 'moon'"),
    ("resource-group-ends-in-dot", ["appnet", "create", "-g", "rg1.", "-n", "net-02", "-l", "westus2"],
     "not ending in a period"),
    ("resource-group-too-long", ["appnet", "create", "-g", "r" * 91, "-n", "net-02", "-l", "westus2"],
     "1 to 90"),
    ("kubeconfig-and-aks-id", join("--member-resource-id", AKS_ID),
     "--kubeconfig and --member-resource-id both name the cluster"),
    ("context-without-kubeconfig", join(kubeconfig=False, *["--context", "good"]), "Add --kubeconfig"),
    ("empty-version", ["appnet", "member", "update", *NET, "--member-name", "member-01", "--version", ""],
     "--version is empty"),
    ("bad-resource-group", ["appnet", "create", "-g", "bad/rg", "-n", "net-02", "-l", "westus2"],
     "Invalid resource group name"),
    ("bad-identity-type", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "westus2", "--identity-type", "Both"],
     "is not a valid value"),
    ("bad-ca-key-type", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "westus2", "--ca-key-type", "dsa"],
     "is not a valid value"),
    ("bad-key-vault", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "westus2", "--key-vault", "http://kv"],
     "Invalid --key-vault"),
    ("bad-tags", ["appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "westus2", "--tags", "{a:b"], "--tags"),
    ("location-change", ["appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "eastus"], "location of a resource cannot change"),
    ("key-settings-change", ["appnet", "create", "-g", "rg1", "-n", "net-01", "-l", "westus2", "--ca-key-type", "rsa-2048"],
     "CA key settings cannot change"),
    ("ids-not-ours", ["appnet", "show", "--ids", "/subscriptions/x/resourceGroups/rg1/providers/Microsoft.Web/sites/net-01"],
     "not found"),
    ("update-missing", ["appnet", "update", "-g", "rg1", "-n", "net-09", "--tags", "a=b"], "was not found"),
    ("delete-with-members", ["appnet", "delete", "-g", "rg1", "-n", "net-01", "--yes"], "still has members: member-01"),
    ("release-channel-self-managed", join("--upgrade-mode", "SelfManaged", "--release-channel", "Rapid"),
     'Cannot use --release-channel when using "--upgrade-mode SelfManaged"'),
    ("release-channel-default-mode", join("--release-channel", "Stable"),
     'Cannot use --release-channel when using "--upgrade-mode SelfManaged"'),
    ("version-fully-managed", join("--upgrade-mode", "FullyManaged", "--version", "1.5"),
     'Cannot use --version when using "--upgrade-mode FullyManaged"'),
    ("unknown-version", join("--version", "9.9"), "AppNet version '9.9' is not available"),
    ("malformed-version", join("--version", "latest"), "MAJOR.MINOR"),
    ("bad-upgrade-mode", join("--upgrade-mode", "Sometimes"), "is not a valid value"),
    ("bad-gateway-visibility", join("--east-west-gateway", "Public"), "is not a valid value"),
    ("no-cluster", join(kubeconfig=False), "No cluster to join"),
    ("missing-kubeconfig", join(kubeconfig=False, *["--kubeconfig", "/no/such/kubeconfig"]), "does not exist"),
    ("unknown-context", join(context="nope"), "no context named 'nope'"),
    ("garbage-kubeconfig", join(kubeconfig=False, *["--kubeconfig", "{garbage}"]), "is not valid YAML"),
    ("bad-aks-id", join(kubeconfig=False, *["--member-resource-id", "/subscriptions/x/clusters/y"]),
     "Invalid --member-resource-id"),
    ("aks-without-login", join(kubeconfig=False, *["--member-resource-id", AKS_ID]), "az login"),
    ("kubernetes-type-with-aks-id",
     join(kubeconfig=False, *["--cluster-type", "Kubernetes", "--member-resource-id", AKS_ID]),
     "cannot be used with --cluster-type Kubernetes"),
    ("bad-network-name", join("--network-name", "Bad_Net"), "Invalid --network-name"),
    ("missing-network", lambda w: ["appnet", "member", "join", "-g", "rg1", "--appnet-name", "net-09",
                                   "--member-name", "member-02", "--kubeconfig", w["kubeconfig"], "--context", "spare"],
     "Application Network 'net-09' in resource group 'rg1' was not found"),
    ("unreachable-cluster", join(context="gone"), "cannot reach"),
    ("windows-only-cluster", join(context="windows"), "only Windows nodes"),
    ("too-old-kubernetes", join(context="old"), "older than 1.31"),
    ("kubernetes-1.30", join(context="older"), "Kubernetes 1.30 is older than 1.31, the oldest version any"),
    ("no-gateway-api", join(context="nogateway"), "Gateway API"),
    ("other-settings-rejoin", lambda w: ["appnet", "member", "join", *NET, "--member-name", "member-01",
                                         "--kubeconfig", w["kubeconfig"], "--context", "good", "--version", "1.5"],
     "already joined with other settings"),
    ("skip-a-minor", ["appnet", "member", "update", *NET, "--member-name", "member-01", "--version", "1.6"],
     "one minor version at a time"),
    ("switch-upgrade-mode", ["appnet", "member", "update", *NET, "--member-name", "member-01", "--release-channel", "Rapid"],
     "cannot be switched"),
    ("update-missing-member", ["appnet", "member", "update", *NET, "--member-name", "member-09", "--tags", "a=b"],
     "was not found"),
    ("remove-bad-name", ["appnet", "member", "remove", *NET, "--member-name", "m!", "--yes"], "3 to 24 characters"),
    ("versions-bad-kubernetes", ["appnet", "list-versions", "-l", "westus2", "--kubernetes-version", "abc"], "MAJOR.MINOR"),
    ("wait-without-condition", ["appnet", "wait", "-g", "rg1", "-n", "net-01"], "--created"),
    ("max-items-zero", ["appnet", "list", "--max-items", "0"], "--max-items"),
    ("bad-next-token", ["appnet", "list", "--max-items", "1", "--next-token", "garbage"], "Invalid --next-token"),
]


@pytest.mark.parametrize("case_id, args, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input(world, case_id, args, expected):
    az = world["az"]
    before = _dump(az)
    argv = args(world) if callable(args) else args
    result = az(*argv, rc=None)
    assert result.rc != 0, result
    assert expected.lower() in result.err.lower(), result
    assert result.err.lstrip().splitlines()[-1].strip(), result
    assert any(line.startswith(("ERROR:", "usage:", "az: error", "az appnet")) or "error" in line.lower()
               for line in result.err.splitlines()), result
    assert _dump(az) == before, f"{case_id} changed the state store"


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_a_display_name_is_a_location_and_needs_no_login(az):
    # az's own location type would list the subscription's locations (a login) to map it.
    created = az("appnet", "create", "-g", "rg1", "-n", "net-02", "-l", "West US 2").json
    assert created["location"] == "westus2"
    assert az("appnet", "show", "-g", "rg1", "-n", "net-02", "--query", "location", "-o", "tsv").out.strip() == "westus2"


def test_corrupted_state_file(az):
    az.state_path.parent.mkdir(parents=True)
    az.state_path.write_bytes(b"\x00garbage, not sqlite" * 64)
    before = az.state_path.read_bytes()
    result = az("appnet", "list", rc=1)
    assert "not a readable appnet state store" in result.err
    assert "APPNET_STATE_PATH" in result.err
    assert az.state_path.read_bytes() == before
