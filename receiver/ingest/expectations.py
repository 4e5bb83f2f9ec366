"""Which pods owe heartbeats, and by when: the runbook's `heartbeats` section applied to the fleet.

The deadline tracker (deadlines.py) knows times; this module knows pods. It
keeps the tracker in step with the pods the runbook expects heartbeats from
(new pods are watched from their start, gone pods forgotten), turns beats
and missed deadlines into heartbeat signals, and leaves deciding to the
caller. Nothing here reads the clock.
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
            deadline = self._deadline(pod, beat.interval)
            changes = self.tracker.beat(beat.key, beat.status, beat.reason, deadline, now)
            found.changes.extend(changes)
            found.signals.extend(self._signal(c, pod, now) for c in changes)
            found.results.append("accepted")
        return found

    def unconfirm(self, changes: Sequence[Change]) -> None:
        """The changes could not be acted on: announce them again at the next beat."""
        for change in changes:
            self.tracker.unconfirm(change.key)

    def missed(self, snapshot: Snapshot, now: Instant) -> list[Signal]:
        """HeartbeatMissed for every expected pod whose deadline passed in silence."""
        if len(snapshot.pods) != self._synced_size or now - self._synced_at >= FULL_SYNC:
            self._sync(snapshot.pods)
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

    def postpone(self, signals: Sequence[Signal], until: Instant) -> None:
        """The misses could not be acted on: look at these pods again at `until`."""
        for signal in signals:
            self.tracker.postpone(PodKey(signal.labels["namespace"], signal.labels["pod"]), until)

    def __len__(self) -> int:
        return len(self.tracker)

    def _forget_expectations(self) -> None:
        self._expected.clear()
        self._synced_size = -1

    def _sync(self, pods: Mapping[PodKey, Pod]) -> None:
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
        """A beat's own interval times the runbook's missAfter, else the runbook's deadline."""
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


def _refresh(runbook: Runbook) -> float:
    """Persisting heartbeat conditions are re-announced well within signalTTL."""
    return max(1.0, runbook.settings.signal_ttl / 3)
