"""Operator holds as the status API, the console and `receiver status` show them.

Only holds in force are shown (an expired one waits for the next write to
be pruned, but holds nothing). `covering` picks those that hold a given pod:
its own, its workload's and those of the supervisors of its chain.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from receiver.decide.guards import covers
from receiver.model import Hold, HoldKind, Instant, PodKey, Snapshot, Workload, active_holds
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
    return [hold_json(h, now) for h in _in_force(snapshot, now)]


def _in_force(snapshot: Snapshot, now: Instant) -> list[Hold]:
    """Soonest to expire first."""
    return sorted(active_holds(snapshot.holds, now), key=lambda h: (h.expires, h.id))


def covering(
    snapshot: Snapshot,
    now: Instant,
    *,
    pod: PodKey | None,
    owner: Workload | None,
    supervisors: Collection[str],
) -> list[dict[str, Any]]:
    """The holds in force on a pod, its owner or the supervisors named, as holds_json
    shows them (in its order); covered as the `held` guard has it (decide/guards.py)."""
    return [
        hold_json(h, now) for h in _in_force(snapshot, now) if covers(h, pod, owner, supervisors)
    ]


def _href(hold: Hold) -> str:
    if hold.kind is HoldKind.POD:
        return f"/pods/{hold.target}"
    if hold.kind is HoldKind.SUPERVISOR:
        return f"/supervisors/{hold.target}"
    return f"/decisions?fleet={hold.target}"
