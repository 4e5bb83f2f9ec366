"""The signal journal: what arrived, when, on which fleet, and what was decided (JSON lines).

`receiver replay` reads it to decide last week's traffic again under a
changed runbook (scenario/replay.py; the format is scenario/journal.py).

Written at the edge, by the pipeline, under its decision lock, so lines
are in decision order. Before each batch, tick or human request the pods
the cluster wrote since the last line (Cluster.follow_pods) are compared
with that line's, and only what changed is written: the cost follows the
changes, not the fleet (without the cluster's word, every pod is compared by
identity, at C speed). Changes the
receiver caused itself (the pod it evicted going away, its replacement
coming up, a workload it rollout-restarted) carry their `cause`, so replay
applies them only when it made the same decision; so does a pod's readiness
flip that follows the receiver's own readiness-gate write (a drain or pause
makes it not Ready, a restore Ready again), which replay derives from its
own decisions instead.

Bounded: once a file reaches `max_bytes` it is rotated at the next
decision (a line is never split, so a file may pass the bound by one
decision's lines), keeping `files` files in all (PATH, PATH.1, ...
PATH.<files-1>, newest first): about max_bytes x files on disk. A journal
left by an earlier run becomes PATH.1.
Each file begins with the whole fleet and the receiver's state, so any one
of them replays alone. Lines go through a 64 KiB buffer, flushed at every
tick (a crash loses at most a tick's worth). The lines are made (JSON) and
written by a thread of their own (journal_file.py), so the event loop only
compares pods and queues values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress
from operator import is_not
from pathlib import Path
from typing import Any, TypeVar, cast

from receiver.act import Applied
from receiver.decide import ActionKind, Plan
from receiver.model import Hold, Instant, Outcome, Pod, PodKey, Rollout, Signal, Snapshot, Workload
from receiver.scenario.journal import (
    GATED,
    batch_json,
    decided,
    dumps,
    facts,
    human_json,
    pod_json,
    rollouts_json,
    start_line,
    verdict,
    verdict_json,
)
from receiver.service.journal_file import JournalFile

K = TypeVar("K")
V = TypeVar("V")
MAX_BYTES = 16 << 20
FILES = 4
EVICTED = frozenset({Outcome.APPLIED, Outcome.BLOCKED})
"""An eviction refused or failed for now is retried until it passes: its effects are ours."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalOptions:
    path: Path
    max_bytes: int = MAX_BYTES
    files: int = FILES

    def __post_init__(self) -> None:
        if self.max_bytes < 4096:
            raise ValueError(f"--journal-max-bytes: found {self.max_bytes}, expected 4096 or more")
        if self.files < 1:
            raise ValueError(f"--journal-files: found {self.files}, expected 1 or more")


