"""Signals in, decisions made, plans applied, everything reported: the receiver's stages, in order.

    webhook ──────────────────────────┐
    beats ── ingest/expectations.py ──┼── act/batch.py ──┬── act/apply.py (cluster writes)
    tick ─── ingest/expectations.py ──┘   (observe, then └── report/record.py (metrics,
             (missed deadlines)            decide each)                     decision log)

Each stage is its own module; this one only puts them in order and holds
the lock that serializes decisions, so each decision sees the effects of the
one before (the cluster reads its own writes). The clock is read here, at
the edge, and passed into the pure core.

With a journal (journal.py, `serve --journal`), each batch, tick and human
request is also told to it, under the same lock, with the fleet it met, so
`receiver replay` can decide the same traffic again.

Answers follow the acknowledgement rule: a signal counts as handled once
its plan is applied; if the cluster fails, the batch is reported
unavailable (HTTP 503) and what was not applied is decided again when the
signal comes back.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from receiver.act import Applied, Applier, Notifications
from receiver.act.batch import Batch, apply_until_settled, decide_batch
from receiver.cluster import Cluster
from receiver.decide import Plan, hold, reset, resume, tick, unhold
from receiver.ingest import Beat
from receiver.ingest.expectations import RETRY_AFTER, HeartbeatWatch
from receiver.metrics import Counts, Metrics
from receiver.model import Hold, Instant, PodKey, Signal, Snapshot
from receiver.report.decisions import DecisionLog
from receiver.report.gauges import Reading
from receiver.report.record import Recorder
from receiver.runbook import Runbook
from receiver.service.journal import Journal

log = logging.getLogger(__name__)

SYNC_SLICE = 1000
"""Pods compared with the expected heartbeats per slice (up to about 10 ms when all are new)."""
DUE_SLICE = 256
"""Queued deadlines looked at per slice (a stale one costs ~2 us, a miss ~50 us)."""
RELEASE_SLICE = 5000
"""Objects of a finished batch freed between pauses."""

_LABELS = attrgetter("source", "name", "status")
"""A signal's labels in remediation_signals_total (its name bounded by Metrics.signal_name)."""

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
        journal: Journal | None = None,
    ) -> None:
        self.runbook = runbook
        self.cluster = cluster
        self.metrics = metrics
        self.clock = clock
        self.decisions = decisions or DecisionLog()
        self.recorder = Recorder(metrics, self.decisions)
        self.journal = journal
        if journal is not None:
            journal.hear(cluster.follow_pods())
        self.notifications = Notifications(
            runbook.notifiers,
            metrics,
            failed=self.recorder.notification_failed,
            external_url=runbook.settings.external_url,
        )
        self.applier = Applier(cluster, self.notifications, metrics, clock=clock)
        self.heartbeats_due = HeartbeatWatch(runbook, metrics, started_at=clock())
        metrics.follow(runbook)
        self._lock = asyncio.Lock()
        self._led = False  # take_over was called before: this replica leads again
        self._deadlines = asyncio.Lock()  # one mass silence decided at a time, in order
        self.deadlines_moved = asyncio.Event()
        """Set when a deadline may have come earlier than the waker's (runtime.py) plan."""

    # -- configuration ------------------------------------------------------

    def reload(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self.notifications.notifiers = runbook.notifiers
        self.notifications.external_url = runbook.settings.external_url
        self.heartbeats_due.follow(runbook)
        self.metrics.follow(runbook)
        if self.journal is not None:
            self.journal.follow(runbook.settings.traffic_label)

    def take_over(self, now: Instant) -> None:
        """This replica starts to act (a new leader): silence counts from now,
        evictions the last leader could not finish are adopted at the next tick, and,
        when it led before, the journal begins a new file with the state as it finds it."""
        self.heartbeats_due.restart(now)
        self.applier.evictions.adopt()
        if self._led and self.journal is not None:
            self.journal.restart()  # what the leader in between changed is in no line of ours
        self._led = True

    def reading(self, *, leader: bool) -> Reading:
        return Reading(
            runbook=self.runbook,
            snapshot=self.cluster.snapshot(),
            tracked=len(self.heartbeats_due),
            leader=leader,
            now=self.clock(),
            outcomes=self.recorder.outcomes.counts(),
        )

    # -- signals ------------------------------------------------------------

    async def alerts(self, signals: Sequence[Signal]) -> BatchResult:
        metrics = self.metrics  # a webhook's alerts mostly share their labels: counted at C speed
        for (source, name, status), amount in Counter(map(_LABELS, signals)).items():
            metrics.count(
                metrics.signals, source, metrics.signal_name(source, name), status, amount=amount
            )
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
        """Everything time brings, each job on its own, so one that fails stops none of
        the others: drains that end, probations and settle windows that pass, evictions
        not done yet, the pods expected to beat, silent pods."""
        await self.transitions()
        for job in (self.expect, self.deadlines):
            try:
                await job()
            except Exception:  # the log says which; the next tick tries again
                log.exception("tick: %s failed", job.__name__)

    async def transitions(self) -> None:
        """Drains that end, probations and settle windows that pass, evictions not done yet."""
        now = self.clock()
        for job in (self._timed, self._evictions):
            try:
                await job(now)
            except Exception:  # the log says which; the next tick tries again
                log.exception("tick: %s failed", job.__name__.strip("_"))

    async def _timed(self, now: Instant) -> None:
        journal = self.journal
        note = functools.partial(journal.tick, now) if journal is not None else None
        async with self._lock:
            await self._one(lambda snapshot: tick(self.runbook, snapshot, now), now, journal=note)
        if journal is not None:
            journal.flush()

    async def _evictions(self, now: Instant) -> None:
        async with self._lock:
            await self.applier.evictions.retry(self.cluster.snapshot(), now)

    async def expect(self) -> None:
        """Keep the deadlines in step with the pods (new ones watched), in slices."""
        now = self.clock()
        watch = self.heartbeats_due
        while not watch.sync(self.cluster.snapshot().pods, now, limit=SYNC_SLICE):
            await _pause()
        self.deadlines_moved.set()  # a pod watched late may be due before the waker would look

    async def deadlines(self) -> None:
        """Declare every pod due by now missed, as one batch (observed whole, then decided).

        The due deadlines are taken in slices with pauses between, so a mass
        silence lets requests through; the misses of all slices are gathered
        first and decided together, as the fleet guards expect.
        """
        async with self._deadlines:
            now = self.clock()
            watch = self.heartbeats_due
            signals = watch.missed(self.cluster.snapshot(), now, limit=DUE_SLICE)
            while (due := watch.next_due()) is not None and due <= now:
                await _pause()
                signals += watch.missed(self.cluster.snapshot(), now, limit=DUE_SLICE)
            if not signals:
                return
            outcome = await self._batch(signals, now)
            if outcome.unavailable:
                self.heartbeats_due.postpone(signals, now + RETRY_AFTER)
            # Freed in slices too: dropping a partition's 100k signals and decisions at
            # once holds the loop about 50 ms.
            await _release(signals)
            await _release(outcome.entries)

    def next_due(self) -> Instant | None:
        """When `deadlines()` may next find a silent pod; None: no deadline is pending."""
        return self.heartbeats_due.next_due()

    # A human's request: `by` (the admin token's name) goes into the journal's line for it.

    # Each reads the clock once it holds the lock, so its journal line is not earlier than
    # the decision before it.

    async def resume(self, key: PodKey, *, by: str | None = None) -> dict[str, Any]:
        async with self._lock:
            now = self.clock()
            note = self._human_note(now, by, resume=key)
            return await self._one(
                lambda snapshot: resume(self.runbook, snapshot, key, now), now, journal=note
            )

    async def reset(self, supervisor: str, *, by: str | None = None) -> dict[str, Any]:
        async with self._lock:
            now = self.clock()
            note = self._human_note(now, by, reset=supervisor)
            return await self._one(
                lambda snapshot: reset(self.runbook, snapshot, supervisor, now), now, journal=note
            )

    async def hold(self, new: Hold, *, by: str | None = None) -> dict[str, Any]:
        """Set an operator hold (HoldRefused when it cannot be); the entry says so."""
        async with self._lock:
            now = self.clock()
            note = self._human_note(now, by, hold=new)
            return await self._one(lambda snapshot: hold(snapshot, new, now), now, journal=note)

    async def unhold(self, hold_id: str, *, by: str | None = None) -> dict[str, Any]:
        """Lift an operator hold (LookupError when none in force has that id)."""
        async with self._lock:
            now = self.clock()
            note = self._human_note(now, by, unhold=hold_id)
            return await self._one(
                lambda snapshot: unhold(snapshot, hold_id, now), now, journal=note
            )

    def _human_note(self, now: Instant, by: str | None, **request: Any) -> _Note | None:
        journal = self.journal
        if journal is None:
            return None
        return functools.partial(journal.human, now, by=by, **request)

    # -- internals ----------------------------------------------------------

    async def _batch(self, signals: Sequence[Signal], now: Instant) -> BatchResult:
        tally = Counts(self.metrics)
        try:
            async with self._lock:
                if self.journal is not None:
                    return await self._journalled(signals, now, tally, self.journal)
                return await decide_batch(
                    self.runbook,
                    signals,
                    now,
                    self.applier,
                    lambda plan, applied: self.recorder.record(plan, applied, tally),
                    pause=_pause,
                )
        finally:
            tally.flush()

    async def _journalled(
        self, signals: Sequence[Signal], now: Instant, tally: Counts, journal: Journal
    ) -> BatchResult:
        """A batch, the journal told the fleet it meets, then the signals and decisions."""
        kept = _Kept()
        journal.fleet(self.cluster.snapshot(), now)
        outcome = await decide_batch(
            self.runbook,
            signals,
            now,
            self.applier,
            lambda plan, applied: kept(plan, applied, self.recorder.record(plan, applied, tally)),
            pause=_pause,
        )
        journal.batch(now, signals, kept.done)
        return outcome

    async def _one(
        self, make: Callable[[Snapshot], Plan], now: Instant, *, journal: _Note | None = None
    ) -> dict[str, Any]:
        """One plan that is not a signal's (a tick, a human's resume or reset); with a
        journal, told to it by `journal`."""
        tally = Counts(self.metrics)
        kept = _Kept()
        if self.journal is not None:
            self.journal.fleet(self.cluster.snapshot(), now)
        entry, _ = await apply_until_settled(
            self.runbook,
            self.applier,
            make,
            lambda plan, applied: kept(plan, applied, self.recorder.record(plan, applied, tally)),
        )
        tally.flush()
        if journal is not None and kept.done:
            journal(*kept.done[-1])
        return entry


_Note = Callable[[Plan, Applied], None]


class _Kept:
    """The plans a batch's decisions came to, for the journal: one per signal (a decision
    made again after a conflict replaces the one before)."""

    def __init__(self) -> None:
        self.done: list[tuple[Plan, Applied]] = []

    def __call__(self, plan: Plan, applied: Applied, entry: dict[str, Any]) -> dict[str, Any]:
        done = self.done
        if done and plan.signal is not None and done[-1][0].signal is plan.signal:
            done[-1] = (plan, applied)
        else:
            done.append((plan, applied))
        return entry


async def _pause() -> None:
    """Let the event loop run what is ready (requests, /healthz) before the next slice."""
    await asyncio.sleep(0)


async def _release(items: list[Any]) -> None:
    """Empty a long list a slice at a time, pausing between slices."""
    while len(items) > RELEASE_SLICE:
        del items[-RELEASE_SLICE:]
        await _pause()
    items.clear()
