"""Pods and scheduling: workloads own Pods, a scheduler places them as kube-scheduler would,
and workload status comes from the Pods, as on a real cluster."""
from kubernetes import client

from tests.kubesim import KubeSim
from tests.kubesim.workloads import ready_pods_for_service

from .helpers import api_client, daemonset, deployment, kubectl, make_ns, needs_kubectl

TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def _pods(v1, ns, selector):
    return v1.list_namespaced_pod(ns, label_selector=selector).items


def _cond(obj, ctype):
    return next((c for c in obj.status.conditions or [] if c.type == ctype), None)


def test_a_deployment_owns_a_replicaset_that_owns_ready_pods(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    rs = apps.list_namespaced_replica_set(ns).items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    assert rs[0].metadata.labels["pod-template-hash"] in rs[0].metadata.name
    pods = _pods(v1, ns, "app=web")
    assert len(pods) == 2
    assert {p.metadata.owner_references[0].name for p in pods} == {rs[0].metadata.name}
    assert all(p.status.phase == "Running" and _cond(p, "Ready").status == "True"
               and p.spec.node_name and p.status.pod_ip for p in pods)
    # Replicas spread over nodes, as the default scheduler's spreading does.
    assert len({p.spec.node_name for p in pods}) == 2
    d = apps.read_namespaced_deployment("web", ns).status
    assert (d.replicas, d.ready_replicas, d.available_replicas, d.updated_replicas) == (2, 2, 2, 2)
    reasons = {e.reason for e in v1.list_namespaced_event(ns).items}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled"} <= reasons


def test_a_pod_nobody_can_place_stays_pending_with_the_schedulers_reason(v1, apps):
    ns = make_ns(v1)
    d = deployment("nowhere", ns)
    d["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/os": "plan9"}
    apps.create_namespaced_deployment(ns, d)
    (pod,) = _pods(v1, ns, "app=nowhere")
    assert pod.status.phase == "Pending" and not pod.spec.node_name
    c = _cond(pod, "PodScheduled")
    assert (c.status, c.reason) == ("False", "Unschedulable")
    assert c.message.startswith("0/3 nodes are available: 3 node(s) didn't match Pod's node "
                                "affinity/selector.")
    events = [e for e in v1.list_namespaced_event(ns).items if e.reason == "FailedScheduling"]
    assert events and events[0].type == "Warning" and "didn't match" in events[0].message


def test_640_cpus_fit_no_node_and_the_deployment_stays_unavailable(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment(
        "huge", ns, resources={"requests": {"cpu": "640", "memory": "64Mi"}}))
    d = apps.read_namespaced_deployment("huge", ns)
    assert _cond(d, "Available").status == "False"
    assert not d.status.available_replicas and d.status.unavailable_replicas == 1
    (pod,) = _pods(v1, ns, "app=huge")
    assert "3 Insufficient cpu" in _cond(pod, "PodScheduled").message
    # What fits a node (a few CPUs) is placed.
    apps.create_namespaced_deployment(ns, deployment(
        "small", ns, resources={"requests": {"cpu": "500m", "memory": "1Gi"}}))
    assert apps.read_namespaced_deployment("small", ns).status.available_replicas == 1


@needs_kubectl
def test_kubectl_wait_for_available_fails_on_an_unschedulable_deployment(sim, v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment(
        "stuck", ns, resources={"requests": {"cpu": "640"}}))
    r = kubectl(sim, "-n", ns, "wait", "--for=condition=Available", "--timeout=5s",
                "deployment/stuck", check=False)
    assert r.returncode != 0 and "timed out" in r.stderr
    apps.create_namespaced_deployment(ns, deployment("fine", ns))
    r = kubectl(sim, "-n", ns, "wait", "--for=condition=Available", "--timeout=5s",
                "deployment/fine")
    assert "condition met" in r.stdout


def test_taints_tolerations_and_cordoned_nodes():
    nodes = [{"os": "linux", "zone": "z1"}, {"os": "linux", "zone": "z2"},
             {"os": "linux", "zone": "z3", "taints": [TAINT]}]
    with KubeSim(name="taints", nodes=nodes) as sim:
        api = api_client(sim)
        v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        apps.create_namespaced_daemon_set("default", daemonset("plain", "default"))
        st = apps.read_namespaced_daemon_set("plain", "default").status
        assert (st.desired_number_scheduled, st.number_ready) == (2, 2)
        assert len(_pods(v1, "default", "app=plain")) == 2
        tol = daemonset("tolerant", "default")
        tol["spec"]["template"]["spec"]["tolerations"] = [
            {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
        apps.create_namespaced_daemon_set("default", tol)
        assert apps.read_namespaced_daemon_set("tolerant", "default").status \
            .desired_number_scheduled == 3
        # Cordon the second node: new Pods avoid it, daemon Pods (which tolerate it) stay.
        v1.patch_node("taints-node-1", {"spec": {"unschedulable": True}})
        apps.create_namespaced_deployment("default", deployment("web", "default", replicas=3))
        pods = _pods(v1, "default", "app=web")
        assert {p.spec.node_name for p in pods} == {"taints-node-0"}
        assert apps.read_namespaced_daemon_set("plain", "default").status \
            .desired_number_scheduled == 2
        apps.patch_namespaced_deployment("web", "default", {"spec": {"template": {"spec": {
            "nodeSelector": {"topology.kubernetes.io/zone": "z3"}}}}})
        pending = [p for p in _pods(v1, "default", "app=web") if not p.spec.node_name]
        assert pending
        msg = _cond(pending[0], "PodScheduled").message
        assert "1 node(s) had untolerated taint {dedicated: gpu}" in msg
        assert "1 node(s) were unschedulable" in msg
        assert "1 node(s) didn't match Pod's node affinity/selector" in msg
        # Uncordoning reschedules nothing that fits elsewhere, but the selector still rules.
        v1.patch_node("taints-node-2", {"spec": {"taints": []}})
        assert all(p.spec.node_name == "taints-node-2"
                   for p in _pods(v1, "default", "app=web")
                   if p.spec.node_selector and p.metadata.deletion_timestamp is None)


def test_ready_delay_keeps_pods_starting_and_never_ready_keeps_them_unready():
    with KubeSim(name="slow", ready_delay=3600) as sim:
        api = api_client(sim)
        v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        apps.create_namespaced_deployment("default", deployment("web", "default"))
        (pod,) = _pods(v1, "default", "app=web")
        assert pod.spec.node_name and pod.status.phase == "Pending"
        assert pod.status.container_statuses[0].state.waiting.reason == "ContainerCreating"
        assert _cond(apps.read_namespaced_deployment("web", "default"),
                     "Available").status == "False"
        sim.never_ready("apps/v1", "deployments", "default", "web")
        sim.make_ready("apps/v1", "deployments", "default", "web")
        assert apps.read_namespaced_deployment("web", "default").status.ready_replicas == 1
    with KubeSim(name="never") as sim:
        api = api_client(sim)
        v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        sim.never_ready("apps/v1", "daemonsets", "default", "ds")
        apps.create_namespaced_daemon_set("default", daemonset("ds", "default"))
        pods = _pods(v1, "default", "app=ds")
        assert len(pods) == 3 and all(p.status.phase == "Running" and
                                      _cond(p, "Ready").status == "False" for p in pods)
        assert apps.read_namespaced_daemon_set("ds", "default").status.number_ready == 0


def test_a_rolling_update_replaces_the_replicaset(v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=3))
    apps.patch_namespaced_deployment("web", ns, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "image": "registry.example/app:2"}]}}}})
    rss = {r.spec.template.spec.containers[0].image: r
           for r in apps.list_namespaced_replica_set(ns).items}
    assert rss["registry.example/app:1"].spec.replicas == 0
    new = rss["registry.example/app:2"]
    assert new.spec.replicas == 3
    assert new.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    # The old Pods are still stopping (Terminating) beside the three new ones.
    pods = _pods(v1, ns, "app=web")
    live = [p for p in pods if not p.metadata.deletion_timestamp]
    assert len(live) == 3 and {p.spec.containers[0].image for p in live} == {"registry.example/app:2"}
    assert {p.spec.containers[0].image for p in pods if p.metadata.deletion_timestamp} <= \
        {"registry.example/app:1"}
    d = apps.read_namespaced_deployment("web", ns)
    assert d.status.observed_generation == d.metadata.generation == 2
    assert d.status.updated_replicas == 3
    assert _cond(d, "Progressing").reason == "NewReplicaSetAvailable"
    msgs = [e.message for e in v1.list_namespaced_event(ns).items
            if e.reason == "ScalingReplicaSet"]
    assert any("Scaled down replica set %s" % rss["registry.example/app:1"].metadata.name in m
               for m in msgs)
    # Scaling goes through the ReplicaSet to the Pods.
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 1}})
    assert len([p for p in _pods(v1, ns, "app=web") if not p.metadata.deletion_timestamp]) == 1


