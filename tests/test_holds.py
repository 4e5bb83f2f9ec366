"""Operator holds: the `held` guard, setting and lifting them, pruning, and persistence."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from builders import T0, alert, fleet, run, runbook, snapshot, summary

from receiver.cluster import StateUpdate
from receiver.cluster.codec import StateCorrupt, StoredState, decode_state, encode_state
from receiver.cluster.memory import MemoryCluster
from receiver.decide import HoldRefused, fold, hold, tick, unhold
from receiver.decide.guards import check_held
from receiver.decide.operator import MAX_HOLDS
from receiver.decide.tree import chain_for, pod_labels
from receiver.ingest.holds import MAX_REASON
from receiver.model import (
    MAX_HOLDS_BYTES,
    Hold,
    HoldKind,
    PodKey,
    PodState,
    Reason,
    Snapshot,
    Workload,
    holds_bytes,
)
from receiver.report.holds import covering

RUNBOOK = """
supervisors:
  - name: shop
    match: {namespace: shop}
    intensity: {max: 100, period: 10m}
    children:
      - name: checkout
        match: {app: checkout}
        intensity: {max: 100, period: 10m}
      - name: cart
        match: {app: cart}
        intensity: {max: 1, period: 10m}
        onEscalate: [{rolloutRestart: {}}]
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}, {restart: {}}]
  - name: notify
    match: {alertname: Told}
    steps: [{notify: oncall}]
  - name: rollout
    match: {alertname: Rollout}
    steps: [{rolloutRestart: {}}]
notifiers:
  oncall:
    log: {}
"""


RESTARTS = """
  - name: restarts
    match: {alertname: Restart}
    steps: [{restart: {}}]
