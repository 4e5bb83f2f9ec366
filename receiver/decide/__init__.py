"""The pure decision core: (runbook, snapshot, signal, now) -> Plan."""

from receiver.decide.engine import decide, observe, reset, resolve_target, resume, tick
from receiver.decide.fold import fold
from receiver.decide.plan import Action, ActionKind, Blocked, Escalation, Plan

__all__ = [
    "Action",
    "ActionKind",
    "Blocked",
    "Escalation",
    "Plan",
    "decide",
    "fold",
    "observe",
    "reset",
    "resolve_target",
    "resume",
    "tick",
]
