"""Which pods owe heartbeats, and by when: the runbook's `heartbeats` section applied to the fleet.

The deadline tracker (deadlines.py) knows times; this module knows pods. It
keeps the tracker in step with the pods the runbook expects heartbeats from
(new pods are watched from their start, gone pods forgotten), turns beats
and missed deadlines into heartbeat signals, and leaves deciding to the
caller. Nothing here reads the clock.

At 100k pods no call may hold the event loop for long, so the work that
grows with the fleet comes in bounded slices the caller runs with pauses
between them: `sync` compares at most `limit` pods per call, `missed` looks
at most `limit` queued deadlines per call. A mass silence is still one batch:
the caller gathers the misses of every slice due at one instant, then
decides them together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from receiver.decide.tree import pod_labels
from receiver.ingest.deadlines import Change, DeadlineTracker
from receiver.ingest.heartbeats import Beat
from receiver.metrics import Metrics
from receiver.model import Instant, Pod, PodKey, Signal, Snapshot, heartbeat_signal
from receiver.runbook import Runbook
from receiver.runbook.types import DEFAULT_MISS_AFTER, HeartbeatExpectation

RETRY_AFTER = 1.0
"""Seconds before a silent pod is looked at again when it could not be declared yet."""
FULL_SYNC = 10.0
"""Seconds between full comparisons of the pods with the expected heartbeats.

