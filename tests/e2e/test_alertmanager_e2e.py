"""End to end: a real Alertmanager delivers webhooks to the receiver, which acts on its cluster.

Alertmanager is configured the way a user would (webhook_configs with a bearer
token in http_config.authorization, send_resolved), alerts go in through its
v2 API, and the test watches the in-memory cluster and the receiver's metrics.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from polling import wait_for
from prometheus_client import CollectorRegistry

from receiver.cluster import MemoryCluster
from receiver.metrics import Metrics
from receiver.model import Workload
from receiver.runbook import load_file
from receiver.service.auth import Tokens
from receiver.service.runtime import Options, Service
from receiver.service.serve import build

from .alertmanager import Alertmanager, AlertmanagerConfig, make_alert
from .receiver_server import serving

TOKEN = "e2e-webhook-token-0123456789"
RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop]
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 20, period: 10m}
    guards: {maxUnavailable: 50%}
rules:
  - name: error-outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 10m}}]
"""


@dataclass
class Stack:
    service: Service
    cluster: MemoryCluster
    registry: CollectorRegistry
    alertmanager: Alertmanager
    url: str
    pods: list[str]

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def state(self, pod: str) -> str:
        found = next(p for p in self.cluster.snapshot().pods.values() if p.name == pod)
        return str(found.lifecycle.state)


@contextmanager
def start_stack(tmp_path: Path, **alertmanager: object) -> Iterator[Stack]:
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    runbook = load_file(path)
    cluster = MemoryCluster(clock=time.time, traffic_label=runbook.settings.traffic_label)
    keys = cluster.add_workload(
        Workload("shop", "Deployment", "checkout"), replicas=6, labels={"app": "checkout"}
    )
    registry = CollectorRegistry()
    tokens = Tokens((TOKEN.encode(),))
    options = Options(
        runbook_path=path, tokens=tokens, heartbeat_tokens=tokens, handle_sighup=False
    )
    service = build(options, runbook, cluster, metrics=Metrics(registry))
    with serving(service) as url:
        config = AlertmanagerConfig(
            receiver_url=f"{url}/api/v1/alerts",
            token=TOKEN,
            **alertmanager,  # type: ignore[arg-type]
        )
        with Alertmanager(config, workdir=tmp_path) as am:
            yield Stack(service, cluster, registry, am, url, sorted(k.name for k in keys))


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with start_stack(tmp_path) as started:
        yield started


def outlier(pod: str) -> dict[str, object]:
    return make_alert("PodErrorRatioOutlier", pod=pod, annotations={"summary": "5x errors"})


def test_an_alert_through_alertmanager_drains_the_pod(stack: Stack) -> None:
    pod = stack.pods[0]
    stack.alertmanager.post_alerts([outlier(pod)])
    wait_for(f"{pod} drained", lambda: stack.state(pod) == "drained")
    found = next(p for p in stack.cluster.snapshot().pods.values() if p.name == pod)
    assert found.labels["remediation/traffic"] == "off"
    applied = {"action": "drain", "rule": "error-outlier", "outcome": "applied"}
    assert stack.metric("remediation_actions_total", applied) == 1
    firing = {"source": "alertmanager", "name": "PodErrorRatioOutlier", "status": "firing"}
    assert stack.metric("remediation_signals_received_total", firing) >= 1
    with urllib.request.urlopen(f"{stack.url}/metrics", timeout=5) as response:
        exposition = response.read().decode()
    assert (
        'remediation_actions_total{action="drain",outcome="applied",rule="error-outlier"} 1.0'
        in exposition
    )


def test_resolving_the_alert_reaches_the_receiver(stack: Stack) -> None:
    pod = stack.pods[0]
    alert = outlier(pod)
    stack.alertmanager.post_alerts([alert])
    wait_for("drain", lambda: stack.state(pod) == "drained")
    stack.alertmanager.resolve([alert])
    resolved = {"source": "alertmanager", "name": "PodErrorRatioOutlier", "status": "resolved"}
    wait_for(
        "resolved delivery",
        lambda: stack.metric("remediation_signals_received_total", resolved) >= 1,
    )
    assert stack.state(pod) == "drained"  # resolving ends the signal, not the drain


def test_a_503_makes_alertmanager_deliver_again_and_the_action_happens_once(stack: Stack) -> None:
    pod = stack.pods[1]
    stack.cluster.outage = True
    stack.alertmanager.post_alerts([outlier(pod)])
    refused = {"endpoint": "alerts", "code": "503"}
    wait_for(
        "two refused deliveries",
        lambda: stack.metric("remediation_requests_rejected_total", refused) >= 2,
    )
    assert stack.state(pod) == "serving"
    stack.cluster.outage = False
    wait_for(f"{pod} drained after the outage", lambda: stack.state(pod) == "drained")
    applied = {"action": "drain", "rule": "error-outlier", "outcome": "applied"}
    assert stack.metric("remediation_actions_total", applied) == 1


def test_redelivered_alerts_of_a_growing_group_act_once(tmp_path: Path) -> None:
    # Grouped by alertname only, a second pod's alert makes Alertmanager send
    # the first pod's alert again: the same occurrence must not advance it twice.
    with start_stack(tmp_path, group_by=("alertname",)) as stack:
        first, second = stack.pods[:2]
        stack.alertmanager.post_alerts([outlier(first)])
        wait_for(f"{first} drained", lambda: stack.state(first) == "drained")
        stack.alertmanager.post_alerts([outlier(second)])
        wait_for(f"{second} drained", lambda: stack.state(second) == "drained")
        duplicate = {"reason": "duplicate"}
        wait_for(
            "the re-sent first alert",
            lambda: stack.metric("remediation_blocked_decisions_total", duplicate) >= 1,
        )
        applied = {"action": "drain", "rule": "error-outlier", "outcome": "applied"}
        assert stack.metric("remediation_actions_total", applied) == 2
        entry = next(
            e
            for e in stack.service.pipeline.decisions.since()
            if e["blocked"] and e["blocked"][0]["reason"] == "duplicate"
        )
        assert entry["signal"]["target"] == f"shop/{first}"
