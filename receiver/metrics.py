"""The receiver's counters and histograms, on a registry the caller passes in.

A leaf, in the manner of prometheus/client_python: the modules where things
happen (the applier, notifications, the Kubernetes API client, the service
edge) are handed one `Metrics` and count directly; nothing is patched in
after construction, and every test reads its values back from a fresh
registry. State gauges are not here: report/gauges.py reads them from the
snapshot at scrape time.

Every closed label set exists from the first scrape, at 0: reasons,
outcomes, endpoints and heartbeat names at start, the runbook's rules,
supervisors and notifiers at every (re)load (`follow`). So `increase()` sees
a counter's first step, and alert rules need no workaround for series that
appear already at 1.

Label values are bounded: no pod name is ever one, and an alert name is
kept only while it could match a rule and fewer than `MAX_ALERT_NAMES`
distinct names were seen; the rest count as `other`.
"""

from __future__ import annotations

import platform

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from receiver import __version__
from receiver.decide.outcomes import WATCHED
from receiver.decide.plan import ActionKind
from receiver.model import (
    HEARTBEAT_SIGNALS,
    ActionOutcome,
    HeartbeatStatus,
    Outcome,
    Reason,
    Source,
    Status,
)
from receiver.runbook import Rule, Runbook
from receiver.runbook.matchers import Op

