"""The emulator driven by the official Python client: CRUD, selectors, paging, patches,
server-side apply, deletion semantics, watches, discovery through the dynamic client."""
import json
import threading

import pytest
import yaml
from kubernetes import client, dynamic, watch

from .helpers import deployment, make_ns, raw, unique


def _status(exc_info):
    return exc_info.value.status, json.loads(exc_info.value.body)


def test_object_metadata_is_filled_like_a_server(v1, apps):
    ns = make_ns(v1)
    cm = v1.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"k": "v"}})
    assert cm.metadata.uid and cm.metadata.creation_timestamp
    assert int(cm.metadata.resource_version) > 0
    d = apps.create_namespaced_deployment(ns, deployment("web", ns))
    assert d.metadata.generation == 1
    # resourceVersion is one counter per cluster: later writes get larger versions.
    assert int(d.metadata.resource_version) > int(cm.metadata.resource_version)
    # The controller has written status since: replace what is there now.
    d = apps.read_namespaced_deployment("web", ns)
    d.spec.replicas = 3
    d2 = apps.replace_namespaced_deployment("web", ns, d)
    assert d2.metadata.generation == 2
    # A label change is metadata only: generation stays.
    d3 = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"x": "y"}}})
    assert d3.metadata.generation == 2


def test_generate_name(v1):
    ns = make_ns(v1)
    cm = v1.create_namespaced_config_map(ns, {"metadata": {"generateName": "gen-"}})
    assert cm.metadata.name.startswith("gen-") and len(cm.metadata.name) == 9


def test_create_conflicts_and_missing_namespace(v1):
    ns = make_ns(v1)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    with pytest.raises(client.ApiException) as e:
        v1.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    code, st = _status(e)
    assert (code, st["reason"], st["kind"]) == (409, "AlreadyExists", "Status")
    with pytest.raises(client.ApiException) as e:
        v1.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "a"}})
    code, st = _status(e)
    assert (code, st["reason"]) == (404, "NotFound")
    assert 'namespaces "no-such-ns" not found' in st["message"]
    with pytest.raises(client.ApiException) as e:
        v1.read_namespaced_config_map("nope", ns)
    code, st = _status(e)
    assert (code, st["reason"], st["details"]["name"]) == (404, "NotFound", "nope")


def test_stale_resource_version_is_a_conflict(v1):
    ns = make_ns(v1)
    cm = v1.create_namespaced_config_map(ns, {"metadata": {"name": "a"}, "data": {"k": "1"}})
    fresh = v1.read_namespaced_config_map("a", ns)
    fresh.data = {"k": "2"}
    v1.replace_namespaced_config_map("a", ns, fresh)
    cm.data = {"k": "3"}          # still carries the old resourceVersion
    with pytest.raises(client.ApiException) as e:
        v1.replace_namespaced_config_map("a", ns, cm)
    code, st = _status(e)
    assert (code, st["reason"]) == (409, "Conflict")
    assert v1.read_namespaced_config_map("a", ns).data == {"k": "2"}


@pytest.mark.parametrize("name", ["Upper", "under_score", "-lead", "a" * 254])
def test_invalid_names_are_rejected(v1, name):
    ns = "default"
    with pytest.raises(client.ApiException) as e:
        v1.create_namespaced_config_map(ns, {"metadata": {"name": name}})
    code, st = _status(e)
    assert (code, st["reason"]) == (422, "Invalid")
    assert st["details"]["causes"][0]["field"] == "metadata.name"


def test_label_and_field_selectors_and_paging(v1):
    ns = make_ns(v1)
    for i, tier in enumerate(["web", "web", "db", "cache", None]):
        labels = {"tier": tier} if tier else {}
        v1.create_namespaced_config_map(ns, {"metadata": {"name": "cm%d" % i,
                                                          "labels": labels}})

    def names(**kw):
        return sorted(c.metadata.name for c in v1.list_namespaced_config_map(ns, **kw).items)

    assert names(label_selector="tier=web") == ["cm0", "cm1"]
    assert names(label_selector="tier!=web") == ["cm2", "cm3", "cm4", "kube-root-ca.crt"]
    assert names(label_selector="tier in (db,cache)") == ["cm2", "cm3"]
    assert names(label_selector="tier notin (web,db),tier") == ["cm3"]
    assert names(label_selector="!tier") == ["cm4", "kube-root-ca.crt"]
    assert names(field_selector="metadata.name=cm2") == ["cm2"]
    assert names(field_selector="metadata.namespace=%s,metadata.name!=cm2" % ns) == \
        ["cm0", "cm1", "cm3", "cm4", "kube-root-ca.crt"]
    seen, cont = [], None
    while True:
        page = v1.list_namespaced_config_map(ns, limit=2, _continue=cont)
        assert len(page.items) <= 2
        seen += [c.metadata.name for c in page.items]
        cont = page.metadata._continue
        if not cont:
            break
    assert seen == ["cm0", "cm1", "cm2", "cm3", "cm4", "kube-root-ca.crt"]


