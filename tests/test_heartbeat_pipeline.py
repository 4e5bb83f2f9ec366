"""Heartbeats through the pipeline on a simulated clock: deadlines, grace, batches, mass silence.

The runbook expects a beat every 5s from shop pods and declares a miss after
3 silent intervals (15 s). The fleet is 4 checkout pods whose guards allow 50%
unavailable and call more than 50% signalling systemic.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from service_builders import RUNBOOK, Harness, harness

from receiver.ingest import Beat
from receiver.model import HeartbeatStatus, PodKey, Workload


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return harness(tmp_path)


def keys(h: Harness) -> list[PodKey]:
    return sorted(h.cluster.snapshot().pods)


def push(h: Harness, *beats: tuple[PodKey, HeartbeatStatus]) -> list[str]:
    batch = [Beat(key, status, "", None) for key, status in beats]
    results, outcome = asyncio.run(h.service.pipeline.heartbeats(batch, h.clock.now))
    assert outcome.unavailable is None
    return results


def tick_at(h: Harness, seconds: float) -> None:
    h.clock.now += seconds
    asyncio.run(h.service.pipeline.tick())


def states(h: Harness) -> dict[str, str]:
    return {p.name: str(p.lifecycle.state) for p in h.cluster.snapshot().pods.values()}


def decided(h: Harness) -> list[tuple[str, str, str]]:
    """(signal, target, what happened) for every decision on a signal so far."""
    out = []
    for entry in h.service.pipeline.decisions.since():
        if entry["signal"] is None:
            continue
        what = [a["action"] for a in entry["actions"]] or [b["reason"] for b in entry["blocked"]]
        out.append((entry["signal"]["name"], entry["signal"]["target"], ",".join(what)))
    return out


def test_no_miss_is_declared_within_one_deadline_of_start(h: Harness) -> None:
    tick_at(h, 14)
    assert h.service.pipeline.heartbeats_due.tracker.missed_total == 0
    assert decided(h) == []


def test_a_silent_pod_is_declared_missed_and_restarted(h: Harness) -> None:
    silent, *others = keys(h)
    for _ in range(4):  # the others beat every 5 s for 20 s
        push(h, *((k, HeartbeatStatus.OK) for k in others))
        tick_at(h, 5)
    assert decided(h) == [("HeartbeatMissed", str(silent), "restart")]
    assert h.cluster.evictions == [silent]
    assert h.metric("remediation_heartbeat_deadlines_missed_total") == 1


def test_a_beat_after_a_miss_resolves_it(tmp_path: Path) -> None:
    # No rule for HeartbeatMissed here, so the silent pod stays around to beat again.
    quiet_runbook = RUNBOOK.replace('"=~HeartbeatMissed|HeartbeatFailing"', "HeartbeatFailing")
    h = harness(tmp_path, runbook=quiet_runbook)
    quiet, *others = keys(h)
    for _ in range(4):
        push(h, *((k, HeartbeatStatus.OK) for k in others))
        tick_at(h, 5)
    assert decided(h) == [("HeartbeatMissed", str(quiet), "no_rule")]
    h.clock.now += 1
    push(h, (quiet, HeartbeatStatus.OK))
    assert decided(h)[-1] == ("HeartbeatMissed", str(quiet), "resolved")


def test_mass_silence_is_systemic_not_a_restart_storm(h: Harness) -> None:
    tick_at(h, 16)  # nobody ever beat: every pod's first deadline passes together
    outcomes = [what for _, _, what in decided(h)]
    assert outcomes == ["systemic", "frozen", "frozen", "frozen"]
    assert h.cluster.evictions == []
    assert (
        h.metric("remediation_escalations_total", {"supervisor": "checkout", "cause": "systemic"})
        == 1
    )
    assert h.metric("remediation_heartbeat_deadlines_missed_total") == 4


def test_a_batch_is_observed_as_a_whole(h: Harness) -> None:
    a, b, c, _ = keys(h)
    # Two degraded of four is not more than 50%: both drained (maxUnavailable 50% = 2).
    assert push(h, (a, HeartbeatStatus.DEGRADED), (b, HeartbeatStatus.DEGRADED)) == ["accepted"] * 2
    assert [what for *_, what in decided(h)] == ["drain", "drain"]
    # A third one now makes three of four signalling: systemic.
    push(h, (c, HeartbeatStatus.DEGRADED))
    assert decided(h)[-1] == ("HeartbeatDegraded", str(c), "systemic")


def test_terminating_pods_are_forgotten_and_replacements_get_their_own_grace(h: Harness) -> None:
    first, second, *others = keys(h)
    asyncio.run(h.cluster.evict(first))  # gone after 1 s; its replacement starts at +3 s
    h.clock.now += 3
    (replacement,) = set(keys(h)) - {second, *others}
    for _ in range(2):
        push(h, *((k, HeartbeatStatus.OK) for k in others))
        tick_at(h, 5)
    tick_at(h, 3)  # +16 s: one deadline after the receiver started
    # second never beat: missed. first is gone, never missed; its replacement
    # started at +3 s, so its own deadline is +18 s.
    assert [(name, target) for name, target, _ in decided(h)] == [("HeartbeatMissed", str(second))]
    push(h, *((k, HeartbeatStatus.OK) for k in others))
    tick_at(h, 3)  # +19 s
    assert decided(h)[-1][:2] == ("HeartbeatMissed", str(replacement))


def test_unknown_pods_are_not_tracked(h: Harness) -> None:
    assert push(h, (PodKey("shop", "ghost"), HeartbeatStatus.OK)) == ["unknown_pod"]
    assert len(h.service.pipeline.heartbeats_due.tracker) == 0


def test_an_eviction_a_budget_refuses_is_reported_and_retried_with_back_off(
    h: Harness,
) -> None:
    cart = Workload("shop", "Deployment", "cart")
    sick, slow, *_ = h.cluster.add_workload(
        cart, replicas=4, labels={"app": "checkout"}, max_unavailable=1
    )
    h.cluster.set_ready(slow, False)  # the PDB's one allowed disruption is spent
    push(h, (sick, HeartbeatStatus.FAILING))
    (entry,) = h.service.pipeline.decisions.since()
    actions = [(a["action"], a["outcome"], a["reason"]) for a in entry["actions"]]
    assert actions == [("restart", "blocked", "pdb")]
    assert states(h)[sick.name] == "restarted"  # out of traffic while it waits
    tick_at(h, 1)  # the first retry is due 0.5-1 s after the refusal: refused again
    assert h.cluster.evictions == []
    assert h.service.pipeline.applier.evictions.pending[sick][0] == 2
    h.cluster.set_ready(slow, True)
    tick_at(h, 0.4)  # the next one waits 1-2 s
    assert h.cluster.evictions == []
    tick_at(h, 1.7)
    assert h.cluster.evictions == [sick]
    assert h.service.pipeline.applier.evictions.pending == {}
    labels = {"action": "restart", "rule": "silent", "outcome": "blocked"}
    assert h.metric("remediation_actions_total", labels) == 1


def test_a_statefulset_replacement_that_never_beats_is_missed_in_its_own_right(
    h: Harness,
) -> None:
    """The successor keeps the name; the predecessor's miss is not its, its own silence is."""
    db = h.cluster.add_workload(
        Workload("shop", "StatefulSet", "db"), replicas=3, labels={"app": "checkout"}
    )
    silent, *_ = db
    original = h.cluster.snapshot().pods[silent].uid
    everyone_else = [k for k in keys(h) if k != silent]
    for _ in range(4):  # +20 s: db-0 missed its first deadline and was restarted
        push(h, *((k, HeartbeatStatus.OK) for k in everyone_else))
        tick_at(h, 5)
    assert decided(h) == [("HeartbeatMissed", str(silent), "restart")]
    for _ in range(12):  # +80 s: the successor started at about +18 s and never beat
        push(h, *((k, HeartbeatStatus.OK) for k in everyone_else))
        tick_at(h, 5)
    assert h.cluster.snapshot().pods[silent].uid != original
    entries = [e for e in h.service.pipeline.decisions.since() if e["signal"]]
    # Its predecessor's miss (at +15 s) was not the successor's to act on again; its own
    # silence, one deadline after it started (+18 s), is, and so on for each successor.
    assert [(e["signal"]["startsAt"][11:19], e["actions"][0]["action"]) for e in entries] == [
        ("00:00:15", "restart"),
        ("00:00:35", "restart"),
        ("00:00:55", "restart"),
        ("00:01:15", "restart"),
    ]