RECOVERY_BUCKETS = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MAX_ALERT_NAMES = 200
OTHER = "other"
ENDPOINTS = ("alerts", "heartbeats", "admin", "reload")
REJECTED_CODES = ("400", "401", "403", "413", "431", "503")
_CAUSES = (Reason.INTENSITY, Reason.SYSTEMIC, Reason.BAD_ROLLOUT)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # Which receiver runs, as Prometheus' own build_info: 1 with the version.
        Gauge(
            "remediation_build_info",
            "The receiver's version and Python version; always 1.",
            ["version", "python"],
            registry=registry,
        ).labels(__version__, platform.python_version()).set(1)
        self.signals = Counter(
            "remediation_signals_received",
            "Signals received, by source, name and status (alert names no rule "
            f"matches count as {OTHER}).",
            ["source", "name", "status"],
            registry=registry,
        )
        self.heartbeats = Counter(
            "remediation_heartbeats_received",
            "Heartbeats pushed by pods, by reported status.",
            ["status"],
            registry=registry,
        )
        self.deadlines_missed = Counter(
            "remediation_heartbeat_deadlines_missed",
            "Heartbeat deadlines that passed in silence (HeartbeatMissed declared).",
            registry=registry,
        )
        self.actions = Counter(
            "remediation_actions",
            "Actions decided, by action, rule and outcome (applied, dry_run, failed, blocked).",
            ["action", "rule", "outcome"],
            registry=registry,
        )
        self.blocked = Counter(
            "remediation_blocked_decisions",
            "Decisions not to act, by reason (the guard that held, or why nothing applied).",
            ["reason"],
            registry=registry,
        )
        self.escalations = Counter(
            "remediation_escalations",
            "Supervisor escalations, by supervisor and cause (intensity, systemic, bad_rollout).",
            ["supervisor", "cause"],
            registry=registry,
        )
        self.latency = Histogram(
            "remediation_signal_to_action_seconds",
            "From receiving a signal to the first cluster call acting on it.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.notifications = Counter(
            "remediation_notifications",
            "Notifications sent, by notifier and outcome (sent, failed).",
            ["notifier", "outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "remediation_requests_rejected",
            "HTTP requests refused, by endpoint and status code.",
            ["endpoint", "code"],
            registry=registry,
        )
        self.cluster_unavailable = Counter(
            "remediation_cluster_unavailable",
            "Times applying a plan stopped because the cluster API failed.",
            registry=registry,
        )
        self.kubernetes_requests = Counter(
            "remediation_kubernetes_requests",
            "Requests to the Kubernetes API, by RBAC verb and HTTP status (error: no answer).",
            ["verb", "code"],
            registry=registry,
        )
        self.evictions_pending = Gauge(
            "remediation_evictions_pending",
            "Restarts whose pod is out of traffic while its eviction is retried from the tick "
            "(a PodDisruptionBudget refused it, or the API failed).",
            registry=registry,
        )
        self.reload_ok = Gauge(
            "remediation_runbook_last_reload_successful",
            "Whether the last runbook (re)load succeeded.",
            registry=registry,
        )
        self.reload_time = Gauge(
            "remediation_runbook_last_reload_success_timestamp_seconds",
            "When the runbook was last loaded successfully.",
            registry=registry,
        )
        self.action_outcomes = Counter(
            "remediation_action_outcomes",
            "What followed a rule's drain, restart or rollout restart, decided within the "
            "rule's probation: recovered, recurred (the signal came back), superseded "
            "(an escalation or a human intervened).",
            ["rule", "action", "outcome"],
            registry=registry,
        )
        self.recovery = Histogram(
            "remediation_action_recovery_seconds",
            "For recovered actions: from the action until the receiver first saw its target "
            "whole again (every pod in service, none signalling).",
            ["rule", "action"],
            buckets=RECOVERY_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}
        self._alert_names: frozenset[str] = frozenset()
        self._runbook: Runbook | None = None
        self._start()

    def _start(self) -> None:
        """The closed label sets, at 0 before anything happens."""
        for status in HeartbeatStatus:
            self.heartbeats.labels(status)
        for name in HEARTBEAT_SIGNALS.values():
            for signal_status in Status:
                self.signals.labels(Source.HEARTBEAT, name, signal_status)
        for signal_status in Status:
            self.signals.labels(Source.ALERTMANAGER, OTHER, signal_status)
        for reason in Reason:
            if reason is not Reason.INTENSITY:  # a cause of escalations, never a hold
                self.blocked.labels(reason)
        for endpoint in ENDPOINTS:
            for code in REJECTED_CODES:
                self.rejected.labels(endpoint, code)

    def follow(self, runbook: Runbook) -> None:
        """The runbook's own label sets (rules, supervisors, notifiers), at 0 until used."""
        self._runbook = runbook
        names = {name for rule in runbook.rules for name in _alert_names(rule)}
        self._alert_names = frozenset(names)
        for name in sorted(names):
            for status in Status:
                self.signals.labels(Source.ALERTMANAGER, name, status)
        # Any action can follow any rule (a rule's signal escalates: rolloutRestart,
        # notify) or none (""): every kind, so rules of alerts see every series from 0.
        for rule in ("", *(r.name for r in runbook.rules)):
            for kind in ActionKind:
                for outcome in Outcome:
                    self.actions.labels(kind, rule, outcome)
        for supervisor in runbook.by_name:
            for cause in _CAUSES:
                self.escalations.labels(supervisor, cause)
        for notifier in runbook.notifiers:
            for sent in ("sent", "failed"):
                self.notifications.labels(notifier, sent)
        for watched in runbook.rules:
            for kind in sorted(WATCHED):
                self.recovery.labels(watched.name, kind)
                for result in ActionOutcome:
                    self.action_outcomes.labels(watched.name, kind, result)

    def signal_name(self, source: Source, name: str) -> str:
        """The label value for a signal's name: bounded whatever senders choose."""
        if source is Source.HEARTBEAT or name in self._alert_names:
            return name
        runbook = self._runbook
        if (
            runbook is None
            or len(self._alert_names) >= MAX_ALERT_NAMES
            or not any(_may_match(rule, name) for rule in runbook.rules)
        ):
            return OTHER
        self._alert_names = self._alert_names | {name}
        return name

    def count(self, counter: Counter, *labels: str, amount: float = 1.0) -> None:
        """`counter.labels(*labels).inc(amount)`, with the labelled child looked up once.

        labels() validates and takes a lock on every call: per signal and per
        decision that was a few percent of the webhook path.
        """
        key = (id(counter), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(*labels)
        child.inc(amount)

    def kubernetes_request(self, verb: str, code: str) -> None:
        self.count(self.kubernetes_requests, verb, code)

    def notified(self, notifier: str, ok: bool) -> None:
        self.count(self.notifications, notifier, "sent" if ok else "failed")


class Counts:
    """Counts added up over a batch and applied once when it ends (flush()).

    A webhook's decisions mostly share their labels (ten re-delivered alerts:
    ten `duplicate`), and one increment costs a lock; a batch costs one per
    distinct label set instead.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._counts: dict[tuple[Counter, tuple[str, ...]], int] = {}

    def count(self, counter: Counter, *labels: str) -> None:
        key = (counter, labels)
        self._counts[key] = self._counts.get(key, 0) + 1

    def flush(self) -> None:
        for (counter, labels), amount in self._counts.items():
            self._metrics.count(counter, *labels, amount=amount)
        self._counts.clear()


def _alert_names(rule: Rule) -> set[str]:
    """The alert names a rule asks for by equality (`alertname: X`)."""
    return {m.value for m in rule.match.matchers if m.name == "alertname" and m.op is Op.EQ}


def _may_match(rule: Rule, name: str) -> bool:
    """Whether a rule's matchers on `alertname` (if any) accept `name`."""
    labels = {"alertname": name}
    return all(m.matches(labels) for m in rule.match.matchers if m.name == "alertname")
