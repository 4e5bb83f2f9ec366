"""The decision log: every action and every non-action, with its reason, bounded.

Each entry is JSON-ready and carries an increasing id, so a client can ask
for what is new since the last id it saw. The same entry goes to the
structured log, so nothing the API shows is missing from the logs.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from receiver.act import ActionResult
from receiver.decide import Plan
from receiver.model import Instant, Reason, Signal

log = logging.getLogger("receiver.decisions")

KEPT = 2000


def iso(at: Instant | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def signal_json(signal: Signal, target: str) -> dict[str, Any]:
    return {
        "source": str(signal.source),
        "name": signal.name,
        "status": str(signal.status),
        "fingerprint": signal.fingerprint,
        "startsAt": iso(signal.starts_at),
        "target": target,
    }


def results_json(results: Iterable[ActionResult]) -> list[dict[str, Any]]:
    return [
        {
            "action": str(r.action.kind),
            "target": r.action.target,
            "rule": r.action.rule,
            "supervisor": r.action.supervisor,
            "outcome": str(r.outcome),
            "reason": str(r.reason) if r.reason else None,
            "dryRun": r.action.dry_run,
            "detail": f"{r.action.detail}; {r.detail}" if r.detail else r.action.detail,
        }
        for r in results
    ]


def plan_json(plan: Plan, results: Iterable[ActionResult], target: str) -> dict[str, Any]:
    """What one decision did and did not do, as the API and the logs show it."""
    return {
        "at": iso(plan.at),
        "signal": signal_json(plan.signal, target) if plan.signal else None,
        "actions": results_json(results),
        "blocked": [
            {
                "reason": str(b.reason),
                "wanted": str(b.wanted) if b.wanted else None,
                "target": b.target,
                "rule": b.rule,
                "supervisor": b.supervisor,
                "detail": b.detail,
            }
            for b in plan.blocked
        ],
        "escalations": [
            {
                "supervisor": e.supervisor,
                "cause": str(e.cause),
                "origin": e.origin,
                "frozenUntil": iso(e.frozen_until),
                "detail": e.detail,
            }
            for e in plan.escalations
        ],
    }


_ROUTINE = {str(r) for r in Reason if not r.is_guard}


def _level(entry: dict[str, Any]) -> int:
    """Actions, escalations and guard holds at info; routine non-actions at debug.

    Re-deliveries alone (`duplicate`) are most of a busy receiver's decisions;
    logging each at info cost a quarter of the webhook path's CPU (bench/).
    The API's decision log keeps them all either way.
    """
    if entry["actions"] or entry["escalations"]:
        return logging.INFO
    if any(b["reason"] not in _ROUTINE for b in entry["blocked"]):
        return logging.INFO
    return logging.DEBUG


class DecisionLog:
    def __init__(self, kept: int = KEPT) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=kept)
        self._next = 1

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        entry = {"id": self._next, **entry}
        self._next += 1
        self._entries.append(entry)
        log.log(_level(entry), "decision", extra={"decision": entry})
        return entry

    def since(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Entries newer than id `after`, oldest first, at most `limit` (the newest ones)."""
        newer = [e for e in self._entries if e["id"] > after]
        return newer[-limit:] if limit else newer

    def __len__(self) -> int:
        return len(self._entries)