Between them the comparison runs only when the number of pods changed: it
costs O(pods) (about 17 ms at 10k pods), too much for every tick.
"""


@dataclass(frozen=True, slots=True)
class Beats:
    results: list[str]  # per beat: "accepted", or why not
    changes: list[Change]
    signals: list[Signal]  # one per change, to decide


class HeartbeatWatch:
    def __init__(self, runbook: Runbook, metrics: Metrics, *, started_at: Instant) -> None:
        self.metrics = metrics
        self.runbook = runbook
        self.tracker = DeadlineTracker(started_at=started_at, refresh=_refresh(runbook))
        self._expected: dict[PodKey, HeartbeatExpectation | None] = {}
        self._synced_size, self._synced_at = -1, float("-inf")
        self._pass: list[PodKey] | None = None  # the comparison under way, in slices
        self._passed = 0  # how far it has come

    def follow(self, runbook: Runbook) -> None:
        """A reloaded runbook: expectations are looked up again."""
        self.runbook = runbook
        self.tracker.refresh = _refresh(runbook)
        self._forget_expectations()

    def restart(self, now: Instant) -> None:
        """Silence counts from `now` (a new leader cannot know who was silent before)."""
        self.tracker = DeadlineTracker(started_at=now, refresh=_refresh(self.runbook))
        self._forget_expectations()

    def beats(self, snapshot: Snapshot, beats: Sequence[Beat], now: Instant) -> Beats:
        found = Beats([], [], [])
        for beat in beats:
            self.metrics.count(self.metrics.heartbeats, beat.status)
            pod = snapshot.pods.get(beat.key)
            if pod is None:
                found.results.append("unknown_pod")
                continue
            deadline = self._deadline(beat.key, pod, beat.interval)
            changes = self.tracker.beat(beat.key, beat.status, beat.reason, deadline, now)
            found.changes.extend(changes)
            found.signals.extend(self._signal(c, pod, now) for c in changes)
            found.results.append("accepted")
        return found

    def unconfirm(self, changes: Sequence[Change]) -> None:
        """The changes could not be acted on: announce them again at the next beat."""
        for change in changes:
            self.tracker.unconfirm(change.key)

    def sync(self, pods: Mapping[PodKey, Pod], now: Instant, *, limit: int | None = None) -> bool:
        """Compare the pods with the expected heartbeats, at most `limit` keys per call.

        True once no comparison is under way. A comparison starts when the
        number of pods changed or FULL_SYNC passed, and goes on over as many
        calls as it takes; each call looks at the pods as they are then, so a
        pause between calls (other requests, pods coming and going) is safe.
        """
        if self._pass is None:
            if len(pods) == self._synced_size and now - self._synced_at < FULL_SYNC:
                return True
            self._synced_size, self._synced_at = len(pods), now
            # Gone pods first, then new ones: keys copied, as the pods change between slices.
            self._pass, self._passed = [*self._expected, *pods], 0
        start = self._passed
        end = len(self._pass) if limit is None else min(len(self._pass), start + limit)
        for key in self._pass[start:end]:
            self._compare(key, pods)
        self._passed = end
        if end < len(self._pass):
            return False
        self._pass = None
        return True

    def next_due(self) -> Instant | None:
        """When `missed` may next find a pod (see DeadlineTracker.next_due)."""
        return self.tracker.next_due()

    def missed(self, snapshot: Snapshot, now: Instant, *, limit: int | None = None) -> list[Signal]:
        """HeartbeatMissed for expected pods whose deadline passed in silence.

        With `limit`, at most that many queued deadlines are looked at; while
        `next_due()` is at or before `now` there are more.
        """
        signals: list[Signal] = []
        for key in self.tracker.due(now, limit=limit):
            pod = snapshot.pods.get(key)
            since = self.tracker.since(key)
            if pod is None or pod.terminating or (since is not None and pod.predates(since)):
                # Gone, going, or replaced under the same name (a StatefulSet's pod, whose
                # condition was its predecessor's): the next sync watches the new pod from
                # its own start, which the key sets it compares would not show as new.
                self.tracker.forget(key)
                self._expected.pop(key, None)
                continue
            deadline = self._deadline(key, pod, None) or 0.0
            if pod.started_at is None or now < pod.started_at + deadline:
                start = now if pod.started_at is None else pod.started_at
                self.tracker.postpone(key, max(start + deadline, now + RETRY_AFTER))
                continue
            before = self.tracker.missed_total
            signals.extend(self._signal(c, pod, now) for c in self.tracker.miss(key, now))
            self.metrics.deadlines_missed.inc(self.tracker.missed_total - before)
        return signals

    def postpone(self, signals: Sequence[Signal], until: Instant) -> None:
        """The misses could not be acted on: look at these pods again at `until`."""
        for signal in signals:
            self.tracker.postpone(PodKey(signal.labels["namespace"], signal.labels["pod"]), until)

    def __len__(self) -> int:
        return len(self.tracker)

    @property
    def missed_total(self) -> int:
        """Silences declared since this replica began to act."""
        return self.tracker.missed_total

    def _forget_expectations(self) -> None:
        self._expected.clear()
        self._synced_size = -1
        self._pass = None

    def _compare(self, key: PodKey, pods: Mapping[PodKey, Pod]) -> None:
        """Watch a new pod the runbook expects heartbeats from; forget a pod that is gone."""
        pod = pods.get(key)
        if pod is None:
            if self._expected.pop(key, _ABSENT) is not _ABSENT:
                self.tracker.forget(key)
            return
        if key in self._expected:
            return
        expectation = self._expectation(key, pod)
        if expectation is not None and pod.started_at is not None and not pod.terminating:
            self.tracker.watch(key, expectation.deadline, pod.started_at)
        elif expectation is not None:
            del self._expected[key]  # look again once it has started

    def _expectation(self, key: PodKey, pod: Pod) -> HeartbeatExpectation | None:
        # `key` is passed in: Pod.key builds a new PodKey, which at a beat per
        # pod every few seconds was a tenth of a beat's cost.
        found = self._expected.get(key, _ABSENT)
        if found is not _ABSENT:
            return found  # type: ignore[return-value]
        labels = pod_labels(pod)
        expectation = next((e for e in self.runbook.heartbeats if e.match.matches(labels)), None)
        self._expected[key] = expectation
        return expectation

    def _deadline(self, key: PodKey, pod: Pod, interval: float | None) -> float | None:
        """A beat's own interval times the runbook's missAfter, else the runbook's deadline."""
        expectation = self._expectation(key, pod)
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


_ABSENT = object()
"""Not in the expectations memo (None there means "expects no heartbeats")."""


def _refresh(runbook: Runbook) -> float:
    """Persisting heartbeat conditions are re-announced well within signalTTL."""
    return max(1.0, runbook.settings.signal_ttl / 3)
