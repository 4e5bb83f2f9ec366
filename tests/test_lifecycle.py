"""Pod lifecycle transitions and the non-actions of decide(), as tables."""

from __future__ import annotations

from dataclasses import replace

import pytest
from builders import T0, alert, fleet, in_state, run, runbook, snapshot, summary, with_pod

from receiver.decide import decide, fold, resume, tick
from receiver.model import Lifecycle, PodKey, PodState, Status, Workload, heartbeat_signal
from receiver.model.fleet import ACTIVE_KEPT

RUNBOOK = """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 100, period: 10m}
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}, {drain: {for: 5m}}, {restart: {}}]
    probation: 10m
  - name: paging
    match: {alertname: PagingOnly}
    steps: [{notify: oncall}]
    exhausted: none
  - name: restart-workload
    match: {alertname: WorkloadStuck}
    steps: [{rolloutRestart: {}}, {notify: oncall}]
notifiers:
  oncall: {log: {}}
"""
KEY = PodKey("shop", "checkout-0")


def at(state: PodState, **fields: object) -> Lifecycle:
    return in_state(state, **fields)


# id, lifecycle before, signal, expected summary, expected state, expected attempts
SIGNAL_CASES = [
    (
        "serving pod takes the first step",
        Lifecycle(),
        alert(),
        ["drain shop/checkout-0"],
        PodState.DRAINED,
        1,
    ),
    (
        "recurrence in probation takes the next step",
        at(PodState.PROBATION, rule="outlier", attempts=1, until=T0 + 60),
        alert(),
        ["drain shop/checkout-0"],
        PodState.DRAINED,
        2,
    ),
    (
        "third occurrence restarts",
        at(PodState.PROBATION, rule="outlier", attempts=2, until=T0 + 60),
        alert(),
        ["restart shop/checkout-0"],
        PodState.RESTARTED,
        3,
    ),
    (
        "steps exhausted: pause by default",
        at(PodState.PROBATION, rule="outlier", attempts=3, until=T0 + 60),
        alert(),
        ["pause shop/checkout-0"],
        PodState.PAUSED,
        4,
    ),
    (
        "probation under another rule starts that rule afresh",
        at(PodState.PROBATION, rule="paging", attempts=1, until=T0 + 60),
        alert(),
        ["drain shop/checkout-0"],
        PodState.DRAINED,
        1,
    ),
    (
        "drained pod: in progress",
        at(PodState.DRAINED, rule="outlier", attempts=1, until=T0 + 60),
        alert(),
        ["blocked in_progress shop/checkout-0"],
        PodState.DRAINED,
        1,
    ),
    (
        "paused pod waits for a human",
        at(PodState.PAUSED, rule="outlier", attempts=4),
        alert(),
        ["blocked paused shop/checkout-0"],
        PodState.PAUSED,
        4,
    ),
    (
        "restarted pod: in progress",
        at(PodState.RESTARTED, rule="outlier", attempts=3),
        alert(),
        ["blocked in_progress shop/checkout-0"],
        PodState.RESTARTED,
        3,
    ),
    (
        "the same occurrence never advances twice",
        at(
            PodState.PROBATION,
            rule="outlier",
            attempts=1,
            until=T0 + 60,
            handled=(alert().occurrence,),
        ),
        alert(),
        ["blocked duplicate shop/checkout-0"],
        PodState.PROBATION,
        1,
    ),
    (
        "a new occurrence of the same alert is not a duplicate",
        at(
            PodState.PROBATION,
            rule="outlier",
            attempts=1,
            until=T0 + 60,
            handled=(alert(starts_at=T0 - 300).occurrence,),
        ),
        alert(),
        ["drain shop/checkout-0"],
        PodState.DRAINED,
        2,
    ),
    (
        "resolved: nothing to do",
        Lifecycle(),
        alert(status=Status.RESOLVED),
        ["blocked resolved shop/checkout-0"],
        PodState.SERVING,
        0,
    ),
    (
        "no rule matches",
        Lifecycle(),
        alert(name="SomethingElse"),
        ["blocked no_rule shop/checkout-0"],
        PodState.SERVING,
        0,
    ),
    (
        "notify step leaves the pod in traffic, on probation",
        Lifecycle(),
        alert(name="PagingOnly"),
        ["notify oncall"],
        PodState.PROBATION,
        1,
    ),
    (
        "exhausted: none blocks",
        at(PodState.PROBATION, rule="paging", attempts=1, until=T0 + 60),
        alert(name="PagingOnly"),
        ["blocked exhausted shop/checkout-0"],
        PodState.PROBATION,
        1,
    ),
    (
        "rolloutRestart step on a pod restarts its workload",
        Lifecycle(),
        alert(name="WorkloadStuck"),
        ["rolloutRestart shop/deployment/checkout"],
        PodState.PROBATION,
        1,
    ),
]


