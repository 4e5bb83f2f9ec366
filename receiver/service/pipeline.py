"""Signals in, decisions made, plans applied, everything reported: the receiver's stages, in order.

    webhook ──────────────────────────┐
    beats ── ingest/expectations.py ──┼── act/batch.py ──┬── act/apply.py (cluster writes)
    tick ─── ingest/expectations.py ──┘   (observe, then └── report/record.py (metrics,
             (missed deadlines)            decide each)                     decision log)

Each stage is its own module; this one only puts them in order and holds
the lock that serializes decisions, so each decision sees the effects of the
one before (the cluster reads its own writes). The clock is read here, at
the edge, and passed into the pure core.

Answers follow the acknowledgement rule: a signal counts as handled once
its plan is applied; if the cluster fails, the batch is reported
unavailable (HTTP 503) and what was not applied is decided again when the
signal comes back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from receiver.act import Applier, Notifications
from receiver.act.batch import Batch, decide_batch, settle
from receiver.cluster import Cluster
from receiver.decide import Plan, reset, resume, tick
from receiver.ingest import Beat
from receiver.ingest.expectations import RETRY_AFTER, HeartbeatWatch
from receiver.metrics import Counts, Metrics
from receiver.model import Instant, PodKey, Signal, Snapshot
from receiver.report.decisions import DecisionLog
from receiver.report.gauges import Reading
from receiver.report.record import Recorder
from receiver.runbook import Runbook

log = logging.getLogger(__name__)
BatchResult = Batch[dict[str, Any]]
"""One decision log entry per signal decided, and whether the cluster failed (503)."""


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
        self.recorder = Recorder(metrics, self.decisions)
        self.notifications = Notifications(runbook.notifiers, metrics)
        self.applier = Applier(cluster, self.notifications, metrics, clock=clock)
        self.heartbeats_due = HeartbeatWatch(runbook, metrics, started_at=clock())
        metrics.follow(runbook)
        self._lock = asyncio.Lock()

    # -- configuration ------------------------------------------------------

    def reload(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self.notifications.notifiers = runbook.notifiers
        self.heartbeats_due.follow(runbook)
        self.metrics.follow(runbook)

    def take_over(self, now: Instant) -> None:
        """This replica starts to act (a new leader): silence counts from now, and
        evictions the last leader could not finish are adopted at the next tick."""
        self.heartbeats_due.restart(now)
        self.applier.evictions.adopt()

    def reading(self, *, leader: bool) -> Reading:
        return Reading(
            runbook=self.runbook,
            snapshot=self.cluster.snapshot(),
            tracked=len(self.heartbeats_due),
            leader=leader,
            now=self.clock(),
        )

    # -- signals ------------------------------------------------------------

    async def alerts(self, signals: Sequence[Signal]) -> BatchResult:
        tally = Counts(self.metrics)  # a webhook's alerts mostly share their labels
        metrics = self.metrics
        for s in signals:
            tally.count(metrics.signals, s.source, metrics.signal_name(s.source, s.name), s.status)
        tally.flush()
        return await self._batch(signals, signals[0].received_at if signals else self.clock())

    async def heartbeats(
        self, beats: Sequence[Beat], now: Instant
    ) -> tuple[list[str], BatchResult]:
        """Per beat "accepted" or why not, and what the beats led to."""
        found = self.heartbeats_due.beats(self.cluster.snapshot(), beats, now)
        if not found.changes:
            return found.results, Batch()
        outcome = await self._batch(found.signals, now)
        if outcome.unavailable:
            self.heartbeats_due.unconfirm(found.changes)  # announce again at the next beat
        return found.results, outcome

    async def tick(self) -> None:
        """Drains that end, probations and settle windows that pass, evictions not done
        yet, silent pods: each job on its own, so one that fails stops none of the others."""
        now = self.clock()
        for job in (self._timed, self._evictions, self._silent):
            try:
                await job(now)
            except Exception:  # the log says which; the next tick tries again
                log.exception("tick: %s failed", job.__name__.strip("_"))

    async def _timed(self, now: Instant) -> None:
        async with self._lock:
            await self._one(lambda snapshot: tick(self.runbook, snapshot, now))

    async def _evictions(self, now: Instant) -> None:
        async with self._lock:
            await self.applier.evictions.retry(self.cluster.snapshot(), now)

    async def _silent(self, now: Instant) -> None:
        signals = self.heartbeats_due.missed(self.cluster.snapshot(), now)
        if not signals:
            return
        outcome = await self._batch(signals, now)
        if outcome.unavailable:
            self.heartbeats_due.postpone(signals, now + RETRY_AFTER)

    async def resume(self, key: PodKey) -> dict[str, Any]:
        now = self.clock()
        async with self._lock:
            return await self._one(lambda snapshot: resume(self.runbook, snapshot, key, now))

    async def reset(self, supervisor: str) -> dict[str, Any]:
        now = self.clock()
        async with self._lock:
            return await self._one(lambda snapshot: reset(self.runbook, snapshot, supervisor, now))

    # -- internals ----------------------------------------------------------

    async def _batch(self, signals: Sequence[Signal], now: Instant) -> BatchResult:
        tally = Counts(self.metrics)
        try:
            async with self._lock:
                return await decide_batch(
                    self.runbook,
                    signals,
                    now,
                    self.applier,
                    lambda plan, applied: self.recorder.record(plan, applied, tally),
                )
        finally:
            tally.flush()

    async def _one(self, make: Callable[[Snapshot], Plan]) -> dict[str, Any]:
        tally = Counts(self.metrics)
        entry, _ = await settle(
            self.runbook,
            self.applier,
            make,
            lambda plan, applied: self.recorder.record(plan, applied, tally),
        )
        tally.flush()
        return entry