"""
"""A rule more for RUNBOOK: one that restarts (after the settle window)."""
IN_TRAFFIC = {PodState.SERVING, PodState.PROBATION}


def a_hold(kind: HoldKind, target: str, *, expires: float = T0 + 3600, id: str = "h1") -> Hold:
    return Hold(
        id=id,
        kind=kind,
        target=target,
        reason="investigating",
        author="alice",
        created=T0 - 60,
        expires=expires,
    )


def held(*holds: Hold) -> Snapshot:
    fleets = snapshot(fleet("checkout", 10), fleet("cart", 4, kind="StatefulSet"))
    return replace(fleets, holds=holds)


@pytest.mark.parametrize(
    ("holds", "signal", "expected"),
    [
        pytest.param(
            (a_hold(HoldKind.POD, "shop/checkout-0"),),
            alert("checkout-0"),
            ["blocked held shop/checkout-0"],
            id="a held pod is not drained",
        ),
        pytest.param(
            (a_hold(HoldKind.POD, "shop/checkout-1"),),
            alert("checkout-0"),
            ["drain shop/checkout-0"],
            id="a hold on another pod changes nothing",
        ),
        pytest.param(
            (a_hold(HoldKind.POD, "shop/checkout-0", expires=T0),),
            alert("checkout-0"),
            ["drain shop/checkout-0"],
            id="an expired hold is ignored",
        ),
        pytest.param(
            (a_hold(HoldKind.WORKLOAD, "shop/deployment/checkout"),),
            alert("checkout-3"),
            ["blocked held shop/checkout-3"],
            id="a workload hold covers its pods",
        ),
        pytest.param(
            (a_hold(HoldKind.WORKLOAD, "shop/statefulset/cart"),),
            alert("checkout-3"),
            ["drain shop/checkout-3"],
            id="a workload hold covers only its own pods",
        ),
        pytest.param(
            (a_hold(HoldKind.SUPERVISOR, "checkout"),),
            alert("checkout-3"),
            ["blocked held shop/checkout-3"],
            id="a supervisor hold covers the pods under it",
        ),
        pytest.param(
            (a_hold(HoldKind.SUPERVISOR, "shop"),),
            alert("cart-1"),
            ["blocked held shop/cart-1"],
            id="a supervisor hold covers its whole subtree",
        ),
        pytest.param(
            (a_hold(HoldKind.SUPERVISOR, "cart"),),
            alert("checkout-3"),
            ["drain shop/checkout-3"],
            id="a sibling supervisor's hold changes nothing",
        ),
        pytest.param(
            (a_hold(HoldKind.POD, "shop/checkout-0"),),
            alert("checkout-0", name="Told"),
            ["blocked held shop/checkout-0"],
            id="a held pod's notifications are held too",
        ),
        pytest.param(
            (a_hold(HoldKind.WORKLOAD, "shop/deployment/checkout"),),
            alert("checkout-0", name="Rollout"),
            ["blocked held shop/deployment/checkout"],
            id="a held workload is not rollout-restarted",
        ),
    ],
)
def test_the_held_guard(holds: tuple[Hold, ...], signal: object, expected: list[str]) -> None:
    _, plans = run(runbook(RUNBOOK), held(*holds), [signal], T0)  # type: ignore[list-item]
    assert summary(plans[0]) == expected


def test_a_page_lists_the_holds_the_guard_heeds() -> None:
    rb = runbook(RUNBOOK)
    holds = (
        a_hold(HoldKind.POD, "shop/checkout-0", id="pod"),
        a_hold(HoldKind.POD, "shop/checkout-1", expires=T0, id="expired"),
        a_hold(HoldKind.WORKLOAD, "shop/statefulset/cart", id="workload"),
        a_hold(HoldKind.SUPERVISOR, "checkout", id="supervisor"),
    )
    snap = held(*holds)
    shown = {}
    for pod in snap.pods.values():
        chain = chain_for(rb, pod_labels(pod))
        above = [s.name for s in chain]
        page = covering(snap, T0, pod=pod.key, owner=pod.owner, supervisors=above)
        heeded = {h.id for h in holds if check_held((h,), pod, chain, T0) is not None}
        assert {h["id"] for h in page} == heeded, pod.key
        shown[str(pod.key)] = sorted(h["id"] for h in page)
    assert shown["shop/checkout-0"] == ["pod", "supervisor"]
    assert shown["shop/checkout-1"] == ["supervisor"]
    assert shown["shop/cart-2"] == ["workload"]
    absent = covering(snap, T0, pod=PodKey("shop", "checkout-0"), owner=None, supervisors=())
    assert [h["id"] for h in absent] == ["pod"]  # a pod gone from the cluster: its own hold
    supervisor_page = covering(snap, T0, pod=None, owner=None, supervisors=["checkout", "shop"])
    assert [h["id"] for h in supervisor_page] == ["supervisor"]


def test_the_held_decision_names_the_hold() -> None:
    rb = runbook(RUNBOOK)
    _, plans = run(rb, held(a_hold(HoldKind.SUPERVISOR, "checkout")), [alert("checkout-0")], T0)
    blocked = plans[0].blocked[0]
    assert blocked.reason is Reason.HELD
    assert blocked.reason.is_guard
    assert blocked.supervisor == "checkout"
    assert blocked.detail == (
        "supervisor checkout is held by alice until 2026-01-01T01:00:00Z (hold h1): investigating"
    )


def test_a_held_workload_is_spared_an_ancestors_escalation() -> None:
    """cart escalates (intensity 1) and rollout-restarts its workloads, but one is held."""
    rb = runbook(RUNBOOK)
    snap = held(a_hold(HoldKind.POD, "shop/cart-3"))
    snap, _ = run(rb, snap, [alert("cart-0")], T0)
    _, plans = run(rb, snap, [alert("cart-1")], T0 + 1)
    assert "escalated cart intensity" in summary(plans[0])
    assert "blocked held shop/statefulset/cart" in summary(plans[0])
    assert not [a for a in plans[0].actions if a.workload is not None]


def test_setting_and_lifting_a_hold_prunes_expired_ones() -> None:
    old = a_hold(HoldKind.POD, "shop/checkout-1", expires=T0 - 1, id="old")
    snap = held(old)
    new = a_hold(HoldKind.POD, "shop/checkout-0")
    plan = hold(snap, new, T0)
    assert plan.holds == (new,)
    assert plan.operator == (
        "set hold: pod shop/checkout-0 is held by alice until 2026-01-01T01:00:00Z (hold h1): "
        "investigating"
    )
    snap = fold(snap, plan)
    with pytest.raises(HoldRefused, match="a hold with id h1 is in force already"):
        hold(snap, new, T0)
    lifted = unhold(snap, "h1", T0)
    assert lifted.holds == ()
    assert lifted.operator == "lift hold h1 on pod shop/checkout-0 (set by alice: investigating)"
    with pytest.raises(LookupError, match="no hold h1 in force"):
        unhold(snap, "h1", T0 + 3600)  # it expired


def test_holds_are_bounded() -> None:
    many = tuple(a_hold(HoldKind.POD, f"shop/p-{i}", id=f"h{i}") for i in range(MAX_HOLDS))
    with pytest.raises(HoldRefused, match=f"{MAX_HOLDS} holds are in force"):
        hold(held(*many), a_hold(HoldKind.POD, "shop/checkout-0", id="new"), T0)


def test_the_holds_share_of_the_state_object_is_bounded_in_bytes() -> None:
    """Holds of the longest reason the API takes, in characters JSON escapes at 12 bytes each
    (\\ud83d\\ude80): they fill the holds' share long before MAX_HOLDS, and the next is refused."""
    snap = held()
    longest = "\U0001f680" * MAX_REASON
    n = 0

    def next_hold() -> Hold:
        return replace(a_hold(HoldKind.POD, f"shop/p-{n}", id=f"h{n}"), reason=longest)

    while holds_bytes((*snap.holds, next_hold())) <= MAX_HOLDS_BYTES:
        snap = fold(snap, hold(snap, next_hold(), T0))
        n += 1
    with pytest.raises(HoldRefused, match=f"more than its {MAX_HOLDS_BYTES} for holds"):
        hold(snap, next_hold(), T0)
    assert 0 < n < MAX_HOLDS
    encoded = encode_state(StoredState(holds=snap.holds))["holds"]
    assert MAX_HOLDS_BYTES - len(encoded) < 13 * MAX_REASON  # full: one more would not fit
    assert len(encoded.encode()) == holds_bytes(snap.holds) <= MAX_HOLDS_BYTES


