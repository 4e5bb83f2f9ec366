"""Operator holds: a human keeps automation off a pod, a workload or a supervisor's subtree.

Like an Alertmanager silence, a hold is data with an author, a reason and
an end: it is persisted with the rest of the remembered state, every
decision sees it in its Snapshot, and it ends by itself. Whether a hold is
in force is decided from the `now` the caller passes in; expired holds are
ignored and pruned by the next write (decide/operator.py, prune_holds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from receiver.model.signal import Instant
from receiver.model.times import rfc3339

MAX_HOLD = 7 * 86400.0
"""The longest a hold may last: a forgotten hold must not switch automation off for good."""

MAX_HOLDS_BYTES = 256 * 1024
"""The encoded holds' share of the state object (a ConfigMap holds at most 1 MiB).

The holds live there with the open outcome watches, the supervisors and the
workloads; a hold that would take the list past this is refused (409), so
no number or length of holds can make the state object unwritable.
"""


class HoldKind(StrEnum):
    POD = "pod"  # target "namespace/name"
    WORKLOAD = "workload"  # target "namespace/kind/name", kind in lower case (as Workload prints)
    SUPERVISOR = "supervisor"  # target the supervisor's name: its whole subtree is held


@dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    id: str
    kind: HoldKind
    target: str
    reason: str
    author: str
    created: Instant
    expires: Instant

    def active(self, now: Instant) -> bool:
        return now < self.expires

    @property
    def subject(self) -> str:
        return f"{self.kind} {self.target}"

    def item(self) -> dict[str, str | float]:
        """This hold as JSON: the state object's list, a journal's `human` line."""
        return {
            "id": self.id,
            "kind": str(self.kind),
            "target": self.target,
            "reason": self.reason,
            "author": self.author,
            "created": self.created,
            "expires": self.expires,
        }

    def describe(self) -> str:
        """One line for a decision's detail: what is held, by whom, until when and why."""
        return (
            f"{self.subject} is held by {self.author} until {rfc3339(self.expires, 'seconds')} "
            f"(hold {self.id}): {self.reason}"
        )


def active_holds(holds: Iterable[Hold], now: Instant) -> tuple[Hold, ...]:
    """The holds still in force at `now`, in the order given."""
    return tuple(hold for hold in holds if hold.active(now))


def encode_holds(holds: Iterable[Hold]) -> str:
    """The holds as the state object stores them (compact JSON, ASCII)."""
    return json.dumps([h.item() for h in holds], separators=(",", ":"))


def holds_bytes(holds: Iterable[Hold]) -> int:
    """What the holds take of the state object, in bytes (the encoding is ASCII)."""
    return len(encode_holds(holds))
