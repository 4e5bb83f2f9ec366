"""Time-driven transitions: drains that are over, probations that passed."""

from __future__ import annotations

from receiver.decide import lifecycle
from receiver.decide.draft import Draft
from receiver.decide.index import index
from receiver.decide.plan import Action, ActionKind, Plan
from receiver.model import Instant, PodKey, Snapshot
from receiver.model.fleet import TIMED
from receiver.runbook import Rule, Runbook
from receiver.runbook.quantities import format_duration
from receiver.runbook.types import DEFAULT_PROBATION, Settings


def tick(runbook: Runbook, snapshot: Snapshot, now: Instant) -> Plan:
    """Time-driven transitions: drains that are over, probations that passed."""
    draft = Draft(snapshot, now)
    for key in _timed(snapshot):
        expire(runbook, draft, key, now)
    return draft.plan(None)


def _timed(snapshot: Snapshot) -> list[PodKey]:
    """The pods whose state ends by itself, in key order (from the index when there is one)."""
    if snapshot.timed is not None:
        return sorted(snapshot.timed)
    return sorted(key for key, pod in snapshot.pods.items() if pod.lifecycle.state in TIMED)


def expire(runbook: Runbook, draft: Draft, key: PodKey, now: Instant) -> None:
    current = draft.lifecycle(key)
    if current.state not in TIMED or current.until is None or current.until > now:
        return  # what follows changes nothing (drain_over, probation_over are False)
    rule = rule_named(runbook, current.rule)
    if lifecycle.drain_over(current, now):
        probation = rule.probation if rule else DEFAULT_PROBATION
        draft.actions.append(
            Action(
                kind=ActionKind.RESTORE,
                pod=key,
                rule=current.rule,
                attempt=current.attempts,
                dry_run=is_dry_run(runbook.settings, rule),
                detail=f"drain over; back in traffic on probation for {format_duration(probation)}",
            )
        )
        current = lifecycle.restored(current, probation, now)
    if lifecycle.probation_over(current, now):
        current = lifecycle.serving(current)
    draft.set_lifecycle(key, current)


def rule_named(runbook: Runbook, name: str | None) -> Rule | None:
    return None if name is None else index(runbook).rules_by_name.get(name)


def is_dry_run(settings: Settings, rule: Rule | None) -> bool:
    return settings.dry_run or (rule is not None and rule.dry_run)
