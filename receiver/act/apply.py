"""Apply a Plan through the cluster interface, and say what happened to each action.

Order: every pod write first (lifecycle annotations and traffic label in one
patch per pod, so a pod is never relabelled without its state; its readiness
gate right after, with drainBy readinessGate: traffic.py), then
evictions and rollout restarts, then the state object, then Events.
Notifications go out in the background; they never hold up an answer.

A cluster failure stops the application where it is: what was written
stays written (its occurrences are remembered on the pods, so a re-delivery
does not repeat it), the rest is reported failed and the caller answers 503.
An eviction refused by a disruption budget leaves the pod out of traffic in
state `restarted`; evictions.py retries it from the tick until it passes.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from receiver.act.evictions import Evictions
from receiver.act.notify import Notifications
from receiver.act.traffic import pod_patch
from receiver.cluster import (
    Cluster,
    ClusterUnavailable,
    Conflict,
    Event,
    EventType,
    EvictionFailed,
    EvictionRefused,
    StateUpdate,
    Traffic,
)
from receiver.decide import Action, ActionKind, Blocked, Plan
from receiver.metrics import Metrics
from receiver.model import Instant, Outcome, PodKey, Reason, Snapshot
from receiver.runbook import Runbook

log = logging.getLogger(__name__)
FROZEN_TOLD_KEPT = 10_000
"""Targets remembered as told of a freeze (past freezes are forgotten first)."""

_TRAFFIC = {
    ActionKind.DRAIN: Traffic.OFF,
    ActionKind.RESTORE: Traffic.ON,
    ActionKind.PAUSE: Traffic.PAUSED,
    ActionKind.RESTART: Traffic.OFF,
}
_EVENT_REASON = {
    ActionKind.DRAIN: "Drained",
    ActionKind.RESTORE: "Restored",
    ActionKind.RESTART: "Restarted",
    ActionKind.PAUSE: "Paused",
    ActionKind.ROLLOUT_RESTART: "RolloutRestarted",
    ActionKind.NOTIFY: "Notified",
    ActionKind.PAUSE_ROLLOUT: "RolloutPaused",
}


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Action
    outcome: Outcome
    reason: Reason | None = None
    detail: str = ""


@dataclass(slots=True)
class Applied:
    results: list[ActionResult] = field(default_factory=list)
    unavailable: str | None = None  # set when the cluster failed part-way
    conflict: bool = False  # ... because an object changed since the snapshot: decide again


class Applier:
    """Applies plans through the cluster; counts what it does in `metrics`."""

    def __init__(
        self,
        cluster: Cluster,
        notifications: Notifications,
        metrics: Metrics,
        *,
        clock: Callable[[], Instant],
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._cluster = cluster
        self._notifications = notifications
        self._metrics = metrics
        self._clock = clock
        self.evictions = Evictions(cluster, metrics, rng=rng)
        self._frozen_told: dict[tuple[str, str], Instant] = {}  # (target, supervisor) -> until

    def snapshot(self) -> Snapshot:
        return self._cluster.snapshot()

    async def apply(self, runbook: Runbook, plan: Plan) -> Applied:
        done = Applied()
        if plan.actions and plan.signal is not None:
            self._metrics.latency.observe(max(0.0, self._clock() - plan.signal.received_at))
        try:
            await self._patch_pods(runbook, plan, done)
            for action in plan.actions:
                await self._act(action, plan, done)
            if (
                plan.workloads
                or plan.supervisors
                or plan.recent_actions is not None
                or plan.holds is not None
                or plan.watches
            ):
                await self._cluster.save_state(
                    StateUpdate(
                        workloads=plan.workloads,
                        supervisors=plan.supervisors,
                        recent_actions=plan.recent_actions,
                        holds=plan.holds,
                        watches=plan.watches,
                    )
                )
        except ClusterUnavailable as exc:
            done.unavailable = str(exc) or type(exc).__name__
            done.conflict = isinstance(exc, Conflict)
            if not done.conflict:
                self._metrics.cluster_unavailable.inc()
            reported = {id(r.action) for r in done.results}
            done.results.extend(
                ActionResult(a, Outcome.FAILED, detail=done.unavailable)
                for a in plan.actions
                if id(a) not in reported
            )
        await self._record_events(plan, done.results)
        return done

    def _first_of_freeze(self, blocked: Blocked, now: Instant) -> bool:
        """One Event per target per frozen period: a frozen subtree holds every signal
        below it, and an Event for each re-delivery would bury the escalation."""
        if blocked.reason is not Reason.FROZEN or blocked.supervisor is None:
            return True
        key = (blocked.target, blocked.supervisor)
        told = self._frozen_told.get(key)
        if told is not None and told > now:
            return False  # told of this freeze already
        until = self._cluster.snapshot().supervisor(blocked.supervisor).frozen_until or now
        if len(self._frozen_told) >= FROZEN_TOLD_KEPT:
            self._frozen_told = {k: t for k, t in self._frozen_told.items() if t > now}
        self._frozen_told[key] = until
        return True

    async def _patch_pods(self, runbook: Runbook, plan: Plan, done: Applied) -> None:
        traffic: dict[PodKey, Traffic] = {}
        for action in plan.actions:
            if action.pod is not None and action.kind in _TRAFFIC and not action.dry_run:
                traffic[action.pod] = _TRAFFIC[action.kind]
        for key in sorted(set(plan.pods) | set(traffic)):
            pod = self._cluster.snapshot().pods.get(key)
            patch = pod_patch(runbook, key, pod, plan.pods.get(key), traffic.get(key))
            try:
                await self._cluster.patch_pod(patch)
            except LookupError:
                log.info("pod %s is gone; its update is moot", key)

    async def _act(self, action: Action, plan: Plan, done: Applied) -> None:
        if action.dry_run:
            done.results.append(ActionResult(action, Outcome.DRY_RUN))
            return
        if action.kind is ActionKind.RESTART and action.pod is not None:
            try:
                await self._cluster.evict(action.pod)
            except EvictionRefused as exc:
                self.evictions.refused(action.pod, plan.at)
                done.results.append(ActionResult(action, Outcome.BLOCKED, Reason.PDB, str(exc)))
                return
            except EvictionFailed as exc:
                why = f"{exc}; the pod stays out of traffic until a human resumes or deletes it"
                done.results.append(
                    ActionResult(action, Outcome.FAILED, Reason.EVICTION_FAILED, why)
                )
                return
            except Conflict:
                raise
            except ClusterUnavailable as exc:
                # The pod's state is written: retried from the tick, never stranded.
                self.evictions.refused(action.pod, plan.at)
                why = f"{exc}; retried from the tick"
                done.results.append(ActionResult(action, Outcome.BLOCKED, Reason.API_ERROR, why))
                return
            except LookupError as exc:
                done.results.append(ActionResult(action, Outcome.FAILED, detail=str(exc)))
                return
        elif action.kind is ActionKind.ROLLOUT_RESTART and action.workload is not None:
            try:
                await self._cluster.rollout_restart(action.workload, plan.at)
            except LookupError as exc:
                done.results.append(ActionResult(action, Outcome.FAILED, detail=str(exc)))
                return
        elif action.kind is ActionKind.PAUSE_ROLLOUT and action.workload is not None:
            try:
                await self._cluster.pause_rollout(action.workload)
            except LookupError as exc:
                done.results.append(ActionResult(action, Outcome.FAILED, detail=str(exc)))
                return
        elif action.kind is ActionKind.NOTIFY:
            self._notifications.send(action, plan)
        done.results.append(ActionResult(action, Outcome.APPLIED))

    async def _record_events(self, plan: Plan, results: Iterable[ActionResult]) -> None:
        events = [
            _action_event(r, plan.at) for r in results if r.action.kind is not ActionKind.NOTIFY
        ]
        events.extend(
            Event(
                reason="RemediationBlocked",
                message=f"{b.wanted or 'action'} blocked ({b.reason}): {b.detail}",
                at=plan.at,
                type=EventType.WARNING,
                pod=b.pod,
                workload=b.workload,
            )
            for b in plan.blocked
            if _warrants_event(b) and self._first_of_freeze(b, plan.at)
        )
        for event in events:
            try:
                await self._cluster.record_event(event)
            except Exception:  # Events are best effort, as client-go's recorder makes them
                log.warning("could not record event %s on %s", event.reason, event.subject)


def has_effects(plan: Plan) -> bool:
    """Whether applying the plan does anything: a write, an action or an Event.

    Most decisions of a busy receiver are re-deliveries with none of these;
    callers skip apply() for them (a few percent of the webhook path).
    """
    return bool(plan.actions or plan.changes_state) or any(map(_warrants_event, plan.blocked))


def _warrants_event(blocked: Blocked) -> bool:
    """A guard hold on a pod or workload gets a Warning Event; routine non-actions do not."""
    return blocked.reason in _GUARDS and (blocked.pod is not None or blocked.workload is not None)


_GUARDS = frozenset(r for r in Reason if r.is_guard)  # enum attribute reads are slow on 3.11


def _action_event(result: ActionResult, at: Instant) -> Event:
    action = result.action
    prefix = {
        Outcome.APPLIED: "",
        Outcome.DRY_RUN: "dry-run, not done: ",
        Outcome.FAILED: "failed: ",
        Outcome.BLOCKED: f"blocked ({result.reason}): ",
    }[result.outcome]
    detail = f"{action.detail}; {result.detail}" if result.detail else action.detail
    return Event(
        reason=_EVENT_REASON[action.kind],
        message=prefix + detail,
        at=at,
        type=EventType.NORMAL if result.outcome is Outcome.APPLIED else EventType.WARNING,
        pod=action.pod,
        workload=action.workload if action.pod is None else None,
    )
