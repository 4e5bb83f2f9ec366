"""Signals in, decisions made, plans applied, everything reported: the receiver's loop.

One lock serializes decisions, so each decision sees the effects of the one
before (the cluster reads its own writes). A batch (one webhook, one
heartbeat push, one tick's missed deadlines) is first observed as a whole,
then decided signal by signal, as decide/ expects. The clock is read here,
at the edge, and passed into the pure core.

Answers follow the acknowledgement rule: a signal counts as handled once
its plan is applied; if the cluster fails, the batch is reported
unavailable (HTTP 503) and what was not applied is decided again when the
signal comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from receiver.act import Applied, Applier, Notifications, has_effects
from receiver.cluster import Cluster
from receiver.decide import Plan, decide, observe, reset, resolve_target, resume, tick
from receiver.decide.tree import pod_labels
from receiver.ingest import Beat, Change, DeadlineTracker
from receiver.model import Instant, Pod, PodKey, Signal, Workload, heartbeat_signal
from receiver.report.decisions import DecisionLog, plan_json
from receiver.report.metrics import Counts, Metrics, Reading
from receiver.runbook import Runbook
from receiver.runbook.types import HeartbeatExpectation

log = logging.getLogger(__name__)

DEFAULT_MISS_AFTER = 3
RETRY_AFTER = 1.0
CONFLICT_TRIES = 3
FULL_SYNC = 10.0
"""Seconds between full comparisons of the pods with the expected heartbeats.

