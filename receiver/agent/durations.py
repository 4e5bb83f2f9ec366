"""Durations for the agent's flags ("5s", "500ms", "1m30s", or bare seconds).

A local copy on purpose: the agent is stdlib-only and must not import the
server's runbook parser.
"""

from __future__ import annotations

import re

_UNITS = (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_duration(text: str) -> float:
    """Seconds for a duration such as "5s", "500ms", "1m" or "2.5"; ValueError otherwise."""
    cleaned = text.strip()
    if _SECONDS.fullmatch(cleaned):
        seconds = float(cleaned)
    else:
        match = _DURATION.fullmatch(cleaned)
        if match is None or not any(match.groups()):
            raise ValueError(f"{text!r} is not a duration like 5s, 500ms, 1m or 1m30s")
        seconds = sum(
            int(count) * size
            for count, (_, size) in zip(match.groups(), _UNITS, strict=True)
            if count
        )
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    return seconds
