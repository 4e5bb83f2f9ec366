"""Pods, workloads and the remembered state the decision core reads.

A Snapshot is everything a decision may look at besides the runbook, the
signal and the time: the pods with their persisted lifecycle, per-workload
state, and supervisor budgets. The cluster edge builds it; decide/ never
mutates it, it returns a Plan whose updates the edge persists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from receiver.model.hold import Hold
from receiver.model.signal import Instant

if TYPE_CHECKING:
    from receiver.model.watch import Target, Watch

HANDLED_KEPT = 32
"""How many handled alert occurrences a pod remembers (newest kept)."""
SAME_INCIDENT = 10.0
"""Seconds apart two starts of one still-firing alert may be and still be one occurrence."""
ACTIVE_KEPT = 64
"""How many firing signals a pod remembers (those expiring last kept): senders choose
how many distinct alerts name one pod, and every new one is compared with these."""


class PodState(StrEnum):
    SERVING = "serving"
    SETTLING = "settling"  # out of traffic; an irreversible step waits for its settle window
    DRAINED = "drained"
    PROBATION = "probation"
    RESTARTED = "restarted"
    PAUSED = "paused"


class PodKey(NamedTuple):
    """A pod's identity.

    A named tuple, not a dataclass: it is the key of every pod lookup, and a
    tuple hashes and compares in C (a dataclass's __hash__ runs in Python, a
    dozen times per decision).
    """

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def pod_key(namespace: str, name: str) -> PodKey:
    """PodKey(namespace, name), made without the named tuple's __new__ (a Python function)."""
    return _new_tuple(PodKey, (namespace, name))


_new_tuple = tuple.__new__


def parse_pod_key(text: str) -> PodKey:
    """A pod key as it prints ("namespace/name") read back; ValueError when it has no slash."""
    namespace, slash, name = str(text).partition("/")
    if not slash:
        raise ValueError(f"pod {text!r}, expected namespace/name")
    return PodKey(namespace, name)


