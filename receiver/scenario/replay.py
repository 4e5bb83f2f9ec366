"""Decide a journal's signals again under another runbook, and say where the decisions differ.

The journal (journal.py) holds what arrived, when, on which fleet, and
what was decided. Replay starts from the fleet and state of its first
`start` line and plays every line on a simulated clock, through the runbook
tests' simulation (simulation.py), so batches run through the same
act/batch.py as the service's:

- a `batch` is decided again, signal by signal, and each decision is
  compared with the one recorded for that signal;
- a `tick` is taken at its recorded instant. When the replayed state has
  something due that no recorded tick took (a drain made longer or shorter
  by the new runbook), a tick is taken half a tick interval after it fell
  due, once no recorded line came within `late` (1 s, or one and a half
  tick intervals if longer). Timed decisions are compared per target: a
  recorded one and a replayed one within `late` plus a tick interval are
  one, and the same decision taken earlier or later is a `different time`;
- a `fleet` change is applied as it was seen, except the receiver's own
  effects (the pod it evicted going away, its replacement coming up): those
  are applied only when the replay made the same decision. Where the replay
  restarted a pod the recording did not, the pod is replaced after the
  runbook's `settings.restartTime`, as in runbook tests;
- a pod that declares the receiver's readiness gate has the readiness the
  replay's own decisions make (gates.py): its gate shut by a live drain,
  pause or restart, opened by a restore; the recorded readiness its
  recording's gate made (a change with a `drain`, `pause` or `restore`
  cause, or any while that gate was shut) is not applied;
- a `human` resume, reset, hold or unhold is done again at its instant (a
  hold with the id, author and end it had), so a hold set or lifted last
  week blocks, or stops blocking, at the same time in the replay;
- a workload's newest revision (`rollouts`, for the badRollout guard)
  changes as it was seen: a rollout is never the receiver's own doing.

A difference is one of `Kind`: the replay acted where the recording held
(or did nothing), held where it acted, acted differently, held for another
reason, or escalated differently.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from receiver.act import Applied
from receiver.act.batch import apply_until_settled, decide_batch
from receiver.decide import HoldRefused, Plan, hold, reset, resume, tick, unhold
from receiver.decide.plan import ActionKind
from receiver.model import (
    Instant,
    Lifecycle,
    Pod,
    PodKey,
    PodState,
    Signal,
    Snapshot,
    Workload,
    parse_pod_key,
)
from receiver.model.fleet import TIMED, gate_shut_in_traffic, index_owners
from receiver.runbook import Runbook
from receiver.scenario.gates import Gates
from receiver.scenario.journal import (
    Batch,
    FleetChange,
    Human,
    JournalInvalid,
    Line,
    Start,
    Tick,
    Verdict,
    facts,
    gate_cause,
    verdict,
)
from receiver.scenario.simulation import Simulation
from receiver.scenario.spec import Case

_GATE_WRITES = frozenset(
    {ActionKind.DRAIN, ActionKind.PAUSE, ActionKind.RESTORE, ActionKind.RESTART}
)
"""Actions whose pod write sets a declared readiness gate (restore opens it)."""
LATE = 1.0
"""Seconds (or one and a half tick intervals, if longer) after something fell due by which
the service has surely ticked: a busy event loop delays a tick by a fraction of a second."""


class Kind(StrEnum):
    ACTED = "acted where it held"
    HELD = "held where it acted"
    ACTION = "different action"
    REASON = "different reason"
    ESCALATION = "different escalation"
    TIME = "different time"  # a timed decision, the same, taken earlier or later


@dataclass(frozen=True, slots=True)
class Difference:
    at: Instant
    subject: str  # the signal, "tick" or the human's request
    kind: Kind
    recorded: Verdict
    replayed: Verdict
    where: str  # the journal line


@dataclass(frozen=True, slots=True)
class Result:
    started: Instant
    ended: Instant
    signals: int  # signal decisions compared
    timed: int  # timed and human decisions compared
    differences: tuple[Difference, ...]

    @property
    def decisions(self) -> int:
        return self.signals + self.timed

    def counts(self) -> Counter[Kind]:
        return Counter(d.kind for d in self.differences)


def compare(recorded: Verdict, replayed: Verdict) -> Kind | None:
    if recorded == replayed:
        return None
    if replayed.acted and not recorded.acted:
        return Kind.ACTED
    if recorded.acted and not replayed.acted:
        return Kind.HELD
    if recorded.actions != replayed.actions:
        return Kind.ACTION
    if recorded.blocked != replayed.blocked:
        return Kind.REASON
    return Kind.ESCALATION


def replay(runbook: Runbook, lines: list[Line]) -> Result:
    if not lines or not isinstance(lines[0].record, Start):
        raise JournalInvalid("the journal is empty: nothing was decided while it was written")
    player = Replay(runbook, lines)
    player.run()
    return player.result()


@dataclass(frozen=True, slots=True)
class _Timed:
    at: Instant
    target: str
    verdict: Verdict
    where: str


class Replay(Simulation):
    def __init__(self, runbook: Runbook, lines: list[Line]) -> None:
        first = lines[0].record
        assert isinstance(first, Start)
        case = Case(
            name="replay",
            line=0,
            fleet=(),
            signals=(),
            expect=(),
            interval=first.tick,
            restart_time=runbook.settings.restart_time,
        )
        super().__init__(runbook, case, start=_indexed(first.snapshot))
        self.lines = lines
        self.interval = first.tick
        self.started = self.last_tick = first.at
        self.late = max(LATE, 1.5 * first.tick)
        # Own effects the replay made, named as the journal does; a restart under way when
        # the journal begins is one (its replacement's lines carry its cause).
        self.made: set[str] = {
            f"restart {key}"
            for key, pod in first.snapshot.pods.items()
            if pod.lifecycle.state is PodState.RESTARTED
        }
        self.gates = Gates(first.snapshot.pods)
        self.skipped: set[PodKey] = set()  # pods only the recording's own effects made
        self.simulated: set[PodKey] = set()  # pods the replay replaced itself
        self.ends: dict[PodKey | Workload, Instant] = {}
        self._note_ends(first.snapshot)
        self.signals = 0
        self.humans = 0
        self.differences: list[Difference] = []
        self.recorded_timed: list[_Timed] = []
        self.replayed_timed: list[_Timed] = []

    # -- the timeline -------------------------------------------------------

    def _timeline(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        for line in self.lines[1:]:
            record = line.record
            self._catch_up(record.at)
            self._replace_due(record.at)
            if isinstance(record, FleetChange):
                self._fleet(record)
            elif isinstance(record, Start):
                self._fleet(self._changes_to(record.snapshot, record.at))
            elif isinstance(record, Batch):
                self._batch(record, line.where)
            elif isinstance(record, Tick):
                self._tick(record.at, record.verdict, line.where)
            elif isinstance(record, Human):
                self._by_human(record, line.where)
        self.ended = self.lines[-1].record.at

    def _catch_up(self, until: Instant) -> None:
        """Ticks for what the replay has due and no recorded tick took (see the docstring)."""
        while (due := self._next_due()) is not None and due + self.late < until:
            at = due + 0.5 * self.interval
            self._replace_due(at)
            self._tick(at, None, "")

    def _next_due(self) -> Instant | None:
        """The earliest end of a drain, probation or settle window after the last tick."""
        after = self.last_tick
        later = [end for end in self.ends.values() if end > after]
        return min(later, default=None)

    def _note_ends(self, snapshot: Snapshot) -> None:
        """Where each timed state ends (`ends`), kept as plans change lifecycles, so finding
        the next one costs the pods in a timed state, not the fleet, per journal line."""
        for key, pod in snapshot.pods.items():
            self._note_end(key, pod.lifecycle)
        for workload, state in snapshot.workloads.items():
            self._note_end(workload, state)

    def _note_end(self, key: PodKey | Workload, lifecycle: Lifecycle) -> None:
        timed = isinstance(key, Workload) or lifecycle.state in TIMED
        if timed and lifecycle.until is not None:
            self.ends[key] = lifecycle.until
        else:
            self.ends.pop(key, None)

    def _tick(self, at: Instant, recorded: Verdict | None, where: str) -> None:
        self.last_tick = at
        if recorded is not None and recorded != Verdict():
            self.recorded_timed.extend(_Timed(at, t, v, where) for t, v in _by_target(recorded))
        kept: list[Plan] = []
        self.run_until_complete(
            apply_until_settled(
                self.runbook,
                self,
                functools.partial(tick, self.runbook, now=at),
                lambda plan, applied: kept.append(plan),
            )
        )
        found = verdict(kept[-1])
        self.replayed_timed.extend(_Timed(at, t, v, where) for t, v in _by_target(found))

    def _batch(self, record: Batch, where: str) -> None:
        kept: list[Plan] = []

        def keep(plan: Plan, applied: Applied) -> None:
            if kept and kept[-1].signal is plan.signal:
                kept[-1] = plan
            else:
                kept.append(plan)

        # A batch the cluster failed part-way (503) has fewer decisions than signals: the
        # rest came back with Alertmanager's re-delivery, a later batch. Decided here, they
        # would be decided twice.
        signals = record.signals[: len(record.verdicts)]
        if not signals:
            return
        self.run_until_complete(decide_batch(self.runbook, signals, record.at, self, keep))
        for signal, recorded, plan in zip(signals, record.verdicts, kept, strict=True):
            self.signals += 1
            self._compare(record.at, _subject(signal), recorded, verdict(plan), where)

    def _by_human(self, record: Human, where: str) -> None:
        runbook, at = self.runbook, record.at
        kept: list[Plan] = []
        key, name, new, lifted = record.resume, record.reset or "", record.hold, record.unhold
        make: Callable[[Snapshot], Plan]
        if key is not None:
            make = lambda s: resume(runbook, s, key, at)  # noqa: E731
        elif new is not None:
            make = lambda s: hold(s, new, at)  # noqa: E731
        elif lifted is not None:
            make = lambda s: unhold(s, lifted, at)  # noqa: E731
        else:
            make = lambda s: reset(runbook, s, name, at)  # noqa: E731
        # Refused here as it was not there (a pod already gone): nothing decided.
        with contextlib.suppress(LookupError, HoldRefused):
            self.run_until_complete(
                apply_until_settled(runbook, self, make, lambda plan, _: kept.append(plan))
            )
        self.humans += 1
        found = verdict(kept[-1]) if kept else Verdict()
        self._compare(at, record.subject, record.verdict, found, where)

    def _compare(
        self, at: Instant, subject: str, recorded: Verdict, replayed: Verdict, where: str
    ) -> None:
        kind = compare(recorded, replayed)
        if kind is not None:
            self.differences.append(Difference(at, subject, kind, recorded, replayed, where))

    # -- the fleet ----------------------------------------------------------

    def _fleet(self, change: FleetChange) -> None:
        pods = dict(self.current.pods)
        for pod, cause in change.set:
            key = pod.key
            if not self._follows(cause, key) or (cause is None and key in self.skipped):
                if key not in pods:
                    self.skipped.add(key)
                continue
            old = pods.get(key)
            updated = _updated(old, pod, self.runbook.settings.traffic_label)
            pods[key] = self.gates.seen(old, pod, updated, own=gate_cause(cause))
            self._note_end(key, pods[key].lifecycle)
        for key, cause in change.gone:
            if self._follows(cause, key) and key not in self.skipped:
                pods.pop(key, None)
                self.ends.pop(key, None)
                self.gates.forget(key)
        current = replace(self.current, pods=pods)
        if change.rollouts:
            rollouts = dict(current.rollouts)
            for workload, rollout in change.rollouts:
                if rollout is None:
                    rollouts.pop(workload, None)
                else:
                    rollouts[workload] = rollout
            current = replace(current, rollouts=rollouts)
        self.current = _indexed(current)

    def _follows(self, cause: str | None, key: PodKey) -> bool:
        """Whether a recorded change applies: not an own effect, or one the replay made too
        (whose replacement it then takes from the recording instead of simulating it)."""
        if cause is None or gate_cause(cause):  # a readiness flip: derived (gates.py)
            return True
        if cause not in self.made:
            return False
        _, _, what = cause.partition(" ")
        if cause.startswith("restart "):
            self.replacing.pop(parse_pod_key(what), None)
        else:
            for other, pod in self.current.pods.items():
                if str(pod.owner) == what:
                    self.replacing.pop(other, None)
        return True

    def _changes_to(self, snapshot: Snapshot, at: Instant) -> FleetChange:
        """A later file's start line, read as what changed since the replay's fleet."""
        label = self.runbook.settings.traffic_label
        current = self.current.pods
        changed = tuple(
            (pod, None)
            for key, pod in snapshot.pods.items()
            if key not in self.skipped
            and (key not in current or facts(current[key], label) != facts(pod, label))
        )
        gone = tuple(
            (key, None)
            for key in current
            if key not in snapshot.pods and key not in self.replacing and key not in self.simulated
        )
        known = self.current.rollouts
        rollouts = tuple(
            [(w, r) for w, r in snapshot.rollouts.items() if known.get(w) != r]
            + [(w, None) for w in known if w not in snapshot.rollouts]
        )
        return FleetChange(at, changed, gone, rollouts)

    # -- the cluster's part (simulation.py), noting the replay's own effects ------------------

    def _cluster_effect(
        self, kind: ActionKind, pod: PodKey | None, workload: Workload | None, now: Instant
    ) -> None:
        if kind is ActionKind.RESTART and pod is not None:
            self.made.add(f"restart {pod}")
        elif kind is ActionKind.ROLLOUT_RESTART and workload is not None:
            self.made.add(f"rolloutRestart {workload}")
        super()._cluster_effect(kind, pod, workload, now)

    def _replace_due(self, now: Instant) -> None:
        due = {key for key, at in self.replacing.items() if at <= now}
        self.simulated |= due
        super()._replace_due(now)
        for key in due:  # a fresh pod
            self.ends.pop(key, None)
            self.gates.forget(key)

    async def apply(self, runbook: Runbook, plan: Plan) -> Applied:
        applied = await super().apply(runbook, plan)
        for key, lifecycle in plan.pods.items():
            self._note_end(key, lifecycle)
        for workload, state in plan.workloads.items():
            self._note_end(workload, state)
        self._set_gates(plan)
        return applied

    def _set_gates(self, plan: Plan) -> None:
        """The replay's own gate writes and what the kubelet makes of them (act/traffic.py
        writes the gate of every pod that declares it, whichever its drainBy); a pod the plan
        left in traffic with its gate shut has it opened, as the leader does."""
        gates = {
            action.pod: action.kind is ActionKind.RESTORE
            for action in plan.actions
            if action.kind in _GATE_WRITES and action.pod is not None and not action.dry_run
        }
        pods = self.current.pods
        for key in plan.pods:
            if key not in gates and key in pods and gate_shut_in_traffic(pods[key]):
                gates[key] = True
        if not any(key in pods and pods[key].gate is not None for key in gates):
            return
        updated = dict(pods)
        for key, open_ in gates.items():
            if key in updated:
                updated[key] = self.gates.written(updated[key], open_=open_)
        self.current = replace(self.current, pods=updated)

    # -- the result ---------------------------------------------------------

    def result(self) -> Result:
        timed = self._match_timed()
        differences = sorted(self.differences, key=lambda d: d.at)
        return Result(
            started=self.started,
            ended=self.ended,
            signals=self.signals,
            timed=timed + self.humans,
            differences=tuple(differences),
        )

    def _match_timed(self) -> int:
        """Pair recorded and replayed timed decisions, target by target."""
        recorded: dict[str, list[_Timed]] = defaultdict(list)
        replayed: dict[str, list[_Timed]] = defaultdict(list)
        for timed in self.recorded_timed:
            recorded[timed.target].append(timed)
        for timed in self.replayed_timed:
            replayed[timed.target].append(timed)
        targets = sorted(recorded.keys() | replayed.keys())
        return sum(self._match_target(recorded[t], replayed[t]) for t in targets)

    def _match_target(self, recorded: list[_Timed], replayed: list[_Timed]) -> int:
        """The same decision within the window is one decision; then the same decision
        next to each other in the target's timeline, taken earlier or later; what is left
        differs from nothing. The number of decisions compared."""
        window = self.late + self.interval
        left = list(replayed)
        unmatched = []
        for rec in recorded:
            near = [p for p in left if abs(p.at - rec.at) <= window]
            same = [p for p in near if p.verdict == rec.verdict]
            found = (same or near)[0] if near else None
            if found is None:
                unmatched.append(rec)
                continue
            left.remove(found)
            self._compare(rec.at, f"tick {rec.target}", rec.verdict, found.verdict, rec.where)
        compared = len(recorded) - len(unmatched)
        for rec, found in _moved(unmatched, left):
            compared += 1
            if found is None:
                self._compare(rec.at, f"tick {rec.target}", rec.verdict, Verdict(), rec.where)
                continue
            left.remove(found)
            moved = f"{found.at - rec.at:+.1f}s"
            self.differences.append(
                Difference(rec.at, f"tick {rec.target} ({moved})", Kind.TIME, rec.verdict,
                           found.verdict, rec.where)
            )  # fmt: skip
        for extra in left:
            compared += 1
            where = extra.where or "a tick the recording has no line for"
            self._compare(extra.at, f"tick {extra.target}", Verdict(), extra.verdict, where)
        return compared


def _moved(recorded: list[_Timed], replayed: list[_Timed]) -> list[tuple[_Timed, _Timed | None]]:
    """Each recorded timed decision with the same one of the replay next to it in time
    (nothing else about the target between them, the earlier neighbour first), or None."""
    out: list[tuple[_Timed, _Timed | None]] = []
    taken: set[int] = set()
    for rec in recorded:
        timeline = sorted(
            [(t.at, 0, i) for i, t in enumerate(recorded) if t.target == rec.target]
            + [(t.at, 1, i) for i, t in enumerate(replayed) if t.target == rec.target]
        )
        here = timeline.index((rec.at, 0, recorded.index(rec)))
        neighbours = [timeline[j] for j in (here - 1, here + 1) if 0 <= j < len(timeline)]
        found = next(
            (
                i
                for _, side, i in neighbours
                if side == 1 and i not in taken and replayed[i].verdict == rec.verdict
            ),
            None,
        )
        if found is not None:
            taken.add(found)
        out.append((rec, None if found is None else replayed[found]))
    return out


def _by_target(v: Verdict) -> list[tuple[str, Verdict]]:
    """A tick's decision split by whom each part is about."""
    parts: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for action in v.actions:
        parts.setdefault(action.split(" ")[1], ([], [], []))[0].append(action)
    for held in v.blocked:
        parts.setdefault(held.rsplit(" ", 1)[-1], ([], [], []))[1].append(held)
    for escalation in v.escalations:
        parts.setdefault(escalation.split(" ")[0], ([], [], []))[2].append(escalation)
    return [(t, Verdict(tuple(a), tuple(b), tuple(e))) for t, (a, b, e) in sorted(parts.items())]


def _indexed(snapshot: Snapshot) -> Snapshot:
    """The snapshot with the indexes a cluster keeps (pods by owner, pods in a timed state):
    without them every guarded decision and every tick scans the fleet."""
    pods = snapshot.pods
    timed = {key for key, pod in pods.items() if pod.lifecycle.state in TIMED}
    return replace(snapshot, owners=index_owners(pods.values()), timed=timed)


def _subject(signal: Signal) -> str:
    labels = signal.labels
    where = "/".join(v for v in (labels.get("namespace"), labels.get("pod")) if v)
    return f"{signal.name} {signal.status} {where}".strip()


def _updated(old: Pod | None, recorded: Pod, traffic_label: str) -> Pod:
    """The recorded facts, with the replay's own lifecycle, traffic label and readiness gate
    (the same pod; its readiness is the gates' to say, gates.py)."""
    if old is None or old.uid != recorded.uid:
        return recorded
    labels = dict(recorded.labels)
    if traffic_label in old.labels:
        labels[traffic_label] = old.labels[traffic_label]
    return replace(recorded, labels=labels, lifecycle=old.lifecycle, gate=old.gate)
