"""drainBy: which write takes a pod out of traffic (its label or its readiness gate), from
the settings or the nearest supervisor; the loader's errors; the in-memory cluster's model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from service_builders import BEAT_TOKEN, TOKEN, Clock, alert, auth, webhook
from service_builders import RUNBOOK as SERVICE_RUNBOOK
from starlette.testclient import TestClient

from receiver.act.traffic import pod_patch
from receiver.cluster import READINESS_GATE, EvictionRefused, MemoryCluster, PodPatch, Traffic
from receiver.commands.runbooks import drain_summary
from receiver.metrics import Metrics
from receiver.model import Pod, PodKey, Workload
from receiver.runbook import RunbookInvalid, load_file, load_text
from receiver.runbook.types import DrainBy
from receiver.service.app import create_app
from receiver.service.auth import Tokens
from receiver.service.runtime import Options
from receiver.service.serve import build

RUNBOOK = """\
apiVersion: remediation/v1
kind: Runbook
settings:
  namespaces: [shop]
  drainBy: {settings}
supervisors:
  - name: shop
    match: {{namespace: shop}}
    intensity: {{max: 5, period: 10m}}
    children:
      - name: cart
        match: {{app: cart}}
        intensity: {{max: 5, period: 10m}}
        drainBy: readinessGate
      - name: web
        match: {{app: web}}
        intensity: {{max: 5, period: 10m}}
"""
LABEL = "remediation/traffic"


def pod(app: str, *, gate: bool | None, traffic: str | None = None) -> Pod:
    labels = {"app": app} | ({LABEL: traffic} if traffic else {})
    return Pod(namespace="shop", name=f"{app}-0", labels=labels, gate=gate)


# (settings.drainBy, pod, traffic) -> (label written, gate written)
CASES = {
    "label: relabels": ("label", pod("web", gate=None), Traffic.OFF, (Traffic.OFF, None)),
    "label, gated pod: the gate follows": ("label", pod("web", gate=True), Traffic.OFF,
                                           (Traffic.OFF, False)),
    "gate: the condition, no label": ("readinessGate", pod("web", gate=True), Traffic.OFF,
                                      (None, False)),
    "gate: a pause too": ("readinessGate", pod("web", gate=True), Traffic.PAUSED, (None, False)),
    "gate: restore": ("readinessGate", pod("web", gate=False, traffic="on"), Traffic.ON,
                      (None, True)),
    "gate: a restore puts a label left off back on": (
        "readinessGate", pod("web", gate=False, traffic="off"), Traffic.ON, (Traffic.ON, True)),
    "gate, pod without it: relabelled": ("readinessGate", pod("web", gate=None), Traffic.OFF,
                                         (Traffic.OFF, None)),
    "supervisor overrides label settings": ("label", pod("cart", gate=True), Traffic.OFF,
                                            (None, False)),
    "child without drainBy inherits settings": ("readinessGate", pod("web", gate=True),
                                                Traffic.OFF, (None, False)),
}  # fmt: skip


@pytest.mark.parametrize(("settings", "target", "traffic", "written"), CASES.values(), ids=CASES)
def test_the_write_that_takes_a_pod_out_of_traffic(
    settings: str, target: Pod, traffic: Traffic, written: tuple[Traffic | None, bool | None]
) -> None:
    runbook = load_text(RUNBOOK.format(settings=settings))
    patch = pod_patch(runbook, target.key, target, None, traffic)
    assert (patch.traffic, patch.gate) == written
    assert patch.traffic_label == LABEL


def test_no_traffic_change_writes_neither() -> None:
    runbook = load_text(RUNBOOK.format(settings="readinessGate"))
    target = pod("cart", gate=True)
    assert pod_patch(runbook, target.key, target, None, None) == PodPatch(key=target.key)


def test_the_loader_reads_both_levels_and_names_a_wrong_value() -> None:
    runbook = load_text(RUNBOOK.format(settings="label"))
    assert runbook.settings.drain_by is DrainBy.LABEL
    assert runbook.by_name["cart"].drain_by is DrainBy.READINESS_GATE
    assert runbook.by_name["web"].drain_by is None
    with pytest.raises(RunbookInvalid) as raised:
        load_text(RUNBOOK.format(settings="gate"))
    assert 'settings.drainBy: found "gate", expected one of: label, readinessGate' in str(
        raised.value
    )


def test_the_memory_cluster_holds_a_gated_pod_out_and_its_budget_counts_it() -> None:
    cluster = MemoryCluster(clock=lambda: 0.0, traffic_label=LABEL)
    checkout = Workload("shop", "Deployment", "checkout")
    keys = cluster.add_workload(
        checkout, replicas=2, labels={"app": "checkout"}, readiness_gate=True
    )
    first: PodKey = keys[0]
    assert cluster.snapshot().pods[first].gate is True
    asyncio.run(cluster.patch_pod(PodPatch(key=first, gate=False)))
    drained = cluster.snapshot().pods[first]
    assert (drained.gate, drained.ready) == (False, False)
    assert drained.labels.get(LABEL) == "on"  # the label is not how it left
    with pytest.raises(EvictionRefused):  # the budget sees one pod unavailable already
        asyncio.run(cluster.evict(keys[1]))
    asyncio.run(cluster.patch_pod(PodPatch(key=first, gate=True)))
    assert cluster.snapshot().pods[first].ready
    assert READINESS_GATE == "remediation/traffic"


def test_the_service_drains_and_restores_a_gated_pod_by_its_gate(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(
        SERVICE_RUNBOOK.replace("  settle: 0s", "  settle: 0s\n  drainBy: readinessGate"),
        encoding="utf-8",
    )
    runbook = load_file(path)
    clock = Clock()
    cluster = MemoryCluster(clock=clock, traffic_label=LABEL)
    cluster.add_workload(
        Workload("shop", "Deployment", "checkout"),
        replicas=4,
        labels={"app": "checkout"},
        readiness_gate=True,
    )
    options = Options(
        runbook_path=path,
        tokens=Tokens((TOKEN.encode(),)),
        heartbeat_tokens=Tokens((BEAT_TOKEN.encode(),)),
        handle_sighup=False,
    )
    service = build(options, runbook, cluster, metrics=Metrics(CollectorRegistry()), clock=clock)
    key = PodKey("shop", "checkout-1")
    with TestClient(create_app(service)) as client:
        sent = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert sent.json()["decisions"][0]["actions"][0]["action"] == "drain"
        drained = cluster.snapshot().pods[key]
        assert (drained.gate, drained.ready, drained.labels[LABEL]) == (False, False, "on")
        clock.now += 121  # the 2m drain is over: the tick restores it
        asyncio.run(service.pipeline.transitions())
    restored = cluster.snapshot().pods[key]
    assert (restored.gate, restored.ready) == (True, True)


def test_check_says_how_drains_leave_traffic_when_a_gate_does() -> None:
    assert drain_summary(load_text(RUNBOOK.format(settings="label"))) == (
        "drains relabel remediation/traffic (settings.drainBy); "
        "below cart set the readiness gate remediation/traffic False"
    )
    plain = load_text(RUNBOOK.format(settings="label").replace("drainBy: readinessGate", ""))
    assert drain_summary(plain) is None  # the usual case says nothing new
