"""What a human does: resume a paused pod, reset a supervisor's subtree.

Either supersedes the open outcomes it touches (outcomes.py)."""

from __future__ import annotations

from dataclasses import replace

from receiver.decide import lifecycle
from receiver.decide.draft import Draft
from receiver.decide.outcomes import superseded_by_human
from receiver.decide.plan import Action, ActionKind, Plan
from receiver.model import Instant, PodKey, PodState, Snapshot
from receiver.runbook import Runbook


def resume(runbook: Runbook, snapshot: Snapshot, key: PodKey, now: Instant) -> Plan:
    """A human puts a paused (or drained, or settling) pod back into traffic with a clean slate."""
    pod = snapshot.pods.get(key)
    if pod is None:
        raise LookupError(f"no pod {key}")
    draft = Draft(snapshot, now)
    if pod.lifecycle.state in (PodState.PAUSED, PodState.DRAINED, PodState.SETTLING):
        draft.actions.append(
            Action(
                kind=ActionKind.RESTORE,
                pod=key,
                rule=pod.lifecycle.rule,
                dry_run=runbook.settings.dry_run,
                detail=f"resumed by a human from {pod.lifecycle.state}",
            )
        )
    draft.set_lifecycle(key, replace(lifecycle.serving(pod.lifecycle), pending=None))
    plan = replace(draft.plan(None), operator=f"resume pod {key} (was {pod.lifecycle.state})")
    return superseded_by_human(snapshot, plan, pod=key)


def reset(runbook: Runbook, snapshot: Snapshot, supervisor: str, now: Instant) -> Plan:
    """A human thaws a supervisor's subtree and gives every supervisor in it a fresh budget."""
    if supervisor not in runbook.by_name:
        raise LookupError(f"no supervisor {supervisor}")
    draft = Draft(snapshot, now)
    pending = [runbook.by_name[supervisor]]
    subtree: list[str] = []
    while pending:
        current = pending.pop()
        subtree.append(current.name)
        state = draft.supervisor(current.name)
        draft.set_supervisor(current.name, replace(state, counted=(), frozen_until=None))
        pending.extend(current.children)
    plan = replace(draft.plan(None), operator=f"reset supervisor {supervisor} and its subtree")
    return superseded_by_human(snapshot, plan, supervisors=subtree)
