"""What a human does: resume a paused pod, reset a supervisor's subtree, set or lift a hold.

Resume, reset and a new hold supersede the open outcomes they touch (outcomes.py).
A hold (model/hold.py) keeps automation off a pod, a workload or a
supervisor's subtree until it expires; the guards block what it covers
with reason `held` (decide/guards.py). Every write of the holds drops the
expired ones, and so does the tick (decide/timed.py).
"""

from __future__ import annotations

from dataclasses import replace

from receiver.decide import lifecycle
from receiver.decide.draft import Draft
from receiver.decide.outcomes import superseded_by_hold, superseded_by_human
from receiver.decide.plan import Action, ActionKind, Plan
from receiver.model import (
    MAX_HOLDS_BYTES,
    Hold,
    Instant,
    PodKey,
    PodState,
    Snapshot,
    active_holds,
    holds_bytes,
)
from receiver.runbook import Runbook

MAX_HOLDS = 500
"""Holds in force at once: they live in one state object (a ConfigMap holds at most 1 MiB)."""


class HoldRefused(ValueError):
    """A hold that cannot be set; the message says why and what to do."""


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


def hold(snapshot: Snapshot, new: Hold, now: Instant) -> Plan:
    """A human holds automation off `new.target` until `new.expires`."""
    kept = active_holds(snapshot.holds, now)
    if len(kept) >= MAX_HOLDS:
        raise HoldRefused(f"{len(kept)} holds are in force, the most there may be; lift one first")
    if any(h.id == new.id for h in kept):
        raise HoldRefused(f"a hold with id {new.id} is in force already")
    size = holds_bytes((*kept, new))
    if size > MAX_HOLDS_BYTES:
        raise HoldRefused(
            f"the holds in force would take {size} bytes of the state object, more than "
            f"its {MAX_HOLDS_BYTES} for holds; lift one first or give a shorter reason"
        )
    draft = Draft(snapshot, now)
    draft.set_holds((*kept, new))
    plan = replace(draft.plan(None), operator=f"set hold: {new.describe()}")
    return superseded_by_hold(snapshot, plan, new)


def unhold(snapshot: Snapshot, hold_id: str, now: Instant) -> Plan:
    """A human lifts a hold before it expires; LookupError if none in force has that id."""
    kept = active_holds(snapshot.holds, now)
    lifted = next((h for h in kept if h.id == hold_id), None)
    if lifted is None:
        raise LookupError(f"no hold {hold_id} in force (it may have expired or been lifted)")
    draft = Draft(snapshot, now)
    draft.set_holds(tuple(h for h in kept if h is not lifted))
    return replace(
        draft.plan(None),
        operator=f"lift hold {lifted.id} on {lifted.subject} (set by {lifted.author}: "
        f"{lifted.reason})",
    )


def prune_holds(draft: Draft, now: Instant) -> None:
    """Drop the holds that expired (a tick does, so the state object forgets them)."""
    holds = draft.holds
    if any(not h.active(now) for h in holds):
        draft.set_holds(active_holds(holds, now))