def test_patch_flavours(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment(
        "web", ns, env=[{"name": "A", "value": "1"}], ports=[{"containerPort": 80}]))
    # Strategic merge (the client's default for dict bodies): containers merge by name,
    # env by name -- the existing env var survives.
    d = apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "B", "value": "2"}]}]}}}})
    c = d.spec.template.spec.containers
    assert len(c) == 1 and c[0].image == "registry.example/app:1"
    assert [(e.name, e.value) for e in c[0].env] == [("A", "1"), ("B", "2")]
    # $patch: delete removes one list item.
    d = apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "A", "$patch": "delete"}]}]}}}})
    assert [e.name for e in d.spec.template.spec.containers[0].env] == ["B"]
    # JSON patch (list body).
    d = apps.patch_namespaced_deployment("web", ns, [
        {"op": "replace", "path": "/spec/replicas", "value": 4},
        {"op": "add", "path": "/metadata/labels", "value": {"p": "q"}}])
    assert d.spec.replicas == 4 and d.metadata.labels == {"p": "q"}
    # JSON merge patch replaces lists wholesale.
    code, _ = raw(apps.api_client, "PATCH", "/apis/apps/v1/namespaces/%s/deployments/web" % ns,
                  {"spec": {"template": {"spec": {"containers": [
                      {"name": "other", "image": "x"}]}}}}, "application/merge-patch+json")
    assert code == 200
    d = apps.read_namespaced_deployment("web", ns)
    assert [c.name for c in d.spec.template.spec.containers] == ["other"]
    # Removing the last label leaves no empty map behind: ObjectMeta's fields are omitempty.
    code, _ = raw(apps.api_client, "PATCH", "/apis/apps/v1/namespaces/%s/deployments/web" % ns,
                  {"metadata": {"labels": {"p": None}}}, "application/merge-patch+json")
    assert code == 200
    code, body = raw(apps.api_client, "GET", "/apis/apps/v1/namespaces/%s/deployments/web" % ns)
    assert code == 200 and "labels" not in body["metadata"], body["metadata"]


def _apply(dyn, body, manager, force=False, **kw):
    res = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    return res.server_side_apply(body=body, field_manager=manager, force_conflicts=force,
                                 namespace=body["metadata"].get("namespace"), **kw).to_dict()


def test_server_side_apply_ownership_conflicts_and_force(api, v1):
    dyn = dynamic.DynamicClient(api)
    ns = make_ns(v1)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
          "data": {"a": "1", "b": "2"}}
    out = _apply(dyn, cm, "alice")
    assert out["data"] == {"a": "1", "b": "2"}
    mf = out["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in mf] == [("alice", "Apply")]
    assert set(mf[0]["fieldsV1"]["f:data"]) == {"f:a", "f:b"}
    rv = out["metadata"]["resourceVersion"]
    # Re-applying the same configuration changes nothing, not even resourceVersion.
    assert _apply(dyn, cm, "alice")["metadata"]["resourceVersion"] == rv
    # Another manager setting the same value shares ownership; a different value conflicts.
    _apply(dyn, {**cm, "data": {"a": "1"}}, "bob")
    with pytest.raises(client.ApiException) as e:
        _apply(dyn, {**cm, "data": {"b": "other"}}, "bob")
    code, st = _status(e)
    assert (code, st["reason"]) == (409, "Conflict")
    assert 'conflict with "alice"' in st["message"] and ".data.b" in st["message"]
    assert st["details"]["causes"][0]["field"] == ".data.b"
    # force takes the field over.
    out = _apply(dyn, {**cm, "data": {"a": "1", "b": "other"}}, "bob", force=True)
    assert out["data"]["b"] == "other"
    owners = {m["manager"]: set(m["fieldsV1"].get("f:data", {}))
              for m in out["metadata"]["managedFields"]}
    assert "f:b" not in owners["alice"] and "f:b" in owners["bob"]
    # A field alice stops applying and nobody else owns is removed; shared ones stay.
    out = _apply(dyn, {**cm, "data": {"c": "3"}}, "alice")
    assert out["data"] == {"a": "1", "b": "other", "c": "3"}
    out = _apply(dyn, {**cm, "data": {"a": "1"}}, "alice")
    assert out["data"] == {"a": "1", "b": "other"}


def test_server_side_apply_merges_lists_by_key_and_update_managers_conflict(api, v1, apps):
    dyn = dynamic.DynamicClient(api)
    ns = make_ns(v1)
    d = deployment("web", ns, env=[{"name": "A", "value": "1"}])
    _apply(dyn, d, "appnet")
    # kubectl-style imperative edit by another manager (an Update operation).
    apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 5}},
                                     field_manager="kubectl-scale")
    with pytest.raises(client.ApiException) as e:
        _apply(dyn, d, "appnet")           # appnet still says replicas: 1
    assert e.value.status == 409 and "kubectl-scale" in json.loads(e.value.body)["message"]
    # A second applier adds an env var to the same container: merged by name.
    _apply(dyn, {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "web", "namespace": ns},
                 "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {
                     "labels": {"app": "web"}}, "spec": {"containers": [{
                         "name": "main", "image": "registry.example/app:1",
                         "env": [{"name": "SIDE", "value": "x"}]}]}}}}, "other")
    got = apps.read_namespaced_deployment("web", ns)
    assert [e.name for e in got.spec.template.spec.containers[0].env] == ["A", "SIDE"]
    assert got.spec.replicas == 5


