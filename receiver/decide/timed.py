"""What time alone changes: drains over, probations passed, settle windows ended,
outcomes of disruptive actions decided (outcomes.py).

tick() looks only at pods in a timed state (Snapshot.timed), in key order,
so the pods it changes see each other's changes as one batch would, then at
the workloads whose rollout restart waited its window; expired operator holds are
dropped."""

from __future__ import annotations

from receiver.decide import lifecycle, settle, settle_rollout
from receiver.decide.draft import Draft
from receiver.decide.operator import prune_holds
from receiver.decide.outcomes import follow
from receiver.decide.plan import Plan
from receiver.decide.restore import plan_restore
from receiver.decide.rules import rule_named
from receiver.decide.tree import Tree
from receiver.model import Instant, Lifecycle, PodKey, Snapshot
from receiver.model.fleet import TIMED
from receiver.runbook import Runbook


def tick(runbook: Runbook, snapshot: Snapshot, now: Instant) -> Plan:
    """Time-driven transitions: drains that are over, probations that passed, and
    irreversible steps whose settle window ended, decided again (settle.py)."""
    draft = Draft(snapshot, now)
    tree: Tree | None = None
    for key in _timed(snapshot):
        expire(runbook, draft, key, now)
        if settle.due(draft.lifecycle(key), now):
            tree = tree or Tree(runbook=runbook, draft=draft)
            settle.decide_again(runbook, tree, draft, key, now)
    for workload, state in sorted(snapshot.workloads.items()):
        if settle.due(state, now):  # a rule's rollout restart that waited
            tree = tree or Tree(runbook=runbook, draft=draft)
            settle_rollout.decide_again(runbook, tree, draft, workload, now)
    prune_holds(draft, now)
    return follow(runbook, snapshot, draft.plan(None), now)


def _timed(snapshot: Snapshot) -> list[PodKey]:
    """The pods whose state ends by itself, in key order (from the index when there is one)."""
    if snapshot.timed is not None:
        return sorted(snapshot.timed)
    return sorted(key for key, pod in snapshot.pods.items() if pod.lifecycle.state in TIMED)


def expire(runbook: Runbook, draft: Draft, key: PodKey, now: Instant) -> Lifecycle:
    """The pod's lifecycle once its drain, probation or dry-run restart ended (if due)."""
    current = draft.lifecycle(key)
    if current.state not in TIMED or current.until is None or current.until > now:
        return current  # what follows changes nothing (drain_over, probation_over are False)
    rule = rule_named(runbook, current.rule)
    if lifecycle.drain_over(current, now):
        probation = plan_restore(runbook, draft, key, current, rule, "drain over")
        current = lifecycle.restored(current, probation, now)
    if lifecycle.probation_over(current, now):
        current = lifecycle.serving(current)
    if lifecycle.dry_run_restart_over(current, now):
        current = lifecycle.replaced(current)
    draft.set_lifecycle(key, current)
    return draft.lifecycle(key)  # as the draft keeps it (an equal value is not stored)
