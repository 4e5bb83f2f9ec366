"""Label matchers with Alertmanager's semantics.

A selector is written as a YAML mapping of label name to value; the value may
start with an operator: `=` (default), `!=`, `=~`, `!~`. Regular expressions
are anchored at both ends, and an absent label matches as the empty string,
exactly as in Alertmanager routes and silences.

Regular expressions are RE2's, as in Alertmanager (Go's regexp is RE2): a
match takes time linear in the label's length whatever the pattern, so no
label value can hold the event loop (`=~(a+)+` against 30 `a`s and a `!`
took Python's backtracking `re` over a minute). A pattern RE2 cannot compile
(backreferences, look-arounds, repetitions over 1000) is refused by the
loader, with the position of the fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import re2


class Op(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


class Pattern(Protocol):
    """A compiled RE2 set of one pattern, anchored at both ends."""

    def Match(self, text: bytes) -> list[int] | None: ...


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: Op
    value: str
    pattern: Pattern | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op is Op.EQ:
            return actual == self.value
        if self.op is Op.NE:
            return actual != self.value
        assert self.pattern is not None
        # surrogatepass: a lone surrogate from a JSON escape is a non-match, not an error
        found = self.pattern.Match(actual.encode("utf-8", "surrogatepass")) is not None
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
        return Matcher(name, op, value, compile_anchored(value))
    return Matcher(name, op, value)


def compile_anchored(value: str) -> Pattern:
    """`value` as RE2 matching whole strings only, as Alertmanager anchors `^(?:value)$`."""
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MatcherError(f"a character RE2 cannot read at position {exc.start}") from exc
    try:
        re2.compile(encoded, _OPTIONS)  # alone first, so an error's position is the user's
    except re2.error as exc:
        raise MatcherError(_explain(value, exc)) from exc
    pattern = re2.Set.FullMatchSet(_OPTIONS)
    pattern.Add(b"(?:" + encoded + b")")
    pattern.Compile()
    return pattern  # type: ignore[no-any-return]


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern to stderr
    return options


_OPTIONS = _options()


def _explain(value: str, exc: Exception) -> str:
    """RE2's complaint, with the position in the pattern where its culprit starts."""
    raw = exc.args[0] if exc.args else b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    what, _, culprit = text.partition(": ")
    if what == "missing )":
        return f"missing ), unterminated group opened at position {_unclosed(value)}"
    if what == "unexpected )":
        return f"unexpected ) at position {_unopened(value)}"
    if what == "trailing \\":
        return f"trailing \\ at position {len(value) - 1}"
    starts = _places(value, culprit)
    shown = culprit if len(culprit) <= 40 else culprit[:40] + "..."  # RE2 quotes up to the end
    if len(starts) == 1:
        return f"{what} at position {starts[0]}: {shown}"
    if starts:  # RE2 names the text, not where: say every place it occurs
        places = ", ".join(map(str, starts[:5])) + (", ..." if len(starts) > 5 else "")
        return f"{what}: {shown} (at positions {places})"
    return text if len(text) <= 100 else text[:100] + "..."


def _places(value: str, culprit: str, most: int = 6) -> list[int]:
    """Where `culprit` occurs in `value`: the first few places, each found in linear time."""
    starts: list[int] = []
    at = value.find(culprit) if culprit else -1
    while at >= 0 and len(starts) < most:
        starts.append(at)
        at = value.find(culprit, at + 1)
    return starts


def _groups(value: str) -> tuple[list[int], int | None]:
    """Positions of groups left open, and of the first `)` closing nothing."""
    open_at: list[int] = []
    i, in_class = 0, False
    while i < len(value):
        c = value[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 1 if value[i + 1 : i + 2] != "]" else 2  # `[]a]`: a leading ] is literal
            continue
        elif c == "(":
            open_at.append(i)
        elif c == ")":
            if not open_at:
                return open_at, i
            open_at.pop()
        i += 1
    return open_at, None


def _unclosed(value: str) -> int:
    open_at, _ = _groups(value)
    return open_at[-1] if open_at else 0


def _unopened(value: str) -> int:
    _, extra = _groups(value)
    return extra if extra is not None else 0


@dataclass(frozen=True, slots=True)
class Selector:
    """All matchers must match; an empty selector matches everything."""

    matchers: tuple[Matcher, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def __str__(self) -> str:
        return "{" + ", ".join(str(m) for m in self.matchers) + "}"
