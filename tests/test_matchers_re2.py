"""Matchers are RE2's: what it refuses is named with its position; matching never backtracks."""

from __future__ import annotations

import pytest

from receiver.runbook.matchers import MatcherError, parse_matcher


@pytest.mark.parametrize(
    ("value", "fault"),
    [
        ("=~warning|(critical", "missing ), unterminated group opened at position 8"),
        ("=~a(b(c)", "missing ), unterminated group opened at position 1"),
        ("=~a)b", "unexpected ) at position 1"),
        ("=~[)]a)", "unexpected ) at position 4"),
        ("=~ab\\", "trailing \\ at position 2"),
        ("=~ab[cd", "missing ] at position 2: [cd"),
        ("=~a{1001}", "invalid repetition size at position 1: {1001}"),
        ("!~x(?=a)", "invalid perl operator at position 1: (?="),
        ("=~(?P<x>a)(?P=x)", "invalid perl operator: (?P (at positions 0, 8)"),
        ("=~" + "(?=" * 10, "invalid perl operator: (?= (at positions 0, 3, 6, 9, 12, ...)"),
        ("=~x[" + "y" * 100, "missing ] at position 1: [" + "y" * 39 + "..."),
    ],
)
def test_what_re2_refuses_is_named_with_its_position(value: str, fault: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher("label", value)
    assert str(caught.value) == fault


@pytest.mark.parametrize(
    ("value", "label", "matches"),
    [
        ("=~(a+)+", "a" * 30 + "!", False),  # Python's re backtracks for over a minute
        ("=~(a|aa)*b", "a" * 5000, False),
        ("=~(x+x+)+y", "x" * 5000, False),
        ("=~\\pL+", "grün", True),  # RE2 syntax Python's re lacks
        ("=~[[:digit:]]+", "503", True),
        ("=~caf.", "café", True),  # a character, not a byte
        ("!~a", "\ud800", True),  # a lone surrogate from a JSON escape is no error
    ],
)
def test_re2_semantics(value: str, label: str, matches: bool) -> None:
    assert parse_matcher("l", value).matches({"l": label}) is matches
