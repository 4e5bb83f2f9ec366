"""Runbook unit tests: a fleet, a timeline of signals, expected actions, on a simulated clock."""

from receiver.scenario.runner import FileResult, report, run_file
from receiver.scenario.spec import is_test_file

__all__ = ["FileResult", "is_test_file", "report", "run_file"]
