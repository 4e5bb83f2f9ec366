"""Checking untrusted JSON: every error names the field, what was found and what fits.

Every string and list a payload carries is bounded (the constants below), so
what the receiver keeps of a payload (the decision log, its caches) costs a
bounded amount per entry, whatever a sender writes. The body limit alone
would let one label value be a megabyte.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import methodcaller
from types import MappingProxyType
from typing import Any

import orjson

from receiver.model import Instant

MAX_LABELS = 128  # labels on one alert
MAX_ANNOTATIONS = 64  # annotations on one alert
MAX_NAME = 256  # characters of a label or annotation name
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION_VALUE = 16384  # descriptions and runbook links are longer than labels
MAX_FINGERPRINT = 128  # Alertmanager's are 16 hex digits


class PayloadInvalid(ValueError):
    """A request that can never succeed as sent (HTTP 400); nothing of it was applied."""

    def __init__(self, field: str, found: object, expected: str) -> None:
        self.field = field
        self.expected = expected
        self.found = _describe(found)
        where = f"{field}: " if field else ""
        super().__init__(f"{where}found {self.found}, expected {expected}")

    def as_json(self) -> dict[str, str]:
        return {"error": str(self), "field": self.field, "expected": self.expected}


def parse_json(body: bytes) -> Any:
    """RFC 8259 JSON (orjson: no NaN or Infinity, at most 1024 levels deep)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("str is not valid UTF-8"):
            raise PayloadInvalid("", "bytes that are not UTF-8", "a JSON document") from exc
        raise PayloadInvalid(
            "", f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", "JSON"
        ) from exc


def need_object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PayloadInvalid(field, value, "an object")
    return value


def need_str(value: object, field: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise PayloadInvalid(field, value, "a non-empty string" if not empty else "a string")
    return value


def string_map(value: object, field: str) -> dict[str, str]:
    obj = need_object(value, field)
    if not all_str(obj.values()):  # the loop only to say which
        for key, item in obj.items():
            if not isinstance(item, str):
                raise PayloadInvalid(f"{field}.{key}", item, "a string value")
    return dict(obj)


def fit(maps: Sequence[Mapping[str, str]], *, value: int) -> bool:
    """Whether every name and value of all `maps` is within its length bound.

    The fast path's check, at C speed over all the maps of a payload at
    once (per map it would cost more than the rest of the parse): the
    values joined are no longer than `value`, and the distinct names
    joined no longer than MAX_NAME (a webhook's alerts share their label
    names), and only if either is longer, string by string. Which entry is
    too long is check_bounds' question.
    """
    values = chain.from_iterable(map(_values, maps))
    names = set(chain.from_iterable(maps))
    return (
        len("".join(values)) <= value
        or max(map(len, chain.from_iterable(map(_values, maps))), default=0) <= value
    ) and (len("".join(names)) <= MAX_NAME or max(map(len, names), default=0) <= MAX_NAME)


_values = methodcaller("values")


def check_bounds(strings: Mapping[str, str], field: str, *, count: int, value: int) -> None:
    """PayloadInvalid naming the entry of `strings` past a bound, if one is."""
    if len(strings) > count:
        raise PayloadInvalid(field, strings, f"an object of at most {count} entries")
    for key, item in strings.items():
        if len(key) > MAX_NAME:
            raise PayloadInvalid(field, key, f"names of at most {MAX_NAME} characters")
        if len(item) > value:
            raise PayloadInvalid(f"{field}.{key}", item, f"a string of at most {value} characters")


def all_str(values: Iterable[object]) -> bool:
    """Whether every value is exactly a str, in one pass at C speed."""
    return _STR_ONLY.issuperset(map(type, values))


_STR_ONLY = frozenset({str})


_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)
_ZERO_YEAR = "0001-01-01"


_TIMES_KEPT = 4096
_times: dict[str, Instant | None] = {}
KNOWN_TIMES: Mapping[str, Instant | None] = MappingProxyType(_times)
"""Times timestamp() read before, by their text: a lookup instead of a parse."""


def timestamp(value: object, field: str) -> Instant | None:
    """Seconds since the epoch for an RFC 3339 time; None for Go's zero time.

    Alertmanager writes nanoseconds and sends 0001-01-01T00:00:00Z for "no
    end", which Python's datetime parsing rejects or misreads. Times that
    read well are remembered: the alerts of a group, and every re-delivery
    of it, carry the same few.
    """
    if type(value) is str and value in _times:
        return _times[value]
    found = _timestamp(value, field)
    if len(_times) >= _TIMES_KEPT:
        _times.clear()
    _times[value] = found  # type: ignore[index]  # a str: _timestamp checked it
    return found


def _timestamp(value: object, field: str) -> Instant | None:
    text = need_str(value, field)
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise PayloadInvalid(field, value, "an RFC 3339 time like 2026-01-01T12:00:00Z")
    date, clock, fraction, zone = match.groups()
    if date == _ZERO_YEAR:
        return None
    offset = "+00:00" if zone in ("Z", "z") else zone
    try:
        whole = datetime.fromisoformat(f"{date}T{clock}{offset}").astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # Overflow: 9999-12-31T23:00:00-02:00
        raise PayloadInvalid(field, value, f"a valid date and time ({exc})") from exc
    return whole.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def _describe(value: object) -> str:
    if isinstance(value, str) and value.startswith(("invalid JSON", "bytes that")):
        return value
    if value is None:
        return "nothing"
    if isinstance(value, bool | int | float | str):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + '..."'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
