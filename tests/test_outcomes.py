"""What followed a disruptive action: recovered, recurred, superseded (decide/outcomes.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import pytest
from builders import T0, alert, fleet, run, runbook, snapshot

from receiver.cluster import MemoryCluster, StateUpdate
from receiver.cluster.codec import StateCorrupt, StoredState, decode_state, encode_state
from receiver.decide import Plan, fold, hold, reset, resume, tick
from receiver.model import (
    Hold,
    HoldKind,
    Instant,
    Lifecycle,
    PodKey,
    PodState,
    Signal,
    Snapshot,
    Status,
    Target,
    Watch,
    Workload,
)
from receiver.model.watch import WATCHED_TARGETS, WATCHES_PER_TARGET
from receiver.runbook import Runbook

RUNBOOK = """
supervisors:
  - name: shop
    match: {namespace: shop}
    intensity: {max: 100, period: 1h}
    children:
      - name: checkout
        match: {app: checkout}
        intensity: {max: 2, period: 1h}
        freezeFor: 0s
rules:
  - name: crashy
    match: {alertname: Crashy}
    steps: [{restart: {}}, {restart: {}}, {restart: {}}]
    probation: 10m
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}]
    probation: 5m
  - name: trial
    match: {alertname: Trial}
    steps: [{restart: {}}]
    dryRun: true
  - name: stuck
    match: {alertname: WorkloadStuck}
    steps: [{rolloutRestart: {}}]
    probation: 10m
