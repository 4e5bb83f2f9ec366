"""Lookups derived from one runbook version, filled in as decisions ask for them.

A pod's supervisor chain depends only on the label values its supervisors'
selectors read, so pods that agree on those values share one chain, computed
once per runbook version instead of once per pod per decision. Which rules
a signal's labels match is remembered the same way. Everything here is a
memo of a pure function of the runbook: a decision gives the same answer
with or without it.

Runbooks are immutable values, so a version is known by identity; the few
most recent versions keep their lookups (a reload starts a new one).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from receiver.model import Pod
from receiver.runbook import Rule, Runbook, Supervisor
from receiver.runbook.matchers import Selector

Chain = tuple[Supervisor, ...]
"""A pod's supervisors, nearest (leaf) first, root last."""

KEPT_VERSIONS = 4
MEMO_LIMIT = 100_000
"""Entries per memo before it starts afresh: bounded even when selectors read pod names."""


class RunbookIndex:
    __slots__ = (
        "_by_name",
        "_chain_labels",
        "_chains",
        "_rule_labels",
        "_rules",
        "rules_by_name",
        "runbook",
    )

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self.rules_by_name: dict[str, Rule] = {}
        for rule in runbook.rules:
            self.rules_by_name.setdefault(rule.name, rule)
        read = _read_by(_all_supervisors(runbook.supervisors))
        # The pseudo labels come from the pod itself (workload from its
        # owner, or from a label when it has none): the key holds the pod's
        # namespace and owner always, its name only when a selector reads it.
        self._by_name = "pod" in read
        self._chain_labels = tuple(n for n in read if n not in ("namespace", "pod"))
        self._rule_labels = _read_by(rule.match for rule in runbook.rules)
        self._chains: dict[tuple[object, ...], Chain] = {}
        self._rules: dict[tuple[str | None, ...], tuple[Rule, ...]] = {}

    def chain(self, pod: Pod) -> Chain:
        key = (
            pod.namespace,
            pod.name if self._by_name else "",
            pod.owner,
            *map(pod.labels.get, self._chain_labels),
        )
        chain = self._chains.get(key)
        if chain is None:
            if len(self._chains) >= MEMO_LIMIT:
                self._chains.clear()
            chain = self._chains[key] = chain_for(self.runbook, pod_labels(pod))
        return chain

    def rules_matching(self, labels: Mapping[str, str]) -> tuple[Rule, ...]:
        """The rules whose selector matches `labels`, in runbook order."""
        key = tuple(map(labels.get, self._rule_labels))
        rules = self._rules.get(key)
        if rules is None:
            if len(self._rules) >= MEMO_LIMIT:
                self._rules.clear()
            rules = self._rules[key] = tuple(
                r for r in self.runbook.rules if r.match.matches(labels)
            )
        return rules


_VERSIONS: list[RunbookIndex] = []


def index(runbook: Runbook) -> RunbookIndex:
    """The lookups of this runbook version (built on first use)."""
    if _VERSIONS and _VERSIONS[-1].runbook is runbook:
        return _VERSIONS[-1]
    for found in _VERSIONS:
        if found.runbook is runbook:
            return found
    built = RunbookIndex(runbook)
    _VERSIONS.append(built)
    del _VERSIONS[:-KEPT_VERSIONS]
    return built


def pod_labels(pod: Pod) -> Mapping[str, str]:
    """What selectors see: the pod's labels plus namespace, pod, workload, workload_kind."""
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


def _all_supervisors(level: Iterable[Supervisor]) -> Iterable[Selector]:
    for supervisor in level:
        yield supervisor.match
        yield from _all_supervisors(supervisor.children)


def _read_by(selectors: Iterable[Selector]) -> tuple[str, ...]:
    """Every label name the selectors look at, in a fixed order."""
    return tuple(sorted({m.name for selector in selectors for m in selector.matchers}))