@pytest.mark.parametrize(
    ("before", "signal", "expected", "state", "attempts"),
    [pytest.param(*case[1:], id=case[0]) for case in SIGNAL_CASES],
)
def test_signal_transitions(
    before: Lifecycle, signal, expected: list[str], state: PodState, attempts: int
) -> None:
    rb = runbook(RUNBOOK)
    snap = with_pod(snapshot(fleet()), "checkout-0", lifecycle=before)
    snap, plans = run(rb, snap, [signal], T0)
    assert summary(plans[0]) == expected
    assert snap.pods[KEY].lifecycle.state is state
    assert snap.pods[KEY].lifecycle.attempts == attempts


# id, lifecycle before, now, expected summary, expected state, expected attempts
TICK_CASES = [
    (
        "drain over: restore into probation",
        at(PodState.DRAINED, rule="outlier", attempts=1, until=T0),
        T0,
        ["restore shop/checkout-0"],
        PodState.PROBATION,
        1,
    ),
    (
        "drain not over yet",
        at(PodState.DRAINED, rule="outlier", attempts=1, until=T0 + 1),
        T0,
        [],
        PodState.DRAINED,
        1,
    ),
    (
        "probation passed: serving, attempts reset",
        at(PodState.PROBATION, rule="outlier", attempts=2, until=T0),
        T0,
        [],
        PodState.SERVING,
        0,
    ),
    (
        "a long-missed drain restores and passes probation at once",
        at(PodState.DRAINED, rule="outlier", attempts=1, until=T0 - 3600),
        T0,
        ["restore shop/checkout-0"],
        PodState.PROBATION,
        1,
    ),
    (
        "paused pods stay paused",
        at(PodState.PAUSED, rule="outlier", attempts=4),
        T0 + 86400,
        [],
        PodState.PAUSED,
        4,
    ),
]


@pytest.mark.parametrize(
    ("before", "now", "expected", "state", "attempts"),
    [pytest.param(*case[1:], id=case[0]) for case in TICK_CASES],
)
def test_time_transitions(
    before: Lifecycle, now: float, expected: list[str], state: PodState, attempts: int
) -> None:
    rb = runbook(RUNBOOK)
    snap = with_pod(snapshot(fleet()), "checkout-0", lifecycle=before)
    plan = tick(rb, snap, now)
    snap = fold(snap, plan)
    assert summary(plan) == expected
    assert snap.pods[KEY].lifecycle.state is state
    assert snap.pods[KEY].lifecycle.attempts == attempts


def test_restored_pod_waits_out_its_probation_window() -> None:
    rb = runbook(RUNBOOK)
    snap = with_pod(
        snapshot(fleet()),
        "checkout-0",
        lifecycle=at(PodState.DRAINED, rule="outlier", attempts=1, until=T0),
    )
    snap = fold(snap, tick(rb, snap, T0))
    assert snap.pods[KEY].lifecycle.until == T0 + 600
    assert fold(snap, tick(rb, snap, T0 + 599)).pods[KEY].lifecycle.state is PodState.PROBATION
    assert fold(snap, tick(rb, snap, T0 + 600)).pods[KEY].lifecycle.state is PodState.SERVING


