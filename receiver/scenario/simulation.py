"""A simulated fleet on a simulated clock, driven by a test case's timeline.

The decision core is driven exactly as the server drives it: the same
batch stage (act/batch.py: observe a batch whole, then decide and apply each
signal) and tick() at every evaluation step. Around it the simulation plays
the cluster's part (`Applies`): a plan is folded into the snapshot, an
evicted pod terminates and a fresh pod of the same name replaces it after
`restartTime`, and so does every pod of a rollout-restarted workload. A
replacement comes on its workload's newest revision, where a rollout is declared.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from receiver.act import ActionResult, Applied
from receiver.act.batch import apply_until_settled, decide_batch
from receiver.decide import ActionKind, Plan, fold, reset, resume, tick
from receiver.model import (
    HEARTBEAT_SIGNALS,
    Followup,
    HeartbeatStatus,
    Instant,
    Outcome,
    Pod,
    PodKey,
    Rollout,
    Signal,
    Snapshot,
    Source,
    Status,
    Workload,
    alert_fingerprint,
    heartbeat_signal,
)
from receiver.runbook import Runbook
from receiver.runbook.quantities import format_duration
from receiver.scenario.spec import Case, FleetSpec, SignalSpec

T = TypeVar("T")
EPOCH = 1_767_225_600.0
"""Simulated time 0 (2026-01-01T00:00:00Z)."""


@dataclass
class Events:
    actions: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)  # "recurred restart shop/deployment/x"


def build_fleet(fleet: tuple[FleetSpec, ...]) -> dict[PodKey, Pod]:
    pods = {}
    for spec in fleet:
        owner = Workload(spec.namespace, spec.kind, spec.name)
        newest = set(spec.rollout.pods) if spec.rollout else set()
        rolled = spec.rollout.revision if spec.rollout else ""
        for i in range(spec.replicas):
            name = f"{spec.name}-{i}"
            pod = Pod(
                namespace=spec.namespace,
                name=name,
                labels=dict(spec.labels),
                owner=owner,
                uid=f"{spec.name}-{i}-0",
                ready=i >= spec.not_ready,
                revision=rolled if name in newest else spec.revision,
            )
            pods[pod.key] = pod
    return pods


def build_rollouts(fleet: tuple[FleetSpec, ...]) -> dict[Workload, Rollout]:
    """Each declared rollout's newest revision, made `ago` before simulated time 0."""
    return {
        Workload(spec.namespace, spec.kind, spec.name): Rollout(
            revision=spec.rollout.revision, since=EPOCH - spec.rollout.ago
        )
        for spec in fleet
        if spec.rollout is not None
    }


