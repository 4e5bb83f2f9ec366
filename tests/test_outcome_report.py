"""Outcomes reported: counted and timed in metrics, in the decision log, per rule in the status."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from builders import T0, runbook
from prometheus_client import CollectorRegistry
from service_builders import alert, auth, body, harness, pods, webhook

from receiver.act import Applied
from receiver.decide import Plan
from receiver.metrics import Counts, Metrics
from receiver.model import ActionOutcome, Followup, Snapshot, Watch, Workload
from receiver.report.banner import banner
from receiver.report.decisions import DecisionLog
from receiver.report.outcomes import rule_outcomes
from receiver.report.query import DecisionQuery
from receiver.report.record import Recorder
from receiver.report.text import decision_lines, status_lines

RB = runbook(
    """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 3, period: 10m}
rules:
  - name: crashy
    match: {alertname: Crashy}
    steps: [{restart: {}}]
  - name: quiet
    match: {alertname: Quiet}
    steps: [{drain: {for: 1m}}]
"""
)
CHECKOUT = Workload("shop", "Deployment", "checkout")


def watch(at: float = T0, healthy_at: float | None = None) -> Watch:
    return Watch(
        rule="crashy",
        action="restart",
        pod="shop/checkout-0",
        at=at,
        until=at + 600,
        healthy_at=healthy_at,
    )


def followup(outcome: ActionOutcome, recovery: float | None = None) -> Followup:
    return Followup(
        target=CHECKOUT,
        watch=watch(),
        outcome=outcome,
        after=600,
        recovery=recovery,
        detail=f"restart of shop/checkout-0 (rule crashy) {outcome}",
    )


def recorded(*followups: Followup, unavailable: str = "") -> tuple[Recorder, DecisionLog]:
    metrics = Metrics(CollectorRegistry())
    metrics.follow(RB)
    log = DecisionLog()
    recorder = Recorder(metrics, log)
    tally = Counts(metrics)
    applied = Applied([])
    applied.unavailable = unavailable or None
    recorder.record(Plan(at=T0 + 600, followups=followups), applied, tally)
    tally.flush()
    return recorder, log


def test_outcomes_are_counted_and_recoveries_timed() -> None:
    recorder, _ = recorded(
        followup(ActionOutcome.RECOVERED, recovery=45.0),
        followup(ActionOutcome.RECURRED),
        followup(ActionOutcome.RECOVERED),  # never seen whole: counted, not timed
    )
    registry = recorder.metrics.registry

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"rule": "crashy", "action": "restart", **labels})

    assert value("remediation_action_outcomes_total", outcome="recovered") == 2
    assert value("remediation_action_outcomes_total", outcome="recurred") == 1
    assert value("remediation_action_outcomes_total", outcome="superseded") == 0
    assert value("remediation_action_recovery_seconds_count") == 1
    assert value("remediation_action_recovery_seconds_sum") == 45.0


def test_outcomes_of_a_plan_the_cluster_did_not_take_are_not_counted() -> None:
    """Its watches were not written: the next tick decides them again, counted then."""
    recorder, _ = recorded(followup(ActionOutcome.RECOVERED), unavailable="API timed out")
    labels = {"rule": "crashy", "action": "restart", "outcome": "recovered"}
    assert (
        recorder.metrics.registry.get_sample_value("remediation_action_outcomes_total", labels) == 0
    )
    assert recorder.outcomes.counts() == {}


def test_a_tick_that_decides_an_outcome_is_kept_in_the_decision_log() -> None:
    _, log = recorded(followup(ActionOutcome.RECURRED))
    (entry,) = log.since(0)
    assert entry["outcomes"] == [
        {
            "outcome": "recurred",
            "rule": "crashy",
            "action": "restart",
            "target": "shop/deployment/checkout",
            "pod": "shop/checkout-0",
            "actedAt": "2026-01-01T00:00:00.000Z",
            "afterSeconds": 600,
            "recoverySeconds": None,
            "detail": "restart of shop/checkout-0 (rule crashy) recurred",
        }
    ]


def test_each_rule_shows_its_success_ratio_counts_and_open_watches() -> None:
    recorder, _ = recorded(
        followup(ActionOutcome.RECOVERED),
        followup(ActionOutcome.RECOVERED),
        followup(ActionOutcome.RECOVERED),
        followup(ActionOutcome.RECURRED),
        followup(ActionOutcome.SUPERSEDED),
    )
    snapshot = Snapshot(watches={CHECKOUT: (watch(), watch(at=T0 + 5))})
    assert rule_outcomes(RB, snapshot, recorder.outcomes.counts()) == [
        {
            "rule": "crashy",
            "recovered": 3,
            "recurred": 1,
            "superseded": 1,
            "open": 2,
            "successRatio": 0.75,
        },
        {
            "rule": "quiet",
            "recovered": 0,
            "recurred": 0,
            "superseded": 0,
            "open": 0,
            "successRatio": None,
        },
    ]


def test_through_the_service_a_drain_that_helped_shows_in_status_and_metrics(
    tmp_path: Path,
) -> None:
    h = harness(tmp_path)
    pod = pods(h)[0]
    client = h.client()
    client.post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    assert _outcomes(client.get("/api/v1/status").json())["open"] == 1
    for h.clock.now in (T0 + 120, T0 + 400, T0 + 120 + 600):
        # back in traffic; seen whole (the alert expired after signalTTL); the drain and
        # the default probation over, with no recurrence
        asyncio.run(h.service.pipeline.transitions())
    status = client.get("/api/v1/status").json()
    assert _outcomes(status) == {
        "rule": "error-outlier",
        "recovered": 1,
        "recurred": 0,
        "superseded": 0,
        "open": 0,
        "successRatio": 1.0,
    }
    labels = {"rule": "error-outlier", "action": "drain"}
    assert h.metric("remediation_action_outcomes_total", {**labels, "outcome": "recovered"}) == 1
    assert h.metric("remediation_action_recovery_seconds_count", labels) == 1
    assert h.metric("remediation_action_recovery_seconds_sum", labels) == 400
    assert "error-outlier" in client.get("/").text


def _outcomes(status: dict[str, Any]) -> dict[str, Any]:
    (mine,) = [r for r in status["ruleOutcomes"] if r["rule"] == "error-outlier"]
    return dict(mine)


def _status_with(recovered: int, recurred: int) -> dict[str, Any]:
    row = {
        "rule": "crashy",
        "recovered": recovered,
        "recurred": recurred,
        "superseded": 0,
        "open": 0,
        "successRatio": None,
    }
    return {
        "supervisors": [],
        "fleets": [],
        "pods": [],
        "runbook": {"dryRun": False, "dryRunRules": []},
        "ruleOutcomes": [row],
    }


@pytest.mark.parametrize(
    ("recovered", "recurred", "said"),
    [
        pytest.param(1, 3, True, id="3 of 4 recurred: not helping"),
        pytest.param(2, 2, False, id="half: not more than half"),
        pytest.param(0, 3, False, id="too few decided to say"),
    ],
)
def test_the_banner_says_when_a_rule_mostly_does_not_help(
    recovered: int, recurred: int, said: bool
) -> None:
    lines = [line["text"] for line in banner(_status_with(recovered, recurred))]
    expected = (
        [
            f"rule crashy is not helping: {recurred} of its {recovered + recurred} decided "
            "actions recurred within probation; the runbook may be treating a symptom"
        ]
        if said
        else []
    )
    assert lines == expected


def test_the_decision_log_filters_by_what_followed_an_action() -> None:
    _, log = recorded(followup(ActionOutcome.RECURRED))
    entries = log.since(0)
    assert DecisionQuery(outcome="recurred").select(entries, 0) == entries
    assert DecisionQuery(rule="crashy").select(entries, 0) == entries
    assert DecisionQuery(outcome="recovered").select(entries, 0) == []


def test_the_console_shows_each_rules_success_and_the_outcome_lines(tmp_path: Path) -> None:
    h = harness(tmp_path)
    pod = pods(h)[0]
    client = h.client()
    client.post("/api/v1/alerts", content=body(webhook(alert(pod))), headers=auth())
    h.clock.now = T0 + 120 + 600
    asyncio.run(h.service.pipeline.transitions())
    page = client.get("/").text
    assert 'id="rule-outcomes"' in page
    assert "100%</span>" in page
    log = client.get("/decisions?outcome=recovered").text
    assert "outcome <b>recovered</b> of drain" in log


def test_the_cli_prints_each_rules_outcomes_and_the_outcome_lines() -> None:
    status = {
        **_status_with(3, 1),
        "now": "2026-01-01T00:00:00.000Z",
        "leader": True,
        "runbook": {"dryRun": False, "source": "rules/shop.yaml"},
        "banner": [],
    }
    status["ruleOutcomes"][0].update(successRatio=0.75, open=2)
    assert "  crashy: 75% success; 3 recovered, 1 recurred, 0 superseded, 2 open" in (
        status_lines(status)
    )
    _, log = recorded(followup(ActionOutcome.RECURRED))
    (line,) = decision_lines(log.since(0)[0])
    assert line.endswith("outcome [recurred] restart of shop/checkout-0 (rule crashy) recurred")
