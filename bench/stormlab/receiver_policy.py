"""The remediation receiver, driven through its own pipeline on a simulated clock.

This is the one module of the lab that knows the receiver's entry points,
so that it is the one to re-point when they move. It builds what `receiver
serve` builds over the embedded cluster (`MemoryCluster`, `Pipeline`,
`Metrics` on a fresh registry) with the lab's clock, and then feeds it what
production feeds it: one heartbeat push per pod per interval, 100 ms apart
(`Pipeline.heartbeats`, through the heartbeat expectations and their
deadline tracker), the periodic tick every second (`Pipeline.tick`: drains
that end, refused evictions, deadlines that expire one by one, and whatever
the decision core adds to its tick), and Alertmanager webhooks as v4 JSON
(`parse_webhook`, then `Pipeline.alerts`). Every batch goes through
`act/batch.py`, the same observe-then-decide the runbook tests' simulation
runs. The in-memory cluster plays Kubernetes: an evicted pod terminates,
its Deployment's replacement is created and becomes Ready.

Figures come from what the receiver did to the cluster (evictions, the
traffic label) and from its own metrics (escalations).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from receiver.cluster import MemoryCluster
from receiver.ingest import Beat, parse_webhook
from receiver.metrics import Metrics
from receiver.model import HeartbeatStatus, Pod, PodKey, Workload
from receiver.runbook import Runbook, load_file
from receiver.service.pipeline import Pipeline

from .world import (
    ONSET,
    SAMPLE_EVERY,
    START,
    STEPS_PER_S,
    TERMINATE,
    Health,
    Scenario,
    Trace,
    seconds,
)

RUNBOOK = Path(__file__).with_name("runbook.yaml")
EPOCH = 1_767_225_600.0
WORKLOAD = Workload("shop", "Deployment", "web")
PDB_MAX_UNAVAILABLE = 25
TICK_STEPS = STEPS_PER_S  # `receiver serve --tick-interval` default: 1 s
GRAY_ALERT_AFTER = 330.0
"""PodLatencyOutlier (alerts/inputs.yaml) fires `for: 5m` after its 5m p99 first
crosses the line (about one 30 s evaluation in), and group_wait is 0s."""
REPEAT_ALERT = 300.0
"""Alertmanager re-sends a firing group; the receiver must see it as one occurrence."""


def run(scenario: Scenario, runbook_path: Path = RUNBOOK) -> Trace:
    return asyncio.run(_Lab(scenario, load_file(runbook_path)).run())


class _Lab:
    def __init__(self, scenario: Scenario, runbook: Runbook) -> None:
        self.scenario = scenario
        self.now = EPOCH
        self.registry = CollectorRegistry()
        self.traffic_label = runbook.settings.traffic_label
        self.cluster = MemoryCluster(clock=self.clock, traffic_label=self.traffic_label)
        keys = self.cluster.add_workload(
            WORKLOAD,
            replicas=100,
            labels={"app": "web"},
            max_unavailable=PDB_MAX_UNAVAILABLE,
            start_after=START,
            stop_after=TERMINATE,
        )
        self.slots: list[PodKey] = keys
        self.born: list[float] = [-3600.0] * len(keys)
        self.pipeline = Pipeline(
            runbook=runbook,
            cluster=self.cluster,
            metrics=Metrics(self.registry),
            clock=self.clock,
        )
        self.trace = Trace(policy="receiver", scenario=scenario.name)

    def clock(self) -> float:
        return self.now

    async def run(self) -> Trace:
        s = self.scenario
        for step in range(s.steps + 1):
            t = seconds(step)
            self.now = EPOCH + t
            pods = self.cluster.snapshot().pods
            self._follow_replacements(pods, t)
            slot = step % len(self.slots)
            await self._push(slot, pods.get(self.slots[slot]), t)
            if step % TICK_STEPS == 0:
                await self.pipeline.tick()
            await self._alerts(t)
            if step % SAMPLE_EVERY == 0:
                self._sample(t)
            if s.bad_slot is not None:
                pod = self.cluster.snapshot().pods.get(self.slots[s.bad_slot])
                self.trace.bad_pod(s, t, self._serving(pod))
        self.trace.escalations = int(_total(self.registry, "remediation_escalations_total"))
        return self.trace

    def _follow_replacements(self, pods: Mapping[PodKey, Pod], t: float) -> None:
        """A slot whose pod is gone holds the pod its Deployment created in its place."""
        current = pods.keys()
        missing = [i for i, key in enumerate(self.slots) if key not in current]
        if not missing:
            return
        known = set(self.slots)
        fresh = sorted(k for k in current if k not in known)
        for i, key in zip(missing, fresh, strict=False):
            self.slots[i], self.born[i] = key, t

    async def _push(self, slot: int, pod: Pod | None, t: float) -> None:
        """The slot's sidecar pushes what its pod's own check says; nothing while it starts."""
        if pod is None or not pod.ready or pod.terminating or self._partitioned(t):
            return
        health = self.scenario.health(slot, self.born[slot], t)
        status = HeartbeatStatus.FAILING if health is Health.FAILING else HeartbeatStatus.OK
        reason = "dependency check failed" if status is HeartbeatStatus.FAILING else ""
        await self.pipeline.heartbeats([Beat(pod.key, status, reason, None)], self.now)

    def _partitioned(self, t: float) -> bool:
        window = self.scenario.partition
        return window is not None and window[0] <= t < window[1]

    async def _alerts(self, t: float) -> None:
        """Prometheus sees a slow pod only through its latency, after the rule's `for`."""
        slot = self.scenario.bad_slot
        due = t - ONSET - GRAY_ALERT_AFTER
        if slot is None or due < 0 or round(due * STEPS_PER_S) % round(REPEAT_ALERT * 10) != 0:
            return
        if self.scenario.health(slot, self.born[slot], t) is not Health.SLOW:
            return
        pod = self.slots[slot]
        body = _webhook("PodLatencyOutlier", pod, starts_at=EPOCH + ONSET + GRAY_ALERT_AFTER)
        notification = parse_webhook(body, self.now)
        await self.pipeline.alerts(notification.signals)

    def _sample(self, t: float) -> None:
        pods = self.cluster.snapshot().pods
        serving = [self._serving(pods.get(key)) for key in self.slots]
        sick = sum(
            1
            for i, on in enumerate(serving)
            if on and self.scenario.health(i, self.born[i], t) is not Health.OK
        )
        self.trace.sample(t, sum(serving), sick, len(self.cluster.evictions))

    def _serving(self, pod: Pod | None) -> bool:
        return (
            pod is not None
            and pod.ready
            and not pod.terminating
            and pod.labels.get(self.traffic_label) == "on"
        )


def _webhook(alertname: str, pod: PodKey, *, starts_at: float) -> bytes:
    labels = {
        "alertname": alertname,
        "namespace": pod.namespace,
        "pod": pod.name,
        "app": "web",
        "severity": "warning",
        "remediation": "true",
    }
    starts = datetime.fromtimestamp(starts_at, UTC).isoformat().replace("+00:00", "Z")
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"{pod} is much slower than the rest of app web"},
        "startsAt": starts,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
        "fingerprint": hashlib.sha256(f"{alertname}/{pod}".encode()).hexdigest()[:16],
    }
    payload = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "remediation",
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [alert],
    }
    return json.dumps(payload).encode()


def _total(registry: CollectorRegistry, name: str) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == name
    )
