"""The chart's Deployment and Service on a real kube-apiserver with Kubernetes' own deployment,
replicaset and endpoints controllers: both replicas Ready, the Deployment Available, and the
Service's endpoints on the leader alone, before and after the leader is killed.

There is no kubelet: `Kubelet` below does its two jobs for the chart's pods. It runs them
(Running, a pod IP each) and reports the readiness probe (`/readyz` of the `receiver serve`
process standing for the pod, started with that pod's $POD_NAME) as the Ready condition.
Everything else, the Deployment's availability and the endpoints included, is computed by the
real controllers from what the receivers wrote (the leader label) and what the probe said.
"""

from __future__ import annotations

import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from chart.render import FULLNAME, Rendered, render
from kube.test_failover import RUNBOOK, leads
from kubernetes import client
from polling import wait_for

from receiver.kube.leader_label import LEADER_LABEL

from .backends import NODE, RealBackend
from .rest import JSON, MERGE, rest
from .test_failover_real import OWN, kubeconfig, receiver  # noqa: F401 (a fixture)
from .test_service_real import now_text

pytestmark = pytest.mark.realserver

APPS = f"/apis/apps/v1/namespaces/{OWN}"
PODS = f"/api/v1/namespaces/{OWN}/pods"


@pytest.fixture
def controllers(real: RealBackend) -> Iterator[RealBackend]:
    real.server.start_controllers("deployment", "replicaset", "endpoint")
    try:
        yield real
    finally:
        real.server.stop_controllers()


@pytest.fixture
def chart() -> Rendered:
    return render(
        {"rbac": {"namespaces": ["shop"]}, "runbook": {"content": RUNBOOK}}, namespace=OWN
    )


def probe(url: str) -> bool:
    """The chart's readinessProbe: GET /readyz answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


class Kubelet:
    """Runs the chart's pods and turns each one's /readyz into its Ready condition."""

    def __init__(self, real: RealBackend, selector: dict[str, str]) -> None:
        self.real = real
        self.selector = ",".join(f"{k}={v}" for k, v in selector.items())
        self.urls: dict[str, str] = {}  # pod name -> its receiver
        self._reported: dict[str, bool] = {}

    def pods(self) -> list[JSON]:
        items: list[JSON] = rest(
            self.real.admin, "GET", PODS, query={"labelSelector": self.selector}
        )["items"]
        return sorted(items, key=lambda p: p["metadata"]["name"])

    def run(self, name: str, ip: str) -> None:
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
        }
        rest(self.real.admin, "POST", f"{PODS}/{name}/binding", binding)
        self._report(name, ready=False, ip=ip)

    def sync(self) -> bool:
        for name, url in self.urls.items():
            ready = probe(url)
            if self._reported.get(name) != ready:
                self._report(name, ready=ready)
        return True

    def _report(self, name: str, *, ready: bool, ip: str | None = None) -> None:
        now, flag = now_text(), "True" if ready else "False"
        status: JSON = {
            "phase": "Running",
            "conditions": [
                {"type": t, "status": s, "lastTransitionTime": now}
                for t, s in (("PodScheduled", "True"), ("ContainersReady", flag), ("Ready", flag))
            ],
        }
        if ip is not None:
            status.update(podIP=ip, startTime=now)
        rest(
            self.real.admin,
            "PATCH",
            f"{PODS}/{name}/status",
            {"status": status},
            content_type=MERGE,
        )
        self._reported[name] = ready


def deployment_status(real: RealBackend) -> JSON:
    found: JSON = rest(real.admin, "GET", f"{APPS}/deployments/{FULLNAME}").get("status") or {}
    return found


def available(real: RealBackend) -> bool:
    status = deployment_status(real)
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or ()}
    return status.get("availableReplicas") == 2 and conditions.get("Available") == "True"


def endpoints(real: RealBackend) -> list[str]:
    try:
        found = rest(real.admin, "GET", f"/api/v1/namespaces/{OWN}/endpoints/{FULLNAME}")
    except client.ApiException as exc:
        if exc.status == 404:
            return []
        raise
    return sorted(
        a["targetRef"]["name"] for s in found.get("subsets") or [] for a in s.get("addresses") or ()
    )


def labelled(kubelet: Kubelet) -> list[str]:
    return [
        p["metadata"]["name"]
        for p in kubelet.pods()
        if (p["metadata"].get("labels") or {}).get(LEADER_LABEL) == "true"
    ]


def test_both_replicas_ready_the_deployment_available_and_the_service_on_the_leader(
    controllers: RealBackend,
    chart: Rendered,
    kubeconfig: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    real = controllers
    deployment, service = chart.one("Deployment"), chart.one("Service")
    kubelet = Kubelet(real, deployment["spec"]["selector"]["matchLabels"])
    rest(real.admin, "POST", f"{APPS}/deployments", deployment)
    rest(real.admin, "POST", f"/api/v1/namespaces/{OWN}/services", service)
    try:
        wait_for("the replicaset's two pods", lambda: len(kubelet.pods()) == 2, timeout=30)
        names = [p["metadata"]["name"] for p in kubelet.pods()]
        with ExitStack() as stack:
            processes: dict[str, subprocess.Popen[str]] = {}
            for i, name in enumerate(names):
                process, url = stack.enter_context(receiver(tmp_path, kubeconfig, name, pod=name))
                processes[name], kubelet.urls[name] = process, url
                kubelet.run(name, f"10.1.0.{11 + i}")

            wait_for(
                "the Deployment Available with both replicas Ready",
                lambda: kubelet.sync() and available(real),
                timeout=60,
            )
            leader = next(n for n in names if leads(kubelet.urls[n]))
            (standby,) = set(names) - {leader}
            assert probe(kubelet.urls[standby])  # a standby is Ready too
            wait_for("only the leader labelled", lambda: labelled(kubelet) == [leader])
            wait_for("the Service on the leader", lambda: endpoints(real) == [leader], timeout=30)

            processes[leader].send_signal(signal.SIGKILL)  # no goodbye: the label stays on
            processes[leader].wait(timeout=20)
            wait_for(
                "the standby to lead",
                lambda: kubelet.sync() and leads(kubelet.urls[standby]),
                timeout=30,
            )
            # The new leader took the label from its dead predecessor's pod too.
            wait_for("the label moved", lambda: labelled(kubelet) == [standby], timeout=30)
            wait_for(
                "the Service on the new leader",
                lambda: kubelet.sync() and endpoints(real) == [standby],
                timeout=30,
            )
    finally:
        rest(real.admin, "DELETE", f"/api/v1/namespaces/{OWN}/services/{FULLNAME}")
        rest(real.admin, "DELETE", f"{APPS}/deployments/{FULLNAME}")
        try:  # the endpoints controller is stopped before it would remove them
            rest(real.admin, "DELETE", f"/api/v1/namespaces/{OWN}/endpoints/{FULLNAME}")
        except client.ApiException as exc:
            if exc.status != 404:
                raise
