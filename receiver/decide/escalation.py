"""The escalation tree, in the manner of Erlang/OTP supervisors.

Every action on a pod counts against each supervisor above it. When one
more would exceed a supervisor's intensity (max actions in period), that
supervisor escalates instead: its own onEscalate actions run (for a bad rollout, the
badRollout remedy instead), its budget
starts afresh, its subtree is frozen for `freezeFor` (default: the period)
so the remedy can take effect, and the escalation counts once against its
parent, which may in turn escalate.
"""

from __future__ import annotations

from dataclasses import replace

from receiver.decide.draft import Draft
from receiver.decide.guards import (
    Verdict,
    check_held,
    check_intensity,
    check_namespace,
    check_target,
    recent,
)
from receiver.decide.plan import Action, ActionKind, Blocked, Escalation
from receiver.decide.tree import Chain, Tree
from receiver.model import HoldKind, Instant, Pod, Reason, Workload
from receiver.runbook import Runbook, Supervisor
from receiver.runbook.types import EscalationKind, Strategy


def record_action(runbook: Runbook, draft: Draft, chain: Chain, now: Instant) -> None:
    """Count one action against every supervisor of the chain and the global rate limit."""
    for supervisor in chain:
        state = draft.supervisor(supervisor.name)
        limit = supervisor.guards.rate_limit if supervisor.guards else None
        draft.set_supervisor(
            supervisor.name,
            replace(
                state,
                counted=(*recent(state.counted, supervisor.intensity.period, now), now),
                actions=(*recent(state.actions, limit.per, now), now) if limit else (),
            ),
        )
    limit = runbook.settings.rate_limit
    if limit is not None:
        draft.set_recent_actions((*recent(draft.recent_actions, limit.per, now), now))


def escalate(
    runbook: Runbook,
    tree: Tree,
    draft: Draft,
    supervisor: Supervisor,
    *,
    cause: Reason,
    origin: Pod | Supervisor,
    rule: str | None,
    dry_run: bool,
    now: Instant,
    origin_name: str | None = None,
) -> None:
    """`origin_name` names what the signal was about when that is not `origin` (a workload)."""
    state = draft.supervisor(supervisor.name)
    freeze = supervisor.freeze_seconds
    frozen_until = now + freeze if freeze > 0 else None
    draft.set_supervisor(
        supervisor.name,
        replace(state, counted=(), frozen_until=frozen_until, escalations=state.escalations + 1),
    )
    if origin_name is None:
        origin_name = str(origin.key) if isinstance(origin, Pod) else origin.name
    draft.escalations.append(
        Escalation(
            supervisor=supervisor.name,
            cause=cause,
            origin=origin_name,
            frozen_until=frozen_until,
            detail=f"supervisor {supervisor.name} escalated ({cause}) on {origin_name}",
        )
    )
    for step in supervisor.remedy(cause):
        if step.kind is EscalationKind.PAUSE_ROLLOUT:
            pause_rollout(runbook, tree, draft, supervisor, origin, rule, dry_run, now)
        elif step.kind is EscalationKind.NOTIFY:
            draft.actions.append(
                Action(
                    kind=ActionKind.NOTIFY,
                    notifier=step.notifier,
                    rule=rule,
                    supervisor=supervisor.name,
                    dry_run=dry_run,
                    detail=f"supervisor {supervisor.name} escalated ({cause}) on {origin_name}",
                )
            )
        else:
            for workload in restart_targets(tree, supervisor, origin):
                rollout_restart(runbook, tree, draft, workload, supervisor, rule, dry_run, now)
    _count_against_parent(runbook, tree, draft, supervisor, rule, dry_run, now)


def pause_rollout(
    runbook: Runbook,
    tree: Tree,
    draft: Draft,
    supervisor: Supervisor,
    origin: Pod | Supervisor,
    rule: str | None,
    dry_run: bool,
    now: Instant,
) -> None:
    """A bad rollout's remedy: pause the origin pod's Deployment (spec.paused), as
    `kubectl rollout pause` does; other kinds have no pause, so it is blocked.

    It is blocked (`held`) when an operator holds the workload or a supervisor
    above its pods: the human decides what happens to that rollout. A hold on
    one pod does not block it: a pause replaces no pod.
    """
    workload = origin.owner if isinstance(origin, Pod) else None
    verdict = None
    if workload is None or workload.kind != "Deployment":
        verdict = Verdict(
            Reason.INVALID_TARGET, f"only a Deployment's rollout can be paused, not {workload}"
        )
    else:
        verdict = check_namespace(runbook.settings, workload.namespace) or _held(
            tree, draft, workload, now
        )
    if verdict is not None:
        draft.blocked.append(
            Blocked(
                reason=verdict.reason,
                wanted=ActionKind.PAUSE_ROLLOUT,
                workload=workload,
                rule=rule,
                supervisor=supervisor.name,
                detail=verdict.detail,
            )
        )
        return
    draft.actions.append(
        Action(
            kind=ActionKind.PAUSE_ROLLOUT,
            workload=workload,
            rule=rule,
            supervisor=supervisor.name,
            dry_run=dry_run,
            detail=f"supervisor {supervisor.name}: pause the rollout of {workload} (bad rollout)",
        )
    )


