"""drainBy readinessGate end to end on a real kube-apiserver: `receiver serve` with the chart's
RBAC opens the gate of new pods, a drain sets the pod's remediation/traffic condition False
through pods/status, and the restore sets it True; the real endpoints controller takes the pod
out of a Service that selects only `app: checkout` and puts it back.

There is no kubelet: `mirror` does its part, Ready = ContainersReady and every condition the
pod lists in spec.readinessGates True, which is all the kubelet adds here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kube.test_failover import DRAIN, RUNBOOK, leads, status
from kubernetes import client
from polling import wait_for
from service_builders import alert, webhook

from receiver.cluster import READINESS_GATE

from .backends import NODE, RealBackend
from .rest import JSON, MERGE, rest
from .test_failover_real import kubeconfig, receiver  # noqa: F401 (a fixture)
from .test_service_real import now_text

pytestmark = pytest.mark.realserver

GATED = RUNBOOK.replace(
    "  namespaces: [shop]\n", "  namespaces: [shop]\n  drainBy: readinessGate\n"
)
PODS = "/api/v1/namespaces/shop/pods"
NAMES = [f"checkout-{i}" for i in range(4)]


@pytest.fixture
def controllers(real: RealBackend) -> Iterator[RealBackend]:
    real.server.start_controllers("endpoint")
    try:
        yield real
    finally:
        real.server.stop_controllers()


def gated_pods(real: RealBackend) -> None:
    """A Deployment's pods that list the receiver's readiness gate, running, gate not yet set."""
    labels = {"app": "checkout"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "app:1"}]},
    }
    spec = {"replicas": 4, "selector": {"matchLabels": labels}, "template": template}
    owner = real.create("shop", "Deployment", "checkout", labels, spec)
    rs = real.create("shop", "ReplicaSet", "checkout-5d8f", labels, spec, owner=owner)
    for i, name in enumerate(NAMES):
        meta = {
            "name": name,
            "labels": labels,
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
                 "uid": rs["metadata"]["uid"], "controller": True}
            ],
        }  # fmt: skip
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta,
            "spec": {
                "nodeName": NODE,
                "serviceAccountName": "default",
                "containers": [{"name": "app", "image": "app:1"}],
                "readinessGates": [{"conditionType": READINESS_GATE}],
            },
        }
        rest(real.admin, "POST", PODS, body)
        now = now_text()
        status_ = {
            "phase": "Running",
            "startTime": now,
            "podIP": f"10.1.0.{21 + i}",
            "conditions": [
                {"type": t, "status": s, "lastTransitionTime": now}
                for t, s in (("PodScheduled", "True"), ("ContainersReady", "True"),
                             ("Ready", "False"))
            ],
            "containerStatuses": [
                {"name": "app", "ready": True, "restartCount": 0, "image": "app:1", "imageID": "",
                 "started": True, "state": {"running": {"startedAt": now}}}
            ],
        }  # fmt: skip
        rest(real.admin, "PATCH", f"{PODS}/{name}/status", {"status": status_}, content_type=MERGE)


def conditions(pod: JSON) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (pod.get("status") or {}).get("conditions") or ()}


def mirror(real: RealBackend) -> bool:
    """The kubelet's part: Ready follows ContainersReady and the readiness gate."""
    for pod in rest(real.admin, "GET", PODS, query={"labelSelector": "app=checkout"})["items"]:
        have = conditions(pod)
        ready = have.get("ContainersReady") == "True" and have.get(READINESS_GATE) == "True"
        if have.get("Ready") != ("True" if ready else "False"):
            flag = "True" if ready else "False"
            patch = {"status": {"conditions": [{"type": "Ready", "status": flag,
                                                "lastTransitionTime": now_text()}]}}  # fmt: skip
            path = f"{PODS}/{pod['metadata']['name']}/status"
            rest(
                real.admin,
                "PATCH",
                path,
                patch,
                content_type="application/strategic-merge-patch+json",
            )
    return True


def addresses(real: RealBackend) -> list[str]:
    try:
        found = rest(real.admin, "GET", "/api/v1/namespaces/shop/endpoints/checkout")
    except client.ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return sorted(
        a["targetRef"]["name"] for s in found.get("subsets") or [] for a in s.get("addresses") or ()
    )


def gate(real: RealBackend, name: str) -> str | None:
    return conditions(rest(real.admin, "GET", f"{PODS}/{name}")).get(READINESS_GATE)


def test_a_drain_by_readiness_gate_leaves_the_endpoints_and_the_restore_comes_back(
    controllers: RealBackend,
    kubeconfig: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    real = controllers
    gated_pods(real)
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "checkout"},
        "spec": {"selector": {"app": "checkout"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    rest(real.admin, "POST", "/api/v1/namespaces/shop/services", service)
    try:
        mirror(real)
        assert addresses(real) == []  # listed gates not set: the kubelet holds them out
        with receiver(tmp_path, kubeconfig, "receiver-a", text=GATED) as (_, url):
            wait_for("the receiver to lead", lambda: leads(url), timeout=30)
            wait_for(
                "the receiver to open the new pods' gates",
                lambda: mirror(real) and addresses(real) == NAMES,
                timeout=30,
            )
            sick = webhook(alert("checkout-1", starts=now_text()))
            assert status(f"{url}/api/v1/alerts", sick) == 200
            assert gate(real, "checkout-1") == "False"
            pod = rest(real.admin, "GET", f"{PODS}/checkout-1")
            assert "remediation/traffic" not in pod["metadata"]["labels"]  # no relabelling
            wait_for(
                "the drained pod out of the endpoints",
                lambda: (
                    mirror(real) and addresses(real) == ["checkout-0", "checkout-2", "checkout-3"]
                ),
                timeout=30,
            )
            wait_for(
                f"the restore after the {DRAIN:.0f}s drain",
                lambda: mirror(real) and addresses(real) == NAMES,
                timeout=30,
            )
            assert gate(real, "checkout-1") == "True"
    finally:
        rest(real.admin, "DELETE", "/api/v1/namespaces/shop/services/checkout")
        try:
            rest(real.admin, "DELETE", "/api/v1/namespaces/shop/endpoints/checkout")
        except client.ApiException as exc:
            if exc.status != 404:
                raise
