"""Label matchers with Alertmanager's semantics.

A selector is written as a YAML mapping of label name to value; the value may
start with an operator: `=` (default), `!=`, `=~`, `!~`. Regular expressions
are anchored at both ends, and an absent label matches as the empty string,
exactly as in Alertmanager routes and silences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Op
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is Op.EQ:
            return actual == self.value
        if self.op is Op.NE:
            return actual != self.value
        assert self.pattern is not None
        found = self.pattern.fullmatch(actual) is not None
        return found if self.op is Op.RE else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{self.value}"'


class MatcherError(ValueError):
    pass


def parse_matcher(name: str, raw: str) -> Matcher:
    """Build a matcher from `name: raw`; raises MatcherError with the fault."""
    for op in (Op.RE, Op.NRE, Op.NE, Op.EQ):  # two-character operators first
        if raw.startswith(op.value):
            value = raw[len(op.value) :]
            break
    else:
        op, value = Op.EQ, raw
    if op in (Op.RE, Op.NRE):
        try:
            re.compile(value)  # alone first, so an error's position is the user's
            return Matcher(name, op, value, re.compile(f"(?:{value})"))
        except re.error as exc:
            raise MatcherError(str(exc)) from exc
    return Matcher(name, op, value)


@dataclass(frozen=True, slots=True)
class Selector:
    """All matchers must match; an empty selector matches everything."""

    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def __str__(self) -> str:
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"
