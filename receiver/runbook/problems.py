"""Runbook problems: collected, never raised one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from receiver.runbook.limits import MAX_PROBLEMS


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One fault: `file:line: field.path: found X, expected Y`."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RunbookInvalid(Exception):
    """Every problem found, in file order; past MAX_PROBLEMS, the rest counted in a last line.

    The cap keeps a reload answer and a log line small whatever the file holds
    (an alias bomb once gave 123,450 problems).
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.file, p.line, p.path))
        self.total = len(ordered)
        shown = ordered[:MAX_PROBLEMS]
        if self.total > MAX_PROBLEMS:
            last = shown[-1]
            rest = self.total - MAX_PROBLEMS
            message = f"{rest} more problem(s) not listed (only the first {MAX_PROBLEMS} are)"
            shown.append(Problem(last.file, last.line, "", message))
        self.problems = tuple(shown)
        super().__init__("\n".join(str(p) for p in self.problems))
