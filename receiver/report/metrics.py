"""The receiver's Prometheus metrics, registered on a registry the caller passes in.

Counters and the latency histogram are updated where things happen; state
gauges (pods by state, supervisor budgets, tracked heartbeats) come from a
collector that reads the snapshot at scrape time. No pod name is a label
value: series stay bounded by workloads, rules and reasons.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from receiver.model import Instant, Snapshot
from receiver.report.build_info import register_build_info
from receiver.runbook import Runbook

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.signals = Counter(
            "remediation_signals_received",
            "Signals received, by source, name and status.",
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
            "Supervisor escalations, by supervisor and cause (intensity, systemic).",
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
        register_build_info(registry)
        self._children: dict[tuple[int, tuple[str, ...]], Counter] = {}

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


@dataclass(frozen=True, slots=True)
class Reading:
    """What the collector reads at scrape time."""

    runbook: Runbook
    snapshot: Snapshot
    tracked: int
    leader: bool
    now: Instant


class StateCollector(Collector):
    def __init__(self, read: Callable[[], Reading]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reading = self._read()
        pods = GaugeMetricFamily(
            "remediation_pods",
            "Pods by lifecycle state per fleet (namespace and top-level workload).",
            labels=["namespace", "workload", "state"],
        )
        unavailable = GaugeMetricFamily(
            "remediation_pods_unavailable",
            "Pods not Ready, drained, paused or restarting, per fleet.",
            labels=["namespace", "workload"],
        )
        states: Tally[tuple[str, str, str]] = Tally()
        out: Tally[tuple[str, str]] = Tally()
        for pod in reading.snapshot.pods.values():
            workload = f"{pod.owner.kind.lower()}/{pod.owner.name}" if pod.owner else ""
            states[(pod.namespace, workload, str(pod.lifecycle.state))] += 1
            out[(pod.namespace, workload)] += pod.out_of_service
        for labels, count in sorted(states.items()):
            pods.add_metric(list(labels), count)
        for fleet, count in sorted(out.items()):
            unavailable.add_metric(list(fleet), count)
        yield pods
        yield unavailable
        yield from _supervisors(reading)
        tracked = GaugeMetricFamily(
            "remediation_heartbeat_tracked_pods", "Pods whose heartbeat deadlines are tracked."
        )
        tracked.add_metric([], reading.tracked)
        yield tracked
        leader = GaugeMetricFamily("remediation_leader", "1 on the replica that acts.")
        leader.add_metric([], 1.0 if reading.leader else 0.0)
        yield leader


def _supervisors(reading: Reading) -> Iterator[GaugeMetricFamily]:
    used = GaugeMetricFamily(
        "remediation_supervisor_intensity_used",
        "Actions and escalations counted in the current intensity period.",
        labels=["supervisor"],
    )
    limit = GaugeMetricFamily(
        "remediation_supervisor_intensity_max",
        "The intensity a supervisor may reach before it escalates.",
        labels=["supervisor"],
    )
    frozen = GaugeMetricFamily(
        "remediation_supervisor_frozen",
        "1 while a supervisor's subtree is frozen after an escalation.",
        labels=["supervisor"],
    )
    for name, supervisor in sorted(reading.runbook.by_name.items()):
        state = reading.snapshot.supervisor(name)
        since = reading.now - supervisor.intensity.period
        used.add_metric([name], sum(1 for t in state.counted if t > since))
        limit.add_metric([name], supervisor.intensity.max)
        frozen.add_metric([name], 1.0 if state.frozen(reading.now) else 0.0)
    yield used
    yield limit
    yield frozen
