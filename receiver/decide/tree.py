"""Where a pod sits: its supervisor chain, its fleet, and a supervisor's workloads.

A pod belongs to the first top-level supervisor whose selector matches it,
then to the first matching child at each level, like an Alertmanager route
tree without `continue`. Selectors see the pod's labels plus the pseudo
labels `namespace`, `pod`, `workload` and `workload_kind`.
"""

from __future__ import annotations

from collections.abc import Hashable

from receiver.decide.draft import Draft
from receiver.decide.index import Chain, chain_for, index, pod_labels
from receiver.model import Pod, Rollout, Workload
from receiver.model.fleet import index_owners
from receiver.runbook import Runbook, Supervisor

__all__ = ["Chain", "Tree", "chain_for", "pod_labels"]


class Tree:
    """A decision's view of the tree: chains from the runbook's index, each fleet built once."""

    __slots__ = ("_draft", "_fleets", "_index", "_owners", "runbook")

    def __init__(self, runbook: Runbook, draft: Draft) -> None:
        self.runbook = runbook
        self._draft = draft
        self._index = index(runbook)
        self._owners = draft.snapshot.owners
        self._fleets: dict[tuple[str, Hashable], tuple[int, list[Pod]]] = {}

    def chain(self, pod: Pod) -> Chain:
        return self._index.chain(pod)

    def rollout(self, workload: Workload | None) -> Rollout | None:
        """The workload's newest revision, where the cluster knows it."""
        return None if workload is None else self._draft.snapshot.rollouts.get(workload)

    def members(self, supervisor: Supervisor) -> list[Pod]:
        return [p for p in self._draft.pods() if supervisor in self.chain(p)]

    def fleet(self, supervisor: Supervisor, pod: Pod) -> list[Pod]:
        """The pods a guard of `supervisor` counts when acting on `pod`.

        By default the pods of the same top-level controller; with `fleetBy`,
        the pods under the supervisor that share those label values. Guards
        ask for the same fleet more than once: it is built again only when
        the draft changed a pod since.
        """
        if supervisor.fleet_by:
            key: tuple[str, Hashable] = (supervisor.name, _fleet_key(supervisor, pod))
        elif pod.owner is None:
            return [pod]
        else:
            key = (supervisor.name, pod.owner)
        found = self._fleets.get(key)
        if found is not None and found[0] == self._draft.version:
            return found[1]
        fleet = self._build(supervisor, pod)
        self._fleets[key] = (self._draft.version, fleet)
        return fleet

    def _build(self, supervisor: Supervisor, pod: Pod) -> list[Pod]:
        if supervisor.fleet_by:
            want = _fleet_key(supervisor, pod)
            return [p for p in self.members(supervisor) if _fleet_key(supervisor, p) == want]
        if self._owners is None:
            self._owners = index_owners(self._draft.snapshot.pods.values())
        assert pod.owner is not None
        chain = self._index.chain
        siblings = (self._draft.pod(key) for key in self._owners.get(pod.owner, ()))
        return [p for p in siblings if p is not None and supervisor in chain(p)]

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