def test_statefulsets_and_jobs(v1, apps):
    ns = make_ns(v1)
    labels = {"app": "db"}
    apps.create_namespaced_stateful_set(ns, {
        "metadata": {"name": "db"}, "spec": {
            "replicas": 2, "serviceName": "db", "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {
                "containers": [{"name": "db", "image": "registry.example/db:1"}]}}}})
    assert sorted(p.metadata.name for p in _pods(v1, ns, "app=db")) == ["db-0", "db-1"]
    assert apps.read_namespaced_stateful_set("db", ns).status.ready_replicas == 2
    batch = client.BatchV1Api(v1.api_client)
    batch.create_namespaced_job(ns, {"metadata": {"name": "once"}, "spec": {"template": {
        "spec": {"restartPolicy": "Never", "containers": [
            {"name": "x", "image": "registry.example/x:1"}]}}}})
    job = batch.read_namespaced_job("once", ns)
    assert job.status.succeeded == 1
    assert {c.type: c.status for c in job.status.conditions}["Complete"] == "True"
    (pod,) = _pods(v1, ns, "batch.kubernetes.io/job-name=once")
    assert pod.status.phase == "Succeeded"


def test_ready_pods_behind_a_service(sim, v1, apps):
    ns = make_ns(v1)
    v1.create_namespaced_service(ns, {"metadata": {"name": "hook"}, "spec": {
        "selector": {"app": "hook"}, "ports": [{"port": 443}]}})
    assert ready_pods_for_service(sim, ns, "hook") == []
    assert v1.read_namespaced_service("hook", ns).status.load_balancer is not None
    sim.never_ready("apps/v1", "deployments", ns, "hook")
    apps.create_namespaced_deployment(ns, deployment("hook", ns, replicas=2))
    assert ready_pods_for_service(sim, ns, "hook") == []
    sim.make_ready("apps/v1", "deployments", ns, "hook")
    assert len(ready_pods_for_service(sim, ns, "hook")) == 2


