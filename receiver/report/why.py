"""Why each pod is where it is, read from the decision log and the pod's lifecycle.

The console groups pods by state and answers, per pod: which signals fire,
what was last decided about it (acted, held by which guard, nothing to do),
what happens next and when, and which guard an action would meet now.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from receiver.model import Instant, Pod, PodState
from receiver.report.decisions import iso
from receiver.report.query import kind, line_kind, targets

_NEXT = {
    PodState.DRAINED: "back in traffic, on probation",
    PodState.PROBATION: "probation ends, attempts reset",
}


class History:
    """What the decision log says about each target and each supervisor, newest last."""

    def __init__(self, entries: Iterable[dict[str, Any]]) -> None:
        self.names: dict[str, str] = {}  # signal fingerprint -> name
        self.last: dict[str, dict[str, Any]] = {}  # target -> latest entry about it
        self.froze: dict[str, dict[str, Any]] = {}  # supervisor -> escalation that froze it
        for entry in entries:
            signal = entry.get("signal")
            if signal:
                self.names[signal["fingerprint"]] = signal["name"]
            for target in targets(entry):
                self.last[target] = entry
            for escalation in entry.get("escalations", ()):
                if escalation.get("frozenUntil"):
                    self.froze[escalation["supervisor"]] = {"at": entry["at"], **escalation}

    def last_word(self, target: str) -> dict[str, Any] | None:
        """The latest decision about `target`, as one line an operator reads."""
        entry = self.last.get(target)
        if entry is None:
            return None
        for item in (*entry.get("actions", ()), *entry.get("blocked", ())):
            if item["target"] == target:
                what = item.get("action") or item.get("wanted") or ""
                return {
                    "id": entry["id"],
                    "at": entry["at"],
                    "kind": line_kind(item),
                    "what": what,
                    "reason": item.get("reason") or item.get("outcome"),
                    "detail": item["detail"],
                }
        return {
            "id": entry["id"],
            "at": entry["at"],
            "kind": kind(entry),
            "what": "",
            "reason": "",
            "detail": "",
        }


def pod_why(pod: Pod, history: History, now: Instant) -> dict[str, Any]:
    life = pod.lifecycle
    firing = sorted({history.names.get(key, key) for key, expires in life.active if expires > now})
    upcoming = _NEXT.get(life.state)
    if life.state is PodState.SETTLING and life.pending:
        upcoming = f"its {life.pending} is decided again (settle window ends)"
    return {
        "signals": firing,
        "last": history.last_word(str(pod.key)),
        "next": {"what": upcoming, "at": iso(life.until)} if upcoming and life.until else None,
    }
