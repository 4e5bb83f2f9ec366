"""A service on the in-memory cluster with a clock the test moves, for API and pipeline tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from receiver.cluster import MemoryCluster
from receiver.metrics import Metrics
from receiver.model import Workload
from receiver.runbook import load_file
from receiver.service.app import create_app
from receiver.service.auth import Tokens
from receiver.service.runtime import Options, Service
from receiver.service.serve import build

TOKEN = "webhook-token-0123456789"
BEAT_TOKEN = "heartbeat-token-0123456789"
T0 = 1_767_225_600.0

RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop]
  settle: 0s  # restarts at once here; test_settle.py has the settle window through the service
heartbeats:
  - match: {namespace: shop}
    interval: 5s
    missAfter: 3
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 20, period: 10m}
    guards: {maxUnavailable: 50%, maxUnhealthy: 50%}
rules:
  - name: error-outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}, {restart: {}}]
  - name: degraded
    match: {alertname: HeartbeatDegraded}
    steps: [{drain: {for: 1m}}]
  - name: silent
    match: {alertname: "=~HeartbeatMissed|HeartbeatFailing"}
    steps: [{restart: {}}]
"""


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    service: Service
    cluster: MemoryCluster
    clock: Clock
    registry: CollectorRegistry
    runbook_path: Path

    def client(self) -> TestClient:
        return TestClient(create_app(self.service))

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0


def harness(
    tmp_path: Path, *, runbook: str = RUNBOOK, replicas: int = 4, **options: Any
) -> Harness:
    path = tmp_path / "runbook.yaml"
    path.write_text(runbook, encoding="utf-8")
    loaded = load_file(path)
    clock = Clock()
    cluster = MemoryCluster(clock=clock, traffic_label=loaded.settings.traffic_label)
    cluster.add_workload(
        Workload("shop", "Deployment", "checkout"),
        replicas=replicas,
        labels={"app": "checkout"},
        max_unavailable=replicas,
    )
    registry = CollectorRegistry()
    settings = Options(
        runbook_path=path,
        tokens=Tokens((TOKEN.encode(),)),
        heartbeat_tokens=Tokens((BEAT_TOKEN.encode(),)),
        handle_sighup=False,
        **options,
    )
    service = build(settings, loaded, cluster, metrics=Metrics(registry), clock=clock)
    return Harness(service, cluster, clock, registry, path)


def pods(h: Harness) -> list[str]:
    return sorted(key.name for key in h.cluster.snapshot().pods)


def alert(
    pod: str, *, status: str = "firing", starts: str = "2026-01-01T00:00:00Z", **labels: str
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "PodErrorRatioOutlier", "namespace": "shop", "pod": pod, **labels},
        "annotations": {"summary": "error ratio 5x the fleet"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-01-01T00:05:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": f"fp-{pod}-{labels.get('alertname', 'outlier')}",
    }


def webhook(*alerts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="PodErrorRatioOutlier"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "remediation",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
        **extra,
    }


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(payload: Any) -> bytes:
    return json.dumps(payload).encode()
