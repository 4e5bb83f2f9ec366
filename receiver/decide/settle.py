"""The settle window: an irreversible step waits, out of traffic, and is then decided again.

Signals arrive one pod at a time (sidecar pushes, deadlines expiring one by
one), so a decision taken the instant the first report arrives cannot know
that the fleet is failing as a whole. A restart or a pause that the guards
allow is therefore not taken at once:

- at once, the pod leaves traffic (a drain: reversible, so isolation stays
  fast) in state `settling`, counted as unavailable by every guard, and the
  decision says `settling` with the time it is decided again;
- when the window ends (the tick), the step is decided again against the
  fleet as it is then: if the pod stopped signalling, or a guard holds (a
  frozen or systemic supervisor, availability, rate limits, intensity), the
  pod goes back into traffic (its cause was not the pod) and a systemic
  fleet or an exceeded intensity escalates; otherwise the step is taken.

So a systemic outage costs no restart and one escalation however its
signals are spread, and a single bad pod is restarted a window (plus one
tick) after its report. The window is the nearest supervisor's
`guards.settle`, else `settings.settle`, else twice the longest heartbeat
interval (at least 10 s); `0s` acts at once.
"""

from __future__ import annotations

from dataclasses import replace

from receiver.decide import lifecycle
from receiver.decide.draft import Draft
from receiver.decide.escalation import escalate, record_action
from receiver.decide.guards import Verdict, check_step
from receiver.decide.plan import Action, ActionKind, Blocked
from receiver.decide.restore import plan_restore
from receiver.decide.rules import is_dry_run, rule_named, step_name
from receiver.decide.tree import Chain, Tree
from receiver.model import Instant, Lifecycle, Pod, PodKey, PodState, Reason
from receiver.runbook import Rule, Runbook, Step, StepKind
from receiver.runbook.quantities import format_duration

IRREVERSIBLE = frozenset({StepKind.RESTART, StepKind.PAUSE})
_ACTION = {StepKind.RESTART: ActionKind.RESTART, StepKind.PAUSE: ActionKind.PAUSE}
_STATE = {StepKind.RESTART: PodState.RESTARTED, StepKind.PAUSE: PodState.PAUSED}


def window(runbook: Runbook, chain: Chain) -> float:
    """The settle window for a pod with this supervisor chain (nearest setting wins)."""
    for supervisor in chain:
        if supervisor.guards is not None and supervisor.guards.settle is not None:
            return supervisor.guards.settle
    return runbook.settle_default


def defer(
    runbook: Runbook,
    draft: Draft,
    key: PodKey,
    *,
    rule: Rule,
    step: Step,
    attempt: int,
    occurrence: str,
    seconds: float,
    now: Instant,
) -> None:
    """Take the pod out of traffic now; decide `step` again when the window ends."""
    until = now + seconds
    kind = _ACTION[step.kind]
    waits = format_duration(seconds)
    draft.actions.append(
        Action(
            kind=ActionKind.DRAIN,
            pod=key,
            rule=rule.name,
            until=until,
            attempt=attempt + 1,
            dry_run=is_dry_run(runbook.settings, rule),
            detail=f"{step_name(rule, attempt + 1)}: {kind} after a {waits} settle window; "
            "out of traffic meanwhile",
        )
    )
    draft.blocked.append(
        Blocked(
            reason=Reason.SETTLING,
            wanted=kind,
            pod=key,
            rule=rule.name,
            detail=f"{kind} waits {waits} for the rest of the fleet to report, then is decided "
            "again against the fleet as it is then",
        )
    )
    current = draft.lifecycle(key)
    draft.set_lifecycle(
        key,
        replace(
            current,
            state=PodState.SETTLING,
            rule=rule.name,
            attempts=attempt + 1,
            until=until,
            pending=str(step.kind),
        ).remember(occurrence),
    )


def due(lifecycle: Lifecycle, now: Instant) -> bool:
    return (
        lifecycle.state is PodState.SETTLING
        and lifecycle.until is not None
        and lifecycle.until <= now
    )