class Journal:
    """Told by the pipeline what happened; the lines are made and written by `JournalFile`."""

    def __init__(self, options: JournalOptions, *, tick: float, traffic_label: str) -> None:
        self.options = options
        self.tick_interval = tick
        self.traffic_label = traffic_label
        self._writer = JournalFile(options.path, max_bytes=options.max_bytes, files=options.files)
        self._started = False
        self._pods: dict[PodKey, Pod] = {}
        self._rollouts: dict[Workload, Rollout] = {}
        self._causes = _Causes()
        self._heard: set[PodKey] | None = None

    def hear(self, changed: set[PodKey]) -> None:
        """Take the cluster's word for which pods changed (Cluster.follow_pods): the lines
        compare those only, instead of the whole fleet before every decision."""
        self._heard = changed

    def follow(self, traffic_label: str) -> None:
        """A reloaded runbook's traffic label. The lines leave it out of a pod's labels, so
        when it changed the next line is a new start: no diff straddles the two."""
        if traffic_label != self.traffic_label:
            self.traffic_label = traffic_label
            self._started = False

    # -- what the pipeline tells it ----------------------------------------

    def fleet(self, snapshot: Snapshot, at: Instant) -> None:
        """Before a decision: the pods as it will see them (a start line, or what changed)."""
        if not self._started or self._writer.full():
            self._start(snapshot, at)
            return
        changed, gone = self._changes(snapshot.pods)
        rolled = self._rollouts_changed(snapshot.rollouts)
        if not (changed or gone or rolled):
            return
        causes = self._causes
        set_ = [(p, causes.of(p)) for p in changed]
        gone_ = [(p, causes.gone(p)) for p in gone]
        causes.settle(self._pods)
        label = self.traffic_label
        self._writer.put(lambda: dumps(_fleet_json(at, set_, gone_, rolled, label)))

    def restart(self) -> None:
        """Begin a new file at the next decision: this replica leads again, and what the
        leader in between changed (lifecycles, budgets, holds, watches) is in no line."""
        self._started = False

    def batch(
        self, at: Instant, signals: Sequence[Signal], done: Sequence[tuple[Plan, Applied]]
    ) -> None:
        self._effects(done)
        # Copied: the pipeline frees a batch's list once it is decided.
        kept, plans = tuple(signals), [plan for plan, _ in done]
        self._writer.put(lambda: dumps(batch_json(at, kept, plans)))

    def tick(self, at: Instant, plan: Plan, applied: Applied) -> None:
        if decided(plan):
            self._effects([(plan, applied)])
            self._writer.put(
                lambda: dumps({"type": "tick", "at": at, "decision": verdict_json(verdict(plan))})
            )

    def human(
        self,
        at: Instant,
        plan: Plan,
        applied: Applied,
        *,
        resume: PodKey | None = None,
        reset: str | None = None,
        hold: Hold | None = None,
        unhold: str | None = None,
        by: str | None = None,
    ) -> None:
        """A human's request (one of resume, reset, hold, unhold), who asked, its decision."""
        self._effects([(plan, applied)])
        record = human_json(at, resume=resume, reset=reset, hold=hold, unhold=unhold, by=by)
        self._writer.put(lambda: dumps({**record, "decision": verdict_json(verdict(plan))}))

    def flush(self) -> None:
        """Ask for what was written so far to reach the file (it does, soon after)."""
        self._writer.flush()

    def close(self) -> None:
        """Write what is queued and close the file (waits for the writer)."""
        self._writer.stop()

    def written(self) -> None:
        """Wait until what was queued is written (tests; the service never waits)."""
        self._writer.written()

    # -- internals ----------------------------------------------------------

    def _changes(self, pods: Mapping[PodKey, Pod]) -> tuple[list[Pod], list[Pod]]:
        """Pods added or changed, and pods gone, since the last line.

        A fleet of the same size is compared by identity, position by position,
        at C speed (a pod replaced in place keeps its position in both maps);
        only the positions that differ are looked at in Python, and the copy
        is renewed so the positions stay aligned. At 100k pods that is a few
        ms per tick, where a Python loop over every pod took 20 ms or more.
        A fleet that grew or shrank is compared pod by pod.
        """
        if self._heard is not None:
            return self._changes_heard(pods, self._heard)
        known = self._pods
        if len(known) != len(pods):
            return self._changes_by_key(pods)
        if not any(map(is_not, pods.values(), known.values())):
            return [], []
        differ = list(map(is_not, pods.values(), known.values()))
        label = self.traffic_label
        changed = []
        for key in compress(pods.keys(), differ):
            old = known.get(key)
            if old is None or facts(old, label) != facts(pods[key], label):
                changed.append(pods[key])
        gone = [known[key] for key in compress(known.keys(), differ) if key not in pods]
        self._pods = copied(pods)
        return changed, gone

    def _changes_heard(
        self, pods: Mapping[PodKey, Pod], heard: set[PodKey]
    ) -> tuple[list[Pod], list[Pod]]:
        """Pods added or changed, and pods gone, among those the cluster said it wrote
        since the last line (in key order); the copy is kept current key by key."""
        known, label = self._pods, self.traffic_label
        changed, gone = [], []
        for key in sorted(heard):
            pod, old = pods.get(key), known.get(key)
            if pod is None:
                if old is not None:
                    gone.append(known.pop(key))
            elif pod is not old:
                if old is None or facts(old, label) != facts(pod, label):
                    changed.append(pod)
                known[key] = pod
        heard.clear()
        return changed, gone

    def _changes_by_key(self, pods: Mapping[PodKey, Pod]) -> tuple[list[Pod], list[Pod]]:
        changed = []
        known = self._pods
        label = self.traffic_label
        for key, pod in pods.items():
            old = known.get(key)
            if old is pod:
                continue
            if old is None or facts(old, label) != facts(pod, label):
                changed.append(pod)
        gone = [known[key] for key in sorted(known.keys() - pods.keys())]
        self._pods = copied(pods)
        return changed, gone

    def _rollouts_changed(
        self, rollouts: Mapping[Workload, Rollout]
    ) -> list[tuple[Workload, Rollout | None]]:
        """Workloads whose newest revision is new or changed (or no longer known)."""
        known = self._rollouts
        if len(rollouts) == len(known) and all(known.get(w) == r for w, r in rollouts.items()):
            return []
        out: list[tuple[Workload, Rollout | None]] = [
            (w, r) for w, r in rollouts.items() if known.get(w) != r
        ]
        out += [(w, None) for w in known if w not in rollouts]
        self._rollouts = dict(rollouts)
        return out

    def _effects(self, done: Iterable[tuple[Plan, Applied]]) -> None:
        for _, applied in done:
            for result in applied.results:
                action = result.action
                if result.outcome not in EVICTED:
                    continue
                if action.kind is ActionKind.RESTART and action.pod is not None:
                    self._causes.evicted(action.pod, self._pods.get(action.pod))
                elif action.kind in GATED and action.pod is not None:
                    if result.outcome is Outcome.APPLIED:  # written: the gate follows
                        self._causes.gated(action.kind, action.pod, self._pods.get(action.pod))
                elif action.kind is ActionKind.ROLLOUT_RESTART and action.workload is not None:
                    self._causes.rolled(action.workload, self._pods)

    def _start(self, snapshot: Snapshot, at: Instant) -> None:
        """A new file that begins with the whole fleet: at the first decision, and once the
        file reached max_bytes (a line is never split: it may pass it by one decision)."""
        self._started = True
        self._pods = copied(snapshot.pods)
        if self._heard is not None:
            self._heard.clear()  # the start line holds every pod as of now
        self._rollouts = dict(snapshot.rollouts)
        # Pods and budgets are immutable values: copies of the mappings are the state as of now.
        fleet = Snapshot(
            pods=self._pods.copy(),
            workloads=dict(snapshot.workloads),
            supervisors=dict(snapshot.supervisors),
            recent_actions=snapshot.recent_actions,
            holds=snapshot.holds,
            watches=dict(snapshot.watches),
            rollouts=self._rollouts.copy(),
        )
        tick, label = self.tick_interval, self.traffic_label
        self._writer.rotate()
        self._writer.put(lambda: start_line(fleet, at, tick, label))


