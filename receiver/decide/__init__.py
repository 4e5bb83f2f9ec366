"""The pure decision core: (runbook, snapshot, signal, now) -> Plan."""

from receiver.decide.engine import decide
from receiver.decide.fold import fold
from receiver.decide.intake import observe, resolve_target
from receiver.decide.operator import reset, resume
from receiver.decide.plan import Action, ActionKind, Blocked, Escalation, Plan
from receiver.decide.timed import tick

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
