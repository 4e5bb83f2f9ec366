"""State gauges, read from the snapshot at scrape time (client_python's custom collector).

Pods by state per fleet, supervisor budgets, tracked heartbeats and
leadership are never updated where things happen: the collector reads one
`Reading` when Prometheus scrapes. The counters are in receiver/metrics.py.
No pod name is a label value: series stay bounded by workloads and rules.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from receiver.model import HoldKind, Instant, Snapshot, active_holds
from receiver.runbook import Runbook


@dataclass(frozen=True, slots=True)
class Reading:
    """What the collector reads at scrape time."""

    runbook: Runbook
    snapshot: Snapshot
    tracked: int
    leader: bool
    now: Instant
    # Decided outcomes by rule and outcome, since this replica started (report/outcomes.py).
    outcomes: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


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
            "Pods not in service, per fleet: not Ready, terminating, or out of traffic "
            "(settling, drained, paused, restarted).",
            labels=["namespace", "workload"],
        )
        pending = GaugeMetricFamily(
            "remediation_pending_actions",
            "Restarts and pauses waiting for their settle window, out of traffic, per fleet.",
            labels=["namespace", "workload", "action"],
        )
        states: Tally[tuple[str, str, str]] = Tally()
        out: Tally[tuple[str, str]] = Tally()
        waiting: Tally[tuple[str, str, str]] = Tally()
        for pod in reading.snapshot.pods.values():
            workload = f"{pod.owner.kind.lower()}/{pod.owner.name}" if pod.owner else ""
            states[(pod.namespace, workload, str(pod.lifecycle.state))] += 1
            out[(pod.namespace, workload)] += pod.out_of_service
            if pod.lifecycle.pending is not None:
                waiting[(pod.namespace, workload, pod.lifecycle.pending)] += 1
        for labels, count in sorted(states.items()):
            pods.add_metric(list(labels), count)
        for fleet, count in sorted(out.items()):
            unavailable.add_metric(list(fleet), count)
        for labels, count in sorted(waiting.items()):
            pending.add_metric(list(labels), count)
        yield pods
        yield unavailable
        yield pending
        yield from _supervisors(reading)
        tracked = GaugeMetricFamily(
            "remediation_heartbeat_tracked_pods", "Pods whose heartbeat deadlines are tracked."
        )
        tracked.add_metric([], reading.tracked)
        yield tracked
        leader = GaugeMetricFamily("remediation_leader", "1 on the replica that acts.")
        leader.add_metric([], 1.0 if reading.leader else 0.0)
        yield leader
        yield _holds(reading)


def _holds(reading: Reading) -> GaugeMetricFamily:
    """Operator holds in force by what they hold (pod, workload, supervisor): bounded labels."""
    holds = GaugeMetricFamily(
        "remediation_holds",
        "Operator holds in force (receiver hold), by what they hold.",
        labels=["kind"],
    )
    counts = Tally(str(h.kind) for h in active_holds(reading.snapshot.holds, reading.now))
    for kind in HoldKind:
        holds.add_metric([str(kind)], counts[str(kind)])
    return holds


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