def copied(mapping: Mapping[K, V]) -> dict[K, V]:
    """A dict copy at C speed. The clusters' snapshots are mapping proxies, which dict()
    copies key by key (20 ms at 100k pods); their own copy() copies the dict (2 ms)."""
    copy = getattr(mapping, "copy", None)
    return cast(dict[K, V], copy()) if copy is not None else dict(mapping)


def _fleet_json(
    at: Instant,
    changed: list[tuple[Pod, str | None]],
    gone: list[tuple[Pod, str | None]],
    rollouts: list[tuple[Workload, Rollout | None]],
    traffic_label: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {"type": "fleet", "at": at}
    if changed:
        record["set"] = [pod_json(p, traffic_label, cause=c) for p, c in changed]
    if gone:
        record["gone"] = [_gone(p, c) for p, c in gone]
    if rollouts:
        record["rollouts"] = rollouts_json(rollouts)
    return record


def _gone(pod: Pod, cause: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"pod": str(pod.key)}
    if cause:
        out["cause"] = cause
    return out


class _Causes:
    """Which pod changes the receiver caused: the pods it evicted, their replacements, and
    the pods of the workloads it rollout-restarted, until the replacements are Ready; and the
    readiness flips that follow its own writes of a pod's readiness gate."""

    def __init__(self) -> None:
        self._evicted: dict[PodKey, tuple[str, str]] = {}  # evicted pod -> cause, uid
        self._owed: dict[Workload, list[str]] = {}  # replacements a workload owes, by cause
        self._new: dict[PodKey, str] = {}  # replacement pods not yet Ready -> cause
        self._rolled: dict[Workload, tuple[str, frozenset[str]]] = {}  # cause, uids before
        self._gated: dict[PodKey, tuple[str, str, bool]] = {}  # cause, uid, readiness owed

    def gated(self, kind: ActionKind, key: PodKey, pod: Pod | None) -> None:
        """A drain, pause or restore written to the gate of a pod that declares it: the pod
        turns not Ready, or Ready, when the kubelet follows (at once in memory, a moment later
        on Kubernetes), and that change is ours."""
        if pod is not None and pod.gate is not None:
            self._gated[key] = (f"{kind} {key}", pod.uid, kind is ActionKind.RESTORE)

    def evicted(self, key: PodKey, pod: Pod | None) -> None:
        cause = f"restart {key}"
        self._evicted[key] = (cause, pod.uid if pod else "")
        if pod is not None and pod.owner is not None:
            self._owed.setdefault(pod.owner, []).append(cause)

    def rolled(self, workload: Workload, pods: Mapping[PodKey, Pod]) -> None:
        before = frozenset(p.uid for p in pods.values() if p.owner == workload)
        self._rolled[workload] = (f"rolloutRestart {workload}", before)

    def of(self, pod: Pod) -> str | None:
        """The cause of a pod's change (added or changed), if it is the receiver's doing."""
        key = pod.key
        evicted = self._evicted.get(key)
        cause = evicted[0] if evicted else self._new.get(key)
        if evicted and pod.uid != evicted[1]:  # a StatefulSet's same-name successor
            self._new[key] = evicted[0]
            del self._evicted[key]
        if cause is None and pod.owner is not None:
            owed = self._owed.get(pod.owner)
            if owed:
                cause = self._new[key] = owed.pop(0)
            elif pod.owner in self._rolled:
                cause = self._rolled[pod.owner][0]
        if key in self._new and pod.ready and not pod.terminating:
            del self._new[key]  # the replacement is up: what happens to it next is not ours
        return cause if cause is not None or not self._gated else self._gate_flip(pod)

    def _gate_flip(self, pod: Pod) -> str | None:
        """The cause of the readiness flip a gate write owed, once the pod shows it; a change
        before it (the kubelet has not followed yet) is not ours."""
        owed = self._gated.get(pod.key)
        if owed is None:
            return None
        cause, uid, ready = owed
        if pod.uid != uid:  # another pod of the same name: the write was not to it
            del self._gated[pod.key]
            return None
        if pod.ready != ready:
            return None
        del self._gated[pod.key]
        return cause

    def gone(self, pod: Pod) -> str | None:
        key = pod.key
        self._gated.pop(key, None)
        evicted = self._evicted.pop(key, None)
        cause = evicted[0] if evicted else self._new.pop(key, None)
        if cause is None and pod.owner in self._rolled:
            cause = self._rolled[pod.owner][0]
        return cause

    def settle(self, pods: Mapping[PodKey, Pod]) -> None:
        """A rollout restart is over once none of the pods it found is left and all are Ready."""
        for workload, (_, before) in list(self._rolled.items()):
            members = [p for p in pods.values() if p.owner == workload]
            if all(p.uid not in before and p.ready and not p.terminating for p in members):
                del self._rolled[workload]
