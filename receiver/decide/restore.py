"""Back into traffic: the restore action, on probation for the rule's window."""

from __future__ import annotations

from receiver.decide.draft import Draft
from receiver.decide.plan import Action, ActionKind
from receiver.decide.rules import is_dry_run
from receiver.model import Lifecycle, PodKey
from receiver.runbook import Rule, Runbook
from receiver.runbook.quantities import format_duration
from receiver.runbook.types import DEFAULT_PROBATION


def plan_restore(
    runbook: Runbook, draft: Draft, key: PodKey, current: Lifecycle, rule: Rule | None, why: str
) -> float:
    """Plan the pod's restore, saying `why`; the probation (seconds) it starts."""
    probation = rule.probation if rule else DEFAULT_PROBATION
    draft.actions.append(
        Action(
            kind=ActionKind.RESTORE,
            pod=key,
            rule=current.rule,
            attempt=current.attempts,
            dry_run=is_dry_run(runbook.settings, rule),
            detail=f"{why}; back in traffic on probation for {format_duration(probation)}",
        )
    )
    return probation
