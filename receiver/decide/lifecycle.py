"""Per-pod lifecycle transitions: serving, drained, probation, restarted, paused.

serving --drain--> drained --period ends--> probation --window ends--> serving
                                                |  (attempts reset)
                             recurrence: the next step of the rule
any step may be restart (-> restarted, the replacement starts fresh)
or pause (-> paused, until a human resumes the pod)
"""

from __future__ import annotations

from dataclasses import replace

from receiver.model import Instant, Lifecycle, PodState
from receiver.runbook import Rule, Step, StepKind

_STATE_AFTER = {
    StepKind.DRAIN: PodState.DRAINED,
    StepKind.RESTART: PodState.RESTARTED,
    StepKind.PAUSE: PodState.PAUSED,
}


def next_attempt(lifecycle: Lifecycle, rule: Rule, now: Instant) -> int:
    """0-based index of the step a new occurrence takes, for a pod or a workload alike.

    Only a recurrence during probation continues the sequence; a target that
    passed probation (or a different rule) starts from the first step.
    """
    if (
        lifecycle.state is PodState.PROBATION
        and lifecycle.rule == rule.name
        and (lifecycle.until is None or now < lifecycle.until)
    ):
        return lifecycle.attempts
    return 0


def after_step(
    lifecycle: Lifecycle, rule: Rule, step: Step, attempt: int, occurrence: str, now: Instant
) -> Lifecycle:
    """The lifecycle once a step was taken.

    A step that leaves the pod in traffic (notify, rolloutRestart) puts it on
    probation, so a recurrence within the window takes the next step. Only
    disruptive steps start the pod's cooldown.
    """
    if step.kind in _STATE_AFTER:
        state = _STATE_AFTER[step.kind]
        until = now + step.duration if step.kind is StepKind.DRAIN and step.duration else None
        last_action_at: Instant | None = now
    else:
        state, until, last_action_at = (
            PodState.PROBATION,
            now + rule.probation,
            lifecycle.last_action_at,
        )
    return replace(
        lifecycle,
        state=state,
        rule=rule.name,
        attempts=attempt + 1,
        until=until,
        last_action_at=last_action_at,
    ).remember(occurrence)


def dry_run_restarted(lifecycle: Lifecycle, restart_time: float, now: Instant) -> Lifecycle:
    """A dry-run restart: counted unavailable for as long as a live one would be
    (`settings.restartTime`), then the fresh pod a live restart would bring."""
    return replace(lifecycle, until=now + restart_time)


def replaced(lifecycle: Lifecycle) -> Lifecycle:
    """The fresh pod a restart brings; the handled occurrences stay, so a re-delivery
    is still recognized (a live replacement tells it by its creation time)."""
    return Lifecycle(handled=lifecycle.handled)


def dry_run_restart_over(lifecycle: Lifecycle, now: Instant) -> bool:
    return lifecycle.state is PodState.RESTARTED and _due(lifecycle, now)


def drain_over(lifecycle: Lifecycle, now: Instant) -> bool:
    return lifecycle.state is PodState.DRAINED and _due(lifecycle, now)


def probation_over(lifecycle: Lifecycle, now: Instant) -> bool:
    return lifecycle.state is PodState.PROBATION and _due(lifecycle, now)


def restored(lifecycle: Lifecycle, probation: float, now: Instant) -> Lifecycle:
    return replace(lifecycle, state=PodState.PROBATION, until=now + probation)


def serving(lifecycle: Lifecycle) -> Lifecycle:
    """Back to normal with a clean slate (passed probation, or resumed by a human)."""
    return replace(lifecycle, state=PodState.SERVING, rule=None, attempts=0, until=None)


def _due(lifecycle: Lifecycle, now: Instant) -> bool:
    return lifecycle.until is not None and lifecycle.until <= now
