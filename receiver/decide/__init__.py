"""The pure decision core: (runbook, snapshot, signal, now) -> Plan."""

from receiver.decide.engine import decide
from receiver.decide.fold import fold
from receiver.decide.intake import observe, resolve_target
from receiver.decide.operator import HoldRefused, hold, reset, resume, unhold
from receiver.decide.plan import Action, ActionKind, Blocked, Escalation, Plan
from receiver.decide.timed import tick

__all__ = [
    "Action",
    "ActionKind",
    "Blocked",
    "Escalation",
    "HoldRefused",
    "Plan",
    "decide",
    "fold",
    "hold",
    "observe",
    "reset",
    "resolve_target",
    "resume",
    "tick",
    "unhold",
]