def test_server_side_apply_creates_and_needs_field_manager(api, v1):
    ns = make_ns(v1)
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret",
                           "metadata": {"name": "s", "namespace": ns},
                           "stringData": {"x": "y"}})
    path = "/api/v1/namespaces/%s/secrets/s" % ns
    code, st = raw(api, "PATCH", path, body, "application/apply-patch+yaml")
    assert (code, st["reason"]) == (400, "BadRequest")
    code, obj = raw(api, "PATCH", path, body, "application/apply-patch+yaml",
                    {"fieldManager": "me"})
    assert code == 201 and obj["metadata"]["managedFields"][0]["manager"] == "me"
    # stringData is folded into data, as the real server does.
    assert v1.read_namespaced_secret("s", ns).data == {"x": "eQ=="}


def test_dry_run_stores_nothing(v1):
    ns = make_ns(v1)
    out = v1.create_namespaced_config_map(ns, {"metadata": {"name": "dry"}}, dry_run="All")
    assert out.metadata.name == "dry"
    with pytest.raises(client.ApiException):
        v1.read_namespaced_config_map("dry", ns)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "real"}})
    v1.delete_namespaced_config_map("real", ns, dry_run="All")
    assert v1.read_namespaced_config_map("real", ns).metadata.name == "real"


def test_owner_references_cascade_and_orphan(v1):
    ns = make_ns(v1)
    owner = v1.create_namespaced_config_map(ns, {"metadata": {"name": "owner"}})
    ref = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
            "uid": owner.metadata.uid}]
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "child", "ownerReferences": ref}})
    v1.create_namespaced_secret(ns, {"metadata": {"name": "child2", "ownerReferences": ref}})
    v1.delete_namespaced_config_map("owner", ns, propagation_policy="Background")
    names = [c.metadata.name for c in v1.list_namespaced_config_map(ns).items]
    assert "child" not in names and "owner" not in names
    assert "child2" not in [s.metadata.name for s in v1.list_namespaced_secret(ns).items]
    owner = v1.create_namespaced_config_map(ns, {"metadata": {"name": "owner2"}})
    ref[0].update(name="owner2", uid=owner.metadata.uid)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "kept", "ownerReferences": ref}})
    v1.delete_namespaced_config_map("owner2", ns, propagation_policy="Orphan")
    kept = v1.read_namespaced_config_map("kept", ns)
    assert not kept.metadata.owner_references


def test_finalizers_hold_deletion_until_removed(v1):
    ns = make_ns(v1)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "f",
                                                      "finalizers": ["example.com/hold"]}})
    v1.delete_namespaced_config_map("f", ns)
    held = v1.read_namespaced_config_map("f", ns)
    assert held.metadata.deletion_timestamp is not None
    v1.patch_namespaced_config_map("f", ns, {"metadata": {"finalizers": None}})
    with pytest.raises(client.ApiException) as e:
        v1.read_namespaced_config_map("f", ns)
    assert e.value.status == 404


