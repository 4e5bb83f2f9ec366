"""The settle window: a restart or pause waits, out of traffic, and is decided again.

Tables on the pure core (decide, then tick when the window ends), and the
window's state surviving a receiver restart on the memory cluster. The
storm cases (a fleet failing one report at a time) are runbook tests in
rules/storm.test.yaml.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from builders import T0, alert, fleet, run, runbook, snapshot, summary
from prometheus_client import CollectorRegistry
from service_builders import RUNBOOK, harness

from receiver.cluster.codec import decode_lifecycle, encode_lifecycle
from receiver.decide import fold, observe, resume, tick
from receiver.ingest import Beat
from receiver.metrics import Metrics
from receiver.model import HeartbeatStatus, PodKey, PodState, Signal, Snapshot, Status
from receiver.runbook import Runbook
from receiver.service.serve import build

BODY = """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 10, period: 10m}
    guards: {maxUnavailable: 2}
    children:
      - name: quick
        match: {tier: quick}
        intensity: {max: 10, period: 10m}
        guards: {settle: 0s}
rules:
  - name: restart
    match: {alertname: PodErrorRatioOutlier}
    steps: [{restart: {}}]
  - name: pause
    match: {alertname: PodHung}
    steps: [{pause: {}}]
"""
KEY = PodKey("shop", "checkout-0")


def start(settle: str | None = "15s") -> tuple[Runbook, Snapshot]:
    return runbook(BODY, settle=settle), snapshot(fleet(labels={"app": "checkout"}))


def at(rb: Runbook, snap: Snapshot, seconds: float) -> tuple[Snapshot, list[str]]:
    plan = tick(rb, snap, T0 + seconds)
    return fold(snap, plan), summary(plan)


@pytest.mark.parametrize(
    ("name", "step", "state"),
    [
        ("PodErrorRatioOutlier", "restart", PodState.RESTARTED),
        ("PodHung", "pause", PodState.PAUSED),
    ],
)
def test_the_step_waits_out_of_traffic_then_is_taken(name: str, step: str, state: str) -> None:
    rb, snap = start()
    snap, plans = run(rb, snap, [alert(name=name)], T0)

    assert summary(plans[0]) == ["drain shop/checkout-0", "blocked settling shop/checkout-0"]
    assert snap.pods[KEY].lifecycle.state is PodState.SETTLING
    assert snap.pods[KEY].out_of_service
    snap, nothing = at(rb, snap, 14)
    assert nothing == []
    snap, taken = at(rb, snap, 15)
    assert taken == [f"{step} shop/checkout-0"]
    assert snap.pods[KEY].lifecycle.state is state


def test_a_signal_resolved_within_the_window_cancels_the_step() -> None:
    rb, snap = start()
    snap, _ = run(rb, snap, [alert()], T0)
    snap, _ = run(rb, snap, [alert(status=Status.RESOLVED)], T0 + 5)

    snap, done = at(rb, snap, 15)

    assert done == ["restore shop/checkout-0"]
    assert snap.pods[KEY].lifecycle.state is PodState.PROBATION
    assert snap.pods[KEY].lifecycle.attempts == 0  # a recurrence takes the same step again


def test_pending_steps_count_against_the_guards_while_they_wait() -> None:
    rb, snap = start()
    pods = [alert(f"checkout-{i}", starts_at=T0 + i) for i in range(3)]

    _, plans = run(rb, snap, pods, T0 + 3)

    assert [summary(p)[-1] for p in plans] == [
        "blocked settling shop/checkout-0",
        "blocked settling shop/checkout-1",
        "blocked max_unavailable shop/checkout-2",  # two pending are the two allowed
    ]


def test_a_redelivery_while_the_step_waits_is_a_duplicate() -> None:
    rb, snap = start()
    snap, _ = run(rb, snap, [alert()], T0)
    _, plans = run(rb, snap, [alert()], T0 + 5)
    assert summary(plans[0]) == ["blocked duplicate shop/checkout-0"]


def test_a_human_resume_cancels_the_pending_step() -> None:
    rb, snap = start()
    snap, _ = run(rb, snap, [alert()], T0)
    snap = fold(snap, resume(rb, snap, KEY, T0 + 5))
    snap, done = at(rb, snap, 20)
    assert done == []
    assert snap.pods[KEY].lifecycle.state is PodState.SERVING


@pytest.mark.parametrize(
    ("settle", "labels", "first"),
    [
        ("0s", {"app": "checkout"}, "restart shop/checkout-0"),  # opted out in the settings
        ("15s", {"app": "checkout", "tier": "quick"}, "restart shop/checkout-0"),  # supervisor
        (None, {"app": "checkout"}, "drain shop/checkout-0"),  # the default: 10s here
    ],
)
def test_the_nearest_setting_decides_the_window(
    settle: str | None, labels: dict[str, str], first: str
) -> None:
    rb = runbook(BODY, settle=settle)
    snap = snapshot(fleet(labels=labels))
    _, plans = run(rb, snap, [alert()], T0)
    assert summary(plans[0])[0] == first
    assert rb.settle_default == (10.0 if settle is None else 15.0 if settle == "15s" else 0.0)


def test_the_pending_step_is_written_down_with_the_pod() -> None:
    rb, snap = start()
    snap, _ = run(rb, snap, [alert()], T0)
    lifecycle = snap.pods[KEY].lifecycle
    assert decode_lifecycle(encode_lifecycle(lifecycle)) == lifecycle
    assert lifecycle.pending == "restart"


def test_a_restarted_receiver_takes_the_step_its_predecessor_left_pending(
    tmp_path: Path,
) -> None:
    """The window's state is the pod's annotations: a new process over the same cluster
    (a restart, a fail-over) decides it again when the window ends."""
    text = RUNBOOK.replace("  settle: 0s", "  settle: 10s")
    first = harness(tmp_path, runbook=text)
    sick = sorted(first.cluster.snapshot().pods)[0]
    beat = [Beat(sick, HeartbeatStatus.FAILING, "", None)]
    asyncio.run(first.service.pipeline.heartbeats(beat, first.clock.now))
    assert first.cluster.snapshot().pods[sick].lifecycle.state is PodState.SETTLING

    # A new process: nothing but the cluster (the pods' annotations) is kept.
    second = build(
        first.service.options,
        first.service.pipeline.runbook,
        first.cluster,
        metrics=Metrics(CollectorRegistry()),
        clock=first.clock,
    )
    first.clock.now += 10
    asyncio.run(second.pipeline.tick())

    assert first.cluster.evictions == [sick]


ROLLOUT = """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 10, period: 10m}
    guards: {maxUnhealthy: 50%}
