"""Every guard, as a table: the runbook's guard, the fleet's condition, the verdict."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from builders import T0, alert, fleet, in_state, run, runbook, snapshot, summary, with_pod

from receiver.model import PodState, Snapshot, Status, SupervisorState

RULE = """
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}]
"""


def supervised(guards: str, *, extra: str = "") -> str:
    return f"""
supervisors:
  - name: checkout
    match: {{app: checkout}}
    intensity: {{max: 100, period: 10m}}
    guards: {guards}
{extra}{RULE}"""


def drained(snap: Snapshot, *names: str) -> Snapshot:
    for name in names:
        snap = with_pod(snap, name, lifecycle=in_state(PodState.DRAINED, until=T0 + 600))
    return snap


def not_ready(snap: Snapshot, *names: str) -> Snapshot:
    for name in names:
        snap = with_pod(snap, name, ready=False)
    return snap


Setup = Callable[[Snapshot], Snapshot]
CASES: list[tuple[str, str, Setup, str, list[str]]] = [
    # id, guards, fleet condition, pod signalled, expected plan summary
    (
        "maxUnavailable allows up to the limit",
        "{maxUnavailable: 3}",
        lambda s: drained(s, "checkout-1", "checkout-2"),
        "checkout-0",
        ["drain shop/checkout-0"],
    ),
    (
        "maxUnavailable blocks past the limit",
        "{maxUnavailable: 2}",
        lambda s: drained(s, "checkout-1", "checkout-2"),
        "checkout-0",
        ["blocked max_unavailable shop/checkout-0"],
    ),
    (
        "maxUnavailable counts pods that are not Ready",
        "{maxUnavailable: 2}",
        lambda s: not_ready(s, "checkout-1", "checkout-2"),
        "checkout-0",
        ["blocked max_unavailable shop/checkout-0"],
    ),
    (
        "maxUnavailable counts paused pods",
        "{maxUnavailable: 1}",
        lambda s: with_pod(s, "checkout-1", lifecycle=in_state(PodState.PAUSED)),
        "checkout-0",
        ["blocked max_unavailable shop/checkout-0"],
    ),
    (
        "maxUnavailable counts pods being restarted",
        "{maxUnavailable: 1}",
        lambda s: with_pod(s, "checkout-1", terminating=True),
        "checkout-0",
        ["blocked max_unavailable shop/checkout-0"],
    ),
    (
        "maxUnavailable percent rounds down (30% of 10 is 3)",
        "{maxUnavailable: 30%}",
        lambda s: drained(s, "checkout-1", "checkout-2", "checkout-3"),
        "checkout-0",
        ["blocked max_unavailable shop/checkout-0"],
    ),
    (
        "maxUnavailable does not count an already-unready target twice",
        "{maxUnavailable: 1}",
        lambda s: not_ready(s, "checkout-0"),
        "checkout-0",
        ["drain shop/checkout-0"],
    ),
    (
        "minAvailable allows while enough stay",
        "{minAvailable: 8}",
        lambda s: drained(s, "checkout-1"),
        "checkout-0",
        ["drain shop/checkout-0"],
    ),
    (
        "minAvailable blocks when too few would stay",
        "{minAvailable: 9}",
        lambda s: drained(s, "checkout-1"),
        "checkout-0",
        ["blocked min_available shop/checkout-0"],
    ),
    (
        "minAvailable percent rounds up (85% of 10 needs 9)",
        "{minAvailable: 85%}",
        lambda s: drained(s, "checkout-1"),
        "checkout-0",
        ["blocked min_available shop/checkout-0"],
    ),
    (
        "cooldown blocks a pod acted on recently",
        "{cooldown: 5m}",
        lambda s: with_pod(
            s, "checkout-0", lifecycle=in_state(PodState.SERVING, last_action_at=T0 - 60)
        ),
        "checkout-0",
        ["blocked cooldown shop/checkout-0"],
    ),
    (
        "cooldown allows once it has passed",
        "{cooldown: 5m}",
        lambda s: with_pod(
            s, "checkout-0", lifecycle=in_state(PodState.SERVING, last_action_at=T0 - 301)
        ),
        "checkout-0",
        ["drain shop/checkout-0"],
    ),
]


@pytest.mark.parametrize(
    ("guards", "setup", "pod", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_pod_guards(guards: str, setup: Setup, pod: str, expected: list[str]) -> None:
    rb = runbook(supervised(guards))
    snap = setup(snapshot(fleet()))
    _, plans = run(rb, snap, [alert(pod)], T0)
    assert summary(plans[0]) == expected


def signalling(count: int) -> list:
    return [alert(f"checkout-{i}") for i in range(count)]


@pytest.mark.parametrize(
    ("limit", "count", "first"),
    [
        pytest.param("50%", 5, "drain shop/checkout-0", id="half the fleet is not systemic"),
        pytest.param("50%", 6, "blocked systemic shop/checkout-0", id="more than half is systemic"),
        pytest.param("2", 3, "blocked systemic shop/checkout-0", id="a count works as a limit"),
        pytest.param(
            "0%", 1, "blocked systemic shop/checkout-0", id="0% treats any signal as systemic"
        ),
    ],
)
def test_max_unhealthy_sees_the_whole_batch(limit: str, count: int, first: str) -> None:
    rb = runbook(supervised(f"{{maxUnhealthy: {limit}}}", extra="    onEscalate: []\n"))
    _, plans = run(rb, snapshot(fleet()), signalling(count), T0)
    assert summary(plans[0])[0] == first


def test_systemic_escalates_the_guarding_supervisor_and_freezes_the_fleet() -> None:
    rb = runbook(
        supervised("{maxUnhealthy: 50%}", extra="    onEscalate: [{rolloutRestart: {}}]\n")
    )
    snap, plans = run(rb, snapshot(fleet()), signalling(6), T0)
    assert summary(plans[0]) == [
        "rolloutRestart shop/deployment/checkout",
        "blocked systemic shop/checkout-0",
        "escalated checkout systemic",
    ]
    assert all(
        summary(p) == [f"blocked frozen {p.signal.labels['namespace']}/{p.signal.labels['pod']}"]
        for p in plans[1:]
        if p.signal
    )
    assert snap.supervisor("checkout").frozen(T0 + 599)
    assert not snap.supervisor("checkout").frozen(T0 + 600)


def test_resolved_signals_stop_counting_towards_unhealthy() -> None:
    rb = runbook(supervised("{maxUnhealthy: 50%}"))
    snap, _ = run(rb, snapshot(fleet()), signalling(5)[1:], T0)  # 4 firing, none acted on yet
    resolved = [alert(f"checkout-{i}", status=Status.RESOLVED) for i in range(1, 4)]
    snap, _ = run(rb, snap, resolved, T0 + 1)
    _, plans = run(rb, snap, [alert("checkout-9"), alert("checkout-8")], T0 + 2)
    assert summary(plans[0])[0] == "drain shop/checkout-9"


def test_signals_expire_after_their_ttl() -> None:
    rb = runbook(supervised("{maxUnhealthy: 2}"), settings="signalTTL: 1m")
    snap, _ = run(rb, snapshot(fleet()), [alert("checkout-1"), alert("checkout-2")], T0)
    _, within = run(rb, snap, [alert("checkout-9")], T0 + 59)
    assert summary(within[0])[0] == "blocked systemic shop/checkout-9"
    _, after = run(rb, snap, [alert("checkout-9")], T0 + 61)
    assert summary(after[0]) == ["drain shop/checkout-9"]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(
            SupervisorState(actions=(T0 - 10, T0 - 20)),
            "blocked rate_limited shop/checkout-0",
            id="supervisor rate limit spent",
        ),
        pytest.param(
            SupervisorState(actions=(T0 - 10, T0 - 700)),
            "drain shop/checkout-0",
            id="supervisor rate limit window slides",
        ),
    ],
)
def test_supervisor_rate_limit(state: SupervisorState, expected: str) -> None:
    rb = runbook(supervised("{rateLimit: {max: 2, per: 10m}}"))
    snap = snapshot(fleet())
    snap = Snapshot(pods=snap.pods, supervisors={"checkout": state})
    _, plans = run(rb, snap, [alert("checkout-0")], T0)
    assert summary(plans[0]) == [expected]


def test_global_rate_limit_counts_every_supervisor() -> None:
    rb = runbook(supervised("{}"), settings="rateLimit: {max: 2, per: 10m}")
    _, plans = run(rb, snapshot(fleet()), signalling(3), T0)
    assert [summary(p) for p in plans] == [
        ["drain shop/checkout-0"],
        ["drain shop/checkout-1"],
        ["blocked rate_limited shop/checkout-2"],
    ]


@pytest.mark.parametrize(
    ("settings", "labels", "expected"),
    [
        pytest.param(
            "",
            {"app": "checkout", "remediation/protect": "true"},
            "blocked protected shop/checkout-0",
            id="protect label",
        ),
        pytest.param(
            "protect: [{tier: db}]",
            {"app": "checkout", "tier": "db"},
            "blocked protected shop/checkout-0",
            id="protect selector",
        ),
        pytest.param(
            "protect: [{tier: db}]",
            {"app": "checkout", "tier": "web"},
            "drain shop/checkout-0",
            id="protect selector not matching",
        ),
    ],
)
def test_protected_pods_are_never_touched(
    settings: str, labels: dict[str, str], expected: str
) -> None:
    rb = runbook(supervised("{}"), settings=settings)
    _, plans = run(rb, snapshot(fleet(labels=labels)), [alert("checkout-0")], T0)
    assert summary(plans[0]) == [expected]


def test_namespace_allow_list() -> None:
    rb = runbook(supervised("{}"), namespaces="[shop]")
    snap = snapshot(fleet(namespace="billing"))
    _, plans = run(rb, snap, [alert("checkout-0", namespace="billing")], T0)
    assert summary(plans[0]) == ["blocked namespace_not_allowed billing/checkout-0"]
    assert not plans[0].pods, "nothing is recorded for pods outside the allow-list"


def test_fleet_by_labels_counts_pods_across_workloads() -> None:
    rb = runbook(
        """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 100, period: 10m}
    fleetBy: [app]
    guards: {maxUnavailable: 1}
