"""Per-link reader credentials, against emulated clusters with RBAC and token checks.

Every remote secret carries a token of an identity issued for that link alone, from the
TokenRequest API. What a stolen token can do is asked of the API server that issued it,
with the token copied out of the remote secret, the way an attacker holding it would.
"""

import base64
import datetime
import json
import os
import ssl
import subprocess
import time

import pytest
import urllib3
import yaml

from azext_appnet.errors import InvalidInputError
from azext_appnet.operations import mesh_links
from tests.fixtures import requires
from tests.integration.conftest import join

NS = "applink-system"


def _remote_secrets(sim):
    return {s["metadata"]["name"]: s for s in sim.list_objects("v1", "secrets", NS, label_selector="istio/multiCluster=true")}


def _credential(holder, of_member):
    """(server, ca pem, token) of the remote secret `holder` holds for `of_member`."""
    secret = _remote_secrets(holder)[f"istio-remote-secret-{of_member}"]
    (value,) = secret["data"].values()
    config = yaml.safe_load(base64.b64decode(value))
    cluster = config["clusters"][0]["cluster"]
    return (cluster["server"], base64.b64decode(cluster["certificate-authority-data"]).decode(),
            config["users"][0]["user"]["token"])


def _status(credential, path):
    """The HTTP status the issuing API server answers a GET of `path` with this token."""
    server, ca, token = credential
    context = ssl.create_default_context(cadata=ca)
    http = urllib3.PoolManager(ssl_context=context, retries=False)
    return http.request("GET", server + path, headers={"Authorization": f"Bearer {token}"}, timeout=10).status


def _readers(sim):
    return sorted(sa["metadata"]["name"] for sa in sim.list_objects("v1", "serviceaccounts", NS)
                  if sa["metadata"]["name"].startswith("appnet-reader-"))


def _join_all(engine, sims, names, **kwargs):
    for sim, name in zip(sims, names):
        join(engine, sim, name, **kwargs)


