"""The compiled runbook: what the loader produces and decide/ walks.

Every value is validated before it gets here, so decision code never
re-checks a field. Durations are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from receiver.model import Reason
from receiver.runbook.matchers import Selector
from receiver.runbook.quantities import Quantity

DEFAULT_TRAFFIC_LABEL = "remediation/traffic"
PROTECT_LABEL = "remediation/protect"


DEFAULT_PROBATION = 600.0
"""Seconds a pod stays on probation after a step, unless its rule says (`probation`)."""
SETTLE_FLOOR = 10.0
"""Seconds: the shortest default settle window (Runbook.settle_default)."""
DEFAULT_MISS_AFTER = 3
"""Silent heartbeat intervals before HeartbeatMissed, unless the runbook says (`missAfter`)."""


class Strategy(StrEnum):
    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


class StepKind(StrEnum):
    DRAIN = "drain"
    RESTART = "restart"
    PAUSE = "pause"
    ROLLOUT_RESTART = "rolloutRestart"
    NOTIFY = "notify"

    @property
    def disruptive(self) -> bool:
        """Takes a pod out of service, so guards must allow it first."""
        return self in (StepKind.DRAIN, StepKind.RESTART, StepKind.PAUSE)


class DrainBy(StrEnum):
    """How a drain (and a pause, and a restart's wait) takes a pod out of its Services."""

    LABEL = "label"  # relabel it <trafficLabel>: off; Services select "on"
    READINESS_GATE = "readinessGate"  # its remediation/traffic condition False: not Ready


class Exhausted(StrEnum):
    """What a further occurrence does once a rule's steps are used up."""

    PAUSE = "pause"
    RESTART = "restart"
    NONE = "none"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    kind: StepKind
    duration: float | None = None  # drain: how long out of traffic
    notifier: str | None = None  # notify: which notifier


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    name: str
    match: Selector
    steps: tuple[Step, ...]
    exhausted: Exhausted = Exhausted.PAUSE
    probation: float = DEFAULT_PROBATION
    dry_run: bool = False
    supervisor: str | None = None

    def step(self, attempt: int) -> Step | None:
        """The step for the attempt-th occurrence (0-based), None when exhausted."""
        if attempt < len(self.steps):
            return self.steps[attempt]
        if self.exhausted is Exhausted.NONE:
            return None
        return Step(kind=StepKind(self.exhausted.value))


@dataclass(frozen=True, slots=True)
class Intensity:
    max: int
    period: float


@dataclass(frozen=True, slots=True)
class RateLimit:
    max: int
    per: float


class EscalationKind(StrEnum):
    ROLLOUT_RESTART = "rolloutRestart"
    NOTIFY = "notify"
    PAUSE_ROLLOUT = "pauseRollout"  # a bad rollout's remedy only (badRollout.remedy)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    kind: EscalationKind
    notifier: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BadRollout:
    """The badRollout guard: on by default, since restarting pods of a bad revision
    brings back the same revision; `window: 0s` turns it off.

    `remedy` None: the supervisor's onEscalate notifications (a rollout restart
    would roll the same bad revision out again, so it is never the default).
    """

    min_share: int = 80  # percent of the fleet's signalling pods that are on the newest revision
    min_signalling: int = 2  # signalling pods on the newest revision, at least
    window: float = 1800.0  # seconds a finished rollout still counts as recent
    remedy: tuple[EscalationStep, ...] | None = None


DEFAULT_BAD_ROLLOUT = BadRollout()


@dataclass(frozen=True, slots=True, kw_only=True)
class Guards:
    max_unavailable: Quantity | None = None
    min_available: Quantity | None = None
    max_unhealthy: Quantity | None = None
    cooldown: float = 0.0
    rate_limit: RateLimit | None = None
    settle: float | None = None  # None: the nearest ancestor's, else settings.settle
    bad_rollout: BadRollout = DEFAULT_BAD_ROLLOUT


@dataclass(frozen=True, slots=True, kw_only=True)
class Supervisor:
    name: str
    match: Selector
    intensity: Intensity
    strategy: Strategy = Strategy.ONE_FOR_ONE
    guards: Guards | None = None
    on_escalate: tuple[EscalationStep, ...] = ()
    freeze_for: float | None = None  # None: the intensity period
    fleet_by: tuple[str, ...] = ()  # empty: the pod's top-level controller
    children: tuple[Supervisor, ...] = ()
    drain_by: DrainBy | None = None  # None: the parent's, then settings.drainBy

    @property
    def freeze_seconds(self) -> float:
        return self.intensity.period if self.freeze_for is None else self.freeze_for

    @property
    def bad_rollout(self) -> BadRollout:
        return DEFAULT_BAD_ROLLOUT if self.guards is None else self.guards.bad_rollout

    def remedy(self, cause: Reason) -> tuple[EscalationStep, ...]:
        """What escalating for `cause` runs: onEscalate, or for a bad rollout its remedy."""
        if cause is not Reason.BAD_ROLLOUT:
            return self.on_escalate
        remedy = self.bad_rollout.remedy
        if remedy is not None:
            return remedy
        return tuple(s for s in self.on_escalate if s.kind is EscalationKind.NOTIFY)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeartbeatExpectation:
    match: Selector
    interval: float
    miss_after: int = DEFAULT_MISS_AFTER

    @property
    def deadline(self) -> float:
        return self.interval * self.miss_after


class NotifierKind(StrEnum):
    ALERTMANAGER = "alertmanager"
    WEBHOOK = "webhook"
    LOG = "log"
    SLACK = "slack"
    PAGERDUTY = "pagerduty"


PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


@dataclass(frozen=True, slots=True, kw_only=True)
class Secret:
    """A value kept out of the runbook: read when sending, from a file (a mounted
    Secret, so a rotated one is picked up) or an environment variable."""

    file: str | None = None
    env: str | None = None

    def __str__(self) -> str:
        return f"file {self.file}" if self.file is not None else f"environment variable {self.env}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Notifier:
    name: str
    kind: NotifierKind
    url: str | None = None
    message: str | None = None  # Jinja2 template, rendered sandboxed at the edge
    url_from: Secret | None = None  # slack, webhook: the URL, when it is a secret
    routing_key: str | Secret | None = None  # pagerduty: the integration's routing key
    severity: str | None = None  # pagerduty: None, critical for escalations, else warning
    body: str | None = None  # webhook: Jinja2 template of the body (None: the JSON of old)
    headers: Mapping[str, str] = field(default_factory=dict)  # webhook: name -> template
    blocks: str | None = None  # slack: Jinja2 template of a JSON list of blocks


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetLabels:
    """Which signal labels name the target pod, or its workload."""

    namespace: str = "namespace"
    pod: str = "pod"
    workloads: Mapping[str, str] = field(
        default_factory=lambda: {
            "deployment": "Deployment",
            "statefulset": "StatefulSet",
            "daemonset": "DaemonSet",
        }
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    namespaces: tuple[str, ...]
    dry_run: bool = False
    traffic_label: str = DEFAULT_TRAFFIC_LABEL
    target_labels: TargetLabels = field(default_factory=TargetLabels)
    rate_limit: RateLimit | None = None
    protect: tuple[Selector, ...] = ()
    signal_ttl: float = 300.0
    settle: float | None = None  # None: settle_default(runbook)
    restart_time: float = 30.0  # how long a dry-run restart counts the pod unavailable
    external_url: str | None = None  # the receiver as people reach it: links in notifications
    drain_by: DrainBy = DrainBy.LABEL

    def namespace_allowed(self, namespace: str) -> bool:
        return "*" in self.namespaces or namespace in self.namespaces


@dataclass(frozen=True, slots=True, kw_only=True)
class Runbook:
    settings: Settings
    supervisors: tuple[Supervisor, ...] = ()
    rules: tuple[Rule, ...] = ()
    heartbeats: tuple[HeartbeatExpectation, ...] = ()
    notifiers: Mapping[str, Notifier] = field(default_factory=dict)
    source: str = "<runbook>"
    # Derived by the loader: the tree as lookups.
    by_name: Mapping[str, Supervisor] = field(default_factory=dict)
    parent: Mapping[str, str] = field(default_factory=dict)

    @property
    def settle_default(self) -> float:
        """The settle window where neither a supervisor nor the settings set one.

        Twice the longest heartbeat interval, and at least SETTLE_FLOOR: a fleet
        failing as a whole reports within one interval (pushes, or deadlines
        expiring one by one), so by then the fleet guard has seen it whole.
        """
        if self.settings.settle is not None:
            return self.settings.settle
        longest = max((h.interval for h in self.heartbeats), default=0.0)
        return max(SETTLE_FLOOR, 2 * longest)
