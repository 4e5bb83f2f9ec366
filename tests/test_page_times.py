"""The console's times: relative to the status's own `now`, the absolute one for the tooltip."""

from __future__ import annotations

import pytest

from receiver.service.page import absolute, relative

NOW = "2026-01-01T12:00:00.000Z"


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        ("2026-01-01T12:00:00.400Z", "now"),
        ("2026-01-01T11:59:48.000Z", "12s ago"),
        ("2026-01-01T11:57:55.000Z", "2m 5s ago"),
        ("2026-01-01T12:10:00.000Z", "in 10m"),
        ("2026-01-01T12:09:54.000Z", "in 9m 54s"),
        ("2026-01-01T09:29:00.000Z", "2h 31m ago"),
        ("2026-01-01T14:00:05.000Z", "in 2h"),
        (None, ""),
    ],
)
def test_relative(at: str | None, shown: str) -> None:
    assert relative(at, NOW) == shown


def test_absolute_keeps_the_milliseconds_for_the_tooltip() -> None:
    assert absolute("2026-01-01T11:59:48.123Z") == "2026-01-01 11:59:48.123 UTC"
    assert absolute(None) == ""