def test_each_link_has_its_own_short_lived_identity(engine, network, clusters):
    east, west, north = clusters(3)
    _join_all(engine, (east, west, north), ("east", "west", "north"))
    # One reader identity per member that reads this one, none shared, no legacy token Secret.
    assert [n.rsplit("-", 1)[0] for n in _readers(east)] == ["appnet-reader-north", "appnet-reader-west"]
    assert not [s for s in east.list_objects("v1", "secrets", NS)
                if s.get("type") == "kubernetes.io/service-account-token"]
    west_token, north_token = _credential(west, "east")[2], _credential(north, "east")[2]
    assert west_token != north_token
    claims = json.loads(base64.urlsafe_b64decode(west_token.split(".")[1] + "=="))
    assert claims["sub"].startswith("system:serviceaccount:applink-system:appnet-reader-west-")
    lifetime = claims["exp"] - claims["iat"]
    assert lifetime == mesh_links.DEFAULT_TOKEN_TTL  # 7 days, not forever
    # The expiry is recorded in state, never the token.
    record = engine.show_member("rg1", "net-01", "north")
    links = {(r["issuer"], r["reader"]): r for r in record["properties"]["readerLinks"]}
    assert set(links) == {("north", "east"), ("east", "north"), ("north", "west"), ("west", "north")}
    assert links[("east", "north")]["expiresOn"] == datetime.datetime.fromtimestamp(
        json.loads(base64.urlsafe_b64decode(north_token.split(".")[1] + "=="))["exp"],
        datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert north_token not in json.dumps(record)
    # The token reads what istiod needs of the cluster it was issued by.
    assert _status(_credential(west, "east"), "/api/v1/services") == 200


def test_on_istio_1_31_the_reader_cannot_read_any_secret(engine, network, clusters):
    east, west = clusters(2)
    _join_all(engine, (east, west), ("east", "west"), version="1.6")
    istiod = east.get_object("apps/v1", "deployments", NS, "istiod")
    env = {e["name"]: e.get("value") for e in istiod["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PILOT_ENABLE_REMOTE_CREDENTIALS_CONTROLLER"] == "false"
    stolen = _credential(west, "east")
    assert _status(stolen, "/api/v1/namespaces/applink-system/secrets/cacerts") == 403
    assert _status(stolen, "/api/v1/namespaces/applink-system/secrets/istio-remote-secret-west") == 403
    assert _status(stolen, "/api/v1/namespaces/default/secrets") == 403
    assert _status(stolen, "/api/v1/secrets") == 403
    assert _status(stolen, "/api/v1/pods") == 200


def test_before_1_31_the_reader_still_reads_secrets_as_documented(engine, network, clusters):
    east, west = clusters(2)
    _join_all(engine, (east, west), ("east", "west"), version="1.5")
    role = east.get_object("rbac.authorization.k8s.io/v1", "clusterroles", None, "istio-reader-clusterrole-applink-system")
    core = next(r for r in role["rules"] if r["apiGroups"] == [""])
    assert "secrets" in core["resources"]  # istiod 1.30 watches remote Secrets (README: exposure)
    exports = next(r for r in role["rules"] if r["resources"] == ["serviceexports"])
    assert exports["verbs"] == ["get", "list", "watch"]  # MCS is off: no create/delete


def test_remove_revokes_every_token_the_removed_member_held(engine, network, clusters):
    east, west, north = clusters(3)
    _join_all(engine, (east, west, north), ("east", "west", "north"))
    held_by_north = {peer: _credential(north, peer) for peer in ("east", "west")}
    held_for_north = {peer: _credential(sim, "north") for peer, sim in (("east", east), ("west", west))}
    for credential in held_by_north.values():
        assert _status(credential, "/api/v1/pods") == 200
    engine.remove_member("rg1", "net-01", "north")
    # North kept copies of its tokens: every remaining API server refuses them now, not in 7 days.
    for peer, credential in held_by_north.items():
        assert _status(credential, "/api/v1/pods") == 401, peer
    assert [n for n in _readers(east) + _readers(west) if "north" in n] == []
    # What the others held for north went too (north's cluster is still up here).
    for credential in held_for_north.values():
        assert _status(credential, "/api/v1/pods") == 401
    # The links between the members that stay still work.
    assert _status(_credential(east, "west"), "/api/v1/pods") == 200
    assert _status(_credential(west, "east"), "/api/v1/pods") == 200


def test_a_token_past_its_lifetime_is_refused(engine, network, clusters, monkeypatch):
    monkeypatch.setenv("APPNET_LINK_TOKEN_TTL", "1h")
    east, west = clusters(2)
    _join_all(engine, (east, west), ("east", "west"))
    stolen = _credential(west, "east")
    assert _status(stolen, "/api/v1/pods") == 200
    east.advance_clock(3600 - 60)
    assert _status(stolen, "/api/v1/pods") == 200
    east.advance_clock(120)
    assert _status(stolen, "/api/v1/pods") == 401


def test_rotate_credentials_replaces_every_link_and_the_old_tokens_stop_working(engine, network, clusters):
    east, west, north = clusters(3)
    _join_all(engine, (east, west, north), ("east", "west", "north"))
    pairs = [("east", west, "west"), ("east", north, "north"), ("west", east, "east"), ("north", east, "east"),
             ("west", north, "north"), ("north", west, "west")]
    before = {(of, name): _credential(holder, of) for of, holder, name in pairs}
    accounts = {name: _readers(sim) for sim, name in ((east, "east"), (west, "west"), (north, "north"))}
    done = engine.rotate_member_credentials("rg1", "net-01", "east")
    assert done["properties"]["provisioningState"] == "Succeeded"
    after = {(of, name): _credential(holder, of) for of, holder, name in pairs}
    east_links = [k for k in before if "east" in k]
    for key in east_links:
        assert after[key][2] != before[key][2], key
        assert _status(before[key], "/api/v1/pods") == 401, key
        assert _status(after[key], "/api/v1/pods") == 200, key
    # Links between the other two are not east's: untouched.
    assert after[("west", "north")] == before[("west", "north")]
    assert _status(before[("west", "north")], "/api/v1/pods") == 200
    assert set(_readers(east)).isdisjoint(accounts["east"]) and len(_readers(east)) == 2
    assert len(_readers(west)) == 2 and len(_readers(north)) == 2


def test_a_bad_token_lifetime_is_refused_before_anything_starts(engine, network, clusters, monkeypatch):
    (east,) = clusters(1)
    for bad in ("forever", "59s", "100d", "-5"):
        monkeypatch.setenv("APPNET_LINK_TOKEN_TTL", bad)
        with pytest.raises(InvalidInputError) as raised:
            join(engine, east, "east")
        assert "APPNET_LINK_TOKEN_TTL" in raised.value.message
    assert engine.list_members("rg1", "net-01") == []


def test_reconcile_rotates_only_links_past_half_their_lifetime(engine, network, clusters):
    east, west, north = clusters(3)
    _join_all(engine, (east, west, north), ("east", "west", "north"))
    nothing = engine.rotate_due_credentials("rg1", "net-01")
    assert nothing == {"due": [], "rotated": []}
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=4)
    before = _credential(west, "north")
    plan = engine.rotate_due_credentials("rg1", "net-01", now=later)
    assert len(plan["due"]) == 6 and len(plan["rotated"]) == 2  # two rotations cover three members' links
    assert _status(before, "/api/v1/pods") == 401
    assert engine.rotate_due_credentials("rg1", "net-01") == {"due": [], "rotated": []}


def test_token_ttl_setting():
    assert mesh_links.token_ttl({}) == 7 * 86400
    assert mesh_links.token_ttl({"APPNET_LINK_TOKEN_TTL": "600"}) == 600
    assert mesh_links.token_ttl({"APPNET_LINK_TOKEN_TTL": " 12h "}) == 43200
    assert mesh_links.token_ttl({"APPNET_LINK_TOKEN_TTL": "30D"}) == 30 * 86400
    for bad in ("599", "1.5h", "h", "91d", "7 days"):
        with pytest.raises(InvalidInputError):
            mesh_links.token_ttl({"APPNET_LINK_TOKEN_TTL": bad})


def test_rotating_retires_the_shared_never_expiring_reader_of_older_versions(engine, network, clusters):
    east, west = clusters(2)
    _join_all(engine, (east, west), ("east", "west"))
    ours = {"app.kubernetes.io/managed-by": "az-appnet", "appnet.azure.com/network": "net-01",
            "appnet.azure.com/member": "east"}
    legacy = "istio-reader-service-account"
    east.put_object({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": legacy, "namespace": NS, "labels": ours}})
    east.put_object({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                     "metadata": {"name": "istio-reader-clusterrole-applink-system", "labels": ours},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                 "name": "istio-reader-clusterrole-applink-system"},
                     "subjects": [{"kind": "ServiceAccount", "name": legacy, "namespace": NS}]})
    east.put_object({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                     "metadata": {"name": f"{legacy}-istio-remote-secret-token", "namespace": NS, "labels": ours,
                                  "annotations": {"kubernetes.io/service-account.name": legacy}}})
    token = None
    for _ in range(100):  # the token controller fills the Secret in
        data = east.get_object("v1", "secrets", NS, f"{legacy}-istio-remote-secret-token").get("data") or {}
        if data.get("token"):
            token = base64.b64decode(data["token"]).decode()
            break
        time.sleep(0.05)
    server, ca, _ = _credential(west, "east")
    assert _status((server, ca, token), "/api/v1/pods") == 200  # what an older appnet handed out
    engine.rotate_member_credentials("rg1", "net-01", "west")
    assert _status((server, ca, token), "/api/v1/pods") == 401
    assert east.get_object("v1", "serviceaccounts", NS, legacy) is None
    assert _status(_credential(west, "east"), "/api/v1/pods") == 200


def _sent(sim, since):
    """(method, path without query, labelSelector) of what `sim` was sent since `since`,
    reader account names made alike."""
    from urllib.parse import parse_qs, urlsplit
    out = []
    for r in sim.request_log[since:]:
        url = urlsplit(r.path)
        path = "/".join("appnet-reader-*" if p.startswith("appnet-reader-") else p
                        for p in url.path.split("/"))
        out.append((r.method, path, (parse_qs(url.query).get("labelSelector") or [None])[0]))
    return out


def test_a_first_link_sends_each_peer_six_requests_and_the_member_four_per_peer(engine, network, clusters):
    east, west, north = clusters(3)
    _join_all(engine, (east, west), ("east", "west"))
    marks = [len(s.request_log) for s in (east, west, north)]
    join(engine, north, "north")
    core, rbac = f"/api/v1/namespaces/{NS}", "/apis/rbac.authorization.k8s.io/v1"
    for peer, mark in zip((east, west), marks):
        # Its CA and its identities read once, an identity for north, north's remote secret:
        # no legacy reader looked up, no reader role fetched, nothing to delete.
        assert sorted(_sent(peer, mark), key=str) == sorted([
            ("GET", f"{core}/configmaps/kube-root-ca.crt", None),
            ("GET", f"{core}/serviceaccounts", "app.kubernetes.io/managed-by=az-appnet"),
            ("PATCH", f"{core}/serviceaccounts/appnet-reader-*", None),
            ("PATCH", f"{rbac}/clusterrolebindings/appnet-reader-*", None),
            ("POST", f"{core}/serviceaccounts/appnet-reader-*/token", None),
            ("PATCH", f"{core}/secrets/istio-remote-secret-north", None)], key=str), peer.name
    own = _sent(north, marks[2])
    # North's CA and identities are read once for both links, its identities issued per peer.
    assert own.count(("GET", f"{core}/configmaps/kube-root-ca.crt", None)) == 1
    assert own.count(("GET", f"{core}/serviceaccounts", "app.kubernetes.io/managed-by=az-appnet")) == 1
    assert own.count(("POST", f"{core}/serviceaccounts/appnet-reader-*/token", None)) == 2
    # And the links work both ways.
    assert _status(_credential(north, "east"), "/api/v1/pods") == 200
    assert _status(_credential(east, "north"), "/api/v1/pods") == 200


def test_a_peer_whose_data_plane_was_deleted_by_hand_is_named_in_a_warning(engine, network, clusters):
    east, west = clusters(2)
    join(engine, east, "east")
    from azext_appnet.kube import connect
    connect(kubeconfig=east.kubeconfig_path, context=east.context).delete("v1", "namespaces", NS)
    for _ in range(200):  # the namespace controller empties it, then it goes
        if east.get_object("v1", "namespaces", None, NS) is None:
            break
        time.sleep(0.05)
    member = join(engine, west, "west")
    assert member["properties"]["provisioningState"] == "Succeeded"
    warnings = member["properties"]["operation"]["warnings"]
    assert any("Could not link with member 'east': The data plane of member 'east' is not on its cluster" in w
               and "az appnet member update" in w for w in warnings), warnings


def test_kubectl_reads_a_peer_with_a_remote_secret_as_it_is_stored(engine, network, clusters, tmp_path):
    east, west = clusters(2)
    _join_all(engine, (east, west), ("east", "west"))
    (value,) = _remote_secrets(west)["istio-remote-secret-east"]["data"].values()
    path = tmp_path / "east.kubeconfig"
    path.write_bytes(base64.b64decode(value))
    os.chmod(path, 0o600)
    done = subprocess.run([requires.kubectl(), "--kubeconfig", str(path), "get", "services",
                           "-n", NS, "-o", "name"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "service/istiod" in done.stdout.split()