def _held(tree: Tree, draft: Draft, workload: Workload, now: Instant) -> Verdict | None:
    """The first hold in force on the workload or a supervisor above its pods."""
    holds = tuple(h for h in draft.snapshot.holds if h.kind is not HoldKind.POD)
    if not holds:
        return None
    for pod in draft.pods():
        if pod.owner == workload:
            verdict = check_held(holds, pod, tree.chain(pod), now)
            if verdict is not None:
                return Verdict(verdict.reason, f"pod {pod.name}: {verdict.detail}")
    return None


def _count_against_parent(
    runbook: Runbook,
    tree: Tree,
    draft: Draft,
    child: Supervisor,
    rule: str | None,
    dry_run: bool,
    now: Instant,
) -> None:
    parent_name = runbook.parent.get(child.name)
    if parent_name is None:
        return
    parent = runbook.by_name[parent_name]
    if check_intensity(draft, (parent,), now) is not None:
        escalate(
            runbook,
            tree,
            draft,
            parent,
            cause=Reason.INTENSITY,
            origin=child,
            rule=rule,
            dry_run=dry_run,
            now=now,
        )
        return
    state = draft.supervisor(parent_name)
    counted = (*recent(state.counted, parent.intensity.period, now), now)
    draft.set_supervisor(parent_name, replace(state, counted=counted))


def _frozen_before(tree: Tree, draft: Draft, pod: Pod, now: Instant) -> Verdict | None:
    for supervisor in tree.chain(pod):
        if draft.snapshot.supervisor(supervisor.name).frozen(now):
            return Verdict(Reason.FROZEN, f"supervisor {supervisor.name} is frozen")
    return None


def restart_targets(tree: Tree, supervisor: Supervisor, origin: Pod | Supervisor) -> list[Workload]:
    """Workloads the supervisor restarts, by its strategy, in dependency order.

    one_for_one: the failing child's workloads (or the pod's own workload);
    one_for_all: every workload under the supervisor; rest_for_one: the
    failing child's and those of every child declared after it.
    """
    ordered = tree.workloads(supervisor)
    if supervisor.strategy is Strategy.ONE_FOR_ALL:
        return ordered
    child = origin if isinstance(origin, Supervisor) else tree.child_toward(supervisor, origin)
    if child is not None:
        own = tree.workloads(child)
    elif isinstance(origin, Pod) and origin.owner is not None:
        own = [origin.owner]
    else:
        own = []
    if supervisor.strategy is Strategy.ONE_FOR_ONE or not own:
        return own
    return ordered[ordered.index(own[0]) :]


def rollout_restart(
    runbook: Runbook,
    tree: Tree,
    draft: Draft,
    workload: Workload,
    supervisor: Supervisor | None,
    rule: str | None,
    dry_run: bool,
    now: Instant,
) -> bool:
    """Plan a rollout restart unless one of the workload's pods may not be touched.

    A subtree frozen before this decision, or held by an operator, is left
    alone even by an ancestor's remedy; one frozen by this very decision
    (the child that just escalated) is what the remedy is for.
    """
    for pod in draft.pods():
        if pod.owner == workload:
            verdict = (
                check_target(runbook.settings, pod)
                or check_held(draft.snapshot.holds, pod, tree.chain(pod), now)
                or _frozen_before(tree, draft, pod, now)
            )
            if verdict is not None:
                draft.blocked.append(
                    Blocked(
                        reason=verdict.reason,
                        wanted=ActionKind.ROLLOUT_RESTART,
                        workload=workload,
                        rule=rule,
                        supervisor=supervisor.name if supervisor else None,
                        detail=f"pod {pod.name}: {verdict.detail}",
                    )
                )
                return False
    draft.actions.append(
        Action(
            kind=ActionKind.ROLLOUT_RESTART,
            workload=workload,
            rule=rule,
            supervisor=supervisor.name if supervisor else None,
            dry_run=dry_run,
            detail=f"rollout restart of {workload}",
        )
    )
    draft.set_workload(workload, replace(draft.workload(workload), last_action_at=now))
    return True
