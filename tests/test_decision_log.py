"""The decision log and the counters of a batch: same entries, same levels, same totals."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from builders import T0, alert, fleet, in_state, runbook, snapshot, with_pod
from prometheus_client import CollectorRegistry

from receiver.act import ActionResult
from receiver.act.apply import Outcome
from receiver.decide import Plan, decide
from receiver.metrics import Counts, Metrics
from receiver.model import PodState, Status, SupervisorState
from receiver.report.decisions import DecisionLog, iso, plan_json

RB = """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 100, period: 10m}
    guards: {maxUnavailable: 1}
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}]
"""


def plans() -> list[tuple[str, Plan, list[ActionResult]]]:
    rb = runbook(RB)
    snap = snapshot(fleet("checkout", 3))
    drain = decide(rb, snap, alert("checkout-0"), T0)
    held = with_pod(snap, "checkout-1", lifecycle=in_state(PodState.DRAINED, until=T0 + 60))
    frozen = replace(snap, supervisors={"checkout": SupervisorState(frozen_until=T0 + 600)})
    return [
        ("an action", drain, [ActionResult(a, Outcome.APPLIED) for a in drain.actions]),
        ("a guard hold", decide(rb, held, alert("checkout-0"), T0), []),
        ("routine", decide(rb, snap, alert("checkout-0", status=Status.RESOLVED), T0), []),
        ("no target", decide(rb, snap, alert(None), T0), []),
        ("a frozen subtree's hold", decide(rb, frozen, alert("checkout-0"), T0), []),
    ]


CASES = plans()


@pytest.mark.parametrize(("plan", "results"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("unavailable", [None, "API down"])
def test_add_is_plan_json_with_an_id(
    plan: Plan, results: list[ActionResult], unavailable: str | None
) -> None:
    by_add = DecisionLog()
    entry = plan_json(plan, results, unavailable)
    assert ("unavailable" in entry) == bool(unavailable)
    expected = {"id": 1, **entry}

    added = by_add.add(plan, results, unavailable)

    assert json.dumps(added) == json.dumps(expected)  # same keys, same order, same text
    assert by_add.since() == [added]


@pytest.mark.parametrize(
    ("case", "level"),
    [
        ("an action", logging.INFO),
        ("a guard hold", logging.INFO),
        ("routine", logging.DEBUG),
        ("a frozen subtree's hold", logging.DEBUG),  # its escalation said it, at info
    ],
)
def test_actions_and_guard_holds_log_at_info_the_rest_at_debug(
    case: str, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    _, plan, results = next(c for c in CASES if c[0] == case)
    caplog.set_level(logging.DEBUG, logger="receiver.decisions")

    entry = DecisionLog().add(plan, results)

    (record,) = caplog.records
    assert record.levelno == level
    assert record.decision == entry  # type: ignore[attr-defined]


@pytest.mark.parametrize("at", [0.0, T0, T0 + 0.0005, T0 + 59.9999, 1_795_260_000.123456])
def test_iso_is_remembered_as_it_was_written(at: float) -> None:
    written = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    assert iso(at) == written.replace("+00:00", "Z")
    assert iso(at) == iso(at)
    assert iso(None) is None


def test_counts_add_up_and_apply_once() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    counts = Counts(metrics)
    for _ in range(3):
        counts.count(metrics.blocked, "duplicate")
    counts.count(metrics.blocked, "frozen")

    def blocked(reason: str) -> float:
        value = registry.get_sample_value("remediation_blocked_decisions_total", {"reason": reason})
        return value or 0.0

    assert blocked("duplicate") == 0.0
    counts.flush()
    counts.flush()  # nothing left to apply
    assert (blocked("duplicate"), blocked("frozen")) == (3.0, 1.0)
    metrics.count(metrics.blocked, "duplicate", amount=2)
    assert blocked("duplicate") == 5.0
