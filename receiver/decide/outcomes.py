"""Outcomes, the feedback loop: what followed each disruptive action, decided from signals and time.

A rule's drain, restart or rollout restart opens a *watch* on its target
(the acted pod's workload, or the pod when it has no controller) until the
end of the rule's probation (after the drain, for a drain). Then:

- recurred: a new occurrence of the same rule's signal for the target
  started within the window. The action treated a symptom.
- recovered: the window ended without one (decided at a tick).
- superseded: before either, a supervisor of the acted pod escalated, a
  human reset one of them, a human resumed the pod, or an operator set a
  hold on the pod, its target or a supervisor of its chain.

Only actions that were done count: a dry-run action (or a rule on trial)
opens no watch. A pause waits for a human, so its outcome would always be
`superseded`; it opens none. Nor does the drain that only holds a pod out
while its restart waits for the settle window: the restart is the action.

`follow` runs after every decision, tick and human action; it adds the
watches' changes and the outcomes decided to the plan. With no watch open
and nothing disruptive planned it returns the plan unchanged.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace

from receiver.decide.index import index
from receiver.decide.plan import Action, ActionKind, Plan
from receiver.decide.rules import rule_named
from receiver.model import (
    ActionOutcome,
    Followup,
    Hold,
    HoldKind,
    Instant,
    Pod,
    PodKey,
    PodState,
    Snapshot,
    Status,
    Target,
    Watch,
)
from receiver.model.watch import (
    MAX_WATCHES_BYTES,
    WATCHED_TARGETS,
    WATCHES_PER_TARGET,
    watches_bytes,
)
from receiver.runbook import Runbook
from receiver.runbook.quantities import format_duration

_Touched = Callable[[Target, Watch], bool]

_FIRING = Status.FIRING

WATCHED = frozenset({ActionKind.DRAIN, ActionKind.RESTART, ActionKind.ROLLOUT_RESTART})
"""The disruptive actions whose outcome is followed."""


def follow(runbook: Runbook, snapshot: Snapshot, plan: Plan, now: Instant) -> Plan:
    """The plan with its outcomes: recurrences of its signal, supersessions by its
    escalations, (at a tick) probations passed, and the watches its actions open."""
    opening = [a for a in plan.actions if _opens(a, plan)] if plan.actions else []
    if not opening and not plan.escalations and _nothing_to_follow(snapshot, plan):
        return plan
    book = _Book(snapshot.watches)
    signal = plan.signal
    if signal is not None and signal.status is _FIRING and plan.target is not None:
        _recurrences(runbook, snapshot, plan, book)
    for escalation in plan.escalations:
        # A rule on trial escalates on paper only: its plan spends no supervisor state.
        if escalation.supervisor in plan.supervisors:
            book.supersede_under(
                escalation.supervisor, now, f"supervisor {escalation.supervisor} escalated"
            )
    if signal is None and plan.operator is None:
        _time_passed(snapshot, book, now)
    for action in opening:
        _open(runbook, snapshot, book, action, now)
    if opening:
        _bound_bytes(book)
    return book.into(plan)


def _nothing_to_follow(snapshot: Snapshot, plan: Plan) -> bool:
    """No watch open, or a signal's decision with no watch on its target: the hot path."""
    if not snapshot.watches:
        return True
    signal = plan.signal
    if signal is None:
        return plan.operator is not None  # a tick always looks at the open watches
    if signal.status is not _FIRING or plan.target is None:
        return True
    # A re-delivery of the occurrence an action was taken for started before it.
    starts = signal.starts_at
    for watch in snapshot.watches.get(_target_of(snapshot, plan.target), ()):
        if watch.at < starts < watch.until:  # _within, inline: this runs for every alert
            return False
    return True


def _within(watch: Watch, starts_at: Instant) -> bool:
    return watch.at < starts_at < watch.until


def superseded_by_human(
    snapshot: Snapshot, plan: Plan, *, pod: PodKey | None = None, supervisors: Iterable[str] = ()
) -> Plan:
    """A human resumed `pod` or reset `supervisors`: the watches they touch are superseded."""
    if not snapshot.watches:
        return plan
    book = _Book(snapshot.watches)
    why = plan.operator or "a human intervened"
    for name in supervisors:
        book.supersede_under(name, plan.at, why)
    if pod is not None:
        book.supersede_where(lambda target, w: target == pod or w.pod == str(pod), plan.at, why)
    return book.into(plan)