def decide_again(runbook: Runbook, tree: Tree, draft: Draft, key: PodKey, now: Instant) -> None:
    """The window ended: take the pending step, or put the pod back into traffic."""
    pod = draft.pod(key)
    assert pod is not None
    current = pod.lifecycle
    rule = rule_named(runbook, current.rule)
    chain = tree.chain(pod)
    kind = StepKind(current.pending or StepKind.RESTART)
    if rule is None or not chain or kind not in IRREVERSIBLE:
        _back_in_traffic(runbook, draft, key, rule, current, "the runbook changed", now)
        return
    if not current.signalling(now):
        _back_in_traffic(runbook, draft, key, rule, current, "the pod stopped signalling", now)
        return
    verdict = check_step(kind, runbook, tree, draft, pod, chain, now)
    if verdict is not None:
        draft.blocked.append(
            Blocked(
                reason=verdict.reason,
                wanted=_ACTION[kind],
                pod=key,
                rule=rule.name,
                supervisor=verdict.supervisor,
                detail=verdict.detail,
            )
        )
        escalate_for(runbook, tree, draft, verdict, pod, rule, now)
        _back_in_traffic(runbook, draft, key, rule, current, f"held ({verdict.reason})", now)
        return
    _take(runbook, draft, key, rule, kind, current, chain, now)


_ESCALATES = {
    Reason.SYSTEMIC: Reason.SYSTEMIC,
    Reason.ESCALATED: Reason.INTENSITY,
    Reason.BAD_ROLLOUT: Reason.BAD_ROLLOUT,
}


def escalate_for(
    runbook: Runbook,
    tree: Tree,
    draft: Draft,
    verdict: Verdict,
    pod: Pod,
    rule: Rule | None,
    now: Instant,
    about: str | None = None,
) -> None:
    """A held step whose verdict is systemic, a bad rollout or an exceeded intensity: the supervisor
    escalates, as it would have at the moment of the signal."""
    if verdict.supervisor is None or verdict.reason not in _ESCALATES:
        return
    escalate(
        runbook,
        tree,
        draft,
        runbook.by_name[verdict.supervisor],
        cause=_ESCALATES[verdict.reason],
        origin=pod,
        rule=rule.name if rule else None,
        dry_run=is_dry_run(runbook.settings, rule),
        now=now,
        origin_name=about,
    )


def _take(
    runbook: Runbook,
    draft: Draft,
    key: PodKey,
    rule: Rule,
    kind: StepKind,
    current: Lifecycle,
    chain: Chain,
    now: Instant,
) -> None:
    record_action(runbook, draft, chain, now)
    draft.actions.append(
        Action(
            kind=_ACTION[kind],
            pod=key,
            rule=rule.name,
            attempt=current.attempts,
            dry_run=is_dry_run(runbook.settings, rule),
            detail=f"{step_name(rule, current.attempts)}: {kind} after its settle window",
        )
    )
    done = replace(current, state=_STATE[kind], until=None, last_action_at=now, pending=None)
    if kind is StepKind.RESTART and is_dry_run(runbook.settings, rule):
        done = lifecycle.dry_run_restarted(done, runbook.settings.restart_time, now)
    draft.set_lifecycle(key, done)


def _back_in_traffic(
    runbook: Runbook,
    draft: Draft,
    key: PodKey,
    rule: Rule | None,
    current: Lifecycle,
    why: str,
    now: Instant,
) -> None:
    """The pending step is not taken: back into traffic, on probation, so that a
    recurrence within the window takes the same step again."""
    kind = current.pending or "step"
    probation = plan_restore(
        runbook, draft, key, current, rule, f"settle window over, {kind} not taken: {why}"
    )
    draft.set_lifecycle(
        key,
        replace(
            current,
            state=PodState.PROBATION,
            attempts=max(0, current.attempts - 1),
            until=now + probation,
            pending=None,
        ),
    )