def test_a_tick_prunes_expired_holds_and_only_then_writes() -> None:
    rb = runbook(RUNBOOK)
    keep = a_hold(HoldKind.POD, "shop/checkout-0", expires=T0 + 60, id="keep")
    gone = a_hold(HoldKind.POD, "shop/checkout-1", expires=T0, id="gone")
    assert tick(rb, held(keep, gone), T0).holds == (keep,)
    assert tick(rb, held(keep), T0).holds is None


def test_holds_round_trip_through_the_state_codec() -> None:
    holds = (
        a_hold(HoldKind.POD, "shop/checkout-0", id="a"),
        a_hold(HoldKind.WORKLOAD, "shop/deployment/checkout", id="b"),
        a_hold(HoldKind.SUPERVISOR, "shop", id="c"),
    )
    data = encode_state(StoredState(holds=holds))
    assert decode_state(data).holds == holds
    assert decode_state(data) == StoredState(holds=holds)
    assert "holds" not in encode_state(StoredState())  # state without holds reads as before
    assert decode_state({}).holds == ()
    with pytest.raises(StateCorrupt, match="state object, holds"):
        decode_state({"holds": '[{"id": "a"}]'})


def test_the_memory_cluster_keeps_holds_in_its_state_object() -> None:
    cluster = MemoryCluster(clock=lambda: T0, traffic_label="remediation/traffic")
    cluster.add_workload(Workload("shop", "Deployment", "checkout"), replicas=2, labels={})
    before = cluster.snapshot()
    holds = (a_hold(HoldKind.POD, "shop/checkout-0"),)
    asyncio.run(
        cluster.save_state(
            StateUpdate(workloads={}, supervisors={}, recent_actions=None, holds=holds)
        )
    )
    assert before.holds == ()
    assert cluster.snapshot().holds == holds
    assert decode_state(cluster._state_data).holds == holds
    asyncio.run(cluster.save_state(StateUpdate(workloads={}, supervisors={}, recent_actions=None)))
    assert cluster.snapshot().holds == holds  # None: unchanged


def test_a_hold_does_not_keep_a_pod_out_of_traffic_automation_took_it_out_of() -> None:
    """Ending what automation started is not a new action: a held drained pod is restored
    when its drain ends, and a held settling pod goes back into traffic (its restart
    blocked `held`). To keep a pod out for an investigation, take it out yourself."""
    rb = runbook(RUNBOOK.replace("notifiers:", RESTARTS.lstrip("\n") + "notifiers:"), settle="10s")
    snap, plans = run(rb, held(), [alert("checkout-0"), alert("checkout-1", name="Restart")], T0)
    assert summary(plans[0]) == ["drain shop/checkout-0"]
    assert snap.pods[PodKey("shop", "checkout-1")].lifecycle.state is PodState.SETTLING
    for n, target in enumerate(("shop/checkout-0", "shop/checkout-1")):
        snap = fold(snap, hold(snap, a_hold(HoldKind.POD, target, id=f"h{n}"), T0 + 1))
    settled = tick(rb, snap, T0 + 11)
    assert "blocked held shop/checkout-1" in summary(settled)
    assert "restore shop/checkout-1" in summary(settled)
    assert settled.pods[PodKey("shop", "checkout-1")].state in IN_TRAFFIC
    snap = fold(snap, settled)
    drained = tick(rb, snap, T0 + 121)
    assert summary(drained) == ["restore shop/checkout-0"]
    assert drained.pods[PodKey("shop", "checkout-0")].state in IN_TRAFFIC
