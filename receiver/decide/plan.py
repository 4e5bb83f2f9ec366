"""What a decision returns: actions to apply, non-actions with reasons, escalations,
and the state updates to persist. Nothing here is applied; the edge does that."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from receiver.model import (
    Followup,
    Hold,
    Instant,
    Lifecycle,
    PodKey,
    Reason,
    Signal,
    SupervisorState,
    Target,
    Watch,
    Workload,
)
from receiver.model.value import value


class ActionKind(StrEnum):
    DRAIN = "drain"
    RESTORE = "restore"
    RESTART = "restart"
    PAUSE = "pause"
    ROLLOUT_RESTART = "rolloutRestart"
    NOTIFY = "notify"
    PAUSE_ROLLOUT = "pauseRollout"


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    kind: ActionKind
    pod: PodKey | None = None
    workload: Workload | None = None
    notifier: str | None = None
    rule: str | None = None
    supervisor: str | None = None  # set when the action is a supervisor's escalation
    until: Instant | None = None  # drain: when the pod is due back in traffic
    attempt: int = 0  # 1-based occurrence number within the rule's steps
    dry_run: bool = False
    detail: str = ""

    @property
    def target(self) -> str:
        """Who the action is done to: the notifier for a notification (the pod is its subject)."""
        if self.kind is ActionKind.NOTIFY:
            return self.notifier or ""
        return str(self.pod or self.workload or "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Blocked:
    """A decision not to act, with the reason as data."""

    reason: Reason
    wanted: ActionKind | None = None
    pod: PodKey | None = None
    workload: Workload | None = None
    rule: str | None = None
    supervisor: str | None = None
    detail: str = ""
    target: str = field(init=False, compare=False, repr=False)
    """The pod or workload held, as it prints: made once (engine.py reuses each Blocked),
    read for every decision log entry."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", str(self.pod or self.workload or ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    supervisor: str
    cause: Reason  # intensity, systemic or bad_rollout
    origin: str  # the pod or child supervisor that tipped it over
    frozen_until: Instant | None  # the escalating supervisor's subtree holds until then
    detail: str = ""


@value(frozen=True, slots=True, kw_only=True)  # frozen to mypy (model/value.py)
class Plan:
    at: Instant
    signal: Signal | None = None
    target: PodKey | Workload | None = None  # what the signal is about, resolved once
    actions: tuple[Action, ...] = ()
    blocked: tuple[Blocked, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    pods: Mapping[PodKey, Lifecycle] = field(default_factory=dict)
    workloads: Mapping[Workload, Lifecycle] = field(default_factory=dict)
    supervisors: Mapping[str, SupervisorState] = field(default_factory=dict)
    recent_actions: tuple[Instant, ...] | None = None  # None: unchanged
    operator: str | None = None  # what a human asked for (resume, reset), when it was one
    holds: tuple[Hold, ...] | None = None  # the operator holds now in force; None: unchanged
    # Open outcomes by target, replaced whole per target (() closes the last); decide/outcomes.py.
    watches: Mapping[Target, tuple[Watch, ...]] = field(default_factory=dict)
    followups: tuple[Followup, ...] = ()  # outcomes decided by this plan

    @property
    def changes_state(self) -> bool:
        return (
            bool(self.pods or self.workloads or self.supervisors or self.watches)
            or self.recent_actions is not None
            or self.holds is not None
        )
