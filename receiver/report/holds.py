"""Operator holds as the status API, the console and `receiver status` show them.

Only holds in force are shown (an expired one waits for the next write to
be pruned, but holds nothing). `covering` picks those that hold a given pod:
its own, its workload's and those of the supervisors of its chain.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from receiver.model import Hold, HoldKind, Instant, Snapshot, active_holds
from receiver.report.decisions import iso
from receiver.runbook.quantities import format_duration


def hold_json(hold: Hold, now: Instant) -> dict[str, Any]:
    return {
        "id": hold.id,
        "kind": hold.kind,
        "target": hold.target,
        "reason": hold.reason,
        "author": hold.author,
        "created": iso(hold.created),
        "expires": iso(hold.expires),
        "left": format_duration(max(0, math.ceil(hold.expires - now))),
        "href": _href(hold),
    }


def holds_json(snapshot: Snapshot, now: Instant) -> list[dict[str, Any]]:
    """The holds in force, soonest to expire first."""
    held = sorted(active_holds(snapshot.holds, now), key=lambda h: (h.expires, h.id))
    return [hold_json(h, now) for h in held]


def covering(
    holds: list[dict[str, Any]], *, pod: str, fleet: str | None, supervisors: Collection[str]
) -> list[dict[str, Any]]:
    """The holds (as hold_json shows them) in force on a pod, its fleet or its supervisors."""
    wanted: dict[str, Collection[str | None]] = {
        HoldKind.POD: {pod},
        HoldKind.WORKLOAD: {fleet},
        HoldKind.SUPERVISOR: supervisors,
    }
    return [h for h in holds if h["target"] in wanted[h["kind"]]]


def _href(hold: Hold) -> str:
    if hold.kind is HoldKind.POD:
        return f"/pods/{hold.target}"
    if hold.kind is HoldKind.SUPERVISOR:
        return f"/supervisors/{hold.target}"
    return f"/decisions?fleet={hold.target}"
