"""The one interface between the receiver and a cluster.

Two implementations keep the same contract: the in-memory cluster here (the
embedded default, `receiver demo`, tests) and the Kubernetes adapter. The
receiver reads a Snapshot, decides purely, then writes through these calls.

Contract every implementation keeps:
- snapshot() reflects every write made through the same object (read your
  own writes); it may be a live read-only view, valid until the caller next
  awaits, so callers take a fresh one after every write;
- a write either happens or raises; ClusterUnavailable means "try again
  later" (the receiver answers 503 so Alertmanager re-delivers);
- pod lifecycle is persisted on the pod (annotations), everything else a
  decision remembers (supervisor budgets, workload state, operator holds) in
  one state object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from receiver.model import (
    Hold,
    Instant,
    Lifecycle,
    PodKey,
    Snapshot,
    SupervisorState,
    Target,
    Watch,
    Workload,
)


class ClusterUnavailable(Exception):
    """The cluster API failed or timed out; nothing from this call is applied."""


class Conflict(ClusterUnavailable):
    """The object changed since the snapshot the decision read (HTTP 409).

    The cluster has refreshed its view; deciding again on a fresh snapshot
    usually succeeds, and if nobody does, it is a 503 like any failure.
    """


class EvictionRefused(Exception):
    """A disruption budget refused the eviction (HTTP 429); try again later."""


class EvictionFailed(Exception):
    """The cluster refused the eviction for a reason it will repeat (400, 403, 422, or a
    500 such as two PodDisruptionBudgets on one pod): retrying cannot help, a human must."""


READINESS_GATE = "remediation/traffic"
"""The pod condition type of `drainBy: readinessGate`: pods that list it in
spec.readinessGates are Ready only while the receiver keeps it True."""


class Traffic(StrEnum):
    """Values of the traffic label; Services select `<trafficLabel>: "on"`."""

    ON = "on"
    OFF = "off"
    PAUSED = "paused"


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodPatch:
    """One write to one pod: its lifecycle annotations and traffic label together, then
    its READINESS_GATE condition (on Kubernetes through the status subresource)."""

    key: PodKey
    lifecycle: Lifecycle | None = None  # None: unchanged
    traffic: Traffic | None = None  # None: unchanged
    traffic_label: str = "remediation/traffic"
    gate: bool | None = None  # the READINESS_GATE condition's status; None: unchanged


@dataclass(frozen=True, slots=True, kw_only=True)
class StateUpdate:
    """What decisions remember beyond pods; None and empty mean unchanged."""

    workloads: Mapping[Workload, Lifecycle]
    supervisors: Mapping[str, SupervisorState]
    recent_actions: tuple[Instant, ...] | None
    holds: tuple[Hold, ...] | None = None  # operator holds, the whole set
    # Open outcomes replaced per target; () closes a target's last (decide/outcomes.py).
    watches: Mapping[Target, tuple[Watch, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """A Kubernetes-style Event on the pod or workload the receiver touched."""

    reason: str  # CamelCase, e.g. Drained, Blocked
    message: str
    at: Instant
    type: EventType = EventType.NORMAL
    pod: PodKey | None = None
    workload: Workload | None = None

    @property
    def subject(self) -> str:
        return str(self.pod or self.workload or "")


@dataclass(frozen=True, slots=True)
class PodIdentity:
    """The pod a heartbeat token was issued to, as the cluster vouches for it."""

    namespace: str
    pod: str
    uid: str

    @property
    def key(self) -> PodKey:
        return PodKey(self.namespace, self.pod)


class PodTokenReview(Protocol):
    async def review(self, token: str) -> PodIdentity | None:
        """Whose pod-bound token this is; None if it is none; ClusterUnavailable if unknown."""
        ...


class Cluster(Protocol):
    def snapshot(self) -> Snapshot:
        """Pods with their lifecycle, workloads and supervisor state, as of now."""
        ...

    def follow_pods(self) -> set[PodKey]:
        """A set the cluster adds the key of every pod added, changed or removed to, from
        now on; the caller empties it as it reads (the journal: cluster/pod_map.py)."""
        ...

    async def patch_pod(self, patch: PodPatch) -> None:
        """Write labels and lifecycle annotations in one call; LookupError if the pod is gone."""
        ...

    async def evict(self, key: PodKey) -> None:
        """Evict through the disruption budget; EvictionRefused when it is spent."""
        ...

    async def rollout_restart(self, workload: Workload, now: Instant) -> None: ...

    async def pause_rollout(self, workload: Workload) -> None:
        """Set a Deployment's spec.paused (a bad rollout's remedy); LookupError if it is gone."""
        ...

    async def save_state(self, update: StateUpdate) -> None: ...

    async def record_event(self, event: Event) -> None:
        """Best effort: a lost Event never fails a decision."""
        ...
