"""The counters on a fresh registry: every closed label set at 0 from the start, names bounded."""

from __future__ import annotations

import pytest
from builders import runbook
from prometheus_client import CollectorRegistry

from receiver.metrics import MAX_ALERT_NAMES, OTHER, Metrics
from receiver.model import Source

RB = runbook(
    """
supervisors:
  - name: checkout
    match: {app: checkout}
    intensity: {max: 3, period: 10m}
rules:
  - name: outlier
    match: {alertname: PodErrorRatioOutlier}
    steps: [{drain: {for: 2m}}]
  - name: any-latency
    match: {alertname: "=~Pod.*Latency.*"}
    steps: [{drain: {for: 2m}}]
notifiers:
  oncall: {log: {}}
"""
)


@pytest.fixture
def metrics() -> Metrics:
    m = Metrics(CollectorRegistry())
    m.follow(RB)
    return m


@pytest.mark.parametrize(
    ("name", "labels"),
    [
        ("remediation_blocked_decisions_total", {"reason": "duplicate"}),
        ("remediation_blocked_decisions_total", {"reason": "systemic"}),
        (
            "remediation_actions_total",
            {"action": "restart", "rule": "outlier", "outcome": "failed"},
        ),
        ("remediation_actions_total", {"action": "notify", "rule": "", "outcome": "applied"}),
        ("remediation_escalations_total", {"supervisor": "checkout", "cause": "intensity"}),
        ("remediation_notifications_total", {"notifier": "oncall", "outcome": "failed"}),
        ("remediation_requests_rejected_total", {"endpoint": "alerts", "code": "401"}),
        ("remediation_heartbeats_received_total", {"status": "failing"}),
        (
            "remediation_signals_received_total",
            {"source": "alertmanager", "name": "PodErrorRatioOutlier", "status": "firing"},
        ),
        (
            "remediation_action_outcomes_total",
            {"rule": "outlier", "action": "restart", "outcome": "recurred"},
        ),
        (
            "remediation_action_outcomes_total",
            {"rule": "any-latency", "action": "rolloutRestart", "outcome": "superseded"},
        ),
        ("remediation_action_recovery_seconds_count", {"rule": "outlier", "action": "drain"}),
    ],
)
def test_a_series_exists_at_zero_before_anything_happened(
    metrics: Metrics, name: str, labels: dict[str, str]
) -> None:
    assert metrics.registry.get_sample_value(name, labels) == 0


def test_alert_names_no_rule_matches_count_as_other(metrics: Metrics) -> None:
    assert (
        metrics.signal_name(Source.ALERTMANAGER, "PodErrorRatioOutlier") == "PodErrorRatioOutlier"
    )
    assert metrics.signal_name(Source.ALERTMANAGER, "PodP99Latency") == "PodP99Latency"  # a regex
    assert metrics.signal_name(Source.ALERTMANAGER, "x" * 500_000) == OTHER
    assert metrics.signal_name(Source.HEARTBEAT, "HeartbeatMissed") == "HeartbeatMissed"


def test_alert_names_are_bounded_even_when_a_regex_matches_them_all(metrics: Metrics) -> None:
    kept = {metrics.signal_name(Source.ALERTMANAGER, f"PodLatency{i}") for i in range(500)}
    assert len(kept - {OTHER}) < MAX_ALERT_NAMES
    assert OTHER in kept
