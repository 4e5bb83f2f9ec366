"""A Kubernetes Pod (raw JSON) as the decision core sees it, and the fleet it belongs to.

A pod's fleet is its top-level controller, found through ownerReferences:
ReplicaSet to its Deployment (one GET per ReplicaSet, cached), StatefulSet,
DaemonSet, or whatever else controls it. A pod nobody controls belongs to
no fleet and no fleet-wide guard counts it.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from receiver.cluster.codec import StateCorrupt, decode_lifecycle
from receiver.cluster.protocol import READINESS_GATE
from receiver.kube.revisions import Revisions, pod_revision
from receiver.model import Instant, Lifecycle, Pod, Workload

log = logging.getLogger(__name__)

OWNERS_KEPT = 10_000
TEMPLATE_HASH = "pod-template-hash"

ReadReplicaSet = Callable[[str, str], Mapping[str, Any] | None]
"""(namespace, name) -> the ReplicaSet's JSON, None when it does not exist; raises on failure."""


def parse_time(text: str | None) -> Instant | None:
    """An RFC 3339 timestamp as Kubernetes writes them (…Z), as epoch seconds."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def controller_of(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    refs = metadata.get("ownerReferences") or ()
    return next((r for r in refs if r.get("controller")), refs[0] if refs else None)


class Owners:
    """Top-level controllers of pods, with ReplicaSet -> Deployment answers cached.

    Called from the informer's thread; the cache is guarded by a lock. The uids seen in the
    owner references are kept too: an Event about a workload needs its uid
    (`kubectl describe` matches Events by it), and asking for it would need RBAC `get`.
    """

    def __init__(self, read_replicaset: ReadReplicaSet, revisions: Revisions | None = None) -> None:
        self._read = read_replicaset
        # Told of every ReplicaSet read (its Deployment revision); by default it reads nothing.
        self.revisions = revisions or Revisions(lambda namespace, name: None, parse_time)
        self._replicasets: dict[tuple[str, str, str], Workload] = {}
        self._uids: dict[Workload, str] = {}
        self._lock = threading.Lock()

    def uid(self, workload: Workload) -> str | None:
        """The workload's uid, when an owner reference or a write has shown it."""
        with self._lock:
            return self._uids.get(workload)

    def remember(self, workload: Workload, uid: str) -> None:
        if not uid:
            return
        with self._lock:
            if len(self._uids) >= OWNERS_KEPT:
                self._uids.clear()
            self._uids[workload] = uid

    def __len__(self) -> int:
        return len(self._replicasets)

    def workload(self, namespace: str, metadata: Mapping[str, Any]) -> Workload | None:
        ref = controller_of(metadata)
        if ref is None:
            return None
        kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
        if kind != "ReplicaSet":
            workload = Workload(namespace, kind, name)
            self.remember(workload, str(ref.get("uid", "")))
            return workload
        key = (namespace, name, str(ref.get("uid", "")))
        with self._lock:
            found = self._replicasets.get(key)
        if found is not None:
            return found
        try:
            replicaset = self._read(namespace, name)
        except Exception as exc:  # an API failure must not lose the pod; guess, do not cache
            log.warning(
                "cannot read replicaset %s/%s (%s); guessing its owner", namespace, name, exc
            )
            return _guess(namespace, name, metadata)
        found = _replicaset_owner(namespace, name, replicaset)
        self.revisions.note_replicaset(found, replicaset)
        owner_ref = controller_of(replicaset.get("metadata", {})) if replicaset else None
        if owner_ref is not None and found.kind == "Deployment":
            self.remember(found, str(owner_ref.get("uid", "")))
        with self._lock:
            if len(self._replicasets) >= OWNERS_KEPT:
                self._replicasets.clear()
            self._replicasets[key] = found
        return found


def _replicaset_owner(namespace: str, name: str, replicaset: Mapping[str, Any] | None) -> Workload:
    ref = controller_of(replicaset.get("metadata", {})) if replicaset else None
    if ref is not None and ref.get("kind") == "Deployment":
        return Workload(namespace, "Deployment", str(ref["name"]))
    return Workload(namespace, "ReplicaSet", name)


def _guess(namespace: str, replicaset: str, metadata: Mapping[str, Any]) -> Workload:
    """A Deployment names its ReplicaSets `<deployment>-<pod-template-hash>`."""
    suffix = "-" + str((metadata.get("labels") or {}).get(TEMPLATE_HASH, "\0"))
    if replicaset.endswith(suffix):
        return Workload(namespace, "Deployment", replicaset[: -len(suffix)])
    return Workload(namespace, "ReplicaSet", replicaset)


def to_pod(raw: Mapping[str, Any], owner: Workload | None) -> Pod:
    metadata = raw.get("metadata") or {}
    status = raw.get("status") or {}
    phase = status.get("phase")
    namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
    labels = _interned(metadata.get("labels") or {})
    return Pod(
        namespace=sys.intern(namespace),
        name=name,
        labels=labels,
        owner=owner,
        uid=str(metadata.get("uid", "")),
        ready=any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or ()
        ),
        terminating=metadata.get("deletionTimestamp") is not None
        or phase in ("Succeeded", "Failed"),
        started_at=_started_at(status) if phase == "Running" else None,
        created_at=parse_time(metadata.get("creationTimestamp")),
        lifecycle=_lifecycle(namespace, name, metadata.get("annotations") or {}),
        gate=_gate(raw.get("spec") or {}, status),
        revision=pod_revision(labels),
    )


def _gate(spec: Mapping[str, Any], status: Mapping[str, Any]) -> bool | None:
    """The READINESS_GATE condition's status, or None when the pod does not declare the gate."""
    gates = spec.get("readinessGates") or ()
    if not any(g.get("conditionType") == READINESS_GATE for g in gates):
        return None
    return any(
        c.get("type") == READINESS_GATE and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )


def _started_at(status: Mapping[str, Any]) -> Instant | None:
    """When the last of its containers started running (what a heartbeat grace counts from)."""
    started = [
        parse_time(((c.get("state") or {}).get("running") or {}).get("startedAt"))
        for c in status.get("containerStatuses") or ()
    ]
    known = [s for s in started if s is not None]
    if known:
        return max(known)
    return parse_time(status.get("startTime"))


def _lifecycle(namespace: str, name: str, annotations: Mapping[str, str]) -> Lifecycle:
    try:
        return decode_lifecycle(annotations)
    except StateCorrupt as exc:
        log.warning("pod %s/%s: %s; starting from a fresh lifecycle", namespace, name, exc)
        return Lifecycle()


def _interned(labels: Mapping[str, str]) -> dict[str, str]:
    """Pods of one fleet repeat the same label keys and values: keep one copy of each."""
    return {sys.intern(str(k)): sys.intern(str(v)) for k, v in labels.items()}
