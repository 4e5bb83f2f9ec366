"""The fake's cluster: the store plus pod lifecycle and eviction against disruption budgets,
with the Python-side helpers tests use to seed and inspect it without HTTP.

Eviction follows pkg/registry/core/pod/storage/eviction.go in miniature: a pod that is
terminating, Pending or finished is evicted without consulting budgets; otherwise every budget
selecting the pod must allow one more disruption, else 429 TooManyRequests with the real
message and a DisruptionBudget cause. More than one budget for a pod is the real 500. A pod is
healthy when Ready and not terminating; a budget wants `expected - max_unavailable` healthy.
A Ready pod may go while more than that are healthy; an unready one while at least that many
are (the default unhealthyPodEvictionPolicy, IfHealthyBudget).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .kinds import JSON, POD, ApiError, Kind, invalid
from .patches import apply_patch
from .selectors import LabelSelector
from .store import Store, preconditions_hold, timestamp

BUDGET_MESSAGE = "Cannot evict pod as it would violate the pod's disruption budget."
# What a pod's spec may change after creation (ValidatePodUpdate), reduced to what matters here.
_MUTABLE_POD_SPEC = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


@dataclass(frozen=True, slots=True)
class Budget:
    name: str
    namespace: str
    selector: LabelSelector
    max_unavailable: int | str  # a count, or a percentage of the expected pods ("25%")
    expected: int | None  # the replicas its controller wants; None: the pods it selects now
    # False: the disruption controller has not written its status yet (observedGeneration
    # behind), and the server refuses every eviction it covers.
    processed: bool = True


def is_ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def owner_reference(owner: Mapping[str, Any]) -> JSON:
    meta = owner["metadata"]
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _conditions(ready: bool, now: str) -> list[JSON]:
    flag = "True" if ready else "False"
    return [
        {"type": t, "status": s, "lastTransitionTime": now}
        for t, s in (("Initialized", "True"), ("ContainersReady", flag), ("Ready", flag))
    ]


_PROBED = frozenset({"Initialized", "ContainersReady", "Ready"})


def kubelet_readiness(pod: JSON) -> None:
    """What the kubelet does: Ready is True only while ContainersReady is and every
    condition the pod lists in spec.readinessGates is True (an absent one is False)."""
    status = pod.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    have = {c["type"]: c.get("status") for c in conditions}
    gates = [g["conditionType"] for g in (pod.get("spec") or {}).get("readinessGates") or ()]
    ready = have.get("ContainersReady") == "True" and all(have.get(g) == "True" for g in gates)
    for condition in conditions:
        if condition["type"] == "Ready":
            condition["status"] = "True" if ready else "False"


class FakeCluster(Store):
    def __init__(
        self,
        *,
        history_limit: int = 1000,
        graceful_deletion: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(history_limit=history_limit, clock=clock)
        # True: deleting or evicting a pod sets deletionTimestamp and leaves it terminating
        # until `finish_termination`; False: it is gone at once.
        self.graceful_deletion = graceful_deletion
        self.grace_period_seconds = 30
        self._budgets: list[Budget] = []
        self._blocked: set[tuple[str, str]] = set()

    # Seeding and inspection.

    def add_pod(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        ready: bool = True,
        phase: str = "Running",
        owner: Mapping[str, Any] | None = None,
        node_name: str = "node-1",
        image: str = "registry.example/app:1",
        created: datetime | None = None,
        readiness_gates: Sequence[str] = (),
    ) -> JSON:
        """A pod, started now; `created` backdates its creationTimestamp; `readiness_gates`
        are the condition types its spec.readinessGates lists (none of them set yet)."""
        now = timestamp(self.clock())
        meta: JSON = {"name": name, "labels": dict(labels or {})}
        if annotations:
            meta["annotations"] = dict(annotations)
        if owner is not None:
            meta["ownerReferences"] = [owner_reference(owner)]
        pod: JSON = {
            "metadata": meta,
            "spec": {"nodeName": node_name, "containers": [{"name": "app", "image": image}]},
            "status": {"phase": phase, "conditions": _conditions(ready, now), "startTime": now},
        }
        if readiness_gates:
            pod["spec"]["readinessGates"] = [{"conditionType": t} for t in readiness_gates]
            kubelet_readiness(pod)
        return self.create(POD, namespace, pod, created=created)

    def patch_status(self, namespace: str, name: str, content_type: str, patch: Any) -> JSON:
        """PATCH pods/NAME/status: the patch's status is kept, the rest of it ignored; then
        the kubelet's part, Ready following the pod's readiness gates."""

        def change(pod: JSON) -> None:
            pod["status"] = apply_patch(content_type, pod, patch).get("status") or {}
            kubelet_readiness(pod)

        return self.mutate(POD, namespace, name, change)

    def add_workload(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        replicas: int = 1,
        owner: Mapping[str, Any] | None = None,
    ) -> JSON:
        """A ReplicaSet, Deployment, StatefulSet or DaemonSet to own pods (`add_pod(owner=...)`)."""
        selector = {"matchLabels": dict(labels or {"app": name})}
        meta: JSON = {"name": name, "labels": dict(labels or {})}
        if owner is not None:
            meta["ownerReferences"] = [owner_reference(owner)]
        spec: JSON = {
            "selector": selector,
            "template": {"metadata": {"labels": selector["matchLabels"]}},
        }
        if kind.kind != "DaemonSet":
            spec["replicas"] = replicas
        return self.create(kind, namespace, {"metadata": meta, "spec": spec})

    def pod(self, namespace: str, name: str) -> JSON | None:
        return self.find(POD, namespace, name)

    def labels(self, namespace: str, name: str, kind: Kind = POD) -> dict[str, str]:
        return dict(self.get(kind, namespace, name)["metadata"].get("labels") or {})

    def annotations(self, namespace: str, name: str, kind: Kind = POD) -> dict[str, str]:
        return dict(self.get(kind, namespace, name)["metadata"].get("annotations") or {})

    def set_ready(self, namespace: str, name: str, ready: bool) -> JSON:
        def change(pod: JSON) -> None:
            status = pod.setdefault("status", {})
            gates = [c for c in status.get("conditions") or () if c["type"] not in _PROBED]
            status["conditions"] = _conditions(ready, timestamp(self.clock())) + gates
            kubelet_readiness(pod)

        return self.mutate(POD, namespace, name, change)

    def set_labels(self, namespace: str, name: str, labels: Mapping[str, str | None]) -> JSON:
        """Merge `labels` into the pod's (None removes one), as another actor would."""

        def change(pod: JSON) -> None:
            have = pod["metadata"].setdefault("labels", {})
            for key, value in labels.items():
                if value is None:
                    have.pop(key, None)
                else:
                    have[key] = value

        return self.mutate(POD, namespace, name, change)

    def finish_termination(self, namespace: str, name: str) -> JSON:
        """What the kubelet does once a terminating pod has stopped: remove it."""
        return super().delete(POD, namespace, name)

    # Pod deletion and eviction.

    def delete(
        self, kind: Kind, namespace: str, name: str, pre: Mapping[str, Any] | None = None
    ) -> JSON:
        return self.delete_with(kind, namespace, name, {"preconditions": pre} if pre else None)

    def delete_with(
        self, kind: Kind, namespace: str, name: str, options: Mapping[str, Any] | None
    ) -> JSON:
        """DELETE with DeleteOptions: pods terminate gracefully unless gracePeriodSeconds=0."""
        options = options or {}
        grace = options.get("gracePeriodSeconds")
        if kind != POD or not self.graceful_deletion or grace == 0:
            return super().delete(kind, namespace, name, options.get("preconditions"))
        with self.lock:
            pod = self.get(POD, namespace, name)
            preconditions_hold(POD, pod, options.get("preconditions"))
            if is_terminating(pod):
                return pod
            seconds = self.grace_period_seconds if grace is None else int(grace)
            deadline = self.clock() + timedelta(seconds=seconds)
            pod["metadata"]["deletionTimestamp"] = timestamp(deadline)
            pod["metadata"]["deletionGracePeriodSeconds"] = seconds
            # Not through _update, which keeps deletionTimestamp: only deletion may set it.
            return self._write(self._key(POD, namespace, name), pod, "MODIFIED")

    def add_budget(
        self,
        namespace: str,
        selector: str | Mapping[str, str],
        max_unavailable: int | str,
        *,
        name: str | None = None,
        expected: int | None = None,
        processed: bool = True,
    ) -> Budget:
        """A PodDisruptionBudget with maxUnavailable. Set `expected` (the controller's
        replicas) when pods are deleted outright, so a missing pod still counts as unavailable,
        as the real budget's expectedPods does."""
        if not isinstance(selector, str):
            selector = ",".join(f"{k}={v}" for k, v in selector.items())
        with self.lock:
            budget = Budget(
                name or f"budget-{len(self._budgets) + 1}",
                namespace,
                LabelSelector.parse(selector),
                max_unavailable,
                expected,
                processed,
            )
            self._budgets.append(budget)
            return budget

    def remove_budget(self, name: str) -> None:
        with self.lock:
            self._budgets = [b for b in self._budgets if b.name != name]

    def block_eviction(self, namespace: str, name: str, blocked: bool = True) -> None:
        """Make evictions of this pod answer 429 whatever the budgets say (or stop doing so)."""
        with self.lock:
            if blocked:
                self._blocked.add((namespace, name))
            else:
                self._blocked.discard((namespace, name))

    def evict(self, namespace: str, name: str, delete_options: Mapping[str, Any] | None) -> None:
        with self.lock:
            pod = self.get(POD, namespace, name)
            _eviction_uid_holds(pod, (delete_options or {}).get("preconditions"))
            preconditions_hold(POD, pod, (delete_options or {}).get("preconditions"))
            phase = (pod.get("status") or {}).get("phase")
            if not (is_terminating(pod) or phase in ("Pending", "Succeeded", "Failed")):
                self._check_budgets(namespace, name, pod)
            self.delete_with(POD, namespace, name, delete_options)

    def _check_budgets(self, namespace: str, name: str, pod: JSON) -> None:
        if (namespace, name) in self._blocked:
            cause = "eviction of this pod is blocked by the test"
            raise _too_many(cause)
        labels = pod["metadata"].get("labels") or {}
        budgets = [
            b for b in self._budgets if b.namespace == namespace and b.selector.matches(labels)
        ]
        if len(budgets) > 1:
            raise ApiError(
                500,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource "
                "does not support.",
            )
        for budget in budgets:
            if not budget.processed:
                raise _too_many(
                    f"The disruption budget {budget.name} is still being processed by the server."
                )
            pods, _ = self.objects(POD, namespace, budget.selector)
            expected = len(pods) if budget.expected is None else budget.expected
            healthy = sum(1 for p in pods if is_ready(p) and not is_terminating(p))
            desired = expected - _scaled(budget.max_unavailable, expected)
            if not (healthy > desired if is_ready(pod) else healthy >= desired):
                raise _too_many(
                    f"The disruption budget {budget.name} needs {desired} healthy pods "
                    f"and has {healthy} currently"
                )

    def _validate_update(self, kind: Kind, current: JSON, new: JSON) -> None:
        if kind != POD:
            return
        old_spec, new_spec = dict(current.get("spec") or {}), dict(new.get("spec") or {})
        for spec in (old_spec, new_spec):
            for key in _MUTABLE_POD_SPEC:
                spec.pop(key, None)
            spec["containers"] = [
                {k: v for k, v in c.items() if k != "image"} for c in spec.get("containers") or []
            ]
        if old_spec != new_spec:
            name = current["metadata"]["name"]
            raise invalid(
                f'Pod "{name}" is invalid: spec: Forbidden: pod updates may not change fields '
                "other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, "
                "`spec.tolerations` (only additions to existing tolerations), "
                "`spec.terminationGracePeriodSeconds`"
            )


def _eviction_uid_holds(pod: JSON, pre: Mapping[str, Any] | None) -> None:
    """The eviction checks the uid itself, in other words than a DELETE (seen on 1.20)."""
    want, meta = (pre or {}).get("uid"), pod["metadata"]
    if want is not None and want != meta.get("uid"):
        raise ApiError(
            409,
            f'Operation cannot be fulfilled on Pod "{meta["name"]}": the UID in the precondition '
            f"({want}) does not match the UID in record ({meta.get('uid')}). "
            "The object might have been deleted and then recreated",
            details={"name": meta["name"], "kind": "Pod"},
        )


def _scaled(value: int | str, total: int) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(total * int(value[:-1]) / 100)  # PDBs round maxUnavailable up
    return int(value)


def _too_many(cause: str) -> ApiError:
    return ApiError(
        429,
        BUDGET_MESSAGE,
        details={"causes": [{"reason": "DisruptionBudget", "message": cause}]},
    )