def test_namespace_deletion_cascades(sim, v1, apps):
    ns = make_ns(v1)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    apps.create_namespaced_deployment(ns, deployment("web", ns))
    v1.delete_namespace(ns)
    # The Deployment's Pod takes a moment to stop, and the namespace waits for it.
    assert v1.read_namespace(ns).status.phase == "Terminating"
    with sim.store.lock:
        while sim.get_object("v1", "namespaces", "", ns) is not None:
            assert sim.store.changed.wait(30), "namespace %s still there" % ns
    with pytest.raises(client.ApiException) as e:
        v1.read_namespace(ns)
    assert e.value.status == 404
    assert v1.list_config_map_for_all_namespaces(field_selector="metadata.namespace=" + ns) \
        .items == []
    assert apps.list_deployment_for_all_namespaces(
        field_selector="metadata.namespace=" + ns).items == []


def test_deletecollection(v1):
    ns = make_ns(v1)
    for i in range(3):
        v1.create_namespaced_config_map(ns, {"metadata": {"name": "d%d" % i,
                                                          "labels": {"g": "x" if i else "y"}}})
    v1.delete_collection_namespaced_config_map(ns, label_selector="g=x")
    left = sorted(c.metadata.name for c in v1.list_namespaced_config_map(ns).items)
    assert left == ["d0", "kube-root-ca.crt"]


def test_watch_streams_added_modified_deleted(v1):
    ns = make_ns(v1)
    start = v1.list_namespaced_config_map(ns).metadata.resource_version
    events, w = [], watch.Watch()
    ready = threading.Event()

    def consume():
        for ev in w.stream(v1.list_namespaced_config_map, ns, resource_version=start,
                           timeout_seconds=30):
            events.append((ev["type"], ev["object"].metadata.name,
                           ev["object"].metadata.resource_version))
            if len(events) == 3:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "w"}})
    v1.patch_namespaced_config_map("w", ns, {"data": {"x": "1"}})
    v1.delete_namespaced_config_map("w", ns)
    t.join(30)
    assert [e[:2] for e in events] == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    rvs = [int(e[2]) for e in events]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_watch_with_selector_reports_objects_leaving_it(v1):
    ns = make_ns(v1)
    v1.create_namespaced_config_map(ns, {"metadata": {"name": "s", "labels": {"on": "yes"}}})
    rv = v1.list_namespaced_config_map(ns).metadata.resource_version
    events, w = [], watch.Watch()

    def consume():
        for ev in w.stream(v1.list_namespaced_config_map, ns, label_selector="on=yes",
                           resource_version=rv, timeout_seconds=30):
            events.append(ev["type"])
            if len(events) == 2:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    v1.patch_namespaced_config_map("s", ns, {"metadata": {"labels": {"on": "no"}}})
    v1.patch_namespaced_config_map("s", ns, {"metadata": {"labels": {"on": "yes"}}})
    t.join(30)
    assert events == ["DELETED", "ADDED"]


def test_dynamic_client_discovers_everything(api):
    dyn = dynamic.DynamicClient(api)
    for av, kind in [("v1", "Namespace"), ("apps/v1", "DaemonSet"),
                     ("rbac.authorization.k8s.io/v1", "ClusterRole"),
                     ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"),
                     ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
                     ("policy/v1", "PodDisruptionBudget"),
                     ("autoscaling/v2", "HorizontalPodAutoscaler"),
                     ("coordination.k8s.io/v1", "Lease"),
                     ("discovery.k8s.io/v1", "EndpointSlice")]:
        res = dyn.resources.get(api_version=av, kind=kind)
        assert res.kind == kind
    nodes = dyn.resources.get(api_version="v1", kind="Node").get()
    assert len(nodes.items) == 3


def test_version_is_configurable(sim, api):
    assert client.VersionApi(api).get_code().git_version == "v1.33.0"
    sim.version = "1.29"
    try:
        info = client.VersionApi(api).get_code()
        assert (info.major, info.minor) == ("1", "29")
        node = client.CoreV1Api(api).list_node().items[0]
        assert node.status.node_info.kubelet_version == "v1.29.0"
    finally:
        sim.version = "1.33"


def test_control_api_roundtrip(sim):
    ns = unique("ctl")
    sim.put_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    sim.put_object({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "x", "namespace": ns, "labels": {"a": "b"}},
                    "data": {"k": "v"}})
    got = sim.get_object("v1", "configmaps", ns, "x")
    assert got["data"] == {"k": "v"} and got["metadata"]["uid"]
    assert [o["metadata"]["name"] for o in sim.list_objects("v1", "configmaps", ns, "a=b")] \
        == ["x"]
    got["data"] = {"k": "w"}
    sim.put_object(got)
    assert sim.get_object("v1", "configmaps", ns, "x")["data"] == {"k": "w"}
    sim.delete_object("v1", "configmaps", ns, "x")
    assert sim.get_object("v1", "configmaps", ns, "x") is None
    assert sim.get_object("v1", "namespaces", None, ns)["status"]["phase"] == "Active"