"""
CHECKOUT = Workload("shop", "Deployment", "checkout")
POD0 = PodKey("shop", "checkout-0")


def rb(**kwargs: str | None) -> Runbook:
    return runbook(RUNBOOK, **kwargs)  # type: ignore[arg-type]


def start() -> Snapshot:
    return snapshot(fleet("checkout", 4))


def crash(pod: str, at: Instant, name: str = "Crashy") -> list[Signal]:
    return [alert(pod, name=name, starts_at=at)]


def replaced(snap: Snapshot, key: PodKey = POD0) -> Snapshot:
    """The pod's replacement, Ready (the simulation's restarts keep the name)."""
    pod = replace(snap.pods[key], ready=True, terminating=False, lifecycle=Lifecycle())
    return replace(snap, pods={**snap.pods, key: pod})


def followups(plans: list[Plan]) -> list[str]:
    return [
        f"{f.outcome} {f.watch.action} {f.target} after {f.after:g}s"
        for plan in plans
        for f in plan.followups
    ]


def step(book: Runbook, snap: Snapshot, make: Callable[[Snapshot], Plan]) -> tuple[Snapshot, Plan]:
    plan = make(snap)
    return fold(snap, plan), plan


def test_a_restart_opens_a_watch_on_the_pods_workload_until_the_rules_probation_ends() -> None:
    snap, plans = run(rb(), start(), crash("checkout-0", T0), T0)
    assert [str(a.kind) for a in plans[0].actions] == ["restart"]
    assert snap.watches == {
        CHECKOUT: (
            Watch(
                rule="crashy",
                action="restart",
                pod="shop/checkout-0",
                at=T0,
                until=T0 + 600,
                supervisors=("checkout", "shop"),
            ),
        )
    }
    assert plans[0].followups == ()


def test_no_recurrence_within_probation_is_recovered_at_the_tick_after_it() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    snap, before = step(book, snap, lambda s: tick(book, s, T0 + 599))
    assert before.followups == ()
    snap, after = step(book, snap, lambda s: tick(book, s, T0 + 600))
    assert followups([after]) == ["recovered restart shop/deployment/checkout after 600s"]
    assert snap.watches == {}


def test_recovery_time_is_when_a_tick_first_saw_the_workload_whole_again() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    # The restarted pod is out of service until its replacement is Ready.
    snap, _ = step(book, snap, lambda s: tick(book, s, T0 + 20))
    assert snap.watches[CHECKOUT][0].healthy_at is None
    snap, _ = step(book, replaced(snap), lambda s: tick(book, s, T0 + 45))
    assert snap.watches[CHECKOUT][0].healthy_at == T0 + 45
    snap, _ = step(book, snap, lambda s: tick(book, s, T0 + 60))
    assert snap.watches[CHECKOUT][0].healthy_at == T0 + 45  # the first time counts
    _, done = step(book, snap, lambda s: tick(book, s, T0 + 600))
    assert [f.recovery for f in done.followups] == [45.0]


@pytest.mark.parametrize(
    ("signal_pod", "name", "starts", "expected"),
    [
        pytest.param(
            "checkout-0",
            "Crashy",
            T0 + 120,
            ["recurred restart shop/deployment/checkout after 120s"],
            id="the replacement signals again: recurred, 2m after",
        ),
        pytest.param(
            "checkout-3",
            "Crashy",
            T0 + 300,
            ["recurred restart shop/deployment/checkout after 300s"],
            id="another pod of the workload: the signal came back",
        ),
        pytest.param(
            "checkout-3", "Crashy", T0 - 5, [], id="an occurrence that began before the action"
        ),
        pytest.param("checkout-3", "PodErrorRatioOutlier", T0 + 60, [], id="another rule's signal"),
        pytest.param(
            "checkout-3", "Crashy", T0 + 600, [], id="after the probation: the tick decides"
        ),
    ],
)
def test_recurrence(signal_pod: str, name: str, starts: Instant, expected: list[str]) -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    if signal_pod == "checkout-0":
        snap = replaced(snap)
    _, plans = run(book, snap, crash(signal_pod, starts, name), starts)
    assert followups(plans) == expected


def test_a_recurrence_closes_the_watch_and_the_next_step_opens_another() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    snap, plans = run(book, snap, crash("checkout-1", T0 + 60), T0 + 60)
    assert followups(plans) == ["recurred restart shop/deployment/checkout after 60s"]
    assert [w.pod for w in snap.watches[CHECKOUT]] == ["shop/checkout-1"]


def test_a_drain_is_watched_from_the_action_to_the_end_of_probation_after_the_drain() -> None:
    snap, _ = run(rb(), start(), crash("checkout-0", T0, "PodErrorRatioOutlier"), T0)
    (watch,) = snap.watches[CHECKOUT]
    assert (watch.action, watch.until) == ("drain", T0 + 120 + 300)


def test_a_rollout_restart_is_watched_on_its_workload() -> None:
    snap, _ = run(rb(), start(), crash("checkout-0", T0, "WorkloadStuck"), T0)
    (watch,) = snap.watches[CHECKOUT]
    assert (watch.action, watch.pod, watch.supervisors) == (
        "rolloutRestart",
        "",
        ("checkout", "shop"),
    )


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        pytest.param("dryRun: true", "Crashy", id="a dry run does nothing, so nothing followed"),
        pytest.param("", "Trial", id="a rule on trial"),
    ],
)
def test_dry_run_opens_no_watch(settings: str, name: str) -> None:
    snap, plans = run(rb(settings=settings), start(), crash("checkout-0", T0, name), T0)
    assert plans[0].actions
    assert snap.watches == {}


def test_the_drain_that_holds_a_pod_while_its_restart_settles_is_not_watched() -> None:
    book = rb(settle="30s")
    snap, plans = run(book, start(), crash("checkout-0", T0), T0)
    assert [str(a.kind) for a in plans[0].actions] == ["drain"]
    assert snap.watches == {}
    snap, taken = step(book, snap, lambda s: tick(book, s, T0 + 30))
    assert [str(a.kind) for a in taken.actions] == ["restart"]
    assert [(w.action, w.at) for w in snap.watches[CHECKOUT]] == [("restart", T0 + 30)]


def test_an_escalation_of_a_supervisor_above_the_pod_supersedes_its_watches() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    # checkout-1 started before the first restart: no recurrence, but a second action
    snap, _ = run(book, snap, crash("checkout-1", T0 - 1), T0 + 10)
    snap, plans = run(book, snap, crash("checkout-2", T0 - 1), T0 + 20)
    assert [e.supervisor for e in plans[0].escalations] == ["checkout"]
    assert followups(plans) == [
        "superseded restart shop/deployment/checkout after 20s",
        "superseded restart shop/deployment/checkout after 10s",
    ]
    assert snap.watches == {}


def test_a_rule_on_trial_escalates_on_paper_and_supersedes_nothing() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    snap, _ = run(book, snap, crash("checkout-1", T0 - 1), T0 + 10)  # checkout's budget spent
    snap, plans = run(book, snap, crash("checkout-2", T0 - 1, "Trial"), T0 + 20)
    assert [e.supervisor for e in plans[0].escalations] == ["checkout"]
    assert plans[0].followups == ()
    assert len(snap.watches[CHECKOUT]) == 2


@pytest.mark.parametrize(
    "human",
    [
        pytest.param(lambda book, s, now: resume(book, s, POD0, now), id="resume the pod"),
        pytest.param(lambda book, s, now: reset(book, s, "shop", now), id="reset a supervisor"),
    ],
)
def test_a_human_supersedes(human: object) -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    snap, plan = step(book, snap, lambda s: human(book, s, T0 + 30))  # type: ignore[operator]
    assert followups([plan]) == ["superseded restart shop/deployment/checkout after 30s"]
    assert snap.watches == {}


def test_a_human_elsewhere_supersedes_nothing() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    _, plan = step(book, snap, lambda s: resume(book, s, PodKey("shop", "checkout-3"), T0 + 30))
    assert plan.followups == ()


def a_hold(kind: HoldKind, target: str, at: Instant) -> Hold:
    return Hold(
        id="h1",
        kind=kind,
        target=target,
        reason="investigating",
        author="alice",
        created=at,
        expires=at + 3600,
    )


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        pytest.param(HoldKind.POD, "shop/checkout-0", id="the pod acted on"),
        pytest.param(HoldKind.WORKLOAD, "shop/deployment/checkout", id="its workload"),
        pytest.param(HoldKind.SUPERVISOR, "shop", id="a supervisor above it"),
        pytest.param(HoldKind.SUPERVISOR, "checkout", id="its own supervisor"),
    ],
)
def test_a_hold_set_on_what_was_acted_on_supersedes_its_watch(kind: HoldKind, target: str) -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    snap, plan = step(book, snap, lambda s: hold(s, a_hold(kind, target, T0 + 40), T0 + 40))
    assert followups([plan]) == ["superseded restart shop/deployment/checkout after 40s"]
    assert "superseded: set hold: " in plan.followups[0].detail
    assert snap.watches == {}
    assert [h.id for h in snap.holds] == ["h1"]


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        pytest.param(HoldKind.POD, "shop/checkout-3", id="another pod"),
        pytest.param(HoldKind.WORKLOAD, "shop/deployment/cart", id="another workload"),
        pytest.param(HoldKind.SUPERVISOR, "billing", id="another supervisor"),
    ],
)
def test_a_hold_elsewhere_supersedes_nothing(kind: HoldKind, target: str) -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    snap, plan = step(book, snap, lambda s: hold(s, a_hold(kind, target, T0 + 40), T0 + 40))
    assert plan.followups == ()
    assert len(snap.watches[CHECKOUT]) == 1


def test_a_pod_without_a_controller_is_its_own_target() -> None:
    snap = start()
    lone = replace(snap.pods[POD0], owner=None)
    snap, _ = run(rb(), replace(snap, pods={**snap.pods, POD0: lone}), crash("checkout-0", T0), T0)
    assert list(snap.watches) == [POD0]


def test_watches_are_bounded_per_target_and_in_all() -> None:
    many = [
        Watch(rule="crashy", action="restart", pod="", at=T0 + i, until=T0 + 10_000)
        for i in range(WATCHES_PER_TARGET)
    ]
    snap = replace(start(), watches={CHECKOUT: tuple(many)})
    snap, _ = run(rb(), snap, crash("checkout-0", T0 - 100), T0 + 50)
    assert len(snap.watches[CHECKOUT]) == WATCHES_PER_TARGET
    assert snap.watches[CHECKOUT][-1].at == T0 + 50
    others: dict[Target, tuple[Watch, ...]] = {
        Workload("shop", "Deployment", f"other-{i}"): (replace(many[0], at=T0 - i),)
        for i in range(WATCHED_TARGETS)
    }
    snap = replace(start(), watches=others)
    snap, _ = run(rb(), snap, crash("checkout-0", T0 - 100), T0 + 50)
    assert len(snap.watches) == WATCHED_TARGETS
    assert CHECKOUT in snap.watches
    oldest = Workload("shop", "Deployment", f"other-{WATCHED_TARGETS - 1}")
    assert oldest not in snap.watches  # the one acted on longest ago makes room


def test_a_resolved_signal_decides_nothing() -> None:
    book = rb()
    snap, _ = run(book, start(), crash("checkout-0", T0), T0)
    resolved = alert("checkout-1", name="Crashy", starts_at=T0 + 60, status=Status.RESOLVED)
    _, plans = run(book, snap, [resolved], T0 + 70)
    assert followups(plans) == []


def test_no_watch_and_nothing_disruptive_leaves_the_plan_as_it_was() -> None:
    snap = start()
    plan = tick(rb(), snap, T0)
    assert (plan.watches, plan.followups) == ({}, ())
    assert snap.pods[POD0].lifecycle.state is PodState.SERVING


def test_watches_read_back_as_written() -> None:
    watches: dict[Target, tuple[Watch, ...]] = {
        CHECKOUT: (
            Watch(
                rule="crashy",
                action="restart",
                pod="shop/checkout-0",
                at=T0,
                until=T0 + 600,
                supervisors=("checkout", "shop"),
                healthy_at=T0 + 40,
            ),
        ),
        POD0: (Watch(rule="outlier", action="drain", pod="shop/checkout-0", at=T0, until=T0 + 1),),
    }
    assert decode_state(encode_state(StoredState(watches=watches))).watches == watches
    assert decode_state({}).watches == {}


def test_mangled_watches_are_state_corrupt_naming_the_key() -> None:
    with pytest.raises(StateCorrupt, match="state object, watches"):
        decode_state({"watches": '[{"namespace": "shop"}]'})


def test_the_memory_cluster_keeps_watches_in_its_state_object_and_closes_them() -> None:
    cluster = MemoryCluster(clock=lambda: T0, traffic_label="remediation/traffic")
    kept = (Watch(rule="crashy", action="restart", pod="", at=T0, until=T0 + 600),)

    def save(watches: dict[Target, tuple[Watch, ...]]) -> None:
        update = StateUpdate(workloads={}, supervisors={}, recent_actions=None, watches=watches)
        asyncio.run(cluster.save_state(update))

    save({CHECKOUT: kept})
    assert dict(cluster.snapshot().watches) == {CHECKOUT: kept}
    assert decode_state(cluster._state_data).watches == {CHECKOUT: kept}
    save({CHECKOUT: ()})
    assert dict(cluster.snapshot().watches) == {}
