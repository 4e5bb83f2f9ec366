"""Where a pod sits: its supervisor chain, its fleet, and a supervisor's workloads.

A pod belongs to the first top-level supervisor whose selector matches it,
then to the first matching child at each level, like an Alertmanager route
tree without `continue`. Selectors see the pod's labels plus the pseudo
labels `namespace`, `pod`, `workload` and `workload_kind`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from receiver.decide.draft import Draft
from receiver.model import Pod, Workload
from receiver.model.fleet import index_owners
from receiver.runbook import Runbook, Supervisor

Chain = tuple[Supervisor, ...]
"""A pod's supervisors, nearest (leaf) first, root last."""


def pod_labels(pod: Pod) -> Mapping[str, str]:
    labels = dict(pod.labels)
    labels["namespace"] = pod.namespace
    labels["pod"] = pod.name
    if pod.owner is not None:
        labels["workload"] = pod.owner.name
        labels["workload_kind"] = pod.owner.kind
    return labels


def chain_for(runbook: Runbook, labels: Mapping[str, str]) -> Chain:
    path: list[Supervisor] = []
    level: Iterable[Supervisor] = runbook.supervisors
    while True:
        found = next((s for s in level if s.match.matches(labels)), None)
        if found is None:
            return tuple(reversed(path))
        path.append(found)
        level = found.children


class Tree:
    """Chains computed once per pod for the span of one decision."""

    def __init__(self, runbook: Runbook, draft: Draft) -> None:
        self.runbook = runbook
        self._draft = draft
        self._chains: dict[tuple[str, str], Chain] = {}
        self._owners = draft.snapshot.owners

    def chain(self, pod: Pod) -> Chain:
        key = (pod.namespace, pod.name)
        if key not in self._chains:
            self._chains[key] = chain_for(self.runbook, pod_labels(pod))
        return self._chains[key]

    def members(self, supervisor: Supervisor) -> list[Pod]:
        return [p for p in self._draft.pods() if supervisor in self.chain(p)]

    def fleet(self, supervisor: Supervisor, pod: Pod) -> list[Pod]:
        """The pods a guard of `supervisor` counts when acting on `pod`.

        By default the pods of the same top-level controller; with `fleetBy`,
        the pods under the supervisor that share those label values.
        """
        if supervisor.fleet_by:
            want = _fleet_key(supervisor, pod)
            return [p for p in self.members(supervisor) if _fleet_key(supervisor, p) == want]
        if pod.owner is None:
            return [pod]
        if self._owners is None:
            self._owners = index_owners(self._draft.snapshot.pods.values())
        siblings = (self._draft.pod(key) for key in self._owners.get(pod.owner, ()))
        return [p for p in siblings if p is not None and supervisor in self.chain(p)]

    def workloads(self, supervisor: Supervisor) -> list[Workload]:
        """Workloads under a supervisor, in declaration order of its children.

        Pods under a child come in the child's order; pods directly under the
        supervisor come last, ordered by workload name.
        """
        ordered: list[Workload] = []
        for child in supervisor.children:
            ordered.extend(w for w in self.workloads(child) if w not in ordered)
        direct = sorted(
            {p.owner for p in self.members(supervisor) if p.owner is not None} - set(ordered)
        )
        return ordered + direct

    def child_toward(self, supervisor: Supervisor, pod: Pod) -> Supervisor | None:
        """The child of `supervisor` on the pod's chain, None if the pod is directly under it."""
        chain = self.chain(pod)
        index = chain.index(supervisor)
        return chain[index - 1] if index > 0 else None


def _fleet_key(supervisor: Supervisor, pod: Pod) -> tuple[str, ...]:
    labels = pod_labels(pod)
    return tuple(labels.get(k, "") for k in supervisor.fleet_by)
