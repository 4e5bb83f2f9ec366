"""Print the decision log as a story: what the receiver did and why."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

NOISE = {"duplicate", "resolved", "no_rule"}


def lines(entry: dict[str, Any], started: float, *, verbose: bool) -> list[str]:
    elapsed = datetime.fromisoformat(entry["at"]).timestamp() - started
    stamp = f"{elapsed:6.1f}s"
    signal = entry.get("signal")
    cause = f"  <- {signal['name']} {signal['status']}" if signal else ""
    out = []
    for action in entry["actions"]:
        outcome = action["outcome"] + (f": {action['reason']}" if action["reason"] else "")
        out.append(
            f"{stamp}  {action['action'].upper():<15} {action['target']:<24} "
            f"[{outcome}] {action['detail']}{cause}"
        )
    for blocked in entry["blocked"]:
        if blocked["reason"] in NOISE and not verbose:
            continue
        out.append(
            f"{stamp}  {'not acted':<15} {blocked['target']:<24} "
            f"[{blocked['reason']}] {blocked['detail']}{cause}"
        )
    for escalation in entry["escalations"]:
        out.append(
            f"{stamp}  {'ESCALATION':<15} {escalation['supervisor']:<24} {escalation['detail']}"
        )
    return out


def summary(entries: list[dict[str, Any]]) -> list[str]:
    actions = Counter(f"{a['action']} ({a['outcome']})" for e in entries for a in e["actions"])
    blocked = Counter(
        b["reason"] for e in entries for b in e["blocked"] if b["reason"] not in NOISE
    )
    escalations = Counter(x["supervisor"] for e in entries for x in e["escalations"])
    return [
        "actions:      " + (", ".join(f"{k} x{v}" for k, v in sorted(actions.items())) or "none"),
        "not acted:    " + (", ".join(f"{k} x{v}" for k, v in sorted(blocked.items())) or "none"),
        "escalations:  "
        + (", ".join(f"{k} x{v}" for k, v in sorted(escalations.items())) or "none"),
    ]