class Simulation:
    def __init__(self, runbook: Runbook, case: Case, *, start: Snapshot | None = None) -> None:
        """`start`: the fleet and state to begin with (replay), instead of the case's fleet."""
        self.runbook = runbook
        self.case = case
        self.current = (
            start
            if start is not None
            else Snapshot(pods=build_fleet(case.fleet), rollouts=build_rollouts(case.fleet))
        )
        self.replacing: dict[PodKey, Instant] = {}
        self.firing: dict[str, Instant] = {}  # alert fingerprint -> startsAt
        self.generation = 0
        self.events: dict[float, Events] = defaultdict(Events)
        self.states: dict[float, dict[str, str]] = {}

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._timeline(loop)
        finally:
            loop.close()

    def _timeline(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        case = self.case
        marks = {s.at for s in case.signals} | {e.at for e in case.expect}
        end = max(marks, default=0.0)
        steps = int(end // case.interval) + 1
        times = sorted(marks | {i * case.interval for i in range(steps)})
        for t in times:
            now = EPOCH + t
            self._replace_due(now)
            self._one(functools.partial(tick, self.runbook, now=now), t)
            batch: list[Signal] = []
            for spec in (s for s in case.signals if s.at == t):
                if spec.resume is None and spec.reset is None:
                    batch.extend(self._signals(spec, now))
                    continue
                self._decide(batch, now, t)
                batch = []
                self._human(spec, now, t)
            self._decide(batch, now, t)
            self.states[t] = {
                str(key): str(pod.lifecycle.state) for key, pod in self.current.pods.items()
            }

    # -- inputs -------------------------------------------------------------

    def run_until_complete(self, work: Coroutine[Any, Any, T]) -> T:
        """Run one step of the timeline (the Kubernetes tests run it on the adapter's loop)."""
        return self._loop.run_until_complete(work)

    def _decide(self, batch: list[Signal], now: Instant, t: float) -> None:
        """Signals given at one instant arrive together, as one webhook would bring them."""
        if batch:
            record = functools.partial(self._record, t=t)
            self.run_until_complete(decide_batch(self.runbook, batch, now, self, record))

    def _one(self, make: Callable[[Snapshot], Plan], t: float) -> None:
        record = functools.partial(self._record, t=t)
        self.run_until_complete(apply_until_settled(self.runbook, self, make, record))

    def _human(self, spec: SignalSpec, now: Instant, t: float) -> None:
        runbook = self.runbook
        if spec.resume is not None:
            namespace, _, name = spec.resume.partition("/")
            key = PodKey(namespace, name)
            self._one(lambda snapshot: resume(runbook, snapshot, key, now), t)
        elif spec.reset is not None:
            name = spec.reset
            self._one(lambda snapshot: reset(runbook, snapshot, name, now), t)

    def _signals(self, spec: SignalSpec, now: Instant) -> list[Signal]:
        if spec.alert is not None:
            pods: tuple[str | None, ...] = spec.pods or (None,)
            return [self._alert(spec, pod, now) for pod in pods]
        assert spec.heartbeat is not None
        namespace, pod, status = spec.heartbeat
        out = []
        for name in spec.pods or (pod,):
            out.extend(self._heartbeat(PodKey(namespace, name), status, now))
        return out

    def _alert(self, spec: SignalSpec, pod: str | None, now: Instant) -> Signal:
        assert spec.alert is not None
        labels = dict(spec.alert) | ({"pod": pod} if pod else {})
        key = alert_fingerprint(labels)
        # Given again while still firing, an alert is a re-delivery of one occurrence.
        starts = self.firing.get(key, now) if spec.starts_at is None else EPOCH + spec.starts_at
        if spec.status is Status.FIRING:
            self.firing[key] = starts
        else:
            self.firing.pop(key, None)
        return Signal(
            source=Source.ALERTMANAGER,
            name=labels.get("alertname", ""),
            status=spec.status,
            labels=labels,
            fingerprint=key,
            starts_at=starts,
            received_at=now,
        )

    def _heartbeat(self, key: PodKey, status: HeartbeatStatus, now: Instant) -> list[Signal]:
        pod = self.current.pods.get(key)
        labels = dict(pod.labels) if pod else {}
        wanted = HEARTBEAT_SIGNALS.get(status)
        out = []
        for name in HEARTBEAT_SIGNALS.values():
            fp = f"heartbeat:{key}:{name}"
            active = fp in self.firing
            if name == wanted:
                starts = self.firing.setdefault(fp, now)
                condition = Status.FIRING
            elif active:
                starts = self.firing.pop(fp)
                condition = Status.RESOLVED
            else:
                continue
            out.append(
                heartbeat_signal(
                    name=name,
                    status=condition,
                    namespace=key.namespace,
                    pod=key.name,
                    pod_labels=labels,
                    starts_at=starts,
                    now=now,
                )
            )
        return out

    # -- the cluster's part -------------------------------------------------

    def snapshot(self) -> Snapshot:
        return self.current

    async def apply(self, runbook: Runbook, plan: Plan) -> Applied:
        self.current = fold(self.current, plan)
        for action in plan.actions:
            if not action.dry_run:
                self._cluster_effect(action.kind, action.pod, action.workload, plan.at)
        return Applied(
            [
                ActionResult(a, Outcome.DRY_RUN if a.dry_run else Outcome.APPLIED)
                for a in plan.actions
            ]
        )

    def _record(self, plan: Plan, applied: Applied, *, t: float) -> None:
        """What the test's expectations are compared with."""
        events = self.events[t]
        for action in plan.actions:
            shown = format_action(action.kind, action.target, action.dry_run)
            events.actions.append(shown)
            events.details.append(f"{shown}: {action.detail}")
        for blocked in plan.blocked:
            events.blocked.append(f"{blocked.reason} {blocked.target}".strip())
            events.details.append(f"blocked {blocked.target} ({blocked.reason}): {blocked.detail}")
        for escalation in plan.escalations:
            events.escalations.append(f"{escalation.supervisor} {escalation.cause}")
            held = escalation.frozen_until
            frozen = f", frozen for {format_duration(held - EPOCH - t)}" if held else ""
            events.details.append(escalation.detail + frozen)
        for followup in plan.followups:
            events.outcomes.append(format_outcome(followup))
            events.details.append(followup.detail)

    def _cluster_effect(
        self, kind: ActionKind, pod: PodKey | None, workload: Workload | None, now: Instant
    ) -> None:
        pods = dict(self.current.pods)
        if kind is ActionKind.RESTART and pod in pods:
            pods[pod] = replace(pods[pod], terminating=True, ready=False)
            self.replacing[pod] = now + self.case.restart_time
        elif kind is ActionKind.ROLLOUT_RESTART:
            for key, member in pods.items():
                if member.owner == workload:
                    self.replacing.setdefault(key, now + self.case.restart_time)
        self.current = replace(self.current, pods=pods)

    def _replace_due(self, now: Instant) -> None:
        due = [key for key, at in self.replacing.items() if at <= now]
        if not due:
            return
        pods = dict(self.current.pods)
        for key in due:
            del self.replacing[key]
            self.generation += 1
            old = pods[key]
            rollout = self.current.rollouts.get(old.owner) if old.owner else None
            pods[key] = Pod(
                namespace=old.namespace,
                name=old.name,
                labels=old.labels,
                owner=old.owner,
                uid=f"{old.name}-{self.generation}",
                created_at=now,
                revision=rollout.revision if rollout else old.revision,
                gate=None if old.gate is None else True,  # declared, and opened by the leader
            )
            for fp in [fp for fp in self.firing if fp.startswith(f"heartbeat:{key}:")]:
                del self.firing[fp]
        self.current = replace(self.current, pods=pods)


def format_outcome(followup: Followup) -> str:
    """What followed an action, as a test names it: `recurred restart shop/deployment/checkout`."""
    return f"{followup.outcome} {followup.watch.action} {followup.target}"


def format_action(kind: ActionKind, target: str, dry_run: bool) -> str:
    return f"{kind} {target}" + (" (dry-run)" if dry_run else "")
