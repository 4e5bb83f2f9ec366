"""Questions asked of the decision log: filters, and what kind of decision an entry is.

The console, the decisions API and `receiver decisions` share these, so a
filter means the same everywhere. An entry's kind is what an operator scans
for: `escalated`, `acted` (something changed), `dry_run` (it would have),
`failed`, `held` (an action was wanted and a guard said no), `operator`
(a human's action that changed no pod, such as a reset) or `nothing`
(nothing to do: a duplicate, a resolved alert, no rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from receiver.model import Reason

KINDS = ("escalated", "acted", "dry_run", "failed", "held", "operator", "nothing")
FILTERS = ("namespace", "fleet", "pod", "rule", "reason", "outcome", "supervisor")
_GUARDS = frozenset(r.value for r in Reason if r.is_guard)


def kind(entry: Mapping[str, Any]) -> str:
    """The one word for an entry, most alarming first."""
    if entry.get("escalations"):
        return "escalated"
    outcomes = {a["outcome"] for a in entry.get("actions", ())}
    for outcome, word in (("failed", "failed"), ("applied", "acted"), ("dry_run", "dry_run")):
        if outcome in outcomes:
            return word
    if any(b["reason"] in _GUARDS for b in entry.get("blocked", ())):
        return "held"
    return "operator" if entry.get("operator") else "nothing"


def line_kind(item: Mapping[str, Any]) -> str:
    """The kind of one action or blocked line of an entry (for its colour)."""
    if "outcome" in item:
        return {"applied": "acted", "dry_run": "dry_run"}.get(item["outcome"], "failed")
    return "held" if item.get("reason") in _GUARDS else "nothing"


def targets(entry: Mapping[str, Any]) -> set[str]:
    """Every pod or workload an entry is about."""
    out = {
        item["target"] for key in ("actions", "blocked", "outcomes") for item in entry.get(key, ())
    }
    signal = entry.get("signal")
    if signal:
        out.add(signal["target"])
    return out


def supervisors(entry: Mapping[str, Any]) -> set[str]:
    found = {
        item["supervisor"]
        for key in ("actions", "blocked", "escalations")
        for item in entry.get(key, ())
        if item.get("supervisor")
    }
    asked = entry.get("asked")  # who asked for what: set by the admin API
    if asked and asked["action"] == "reset":
        found.add(asked["target"])
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionQuery:
    """Filters of the decision log; an empty field matches everything.

    `fleet` names a fleet as the status shows it (namespace/kind/name); the
    caller resolves it to the pods it holds now (`fleet_pods`), since an entry
    names pods, not fleets. Likewise `supervisor` matches what names the
    supervisor and what happened to the pods under it now (`supervisor_pods`).
    """

    namespace: str = ""
    fleet: str = ""
    pod: str = ""
    rule: str = ""
    reason: str = ""
    outcome: str = ""
    supervisor: str = ""
    fleet_pods: frozenset[str] = frozenset()
    supervisor_pods: frozenset[str] = frozenset()

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> DecisionQuery:
        given = {name: params.get(name, "").strip() for name in FILTERS}
        return cls(
            namespace=given["namespace"],
            fleet=given["fleet"],
            pod=given["pod"],
            rule=given["rule"],
            reason=given["reason"],
            outcome=given["outcome"],
            supervisor=given["supervisor"],
        )

    def params(self) -> dict[str, str]:
        """The filters that are set, as query parameters."""
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}

    @property
    def active(self) -> bool:
        return bool(self.params())

    def matches(self, entry: Mapping[str, Any]) -> bool:
        about = targets(entry)
        checks = (
            not self.namespace or any(t.split("/", 1)[0] == self.namespace for t in about),
            not self.pod or self._pod(about),
            not self.fleet or bool(about & (self.fleet_pods | {self.fleet})),
            not self.rule or self.rule in _values(entry, "rule"),
            not self.reason or self.reason in _reasons(entry),
            not self.outcome or self._outcome(entry),
            not self.supervisor
            or self.supervisor in supervisors(entry)
            or bool(about & self.supervisor_pods),
        )
        return all(checks)

    def _pod(self, about: set[str]) -> bool:
        # "shop/checkout-1" or just "checkout-1"
        return self.pod in about or any(t.rsplit("/", 1)[-1] == self.pod for t in about)

    def _outcome(self, entry: Mapping[str, Any]) -> bool:
        outcomes = {a["outcome"] for key in ("actions", "outcomes") for a in entry.get(key, ())}
        return self.outcome == kind(entry) or self.outcome in outcomes

    def select(self, entries: Iterable[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
        """The newest `limit` matching entries (all of them for 0), oldest first."""
        found = [e for e in entries if self.matches(e)]
        return found[-limit:] if limit else found


def _values(entry: Mapping[str, Any], field: str) -> set[str]:
    return {
        item[field]
        for key in ("actions", "blocked", "outcomes")
        for item in entry.get(key, ())
        if item.get(field)
    }


def _reasons(entry: Mapping[str, Any]) -> set[str]:
    found = _values(entry, "reason")
    found.update(e["cause"] for e in entry.get("escalations", ()))
    return found