def superseded_by_hold(snapshot: Snapshot, plan: Plan, hold: Hold) -> Plan:
    """An operator held a pod, a workload or a supervisor's subtree: from then on what
    happens there is the human's doing, so the watches it covers are superseded."""
    if not snapshot.watches:
        return plan
    book = _Book(snapshot.watches)
    why = plan.operator or f"hold {hold.id}"
    if hold.kind is HoldKind.SUPERVISOR:
        book.supersede_under(hold.target, plan.at, why)
    elif hold.kind is HoldKind.WORKLOAD:
        book.supersede_where(lambda target, _: str(target) == hold.target, plan.at, why)
    else:
        book.supersede_where(
            lambda target, w: str(target) == hold.target or w.pod == hold.target, plan.at, why
        )
    return book.into(plan)


class _Book:
    """The watches as this plan changes them, and the outcomes it decides."""

    __slots__ = ("changed", "followups", "watches")

    def __init__(self, watches: Mapping[Target, tuple[Watch, ...]]) -> None:
        self.watches = watches
        self.changed: dict[Target, tuple[Watch, ...]] = {}
        self.followups: list[Followup] = []

    def of(self, target: Target) -> tuple[Watch, ...]:
        changed = self.changed.get(target)
        return changed if changed is not None else self.watches.get(target, ())

    def targets(self) -> list[Target]:
        return sorted({*self.watches, *self.changed}, key=str)

    def decide(
        self, target: Target, watch: Watch, outcome: ActionOutcome, after: float, detail: str
    ) -> None:
        recovery = None
        if outcome is ActionOutcome.RECOVERED and watch.healthy_at is not None:
            recovery = watch.healthy_at - watch.at
        self.followups.append(
            Followup(
                target=target,
                watch=watch,
                outcome=outcome,
                after=max(0.0, after),
                recovery=recovery,
                detail=detail,
            )
        )
        self.changed[target] = tuple(w for w in self.of(target) if w is not watch)

    def supersede_under(self, supervisor: str, now: Instant, why: str) -> None:
        self.supersede_where(lambda _, w: supervisor in w.supervisors, now, why)

    def supersede_where(self, touched: _Touched, now: Instant, why: str) -> None:
        for target in self.targets():
            for watch in self.of(target):
                if touched(target, watch):
                    self.decide(
                        target,
                        watch,
                        ActionOutcome.SUPERSEDED,
                        now - watch.at,
                        f"{_name(watch, target)} superseded: {why}",
                    )

    def into(self, plan: Plan) -> Plan:
        if not self.changed and not self.followups:
            return plan
        return replace(
            plan,
            watches={**plan.watches, **self.changed},
            followups=(*plan.followups, *self.followups),
        )


def _opens(action: Action, plan: Plan) -> bool:
    if action.kind not in WATCHED or action.rule is None:
        return False
    if action.supervisor is not None or action.dry_run:
        return False  # an escalation's remedy, or nothing done
    if action.kind is ActionKind.DRAIN and action.pod is not None:
        held = plan.pods.get(action.pod)
        return held is None or held.state is not PodState.SETTLING
    return True


def _recurrences(runbook: Runbook, snapshot: Snapshot, plan: Plan, book: _Book) -> None:
    """A new occurrence of a watched rule's signal for the target, within the window."""
    signal, about = plan.signal, plan.target
    assert signal is not None
    assert about is not None
    target = _target_of(snapshot, about)
    watches = book.of(target)
    if not watches:
        return
    rules = {rule.name for rule in index(runbook).rules_matching(signal.labels)}
    for watch in watches:
        if watch.rule in rules and _within(watch, signal.starts_at):
            came_back = signal.starts_at - watch.at
            book.decide(
                target,
                watch,
                ActionOutcome.RECURRED,
                came_back,
                f"{_name(watch, target)} recurred: {signal.name} came back "
                f"{format_duration(max(came_back, 0.001))} after it",
            )


def _target_of(snapshot: Snapshot, about: Target) -> Target:
    """Where a signal's watches are: its pod's workload, or the pod without one."""
    if isinstance(about, PodKey):
        pod = snapshot.pods.get(about)
        if pod is not None and pod.owner is not None:
            return pod.owner
    return about