class Workload(NamedTuple):
    """A pod's top-level controller: Deployment, StatefulSet, DaemonSet, ...

    A named tuple for the same reason as PodKey: it keys the fleet index.
    """

    namespace: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.kind.lower()}/{self.name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifecycle:
    """Remediation state of one pod (or one workload), persisted with it.

    `until` is the end of the current drain, probation or settle window.
    `pending` is the step (restart, pause) that waits for the settle window.
    `active` holds the firing signals seen for the target with the time each
    one expires, which is what the maxUnhealthy guard counts.
    """

    state: PodState = PodState.SERVING
    rule: str | None = None
    attempts: int = 0
    until: Instant | None = None
    last_action_at: Instant | None = None
    handled: tuple[str, ...] = ()
    active: tuple[tuple[str, Instant], ...] = ()
    pending: str | None = None

    def signalling(self, now: Instant) -> bool:
        return any(expires > now for _, expires in self.active)

    def has_handled(self, occurrence: str) -> bool:
        return occurrence in self.handled

    def handled_nearby(self, fingerprint: str, starts_at: Instant) -> bool:
        """Whether this alert was handled with a start less than SAME_INCIDENT seconds from
        `starts_at`: one incident whose start each Alertmanager of an HA pair set itself
        (for a sender that gives none, such as amtool), not a new occurrence."""
        prefix = f"{fingerprint}@"
        return any(
            abs(float(h[len(prefix) :]) - starts_at) < SAME_INCIDENT
            for h in self.handled
            if h.startswith(prefix)
        )

    def remember(self, occurrence: str) -> Lifecycle:
        kept = (*self.handled, occurrence)[-HANDLED_KEPT:]
        return replace(self, handled=kept)

    def with_signal(self, key: str, expires: Instant | None, now: Instant) -> Lifecycle:
        """Record (expires set) or clear (None) one firing signal; drop expired ones."""
        kept = tuple((k, e) for k, e in self.active if k != key and e > now)
        if expires is not None:
            kept = (*kept, (key, expires))
        if len(kept) > ACTIVE_KEPT:
            kept = tuple(sorted(kept, key=lambda item: item[1])[-ACTIVE_KEPT:])
        return replace(self, active=kept)


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    owner: Workload | None = None
    uid: str = ""
    ready: bool = True
    terminating: bool = False
    started_at: Instant | None = None  # when its containers started; None while pending
    created_at: Instant | None = None  # when this pod object was created; None if not known
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    gate: bool | None = None  # the receiver's readiness gate: None not declared, else its status
    revision: str = ""  # its pod-template-hash / controller-revision-hash; "" if not known

    @property
    def key(self) -> PodKey:
        return pod_key(self.namespace, self.name)

    def predates(self, starts_at: Instant) -> bool:
        """Whether something that started at `starts_at` began before this pod object existed.

        Then it is about an earlier pod of the same name (a StatefulSet's
        replacement keeps its predecessor's name), not about this one.
        """
        return self.created_at is not None and starts_at < self.created_at

    @property
    def out_of_service(self) -> bool:
        """Unavailable to users, whoever caused it: guards count these."""
        return not self.ready or self.terminating or self.lifecycle.state in OUT_OF_TRAFFIC


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorState:
    """Budget of one supervisor.

    `counted` holds the times of actions and child escalations that count
    against its intensity (emptied when it escalates, as an OTP supervisor
    restarts fresh); `actions` the times of actions below it, for its rate
    limit; `frozen_until` the end of a freeze of its whole subtree.
    """

    counted: tuple[Instant, ...] = ()
    actions: tuple[Instant, ...] = ()
    frozen_until: Instant | None = None
    escalations: int = 0

    def frozen(self, now: Instant) -> bool:
        return self.frozen_until is not None and now < self.frozen_until


@dataclass(frozen=True, slots=True, kw_only=True)
class Rollout:
    """A workload's newest revision and when it was made (its ReplicaSet or
    ControllerRevision was created): what the badRollout guard compares pods with."""

    revision: str
    since: Instant | None = None  # None: not known, so never recent by time alone

    def recent(self, window: float, now: Instant) -> bool:
        return self.since is not None and now - self.since < window


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The cluster as one decision sees it.

    `owners` indexes pods by top-level controller so a guard counts a fleet
    without scanning every pod; a cluster that keeps pods keeps it current,
    and it is None where nobody built it (decide/ then builds it once).
    `timed` likewise names the pods in a state that ends by itself (drained,
    probation), so a tick looks at those only; None: the tick scans every pod.
    `holds` are the operators' holds (model/hold.py), whether in force is decided from `now`.
    `rollouts` holds each workload's newest revision, where the cluster knows it.
    `watches` are the disruptive actions whose outcome is still open, by target
    (model/watch.py).
    """

    pods: Mapping[PodKey, Pod] = field(default_factory=dict)
    workloads: Mapping[Workload, Lifecycle] = field(default_factory=dict)
    supervisors: Mapping[str, SupervisorState] = field(default_factory=dict)
    recent_actions: tuple[Instant, ...] = ()
    owners: Mapping[Workload, Collection[PodKey]] | None = None
    timed: Collection[PodKey] | None = None
    holds: tuple[Hold, ...] = ()  # operator holds, expired ones included until pruned
    rollouts: Mapping[Workload, Rollout] = field(default_factory=dict)
    watches: Mapping[Target, tuple[Watch, ...]] = field(default_factory=dict)

    def supervisor(self, name: str) -> SupervisorState:
        return self.supervisors.get(name, _NO_BUDGET_SPENT)

    def workload(self, workload: Workload) -> Lifecycle:
        return self.workloads.get(workload, _FRESH)


_NO_BUDGET_SPENT = SupervisorState()
_FRESH = Lifecycle()


OUT_OF_TRAFFIC = frozenset(
    {PodState.SETTLING, PodState.DRAINED, PodState.PAUSED, PodState.RESTARTED}
)
"""States the receiver took a pod out of traffic in: guards count them as unavailable."""


def gate_shut_in_traffic(pod: Pod) -> bool:
    """Whether `pod` declares the receiver's readiness gate, has it shut, and is in
    traffic by its lifecycle: a new pod, or one whose restore could not open it. The
    receiver opens these; it shuts a gate only by a live decision (a dry-run one
    writes lifecycles too, and must change nothing)."""
    return pod.gate is False and not pod.terminating and pod.lifecycle.state not in OUT_OF_TRAFFIC


TIMED = frozenset({PodState.DRAINED, PodState.PROBATION, PodState.SETTLING, PodState.RESTARTED})
"""Lifecycle states that end by themselves when their time is up (Snapshot.timed);
a restart does only in dry-run, where no replacement comes."""


def index_owners(pods: Iterable[Pod]) -> dict[Workload, set[PodKey]]:
    """Pods by top-level controller, for Snapshot.owners."""
    out: dict[Workload, set[PodKey]] = {}
    for pod in pods:
        if pod.owner is not None:
            out.setdefault(pod.owner, set()).add(pod.key)
    return out
