"""The guards, in the order they are asked before every step (check_step).

    target      namespace allow-list, protect selector (check_target, asked
                before the step is chosen: such pods are never touched)
    held        an operator holds the pod, its workload or a supervisor above
                it (model/hold.py): reason `held`, the detail names the hold
    frozen      a supervisor above is frozen after an escalation
    cooldown    the pod was acted on too recently
    systemic    more of the fleet is signalling than maxUnhealthy
    bad_rollout the signalling pods are concentrated on the newest revision of
                a workload rolling out (badRollout): restarts bring it back
    availability  maxUnavailable / minAvailable, counting this action
    rate limits per supervisor and for the whole receiver
    intensity   one more action would exceed a supervisor's intensity: it
                escalates instead (reason `escalated`)

A notification asks only `held` and `frozen`; a rollout restart `held`,
`frozen`, rate limits and intensity; a disruptive step (drain, restart,
pause) all of them.

Each guard is a pure function of the runbook, the pod's fleet as the draft
sees it (so actions planned earlier in the same batch count) and `now`. It
returns a Verdict naming the reason and the culprit, or None to allow.

Guards count against the fleet's size, never against the pods still in
traffic: a pod that is not Ready, drained, paused or being restarted is
unavailable whoever caused it.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from receiver.decide.draft import Draft
from receiver.decide.tree import Chain, Tree, pod_labels
from receiver.model import Hold, HoldKind, Instant, Pod, PodKey, Reason, Workload
from receiver.runbook import Runbook, StepKind
from receiver.runbook.quantities import format_duration
from receiver.runbook.types import PROTECT_LABEL, RateLimit, Settings


@dataclass(frozen=True, slots=True)
class Verdict:
    reason: Reason
    detail: str
    supervisor: str | None = None


def check_namespace(settings: Settings, namespace: str) -> Verdict | None:
    if settings.namespace_allowed(namespace):
        return None
    return Verdict(
        Reason.NAMESPACE_NOT_ALLOWED, f"namespace {namespace} is not in settings.namespaces"
    )


def check_target(settings: Settings, pod: Pod) -> Verdict | None:
    """Pods the receiver may never touch, whatever the action."""
    verdict = check_namespace(settings, pod.namespace)
    if verdict is not None:
        return verdict
    if pod.labels.get(PROTECT_LABEL) == "true":
        return Verdict(Reason.PROTECTED, f"pod has label {PROTECT_LABEL}=true")
    if not settings.protect:
        return None
    labels = pod_labels(pod)
    for selector in settings.protect:
        if selector.matches(labels):
            return Verdict(Reason.PROTECTED, f"pod matches settings.protect {selector}")
    return None


def check_frozen(draft: Draft, chain: Chain, now: Instant) -> Verdict | None:
    for supervisor in chain:
        state = draft.supervisor(supervisor.name)
        if state.frozen(now):
            assert state.frozen_until is not None
            left = format_duration(math.ceil(state.frozen_until - now))
            return Verdict(
                Reason.FROZEN,
                f"supervisor {supervisor.name} is frozen for another {left}",
                supervisor.name,
            )
    return None


def check_held(holds: tuple[Hold, ...], pod: Pod, chain: Chain, now: Instant) -> Verdict | None:
    """The first hold in force on the pod, its workload or a supervisor of its chain.

    A supervisor's hold covers its whole subtree, as a freeze does; a
    workload's covers its pods and its rollout restarts.
    """
    above = [supervisor.name for supervisor in chain]
    for hold in holds:
        if hold.active(now) and covers(hold, pod.key, pod.owner, above):
            supervisor = hold.target if hold.kind is HoldKind.SUPERVISOR else None
            return Verdict(Reason.HELD, hold.describe(), supervisor)
    return None


def covers(
    hold: Hold, pod: PodKey | None, owner: Workload | None, supervisors: Collection[str]
) -> bool:
    """Whether `hold` (in force or not) is on the pod, its owner or one of the supervisors
    named (the pod's chain). The console lists a page's holds with it too, so the page
    shows the holds the guard heeds."""
    if hold.kind is HoldKind.POD:
        return pod is not None and hold.target == str(pod)
    if hold.kind is HoldKind.WORKLOAD:
        return owner is not None and hold.target == str(owner)
    return hold.target in supervisors


def check_step(
    kind: StepKind, runbook: Runbook, tree: Tree, draft: Draft, pod: Pod, chain: Chain, now: Instant
) -> Verdict | None:
    """The guards a step of `kind` must pass, in order; `pod` is the target (or the
    workload's first pod, for its chain)."""
    holds = draft.snapshot.holds  # a decision never changes them: no overlay to consult
    if holds:
        verdict = check_held(holds, pod, chain, now)
        if verdict is not None:
            return verdict
    if kind is StepKind.NOTIFY:
        return check_frozen(draft, chain, now)
    if kind is StepKind.ROLLOUT_RESTART:
        return (
            check_frozen(draft, chain, now)
            or check_rate_limits(runbook, draft, chain, now)
            or check_intensity(draft, chain, now)
        )
    return (
        check_frozen(draft, chain, now)
        or check_cooldown(pod, chain, now)
        or check_systemic(tree, pod, chain, now)
        or check_bad_rollout(tree, pod, chain, now)
        or check_availability(tree, pod, chain)
        or check_rate_limits(runbook, draft, chain, now)
        or check_intensity(draft, chain, now)
    )


def check_intensity(draft: Draft, chain: Chain, now: Instant) -> Verdict | None:
    """The nearest supervisor that one more action would push over its intensity."""
    for supervisor in chain:
        counted = recent(
            draft.supervisor(supervisor.name).counted, supervisor.intensity.period, now
        )
        if len(counted) + 1 > supervisor.intensity.max:
            intensity = supervisor.intensity
            return Verdict(
                Reason.ESCALATED,
                f"supervisor {supervisor.name} would exceed its intensity of "
                f"{intensity.max} in {format_duration(intensity.period)}",
                supervisor.name,
            )
    return None


def recent(times: tuple[Instant, ...], window: float, now: Instant) -> tuple[Instant, ...]:
    return tuple(t for t in times if t > now - window)


def check_cooldown(pod: Pod, chain: Chain, now: Instant) -> Verdict | None:
    last = pod.lifecycle.last_action_at
    if last is None:
        return None
    for supervisor in chain:
        cooldown = supervisor.guards.cooldown if supervisor.guards else 0.0
        if now - last < cooldown:
            return Verdict(
                Reason.COOLDOWN,
                f"pod was acted on {format_duration(now - last)} ago, "
                f"cooldown is {format_duration(cooldown)}",
                supervisor.name,
            )
    return None


def check_systemic(tree: Tree, pod: Pod, chain: Chain, now: Instant) -> Verdict | None:
    for supervisor in chain:
        limit = supervisor.guards.max_unhealthy if supervisor.guards else None
        if limit is None:
            continue
        fleet = tree.fleet(supervisor, pod)
        signalling = sum(1 for p in fleet if p.lifecycle.signalling(now))
        allowed = limit.of(len(fleet), round_up=False)
        if signalling > allowed:
            return Verdict(
                Reason.SYSTEMIC,
                f"{signalling} of {len(fleet)} pods in the fleet are signalling, "
                f"more than maxUnhealthy {limit} ({allowed})",
                supervisor.name,
            )
    return None


def check_bad_rollout(tree: Tree, pod: Pod, chain: Chain, now: Instant) -> Verdict | None:
    """Bad rollout, not bad pod: the pod is on its workload's newest revision, that
    revision is rolling out or was made within `window`, and at least `minShare` of the
    fleet's signalling pods (and `minSignalling` of them) are on their newest revision.
    Restarting such a pod brings back the same revision, so the supervisor escalates.

    A pod of an older revision is never held: it is not the rollout's doing.
    """
    rollout = tree.rollout(pod.owner)
    if rollout is None or not pod.revision or pod.revision != rollout.revision:
        return None
    for supervisor in chain:
        guard = supervisor.bad_rollout
        if guard.window <= 0:
            continue
        fleet = tree.fleet(supervisor, pod)
        # Cheapest first: the time, then revisions (no call per pod), then signals.
        recent = rollout.recent(guard.window, now)
        if not recent and not _rolling_out(fleet, pod, rollout.revision):
            continue
        signalling = [p for p in fleet if p.lifecycle.signalling(now)]
        newest = sum(1 for p in signalling if _on_newest(tree, p))
        if newest < guard.min_signalling or newest * 100 < guard.min_share * len(signalling):
            continue
        when = (
            "still rolling out"
            if rollout.since is None or _rolling_out(fleet, pod, rollout.revision)
            else f"made {format_duration(max(0.0, now - rollout.since))} ago"
        )
        return Verdict(
            Reason.BAD_ROLLOUT,
            f"{newest} of {len(signalling)} signalling pods in the fleet are on the newest "
            f"revision {rollout.revision} of {pod.owner} ({when}), at least badRollout "
            f"minShare {guard.min_share}% and minSignalling {guard.min_signalling}: "
            "restarting them brings the same revision back",
            supervisor.name,
        )
    return None


def _rolling_out(fleet: list[Pod], pod: Pod, newest: str) -> bool:
    """Pods of an older revision of the pod's workload remain in the fleet."""
    owner = pod.owner
    return any(p.revision != newest and p.revision and p.owner == owner for p in fleet)


def _on_newest(tree: Tree, pod: Pod) -> bool:
    rollout = tree.rollout(pod.owner)
    return rollout is not None and bool(pod.revision) and pod.revision == rollout.revision


def check_availability(tree: Tree, pod: Pod, chain: Chain) -> Verdict | None:
    for supervisor in chain:
        guards = supervisor.guards
        if guards is None or (guards.max_unavailable is None and guards.min_available is None):
            continue
        fleet = tree.fleet(supervisor, pod)
        size = len(fleet)
        after = sum(1 for p in fleet if p.out_of_service) + (0 if pod.out_of_service else 1)
        if guards.max_unavailable is not None:
            allowed = guards.max_unavailable.of(size, round_up=False)
            if after > allowed:
                return Verdict(
                    Reason.MAX_UNAVAILABLE,
                    f"acting would leave {after} of {size} pods unavailable, "
                    f"more than maxUnavailable {guards.max_unavailable} ({allowed})",
                    supervisor.name,
                )
        if guards.min_available is not None:
            needed = guards.min_available.of(size, round_up=True)
            if size - after < needed:
                return Verdict(
                    Reason.MIN_AVAILABLE,
                    f"acting would leave {size - after} of {size} pods available, "
                    f"fewer than minAvailable {guards.min_available} ({needed})",
                    supervisor.name,
                )
    return None


def check_rate_limits(runbook: Runbook, draft: Draft, chain: Chain, now: Instant) -> Verdict | None:
    for supervisor in chain:
        limit = supervisor.guards.rate_limit if supervisor.guards else None
        if limit is not None and _spent(draft.supervisor(supervisor.name).actions, limit, now):
            return Verdict(
                Reason.RATE_LIMITED,
                f"supervisor {supervisor.name} already acted {limit.max} times "
                f"in {format_duration(limit.per)}",
                supervisor.name,
            )
    limit = runbook.settings.rate_limit
    if limit is not None and _spent(draft.recent_actions, limit, now):
        return Verdict(
            Reason.RATE_LIMITED,
            f"the receiver already acted {limit.max} times in {format_duration(limit.per)}",
        )
    return None


def _spent(times: tuple[Instant, ...], limit: RateLimit, now: Instant) -> bool:
    return sum(1 for t in times if t > now - limit.per) >= limit.max
