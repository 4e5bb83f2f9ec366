"""A decision's working copy: reads see the snapshot plus the updates made so far."""

from __future__ import annotations

from dataclasses import replace

from receiver.decide.plan import Action, Blocked, Escalation, Plan
from receiver.model import (
    Hold,
    Instant,
    Lifecycle,
    Pod,
    PodKey,
    Signal,
    Snapshot,
    SupervisorState,
    Workload,
)


class Draft:
    __slots__ = (
        "_holds",
        "_overlaid",
        "_pods",
        "_recent",
        "_supervisors",
        "_workloads",
        "actions",
        "blocked",
        "escalations",
        "now",
        "snapshot",
        "version",
    )

    def __init__(self, snapshot: Snapshot, now: Instant) -> None:
        self.snapshot = snapshot
        self.now = now
        self._pods: dict[PodKey, Lifecycle] = {}
        self._overlaid: dict[PodKey, Pod] = {}
        self.version = 0  # counts changes to pods: a fleet read before is still current
        self._workloads: dict[Workload, Lifecycle] = {}
        self._supervisors: dict[str, SupervisorState] = {}
        self._recent: tuple[Instant, ...] | None = None
        self._holds: tuple[Hold, ...] | None = None
        self.actions: list[Action] = []
        self.blocked: list[Blocked] = []
        self.escalations: list[Escalation] = []

    # -- reads --------------------------------------------------------------

    def pod(self, key: PodKey) -> Pod | None:
        pod = self.snapshot.pods.get(key)
        changed = self._pods.get(key)
        if pod is None or changed is None:
            return pod
        overlaid = self._overlaid.get(key)
        if overlaid is None or overlaid.lifecycle is not changed:
            overlaid = self._overlaid[key] = replace(pod, lifecycle=changed)
        return overlaid

    def pods(self) -> list[Pod]:
        if not self._pods:
            return list(self.snapshot.pods.values())
        return [self.pod(key) or pod for key, pod in self.snapshot.pods.items()]

    def lifecycle(self, key: PodKey) -> Lifecycle:
        changed = self._pods.get(key)
        if changed is not None:
            return changed
        pod = self.snapshot.pods.get(key)
        return pod.lifecycle if pod is not None else _FRESH

    def workload(self, workload: Workload) -> Lifecycle:
        return self._workloads.get(workload) or self.snapshot.workload(workload)

    def supervisor(self, name: str) -> SupervisorState:
        return self._supervisors.get(name) or self.snapshot.supervisor(name)

    @property
    def recent_actions(self) -> tuple[Instant, ...]:
        return self.snapshot.recent_actions if self._recent is None else self._recent

    @property
    def holds(self) -> tuple[Hold, ...]:
        return self.snapshot.holds if self._holds is None else self._holds

    # -- writes -------------------------------------------------------------

    def set_lifecycle(self, key: PodKey, lifecycle: Lifecycle) -> None:
        current = self.lifecycle(key)
        if lifecycle is not current and lifecycle != current:
            self._pods[key] = lifecycle
            self.version += 1

    def set_workload(self, workload: Workload, lifecycle: Lifecycle) -> None:
        if lifecycle != self.workload(workload):
            self._workloads[workload] = lifecycle

    def set_supervisor(self, name: str, state: SupervisorState) -> None:
        self._supervisors[name] = state

    def set_recent_actions(self, recent: tuple[Instant, ...]) -> None:
        self._recent = recent

    def set_holds(self, holds: tuple[Hold, ...]) -> None:
        self._holds = holds

    def plan(self, signal: Signal | None, target: PodKey | Workload | None = None) -> Plan:
        """The decision's outcome. The draft hands its updates over: it is done after this."""
        return Plan(
            at=self.now,
            signal=signal,
            target=target,
            actions=tuple(self.actions),
            blocked=tuple(self.blocked),
            escalations=tuple(self.escalations),
            pods=self._pods,
            workloads=self._workloads,
            supervisors=self._supervisors,
            recent_actions=self._recent,
            holds=self._holds,
        )


_FRESH = Lifecycle()