"""
        + RULE
    )
    blue = fleet("checkout-blue", 2, labels={"app": "checkout"})
    green = fleet("checkout-green", 2, labels={"app": "checkout"})
    snap = drained(snapshot(blue, green), "checkout-blue-0")
    _, plans = run(rb, snap, [alert("checkout-green-0")], T0)
    assert summary(plans[0]) == ["blocked max_unavailable shop/checkout-green-0"]


def test_owner_fleets_are_counted_separately() -> None:
    rb = runbook(supervised("{maxUnavailable: 1}"))
    blue = fleet("checkout-blue", 2, labels={"app": "checkout"})
    green = fleet("checkout-green", 2, labels={"app": "checkout"})
    snap = drained(snapshot(blue, green), "checkout-blue-0")
    _, plans = run(rb, snap, [alert("checkout-green-0")], T0)
    assert summary(plans[0]) == ["drain shop/checkout-green-0"]


def test_blocked_detail_names_the_numbers() -> None:
    rb = runbook(supervised("{maxUnavailable: 30%}"))
    snap = drained(snapshot(fleet()), "checkout-1", "checkout-2", "checkout-3")
    _, plans = run(rb, snap, [alert("checkout-0")], T0)
    (blocked,) = plans[0].blocked
    assert blocked.detail == (
        "acting would leave 4 of 10 pods unavailable, more than maxUnavailable 30% (3)"
    )
    assert blocked.supervisor == "checkout"
    assert blocked.rule == "outlier"


def test_guard_reasons_are_told_apart_from_plain_non_actions() -> None:
    """Metrics count blocked decisions by guard; 'resolved' or 'no_rule' are not guards."""
    from receiver.model import Reason

    assert Reason.MAX_UNAVAILABLE.is_guard
    assert Reason.SYSTEMIC.is_guard
    assert Reason.ESCALATED.is_guard
    assert not Reason.RESOLVED.is_guard
    assert not Reason.DUPLICATE.is_guard
    assert not Reason.NO_RULE.is_guard
