"""Durations ("90s", "1h30m") and counts-or-percentages ("3", "30%").

Amounts of more than MAX_NUMBER_DIGITS digits are never converted (Python
refuses past 4,300 digits, and converting is quadratic below that): a
duration reads as infinite and a count as too large, so callers report them
against their bound like any value past it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from receiver.runbook.limits import MAX_NUMBER_DIGITS

_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?")

DURATION_HINT = "duration like 30s, 5m or 1h30m (units d, h, m, s, ms)"


def parse_duration(text: str) -> float | None:
    """Seconds for a Prometheus-style duration, or None if it does not parse.

    An amount too long to be meant reads as infinity, past every bound.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        return None
    if any(len(part) > MAX_NUMBER_DIGITS for part in match.groups() if part):
        return math.inf
    return sum(
        int(part) * _UNITS[unit]
        for part, unit in zip(match.groups(), ("d", "h", "m", "s", "ms"), strict=True)
        if part
    )


def format_duration(seconds: float) -> str:
    if seconds == 0:
        return "0s"
    out = []
    rest = round(seconds * 1000)
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, rest = divmod(rest, size)
        if count:
            out.append(f"{count}{unit}")
    if rest:
        out.append(f"{rest}ms")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Quantity:
    """An absolute count or a percentage of a fleet's size."""

    value: int
    percent: bool

    def of(self, size: int, *, round_up: bool) -> int:
        if not self.percent:
            return self.value
        exact = size * self.value / 100
        return math.ceil(exact) if round_up else math.floor(exact)

    def __str__(self) -> str:
        return f"{self.value}%" if self.percent else str(self.value)


QUANTITY_HINT = "a count like 3 or a percentage like 30%"


def parse_quantity(raw: object) -> Quantity | None:
    """The quantity written, or None; a count too long to be meant is past every bound."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Quantity(raw, percent=False) if raw >= 0 else None
    if isinstance(raw, str):
        match = _QUANTITY.fullmatch(raw.strip())
        if match is not None:
            return Quantity(_amount(match[1]), percent=bool(match[2]))
    return None


def _amount(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_NUMBER_DIGITS else _PAST_EVERY_BOUND


_PAST_EVERY_BOUND = 10**MAX_NUMBER_DIGITS
_QUANTITY = re.compile(r"([0-9]+)(%?)")