def _time_passed(snapshot: Snapshot, book: _Book, now: Instant) -> None:
    """Probations that ended without a recurrence; targets whole again."""
    for target in list(snapshot.watches):
        kept: list[Watch] = []
        healthy: bool | None = None
        for watch in book.of(target):
            if watch.until <= now:
                book.decide(
                    target,
                    watch,
                    ActionOutcome.RECOVERED,
                    watch.until - watch.at,
                    f"{_name(watch, target)} recovered: no recurrence in "
                    f"{format_duration(max(watch.until - watch.at, 0.001))}",
                )
                continue
            if watch.healthy_at is None:
                if healthy is None:
                    healthy = _whole(snapshot, target, now, book.of(target))
                if healthy:
                    watch = replace(watch, healthy_at=now)
            kept.append(watch)
        if tuple(kept) != book.of(target):
            book.changed[target] = tuple(kept)


def _whole(snapshot: Snapshot, target: Target, now: Instant, watches: Iterable[Watch]) -> bool:
    """Every pod of the target in service and none signalling.

    Asked at every tick until the target is whole, so the pods acted on are
    asked first: while one is still out (a drain lasts minutes), the answer
    needs no pass over a workload of thousands of pods.
    """
    pods = snapshot.pods
    for watch in watches:
        namespace, slash, name = watch.pod.partition("/")  # "" for a rollout restart
        acted = pods.get(PodKey(namespace, name)) if slash else None
        if acted is not None and _unwell(acted, now):
            return False
    seen = False
    for pod in _pods_of(snapshot, target):
        if _unwell(pod, now):
            return False
        seen = True
    return seen


def _unwell(pod: Pod, now: Instant) -> bool:
    return pod.out_of_service or pod.lifecycle.signalling(now)


def _pods_of(snapshot: Snapshot, target: Target) -> Iterator[Pod]:
    """The target's pods, one by one (a caller that stops early reads no more)."""
    pods = snapshot.pods
    if isinstance(target, PodKey):
        pod = pods.get(target)
        if pod is not None:
            yield pod
    elif snapshot.owners is not None:
        for key in snapshot.owners.get(target, ()):
            pod = pods.get(key)
            if pod is not None:
                yield pod
    else:
        yield from (pod for pod in pods.values() if pod.owner == target)


def _open(runbook: Runbook, snapshot: Snapshot, book: _Book, action: Action, now: Instant) -> None:
    rule = rule_named(runbook, action.rule)
    if rule is None:
        return
    if action.pod is not None:
        pod = snapshot.pods.get(action.pod)
        target = _target_of(snapshot, action.pod)
    else:
        assert action.workload is not None
        target = action.workload
        pod = next(_pods_of(snapshot, target), None)
    drained = action.until - now if action.kind is ActionKind.DRAIN and action.until else 0.0
    chain = index(runbook).chain(pod) if pod is not None else ()
    watch = Watch(
        rule=rule.name,
        action=str(action.kind),
        pod=str(action.pod or ""),
        at=now,
        until=now + drained + rule.probation,
        supervisors=tuple(s.name for s in chain),
    )
    book.changed[target] = (*book.of(target), watch)[-WATCHES_PER_TARGET:]
    _bound(book, target)


def _bound(book: _Book, newest: Target) -> None:
    """At most WATCHED_TARGETS targets: drop the ones acted on longest ago (undecided).

    Called for every watch opened (a thousand in a mass drain), so it costs
    nothing below the bound and one pass over the targets at it.
    """
    if len(book.watches) + len(book.changed) <= WATCHED_TARGETS:  # at least as many as watched
        return
    targets = [t for t in {*book.watches, *book.changed} if t != newest and book.of(t)]
    excess = len(targets) + 1 - WATCHED_TARGETS
    if excess <= 0:
        return
    # A target's watches are kept in the order they opened: its newest is the last.
    # Ties (a batch's drains share their instant) go by the target, for a replay's sake.
    for target in heapq.nsmallest(excess, targets, key=lambda t: (book.of(t)[-1].at, t)):
        book.changed[target] = ()


def _bound_bytes(book: _Book) -> None:
    """At most MAX_WATCHES_BYTES of the state object: drop the targets acted on longest ago.

    Once per decision that opened a watch: one pass over the open watches.
    """
    sizes = {t: watches_bytes(t, book.of(t)) for t in {*book.watches, *book.changed}}
    excess = sum(sizes.values()) - MAX_WATCHES_BYTES
    if excess <= 0:
        return
    kept = [t for t, size in sizes.items() if size]
    for target in sorted(kept, key=lambda t: (book.of(t)[-1].at, t))[:-1]:  # the newest stays
        book.changed[target] = ()
        excess -= sizes[target]
        if excess <= 0:
            return


def _name(watch: Watch, target: Target) -> str:
    return f"{watch.action} of {watch.pod or target} (rule {watch.rule})"