@needs_kubectl
def test_kubectl_shows_pods_replicasets_and_wide_columns(sim, v1, apps):
    ns = make_ns(v1)
    apps.create_namespaced_deployment(ns, deployment("web", ns, replicas=2))
    out = kubectl(sim, "-n", ns, "get", "pods").stdout
    assert out.split("\n")[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert out.count("Running") == 2 and "1/1" in out
    wide = kubectl(sim, "-n", ns, "get", "pods", "-o", "wide").stdout
    head = wide.split("\n")[0]
    assert "IP" in head.split() and "NODE" in head.split()
    pod = _pods(v1, ns, "app=web")[0]
    assert pod.status.pod_ip in wide and pod.spec.node_name in wide
    rs = kubectl(sim, "-n", ns, "get", "rs").stdout
    assert rs.split("\n")[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    dw = kubectl(sim, "-n", ns, "get", "deploy", "-o", "wide").stdout
    assert dw.split("\n")[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "registry.example/app:1" in dw and "app=web" in dw
    desc = kubectl(sim, "-n", ns, "describe", "deployment", "web").stdout
    assert "NewReplicaSet:" in desc and "ScalingReplicaSet" in desc
    assert "2 desired | 2 updated | 2 total | 2 available | 0 unavailable" in desc
    nodes = kubectl(sim, "get", "nodes", "-o", "wide").stdout
    assert "INTERNAL-IP" in nodes and "containerd://" in nodes


def test_new_kinds_are_served_and_validated(sim, api, v1):
    from .helpers import raw
    ns = make_ns(v1)
    objs = [
        ("/apis/networking.k8s.io/v1/namespaces/%s/ingresses" % ns, {
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
            "spec": {"rules": [{"host": "a.example", "http": {"paths": [{
                "path": "/", "pathType": "Prefix", "backend": {"service": {
                    "name": "s", "port": {"number": 80}}}}]}}]}}),
        ("/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies" % ns, {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "deny"}, "spec": {"podSelector": {}}}),
        ("/api/v1/namespaces/%s/persistentvolumeclaims" % ns, {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}),
        ("/api/v1/namespaces/%s/resourcequotas" % ns, {
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
            "spec": {"hard": {"pods": "10"}}}),
        ("/api/v1/namespaces/%s/limitranges" % ns, {
            "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "l"},
            "spec": {"limits": [{"type": "Container", "default": {"cpu": "100m"}}]}}),
        ("/apis/scheduling.k8s.io/v1/priorityclasses", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": ns}, "value": 1000}),
        ("/apis/autoscaling/v1/namespaces/%s/horizontalpodautoscalers" % ns, {
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "h"}, "spec": {"maxReplicas": 3, "scaleTargetRef": {
                "apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
        ("/apis/batch/v1/namespaces/%s/cronjobs" % ns, {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {
                "spec": {"restartPolicy": "OnFailure", "containers": [
                    {"name": "x", "image": "x:1"}]}}}}}}),
        ("/api/v1/namespaces/%s/replicationcontrollers" % ns, {
            "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "rc"}},
                                                 "spec": {"containers": [
                                                     {"name": "x", "image": "x:1"}]}}}}),
        ("/apis/apiregistration.k8s.io/v1/apiservices", {
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1beta1.%s.example.com" % ns},
            "spec": {"group": "%s.example.com" % ns, "version": "v1beta1",
                     "groupPriorityMinimum": 100, "versionPriority": 10}}),
    ]
    for path, body in objs:
        code, out = raw(api, "POST", path, body)
        assert code == 201, (path, out)
        code, got = raw(api, "GET", path + "/" + body["metadata"]["name"])
        assert code == 200 and got["kind"] == body["kind"]
    assert len(_pods(v1, ns, "app=rc")) == 2
    code, out = raw(api, "POST", "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies"
                    % ns, {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                           "metadata": {"name": "bad"}, "spec": {"podSelector": "all"}})
    assert code == 422 and out["reason"] == "Invalid"


@needs_kubectl
def test_kubectl_rollout_undo_returns_to_the_first_replicaset(sim, v1, apps):
    ns = make_ns(v1)
    kubectl(sim, "-n", ns, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
    first = {r.metadata.name for r in apps.list_namespaced_replica_set(ns).items}
    kubectl(sim, "-n", ns, "set", "image", "deployment/web", "nginx=nginx:1.28")
    kubectl(sim, "-n", ns, "rollout", "undo", "deployment/web")
    kubectl(sim, "-n", ns, "rollout", "status", "deployment/web", "--timeout=20s")
    rss = {r.metadata.name: r for r in apps.list_namespaced_replica_set(ns).items}
    (name,) = first
    assert rss[name].spec.replicas == 2 and len(rss) == 2
    d = apps.read_namespaced_deployment("web", ns)
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert d.spec.template.spec.containers[0].image == "nginx:1.27"


@needs_kubectl
def test_drain_evicts_within_disruption_budgets():
    with KubeSim(name="drain") as sim:
        api = api_client(sim)
        v1, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        policy = client.PolicyV1Api(api)
        apps.create_namespaced_deployment("default", deployment("web", "default", replicas=2))
        policy.create_namespaced_pod_disruption_budget("default", {
            "metadata": {"name": "web"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
        st = policy.read_namespaced_pod_disruption_budget("web", "default").status
        assert (st.current_healthy, st.desired_healthy, st.disruptions_allowed) == (2, 2, 0)
        node = _pods(v1, "default", "app=web")[0].spec.node_name
        r = kubectl(sim, "drain", node, "--ignore-daemonsets", "--timeout=3s", check=False)
        assert r.returncode != 0 and "disruption budget" in r.stderr
        assert len(_pods(v1, "default", "app=web")) == 2
        # With room for one disruption the drain goes through; the Pod comes back elsewhere.
        policy.patch_namespaced_pod_disruption_budget("web", "default",
                                                      {"spec": {"minAvailable": 1}})
        kubectl(sim, "drain", node, "--ignore-daemonsets", "--timeout=20s")
        pods = _pods(v1, "default", "app=web")
        assert len(pods) == 2 and node not in {p.spec.node_name for p in pods}
        assert v1.read_node(node).spec.unschedulable


def test_services_get_endpoints_and_slices_of_their_pods(sim, v1, apps):
    ns = make_ns(v1)
    d = deployment("web", ns, replicas=2, ports=[{"name": "http", "containerPort": 8080}])
    apps.create_namespaced_deployment(ns, d)
    v1.create_namespaced_service(ns, {"metadata": {"name": "web"}, "spec": {
        "selector": {"app": "web"}, "ports": [{"name": "web", "port": 80,
                                               "targetPort": "http"}]}})
    ep = v1.read_namespaced_endpoints("web", ns)
    ips = sorted(p.status.pod_ip for p in _pods(v1, ns, "app=web"))
    assert sorted(a.ip for a in ep.subsets[0].addresses) == ips
    assert ep.subsets[0].ports[0].port == 8080
    disc = client.DiscoveryV1Api(v1.api_client)
    (sl,) = disc.list_namespaced_endpoint_slice(
        ns, label_selector="kubernetes.io/service-name=web").items
    assert sorted(e.addresses[0] for e in sl.endpoints) == ips
    assert all(e.conditions.ready for e in sl.endpoints)
    apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 1}})
    assert len(v1.read_namespaced_endpoints("web", ns).subsets[0].addresses) == 1
    v1.delete_namespaced_service("web", ns)
    assert v1.list_namespaced_endpoints(ns).items == []
    assert disc.list_namespaced_endpoint_slice(ns).items == []
