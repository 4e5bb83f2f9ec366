"""The signal journal on the Kubernetes adapter: written as the service decides, replayed."""

from __future__ import annotations

import json
from pathlib import Path

from kubeapi import FakeKubeApi
from polling import wait_for
from prometheus_client import CollectorRegistry
from service_builders import BEAT_TOKEN, RUNBOOK, TOKEN, alert, auth, webhook
from starlette.testclient import TestClient

from kube.driver import FAST_RETRY, deployment
from receiver.cluster import READINESS_GATE
from receiver.commands.serve import kubernetes_service
from receiver.kube import Api
from receiver.kube.adapter import KubeOptions, connect
from receiver.metrics import Metrics
from receiver.model import PodKey
from receiver.runbook import Runbook, load_file
from receiver.scenario import journal
from receiver.scenario.replay import replay
from receiver.service.app import create_app
from receiver.service.auth import Tokens
from receiver.service.journal import JournalOptions
from receiver.service.runtime import Options, Service


def test_the_journal_of_a_service_on_kubernetes_replays_without_difference(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    deployment(fake, "shop", "checkout", replicas=10, labels={"app": "checkout"})
    path = tmp_path / "runbook.yaml"
    path.write_text(RUNBOOK, encoding="utf-8")
    runbook = load_file(path)
    metrics = Metrics(CollectorRegistry())
    api = Api(fake.api_client(), metrics=metrics, retry=FAST_RETRY, timeout=(1.0, 2.0))
    adapter = connect(
        KubeOptions(namespace="remediation", identity="receiver-0", leader_election=False),
        runbook.settings.namespaces,
        api=api,
    )
    kept = tmp_path / "journal" / "receiver-0.jsonl"
    options = Options(
        runbook_path=path,
        tokens=Tokens((TOKEN.encode(),)),
        heartbeat_tokens=Tokens((BEAT_TOKEN.encode(),)),
        handle_sighup=False,
        tick_interval=0.05,
        journal=JournalOptions(path=kept),
    )
    service = kubernetes_service(options, runbook, adapter, metrics=metrics)
    with TestClient(create_app(service)) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        for pod in ("checkout-1", "checkout-2"):
            answer = client.post("/api/v1/alerts", json=webhook(alert(pod)), headers=auth())
            assert answer.status_code == 200, answer.text
        # A restart: the evicted pod goes, a change the journal says the receiver caused.
        silent = alert("checkout-3", alertname="HeartbeatMissed")
        answer = client.post("/api/v1/alerts", json=webhook(silent), headers=auth())
        assert answer.json()["decisions"][0]["actions"][0]["action"] == "restart"
        key = PodKey("shop", "checkout-3")
        wait_for("the evicted pod to terminate", lambda: _terminating(service, key))
        late = client.post("/api/v1/alerts", json=webhook(alert("checkout-0")), headers=auth())
        assert late.status_code == 200
    lines = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    start = lines[0]
    assert start["type"] == "start"
    assert len(start["pods"]) == 10
    assert {p["owner"][1] for p in start["pods"]} == {"Deployment"}  # the top-level owner
    decided = [d for line in lines if line["type"] == "batch" for d in line["decisions"]]
    assert [d["actions"] for d in decided][:3] == [
        ["drain shop/checkout-1"],
        ["drain shop/checkout-2"],
        ["restart shop/checkout-3"],
    ]
    changed = [
        (c.get("pod") or f"{c['namespace']}/{c['name']}", c.get("cause"))
        for line in lines
        if line["type"] == "fleet"
        for c in (*line.get("set", ()), *line.get("gone", ()))
    ]
    assert changed  # terminating, or gone already: either way, the receiver's doing
    assert set(changed) == {("shop/checkout-3", "restart shop/checkout-3")}
    result = replay(runbook, journal.read([kept]))
    assert (result.signals, result.differences) == (4, ())


def test_readiness_a_gate_drain_made_is_journalled_as_the_receivers_and_replays(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    """The fake API server plays the kubelet: Ready follows the gate a moment after the
    receiver writes it; the line that shows it carries the drain as its cause."""
    deployment(
        fake,
        "shop",
        "checkout",
        replicas=4,
        labels={"app": "checkout"},
        readiness_gates=[READINESS_GATE],
    )
    path = tmp_path / "runbook.yaml"
    path.write_text(
        RUNBOOK.replace("  settle: 0s", "  settle: 0s\n  drainBy: readinessGate"), encoding="utf-8"
    )
    runbook = load_file(path)
    kept = tmp_path / "journal" / "receiver-0.jsonl"
    service = _service(fake, runbook, path, kept)
    first = PodKey("shop", "checkout-1")
    with TestClient(create_app(service)) as client:
        wait_for("leading", lambda: client.get("/readyz").json()["leader"])
        wait_for("the gates opened", lambda: _ready(service) == 4)
        answer = client.post("/api/v1/alerts", json=webhook(alert("checkout-1")), headers=auth())
        assert answer.json()["decisions"][0]["actions"][0]["action"] == "drain"
        wait_for("checkout-1 not Ready", lambda: _ready(service) == 3)
        assert service.pipeline.cluster.snapshot().pods[first].gate is False
        answer = client.post("/api/v1/alerts", json=webhook(alert("checkout-2")), headers=auth())
        assert answer.json()["decisions"][0]["actions"][0]["action"] == "drain"
    lines = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    flips = [
        (f"{p['namespace']}/{p['name']}", p["ready"], p.get("cause"))
        for line in lines
        if line["type"] == "fleet"
        for p in line.get("set", ())
        if p["name"] == "checkout-1"
    ]
    assert (str(first), False, "drain shop/checkout-1") in flips, flips
    result = replay(runbook, journal.read([kept]))
    assert (result.signals, result.differences) == (2, ())


def _service(fake: FakeKubeApi, runbook: Runbook, path: Path, kept: Path) -> Service:
    metrics = Metrics(CollectorRegistry())
    api = Api(fake.api_client(), metrics=metrics, retry=FAST_RETRY, timeout=(1.0, 2.0))
    adapter = connect(
        KubeOptions(namespace="remediation", identity="receiver-0", leader_election=False),
        runbook.settings.namespaces,
        api=api,
    )
    options = Options(
        runbook_path=path,
        tokens=Tokens((TOKEN.encode(),)),
        heartbeat_tokens=Tokens((BEAT_TOKEN.encode(),)),
        handle_sighup=False,
        tick_interval=0.05,
        journal=JournalOptions(path=kept),
    )
    return kubernetes_service(options, runbook, adapter, metrics=metrics)


def _ready(service: Service) -> int:
    return sum(p.ready for p in service.pipeline.cluster.snapshot().pods.values())


def _terminating(service: Service, key: PodKey) -> bool:
    pod = service.pipeline.cluster.snapshot().pods.get(key)
    return pod is None or pod.terminating