Between them the comparison runs only when the number of pods changed: it
costs O(pods) (about 17 ms at 10k pods), too much for every tick.
"""


@dataclass(frozen=True, slots=True)
class BatchResult:
    entries: list[dict[str, Any]]  # one decision log entry per signal decided
    unavailable: str | None = None  # the cluster failed: answer 503


class Pipeline:
    def __init__(
        self,
        *,
        runbook: Runbook,
        cluster: Cluster,
        metrics: Metrics,
        clock: Callable[[], Instant],
        decisions: DecisionLog | None = None,
    ) -> None:
        self.runbook = runbook
        self.cluster = cluster
        self.metrics = metrics
        self.clock = clock
        self.decisions = decisions or DecisionLog()
        self.notifications = Notifications(runbook.notifiers, on_outcome=self._notified)
        self.applier = Applier(
            cluster, self.notifications, clock=clock, on_first_call=self._first_call
        )
        self.tracker = DeadlineTracker(started_at=clock(), refresh=_refresh(runbook))
        self._expected: dict[PodKey, HeartbeatExpectation | None] = {}
        self._synced_size, self._synced_at = -1, float("-inf")
        self._lock = asyncio.Lock()

    # -- configuration ------------------------------------------------------

    def reload(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self.notifications.notifiers = runbook.notifiers
        self.tracker.refresh = _refresh(runbook)
        self._expected.clear()
        self._synced_size = -1

    def take_over(self, now: Instant) -> None:
        """This replica starts to act (a new leader): silence counts from now, and
        evictions the last leader could not finish are adopted."""
        self.tracker = DeadlineTracker(started_at=now, refresh=_refresh(self.runbook))
        self._expected.clear()
        self._synced_size = -1
        self.applier.adopt_evictions(self.cluster.snapshot(), now)

    def reading(self) -> Reading:
        return Reading(
            runbook=self.runbook,
            snapshot=self.cluster.snapshot(),
            tracked=len(self.tracker),
            leader=True,
            now=self.clock(),
        )

    # -- signals ------------------------------------------------------------

    async def alerts(self, signals: Sequence[Signal]) -> BatchResult:
        tally = Counts(self.metrics)  # a webhook's alerts mostly share their labels
        for s in signals:
            tally.count(self.metrics.signals, s.source, s.name, s.status)
        tally.flush()
        return await self._batch(signals, signals[0].received_at if signals else self.clock())

    async def heartbeats(
        self, beats: Sequence[Beat], now: Instant
    ) -> tuple[list[str], BatchResult]:
        """Per beat "accepted" or why not, and what the beats led to."""
        snapshot = self.cluster.snapshot()
        results: list[str] = []
        changes: list[Change] = []
        signals: list[Signal] = []
        for beat in beats:
            self.metrics.count(self.metrics.heartbeats, beat.status)
            pod = snapshot.pods.get(beat.key)
            if pod is None:
                results.append("unknown_pod")
                continue
            deadline = self._deadline(pod, beat.interval)
            found = self.tracker.beat(beat.key, beat.status, beat.reason, deadline, now)
            changes.extend(found)
            signals.extend(self._signal(c, pod, now) for c in found)
            results.append("accepted")
        if not changes:
            return results, BatchResult([])
        outcome = await self._batch(signals, now)
        if outcome.unavailable:
            for change in changes:  # announce again at the next beat
                self.tracker.unconfirm(change.key)
        return results, outcome

    async def tick(self) -> None:
        """Drains that end, probations that pass, refused evictions, silent pods."""
        now = self.clock()
        async with self._lock:
            await self._apply_and_log(tick(self.runbook, self.cluster.snapshot(), now))
            await self.applier.retry_evictions(now)
        signals = self._missed(now)
        if not signals:
            return
        outcome = await self._batch(signals, now)
        if outcome.unavailable:
            for signal in signals:
                self.tracker.postpone(
                    PodKey(signal.labels["namespace"], signal.labels["pod"]), now + RETRY_AFTER
                )

    async def resume(self, key: PodKey) -> dict[str, Any]:
        now = self.clock()
        async with self._lock:
            entry, _ = await self._apply_and_log(
                resume(self.runbook, self.cluster.snapshot(), key, now)
            )
        return entry

    async def reset(self, supervisor: str) -> dict[str, Any]:
        now = self.clock()
        async with self._lock:
            entry, _ = await self._apply_and_log(
                reset(self.runbook, self.cluster.snapshot(), supervisor, now)
            )
        return entry

    # -- internals ----------------------------------------------------------

    async def _batch(self, signals: Sequence[Signal], now: Instant) -> BatchResult:
        tally = Counts(self.metrics)
        try:
            return await self._decide_batch(signals, now, tally)
        finally:
            tally.flush()

    async def _decide_batch(
        self, signals: Sequence[Signal], now: Instant, tally: Counts
    ) -> BatchResult:
        entries: list[dict[str, Any]] = []
        async with self._lock:
            runbook = self.runbook
            for _ in range(CONFLICT_TRIES):
                observed = observe(runbook, self.cluster.snapshot(), signals, now)
                if not observed.changes_state:
                    break
                applied = await self.applier.apply(runbook, observed)
                if not applied.conflict:
                    break
            if observed.changes_state and applied.unavailable:
                self.metrics.cluster_unavailable.inc()
                return BatchResult(entries, applied.unavailable)
            for signal in signals:
                target = resolve_target(runbook.settings, signal)
                for _ in range(CONFLICT_TRIES):  # a 409: decide again on the fresh pod
                    plan = decide(runbook, self.cluster.snapshot(), signal, now)
                    # Inline _apply_and_log: most plans have nothing to apply.
                    applied = await self._apply(plan) if has_effects(plan) else _NONE
                    entry = self._log(plan, applied, target, tally)
                    if not applied.conflict:
                        break
                entries.append(entry)
                if applied.unavailable:
                    return BatchResult(entries, applied.unavailable)
        return BatchResult(entries)

    async def _apply_and_log(self, plan: Plan) -> tuple[dict[str, Any], Applied]:
        applied = await self._apply(plan) if has_effects(plan) else _NONE
        return self._log(plan, applied, None), applied

    async def _apply(self, plan: Plan) -> Applied:
        applied = await self.applier.apply(self.runbook, plan)
        if applied.unavailable:
            self.metrics.cluster_unavailable.inc()
        return applied

    def _log(
        self,
        plan: Plan,
        applied: Applied,
        target: PodKey | Workload | None,
        tally: Counts | None = None,
    ) -> dict[str, Any]:
        """Count and record one decision; `target` is what its signal is about, if known."""
        metrics = self.metrics
        count = metrics.count if tally is None else tally.count
        for result in applied.results:
            action = result.action
            count(metrics.actions, action.kind, action.rule or "", result.outcome)
        for blocked in plan.blocked:
            count(metrics.blocked, blocked.reason)
        for escalation in plan.escalations:
            count(metrics.escalations, escalation.supervisor, escalation.cause)
        if plan.signal is not None and target is None:
            target = resolve_target(self.runbook.settings, plan.signal)
        shown = str(target) if target else ""
        if plan.signal is not None or plan.actions or plan.blocked or plan.escalations:
            return self.decisions.add(plan, applied.results, shown, applied.unavailable)
        entry = plan_json(plan, applied.results, shown)
        if applied.unavailable:
            entry["unavailable"] = applied.unavailable
        return entry

    def _missed(self, now: Instant) -> list[Signal]:
        snapshot = self.cluster.snapshot()
        if len(snapshot.pods) != self._synced_size or now - self._synced_at >= FULL_SYNC:
            self._sync_expected(snapshot.pods, now)
            self._synced_size, self._synced_at = len(snapshot.pods), now
        signals: list[Signal] = []
        for key in self.tracker.due(now):
            pod = snapshot.pods.get(key)
            since = self.tracker.since(key)
            if pod is None or pod.terminating or (since is not None and pod.predates(since)):
                # Gone, going, or replaced under the same name (a StatefulSet's pod, whose
                # condition was its predecessor's): the next sync watches the new pod from
                # its own start, which the key sets it compares would not show as new.
                self.tracker.forget(key)
                self._expected.pop(key, None)
                continue
            deadline = self._deadline(pod, None) or 0.0
            if pod.started_at is None or now < pod.started_at + deadline:
                start = now if pod.started_at is None else pod.started_at
                self.tracker.postpone(key, max(start + deadline, now + RETRY_AFTER))
                continue
            before = self.tracker.missed_total
            signals.extend(self._signal(c, pod, now) for c in self.tracker.miss(key, now))
            self.metrics.deadlines_missed.inc(self.tracker.missed_total - before)
        return signals

    def _sync_expected(self, pods: Any, now: Instant) -> None:
        """Watch new pods the runbook expects heartbeats from; forget pods that are gone."""
        for key in self._expected.keys() - pods.keys():
            del self._expected[key]
            self.tracker.forget(key)
        for key in pods.keys() - self._expected.keys():
            pod = pods[key]
            expectation = self._expectation(pod)
            if expectation is not None and pod.started_at is not None and not pod.terminating:
                self.tracker.watch(key, expectation.deadline, pod.started_at)
            elif expectation is not None:
                del self._expected[key]  # look again once it has started

    def _expectation(self, pod: Pod) -> HeartbeatExpectation | None:
        if pod.key in self._expected:
            return self._expected[pod.key]
        labels = pod_labels(pod)
        found = next((e for e in self.runbook.heartbeats if e.match.matches(labels)), None)
        self._expected[pod.key] = found
        return found

    def _deadline(self, pod: Pod, interval: float | None) -> float | None:
        expectation = self._expectation(pod)
        if interval is None:
            return expectation.deadline if expectation else None
        return interval * (expectation.miss_after if expectation else DEFAULT_MISS_AFTER)

    def _signal(self, change: Change, pod: Pod, now: Instant) -> Signal:
        signal = heartbeat_signal(
            name=change.name,
            status=change.status,
            namespace=change.key.namespace,
            pod=change.key.name,
            pod_labels=pod.labels,
            starts_at=change.starts_at,
            now=now,
            reason=change.reason,
        )
        self.metrics.count(self.metrics.signals, signal.source, signal.name, signal.status)
        return signal

    def _first_call(self, received_at: Instant) -> None:
        self.metrics.latency.observe(max(0.0, self.clock() - received_at))

    def _notified(self, notifier: str, ok: bool) -> None:
        self.metrics.notifications.labels(notifier, "sent" if ok else "failed").inc()


_NONE = Applied()
"""What applying a plan without effects comes to (read, never changed)."""


def _refresh(runbook: Runbook) -> float:
    """Persisting heartbeat conditions are re-announced well within signalTTL."""
    return max(1.0, runbook.settings.signal_ttl / 3)