def test_a_signal_first_applies_due_transitions() -> None:
    """A drain that ended between ticks is restored before the signal is decided."""
    rb = runbook(RUNBOOK)
    drained = at(PodState.DRAINED, rule="outlier", attempts=1, until=T0 - 1)
    snap = with_pod(snapshot(fleet()), "checkout-0", lifecycle=drained)
    _, plans = run(rb, snap, [alert()], T0)
    assert summary(plans[0]) == ["restore shop/checkout-0", "drain shop/checkout-0"]


def test_resume_puts_a_paused_pod_back_with_a_clean_slate() -> None:
    rb = runbook(RUNBOOK)
    snap = with_pod(
        snapshot(fleet()), "checkout-0", lifecycle=at(PodState.PAUSED, rule="outlier", attempts=4)
    )
    plan = resume(rb, snap, KEY, T0)
    assert summary(plan) == ["restore shop/checkout-0"]
    lifecycle = fold(snap, plan).pods[KEY].lifecycle
    assert (lifecycle.state, lifecycle.attempts, lifecycle.rule) == (PodState.SERVING, 0, None)


def test_resume_of_an_unknown_pod_is_an_error() -> None:
    with pytest.raises(LookupError, match="no pod shop/nope"):
        resume(runbook(RUNBOOK), snapshot(fleet()), PodKey("shop", "nope"), T0)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        pytest.param(
            {"alertname": "X", "namespace": "shop"},
            "blocked no_target",
            id="no pod and no workload label",
        ),
        pytest.param(
            {"alertname": "X", "pod": "checkout-0"}, "blocked no_target", id="no namespace label"
        ),
        pytest.param(
            {"alertname": "PodErrorRatioOutlier", "namespace": "shop", "pod": "gone-1"},
            "blocked unknown_target shop/gone-1",
            id="pod not in the cluster",
        ),
    ],
)
def test_targets_that_cannot_be_resolved(labels: dict[str, str], expected: str) -> None:
    signal = replace(alert(), labels=labels)
    plan = decide(runbook(RUNBOOK), snapshot(fleet()), signal, T0)
    assert summary(plan) == [expected]


@pytest.mark.parametrize(
    ("created_at", "status", "expected"),
    [
        pytest.param(
            T0 + 30, Status.FIRING, ["blocked predates_pod shop/db-0"], id="firing, began earlier"
        ),
        pytest.param(
            T0 + 30, Status.RESOLVED, ["blocked predates_pod shop/db-0"], id="resolved, earlier"
        ),
        pytest.param(T0, Status.FIRING, ["drain shop/db-0"], id="began as the pod was created"),
        pytest.param(None, Status.FIRING, ["drain shop/db-0"], id="creation time not known"),
    ],
)
def test_an_alert_that_began_before_the_pod_is_about_an_earlier_pod_of_its_name(
    created_at: float | None, status: Status, expected: list[str]
) -> None:
    """A StatefulSet's replacement keeps the name; the alert it inherits is not about it."""
    rb = runbook(RUNBOOK.replace("{app: checkout}", "{app: db}", 1))
    snap = with_pod(snapshot(fleet("db", 3, kind="StatefulSet")), "db-0", created_at=created_at)
    after, plans = run(rb, snap, [alert("db-0", status=status)], T0 + 60)
    assert summary(plans[0]) == expected
    if "predates_pod" in expected[0]:
        assert after.pods[PodKey("shop", "db-0")].lifecycle == Lifecycle()  # not even tracked
        assert plans[0].blocked[0].detail == (
            "the signal started 30s before this pod was created: "
            "it is about an earlier pod of the same name"
        )


def test_unsupervised_pods_are_left_alone() -> None:
    rb = runbook(RUNBOOK)
    snap = snapshot(fleet("cart", 2))
    _, plans = run(rb, snap, [alert("cart-0")], T0)
    assert summary(plans[0]) == ["blocked unsupervised shop/cart-0"]


