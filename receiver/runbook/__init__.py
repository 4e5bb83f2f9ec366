"""The runbook language: load, validate and compile YAML into a runtime tree."""

from receiver.runbook.fields import API_VERSION
from receiver.runbook.loader import load_file, load_text
from receiver.runbook.problems import Problem, RunbookInvalid
from receiver.runbook.types import Rule, Runbook, Step, StepKind, Supervisor

__all__ = [
    "API_VERSION",
    "Problem",
    "Rule",
    "Runbook",
    "RunbookInvalid",
    "Step",
    "StepKind",
    "Supervisor",
    "load_file",
    "load_text",
]
