"""The embedded default cluster: pods, workloads and disruption budgets in memory.

It plays the part Kubernetes plays for the real adapter: labels and
lifecycle annotations on pods, owner workloads, readiness (and the
receiver's readiness gate, for drainBy readinessGate), evictions that a
PDB-like budget may refuse, replacement pods after an eviction or a rollout
restart, rollouts (each workload's newest revision, and pods on it), a
paused rollout, Events, and one state object. Time comes from the clock it is
given; pending transitions (a pod becoming Ready, a terminating pod going
away) happen when they fall due, checked at every read.

`outage` makes every write raise ClusterUnavailable, as a failing API server
would, so tests and the demo can show the receiver answering 503.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from receiver.cluster.codec import (
    StateCorrupt,
    StoredState,
    decode_lifecycle,
    decode_state,
    encode_lifecycle,
    encode_state,
)
from receiver.cluster.pod_map import PodMap
from receiver.cluster.protocol import (
    ClusterUnavailable,
    Event,
    EvictionRefused,
    PodPatch,
    StateUpdate,
    Traffic,
)
from receiver.model import (
    Hold,
    Instant,
    Lifecycle,
    Pod,
    PodKey,
    Rollout,
    Snapshot,
    SupervisorState,
    Target,
    Watch,
    Workload,
    merge_watches,
)
from receiver.model.fleet import TIMED

log = logging.getLogger(__name__)

EVENTS_KEPT = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadSpec:
    workload: Workload
    labels: Mapping[str, str]
    max_unavailable: int  # the PDB: evictions refused while this many pods are unavailable
    start_after: float  # a new pod becomes Ready this long after it is created
    stop_after: float  # an evicted pod terminates this long after eviction
    readiness_gate: bool = False  # its pods list READINESS_GATE in spec.readinessGates


class MemoryCluster:
    def __init__(self, *, clock: Callable[[], Instant], traffic_label: str) -> None:
        self._clock = clock
        self._traffic_label = traffic_label
        self._specs: dict[Workload, WorkloadSpec] = {}
        self._pods = PodMap()
        self._annotations: dict[PodKey, dict[str, str]] = {}
        self._owners: dict[Workload, set[PodKey]] = {}
        self._workload_state: dict[Workload, Lifecycle] = {}
        self._supervisors: dict[str, SupervisorState] = {}
        self._recent: tuple[Instant, ...] = ()
        self._holds: tuple[Hold, ...] = ()
        self._rollouts: dict[Workload, Rollout] = {}
        self.paused_rollouts: set[Workload] = set()
        self._watches: dict[Target, tuple[Watch, ...]] = {}
        self._state_encoded: dict[str, str] | None = None
        self._view: Snapshot | None = None
        self._timed: dict[PodKey, None] = {}  # pods drained or on probation: Snapshot.timed
        self._due: list[tuple[Instant, int, str, PodKey, str]] = []
        self._seq = itertools.count()
        self._names = itertools.count(1)
        self.events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self.evictions: list[PodKey] = []
        self.outage = False

    # -- building a fleet ---------------------------------------------------

    def add_workload(
        self,
        workload: Workload,
        *,
        replicas: int,
        labels: Mapping[str, str],
        max_unavailable: int = 1,
        start_after: float = 2.0,
        stop_after: float = 1.0,
        readiness_gate: bool = False,
    ) -> list[PodKey]:
        """Create a workload with `replicas` pods that are Ready at once.

        They are named as the runbook-test format names them (`checkout-0`,
        `checkout-1`, ...), so a `--fleet` file means the same pods in both;
        a Deployment's replacements get fresh names, as a ReplicaSet gives them.
        With `readiness_gate` the pods declare the receiver's gate, open from the
        start (as the Kubernetes adapter opens it for a new pod).
        """
        # Pods of one workload share one labels mapping until one is relabelled.
        shared = {**labels, self._traffic_label: str(Traffic.ON)}
        spec = WorkloadSpec(
            workload=workload,
            labels=shared,
            max_unavailable=max_unavailable,
            start_after=start_after,
            stop_after=stop_after,
            readiness_gate=readiness_gate,
        )
        self._specs[workload] = spec
        now = self._clock()
        keys = []
        for i in range(replicas):
            keys.append(
                self._create(spec, f"{workload.name}-{i}", ready_at=None, now=now, seeded=True)
            )
        return keys

    def set_ready(self, key: PodKey, ready: bool) -> None:
        """What a readiness probe would do (a closed readiness gate keeps the pod not Ready)."""
        pod = self._pods[key]
        self._pods[key] = replace(
            pod, ready=ready and not pod.terminating and pod.gate is not False
        )

    def roll_out(
        self,
        workload: Workload,
        revision: str,
        *,
        pods: Collection[PodKey] = (),
        since: Instant | None = None,
    ) -> None:
        """Make `revision` the workload's newest (made at `since`, default now) and put
        `pods` on it, as a rollout part-way through has; replacements come on it too."""
        self._rollouts[workload] = Rollout(
            revision=revision, since=self._clock() if since is None else since
        )
        for key in pods:
            self._pods[key] = replace(self._pods[key], revision=revision)

    # -- Cluster protocol ---------------------------------------------------

    def follow_pods(self) -> set[PodKey]:
        return self._pods.follow()

    def snapshot(self) -> Snapshot:
        """A read-only view; valid until the caller next awaits.

        The views are live, so one Snapshot serves until a value it holds by
        copy (recent actions, holds) changes.
        """
        self._catch_up(self._clock())
        view = self._view
        if view is None or view.recent_actions is not self._recent or view.holds is not self._holds:
            view = self._view = Snapshot(
                pods=MappingProxyType(self._pods),
                workloads=MappingProxyType(self._workload_state),
                supervisors=MappingProxyType(self._supervisors),
                recent_actions=self._recent,
                owners=MappingProxyType(self._owners),
                timed=self._timed.keys(),
                holds=self._holds,
                rollouts=MappingProxyType(self._rollouts),
                watches=MappingProxyType(self._watches),
            )
        return view

    async def patch_pod(self, patch: PodPatch) -> None:
        self._write()
        pod = self._pods.get(patch.key)
        if pod is None:
            raise LookupError(f"pod {patch.key} not found")
        labels = pod.labels
        if patch.traffic is not None and labels.get(patch.traffic_label) != patch.traffic:
            labels = {**labels, patch.traffic_label: str(patch.traffic)}
        lifecycle = pod.lifecycle
        if patch.lifecycle is not None:
            annotations = self._annotations.setdefault(patch.key, {})
            annotations.update(encode_lifecycle(patch.lifecycle))
            lifecycle = self._read_lifecycle(patch.key, annotations)
            if lifecycle.state in TIMED:
                self._timed[patch.key] = None
            else:
                self._timed.pop(patch.key, None)
        self._pods[patch.key] = replace(pod, labels=labels, lifecycle=lifecycle)
        if patch.gate is not None and pod.gate is not None:
            # The kubelet's part: a pod is Ready only while every readiness gate is True.
            pod = self._pods[patch.key]
            ready = patch.gate and not pod.terminating and pod.started_at is not None
            self._pods[patch.key] = replace(pod, gate=patch.gate, ready=ready)

    async def evict(self, key: PodKey) -> None:
        self._write()
        now = self._clock()
        self._catch_up(now)
        pod = self._pods.get(key)
        if pod is None:
            raise LookupError(f"pod {key} not found")
        if pod.terminating:
            return
        spec = self._specs.get(pod.owner) if pod.owner else None
        if spec is not None and pod.ready:
            unavailable = sum(
                1 for k in self._owners.get(spec.workload, ()) if not self._pods[k].ready
            )
            if unavailable >= spec.max_unavailable:
                raise EvictionRefused(
                    f"Cannot evict pod as it would violate the pod's disruption budget "
                    f"({unavailable} of {spec.max_unavailable} allowed unavailable)"
                )
        self.evictions.append(key)
        self._terminate(key, now)

    async def rollout_restart(self, workload: Workload, now: Instant) -> None:
        self._write()
        spec = self._specs.get(workload)
        if spec is None:
            raise LookupError(f"workload {workload} not found")
        # One pod at a time, each after its predecessor would be Ready again.
        for i, key in enumerate(sorted(self._owners.get(workload, ()))):
            if not self._pods[key].terminating:
                self._schedule(now + i * (spec.start_after + spec.stop_after), "terminate", key)

    async def pause_rollout(self, workload: Workload) -> None:
        self._write()
        if workload not in self._specs or workload.kind != "Deployment":
            raise LookupError(f"Deployment {workload} not found")
        self.paused_rollouts.add(workload)

    async def save_state(self, update: StateUpdate) -> None:
        self._write()
        self._workload_state.update(update.workloads)
        self._supervisors.update(update.supervisors)
        if update.recent_actions is not None:
            self._recent = update.recent_actions
        if update.holds is not None:
            self._holds = update.holds
        watches = merge_watches(self._watches, update.watches)
        if watches is not self._watches:  # in place: snapshots view this dict
            self._watches.clear()
            self._watches.update(watches)
        self._state_encoded = None

    @property
    def _state_data(self) -> dict[str, str]:
        """The state object as the adapter would store it, encoded when it is read.

        Encoding it on every write cost O(all remembered state) per acting
        decision (supervisors keep a time per action in their window), and
        nothing reads it back in a live receiver.
        """
        if self._state_encoded is None:
            data = encode_state(
                StoredState(
                    self._workload_state,
                    self._supervisors,
                    self._recent,
                    self._holds,
                    self._watches,
                )
            )
            try:  # what the adapter would read back after a restart must be what was meant
                decode_state(data)
            except StateCorrupt:  # pragma: no cover - an encoder bug, not user input
                log.exception("state object does not read back")
                raise
            self._state_encoded = data
        return self._state_encoded

    async def record_event(self, event: Event) -> None:
        self.events.append(event)

    # -- internals ----------------------------------------------------------

    def _write(self) -> None:
        if self.outage:
            raise ClusterUnavailable("the in-memory cluster is in a simulated outage")

    def _name(self, spec: WorkloadSpec) -> str:
        # Deployment pods get a fresh name per replacement, as a ReplicaSet gives them.
        return f"{spec.workload.name}-{next(self._names):05x}"

    def _create(
        self,
        spec: WorkloadSpec,
        name: str,
        *,
        ready_at: Instant | None,
        now: Instant,
        seeded: bool = False,
    ) -> PodKey:
        """A pod. A workload's first pods have no creation time: they stand for pods that
        were there before the cluster's clock began, which any alert may be about."""
        key = PodKey(spec.workload.namespace, name)
        uid = f"uid-{next(self._names)}"
        started = ready_at is None
        self._pods[key] = Pod(
            namespace=key.namespace,
            name=name,
            labels=spec.labels,
            owner=spec.workload,
            uid=uid,
            ready=started,
            started_at=now if started else None,
            created_at=None if seeded else now,
            gate=True if spec.readiness_gate else None,
        )
        self._annotations.pop(key, None)
        self._timed.pop(key, None)
        self._owners.setdefault(spec.workload, set()).add(key)
        if ready_at is not None:
            self._schedule(ready_at, "ready", key)
        return key

    def _terminate(self, key: PodKey, now: Instant) -> None:
        pod = self._pods[key]
        self._pods[key] = replace(pod, terminating=True, ready=False)
        spec = self._specs.get(pod.owner) if pod.owner else None
        self._schedule(now + (spec.stop_after if spec else 0.0), "gone", key)

    def _schedule(self, at: Instant, what: str, key: PodKey) -> None:
        # The uid, not the name: a StatefulSet's replacement has its predecessor's name.
        heapq.heappush(self._due, (at, next(self._seq), what, key, self._pods[key].uid))

    def _catch_up(self, now: Instant) -> None:
        while self._due and self._due[0][0] <= now:
            at, _, what, key, uid = heapq.heappop(self._due)
            pod = self._pods.get(key)
            if pod is None or pod.uid != uid:
                continue
            if what == "ready" and not pod.terminating:
                self._pods[key] = replace(pod, ready=True, started_at=at)
            elif what == "terminate" and not pod.terminating:
                self._terminate(key, at)
            elif what == "gone" and pod.terminating:
                self._replace(pod, at)

    def _replace(self, pod: Pod, now: Instant) -> None:
        del self._pods[pod.key]
        self._annotations.pop(pod.key, None)
        self._timed.pop(pod.key, None)
        if pod.owner is None or pod.owner not in self._specs:
            return
        self._owners[pod.owner].discard(pod.key)
        spec = self._specs[pod.owner]
        name = pod.name if pod.owner.kind == "StatefulSet" else self._name(spec)
        key = self._create(spec, name, ready_at=now + spec.start_after, now=now)
        rollout = self._rollouts.get(pod.owner)
        revision = rollout.revision if rollout is not None else pod.revision
        if revision:
            self._pods[key] = replace(self._pods[key], revision=revision)

    def _read_lifecycle(self, key: PodKey, annotations: Mapping[str, str]) -> Lifecycle:
        try:
            return decode_lifecycle(annotations)
        except StateCorrupt as exc:
            log.warning("pod %s: %s; starting from a fresh lifecycle", key, exc)
            return Lifecycle()
