"""The runbook index, the per-decision fleet and the tick's index answer as the plain walks do."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import T0, alert, fleet, in_state, runbook, snapshot, with_pod

from receiver.decide import decide, fold, tick
from receiver.decide.draft import Draft
from receiver.decide.index import index
from receiver.decide.tree import Tree, chain_for, pod_labels
from receiver.model import Pod, PodKey, PodState, Snapshot, Workload
from receiver.model.fleet import TIMED, pod_key

TREE = """
supervisors:
  - name: shop
    match: {namespace: shop}
    intensity: {max: 100, period: 1h}
    children:
      - name: canary
        match: {pod: "=~.*-canary-.*"}
        intensity: {max: 100, period: 1h}
      - name: by-workload
        match: {workload: checkout, tier: "!=batch"}
        intensity: {max: 100, period: 1h}
        guards: {maxUnavailable: 50%}
      - name: rest
        match: {}
        intensity: {max: 100, period: 1h}
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier, severity: "=~warning|critical"}
    steps: [{drain: {for: 2m}}]
  - name: scoped
    supervisor: canary
    match: {alertname: Scoped}
    steps: [{drain: {for: 2m}}]
  - name: anything
    match: {alertname: Scoped}
    steps: [{drain: {for: 2m}}]
"""


def pods() -> list[Pod]:
    checkout = Workload("shop", "Deployment", "checkout")
    return [
        Pod(namespace="shop", name="checkout-0", labels={"tier": "web"}, owner=checkout),
        Pod(namespace="shop", name="checkout-1", labels={"tier": "batch"}, owner=checkout),
        Pod(namespace="shop", name="checkout-2", labels={}, owner=checkout),
        Pod(namespace="shop", name="checkout-canary-0", labels={"tier": "web"}, owner=checkout),
        Pod(namespace="shop", name="loose", labels={"workload": "checkout"}),
        Pod(namespace="shop", name="loose-2", labels={"workload": "other"}),
        Pod(namespace="other", name="checkout-3", labels={"tier": "web"}, owner=checkout),
    ]


@pytest.mark.parametrize("pod", pods(), ids=lambda p: f"{p.namespace}/{p.name}")
def test_chain_from_the_index_is_the_walk(pod: Pod) -> None:
    rb = runbook(TREE)
    idx = index(rb)
    assert idx.chain(pod) == chain_for(rb, pod_labels(pod))
    assert idx.chain(pod) is idx.chain(pod)  # remembered


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"alertname": "PodErrorRatioOutlier", "severity": "warning"}, ["outlier"]),
        ({"alertname": "PodErrorRatioOutlier", "severity": "info"}, []),
        ({"alertname": "PodErrorRatioOutlier"}, []),
        ({"alertname": "Scoped", "extra": "x"}, ["scoped", "anything"]),
    ],
    ids=["matches", "regex refuses", "absent label is empty", "in runbook order"],
)
def test_rules_matching(labels: dict[str, str], expected: list[str]) -> None:
    rb = runbook(TREE)
    assert [r.name for r in index(rb).rules_matching(labels)] == expected


def test_a_rule_bound_to_a_supervisor_needs_it_on_the_chain() -> None:
    rb = runbook(TREE)
    snap = snapshot({p.key: p for p in pods()})
    plain = decide(rb, snap, alert("checkout-0", name="Scoped"), T0)
    canary = decide(rb, snap, alert("checkout-canary-0", name="Scoped"), T0)
    assert [a.rule for a in plain.actions] == ["anything"]
    assert [a.rule for a in canary.actions] == ["scoped"]


def test_each_runbook_version_has_its_own_index() -> None:
    first, second = runbook(TREE), runbook(TREE)
    assert index(first) is index(first)
    assert index(second) is not index(first)
    assert index(first).runbook is first


def test_fleet_is_built_again_once_the_draft_changes_a_pod() -> None:
    rb = runbook(TREE)
    snap = snapshot(fleet("checkout", 4, labels={"tier": "web"}))
    draft = Draft(snap, T0)
    tree = Tree(rb, draft)
    pod = snap.pods[PodKey("shop", "checkout-0")]
    supervisor = rb.by_name["by-workload"]
    before = tree.fleet(supervisor, pod)
    assert tree.fleet(supervisor, pod) is before
    draft.set_lifecycle(PodKey("shop", "checkout-1"), in_state(PodState.DRAINED, until=T0 + 60))
    after = tree.fleet(supervisor, pod)
    assert after is not before
    assert sum(p.out_of_service for p in after) == 1


def test_draft_reads_its_own_writes() -> None:
    snap = snapshot(fleet("checkout", 2))
    draft = Draft(snap, T0)
    key = PodKey("shop", "checkout-0")
    assert draft.pod(key) is snap.pods[key]
    drained = in_state(PodState.DRAINED, until=T0 + 60)
    draft.set_lifecycle(key, drained)
    pod = draft.pod(key)
    assert pod is not None
    assert pod.lifecycle is drained
    assert draft.pod(key) is pod  # the overlaid pod is made once
    draft.set_lifecycle(key, in_state(PodState.PAUSED))
    again = draft.pod(key)
    assert again is not None
    assert again.lifecycle.state is PodState.PAUSED


def test_pod_key_is_a_pod_key() -> None:
    key = pod_key("shop", "a")
    assert type(key) is PodKey
    assert key == PodKey("shop", "a")
    assert hash(key) == hash(PodKey("shop", "a"))
    assert str(key) == "shop/a"


def _timed(snap: Snapshot) -> Snapshot:
    return replace(
        snap,
        timed={k for k, p in snap.pods.items() if p.lifecycle.state in TIMED},
    )


def test_tick_with_the_timed_index_is_the_tick_by_scan() -> None:
    rb = runbook(TREE)
    snap = snapshot(fleet("checkout", 6, labels={"tier": "web"}))
    snap = with_pod(snap, "checkout-4", lifecycle=in_state(PodState.DRAINED, until=T0 + 10))
    snap = with_pod(snap, "checkout-1", lifecycle=in_state(PodState.DRAINED, until=T0 + 10))
    snap = with_pod(snap, "checkout-2", lifecycle=in_state(PodState.PROBATION, until=T0 + 5))
    snap = with_pod(snap, "checkout-3", lifecycle=in_state(PodState.DRAINED, until=T0 + 99))
    scanned = tick(rb, snap, T0 + 20)
    indexed = tick(rb, _timed(snap), T0 + 20)
    assert indexed == scanned
    # Restores due in the same tick come in pod key order.
    assert [a.pod for a in scanned.actions] == [
        PodKey("shop", "checkout-1"),
        PodKey("shop", "checkout-4"),
    ]
    assert set(scanned.pods) == {
        PodKey("shop", n) for n in ("checkout-1", "checkout-2", "checkout-4")
    }


def test_fold_keeps_the_timed_index_current() -> None:
    rb = runbook(TREE)
    snap = _timed(snapshot(fleet("checkout", 3, labels={"tier": "web"})))
    plan = decide(rb, snap, alert("checkout-0", severity="warning"), T0)
    assert [a.kind for a in plan.actions] == ["drain"]
    after = fold(snap, plan)
    assert after.timed == {PodKey("shop", "checkout-0")}
    later = fold(after, tick(rb, after, T0 + 121))
    assert later.timed == {PodKey("shop", "checkout-0")}  # drained -> probation
    assert fold(snap, plan).timed is not snap.timed
    assert fold(snapshot(fleet()), plan).timed is None
