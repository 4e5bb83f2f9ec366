"""The Kubernetes cluster: the Cluster interface on the official client.

Reads come from the informer's pod cache and the state ConfigMap, both
held in memory; writes go to the API server and, once it accepts them,
into the cache (read your own writes).

- A pod is written in one strategic-merge PATCH (traffic label and
  lifecycle annotations together) carrying the resourceVersion the decision
  saw as a precondition; a 409 refreshes the pod and raises Conflict, so
  the caller decides again. With `drainBy: readinessGate` the pod's
  `remediation/traffic` condition is patched next, through the status
  subresource; the leader writes it again if that failed, and sets it True
  on every pod that declares the gate, has it shut and is in traffic, so a
  new pod is not held out (reconcile_gates).
- A restart is an eviction (policy/v1, or policy/v1beta1 where the server serves only that:
  see discovery.py) with the pod's uid as precondition;
  429 means a PodDisruptionBudget refuses it (EvictionRefused). With
  `evict_fallback_after`, a pod refused that long is deleted instead.
- A rollout restart patches the pod template's
  `kubectl.kubernetes.io/restartedAt` annotation, as `kubectl rollout
  restart` does; a bad rollout's `pauseRollout` sets a Deployment's
  `spec.paused`, as `kubectl rollout pause` does.
- Each workload's newest revision (for the badRollout guard) comes from the
  ReplicaSets and ControllerRevisions its pods name (revisions.py).
- Supervisor budgets, workload lifecycles, recent actions and operator
  holds live in one ConfigMap in the receiver's namespace, replaced with a resourceVersion
  precondition; on a conflict the receiver re-reads it and applies its
  change on top.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from kubernetes.client.exceptions import ApiException

from receiver.cluster import (
    READINESS_GATE,
    ClusterUnavailable,
    Conflict,
    Event,
    EvictionFailed,
    EvictionRefused,
    PodPatch,
    StateUpdate,
)
from receiver.cluster.codec import (
    BUDGETS,
    HOLDS_KEY,
    WATCHES_KEY,
    StateCorrupt,
    StoredState,
    decode_state,
    encode_lifecycle,
    encode_state,
)
from receiver.kube.api import ONE_TRY, Api, status_message
from receiver.kube.discovery import EvictionVersion
from receiver.kube.informer import PodCache, PodInformer
from receiver.kube.pods import Owners, parse_time, to_pod
from receiver.kube.revisions import Revisions
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
    merge_watches,
    rfc3339,
)
from receiver.model.fleet import gate_shut_in_traffic

log = logging.getLogger(__name__)

COMPONENT = "remediation-receiver"
STRATEGIC = "application/strategic-merge-patch+json"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
STATE_WRITES = 3  # tries of a state write against concurrent writers
MAX_MESSAGE = 1024


@dataclass(frozen=True, slots=True)
class ObjectName:
    namespace: str
    name: str


class KubernetesCluster:
    def __init__(
        self,
        api: Api,
        *,
        state: ObjectName,
        identity: str,
        evict_fallback_after: float | None = None,
        clock: Callable[[], Instant] = time.time,
    ) -> None:
        self.api = api
        self._state = state
        self._identity = identity
        self._fallback = evict_fallback_after
        self._clock = clock
        self._cache = PodCache()
        self._owners = Owners(
            self._read_replicaset, Revisions(self._read_controller_revision, parse_time)
        )
        self._informer = PodInformer(api, self._cache, self._owners)
        self._workloads: dict[Workload, Lifecycle] = {}
        self._supervisors: dict[str, SupervisorState] = {}
        self._recent: tuple[Instant, ...] = ()
        self._holds: tuple[Hold, ...] = ()
        self._watches: Mapping[Target, tuple[Watch, ...]] = {}
        self._state_version: str | None = None
        self._refused: dict[str, Instant] = {}  # pod uid -> first refused eviction
        self._gates_owed: dict[PodKey, bool] = {}  # readiness gates a decision could not write
        self._eviction = EvictionVersion(api)

    # -- running ------------------------------------------------------------

    async def start(self, namespaces: Collection[str]) -> None:
        """Start watching pods and read the state object."""
        self._informer.start(asyncio.get_running_loop(), namespaces)
        await self.load_state()

    def watch(self, namespaces: Collection[str]) -> None:
        """Follow a runbook reload that changed `settings.namespaces`."""
        self._informer.watch(namespaces)

    def stop(self) -> None:
        self._informer.stop()

    @property
    def synced(self) -> bool:
        return self._informer.synced

    def describe(self) -> str:
        return self._informer.describe()

    async def load_state(self) -> None:
        """Read the state object (again: a new leader takes over what the last one wrote)."""
        try:
            raw = await self.api.call(
                "get", self.api.core.read_namespaced_config_map, *self._state_ref()
            )
        except ApiException as exc:
            if exc.status != 404:
                raise ClusterUnavailable(_failed("get", self._state, exc)) from exc
            self._workloads, self._supervisors, self._recent = {}, {}, ()
            self._holds = ()
            self._watches = {}
            self._state_version = None
            return
        self._state_version = str(raw["metadata"]["resourceVersion"])
        state = decode_state(raw.get("data") or {}, on_corrupt=_log_corrupt)
        self._workloads, self._supervisors = dict(state.workloads), dict(state.supervisors)
        self._recent, self._holds = state.recent_actions, state.holds
        self._watches = state.watches

    # -- Cluster protocol ---------------------------------------------------

    def follow_pods(self) -> set[PodKey]:
        return self._cache.pods.follow()

    def snapshot(self) -> Snapshot:
        """A live read-only view; valid until the caller next awaits."""
        return Snapshot(
            pods=MappingProxyType(self._cache.pods),
            workloads=MappingProxyType(self._workloads),
            supervisors=MappingProxyType(self._supervisors),
            recent_actions=self._recent,
            owners=MappingProxyType(self._cache.owners),
            holds=self._holds,
            rollouts=self._owners.revisions.rollouts,
            watches=self._watches,  # replaced whole on every write, never changed in place
        )

    async def patch_pod(self, patch: PodPatch) -> None:
        key = patch.key
        pod = self._cache.pods.get(key)
        if pod is None:
            raise LookupError(f"pod {key} not found")
        metadata: dict[str, Any] = {"resourceVersion": self._cache.versions[key]}
        if patch.traffic is not None:
            metadata["labels"] = {patch.traffic_label: str(patch.traffic)}
        if patch.lifecycle is not None:
            metadata["annotations"] = encode_lifecycle(patch.lifecycle)
        try:
            raw = await self.api.call(
                "patch",
                self.api.core.patch_namespaced_pod,
                key.name,
                key.namespace,
                {"metadata": metadata},
                _content_type=STRATEGIC,
            )
        except ApiException as exc:
            if exc.status == 404:
                self._cache.remove(key, pod.uid)
                raise LookupError(f"pod {key} not found") from exc
            if exc.status == 409:
                await self.refresh(key)
                raise Conflict(f"pod {key} changed since it was read; deciding again") from exc
            raise ClusterUnavailable(_failed("patch", key, exc)) from exc
        self._cache.put(to_pod(raw, pod.owner), str(raw["metadata"]["resourceVersion"]))
        if patch.gate is not None:
            # After the annotations, which carry the decision's precondition: should this
            # write fail, reconcile_gates writes it again (a re-delivery finds it handled).
            try:
                await self.set_gate(key, patch.gate)
            except ClusterUnavailable:
                self._gates_owed[key] = patch.gate
                raise

    async def set_gate(self, key: PodKey, open_: bool) -> None:
        """Set the pod's READINESS_GATE condition through the status subresource; the kubelet
        then marks the pod Ready or not, and EndpointSlices and PDBs follow."""
        pod = self._cache.pods.get(key)
        if pod is None:
            raise LookupError(f"pod {key} not found")
        condition = {
            "type": READINESS_GATE,
            "status": "True" if open_ else "False",
            "lastTransitionTime": rfc3339(self._clock(), "seconds"),
            "reason": "InTraffic" if open_ else "OutOfTraffic",
            "message": f"set by {COMPONENT} ({self._identity})",
        }
        try:
            raw = await self.api.call(
                "patch",
                self.api.core.patch_namespaced_pod_status,
                key.name,
                key.namespace,
                {"status": {"conditions": [condition]}},
                _content_type=STRATEGIC,
            )
        except ApiException as exc:
            if exc.status == 404:
                self._cache.remove(key, pod.uid)
                raise LookupError(f"pod {key} not found") from exc
            raise ClusterUnavailable(_failed("patch status of", key, exc)) from exc
        self._gates_owed.pop(key, None)
        self._cache.put(to_pod(raw, pod.owner), str(raw["metadata"]["resourceVersion"]))

    async def reconcile_gates(self) -> None:
        """Write the readiness gates still owed: a decision's whose write failed, then True
        for every pod that declares the gate, has it shut and is in traffic (a new pod is
        not held out). The leader calls it every second; a failure waits for the next."""
        owed = [(key, open_, True) for key, open_ in sorted(self._gates_owed.items())]
        due = [(key, True, False) for key in sorted(self._cache.gates_due)]
        for key, open_, decided in owed + due:
            pod = self._cache.pods.get(key)
            if pod is None or pod.gate is None or (not decided and not gate_shut_in_traffic(pod)):
                self._gates_owed.pop(key, None)
                self._cache.gates_due.discard(key)
                continue
            try:
                await self.set_gate(key, open_)
            except LookupError:
                self._gates_owed.pop(key, None)
            except ClusterUnavailable as exc:
                log.warning("pod %s: readiness gate not set: %s", key, exc)
                return

    async def evict(self, key: PodKey) -> None:
        pod = self._cache.pods.get(key)
        if pod is None:
            raise LookupError(f"pod {key} not found")
        if pod.terminating:
            return
        body = {
            "apiVersion": await self._eviction.get(),
            "kind": "Eviction",
            "metadata": {"name": key.name, "namespace": key.namespace},
            "deleteOptions": {"preconditions": {"uid": pod.uid}},
        }
        try:
            await self.api.call(
                "create",
                self.api.core.create_namespaced_pod_eviction,
                key.name,
                key.namespace,
                body,
                retry_429=False,
                give_up=_eviction_will_repeat,
            )
        except ApiException as exc:
            if exc.status == 429:
                await self._refused_eviction(key, pod.uid, status_message(exc))
                return
            if exc.status in (404, 409):  # gone, or the name is another pod's now
                self._cache.remove(key, pod.uid)
                raise LookupError(f"pod {key} not found") from exc
            if exc.status == 400:  # perhaps a version the server no longer serves
                self._eviction.forget()
            if _eviction_will_repeat(exc):
                raise EvictionFailed(_failed("evict", key, exc)) from exc
            raise ClusterUnavailable(_failed("evict", key, exc)) from exc
        self._terminating(key, pod.uid)

    async def rollout_restart(self, workload: Workload, now: Instant) -> None:
        apps = self.api.apps
        methods = {
            "Deployment": apps.patch_namespaced_deployment,
            "StatefulSet": apps.patch_namespaced_stateful_set,
            "DaemonSet": apps.patch_namespaced_daemon_set,
        }
        method = methods.get(workload.kind)
        if method is None:
            raise LookupError(
                f"{workload}: rollout restart works on Deployments, StatefulSets and DaemonSets"
            )
        restarted_at = {RESTARTED_AT: rfc3339(now, "seconds")}
        body = {"spec": {"template": {"metadata": {"annotations": restarted_at}}}}
        try:
            raw = await self.api.call(
                "patch", method, workload.name, workload.namespace, body, _content_type=STRATEGIC
            )
        except ApiException as exc:
            if exc.status == 404:
                raise LookupError(f"{workload} not found") from exc
            raise ClusterUnavailable(_failed("patch", workload, exc)) from exc
        self._owners.remember(workload, str((raw.get("metadata") or {}).get("uid", "")))

    async def pause_rollout(self, workload: Workload) -> None:
        if workload.kind != "Deployment":
            raise LookupError(f"{workload}: only a Deployment's rollout can be paused")
        body = {"spec": {"paused": True}}
        try:
            raw = await self.api.call(
                "patch",
                self.api.apps.patch_namespaced_deployment,
                workload.name,
                workload.namespace,
                body,
                _content_type=STRATEGIC,
            )
        except ApiException as exc:
            if exc.status == 404:
                raise LookupError(f"{workload} not found") from exc
            raise ClusterUnavailable(_failed("patch", workload, exc)) from exc
        self._owners.remember(workload, str((raw.get("metadata") or {}).get("uid", "")))

    async def save_state(self, update: StateUpdate) -> None:
        for _ in range(STATE_WRITES):
            workloads = {**self._workloads, **update.workloads}
            supervisors = {**self._supervisors, **update.supervisors}
            recent = self._recent if update.recent_actions is None else update.recent_actions
            holds = self._holds if update.holds is None else update.holds
            watches = merge_watches(self._watches, update.watches)
            body = self._state_object(
                encode_state(StoredState(workloads, supervisors, recent, holds, watches))
            )
            try:
                raw = await self._write_state(body)
            except ApiException as exc:
                if exc.status not in (404, 409):
                    raise ClusterUnavailable(_failed("update", self._state, exc)) from exc
                log.info("state object changed meanwhile (HTTP %s); merging again", exc.status)
                await self.load_state()
                continue
            self._workloads, self._supervisors, self._recent = workloads, supervisors, recent
            self._holds = holds
            self._watches = watches
            self._state_version = str(raw["metadata"]["resourceVersion"])
            return
        raise ClusterUnavailable(f"state object {self._state_name()} kept changing under us")

    async def record_event(self, event: Event) -> None:
        involved: dict[str, str]
        if event.pod is not None:
            pod = self._cache.pods.get(event.pod)
            involved = {"apiVersion": "v1", "kind": "Pod", "name": event.pod.name}
            involved.update({"namespace": event.pod.namespace, "uid": pod.uid if pod else ""})
        elif event.workload is not None:
            w = event.workload
            involved = {"apiVersion": "apps/v1", "kind": w.kind, "name": w.name}
            involved["namespace"] = w.namespace
            uid = self._owners.uid(w)
            if uid:  # without it `kubectl describe` does not show the Event
                involved["uid"] = uid
        else:
            return
        at = rfc3339(event.at, "seconds")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{involved['name']}.{time.time_ns():x}",
                "namespace": involved["namespace"],
            },
            "involvedObject": involved,
            "reason": event.reason,
            "message": event.message[:MAX_MESSAGE],
            "type": str(event.type),
            "firstTimestamp": at,
            "lastTimestamp": at,
            "count": 1,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._identity,
        }
        await self.api.call(
            "create",
            self.api.core.create_namespaced_event,
            involved["namespace"],
            body,
            retry=ONE_TRY,
        )

    # -- internals ----------------------------------------------------------

    async def refresh(self, key: PodKey) -> None:
        """Read one pod again (after a conflict), into the cache."""
        known = self._cache.pods.get(key)
        try:
            raw = await self.api.call(
                "get", self.api.core.read_namespaced_pod, key.name, key.namespace
            )
        except ApiException as exc:
            if exc.status == 404 and known is not None:
                self._cache.remove(key, known.uid)
            return
        owner = known.owner if known is not None else None
        self._cache.put(to_pod(raw, owner), str(raw["metadata"]["resourceVersion"]))

    async def _refused_eviction(self, key: PodKey, uid: str, message: str) -> None:
        now = self._clock()
        first = self._refused.setdefault(uid, now)
        if self._fallback is None or now - first < self._fallback:
            raise EvictionRefused(message)
        log.warning(
            "pod %s: eviction refused for %.0fs (%s); deleting it (fallback)",
            key,
            now - first,
            message,
        )
        body = {"preconditions": {"uid": uid}}
        try:
            await self.api.call(
                "delete", self.api.core.delete_namespaced_pod, key.name, key.namespace, body=body
            )
        except ApiException as exc:
            if exc.status in (404, 409):
                self._cache.remove(key, uid)
                raise LookupError(f"pod {key} not found") from exc
            raise ClusterUnavailable(_failed("delete", key, exc)) from exc
        self._terminating(key, uid)

    def _terminating(self, key: PodKey, uid: str) -> None:
        self._refused.pop(uid, None)
        pod = self._cache.pods.get(key)
        if pod is not None and pod.uid == uid:
            version = self._cache.versions[key]
            self._cache.put(replace(pod, terminating=True, ready=False), version)

    def _read_controller_revision(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._read_or_none(
            self.api.apps.read_namespaced_controller_revision, namespace, name
        )

    def _read_replicaset(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self._read_or_none(self.api.apps.read_namespaced_replica_set, namespace, name)

    def _read_or_none(
        self, read: Callable[..., Any], namespace: str, name: str
    ) -> Mapping[str, Any] | None:
        """An object of the apps API read now (not from a cache); None when it is gone."""
        try:
            return dict(
                self.api.request("get", read, name, namespace, _request_timeout=self.api.timeout)
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def _write_state(self, body: dict[str, Any]) -> dict[str, Any]:
        core = self.api.core
        if self._state_version is None:
            return await self.api.call(
                "create", core.create_namespaced_config_map, self._state.namespace, body
            )
        return await self.api.call(
            "update", core.replace_namespaced_config_map, *self._state_ref(), body
        )

    def _state_object(self, data: dict[str, str]) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            "name": self._state.name,
            "namespace": self._state.namespace,
            "labels": {"app.kubernetes.io/managed-by": COMPONENT},
        }
        if self._state_version is not None:
            metadata["resourceVersion"] = self._state_version
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}

    def _state_ref(self) -> tuple[str, str]:
        return self._state.name, self._state.namespace

    def _state_name(self) -> str:
        return f"configmap {self._state.namespace}/{self._state.name}"


_STARTING_WITHOUT = {
    BUDGETS: "starting from empty budgets (the next write replaces it)",
    HOLDS_KEY: "starting without operator holds (the next write replaces them)",
    WATCHES_KEY: "no open outcomes kept (the next write replaces them)",
}


def _log_corrupt(exc: StateCorrupt) -> None:
    """A part of the state object that does not read: it starts empty, and the log says so."""
    log.error("%s; %s", exc, _STARTING_WITHOUT[exc.part])


def _failed(verb: str, subject: object, exc: ApiException) -> str:
    hint = " (check the receiver's RBAC)" if exc.status == 403 else ""
    return f"{verb} {subject}: HTTP {exc.status} {status_message(exc)}{hint}"


def _eviction_will_repeat(exc: ApiException) -> bool:
    """An eviction answer that asking again cannot change: a bad or forbidden request,
    or a pod with more than one PodDisruptionBudget (a 500 the server always repeats)."""
    if exc.status in (400, 403, 422):
        return True
    return exc.status == 500 and "PodDisruptionBudget" in status_message(exc)