def test_rule_scoped_to_a_supervisor() -> None:
    rb = runbook(
        """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 100, period: 10m}
  - name: cart
    match: {app: cart}
    intensity: {max: 100, period: 10m}
rules:
  - name: cart-only
    supervisor: cart
    match: {alertname: PodErrorRatioOutlier}
    steps: [{restart: {}}]
  - name: everyone-else
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 1m}}]
"""
    )
    snap = snapshot(fleet(), fleet("cart", 2))
    _, plans = run(rb, snap, [alert("cart-0"), alert("checkout-0")], T0)
    assert [summary(p) for p in plans] == [["restart shop/cart-0"], ["drain shop/checkout-0"]]


class TestWorkloadSignals:
    WORKLOAD = Workload("shop", "Deployment", "checkout")

    def test_rollout_restart_then_notify_then_exhausted(self) -> None:
        rb = runbook(RUNBOOK)
        snap = snapshot(fleet())
        first = alert(None, name="WorkloadStuck", deployment="checkout")
        snap, plans = run(rb, snap, [first], T0)
        assert summary(plans[0]) == ["rolloutRestart shop/deployment/checkout"]
        snap, plans = run(rb, snap, [first], T0 + 10)
        assert summary(plans[0]) == ["blocked duplicate shop/deployment/checkout"]
        second = alert(None, name="WorkloadStuck", deployment="checkout", starts_at=T0 + 60)
        snap, plans = run(rb, snap, [second], T0 + 60)
        assert summary(plans[0]) == ["notify oncall"]
        third = alert(None, name="WorkloadStuck", deployment="checkout", starts_at=T0 + 120)
        _, plans = run(rb, snap, [third], T0 + 120)
        assert summary(plans[0]) == ["blocked invalid_target shop/deployment/checkout"]

    def test_attempts_reset_after_the_probation_window(self) -> None:
        rb = runbook(RUNBOOK)
        snap = snapshot(fleet())
        snap, _ = run(rb, snap, [alert(None, name="WorkloadStuck", deployment="checkout")], T0)
        later = alert(None, name="WorkloadStuck", deployment="checkout", starts_at=T0 + 601)
        _, plans = run(rb, snap, [later], T0 + 601)
        assert summary(plans[0]) == ["rolloutRestart shop/deployment/checkout"]

    def test_pod_steps_cannot_target_a_workload(self) -> None:
        rb = runbook(RUNBOOK)
        signal = alert(None, deployment="checkout")
        _, plans = run(rb, snapshot(fleet()), [signal], T0)
        assert summary(plans[0]) == ["blocked invalid_target shop/deployment/checkout"]


class TestDryRun:
    def test_global_dry_run_decides_the_same_and_marks_every_action(self) -> None:
        live = runbook(RUNBOOK)
        dry = runbook(RUNBOOK, settings="dryRun: true")
        snap = snapshot(fleet())
        live_snap, live_plans = run(live, snap, [alert()], T0)
        dry_snap, dry_plans = run(dry, snap, [alert()], T0)
        assert summary(dry_plans[0]) == ["drain shop/checkout-0 (dry-run)"]
        assert [a.kind for a in dry_plans[0].actions] == [a.kind for a in live_plans[0].actions]
        assert dry_snap.pods[KEY].lifecycle == live_snap.pods[KEY].lifecycle
        assert summary(tick(dry, dry_snap, T0 + 120)) == ["restore shop/checkout-0 (dry-run)"]

    def test_per_rule_dry_run(self) -> None:
        rb = runbook(RUNBOOK.replace("    probation: 10m", "    probation: 10m\n    dryRun: true"))
        _, plans = run(rb, snapshot(fleet()), [alert(), alert("checkout-1", name="PagingOnly")], T0)
        assert [summary(p) for p in plans] == [
            ["drain shop/checkout-0 (dry-run)"],
            ["notify oncall"],
        ]


