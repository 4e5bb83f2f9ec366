"""The decision log: every action and every non-action, with its reason, bounded.

Each entry is JSON-ready and carries an increasing id, so a client can ask
for what is new since the last id it saw. The same entry goes to the
structured log, so nothing the API shows is missing from the logs.
"""

from __future__ import annotations

import functools
import logging
from collections import deque
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from receiver.act import ActionResult
from receiver.decide import Blocked, Escalation, Plan
from receiver.model import Followup, Instant, Reason, Signal, rfc3339

log = logging.getLogger("receiver.decisions")
audit = logging.getLogger("receiver.audit")  # who asked for what: operator actions

KEPT = 2000


def iso(at: Instant | None) -> str | None:
    """RFC 3339 in UTC with milliseconds and `Z`: every time in the API and the logs."""
    return None if at is None else _iso(at)


@functools.lru_cache(maxsize=4096)
def _iso(at: Instant) -> str:
    """Remembered: one webhook's decisions share their time and often their alerts'
    startsAt, and formatting a datetime costs more than the lookup."""
    return rfc3339(at)


# StrEnum values go into entries as they are: they are str, so JSON (the API's
# answers, the log lines) writes them exactly as str() would, without a copy.


def signal_json(signal: Signal, target: str) -> dict[str, Any]:
    return {
        "source": signal.source,
        "name": signal.name,
        "status": signal.status,
        "fingerprint": signal.fingerprint,
        "startsAt": _iso(signal.starts_at),  # never None: _iso without iso's call
        "target": target,
    }


def results_json(results: Iterable[ActionResult]) -> list[dict[str, Any]]:
    return [
        {
            "action": r.action.kind,
            "target": r.action.target,
            "rule": r.action.rule,
            "supervisor": r.action.supervisor,
            "outcome": r.outcome,
            "reason": r.reason or None,
            "dryRun": r.action.dry_run,
            "detail": f"{r.action.detail}; {r.detail}" if r.detail else r.action.detail,
        }
        for r in results
    ]


def plan_json(
    plan: Plan,
    results: Iterable[ActionResult],
    unavailable: str | None = None,
    *,
    id: int | None = None,
) -> dict[str, Any]:
    """What one decision did and did not do, as the API and the logs show it (with its
    `id` first when it is kept in the log: built in one go, never copied)."""
    signal = plan.signal
    entry: dict[str, Any] = {} if id is None else {"id": id}
    entry["at"] = _iso(plan.at)
    entry["signal"] = signal_json(signal, str(plan.target or "")) if signal else None
    entry["actions"] = results_json(results) if results else []
    entry["blocked"] = blocked_json(plan.blocked) if plan.blocked else []
    entry["escalations"] = escalations_json(plan.escalations) if plan.escalations else []
    if plan.operator is not None:
        entry["operator"] = plan.operator
    if plan.followups:
        entry["outcomes"] = followups_json(plan.followups)
    if unavailable:
        entry["unavailable"] = unavailable
    return entry


def blocked_json(blocked: Iterable[Blocked]) -> list[dict[str, Any]]:
    return [
        {
            "reason": b.reason,
            "wanted": b.wanted or None,
            "target": b.target,
            "rule": b.rule,
            "supervisor": b.supervisor,
            "detail": b.detail,
        }
        for b in blocked
    ]


def escalations_json(escalations: Iterable[Escalation]) -> list[dict[str, Any]]:
    return [
        {
            "supervisor": e.supervisor,
            "cause": e.cause,
            "origin": e.origin,
            "frozenUntil": iso(e.frozen_until),
            "detail": e.detail,
        }
        for e in escalations
    ]


def followups_json(followups: Iterable[Followup]) -> list[dict[str, Any]]:
    """What followed earlier actions, decided by this plan (decide/outcomes.py)."""
    return [
        {
            "outcome": f.outcome,
            "rule": f.watch.rule,
            "action": f.watch.action,
            "target": str(f.target),
            "pod": f.watch.pod or None,
            "actedAt": iso(f.watch.at),
            "afterSeconds": round(f.after, 3),
            "recoverySeconds": None if f.recovery is None else round(f.recovery, 3),
            "detail": f.detail,
        }
        for f in followups
    ]


_LOUD = frozenset(r for r in Reason if r.is_guard and r is not Reason.FROZEN)
"""Holds logged at info. A frozen subtree holds everything below it until it thaws:
those log at debug, the escalation that froze it at info (the API keeps them all)."""


_REASON = attrgetter("reason")


class DecisionLog:
    def __init__(self, kept: int = KEPT) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=kept)
        self._next = 1

    def add(
        self, plan: Plan, results: list[ActionResult], unavailable: str | None = None
    ) -> dict[str, Any]:
        """Keep and log plan_json() with the next id.

        Actions, escalations and guard holds (not the holds of a frozen
        subtree) log at info; routine non-actions at debug: re-deliveries
        alone (`duplicate`) are most of a busy receiver's decisions, and
        logging each at info cost a quarter of the webhook path's CPU
        (bench/). The API's decision log keeps them all.
        """
        entry = plan_json(plan, results, unavailable, id=self._next)
        self._next += 1
        self._entries.append(entry)
        if (
            results
            or plan.escalations
            or plan.followups
            or plan.operator is not None
            or any(map(_LOUD.__contains__, map(_REASON, plan.blocked)))  # C speed
        ):
            log.info("decision", extra={"decision": entry})
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("decision", extra={"decision": entry})
        return entry

    def attribute(self, entry: dict[str, Any], *, by: str, action: str, target: str) -> None:
        """Say who asked for an operator action (resume, reset) and on what.

        The entry is already kept and logged (its `operator` says what was
        asked); it gains `by` (the token's name) and `asked`, and an audit
        line (logger receiver.audit) says who, so the logs hold it too.
        """
        entry["by"] = by
        entry["asked"] = {"action": action, "target": target}
        said = {
            "id": entry.get("id"),
            "by": by,
            "operator": entry.get("operator"),
            **entry["asked"],
        }
        audit.info("operator", extra={"decision": said})

    def since(self, after: int = 0) -> list[dict[str, Any]]:
        """Every kept entry newer than id `after`, oldest first."""
        return [e for e in self._entries if e["id"] > after]

    def page(self, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """The oldest `limit` entries newer than id `after`, and whether more follow.

        A client that polls with the last id it saw misses nothing, however
        many decisions a storm makes between two polls (as long as they are kept).
        """
        newer = self.since(after)
        return newer[:limit], len(newer) > limit

    def latest(self, count: int) -> list[dict[str, Any]]:
        """The newest `count` entries, oldest first (for pages that show what is recent)."""
        return list(self._entries)[-count:] if count else []

    def __len__(self) -> int:
        return len(self._entries)