rules:
  - name: stuck
    match: {alertname: WorkloadStuck}
    steps: [{rolloutRestart: {}}, {notify: oncall}]
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{rolloutRestart: {}}]
notifiers:
  oncall: {log: {}}
"""
WORKLOAD = "shop/deployment/checkout"


def rollout_start() -> tuple[Runbook, Snapshot]:
    return runbook(ROLLOUT, settle="15s"), snapshot(fleet(labels={"app": "checkout"}))


@pytest.mark.parametrize(
    "signal",
    [
        alert(None, name="WorkloadStuck", deployment="checkout"),  # names the workload
        alert("checkout-3"),  # names one of its pods
    ],
    ids=["a workload's signal", "a pod's signal"],
)
def test_a_rules_rollout_restart_waits_then_is_taken(signal: Signal) -> None:
    rb, snap = rollout_start()
    snap, plans = run(rb, snap, [signal], T0)
    assert summary(plans[0]) == [f"blocked settling {WORKLOAD}"]
    snap, again = run(rb, snap, [signal], T0 + 5)
    assert summary(again[0])[0].startswith("blocked ")  # duplicate or in progress: not twice
    snap, nothing = at(rb, snap, 14)
    assert nothing == []
    _, taken = at(rb, snap, 15)
    assert taken == [f"rolloutRestart {WORKLOAD}"]


def test_a_rollout_restart_is_not_taken_when_the_fleet_turned_systemic() -> None:
    rb, snap = rollout_start()
    snap, _ = run(rb, snap, [alert("checkout-0")], T0)
    others = [alert(f"checkout-{i}", starts_at=T0 + i) for i in range(1, 6)]
    snap = fold(snap, observe(rb, snap, others, T0 + 6))  # 6 of 10 signalling

    _, done = at(rb, snap, 15)

    assert done == [
        f"blocked systemic {WORKLOAD}",
        "escalated checkout systemic",
    ]


def test_a_rollout_restart_is_not_taken_when_nothing_signals_any_more() -> None:
    rb, snap = rollout_start()
    signal = alert(None, name="WorkloadStuck", deployment="checkout")
    snap, _ = run(rb, snap, [signal], T0)
    resolved = alert(None, name="WorkloadStuck", deployment="checkout", status=Status.RESOLVED)
    snap, _ = run(rb, snap, [resolved], T0 + 5)

    snap, done = at(rb, snap, 15)

    assert done == [f"blocked resolved {WORKLOAD}"]
    later = alert(None, name="WorkloadStuck", deployment="checkout", starts_at=T0 + 60)
    _, plans = run(rb, snap, [later], T0 + 60)
    assert summary(plans[0]) == [f"blocked settling {WORKLOAD}"]  # the same step again