def test_attempts_survive_only_within_probation() -> None:
    """A flapping pod escalates through the steps; a quiet one starts over."""
    rb = runbook(RUNBOOK)
    snap = snapshot(fleet())
    steps = []
    for when in (0, 200, 700):
        now = T0 + when
        snap = fold(snap, tick(rb, snap, now))
        snap, plans = run(rb, snap, [alert(starts_at=now)], now)
        steps.append(summary(plans[0])[-1])
    assert steps == ["drain shop/checkout-0", "drain shop/checkout-0", "restart shop/checkout-0"]
    assert snap.pods[KEY].lifecycle.attempts == 3


def test_a_recurrence_after_notify_takes_the_next_step() -> None:
    rb = runbook(
        RUNBOOK.replace(
            "steps: [{notify: oncall}]\n    exhausted: none",
            "steps: [{notify: oncall}, {restart: {}}]\n    exhausted: none",
        )
    )
    snap, plans = run(rb, snapshot(fleet()), [alert(name="PagingOnly")], T0)
    assert summary(plans[0]) == ["notify oncall"]
    assert snap.pods[KEY].lifecycle.last_action_at is None, "a notification starts no cooldown"
    later = alert(name="PagingOnly", starts_at=T0 + 60)
    _, plans = run(rb, snap, [later], T0 + 60)
    assert summary(plans[0]) == ["restart shop/checkout-0"]


def test_heartbeats_resolve_their_pod_whatever_the_target_labels() -> None:
    rb = runbook(
        RUNBOOK.replace("PodErrorRatioOutlier}", "HeartbeatFailing}"),
        settings="targetLabels: {namespace: k8s_namespace, pod: k8s_pod}",
    )
    signal = heartbeat_signal(
        name="HeartbeatFailing",
        status=Status.FIRING,
        namespace="shop",
        pod="checkout-0",
        pod_labels={"app": "checkout"},
        starts_at=T0,
        now=T0,
    )
    _, plans = run(rb, snapshot(fleet()), [signal], T0)
    assert summary(plans[0]) == ["drain shop/checkout-0"]


def test_a_dry_run_restart_counts_the_pod_out_until_a_live_one_would_be_back() -> None:
    rb = runbook(RUNBOOK, settings="dryRun: true\nrestartTime: 30s")
    before = at(PodState.PROBATION, rule="outlier", attempts=2, until=T0 + 60)
    snap = with_pod(snapshot(fleet()), "checkout-0", lifecycle=before)
    snap, plans = run(rb, snap, [alert()], T0)
    assert summary(plans[0]) == ["restart shop/checkout-0 (dry-run)"]
    lifecycle = snap.pods[KEY].lifecycle
    assert lifecycle.state is PodState.RESTARTED  # counted unavailable, as a live restart is
    assert snap.pods[KEY].out_of_service
    _, plans = run(rb, snap, [alert()], T0 + 10)
    assert summary(plans[0]) == ["blocked duplicate shop/checkout-0"]
    snap = fold(snap, tick(rb, snap, T0 + 30))  # restartTime later: the fresh pod
    lifecycle = snap.pods[KEY].lifecycle
    assert (lifecycle.state, lifecycle.attempts, lifecycle.last_action_at) == (
        PodState.SERVING,
        0,
        None,
    )
    _, plans = run(rb, snap, [alert()], T0 + 40)
    assert summary(plans[0]) == ["blocked duplicate shop/checkout-0"]


def test_a_pods_list_of_firing_signals_is_bounded() -> None:
    """Senders choose how many distinct alerts name one pod; the pod keeps the newest."""
    state = Lifecycle()
    for i in range(ACTIVE_KEPT + 50):
        state = state.with_signal(f"fp-{i}", T0 + 600 + i, T0)
    assert len(state.active) == ACTIVE_KEPT
    assert state.active[-1] == (f"fp-{ACTIVE_KEPT + 49}", T0 + 600 + ACTIVE_KEPT + 49)
