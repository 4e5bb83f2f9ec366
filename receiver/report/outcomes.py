"""Per-rule outcomes for the status API and the console: do a rule's actions help?

The counts are this replica's since it started, as the counter
`remediation_action_outcomes_total` is; the open ones are read from the
persisted watches, so they survive a restart and a change of leader.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from receiver.model import ActionOutcome, Followup, Snapshot
from receiver.runbook import Runbook


class OutcomeTally:
    """Decided outcomes by rule, as the recorder sees them."""

    def __init__(self) -> None:
        self._counts: dict[str, Counter[ActionOutcome]] = {}

    def add(self, followup: Followup) -> None:
        self._counts.setdefault(followup.watch.rule, Counter())[followup.outcome] += 1

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            rule: {str(o): tally[o] for o in ActionOutcome} for rule, tally in self._counts.items()
        }


def rule_outcomes(
    runbook: Runbook, snapshot: Snapshot, counts: Mapping[str, Mapping[str, int]]
) -> list[dict[str, Any]]:
    """Each rule's outcomes: counts, open watches, and the success ratio
    recovered / (recovered + recurred) (None until one was decided)."""
    open_by_rule: Counter[str] = Counter(
        watch.rule for kept in snapshot.watches.values() for watch in kept
    )
    out = []
    for rule in runbook.rules:
        seen = counts.get(rule.name, {})
        recovered = seen.get(ActionOutcome.RECOVERED, 0)
        recurred = seen.get(ActionOutcome.RECURRED, 0)
        decided = recovered + recurred
        out.append(
            {
                "rule": rule.name,
                "recovered": recovered,
                "recurred": recurred,
                "superseded": seen.get(ActionOutcome.SUPERSEDED, 0),
                "open": open_by_rule[rule.name],
                "successRatio": round(recovered / decided, 3) if decided else None,
            }
        )
    return out
