"""Alert batches through the pipeline: what is written, recorded and counted per decision.

Plans without effects are not handed to the applier; these tests pin down
that nothing observable changes for it: guard holds still leave an Event,
re-deliveries write nothing, and every decision is counted once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from service_builders import RUNBOOK, Harness, harness

from receiver.cluster import PodPatch
from receiver.ingest import parse_webhook
from receiver.model import Lifecycle, PodKey, Signal, Workload


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def signals(h: Harness, *pods: str, starts: str = "2026-01-01T00:00:00Z") -> tuple[Signal, ...]:
    alerts = ",".join(
        f'{{"status":"firing","labels":{{"alertname":"PodErrorRatioOutlier","namespace":"shop",'
        f'"pod":"{pod}"}},"startsAt":"{starts}","fingerprint":"fp-{pod}"}}'
        for pod in pods
    )
    body = f'{{"version":"4","alerts":[{alerts}]}}'.encode()
    return parse_webhook(body, h.clock.now).signals


def send(h: Harness, batch: tuple[Signal, ...]) -> list[str]:
    outcome = asyncio.run(h.service.pipeline.alerts(batch))
    assert outcome.unavailable is None
    return [
        ",".join([a["action"] for a in e["actions"]] + [b["reason"] for b in e["blocked"]])
        for e in outcome.entries
    ]


def names(h: Harness) -> list[str]:
    return sorted(key.name for key in h.cluster.snapshot().pods)


def test_a_redelivery_writes_nothing_and_is_counted_per_alert(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    pods = names(h)[:2]
    assert send(h, signals(h, *pods)) == ["drain", "drain"]
    writes: list[PodPatch] = []
    patch = h.cluster.patch_pod

    async def counted(p: PodPatch) -> None:
        writes.append(p)
        await patch(p)

    monkeypatch.setattr(h.cluster, "patch_pod", counted)
    events = len(h.cluster.events)
    h.clock.now += 10

    assert send(h, signals(h, *pods)) == ["duplicate", "duplicate"]
    assert send(h, signals(h, *pods)) == ["duplicate", "duplicate"]

    assert writes == []
    assert len(h.cluster.events) == events
    assert h.metric("remediation_blocked_decisions_total", {"reason": "duplicate"}) == 4
    labels = {"source": "alertmanager", "name": "PodErrorRatioOutlier", "status": "firing"}
    assert h.metric("remediation_signals_received_total", labels) == 6


def test_a_guard_hold_still_leaves_an_event_on_the_pod(h: Harness) -> None:
    first, second, third, _ = names(h)
    assert send(h, signals(h, first, second)) == ["drain", "drain"]
    events = len(h.cluster.events)

    # 3 of 4 pods signalling: more than maxUnhealthy 50%.
    assert send(h, signals(h, third, starts="2026-01-01T00:01:00Z")) == ["systemic"]

    (event,) = list(h.cluster.events)[events:]
    assert event.reason == "RemediationBlocked"
    assert event.subject == f"shop/{third}"
    assert h.metric("remediation_blocked_decisions_total", {"reason": "systemic"}) == 1


def test_a_statefulset_replacement_does_not_inherit_the_alert_its_predecessor_got(
    tmp_path: Path,
) -> None:
    """The successor keeps the name (and the alert's labels), not the occurrence."""
    h = harness(
        tmp_path, runbook=RUNBOOK.replace("[{drain: {for: 2m}}, {restart: {}}]", "[{restart: {}}]")
    )
    h.cluster.add_workload(
        Workload("shop", "StatefulSet", "db"), replicas=3, labels={"app": "checkout"}
    )
    first = signals(h, "db-0", starts="2026-01-01T00:00:00Z")
    assert send(h, first) == ["restart"]
    old = h.cluster.snapshot().pods[PodKey("shop", "db-0")]
    h.clock.now += 60  # the eviction went through; db-0 is back under its name
    new = h.cluster.snapshot().pods[PodKey("shop", "db-0")]
    assert new.uid != old.uid
    assert new.ready

    assert send(h, signals(h, "db-0", starts="2026-01-01T00:00:00Z")) == ["predates_pod"]
    assert h.cluster.snapshot().pods[new.key].lifecycle == Lifecycle()
    assert h.metric("remediation_blocked_decisions_total", {"reason": "predates_pod"}) == 1
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h.clock.now))
    assert send(h, signals(h, "db-0", starts=later)) == ["restart"]  # a new occurrence is its own


def test_a_frozen_subtree_leaves_one_event_per_pod_for_the_whole_freeze(h: Harness) -> None:
    first, second, third, fourth = names(h)
    send(h, signals(h, first, second))
    assert send(h, signals(h, third, starts="2026-01-01T00:01:00Z")) == ["systemic"]
    events = len(h.cluster.events)

    for minute in range(2, 5):  # three new occurrences while checkout is frozen
        h.clock.now += 60
        starts = f"2026-01-01T00:0{minute}:00Z"
        assert send(h, signals(h, fourth, starts=starts)) == ["frozen"]

    told = [e for e in list(h.cluster.events)[events:] if e.subject == f"shop/{fourth}"]
    assert [e.reason for e in told] == ["RemediationBlocked"]
    assert h.metric("remediation_blocked_decisions_total", {"reason": "frozen"}) == 3
