"""Heartbeat deadlines: who is overdue, found without scanning every pod.

Each tracked pod has one entry and at most one item in a heap ordered by
due time. A beat only moves the entry's due time (O(1)); when an item pops
early because its pod beat since, it goes back in at the new due time. So a
beat costs a dict lookup, and finding the overdue costs O(log n) per pod
that is actually due.

The caller wakes for `next_due()` rather than polling, so a silent pod is
found at its deadline, and takes `due()` in slices of at most `limit` heap
items, so a bunch of deadlines (a fleet that started together, a mass
silence) never holds the event loop for long: `next_due() <= now` says
there is more to take.

Conditions become changes: degraded/failing fire at once, a missed deadline
fires HeartbeatMissed, and any later beat resolves what no longer holds. A
condition that persists is re-announced every `refresh` seconds with its
original start, so it stays counted by the maxUnhealthy guard (whose memory
of a signal lasts signalTTL) without ever being a new occurrence.

No pod is declared missed before one full deadline has passed since the
tracker started (the receiver cannot know who was silent before) or since
the pod started. Time is passed in.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass

from receiver.model import HEARTBEAT_SIGNALS, HeartbeatStatus, Instant, PodKey, Status
from receiver.runbook.quantities import format_duration


@dataclass(frozen=True, slots=True)
class Change:
    """A heartbeat signal to decide on: HeartbeatDegraded firing, HeartbeatMissed resolved, ..."""

    key: PodKey
    name: str
    status: Status
    starts_at: Instant
    reason: str


class _Entry:
    __slots__ = ("condition", "deadline", "due_at", "emitted_at", "queued_at", "reason", "since")

    def __init__(self, deadline: float | None, due_at: Instant | None, now: Instant) -> None:
        self.condition = HeartbeatStatus.OK
        self.since = now
        self.reason = ""
        self.deadline = deadline
        self.due_at = due_at
        self.emitted_at = now
        self.queued_at: Instant | None = None


class DeadlineTracker:
    def __init__(self, *, started_at: Instant, refresh: float) -> None:
        self.started_at = started_at
        self.refresh = refresh
        self._entries: dict[PodKey, _Entry] = {}
        self._heap: list[tuple[Instant, int, PodKey]] = []
        self._seq = itertools.count()
        self.missed_total = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def condition(self, key: PodKey) -> HeartbeatStatus | None:
        entry = self._entries.get(key)
        return entry.condition if entry else None

    def since(self, key: PodKey) -> Instant | None:
        """When the pod's current condition began (ok included), if it is tracked."""
        entry = self._entries.get(key)
        return entry.since if entry else None

    def keys(self) -> set[PodKey]:
        return set(self._entries)

    def watch(self, key: PodKey, deadline: float, since: Instant) -> None:
        """Expect beats from a pod not heard from yet, from `since` (when it started)."""
        if key in self._entries:
            return
        entry = _Entry(deadline, max(since, self.started_at) + deadline, since)
        self._entries[key] = entry
        self._queue(key, entry)

    def beat(
        self,
        key: PodKey,
        status: HeartbeatStatus,
        reason: str,
        deadline: float | None,
        now: Instant,
    ) -> list[Change]:
        """Record one beat; the signals it starts, refreshes or ends."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(deadline, None, now)
        entry.deadline = deadline
        entry.due_at = None if deadline is None else now + deadline
        if entry.due_at is not None:
            self._queue(key, entry)
        previous = entry.condition
        if status is previous:
            if status is HeartbeatStatus.OK or now - entry.emitted_at < self.refresh:
                return []
            entry.emitted_at = now
            return [self._change(key, entry, Status.FIRING)]
        changes = []
        if previous is not HeartbeatStatus.OK:
            changes.append(self._change(key, entry, Status.RESOLVED))
        entry.condition, entry.since, entry.reason, entry.emitted_at = status, now, reason, now
        if status is not HeartbeatStatus.OK:
            changes.append(self._change(key, entry, Status.FIRING))
        return changes

    def next_due(self) -> Instant | None:
        """When due() may next find a pod; None while nothing is queued.

        It may be early (the pod queued then has beaten since), never late:
        waking then costs one look, sleeping past it would delay a miss.
        """
        return self._heap[0][0] if self._heap else None

    def due(self, now: Instant, *, limit: int | None = None) -> list[PodKey]:
        """Pods whose deadline has passed; call miss() or postpone() for each.

        With `limit`, at most that many queued items are looked at (each a
        heap pop), so one call's work is bounded however many deadlines fall
        together; the rest stay queued for the next call.
        """
        out = []
        budget = len(self._heap) if limit is None else limit
        while budget > 0 and self._heap and self._heap[0][0] <= now:
            budget -= 1
            at, _, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is None or at != entry.queued_at:
                continue  # superseded by an earlier item pushed for the pod since
            entry.queued_at = None
            if entry.due_at is None:
                continue
            if entry.due_at > now:
                self._queue(key, entry)
            else:
                out.append(key)
        return out

    def miss(self, key: PodKey, now: Instant) -> list[Change]:
        """Declare a due pod silent (or re-announce that it still is, once per `refresh`).

        A silent pod is due again after one deadline, not one refresh, so the
        caller soon sees it if it was replaced (a StatefulSet's pod keeps its key).
        """
        entry = self._entries[key]
        entry.due_at = now + min(self.refresh, entry.deadline or self.refresh)
        self._queue(key, entry)
        if entry.condition is HeartbeatStatus.MISSED:
            if now - entry.emitted_at < self.refresh:
                return []
            entry.emitted_at = now
            return [self._change(key, entry, Status.FIRING)]
        self.missed_total += 1
        changes = []
        if entry.condition is not HeartbeatStatus.OK:
            changes.append(self._change(key, entry, Status.RESOLVED))
        entry.condition, entry.since, entry.emitted_at = HeartbeatStatus.MISSED, now, now
        entry.reason = f"no heartbeat within {format_duration(entry.deadline or 0.0)}"
        changes.append(self._change(key, entry, Status.FIRING))
        return changes

    def postpone(self, key: PodKey, until: Instant) -> None:
        """Look again at `until` (a pod not started yet, a retry after a failed apply)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.due_at = until
            self._queue(key, entry)

    def unconfirm(self, key: PodKey) -> None:
        """The last change was not applied: announce the condition again at the next beat."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.emitted_at = float("-inf")

    def forget(self, key: PodKey) -> None:
        """A pod that is gone or terminating: never declared missed."""
        self._entries.pop(key, None)

    def _queue(self, key: PodKey, entry: _Entry) -> None:
        assert entry.due_at is not None
        if entry.queued_at is None or entry.due_at < entry.queued_at:
            entry.queued_at = entry.due_at
            heapq.heappush(self._heap, (entry.due_at, next(self._seq), key))

    def _change(self, key: PodKey, entry: _Entry, status: Status) -> Change:
        return Change(key, HEARTBEAT_SIGNALS[entry.condition], status, entry.since, entry.reason)
