"""A rule's rollout restart waits the settle window too, on the workload it restarts.

Restarting every pod of a workload is as irreversible as restarting one,
and as useless when the whole fleet is failing for a shared cause. So a
rule-driven `rolloutRestart` step (from a pod's signal or a workload's)
is not taken at once: the workload's lifecycle enters `settling` with the
step pending, and at the tick after the window the step is decided again:
if nothing of the workload signals any more, or the fleet is systemic, or
a guard holds (frozen, rate limits, intensity), it is not taken (systemic
and intensity escalate); otherwise the workload is restarted. Nothing was
taken out of traffic meanwhile, so nothing has to come back.

A workload whose lifecycle carries `attempts` took the step itself (its
signal named it); one with 0 waited for a pod's step, and goes back to
serving afterwards.
"""

from __future__ import annotations

from dataclasses import replace

from receiver.decide.draft import Draft
from receiver.decide.escalation import record_action, rollout_restart
from receiver.decide.guards import check_step, check_systemic
from receiver.decide.plan import ActionKind, Blocked
from receiver.decide.rules import is_dry_run, rule_named
from receiver.decide.settle import escalate_for
from receiver.decide.tree import Tree
from receiver.model import Instant, Lifecycle, PodState, Reason, Workload
from receiver.runbook import Rule, Runbook, StepKind
from receiver.runbook.quantities import format_duration
from receiver.runbook.types import DEFAULT_PROBATION


def defer(
    draft: Draft,
    workload: Workload,
    *,
    rule: Rule,
    own_attempt: int | None,
    occurrence: str,
    seconds: float,
    now: Instant,
) -> None:
    """The workload waits `seconds`, then its rollout restart is decided again.

    `own_attempt` is the step's index when the signal named the workload itself.
    """
    current = draft.workload(workload)
    waiting = replace(
        current,
        state=PodState.SETTLING,
        rule=rule.name,
        attempts=0 if own_attempt is None else own_attempt + 1,
        until=now + seconds,
        pending=str(StepKind.ROLLOUT_RESTART),
    )
    if own_attempt is not None:  # the signal named the workload: its occurrence is handled
        waiting = waiting.remember(occurrence)
    draft.set_workload(workload, waiting)
    draft.blocked.append(
        Blocked(
            reason=Reason.SETTLING,
            wanted=ActionKind.ROLLOUT_RESTART,
            workload=workload,
            rule=rule.name,
            detail=f"rolloutRestart waits {format_duration(seconds)} for the rest of the fleet "
            "to report, then is decided again against the fleet as it is then",
        )
    )


def decide_again(
    runbook: Runbook, tree: Tree, draft: Draft, workload: Workload, now: Instant
) -> None:
    """The window ended: restart the workload, or say why not."""
    current = draft.workload(workload)
    rule = rule_named(runbook, current.rule)
    pods = sorted((p for p in draft.pods() if p.owner == workload), key=lambda p: p.name)
    chain = tree.chain(pods[0]) if pods else ()
    why: tuple[Reason, str, str | None] | None = None
    if rule is None or not chain:
        why = (Reason.INVALID_TARGET, "the runbook or the workload changed", None)
    elif not (current.signalling(now) or any(p.lifecycle.signalling(now) for p in pods)):
        why = (Reason.RESOLVED, "nothing of the workload signals any more", None)
    else:
        verdict = check_systemic(tree, pods[0], chain, now) or check_step(
            StepKind.ROLLOUT_RESTART, runbook, tree, draft, pods[0], chain, now
        )
        if verdict is not None:
            why = (verdict.reason, verdict.detail, verdict.supervisor)
            escalate_for(runbook, tree, draft, verdict, pods[0], rule, now, str(workload))
    if why is not None:
        reason, detail, supervisor = why
        draft.blocked.append(
            Blocked(
                reason=reason,
                wanted=ActionKind.ROLLOUT_RESTART,
                workload=workload,
                rule=current.rule,
                supervisor=supervisor,
                detail=f"settle window over, rolloutRestart not taken: {detail}",
            )
        )
        draft.set_workload(workload, _after(current, rule, taken=False, now=now))
        return
    assert rule is not None
    dry_run = is_dry_run(runbook.settings, rule)
    if rollout_restart(runbook, tree, draft, workload, None, rule.name, dry_run, now):
        record_action(runbook, draft, chain, now)
    draft.set_workload(workload, _after(draft.workload(workload), rule, taken=True, now=now))


def _after(current: Lifecycle, rule: Rule | None, *, taken: bool, now: Instant) -> Lifecycle:
    """A workload's own step puts it on probation (one not taken is the next to try again);
    one that waited for a pod's step serves again."""
    if current.attempts == 0:
        return replace(current, state=PodState.SERVING, until=None, pending=None)
    probation = rule.probation if rule else DEFAULT_PROBATION
    attempts = current.attempts if taken else current.attempts - 1
    return replace(
        current,
        state=PodState.PROBATION,
        attempts=attempts,
        until=now + probation,
        pending=None,
    )
