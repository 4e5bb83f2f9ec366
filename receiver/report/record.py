"""Report one decision: counted in the metrics, kept in the decision log. The one way it is done.

Counts go through a `Counts` tally that the caller flushes once per batch
(a webhook's decisions mostly share their label values). A decision that
is about nothing (a tick with nothing due) is counted but not logged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from receiver.act import ActionResult, Applied, Outcome
from receiver.decide import Action, Plan
from receiver.metrics import Counts, Metrics
from receiver.report.decisions import DecisionLog, plan_json
from receiver.report.outcomes import OutcomeTally


class Recorder:
    def __init__(self, metrics: Metrics, decisions: DecisionLog) -> None:
        self.metrics = metrics
        self.decisions = decisions
        self.outcomes = OutcomeTally()

    def record(self, plan: Plan, applied: Applied, tally: Counts) -> dict[str, Any]:
        metrics = self.metrics
        for result in applied.results:
            action = result.action
            tally.count(metrics.actions, action.kind, action.rule or "", result.outcome)
        for blocked in plan.blocked:
            tally.count(metrics.blocked, blocked.reason)
        for escalation in plan.escalations:
            tally.count(metrics.escalations, escalation.supervisor, escalation.cause)
        # A plan the cluster did not take kept no watch closed: the outcome is decided again.
        for followup in () if applied.unavailable else plan.followups:
            watch = followup.watch
            tally.count(metrics.action_outcomes, watch.rule, watch.action, followup.outcome)
            if followup.recovery is not None:
                metrics.recovery.labels(watch.rule, watch.action).observe(followup.recovery)
            self.outcomes.add(followup)
        if (
            plan.signal is not None
            or plan.actions
            or plan.blocked
            or plan.escalations
            or plan.followups
            or plan.operator is not None
        ):
            return self.decisions.add(plan, applied.results, applied.unavailable)
        return plan_json(plan, applied.results, applied.unavailable)

    def notification_failed(self, action: Action, plan: Plan, error: str) -> dict[str, Any]:
        """A notification sent in the background failed: a second entry for its decision,
        the notify action with outcome `failed` and the error.

        A new entry rather than a change to the decision's own: a client that
        follows the log by id (the API, `receiver decisions -f`) has already
        read that one, and would never learn of the failure. The send's own
        counter (remediation_notifications_total) counts it as failed.
        """
        failure = ActionResult(action, Outcome.FAILED, detail=error)
        about = replace(plan, actions=(action,), blocked=(), escalations=(), operator=None)
        return self.decisions.add(about, [failure])
