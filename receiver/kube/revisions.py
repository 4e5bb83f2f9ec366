"""Each workload's newest revision, for the badRollout guard (Snapshot.rollouts).

A pod names its revision in a label: `pod-template-hash` (its ReplicaSet,
for a Deployment) or `controller-revision-hash` (its ControllerRevision, for
a StatefulSet or DaemonSet). The revision object says which is newest and
when it was made:

- a ReplicaSet carries `deployment.kubernetes.io/revision`, the Deployment's
  revision number; the owner resolution reads every ReplicaSet a pod names
  anyway (pods.Owners), so this costs no call;
- a ControllerRevision carries `revision`; it is read once per revision a
  pod names (GET controllerrevisions), named `<workload>-<hash>`.

The newest is the highest number among the revisions the workload's pods
name, and the rollout began when its object was created. A revision no pod
runs yet is not seen, which is harmless: no pod of it can be signalling.
A rollback renumbers an old ReplicaSet; it is read again only when a pod
names a ReplicaSet uid not seen before, so until then the old number stands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from receiver.model import Instant, Pod, Rollout, Workload

log = logging.getLogger(__name__)

TEMPLATE_HASH = "pod-template-hash"
REVISION_HASH = "controller-revision-hash"
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
KEPT = 10_000

ReadRevision = Callable[[str, str], Mapping[str, Any] | None]
"""(namespace, name) -> the ControllerRevision's JSON, None when it does not exist; raises."""
ParseTime = Callable[[str | None], Instant | None]


def pod_revision(labels: Mapping[str, str]) -> str:
    """The revision a pod's labels name, "" if none."""
    return labels.get(TEMPLATE_HASH) or labels.get(REVISION_HASH) or ""


class Revisions:
    """Called from the informer's threads; reads of `rollouts` see a dict replaced whole."""

    def __init__(self, read_revision: ReadRevision, parse_time: ParseTime) -> None:
        self._read = read_revision
        self._parse_time = parse_time
        self._seen: set[tuple[Workload, str]] = set()  # ControllerRevisions read
        self._best: dict[Workload, int] = {}  # the newest revision's number
        self._newest: dict[Workload, Rollout] = {}
        self._lock = threading.Lock()

    @property
    def rollouts(self) -> Mapping[Workload, Rollout]:
        return MappingProxyType(self._newest)

    def note_replicaset(self, workload: Workload, replicaset: Mapping[str, Any] | None) -> None:
        """A ReplicaSet the owner resolution read: its Deployment revision, if it says."""
        if replicaset is None or workload.kind != "Deployment":
            return
        metadata = replicaset.get("metadata") or {}
        number = _number((metadata.get("annotations") or {}).get(DEPLOYMENT_REVISION))
        revision = ((metadata.get("labels") or {}).get(TEMPLATE_HASH)) or ""
        if number is not None and revision:
            self._note(workload, revision, number, metadata.get("creationTimestamp"))

    def observe(self, pod: Pod) -> None:
        """A StatefulSet's or DaemonSet's pod on a revision not seen before: read it."""
        owner = pod.owner
        if owner is None or not pod.revision or owner.kind not in ("StatefulSet", "DaemonSet"):
            return
        with self._lock:
            if (owner, pod.revision) in self._seen:
                return
        name = pod.revision
        if not name.startswith(f"{owner.name}-"):  # a DaemonSet's pods carry the hash alone
            name = f"{owner.name}-{name}"
        try:
            found = self._read(owner.namespace, name)
        except Exception as exc:  # the pod must not be lost; asked again on its next event
            log.warning("cannot read controllerrevision %s/%s (%s)", owner.namespace, name, exc)
            return
        with self._lock:
            if len(self._seen) >= KEPT:
                self._seen.clear()
            self._seen.add((owner, pod.revision))
        if found is None:
            return
        number = _number(found.get("revision"))
        if number is not None:
            created = (found.get("metadata") or {}).get("creationTimestamp")
            self._note(owner, pod.revision, number, created)

    def _note(self, workload: Workload, revision: str, number: int, created: str | None) -> None:
        """A revision and its number: the newest if no higher number was seen."""
        since = self._parse_time(created)
        with self._lock:
            if number < self._best.get(workload, number):
                return
            if len(self._newest) >= KEPT:  # bounded: forget every workload, learn again
                self._best.clear()
                self._newest = {}
            newest = dict(self._newest)
            newest[workload] = Rollout(revision=revision, since=since)
            self._best[workload] = number
            self._newest = newest


def _number(raw: object) -> int | None:
    try:
        return int(str(raw))
    except ValueError:
        return None
